"""Writing tables and JSON the same way everywhere (byte-stable output)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

FLOAT_FORMAT = "%.12g"


def write_csv(frame: pd.DataFrame, path: Path, index: bool = False) -> None:
    """CSV with 12 significant digits, ``\n`` line ends and ISO dates."""
    frame.to_csv(path, index=index, float_format=FLOAT_FORMAT, lineterminator="\n", date_format="%Y-%m-%d")


def json_ready(o):
    """``o`` with NaN/inf floats as None and NumPy scalars as Python numbers, nested containers included."""
    if isinstance(o, dict):
        return {k: json_ready(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [json_ready(v) for v in o]
    if isinstance(o, (float, np.floating)):
        return float(o) if math.isfinite(o) else None
    if isinstance(o, np.integer):
        return int(o)
    return o
