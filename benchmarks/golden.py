"""Golden reports: every bundled policy on its bundled example records and on a seeded province.

    python benchmarks/golden.py            # compare the current reports with tests/golden/ (exit 1 on a difference)
    python benchmarks/golden.py --update   # rewrite tests/golden/ from the current code

The goldens were first written by the commit before issue 19 (8cb8bc4) and pin what every finding
says, independently of the report format: one line per rule (its id and the data that is the same for
all its findings: strength, citation, message), then one line per finding with every per-finding field
(rule, subject, subject_kind, community, period, outcome, amount, currency, values), in report order.
A change that is meant to change findings (a fidelity fix in a policy) regenerates them with
`--update` in the same commit, so that the diff shows exactly which findings changed.
tests/test_golden.py runs the comparison.
"""

from __future__ import annotations

import argparse
import datetime as dt
import difflib
import json
import sys
from pathlib import Path
from typing import Any, Iterable, Iterator

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
if (ROOT / "src" / "policyengine").is_dir():
    sys.path.insert(0, str(ROOT / "src"))

import province  # noqa: E402

import policyengine  # noqa: E402

GOLDEN = ROOT / "tests" / "golden"
AS_OF = dt.date(2024, 9, 1)
POLICIES = ("liuzhou", "ruian", "yueqing", "suixian")
EXAMPLES = {
    "liuzhou": ("liuzhou-annex.yaml", "liuzhou-activity.yaml"),
    "ruian": ("ruian.yaml",),
    "yueqing": ("yueqing.yaml", "yueqing-activities.yaml"),
    "suixian": ("suixian-annex.yaml", "suixian-fusion-b2.yaml", "suixian-nonconforming.yaml"),
    "zhangdian": ("zhangdian.yaml",),
    "wucheng": ("wucheng.yaml",),
    "linzi": ("linzi.yaml",),
    "libo": ("libo.yaml",),
}
PROVINCE_COMMUNITIES = 8  # two per city: every rule meets a few subjects, the files stay small


def cases() -> Iterator[tuple[str, str, Any]]:
    """(golden file name, policy, records source) for every golden report."""
    for name in EXAMPLES:  # every policy with example records; the province stays the four cities'
        yield f"{name}-examples.jsonl", name, [ROOT / "examples" / f for f in EXAMPLES[name]]
    raw = province.generate(PROVINCE_COMMUNITIES, city=POLICIES)
    for name in POLICIES:
        yield f"{name}-province.jsonl", name, raw


def canonical_lines(findings: Iterable[Any]) -> list[str]:
    """The golden text of a report's findings (the public `Finding` attributes), in report order."""
    lines: list[str] = []
    seen: set[str] = set()
    for f in findings:
        if f.rule not in seen:
            seen.add(f.rule)
            c = f.citation
            lines.append(_dump(["rule", f.rule, f.strength, c.file, c.section, c.quote, f.message]))
        lines.append(_dump([f.rule, f.subject, f.subject_kind, f.community, f.period, f.outcome,
                            None if f.amount is None else str(f.amount), f.currency, f.values]))
    return lines


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def current(policy: str, source: Any) -> list[str]:
    loaded = policyengine.load_policy(policy)
    report = loaded.evaluate(loaded.load_records(source), AS_OF)  # with the policy's schema extension, if any
    return canonical_lines(report.findings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="compare or rewrite the golden reports")
    parser.add_argument("--update", action="store_true", help="rewrite tests/golden/ from the current code")
    args = parser.parse_args(argv)
    GOLDEN.mkdir(parents=True, exist_ok=True)
    different = 0
    for file, policy, source in cases():
        lines = current(policy, source)
        path = GOLDEN / file
        if args.update:
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT)}: {len(lines)} lines")
            continue
        expected = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        if lines != expected:
            different += 1
            diff = list(difflib.unified_diff(expected, lines, f"golden/{file}", "current", lineterm="", n=0))
            print(f"{file}: differs ({len(diff)} diff lines)")
            print("\n".join(diff[:40]))
        else:
            print(f"{file}: identical ({len(lines)} lines)")
    if args.update:
        update_readme_coverage()
    return 1 if different else 0


def update_readme_coverage() -> None:
    """Rewrite the README's source-coverage table (tests/test_weave.py checks it): a policy change
    that moves a rule's quote, or a new policy, changes it together with the golden reports."""
    from policyengine import resources
    from policyengine.weave import COVERAGE_HEADER, coverage_row, weave

    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    table = "\n".join([COVERAGE_HEADER, *(coverage_row(weave(name, ROOT / "sources"))
                                         for name in resources.bundled_policy_names())])
    start = text.index(COVERAGE_HEADER.splitlines()[0])
    end = text.find("\n\n", start)
    readme.write_text(text[:start] + table + text[end:], encoding="utf-8")
    print("rewrote the README's source-coverage table")


if __name__ == "__main__":
    sys.exit(main())
