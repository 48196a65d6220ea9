"""The ``aibt`` command line.

Exit codes (DESIGN.md): 0 success; 2 bad user input (one paragraph naming
file, line, field and what was expected; no traceback); 1 internal error.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import dataclasses
import os
import sys
import traceback

import click

from events.errors import InputError, Problem


def _ticker_list(option: str | None, name: str = "--tickers") -> list[str]:
    """``--tickers AMZN,msft`` -> ["AMZN", "MSFT"]; every bundled ticker when not given."""
    from backtests.market.marketdata import BUNDLED_TICKERS
    from events.schema import TICKER_RE

    if not option:
        return list(BUNDLED_TICKERS)
    out = [t.strip().upper() for t in option.split(",") if t.strip()]
    bad = [t for t in out if not TICKER_RE.match(t)]
    if bad or not out:
        raise InputError(Problem(f"not a ticker: {', '.join(repr(t) for t in bad) or repr(option)}", field=name,
                                 expected="comma-separated tickers such as AMZN,MSFT (letters, digits, '.' or '-', up to 10)"))
    return out


def _iso_date(value: str | None, option: str) -> str | None:
    """A date option as ``YYYY-MM-DD`` (None when not given); exit 2 naming the option otherwise."""
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise InputError(Problem(f"not a date: {value!r}", field=option, expected="YYYY-MM-DD, e.g. 2025-01-01")) from None


def _path_option(value: str | None, option: str) -> str | None:
    """A path option as given (None when not given); exit 2 for an empty path or one the file system cannot hold
    (a name longer than it allows), before any work."""
    if value is None:
        return None
    if not value.strip():
        raise InputError(Problem("an empty path", field=option, expected="a directory path, or leave the option out for the default"))
    from pathlib import Path

    try:
        limit = os.pathconf(Path(value).anchor or ".", "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    long = [part for part in Path(value).parts if len(os.fsencode(part)) > limit]
    if long:
        raise InputError(Problem(f"a name of {len(os.fsencode(long[0]))} bytes ({long[0][:20]}...)", field=option,
                                 expected=f"names of at most {limit} bytes each"))
    return value


def _check_categories(categories) -> None:
    """``--category`` values must be known categories (exit 2 listing them), not a silent empty selection."""
    from events.schema import CATEGORIES

    unknown = [c for c in categories if c not in CATEGORIES]
    if unknown:
        raise InputError(Problem(f"unknown categor{'y' if len(unknown) == 1 else 'ies'} {', '.join(repr(c) for c in unknown)}",
                                 field="--category", expected="one of " + ", ".join(CATEGORIES)))


#: terminal width the tables are fitted to unless --wide
WIDTH = 100


#: a text column is never shortened below this many characters
MIN_TEXT = 16


def _text_columns(frame) -> list:
    import pandas as pd

    return [c for c in frame.columns if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c])]


def _water_level(widths: dict, over: int, floor: int) -> int | None:
    """The largest cap L >= ``floor`` such that capping every width at L saves at least ``over`` characters
    (the widest columns give way first, evenly); None when even ``floor`` does not save enough."""
    def saved(level):
        return sum(max(0, w - level) for w in widths.values())

    if saved(floor) < over:
        return None
    lo, hi = floor, max(widths.values())
    while lo < hi:  # saved() falls as the level rises: find the highest level that still saves enough
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if saved(mid) >= over else (lo, mid - 1)
    return lo


def fit_width(frame, width: int = WIDTH, keep=(), **kw) -> tuple[str, str | None]:
    """``frame`` as text no wider than ``width``, text columns left-aligned.

    Too wide: the widest text columns (except those in ``keep``, such as ids) are shortened first and evenly,
    each to the same cap with values ending in '...', never below :data:`MIN_TEXT` characters; if that is not
    enough, pandas wraps the columns into blocks of the width. Returns the text and what was done: None,
    ``"shortened"`` or ``"wrapped"`` (wrapped, and shortened if needed)."""
    kw = {"justify": "left", **kw}
    texts = _text_columns(frame)

    def render(caps, **more):
        shown = frame.copy()
        for c in texts:
            n = caps.get(c)
            vals = shown[c].map(lambda v, n=n: v if not isinstance(v, str) or n is None or len(v) <= n else v[: n - 3] + "...")
            pad = max([len(v) for v in vals if isinstance(v, str)], default=0)
            shown[c] = vals.map(lambda v, pad=pad: v.ljust(pad) if isinstance(v, str) else v)
        return "\n".join(line.rstrip() for line in shown.to_string(index=False, **kw, **more).splitlines())

    def widest(text):
        return max((len(line) for line in text.splitlines()), default=0)

    caps: dict = {}
    for _ in range(6):  # the spacing between columns is pandas': a further pass absorbs what a pass misjudged
        text = render(caps)
        over = widest(text) - width
        if over <= 0:
            return text, "shortened" if caps else None
        lens = {c: min(caps.get(c, 10**9), max([len(v) for v in frame[c] if isinstance(v, str)], default=0))
                for c in texts if c not in keep}
        lens = {c: n for c, n in lens.items() if n > MIN_TEXT}
        level = _water_level(lens, over, MIN_TEXT) if lens else None
        if level is None:
            caps.update({c: MIN_TEXT for c in lens})
            text = render(caps)
            return (text, "shortened") if widest(text) <= width else (render(caps, line_width=width), "wrapped")
        caps.update({c: level for c, n in lens.items() if n > level})
    return render(caps, line_width=width), "wrapped"


def wrap_line(line: str, first: str = "", rest: str = "  ", width: int = WIDTH) -> str:
    """One line of text wrapped to ``width`` columns: ``first`` before it, ``rest`` before its continuation lines;
    words (paths, URLs, hyphenated names) are never split."""
    import textwrap

    return textwrap.fill(line, width, initial_indent=first, subsequent_indent=rest, break_long_words=False, break_on_hyphens=False)


def say(text: str, err: bool = False, first: str = "", rest: str = "  ") -> None:
    """Print ``text`` wrapped to :data:`WIDTH` columns (:func:`wrap_line`), each of its lines on its own."""
    for line in str(text).splitlines() or [""]:
        click.echo(wrap_line(line, first, rest) if line else "", err=err)


def _json_records(frame) -> str:
    """The frame as a JSON list of records: dates as ``YYYY-MM-DD``, missing values as null, lists as lists."""
    import datetime as dt_
    import json

    import numpy as np
    import pandas as pd

    def cell(v):
        if isinstance(v, (list, tuple)):
            return [cell(x) for x in v]
        if isinstance(v, (pd.Timestamp, dt_.datetime)):
            if v is pd.NaT or v != v:
                return None
            return v.date().isoformat() if v.time() == dt_.time() else v.isoformat()
        if isinstance(v, dt_.date):
            return v.isoformat()
        if isinstance(v, np.generic):
            v = v.item()
        if v is None or (isinstance(v, float) and not np.isfinite(v)) or v is pd.NaT or v is pd.NA:
            return None
        return v

    rows = [{str(k): cell(v) for k, v in zip(frame.columns, row)} for row in frame.itertuples(index=False, name=None)]
    return json.dumps(rows, indent=1, ensure_ascii=False)


def _echo_table(frame, fmt: str = "table", wide: bool = False, keep=(), **kw) -> None:
    """A table on stdout: fitted to 100 columns (``wide``: in full), or the whole frame as CSV or JSON records."""
    if fmt == "csv":
        click.echo(frame.to_csv(index=False), nl=False)
        return
    if fmt == "json":
        click.echo(_json_records(frame))
        return
    if frame.empty:
        click.echo("(nothing to show)")
        return
    if wide:
        click.echo(frame.to_string(index=False, **kw))
        return
    text, done = fit_width(frame, keep=keep, **kw)
    click.echo(text)
    if done == "shortened":
        click.echo(f"(text shortened to fit {WIDTH} columns: --wide shows it whole, --format csv or json gives every value)", err=True)
    elif done == "wrapped":
        click.echo(f"(columns wrapped into blocks to fit {WIDTH} columns: --wide prints one line per row)", err=True)


def _echo_with_headlines(frame, keep=()) -> None:
    """A table whose last column is long free text (headlines): the other columns as a table fitted to the width,
    each row followed by its text in full, indented and wrapped, so nothing is cut."""
    text_col = frame.columns[-1]
    table, done = fit_width(frame.drop(columns=[text_col]), keep=keep)
    lines = table.splitlines()
    if done == "wrapped" or len(lines) != len(frame) + 1:  # no one line per row: the plain fitted table instead
        _echo_table(frame, keep=keep)
        return
    click.echo(lines[0])
    for line, text in zip(lines[1:], frame[text_col]):
        click.echo(line)
        say(str(text), first="    ", rest="    ")
    if done == "shortened":
        click.echo(f"(text shortened to fit {WIDTH} columns: --wide shows it whole, --format csv or json gives every value)", err=True)


class Steps:
    """Progress of a command that takes more than a few seconds: one plain line per step on stderr, with the time
    so far (plain text, so a log file reads well; ``quiet`` prints nothing)."""

    def __init__(self, quiet: bool = False):
        import time

        self.quiet, self.t0, self.time = quiet, time.monotonic(), time.monotonic

    def __call__(self, what: str) -> None:
        if not self.quiet:
            click.echo(f"aibt: {what}... ({self.time() - self.t0:.1f} s)", err=True)

    def done(self) -> None:
        if not self.quiet:
            click.echo(f"aibt: done in {self.time() - self.t0:.1f} s", err=True)


def table_options(f):
    """``--wide`` and ``--format table|csv|json`` for a command that prints a table."""
    f = click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True,
                     help="table (fitted to 100 columns), or the full table as CSV or JSON.")(f)
    return click.option("--wide", is_flag=True, help="Print the table in full, however wide.")(f)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="aibt", prog_name="aibt")
def cli():
    """aibt: did trading AMZN around AI-infrastructure events beat its hyperscaler peers?"""


@contextlib.contextmanager
def _config_named(config_path):
    """Input errors found while running a config (a strategy's plan, the event
    selection) name the config file when they name no file of their own."""
    from backtests.config import config_path as resolve_path

    try:
        yield
    except InputError as exc:
        src = str(resolve_path(config_path))
        raise InputError([p if p.path else dataclasses.replace(p, path=src) for p in exc.problems]) from None


# ---------------------------------------------------------------- run
@cli.command("run")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Run config: a YAML file, or the name of a shipped config ('aibt configs' lists them; default: default).")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Run directory (default reports/<name>-<UTC time>): a new path, an empty directory or a previous run directory, "
                   "which is replaced; a folder holding anything else is refused (exit 2).")
@click.option("--engine", type=click.Choice(["backtrader", "fast"]), default="backtrader", show_default=True,
              help="backtrader: the reference simulation; fast: the compiled array engine (same fills and summary.json, "
                   "checked against Backtrader in the tests).")
@click.option("--live-start", default=None, metavar="DATE",
              help="First out-of-sample day (YYYY-MM-DD): the tear sheet shows the run before and after it (overrides the "
                   "config's report.live_start).")
@click.option("--quiet", "-q", is_flag=True, help="No progress lines on stderr (warnings and errors still show).")
def run_cmd(config_path, out, engine, live_start, quiet):
    """Run a backtest and write its run directory."""
    import datetime as dt

    from backtests.config import load_config, position_label
    from backtests.reports.rundir import check_out_dir, default_run_dir, write_run
    from backtests.runner import run

    step = Steps(quiet)
    started = dt.datetime.now(dt.timezone.utc)
    out = _path_option(out, "--out")
    if out is not None:
        check_out_dir(out)  # DESIGN: refuse an --out aibt may not write (exit 2) before any work
    cfg = load_config(config_path)
    if live_start is not None:
        from backtests.config import live_start_problems, with_live_start
        from backtests.market.marketdata import load_prices

        cfg = with_live_start(cfg, _iso_date(live_start, "--live-start"), field="--live-start")
        end = cfg["dates"]["end"] or load_prices([cfg["universe"]["target"]])[cfg["universe"]["target"]].last.date()
        problems = live_start_problems(str(cfg["report"]["live_start"]), str(cfg["dates"]["start"]), str(end), field="--live-start")
        if problems:
            raise InputError(problems)
    out = out or str(default_run_dir(cfg["name"]))
    check_out_dir(out)  # the directory that will be written, checked before the computation
    label = cfg["name"] if cfg["name"] != "run" or not config_path else f"{cfg['name']} ({config_path})"  # 'run' is the default name
    step(f"running {label} on the {engine} engine: data, plan, simulation" + (", placebo" if cfg["placebo"]["enabled"] else ""))
    with _config_named(config_path):
        result = run(cfg, engine=engine)
    for w in result.warnings:
        say(f"warning: {w}", err=True)
    writers = []
    study = None
    if cfg["study"]["enabled"]:
        from backtests.reports.rundir import write_study
        from backtests.stats.study import study_for_config

        step("event study")
        with _config_named(config_path):
            study = study_for_config(cfg, result)
        result.fingerprints.update(study.fingerprints)
        writers.append(lambda d: write_study(study, d))
    post = []
    if cfg["output"]["tearsheet"]:
        from backtests.reports.tearsheet import build_tearsheet

        post.append(lambda d: build_tearsheet(d))  # reads the files written before it
    step("writing the run directory" + (" and its tear sheet" if post else ""))
    path = write_run(result, out, started, extra_writers=writers, post_writers=post)
    step.done()
    s = result.summary
    click.echo(f"{cfg['name']}: {cfg['strategy']['kind']}, {position_label(cfg)}, {s['start']}..{s['end']}" + (" (fast engine)" if engine == "fast" else ""))
    rows = [
        ("total return", s["total_return"], "%"), ("CAGR", s["cagr"], "%"), ("ann. volatility", s["ann_vol"], "%"),
        ("Sharpe", s["sharpe"], ""), ("max drawdown", s["max_drawdown"], "%"),
        ("excess vs basket (same net)", s["excess_total_return"], "%"), ("information ratio", s["information_ratio"], ""),
        ("alpha (ann.)", s["alpha_ann"], "%"),
        ("alpha t (HAC)", s["alpha_tstat_hac"], ""), ("beta to basket", s["beta"], ""),
        ("trades", f"{int(s['n_trades'])}", None), ("hit rate", s["hit_rate"], "%"),
        ("time in market", s["exposure"], "%"),
    ]
    from backtests.stats.counts import describe, why_nothing_traded

    def say_(text):  # a long line, wrapped to the 100-column width
        say(text, first="  ", rest="    ")

    say_(f"events: {describe(result.counts)}")
    nothing = why_nothing_traded(result.events, result.counts)
    if nothing:
        say_(nothing)
    for label, v, unit in rows:
        if unit is None:
            text = str(v)
        elif v != v:
            text = "n/a"
        else:
            text = f"{v * 100:8.2f}%" if unit == "%" else f"{v:8.3f}"
        click.echo(f"  {label:28s}{text}")
    pl = result.placebo
    if pl is not None:
        say_(f"placebo (same holdings at {pl.n} random sessions away from events): the strategy beats {pl.percentile:.1f}% of them, "
            f"placebo p = {pl.p:.3f} (placebo median {pl.median * 100:.2f}%)")
    elif cfg["placebo"]["enabled"]:
        click.echo("  placebo: not applicable (a benchmark, or nothing traded)")
    if study is not None:
        h = study.results.headline("peer_adjusted", "all")
        mt = study.results.multiple_testing
        for _, r in h.iterrows():
            if r["window"] in ("-5:-1", "0:1", "0:5"):
                say_(f"event study, {cfg['universe']['target']} minus its hedge basket, CAAR {r['window']}: {r['caar'] * 100:6.2f}% "
                    f"(n={int(r['n'])}, BMP t={r['t_bmp']:.2f}, p={r['p_bmp']:.3f}, q={r['q_bmp']:.3f})")
        say_(f"q: Benjamini-Hochberg over all {mt['n_tests']} tests of study.csv; {mt['n_q_below_0.05']} have q < 0.05 "
            f"({mt['n_p_below_0.05']} have p < 0.05)")
    click.echo(f"run directory: {path}")
    if cfg["output"]["tearsheet"]:
        click.echo(f"tear sheet:    {path / 'tearsheet.html'}")


@cli.command("configs")
@table_options
def configs_cmd(wide, fmt):
    """List the shipped run configs (use one with 'aibt run --config NAME')."""
    import yaml

    from backtests.config import bundled_config, bundled_configs

    import pandas as pd

    rows = []
    for name in bundled_configs():
        doc = yaml.safe_load(bundled_config(name).read_text(encoding="utf-8")) or {}
        kind = (doc.get("strategy") or {}).get("kind", "event_window")
        rows.append((name, kind, " ".join(str(doc.get("description") or "").split())))
    frame = pd.DataFrame(rows, columns=["config", "strategy", "description"])
    if fmt == "table" and not wide:
        _echo_with_headlines(frame, keep=("config",))
    else:
        _echo_table(frame, fmt, wide)
    if fmt == "table":
        click.echo(f"{len(rows)} configs in {bundled_config('default').parent}; run one with: aibt run --config NAME")


@cli.command("tearsheet")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--pdf", is_flag=True, help="Also write a multi-page tearsheet.pdf.")
@click.option("--live-start", default=None, metavar="DATE",
              help="First out-of-sample day (YYYY-MM-DD), inside the run's dates: the sheet shows the run before and after it "
                   "(overrides the run's report.live_start for this sheet; config.yaml is not changed).")
@click.option("--quiet", "-q", is_flag=True, help="No progress line on stderr.")
def tearsheet_cmd(run_dir, pdf, live_start, quiet):
    """Rebuild the tear sheet of a run directory from its files alone (no re-run)."""
    import time

    from backtests.reports.tearsheet import build_tearsheet

    live_start = _iso_date(live_start, "--live-start")  # checked against the run's dates (summary.json) by build_tearsheet
    t0 = time.perf_counter()
    Steps(quiet)(f"building the tear sheet of {run_dir}" + (" and its PDF" if pdf else ""))
    written = build_tearsheet(run_dir, pdf=pdf, live_start=live_start, live_start_field="--live-start")
    for k, p in written.items():
        click.echo(f"{k}: {p}")
    click.echo(f"built in {time.perf_counter() - t0:.2f} s")


@cli.command("study")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Run config: a YAML file, or the name of a shipped config ('aibt configs'; default: default).")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Directory to write (default reports/<name>-study-<UTC time>): a new path, an empty directory or a previous "
                   "aibt run or study directory, which is replaced; a folder holding anything else is refused (exit 2).")
@click.option("--model", default=None, type=click.Choice(["market_adjusted", "market_model", "peer_adjusted"]), help="Print one model only.")
@click.option("--wide", is_flag=True, help="Show each test's p and q beside it (about 200 columns).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True,
              help="table (the summary), or study.csv's table as CSV or JSON on stdout.")
@click.option("--quiet", "-q", is_flag=True, help="No progress lines on stderr.")
def study_cmd(config_path, out, model, wide, fmt, quiet):
    """Event study of the config's events: CAAR table with tests; writes study.json, study.csv, abnormal_returns.csv."""
    import datetime as dt

    from backtests.config import load_config
    from backtests.reports.rundir import check_out_dir, default_run_dir, write_study_dir
    from backtests.stats.study import study_for_config

    started = dt.datetime.now(dt.timezone.utc)
    out = _path_option(out, "--out")
    check_out_dir(out or default_run_dir("study"))  # DESIGN: refuse an --out aibt may not write (exit 2) before any work
    step = Steps(quiet)
    cfg = load_config(config_path)
    step(f"event study of {cfg['name']}: data, estimation windows, tests")
    with _config_named(config_path):
        study = study_for_config(cfg)
    if fmt != "table":
        t = study.results.table
        _echo_table(t[t["model"] == model] if model else t, fmt)
    else:
        click.echo(study.results.summary(model=model, wide=wide))
    for r in study.signals.get("regressions", []) if fmt == "table" else []:
        if "terms" in r:
            terms = ", ".join(f"{k} {v['coef']:+.3f} (t={v['t']:.2f}, p={v['p']:.3f})" for k, v in r["terms"].items() if k != "const")
            say(f"signal regression, CAR {r['window']} on {'+'.join(r['x'])}: {terms}; n={r['n']}, R2={r['r2']:.2f}")
        else:
            say(f"signal regression, CAR {r['window']} on {'+'.join(r['x'])}: {r['note']}")
    path = write_study_dir(cfg, study, out or default_run_dir(cfg["name"] + "-study"), started)
    click.echo(f"study directory: {path}", err=fmt != "table")  # stdout stays a pure CSV / JSON table


