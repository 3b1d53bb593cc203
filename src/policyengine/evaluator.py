"""Evaluator: compiled rules × records × as_of → findings.

For each rule it enumerates the subjects (and periods), calls the rule's compiled functions and turns
their results into one finding each, following the outcome table of docs/language.md §3. Absent
data makes a finding not_applicable with the reason; a failing expression makes it an `error`.
"""

from __future__ import annotations

import datetime as dt
import decimal
import gc
import weakref
from decimal import Decimal
from typing import Any, Callable, Iterable, Iterator

import attrs

from policyengine import rulegen, rulekinds, runtime
from policyengine.compiler import error_location as compile_error_location
from policyengine.diagnostics import EVALUATION_ERRORS
from policyengine.limits import DEFAULT as DEFAULT_LIMITS
from policyengine.limits import PolicyLimits
from policyengine.report import Citation, Report, Row, RuleInfo, plain, row_sort_key

Conditions = tuple[tuple[str | None, Callable], ...]

# subject → (variables bound for the rule, in call order; finding subject_kind), from the one table
SUBJECT_VARIABLES = {name: (s.variables, s.finding_kind) for name, s in rulekinds.SUBJECTS.items()}
COLLECTION_OF = {name: s.collection for name, s in rulekinds.SUBJECTS.items()
                 if s.collection is not None and name != "membership"}  # memberships: with unit and community


@attrs.frozen
class CompiledRule:
    id: str
    kind: str
    strength: str | None
    subject: str
    per: str | None
    when: Conditions
    require: Conditions
    grant: Conditions
    exception: Callable | None
    due: Callable | None
    amount: Callable | None
    amount_is_money: bool
    pays_when: Callable | None
    value: Callable | None
    values: tuple[tuple[str, Callable], ...]
    parameters: tuple[tuple[str, Any], ...]  # referenced parameters and their values, reported
    scans: tuple[str, ...]  # province-wide collections read (beyond navigation from the subject)
    citation: Citation
    message: str | None  # zh (or the only one given)
    message_en: str | None = None
    concept: str | None = None  # the cross-city concept the rule encodes (`concept:`), for diffs across policies
    texts: tuple[tuple[str, str | None, str], ...] = ()  # (key, condition name, expression text), for explain
    reported_parameters: tuple[tuple[str, Any], ...] = ()  # `parameters` as plain values, for findings
    limits: PolicyLimits = DEFAULT_LIMITS  # the evaluation bounds (max_loop_trips, max_integer_digits)
    program: Any = attrs.field(default=None, eq=False, repr=False)  # rulegen.RuleProgram: its one generated function


class EvaluationContext:
    """The globals of compiled code (`_g`): as_of and the record collections."""

    def __init__(self, records: Any, as_of: dt.date, collections: tuple[str, ...]):
        self.as_of = as_of
        self.memo: dict = {}  # hoisted subject-independent values (hoist.py), for this evaluation
        for name in collections:
            setattr(self, name, records.collection(name))


@attrs.frozen
class Scope:
    """The jurisdiction a policy judges (language.md §5.5): its id (the jurisdiction subject's id) and
    the `city` values that mark its records. A subject whose city is another one gets no finding."""

    id: str
    cities: frozenset = frozenset()  # empty: every record is in scope (a policy without jurisdiction)

    def admits(self, record: Any, via: tuple[tuple[str, ...], ...]) -> bool:
        if not self.cities:
            return True
        for path in via:
            target = record
            for step in path:
                target = getattr(target, step, None)
                if target is None:
                    break
            if target is not None:  # the first navigation that reaches a record decides
                city = getattr(target, "city", None)
                return city is None or city in self.cities
        return True  # nothing says which city: a single-city file need not repeat it


def subjects(rule: CompiledRule, records: Any, scope: Scope) -> Iterator[tuple[tuple, str, str | None]]:
    """(arguments, subject id, community id) of each subject of `rule` in the policy's scope, in
    record order."""
    via = rulekinds.SUBJECTS[rule.subject].city_via
    if rule.subject == "jurisdiction":
        yield (), scope.id, None
    elif rule.subject == "membership":
        for m in records.memberships:
            if scope.admits(m, via):
                yield (m, m.unit, m.community), m.unit_id, m.community.community_id
    elif rule.subject == "community":
        for record in records.communities:
            if scope.admits(record, via):
                yield (record,), record.record_id, record.community_id
    else:
        for record in records.collection(COLLECTION_OF[rule.subject]):
            if scope.admits(record, via):
                yield (record,), record.record_id, getattr(record, "community_id", None)


