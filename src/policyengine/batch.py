"""Batch: streamed evaluation, across processes, with progress; per-rule timing for `policyengine bench`.

An evaluation is a stream of rule parts (a rule's table entry and its rows in report order), rules
in report order. `--jobs N` forks N workers once the policy and records are loaded: they share the
records copy-on-write and take rules one at a time from a shared counter (so a slow rule does not
hold up a fixed share), each encoding its rules' output text into its own spool file; the parent
copies the parts to the output in rule order as they complete. Nothing but a few integers per rule
crosses between processes, and the output is byte for byte the output of `--jobs 1`.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import multiprocessing
import os
import pickle
import shutil
import sys
import tempfile
import time
import traceback
from typing import Any, Callable, Iterable, Iterator, Sequence

from policyengine.evaluator import CompiledRule, EvaluationContext, evaluate_rule, evaluate_rules, rule_info
from policyengine.recordschema import load_record_schema
from policyengine.records import RecordSet
from policyengine.report import OUTCOME_FIELD, OUTCOMES, Report, Row, RuleInfo, StreamWriter, encode_rule, shown_rows


def select_rules(policy, patterns: Iterable[str] | None) -> tuple[CompiledRule, ...]:
    """The policy's rules named by ids or globs (`ruian.reward.*`), in report order; all of them
    without patterns. A pattern that names no rule is an error (a typo must not evaluate nothing)."""
    rules = sorted(policy.rules, key=lambda r: r.id)
    if patterns is None:
        return tuple(rules)
    patterns = list(patterns)
    unmatched = [p for p in patterns if not any(fnmatch.fnmatchcase(r.id, p) for r in rules)]
    if unmatched:
        raise KeyError(f"no rule of {policy.name} matches: {', '.join(unmatched)}")
    return tuple(r for r in rules if any(fnmatch.fnmatchcase(r.id, p) for p in patterns))


def _window(policy) -> tuple:
    return (policy.effective_from, policy.effective_to)


def _collections() -> tuple[str, ...]:
    return tuple(load_record_schema().collections)


def _run(policy, rules, records: RecordSet, as_of: dt.date) -> Report:
    return evaluate_rules(tuple(rules), records, as_of, policy.scope, _window(policy), policy.name,
                          _collections())


def _parts(policy, rules: Sequence[CompiledRule], records: RecordSet, as_of: dt.date,
           jobs: int, encode: Callable[[RuleInfo, list[Row]], bytes]) -> Iterator[tuple[RuleInfo, Any, dict]]:
    """(rule entry, encoded part, counts) per rule, in report order; evaluated here or in workers."""
    if jobs <= 1 or len(rules) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        context = EvaluationContext(records, as_of, _collections())
        for rule in rules:
            info = rule_info(rule)
            rows = evaluate_rule(rule, records, as_of, policy.scope, _window(policy), context)
            yield info, encode(info, rows), _counts(rows)
        return
    yield from _forked_parts(policy, rules, records, as_of, min(jobs, len(rules)), encode)


def _counts(rows: Iterable[Row]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        outcome = row[OUTCOME_FIELD]
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def _forked_parts(policy, rules, records, as_of, jobs, encode):
    ctx = multiprocessing.get_context("fork")
    counter = ctx.Value("i", 0)
    done = ctx.SimpleQueue()
    spool = tempfile.mkdtemp(prefix="policyengine-")
    workers = [ctx.Process(target=_worker, args=(k, policy, rules, records, as_of, encode, counter, done,
                                                 os.path.join(spool, f"{k}.part")), daemon=True)
               for k in range(jobs)]
    try:
        for w in workers:
            w.start()
        files: dict[int, Any] = {}
        pending: dict[int, tuple] = {}
        finished, following = 0, 0
        while finished < jobs:
            message = done.get()
            if message[0] == "error":
                raise RuntimeError(f"worker failed:\n{message[1]}")
            if message[0] == "done":
                finished += 1
            else:
                pending[message[1]] = message
            while following in pending:
                _, index, worker, offset, length, counts = pending.pop(following)
                if worker not in files:
                    files[worker] = open(os.path.join(spool, f"{worker}.part"), "rb")
                files[worker].seek(offset)
                yield rule_info(rules[index]), files[worker].read(length), counts
                following += 1
        for f in files.values():
            f.close()
    finally:
        for w in workers:
            w.join(timeout=5)
            if w.is_alive():
                w.terminate()
        shutil.rmtree(spool, ignore_errors=True)


def _worker(k, policy, rules, records, as_of, encode, counter, done, path) -> None:
    try:
        context = EvaluationContext(records, as_of, _collections())
        with open(path, "wb") as spool:
            while True:
                with counter.get_lock():
                    index = counter.value
                    counter.value += 1
                if index >= len(rules):
                    break
                rule = rules[index]
                rows = evaluate_rule(rule, records, as_of, policy.scope, _window(policy), context)
                data = encode(rule_info(rule), rows)
                offset = spool.tell()
                spool.write(data)
                spool.flush()
                done.put(("part", index, k, offset, len(data), _counts(rows)))
        done.put(("done",))
    except BaseException:  # noqa: BLE001 - reported to the parent, which raises
        done.put(("error", traceback.format_exc()))


def _pickled(info: RuleInfo, rows: list[Row]) -> bytes:
    return pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL)


def evaluate_parallel(policy, records: RecordSet, as_of: dt.date, jobs: int = 1, progress: bool = False,
                      sources: list | None = None, rules: Iterable[str] | None = None) -> Report:
    """The whole report (the API's Report, with every finding), evaluated in `jobs` processes."""
    selected = select_rules(policy, rules)
    table, rows = {}, []
    if jobs <= 1:
        context = EvaluationContext(records, as_of, _collections())
        for done, rule in enumerate(selected, 1):
            table[rule.id] = rule_info(rule)
            rows.extend(evaluate_rule(rule, records, as_of, policy.scope, _window(policy), context))
            if progress:
                _bar(done, len(selected))
    else:
        for done, (info, data, _) in enumerate(_parts(policy, selected, records, as_of, jobs, _pickled), 1):
            table[info.id] = info
            rows.extend(pickle.loads(data) if isinstance(data, bytes) else data)
            if progress:
                _bar(done, len(selected))
    if progress:
        print(file=sys.stderr)
    return Report(policy.name, as_of, tuple(rows), table)


def write_report(policy, records: RecordSet, as_of: dt.date, out, fmt: str, *, show_all: bool = False,
                 pretty: bool = False, jobs: int = 1, rules: Iterable[str] | None = None,
                 progress: bool = False) -> dict[str, int]:
    """Stream `--format json|jsonl` to the text stream `out` as rules complete; the counts."""
    selected = select_rules(policy, rules)
    writer = StreamWriter(out, fmt, policy.name, as_of, [rule_info(r) for r in selected], show_all, pretty)

    def encode(info: RuleInfo, rows: list[Row]) -> bytes:
        return encode_rule(info, rows, fmt, show_all, pretty).encode("utf-8")

    for done, (info, data, counts) in enumerate(_parts(policy, selected, records, as_of, jobs, encode), 1):
        for outcome, n in counts.items():
            writer.counts[outcome] += n
        writer.write_text(data.decode("utf-8"))
        if progress:
            _bar(done, len(selected))
    if progress:
        print(file=sys.stderr)
    writer.close()
    return writer.counts


def table_report(policy, records: RecordSet, as_of: dt.date, *, show_all: bool, jobs: int = 1,
                 rules: Iterable[str] | None = None, progress: bool = False) -> tuple[list, dict[str, int]]:
    """For the table format: (shown findings, counts of all findings)."""
    from policyengine.report import make_finding

    selected = select_rules(policy, rules)
    counts = {outcome: 0 for outcome in OUTCOMES}
    shown = []

    def encode(info: RuleInfo, rows: list[Row]) -> bytes:
        return pickle.dumps(shown_rows(rows, show_all), protocol=pickle.HIGHEST_PROTOCOL)

    for done, (info, data, part_counts) in enumerate(_parts(policy, selected, records, as_of, jobs, encode), 1):
        for outcome, n in part_counts.items():
            counts[outcome] += n
        shown.extend(make_finding(row, info) for row in pickle.loads(data))
        if progress:
            _bar(done, len(selected))
    if progress:
        print(file=sys.stderr)
    return shown, counts


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
            count = len(_run(policy, (rule,), records, as_of).rows)
            best = min(best, time.perf_counter() - start)
        rows.append((rule.id, count, best * 1000, best * 1e6 / max(count, 1)))
    return sorted(rows, key=lambda row: -row[2])


def province_scans(rule) -> tuple[str, ...]:
    """The record collections of the whole input that a rule reads (the checker records them). For
    a rule with a subject, each such scan runs once per subject, so the rule's cost grows with the
    square of the input; a navigation (`unit.memberships`, `community.assignments` …) usually says
    the same thing at constant cost per subject."""
    return rule.scans
