"""Compiler: checked IR → Python functions, generated as source and compiled once.

Each expression becomes one Python function whose body is a single expression. Constants (Decimal,
dates, parameter values, built-in implementations) are closure variables, names were resolved by
the checker, and no IR or AST node is referenced by the result: evaluating a record runs plain
Python bytecode with no lookups, parsing or type dispatch. Policy text never becomes Python text:
strings and numbers enter the generated code only as closure constants or `repr` of int/bool.
"""

from __future__ import annotations

import decimal
import itertools
import keyword
import operator
import re
import weakref
from decimal import Decimal
from typing import Any, Callable, Mapping, Sequence

import attrs

from policyengine import cost, hoist, ir, limits
from policyengine import runtime
from policyengine import typesys as t
from policyengine.functions import FUNCTIONS, NULLABLE_ARGUMENTS

_SAFE_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_BINARY = {"add": "+", "sub": "-", "mul": "*", "eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">",
           "ge": ">=", "in": "in", "not_in": "not in", "and": "and", "or": "or"}


class _Generator:
    """Emits the Python expression for an IR tree, collecting the closure constants it needs."""

    def __init__(self, functions: Mapping[str, Callable] | None = None) -> None:
        self.functions = functions or {}  # typed definition name → its compiled function
        self.constants: dict[str, Any] = {}
        self._by_identity: dict[int, str] = {}
        self._temps = itertools.count()
        self._iterable_depth = 0  # > 0 while emitting a comprehension's iterable: no walrus there
        self.spans: list = []  # marker number → the policy span of the IR node emitted inside it
        self.loops = False  # whether the code iterates or multiplies (and so spends the budget)

    def constant(self, value: Any) -> str:
        if type(value) in (int, bool) or value is None:
            return repr(value)
        key = id(value)
        if key not in self._by_identity:
            name = f"_c{len(self.constants)}"
            self.constants[name] = value
            self._by_identity[key] = name
        return self._by_identity[key]

    def temp(self) -> str:
        return f"_t{next(self._temps)}"

    def emit(self, node: ir.IR, iterable: bool = False) -> str:
        if not iterable:
            return self._mark(node, getattr(self, f"_{type(node).__name__.lower()}")(node, self._iterable_depth > 0))
        self._iterable_depth += 1
        try:
            return self._mark(node, getattr(self, f"_{type(node).__name__.lower()}")(node, True))
        finally:
            self._iterable_depth -= 1

    def _mark(self, node: ir.IR, text: str) -> str:
        """`text` between markers naming node's span (`_unmark` removes them and keeps where each
        node's code lies, so that a failure is reported at the policy text that failed)."""
        self.spans.append(node.span)
        return f"\x00{len(self.spans) - 1}\x01{text}\x02"

    # leaves -----------------------------------------------------------------------------------
    def _const(self, node: ir.Const, iterable: bool) -> str:
        return self.constant(node.value)

    def _var(self, node: ir.Var, iterable: bool) -> str:
        return _python_name(node.ident)

    def _global(self, node: ir.Global, iterable: bool) -> str:
        return self._read("_g", node.name)

    def _read(self, target: str, name: str) -> str:
        """`target.name`; a name that is no plain identifier (a schema extension may declare one)
        is read through an attrgetter constant, never spliced into the code."""
        if _SAFE_IDENT.match(name) and not keyword.iskeyword(name):
            return f"{target}.{name}"
        return f"{self.constant(operator.attrgetter(name))}({target})"

    # access -----------------------------------------------------------------------------------
    def _attr(self, node: ir.Attr, iterable: bool, *, nullable: bool = False) -> str:
        target = self.emit(node.target)
        name = node.name
        if node.mapping_access:
            read = f"{target}.get({name!r})" if node.required or nullable else f"{target}[{name!r}]"
        else:
            read = self._read(target, name)
        if not node.required or nullable:
            return read
        label = self.constant(node.label)
        if iterable or self._iterable_depth:  # walrus is not allowed in a comprehension's iterable
            return f"_rt.require_present({read}, {label})"
        tmp = self.temp()
        return f"({tmp} if ({tmp} := {read}) is not None else _absent({label}))"

    def _lookup(self, node: ir.Lookup, iterable: bool) -> str:
        label = self.constant(node.label)
        target, key = self.emit(node.target), self.emit(node.key)
        if node.on_list:
            return f"_rt.index({target}, {key}, {label})"
        if iterable:
            return f"_rt.lookup({target}, {key}, {label})"
        # inline: one dict.get; a miss calls _rt.lookup again, which raises Absent naming the key
        mapping, k, value, missing = self.temp(), self.temp(), self.temp(), self.constant(_MISSING)
        return (f"({value} if ({value} := ({mapping} := {target}).get(({k} := {key}), {missing})) "
                f"is not {missing} else _rt.lookup({mapping}, {k}, {label}))")

    # operators --------------------------------------------------------------------------------
    def _op(self, node: ir.Op, iterable: bool) -> str:
        left, right = self.emit(node.left), self.emit(node.right)
        if node.op == "div":
            return f"_rt.divide_money({left}, {right})" if node.type == t.MONEY else f"_rt.divide({left}, {right})"
        if node.type == t.MONEY and node.op in _MONEY_OPS:  # exact, never rounded (runtime.MONEY_CONTEXT)
            return f"{self.constant(_MONEY_OPS[node.op])}({left}, {right})"
        if node.op == "date_add":
            return f"_rt.add_duration({left}, {right})"
        if node.op == "date_sub":
            return f"_rt.add_duration({left}, {right}, -1)"
        if node.op == "in_period":
            return f"({left} in {right})"
        if node.op == "not_in_period":
            return f"({left} not in {right})"
        if node.op == "concat":  # texts and lists built: bounded (runtime.built)
            self.loops = True
            return f"_rt.plus({left}, {right})"
        if node.op == "mul" and node.type == t.NUMBER:  # integers: bounded (runtime.multiply)
            self.loops = True  # (and so the function called directly sets the integer bound too)
            return f"_rt.multiply({left}, {right})"
        return f"({left} {_BINARY[node.op]} {right})"

    def _not(self, node: ir.Not, iterable: bool) -> str:
        return f"(not {self.emit(node.operand)})"

    def _neg(self, node: ir.Neg, iterable: bool) -> str:
        if node.type == t.MONEY:
            return f"{self.constant(runtime.money_neg)}({self.emit(node.operand)})"
        return f"(-{self.emit(node.operand)})"

    def _between(self, node: ir.Between, iterable: bool) -> str:
        return f"({self.emit(node.low)} <= {self.emit(node.value)} <= {self.emit(node.high)})"

    def _cond(self, node: ir.Cond, iterable: bool) -> str:
        return f"({self.emit(node.then)} if {self.emit(node.condition)} else {self.emit(node.otherwise)})"

    def _listof(self, node: ir.ListOf, iterable: bool) -> str:
        if all(isinstance(item, ir.Const) for item in node.items):
            return self.constant(tuple(item.value for item in node.items))
        return "(" + "".join(f"{self.emit(item)}, " for item in node.items) + ")"

    # calls ------------------------------------------------------------------------------------
    def _builtin(self, node: ir.Builtin, iterable: bool) -> str:
        nullable = NULLABLE_ARGUMENTS.get(node.function, set())
        args = [self._attr(a, False, nullable=True) if i in nullable and isinstance(a, ir.Attr) else self.emit(a)
                for i, a in enumerate(node.args)]
        if node.function in ("min", "max"):
            if len(args) > 1:
                return f"{node.function}({', '.join(args)})"
            helper = "minimum" if node.function == "min" else "maximum"
            return f"_rt.{helper}({args[0]}, {self.constant(node.function + '(…)')})"
        implementation = FUNCTIONS[node.function][1]
        if node.type == t.MONEY and node.function in _MONEY_BUILTINS:
            implementation = _MONEY_BUILTINS[node.function]
        if node.function in ("concat", "flatten", "replace"):
            self.loops = True  # they spend the budget (runtime.built)
        return f"{self.constant(implementation)}({', '.join(args)})"

    def _has(self, node: ir.Has, iterable: bool) -> str:
        operand = node.operand
        if isinstance(operand, ir.Attr):
            return f"({self._present(operand)} is not None)"
        key = self.emit(operand.key)
        if isinstance(operand.target, ir.Attr) and self._optional_on_the_way(operand.target):
            return f"_rt.has_key({self._present(operand.target)}, {key}, {operand.on_list!r})"
        target = self.emit(operand.target)
        if operand.on_list:
            return f"(0 <= {key} < len({target}))"
        return f"({key} in {target})"

    def _present(self, node: ir.Attr) -> str:
        """A field chain's value, or None when it or any optional parent on the way is absent: has() of a
        field through an absent parent is false, never absent itself (has(c.agreement.signed_on))."""
        if not self._optional_on_the_way(node.target):
            return self._attr(node, False, nullable=True)
        getter = operator.methodcaller("get", node.name) if node.mapping_access else operator.attrgetter(node.name)
        return f"_rt.present({self._present(node.target)}, {self.constant(getter)})"

    @staticmethod
    def _optional_on_the_way(node: ir.IR) -> bool:
        while isinstance(node, ir.Attr):
            if node.required:
                return True
            node = node.target
        return False

    def _comprehension(self, node: ir.Comprehension, iterable: bool) -> str:
        var = _python_name(node.ident)
        source = self.emit(node.source, iterable=True)
        element = self.emit(node.element)
        test = self.emit(node.condition) if node.condition is not None else None
        condition = f" if {test}" if test is not None else ""
        self.loops = True
        loop = f"for {var} in _rt.trips({source}){condition}"  # every element a trip of the budget
        f = node.function
        if f == "count":
            return f"len({source})" if not condition else f"len([None {loop}])"
        if f == "sum" and node.type == t.MONEY:
            return f"{self.constant(runtime.money_sum)}([{element} {loop}])"
        if f == "sum":
            return f"sum([{element} {loop}], 0)"
        if f in ("all", "any"):  # each item judged on its own: the result never depends on the items' order
            skipped = "True" if f == "all" else "False"  # an item the condition leaves out decides nothing
            judged = element if test is None else f"(({element}) if ({test}) else {skipped})"
            return f"_rt.{f}_of(lambda {var}: {judged}, _rt.trips({source}))"
        if f in ("min", "max", "first"):
            helper = {"min": "minimum", "max": "maximum", "first": "first"}[f]
            return f"_rt.{helper}(({element} {loop}), {self.constant(f + '(…)')})"
        if f == "distinct":
            return f"_rt.distinct({element} {loop})"
        return f"tuple([{element} {loop}])"

    def _defcall(self, node: ir.DefCall, iterable: bool) -> str:
        function = self.constant(self.functions[node.name])
        return f"{function}({''.join(self.emit(a) + ', ' for a in node.args)}_g)"

    # hoisted subject-independent parts (hoist.py) ------------------------------------------------
    def _shared(self, node: hoist.Shared, iterable: bool) -> str:
        function = compile_ir(node.node, ("_g",), "shared", functions=self.functions, hoisting=False)
        return f"{self.constant(hoist.shared)}(_g, {self.constant(object())}, {self.constant(function)})"

    def _filtered(self, node: hoist.Filtered, iterable: bool) -> str:
        element = ir.Var(node.type, node.span, node.ident)
        if node.key is not None:
            element = ir.ListOf(node.type, node.span, (node.key, element))
        listing = ir.Comprehension(node.type, node.span, "list", element, node.ident, node.source, node.condition)
        function = compile_ir(listing, ("_g",), "filtered", functions=self.functions, hoisting=False)
        return (f"{self.constant(hoist.filtered)}(_g, {self.constant(object())}, {self.constant(function)}, "
                f"{node.key is not None!r})")

    def _guarded(self, node: hoist.Guarded, iterable: bool) -> str:
        return f"({self.emit(node.fast)} if {self.emit(node.check)} is not None else {self.emit(node.original)})"

    def _probe(self, node: hoist.Probe, iterable: bool) -> str:
        index = self.emit(node.index)
        return f"(() if not {index} else {index}.get({self.emit(node.key)}, ()))"

    def _let(self, node: ir.Let, iterable: bool) -> str:
        names = ", ".join(_python_name(ident) for ident, _ in node.bindings)
        values = ", ".join(self.emit(value) for _, value in node.bindings)
        return f"(lambda {names}: {self.emit(node.body)})({values})"


