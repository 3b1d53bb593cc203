"""Records written exactly to seed-rule-catalog.md §1.5 load and evaluate (issue 15.1).

CATALOG_1_5 transcribes §1.5 field by field; every name is a schema field or a documented alias, and
tests/data/catalog_1_5.yaml uses each of them verbatim. §1.5 gives no id to awards, fund pools,
budgets, assessments, reports and quality scores: they get stable ids derived from their key fields.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from policyengine import load_policy, load_records
from policyengine.recordschema import load_record_schema
from policyengine.records import RecordErrors
from policyengine.resources import bundled_policy_names

FIXTURE = Path(__file__).parent / "data" / "catalog_1_5.yaml"

CATALOG_1_5 = {  # collection → §1.5 field names, in the catalog's order
    "communities": ["community_id", "city", "name", "plaque_name", "model_type", "tier", "batch", "stage",
                    "established_on", "dissolved_on", "units", "agreement", "expansion_consultation_record",
                    "charter_exists", "development_plan_exists", "research_plan_exists", "board", "party_org",
                    "annual_work_plan"],
    "units": ["unit_id", "name", "aliases", "kind", "city", "county", "town", "education_district", "zone",
              "urbanity", "is_quality", "is_weak", "is_central_school", "ownership", "public", "stage",
              "legal_entity_id", "in_service_teacher_count", "graduating_class_count", "public_funds_yuan"],
    "persons": ["person_id", "home_unit_id", "establishment_unit_id", "is_full_time_teacher", "is_backbone",
                "is_famous", "is_cadre", "cadre_rank", "is_cpc_member", "title", "meets_senior_criteria",
                "meets_intermediate_criteria", "recruited_by_unit_id", "hired_on", "service_period_end",
                "retirement_date", "campus_tenure_start", "rural_experience_days", "teaching_load_hours_per_week"],
    "assignments": ["assignment_id", "person_id", "community_id", "from_unit_id", "to_unit_id", "kind",
                    "role_at_destination", "start_date", "end_date", "establishment_transferred", "paperwork_done",
                    "open_selection", "post_grade_before", "post_grade_after", "salary_before_monthly_yuan",
                    "salary_during_monthly_yuan", "joined_destination_party_committee"],
    "activities": ["activity_id", "community_id", "kind", "date", "semester_id", "school_year", "organizer_unit_id",
                   "participant_unit_ids", "participant_person_ids", "subjects", "lessons", "days", "hours",
                   "evidence", "attended_by_liaison_leader", "unified"],
    "quality_scores": ["unit_id", "year", "z_value", "quality_index"],
    "budgets": ["jurisdiction", "community_id", "year", "amount_yuan", "purpose"],
    "expenses": ["expense_id", "unit_id", "community_id", "amount_yuan", "date", "category", "is_large_activity",
                 "approvals"],
    "fund_pools": ["community_id", "year", "contributions", "actual_spend_yuan"],
    "assessments": ["subject_id", "kind", "held_on", "period_covered", "rating"],
    "reports": ["unit_id", "kind", "period_year", "submitted_on", "approved_by_party_group_on"],
    "awards": ["unit_id", "year", "kind", "base_amount_yuan"],
}
SUB_RECORDS = {  # §1.5's nested records
    "membership": ["unit_id", "role", "joined_on", "left_on"],
    "agreement": ["signed_on", "reviewed_by_supervisor_on", "signatory_unit_ids", "start_date", "end_date", "terms"],
    "board_seat": ["person_id", "seat"],
    "party_org": ["kind", "head_person_id", "branches"],
    "work_plan": ["school_year", "adopted_on"],
}


def _accepted_names(kind) -> set[str]:
    return set(kind.fields) | {field.alias for field in kind.fields.values() if field.alias}


def test_every_catalog_field_is_a_schema_field_or_alias():
    schema = load_record_schema()
    for collection, names in CATALOG_1_5.items():
        assert set(names) <= _accepted_names(schema.collections[collection]), collection
    for kind, names in SUB_RECORDS.items():
        assert set(names) <= _accepted_names(schema.kinds[kind]), kind
    assert schema.kinds["community"].fields["annual_work_plans"].alias == "annual_work_plan"


def test_the_fixture_uses_every_catalog_field_verbatim():
    data = yaml.safe_load(FIXTURE.read_text(encoding="utf-8"))
    for collection, names in CATALOG_1_5.items():
        used = set().union(*(record.keys() for record in data[collection]))
        assert set(names) <= used, (collection, set(names) - used)
    community = data["communities"][0]
    assert set(SUB_RECORDS["membership"]) <= set().union(*(m.keys() for m in community["units"]))
    assert set(SUB_RECORDS["agreement"]) <= community["agreement"].keys()
    assert set(SUB_RECORDS["party_org"]) <= community["party_org"].keys()
    assert set(SUB_RECORDS["work_plan"]) <= community["annual_work_plan"][0].keys()


def test_the_fixture_loads_with_derived_ids():
    records = load_records(FIXTURE)
    assert records.awards[0].award_id == "award:u-member:2023:teaching_quality"
    assert records.fund_pools[0].fund_pool_id == "fund_pool:c-1:2023"
    assert records.budgets[0].budget_id == "budget:ruian:c-1::2023:教共体建设"
    assert records.assessments[0].assessment_id == "assessment:c-1:annual:2023-12-20"
    assert records.reports[0].report_id == "report:u-core:summary:2023"
    assert [q.quality_score_id for q in records.quality_scores] == ["quality_score:u-member:2022",
                                                                      "quality_score:u-member:2023"]
    assert records.by_id("award", "award:u-member:2023:teaching_quality") is records.awards[0]
    plans = records.communities[0].annual_work_plans
    assert [(p.school_year, p.adopted_on) for p in plans] == [(2023, dt.date(2023, 8, 25))]
    assert [(a.school_year, a.semester_id, a.evidence) for a in records.activities] == [
        (2023, "2023-2024-1", ("class_record", "photo", "text")),  # a list is a set: canonical order
        (2023, "2023-2024-1", ("text",)),
        (2023, "2023-2024-2", ("photo",))]


@pytest.mark.parametrize("policy_name", bundled_policy_names())
def test_the_fixture_evaluates_under_every_policy(policy_name, tmp_path):
    # the fixture's records are Ruian's; each policy judges only its own jurisdiction (engine scope), so they are
    # moved to the policy's city (a city without jurisdiction-wide rules would otherwise see nothing)
    policy = load_policy(policy_name)
    moved = tmp_path / "catalog_1_5.yaml"
    moved.write_text(FIXTURE.read_text(encoding="utf-8").replace(": ruian", f": {policy.jurisdiction}"), encoding="utf-8")
    report = policy.evaluate(moved, as_of=dt.date(2024, 9, 1))
    assert report.findings
    errors = [(f.rule, f.subject, f.values_dict) for f in report.findings if f.outcome == "error"]
    assert errors == []


def _load_errors(data):
    with pytest.raises(RecordErrors) as raised:
        load_records(data)
    return raised.value.errors


UNITS = [{"unit_id": "u1", "name": "一小"}]


def _activity(**fields):
    return {"units": UNITS, "communities": [{"community_id": "c1", "name": "甲", "units": [{"unit_id": "u1", "role": "lead"}]}],
            "activities": [{"activity_id": "a1", "community_id": "c1", "kind": "co_research", **fields}]}


@pytest.mark.parametrize("date, school_year, semester, stored", [
    ("2023-09-01", 2023, "2023-2024-1", "2023-2024-1"),   # first day of the autumn semester
    ("2024-01-31", 2023, "2023-autumn", "2023-2024-1"),   # last day of autumn (§1.4: to the end of January)
    ("2024-02-01", 2023, "2024-spring", "2023-2024-2"),   # first day of spring
    ("2024-08-31", 2023, "2023-2024-2", "2023-2024-2"),   # last day of the school year
])
def test_school_year_and_semester_agree_with_the_date(date, school_year, semester, stored):
    activity = load_records(_activity(date=date, school_year=school_year, semester_id=semester)).activities[0]
    assert (activity.school_year, activity.semester_id) == (school_year, stored)


@pytest.mark.parametrize("date, fields, field", [
    ("2023-08-31", {"school_year": 2023}, "school_year"),          # the day before 2023-2024 starts
    ("2024-09-01", {"school_year": 2023}, "school_year"),          # the day after it ends
    ("2024-02-01", {"semester_id": "2023-autumn"}, "semester_id"),  # the day after autumn ends
    ("2024-01-31", {"semester_id": "2024-spring"}, "semester_id"),  # the day before spring starts
    ("2023-10-10", {"semester_id": "2022-2023-1"}, "semester_id"),
])
def test_school_year_or_semester_that_contradicts_the_date_is_an_error(date, fields, field):
    (error,) = _load_errors(_activity(date=date, **fields))
    assert (error.code, error.record_id, error.field) == ("RE109", "a1", field)
    assert field in error.message_en and "date" in error.message_en and date in error.message_zh


@pytest.mark.parametrize("semester", ["2023-2024-3", "2023-2025-1", "2023-winter", "2023", 2023])
def test_a_semester_that_is_not_one_is_a_wrong_type(semester):
    (error,) = _load_errors(_activity(date="2023-10-10", semester_id=semester))
    assert (error.code, error.field) == ("RE102", "semester_id")


def test_annual_work_plan_and_annual_work_plans_are_one_field():
    base = {"community_id": "c1", "name": "甲", "units": [{"unit_id": "u1", "role": "lead"}]}
    plan = [{"school_year": 2023, "adopted_on": "2023-08-01"}]
    for name in ("annual_work_plan", "annual_work_plans"):
        records = load_records({"units": UNITS, "communities": [{**base, name: plan}]})
        assert records.communities[0].annual_work_plans[0].school_year == 2023
    (error,) = _load_errors({"units": UNITS, "communities": [{**base, "annual_work_plan": plan, "annual_work_plans": plan}]})
    assert (error.code, error.record_id, error.field) == ("RE109", "c1", "annual_work_plans")


def test_exact_duplicates_and_key_clashes_are_errors_named_by_the_derived_id():
    award = {"unit_id": "u1", "year": 2023, "kind": "teaching_quality", "base_amount_yuan": "10000"}
    (error,) = _load_errors({"units": UNITS, "awards": [award, dict(award)]})
    assert (error.code, error.record_id, error.field) == ("RE106", "award:u1:2023:teaching_quality", None)
    assert "exact duplicate" in error.message_en
    (error,) = _load_errors({"units": UNITS, "awards": [award, {**award, "base_amount_yuan": "20000"}]})
    assert (error.code, error.field) == ("RE106", "award_id") and "same key fields" in error.message_en
    # an explicit id separates them; an explicit id is never replaced
    records = load_records({"units": UNITS, "awards": [award, {**award, "award_id": "second"}]})
    assert [a.award_id for a in records.awards] == ["award:u1:2023:teaching_quality", "second"]


def test_errors_of_a_record_without_id_are_named_by_its_derived_id():
    (error,) = _load_errors({"units": UNITS, "awards": [
        {"unit_id": "u1", "year": 2023, "kind": "teaching_quality", "base_amount_yuan": "ten"}]})
    assert (error.code, error.record_id, error.field) == ("RE102", "award:u1:2023:teaching_quality",
                                                          "base_amount_yuan")
