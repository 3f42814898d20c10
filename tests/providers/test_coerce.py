"""The lenient coercers every parse.py uses (codexbard.providers.coerce), table-tested with nasty input."""

from __future__ import annotations

import math

import pytest

from codexbard.providers.coerce import INT64_MAX, INT64_MIN, flag, integral, number, percent, used_percent

NAN = float("nan")
INF = float("inf")


class Junk:
    """An object no reader should take."""


# (value, number(), number(strings=False))
NUMBER_CASES: list[tuple[object, float | None, float | None]] = [
    (0, 0.0, 0.0),
    (5, 5.0, 5.0),
    (-3, -3.0, -3.0),
    (2.5, 2.5, 2.5),
    (-0.0, -0.0, -0.0),
    (1e308, 1e308, 1e308),
    (2**1023, float(2**1023), float(2**1023)),
    # Overflow: an int or a string too large for a float is not a number, never OverflowError.
    (10**400, None, None),
    (-(10**400), None, None),
    ("1e400", None, None),
    ("-1e400", None, None),
    ("1e309", None, None),
    # Non-finite values.
    (NAN, None, None),
    (INF, None, None),
    (-INF, None, None),
    ("NaN", None, None),
    ("nan", None, None),
    ("inf", None, None),
    ("Infinity", None, None),
    ("-Infinity", None, None),
    # Bools are never numbers.
    (True, None, None),
    (False, None, None),
    # Numeric strings: plain ASCII decimals, surrounding whitespace allowed.
    ("3", 3.0, None),
    (" 4.5 ", 4.5, None),
    ("-2", -2.0, None),
    ("+7", 7.0, None),
    ("1e3", 1000.0, None),
    ("1E-2", 0.01, None),
    (".5", 0.5, None),
    ("5.", 5.0, None),
    ("2500", 2500.0, None),
    # Python-only spellings and other junk strings.
    ("", None, None),
    ("   ", None, None),
    ("1_000", None, None),
    ("0x10", None, None),
    ("1,5", None, None),
    ("12abc", None, None),
    ("lots", None, None),
    ("\u0661\u0662", None, None),  # Arabic-Indic digits: float() would take them
    ("１２", None, None),  # fullwidth digits
    ("- 1", None, None),
    ("1e", None, None),
    # Other types.
    (None, None, None),
    ([1], None, None),
    ({"n": 1}, None, None),
    (b"1", None, None),
    (Junk(), None, None),
]


@pytest.mark.parametrize(("value", "expected", "expected_no_strings"), NUMBER_CASES)
def test_number(value: object, expected: float | None, expected_no_strings: float | None) -> None:
    assert number(value) == expected
    assert number(value, strings=False) == expected_no_strings
    fallback = number(value, default=0.0)
    assert fallback == (0.0 if expected is None else expected)
    assert math.isfinite(fallback)


INTEGRAL_CASES: list[tuple[object, int | None]] = [
    (0, 0),
    (25, 25),
    (-4, -4),
    (25.0, 25),
    (-3.0, -3),
    (INT64_MAX, INT64_MAX),
    (INT64_MIN, INT64_MIN),
    (INT64_MAX + 1, None),
    (INT64_MIN - 1, None),
    (10**400, None),
    (1e300, None),  # integral as a float, but outside int64
    (25.5, None),
    (NAN, None),
    (INF, None),
    (True, None),
    (False, None),
    ("25", None),
    (None, None),
    ([25], None),
]


@pytest.mark.parametrize(("value", "expected"), INTEGRAL_CASES)
def test_integral(value: object, expected: int | None) -> None:
    result = integral(value)
    assert result == expected
    assert result is None or type(result) is int


FLAG_CASES: list[tuple[object, bool]] = [
    (True, True),
    (False, False),
    (None, False),
    (1, True),
    (1.0, True),
    (0, False),
    (2, False),
    (NAN, False),
    ("true", True),
    ("TRUE", True),
    (" yes ", True),
    ("1", True),
    ("false", False),
    ("no", False),
    ("0", False),
    ("", False),
    ("y", False),
    ({}, False),
    ([True], False),
]


@pytest.mark.parametrize(("value", "expected"), FLAG_CASES)
def test_flag(value: object, expected: bool) -> None:
    assert flag(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(50.0, 50.0), (0.0, 0.0), (100.0, 100.0), (-5.0, 0.0), (250.0, 100.0), (NAN, 0.0), (INF, 100.0),
     (-INF, 0.0), (1e-300, 1e-300)],
)
def test_percent(value: float, expected: float) -> None:
    assert percent(value) == expected


@pytest.mark.parametrize(
    ("used", "limit", "expected"),
    [
        (25, 100, 25.0),
        (1.5, 6, 25.0),
        (0, 100, 0.0),
        (150, 100, 100.0),
        (-10, 100, 0.0),
        (1e308, 1e-308, 100.0),  # the quotient overflows to inf: clamped, not an error
        (10**400, 100, None),
        (1, 10**400, None),
        (5, 0, None),
        (5, -1, None),
        (None, 100, None),
        (5, None, None),
        (True, 100, None),
        ("5", 100, None),
        (NAN, 100, None),
        (5, INF, None),
    ],
)
def test_used_percent(used: object, limit: object, expected: float | None) -> None:
    assert used_percent(used, limit) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Claude Opus 4", "claude-opus-4"), ("  GPT-5.2 (codex)  ", "gpt-5-2-codex"), ("--", ""),
    ("Ünïcode Ok", "ünïcode-ok"),
])
def test_slug(text: str, expected: str) -> None:
    from codexbard.providers.coerce import slug

    assert slug(text) == expected
