"""Property-based tests of the resource and id parsers in `scheduler_site.formats`: exact for any
text or number (nothing rounded, nothing underflowing to 0), never an exception other than their
own, and ids of any length answered."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from scheduler_site.formats import MAX_CORES, MAX_ID, QuantityError, parse_cores, parse_id, parse_int

MAX_MILLICORES = MAX_CORES * 1000


def expected_code(value: Fraction) -> str | int:
    """What `parse_cores` must answer for this exact value: millicores, or the error's code."""
    if value <= 0:
        return "positive"
    millicores = value * 1000
    if millicores < 1:
        return "minimum"
    if millicores.denominator != 1:
        return "precision"
    if millicores > MAX_MILLICORES:
        return "max"
    return int(millicores)


def answer(raw) -> str | int:
    try:
        return parse_cores(raw)
    except QuantityError as error:
        return error.code


@given(st.integers(min_value=1, max_value=MAX_MILLICORES), st.integers(min_value=0, max_value=40),
       st.integers(min_value=-30, max_value=30))
def test_every_millicore_count_written_any_way_reads_back_exactly(millicores, zeros, shift):
    # m millicores as (m * 10**shift) * 10**(-3 - shift), with trailing zeros in the fraction.
    plain = f"{Decimal(millicores) / 1000:f}"
    assert parse_cores(plain) == millicores
    assert parse_cores(plain + ("0" * zeros if "." in plain else "." + "0" * zeros)) == millicores
    exponent = -3 - shift
    if shift >= 0:
        text = f"{millicores * 10**shift}e{exponent}"
    else:  # shift the digits right: 1234 millicores = 0.1234e1 for shift -1 would be 1.234e0 etc.
        text = f"{Decimal(millicores).scaleb(shift):f}e{exponent}"
    assert parse_cores(text) == millicores
    assert parse_cores(text.upper()) == millicores


@given(st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(
    lambda d: -60 < d.as_tuple().exponent < 60))
@example(Decimal("1.0000000000000000000000000001"))
@example(Decimal("1E-999"))
@example(Decimal("0.001"))
@example(Decimal("0.0009999999999999999999999999999"))
@example(Decimal("1024.000"))
@example(Decimal("1024.001"))
def test_any_decimal_is_read_exactly_as_text_and_as_a_decimal(value):
    want = expected_code(Fraction(value))
    assert answer(str(value)) == want
    assert answer(format(value, "f")) == want
    assert answer(value) == want


@given(st.integers())
@example(10**5000)
def test_any_integer_is_read_exactly(value):
    assert answer(value) == expected_code(Fraction(value))


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_float_is_read_as_it_prints(value):
    assert answer(value) == answer(repr(value))


@given(st.text())
@example("1e-999999999")
@example("1e999999999")
@example("1e-" + "9" * 5000)
@example("0e" + "9" * 5000)
@example("1" * 5000)
@example("." + "0" * 5000 + "1")
@example("\u0661")  # ARABIC-INDIC DIGIT ONE
@example("1_0")
@example("NaN")
@example("-Infinity")
@example("")
@example(".")
@example("e5")
def test_any_text_is_a_count_of_millicores_or_a_quantity_error(text):
    result = answer(text)
    assert result in ("invalid", "positive", "minimum", "precision", "max") or 1 <= result <= MAX_MILLICORES


@pytest.mark.parametrize(("raw", "code"), [
    ("1e-999999999", "minimum"), ("0.0001", "minimum"), ("1.0000000000000000000000000001", "precision"),
    ("1.0005", "precision"), ("1e999999999", "max"), ("1025", "max"), ("0", "positive"), ("-0.5", "positive"),
    ("0e999999999", "positive"), ("NaN", "invalid"), ("Infinity", "invalid"), (True, "invalid"), (None, "invalid"),
    (float("inf"), "invalid"), (Decimal("NaN"), "invalid"), ([1], "invalid"),
])
def test_the_edges_named(raw, code):
    assert answer(raw) == code


@pytest.mark.parametrize(("raw", "millicores"), [
    ("0.25", 250), ("1", 1000), (" 2 ", 2000), ("+1.5", 1500), ("1e-3", 1), ("1.024e3", MAX_MILLICORES),
    (".5", 500), ("5.", 5000), (0.1, 100), (3, 3000), (Decimal("0.125"), 125), ("0000000.0010000000", 1),
])
def test_good_values(raw, millicores):
    assert parse_cores(raw) == millicores


@given(st.text())
@example("9" * 5000)
@example("0" * 5000)
@example("0" * 5000 + "7")
@example("-" + "9" * 5000)
def test_parse_id_answers_any_text(text):
    result = parse_id(text)
    assert result is None or 1 <= result <= MAX_ID
    if result is not None:
        assert text.isascii() and text.isdigit() and int(text.lstrip("0")) == result


@given(st.integers(min_value=-(2**70), max_value=2**70), st.integers(min_value=0, max_value=10))
def test_parse_int_is_int_within_bounds(value, zeros):
    text = ("-" if value < 0 else "") + "0" * zeros + str(abs(value))
    got = parse_int(text, minimum=-(2**63), maximum=2**63 - 1)
    assert got == (value if -(2**63) <= value <= 2**63 - 1 else None)
