"""Evaluation: the outcome table of docs/language.md §3 on a small policy written for it
(tests/data/evaluation/policy.yaml and records.yaml), finding fields, order independence, the JSON
round trip and the frozen Policy. Expected outcomes follow from the rules and records by hand."""

from __future__ import annotations

import copy
import datetime as dt
import json
import random
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
import yaml

from policyengine import Report, load_policy, load_records

DATA = Path(__file__).parent / "data" / "evaluation"
POLICY = DATA / "policy.yaml"
RECORDS = DATA / "records.yaml"
C1, C2, C3 = "LZ-教共体-01", "c-02", "c-03"


@pytest.fixture(scope="module")
def policy():
    return load_policy(POLICY)


@pytest.fixture(scope="module")
def report(policy):
    return policy.evaluate(load_records(RECORDS), as_of=dt.date(2022, 3, 1))


def outcome(report: Report, rule: str, subject: str, period: str | None = None, community: str | None = None):
    found = [f for f in report.findings if f.rule == rule and f.subject == subject
             and f.period == period and (community is None or f.community == community)]
    assert len(found) == 1, (rule, subject, period, found)
    return found[0]


# ------------------------------------------------------------------------------------ outcome table


def test_requirement_pass_violation_warning(report):
    # 3 units > max_units 2: hard → violation, soft → warning; 2 units pass
    assert [outcome(report, "ev.units_hard", c).outcome for c in (C1, C2, C3)] == ["violation", "violation", "pass"]
    assert [outcome(report, "ev.units_soft", c).outcome for c in (C1, C2, C3)] == ["warning", "warning", "pass"]
    violation = outcome(report, "ev.units_hard", C1)
    assert violation.strength == "hard" and violation.message == "单位超过上限"
    assert violation.values_dict["units"] == 3
    assert violation.values_dict["max_units"] == 2  # parameters a rule uses are reported
    assert outcome(report, "ev.units_soft", C1).strength == "soft"


def test_an_exception_that_holds_makes_a_failed_requirement_pass(report):
    assert outcome(report, "ev.units_exception", C1).outcome == "violation"  # no consultation record
    excepted = outcome(report, "ev.units_exception", C2)
    assert excepted.outcome == "pass"
    assert any("exception" in key or "exception" in str(value) for key, value in excepted.values)
    assert outcome(report, "ev.units_exception", C3).outcome == "pass"


def test_per_period_rules_judge_only_ended_periods(report):
    # as_of 2022-03-01: the autumn semester 2021-2022-1 ended on 2022-01-31; the spring one is open
    assert outcome(report, "ev.meetings", C1, "2021-2022-1").outcome == "pass"   # a meeting on 2021-10-10
    assert outcome(report, "ev.meetings", C2, "2021-2022-1").outcome == "violation"
    assert outcome(report, "ev.meetings", C3, "2021-2022-1").outcome == "violation"
    for c in (C1, C2, C3):
        assert outcome(report, "ev.meetings", c, "2021-2022-2").outcome == "not_applicable"
    assert {f.period for f in report.select(rule="ev.meetings")} == {"2021-2022-1", "2021-2022-2"}


def test_a_deadline_not_yet_due_is_not_applicable_then_judged(policy, report):
    assert [outcome(report, "ev.agreement", c).outcome for c in (C1, C2, C3)] == ["not_applicable"] * 3
    later = policy.evaluate(load_records(RECORDS), as_of=dt.date(2022, 6, 30))  # the due date itself
    assert [outcome(later, "ev.agreement", c).outcome for c in (C1, C2, C3)] == ["pass", "violation", "violation"]


def test_amounts(report):
    paid = outcome(report, "ev.bonus", "u-01")
    assert (paid.outcome, paid.amount, paid.currency) == ("amount", Decimal("10000.00"), "CNY")
    for unit in ("u-02", "u-03"):
        unpaid = outcome(report, "ev.bonus", unit)
        assert (unpaid.outcome, unpaid.amount) == ("amount", Decimal(0))
        assert "reason" in unpaid.values_dict


def test_entitlements(report):
    assert outcome(report, "ev.rural_subsidy", "u-02").outcome == "entitlement"
    denied = outcome(report, "ev.rural_subsidy", "u-01")
    assert denied.outcome == "not_applicable"
    assert denied.values_dict["unmet"] == ("rural",)
    absent = outcome(report, "ev.rural_subsidy", "u-03")  # no urbanity recorded
    assert absent.outcome == "not_applicable"
    assert "unit.urbanity" in absent.values_dict["reason"]