def _python_name(ident: str) -> str:
    return "v_" + mangle(ident)


def mangle(name: str) -> str:
    """Any text → a Python identifier, injectively: ASCII letters and digits stay, `_` doubles, every
    other character becomes `_x<hex>_`. Emitted names never come from policy text unmangled."""
    out = []
    for ch in name:
        if ch.isascii() and ch.isalnum():
            out.append(ch)
        elif ch == "_":
            out.append("__")
        else:
            out.append(f"_x{ord(ch):x}_")
    return "".join(out)


def function_name(*parts: str) -> str:
    """A readable, always valid name for a generated function (it labels tracebacks and profiles;
    unlike variables, function names need not be distinct)."""
    return "f_" + re.sub(r"[^A-Za-z0-9_]", "_", "__".join(parts))


def compile_ir(node: ir.IR, parameters: Sequence[str], name: str = "expression", *,
               own_decimal_context: bool = False, functions: Mapping[str, Callable] | None = None,
               hoisting: bool = True) -> Callable:
    """Compile one checked expression to a function of `parameters` (identifiers of bound variables;
    `_g` for the evaluation context). `functions`: the compiled typed definitions that `DefCall`s
    name (compiled before, callees first).

    `own_decimal_context`: the function itself runs its decimal arithmetic in
    `runtime.DECIMAL_CONTEXT`, whatever the caller's context (for functions called directly, as
    `compile_expression`'s are; the evaluator sets the context once for a whole evaluation). Only
    an expression whose result can depend on the context (`+ - *`, negation, `sum`, `abs`) pays for
    the switch, and not when the thread already runs in that very context. A caller's context that
    merely looks alike is not enough: its traps (Inexact, or no Overflow) would change the outcome."""
    scanning = hoist.scans(node, functions or {})
    if hoisting and "_g" in parameters and scanning:  # a rule or definition function: its subject-independent scans run once
        node = hoist.rewrite(node, functions or {})
    generator = _Generator(functions)
    body, intervals = _unmark(generator.emit(node), generator.spans)
    if _nesting(body) > _PYTHON_NESTING:  # Python's own parser would refuse it (too many nested parentheses)
        from policyengine.diagnostics import Diagnostic, PolicyError

        raise PolicyError([Diagnostic("PE510", node.span, {"limit": f"{_PYTHON_NESTING} brackets of generated code"})])
    arguments = ", ".join(p if p == "_g" else _python_name(p) for p in parameters)
    closure = ", ".join(["_rt", "_absent", "_getcontext", "_setcontext", "_context", *generator.constants])
    function_name = name if _SAFE_IDENT.match(name) and not name.startswith("_") else "f_" + mangle(name)
    # called directly (compile_expression), the function starts its own loop-trip budget
    bounds = limits.current()
    budget = (f"        _rt.BUDGET.start({bounds.max_loop_trips}, {bounds.max_integer_digits}, "
              f"{bounds.max_value_length})\n"
              if own_decimal_context and generator.loops else "")
    if own_decimal_context and _depends_on_decimal_context(node):
        source = (f"def _make({closure}):\n"
                  f"    def {function_name}({arguments}):\n"
                  f"{budget}"
                  f"        _saved = _getcontext()\n"
                  f"        if _saved is _context:\n"
                  f"            return {body}  # already in the engine's context: no switch needed\n"
                  f"        _setcontext(_context)\n"
                  f"        try:\n"
                  f"            return {body}\n"
                  f"        finally:\n"
                  f"            _setcontext(_saved)\n"
                  f"    return {function_name}\n")
    else:
        source = (f"def _make({closure}):\n"
                  f"    def {function_name}({arguments}):\n"
                  f"{budget}"
                  f"        return {body}\n"
                  f"    return {function_name}\n")
    namespace: dict[str, Any] = {"__builtins__": _BUILTINS}
    exec(compile(source, f"<policyengine:{name}>", "exec"), namespace)
    function = namespace["_make"](runtime, _absent, decimal.getcontext, decimal.setcontext,
                                  runtime.DECIMAL_CONTEXT, *generator.constants.values())
    function.__policyengine_source__ = source
    _register(function.__code__, _body_starts(source, body), intervals, node.span)
    function.__policyengine_scans__ = scanning  # whether a call may iterate a province-wide collection
    function.__policyengine_cost__ = cost.estimate(node, functions or {}, limits.current())  # PE508 (cost.py)
    return function