# ---------------------------------------------------------------- data
@cli.group()
def data():
    """Market data: where each ticker's prices come from, and refreshing them."""


@data.command("status")
@click.option("--tickers", default=None, help="Comma-separated tickers (default: all bundled).")
def data_status(tickers):
    """List each ticker's source (bundled or cache), date range and fingerprint."""
    from backtests.market.marketdata import cache_dir, load_prices, status_table

    prices = load_prices(_ticker_list(tickers))
    for w in prices.warnings:
        say(f"warning: {w}", err=True)
    _echo_table(status_table(prices))
    click.echo(f"cache directory: {cache_dir()} (set AIBT_CACHE_DIR to move it)")


@data.command("refresh")
@click.option("--tickers", default=None, help="Comma-separated tickers (default: all bundled).")
@click.option("--start", default=None, help="First date to download, YYYY-MM-DD (default 2015-01-02).")
@click.option("--end", default=None, help="Last date (exclusive), YYYY-MM-DD (default: today).")
def data_refresh(tickers, start, end):
    """Download prices with yfinance into the user cache (atomic; keeps old data on failure).

    Exit 0 when every ticker was refreshed or already up to date; exit 3 when Yahoo Finance could not be reached
    or returned nothing usable for some ticker (one line each says which; their data on disk is unchanged)."""
    from backtests.market.refresh import DEFAULT_START, refresh

    start, end = _iso_date(start or None, "--start") or DEFAULT_START, _iso_date(end or None, "--end")
    if end is not None and end <= start:
        raise InputError(Problem(f"--end {end} is not after --start {start}", field="--end", expected="an end after the start"))
    report = refresh(_ticker_list(tickers), start, end, log=say, progress=None)
    if report.ok:
        return 0
    failed = sorted(t for t, st in report.status.items() if st == "failed")
    say(f"aibt: {len(failed)} of {len(report.status)} ticker(s) not refreshed ({', '.join(failed)}); "
        "the data on disk for them is unchanged", err=True)
    return 3  # DESIGN.md: an outside source could not be reached or returned nothing usable


