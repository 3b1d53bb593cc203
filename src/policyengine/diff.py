"""Diff: what changes between two evaluations of the same records — two policies, one policy under
two parameter readings, or one policy at two dates.

Findings are matched by (rule, subject, period). Across two different policies the rule is matched by
the concept it encodes (the rule's `concept:` key, catalog §11), since the ids differ per city; rules
without a counterpart are listed, never silently compared. A finding present on one side only counts
as a change unless it is `not_applicable` (a period not judged yet is no news).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Mapping

from policyengine.report import Finding

Key = tuple[str, str, str, str]


def diff(before: Any, after: Any, before_policy: Any, after_policy: Any) -> dict[str, Any]:
    """Structured diff (JSON-ready) of two Reports evaluated on the same records."""
    by_concept = before_policy.name != after_policy.name or before_policy.path != after_policy.path
    common = _matches(before_policy, by_concept) & _matches(after_policy, by_concept)
    left, left_unmatched = _index(before.findings, before_policy, by_concept, common)
    right, right_unmatched = _index(after.findings, after_policy, by_concept, common)
    changes = []
    for key in sorted(set(left) | set(right)):
        a, b = left.get(key, []), right.get(key, [])
        if _signature(a) != _signature(b):
            changes.append({"match": key[0], "subject_kind": key[1], "subject": key[2], "period": key[3] or None,
                            "before": [_side(f) for f in a], "after": [_side(f) for f in b]})
    return {"before": _header(before, before_policy), "after": _header(after, after_policy),
            "matched_by": "concept" if by_concept else "rule",
            "changes": changes, "totals": _totals(before.findings, after.findings, changes),
            "unmatched_rules": {"before": sorted(left_unmatched), "after": sorted(right_unmatched)}}


def _matches(policy, by_concept: bool) -> set[str]:
    return {rule.concept if by_concept else rule.id for rule in policy.rules} - {None}


def _index(findings, policy, by_concept: bool, common: set[str]) -> tuple[dict[Key, list[Finding]], set[str]]:
    """Findings by match key; the rules whose concept (or id) the other side lacks are set apart."""
    match_of = {rule.id: (rule.concept if by_concept else rule.id) for rule in policy.rules}
    result: dict[Key, list[Finding]] = {}
    unmatched = {rule.id for rule in policy.rules if match_of[rule.id] not in common}
    for f in findings:
        match = match_of.get(f.rule)
        if match in common:
            # each policy names its own jurisdiction: across policies, "the jurisdiction" is one subject
            subject = "*" if by_concept and f.subject_kind == "jurisdiction" else f.subject
            result.setdefault((match, f.subject_kind, subject, f.period or ""), []).append(f)
    return result, unmatched


def _signature(findings: list[Finding]) -> tuple:
    return tuple(sorted((f.outcome, f.amount or Decimal(0), f.currency or "") for f in findings
                        if f.outcome != "not_applicable"))


def _side(f: Finding) -> dict[str, Any]:
    return {"rule": f.rule, "outcome": f.outcome, "amount": None if f.amount is None else str(f.amount),
            "currency": f.currency, "community": f.community, "message": f.message, "message_en": f.message_en,
            "citation": {"file": f.citation.file, "section": f.citation.section, "quote": f.citation.quote}}


def _header(report, policy) -> dict[str, Any]:
    return {"policy": policy.name, "title": policy.title, "as_of": report.as_of.isoformat(),
            "parameters": {k: _text(v) for k, v in policy.parameters.items()}}


def _text(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_text(v) for v in value]
    return value.isoformat() if isinstance(value, dt.date) else str(value) if not isinstance(value, (bool, str)) \
        else value


def _totals(before, after, changes) -> dict[str, Any]:
    """Money per currency: in all findings before and after, and the part that moves (changes only)."""
    def total(findings) -> dict[str, Decimal]:
        sums: dict[str, Decimal] = {}
        for f in findings:
            if f.outcome == "amount" and f.currency and f.amount is not None:
                sums[f.currency] = sums.get(f.currency, Decimal(0)) + f.amount
        return sums

    def total_sides(side: str) -> dict[str, Decimal]:
        sums: dict[str, Decimal] = {}
        for change in changes:
            for f in change[side]:
                if f["outcome"] == "amount" and f["currency"]:
                    sums[f["currency"]] = sums.get(f["currency"], Decimal(0)) + Decimal(f["amount"])
        return sums

    all_before, all_after = total(before), total(after)
    moved_from, moved_to = total_sides("before"), total_sides("after")
    currencies = sorted(set(all_before) | set(all_after))
    zero = Decimal("0.00")
    return {c: {"before": str(all_before.get(c, zero)), "after": str(all_after.get(c, zero)),
                "change": str(all_after.get(c, zero) - all_before.get(c, zero)),
                "in_changed_findings": {"before": str(moved_from.get(c, zero)), "after": str(moved_to.get(c, zero))}}
            for c in currencies}


def render_diff(result: Mapping[str, Any], lang: str = "zh", names: Any = None) -> str:
    """The diff as text: a header per side, one block per changed finding, the money totals."""
    from policyengine.explain import OUTCOME_LABELS

    zh = lang == "zh"
    b, a = result["before"], result["after"]
    lines = [("之前" if zh else "before") + f": {b['policy']} as_of {b['as_of']}",
             ("之后" if zh else "after") + f": {a['policy']} as_of {a['as_of']}"]
    changed = {k for k in b["parameters"] if b["parameters"].get(k) != a["parameters"].get(k)}
    for name in sorted(changed) if result["matched_by"] == "rule" else ():  # across cities: all differ
        lines.append(f"  {name}: {b['parameters'].get(name)} → {a['parameters'].get(name)}")
    lines.append(("变化的结果：" if zh else "changed findings: ") + str(len(result["changes"])))
    for change in result["changes"]:
        subject = names.of(change["subject_kind"], change["subject"]) if names else change["subject"]
        lines.append("")
        lines.append(f"{change['match']} · {subject}" + (f" · {change['period']}" if change["period"] else ""))
        for side, label in (("before", "之前" if zh else "before"), ("after", "之后" if zh else "after")):
            if not change[side]:
                lines.append(f"  {label}: —")
            for f in change[side]:
                amount = f" {f['amount']} {f['currency'] or ''}".rstrip() if f["amount"] is not None else ""
                message = f["message"] if zh else f["message_en"]
                lines.append(f"  {label}: {OUTCOME_LABELS[lang][f['outcome']]}{amount} [{f['rule']}]"
                             + (f" {message}" if message and f["outcome"] in ("violation", "warning") else ""))
                c = f["citation"]
                lines.append(f"    {c['file']} {c['section'] or ''}: 「{c['quote']}」")
    for currency, t in result["totals"].items():
        lines.append("")
        lines.append(("金额合计" if zh else "money total") + f" {currency}: {t['before']} → {t['after']} "
                     f"({'变化' if zh else 'change'} {t['change']})")
    for side in ("before", "after"):
        if result["unmatched_rules"][side]:
            lines.append(("无对应概念的规则" if zh else "rules without a matching concept")
                         + f" ({side}): " + ", ".join(result["unmatched_rules"][side]))
    return "\n".join(lines)
