"""Issue-19 parts of the benchmark suite (benchmarks/run.py): whole-policy figures.

- whole-rule workload: four Ruian rules, engine vs hand-written Decimal Python (wholerule.py), ratios;
- µs per community for every policy, against the commit before issue 19 measured in the same run
  (its tree exported with `git archive` and run by the same benchmarks/policies.py), regression flags;
- end to end: `policyengine evaluate --policy ruian <10k province> --format json -o FILE`, wall time
  and peak RSS of the process; the same with `--jobs 2`, outputs compared byte for byte;
- linearity: every rule of every policy, µs per community at a small and a large province (best of
  two), naming every rule whose cost per community grows by more than 1.5×.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BASELINE_REV = "8cb8bc4"  # the commit before issue 19
REGRESSION = 1.10  # more than 10% slower is a regression
GROWTH = 1.5  # a rule is linear when its µs per community grows by at most 1.5×

import policies  # noqa: E402
import province  # noqa: E402
import wholerule  # noqa: E402

import policyengine  # noqa: E402

AS_OF = policies.AS_OF


def whole_rule(communities: int, repeat: int, log: Callable) -> dict:
    records = policyengine.load_records(province.generate(communities))
    result = wholerule.run(policyengine.load_policy("ruian"), records, AS_OF, repeat=repeat)
    log(f"  four Ruian rules on {communities} communities ({result['findings']} findings): engine "
        f"{result['engine_s']:.3f} s, hand-written {result['hand_s']:.3f} s → {result['ratio']:.2f}× "
        f"(goal ≤ 3×, aim 1.5×); tuples equal: {result['equal']}")
    for rule, r in result["per_rule"].items():
        log(f"    {rule:52} {r['findings']:>7} findings  {r['ratio']:5.2f}×")
    if not result["equal"]:
        log(f"    DISAGREE on {result['disagreements']}: {result['disagreement_example']}")
    return result


def baseline_tree(rev: str) -> Path | None:
    """The tree of `rev` exported to a temporary directory (None without git)."""
    target = Path(tempfile.mkdtemp(prefix=f"policyengine-{rev}-"))
    try:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    (target / "benchmarks" / "policies.py").write_text((HERE / "policies.py").read_text(encoding="utf-8"),
                                                       encoding="utf-8")
    return target


def _policies_in(tree: Path, sizes: list[int]) -> dict:
    out = Path(tempfile.mktemp(suffix=".json"))
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    subprocess.run([sys.executable, str(tree / "benchmarks" / "policies.py"), "--sizes", ",".join(map(str, sizes)),
                    "--no-per-rule", "--out", str(out)], env=env, check=True, stdout=subprocess.DEVNULL)
    data = json.loads(out.read_text(encoding="utf-8"))
    out.unlink()
    return data


def per_policy(sizes: list[int], rev: str, log: Callable) -> dict:
    """µs per community of every policy, now and at `rev`, each measured in its own process (best of
    two alternating runs, so that both meet the same load)."""
    tree = baseline_tree(rev)
    runs = {"current": [], "baseline": []}
    for _ in range(2):
        runs["current"].append(_policies_in(ROOT, sizes))
        if tree is not None:
            runs["baseline"].append(_policies_in(tree, sizes))
    result: dict = {"baseline_rev": rev, "sizes": {}}
    for size in map(str, sizes):
        entry = {}
        for name in policies.POLICIES:
            now = min(r["sizes"][size][name]["us_per_community"] for r in runs["current"])
            then = min((r["sizes"][size][name]["us_per_community"] for r in runs["baseline"]), default=None)
            ratio = now / then if then else None
            entry[name] = {"us_per_community": now, "baseline_us_per_community": then, "ratio_to_baseline": ratio,
                           "regression": ratio is not None and ratio > REGRESSION}
            log(f"  {name:8} {size:>6} communities: {now:8.1f} µs/community" +
                (f", {rev}: {then:8.1f} → {ratio:.2f}×{'  REGRESSION' if ratio > REGRESSION else ''}" if then else ""))
        result["sizes"][size] = entry
    return result


def baseline_startup_micro(rev: str, quick: bool, log: Callable) -> dict | None:
    """The pre-issue-19 suite's own start-up and micro parts (its benchmarks/run.py), run now."""
    tree = baseline_tree(rev)
    if tree is None:
        return None
    out = Path(tempfile.mkdtemp(prefix="policyengine-baseline-results-"))
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    subprocess.run([sys.executable, str(tree / "benchmarks" / "run.py"), *(["--quick"] if quick else []),
                    "--skip-macro", "--out", str(out)], env=env, check=True, stdout=subprocess.DEVNULL)
    return json.loads((out / "latest.json").read_text(encoding="utf-8"))


def regressions(current: dict, baseline: dict, log: Callable) -> list[dict]:
    """Start-up and the policyengine micro-workloads, now against the baseline: > 10% slower flagged."""
    rows = []
    pairs = [("start-up: rules --policy liuzhou (s)", current["startup"]["cli_rules_liuzhou_s"],
              baseline["startup"]["cli_rules_liuzhou_s"]),
             ("start-up: check 4 policies (s)", current["startup"]["cli_check_four_policies_s"],
              baseline["startup"]["cli_check_four_policies_s"]),
             ("start-up: load+check+compile 4 policies (s)", current["startup"]["load_check_compile_all_four_s"],
              baseline["startup"]["load_check_compile_all_four_s"])]
    for r in current["micro"]:
        if r["engine"] != "policyengine":
            continue
        old = next((b for b in baseline["micro"] if b["workload"] == r["workload"] and b["engine"] == r["engine"]), None)
        if old:
            pairs.append((f"micro {r['workload']} policyengine (median µs)", r["median_us"], old["median_us"]))
    for name, now, then in pairs:
        ratio = now / then if then else None
        rows.append({"workload": name, "now": now, "baseline": then, "ratio": ratio,
                     "regression": ratio is not None and ratio > REGRESSION})
        log(f"  {name:46} {now:10.3f}  {BASELINE_REV}: {then:10.3f}  → {ratio:.2f}×"
            f"{'  REGRESSION' if ratio > REGRESSION else ''}")
    return rows


