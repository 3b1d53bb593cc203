"""Strict, exact and bounded record input (issues 21.1, 21.3 and the record side of 20): duplicate
keys with both positions, a unit listed twice, every reference resolved, numbers read exactly from
their text, and limits on size, depth, alias expansion and digits, each with its stable RE code."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from policyengine import cli, load_policy, load_records
from policyengine.recordio import RecordLimits
from policyengine.records import RecordErrors

UNIT = "units:\n  - {unit_id: u1, name: 一小}\n"


def errors(source, **kwargs):
    with pytest.raises(RecordErrors) as raised:
        load_records(source, **kwargs)
    return raised.value.errors


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------- duplicate keys

def test_yaml_duplicate_keys_are_errors_with_both_positions(tmp_path):
    path = write(tmp_path, "r.yaml", "units:\n  - unit_id: u1\n    name: 一小\n    name: 二小\n")
    (error,) = errors(path)
    assert (error.code, error.file, error.line, error.column) == ("RE110", str(path), 4, 5)
    assert "line 3, column 5 and line 4, column 5" in error.message_en
    assert "第 3 行第 5 列与第 4 行第 5 列" in error.message_zh


def test_yaml_duplicate_top_level_collection(tmp_path):
    path = write(tmp_path, "r.yaml", UNIT + "units: []\n")
    (error,) = errors(path)
    assert (error.code, error.line, error.column) == ("RE110", 3, 1) and "line 1, column 1" in error.message_en


def test_json_duplicate_keys_are_errors_with_both_positions(tmp_path):
    path = write(tmp_path, "r.json", '{"units": [\n  {"unit_id": "u1", "name": "一小",\n   "name": "二小"}]}\n')
    (error,) = errors(path)
    assert (error.code, error.line, error.column) == ("RE110", 3, 4)
    assert "line 2, column 21 and line 3, column 4" in error.message_en


def test_yaml_merge_keys_are_not_duplicates(tmp_path):
    path = write(tmp_path, "r.yaml", "units:\n  - &base {unit_id: u1, name: 一小}\n  - <<: *base\n    unit_id: u2\n")
    assert [u.unit_id for u in load_records(path).units] == ["u1", "u2"]


# ---------------------------------------------------------------------------- strict references

def test_a_unit_listed_twice_in_one_community_is_an_error():
    data = {"units": [{"unit_id": "u1", "name": "一小"}, {"unit_id": "u2", "name": "二小"}],
            "communities": [{"community_id": "c1", "name": "甲", "units": [
                {"unit_id": "u1", "role": "lead"}, {"unit_id": "u2", "role": "member"},
                {"unit_id": "u1", "role": "member"}]}]}
    (error,) = errors(data)
    assert (error.code, error.record_id, error.field) == ("RE111", "c1", "units[2].unit_id")
    assert "units[0]" in error.message_en
    data["communities"][0]["units"].pop()  # listed once: fine, and the same unit in two communities too
    data["communities"].append({"community_id": "c2", "name": "乙", "units": [{"unit_id": "u1", "role": "lead"}]})
    assert len(load_records(data).memberships) == 3


def test_assessment_subject_id_must_name_a_community_or_unit():
    base = {"units": [{"unit_id": "u1", "name": "一小"}],
            "communities": [{"community_id": "c1", "name": "甲", "units": [{"unit_id": "u1", "role": "lead"}]}]}
    ok = [{"subject_id": s, "kind": "annual", "held_on": "2023-12-01"} for s in ("c1", "u1")]
    assert len(load_records({**base, "assessments": ok}).assessments) == 2
    (error,) = errors({**base, "assessments": [{"subject_id": "c9", "kind": "annual", "held_on": "2023-12-01"}]})
    assert (error.code, error.record_id, error.field) == ("RE104", "assessment:c9:annual:2023-12-01", "subject_id")


def test_fund_pool_contributions_name_units():
    base = {"units": [{"unit_id": "u1", "name": "一小"}],
            "communities": [{"community_id": "c1", "name": "甲", "units": [{"unit_id": "u1", "role": "lead"}]}]}
    pool = {"community_id": "c1", "year": 2023, "contributions": {"u1": "10.00", "u404": "5.00"}}
    (error,) = errors({**base, "fund_pools": [pool]})
    assert (error.code, error.record_id, error.field) == ("RE104", "fund_pool:c1:2023", "contributions[u404]")


# ---------------------------------------------------------------------------------- exact numbers

def test_unquoted_yaml_numbers_are_read_exactly_from_their_text(tmp_path):
    path = write(tmp_path, "r.yaml", UNIT + "budgets:\n  - {year: 2023, amount_yuan: 12345678901234567.89}\n"
                 "  - {year: 2024, amount_yuan: 0.1}\n  - {year: 2025, amount_yuan: 1_000.50}\n")
    assert [b.amount_yuan for b in load_records(path).budgets] == [
        Decimal("12345678901234567.89"), Decimal("0.1"), Decimal("1000.50")]


def test_json_numbers_are_read_exactly(tmp_path):
    path = write(tmp_path, "r.json", json.dumps({"units": [{"unit_id": "u1", "name": "一小"}]})[:-1]
                 + ', "budgets": [{"year": 2023, "amount_yuan": 12345678901234567.89}]}')
    (budget,) = load_records(path).budgets
    assert budget.amount_yuan == Decimal("12345678901234567.89") and isinstance(budget.amount_yuan, Decimal)


@pytest.mark.parametrize("suffix, text", [
    ("json", '{"communities": [{"community_id": "c1", "name": "甲", "units": [], "batch": 1e999999999}]}'),
    ("yaml", "communities:\n  - {community_id: c1, name: 甲, units: [], batch: 1.0e+999999999}\n"),
    ("json", '{"communities": [{"community_id": "c1", "name": "甲", "units": [], "batch": ' + "9" * 5000 + "}]}"),
    ("yaml", "communities:\n  - {community_id: c1, name: 甲, units: [], batch: " + "9" * 5000 + "}\n"),
    ("yaml", "communities:\n  - {community_id: c1, name: 甲, units: [], batch: '" + "9" * 5000 + "'}\n"),
    ("json", '{"communities": [{"community_id": "c1", "name": "甲", "units": [], "batch": 1e-999999999}]}'),
])
def test_numbers_too_long_or_too_large_are_located_errors(tmp_path, suffix, text):
    (error,) = errors(write(tmp_path, f"r.{suffix}", text))
    assert (error.code, error.record_id, error.field) == ("RE115", "c1", "batch")


def test_the_number_limits_are_documented_defaults_and_can_be_raised():
    limits = RecordLimits()
    assert (limits.max_number_digits, limits.max_number_exponent) == (40, 40)
    long_money = "1" * 41
    data = {"units": [{"unit_id": "u1", "name": "一小"}], "budgets": [{"year": 2023, "amount_yuan": long_money}]}
    assert errors(data)[0].code == "RE115"
    raised = RecordLimits.with_overrides({"max_number_digits": "60"})
    assert load_records(data, limits=raised).budgets[0].amount_yuan == Decimal(long_money)
    with pytest.raises(ValueError, match="unknown record limit"):
        RecordLimits.with_overrides({"max_digits": "1"})


# ---------------------------------------------------------------------------------------- depth

@pytest.mark.parametrize("depth", [10_000, 100_000])
def test_deep_yaml_is_a_located_error(tmp_path, depth):
    (error,) = errors(write(tmp_path, "r.yaml", "units: " + "[" * depth + "]" * depth + "\n"))
    assert error.code == "RE113" and error.line == 1 and error.column is not None


@pytest.mark.parametrize("depth", [10_000, 100_000])
def test_deep_json_is_a_located_error(tmp_path, depth):
    (error,) = errors(write(tmp_path, "r.json", '{"units": ' + "[" * depth + "]" * depth + "}"))
    assert (error.code, error.line) == ("RE113", 1) and error.column is not None


def test_yaml_deeper_than_the_limit_is_refused_before_it_is_built(tmp_path):
    nested = "units: " + "[" * 65 + "]" * 65 + "\n"  # 66 levels with the top mapping: over 64
    (error,) = errors(write(tmp_path, "r.yaml", nested))
    assert (error.code, error.line) == ("RE113", 1) and "over the limit of 64" in error.message_en
    shallow = "units: " + "[" * 62 + "]" * 62 + "\n"  # 64 levels: the limit itself is allowed
    assert errors(write(tmp_path, "s.yaml", shallow))[0].code == "RE102"


# -------------------------------------------------------------------------------------- aliases

def test_a_shared_units_alias_cannot_blow_up(tmp_path):
    """The reproducer: 5,000 communities sharing one 5,000-member `units:` list would be 25 M
    memberships from a file of a few hundred KB."""
    members = "".join(f"    - {{unit_id: u{i}, role: member}}\n" for i in range(5000))
    communities = "".join(f"  - {{community_id: c{i}, name: c{i}, units: *members}}\n" for i in range(1, 5000))
    text = f"communities:\n  - community_id: c0\n    name: c0\n    units: &members\n{members}{communities}"
    path = write(tmp_path, "bomb.yaml", text)
    assert path.stat().st_size < 500_000
    (error,) = errors(path)
    assert error.code == "RE114" and "expand" in error.message_en


def test_a_recursive_alias_is_an_error(tmp_path):
    (error,) = errors(write(tmp_path, "r.yaml", "units: &x [*x]\n"))
    assert (error.code, error.line) == ("RE114", 1)


def test_modest_aliases_stay_allowed(tmp_path):
    text = ("units:\n  - {unit_id: u1, name: 一小}\n  - {unit_id: u2, name: 二小}\ncommunities:\n"
            "  - {community_id: c0, name: c, units: &pair [{unit_id: u1, role: lead}, {unit_id: u2, role: member}]}\n"
            + "".join(f"  - {{community_id: c{i}, name: c, units: *pair}}\n" for i in range(1, 50)))
    assert len(load_records(write(tmp_path, "r.yaml", text)).memberships) == 100


# ------------------------------------------------------------------------------------ file size

def test_a_file_over_the_size_limit_is_refused_unread(tmp_path):
    path = write(tmp_path, "r.yaml", UNIT)
    (error,) = errors(path, limits=RecordLimits(max_file_bytes=10))
    assert (error.code, error.file) == ("RE112", str(path)) and "max_file_bytes" in error.message_en
    assert RecordLimits().max_file_bytes == 1 << 30


def test_the_cli_overrides_a_limit_and_reports_the_code(tmp_path, capsys):
    path = write(tmp_path, "r.yaml", UNIT)
    status = cli.main(["evaluate", "--policy", "liuzhou", str(path), "--as-of", "2024-09-01", "--format", "json",
                       "--record-limit", "max_file_bytes=10"])
    assert status == 2 and json.loads(capsys.readouterr().out)["errors"][0]["code"] == "RE112"
    with pytest.raises(SystemExit) as exit_:
        cli.main(["evaluate", "--policy", "liuzhou", str(path), "--record-limit", "nonsense=1"])
    assert exit_.value.code == 2 and "unknown record limit" in capsys.readouterr().err


# ------------------------------------------------------------------------ libyaml error positions

@pytest.mark.parametrize("text, line, column", [
    ("units:\n  - {unit_id: u1, name: 一小学校\n", 3, 1),
    ("units:\n  - unit_id: u1\n    name: 第一小学\n   bad: 1\n", 4, 4),
    ("units:\n  - {unit_id: u1, name: \"一小\tx\" }\n  - name: 二小: 三\n", 3, 13),
])
def test_yaml_syntax_errors_keep_their_positions(tmp_path, text, line, column):
    import yaml

    (error,) = errors(write(tmp_path, "r.yaml", text))
    with pytest.raises(yaml.YAMLError) as pure:
        yaml.load(text, Loader=yaml.SafeLoader)
    mark = pure.value.problem_mark
    assert (error.code, error.line, error.column) == ("RE108", mark.line + 1, mark.column + 1) == ("RE108", line, column)


# ------------------------------------------------------------------------ every reference field

# `*_id` fields that name no record of these files: identifiers of things outside them
EXTERNAL_IDENTIFIERS = {"legal_entity_id", "procurement_id", "finance_entity_id", "semester_id",
                        "subject_team_id"}  # subject_team_id: the team's own id (assessment.subject_id refers to it)


def test_every_reference_field_of_every_schema_is_resolved():
    """Issue 21.3: a field that names another record is a `ref:` (resolved, RE104 otherwise) or declares
    `refers_to:` (resolved the same way); the core schema and every policy's extension."""
    from policyengine import resources
    from policyengine.recordschema import load_record_schema
    from policyengine.schemaext import schema_for_policy

    schemas = {"core": load_record_schema()}
    for name in resources.bundled_policy_names():
        schemas[name] = schema_for_policy(str(resources.bundled_policy(name)))[0]
    unresolved = []
    for origin, schema in schemas.items():
        for kind in schema.kinds.values():
            for field in kind.fields.values():
                names_a_record = field.name.endswith(("_id", "_ids")) and not field.is_id
                if names_a_record and not field.ref_kind and not field.refers_to and not _list_of_refs(field) \
                        and field.name not in EXTERNAL_IDENTIFIERS:
                    unresolved.append(f"{origin}: {kind.name}.{field.name}")
    assert unresolved == []


def _list_of_refs(field) -> bool:
    spec = field.spec
    while spec.tag == "list":
        spec = spec.element
    return spec.tag == "ref"