# where the generated code came from: code object → {line → (byte column where the expression starts,
# (start, end, span) of each IR node's code in it, the span of the whole expression)} (register_lines)
# Keyed by identity: code objects compare equal when only their file names or comments differ (the same
# rule in two policies), and each must keep its own policy text. An entry goes with its code object.
_LOCATIONS: dict[int, tuple] = {}
_MARKER = re.compile(r"(\x00\d+\x01|\x02)")


_PYTHON_NESTING = 180  # brackets open at once in generated code; CPython's parser stops at 200
_BRACKETS = re.compile(r"[()\[\]{}]")


def _nesting(code: str) -> int:
    """The deepest bracket nesting of `code` (brackets inside string constants count too: an upper bound)."""
    if code.count("(") + code.count("[") + code.count("{") <= _PYTHON_NESTING:
        return 0
    depth = deepest = 0
    for bracket in _BRACKETS.findall(code):
        depth += 1 if bracket in "([{" else -1
        deepest = max(deepest, depth)
    return deepest


def _unmark(marked: str, spans: list) -> tuple[str, tuple]:
    """The code without markers, and (start, end, span) per marked node, in UTF-8 byte offsets
    (the unit of code positions); innermost nodes first."""
    out, open_nodes, intervals, position = [], [], [], 0
    for piece in _MARKER.split(marked):
        if piece.startswith("\x00"):
            open_nodes.append((int(piece[1:-1]), position))
        elif piece == "\x02":
            k, start = open_nodes.pop()
            intervals.append((start, position, spans[k]))
        elif piece:
            out.append(piece)
            position += len(piece.encode("utf-8"))
    return "".join(out), tuple(intervals)


