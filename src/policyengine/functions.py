"""Built-in functions: their signatures (for the checker) and implementations (for the compiler).

A function is resolved once, at check time, to one implementation; generated code calls it
directly. None of them reads the clock, files, the network or Python objects beyond the values
passed in.
"""

from __future__ import annotations

import datetime as dt
from typing import Callable

from policyengine import runtime
from policyengine import typesys as t

Problem = tuple[str, dict] | None
Signature = Callable[[tuple[t.Type, ...]], tuple[t.Type | None, Problem]]

NUMERIC = (t.NUMBER, t.MONEY)


def _arity(name: str, types: tuple, *counts: int) -> Problem:
    if len(types) not in counts:
        return "PE204", {"expected": "/".join(map(str, counts)), "actual": len(types)}
    return None


def _wrong(position: int, expected: str, actual: t.Type) -> tuple[None, Problem]:
    return None, ("PE305", {"expected": expected, "actual": f"{actual} (#{position + 1})"})


def _fixed(result: t.Type, *params: tuple[t.Type, ...]) -> Signature:
    """A signature with fixed parameter types (each a tuple of accepted types)."""

    def check(types: tuple[t.Type, ...]) -> tuple[t.Type | None, Problem]:
        problem = _arity("", types, len(params))
        if problem:
            return None, problem
        for i, (actual, accepted) in enumerate(zip(types, params)):
            if not any(actual == a or (a == t.STRING and t.is_stringlike(actual)) for a in accepted):
                return _wrong(i, " | ".join(map(str, accepted)), actual)
        return result, None

    return check


def _same_numeric(types):
    problem = _arity("", types, 1)
    if problem:
        return None, problem
    return (types[0], None) if types[0] in NUMERIC else _wrong(0, "number | money", types[0])


def _round(types):
    problem = _arity("", types, 3)
    if problem:
        return None, problem
    if types[0] not in NUMERIC:
        return _wrong(0, "number | money", types[0])
    if types[1] != t.NUMBER:
        return _wrong(1, "number", types[1])
    if types[2] != t.ROUNDING:
        return _wrong(2, "half_up | half_even | down | up | ceiling | floor", types[2])
    return types[0], None


def _collection(kind: str):
    def check(types):
        problem = _arity("", types, 1)
        if problem:
            return None, problem
        if not isinstance(types[0], t.ListType):
            return _wrong(0, "list", types[0])
        element = types[0].element
        if kind == "count":
            return t.NUMBER, None
        if kind == "sum":
            return (element, None) if element in NUMERIC or element == t.ANY else _wrong(0, "list<number|money>", types[0])
        if kind in ("all", "any"):
            return (t.BOOL, None) if element in (t.BOOL, t.ANY) else _wrong(0, "list<bool>", types[0])
        if kind == "distinct":
            return types[0], None
        return element, None  # first

    return check


def _extremum(types):
    if len(types) == 1:
        return _collection("first")(types)
    if not types:
        return None, ("PE204", {"expected": "1+", "actual": 0})
    common = types[0]
    for i, other in enumerate(types[1:], 1):
        common = t.unify(common, other)
        if common is None:
            return _wrong(i, str(types[0]), other)
    return common, None


def _flatten(types):
    problem = _arity("", types, 1)
    if problem:
        return None, problem
    outer = types[0]
    if not (isinstance(outer, t.ListType) and isinstance(outer.element, t.ListType)):
        return _wrong(0, "list<list<…>>", outer)
    return outer.element, None


def _keys_values(which: str):
    def check(types):
        problem = _arity("", types, 1)
        if problem:
            return None, problem
        if not isinstance(types[0], t.MapType):
            return _wrong(0, "map", types[0])
        return t.list_of(types[0].key if which == "keys" else types[0].value), None

    return check


def _allocate(types):
    problem = _arity("", types, 2)
    if problem:
        return None, problem
    if types[0] != t.MONEY:
        return _wrong(0, "money", types[0])
    weights = types[1]
    equal = isinstance(weights, t.ListType) and (t.is_stringlike(weights.element) or weights.element == t.ANY)
    if not equal and not (isinstance(weights, t.MapType) and t.is_stringlike(weights.key) and weights.value in NUMERIC):
        return _wrong(1, "map<string, number|money> | list<string>", types[1])
    return t.map_of(t.STRING, t.MONEY), None


