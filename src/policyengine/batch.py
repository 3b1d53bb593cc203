"""Batch: evaluation across processes, with progress, and per-rule timing for `policyengine bench`.

Parallel runs split the *rules* between worker processes: each worker loads the same policy and
records once and evaluates its share; the findings are merged and sorted exactly as a single run
sorts them, so `--jobs N` and `--jobs 1` give identical reports.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from policyengine.evaluator import evaluate_rules
from policyengine.recordschema import load_record_schema
from policyengine.records import RecordSet, load_records
from policyengine.report import Finding, Report

_worker: dict[str, Any] = {}


def evaluate_parallel(policy, records: RecordSet, as_of: dt.date, jobs: int = 1, progress: bool = False,
                      sources: list | None = None) -> Report:
    """Evaluate `policy`; with jobs > 1, `sources` (the record files) are re-read by each worker."""
    if jobs <= 1 or sources is None:
        return _evaluate_in_process(policy, records, as_of, progress)
    chunks = [[r.id for r in policy.rules[i::jobs]] for i in range(jobs)]
    with ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker,
                             initargs=(policy.path, _overrides(policy), [str(s) for s in sources])) as pool:
        parts = list(pool.map(_evaluate_chunk, chunks, [as_of] * len(chunks)))
    findings = sorted((f for part in parts for f in part), key=Finding.sort_key)
    return Report(policy.name, as_of, tuple(findings))


def _overrides(policy) -> dict[str, Any]:
    """The parameter values in which `policy` differs from its file (what its caller overrode): the
    workers load the file with exactly these."""
    from policyengine.engine import load_policy

    defaults = load_policy(policy.path).parameters
    return {name: value for name, value in policy.parameters.items() if defaults.get(name) != value}


def _evaluate_in_process(policy, records: RecordSet, as_of: dt.date, progress: bool) -> Report:
    if not progress:
        return policy.evaluate(records, as_of)
    findings: list[Finding] = []
    for done, rule in enumerate(policy.rules, 1):
        findings.extend(_run(policy, (rule,), records, as_of).findings)
        _bar(done, len(policy.rules))
    print(file=sys.stderr)
    return Report(policy.name, as_of, tuple(sorted(findings, key=Finding.sort_key)))


def _run(policy, rules, records: RecordSet, as_of: dt.date) -> Report:
    return evaluate_rules(tuple(rules), records, as_of, policy.jurisdiction,
                          (policy.effective_from, policy.effective_to), policy.name,
                          tuple(load_record_schema().collections))


def _init_worker(path: str, parameters: dict, sources: list[str]) -> None:
    from policyengine.engine import load_policy

    _worker["policy"] = load_policy(path, parameters=parameters)
    _worker["records"] = load_records(sources)


def _evaluate_chunk(rule_ids: list[str], as_of: dt.date) -> tuple[Finding, ...]:
    policy = _worker["policy"]
    rules = [policy.rule(rule_id) for rule_id in rule_ids]
    return _run(policy, rules, _worker["records"], as_of).findings


def _bar(done: int, total: int, width: int = 30) -> None:
    filled = width * done // max(total, 1)
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} rules")
    sys.stderr.flush()


def bench_rules(policy, records: RecordSet, as_of: dt.date, repeat: int = 5) -> list[tuple[str, int, float, float]]:
    """Per rule: (rule id, findings, best total ms, µs per finding), slowest first."""
    rows = []
    for rule in policy.rules:
        best, count = float("inf"), 0
        for _ in range(max(repeat, 1)):
            start = time.perf_counter()
            count = len(_run(policy, (rule,), records, as_of).findings)
            best = min(best, time.perf_counter() - start)
        rows.append((rule.id, count, best * 1000, best * 1e6 / max(count, 1)))
    return sorted(rows, key=lambda row: -row[2])


def province_scans(rule) -> tuple[str, ...]:
    """The record collections of the whole input that a rule reads (the checker records them). For
    a rule with a subject, each such scan runs once per subject, so the rule's cost grows with the
    square of the input; a navigation (`unit.memberships`, `community.assignments` …) usually says
    the same thing at constant cost per subject."""
    return rule.scans

