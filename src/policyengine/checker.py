"""Checker: AST nodes → typed IR, resolving every name and reporting every error (PE2xx, PE3xx).

Names resolve, innermost first: comprehension variables and definition arguments, the rule's subject
variables, definitions, parameters (constants), globals. A typed definition is checked once, where it
is defined, against its declared parameter and result types (the elaborator does that); a use only
checks the arguments against the declaration and becomes a `DefCall`. An untyped definition is a
macro: checked where it is used, in the scope of that rule, and inlined as a `Let`. Recursion is
reported, never followed.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any, Callable, Mapping

import attrs

from policyengine import hints, ir, limits
from policyengine import nodes as n
from policyengine import typesys as t
from policyengine.diagnostics import Diagnostic
from policyengine.runtime import ROUNDING_MODES

MAX_EXPANDED_NODES = limits.DEFAULT.max_expanded_nodes  # the default; limits.current() holds the one in force
ORDERED = (t.NUMBER, t.MONEY, t.DATE, t.STRING)
PERIOD_FIELDS = {"start": t.DATE, "end": t.DATE, "year": t.NUMBER, "kind": t.STRING, "label": t.STRING,
                 "previous": t.PERIOD, "next": t.PERIOD}
DATE_FIELDS = {"year": t.NUMBER, "month": t.NUMBER, "day": t.NUMBER}
AGGREGATES = ("count", "sum", "min", "max", "all", "any", "first", "list", "distinct")
QUANTIFIERS = ("all", "any")  # what a choice parameter may name as an aggregate (catalog §1.2: 均/全部 vs 有)


class CheckFailed(Exception):
    """Raised inside the checker to abandon one sub-expression after its diagnostic was recorded."""


@attrs.define
class Signature:
    """A typed definition as its callers see it. Filled in by the elaborator as it checks the
    definition (callees before callers): what it reads, and which parameters meet an enum."""

    params: tuple[t.Type, ...]
    result: t.Type
    parameters_used: set = attrs.field(factory=set)
    collections_used: set = attrs.field(factory=set)
    enum_params: dict = attrs.field(factory=dict)  # parameter position → the enum it is compared with
    folded: tuple | None = None  # (value,) of a constant definition without parameters


@attrs.frozen
class Definition:
    name: str
    params: tuple[str, ...]
    body: n.Node | None  # None when it did not parse
    signature: Signature | None = None  # typed definitions only


@attrs.frozen
class Parameter:
    name: str
    value: object
    type: t.Type
    span: object = None  # where it is declared


@attrs.define
class Environment:
    """What names mean in one rule: subject variables, definitions, parameters, globals, fields."""

    variables: dict[str, t.Type]
    definitions: Mapping[str, Definition]
    parameters: Mapping[str, Parameter]
    globals: Mapping[str, t.Type]
    fields_of: Callable[[t.Type], Mapping[str, tuple[t.Type, bool]]]
    mapping_records: frozenset[str] = frozenset()  # ad-hoc record types read as mappings
    lets: dict[str, ir.IR | None] = attrs.field(factory=dict)  # a rule's `let:` names, each checked once (None: failed)


class Checker:
    """Checks expressions of one environment; collects diagnostics and the parameters used."""

    def __init__(self, env: Environment, diagnostics: list[Diagnostic]):
        self.env = env
        self.diagnostics = diagnostics
        self.parameters_used: set[str] = set()
        self.collections_used: set[str] = set()  # province-wide record collections the code iterates
        self.definitions_used: set[str] = set()
        self.lets_used: set[str] = set()
        self.enum_params: dict[str, t.EnumType] = {}  # while checking a typed definition: its parameters' idents
        self._param_idents: frozenset[str] = frozenset()
        self._idents = itertools.count()
        self._expanding: list[str] = []
        self._size = 0
        self._depth = 0  # of _check calls now open
        self._too_deep = False
        self._reported_definitions: set[tuple[str, str, int, int]] = set()

    def check(self, node: n.Node) -> ir.IR | None:
        self._size = 0
        self._too_deep = False
        self._root = node
        try:
            return self._check(node, {})
        except CheckFailed:
            return None

    def expect(self, node: n.Node, allowed: tuple[t.Type, ...], field: str) -> ir.IR | None:
        result = self.check(node)
        if result is not None and allowed and not any(t.unify(result.type, a) == a for a in allowed):
            self.diagnostics.append(Diagnostic("PE307", node.span, {
                "field": field, "expected": " | ".join(map(str, allowed)), "actual": result.type}))
            return None
        return result

    # ------------------------------------------------------------------------------------------
    def error(self, code: str, node: n.Node, **args: object) -> None:
        key = (code, str(node.span), node.span.line, node.span.col)
        if self._expanding and key in self._reported_definitions:
            raise CheckFailed  # the same error inside a definition, already reported at another use
        self._reported_definitions.add(key)
        self.diagnostics.append(Diagnostic(code, node.span, args))
        raise CheckFailed

    def fresh(self, name: str) -> str:
        return f"{name}_{next(self._idents)}"

    def _check(self, node: n.Node, local: dict[str, ir.Var]) -> ir.IR:
        self._size += 1
        bounds = limits.current()
        if self._size > bounds.max_expanded_nodes:  # reported once, at the expression that grew too large
            if self._size == bounds.max_expanded_nodes + 1:
                self.diagnostics.append(Diagnostic("PE501", self._root.span, {
                    "limit": bounds.max_expanded_nodes, "what_zh": "展开定义后的节点数", "what_en": "nodes after expanding definitions"}))
            raise CheckFailed
        if self._depth >= bounds.max_code_depth:  # inlined definitions nest: bounded before recursing
            if not self._too_deep:
                self._too_deep = True
                self.diagnostics.append(Diagnostic("PE510", self._root.span, {"limit": bounds.max_code_depth}))
            raise CheckFailed
        method = getattr(self, f"_{type(node).__name__.lower()}")
        self._depth += 1
        try:
            return method(node, local)
        finally:
            self._depth -= 1

    def _check_all(self, nodes, local) -> list[ir.IR]:
        """Check every sub-expression even when one fails, so that siblings' errors are reported too."""
        results, failed = [], False
        for node in nodes:
            try:
                results.append(self._check(node, local))
            except CheckFailed:
                failed = True
        if failed:
            raise CheckFailed
        return results

    # leaves -----------------------------------------------------------------------------------
    def _literal(self, node: n.Literal, local) -> ir.IR:
        kinds = {"number": t.NUMBER, "money": t.MONEY, "string": t.STRING, "bool": t.BOOL,
                 "date": t.DATE, "duration": t.DURATION}
        return ir.Const(kinds[node.kind], node.span, node.value)

    def _name(self, node: n.Name, local) -> ir.IR:
        name = node.name
        if name in local:
            return local[name]
        if name in self.env.variables:
            return ir.Var(self.env.variables[name], node.span, name)
        if name in self.env.lets:
            self.lets_used.add(name)
            if self.env.lets[name] is None:
                raise CheckFailed  # its own error is reported where it is written
            return self.env.lets[name]  # checked once; its code is emitted where it is used
        if name in self.env.definitions:
            return self._use(self.env.definitions[name], (), node, local)
        if name in self.env.parameters:
            parameter = self.env.parameters[name]
            self.parameters_used.add(name)
            return ir.Const(parameter.type, node.span, parameter.value)
        if name in self.env.globals:
            if name != "as_of":
                self.collections_used.add(name)
            return ir.Global(self.env.globals[name], node.span, name)
        self.error("PE201", node, name=name, **hints.name_hint(name, self.env, local))

    def _use(self, definition: Definition, args: tuple[n.Node, ...], node: n.Node, local) -> ir.IR:
        self.definitions_used.add(definition.name)
        if len(args) != len(definition.params):
            self.error("PE204", node, name=definition.name, expected=len(definition.params), actual=len(args))
        if definition.signature is not None:
            return self._call_typed(definition, args, node, local)
        return self._expand(definition, args, node, local)

    def _call_typed(self, definition: Definition, args: tuple[n.Node, ...], node: n.Node, local) -> ir.IR:
        signature = definition.signature
        values = self._check_all(args, local)
        for position, (value, expected, arg) in enumerate(zip(values, signature.params, args)):
            if not t.assignable(expected, value.type):
                self.error("PE305", arg, name=definition.name, expected=expected, actual=f"{value.type} (#{position + 1})")
            self._enum_literals(arg, expected, value)
            if position in signature.enum_params:  # a string parameter the definition compares with an enum
                self._enum_literals(arg, signature.enum_params[position], value)
        self.parameters_used |= signature.parameters_used
        self.collections_used |= signature.collections_used
        if signature.folded is not None:
            return ir.Const(signature.result, node.span, signature.folded[0])
        return ir.DefCall(signature.result, node.span, definition.name, tuple(values))

    def _expand(self, definition: Definition, args: tuple[n.Node, ...], node: n.Node, local) -> ir.IR:
        if definition.name in self._expanding:
            self.error("PE205", node, name=definition.name)
        if definition.body is None:
            raise CheckFailed  # its syntax error is already reported
        inner, bindings = {}, []
        for param, arg in zip(definition.params, args):
            value = self._check(arg, local)
            if _is_constant(value):  # substituted, so that the body sees a literal (enum checks, no binding)
                inner[param] = value
            else:
                ident = self.fresh(param)
                bindings.append((ident, value))
                inner[param] = ir.Var(value.type, value.span, ident)
        self._expanding.append(definition.name)
        try:
            body = self._check(definition.body, inner)  # lexical scope: the caller's locals are not visible
        finally:
            self._expanding.pop()
        return ir.Let(body.type, node.span, tuple(bindings), body) if bindings else body

    def check_definition(self, definition: Definition, span) -> tuple[ir.IR | None, tuple[str, ...]]:
        """Check a typed definition's body once, with its parameters bound to their declared types:
        (the body's IR or None, the parameters' idents in order)."""
        signature = definition.signature
        idents = tuple(self.fresh(p) for p in definition.params)
        local = {p: ir.Var(tp, span, ident) for p, tp, ident in zip(definition.params, signature.params, idents)}
        self._param_idents = frozenset(idents)
        self._expanding.append(definition.name)
        try:
            if definition.body is None:
                return None, idents
            self._size = 0
            self._root = definition.body
            try:
                body = self._check(definition.body, local)
            except CheckFailed:
                return None, idents
        finally:
            self._expanding.pop()
            self._param_idents = frozenset()
        if not t.assignable(signature.result, body.type):
            self.diagnostics.append(Diagnostic("PE307", definition.body.span, {
                "field": definition.name, "expected": signature.result, "actual": body.type}))
            return None, idents
        try:
            self._enum_literals(definition.body, signature.result, body)
        except CheckFailed:
            return None, idents
        signature.enum_params = {i: self.enum_params[ident] for i, ident in enumerate(idents)
                                 if ident in self.enum_params}
        signature.parameters_used = set(self.parameters_used)
        signature.collections_used = set(self.collections_used)
        return body, idents

    # access -----------------------------------------------------------------------------------
    def _field(self, node: n.Field, local) -> ir.IR:
        target = self._check(node.target, local)
        kind = target.type
        if kind == t.PERIOD and node.name in PERIOD_FIELDS:
            return ir.Attr(PERIOD_FIELDS[node.name], node.span, target, node.name, False, node.name)
        if kind == t.DATE and node.name in DATE_FIELDS:
            return ir.Attr(DATE_FIELDS[node.name], node.span, target, node.name, False, node.name)
        if isinstance(kind, t.RecordType):
            fields = self.env.fields_of(kind)
            if node.name in fields:
                field_type, optional = fields[node.name]
                return ir.Attr(field_type, node.span, target, node.name, optional, f"{kind.name}.{node.name}",
                               kind.name in self.env.mapping_records)
        self.error("PE202", node, type=kind, name=node.name, **hints.field_hint(kind, node.name, self.env))

    def _index(self, node: n.Index, local) -> ir.IR:
        target = self._check(node.target, local)
        key = self._check(node.key, local)
        label = f"{_label(target)}"
        if isinstance(target.type, t.MapType):
            if t.unify(key.type, target.type.key) is None:
                self.error("PE305", node.key, name="[]", expected=target.type.key, actual=key.type)
            return ir.Lookup(target.type.value, node.span, target, key, label, False)
        if isinstance(target.type, t.ListType):
            if key.type != t.NUMBER:
                self.error("PE305", node.key, name="[]", expected=t.NUMBER, actual=key.type)
            self._whole_constant(key, node.key, "[]", negative=False)
            return ir.Lookup(target.type.element, node.span, target, key, label, True)
        self.error("PE306", node.target, actual=target.type)

    # operators --------------------------------------------------------------------------------
    def _unary(self, node: n.Unary, local) -> ir.IR:
        operand = self._check(node.operand, local)
        if node.op == "not":
            self._boolean(operand, node.operand)
            return ir.Not(t.BOOL, node.span, operand)
        if operand.type not in (t.NUMBER, t.MONEY):
            self.error("PE301", node, op="-", left=operand.type, right="")
        return ir.Neg(operand.type, node.span, operand)

    def _binary(self, node: n.Binary, local) -> ir.IR:
        left, right = self._check_all((node.left, node.right), local)
        op = node.op
        if op in ("and", "or"):
            self._boolean(left, node.left)
            self._boolean(right, node.right)
            return ir.Op(t.BOOL, node.span, op, left, right)
        if op in ("in", "not_in"):
            return self._membership(node, left, right)
        if op in ("==", "!=", "<", "<=", ">", ">="):
            self._comparable(node, left, right, ordered=op not in ("==", "!="))
            if isinstance(left, ir.Const) and isinstance(right, ir.Const) and op in ("==", "!="):
                return ir.Const(t.BOOL, node.span, (left.value == right.value) == (op == "=="))  # folded
            names = {"==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
            return ir.Op(t.BOOL, node.span, names[op], left, right)
        result_type, resolved = _arithmetic(op, left.type, right.type)
        if result_type is None:
            self.error("PE301", node, op=op, left=left.type, right=right.type)
        return ir.Op(result_type, node.span, resolved, left, right)

    def _membership(self, node: n.Binary, left: ir.IR, right: ir.IR) -> ir.IR:
        if right.type == t.PERIOD and left.type == t.DATE:
            op = "in_period" if node.op == "in" else "not_in_period"
            return ir.Op(t.BOOL, node.span, op, left, right)
        if isinstance(right.type, t.ListType) and t.unify(left.type, right.type.element) is not None:
            self._enum_literals(node, left.type, right)
            self._enum_literals(node, right.type.element, left)
            return ir.Op(t.BOOL, node.span, node.op, left, right)
        self.error("PE301", node, op=node.op.replace("_", " "), left=left.type, right=right.type)

    def _between(self, node: n.Between, local) -> ir.IR:
        value, low, high = self._check_all((node.value, node.low, node.high), local)
        self._comparable(node, value, low, ordered=True)
        self._comparable(node, value, high, ordered=True)
        return ir.Between(t.BOOL, node.span, value, low, high)

    def _conditional(self, node: n.Conditional, local) -> ir.IR:
        condition, then, otherwise = self._check_all((node.condition, node.then, node.otherwise), local)
        self._boolean(condition, node.condition)
        common = t.unify(then.type, otherwise.type)
        if common is None:
            self.error("PE301", node, op="if/else", left=then.type, right=otherwise.type)
        if isinstance(condition, ir.Const):  # e.g. a choice parameter: only the chosen branch is compiled
            return attrs.evolve(then if condition.value else otherwise, type=common)
        return ir.Cond(common, node.span, condition, then, otherwise)

    def _listliteral(self, node: n.ListLiteral, local) -> ir.IR:
        items = tuple(self._check_all(node.items, local))
        element = t.ANY
        for item, item_node in zip(items, node.items):
            unified = t.unify(element, item.type)
            if unified is None:
                self.error("PE301", item_node, op="[…]", left=element, right=item.type)
            element = unified
        return ir.ListOf(t.list_of(element), node.span, items)

    # calls and comprehensions -----------------------------------------------------------------
    def _call(self, node: n.Call, local) -> ir.IR:
        if node.function in self.env.definitions:
            return self._use(self.env.definitions[node.function], node.args, node, local)
        if node.function == "has":
            return self._has(node, local)
        if node.function == "__invalid_literal__":
            self.error("PE308", node, text=node.args[0].value)
        from policyengine.functions import FUNCTIONS, check_call

        if node.function not in FUNCTIONS:
            self.error("PE203", node, name=node.function, **hints.function_hint(node.function, self.env))
        args = tuple(self._argument(node.function, i, a, local) for i, a in enumerate(node.args))
        result, problem = check_call(node.function, args)
        if problem is not None:
            code, details = problem
            self.error(code, node, name=node.function, **details)
        for position in WHOLE_ARGUMENTS.get(node.function, ()):
            self._whole_constant(args[position], node.args[position], node.function, negative=True)
        return ir.Builtin(result, node.span, node.function, args)

    def _whole_constant(self, checked: ir.IR, node: n.Node, name: str, negative: bool) -> None:
        """A written number where a whole one is needed (round's digits, date's parts, a list index):
        1.5 is an error here (PE310), never truncated; so is a negative index. Computed values are
        checked when evaluated (runtime.whole, runtime.index)."""
        value = _constant_number(checked)
        if value is not None and (value != int(value) or not negative and value < 0):
            self.error("PE310", node, name=name, value=value, expected_zh="非负整数" if not negative else "整数",
                       expected_en="a whole number ≥ 0" if not negative else "a whole number")

    def _argument(self, function: str, position: int, node: n.Node, local) -> ir.IR:
        if function == "round" and position == 2 and isinstance(node, n.Name):
            if node.name in ROUNDING_MODES:
                return ir.Const(t.ROUNDING, node.span, node.name)
            mode = None if node.name in local else self.choice(node, node.name, tuple(ROUNDING_MODES), "rounding mode")
            if mode is not None:  # a parameter chooses the mode: folded to a constant now
                return ir.Const(t.ROUNDING, node.span, mode)
        return self._check(node, local)

    def choice(self, node: n.Node, name: str, allowed: tuple[str, ...], what: str) -> str | None:
        """The value of a string parameter `name` that chooses one of `allowed` (a rounding mode, a
        quantifier, a period kind), or None when `name` is no parameter. A value (or a declared
        choice) outside `allowed` is PE419."""
        parameter = self.env.parameters.get(name)
        if parameter is None or name in self.env.lets or name in self.env.definitions or not isinstance(
                parameter.value, str):
            return None
        self.parameters_used.add(name)
        if parameter.value not in allowed:
            self.error("PE419", node, name=name, value=repr(parameter.value), what=what, allowed=", ".join(allowed))
        return parameter.value

    def _has(self, node: n.Call, local) -> ir.IR:
        if len(node.args) != 1:
            self.error("PE204", node, name="has", expected=1, actual=len(node.args))
        operand = self._check(node.args[0], local)
        if not isinstance(operand, (ir.Attr, ir.Lookup)):
            self.error("PE305", node, name="has", expected="x.field | x[key]", actual=operand.type)
        return ir.Has(t.BOOL, node.span, operand)

    def _aggregate(self, node: n.Aggregate, local) -> ir.IR:
        if node.function not in AGGREGATES:
            chosen = self.choice(node, node.function, QUANTIFIERS, "quantifier")
            if chosen is None:
                self.error("PE203", node, name=node.function, **hints.function_hint(node.function, self.env))
            node = attrs.evolve(node, function=chosen)  # `q(p for x in xs)`: the parameter q says all or any
        source = self._check(node.source, local)
        if not isinstance(source.type, t.ListType):
            self.error("PE306", node.source, actual=source.type)
        ident = self.fresh(node.var)
        inner = dict(local)
        inner[node.var] = ir.Var(source.type.element, node.span, ident)
        element = self._check(node.element, inner)
        condition = None
        if node.condition is not None:
            condition = self._check(node.condition, inner)
            self._boolean(condition, node.condition)
        result = self._aggregate_type(node, element)
        return ir.Comprehension(result, node.span, node.function, element, ident, source, condition)

    def _aggregate_type(self, node: n.Aggregate, element: ir.IR) -> t.Type:
        f = node.function
        if f == "count":
            return t.NUMBER
        if f == "sum":
            if element.type not in (t.NUMBER, t.MONEY):
                self.error("PE305", node.element, name="sum", expected="number | money", actual=element.type)
            return element.type
        if f in ("min", "max"):
            if element.type not in ORDERED:
                self.error("PE305", node.element, name=f, expected="number | money | date", actual=element.type)
            return element.type
        if f in ("all", "any"):
            self._boolean(element, node.element)
            return t.BOOL
        if f == "first":
            return element.type
        return t.list_of(element.type)

    # helpers ----------------------------------------------------------------------------------
    def _boolean(self, value: ir.IR, node: n.Node) -> None:
        if value.type != t.BOOL:
            self.error("PE303", node, actual=value.type)

    def _comparable(self, node: n.Node, left: ir.IR, right: ir.IR, ordered: bool) -> None:
        common = t.unify(left.type, right.type)
        if common is None or (ordered and not (common in ORDERED or isinstance(common, t.EnumType))):
            self.error("PE302", node, left=left.type, right=right.type)
        self._enum_literals(node, left.type, right)
        self._enum_literals(node, right.type, left)

    def enum_literals(self, node: n.Node, expected: t.Type, value: ir.IR) -> None:
        """Public for the elaborator (template arguments): raises CheckFailed after reporting PE304."""
        self._enum_literals(node, expected, value)

    def _enum_literals(self, node: n.Node, expected: t.Type, value: ir.IR) -> None:
        """A string literal compared with an enum must be one of its values (catches typos)."""
        if isinstance(expected, t.ListType):
            expected = expected.element
        if not isinstance(expected, t.EnumType):
            return
        literals = value.items if isinstance(value, ir.ListOf) else (value,)
        for literal in literals:
            if isinstance(literal, ir.Var) and literal.ident in self._param_idents:
                self.enum_params.setdefault(literal.ident, expected)  # checked at each call's literal
                continue
            if not isinstance(literal, ir.Const):
                continue
            # a literal, or a list parameter's value (its strings are checked one by one)
            strings = literal.value if isinstance(literal.value, tuple) else (literal.value,)
            for string in strings:
                if isinstance(string, str) and string not in expected.values:
                    self.diagnostics.append(Diagnostic("PE304", literal.span, {
                        "value": repr(string), "enum": expected.name,
                        "choices": ", ".join(sorted(expected.values))}))
                    raise CheckFailed


def _is_constant(value: ir.IR) -> bool:
    return isinstance(value, ir.Const) or isinstance(value, ir.ListOf) and all(
        isinstance(item, ir.Const) for item in value.items)


def _arithmetic(op: str, a: t.Type, b: t.Type) -> tuple[t.Type | None, str]:
    table = {
        ("+", t.NUMBER, t.NUMBER): (t.NUMBER, "add"), ("+", t.MONEY, t.MONEY): (t.MONEY, "add"),
        ("-", t.NUMBER, t.NUMBER): (t.NUMBER, "sub"), ("-", t.MONEY, t.MONEY): (t.MONEY, "sub"),
        ("*", t.NUMBER, t.NUMBER): (t.NUMBER, "mul"), ("*", t.MONEY, t.NUMBER): (t.MONEY, "mul"),
        ("*", t.NUMBER, t.MONEY): (t.MONEY, "mul"), ("/", t.NUMBER, t.NUMBER): (t.NUMBER, "div"),
        ("/", t.MONEY, t.NUMBER): (t.MONEY, "div"), ("/", t.MONEY, t.MONEY): (t.NUMBER, "div"),
        ("+", t.DATE, t.DURATION): (t.DATE, "date_add"), ("-", t.DATE, t.DURATION): (t.DATE, "date_sub"),
        ("+", t.STRING, t.STRING): (t.STRING, "concat"),
    }
    if op == "+" and t.is_stringlike(a) and t.is_stringlike(b):
        return t.STRING, "concat"
    if op == "+" and isinstance(a, t.ListType) and isinstance(b, t.ListType) and t.unify(a, b) is not None:
        return t.unify(a, b), "concat"
    return table.get((op, a, b), (None, ""))


def _label(value: ir.IR) -> str:
    if isinstance(value, ir.Attr):
        return value.label
    if isinstance(value, (ir.Var, ir.Global)):
        return getattr(value, "ident", None) or getattr(value, "name", "")
    return "value"


# built-in arguments that must be whole numbers (checked when written as constants)
WHOLE_ARGUMENTS = {"round": (1,), "date": (0, 1, 2)}


def _constant_number(node: ir.IR) -> Any:
    """The value of a written number (`1.5`, `-1`), or None."""
    if isinstance(node, ir.Neg):
        inner = _constant_number(node.operand)
        return -inner if inner is not None else None
    if isinstance(node, ir.Const) and type(node.value) in (int, Decimal):
        return node.value
    return None
