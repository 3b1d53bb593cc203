"""Walk the expressions of a policy file: every rule and definition expression, parsed once, with the
nodes' positions. Used by the strategies (the literals a policy compares against) and by the
mutation run (tools/mutate.py: the comparison operators and their character offsets in the file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import attrs

from policyengine import nodes as n
from policyengine import parser
from policyengine.engine import policy_path
from policyengine.policyfile import read_policy_file
from policyengine.source import Scalar

COMPARISON_FLIPS = {">=": ">", ">": ">=", "<=": "<", "<": "<=", "==": "!=", "!=": "=="}


@attrs.frozen
class Expression:
    where: str  # "rule <id> <key>[.<name>]" or "definition <name>"
    rule: str | None
    scalar: Scalar
    node: n.Node


@attrs.frozen
class Operator:
    """A comparison operator in a policy file: its absolute offset in the file text, position and text."""

    expression: Expression
    op: str
    offset: int
    line: int
    col: int

    @property
    def flipped(self) -> str:
        return COMPARISON_FLIPS[self.op]


def expressions(path: str | Path) -> Iterator[Expression]:
    """Every parseable rule and definition expression of a policy file (name or path)."""
    path = policy_path(path)
    model, _ = read_policy_file(str(path), Path(path).read_text(encoding="utf-8"))
    if model is None:
        return
    for decl in model.definitions:
        node = parser.parse(decl.body, [])
        if node is not None:
            yield Expression(f"definition {decl.name}", None, decl.body, node)
    for rule in model.rules:
        scalars: list[tuple[str, Scalar]] = []
        for key, value in rule.expressions.items():
            if isinstance(value, dict):
                scalars += [(f"{key}.{name}", s) for name, s in value.items()]
            else:
                scalars.append((key, value))
        scalars += [(f"values.{name}", s) for name, s in rule.values.items()]
        scalars += [(f"let.{name}", s) for name, s in rule.lets.items()]
        for key, scalar in scalars:
            node = parser.parse(scalar, [])
            if node is not None:
                yield Expression(f"rule {rule.id} {key}", rule.id, scalar, node)


    for use in model.instances:  # rules written as template instances: their arguments are expressions
        for name, scalar in use.args.items():
            node = parser.parse(scalar, []) if isinstance(scalar, Scalar) else None
            if node is not None:
                yield Expression(f"rule {use.id} args.{name}", use.id, scalar, node)


def walk(node: n.Node) -> Iterator[n.Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(n.children(current)))


def literals(path: str | Path) -> Iterator[n.Literal]:
    for expression in expressions(path):
        for node in walk(expression.node):
            if isinstance(node, n.Literal):
                yield node


def comparison_operators(path: str | Path, include_values: bool = False) -> list[Operator]:
    """Every `==` `!=` `<` `<=` `>` `>=` of the rule and definition expressions (not of the reported
    `values:` unless asked), in file order, with its absolute character offset in the file text."""
    found: dict[int, Operator] = {}
    for expression in expressions(path):
        if not include_values and ".values." in f".{expression.where.split(' ')[-1]}" and \
                expression.where.split(" ")[-1].startswith("values."):
            continue
        source = expression.scalar.source
        for node in walk(expression.node):
            if isinstance(node, n.Binary) and node.op in COMPARISON_FLIPS:
                offset = source.line_starts[node.span.line - 1] + node.span.col - 1
                if source.text[offset:offset + len(node.op)] != node.op:
                    continue  # position not recoverable (an escaped or folded scalar): skip, never guess
                found[offset] = Operator(expression, node.op, offset, node.span.line, node.span.col)
    return [found[k] for k in sorted(found)]