@data.command("check")
@click.argument("path", type=click.Path(dir_okay=False))
def data_check(path):
    """Validate a price CSV (date,open,high,low,close,adj_close,volume)."""
    from backtests.market.marketdata import load_price_file

    p = load_price_file(path)
    click.echo(f"{path}: ok")
    click.echo(f"  {len(p.frame)} sessions {p.first.date()}..{p.last.date()}")
    click.echo(f"  sha256 {p.sha256}")


# ---------------------------------------------------------------- events
@cli.group()
def events():
    """The event calendar: AI-infrastructure announcements and earnings, on NYSE sessions."""


def _calendar(files, bundled=True):
    from backtests.market.marketdata import load_prices
    from events.loader import load_calendar

    amzn = load_prices(["AMZN"])["AMZN"]
    return load_calendar(list(files), bundled=bundled, earnings=bundled, price_range=(amzn.first, amzn.last))


@events.command("list")
@click.option("--category", "categories", multiple=True, help="Keep only this category (repeatable).")
@click.option("--ticker", "tickers", multiple=True, help="Keep events affecting this ticker (repeatable).")
@click.option("--since", default=None, help="Keep events dated on or after YYYY-MM-DD.")
@click.option("--file", "files", multiple=True, type=click.Path(dir_okay=False), help="Add a user event file.")
@click.option("--no-earnings", is_flag=True, help="Leave out the earnings calendar.")
@table_options
def events_list(categories, tickers, since, files, no_earnings, wide, fmt):
    """Print events with their reaction session (day 0)."""
    since = _iso_date(since, "--since")
    _check_categories(categories)
    tickers = _ticker_list(",".join(tickers), "--ticker") if tickers else ()
    cal = _calendar(files)
    known = {t for ts in cal.frame["tickers"] for t in ts}
    for t in tickers:
        if t not in known:
            say(f"note: no event in the calendar concerns {t} (tickers with events: {', '.join(sorted(known))})", err=True)
    if no_earnings:
        cal = cal.select(categories=[c for c in cal.frame["category"].unique() if c != "earnings"])
    cal = cal.select(categories=categories or None, tickers=tickers or None, since=since)
    f = cal.frame
    as_json = fmt == "json"  # JSON keeps types: scheduled true/false, tickers a list
    out = f.assign(
        date=f["date"].dt.date, day0=f["day0"].dt.date,
        sched=f["scheduled"].astype(bool) if as_json else f["scheduled"].map({True: "yes", False: "no"}),
        tickers=f["tickers"].map(list) if as_json else f["tickers"].map(";".join),
    )[["event_id", "date", "time", "sched", "day0", "category", "tickers", "headline"]]
    if as_json:
        out = out.rename(columns={"sched": "scheduled"})
    if fmt == "table" and not wide and len(out):
        _echo_with_headlines(out, keep=("event_id",))
    else:
        _echo_table(out, fmt, wide, keep=("event_id",))
    if fmt == "table":
        click.echo(f"{len(out)} events")