# records → {(subject kind, scope): its subjects in report order}. Every rule of a subject kind judges
# the same subjects, so the scan of the whole province (scope filter, then sort) runs once per record
# set, not once per rule: a rule then reads only its own jurisdiction's records, which keeps a cheap
# rule's cost per community from growing with the other cities' records it would otherwise walk.
_SUBJECTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def sorted_subjects(rule: CompiledRule, records: Any, scope: Scope) -> tuple[tuple[tuple, str, str | None], ...]:
    """`subjects` in report order — by (id, community), a stable sort, so that equal keys keep record
    order — computed once per (records, subject kind, scope)."""
    try:
        memo = _SUBJECTS.setdefault(records, {})
    except TypeError:  # records that take no weak reference (a duck-typed stand-in): not memoised
        memo = {}
    key = (rule.subject, scope)
    found = memo.get(key)
    if found is None:
        found = memo[key] = tuple(sorted(subjects(rule, records, scope), key=_subject_key))
    return found


def rule_info(rule: CompiledRule) -> RuleInfo:
    """The rule's entry in the report's rule table."""
    return RuleInfo(rule.id, rule.strength, rule.citation, rule.message,
                    tuple((k, _unordered(plain(v))) for k, v in rule.parameters), rule.message_en)


def evaluate_stream(rules: Iterable[CompiledRule], records: Any, as_of: dt.date, scope: Scope,
                    window: tuple[dt.date | None, dt.date | None],
                    collections: tuple[str, ...]) -> Iterator[tuple[RuleInfo, list[Row]]]:
    """(rule table entry, rows in report order) for each rule, rules in report order (by id): the
    report streamed rule by rule, holding one rule's findings at a time."""
    context = EvaluationContext(records, as_of, collections)
    for rule in sorted(rules, key=lambda r: r.id):
        yield rule_info(rule), evaluate_rule(rule, records, as_of, scope, window, context)


def evaluate_rule(rule: CompiledRule, records: Any, as_of: dt.date, scope: Scope,
                  window: tuple[dt.date | None, dt.date | None], context: EvaluationContext,
                  interpreted: bool = False) -> list[Row]:
    """The rule's rows, in report order: by its generated function (rulegen.py), or `interpreted`
    finding by finding (`judge`, the reference the generated code follows)."""
    rows: list[Row] = []
    kind = SUBJECT_VARIABLES[rule.subject][1]
    periods = _periods(rule.per, window, as_of) if rule.per else (None,)
    # a rule judged on as_of (no per:) says nothing about a day before the policy took effect
    not_yet = window[0] if rule.per is None and window[0] is not None and as_of < window[0] else None
    # Rows hold no reference cycles, so the cyclic garbage collector has nothing to reclaim here;
    # left on, its full collections re-scan the whole (large) record graph and make the cost per
    # community grow with the province.
    collecting = gc.isenabled()
    gc.disable()
    runtime.BUDGET.start(rule.limits.max_loop_trips, rule.limits.max_integer_digits, rule.limits.max_value_length)
    try:
        with decimal.localcontext(runtime.DECIMAL_CONTEXT):  # `+ - *` round here, never in the caller's context
            # report order without sorting the rows: subjects in report order (computed once per
            # record set), each with its periods in label order
            ordered = sorted_subjects(rule, records, scope)
            generated = rulegen.function_of(rule) if interpreted is False else None
            if generated is not None:  # the rule's own function: the loops and the outcome table inside
                reason = ("reason", _not_yet_reason(not_yet)) if not_yet is not None else None
                generated(ordered, periods, context, as_of, reason, rows)
            else:  # the reference: each finding judged by interpreting the rule
                for subject_args, subject_id, community in ordered:
                    for period in periods:
                        args = subject_args + ((period,) if period is not None else ()) + (context,)
                        rows.append(judge(rule, subject_id, kind, community, period, args, as_of, not_yet))
    finally:
        if collecting:
            gc.enable()
    if list(periods) != sorted(periods, key=lambda p: "" if p is None else p.label):  # never so far: then sort
        rows.sort(key=row_sort_key)
    return rows


def _subject_key(subject: tuple) -> tuple:
    return (subject[1], subject[2] or "")


def evaluate_rules(rules: tuple[CompiledRule, ...], records: Any, as_of: dt.date, scope: Scope,
                   window: tuple[dt.date | None, dt.date | None], policy_name: str,
                   collections: tuple[str, ...]) -> Report:
    table: dict[str, RuleInfo] = {}
    rows: list[Row] = []
    for info, rule_rows in evaluate_stream(rules, records, as_of, scope, window, collections):
        table[info.id] = info
        rows.extend(rule_rows)
    return Report(policy_name, as_of, tuple(rows), table)


