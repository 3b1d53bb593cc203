"""Runtime: the values and helpers that compiled policy code calls while evaluating a record.

Everything here is exact: Decimal arithmetic in a declared context, calendar arithmetic on dates,
and a money split that conserves every fen. Nothing here reads the clock, files or the network.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from decimal import (ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP,
                     Context, Decimal, DivisionByZero, InvalidOperation)
from typing import Any, Iterable, Mapping

import attrs

# All arithmetic runs in this context, never in whatever context the caller has set, so results
# do not depend on the caller's decimal settings. 28 significant digits with half-even rounding
# (Python's own defaults, declared here) are far beyond any yuan amount; because they equal the
# defaults, code called from a caller with default settings needs no context switch (compiler.py).
DECIMAL_CONTEXT = Context(prec=28, rounding=ROUND_HALF_EVEN, traps=[DivisionByZero, InvalidOperation])
FEN = Decimal("0.01")
ROUNDING_MODES = {"half_up": ROUND_HALF_UP, "half_even": ROUND_HALF_EVEN, "down": ROUND_DOWN,
                  "up": ROUND_UP, "ceiling": ROUND_CEILING, "floor": ROUND_FLOOR}


class Absent(Exception):
    """Data the rule needs is legitimately absent: the finding becomes not_applicable."""

    def __init__(self, what: str):
        super().__init__(what)
        self.what = what


class EvaluationError(Exception):
    """A record made an expression fail (division by zero …): reported, never turned into a value.
    `code`: its EV code (diagnostics.EVALUATION_ERRORS)."""

    def __init__(self, message: str, code: str = "EV100"):
        super().__init__(message)
        self.code = code


@attrs.frozen
class Duration:
    months: int = 0
    days: int = 0

    def __str__(self) -> str:
        if self.days:
            return f"{self.days} days"
        if self.months % 12 == 0:
            return f"{self.months // 12} years"
        return f"{self.months} months"


@attrs.frozen(order=True)
class Period:
    """A calendar year, school year (Sep 1 – Aug 31) or semester (autumn Sep–Jan, spring Feb–Aug)."""

    start: dt.date
    end: dt.date  # last day, inclusive
    kind: str = attrs.field(order=False)
    year: int = attrs.field(order=False)  # the start year
    label: str = attrs.field(order=False)

    def __contains__(self, day: dt.date) -> bool:
        return self.start <= day <= self.end

    def __str__(self) -> str:
        return self.label

    @property
    def previous(self) -> "Period":
        return period_of(self.kind, self.start - dt.timedelta(days=1))

    @property
    def next(self) -> "Period":
        return period_of(self.kind, self.end + dt.timedelta(days=1))


def calendar_year(day: dt.date) -> Period:
    y = day.year
    return Period(dt.date(y, 1, 1), dt.date(y, 12, 31), "calendar_year", y, str(y))


def school_year(day: dt.date) -> Period:
    y = day.year if day.month >= 9 else day.year - 1
    return Period(dt.date(y, 9, 1), dt.date(y + 1, 8, 31), "school_year", y, f"{y}-{y + 1}")


def semester(day: dt.date) -> Period:
    sy = school_year(day).year
    if day.month >= 9 or day.month == 1:
        return Period(dt.date(sy, 9, 1), dt.date(sy + 1, 1, 31), "semester", sy, f"{sy}-{sy + 1}-1")
    return Period(dt.date(sy + 1, 2, 1), dt.date(sy + 1, 8, 31), "semester", sy, f"{sy}-{sy + 1}-2")


PERIOD_KINDS = {"calendar_year": calendar_year, "school_year": school_year, "semester": semester}


def period_of(kind: str, day: dt.date) -> Period:
    return PERIOD_KINDS[kind](day)


def periods_between(kind: str, first: dt.date, last: dt.date) -> list[Period]:
    """Every period of a kind that meets [first, last], in order."""
    result: list[Period] = []
    current = period_of(kind, first)
    while current.start <= last:
        result.append(current)
        current = current.next
    return result


def add_duration(day: dt.date, duration: Duration, sign: int = 1) -> dt.date:
    """Calendar arithmetic: months first (clamped to the month's end), then days."""
    months = day.year * 12 + day.month - 1 + sign * duration.months
    year, month = divmod(months, 12)
    month += 1
    last = calendar.monthrange(year, month)[1]
    moved = dt.date(year, month, min(day.day, last))
    return moved + dt.timedelta(days=sign * duration.days)


def years_between(start: dt.date, end: dt.date) -> int:
    """Full years from start to end (满N年): the largest n with start + n years <= end. The anniversary
    of 29 Feb in a common year is 28 Feb, as in `add_duration` (《民法典》第二百零三条: 没有对应日的，
    月末日为期间的最后一日)."""
    years = end.year - start.year
    if add_duration(start, Duration(months=12 * years)) > end:
        years -= 1
    return years


def months_between(start: dt.date, end: dt.date) -> int:
    months = (end.year - start.year) * 12 + end.month - start.month
    if end.day < start.day and add_duration(start, Duration(months=months)) > end:
        months -= 1
    return months


def days_between(start: dt.date, end: dt.date) -> int:
    return (end - start).days


def overlaps(start: dt.date, end: dt.date | None, period: Period) -> bool:
    return start <= period.end and (end is None or end >= period.start)


def divide(a: Any, b: Any) -> Decimal:
    if b == 0:
        raise EvaluationError(f"division by zero ({a} / 0)", "EV101")
    return DECIMAL_CONTEXT.divide(Decimal(a), Decimal(b))


def round_to(x: Any, digits: Any, mode: str) -> Decimal:
    return Decimal(x).quantize(Decimal(1).scaleb(-int(digits)), rounding=ROUNDING_MODES[mode],
                               context=DECIMAL_CONTEXT)


def ceil(x: Any) -> int:
    return math.ceil(x)  # exact for int and Decimal, in no decimal context


def floor(x: Any) -> int:
    return math.floor(x)


def allocate(total: Decimal, weights: Mapping[str, Any]) -> dict[str, Decimal]:
    """Split `total` in proportion to `weights`, to the fen, conserving the total exactly.

    Each part is first rounded down to the fen (towards zero); the fen left over go one each to the
    largest remainders, ties to the smaller key. Negative totals are split as -(split of |total|).
    """
    keys = sorted(weights)
    weight_sum = sum((Decimal(weights[k]) for k in keys), Decimal(0))
    if not keys:
        raise Absent("allocate: no weights")
    if weight_sum <= 0:
        raise EvaluationError("allocate: the weights sum to zero or less", "EV109")
    sign = -1 if total < 0 else 1
    cents = int((abs(Decimal(total)) / FEN).to_integral_value(rounding=ROUND_HALF_UP))
    exact = {k: DECIMAL_CONTEXT.divide(Decimal(weights[k]) * cents, weight_sum) for k in keys}
    parts = {k: int(exact[k]) for k in keys}
    left = cents - sum(parts.values())
    by_remainder = sorted(keys, key=lambda k: (-(exact[k] - parts[k]), k))
    for k in by_remainder[:left]:
        parts[k] += 1
    return {k: sign * parts[k] * FEN for k in keys}


def require_present(value: Any, what: str) -> Any:
    if value is None:
        raise Absent(what)
    return value


def lookup(mapping: Mapping, key: Any, what: str) -> Any:
    try:
        return mapping[key]
    except KeyError:
        raise Absent(f"{what}[{key}]") from None


def first(items: Iterable[Any], what: str) -> Any:
    for item in items:
        return item
    raise Absent(what)


def minimum(items: Iterable[Any], what: str) -> Any:
    values = list(items)
    if not values:
        raise Absent(what)
    return min(values)


def maximum(items: Iterable[Any], what: str) -> Any:
    values = list(items)
    if not values:
        raise Absent(what)
    return max(values)


def distinct(items: Iterable[Any]) -> tuple:
    seen: dict = {}
    for item in items:
        seen.setdefault(item if not isinstance(item, list) else tuple(item), item)
    return tuple(seen.values())
