"""Execution engines: Backtrader (the reference, :mod:`.backtrader_engine`) and the fast engine (:mod:`.fast_engine` on the
Numba kernel of :mod:`.kernel`), held to each other by :mod:`.parity`; :mod:`.arrays` is the NumPy executor the placebo
runs thousands of schedules on."""
