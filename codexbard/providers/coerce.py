"""Lenient readers of JSON values for `parse.py` files: one set of rules for every provider.

The rules, the same everywhere:
- a bool is never a number (`true` is not 1), and `flag` is the only reader that takes one;
- a numeric string is a plain ASCII decimal (`12`, ` -3.5 `, `1e3`) when `strings=True`; Python-only
  spellings (`1_000`, `nan`, `inf`, other scripts' digits) are not numbers;
- a value that does not fit a finite float (`10**400`, `"1e400"`, NaN, infinities) is not a number:
  readers answer None (or the default), they never raise `OverflowError` or `ValueError`;
- `integral` also refuses integers outside the signed 64-bit range, as the typed decoders of the
  upstreams do, so later arithmetic on the result cannot overflow a float.
"""

from __future__ import annotations

import math
import re
from typing import Final, overload

_DECIMAL: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_TRUE_STRINGS: Final = frozenset({"true", "1", "yes"})
INT64_MAX: Final = 2**63 - 1
INT64_MIN: Final = -(2**63)


def _finite(value: object, strings: bool) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        try:
            number = float(value)
        except OverflowError:
            return None
    elif isinstance(value, float):
        number = value
    elif strings and isinstance(value, str):
        text = value.strip()
        if not _DECIMAL.fullmatch(text):
            return None
        number = float(text)  # "1e400" gives inf, refused below
    else:
        return None
    return number if math.isfinite(number) else None


@overload
def number(value: object, *, strings: bool = True, default: None = None) -> float | None: ...


@overload
def number(value: object, *, strings: bool = True, default: float) -> float: ...


def number(value: object, *, strings: bool = True, default: float | None = None) -> float | None:
    """A finite float from an int, a float or (with `strings`) a numeric string; else `default`."""
    result = _finite(value, strings)
    return default if result is None else result


def integral(value: object) -> int | None:
    """An int from an integral JSON number (`25`, `25.0`) within int64; never a bool or a string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        result = value
    elif isinstance(value, float) and value.is_integer():
        result = int(value)
    else:
        return None
    return result if INT64_MIN <= result <= INT64_MAX else None


def flag(value: object) -> bool:
    """True for `true`, the number 1, or the strings "true"/"1"/"yes" (any case); anything else is False."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value == 1
    if isinstance(value, str):
        return value.strip().lower() in _TRUE_STRINGS
    return False


def percent(value: float) -> float:
    """Clamp a percentage to 0..100; NaN is 0, +inf is 100."""
    if math.isnan(value):
        return 0.0
    return min(100.0, max(0.0, value))


def used_percent(used: object, limit: object) -> float | None:
    """`used / limit` in percent, clamped to 0..100; None when either is not a number or limit <= 0."""
    used_value = number(used, strings=False)
    limit_value = number(limit, strings=False)
    if used_value is None or limit_value is None or limit_value <= 0:
        return None
    return percent(used_value * 100.0 / limit_value)


def slug(text: str) -> str:
    """Lower-case, every run of non-alphanumerics turned into one `-`, trimmed of `-` (the reference's slug)."""
    out: list[str] = []
    dash = False
    for char in text.lower():
        if char.isalnum():
            out.append(char)
            dash = False
        elif not dash:
            out.append("-")
            dash = True
    return "".join(out).strip("-")