def test_derived_values_are_info(report):
    assert [(outcome(report, "ev.size", c).outcome, outcome(report, "ev.size", c).values_dict["value"])
            for c in (C1, C2, C3)] == [("info", 3), ("info", 3), ("info", 2)]


def test_a_failing_expression_is_an_error_outcome(report):
    broken = outcome(report, "ev.broken", C1)
    assert broken.outcome == "error"
    assert "division by zero" in broken.values_dict["error"]
    # the code and the policy position of the `/` that failed (policy.yaml line 78: value: "1 / (…)")
    assert broken.values_dict["error_code"] == "EV101"
    assert broken.values_dict["error_at"] == f"{POLICY}:78:15"


def test_when_false_and_absent_data_are_not_applicable(report):
    assert outcome(report, "ev.fusion_only", C1).outcome == "pass"   # 融合型 → fusion
    assert outcome(report, "ev.fusion_only", C2).outcome == "not_applicable"  # co_build
    absent = outcome(report, "ev.fusion_only", C3)  # no model_type at all
    assert absent.outcome == "not_applicable"
    assert "community.model_type" in absent.values_dict["reason"]


# ------------------------------------------------------------------------------------ finding fields


def test_finding_fields(report):
    finding = outcome(report, "ev.units_hard", C1)
    assert finding.subject == C1 and finding.subject_kind == "community" and finding.community == C1
    assert finding.citation.file == "eval.txt" and finding.citation.quote == "单位总数不得超过2个。"
    unit = outcome(report, "ev.bonus", "u-01")
    assert unit.subject_kind == "unit" and unit.community is None
    # a membership rule: the subject is the unit, judged within each community it belongs to
    assert outcome(report, "ev.joined", "u-02", community=C3).outcome == "warning"
    assert outcome(report, "ev.joined", "u-02", community=C1).outcome == "pass"
    assert {f.community for f in report.select(rule="ev.joined", subject="u-01")} == {C1, C2, C3}
    assert outcome(report, "ev.calendar", "evalcity", "2021").subject_kind == "jurisdiction"


def test_period_labels(policy):
    report = policy.evaluate(load_records(RECORDS), as_of=dt.date(2023, 9, 1))
    calendar = {f.period: f.outcome for f in report.select(rule="ev.calendar")}
    assert calendar == {"2021": "info", "2022": "info", "2023": "not_applicable"}
    assert outcome(report, "ev.calendar", "evalcity", "2022").values_dict["value"] == "2022"
    school = {f.period: f.outcome for f in report.select(rule="ev.school_year")}
    assert school == {"2021-2022": "info", "2022-2023": "info", "2023-2024": "not_applicable"}
    assert outcome(report, "ev.school_year", "evalcity", "2022-2023").values_dict["value"] == "2022-09-01"
    semesters = [f.period for f in report.select(rule="ev.meetings", subject=C1)]
    assert semesters == ["2021-2022-1", "2021-2022-2", "2022-2023-1", "2022-2023-2", "2023-2024-1"]


def test_periods_stop_at_the_effective_end(policy):
    report = policy.evaluate(load_records(RECORDS), as_of=dt.date(2030, 1, 1))
    assert [f.period for f in report.select(rule="ev.calendar")] == ["2021", "2022", "2023"]


# ------------------------------------------------------------------------------ order independence


def test_order_of_records_and_rules_does_not_matter(tmp_path, report):
    data = yaml.safe_load(RECORDS.read_text(encoding="utf-8"))
    text = yaml.safe_load(POLICY.read_text(encoding="utf-8"))
    rng = random.Random(20220301)
    for attempt in range(3):
        records = copy.deepcopy(data)
        for items in records.values():
            rng.shuffle(items)
        for community in records["communities"]:
            rng.shuffle(community["units"])
        shuffled = copy.deepcopy(text)
        rng.shuffle(shuffled["rules"])
        path = tmp_path / f"shuffled{attempt}.yaml"
        path.write_text(yaml.safe_dump(shuffled, allow_unicode=True, sort_keys=False), encoding="utf-8")
        again = load_policy(path).evaluate(load_records(records), as_of=dt.date(2022, 3, 1))
        assert _unlocated(again.findings) == _unlocated(report.findings)


def _unlocated(findings):
    """Findings without error_at: the failing expression moves with its rule in the shuffled file."""
    return [attrs.evolve(f, values=tuple((k, v) for k, v in f.values if k != "error_at")) for f in findings]


