"""Rule code generation: one Python function per rule, written as statements (issue 19, item 3).

The evaluator's outcome table (docs/language.md §3: `judge` and its helpers in evaluator.py, which
stay as the reference) is unrolled for one rule into a generated module: the subject and period
loops, `when` → the period check → `due` → the kind's own test, the `values:`, and one row appended
per finding, with every expression inline. What the interpreter decides per finding (which kind,
which conditions, their names, the currency) is decided here once, when the code is written.

- A `when` condition that does not read `period` is evaluated at most once per subject (on first need,
  its result or its error kept for the subject's other periods).
- An untyped definition (a macro, `ir.Let`) becomes a module-level function of its arguments and the
  subject variables it reads, not a lambda made on the spot.
- Source map, as Jinja's code generator keeps one: every expression is written on its own line with a
  `# file:line:col` comment naming the policy text; the module is registered with `linecache` (so
  tracebacks show the generated code) and its lines with `compiler.register_lines` (so an `error`
  finding's `error_at` names the policy span of the expression that failed).

Evaluation order and laziness are the interpreter's: every expression runs exactly when `judge`
would run it, and an error or absent data becomes the same finding. (A `when` result kept for a
subject spends the loop-trip budget of the first period's finding only.)
"""

from __future__ import annotations

import itertools
import linecache
from decimal import Decimal
from typing import Any, Callable, Mapping

import attrs

from policyengine import compiler, hoist, ir, rulekinds, runtime
from policyengine.typesys import Type as t_Type
from policyengine.compiler import _BUILTINS, _Generator, _python_name, _unmark  # noqa: PLC2701 (the one emitter)


@attrs.frozen(eq=False)
class RuleProgram:
    """A rule's checked expressions, kept for code generation (the rule's functions are compiled
    one per expression, for explanations; the generated rule function is made on first use)."""

    variables: tuple[str, ...]  # the rule's bound variables in call order (its subject's, then period)
    when: tuple[tuple[str | None, ir.IR], ...]
    require: tuple[tuple[str | None, ir.IR], ...]
    grant: tuple[tuple[str | None, ir.IR], ...]
    single: Mapping[str, ir.IR]  # exception, due, amount, pays_when, value (those the rule has)
    values: tuple[tuple[str, ir.IR], ...]
    functions: Mapping[str, Callable]  # the compiled typed definitions the expressions call
    made: list = attrs.field(factory=list)  # [(function, source)] once generated


def function_of(rule: Any) -> Callable | None:
    """The generated function of `rule` (made on first use), or None for a rule without a program."""
    program = rule.program
    if program is None:
        return None
    if not program.made:
        program.made.append(generate(rule))
    return program.made[0][0]


def source_of(rule: Any) -> str | None:
    if function_of(rule) is None:
        return None
    return rule.program.made[0][1]


# run-time helpers the generated code calls (their lines are engine code: no policy span) ----------
_MODULES = itertools.count(1)
_UNSET = object()  # a subject's `when` result not computed yet


def _data_absent(absent: runtime.Absent) -> tuple:
    return ("reason", f"缺少数据 / data absent: {absent.what}")


def _period_open(period: runtime.Period) -> tuple:
    return ("reason", f"期间未结束 / period open until {period.end.isoformat()}")


def _error_items(error: BaseException) -> list:
    from policyengine.evaluator import error_values

    return list(error_values(error).items())


def _value_failed(name: str, error: BaseException) -> str:
    from policyengine.evaluator import error_values

    details = error_values(error)
    return f"{name}: {details['error_code']} {details['error']}"


def _failure_items(failure: tuple) -> list:
    name, error = failure
    items = _error_items(error)
    items[0] = ("error", f"values.{name}: {items[0][1]}")
    return items


