"""Hints that teach: what an author probably meant by an unknown name, field or function.

PE201/PE202/PE203 carry the nearest known names (difflib) and, where one exists, the navigation that
reaches the name: a field written without its record (`units` → `community.units`), or a field of a
record one step away (`membership.ownership` → `membership.unit.ownership`). The diagnostic renders them
(diagnostics.hint_text) in zh or en.
"""

from __future__ import annotations

import difflib
from typing import Any, Iterable

from policyengine import typesys as t


def nearest(name: str, candidates: Iterable[str], n: int = 3) -> tuple[str, ...]:
    return tuple(difflib.get_close_matches(name, sorted(set(candidates) - {name}), n=n, cutoff=0.6))


def name_hint(name: str, env: Any, local: Iterable[str]) -> dict:
    """For an unknown name: the nearest names in scope, and `var.name` when a subject variable has it."""
    args: dict = {"did_you_mean": nearest(name, [*local, *env.variables, *env.definitions, *env.parameters,
                                                 *env.globals])}
    for variable, kind in sorted(env.variables.items()):
        if isinstance(kind, t.RecordType) and name in env.fields_of(kind):
            args["navigation"] = f"{variable}.{name}"
            break
    return args


def field_hint(kind: t.Type, name: str, env: Any) -> dict:
    """For an unknown field of a record kind: the nearest fields, and the shortest navigation (at most two
    steps, through records or lists of records) to a record kind that has it."""
    if not isinstance(kind, t.RecordType):
        return {}
    fields = env.fields_of(kind)
    args: dict = {"did_you_mean": nearest(name, fields)}
    routes = sorted((_render(kind.name, path, name) for path in _navigations(kind, name, env)), key=len)
    if routes:
        args["navigation"] = ", ".join(routes[:2])  # the two simplest
    return args


def _navigations(kind: t.RecordType, name: str, env: Any, depth: int = 2) -> list[tuple[tuple[str, bool], ...]]:
    """The shortest step lists (field, is_list) from `kind` to record kinds having `name`, breadth first."""
    frontier = [(kind, ())]
    seen = {kind}
    for _ in range(depth):
        found, following = [], []
        for record, steps in frontier:
            for field, (field_type, _optional) in sorted(env.fields_of(record).items()):
                many = isinstance(field_type, t.ListType)
                target = field_type.element if many else field_type
                if not isinstance(target, t.RecordType) or target == kind:
                    continue
                path = steps + ((field, many),)
                if name in env.fields_of(target):
                    found.append(path)
                elif target not in seen:
                    seen.add(target)
                    following.append((target, path))
        if found:
            return found
        frontier = following
    return []


def _render(start: str, path: tuple[tuple[str, bool], ...], name: str) -> str:
    """`community.units` (a list) then `unit` → `x.unit.ownership for x in community.units`."""
    prefix, rest = start, []
    for i, (field, many) in enumerate(path):
        if many:
            inner = ".".join(["x", *(f for f, _ in path[i + 1:]), name])
            return f"{inner} for x in {'.'.join([prefix, *rest, field])}"
        rest.append(field)
    return ".".join([prefix, *rest, name])


def function_hint(name: str, env: Any) -> dict:
    from policyengine.checker import AGGREGATES  # imported here: the checker imports this module
    from policyengine.functions import FUNCTIONS

    return {"did_you_mean": nearest(name, [*FUNCTIONS, *AGGREGATES, *env.definitions])}
