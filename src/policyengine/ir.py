"""Checked IR: the checker's output and the compiler's input.

Every name is resolved (to a constant, a bound variable or a global), every operator is resolved
to the one operation its operand types select, untyped definitions are inlined as `Let`s, typed ones
are `DefCall`s of their own compiled function, and every node
carries its type. The compiler can therefore emit code without looking anything up.
"""

from __future__ import annotations

from typing import Any

import attrs

from policyengine.source import Span
from policyengine.typesys import Type


@attrs.frozen(weakref_slot=True)
class IR:
    type: Type
    span: Span


@attrs.frozen(weakref_slot=True)
class Const(IR):
    value: Any


@attrs.frozen(weakref_slot=True)
class Var(IR):
    """A bound variable: a subject variable, a comprehension variable or a definition argument."""

    ident: str


@attrs.frozen(weakref_slot=True)
class Global(IR):
    name: str  # as_of or a record collection


@attrs.frozen(weakref_slot=True)
class Attr(IR):
    """A record field or navigation, a period or date attribute; `required` → absent is not_applicable."""

    target: IR
    name: str
    required: bool
    label: str  # what to name when it is absent, e.g. "quality_score.z_value"
    mapping_access: bool = False  # ad-hoc record types passed as mappings


@attrs.frozen(weakref_slot=True)
class Lookup(IR):
    target: IR
    key: IR
    label: str
    on_list: bool


@attrs.frozen(weakref_slot=True)
class Op(IR):
    """A resolved binary operation: add, sub, mul, div, concat, date_add, date_sub, eq, ne, lt, le,
    gt, ge, in, not_in, in_period, and, or."""

    op: str
    left: IR
    right: IR


@attrs.frozen(weakref_slot=True)
class Not(IR):
    operand: IR


@attrs.frozen(weakref_slot=True)
class Neg(IR):
    operand: IR


@attrs.frozen(weakref_slot=True)
class Between(IR):
    value: IR
    low: IR
    high: IR


@attrs.frozen(weakref_slot=True)
class Cond(IR):
    condition: IR
    then: IR
    otherwise: IR


@attrs.frozen(weakref_slot=True)
class Builtin(IR):
    function: str
    args: tuple[IR, ...]


@attrs.frozen(weakref_slot=True)
class Has(IR):
    """`has(x.f)` / `has(x[k])`: the target read without raising, compared with absent."""

    operand: IR


@attrs.frozen(weakref_slot=True)
class Comprehension(IR):
    function: str  # count sum min max all any first list distinct
    element: IR
    ident: str
    source: IR
    condition: IR | None


@attrs.frozen(weakref_slot=True)
class ListOf(IR):
    items: tuple[IR, ...]


@attrs.frozen(weakref_slot=True)
class DefCall(IR):
    """A call of a typed definition: compiled once as its own function, called here with the
    arguments and the evaluation context."""

    name: str
    args: tuple[IR, ...]


@attrs.frozen(weakref_slot=True)
class Let(IR):
    """A definition call: its arguments bound once, then its body."""

    bindings: tuple[tuple[str, IR], ...]
    body: IR