def _money(amount: Any) -> Decimal:
    amount = Decimal(amount)
    if amount != amount.quantize(runtime.FEN, context=runtime.MONEY_CONTEXT):
        raise runtime.EvaluationError(
            f"金额 {amount} 不是精确到分的数；请用 round(x, 2, mode) 声明舍入 / "
            f"amount {amount} is not exact to the fen: declare rounding with round(x, 2, mode)", "EV108")
    return amount.quantize(runtime.FEN, context=runtime.MONEY_CONTEXT)


# the expressions' builtins, and what the statements around them use
_RULE_BUILTINS = {**_BUILTINS, "Exception": Exception, "isinstance": isinstance, "sorted": sorted}

SCOPE = ("reason", "不适用 / outside the rule's scope (when)")
NOT_DUE = ("reason", "未到期 / not yet due")
NOT_MET = ("reason", "条件未满足 / conditions not met")
NOT_PAID = ("reason", "支付条件未满足 / paying condition not met (pays_when)")
EXCEPTION = ("exception", True)


def _helpers() -> dict[str, Any]:
    from policyengine.evaluator import plain_value

    return {"_Absent": runtime.Absent, "_BUDGET": runtime.BUDGET, "_UNSET": _UNSET, "_Decimal": Decimal,
            "_plain": plain_value, "_data_absent": _data_absent, "_period_open": _period_open,
            "_error_items": _error_items, "_value_failed": _value_failed, "_failure_items": _failure_items,
            "_money": _money, "_SCOPE": SCOPE, "_NOT_DUE": NOT_DUE, "_NOT_MET": NOT_MET,
            "_NOT_PAID": NOT_PAID, "_EXCEPTION": EXCEPTION, "_ZERO_MONEY": Decimal("0.00"), "_ZERO": Decimal(0)}


# the writer --------------------------------------------------------------------------------------
class _Writer:
    """Lines of Python source, with where each expression line came from."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.locations: dict[int, tuple] = {}  # line number (1-based) → (start byte, intervals, span)

    def line(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)

    def expression(self, depth: int, before: str, marked: str, after: str, spans: list, span: Any) -> None:
        """One statement holding one expression (`marked`, as the generator emits it)."""
        code, intervals = _unmark(marked, spans)
        head = "    " * depth + before
        self.lines.append(f"{head}{code}{after}  # {_where(span)}")
        self.locations[len(self.lines)] = (len(head.encode("utf-8")), intervals, span)

    def extend(self, other: "_Writer") -> None:
        offset = len(self.lines)
        self.lines.extend(other.lines)
        self.locations.update({number + offset: where for number, where in other.locations.items()})


def _where(span: Any) -> str:
    """`file:line:col` for a comment: never more than one line, whatever the file is called."""
    return "".join(ch if ch.isprintable() else "?" for ch in str(span))


class _Emitter(_Generator):
    """The expression generator, with macros (`ir.Let`) written as module-level functions."""

    def __init__(self, functions: Mapping[str, Callable], definitions: _Writer, shared: Mapping[int, str]) -> None:
        super().__init__(functions)
        self.definitions = definitions
        self.shared = shared  # id of a repeated subexpression → the local that keeps its value
        self._lets = 0
        self._nested = 0  # > 0 inside a comprehension or a macro's function: no local of the rule there

    def emit(self, node: ir.IR, iterable: bool = False) -> str:
        local = self.shared.get(id(node))
        if local is None or iterable or self._iterable_depth or self._nested:
            return super().emit(node, iterable)
        # computed where first needed, kept for the other uses; a failure is not kept (each use raises it again)
        return f"({local} if {local} is not _UNSET else ({local} := {super().emit(node)}))"

    def _comprehension(self, node: ir.Comprehension, iterable: bool) -> str:
        self._nested += 1
        try:
            return super()._comprehension(node, iterable)
        finally:
            self._nested -= 1

    def _let(self, node: ir.Let, iterable: bool) -> str:
        bound = [_python_name(ident) for ident, _ in node.bindings]
        outer = [_python_name(ident) for ident in sorted(_free(node.body) - {i for i, _ in node.bindings})]
        values = [self.emit(value) for _, value in node.bindings]
        name = f"_let{self._lets}"
        self._lets += 1
        depth, self._iterable_depth = self._iterable_depth, 0  # a function body of its own: walrus allowed
        self._nested += 1
        try:
            body = self.emit(node.body)
        finally:
            self._iterable_depth = depth
            self._nested -= 1
        self.definitions.line(0, f"def {name}({', '.join([*outer, *bound, '_g'])}):")
        self.definitions.expression(1, "return ", body, "", self.spans, node.body.span)
        self.definitions.line(0, "")
        return f"{name}({', '.join([*outer, *values, '_g'])})"


def _free(node: ir.IR) -> frozenset[str]:
    """The variables `node`'s generated code reads (hoisted parts read only the context)."""
    if isinstance(node, (hoist.Shared, hoist.Filtered)):
        return frozenset()
    if isinstance(node, hoist.Guarded):
        return _free(node.fast) | _free(node.original)
    if isinstance(node, hoist.Probe):
        return _free(node.key)
    if isinstance(node, ir.Var):
        return frozenset((node.ident,))
    if isinstance(node, ir.Comprehension):
        inner = _free(node.element) | (_free(node.condition) if node.condition is not None else frozenset())
        return _free(node.source) | (inner - {node.ident})
    if isinstance(node, ir.Let):
        bound = {ident for ident, _ in node.bindings}
        return frozenset().union(*(_free(v) for _, v in node.bindings)) | (_free(node.body) - bound)
    return frozenset().union(*(_free(child) for child in hoist._children(node)))  # noqa: SLF001


