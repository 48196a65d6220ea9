"""Worked, runnable examples of user strategies (issue 14), each commented for a reader who knows Backtrader.

    python -m backtests.examples.amount_sized          # size by the deal's amount, with a cap
    python -m backtests.examples.backlog_acceleration  # trade AMZN earnings only when backlog growth accelerates
    python -m backtests.examples.category_holding      # hold custom-silicon news longer than the rest

Each module registers its strategy (``@register_strategy``), defines ``example_config(...)`` and ``run_example(...)``
(used by the tests on a short period) and ``main()``.
"""
