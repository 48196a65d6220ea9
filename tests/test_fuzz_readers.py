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


def _loads_or_input_error(fn, *args, **kwargs) -> None:
    try:
        fn(*args, **kwargs)
    except InputError as exc:
        assert str(exc).strip(), "an input error must say what is wrong"


@FUZZ
@given(data=st.one_of(st.binary(max_size=2000), corrupted(EVENTS)))
def test_event_table_reader(data):
    _loads_or_input_error(read_table, data, EVENT_COLUMNS, name="fuzz.csv")


@FUZZ
@given(data=st.one_of(st.binary(max_size=1000), corrupted(EVENTS)))
def test_event_calendar_loader(tmp_path_factory, data):
    p = tmp_path_factory.mktemp("ev") / "events.csv"
    p.write_bytes(data)
    _loads_or_input_error(load_calendar, [p], bundled=False, earnings=False)


@FUZZ
@given(data=st.one_of(st.binary(max_size=2000), corrupted(PRICES)))
def test_price_reader(data):
    _loads_or_input_error(parse_prices, data, ticker="AMZN", origin="file", name="fuzz.csv")


@FUZZ
@given(data=st.one_of(st.binary(max_size=1000), corrupted(CONFIG)))
def test_run_config_reader(tmp_path_factory, data):
    p = tmp_path_factory.mktemp("cfg") / "config.yaml"
    p.write_bytes(data)
    _loads_or_input_error(load_config, p)


@FUZZ
@given(data=st.one_of(st.binary(max_size=1000), corrupted(SPEC)))
def test_sweep_spec_reader(tmp_path_factory, data):
    from backtests.sweeps.spec import load_spec

    p = tmp_path_factory.mktemp("spec") / "spec.yaml"
    p.write_bytes(data)
    _loads_or_input_error(load_spec, p, check=False)


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
