"""Property-based fuzzing of the readers of user files (issue 12): whatever bytes a user hands aibt, an event file, a
price file, a run config or a sweep spec either loads or raises aibt's own InputError; nothing else escapes. Bytes
are drawn at random and also made by corrupting real bundled files (flipped, dropped and inserted bytes), which
reaches deeper into the parsers than noise does."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backtests.config import load_config
from backtests.market.prices import parse_prices
from events.errors import InputError
from events.loader import load_calendar
from events.tabular import read_table
from events.schema import EVENT_COLUMNS

ROOT = Path(__file__).resolve().parent.parent
EVENTS = (ROOT / "events" / "data" / "ai_infra_events.csv").read_bytes()[:3000]
PRICES = (ROOT / "backtests" / "data" / "prices" / "AMZN.csv").read_bytes()[:3000]
CONFIG = (ROOT / "backtests" / "configs" / "default.yaml").read_bytes()
SPEC = (ROOT / "backtests" / "sweeps" / "smoke.yaml").read_bytes()
EARNINGS = (ROOT / "events" / "data" / "earnings_dates.csv").read_bytes()[:3000]

FUZZ = settings(max_examples=int(__import__("os").environ.get("AIBT_FUZZ_EXAMPLES", "300")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@st.composite
def corrupted(draw, original: bytes):
    """``original`` with a few random edits: replaced, deleted or inserted bytes (or a truncation)."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["replace", "delete", "insert", "truncate"]))
        b = draw(st.binary(min_size=1, max_size=4))
        if op == "replace":
            data[i:i + len(b)] = b
        elif op == "delete":
            del data[i:i + len(b)]
        elif op == "insert":
            data[i:i] = b
        else:
            del data[i:]
    return bytes(data)


@st.composite
def line_mutated(draw, original: bytes):
    """``original`` with whole-line edits a person makes in a spreadsheet or editor: a line duplicated, dropped,
    blanked or swapped with another, a year's digits changed, a field emptied or given random text."""
    lines = original.split(b"\n")
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["duplicate", "drop", "blank", "swap", "year", "field"]))
        if op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "drop":
            del lines[i]
        elif op == "blank":
            lines.insert(i, draw(st.sampled_from([b"", b" ", b",,,", b"\r"])))
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "year":
            import re

            year = draw(st.integers(0, 9999))
            lines[i] = re.sub(rb"\b(19|20)\d\d\b", f"{year:04d}".encode(), lines[i], count=1)
        else:
            cells = lines[i].split(b",")
            k = draw(st.integers(0, len(cells) - 1))
            cells[k] = draw(st.one_of(st.just(b""), st.binary(max_size=12), st.text(max_size=12).map(str.encode)))
            lines[i] = b",".join(cells)
    return b"\n".join(lines)


def _loads_or_input_error(fn, *args, **kwargs) -> None:
    try:
        fn(*args, **kwargs)
    except InputError as exc:
        assert str(exc).strip(), "an input error must say what is wrong"


@FUZZ
@given(data=st.one_of(st.binary(max_size=2000), corrupted(EVENTS), line_mutated(EVENTS)))
def test_event_table_reader(data):
    _loads_or_input_error(read_table, data, EVENT_COLUMNS, name="fuzz.csv")


@FUZZ
@given(data=st.one_of(st.binary(max_size=1000), corrupted(EVENTS), line_mutated(EVENTS)))
def test_event_calendar_loader(tmp_path_factory, data):
    p = tmp_path_factory.mktemp("ev") / "events.csv"
    p.write_bytes(data)
    _loads_or_input_error(load_calendar, [p], bundled=False, earnings=False)


@FUZZ
@given(data=st.one_of(st.binary(max_size=2000), corrupted(PRICES), line_mutated(PRICES)))
def test_price_reader(data):
    _loads_or_input_error(parse_prices, data, ticker="AMZN", origin="file", name="fuzz.csv")


@FUZZ
@given(data=st.one_of(st.binary(max_size=1000), corrupted(CONFIG), line_mutated(CONFIG)))
def test_run_config_reader(tmp_path_factory, data):
    p = tmp_path_factory.mktemp("cfg") / "config.yaml"
    p.write_bytes(data)
    _loads_or_input_error(load_config, p)


@FUZZ
@given(data=st.one_of(st.binary(max_size=1000), corrupted(SPEC), line_mutated(SPEC)))
def test_sweep_spec_reader(tmp_path_factory, data):
    """Read and checked in full (every combination resolved to a run config, as 'aibt sweep' does before running)."""
    from backtests.sweeps.spec import load_spec

    p = tmp_path_factory.mktemp("spec") / "spec.yaml"
    # the base path as the spec names it, so a corrupted spec still reaches the check of its combinations
    p.write_bytes(data.replace(b"../configs/default.yaml", str(ROOT / "backtests" / "configs" / "default.yaml").encode()))
    _loads_or_input_error(load_spec, p, check=True)


@FUZZ
@given(data=st.one_of(corrupted(EARNINGS), line_mutated(EARNINGS)))
def test_user_earnings_file_loader(tmp_path_factory, data):
    """A user file in the earnings calendar's shape (recognised by its header), loaded as 'aibt events validate' does."""
    p = tmp_path_factory.mktemp("earn") / "earnings.csv"
    p.write_bytes(data)
    _loads_or_input_error(load_calendar, [p], bundled=False, earnings=False)


WORDS = st.sampled_from(["--since", "--category", "--ticker", "--file", "--format", "--half", "--signal", "--tickers", "--all", "--wide",
                         "--no-earnings", "csv", "json", "table", "earnings", "AMZN", "2024-01-01", "0", "-1", "99", "", " ", "x" * 300,
                         "\x00", "2024-13-45", "é", "--", "-h"])
COMMANDS = st.sampled_from([["events", "list"], ["events", "check"], ["events", "validate"], ["signals", "show"], ["configs"],
                            ["data", "status"], ["data", "check"], ["sweep", "status"], ["tearsheet"]])


@settings(max_examples=int(__import__("os").environ.get("AIBT_FUZZ_EXAMPLES", "80")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(command=COMMANDS, args=st.lists(st.one_of(WORDS, st.text(max_size=8)), max_size=5))
def test_cli_arguments(capsys, command, args):
    """Whatever arguments follow a command: exit 0 or 2 (usage errors included), never a traceback (exit 1)."""
    from backtests.cli import main

    code = main([*command, *args])
    out, err = capsys.readouterr()
    assert code in (0, 2), (command, args, err[-2000:])
    assert "Traceback" not in err


@pytest.mark.parametrize("data", [b"\xff\xfe\x00", b"\xfe\xff", b"a,b\n\x00", b"event_id\n" + b"\xe9" * 3, b"\r\r\r", b'"'])
def test_hand_picked_edge_bytes(data):
    _loads_or_input_error(read_table, data, EVENT_COLUMNS, name="edge.csv")


FUND = (ROOT / "signals" / "data" / "amzn_quarterly.csv").read_bytes()


@settings(max_examples=int(__import__("os").environ.get("AIBT_FUZZ_EXAMPLES", "60")), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=corrupted(FUND))
def test_fundamentals_reader(tmp_path_factory, data):
    """A corrupted quarterly fundamentals file (read with the bundled peers and availability rules)."""
    from signals.fundamentals import load_fundamentals

    p = tmp_path_factory.mktemp("fund") / "amzn_quarterly.csv"
    p.write_bytes(data)
    _loads_or_input_error(load_fundamentals, amzn_path=p)
