"""Summary: a report per community, by name: counts by outcome, violations and warnings by rule,
exact amounts per currency, and the deadlines not yet due.

A unit's or person's finding belongs to the communities its subject was a member of in the period
judged (`explain.attribute`); a finding no community claims (a jurisdiction target, a school in no
community) is summarized under `unattributed`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Iterable, Mapping

from policyengine.explain import Names, attribute
from policyengine.report import OUTCOMES, Finding


def summarize(report: Any, records: Any, policy: Any = None, findings: Iterable[Finding] | None = None,
              communities: Iterable[str] = ()) -> dict[str, Any]:
    """Structured summary (JSON-ready). `findings` restricts what is summarized (default: all),
    `communities` which communities are listed (default: all, and the unattributed findings)."""
    names = Names(records, getattr(policy, "jurisdiction_name", ""))
    order = [c.community_id for c in getattr(records, "communities", ())]
    groups: dict[str | None, list[Finding]] = {c: [] for c in order}
    for finding in report.findings if findings is None else findings:
        for community in attribute(finding, records, report.as_of).communities or (None,):
            groups.setdefault(community, []).append(finding)
    listed = set(communities)
    sections = [dict(id=c, name=names.name("community", c), **_aggregate(groups[c]))
                for c in groups if c is not None and (not listed or c in listed)]
    return {"policy": report.policy, "as_of": report.as_of.isoformat(), "communities": sections,
            "unattributed": _aggregate([] if listed else groups.get(None, []))}


def _aggregate(findings: list[Finding]) -> dict[str, Any]:
    counts = {outcome: 0 for outcome in OUTCOMES}
    by_rule: dict[str, dict[str, int]] = {"violation": {}, "warning": {}}
    amounts: dict[str, Decimal] = {}
    pending = []
    for f in findings:
        counts[f.outcome] += 1
        if f.outcome in by_rule:
            by_rule[f.outcome][f.rule] = by_rule[f.outcome].get(f.rule, 0) + 1
        if f.outcome == "amount" and f.currency and f.amount is not None:
            amounts[f.currency] = amounts.get(f.currency, Decimal(0)) + f.amount
        due = _due_later(f)
        if due is not None:
            pending.append({"rule": f.rule, "subject": f.subject, "subject_kind": f.subject_kind,
                            "period": f.period, "due": due, "message": f.message, "message_en": f.message_en})
    pending.sort(key=lambda d: (d["due"], d["rule"], d["subject"]))
    return {"findings": len(findings), "counts": counts,
            "by_rule": {k: dict(sorted(v.items())) for k, v in by_rule.items()},
            "amounts": {currency: str(total) for currency, total in sorted(amounts.items())},
            "deadlines_not_yet_due": pending}


def _due_later(finding: Finding) -> str | None:
    values = finding.values_dict
    if finding.outcome == "not_applicable" and "due" in values and "not yet due" in str(values.get("reason", "")):
        return str(values["due"])
    return None


def render_summary(summary: Mapping[str, Any], lang: str = "zh") -> str:
    """The summary as text: one block per community."""
    from policyengine.explain import OUTCOME_LABELS

    zh = lang == "zh"
    blocks = []
    for section in [*summary["communities"], {"id": None, "name": None, **summary["unattributed"]}]:
        if section["id"] is None and not section["findings"]:
            continue
        title = (f"{section['name'] or section['id']}（{section['id']}）" if section["id"] else
                 ("不属于任何教共体的结果" if zh else "findings of no community"))
        counts = ", ".join(f"{OUTCOME_LABELS[lang][k]} {v}" for k, v in section["counts"].items() if v) or "—"
        lines = [title, ("  结果：" if zh else "  outcomes: ") + counts]
        for outcome in ("violation", "warning"):
            for rule, n in section["by_rule"][outcome].items():
                lines.append(f"  {OUTCOME_LABELS[lang][outcome]} {rule} × {n}")
        for currency, total in section["amounts"].items():
            unit = ("元" if zh else "CNY") if currency == "CNY" else currency
            lines.append(("  应付金额合计：" if zh else "  amounts owed: ") + f"{total} {unit}")
        for d in section["deadlines_not_yet_due"]:
            message = d["message"] if zh else d["message_en"]
            lines.append(("  未到期：" if zh else "  not yet due: ") + f"{d['due']} {d['rule']} {d['subject']}"
                         + (f" — {message}" if message else ""))
        blocks.append("\n".join(lines))
    return f"{summary['policy']} as_of {summary['as_of']}\n\n" + "\n\n".join(blocks)
