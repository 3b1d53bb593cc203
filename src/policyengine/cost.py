"""Cost: a static estimate of what evaluating a checked expression may cost, as CEL's cost model.

Every IR node costs 1; a comprehension costs its source plus, per element, its element and its
condition, so nested comprehensions multiply. A collection's size is known when it is written in
the policy (a list literal or parameter); otherwise it is assumed from the limits: a province-wide
collection (`units`, `communities` …) holds `assumed_collection_size` records, a list reached from a
record (`community.units`) `assumed_navigation_size`. The checker's caller adds a rule's expressions
and refuses a rule over `max_rule_cost` (PE508), before anything runs. The estimate ignores hoisting
(hoist.py runs subject-independent parts once per evaluation), so it is an upper bound; the runtime
loop-trip budget (runtime.trips) bounds what the estimate cannot see.
"""

from __future__ import annotations

from typing import Any, Mapping

import attrs

from policyengine import hoist, ir
from policyengine import typesys as t
from policyengine.limits import PolicyLimits


def estimate(node: ir.IR, functions: Mapping[str, Any], limits: PolicyLimits) -> int:
    """The cost of one call of `node`, hoisted (hoist.py); `functions`: the compiled typed
    definitions it calls, each with its own estimate."""
    estimator = _Estimator(functions, limits)
    return estimator.cost(node) + estimator.once


class _Estimator:
    def __init__(self, functions: Mapping[str, Any], limits: PolicyLimits):
        self.functions = functions
        self.limits = limits
        self.once = 0  # hoisted parts: computed once per evaluation, whatever loop they are in

    def cost(self, node: ir.IR) -> int:
        if isinstance(node, (hoist.Shared, hoist.Filtered)):
            self.once += self.cost(node.node if isinstance(node, hoist.Shared) else _listing(node))
            return 1
        if isinstance(node, hoist.Guarded):  # the fast path runs; the original only if the index failed
            return self.cost(node.check) + self.cost(node.fast)
        if isinstance(node, ir.Comprehension):
            per_element = 1 + self.cost(node.element) + (self.cost(node.condition) if node.condition is not None else 0)
            return self.cost(node.source) + self.size(node.source) * per_element
        total = 1 + sum(self.cost(child) for child in _children(node))
        if isinstance(node, ir.DefCall):
            total += getattr(self.functions.get(node.name), "__policyengine_cost__", 1)
        elif isinstance(node, ir.Builtin):  # min/max/allocate … of a list walk it once
            total += sum(self.size(arg) for arg in node.args if _is_collection(arg.type))
        return total

    def size(self, node: ir.IR) -> int:
        """How many elements a collection-valued node may have."""
        if isinstance(node, ir.Const) and isinstance(node.value, (tuple, list, dict, frozenset, set)):
            return len(node.value)
        if isinstance(node, ir.ListOf):
            return len(node.items)
        if isinstance(node, ir.Global):
            return self.limits.assumed_collection_size
        if isinstance(node, hoist.Filtered):
            return self.size(node.source)
        if isinstance(node, ir.Comprehension):  # list / distinct of a source: at most its size
            return self.size(node.source)
        if isinstance(node, ir.Op) and node.op == "concat":
            return self.size(node.left) + self.size(node.right)
        if isinstance(node, ir.Cond):
            return max(self.size(node.then), self.size(node.otherwise))
        if isinstance(node, ir.Let):
            return self.size(node.body)
        return self.limits.assumed_navigation_size


def _listing(node: "hoist.Filtered") -> ir.IR:
    """What a Filtered computes, as a comprehension (its cost is that of the scan)."""
    return ir.Comprehension(node.type, node.span, "list", ir.Var(node.type, node.span, node.ident), node.ident,
                            node.source, node.condition)


def _is_collection(kind: t.Type) -> bool:
    return isinstance(kind, (t.ListType, t.MapType))


def _children(node: ir.IR):
    for field in attrs.fields(type(node)):
        value = getattr(node, field.name)
        for child in value if isinstance(value, tuple) else (value,):
            if isinstance(child, tuple):  # Let bindings: (name, IR)
                child = child[1]
            if isinstance(child, ir.IR):
                yield child
