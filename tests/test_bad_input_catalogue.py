"""The catalogue of bad input (issue 12, growing): each case is a file or an argument a real user produces, and what
aibt must do with it. Refused cases exit 2 with a message naming the file (or option), line or key, what was found
and what was expected, print no traceback and leave no output behind; accepted odd cases (an Excel UTF-16 or
Windows-1252 event file) exit 0 and say how the file was read."""
from __future__ import annotations

from pathlib import Path

import pytest

from backtests.cli import main
from events.errors import InputError

ROOT = Path(__file__).resolve().parent.parent
EVENTS = (ROOT / "events" / "data" / "ai_infra_events.csv").read_text(encoding="utf-8").splitlines()
PRICES = (ROOT / "backtests" / "data" / "prices" / "AMZN.csv").read_text(encoding="utf-8").splitlines()
GOOD = "\n".join([EVENTS[0], EVENTS[1].replace("OpenAI opens", "OpenAI öffnet"), *EVENTS[2:4]]) + "\n"


def _write(folder: Path, name: str, content) -> Path:
    p = folder / name
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content, encoding="utf-8")
    return p


#: (case id, files to write {name: text or bytes}, argv with {dir} for the folder, exit code, substrings of the message)
CASES = [
    # run configs
    ("config-list", {"c.yaml": "- strategy\n- costs\n"}, ["run", "--config", "{dir}/c.yaml", "--out", "{dir}/out"], 2,
     ["c.yaml, line 1", "YAML list, not a mapping", "expected a mapping of sections"]),
    ("config-string", {"c.yaml": "default\n"}, ["run", "--config", "{dir}/c.yaml", "--out", "{dir}/out"], 2, ["YAML string, not a mapping"]),
    ("config-number", {"c.yaml": "42\n"}, ["run", "--config", "{dir}/c.yaml", "--out", "{dir}/out"], 2, ["YAML number, not a mapping"]),
    ("config-empty", {"c.yaml": ""}, ["run", "--config", "{dir}/c.yaml", "--out", "{dir}/out"], 2, ["the config is empty", "default.yaml"]),
    ("config-comments-only", {"c.yaml": "# nothing yet\n"}, ["run", "--config", "{dir}/c.yaml", "--out", "{dir}/out"], 2, ["the config is empty"]),
    ("config-duplicate-top-key", {"c.yaml": "name: a\nname: b\n"}, ["run", "--config", "{dir}/c.yaml", "--out", "{dir}/out"], 2,
     ["line 2", "key 'name' appears twice", "lines 1 and 2"]),
    ("config-duplicate-nested-key", {"c.yaml": "costs:\n  slippage_bps: 1\n  slippage_bps: 5\n"},
     ["run", "--config", "{dir}/c.yaml", "--out", "{dir}/out"], 2, ["line 3", "'slippage_bps' appears twice"]),
    ("config-latin1", {"c.yaml": "name: x\n# caf\xe9 notes\n".encode("latin-1")}, ["run", "--config", "{dir}/c.yaml", "--out", "{dir}/out"], 2,
     ["c.yaml, line 2: not UTF-8 text: byte 0xe9", "saved as UTF-8"]),
    ("spec-latin1", {"s.yaml": "base: default\n# \xe9\n".encode("latin-1")}, ["sweep", "run", "{dir}/s.yaml", "--db", "{dir}/s.db"], 2,
     ["s.yaml, line 2: not UTF-8 text: byte 0xe9", "a YAML sweep spec, saved as UTF-8"]),
    ("config-not-yaml", {"c.yaml": "strategy: [unclosed\n"}, ["run", "--config", "{dir}/c.yaml", "--out", "{dir}/out"], 2, ["not valid YAML"]),
    ("config-missing", {}, ["run", "--config", "{dir}/nope.yaml", "--out", "{dir}/out"], 2, ["config file not found"]),
    ("config-unknown-name", {}, ["run", "--config", "earnings_onyl", "--out", "{dir}/out"], 2,
     ["earnings_onyl: config file not found", "the name of a shipped config", "earnings_only"]),
    ("config-section-not-mapping", {"c.yaml": "costs: 5\n"}, ["run", "--config", "{dir}/c.yaml", "--out", "{dir}/out"], 2,
     ["field 'costs'", "expected a mapping of commission_bps, slippage_bps, borrow_bps, got the number 5"]),
    ("config-event-file-binary", {"c.yaml": "events: {files: [ev.csv]}\n", "ev.csv": b"\x89PNG\r\n\x1a\n\x00\x00"},
     ["run", "--config", "{dir}/c.yaml", "--out", "{dir}/out"], 2, ["ev.csv", "a binary file, not CSV text"]),
    ("config-start-before-data", {"c.yaml": "dates: {start: 2010-01-04}\n"}, ["run", "--config", "{dir}/c.yaml", "--out", "{dir}/out"], 2,
     ["c.yaml, field 'dates.start'", "start 2010-01-04 is before the price data, which begins 2015-01-02"]),
    ("config-end-after-data", {"c.yaml": "dates: {start: 2024-01-02, end: 2031-12-31}\n"},
     ["run", "--config", "{dir}/c.yaml", "--out", "{dir}/out"], 2, ["field 'dates.end'", "end 2031-12-31 is after the price data", "or null"]),
    ("config-end-before-start", {"c.yaml": "dates: {start: 2024-01-02, end: 2023-12-29}\n"},
     ["run", "--config", "{dir}/c.yaml", "--out", "{dir}/out"], 2, ["field 'dates.end'", "end is not after start"]),
    ("config-unknown-key", {"c.yaml": "costs: {slipage_bps: 1}\n"}, ["run", "--config", "{dir}/c.yaml", "--out", "{dir}/out"], 2,
     ["field 'costs.slipage_bps'", "unknown key 'slipage_bps'", "slippage_bps"]),
    ("config-bad-choice", {"c.yaml": "portfolio: {fill: midday}\n"}, ["run", "--config", "{dir}/c.yaml", "--out", "{dir}/out"], 2,
     ["field 'portfolio.fill'", "expected one of open, close, got 'midday'"]),
    ("config-unknown-strategy", {"c.yaml": "strategy: {kind: momentum}\n"}, ["run", "--config", "{dir}/c.yaml", "--out", "{dir}/out"], 2,
     ["field 'strategy.kind'", "got 'momentum'"]),
    ("config-negative-cost", {"c.yaml": "costs: {slippage_bps: -2}\n"}, ["run", "--config", "{dir}/c.yaml", "--out", "{dir}/out"], 2,
     ["field 'costs.slippage_bps'", "expected a value >= 0.0, got -2.0"]),
    ("config-text-offset", {"c.yaml": "strategy: {kind: event_window, params: {exit_offset: soon}}\n"},
     ["run", "--config", "{dir}/c.yaml", "--out", "{dir}/out"], 2, ["field 'strategy.params.exit_offset'", "got 'soon'"]),
    ("config-drop-clusters", {"c.yaml": "events: {clusters: drop}\n"}, ["run", "--config", "{dir}/c.yaml", "--out", "{dir}/out"], 2,
     ["field 'events.clusters'", "a trading run cannot use it"]),
    ("run-engine-unknown", {}, ["run", "--engine", "turbo", "--out", "{dir}/out"], 2, ["--engine", "turbo"]),
    # event files
    ("events-binary", {"ev.csv": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"}, ["events", "validate", "{dir}/ev.csv"], 2,
     ["ev.csv", "a binary file, not CSV text", "control byte 0x1a at byte 6"]),
    ("events-semicolons", {"ev.csv": GOOD.replace(",", ";")}, ["events", "validate", "{dir}/ev.csv"], 2,
     ["ev.csv, line 1", "separated by semicolons", "comma-separated"]),
    ("events-unquoted-comma", {"ev.csv": "\n".join([EVENTS[0], EVENTS[1], "", EVENTS[3].replace("Nvidia guides", "Nvidia, guides")]) + "\n"},
     ["events", "validate", "{dir}/ev.csv"], 2, ["ev.csv, line 4: 12 fields where the header has 11", "probably not in double quotes"]),
    ("events-open-quote", {"ev.csv": "\n".join([EVENTS[0], EVENTS[1], EVENTS[3].replace(",other,", ',other,"'), EVENTS[4]]) + "\n"},
     ["events", "validate", "{dir}/ev.csv"], 2, ["ev.csv, line 3: a double quote is opened and never closed"]),
    ("events-misspelt-optional-column", {"ev.csv": "\n".join([EVENTS[0] + ",public_snce", EVENTS[1] + ",", EVENTS[2] + ","]) + "\n"},
     ["events", "validate", "{dir}/ev.csv"], 2, ["ev.csv, line 1: column name(s) 'public_snce' for 'public_since'"]),
    ("events-yahoo-style-header", {"ev.csv": "\n".join([EVENTS[0].replace("event_id", "Event ID"), EVENTS[1]]) + "\n"},
     ["events", "validate", "{dir}/ev.csv"], 2, ["'Event ID' for 'event_id'"]),
    ("events-duplicate-column", {"ev.csv": "\n".join([EVENTS[0] + ",date", EVENTS[1] + ",2024-01-02"]) + "\n"},
     ["events", "validate", "{dir}/ev.csv"], 2, ["column(s) date appear more than once in the header"]),
    ("events-public-since-after-the-date", {"ev.csv": "\n".join([EVENTS[0] + ",public_since",
                                                                   "keynote_x,2024-05-01,bmo,true,AMZN,AMZN,product_launch,A keynote,,,high,2024-06-01",
                                                                   "news_x,2024-05-02,bmo,false,AMZN,AMZN,product_launch,News,,,high,2024-04-01"]) + "\n"},
     ["events", "validate", "{dir}/ev.csv"], 2, ["line 2, field 'public_since': public_since 2024-06-01 is after the event's date 2024-05-01",
                                                  "line 3, field 'public_since': public_since 2024-04-01 on an unscheduled event"]),
    ("earnings-fiscal-quarter-malformed", {"earn.csv": "ticker,fiscal_quarter,date,time,source_url\nAMZN,Q4 2024,2025-02-06,amc,\n"
                                                       "AMZN,FY2010Q4,2025-05-01,amc,\n"},
     ["events", "validate", "{dir}/earn.csv"], 2, ["line 2, field 'fiscal_quarter': fiscal quarter 'Q4 2024' is not in the form FY2024Q4",
                                                    "line 3, field 'fiscal_quarter': fiscal quarter FY2010Q4 is reported on 2025-05-01"]),
    ("earnings-duplicate-quarter", {"earn.csv": "ticker,fiscal_quarter,date,time,source_url\nAMZN,FY2024Q4,2025-02-06,amc,\n"
                                                "AMZN,FY2024Q4,2025-02-07,amc,\n"},
     ["events", "validate", "{dir}/earn.csv"], 2, ["line 3, field 'fiscal_quarter': duplicate earnings release AMZN FY2024Q4"]),
    ("prices-adj-close-off-by-100", {"p.csv": "\n".join([PRICES[0], *[",".join(r.split(",")[:5] + [str(float(r.split(",")[5]) * 100)] + r.split(",")[6:])
                                                                     for r in PRICES[1:12]]]) + "\n"},
     ["data", "check", "{dir}/p.csv"], 2, ["field 'adj_close': adj_close / close is outside 0.05..1.01 on 11 rows"]),
    ("events-tabs", {"ev.csv": GOOD.replace(",", "\t")}, ["events", "validate", "{dir}/ev.csv"], 2, ["separated by tabs"]),
    ("events-empty", {"ev.csv": ""}, ["events", "validate", "{dir}/ev.csv"], 2, ["ev.csv", "file is empty"]),
    ("events-header-only", {"ev.csv": EVENTS[0] + "\n"}, ["events", "validate", "{dir}/ev.csv"], 2, ["no data rows"]),
    ("events-missing-column", {"ev.csv": GOOD.replace("headline,", "title,", 1)}, ["events", "validate", "{dir}/ev.csv"], 2,
     ["line 1", "missing column(s) headline"]),
    ("events-bad-date", {"ev.csv": GOOD.replace("2022-11-30", "30/11/2022")}, ["events", "validate", "{dir}/ev.csv"], 2,
     ["line 2", "date", "30/11/2022"]),
    ("events-bad-time", {"ev.csv": GOOD.replace(",unknown,false,OPENAI", ",midnight,false,OPENAI")}, ["events", "validate", "{dir}/ev.csv"], 2,
     ["line 2", "time", "midnight"]),
    ("events-missing-file", {}, ["events", "validate", "{dir}/none.csv"], 2, ["none.csv: file not found"]),
    ("events-since-garbage", {}, ["events", "list", "--since", "last week"], 2, ["--since", "not a date: 'last week'", "YYYY-MM-DD"]),
    ("events-since-impossible-date", {}, ["events", "list", "--since", "2025-02-30"], 2, ["not a date: '2025-02-30'"]),
    ("events-unknown-category", {}, ["events", "list", "--category", "ai_chips"], 2,
     ["--category", "unknown category 'ai_chips'", "custom_silicon", "capex_guidance"]),
    ("events-unpriced-ticker", {"ev.csv": GOOD.replace("MSFT;GOOGL;AMZN;META;NVDA", "MSFT;AMNZ")}, ["events", "validate", "{dir}/ev.csv"], 0,
     ["ok, 3 events", "tickers_affected 'AMNZ' has no price data", "chatgpt_launch", "check the spelling"]),
    # price files
    ("prices-weekend-row", {"p.csv": PRICES[0] + "\n" + PRICES[1] + "\n" + PRICES[1].replace("2015-01-02", "2015-01-03") + "\n"
                            + "\n".join(PRICES[2:40]) + "\n"},
     ["data", "check", "{dir}/p.csv"], 2, ["p.csv, line 3, field 'date'", "2015-01-03 (Saturday) is not an NYSE session"]),
    ("prices-missing-session", {"p.csv": "\n".join([PRICES[0], PRICES[1], *PRICES[3:40]]) + "\n"}, ["data", "check", "{dir}/p.csv"], 2,
     ["field 'date'", "1 NYSE session(s)", "have no row: 2015-01-05"]),
    ("prices-holiday-row", {"p.csv": "\n".join([PRICES[0], PRICES[1], *PRICES[2:11], PRICES[11].replace("2015-01-16", "2015-01-19"), *PRICES[12:40]]) + "\n"},
     ["data", "check", "{dir}/p.csv"], 2, ["2015-01-19 (Monday) is not an NYSE session"]),
    ("prices-weekend-row-and-a-bad-close", {"p.csv": "\n".join([PRICES[0], PRICES[1], PRICES[2].replace(",15.1095,15.1095,", ",-15.1095,15.1095,"),
                                                                 *PRICES[3:11], PRICES[11].replace("2015-01-16", "2015-01-17"), *PRICES[12:20]]) + "\n"},
     ["data", "check", "{dir}/p.csv"], 2, ["line 3, field 'close': not positive", "2015-01-17 (Saturday) is not an NYSE session"]),
    ("prices-negative-close", {"p.csv": "\n".join([PRICES[0], PRICES[1], PRICES[2].replace(",15.1095,15.1095,", ",-15.1095,15.1095,")]) + "\n"},
     ["data", "check", "{dir}/p.csv"], 2, ["p.csv, line 3, field 'close': not positive: '-15.1095'", "a value > 0"]),
    ("prices-high-below-open", {"p.csv": "\n".join([PRICES[0], PRICES[1], PRICES[2].replace(",15.419,", ",14.0,")]) + "\n"},
     ["data", "check", "{dir}/p.csv"], 2, ["line 3, field 'high'", "high 14.0 is below max(open, close)"]),
    ("prices-text-number", {"p.csv": "\n".join([PRICES[0], PRICES[1], PRICES[2].replace("2015-01-05,15.3505", "2015-01-05,abc")]) + "\n"},
     ["data", "check", "{dir}/p.csv"], 2, ["line 3, field 'open'", "not a number: 'abc'"]),
    ("prices-out-of-order", {"p.csv": "\n".join([PRICES[0], PRICES[2], PRICES[1]]) + "\n"}, ["data", "check", "{dir}/p.csv"], 2,
     ["line 3, field 'date'", "out-of-order date 2015-01-02 after 2015-01-05"]),
    ("prices-duplicate-date", {"p.csv": "\n".join([PRICES[0], PRICES[1], PRICES[1]]) + "\n"}, ["data", "check", "{dir}/p.csv"], 2,
     ["duplicate date 2015-01-02"]),
    ("prices-missing-column", {"p.csv": "\n".join([PRICES[0].replace(",volume", ""), *[r.rsplit(",", 1)[0] for r in PRICES[1:4]]]) + "\n"},
     ["data", "check", "{dir}/p.csv"], 2, ["line 1", "missing column(s) volume"]),
    ("prices-binary", {"p.csv": b"PK\x03\x04\x14\x00\x06\x00"}, ["data", "check", "{dir}/p.csv"], 2, ["a binary file, not CSV text"]),
    ("prices-missing-file", {}, ["data", "check", "{dir}/nofile.csv"], 2, ["nofile.csv: file not found"]),
    ("refresh-bad-ticker", {}, ["data", "refresh", "--tickers", "AMZN,A B"], 2, ["--tickers", "not a ticker: 'A B'"]),
    ("refresh-empty-tickers", {}, ["data", "refresh", "--tickers", " , "], 2, ["--tickers", "not a ticker"]),
    ("refresh-bad-start", {}, ["data", "refresh", "--tickers", "AMZN", "--start", "yesterday"], 2, ["--start", "not a date: 'yesterday'"]),
    ("refresh-end-before-start", {}, ["data", "refresh", "--tickers", "AMZN", "--start", "2024-01-02", "--end", "2023-01-02"], 2,
     ["--end 2023-01-02 is not after --start 2024-01-02"]),
    ("signals-unknown-ticker", {}, ["signals", "show", "--ticker", "XYZ"], 2, ["--ticker", "no fundamentals for XYZ", "AMZN"]),
    ("run-out-empty", {}, ["run", "--out", "", "--quiet"], 2, ["--out", "an empty path"]),
    ("study-out-name-too-long", {}, ["study", "--out", "{dir}/" + "x" * 300, "--quiet"], 2, ["--out", "a name of 300 bytes", "at most 255"]),
    ("sweep-report-out-empty", {}, ["sweep", "report", "{dir}/none.db", "--out", " "], 2, ["--out", "an empty path"]),
    ("events-list-ticker-with-space", {}, ["events", "list", "--ticker", "A B"], 2, ["--ticker", "not a ticker: 'A B'"]),
    ("events-list-file-not-events", {"x.csv": "a,b\n1,2\n"}, ["events", "list", "--file", "{dir}/x.csv"], 2, ["x.csv, line 1", "missing column(s) event_id"]),
    # run directories and reports
    ("tearsheet-not-a-run", {"d/file.txt": "x"}, ["tearsheet", "{dir}/d"], 2, ["missing config.yaml", "a run directory written by 'aibt run'"]),
    ("tearsheet-missing", {}, ["tearsheet", "{dir}/nowhere"], 2, ["nowhere: not a directory"]),
    ("run-out-holds-other-files", {"d/notes.txt": "mine"}, ["run", "--out", "{dir}/d"], 2,
     ["field '--out'", "not an aibt run directory", "notes.txt, which aibt never deletes"]),
    ("run-out-under-a-file", {"f": "x"}, ["run", "--out", "{dir}/f/run"], 2, ["lies under", "which is a file"]),
    ("study-unknown-model", {}, ["study", "--model", "fama_french"], 2, ["--model", "fama_french"]),
    ("sweep-report-not-a-db", {"x.db": "hello\n"}, ["sweep", "report", "{dir}/x.db", "--out", "{dir}/rep"], 2, ["x.db: not an aibt sweep database"]),
    ("sweep-report-missing-db", {}, ["sweep", "report", "{dir}/none.db", "--out", "{dir}/rep"], 2, ["none.db: sweep database not found"]),
    ("sweep-status-not-a-db", {"x.db": "hello\n"}, ["sweep", "status", "{dir}/x.db"], 2, ["not an aibt sweep database"]),
    ("sweep-zero-workers", {}, ["sweep", "run", str(ROOT / "backtests/sweeps/smoke.yaml"), "--db", "{dir}/s.db", "--workers", "0"], 2,
     ["--workers", "0 is not in the range"]),
    ("sweep-negative-budget", {}, ["sweep", "run", str(ROOT / "backtests/sweeps/smoke.yaml"), "--db", "{dir}/s.db", "--max-hours", "-1"], 2,
     ["--max-hours", "-1.0 is not in the range x>0"]),
    ("sweep-scheduler-unreachable", {}, ["sweep", "run", str(ROOT / "backtests/sweeps/smoke.yaml"), "--db", "{dir}/s.db", "--backend", "dask",
                                         "--scheduler", "tcp://127.0.0.1:9"], 2, ["field '--scheduler': cannot reach the Dask scheduler at tcp://127.0.0.1:9"]),
    ("sweep-db-is-a-directory", {"d/x": "x"}, ["sweep", "run", str(ROOT / "backtests/sweeps/smoke.yaml"), "--db", "{dir}/d"], 2,
     ["--db", "is a directory"]),
    ("events-blank-lines", {"ev.csv": GOOD.replace("\n", "\n\n", 1).replace("2023-01-23", "23-01-2023") + "\n\n"},
     ["events", "validate", "{dir}/ev.csv"], 2, ["ev.csv, line 4, field 'date'", "23-01-2023"]),  # the blank line 2 counted
    ("events-year-2300", {"ev.csv": GOOD.replace("2023-01-23", "2300-01-23")}, ["events", "validate", "{dir}/ev.csv"], 2,
     ["line 3, field 'date'", "bad date '2300-01-23'", "between 1900 and 2199"]),
    ("earnings-bad-ticker", {"earn.csv": "ticker,fiscal_quarter,date,time,source_url\nAMZN,FY2024Q4,2025-02-06,amc,https://x.example\n"
                                         "A B,FY2024Q4,2025-02-06,amc,https://x.example\n"},
     ["events", "validate", "{dir}/earn.csv"], 2, ["earn.csv, line 3, field 'ticker'", "malformed ticker 'A B'"]),
    ("events-check-unknown-category", {}, ["events", "check", "--category", "ai_chips"], 2, ["--category", "unknown category 'ai_chips'"]),
    ("events-check-bad-half", {}, ["events", "check", "--half", "-3"], 2, ["--half", "-3 is not in the range"]),
    ("prices-future-row", {"p.csv": "\n".join([*PRICES[:5], "2090-01-03,15.0,15.2,14.9,15.1,15.1,1000"]) + "\n"},
     ["data", "check", "{dir}/p.csv"], 2, ["line 6, field 'date'", "2090-01-03 is in the future"]),
    ("prices-year-2300", {"p.csv": "\n".join([*PRICES[:5], "2300-01-03,15.0,15.2,14.9,15.1,15.1,1000"]) + "\n"},
     ["data", "check", "{dir}/p.csv"], 2, ["line 6, field 'date'", "bad date '2300-01-03'"]),
    ("study-dates-before-the-data", {"c.yaml": "dates: {start: 2010-01-04}\n"}, ["study", "--config", "{dir}/c.yaml", "--out", "{dir}/out"], 2,
     ["c.yaml, field 'dates.start'", "start 2010-01-04 is before the price data, which begins 2015-01-02"]),
    ("run-live-start-after-the-data", {}, ["run", "--live-start", "2030-01-01", "--out", "{dir}/out"], 2,
     ["field '--live-start'", "live_start 2030-01-01 is outside the run period 2022-11-01 to 2026-10-06"]),
    ("run-live-start-not-a-date", {}, ["run", "--live-start", "soon", "--out", "{dir}/out"], 2, ["field '--live-start'", "not a date: 'soon'"]),
    ("config-study-windows-empty", {"c.yaml": "study: {windows: []}\n"}, ["run", "--config", "{dir}/c.yaml", "--out", "{dir}/out"], 2,
     ["c.yaml, field 'study.windows': an empty list", "at least one entry"]),
    ("config-min-estimation-above-estimation", {"c.yaml": "study: {estimation: 50, min_estimation: 100}\n"},
     ["study", "--config", "{dir}/c.yaml", "--out", "{dir}/out"], 2, ["field 'study.min_estimation': min_estimation 100 is more than the estimation window of 50"]),
    ("config-benchmark-without-prices", {"c.yaml": "universe: {benchmark: ZZZQ}\n"}, ["run", "--config", "{dir}/c.yaml", "--out", "{dir}/out"], 2,
     ["c.yaml, field 'universe.benchmark': no price data for ticker ZZZQ"]),
    ("study-market-without-prices", {"c.yaml": "study: {market: ZZZQ}\n"}, ["study", "--config", "{dir}/c.yaml", "--out", "{dir}/out"], 2,
     ["c.yaml, field 'study.market': no price data for ticker ZZZQ"]),
    ("config-path-start-in-estimation", {"c.yaml": "study: {gap: 5, path_start: -10}\n"}, ["study", "--config", "{dir}/c.yaml", "--out", "{dir}/out"],
     2, ["field 'study.path_start'", "reaches into the estimation window", "an offset from -5 to 0"]),
    ("config-nan", {"c.yaml": "costs: {slippage_bps: .nan}\n"}, ["run", "--config", "{dir}/c.yaml", "--out", "{dir}/out"], 2,
     ["field 'costs.slippage_bps'", "expected a finite number of sensible size, got nan"]),
    ("config-inf-cash", {"c.yaml": "portfolio: {cash: .inf}\n"}, ["run", "--config", "{dir}/c.yaml", "--out", "{dir}/out"], 2,
     ["field 'portfolio.cash'", "finite number"]),
    ("config-empty-peers", {"c.yaml": "universe: {peers: []}\n"}, ["run", "--config", "{dir}/c.yaml", "--out", "{dir}/out"], 2,
     ["field 'universe.peers'", "the peer basket is empty"]),
    ("config-name-is-a-path", {"c.yaml": "name: ../../escape\n"}, ["run", "--config", "{dir}/c.yaml"], 2,
     ["field 'name'", "cannot name a run directory", "no '/' or '..'"]),
    # sweep specs
    ("spec-duplicate-key", {"s.yaml": "base: default\nparams: {costs.slippage_bps: [1, 2]}\nparams: {costs.commission_bps: [1]}\n"
                                       "search: grid\nmetric: sharpe\n"},
     ["sweep", "run", "{dir}/s.yaml", "--db", "{dir}/s.db"], 2, ["s.yaml", "'params' appears twice"]),
    ("spec-list", {"s.yaml": "- base\n- params\n"}, ["sweep", "run", "{dir}/s.yaml", "--db", "{dir}/s.db"], 2,
     ["s.yaml", "expected a mapping, got list", "base, params, search, metric"]),
    ("sweep-fast-on-dask", {"s.yaml": "base: default\nparams: {costs.slippage_bps: [1, 2]}\nsearch: grid\nmetric: sharpe\n"},
     ["sweep", "run", "{dir}/s.yaml", "--db", "{dir}/s.db", "--engine", "fast", "--backend", "dask"], 2, ["--backend", "fast engine"]),
]


@pytest.mark.parametrize("case,files,argv,code,needles", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused_clearly_and_leaves_nothing(tmp_path, capsys, monkeypatch, case, files, argv, code, needles):
    monkeypatch.chdir(tmp_path)  # default outputs (reports/...) would land here too, and the cache is here: all checked below
    for name, content in files.items():
        _write(tmp_path, name, content)
    before = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")}
    assert main([a.replace("{dir}", str(tmp_path)) for a in argv]) == code
    out, err = capsys.readouterr()
    text = " ".join((out + err).split())  # notes are wrapped to 100 columns: compare the words, not the line breaks
    assert "Traceback" not in text
    for n in needles:
        assert n in text, f"{case}: {n!r} not in {text!r}"
    assert {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")} == before, "something was written"


def test_a_utf16_config_is_read_like_a_utf16_event_file(tmp_path):
    """Windows editors save UTF-16 with a byte-order mark: the config reads the same as its UTF-8 twin."""
    from backtests.config import load_config

    text = "name: u16\ndates: {start: 2024-01-02, end: 2024-06-28}\ncosts: {slippage_bps: 3.5}\n"
    (tmp_path / "a.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "b.yaml").write_bytes(text.encode("utf-16"))
    assert load_config(tmp_path / "b.yaml") == load_config(tmp_path / "a.yaml")


@pytest.mark.parametrize("encoding,note", [("utf-16", "decoded as UTF-16"), ("cp1252", "line 2 decoded as Windows-1252 (byte 0xf6 read as 'ö')")])
def test_excel_encodings_are_read_and_said(tmp_path, capsys, encoding, note):
    """Excel writes UTF-16 ('Unicode text') or Windows-1252 ('CSV' on Windows): read, and the user is told how."""
    p = tmp_path / "ev.csv"
    p.write_bytes(GOOD.encode(encoding))
    assert main(["events", "validate", str(p)]) == 0
    out, err = capsys.readouterr()
    assert note in " ".join(err.split()) and "ok, 3 events" in out
    from events.loader import load_calendar

    cal = load_calendar([p], bundled=False, earnings=False)
    assert "OpenAI öffnet" in cal.frame["headline"].iloc[0] and len(cal.notes) == 1


def test_a_shipped_config_is_found_by_name_and_listed(capsys):
    from backtests.config import bundled_config, bundled_configs, load_config

    assert load_config("earnings_only") == load_config(bundled_config("earnings_only"))
    assert main(["configs"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in bundled_configs()) and "aibt run --config NAME" in out
    assert any(line.split()[:2] == ["pre_earnings_runup", "pre_earnings_runup"] for line in out.splitlines())
    assert max(len(line) for line in out.splitlines()) <= 100


@pytest.mark.parametrize("argv", [["events", "list"], ["signals", "show"], ["configs"], ["events", "list", "--category", "earnings"]])
def test_tables_fit_100_columns_and_come_whole_with_wide_or_csv(capsys, argv):
    import csv
    import io

    assert main(argv) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 100
    assert main([*argv, "--format", "csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) > 3 and len({len(r) for r in rows}) == 1  # a whole table: every row has every column
    if argv == ["events", "list"]:
        assert rows[0][-1] == "headline" and max(len(r[-1]) for r in rows[1:]) > 40  # headlines whole, not cut to fit
        assert main([*argv, "--wide"]) == 0
        assert max(len(line) for line in capsys.readouterr().out.splitlines()) > 100  # the headlines in full


# ---------------------------------------------------------------- faults while writing a run
def _nostats_config(folder: Path) -> Path:
    return _write(folder, "c.yaml", "dates: {start: 2024-01-02, end: 2024-12-31}\nevents: {earnings: false}\nstudy: {enabled: false}\n"
                                     "output: {tearsheet: false}\nplacebo: {n: 20}\n")


def test_disk_full_while_writing_a_run_says_so_and_leaves_nothing(tmp_path, capsys, monkeypatch):
    import errno

    import backtests.reports.rundir as rundir

    cfg = _nostats_config(tmp_path)
    real = rundir.write_csv

    def full(frame, path, *a, **k):
        if Path(path).name == "trades.csv":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(frame, path, *a, **k)

    monkeypatch.setattr(rundir, "write_csv", full)
    out = tmp_path / "runs" / "r1"
    assert main(["run", "--config", str(cfg), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "cannot be written: No space left on device (while writing trades.csv); nothing was written" in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists()  # the parent made for the run is gone too
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml"]


def test_ctrl_c_while_writing_a_run_stops_cleanly_and_keeps_the_previous_run(tmp_path, capsys, monkeypatch):
    import backtests.reports.rundir as rundir

    cfg = _nostats_config(tmp_path)
    out = tmp_path / "r1"
    assert main(["run", "--config", str(cfg), "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(rundir, "write_csv", interrupted)
    assert main(["run", "--config", str(cfg), "--out", str(out)]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before  # the earlier run is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml", "r1"]  # no half-written sibling


def test_bad_sweep_input_changes_nothing_in_an_existing_database(tmp_path, capsys):
    """A finished sweep's database is byte-for-byte the same after refused calls on it."""
    import hashlib

    good = _write(tmp_path, "s.yaml", "base: {dates: {start: 2024-01-02, end: 2024-06-28}, events: {earnings: false}, placebo: {n: 10}}\n"
                                      "params: {costs.slippage_bps: [1.0, 2.0]}\nsearch: grid\nmetric: sharpe\n")
    db = tmp_path / "s.db"
    assert main(["sweep", "run", str(good), "--db", str(db), "--engine", "fast", "--verify-top", "0", "--workers", "1"]) == 0

    def state():
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(tmp_path.glob("s.db*"))}

    before = state()
    bad_specs = {"dup.yaml": "base: default\nparams: {costs.slippage_bps: [1]}\nparams: {costs.slippage_bps: [2]}\nsearch: grid\nmetric: sharpe\n",
                 "list.yaml": "- base\n", "badparam.yaml": "base: default\nparams: {costs.slipage_bps: [1, 2]}\nsearch: grid\nmetric: sharpe\n",
                 "badmetric.yaml": "base: default\nparams: {costs.slippage_bps: [1]}\nsearch: grid\nmetric: profit\n"}
    for name, text in bad_specs.items():
        spec = _write(tmp_path, name, text)
        assert main(["sweep", "run", str(spec), "--db", str(db)]) == 2, name
    assert main(["sweep", "run", str(good), "--db", str(db), "--engine", "fast", "--backend", "dask"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "slipage_bps" in err and "profit" in err
    assert state() == before


def test_a_truncated_cache_file_is_set_aside_with_a_warning_and_the_bundled_data_used(isolated_cache, capsys):
    """A refresh killed mid-write elsewhere, or a disk that filled: the cache file for AMZN ends mid-row."""
    from backtests.market.marketdata import cache_price_path, load_prices

    bundled = (ROOT / "backtests" / "data" / "prices" / "AMZN.csv").read_text(encoding="utf-8")
    p = cache_price_path("AMZN")
    p.parent.mkdir(parents=True)
    p.write_text(bundled + "2026-10-07,219.1,221.0,218.")  # the last row cut short
    prices = load_prices(["AMZN"])
    assert prices["AMZN"].source == "bundled"
    assert any("cache file for AMZN rejected" in w and "line 2959" in w for w in prices.warnings), prices.warnings
    assert main(["data", "status"]) == 0
    assert "cache file for AMZN rejected" in " ".join(capsys.readouterr())


def test_every_problem_of_a_file_is_listed_in_line_order(tmp_path, capsys):
    bad = GOOD.replace("2022-11-30", "30/11/2022").replace(",unknown,false,MSFT", ",soon,false,MSFT").replace(",high\n", ",sure\n")
    p = _write(tmp_path, "ev.csv", bad)
    assert main(["events", "validate", str(p)]) == 2
    err = capsys.readouterr().err
    lines = [int(m) for m in __import__("re").findall(r"ev\.csv, line (\d+)", err)]
    assert len(lines) >= 3 and lines == sorted(lines), err
    assert "30/11/2022" in err and "soon" in err and "sure" in err


def test_an_odd_encoding_is_said_during_a_run_too(tmp_path, capsys):
    """The note reaches `aibt run` (through the per-process calendar memo), not only `events validate`."""
    ev = tmp_path / "ev.csv"
    ev.write_bytes(GOOD.encode("cp1252"))
    cfg = _write(tmp_path, "c.yaml", f"events: {{files: [{ev}], bundled: false, earnings: false}}\ndates: {{start: 2022-06-01}}\n"
                                     "placebo: {n: 10}\noutput: {tearsheet: false}\nstudy: {enabled: false}\n")
    assert main(["run", "-q", "--config", str(cfg), "--out", str(tmp_path / "r")]) == 0
    assert "warning: " in capsys.readouterr().err and "decoded as Windows-1252" in (tmp_path / "r" / "manifest.json").read_text()


def test_a_mixed_file_keeps_its_utf8_lines(tmp_path):
    from events.loader import load_calendar

    rows = GOOD.splitlines()
    data = ("\n".join(rows[:3]) + "\n").encode("utf-8") + (rows[3].replace("Nvidia", "Nvidia caf\xe9") + "\n").encode("cp1252")
    p = tmp_path / "ev.csv"
    p.write_bytes(data)
    cal = load_calendar([p], bundled=False, earnings=False)
    heads = " ".join(cal.frame["headline"])
    assert "OpenAI öffnet" in heads and "Nvidia café" in heads and "Ã" not in heads
    assert "line 4 decoded as Windows-1252" in cal.notes[0]


def test_sigterm_during_a_run_exits_143_and_leaves_nothing(tmp_path):
    """timeout(1), systemd and kill send SIGTERM: the run stops like on Ctrl-C, with no half directory or staging folder."""
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {**os.environ, "AIBT_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.Popen([sys.executable, "-m", "backtests.cli", "run", "--out", str(tmp_path / "r")], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in proc.stderr:  # the progress lines: wait until the run directory is being written (the tear sheet takes ~2 s)
        seen.append(line)
        if "writing the run directory" in line:
            break
    time.sleep(0.3)
    assert any((tmp_path / n).is_dir() for n in os.listdir(tmp_path) if n.startswith(".r.tmp-")), "the staging folder exists mid-write"
    proc.send_signal(signal.SIGTERM)
    out, rest = proc.communicate(timeout=60)
    err = "".join(seen) + rest
    assert proc.returncode == 143, err[-2000:]
    assert "terminated (SIGTERM)" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) in ([], ["cache"])  # no run directory, no hidden .r.tmp-PID


def test_lower_case_tickers_in_a_config_are_the_upper_case_ones(tmp_path):
    """Price files and event files name tickers in upper case; a config written in lower case means the same."""
    from backtests.config import resolve

    cfg = resolve({"universe": {"target": "amzn", "peers": ["msft", " googl"], "benchmark": "qqq", "market": "spy"},
                   "study": {"market": "spy"}, "events": {"tickers": ["amzn"], "companies": ["openai"]}})
    assert cfg["universe"] == {**cfg["universe"], "target": "AMZN", "peers": ["MSFT", "GOOGL"], "benchmark": "QQQ", "market": "SPY"}
    assert cfg["study"]["market"] == "SPY" and cfg["events"]["tickers"] == ["AMZN"] and cfg["events"]["companies"] == ["OPENAI"]
    with pytest.raises(InputError, match=r"field 'universe.peers': not a ticker: 'ms ft'"):
        resolve({"universe": {"peers": ["ms ft"]}})
    assert resolve({"study": {"enabled": False, "windows": []}})["study"]["windows"] == []  # no study: its windows do not matter
