"""Macro-workload: every bundled policy over a whole synthetic province, rule by rule.

Rules fall in two classes, found statically from their compiled code:
- *local* rules read only their subject and its navigations (`community.units`, `unit.quality_scores`
  …): their cost per subject does not depend on the size of the province;
- *scanning* rules also iterate a record collection of the whole province (`any(… for cq in
  communities)`) for every subject (or, at jurisdiction level, one collection inside another): their
  cost per subject grows with the province, so the rule as a whole is quadratic. They are timed where the projected time fits the budget, and
  listed, so that the policy can say the same thing through a navigation (`unit.memberships`, …).

The cost per community of the local rules (and of jurisdiction-level rules, linear in the province)
at 1,000, 10,000 and 100,000 communities is the scaling curve. Each rule runs alone (findings are
counted and dropped), so memory stays bounded by one rule's findings.
"""

from __future__ import annotations

import datetime as dt
import gc
import re
import time
from typing import Any, Callable

import policyengine
from policyengine.batch import _run

AS_OF = dt.date(2024, 9, 1)
POLICIES = ("liuzhou", "ruian", "yueqing", "suixian")
_SCAN = re.compile(r"_g\.(?!as_of\b)([a-z_]+)")


def rule_functions(rule: Any) -> list[Callable]:
    functions: list[Callable] = []
    for field in ("when", "require", "grant", "values"):
        functions.extend(f for _, f in getattr(rule, field) or ())
    functions.extend(f for f in (rule.exception, rule.due, rule.amount, rule.pays_when, rule.value) if f)
    return [f for f in functions if f is not None]


def scanned_collections(rule: Any) -> list[str]:
    """The province-wide collections a rule's compiled code iterates (empty for a local rule)."""
    found: set[str] = set()
    for function in rule_functions(rule):
        found.update(_SCAN.findall(getattr(function, "__policyengine_source__", "")))
    return sorted(found)


def nested_scans(rule: Any) -> bool:
    """Whether one of the rule's functions iterates province-wide collections more than once (for a
    jurisdiction rule: possibly one inside another, e.g. every unit × every community)."""
    return any(len(_SCAN.findall(getattr(f, "__policyengine_source__", ""))) > 1 for f in rule_functions(rule))


def classify(policy: Any) -> dict[str, str]:
    """rule id → local | jurisdiction | scanning (a subject rule that iterates a province-wide
    collection, or a jurisdiction rule that may iterate one inside another)."""
    out = {}
    for rule in policy.rules:
        if rule.subject == "jurisdiction":
            out[rule.id] = "scanning" if nested_scans(rule) else "jurisdiction"
        else:
            out[rule.id] = "scanning" if scanned_collections(rule) else "local"
    return out


def time_rule(policy: Any, rule: Any, records: Any) -> tuple[int, float]:
    """(findings, CPU seconds) of one rule over all its subjects."""
    gc.collect()
    start = time.process_time()
    findings = len(_run(policy, (rule,), records, AS_OF).findings)
    return findings, time.process_time() - start


def run_policy(policy: Any, records: Any, communities: int, classes: dict[str, str],
               scanning_budget_s: float, scanning_seen: dict[str, dict[str, float]],
               log: Callable[[str], None]) -> dict[str, Any]:
    totals = {"local": [0, 0.0], "jurisdiction": [0, 0.0], "scanning": [0, 0.0]}
    rules = []
    skipped = []
    for rule in policy.rules:
        kind = classes[rule.id]
        if kind == "scanning":
            seen = scanning_seen.get(rule.id)
            if seen is not None:
                # quadratic: time grows with the square of the province
                projected = seen["seconds"] * (communities / seen["communities"]) ** 2
                if projected > scanning_budget_s:
                    skipped.append({"rule": rule.id, "projected_s": round(projected, 1)})
                    continue
        findings, seconds = time_rule(policy, rule, records)
        if kind == "scanning":
            scanning_seen[rule.id] = {"communities": communities, "seconds": seconds}
        totals[kind][0] += findings
        totals[kind][1] += seconds
        rules.append({"rule": rule.id, "class": kind, "findings": findings, "ms": seconds * 1e3,
                      "us_per_finding": seconds * 1e6 / max(findings, 1),
                      **({"scans": scanned_collections(rule)} if kind == "scanning" else {})})
    linear_s = totals["local"][1] + totals["jurisdiction"][1]
    linear_findings = totals["local"][0] + totals["jurisdiction"][0]
    result = {
        "policy": policy.name, "communities": communities, "rules": len(policy.rules),
        "local_rules": sum(1 for k in classes.values() if k == "local"),
        "jurisdiction_rules": sum(1 for k in classes.values() if k == "jurisdiction"),
        "scanning_rules": sum(1 for k in classes.values() if k == "scanning"),
        "linear_seconds": linear_s, "linear_findings": linear_findings,
        "linear_us_per_community": linear_s * 1e6 / communities,
        "linear_us_per_finding": linear_s * 1e6 / max(linear_findings, 1),
        "scanning_seconds_timed": totals["scanning"][1], "scanning_findings_timed": totals["scanning"][0],
        "scanning_skipped": skipped, "per_rule": sorted(rules, key=lambda r: -r["ms"]),
    }
    log(f"    {policy.name:8} {communities:>7} communities: local+jurisdiction rules "
        f"{linear_s:7.2f} s = {result['linear_us_per_community']:8.1f} µs/community "
        f"({result['linear_us_per_finding']:.1f} µs/finding, {linear_findings} findings); "
        f"scanning rules timed {totals['scanning'][1]:.2f} s, {len(skipped)} skipped")
    return result


def load_times(repeat: int = 3) -> dict[str, Any]:
    """Load + check + compile of each bundled policy file, uncached (best of `repeat`)."""
    from policyengine import engine

    out = {}
    for name in POLICIES:
        path = engine.policy_path(name)
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            engine._load(str(path), {})
            best = min(best, time.perf_counter() - start)
        out[name] = best
    return out
