"""The array syntax parser (`tasks.batch.array_spec`): Slurm's examples, the limits, the errors,
and properties over generated specs (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tasks.batch.array_spec import MAX_ELEMENTS, ArraySpecError, parse


@pytest.mark.parametrize(("text", "indices", "throttle"), [
    ("0-3", (0, 1, 2, 3), None),
    ("0-9:3", (0, 3, 6, 9), None),
    ("1,3,7", (1, 3, 7), None),
    ("7", (7,), None),
    ("0-2,10-12", (0, 1, 2, 10, 11, 12), None),
    ("0-3%2", (0, 1, 2, 3), 2),
    ("5,1,5,3", (1, 3, 5), None),
    ("0-9999", tuple(range(10_000)), None),
    ("0-999%5", tuple(range(1000)), 5),
])
def test_valid_specs(text, indices, throttle):
    spec = parse(text)
    assert (spec.indices, spec.throttle, spec.size) == (indices, throttle, len(indices))


@pytest.mark.parametrize("text", [
    "", "%5", "0-9%0", "0-9%", "0-9%x", "0-9%-1", "a", "1-", "-1", "3-1", "0-9:0", "0-9:", "1,,2", "1, 2",
    "0-10000", "0-99999999999", "1.5", "0x10", "0-9%2%3", "٣", " 1", "1-2-3", "0-9:2:3",
])
def test_invalid_specs_raise_with_a_message(text):
    with pytest.raises(ArraySpecError) as error:
        parse(text)
    assert str(error.value)


def test_ten_thousand_and_one_elements_are_refused():
    with pytest.raises(ArraySpecError, match="10001 elements; at most 10000"):
        parse("0-9999,20000")


def test_not_a_string_is_refused():
    with pytest.raises(ArraySpecError):
        parse(7)  # type: ignore[arg-type]


spans = st.tuples(st.integers(0, 3000), st.integers(0, 300), st.integers(1, 50))


@given(st.lists(spans, min_size=1, max_size=6), st.one_of(st.none(), st.integers(1, 100)))
def test_any_list_of_ranges_gives_their_union_in_order(items, throttle):
    text = ",".join(f"{start}-{start + length}:{step}" for start, length, step in items)
    expected = sorted({i for start, length, step in items for i in range(start, start + length + 1, step)})
    text += f"%{throttle}" if throttle else ""
    if len(expected) > MAX_ELEMENTS:
        with pytest.raises(ArraySpecError):
            parse(text)
        return
    spec = parse(text)
    assert list(spec.indices) == expected and spec.throttle == throttle


@given(st.text(max_size=30))
def test_any_text_parses_or_raises_the_one_error(text):
    try:
        spec = parse(text)
    except ArraySpecError:
        return
    assert 1 <= spec.size <= MAX_ELEMENTS and list(spec.indices) == sorted(set(spec.indices))
