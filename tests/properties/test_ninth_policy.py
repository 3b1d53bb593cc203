"""A policy for free: a bundled policy copied under a new jurisdiction id and rule-id prefix, with its
tests, its scenario hints and its example records, runs the whole testing kit without Python: check,
test, coverage, generated record sets, rule reach (both sides of at least 90% of its rules) and the
mutation run."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings

from policyengine import load_policy, resources
from policyengine.cli import main
from policyengine.testing import mutation, reach
from policyengine.testing import strategies as pst

ORIGINAL, NEW = "yueqing", "jiulong"  # any bundled policy with tests and scenario hints would do
ROOT = Path(__file__).resolve().parent.parent.parent


def _renamed(text: str) -> str:
    return text.replace(ORIGINAL, NEW)


@pytest.fixture(scope="module")
def copied(tmp_path_factory) -> Path:
    """<tmp>/policies/jiulong.yaml with tests/jiulong/ (and schema/jiulong.yaml if any), and the
    example records its tests read as ../../../examples/…"""
    root = tmp_path_factory.mktemp("ninth")
    policies = root / "policies"
    (policies / "tests" / NEW).mkdir(parents=True)
    source = resources.policies_dir()
    (policies / f"{NEW}.yaml").write_text(_renamed((source / f"{ORIGINAL}.yaml").read_text(encoding="utf-8")),
                                         encoding="utf-8")
    extension = source / "schema" / f"{ORIGINAL}.yaml"
    if extension.is_file():
        (policies / "schema").mkdir()
        (policies / "schema" / f"{NEW}.yaml").write_text(_renamed(extension.read_text(encoding="utf-8")), encoding="utf-8")
    for test_file in (source / "tests" / ORIGINAL).glob("*.yaml"):
        text = _renamed(test_file.read_text(encoding="utf-8")).replace(f"policy: {NEW}\n", f"policy: ../../{NEW}.yaml\n")
        (policies / "tests" / NEW / test_file.name).write_text(text, encoding="utf-8")
    examples = root / "examples"
    examples.mkdir()
    for example in (ROOT / "examples").glob(f"{ORIGINAL}*.yaml"):
        (examples / _renamed(example.name)).write_text(_renamed(example.read_text(encoding="utf-8")), encoding="utf-8")
    return policies / f"{NEW}.yaml"


def test_the_copy_is_a_new_jurisdiction_with_new_rule_ids(copied):
    policy = load_policy(copied)
    assert policy.jurisdiction == NEW
    assert policy.rules and all(rule.id.startswith(f"{NEW}.") for rule in policy.rules)
    assert len(policy.rules) == len(load_policy(ORIGINAL).rules)


def test_check_test_and_coverage_pass_on_the_copy(copied, capsys):
    assert main(["check", str(copied)]) == 0
    capsys.readouterr()
    assert main(["test", str(copied.parent / "tests" / NEW), "--coverage", "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert f"{NEW}: " in out and "rules fully covered" in out, out


def test_generated_records_of_the_copy_evaluate_without_errors(copied):
    policy = load_policy(copied)

    @settings(max_examples=10, database=None)
    @given(pst.record_sets(policy=copied), pst.as_of_dates())
    def check(raw, as_of):
        report = policy.evaluate(policy.load_records(raw), as_of)
        assert report.policy == NEW

    check()


def test_the_copy_reaches_both_sides_of_90_percent_of_its_rules(copied):
    policy = load_policy(copied)
    result, expected, problems = reach.run_reach(policy, 100)
    print(reach.render(result, expected))
    assert not problems, problems
    assert result.share >= 0.9, reach.render(result, expected)


def test_the_mutation_run_works_on_the_copy(copied):
    result = mutation.run_policy(copied, limit=40)
    assert "skipped" not in result, result
    assert result["mutants"] == 40 and result["cases"] > 0
    assert all(m["location"].startswith(str(copied)) or NEW in m["location"] for m in result["mutations"])
    assert result["kill_rate"] >= 0.9, mutation.render([result])