def _length(types):
    problem = _arity("", types, 1)
    if problem:
        return None, problem
    ok = t.is_stringlike(types[0]) or isinstance(types[0], t.ListType)
    return (t.NUMBER, None) if ok else _wrong(0, "string | list", types[0])


def _concat(types):
    problem = _arity("", types, 1)
    if problem:
        return None, problem
    ok = isinstance(types[0], t.ListType) and (t.is_stringlike(types[0].element) or types[0].element == t.ANY)
    return (t.STRING, None) if ok else _wrong(0, "list<string>", types[0])


def _overlaps(types):
    problem = _arity("", types, 3)
    if problem:
        return None, problem
    for i, expected in enumerate((t.DATE, t.DATE, t.PERIOD)):
        if types[i] != expected:
            return _wrong(i, str(expected), types[i])
    return t.BOOL, None


def _date(year, month, day) -> dt.date:
    try:
        return dt.date(runtime.whole(year, "date(y, m, d): y"), runtime.whole(month, "date(y, m, d): m"),
                       runtime.whole(day, "date(y, m, d): d"))
    except (ValueError, OverflowError) as error:  # date(2023, 2, 30), a year beyond 9999
        raise runtime.EvaluationError(f"date({year}, {month}, {day}): {error}", "EV102") from None


S = (t.STRING,)
# name → (signature, implementation). Implementations receive evaluated arguments.
FUNCTIONS: dict[str, tuple[Signature, Callable]] = {
    "count": (_collection("count"), len),
    "sum": (_collection("sum"), lambda xs: sum(xs, 0)),
    "all": (_collection("all"), all),
    "any": (_collection("any"), any),
    "first": (_collection("first"), lambda xs: runtime.first(xs, "first(…)")),
    "distinct": (_collection("distinct"), runtime.distinct),
    "min": (_extremum, None),
    "max": (_extremum, None),
    "ceil": (_fixed(t.NUMBER, NUMERIC), runtime.ceil),
    "floor": (_fixed(t.NUMBER, NUMERIC), runtime.floor),
    "round": (_round, runtime.round_to),
    "abs": (_same_numeric, abs),
    "school_year": (_fixed(t.PERIOD, (t.DATE,)), runtime.school_year),
    "semester": (_fixed(t.PERIOD, (t.DATE,)), runtime.semester),
    "calendar_year": (_fixed(t.PERIOD, (t.DATE,)), runtime.calendar_year),
    "years_between": (_fixed(t.NUMBER, (t.DATE,), (t.DATE,)), runtime.years_between),
    "months_between": (_fixed(t.NUMBER, (t.DATE,), (t.DATE,)), runtime.months_between),
    "days_between": (_fixed(t.NUMBER, (t.DATE,), (t.DATE,)), runtime.days_between),
    "overlaps": (_overlaps, runtime.overlaps),
    "date": (_fixed(t.DATE, (t.NUMBER,), (t.NUMBER,), (t.NUMBER,)), _date),
    "len": (_length, len),
    "contains": (_fixed(t.BOOL, S, S), lambda s, sub: sub in s),
    "startswith": (_fixed(t.BOOL, S, S), lambda s, p: s.startswith(p)),
    "endswith": (_fixed(t.BOOL, S, S), lambda s, p: s.endswith(p)),
    "replace": (_fixed(t.STRING, S, S, S), runtime.replace),  # texts and lists built: bounded (runtime.built)
    "concat": (_concat, runtime.join),
    "flatten": (_flatten, runtime.flatten),
    "keys": (_keys_values("keys"), lambda m: tuple(sorted(m))),
    "values": (_keys_values("values"), lambda m: tuple(m[k] for k in sorted(m))),
    "allocate": (_allocate, runtime.allocate),
}

# Arguments that may be absent without making the rule not_applicable (passed as None).
NULLABLE_ARGUMENTS = {"overlaps": {1}}


def check_call(name: str, args: tuple) -> tuple[t.Type | None, Problem]:
    signature, _ = FUNCTIONS[name]
    return signature(tuple(a.type for a in args))