def _periods(kind: str, window: tuple[dt.date | None, dt.date | None], as_of: dt.date) -> list:
    first, last = window
    last = min(last, as_of) if last is not None else as_of
    if first is None or first > last:
        return []
    return runtime.periods_between(kind, first, last)


def judge(rule: CompiledRule, subject: str, subject_kind: str, community: str | None,
          period: runtime.Period | None, args: tuple, as_of: dt.date, not_yet: dt.date | None = None) -> Row:
    """One finding's row. Its values are the finding's own; the rule's parameters are in its
    RuleInfo (report.make_finding puts them first again)."""
    values: dict[str, Any] = {}
    runtime.BUDGET.left = runtime.BUDGET.trips  # each finding its own loop-trip budget
    try:
        if not_yet is not None:
            values["reason"] = _not_yet_reason(not_yet)
            outcome, amount = "not_applicable", None
        else:
            outcome, amount = _decide(rule, period, args, as_of, values)
    except runtime.Absent as absent:
        outcome, amount = "not_applicable", None
        values["reason"] = f"缺少数据 / data absent: {absent.what}"
    except Exception as error:  # noqa: BLE001 - every failure of an expression is this finding's error
        outcome, amount = "error", None
        values.update(error_values(error))
    failure = _report_values(rule, args, values, judged=outcome not in ("error", "not_applicable"))
    if failure is not None:  # a failing value of a judged finding is its error, never a string in values
        name, error = failure
        outcome, amount = "error", None
        values.update(error_values(error))
        values["error"] = f"values.{name}: {values['error']}"
    return (rule.id, subject, subject_kind, community, period.label if period is not None else None, outcome, amount,
            "CNY" if outcome == "amount" and rule.amount_is_money else None,
            _plain_items(values))


def _not_yet_reason(first_day: dt.date) -> str:
    return f"方案尚未施行 / the policy takes effect on {first_day.isoformat()}"


_AS_IS = frozenset({str, int, bool, type(None)})


def _plain_items(values: dict[str, Any]) -> tuple:
    """`values` as (name, plain value) pairs."""
    return tuple((k, plain_value(v)) for k, v in values.items())


def plain_value(value: Any) -> Any:
    """A reported value in its plain form; scalars, the common case, take the short way."""
    kind = type(value)
    if kind in _AS_IS:
        return value
    if kind is Decimal:
        return str(value)
    if kind is tuple and value and all(type(x) is str for x in value):  # names of conditions, ids …
        return tuple(sorted(value))
    return _unordered(plain(value))


def _unordered(value: Any) -> Any:
    """Reported lists of plain scalars are sorted, so that a report never depends on record order."""
    if isinstance(value, tuple) and value and all(isinstance(v, (str, int)) and not isinstance(v, bool)
                                                  for v in value) and len({type(v) for v in value}) == 1:
        return tuple(sorted(value))
    return value


def _decide(rule: CompiledRule, period, args: tuple, as_of: dt.date, values: dict) -> tuple[str, Decimal | None]:
    failed = _failed(rule.when, args, first_only=True)
    if failed is not None:
        values["reason"] = "不适用 / outside the rule's scope (when)"
        values["unmet"] = failed
        return "not_applicable", None
    if period is not None and period.end > as_of:
        values["reason"] = f"期间未结束 / period open until {period.end.isoformat()}"
        return "not_applicable", None
    if rule.due is not None:
        due = rule.due(*args)
        values["due"] = due
        if as_of < due:
            values["reason"] = "未到期 / not yet due"
            return "not_applicable", None
    if rule.kind in rulekinds.REQUIREMENT_KINDS:
        return _requirement(rule, args, values), None
    if rule.kind == "amount":
        return "amount", _amount(rule, args, values)
    if rule.kind in rulekinds.ENTITLEMENT_KINDS:
        failed = _failed(rule.grant, args)
        if failed is None:
            return "entitlement", None
        values["reason"] = "条件未满足 / conditions not met"
        values["unmet"] = failed
        return "not_applicable", None
    values["value"] = rule.value(*args)
    return "info", None


def _requirement(rule: CompiledRule, args: tuple, values: dict) -> str:
    failed = _failed(rule.require, args)
    if failed is None:
        return "pass"
    values["failed"] = failed
    if rule.exception is not None:
        try:
            holds = rule.exception(*args)
        except runtime.Absent as missing:  # an exception not shown to hold does not excuse the failure
            holds = False
            values["absent"] = (f"exception: {missing.what}",)
        if holds:
            values["exception"] = True
            return "pass"
    return "violation" if rule.strength == "hard" else "warning"


