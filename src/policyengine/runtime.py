"""Runtime: the values and helpers that compiled policy code calls while evaluating a record.

Everything here is exact: Decimal arithmetic in a declared context, calendar arithmetic on dates,
and a money split that conserves every fen. Nothing here reads the clock, files or the network.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from decimal import (MAX_EMAX, MAX_PREC, MIN_EMIN, ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_EVEN,
                     ROUND_HALF_UP, ROUND_UP, Context, Decimal, DivisionByZero, InvalidOperation, Overflow,
                     Subnormal, Underflow)
from typing import Any, Callable, Iterable, Mapping

import attrs

# All arithmetic runs in this context, never in whatever context the caller has set, so results
# do not depend on the caller's decimal settings (compiler.py switches to it in compile_expression's
# functions, the evaluator for a whole evaluation). 28 significant digits with half-even rounding are
# far beyond any yuan amount. Exact or error: a result too large (Overflow, never "Infinity"), too
# small to be represented (Underflow, Subnormal: never a silent 0) or undefined (InvalidOperation)
# raises, and the finding is an `error`; Inexact is not trapped, because 1 / 3 must round.
DECIMAL_CONTEXT = Context(prec=28, rounding=ROUND_HALF_EVEN, Emax=999999, Emin=-999999, capitals=1, clamp=0,
                          flags=[], traps=[DivisionByZero, InvalidOperation, Overflow, Underflow, Subnormal])
# Money arithmetic is exact: + - × by a number, negation, abs and sums of money never round (a total of
# 30 significant digits stays exact), with the same exponent limits and traps. Only division rounds
# (money / number: 28 significant digits, and an error when those do not reach the fen).
MONEY_CONTEXT = Context(prec=MAX_PREC, rounding=ROUND_HALF_EVEN, Emax=999999, Emin=-999999, capitals=1, clamp=0,
                        flags=[], traps=[DivisionByZero, InvalidOperation, Overflow, Underflow, Subnormal])
# For exact operations on numbers of any size (allocate's parts): no rounding can happen in it.
_UNBOUNDED = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN, traps=[InvalidOperation])
money_add = MONEY_CONTEXT.add
money_sub = MONEY_CONTEXT.subtract
money_mul = MONEY_CONTEXT.multiply
money_neg = MONEY_CONTEXT.minus
money_abs = MONEY_CONTEXT.abs
_ZERO_YUAN = Decimal(0)


def money_sum(amounts: Iterable[Any]) -> Decimal:
    """The exact sum of amounts (0 when there are none)."""
    total = _ZERO_YUAN
    for amount in amounts:
        total = money_add(total, amount)
    return total


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


class Budget:
    """What the finding being judged may still spend (evaluator.judge resets it per finding;
    compile_expression's functions per call): loop trips, and the size of integers."""

    __slots__ = ("left", "trips", "integer_bound", "length")

    def __init__(self, trips: int = 20_000_000, integer_digits: int = 60, length: int = 1_000_000):
        self.start(trips, integer_digits, length)

    def start(self, trips: int, integer_digits: int, length: int = 1_000_000) -> None:
        self.trips = trips
        self.left = trips
        self.integer_bound = _POWERS.get(integer_digits) or _POWERS.setdefault(integer_digits, 10 ** integer_digits)
        self.length = length


_POWERS: dict[int, int] = {}


BUDGET = Budget()


def trips(items: Any) -> Any:
    """`items`, about to be iterated by a comprehension: each element is a trip of the budget
    (counted up front, so a loop costs one subtraction, not one per element)."""
    try:
        count = len(items)
    except TypeError:
        items = tuple(items)
        count = len(items)
    BUDGET.left -= count
    if BUDGET.left < 0:
        raise EvaluationError(f"循环次数超过 {BUDGET.trips}（max_loop_trips）/ "
                              f"more than {BUDGET.trips} loop trips (max_loop_trips)", "EV105")
    return items


def built(size: int) -> None:
    """A text or list of `size` items is about to be built: each item is a trip of the budget (so
    that doubling through definitions cannot fill the memory), and no value is longer than
    max_value_length."""
    if size > BUDGET.length:
        raise EvaluationError(f"构造的文本或列表有 {size} 项，超过上限 {BUDGET.length}（max_value_length）/ "
                              f"a text or list of {size} items, over the limit of {BUDGET.length} (max_value_length)",
                              "EV111")
    BUDGET.left -= size
    if BUDGET.left < 0:
        raise EvaluationError(f"循环次数超过 {BUDGET.trips}（max_loop_trips）/ "
                              f"more than {BUDGET.trips} loop trips (max_loop_trips)", "EV105")


def plus(a: Any, b: Any) -> Any:
    """`a + b` of two texts or two lists (as tuples), bounded."""
    built(len(a) + len(b))
    return a + b if isinstance(a, str) else tuple(a) + tuple(b)


def join(texts: Any) -> str:
    built(sum(len(text) for text in texts))
    return "".join(texts)


def flatten(lists: Any) -> tuple:
    built(sum(len(items) for items in lists))
    return tuple(item for items in lists for item in items)


def replace(text: str, old: str, new: str) -> str:
    built(len(text) + (text.count(old) * (len(new) - len(old)) if old else (len(text) + 1) * len(new)))
    return text.replace(old, new)


def multiply(a: Any, b: Any) -> Any:
    """a × b; an integer product beyond 10^max_integer_digits is an error (squaring squares would
    otherwise fill the memory)."""
    product = a * b
    if type(product) is int and not -BUDGET.integer_bound < product < BUDGET.integer_bound:
        raise EvaluationError(f"整数超过 {len(str(BUDGET.integer_bound)) - 1} 位（max_integer_digits）/ an integer "
                              f"of more than {len(str(BUDGET.integer_bound)) - 1} digits (max_integer_digits)", "EV104")
    return product


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
    try:
        last = calendar.monthrange(year, month)[1]
        moved = dt.date(year, month, min(day.day, last))
        return moved + dt.timedelta(days=sign * duration.days)
    except (ValueError, OverflowError):  # beyond the years 1–9999 that dates can hold
        raise EvaluationError(f"日期超出范围（{day} {'+' if sign > 0 else '-'} {duration}）/ a date out of range "
                              f"({day} {'+' if sign > 0 else '-'} {duration})", "EV102") from None


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


def divide_money(a: Any, b: Any) -> Decimal:
    """money / number: 28 significant digits, like any quotient, as long as they reach below the fen;
    a larger quotient (10^26 yuan and more) keeps 28 digits after the point instead, so that no
    amount is ever rounded at or above the fen."""
    quotient = divide(a, b)
    if quotient.as_tuple().exponent <= -2:
        return quotient
    wide = DECIMAL_CONTEXT.copy()
    wide.prec = quotient.adjusted() + 1 + DECIMAL_CONTEXT.prec
    return wide.divide(Decimal(a), Decimal(b))


def round_to(x: Any, digits: Any, mode: str) -> Decimal:
    exponent = Decimal(1).scaleb(-whole(digits, "round(x, digits, mode): digits"), context=DECIMAL_CONTEXT)
    # in the money context: an exact amount of any size rounds to the fen (28 digits would refuse it)
    return Decimal(x).quantize(exponent, rounding=ROUNDING_MODES[mode], context=MONEY_CONTEXT)


def whole(value: Any, what: str) -> int:
    """An integer argument as an int; a number with a fraction (1.5) is an error, never truncated."""
    if type(value) is int:
        return value
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    raise EvaluationError(f"{what} must be a whole number, got {value}", "EV102")


def ceil(x: Any) -> int:
    return math.ceil(x)  # exact for int and Decimal, in no decimal context


def floor(x: Any) -> int:
    return math.floor(x)


def allocate(total: Decimal, weights: Mapping[str, Any] | Iterable[str]) -> dict[str, Decimal]:
    """Split `total` in proportion to `weights` (a list of keys: equal weights), to the fen, conserving
    the total exactly, for weights of any sign and numbers of any size.

    Integer arithmetic throughout: |total| in fen times each weight over the weight sum, each part
    rounded down (floor), and the fen left over (fewer than the number of keys) go one each to the
    largest remainders, ties to the smaller key. A negative total is split as -(split of |total|);
    weights summing below zero split as their negations (the proportions are the same). Errors: a
    total not exact to the fen (round it first, declaring how), weights summing to zero, a key listed
    twice; no keys at all is absent.
    """
    if isinstance(weights, Mapping):
        keys = sorted(weights)
        values = [weights[k] for k in keys]
    else:
        listed = list(weights)
        keys = sorted(set(listed))
        if len(keys) != len(listed):
            twice = sorted(k for k in keys if listed.count(k) > 1)
            raise EvaluationError(f"allocate: key {twice[0]} is listed twice", "EV102")
        values = [1] * len(keys)
    if not keys:
        raise Absent("allocate: no weights")
    cents = fen_count(total, "allocate: the total")
    ratios = [Decimal(w).as_integer_ratio() for w in values]
    common = math.lcm(*(d for _, d in ratios))
    scaled = [n * (common // d) for n, d in ratios]
    weight_sum = sum(scaled)
    if weight_sum == 0:
        raise EvaluationError("allocate: the weights sum to zero", "EV109")
    if weight_sum < 0:
        scaled, weight_sum = [-w for w in scaled], -weight_sum
    size = abs(cents)
    shares = [divmod(size * w, weight_sum) for w in scaled]  # floor division: remainders in [0, weight_sum)
    parts = [q for q, _ in shares]
    left = size - sum(parts)  # 0 <= left < len(keys), since the remainders sum to left × weight_sum
    by_remainder = sorted(range(len(keys)), key=lambda i: (-shares[i][1], keys[i]))
    for i in by_remainder[:left]:
        parts[i] += 1
    sign = -1 if cents < 0 else 1
    return {k: fen(sign * part) for k, part in zip(keys, parts)}


def fen_count(amount: Any, what: str) -> int:
    """An amount in whole fen (any size, exactly); an amount not exact to the fen is an error."""
    numerator, denominator = Decimal(amount).as_integer_ratio()
    cents, rest = divmod(numerator * 100, denominator)
    if rest:
        raise EvaluationError(f"{what} {amount} is not exact to the fen: declare its rounding with round(x, 2, mode)", "EV108")
    return cents


def fen(cents: int) -> Decimal:
    """`cents` fen as yuan, exactly (no context rounds a 30-digit amount)."""
    return Decimal(cents).scaleb(-2, context=_UNBOUNDED)


def present(value: Any, getter: Any) -> Any:
    """getter(value), or None when value is None (a field read through an absent parent, for has())."""
    return None if value is None else getter(value)


def has_key(target: Any, key: Any, on_list: bool) -> bool:
    """has(x[key]) with x possibly absent (None): false then."""
    if target is None:
        return False
    return 0 <= key < len(target) if on_list else key in target


def require_present(value: Any, what: str) -> Any:
    if value is None:
        raise Absent(what)
    return value


def lookup(mapping: Mapping, key: Any, what: str) -> Any:
    try:
        return mapping[key]
    except KeyError:
        raise Absent(f"{what}[{key}]") from None


def index(items: Any, position: Any, what: str) -> Any:
    """items[position] of a list: a position outside 0 … len-1 (a negative one included: never counted
    from the end) or with a fraction is an error, not absent data."""
    i = whole(position, f"{what}: the index")
    if not 0 <= i < len(items):
        raise EvaluationError(f"{what}: index {position} is outside 0 … {len(items) - 1}"
                              if items else f"{what}: index {position} of an empty list", "EV103")
    return items[i]


def all_of(test: Callable[[Any], bool], items: Iterable[Any]) -> bool:
    """`all(...)` whatever the items' order: a false item decides even when another one lacks data;
    only when none is false does absence count (as for named conditions, language.md §5.3)."""
    absent = None
    for item in items:
        try:
            if not test(item):
                return False
        except Absent as missing:
            absent = absent or missing
    if absent is not None:
        raise absent
    return True


def any_of(test: Callable[[Any], bool], items: Iterable[Any]) -> bool:
    """`any(...)` whatever the items' order: a true item decides even when another one lacks data."""
    absent = None
    for item in items:
        try:
            if test(item):
                return True
        except Absent as missing:
            absent = absent or missing
    if absent is not None:
        raise absent
    return False


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
