"""Batch evaluation: `--jobs N` gives the same report as one process; `policyengine bench` times rules."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from policyengine import load_policy, load_records
from policyengine.batch import bench_rules, evaluate_parallel
from policyengine.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
AS_OF = dt.date(2024, 9, 1)
CASES = {
    "liuzhou": ["liuzhou-annex.yaml", "liuzhou-activity.yaml"],
    "ruian": ["ruian.yaml"],
    "yueqing": ["yueqing.yaml", "yueqing-activities.yaml"],
    "suixian": ["suixian-annex.yaml", "suixian-fusion-b2.yaml", "suixian-nonconforming.yaml"],
}


def _sources(city: str) -> list[Path]:
    paths = [EXAMPLES / name for name in CASES[city]]
    missing = [p for p in paths if not p.exists()]
    if missing:
        pytest.skip(f"example records not present: {missing}")
    return paths


@pytest.mark.parametrize("city", sorted(CASES))
def test_jobs_2_gives_the_same_report_as_jobs_1(city):
    sources = _sources(city)
    policy = load_policy(city)
    records = load_records(sources)
    one = evaluate_parallel(policy, records, AS_OF, jobs=1, sources=sources)
    two = evaluate_parallel(policy, records, AS_OF, jobs=2, sources=sources)
    assert one.findings, "the example records exercise the policy"
    assert two.to_json() == one.to_json()
    assert two.findings == one.findings


def test_cli_jobs_2_prints_the_same_json_as_jobs_1(capsys):
    sources = [str(p) for p in _sources("liuzhou")]
    reports = []
    for jobs in ("1", "2"):
        status = main(["evaluate", "--policy", "liuzhou", *sources, "--as-of", AS_OF.isoformat(),
                       "--format", "json", "--jobs", jobs])
        assert status in (0, 3)
        reports.append(json.loads(capsys.readouterr().out))
    assert reports[0] == reports[1]
    assert reports[0]["findings"]


@pytest.mark.parametrize("fmt", ["json", "jsonl", "table"])
def test_cli_jobs_n_writes_byte_identical_output(tmp_path, fmt):
    """Forked workers stream their rules' text through spool files; the parent concatenates it in
    rule order, so the output does not depend on which worker ran which rule, or when."""
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from province import generate, to_json

    source = tmp_path / "province.json"
    source.write_text(to_json(generate(30, city=("ruian", "liuzhou"), seed=11)), encoding="utf-8")
    outputs = []
    for jobs in ("1", "2", "3"):
        out = tmp_path / f"out{jobs}"
        status = main(["evaluate", "--policy", "ruian", str(source), "--as-of", AS_OF.isoformat(),
                       "--format", fmt, "--all", "--jobs", jobs, "-o", str(out)])
        assert status in (0, 3)
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] == outputs[2]
    assert len(outputs[0]) > 10000


def test_bench_times_every_rule_slowest_first(capsys):
    sources = _sources("suixian")
    policy = load_policy("suixian")
    rows = bench_rules(policy, load_records(sources), AS_OF, repeat=1)
    assert sorted(r[0] for r in rows) == sorted(rule.id for rule in policy.rules)
    assert [r[2] for r in rows] == sorted((r[2] for r in rows), reverse=True)
    assert all(findings >= 0 and ms >= 0 for _, findings, ms, _ in rows)
    assert main(["--lang", "en", "bench", "--policy", "suixian", *map(str, sources), "--as-of", AS_OF.isoformat(),
                 "--repeat", "1"]) == 0  # the headers follow --lang (default zh)
    out = capsys.readouterr().out
    assert "µs/finding" in out and policy.rules[0].id in out


def test_jobs_2_keeps_the_callers_parameter_overrides():
    sources = _sources("ruian")
    policy = load_policy("ruian", parameters={"exchange_denominator": "per_member"})
    records = load_records(sources)
    one = evaluate_parallel(policy, records, AS_OF, jobs=1, sources=sources)
    two = evaluate_parallel(policy, records, AS_OF, jobs=2, sources=sources)
    assert two.findings == one.findings
    default = evaluate_parallel(load_policy("ruian"), records, AS_OF, jobs=2, sources=sources)
    quota = [f for f in one.findings if f.rule == "ruian.personnel.co_build.exchange_10pct"]
    assert quota and [f for f in default.findings if f.rule == quota[0].rule] != quota


# --- streaming: Policy.evaluate_many ------------------------------------------------------------

def _province_shards(province: dict, size: int) -> list[dict]:
    """Split a synthetic province into shards of `size` communities, each closed under navigation
    (its communities with their units, persons, scores, assignments, activities and expenses)."""
    shards = []
    communities = province["communities"]
    for start in range(0, len(communities), size):
        chosen = communities[start:start + size]
        ids = {c["community_id"] for c in chosen}
        units = {m["unit_id"] for c in chosen for m in c["units"]}
        shards.append({
            "communities": chosen,
            "units": [u for u in province["units"] if u["unit_id"] in units],
            "persons": [p for p in province["persons"] if p["home_unit_id"] in units],
            "quality_scores": [q for q in province["quality_scores"] if q["unit_id"] in units],
            **{name: [r for r in province[name] if r.get("community_id") in ids]
               for name in ("assignments", "activities", "expenses")},
        })
    return shards


@pytest.mark.parametrize("name", ["liuzhou", "ruian", "suixian", "yueqing"])
def test_evaluate_many_streams_shards_and_equals_one_evaluation(name):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    from province import generate

    province = generate(24, city=name, seed=7)
    policy = load_policy(name)
    as_of = dt.date(2024, 9, 1)
    whole = policy.evaluate(province, as_of)
    streamed = list(policy.evaluate_many(_province_shards(province, 5), as_of, jurisdiction_records=province))
    assert sorted(streamed, key=lambda f: f.sort_key()) == list(whole.findings)
    assert len(streamed) == len(whole.findings) > 0


def test_evaluate_many_names_the_rules_that_need_jurisdiction_records():
    policy = load_policy("suixian")
    assert policy.scanning_rules  # its batch counts and coverage targets read the whole province
    with pytest.raises(ValueError) as error:
        list(policy.evaluate_many([], dt.date(2024, 9, 1)))
    for rule_id in policy.scanning_rules:
        assert rule_id in str(error.value)