# shared subexpressions -------------------------------------------------------------------------------
_WORTH_KEEPING = (ir.DefCall, ir.Let, ir.Comprehension, ir.Builtin, hoist.Guarded)


def _repeated(expressions: list[ir.IR]) -> list[tuple[ir.IR, tuple]]:
    """The subexpressions worth keeping in a local (calls, macros, comprehensions) that a rule's
    expressions compute more than once — equal up to their spans and the names of their bound
    variables — where the rule's own code runs them (not inside a comprehension or a macro): every
    such occurrence, with its key. Only the outermost of nested repeats are kept."""
    counts: dict[tuple, int] = {}
    keys: dict[int, tuple] = {}  # id of a node → its key (nodes live as long as `expressions`)
    for node in expressions:
        _count(node, counts, keys)
    found: list[tuple[ir.IR, tuple]] = []
    for node in expressions:
        _mark_repeats(node, counts, keys, found)
    return found


def _outer(node: ir.IR):
    """The children of `node` that the rule's own code evaluates (a comprehension's body and a
    macro's body run elsewhere; hoisted parts are compiled on their own)."""
    if isinstance(node, (ir.Comprehension, hoist.Shared, hoist.Filtered)):
        return
    if isinstance(node, ir.Let):
        yield from (value for _, value in node.bindings)
        return
    if isinstance(node, hoist.Guarded):
        yield node.fast
        yield node.original
        return
    yield from hoist._children(node)  # noqa: SLF001


def _count(node: ir.IR, counts: dict, keys: dict) -> None:
    if isinstance(node, _WORTH_KEEPING):
        key = _key(node, {}, keys)
        counts[key] = counts.get(key, 0) + 1
    for child in _outer(node):
        _count(child, counts, keys)


def _mark_repeats(node: ir.IR, counts: dict, keys: dict, found: list) -> None:
    if isinstance(node, _WORTH_KEEPING):
        key = _key(node, {}, keys)
        if counts[key] > 1:
            found.append((node, key))
            return
    for child in _outer(node):
        _mark_repeats(child, counts, keys, found)


