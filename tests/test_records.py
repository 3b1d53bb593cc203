"""Tests of the records layer: the record schema model, the loader's validation and the linker."""

from __future__ import annotations

import copy
import datetime
import json
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from policyengine import typesys
from policyengine.records import RecordError, RecordErrors, RecordSet, load_records
from policyengine.recordschema import json_schema_text, load_record_schema

DATA = Path(__file__).parent / "data"
GOOD = DATA / "good_records.yaml"
BAD = DATA / "bad_records"
EXPECTED = yaml.safe_load((BAD / "expected.yaml").read_text(encoding="utf-8"))


def minimal() -> dict:
    """A small valid mapping that tests extend."""
    return {
        "communities": [{"community_id": "c-1", "name": "一号教共体", "units": [{"unit_id": "u-1", "role": "lead"}]}],
        "units": [{"unit_id": "u-1", "name": "一号学校"}],
        "persons": [{"person_id": "p-1", "home_unit_id": "u-1"}],
    }


def errors_of(source) -> list[tuple]:
    with pytest.raises(RecordErrors) as caught:
        load_records(source)
    return [(e.code, e.record_kind, e.record_id, e.field) for e in caught.value.errors]


def with_field(collection: str, field: str, value) -> dict:
    data = minimal()
    data[collection][0][field] = value
    return data


@pytest.fixture(scope="module")
def good() -> RecordSet:
    return load_records(GOOD)


# ------------------------------------------------------------------------------------------ schema


def test_schema_is_cached_and_has_the_twelve_collections():
    schema = load_record_schema()
    assert schema is load_record_schema()
    assert list(schema.collections) == [
        "communities", "units", "persons", "assignments", "activities", "quality_scores", "budgets",
        "expenses", "fund_pools", "assessments", "reports", "awards"]
    assert [f.name for f in RecordSet.__attrs_attrs__ if not f.name.startswith("_")] == list(schema.collections)


def test_field_types():
    kinds = load_record_schema().kinds
    community, unit = kinds["community"].fields, kinds["unit"].fields
    assert community["model_type"].type == typesys.enum("model_type", frozenset())
    assert community["model_type"].type.values == frozenset(
        {"fusion", "co_build", "collaborative", "tight", "assistance"})
    assert community["model_type"].optional
    assert community["batch"].type == typesys.NUMBER and community["batch"].is_int
    assert community["units"].type == typesys.list_of(typesys.record("membership"))
    assert community["units"].required
    assert community["head_person_id"].type == typesys.STRING
    assert community["head_person_id"].ref_kind == "person"
    assert community["pilot"].has_default and community["pilot"].default is False
    assert not community["pilot"].optional and not community["pilot"].required
    assert unit["in_service_teacher_count"].type == typesys.map_of(typesys.NUMBER, typesys.NUMBER)
    assert unit["public_funds_yuan"].type == typesys.map_of(typesys.NUMBER, typesys.MONEY)
    assert kinds["activity"].fields["participant_person_ids"].ref_kind == "person"
    assert kinds["activity"].fields["date"].type == typesys.DATE
    assert kinds["person"].fields["teaching_load_hours_per_week"].is_int is False
    assert kinds["unit"].id_field == "unit_id" and kinds["membership"].id_field is None
    assert kinds["membership"].collection is None


def test_navigations_in_the_schema():
    kinds = load_record_schema().kinds
    head = kinds["community"].navigations["head_person"]
    assert head.type == typesys.record("person") and head.optional and head.direction == "forward"
    assert kinds["membership"].navigations["unit"].optional is False
    participants = kinds["activity"].navigations["participant_persons"]
    assert participants.type == typesys.list_of(typesys.record("person")) and participants.many
    assert kinds["unit"].navigations["memberships"].type == typesys.list_of(typesys.record("membership"))
    assert kinds["person"].navigations["activities"].via == "participant_person_ids"
    back = kinds["membership"].navigations["community"]
    assert back.type == typesys.record("community") and back.direction == "parent"


