"""AST: the typed syntax tree built by the parser and consumed by the checker and the compiler.

Nodes are frozen attrs classes. Each carries `span`, the position of its text in the policy file,
so that every diagnostic can name file:line:col. No node survives into compiled code.
"""

from __future__ import annotations

from typing import Any

import attrs

from policyengine.source import Span


@attrs.frozen(weakref_slot=True)
class Node:
    span: Span


@attrs.frozen(weakref_slot=True)
class Literal(Node):
    """A constant: number (int/Decimal), money (Decimal), string, bool, date, duration."""

    value: Any
    kind: str  # number | money | string | bool | date | duration


@attrs.frozen(weakref_slot=True)
class Name(Node):
    name: str


@attrs.frozen(weakref_slot=True)
class Field(Node):
    target: Node
    name: str


@attrs.frozen(weakref_slot=True)
class Index(Node):
    target: Node
    key: Node


@attrs.frozen(weakref_slot=True)
class Call(Node):
    function: str
    args: tuple[Node, ...]


@attrs.frozen(weakref_slot=True)
class Aggregate(Node):
    """`function(element for var in source where condition)`; `[...]` is function "list"."""

    function: str
    element: Node
    var: str
    source: Node
    condition: Node | None


@attrs.frozen(weakref_slot=True)
class ListLiteral(Node):
    items: tuple[Node, ...]


@attrs.frozen(weakref_slot=True)
class Unary(Node):
    op: str  # "-" | "not"
    operand: Node


@attrs.frozen(weakref_slot=True)
class Binary(Node):
    op: str  # + - * / == != < <= > >= and or in not_in
    left: Node
    right: Node


@attrs.frozen(weakref_slot=True)
class Between(Node):
    value: Node
    low: Node
    high: Node


@attrs.frozen(weakref_slot=True)
class Conditional(Node):
    condition: Node
    then: Node
    otherwise: Node


def children(node: Node) -> tuple[Node, ...]:
    """The direct sub-nodes, for generic walks (depth limits, coverage, mutation)."""
    match node:
        case Field(target=t) | Unary(operand=t):
            return (t,)
        case Index(target=t, key=k):
            return (t, k)
        case Call(args=a) | ListLiteral(items=a):
            return a
        case Aggregate(element=e, source=s, condition=c):
            return (e, s) if c is None else (e, s, c)
        case Binary(left=l, right=r):
            return (l, r)
        case Between(value=v, low=lo, high=hi):
            return (v, lo, hi)
        case Conditional(condition=c, then=t, otherwise=o):
            return (c, t, o)
    return ()