def _key(node: Any, bound: dict, keys: dict | None = None) -> Any:
    """`node` as a hashable value without spans, bound variables numbered by where they are bound
    (`keys`: those of nodes with nothing bound around them, computed once)."""
    if keys is None or bound or not isinstance(node, ir.IR):
        return _make_key(node, bound, keys)
    key = keys.get(id(node))
    if key is None:
        key = keys[id(node)] = _make_key(node, bound, keys)
    return key


def _make_key(node: Any, bound: dict, keys: dict | None) -> Any:
    if isinstance(node, ir.Var):
        return ("var", bound.get(node.ident, node.ident))
    if isinstance(node, ir.Comprehension):
        inner = {**bound, node.ident: len(bound)}
        return ("comprehension", node.function, node.type, _key(node.source, bound, keys), _key(node.element, inner),
                _key(node.condition, inner))
    if isinstance(node, ir.Let):
        inner = {**bound, **{ident: len(bound) + i for i, (ident, _) in enumerate(node.bindings)}}
        return ("let", tuple(_key(value, bound, keys) for _, value in node.bindings), _key(node.body, inner))
    if isinstance(node, (hoist.Shared, hoist.Filtered)):
        return ("hoisted", id(node))  # compiled on its own, with its own memo token: never merged
    if isinstance(node, ir.IR):
        parts: list = [type(node).__name__]
        for field in attrs.fields(type(node)):
            if field.name != "span":
                parts.append(_key(getattr(node, field.name), bound, keys))
        return tuple(parts)
    if isinstance(node, tuple):
        return tuple(_key(item, bound, keys) for item in node)
    if isinstance(node, (str, int, bool, type(None), t_Type)):
        return node
    return ("constant", type(node).__name__, id(node))  # constants by identity (the same parameter value)


