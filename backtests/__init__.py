"""aibt.backtests: running things (market data, engine wiring, runs, statistics, CLI).

This is the only package that writes files.
"""
from importlib import metadata as _md

try:
    __version__ = _md.version("aibt")
except _md.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
