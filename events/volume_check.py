"""Did the market react on day 0? A volume sanity check for event dates.

For each event, day 0's volume is compared with the ``half`` sessions on
either side (eleven sessions in all by default). An event is flagged when day
0 is not the highest-volume session of that span **and** its volume is less
than ``min_ratio`` times the median of the other sessions: the market
apparently did not react that day, so the date or time may be wrong.
Pure function: volumes come in as a frame (sessions x tickers, shares).
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def volume_check(aligned: pd.DataFrame, volume: pd.DataFrame, half: int = 5, min_ratio: float = 1.5) -> pd.DataFrame:
    """Per event: ticker checked, ``day0_volume``, ``ratio`` (to the median of the
    other sessions in the span), ``rank`` (1 = highest), ``is_peak``, ``flag``.

    The ticker checked is the announcing company when its volume is in
    ``volume``, else the first affected ticker that is. Events with no such
    ticker or a span running off the data get NaN and no flag.
    """
    sessions = volume.index
    rows = []
    for _, ev in aligned.iterrows():
        cands = [ev["company"]] + list(ev["tickers"])
        t = next((c for c in cands if c in volume.columns), None)
        p = sessions.get_indexer([ev["day0"]])[0]
        rec = {"event_id": ev["event_id"], "day0": ev["day0"], "ticker": t, "day0_volume": np.nan, "ratio": np.nan, "rank": np.nan, "is_peak": False, "flag": False}
        if t is not None and p - half >= 0 and p + half < len(sessions):
            span = volume[t].iloc[p - half : p + half + 1].to_numpy(dtype=float)
            v0 = span[half]
            others = np.delete(span, half)
            rank = int((span > v0).sum()) + 1
            ratio = v0 / np.median(others)
            rec.update(day0_volume=v0, ratio=ratio, rank=rank, is_peak=rank == 1, flag=(rank != 1) and ratio < min_ratio)
        rows.append(rec)
    return pd.DataFrame(rows)
