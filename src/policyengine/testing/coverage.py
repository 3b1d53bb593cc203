"""Rule coverage: which rules the tests drove to which outcomes, and which condition branches.

Only *asserted* findings count (those an expectation named and confirmed): a rule that happened to
fail in some test's records without any test saying so is not covered on its failing side.
Outcome sides per rule kind: requirement/deadline/target → pass, fail; amount → paid, unpaid;
entitlement/eligibility → granted, not_granted; derived → info. Branches: each named condition of
`require`/`grant` seen failing, `when` seen excluding, an `exception` seen applied.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable

from policyengine.rulekinds import RULE_KINDS

SIDES = {name: kind.sides for name, kind in RULE_KINDS.items()}  # the one table: policyengine/rulekinds.py


def side(kind: str, finding) -> str | None:
    outcome = finding.outcome
    judged_as = RULE_KINDS[kind].judged_as
    if judged_as == "requirement":
        return {"pass": "pass", "violation": "fail", "warning": "fail"}.get(outcome)
    if judged_as == "amount":
        if outcome == "amount":
            return "paid" if finding.amount else "unpaid"
        return "unpaid" if outcome == "not_applicable" else None
    if judged_as == "entitlement":
        return {"entitlement": "granted", "not_applicable": "not_granted"}.get(outcome)
    return "info" if outcome == "info" else None


def coverage_report(results: Iterable[Any]) -> dict[str, Any]:
    from policyengine.testing.cases import policy_of

    policies: dict[str, Any] = {}
    reached: dict[str, dict[str, set]] = defaultdict(lambda: defaultdict(set))
    branches: dict[str, dict[str, set]] = defaultdict(lambda: defaultdict(set))
    for result in results:
        policy = policy_of(result)
        if policy is None:
            continue
        policies.setdefault(policy.name, policy)
        for finding in result.asserted:
            kind = policy.rule_kinds[finding.rule][0]
            outcome_side = side(kind, finding)
            if outcome_side:
                reached[policy.name][finding.rule].add(outcome_side)
            branches[policy.name][finding.rule].update(_branches(finding))
    summary: dict[str, Any] = {}
    for name, policy in sorted(policies.items()):
        rules = {}
        for rule in policy.rules:
            wanted = SIDES[rule.kind]
            got = reached[name].get(rule.id, set())
            rules[rule.id] = {"kind": rule.kind, "sides": list(wanted), "covered": sorted(got & set(wanted)),
                              "missing": [s for s in wanted if s not in got],
                              "branches": sorted(branches[name].get(rule.id, set()))}
        full = sum(1 for r in rules.values() if not r["missing"])
        summary[name] = {"encoded": len(rules), "fully_covered": full,
                         "share": round(full / len(rules), 4) if rules else 1.0, "rules": rules}
    return summary


def _branches(finding) -> set[str]:
    values = finding.values_dict
    found = set()
    for name in values.get("failed", ()) or ():
        found.add(f"require:{name}=false")
    for name in values.get("unmet", ()) or ():
        found.add(f"when/grant:{name}=false")
    if values.get("exception"):
        found.add("exception=true")
    return found


def render_coverage(summary: dict[str, Any], lang: str = "en") -> str:
    zh = lang == "zh"
    lines = ["规则覆盖率（已断言的结果，两种结果侧）：" if zh else "rule coverage (asserted findings, both outcome sides):"]
    for name, data in summary.items():
        share = f"{data['share'] * 100:.1f}%"
        lines.append(f"  {name}: {data['fully_covered']}/{data['encoded']} 条规则完全覆盖（{share}）" if zh else
                     f"  {name}: {data['fully_covered']}/{data['encoded']} rules fully covered ({share})")
        for rule_id, rule in data["rules"].items():
            if rule["missing"]:
                lines.append(f"    {rule_id}: {'缺少' if zh else 'missing'} {', '.join(rule['missing'])}")
    return "\n".join(lines)
