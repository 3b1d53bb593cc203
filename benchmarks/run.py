"""policyengine benchmark suite (issue 10): one command, a side-by-side table, a JSON result file.

    python benchmarks/run.py            # full run (1,000 / 10,000 / 100,000 communities; ~10 min on 2 cores)
    python benchmarks/run.py --quick    # 1,000 / 10,000 communities, fewer passes (~2 min)

Needs the peers for the side-by-side table: `pip install -e '.[bench]'` (cel-python, rule-engine,
zen-engine); a peer that is not installed is left out. Parts:
1. start-up: `policyengine rules --policy liuzhou` and `policyengine check` of the four policies, and
   load + check + compile of each policy file in-process;
2. micro-workloads R1–R3 (benchmarks/micro.py) on a 1,000-community synthetic province: median µs per
   record (CPU time), ratio to the hand-written Decimal function, peak memory, results compared;
3. macro-workload (benchmarks/macro.py): each policy over the whole province at each size, rule by rule.
Results go to benchmarks/results/<timestamp>.json (and latest.json).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import multiprocessing
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
if (HERE.parent / "src" / "policyengine").is_dir():
    sys.path.insert(0, str(HERE.parent / "src"))

import macro  # noqa: E402
import micro  # noqa: E402
import province  # noqa: E402

import policyengine  # noqa: E402

TARGETS = {"ratio_to_hand_written_max": 2.0, "faster_than_cel_min": 50.0}


def log(text: str = "") -> None:
    print(text, flush=True)


def machine() -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for package in ("edu-policyengine", "cel-python", "rule-engine", "zen-engine", "lark", "pyyaml"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {"cores": os.cpu_count(), "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "cpu": model, "python": platform.python_version(), "platform": platform.platform(),
            "load_average_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None, "versions": versions}


def startup(repeat: int) -> dict:
    env = dict(os.environ)
    src = str(HERE.parent / "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    policies = [str(HERE.parent / "policies" / f"{name}.yaml") for name in macro.POLICIES]

    def wall(args: list[str]) -> float:
        samples = []
        for _ in range(repeat):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "policyengine", *args], env=env, check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            samples.append(time.perf_counter() - start)
        return statistics.median(samples)

    out = {"cli_rules_liuzhou_s": wall(["rules", "--policy", "liuzhou"]),
           "cli_check_four_policies_s": wall(["check", *policies]),
           "load_check_compile_s": macro.load_times(repeat)}
    out["load_check_compile_all_four_s"] = sum(out["load_check_compile_s"].values())
    log(f"  policyengine rules --policy liuzhou: {out['cli_rules_liuzhou_s']:.2f} s (wall, whole process)")
    log(f"  policyengine check <4 policies>:     {out['cli_check_four_policies_s']:.2f} s")
    log("  load + check + compile in-process:   " + ", ".join(
        f"{k} {v * 1e3:.0f} ms" for k, v in out["load_check_compile_s"].items())
        + f"; all four {out['load_check_compile_all_four_s'] * 1e3:.0f} ms")
    return out


def micro_table(rows: list[dict]) -> str:
    lines = [f"{'workload':8} {'engine':27} {'records':>7} {'median µs':>10} {'× hand':>8} {'peak KiB':>9} {'disagree':>8}",
             "-" * 84]
    for r in rows:
        lines.append(f"{r['workload']:8} {r['engine']:27} {r['records']:>7} {r['median_us']:>10.2f} "
                     f"{r['ratio_to_hand_written']:>8.2f} {r['peak_memory_bytes'] / 1024:>9.0f} {r['disagreements']:>8}")
    return "\n".join(lines)


def targets(rows: list[dict]) -> list[dict]:
    out = []
    for workload in ("R1", "R2", "R3"):
        by = {r["engine"]: r for r in rows if r["workload"] == workload}
        pe = by.get(micro.PolicyEngine.name)
        if pe is None:
            continue
        checks = [("within 2× of hand-written", pe["ratio_to_hand_written"], pe["ratio_to_hand_written"] <= 2.0)]
        if micro.Cel.name in by:
            speedup = by[micro.Cel.name]["median_us"] / pe["median_us"]
            checks.append(("≥50× faster than cel-python", speedup, speedup >= 50))
        if micro.Zen.name in by:
            speedup = by[micro.Zen.name]["median_us"] / pe["median_us"]
            checks.append(("faster than zen-engine", speedup, speedup > 1))
        own = by.get(micro.HandWrittenOwnContext.name)
        if own is not None:
            checks.append(("vs hand-written with the same context switch", pe["median_us"] / own["median_us"], None))
        for name, value, met in checks:
            out.append({"workload": workload, "target": name, "value": value, "met": met})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="policyengine benchmarks (issue 10)")
    parser.add_argument("--quick", action="store_true", help="1,000 and 10,000 communities, fewer passes")
    parser.add_argument("--sizes", help="macro province sizes, comma-separated (default 1000,10000,100000)")
    parser.add_argument("--micro-communities", type=int, default=1000)
    parser.add_argument("--skip-macro", action="store_true")
    parser.add_argument("--scanning-budget", type=float, default=None,
                        help="seconds a scanning (quadratic) rule may take at one size (default 3; quick 1)")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                        help="processes for the macro-workload (policies split between them; default 2)")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--skip-micro", action="store_true", help="leave out start-up and the micro-workloads")
    parser.add_argument("--skip-whole", action="store_true", help="leave out the issue-19 whole-policy parts")
    parser.add_argument("--whole-rule-communities", type=int, default=2000)
    parser.add_argument("--policy-sizes", type=lambda s: [int(x) for x in s.split(",")], default=None,
                        help="province sizes for µs/community against the pre-issue-19 commit (default 1000)")
    parser.add_argument("--e2e-communities", type=int, default=10000)
    parser.add_argument("--linearity-sizes", type=lambda s: [int(x) for x in s.split(",")], default=None,
                        help="two sizes (default 1000,30000; --quick 1000,10000)")
    args = parser.parse_args(argv)
    args.policy_sizes = args.policy_sizes or [1000]
    args.linearity_sizes = args.linearity_sizes or ([1000, 10000] if args.quick else [1000, 30000])
    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else (
        [1000, 10000] if args.quick else [1000, 10000, 100000])
    repeat, slow_repeat, startup_repeat = (7, 2, 2) if args.quick else (15, 3, 3)
    budget = args.scanning_budget if args.scanning_budget is not None else (1.0 if args.quick else 3.0)
    started = time.perf_counter()
    result: dict = {"issue": 10, "started": dt.datetime.now().isoformat(timespec="seconds"),
                    "quick": args.quick, "machine": machine()}
    m = result["machine"]
    log(f"policyengine benchmarks — {m['cores']} cores ({m['cpu']}), Python {m['python']}, "
        f"load average {m['load_average_at_start']}")

    args.out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")

    def save(final: bool = False) -> None:  # after every part, so that an interrupted run keeps its results
        result["complete"] = final
        result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        result["total_seconds"] = time.perf_counter() - started
        text = json.dumps(result, ensure_ascii=False, indent=1, default=str)
        (args.out / f"{stamp}.json").write_text(text, encoding="utf-8")
        (args.out / "latest.json").write_text(text, encoding="utf-8")

    if not args.skip_whole:
        import whole

        result["issue19"] = whole.run(args, log)
        save()
    if args.skip_micro:
        save(final=True)
        return 0
    log("\n1. start-up")
    result["startup"] = startup(startup_repeat)

    log(f"\n2. micro-workloads on a {args.micro_communities}-community province (one call per record, "
        f"CPU time, engines interleaved, median of {repeat} passes; {slow_repeat} for pure-Python peers)")
    records = policyengine.load_records(province.generate(args.micro_communities, city=macro.POLICIES))
    rows = micro.run_workloads(records, repeat=repeat, slow_repeat=slow_repeat, log=log)
    result["micro"] = rows
    del records
    log("")
    log(micro_table(rows))
    for r in rows:
        for example in r.get("disagreement_examples", [])[:1]:
            log(f"  {r['workload']} {r['engine']} disagrees on {r['disagreements']} records, e.g. "
                f"{example['record']}: exact {example['expected']}, got {example['got']}")
    result["targets"] = targets(rows)
    log("")
    for t in result["targets"]:
        mark = "n/a " if t["met"] is None else ("met " if t["met"] else "MISS")
        log(f"  [{mark}] {t['workload']} policyengine {t['target']}: {t['value']:.2f}")

    save()
    import loading  # record loading against json.load, side by side (issue 15.4)

    log("\n2b. record loading: a JSON province into validated, linked records")
    result["loading"] = loading.run_loading(10_000 if not args.quick else 2_000, repeat=2 if args.quick else 3, log=log)
    save()
    if not args.skip_macro:
        log(f"\n3. macro-workload: every policy over the whole province (as_of {macro.AS_OF}), rule by rule")
        result["macro"] = run_macro(sizes, budget, args.jobs, lambda partial: (result.update(macro=partial), save()))
    if not args.skip_whole:
        import whole

        log(f"\n8. regression check: start-up and micro-workloads against {whole.BASELINE_REV}, measured now")
        baseline = whole.baseline_startup_micro(whole.BASELINE_REV, args.quick, log)
        if baseline is not None:
            result["issue19"]["regressions"] = whole.regressions(result, baseline, log)
    save(final=True)
    log(f"\npeak RSS {result['peak_rss_mib']:.0f} MiB; total {result['total_seconds']:.0f} s; "
        f"results: {args.out / (stamp + '.json')}")
    return 0


def run_macro(sizes: list[int], budget: float, jobs: int = 2, on_size=lambda out: None) -> dict:
    policies = {name: policyengine.load_policy(name) for name in macro.POLICIES}
    classes = {name: macro.classify(p) for name, p in policies.items()}
    scanning = {name: sorted(r for r, k in c.items() if k == "scanning") for name, c in classes.items()}
    for name in macro.POLICIES:
        log(f"  {name}: {len(policies[name].rules)} rules, {len(scanning[name])} scanning (quadratic): "
            + ", ".join(scanning[name]))
    seen: dict[str, dict] = {}
    # calibrate the scanning rules on a small province, so that the budget can be projected
    calibration = min(200, min(sizes))
    records = policyengine.load_records(province.generate(calibration, city=macro.POLICIES))
    for name, policy in policies.items():
        for rule in policy.rules:
            if classes[name][rule.id] == "scanning":
                _, seconds = macro.time_rule(policy, rule, records)
                seen[rule.id] = {"communities": calibration, "seconds": seconds}
    del records
    out: dict = {"as_of": macro.AS_OF.isoformat(), "scanning_rules": scanning, "sizes": []}
    for size in sizes:
        gc.collect()
        start = time.perf_counter()
        raw = province.generate(size, city=macro.POLICIES)
        generated = time.perf_counter() - start
        counts = province.counts(raw)
        start = time.process_time()
        records = policyengine.load_records(raw)
        loaded = time.process_time() - start
        del raw
        n_records = sum(counts.values())
        log(f"  {size} communities: {n_records} records generated in {generated:.1f} s, loaded and validated "
            f"in {loaded:.1f} s ({loaded * 1e6 / n_records:.0f} µs/record)")
        entry = {"communities": size, "records": counts, "generate_s": generated, "load_records_s": loaded,
                 "policies": []}
        results = _evaluate_policies(policies, records, size, classes, budget, seen, jobs)
        entry["policies"] = [results[name] for name in macro.POLICIES]
        out["sizes"].append(entry)
        on_size(out)
        del records
        _STATE.clear()
        gc.collect()
    log("")
    log(macro_table(out))
    return out


_STATE: dict = {}  # what a forked worker inherits: the policies and the loaded province


def _evaluate_policies(policies: dict, records, size: int, classes: dict, budget: float, seen: dict,
                       jobs: int) -> dict:
    """Each policy over the province; with jobs = 2, a forked process (sharing the loaded records)
    takes half of the policies. Times are CPU times of the process that ran the rules."""
    names = list(policies)
    if jobs < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return {n: macro.run_policy(policies[n], records, size, classes[n], budget, seen, log) for n in names}
    _STATE.update(policies=policies, records=records, size=size, classes=classes, budget=budget, seen=seen)
    ours, theirs = names[0::2], names[1::2]
    with multiprocessing.get_context("fork").Pool(1) as pool:
        pending = pool.apply_async(_worker_policies, (theirs,))
        results = {n: macro.run_policy(policies[n], records, size, classes[n], budget, seen, log) for n in ours}
        other, other_seen = pending.get()
    results.update(other)
    seen.update(other_seen)
    return results


def _worker_policies(names: list[str]) -> tuple[dict, dict]:
    st = _STATE
    results = {n: macro.run_policy(st["policies"][n], st["records"], st["size"], st["classes"][n], st["budget"],
                                   st["seen"], log) for n in names}
    return results, st["seen"]


def macro_table(out: dict) -> str:
    sizes = [e["communities"] for e in out["sizes"]]
    header = f"{'policy':9} " + " ".join(f"{s:>12,}" for s in sizes) + "   µs per community (local + jurisdiction rules)"
    lines = [header, "-" * len(header)]
    for name in macro.POLICIES:
        cells = []
        for entry in out["sizes"]:
            p = next(p for p in entry["policies"] if p["policy"] == name)
            cells.append(f"{p['linear_us_per_community']:>12.1f}")
        lines.append(f"{name:9} " + " ".join(cells))
    lines.append("")
    lines.append(f"{'policy':9} " + " ".join(f"{s:>12,}" for s in sizes) + "   seconds for the whole province (same rules)")
    for name in macro.POLICIES:
        cells = []
        for entry in out["sizes"]:
            p = next(p for p in entry["policies"] if p["policy"] == name)
            cells.append(f"{p['linear_seconds']:>12.2f}")
        lines.append(f"{name:9} " + " ".join(cells))
    lines.append("")
    lines.append("scanning (quadratic) rules, seconds at each size where run (— projected over budget):")
    for name in macro.POLICIES:
        for rule_id in out["scanning_rules"][name]:
            cells = []
            for entry in out["sizes"]:
                p = next(p for p in entry["policies"] if p["policy"] == name)
                timed = next((r for r in p["per_rule"] if r["rule"] == rule_id), None)
                skipped = next((s for s in p["scanning_skipped"] if s["rule"] == rule_id), None)
                cells.append(f"{timed['ms'] / 1e3:>12.2f}" if timed else f"{'— ' + str(int(skipped['projected_s'])) + ' s':>12}")
            lines.append(f"  {rule_id[:60]:60} " + " ".join(cells))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