@events.command("validate")
@click.argument("path", type=click.Path(dir_okay=False))
def events_validate(path):
    """Check a user event file; report every problem (exit 2 if any)."""
    from backtests.market.marketdata import bundled_price_path, cache_price_path

    cal = _calendar([path], bundled=False)
    for n in cal.notes:
        say(f"note: {n}", err=True)
    # a ticker without prices is allowed (news can concern a stock aibt holds no data for) but said: it may be a typo
    unpriced: dict[str, list[str]] = {}
    for eid, ts in zip(cal.frame["event_id"], cal.frame["tickers"]):
        for t in ts:
            if not bundled_price_path(t).exists() and not cache_price_path(t).exists():
                unpriced.setdefault(t, []).append(eid)
    for t, ids in sorted(unpriced.items()):
        shown = ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
        say(f"note: {path}: tickers_affected '{t}' has no price data (bundled or refreshed) in {len(ids)} event(s): {shown}; "
                   f"such an event cannot be measured on {t} (check the spelling, or 'aibt data refresh --tickers {t}')", err=True)
    click.echo(f"{path}: ok, {len(cal)} events, {cal.frame['day0'].min().date()}..{cal.frame['day0'].max().date()}")


@events.command("check")
@click.option("--category", "categories", multiple=True, help="Only this category (repeatable).")
@click.option("--half", default=5, show_default=True, type=click.IntRange(1, 60), help="Sessions on each side of day 0 (1 to 60).")
@click.option("--all", "show_all", is_flag=True, help="Show every event, not only the flagged ones.")
@table_options
def events_check(categories, half, show_all, wide, fmt):
    """Volume sanity check: was day 0 the high-volume session around each event?"""
    import pandas as pd

    from backtests.market.marketdata import load_prices
    from events.align import align
    from events.volume_check import volume_check

    _check_categories(categories)
    prices = load_prices()
    cal = _calendar([]).select(categories=categories or None)
    sessions = prices["AMZN"].frame.index
    vol = pd.DataFrame({t: d.frame["volume"] for t, d in prices.data.items()})
    vc = volume_check(align(cal.frame, sessions), vol, half=half)
    cats = cal.frame["category"].to_numpy()
    for cat in sorted(set(cats)):
        sub = vc[cats == cat]
        click.echo(f"{cat:15s} {len(sub):4d} events, day 0 is the peak-volume session for {sub['is_peak'].mean():.0%}, flagged {int(sub['flag'].sum())}",
                   err=fmt != "table")  # with --format csv|json stdout holds the table alone
    shown = vc if show_all else vc[vc["flag"]]
    if len(shown):
        if fmt == "table":
            click.echo("")
        _echo_table(shown.assign(day0=shown["day0"].dt.date), fmt, wide, float_format=lambda x: f"{x:,.2f}")
        if fmt == "table":
            import textwrap

            click.echo("")
            click.echo(textwrap.fill(
                f"Columns: ticker = the announcing company's, else the first affected ticker with prices; day0_volume = shares traded "
                f"on the reaction session; ratio = that volume over the median of the {2 * half} sessions around it; rank = its rank "
                f"among those {2 * half + 1} sessions (1 = highest); is_peak = rank 1; flag = not the peak and ratio below 1.5: the "
                "market apparently did not react that day, so check the event's date and time (bmo / intraday / amc).", WIDTH))


