"""`policyengine test --coverage --format json`: the CI form of the policy test run and rule coverage;
and a smoke run of the mutation tool (tools/mutate.py) on a tiny policy with its own test file."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from policyengine import cli, resources

ROOT = Path(__file__).resolve().parent.parent


def test_coverage_json_reports_every_policy_share(capsys):
    tests_dir = resources.policies_dir() / "tests"
    status = cli.main(["test", str(tests_dir), "--coverage", "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert status in (0, 1) and (status == 0) == (data["failed"] == 0)
    assert data["passed"] > 0
    # lib/ holds the shared library's tests, run on its probe policy (policies/lib/fixtures/probe.yaml)
    for name in sorted(p.name for p in tests_dir.iterdir() if p.is_dir() and any(p.glob("*.yaml")) and p.name != "lib"):
        summary = data["coverage"][name]
        assert summary["encoded"] == len(summary["rules"]) > 0
        assert 0 <= summary["share"] <= 1
        assert summary["fully_covered"] == sum(1 for r in summary["rules"].values() if not r["missing"])
        for rule in summary["rules"].values():
            assert set(rule["covered"]) | set(rule["missing"]) == set(rule["sides"])


TINY_POLICY = """\
format: policyengine/1
jurisdiction: {id: tiny, name: 测试市}
title: tiny
source: {file: tiny.txt}
effective: {from: 2021-09-01}
parameters:
  max_units: {value: "2", type: number, description: 不超过2个}
rules:
  - id: tiny.max_units
    kind: requirement
    strength: hard
    subject: community
    require: "count(community.units) <= max_units"
    citation: {file: tiny.txt, quote: 不超过2个}
  - id: tiny.has_lead
    kind: requirement
    strength: hard
    subject: community
    require: "count(m for m in community.units where m.role == 'lead') >= 1"
    citation: {file: tiny.txt, quote: 有牵头单位}
"""

TINY_TESTS = """\
policy: ../../tiny.yaml
cases:
  - name: two units, one lead
    as_of: 2022-01-01
    records:
      units: [{unit_id: a, name: A}, {unit_id: b, name: B}, {unit_id: c, name: C}]
      communities:
        - {community_id: ok, name: OK, units: [{unit_id: a, role: lead}, {unit_id: b, role: partner}]}
        - {community_id: big, name: BIG, units: [{unit_id: a, role: partner}, {unit_id: b, role: partner}, {unit_id: c, role: partner}]}
    expected:
      - {rule: tiny.max_units, subject: ok, outcome: pass}
      - {rule: tiny.max_units, subject: big, outcome: violation}
      - {rule: tiny.has_lead, subject: big, outcome: violation}