# ------------------------------------------------------------------------------------------- JSON


def test_json_round_trip(report):
    data = report.to_json()
    text = json.dumps(data, ensure_ascii=False)
    again = Report.from_json(json.loads(text))
    assert again == report
    assert data["schema_version"] == 2 and data["policy"] == "evalcity" and data["as_of"] == "2022-03-01"
    paid = next(f for f in data["findings"] if f["rule"] == "ev.bonus" and f["subject"] == "u-01")
    assert paid["amount"] == "10000.00" and isinstance(paid["amount"], str)


def test_findings_are_frozen(report):
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        report.findings[0].outcome = "pass"


# ----------------------------------------------------------------------------------- frozen policy


def test_policy_is_frozen(policy):
    with pytest.raises(TypeError):
        policy.parameters["max_units"] = 10
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        policy.parameters = {"max_units": 10}
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        policy.rules = ()
    assert policy.parameters["max_units"] == 2


def test_parameter_overrides_make_another_policy(policy):
    relaxed = load_policy(POLICY, parameters={"max_units": 3})
    assert relaxed.parameters["max_units"] == 3 and policy.parameters["max_units"] == 2
    report = relaxed.evaluate(load_records(RECORDS), as_of=dt.date(2022, 3, 1))
    assert outcome(report, "ev.units_hard", C1).outcome == "pass"
    assert outcome(report, "ev.units_hard", C1).values_dict["max_units"] == 3
    money = load_policy(POLICY, parameters={"quality_bonus": "2万元"})
    paid = outcome(money.evaluate(load_records(RECORDS), as_of=dt.date(2022, 3, 1)), "ev.bonus", "u-01")
    assert paid.amount == Decimal("20000.00")
    # the first policy is unchanged
    assert outcome(policy.evaluate(load_records(RECORDS), as_of=dt.date(2022, 3, 1)), "ev.units_hard", C1).outcome \
        == "violation"


def test_bad_overrides_are_rejected():
    from policyengine import PolicyError

    with pytest.raises(PolicyError):
        load_policy(POLICY, parameters={"no_such_parameter": 1})
    with pytest.raises(PolicyError):
        load_policy(POLICY, parameters={"max_units": "'three'"})
    with pytest.raises(PolicyError):
        load_policy(POLICY, parameters={"max_units": 2.5})  # a float is never an exact number


def test_rules_and_not_encoded(policy):
    assert len(policy.rules) == 13
    assert policy.not_encoded == (("ev.other", "不在本文件中"),)
    assert policy.rule("ev.bonus").kind == "amount"


# ------------------------------------------------------------------------------ compact findings


def test_report_rows_are_compact_and_findings_are_made_from_them(report):
    """A row holds the per-finding fields; the rule table holds strength, citation, message and the
    parameters in force; `report.findings` makes the full `Finding` (parameters first in values)."""
    assert all(len(row) == 9 for row in report.rows)
    limit = report.rules["ev.units_hard"]
    assert limit.parameters == (("max_units", 2),) and limit.citation.quote == "单位总数不得超过2个。"
    assert limit.message == "单位超过上限" and limit.strength == "hard"
    row = next(r for r in report.rows if r[0] == "ev.units_hard")
    assert "max_units" not in dict(row[8]) and "units" in dict(row[8])
    finding = next(f for f in report.findings if f.rule == "ev.units_hard")
    assert finding.values[0] == ("max_units", 2) and finding.citation == limit.citation
    assert finding.strength == limit.strength
    assert report.counts()["not_applicable"] == len(report.select(outcome="not_applicable")) > 0


def test_evaluate_chosen_rules_by_id_or_glob(policy, report):
    records = load_records(RECORDS)
    chosen = policy.evaluate(records, as_of=dt.date(2022, 3, 1), rules=["ev.bonus", "ev.meet*"])
    assert {f.rule for f in chosen.findings} == {"ev.bonus", "ev.meetings"}
    assert list(chosen.findings) == [f for f in report.findings if f.rule in ("ev.bonus", "ev.meetings")]
    with pytest.raises(KeyError, match="ev.nosuch"):
        policy.evaluate(records, as_of=dt.date(2022, 3, 1), rules=["ev.nosuch"])


def test_schema_1_reports_still_read(report):
    v1 = {"schema_version": 1, "policy": report.policy, "as_of": report.as_of.isoformat(),
          "findings": [f.to_json() for f in report.findings]}
    assert Report.from_json(json.loads(json.dumps(v1, ensure_ascii=False))) == report