# ---------------------------------------------------------------- signals
#: column labels of 'aibt signals show' in a 100-column terminal (the full names with --wide, csv and json)
SHORT_SIGNAL_NAMES = {"capex_efficiency": "eff", "capex_efficiency_chg": "eff_chg", "capex_intensity": "intens",
                      "backlog": "backlog", "backlog_growth_qoq": "bl_qoq", "backlog_growth_yoy": "bl_yoy",
                      "backlog_coverage": "bl_cover", "eff_vs_peers": "eff_rel"}
@cli.group()
def signals():
    """Point-in-time signals from quarterly fundamentals."""


@signals.command("show")
@click.option("--ticker", default="AMZN", show_default=True, help="AMZN or a peer (MSFT, GOOGL, META, ORCL).")
@click.option("--signal", "names", multiple=True, help="Only these signals (repeatable); default a core set.")
@table_options
def signals_show(ticker, names, wide, fmt):
    """Each signal by quarter, with the session it became usable and why values are missing."""
    import pandas as pd

    from signals.fundamentals import load_fundamentals
    from signals.history import SIGNALS, signal_table

    ticker = ticker.upper()
    fund = load_fundamentals()
    if ticker not in fund.tickers():
        from events.errors import Problem

        raise InputError(Problem(f"no fundamentals for {ticker}", field="--ticker", expected="one of " + ", ".join(fund.tickers())))
    from signals.registry import user_signals

    core = ["capex_efficiency", "capex_efficiency_chg", "capex_intensity", "backlog", "backlog_growth_qoq", "backlog_growth_yoy", "backlog_coverage"]
    names = list(names) or core + [n for n in user_signals() if n not in core]  # registered signals (entry points) shown too
    unknown = [n for n in names if n not in SIGNALS]
    if unknown:
        from events.errors import Problem

        raise InputError(Problem(f"unknown signal(s) {', '.join(unknown)}", field="--signal", expected="one of " + ", ".join(SIGNALS)))
    t = signal_table(fund, ticker, names)
    if "capex_efficiency" in names:
        from signals.history import relative_to_peers

        peers = [p for p in ("AMZN", "MSFT", "GOOGL", "META", "ORCL") if p != ticker]
        when = pd.DatetimeIndex(t["available"].dropna())
        rel = relative_to_peers(fund, "capex_efficiency", when, ticker=ticker, peers=peers)
        t["eff_vs_peers"] = t["available"].map(rel["relative"])
        names = names + ["eff_vs_peers"]
    view = t[["quarter", "available", "kind"] + names].copy()
    view["available"] = view["available"].map(lambda d: d.date().isoformat() if pd.notna(d) else "never")
    view = view.rename(columns={"available": "usable_from"})
    short = {n: SHORT_SIGNAL_NAMES[n] for n in names if n in SHORT_SIGNAL_NAMES} if fmt == "table" and not wide else {}
    _echo_table(view.rename(columns=short), fmt, wide, float_format=lambda x: f"{x:.4f}", na_rep="-")
    if fmt != "table":
        return
    click.echo("")
    units = {n: SIGNALS[n][1] for n in names if n in SIGNALS}
    units["eff_vs_peers"] = "capex efficiency minus the mean of the peers' cloud OI TTM / capex TTM known that session (MSFT Intelligent Cloud, Google Cloud; META and ORCL report none)"
    import textwrap

    if short:
        say("columns: " + ", ".join(f"{v} = {k}" for k, v in short.items() if k != v) + " (--wide prints the full names)")
    click.echo(textwrap.fill("units: " + "; ".join(f"{n} = {units[n]}" for n in names), WIDTH, subsequent_indent="  "))
    click.echo("kind: release = the quarter's reaction session; update = a later session on which more of its inputs\n"
               "      became usable")
    click.echo("")
    import textwrap

    from signals.availability import LAG_TEXT
    from signals.fundamentals import rules_table

    def wrap(text, indent):
        return textwrap.fill(text, width=WIDTH, initial_indent=" " * indent, subsequent_indent=" " * (indent + 2), break_on_hyphens=False)

    click.echo(wrap(f"Availability rule per field ({ticker}): each figure is usable from the session after the document that first "
                    "published it", 0))
    for r in rules_table(fund, ticker).itertuples():
        click.echo(wrap(f"{r.field} ({r.canonical}): {r.rule}", 2))
        if r.exceptions:
            label = "dates" if "filing" in r.rule.split(" -> ")[0] else "dated otherwise (a later document, or a second vintage)"
            click.echo(wrap(f"{label}: {r.exceptions}", 6))
    click.echo(wrap(f"Filing dates: as stated in the sources, else EDGAR filed dates when refreshed, else the {LAG_TEXT}. "
                    "Reasons per cell: signals/data/availability.csv and DATA.md.", 2))
    upd = t[t["kind"] == "update"]
    if len(upd):
        click.echo("")
        click.echo(f"Update rows: figures that became usable after their quarter's release ({ticker}):")
        for r in upd.itertuples():
            click.echo(wrap(f"{r.available.date().isoformat()} ({r.quarter}): {r.new_values}", 2))
    click.echo("")
    click.echo(f"Quarters where a signal is undefined, and why ({ticker}):")
    label = t["quarter"].where(t["kind"] != "update", t["quarter"] + " @" + t["available"].map(lambda d: d.date().isoformat() if pd.notna(d) else ""))
    for n in names:
        if n == "eff_vs_peers":
            continue
        miss = t[t[n].isna()]
        if miss.empty:
            continue
        click.echo(f"  {n}:")
        for why, g in miss.groupby(f"{n}_why", sort=False):
            click.echo(wrap(f"{', '.join(label[g.index])}: {why}", 4))