def test_enum_aliases():
    enums = load_record_schema().enums
    assert enums["model_type"].aliases["融合型"] == "fusion"
    assert enums["model_type"].aliases["fusion"] == "fusion"
    assert enums["model_type"].aliases["共建型"] == "co_build"
    assert enums["role"].aliases["牵头单位"] == "lead"
    assert enums["model_type"].values[0] == "fusion"


def test_generated_classes_are_slotted_attrs_classes():
    cls = load_record_schema().kinds["community"].cls
    assert cls.__name__ == "Community" and "__dict__" not in dir(cls)
    record = cls(community_id="c", name="n", units=())
    assert record.record_id == "c" and record.record_kind == "community"
    assert record.head_person is None  # navigation attributes exist
    with pytest.raises(AttributeError):
        record.not_a_field = 1


# ------------------------------------------------------------------------------------- JSON Schema


def test_committed_json_schema_is_up_to_date():
    committed = Path(__file__).parents[1] / "src" / "policyengine" / "schema" / "records.schema.json"
    assert committed.read_text(encoding="utf-8") == json_schema_text(), \
        "regenerate with: PYTHONPATH=src python -m policyengine.recordschema"


def as_json_document(path: Path):
    """A YAML record file as a JSON document (dates become ISO strings)."""
    return json.loads(json.dumps(yaml.safe_load(path.read_text(encoding="utf-8")), default=str))


def test_json_schema_accepts_a_good_file_and_rejects_a_bad_one():
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(json.loads(json_schema_text()))
    jsonschema.Draft202012Validator.check_schema(validator.schema)
    assert list(validator.iter_errors(as_json_document(GOOD))) == []
    bad = list(validator.iter_errors(as_json_document(BAD / "enums_and_unknown_fields.yaml")))
    assert len(bad) >= 4
    assert not validator.is_valid(as_json_document(BAD / "collections.yaml"))
    assert not validator.is_valid({"units": [{"unit_id": "u", "name": "n", "public_funds_yuan": {"x": 1}}]})
    assert not validator.is_valid({"units": [{"unit_id": "u"}]})  # name is required


# ------------------------------------------------------------------------------------------ values


def test_aliases_are_normalised(good):
    community = good.communities[0]
    assert community.model_type == "fusion"
    assert community.tier == "city_county_hs"
    assert community.units[0].role == "lead"
    assert community.agreement.terms == ("cooperation_mode", "rights_obligations")  # a list is a set: canonical order
    assert community.board[0].seat == "chair"
    assert good.assignments[0].kind == "support_teaching"
    assert good.assignments[0].role_at_destination == ("head_teacher",)
    assert good.activities[0].kind == "co_research"
    assert good.persons[0].title == "senior"
    assert (good.assessments[0].kind, good.assessments[0].rating) == ("annual", "excellent")


def test_money_is_exact(good):
    expense = good.expenses[0]
    assert isinstance(expense.amount_yuan, Decimal) and expense.amount_yuan == Decimal("0.1")
    contributions = good.fund_pools[0].contributions
    assert sum(contributions.values()) == Decimal("0.3")
    assert good.assignments[0].salary_during_monthly_yuan == Decimal("8800.10")
    assert str(good.assignments[0].salary_during_monthly_yuan) == "8800.10"
    assert good.assignments[0].salary_before_monthly_yuan == Decimal(8000)
    assert isinstance(good.assignments[0].salary_before_monthly_yuan, Decimal)
    assert good.units[0].public_funds_yuan == {2021: Decimal("1500000.50"), 2022: Decimal("0.1")}
    assert str(good.awards[0].base_amount_yuan) == "20000.00"