"""


def test_mutation_run_reports_kill_rate_and_survivors(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import mutate
    finally:
        sys.path.remove(str(ROOT / "tools"))
    (tmp_path / "tiny.yaml").write_text(TINY_POLICY, encoding="utf-8")
    (tmp_path / "tests" / "tiny").mkdir(parents=True)
    (tmp_path / "tests" / "tiny" / "cases.yaml").write_text(TINY_TESTS, encoding="utf-8")
    monkeypatch.setattr(resources, "policies_dir", lambda: tmp_path)
    result = mutate.run_policy("tiny")
    by_op = {(m["where"].split()[1], m["from"]): m for m in result["mutations"]}
    assert result["mutants"] == 3  # <=, ==, >=
    assert by_op[("tiny.max_units", "<=")]["killed"]  # the case with exactly 2 units catches `<`
    assert by_op[("tiny.has_lead", "==")]["killed"]
    survivor = by_op[("tiny.has_lead", ">=")]  # survives: no case asserts has_lead on a community with exactly 1 lead
    assert result["kill_rate"] == round(result["killed"] / 3, 4)
    assert all(s["location"].count(":") >= 2 for s in result["survivors"])
    assert survivor["to"] == ">"


def test_listed_equivalent_mutants_are_reported_apart_and_left_out_of_the_rate(tmp_path, monkeypatch):
    """scenarios.yaml `mutation: {equivalent: [...]}`: a listed survivor is reported with its reason and
    left out of the denominator; an entry naming no mutant is reported and excludes nothing."""
    from policyengine.testing import mutation

    (tmp_path / "tiny.yaml").write_text(TINY_POLICY, encoding="utf-8")
    (tmp_path / "tests" / "tiny").mkdir(parents=True)
    (tmp_path / "tests" / "tiny" / "cases.yaml").write_text(TINY_TESTS, encoding="utf-8")
    (tmp_path / "tests" / "tiny" / "scenarios.yaml").write_text(textwrap.dedent("""\
        mutation:
          equivalent:
            - {where: "rule tiny.has_lead require", from: ">=", reason: "stands in for a reason"}
            - {where: "rule tiny.has_lead require", from: "<", reason: "names no mutant"}
        """), encoding="utf-8")
    monkeypatch.setattr(resources, "policies_dir", lambda: tmp_path)
    result = mutation.run_policy("tiny")
    assert result["mutants"] == 3 and result["killed"] == 2
    assert result["kill_rate"] == 1.0 and result["kill_rate_all"] == round(2 / 3, 4)
    assert result["survivors"] == []
    assert [(e["where"], e["from"], e["equivalent"]) for e in result["equivalent"]] == [
        ("rule tiny.has_lead require", ">=", "stands in for a reason")]
    assert len(result["equivalent_problems"]) == 1 and "names 0 mutants" in result["equivalent_problems"][0]
    assert "1 equivalent left out" in mutation.render([result])
    (tmp_path / "tests" / "tiny" / "scenarios.yaml").write_text(
        "mutation: {equivalent: [{where: x, from: '>='}]}\n", encoding="utf-8")
    with pytest.raises(mutation.EquivalentsError):
        mutation.run_policy("tiny")


def test_test_run_compiles_each_policy_once_per_parameter_set(tmp_path, monkeypatch):
    """Speed by design: a run of many cases loads, checks and compiles a policy once per distinct
    parameter set (list-valued overrides included), never once per case."""
    from policyengine import engine

    (tmp_path / "tiny.yaml").write_text(TINY_POLICY, encoding="utf-8")
    case = TINY_TESTS.split("cases:\n", 1)[1]
    with_override = case.replace("  - name: two units, one lead\n",
                                 "  - name: NAME\n    parameters: {max_units: \"2\"}\n")
    tests = "policy: tiny.yaml\ncases:\n" + "".join(
        [case.replace("one lead", f"one lead {i}") for i in range(3)]
        + [with_override.replace("NAME", f"override {i}") for i in range(3)])
    (tmp_path / "cases.yaml").write_text(tests, encoding="utf-8")
    compiled = []
    real_load = engine._load
    monkeypatch.setattr(engine, "_load", lambda path, overrides, *limits: compiled.append(dict(overrides)) or
                        real_load(path, overrides, *limits))
    monkeypatch.setattr(engine, "_CACHE", {})  # no policy compiled before the run
    assert cli.main(["test", str(tmp_path / "cases.yaml"), "--coverage"]) == 0
    assert sorted(map(str, compiled)) == ["{'max_units': '2'}", "{}"]


def test_record_files_of_a_case_are_loaded_with_the_policys_schema_extension(tmp_path, capsys):
    """A case whose records are files is loaded with its policy's record schema (core + extension);
    the loaded files are cached per schema, so a policy without the extension still refuses them."""
    extended = TINY_POLICY.replace("rules:\n", "rules:\n  - id: tiny.note_set\n    kind: requirement\n"
                                   "    strength: hard\n    subject: community\n    require: \"has(community.note)\"\n"
                                   "    citation: {file: tiny.txt, quote: 有说明}\n", 1)
    (tmp_path / "ext.yaml").write_text(extended, encoding="utf-8")
    (tmp_path / "plain.yaml").write_text(TINY_POLICY, encoding="utf-8")
    (tmp_path / "schema").mkdir()
    (tmp_path / "schema" / "ext.yaml").write_text("records:\n  community:\n    fields:\n      note: string?\n", encoding="utf-8")
    (tmp_path / "records.yaml").write_text(
        "units: [{unit_id: a, name: A}]\n"
        "communities: [{community_id: ok, name: OK, note: 说明, units: [{unit_id: a, role: lead}]}]\n", encoding="utf-8")
    case = ("  - name: NAME\n    as_of: 2022-01-01\n    records: [records.yaml]\n"
            "    expected:\n      - {rule: RULE, subject: ok, outcome: pass}\n")
    (tmp_path / "ext_cases.yaml").write_text("policy: ext.yaml\ncases:\n" + "".join(
        case.replace("NAME", f"extended {i}").replace("RULE", "tiny.note_set") for i in range(2)), encoding="utf-8")
    (tmp_path / "plain_cases.yaml").write_text(
        "policy: plain.yaml\ncases:\n" + case.replace("NAME", "plain").replace("RULE", "tiny.has_lead"), encoding="utf-8")
    assert cli.main(["test", str(tmp_path / "ext_cases.yaml"), "--lang", "en"]) == 0
    assert cli.main(["test", str(tmp_path / "ext_cases.yaml"), str(tmp_path / "plain_cases.yaml"), "--lang", "en"]) == 1
    out = capsys.readouterr().out
    assert "RE105" in out and "note" in out