# ---------------------------------------------------------------- sweep
class _SweepGroup(click.Group):
    """``aibt sweep SPEC ...`` runs the default ``run`` command; ``aibt sweep status|report DB`` the others."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["run", *args]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx, formatter):
        formatter.write_usage("aibt sweep", "SPEC --db PATH [OPTIONS] | status DB | report DB [--out DIR]")


@cli.group("sweep", cls=_SweepGroup, no_args_is_help=True)
def sweep():
    """Parameter sweeps that survive a night: aibt sweep SPEC --db PATH runs (or resumes) one.

    SPEC is a YAML sweep spec (base run config, params as dotted keys to lists or ranges, search grid |
    random | optuna, n_trials, seed, metric, direction, constraints; see backtests/sweeps/smoke.yaml).
    Results go to one SQLite database; the same command again resumes it. 'aibt sweep run --help' lists
    the options.
    """


@sweep.command("run")
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--db", "db", required=True, type=click.Path(dir_okay=False), help="SQLite database of the results (created if new; resumed if not).")
@click.option("--workers", type=click.IntRange(min=1), default=lambda: os.cpu_count() or 1, show_default="all CPUs",
              help="Worker processes (local) or LocalCluster workers (dask without --scheduler).")
@click.option("--backend", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="local: a process pool on this machine; dask: a dask.distributed cluster (the 'dist' extra).")
@click.option("--scheduler", default=None, metavar="ADDR", help="Dask scheduler address (with --backend dask); default: a LocalCluster.")
@click.option("--max-hours", type=click.FloatRange(min=0, min_open=True), default=None, metavar="H",
              help="Stop starting new combinations after H hours; in-flight ones finish; the same command resumes.")
@click.option("--engine", type=click.Choice(["backtrader", "fast"]), default="backtrader", show_default=True,
              help="backtrader: each combination a full run; fast: grid and random searches run in batches on the compiled engine "
                   "(every combination's metrics; the best --verify-top re-run on Backtrader).")
@click.option("--retry-failed/--no-retry-failed", default=True, show_default=True,
              help="Retry combinations that failed in an earlier call (once in all: a combination runs at most twice).")
@click.option("--verify-top", type=click.IntRange(min=0), default=20, show_default=True, metavar="K",
              help="With --engine fast: re-run the best K combinations on Backtrader (with their placebo) and store whether they agree.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or progress lines on stderr.")
def sweep_run(spec, db, workers, backend, scheduler, max_hours, engine, retry_failed, verify_top, quiet):
    """Run or resume the sweep SPEC into the database --db.

    Exit 0 when the call finished (or spent its --max-hours); 130 after Ctrl-C and 143 after SIGTERM (what was in
    flight finished and is stored; the same command resumes); 2 on a bad spec or option, or a disk that refuses
    the writes (every result stored before is kept)."""
    from backtests.sweeps.driver import STOPPED_EXIT, run_sweep

    out = run_sweep(spec, db, workers=workers, backend=backend, scheduler=scheduler, max_hours=max_hours, engine=engine,
              retry_failed=retry_failed, verify_top=verify_top, echo=say, stream=open(os.devnull, "w") if quiet else None, command=" ".join(["aibt", *sys.argv[1:]]) if sys.argv else "aibt sweep")
    return STOPPED_EXIT.get(out.stopped, 0)  # 130 after Ctrl-C, 143 after SIGTERM: stopped early, resumable; 0 finished or out of --max-hours


@sweep.command("status")
@click.argument("db", type=click.Path(dir_okay=False))
def sweep_status(db):
    """Done, failed, running and pending combinations of a sweep database, with rate and ETA."""
    from backtests.sweeps.driver import fmt_duration
    from backtests.sweeps.store import status

    s = status(db)
    say(f"database: {db}")
    say(f"spec: {s['spec']} ({s['search']} search, metric {s['metric']}, {s['direction']}, engine {s['engine']})")
    say(f"combinations: {s['total']}: done {s['done']}, failed {s['failed']}, running {s['running']}, pending {s['pending']}")
    rate = f"{s['rate']:.2f} combinations/s" if s["rate"] else "n/a"
    say(f"rate: {rate} ({s['finished_this_call']} finished in the {'current' if s['running_now'] else 'latest'} call); "
               f"ETA {fmt_duration(s['eta_s']) if s['eta_s'] is not None else 'n/a'} ({s['left']} left)")
    lease = s["lease"]
    if s["running_now"]:
        say(f"running: pid {lease['pid']} on {lease['host']} since {lease['since']} (heartbeat {lease['heartbeat_age']:.0f} s ago)")
    elif lease:
        say(f"no sweep is running (a stale lease of pid {lease['pid']} on {lease['host']} remains; the next call takes it over)")
    else:
        say("no sweep is running")


@sweep.command("report")
@click.argument("db", type=click.Path(dir_okay=False))
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Report directory (default: <db without suffix>-report next to the database).")
@click.option("--quiet", "-q", is_flag=True, help="No progress line on stderr.")
def sweep_report(db, out, quiet):
    """Write sweep_report.json and sweep_report.html (best combination, deflated Sharpe, PBO...)."""
    from pathlib import Path

    from backtests.sweeps.report import write_report

    out = Path(_path_option(out, "--out") or Path(db).with_name(Path(db).stem + "-report"))
    Steps(quiet)(f"reading {db} and computing the report (deflated Sharpe, PBO, SPA, walk-forward)")
    write_report(db, out)
    click.echo(f"sweep report: {out / 'sweep_report.html'}")


# ---------------------------------------------------------------- entry point
def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; returns the process exit code."""
    args = sys.argv[1:] if argv is None else list(argv)
    nul = [a for a in args if "\x00" in a]
    if nul:  # no path, date or name can hold one; the OS would refuse it deep inside a command
        click.echo(f"aibt: error: the argument {nul[0]!r} contains a NUL character (expected printable text)", err=True)
        return 2
    import signal
    import threading

    old_term = None
    if threading.current_thread() is threading.main_thread():
        def on_term(signum, frame):
            raise Terminated()

        old_term = signal.signal(signal.SIGTERM, on_term)  # so a SIGTERM cleans up like Ctrl-C (a sweep installs its own)
    try:
        rv = cli.main(args=args, prog_name="aibt", standalone_mode=False)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.ClickException as exc:
        exc.show()
        code = exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):  # click turns Ctrl-C into Abort
        click.echo(f"\naibt: interrupted; {_STOPPED}", err=True)
        code = 130
    except Terminated:
        click.echo(f"\naibt: terminated (SIGTERM); {_STOPPED}", err=True)
        code = 143
    except InputError as exc:
        click.echo(error_text(exc, WIDTH if sys.stderr.isatty() else None), err=True)
        code = 2
    except Exception:  # noqa: BLE001 - the contract is exit 1 with a report
        traceback.print_exc()
        click.echo("aibt: internal error (a bug in aibt; the traceback above helps us fix it)", err=True)
        code = 1
    else:
        code = rv if isinstance(rv, int) else 0
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
    return code


def error_text(exc: InputError, width: int | None = None) -> str:
    """``aibt: error: ...`` for an input error; ``width``: wrapped to that many columns (on a terminal), each problem
    of a list kept as its own indented item. None: one line per problem, as logs and ``grep`` prefer."""
    text = f"aibt: error: {exc}"
    if width is None:
        return text
    return "\n".join(wrap_line(line, rest="    " if line.startswith("  - ") else "  ", width=width) for line in text.splitlines())


class Terminated(BaseException):
    """SIGTERM, raised like Ctrl-C's KeyboardInterrupt so that what was being written is cleaned up."""


_STOPPED = ("nothing half-written is left (a run directory appears whole or not at all; a sweep keeps every result it "
            "stored, and the same command resumes)")


def console_main() -> None:  # pragma: no cover - thin wrapper
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    console_main()