def _amount(rule: CompiledRule, args: tuple, values: dict) -> Decimal:
    if rule.pays_when is not None and not rule.pays_when(*args):
        values["reason"] = "支付条件未满足 / paying condition not met (pays_when)"
        return Decimal("0.00") if rule.amount_is_money else Decimal(0)
    amount = Decimal(rule.amount(*args))
    if rule.amount_is_money:
        if amount != amount.quantize(runtime.FEN, context=runtime.MONEY_CONTEXT):
            raise runtime.EvaluationError(
                f"金额 {amount} 不是精确到分的数；请用 round(x, 2, mode) 声明舍入 / "
                f"amount {amount} is not exact to the fen: declare rounding with round(x, 2, mode)", "EV108")
        amount = amount.quantize(runtime.FEN, context=runtime.MONEY_CONTEXT)
    return amount


def error_values(error: BaseException) -> dict[str, str]:
    """An `error` finding's values: what failed (error), its EV code (error_code) and the policy
    file:line:col of the expression that failed (error_at, when the failure was inside one)."""
    span = compile_error_location(error.__traceback__)
    values = {"error": _error_text(error), "error_code": error_code(error)}
    if span is not None:
        values["error_at"] = str(span)
    return values


def error_code(error: BaseException) -> str:
    if isinstance(error, runtime.EvaluationError):
        return error.code
    for kind, code in _ERROR_CODES:
        if isinstance(error, kind):
            return code
    return "EV100"


_ERROR_CODES = ((runtime.Absent, "EV112"), (ZeroDivisionError, "EV101"), (decimal.DivisionByZero, "EV101"), (decimal.Overflow, "EV104"),
                (decimal.Underflow, "EV104"), (decimal.Subnormal, "EV104"),
                (OverflowError, "EV104"), (decimal.InvalidOperation, "EV106"), (IndexError, "EV103"),
                (RecursionError, "EV107"), (MemoryError, "EV110"), (ValueError, "EV102"))


def _error_text(error: BaseException) -> str:
    text = str(error)
    if isinstance(error, decimal.DecimalException) or not text:  # decimal's text is its signal list
        return EVALUATION_ERRORS[error_code(error)][1] + (f" ({type(error).__name__})")
    return text if len(text) <= 300 else text[:300] + "…"


def _failed(conditions: Conditions, args: tuple, first_only: bool = False) -> tuple[str, ...] | None:
    """None when every condition holds, else the names of those that fail. Judged independently of their
    order (docs/language.md §3):
    - `first_only` (`when`: scope tests): a false condition decides — the subject is outside the rule
      whatever the others give, missing data or an error; only when none is false does an error (first)
      or else missing data count. Evaluation stops at the first false one, so it costs no more.
    - otherwise (`require`, `grant`): every condition is judged; an error in any is the finding's error;
      a false one decides over missing data elsewhere."""
    failed, absent, error = [], None, None
    for name, condition in conditions:
        try:
            if not condition(*args):
                failed.append(name or "*")
                if first_only:
                    break
        except runtime.Absent as missing:
            absent = absent or missing
        except Exception as problem:  # noqa: BLE001 - re-raised below unless a false condition decides
            if not first_only:
                raise
            error = error or problem
    if failed:
        return tuple(failed)
    if error is not None:
        raise error
    if absent is not None:
        raise absent
    return None


def _report_values(rule: CompiledRule, args: tuple, values: dict, judged: bool) -> tuple[str, BaseException] | None:
    """Evaluate the rule's `values:` into `values`; absent ones are listed under `absent`. Returns the
    first value that failed (name, exception) of a `judged` finding, which makes it an `error`; on a
    not_applicable (or error) finding a value that fails is not available either, and listed under
    `absent` with its error (a `when` that guards a division puts the subject outside the rule)."""
    absent = list(values.pop("absent", ()))
    failure = None
    for name, function in rule.values:
        if name in values:
            continue  # the engine's entry stands (the checker refuses such names: PE414)
        try:
            values[name] = function(*args)
        except runtime.Absent as missing:
            absent.append(f"{name}: {missing.what}")
        except Exception as error:  # noqa: BLE001 - every failure of an expression is an error
            if judged:
                failure = failure or (name, error)
            else:
                details = error_values(error)
                absent.append(f"{name}: {details['error_code']} {details['error']}")
    if absent:
        values["absent"] = tuple(absent)
    return failure
