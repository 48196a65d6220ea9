"""Strategy 2: after the target's earnings release, take the side the signals point to."""
from __future__ import annotations

import numpy as np

from strategies.api import Decision
from strategies.registry import register_strategy


def signal_side(eff_chg: float, backlog_g: float, eff_threshold: float, backlog_threshold: float, rule: str) -> tuple[int, str]:
    """+1, -1 or 0 from the capex-efficiency change and backlog growth.

    ``rule='both'``: long when both are above their thresholds, short when both
    are below minus their thresholds; ``'efficiency'``/``'backlog'``: that
    signal alone; undefined inputs give 0 (flat) with the reason.
    """
    e_up, e_dn = eff_chg > eff_threshold, eff_chg < -eff_threshold
    b_up, b_dn = backlog_g > backlog_threshold, backlog_g < -backlog_threshold
    if rule == "efficiency":
        if np.isnan(eff_chg):
            return 0, "capex-efficiency change undefined"
        return (1 if e_up else -1 if e_dn else 0), f"efficiency change {eff_chg:+.4f}"
    if rule == "backlog":
        if np.isnan(backlog_g):
            return 0, "backlog growth undefined"
        return (1 if b_up else -1 if b_dn else 0), f"backlog growth {backlog_g:+.3f}"
    if np.isnan(eff_chg) or np.isnan(backlog_g):
        return 0, "capex-efficiency change or backlog growth undefined"
    side = 1 if (e_up and b_up) else -1 if (e_dn and b_dn) else 0
    return side, f"efficiency change {eff_chg:+.4f}, backlog growth {backlog_g:+.3f}"


@register_strategy("post_earnings_signal")
class PostEarningsSignal:
    """After each release of the target, long / short / flat by its signals.

    Decides at the entry fill of each of the target's own earnings events (``categories``, ``own_company``) on its
    point-in-time view (:mod:`strategies.view`): the signal values are those of the last signal row available at the
    entry session (the release's reaction session for the quarter just reported), so a quarter's figures are never
    used before they were public.

    Parameters: ``entry_offset`` ("earliest" = day 0 open), ``exit_offset``
    (default 5), ``eff_threshold`` (capex-efficiency change, ratio points,
    default 0.0), ``backlog_threshold`` (backlog growth, fraction, default
    0.0), ``backlog_measure`` (``backlog_growth_qoq`` or ``backlog_growth_yoy``),
    ``rule`` (``both`` | ``efficiency`` | ``backlog``), ``overlap``.
    """

    params = {
        "entry_offset": "earliest", "exit_offset": 5, "eff_threshold": 0.0, "backlog_threshold": 0.0,
        "backlog_measure": "backlog_growth_qoq", "rule": "efficiency", "overlap": "extend",
    }
    categories = ("earnings",)
    own_company = True

    def decide(self, view, event):
        known = view.signals
        if known.empty:
            return Decision(0, note="no signal known at entry")
        last = known.iloc[-1]
        side, why = signal_side(float(last["capex_efficiency_chg"]), float(last[self.p.backlog_measure]),
                                self.p.eff_threshold, self.p.backlog_threshold, self.p.rule)
        if side == 0:
            return Decision(0, note=f"signal neutral ({last['quarter']}: {why})")
        return Decision(side, note=f"{last['quarter']}: {why}")
