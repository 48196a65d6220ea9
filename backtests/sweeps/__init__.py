"""Parameter sweeps that survive a night: specs, SQLite storage, local and Dask execution, overfitting guards, reports.

Modules and their contracts (each module's docstring has the details):

* :mod:`backtests.sweeps.spec` -- ``load_spec(path) -> SweepSpec``: a YAML spec (``base``, ``params`` as dotted
  run-config keys to lists or ranges, ``search`` grid | random | optuna, ``n_trials``, ``seed``, ``metric``,
  ``direction``, ``constraints``), validated before anything runs (:class:`events.errors.InputError`, key path
  named). ``SweepSpec.combinations()`` yields ``Combination(ordinal, params: dict[dotted key, value],
  config: resolved run config)`` for grid and random search.
* :mod:`backtests.sweeps.store` -- SQLite in WAL mode, one writer. A combination's ``key`` is the sha256 of the
  canonical JSON of ``{"config": resolved config, "data": data fingerprints, "engine": name}`` (on the fast engine,
  of its plan group's hash and its cost values, :mod:`backtests.sweeps.batch`), so changed data means new rows.
  ``load_verifications(db)``: the fast sweep's best combinations re-run on Backtrader and whether they agreed. Readers used by reports:
  ``load_results(db) -> pandas.DataFrame`` with one row per combination and columns ``key, ordinal, status``
  (``pending | running | done | failed``), ``error, attempts, duration, worker, engine``, one column per parameter
  named by its dotted key (e.g. ``strategy.params.exit_offset``), and one float column per summary.json key
  (``total_return, sharpe, ...``); ``load_returns(db, keys=None) -> pandas.DataFrame`` of daily strategy returns,
  sessions x combination keys (NaN outside a combination's sessions), read from float64 blobs (never pickle);
  ``load_spec_text(db) -> str``.
* :mod:`backtests.sweeps.execute` -- the worker side: ``run_combination(config, engine) -> TrialResult`` (summary
  dict, daily returns Series, duration, worker id, or the error text), reusing per-process loaded prices, calendar
  and signals; the local process pool and the Dask backend both call it.
* :mod:`backtests.sweeps.batch` -- grid and random searches on the fast engine: combinations grouped by plan, each
  plan planned once and executed for all its cost settings by the compiled kernel; the top K re-run on Backtrader.
* :mod:`backtests.sweeps.overfit` -- pure statistics on the stored results: deflated Sharpe ratio, probability of
  backtest overfitting by CSCV, Hansen's SPA (arch.bootstrap), walk-forward selection.
* :mod:`backtests.sweeps.report` -- ``write_report(db, out_dir) -> dict``: sweep_report.json and a self-contained
  sweep_report.html.
"""
