"""Evaluator: compiled rules × records × as_of → findings.

For each rule it enumerates the subjects (and periods), calls the rule's compiled functions and turns
their results into one finding each, following the outcome table of docs/language.md §3. Absent
data makes a finding not_applicable with the reason; a failing expression makes it an `error`.
"""

from __future__ import annotations

import datetime as dt
import decimal
import gc
from decimal import Decimal
from typing import Any, Callable, Iterator

import attrs

from policyengine import runtime
from policyengine.report import Citation, Finding, Report, plain

Conditions = tuple[tuple[str | None, Callable], ...]

# subject → (variables bound for the rule, in call order; finding subject_kind)
SUBJECT_VARIABLES = {
    "community": (("community",), "community"),
    "membership": (("membership", "unit", "community"), "unit"),
    "unit": (("unit",), "unit"),
    "person": (("person",), "person"),
    "assignment": (("assignment",), "assignment"),
    "activity": (("activity",), "activity"),
    "expense": (("expense",), "expense"),
    "fund_pool": (("fund_pool",), "fund_pool"),
    "jurisdiction": ((), "jurisdiction"),
}
COLLECTION_OF = {"community": "communities", "unit": "units", "person": "persons", "assignment": "assignments",
                 "activity": "activities", "expense": "expenses", "fund_pool": "fund_pools"}


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
    message: str | None


class EvaluationContext:
    """The globals of compiled code (`_g`): as_of and the record collections."""

    def __init__(self, records: Any, as_of: dt.date, collections: tuple[str, ...]):
        self.as_of = as_of
        for name in collections:
            setattr(self, name, records.collection(name))


@attrs.frozen
class Subject:
    args: tuple
    id: str
    community: str | None


def subjects(rule: CompiledRule, records: Any, jurisdiction: str) -> Iterator[Subject]:
    if rule.subject == "jurisdiction":
        yield Subject((), jurisdiction, None)
    elif rule.subject == "membership":
        for m in records.memberships:
            yield Subject((m, m.unit, m.community), m.unit_id, m.community.community_id)
    else:
        for record in records.collection(COLLECTION_OF[rule.subject]):
            community = record.community_id if rule.subject == "community" else getattr(record, "community_id", None)
            yield Subject((record,), record.record_id, community)


def evaluate_rules(rules: tuple[CompiledRule, ...], records: Any, as_of: dt.date, jurisdiction: str,
                   window: tuple[dt.date | None, dt.date | None], policy_name: str,
                   collections: tuple[str, ...]) -> Report:
    context = EvaluationContext(records, as_of, collections)
    findings: list[Finding] = []
    # Findings hold no reference cycles, so the cyclic garbage collector has nothing to reclaim here;
    # left on, its full collections re-scan the whole (large) record graph and make the cost per
    # community grow with the province.
    collecting = gc.isenabled()
    gc.disable()
    try:
        with decimal.localcontext(runtime.DECIMAL_CONTEXT):  # `+ - *` round here, never in the caller's context
            for rule in rules:
                periods = _periods(rule.per, window, as_of) if rule.per else (None,)
                for subject in subjects(rule, records, jurisdiction):
                    for period in periods:
                        args = subject.args + ((period,) if period is not None else ()) + (context,)
                        findings.append(judge(rule, subject, period, args, as_of))
    finally:
        if collecting:
            gc.enable()
    findings.sort(key=Finding.sort_key)
    return Report(policy_name, as_of, tuple(findings))


def _periods(kind: str, window: tuple[dt.date | None, dt.date | None], as_of: dt.date) -> list:
    first, last = window
    last = min(last, as_of) if last is not None else as_of
    if first is None or first > last:
        return []
    return runtime.periods_between(kind, first, last)


def judge(rule: CompiledRule, subject: Subject, period: runtime.Period | None, args: tuple,
          as_of: dt.date) -> Finding:
    values: dict[str, Any] = dict(rule.parameters)
    try:
        outcome, amount = _decide(rule, period, args, as_of, values)
    except runtime.Absent as absent:
        outcome, amount = "not_applicable", None
        values["reason"] = f"缺少数据 / data absent: {absent.what}"
    except (runtime.EvaluationError, ArithmeticError, ValueError, OverflowError) as error:
        outcome, amount = "error", None
        values["error"] = str(error)
    _report_values(rule, args, values)
    return Finding(rule.id, subject.id, SUBJECT_VARIABLES[rule.subject][1], subject.community,
                   period.label if period is not None else None, outcome, amount,
                   "CNY" if outcome == "amount" and rule.amount_is_money else None, rule.strength,
                   tuple((k, _unordered(plain(v))) for k, v in values.items()), rule.citation, rule.message)


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
    if rule.kind in ("requirement", "deadline", "target"):
        return _requirement(rule, args, values), None
    if rule.kind == "amount":
        return "amount", _amount(rule, args, values)
    if rule.kind in ("entitlement", "eligibility"):
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
    if rule.exception is not None and rule.exception(*args):
        values["exception"] = True
        return "pass"
    return "violation" if rule.strength == "hard" else "warning"


def _amount(rule: CompiledRule, args: tuple, values: dict) -> Decimal:
    if rule.pays_when is not None and not rule.pays_when(*args):
        values["reason"] = "支付条件未满足 / paying condition not met (pays_when)"
        return Decimal("0.00") if rule.amount_is_money else Decimal(0)
    amount = Decimal(rule.amount(*args))
    if rule.amount_is_money:
        if amount != amount.quantize(runtime.FEN, context=runtime.DECIMAL_CONTEXT):
            raise runtime.EvaluationError(
                f"金额 {amount} 不是精确到分的数；请用 round(x, 2, mode) 声明舍入 / "
                f"amount {amount} is not exact to the fen: declare rounding with round(x, 2, mode)")
        amount = amount.quantize(runtime.FEN)
    return amount


def _failed(conditions: Conditions, args: tuple, first_only: bool = False) -> tuple[str, ...] | None:
    """None when every condition holds, else the names of those that fail (only the first with
    `first_only`, as for `when`: one unmet condition puts the subject outside the rule). A false
    condition decides even when another one lacks data; only when none is false does absence count."""
    failed, absent = [], None
    for name, condition in conditions:
        try:
            if not condition(*args):
                failed.append(name or "*")
                if first_only:
                    break
        except runtime.Absent as missing:
            absent = absent or missing
    if failed:
        return tuple(failed)
    if absent is not None:
        raise absent
    return None


def _report_values(rule: CompiledRule, args: tuple, values: dict) -> None:
    absent = []
    for name, function in rule.values:
        try:
            values[name] = function(*args)
        except runtime.Absent as missing:
            absent.append(f"{name}: {missing.what}")
        except (runtime.EvaluationError, ArithmeticError) as error:
            values[name] = f"error: {error}"
    if absent:
        values["absent"] = tuple(absent)
