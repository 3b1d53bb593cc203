"""The fast loader (issue 15.4) gives the full loader's records, or declines so that the full loader
gives its errors: same records (fields, canonical order, navigations, index) or the same errors, on
generated valid and invalid record sets, as mappings and as JSON files."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policyengine import fastload, load_policy, records
from policyengine.recordio import RecordLimits
from policyengine.records import RecordErrors, load_records
from policyengine.recordschema import Record, load_record_schema
from policyengine.testing import strategies as pst

ROOT = Path(__file__).resolve().parent.parent
FILE_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def snapshot(record_set: records.RecordSet) -> dict:
    """Everything a RecordSet holds as plain data: each record's fields (type-exact), its navigations as
    positions in `instances`, the collections' order and the index."""
    position = {id(r): (kind, i) for kind, recs in record_set._instances.items() for i, r in enumerate(recs)}

    def plain(value):
        if isinstance(value, Record):
            return ("record", position.get(id(value)), fields(value))
        if isinstance(value, tuple):
            return ("tuple", tuple(plain(item) for item in value))
        if isinstance(value, dict):
            return ("dict", tuple((type(k).__name__, k, plain(item)) for k, item in value.items()))
        return (type(value).__name__, str(value) if isinstance(value, Decimal) else value)

    def fields(record):
        return tuple((name, plain(getattr(record, name))) for name in record.field_names)

    def target(value):
        if isinstance(value, tuple):
            return tuple(position[id(item)] for item in value)
        return None if value is None else position[id(value)]

    out = {}
    for kind, recs in record_set._instances.items():
        navigations = record_set.schema.kinds[kind].navigations
        out[kind] = [(type(r).__name__, fields(r), tuple((n, target(getattr(r, n))) for n in navigations))
                     for r in recs]
    for name in record_set.schema.collections:
        out["@" + name] = [position[id(r)] for r in getattr(record_set, name)]
    out["@index"] = {kind: sorted((key, position[id(r)]) for key, r in by_id.items())
                     for kind, by_id in record_set._index.items()}
    return out


def full(sources, schema=None, limits=None):
    """The full loader alone: its RecordSet or its RecordErrors."""
    original = fastload.load
    fastload.load = lambda *args: None
    try:
        return load_records(sources, schema=schema, limits=limits)
    except RecordErrors as errors:
        return errors
    finally:
        fastload.load = original


def fast(sources, schema=None, limits=None):
    """The fast loader alone: its RecordSet, or None when it declines (any other exception propagates)."""
    try:
        return fastload.load_strict(schema or load_record_schema(), sources, limits or RecordLimits())
    except fastload._Unusual:
        return None


def assert_same(sources, schema=None, limits=None, *, taken: bool | None = None) -> None:
    """load_records gives what the full loader gives; the fast path was taken (or declined) if said."""
    expected = full(sources, schema, limits)
    quick = fast(sources, schema, limits)
    if taken is not None:
        assert (quick is not None) == taken, expected
    if isinstance(expected, RecordErrors):
        assert quick is None, "the fast path accepted records that have errors"
        with pytest.raises(RecordErrors) as raised:
            load_records(sources, schema=schema, limits=limits)
        assert raised.value.errors == expected.errors
    else:
        if quick is not None:
            assert snapshot(quick) == snapshot(expected)
        assert snapshot(load_records(sources, schema=schema, limits=limits)) == snapshot(expected)


