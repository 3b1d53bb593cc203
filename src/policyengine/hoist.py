"""Hoisting: what does not depend on the subject is computed once per evaluation, so rules stay linear.

A rule's expression is evaluated once per subject (and period). A part of it that reads province-wide
collections but no subject variable — `any(tier_is(c, 'district_county_admin') for c in communities)`
— gives the same result for every subject, yet costs a scan of the province each time: the rule
becomes quadratic. This IR → IR pass, run before code generation for rule functions, rewrites three
shapes so that the scan runs once per evaluation (cached on the evaluation context `_g`):

1. **Shared**: a maximal subject-independent subexpression that scans a collection. Its value (or the
   error it raises) is computed on first use and reused; it is used exactly where it was, so an
   expression that never reached it still never computes it.
2. **Filtered**: a comprehension over a subject-independent collection whose condition starts with
   conjuncts that read only the element (`for u in units where u.town == pilot_town and …`), or an
   `any(A and B for …)` whose A reads only the element: the elements that pass those conjuncts are
   computed once; each subject iterates only them, evaluating the rest of the condition.
3. **Indexed**: the next conjunct is an equality `key(x) == k` with `key(x)` reading only the element
   and `k` not reading it (`x.subject_id == person.subject_team_id`): the (filtered) elements are
   grouped by `key(x)` once, and each subject looks up its `k`.

The result is exactly the original's, not just usually: elements are visited in the same order and
every part is evaluated as often as the original would need it. Filtering and grouping must not raise
(if a filter or key raises for some element, that evaluation falls back to the original code, which
raises it where and when the original does); the lookup key `k` is evaluated only when some element
passed the filter, as the original evaluates it at the first such element; keys are scalars, whose
`==` agrees with their hash.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import attrs

from policyengine import ir
from policyengine import typesys as t

_KEY_TYPES = (t.NUMBER, t.MONEY, t.BOOL, t.STRING, t.DATE)


@attrs.frozen(weakref_slot=True)
class Shared(ir.IR):
    """A subject-independent subexpression, computed once per evaluation."""
    node: ir.IR


@attrs.frozen(weakref_slot=True)
class Filtered(ir.IR):
    """The elements of `source` that pass `condition` (a tuple), or grouped by `key` (a dict key →
    tuple), computed once per evaluation; None when computing them raised."""
    source: ir.IR
    ident: str
    condition: ir.IR | None
    key: ir.IR | None


@attrs.frozen(weakref_slot=True)
class Guarded(ir.IR):
    """`fast` when `check` (a Filtered) could be computed, else `original`."""
    check: Filtered
    fast: ir.IR
    original: ir.IR


@attrs.frozen(weakref_slot=True)
class Probe(ir.IR):
    """The elements of an index (a Filtered with a key) whose key equals `key` (evaluated only when
    the index has any element)."""
    index: Filtered
    key: ir.IR


# analysis -----------------------------------------------------------------------------------------
def _children(node: ir.IR):
    for field in attrs.fields(type(node)):
        value = getattr(node, field.name)
        if isinstance(value, ir.IR):
            yield value
        elif isinstance(value, tuple):
            for item in value:
                if isinstance(item, ir.IR):
                    yield item
                elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], ir.IR):
                    yield item[1]


def free_vars(node: ir.IR, memo: dict) -> frozenset[str]:
    key = id(node)
    if key in memo:
        return memo[key][0]
    if isinstance(node, ir.Var):
        result = frozenset((node.ident,))
    elif isinstance(node, ir.Comprehension):
        inner = free_vars(node.element, memo) | (free_vars(node.condition, memo) if node.condition else frozenset())
        result = free_vars(node.source, memo) | (inner - {node.ident})
    elif isinstance(node, ir.Let):
        bound = {name for name, _ in node.bindings}
        result = frozenset().union(*(free_vars(v, memo) for _, v in node.bindings)) | \
            (free_vars(node.body, memo) - bound)
    else:
        result = frozenset().union(*(free_vars(c, memo) for c in _children(node)))
    memo[key] = (result, node)  # the node is kept so that its id stays unique while memo lives
    return result


def scans(node: ir.IR, functions: Mapping[str, Callable]) -> bool:
    """Whether evaluating `node` may iterate a province-wide collection (also inside the typed
    definitions it calls: their compiled functions say so)."""
    if isinstance(node, ir.Global) and node.name != "as_of":
        return True
    if type(node).__name__ == "DefCall" and getattr(functions.get(node.name), "__policyengine_scans__", True):
        return True
    return any(scans(c, functions) for c in _children(node))


def _conjuncts(node: ir.IR | None) -> list[ir.IR]:
    if node is None:
        return []
    if isinstance(node, ir.Op) and node.op == "and":
        return _conjuncts(node.left) + _conjuncts(node.right)
    return [node]


def _conjunction(parts: list[ir.IR], like: ir.IR) -> ir.IR | None:
    if not parts:
        return None
    result = parts[0]
    for part in parts[1:]:
        result = ir.Op(t.BOOL, like.span, "and", result, part)
    return result


# rewriting ----------------------------------------------------------------------------------------
def rewrite(node: ir.IR, functions: Mapping[str, Callable]) -> ir.IR:
    """`node` (a rule or definition expression) with its subject-independent scans hoisted;
    `functions`: the compiled typed definitions it may call."""
    return _Rewriter(functions).visit(node)


class _Rewriter:
    def __init__(self, functions: Mapping[str, Callable]) -> None:
        self.memo: dict = {}
        self.functions = functions
        self.scan_memo: dict = {}

    def scans(self, node: ir.IR) -> bool:
        key = id(node)
        if key not in self.scan_memo:
            self.scan_memo[key] = (scans(node, self.functions), node)
        return self.scan_memo[key][0]

    def free(self, node: ir.IR | None) -> frozenset[str]:
        return free_vars(node, self.memo) if node is not None else frozenset()

    def visit(self, node: ir.IR) -> ir.IR:
        if not isinstance(node, (ir.Const, ir.Var, ir.Global)) and not self.free(node) and self.scans(node):
            return Shared(node.type, node.span, node)
        if isinstance(node, ir.Comprehension):
            comprehension = self.comprehension(node)
            if comprehension is not None:
                return comprehension
        return self.rebuild(node)

    def rebuild(self, node: ir.IR) -> ir.IR:
        changes = {}
        for field in attrs.fields(type(node)):
            value = getattr(node, field.name)
            if isinstance(value, ir.IR):
                new = self.visit(value)
            elif isinstance(value, tuple) and value and isinstance(value[0], ir.IR):
                new = tuple(self.visit(v) for v in value)
            elif isinstance(value, tuple) and value and isinstance(value[0], tuple):  # Let bindings
                new = tuple((name, self.visit(v)) for name, v in value)
            else:
                continue
            if new is not value:
                changes[field.name] = new
        return attrs.evolve(node, **changes) if changes else node

    def comprehension(self, node: ir.Comprehension) -> ir.IR | None:
        """Shapes 2 and 3, or None."""
        if self.free(node.source) or not self.scans(node.source):
            return None
        own = {node.ident}
        condition = _conjuncts(node.condition)
        element = _conjuncts(node.element) if node.function == "any" else [node.element]
        # `any(A and B for x in s)` is `any(B for x in s where A)`: A false makes the element false
        chain = condition + (element[:-1] if node.function == "any" else [])
        prefix = []
        for part in chain:
            if not self.free(part) <= own:
                break
            prefix.append(part)
        rest = chain[len(prefix):]
        key = probe = None
        if rest and isinstance(rest[0], ir.Op) and rest[0].op == "eq":
            left, right = rest[0].left, rest[0].right
            for mine, other in ((left, right), (right, left)):
                if self.free(mine) <= own and node.ident not in self.free(other) and \
                        mine.type in _KEY_TYPES + tuple(_enum_types(mine)) and not self.scans(mine):
                    key, probe = mine, other
                    rest = rest[1:]
                    break
        if not prefix and key is None:
            return None
        filtered = Filtered(node.source.type, node.span, node.source, node.ident,
                            _conjunction(prefix, node), key)
        source: ir.IR = filtered if key is None else Probe(node.source.type, node.span, filtered, self.visit(probe))
        n_condition = len(condition)
        if node.function == "any":
            remaining_condition = rest[:max(0, n_condition - len(prefix) - (key is not None))]
            remaining_element = rest[len(remaining_condition):] + [element[-1]]
        else:
            remaining_condition, remaining_element = rest, element
        fast = ir.Comprehension(node.type, node.span, node.function,
                                self.visit(_conjunction(remaining_element, node)), node.ident, source,
                                self.visit_optional(_conjunction(remaining_condition, node)))
        return Guarded(node.type, node.span, filtered, fast, self.rebuild(node))

    def visit_optional(self, node: ir.IR | None) -> ir.IR | None:
        return self.visit(node) if node is not None else None


def _enum_types(node: ir.IR):
    if isinstance(node.type, t.EnumType):
        yield node.type


# run time -----------------------------------------------------------------------------------------
class _Raised:
    __slots__ = ("error",)

    def __init__(self, error: BaseException):
        self.error = error


def shared(g: Any, token: object, function: Callable) -> Any:
    """The value of a Shared subexpression in this evaluation (its error raised again, afresh)."""
    memo = g.memo
    try:
        value = memo[token]
    except KeyError:
        try:
            value = function(g)
        except Exception as error:  # noqa: BLE001 - re-raised on every use, as the original would
            value = _Raised(error)
        memo[token] = value
    if type(value) is _Raised:
        raise value.error.with_traceback(None)
    return value


def filtered(g: Any, token: object, function: Callable, grouped: bool) -> Any:
    """A Filtered value in this evaluation, or None when computing it raised."""
    memo = g.memo
    try:
        return memo[token]
    except KeyError:
        pass
    try:
        value = function(g)
    except Exception:  # noqa: BLE001 - the original code then runs, and raises where it does
        value = None
    if value is not None and grouped:
        index: dict = {}
        for key, element in value:
            index.setdefault(key, []).append(element)
        value = {key: tuple(elements) for key, elements in index.items()}
    memo[token] = value
    return value
