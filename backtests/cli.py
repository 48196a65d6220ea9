"""The ``aibt`` command line.

Exit codes (DESIGN.md): 0 success; 2 bad user input (one paragraph naming
file, line, field and what was expected; no traceback); 1 internal error.
"""
from __future__ import annotations

import sys
import traceback

import click

from events.errors import InputError


def _echo_table(frame, **kw) -> None:
    if frame.empty:
        click.echo("(nothing to show)")
    else:
        click.echo(frame.to_string(index=False, **kw))


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="aibt", prog_name="aibt")
def cli():
    """aibt: did trading AMZN around AI-infrastructure events beat its hyperscaler peers?"""


# ---------------------------------------------------------------- data
@cli.group()
def data():
    """Market data: where each ticker's prices come from, and refreshing them."""


@data.command("status")
@click.option("--tickers", default=None, help="Comma-separated tickers (default: all bundled).")
def data_status(tickers):
    """List each ticker's source (bundled or cache), date range and fingerprint."""
    from backtests.marketdata import BUNDLED_TICKERS, cache_dir, load_prices, status_table

    names = [t.strip().upper() for t in tickers.split(",")] if tickers else list(BUNDLED_TICKERS)
    prices = load_prices(names)
    for w in prices.warnings:
        click.echo(f"warning: {w}", err=True)
    _echo_table(status_table(prices))
    click.echo(f"cache directory: {cache_dir()} (set AIBT_CACHE_DIR to move it)")


@data.command("refresh")
@click.option("--tickers", default=None, help="Comma-separated tickers (default: all bundled).")
@click.option("--start", default=None, help="First date to download, YYYY-MM-DD (default 2015-01-02).")
@click.option("--end", default=None, help="Last date (exclusive), YYYY-MM-DD (default: today).")
def data_refresh(tickers, start, end):
    """Download prices with yfinance into the user cache (atomic; keeps old data on failure)."""
    from backtests.marketdata import BUNDLED_TICKERS
    from backtests.refresh import DEFAULT_START, refresh

    names = [t.strip().upper() for t in tickers.split(",")] if tickers else list(BUNDLED_TICKERS)
    report = refresh(names, start or DEFAULT_START, end, log=click.echo)
    if report.offline:
        return 0
    return 0 if report.ok else 1


@data.command("check")
@click.argument("path", type=click.Path(dir_okay=False))
def data_check(path):
    """Validate a price CSV (date,open,high,low,close,adj_close,volume)."""
    from backtests.marketdata import load_price_file

    p = load_price_file(path)
    click.echo(f"{path}: ok, {len(p.frame)} sessions {p.first.date()}..{p.last.date()}, sha256 {p.sha256}")


# ---------------------------------------------------------------- entry point
def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; returns the process exit code."""
    try:
        rv = cli.main(args=argv, prog_name="aibt", standalone_mode=False)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.ClickException as exc:
        exc.show()
        code = exc.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        code = 1
    except InputError as exc:
        click.echo(f"aibt: error: {exc}", err=True)
        code = 2
    except Exception:  # noqa: BLE001 - the contract is exit 1 with a report
        traceback.print_exc()
        click.echo("aibt: internal error (a bug in aibt; the traceback above helps us fix it)", err=True)
        code = 1
    else:
        code = rv if isinstance(rv, int) else 0
    return code


def console_main() -> None:  # pragma: no cover - thin wrapper
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    console_main()