def write_json(path: Path, raw, **dumps) -> Path:
    def default(value):
        if isinstance(value, (dt.date, Decimal)):
            return str(value)
        raise TypeError(repr(value))

    path.write_text(json.dumps(raw, ensure_ascii=False, default=default, **dumps), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------ generated sets


@settings(max_examples=60, deadline=None)
@given(pst.record_sets())
def test_generated_record_sets_load_fast_to_the_same_records(raw):
    assert_same(raw, taken=True)


@settings(max_examples=60, deadline=None)
@given(pst.invalid_record_sets())
def test_generated_broken_record_sets_give_the_full_loaders_errors(case):
    raw, _ = case
    assert_same(raw, taken=False)


@FILE_SETTINGS
@given(pst.record_sets(), st.sampled_from([{}, {"indent": 2}, {"separators": (",", ":")}]))
def test_generated_record_sets_as_json_files_load_fast_to_the_same_records(tmp_path, raw, form):
    assert_same(write_json(tmp_path / "records.json", raw, **form), taken=True)


@FILE_SETTINGS
@given(pst.invalid_record_sets())
def test_generated_broken_json_files_give_the_full_loaders_errors(tmp_path, case):
    raw, _ = case
    assert_same(write_json(tmp_path / "records.json", raw), taken=False)


@pytest.mark.parametrize("policy_name", ["libo", "linzi", "wucheng", "zhangdian"])
def test_extended_schemas_load_fast_to_the_same_records(tmp_path, policy_name):
    policy = load_policy(policy_name)
    source = ROOT / "examples" / f"{policy_name}.yaml"
    raw = full(source, policy.record_schema)
    assert not isinstance(raw, RecordErrors)
    document = records.recordio.parse_document(source, RecordLimits(), [])
    assert_same(document, policy.record_schema, taken=True)
    assert_same(write_json(tmp_path / "records.json", document), policy.record_schema, taken=True)


# --------------------------------------------------------------------------------- edge cases

BASE = {"units": [{"unit_id": "u1", "name": "一小"}, {"unit_id": "u2", "name": "二小"}],
        "communities": [{"community_id": "c1", "name": "甲", "units": [
            {"unit_id": "u2", "role": "member"}, {"unit_id": "u1", "role": "lead", "joined_on": "2021-09-01"}]}]}


def with_unit(**fields) -> dict:
    return {**BASE, "units": [{**BASE["units"][0], **fields}, BASE["units"][1]]}


@pytest.mark.parametrize("text, taken", [
    ('{"units": [{"unit_id": "u1", "name": "a", "name": "b"}]}', False),           # a duplicate key
    ('{"units": [{"unit_id": "u1", "name": "a:b"}]}', True),                       # a colon in a string
    ('{"units": [{"unit_id" : "u1", "name":\n "a"}]}', True),                      # spaces before colons
    ('{"units": [{"unit_id": "u1", "name": "a\\": x", "name": "b"}]}', False),     # a key-like string, and a duplicate
    ('{"units": [{"unit_id": "u1", "name": "a", "finance_staff_count": 1e400}]}', False),
    ('{"units": [{"unit_id": "u1", "name": "a", "finance_staff_count": NaN}]}', False),
    ('{"units": [{"unit_id": "u1", "name": "a", "finance_staff_count": ' + "9" * 5000 + "}]}", False),
    ('{"units": [{"unit_id": "u1", "name": "a", "finance_staff_count": 12345678901234567890}]}', True),
    ('{"units": [{"unit_id": "u1", "name": "a"}], "units": []}', False),
    ('{"units": [{"unit_id": "u1", "name": "a"', False),
    ("\ufeff" + '{"units": [{"unit_id": "u1", "name": "a"}]}', True),
    ("null", True),
])
def test_json_text(tmp_path, text, taken):
    path = tmp_path / "records.json"
    path.write_text(text, encoding="utf-8")
    assert_same(path, taken=taken)


@pytest.mark.parametrize("fields", [
    {"public_funds_yuan": {"2023": "1000.5", " 2024": 7, "+2025": "3.10"}},   # keys to strip, fen
    {"public_funds_yuan": {"2023": "1000.505"}},                               # not to the fen
    {"public_funds_yuan": {"2023": 1.25}},                                     # a float from Python
    {"public_funds_yuan": {"2023": Decimal("1E+3")}},
    {"in_service_teacher_count": {2023: "40"}, "finance_staff_count": "3"},    # ints as text
    {"urbanity": " 乡村 "}, {"urbanity": "乡村"}, {"urbanity": "nowhere"},
    {"aliases": ["b", "a", "b"]}, {"aliases": ("b", "a")}, {"aliases": ["a", None]},
    {"name": 5}, {"name": ""}, {"unit_id": ""}, {"zone": None}, {"nonsense": 1},
    {"principal_person_id": "p404"},
])
def test_unusual_values_give_the_full_loaders_result(fields):
    assert_same(with_unit(**fields))


@pytest.mark.parametrize("digits", [1, 3, 5, 40])
def test_number_limits_are_the_full_loaders(tmp_path, digits):
    limits = RecordLimits(max_number_digits=digits, max_number_exponent=digits)
    raw = with_unit(finance_staff_count=123, public_funds_yuan={"2023": "1234.5", "2024": 99999})
    assert_same(raw, limits=limits)
    assert_same(write_json(tmp_path / "r.json", raw), limits=limits)


def test_activity_periods_memberships_and_derived_ids():
    raw = {**BASE, "activities": [
        {"activity_id": "a1", "community_id": "c1", "kind": "例会", "date": "2023-10-01",
         "school_year": 2023, "semester_id": "2023-autumn"},
        {"activity_id": "a2", "community_id": "c1", "kind": "training", "date": "2024-03-01",
         "school_year": 2022}],
        "quality_scores": [{"unit_id": "u1", "year": 2023, "z_value": "1.5"}, {"unit_id": "u2", "year": 2023}]}
    assert_same(raw, taken=False)  # a2's school year is wrong
    raw["activities"].pop()
    assert_same(raw, taken=True)
    raw["quality_scores"].append({"unit_id": "u1", "year": 2023})
    assert_same(raw, taken=False)  # the same derived id twice


def test_duplicate_members_and_sources_given_as_a_generator(tmp_path):
    twice = {**BASE, "communities": [{**BASE["communities"][0], "units": [
        {"unit_id": "u1", "role": "lead"}, {"unit_id": "u1", "role": "member"}]}]}
    assert_same(twice, taken=False)
    path = write_json(tmp_path / "base.json", BASE)
    assert snapshot(load_records(p for p in [path])) == snapshot(full([path]))
