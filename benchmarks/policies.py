"""Whole-policy costs: µs per community for every policy, and per rule, at given province sizes.

Written against the public API only (`load_policy`, `load_records`, `Policy.evaluate`), plus the
pre-issue-19 `batch._run` when `Policy.evaluate` takes no `rules=`, so that the same code measures
the commit before issue 19 (benchmarks/results/baseline-8cb8bc4.json) and the current one.

    python benchmarks/policies.py --sizes 1000,10000 --out FILE    # what the baseline file holds
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import inspect
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Iterable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
if (HERE.parent / "src" / "policyengine").is_dir() and str(HERE.parent / "src") not in sys.path:
    sys.path.insert(0, str(HERE.parent / "src"))

import province  # noqa: E402

import policyengine  # noqa: E402

AS_OF = dt.date(2024, 9, 1)
POLICIES = ("liuzhou", "ruian", "yueqing", "suixian")


def evaluate(policy: Any, records: Any, rules: Iterable[str] | None = None) -> int:
    """Evaluate (all or some rules); the number of findings."""
    if rules is None:
        return len(policy.evaluate(records, AS_OF).findings)
    rules = list(rules)
    if "rules" in inspect.signature(policy.evaluate).parameters:
        return len(policy.evaluate(records, AS_OF, rules=rules).findings)
    from policyengine.batch import _run  # before issue 19

    return len(_run(policy, [policy.rule(r) for r in rules], records, AS_OF).findings)


def cpu(function, *args) -> tuple[Any, float]:
    gc.collect()
    start = time.process_time()
    result = function(*args)
    return result, time.process_time() - start


def measure(sizes: list[int], per_rule: bool = True, log=print) -> dict:
    policies = {name: policyengine.load_policy(name) for name in POLICIES}
    out: dict = {"as_of": AS_OF.isoformat(), "sizes": {}}
    for size in sizes:
        records = policyengine.load_records(province.generate(size, city=POLICIES))
        entry: dict = {}
        for name, policy in policies.items():
            findings, seconds = cpu(evaluate, policy, records)
            rules = {}
            if per_rule:
                for rule in policy.rules:
                    _, s = cpu(evaluate, policy, records, [rule.id])
                    rules[rule.id] = s * 1e6 / size
            entry[name] = {"findings": findings, "seconds": seconds, "us_per_community": seconds * 1e6 / size,
                           "rules_us_per_community": rules}
            log(f"  {name:8} {size:>6} communities: {seconds:7.2f} s = {seconds * 1e6 / size:8.1f} µs/community, "
                f"{findings} findings")
        out["sizes"][str(size)] = entry
        del records
        gc.collect()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--no-per-rule", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = {"started": dt.datetime.now().isoformat(timespec="seconds"), "load_average": os.getloadavg(),
              **measure([int(s) for s in args.sizes.split(",")], per_rule=not args.no_per_rule)}
    if args.out:
        args.out.write_text(json.dumps(result, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