def iter_values(value):
    if isinstance(value, (tuple, list)):
        for item in value:
            yield from iter_values(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from iter_values(item)
    else:
        yield value


def test_no_float_survives_and_runtime_types(good):
    schema = load_record_schema()
    for kind in schema.kinds:
        for record in good.instances(kind):
            for name in schema.kinds[kind].fields:
                for value in iter_values(getattr(record, name)):
                    assert not isinstance(value, float), (kind, name, value)
    activity = good.activities[0]
    assert activity.days == Decimal("0.5") and good.activities[1].days == 2
    assert isinstance(good.persons[0].teaching_load_hours_per_week, Decimal)
    assert good.quality_scores[0].z_value == Decimal("-0.35")
    assert good.communities[0].agreement.signed_on == datetime.date(2021, 9, 10)
    assert good.units[0].in_service_teacher_count == {2021: 120, 2022: 125}
    assert isinstance(good.communities[0].units, tuple)


def test_defaults_and_absent_optional_fields(good):
    second = good.communities[1]
    assert second.pilot is False and second.lists == () and second.board == ()
    assert second.agreement is None and second.established_on is None and second.tier is None
    assert second.head_person_id is None and second.head_person is None
    unit = good.units[1]
    assert unit.kind == "school" and unit.public is True and unit.graduating_class_count == {}
    assert unit.graduating_class_count is not good.units[0].graduating_class_count
    assert good.persons[1].cadre_rank == "none" and good.persons[1].name is None


@pytest.mark.parametrize("value, expected", [
    (0.1, Decimal("0.1")), ("10000.00", Decimal("10000.00")), (3, 3), (Decimal("2.50"), Decimal("2.50")),
    (1e-7, Decimal("1E-7")), (" 12.5 ", Decimal("12.5")),
])
def test_number_accepts(value, expected):
    data = with_field("persons", "teaching_load_hours_per_week", value)
    loaded = load_records(data).persons[0].teaching_load_hours_per_week
    assert loaded == expected and type(loaded) is type(expected)


@pytest.mark.parametrize("value", [True, "abc", "1e3", float("nan"), float("inf"), [1], "12元"])
def test_number_rejects(value):
    data = with_field("persons", "teaching_load_hours_per_week", value)
    assert errors_of(data) == [("RE102", "person", "p-1", "teaching_load_hours_per_week")]


@pytest.mark.parametrize("value, expected", [(2, 2), ("2", 2), (2.0, 2), (Decimal("2"), 2)])
def test_int_accepts(value, expected):
    loaded = load_records(with_field("communities", "batch", value)).communities[0].batch
    assert loaded == expected and type(loaded) is int


@pytest.mark.parametrize("value", [2.5, "2.5", False, "two"])
def test_int_rejects(value):
    assert errors_of(with_field("communities", "batch", value)) == [("RE102", "community", "c-1", "batch")]


@pytest.mark.parametrize("value, expected", [
    (datetime.date(2021, 9, 1), datetime.date(2021, 9, 1)), ("2021-09-01", datetime.date(2021, 9, 1))])
def test_date_accepts(value, expected):
    assert load_records(with_field("communities", "established_on", value)).communities[0].established_on == expected


@pytest.mark.parametrize("value", [datetime.datetime(2021, 9, 1, 8, 0), "2021-02-30", "20210901", "2021/09/01", 20210901])
def test_date_rejects(value):
    assert errors_of(with_field("communities", "established_on", value)) == [
        ("RE102", "community", "c-1", "established_on")]


def test_money_rejects_bool_and_accepts_strings():
    data = minimal()
    data["awards"] = [
        {"award_id": "a1", "unit_id": "u-1", "year": 2022, "kind": "other", "base_amount_yuan": True},
        {"award_id": "a2", "unit_id": "u-1", "year": 2022, "kind": "other", "base_amount_yuan": "20000.00"},
    ]
    assert errors_of(data) == [("RE102", "award", "a1", "base_amount_yuan")]
    data["awards"].pop(0)
    assert load_records(data).awards[0].base_amount_yuan == Decimal("20000.00")


def test_json_map_keys_become_ints_and_json_numbers_are_decimals(tmp_path):
    path = tmp_path / "records.json"
    document = minimal()
    document["units"][0]["public_funds_yuan"] = {"2021": 0.1}
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    unit = load_records(path).units[0]
    assert unit.public_funds_yuan == {2021: Decimal("0.1")}


# ------------------------------------------------------------------------------------- navigations


def test_forward_navigations(good):
    community = good.communities[0]
    assert community.units[0].unit.name == "柳州高级中学"
    assert community.head_person is good.persons[0]
    assert community.party_org.head_person is good.persons[0]
    assert community.board[0].person.name == "张老师"
    assert [u.unit_id for u in community.agreement.signatory_units] == ["u-lead", "u-partner"]
    activity = good.activities[0]
    assert activity.organizer_unit is good.units[0] and good.activities[1].organizer_unit is None
    assert [p.person_id for p in activity.participant_persons] == ["p-01", "p-02"]
    assignment = good.assignments[0]
    assert (assignment.from_unit.unit_id, assignment.to_unit.unit_id) == ("u-lead", "u-partner")
    assert assignment.community is community and assignment.person is good.persons[0]
    assert good.persons[0].home_unit.unit_id == "u-lead" and good.persons[0].establishment_unit is None


def test_reverse_and_parent_navigations(good):
    first, second = good.communities
    partner = good.by_id("unit", "u-partner")
    assert [m.community.community_id for m in partner.memberships] == ["lz-01", "lz-02"]
    assert partner.memberships[0].community.community_id == "lz-01"
    assert partner.memberships[1].role == "lead"
    person = good.by_id("person", "p-01")
    assert [a.assignment_id for a in person.assignments] == ["a-01"]
    assert [a.activity_id for a in person.activities] == ["act-01", "act-02"]
    assert [a.activity_id for a in good.by_id("person", "p-02").activities] == ["act-01"]
    assert [a.activity_id for a in first.activities] == ["act-01", "act-02"] and second.activities == ()
    assert [a.assessment_id for a in first.assessments] == ["as-01"]
    assert first.budgets[0].budget_id == "b-01" and first.fund_pools[0].fund_pool_id == "fp-01"
    assert [p.person_id for p in good.units[0].persons] == ["p-01"]
    assert good.units[0].assignments_out == good.assignments and partner.assignments_in == good.assignments
    assert partner.quality_scores[0].year == 2021 and partner.awards[0].award_id == "aw-01"
    assert good.units[0].reports[0].report_id == "r-01" and good.units[0].expenses[0].expense_id == "e-01"
    assert good.expenses[0].approvals[0].expense is good.expenses[0]
    assert first.agreement.community is first and first.annual_work_plans[0].community is first


def test_recordset_accessors(good):
    assert [m.unit_id for m in good.memberships] == ["u-lead", "u-partner", "u-partner"]
    assert good.by_id("community", "lz-02") is good.communities[1]
    assert good.by_id("unit", "nope") is None and good.by_id("nope", "x") is None
    assert good.collection("units") is good.units
    assert len(good.instances("approval")) == 1


def test_sources_are_concatenated():
    base = minimal()
    extra = {"units": [{"unit_id": "u-2", "name": "二号学校"}],
             "communities": [{"community_id": "c-2", "name": "二号", "units": [{"unit_id": "u-2", "role": "联合单位"}]}]}
    records = load_records([GOOD, base, extra])
    assert [c.community_id for c in records.communities] == ["c-1", "c-2", "lz-01", "lz-02"]  # by id (a set)
    assert records.by_id("unit", "u-2").memberships[0].community.community_id == "c-2"
    assert load_records(base).communities[0].units[0].unit.name == "一号学校"
    assert load_records([]).communities == ()


def test_sources_are_not_modified():
    base = minimal()
    before = copy.deepcopy(base)
    load_records(base)
    assert base == before


# ------------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_record_corpus_reports_every_error_in_one_pass(name):
    expected = [tuple(entry) for entry in EXPECTED[name]]
    assert errors_of(BAD / name) == expected


def test_corpus_is_complete():
    files = {p.name for p in BAD.iterdir() if p.name != "expected.yaml"}
    assert files == set(EXPECTED)
    codes = {entry[0] for entries in EXPECTED.values() for entry in entries}
    assert codes >= {f"RE10{i}" for i in range(1, 9)}  # the newer codes have their own tests


def test_errors_of_several_files_are_reported_together():
    names = sorted(EXPECTED)
    with pytest.raises(RecordErrors) as caught:
        load_records([BAD / name for name in names])
    found = [(Path(e.file).name, e.code, e.record_kind, e.record_id, e.field) for e in caught.value.errors]
    expected = [(name, *entry) for name in names for entry in EXPECTED[name]]
    assert not Counter(expected) - Counter(found)
    extra = Counter(found) - Counter(expected)
    assert {entry[1] for entry in extra} == {"RE106"}  # the files reuse ids such as c-1 and u-1


def test_syntax_errors_name_the_file_and_line():
    (error,) = load_errors(BAD / "syntax_error.yaml")
    assert error.line == 5 and "syntax_error.yaml" in error.message_en and "line 5" in error.message_en
    assert "第 5 行" in error.message_zh
    (error,) = load_errors(BAD / "syntax_error.json")
    assert error.line == 3 and "line 3" in error.message_en


def load_errors(source) -> tuple[RecordError, ...]:
    with pytest.raises(RecordErrors) as caught:
        load_records(source)
    return caught.value.errors


def test_unreadable_file(tmp_path):
    (error,) = load_errors(tmp_path / "missing.yaml")
    assert error.code == "RE108" and "missing.yaml" in error.message_en and "missing.yaml" in error.message_zh


def test_messages_are_bilingual_and_helpful():
    errors = load_errors(BAD / "enums_and_unknown_fields.yaml")
    by_field = {e.field: e for e in errors}
    model_type = by_field["model_type"]
    assert "fusion, co_build, collaborative, tight, assistance" in model_type.message_en
    assert "fusion, co_build" in model_type.message_zh and "did you mean fusion" in model_type.message_en
    assert "did you mean model_type" in by_field["model"].message_en
    for error in errors:
        assert any("\u4e00" <= char <= "\u9fff" for char in error.message_zh)
        assert error.message("en") == error.message_en and error.message("zh") == error.message_zh
    caught = RecordErrors(errors)
    assert caught.message("en").splitlines()[0].startswith("RE105 ")
    assert "community c-1 model" in caught.message("zh").splitlines()[0]
    assert str(caught) == caught.message("en")
    assert caught.errors[0].to_dict("en") == {
        "record_kind": "community", "record_id": "c-1", "field": "model", "code": "RE105",
        "message": caught.errors[0].message_en}


def test_each_code_individually():
    cases = {
        "RE101": with_field("units", "name", None),
        "RE102": with_field("units", "is_weak", "no"),
        "RE103": with_field("units", "urbanity", "metropolis"),
        "RE104": with_field("persons", "home_unit_id", "u-9"),
        "RE105": with_field("units", "colour", "red"),
        "RE106": {**minimal(), "persons": [{"person_id": "p-1", "home_unit_id": "u-1"}] * 2},
        "RE107": {**minimal(), "teachers": []},
    }
    for code, data in cases.items():
        assert [e.code for e in load_errors(data)] == [code], code


def test_dangling_membership_reference_names_record_and_field():
    data = minimal()
    data["communities"][0]["units"].append({"unit_id": "u-404", "role": "partner"})
    (error,) = load_errors(data)
    assert (error.code, error.record_kind, error.record_id, error.field) == (
        "RE104", "community", "c-1", "units[1].unit_id")
    assert "u-404" in error.message_en and "u-404" in error.message_zh


def test_record_without_id_is_named_by_its_derived_id():
    data = minimal()
    data["quality_scores"] = [{"unit_id": "u-1", "year": 2021}, {"unit_id": "u-1", "year": "last"}]
    (error,) = load_errors(data)
    # quality scores carry no id in §1.5: theirs is derived from the key fields, never the position
    assert (error.record_kind, error.record_id, error.field) == ("quality_score", "quality_score:u-1:last", "year")


def test_fields_of_and_collection_types_for_the_checker():
    schema = load_record_schema()
    membership = schema.fields_of(typesys.record("membership"))
    assert membership["role"] == (typesys.enum("role", frozenset()), False)
    assert membership["left_on"] == (typesys.DATE, True)
    assert membership["unit"] == (typesys.record("unit"), False)
    assert membership["community"] == (typesys.record("community"), False)
    assert schema.fields_of("community")["head_person"] == (typesys.record("person"), True)
    assert schema.fields_of("person")["activities"] == (typesys.list_of(typesys.record("activity")), False)
    assert schema.fields_of("nothing") == {}
    assert schema.collection_types()["units"] == typesys.list_of(typesys.record("unit"))
