"""Execution engines: Backtrader (the reference) and the NumPy array executor that reproduces it."""