def _body_starts(source: str, body: str) -> dict[int, int]:
    starts = {}
    for number, line in enumerate(source.split("\n"), start=1):
        at = line.find("return " + body)
        if at >= 0:
            starts[number] = len(line[:at + len("return ")].encode("utf-8"))
    return starts


def _register(code: Any, starts: dict, intervals: tuple, span: Any) -> None:
    register_lines(code, {line: (col, intervals, span) for line, col in starts.items()}, span)


def register_lines(code: Any, lines: dict, elsewhere: Any = None) -> None:
    """Record where generated code came from: `lines` maps a line of `code` (and of the code objects
    nested in it: lambdas, comprehensions, functions) to (byte column where its expression starts,
    (start, end, span) of each IR node's code in that expression, the span of the whole expression).
    `elsewhere`: the span a failure on any other line is reported at (None: such a line is engine
    code, which is no policy expression)."""
    if id(code) not in _LOCATIONS:
        weakref.finalize(code, _LOCATIONS.pop, id(code), None)
    _LOCATIONS[id(code)] = (lines, elsewhere)
    for constant in code.co_consts:
        if type(constant) is type(code):
            register_lines(constant, lines, elsewhere)


def error_location(traceback: Any) -> Any:
    """The policy span of the innermost generated expression on `traceback` that was running when
    the error was raised (a rule's condition, or the definition it called), or None."""
    found = None
    while traceback is not None:
        table = _LOCATIONS.get(id(traceback.tb_frame.f_code))
        if table is not None:
            found = (traceback, table)
        traceback = traceback.tb_next
    if found is None:
        return None
    traceback, (lines, elsewhere) = found
    code = traceback.tb_frame.f_code
    try:
        line, _, col, end_col = list(code.co_positions())[traceback.tb_lasti // 2]
    except (IndexError, ValueError):
        line = col = end_col = None
    if line not in lines:
        return elsewhere
    start, intervals, span = lines[line]
    if col is None or end_col is None:
        return span
    col, end_col = col - start, end_col - start
    inside = [(end - begin, s) for begin, end, s in intervals if begin <= col and end_col <= end]
    return min(inside, key=lambda pair: pair[0])[1] if inside else span


def _absent(what: str):
    raise runtime.Absent(what)


_MISSING = object()  # a map key that is not there (map values are never this object)
_MONEY_OPS = {"add": runtime.money_add, "sub": runtime.money_sub, "mul": runtime.money_mul}
_MONEY_BUILTINS = {"sum": runtime.money_sum, "abs": runtime.money_abs}
_CONTEXT_BUILTINS = frozenset({"sum", "abs"})


def _depends_on_decimal_context(node: ir.IR) -> bool:
    """Whether evaluating `node` may round in the thread's decimal context: Decimal `+ - *`,
    negation, sums and abs do; comparisons, division, round and allocate (explicit contexts or
    integer arithmetic), ceil/floor and the other built-ins do not."""
    if isinstance(node, ir.Op) and node.op in ("add", "sub", "mul") or isinstance(node, ir.Neg):
        return True
    if isinstance(node, ir.Comprehension) and node.function == "sum":
        return True
    if isinstance(node, ir.Builtin) and node.function in _CONTEXT_BUILTINS:
        return True
    for field in attrs.fields(type(node)):
        value = getattr(node, field.name)
        children = value if isinstance(value, tuple) else (value,)
        for child in children:
            if isinstance(child, tuple):  # Let bindings: (name, IR)
                child = child[1]
            if isinstance(child, ir.IR) and _depends_on_decimal_context(child):
                return True
    return False


# The generated code sees only these builtins: no import, open, getattr, eval …
_BUILTINS = {"len": len, "sum": sum, "all": all, "any": any, "min": min, "max": max, "tuple": tuple}