def _run_measured(args: list[str]) -> tuple[float, float, int, float]:
    """(wall seconds, peak RSS MiB, exit status, CPU seconds with its workers) of a child process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "policyengine", *args], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024, process.returncode, usage.ru_utime + usage.ru_stime


def end_to_end(communities: int, log: Callable) -> dict:
    """Ruian, `evaluate --format json` end to end (read, evaluate, write), --jobs 1 and 2."""
    work = Path(tempfile.mkdtemp(prefix="policyengine-e2e-"))
    source = work / f"ruian-{communities}.json"
    source.write_text(province.to_json(province.generate(communities)), encoding="utf-8")
    out: dict = {"communities": communities, "input_mib": source.stat().st_size / 2**20}
    outputs = {}
    for jobs in (1, 2):
        target = work / f"report-jobs{jobs}.json"
        wall, rss, status, cpu = _run_measured(["evaluate", "--policy", "ruian", str(source), "--as-of", AS_OF.isoformat(),
                                           "--format", "json", "-o", str(target), "--jobs", str(jobs)])
        outputs[jobs] = target
        out[f"jobs{jobs}"] = {"wall_s": wall, "cpu_s": cpu, "peak_rss_mib": rss, "exit_status": status,
                              "output_mib": target.stat().st_size / 2**20}
        log(f"  ruian {communities} communities, evaluate --format json --jobs {jobs}: {wall:.1f} s wall, {cpu:.1f} s CPU, "
            f"peak RSS {rss:.0f} MiB (goal ≤ 10 s, ≤ 1536 MiB); output {out[f'jobs{jobs}']['output_mib']:.0f} MiB")
    out["identical_output"] = outputs[1].read_bytes() == outputs[2].read_bytes()
    out["jobs2_speedup"] = out["jobs1"]["wall_s"] / out["jobs2"]["wall_s"]
    log(f"  --jobs 2 vs --jobs 1: {out['jobs2_speedup']:.2f}× faster (goal ≥ 1.6×); identical output: "
        f"{out['identical_output']}  (peak RSS of --jobs 2: the parent only; each worker shares its pages)")
    for path in work.iterdir():
        path.unlink()
    work.rmdir()
    return out


def linearity(sizes: tuple[int, int], log: Callable) -> dict:
    """Both provinces are held at once and each rule is timed on them back to back, alternating
    (best of two each, after one warm-up run that pays the rule's code generation). Timing the
    sizes one after the other measured the small province with its whole working set warm in the
    CPU caches and the large one cold, minutes apart under a different machine load: that, not the
    rules, made cheap rules look 1.5-1.85x costlier per community at 30k (issue 19, README)."""
    small, large = sizes
    loaded = {n: policyengine.load_policy(n) for n in policies.POLICIES}
    held = {size: policyengine.load_records(province.generate(size, city=policies.POLICIES)) for size in sizes}
    per_rule: dict[str, list[float]] = {}
    for policy in loaded.values():
        for rule in policy.rules:
            policies.evaluate(policy, held[small], [rule.id])
            best = {small: float("inf"), large: float("inf")}
            for _ in range(2):
                for size in (small, large):
                    best[size] = min(best[size], policies.cpu(policies.evaluate, policy, held[size], [rule.id])[1])
            per_rule[rule.id] = [best[small] * 1e6 / small, best[large] * 1e6 / large]
    del held
    growing = {rule: v[1] / v[0] for rule, v in per_rule.items() if v[0] > 0 and v[1] / v[0] > GROWTH}
    worst = sorted(per_rule.items(), key=lambda kv: -(kv[1][1] / kv[1][0] if kv[1][0] else 0))[:5]
    log(f"  {len(per_rule)} rules, µs/community at {small} → {large} communities; growing > {GROWTH}×: "
        + (", ".join(f"{r} ({g:.2f}×)" for r, g in growing.items()) or "none"))
    for rule, (a, b) in worst:
        log(f"    {rule:60} {a:9.1f} → {b:9.1f}  {b / a if a else 0:.2f}×")
    return {"sizes": [small, large], "per_rule_us_per_community": per_rule, "growing": growing}


def run(args, log: Callable) -> dict:
    result: dict = {"date": dt.datetime.now().isoformat(timespec="seconds")}
    log("\n4. whole-rule workload: four Ruian rules, engine vs hand-written Decimal Python (same records, CPU time)")
    result["whole_rule"] = whole_rule(args.whole_rule_communities, 3, log)
    log(f"\n5. every policy, µs per community, against {BASELINE_REV} (the commit before issue 19), same run")
    result["per_policy"] = per_policy(args.policy_sizes, BASELINE_REV, log)
    log(f"\n6. end to end: ruian, {args.e2e_communities} communities, evaluate --format json (read, evaluate, write)")
    result["end_to_end"] = end_to_end(args.e2e_communities, log)
    log(f"\n7. linearity: every rule, {args.linearity_sizes[0]} → {args.linearity_sizes[1]} communities")
    result["linearity"] = linearity(tuple(args.linearity_sizes), log)
    return result
