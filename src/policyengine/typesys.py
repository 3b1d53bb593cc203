"""Types of the policy language: what the checker reasons about, shared with the record schema.

Runtime representation (fixed here, relied on by the compiler and the record loader):
number → int or Decimal; money → Decimal (yuan); bool → bool; string and enum → str; date →
datetime.date; duration → Duration; period → Period; record → the attrs record object; list → tuple
or list; map → dict.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class Type:
    """A language type. `name` is the display name used in error messages."""

    name: str

    def __str__(self) -> str:
        return self.name


@attrs.frozen
class EnumType(Type):
    """A closed set of string values; at run time a plain `str`."""

    values: frozenset[str] = attrs.field(factory=frozenset, eq=False)


@attrs.frozen
class RecordType(Type):
    """A record kind of the schema (community, unit, membership, …)."""


@attrs.frozen
class ListType(Type):
    element: Type = attrs.field(default=None)


@attrs.frozen
class MapType(Type):
    key: Type = attrs.field(default=None)
    value: Type = attrs.field(default=None)


NUMBER = Type("number")
MONEY = Type("money")
BOOL = Type("bool")
STRING = Type("string")
DATE = Type("date")
DURATION = Type("duration")
PERIOD = Type("period")
ROUNDING = Type("rounding")
ANY = Type("any")  # only for the element of the empty list literal `[]`

SCALARS = {"number": NUMBER, "int": NUMBER, "money": MONEY, "bool": BOOL, "string": STRING,
           "date": DATE, "duration": DURATION, "period": PERIOD}


def list_of(element: Type) -> ListType:
    return ListType(f"list<{element.name}>", element)


def map_of(key: Type, value: Type) -> MapType:
    return MapType(f"map<{key.name},{value.name}>", key, value)


def record(kind: str) -> RecordType:
    return RecordType(kind)


def enum(name: str, values: frozenset[str]) -> EnumType:
    return EnumType(name, values)


def is_stringlike(t: Type) -> bool:
    return t == STRING or isinstance(t, EnumType)


def unify(a: Type, b: Type) -> Type | None:
    """The common type of two values that may be compared or mixed in a list, or None."""
    if a == b:
        return a
    if a == ANY:
        return b
    if b == ANY:
        return a
    if is_stringlike(a) and is_stringlike(b):
        return a if isinstance(a, EnumType) else b
    if isinstance(a, ListType) and isinstance(b, ListType):
        element = unify(a.element, b.element)
        return list_of(element) if element is not None else None
    return None


def assignable(expected: Type, actual: Type) -> bool:
    """Whether a value of type `actual` may be passed where `expected` is declared (a definition's
    parameter or result): the same type, a string for an enum and back (enum literals are checked
    separately), an empty list for any list."""
    if expected == actual or actual == ANY:
        return True
    if is_stringlike(expected) and is_stringlike(actual):
        return True
    if isinstance(expected, ListType) and isinstance(actual, ListType):
        return assignable(expected.element, actual.element)
    if isinstance(expected, MapType) and isinstance(actual, MapType):
        return assignable(expected.key, actual.key) and assignable(expected.value, actual.value)
    return False