# the rule function -------------------------------------------------------------------------------
class _RuleWriter:
    """Writes one rule's function: its loops and, per finding, the outcome table of language.md §3."""

    def __init__(self, rule: Any) -> None:
        self.rule = rule
        self.program: RuleProgram = rule.program
        self.definitions = _Writer()
        self.body = _Writer()
        self.per = rule.per is not None
        self.memo: dict[int, str] = {}  # when condition → its per-subject local, for those without `period`
        self.hoisted: dict[int, ir.IR] = {}  # id of an expression → it with its scans hoisted (hoist.py)
        expressions = [node for _, node in (*self.program.when, *self.program.require, *self.program.grant,
                                            *self.program.values)] + list(self.program.single.values())
        for node in expressions:
            self.hoisted[id(node)] = self.hoist(node)
        self.shared: dict[tuple, tuple[ir.IR, str]] = {}  # key → (a representative, its local)
        occurrences = _repeated([self.hoisted[id(node)] for node in expressions])
        for node, key in occurrences:
            self.shared.setdefault(key, (node, f"_s{len(self.shared)}"))
        locals_ = {id(node): self.shared[key][1] for node, key in occurrences}
        self.emitter = _Emitter(self.program.functions, self.definitions, locals_)

    def hoist(self, node: ir.IR) -> ir.IR:
        if hoist.scans(node, self.program.functions):  # its subject-independent scans run once
            return hoist.rewrite(node, self.program.functions)
        return node

    # helpers
    def const(self, value: Any) -> str:
        return self.emitter.constant(value)

    def expression(self, depth: int, before: str, node: ir.IR, after: str = "") -> None:
        node = self.hoisted[id(node)]
        self.body.expression(depth, before, self.emitter.emit(node), after, self.emitter.spans, node.span)

    def write(self) -> None:
        rule, w = self.rule, self.body
        variables = [_python_name(v) for v in self.program.variables if v != "period"]
        w.line(0, f"def {compiler.function_name('rule', rule.id)}(_subjects, _periods, _g, _as_of, _not_yet, _rows):")
        w.line(1, "_append = _rows.append")
        w.line(1, "_trips = _BUDGET.trips")
        w.line(1, "for _args, _subject, _community in _subjects:")
        if variables:
            w.line(2, f"{', '.join(variables)}, = _args")
        depth = 2
        if self.per:
            for index, (_, node) in enumerate(self.program.when):
                if "period" not in _free(node):
                    self.memo[index] = f"_w{index}"
                    w.line(2, f"_w{index} = _UNSET")
            self.unset(2, [local for node, local in self.locals() if "period" not in _free(node)],
                       "shared by the subject's findings (no period read)")
            w.line(2, f"for {_python_name('period')} in _periods:")
            depth = 3
            self.unset(3, [local for node, local in self.locals() if "period" in _free(node)], "shared in the finding")
        else:
            self.unset(2, [local for _, local in self.locals()], "shared in the finding")
        self.finding(depth)

    def locals(self) -> list[tuple[ir.IR, str]]:
        return list(self.shared.values())

    def unset(self, depth: int, names: list[str], why: str) -> None:
        if names:
            self.body.line(depth, f"{' = '.join(names)} = _UNSET  # subexpressions {why}: computed on first use")

    def finding(self, d: int) -> None:
        w = self.body
        w.line(d, "_BUDGET.left = _trips  # each finding its own loop-trip budget")
        w.line(d, "_items = []")
        w.line(d, "_gaps = []  # values (and an exception) that could not be computed")
        w.line(d, "_outcome = _amount = None")
        w.line(d, "try:")
        if self.per:
            self.decide(d + 1)
        else:  # a rule judged on as_of says nothing about a day before the policy took effect
            w.line(d + 1, "if _not_yet is not None:")
            w.line(d + 2, "_items.append(_not_yet)")
            w.line(d + 2, "_outcome = 'not_applicable'")
            w.line(d + 1, "else:")
            self.decide(d + 2)
        w.line(d, "except _Absent as _e:")
        w.line(d + 1, "_outcome, _amount = 'not_applicable', None")
        w.line(d + 1, "_items.append(_data_absent(_e))")
        w.line(d, "except Exception as _e:  # every failure of an expression is this finding's error")
        w.line(d + 1, "_outcome, _amount = 'error', None")
        w.line(d + 1, "_items.extend(_error_items(_e))")
        self.values(d)
        rule = self.rule
        label = f"{_python_name('period')}.label" if self.per else "None"
        currency = "('CNY' if _outcome == 'amount' else None)" if rule.amount_is_money else "None"
        kind = rulekinds.SUBJECTS[rule.subject].finding_kind
        w.line(d, f"_append(({self.const(rule.id)}, _subject, {self.const(kind)}, _community, {label}, "
                  f"_outcome, _amount, {currency}, tuple(_items)))")

    def decide(self, d: int) -> None:
        """`judge`'s _decide: when, an open period, due, then the kind's own test."""
        w, rule = self.body, self.rule
        self.when(d)
        if self.per:
            w.line(d, f"if _outcome is None and {_python_name('period')}.end > _as_of:")
            w.line(d + 1, f"_items.append(_period_open({_python_name('period')}))")
            w.line(d + 1, "_outcome = 'not_applicable'")
        single = self.program.single
        if "due" in single:
            w.line(d, "if _outcome is None:")
            self.expression(d + 1, "_due = ", single["due"])
            w.line(d + 1, "_items.append(('due', _plain(_due)))")
            w.line(d + 1, "if _as_of < _due:")
            w.line(d + 2, "_items.append(_NOT_DUE)")
            w.line(d + 2, "_outcome = 'not_applicable'")
        w.line(d, "if _outcome is None:")
        if rule.kind in rulekinds.REQUIREMENT_KINDS:
            self.requirement(d + 1)
        elif rule.kind == "amount":
            self.amount(d + 1)
        elif rule.kind in rulekinds.ENTITLEMENT_KINDS:
            self.entitlement(d + 1)
        else:
            self.expression(d + 1, "_items.append(('value', _plain(", single["value"], ")))")
            w.line(d + 1, "_outcome = 'info'")

    def when(self, d: int) -> None:
        """Scope tests, `_failed(first_only=True)`: a false one decides (the rest are not run); else
        the first error, else the first absent datum, is the finding's."""
        conditions, w = self.program.when, self.body
        if not conditions:
            return
        w.line(d, "_unmet = _missing = _error = None")
        for index, (name, node) in enumerate(conditions):
            unmet = self.const(("unmet", (name or "*",)))
            inner = d
            if index:
                w.line(d, "if _unmet is None:")
                inner = d + 1
            local = self.memo.get(index)
            if local is None:
                w.line(inner, "try:")
                self.expression(inner + 1, "if not (", node, "):")
                w.line(inner + 2, f"_unmet = {unmet}")
                w.line(inner, "except _Absent as _e:")
                w.line(inner + 1, "_missing = _missing or _e")
                w.line(inner, "except Exception as _e:  # a false condition elsewhere decides over it")
                w.line(inner + 1, "_error = _error or _e")
                continue
            w.line(inner, f"if {local} is _UNSET:  # once per subject: it does not read the period")
            w.line(inner + 1, "try:")
            self.expression(inner + 2, f"{local} = not (", node, ")")
            w.line(inner + 1, "except Exception as _e:")
            w.line(inner + 2, f"{local} = _e")
            w.line(inner, f"if {local} is True:")
            w.line(inner + 1, f"_unmet = {unmet}")
            w.line(inner, f"elif {local} is not False:")
            w.line(inner + 1, f"if isinstance({local}, _Absent):")
            w.line(inner + 2, f"_missing = _missing or {local}")
            w.line(inner + 1, "else:")
            w.line(inner + 2, f"_error = _error or {local}")
        w.line(d, "if _unmet is not None:")
        w.line(d + 1, "_items.append(_SCOPE)")
        w.line(d + 1, "_items.append(_unmet)")
        w.line(d + 1, "_outcome = 'not_applicable'")
        w.line(d, "elif _error is not None:")
        w.line(d + 1, "raise _error")
        w.line(d, "elif _missing is not None:")
        w.line(d + 1, "raise _missing")

    def judged(self, d: int, conditions: tuple) -> None:
        """`_failed` of require/grant: every condition judged, an error is the finding's at once, a
        false one decides over absent data elsewhere. Leaves the failed names in `_failed`."""
        w = self.body
        w.line(d, "_failed = []")
        if len(conditions) == 1:  # absent data then simply is the finding's
            name, node = conditions[0]
            self.expression(d, "if not (", node, "):")
            w.line(d + 1, f"_failed.append({self.const(name or '*')})")
            return
        w.line(d, "_missing = None")
        for name, node in conditions:
            w.line(d, "try:")
            self.expression(d + 1, "if not (", node, "):")
            w.line(d + 2, f"_failed.append({self.const(name or '*')})")
            w.line(d, "except _Absent as _e:")
            w.line(d + 1, "_missing = _missing or _e")
        w.line(d, "if not _failed and _missing is not None:")
        w.line(d + 1, "raise _missing")

    def requirement(self, d: int) -> None:
        w, rule = self.body, self.rule
        self.judged(d, self.program.require)
        w.line(d, "if not _failed:")
        w.line(d + 1, "_outcome = 'pass'")
        w.line(d, "else:")
        w.line(d + 1, "_items.append(('failed', tuple(sorted(_failed))))")
        broken = "'violation'" if rule.strength == "hard" else "'warning'"
        exception = self.program.single.get("exception")
        if exception is None:
            w.line(d + 1, f"_outcome = {broken}")
            return
        w.line(d + 1, "try:")
        self.expression(d + 2, "_holds = ", exception)
        w.line(d + 1, "except _Absent as _e:  # an exception not shown to hold does not excuse the failure")
        w.line(d + 2, "_holds = False")
        w.line(d + 2, "_gaps.append(f'exception: {_e.what}')")
        w.line(d + 1, "if _holds:")
        w.line(d + 2, "_items.append(_EXCEPTION)")
        w.line(d + 2, "_outcome = 'pass'")
        w.line(d + 1, "else:")
        w.line(d + 2, f"_outcome = {broken}")

    def amount(self, d: int) -> None:
        w, rule, single = self.body, self.rule, self.program.single
        zero = "_ZERO_MONEY" if rule.amount_is_money else "_ZERO"
        if "pays_when" in single:
            self.expression(d, "if not (", single["pays_when"], "):")
            w.line(d + 1, "_items.append(_NOT_PAID)")
            w.line(d + 1, f"_outcome, _amount = 'amount', {zero}")
            w.line(d, "else:")
            d += 1
        self.expression(d, "_amount = ", single["amount"])
        w.line(d, "_amount = _money(_amount)" if rule.amount_is_money else "_amount = _Decimal(_amount)")
        w.line(d, "_outcome = 'amount'")

    def entitlement(self, d: int) -> None:
        w = self.body
        self.judged(d, self.program.grant)
        w.line(d, "if not _failed:")
        w.line(d + 1, "_outcome = 'entitlement'")
        w.line(d, "else:")
        w.line(d + 1, "_items.append(_NOT_MET)")
        w.line(d + 1, "_items.append(('unmet', tuple(sorted(_failed))))")
        w.line(d + 1, "_outcome = 'not_applicable'")

    def values(self, d: int) -> None:
        """`_report_values`: a value that fails makes a judged finding an `error`; on another finding
        it is listed under `absent`, as absent data is."""
        w = self.body
        if self.program.values:
            w.line(d, "_judged = _outcome != 'error' and _outcome != 'not_applicable'")
            w.line(d, "_failure = None")
        for name, node in self.program.values:
            key = self.const(name)
            w.line(d, "try:")
            self.expression(d + 1, f"_items.append(({key}, _plain(", node, ")))")
            w.line(d, "except _Absent as _e:")
            w.line(d + 1, f"_gaps.append(f'{{{key}}}: {{_e.what}}')")
            w.line(d, "except Exception as _e:  # noqa: BLE001")
            w.line(d + 1, "if not _judged:")
            w.line(d + 2, f"_gaps.append(_value_failed({key}, _e))")
            w.line(d + 1, "elif _failure is None:")
            w.line(d + 2, f"_failure = ({key}, _e)")
        w.line(d, "if _gaps:")
        w.line(d + 1, "_items.append(('absent', tuple(sorted(_gaps))))")
        if self.program.values:
            w.line(d, "if _failure is not None:  # a failing value of a judged finding is its error")
            w.line(d + 1, "_outcome, _amount = 'error', None")
            w.line(d + 1, "_items.extend(_failure_items(_failure))")


def generate(rule: Any) -> tuple[Callable, str]:
    """(the rule's function, its source): `function(subjects, periods, context, as_of, not_yet, rows)`
    appends one row per (subject, period) to `rows`, subjects (arguments, id, community) in the
    order given and periods in the order given; `not_yet`: the reason pair of a rule judged before
    the policy took effect, or None."""
    writer = _RuleWriter(rule)
    writer.write()
    module = _Writer()
    module.line(0, f"# generated by policyengine.rulegen: rule {_where(rule.id)}")
    module.line(0, "")
    module.extend(writer.definitions)
    module.extend(writer.body)
    source = "\n".join(module.lines) + "\n"
    # a name of its own: equal code objects are one key of the location table, and linecache's too
    filename = f"<policyengine rule {_where(rule.id)} #{next(_MODULES)}>"
    code = compile(source, filename, "exec")
    compiler.register_lines(code, module.locations)
    namespace: dict[str, Any] = {"__builtins__": _RULE_BUILTINS, "_rt": runtime, "_absent": compiler._absent,  # noqa: SLF001
                                 **_helpers(), **writer.emitter.constants}
    exec(code, namespace)
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    function = namespace[compiler.function_name("rule", rule.id)]
    return function, source
