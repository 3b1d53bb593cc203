"""Record schema extensions as data (issue 14.1): a jurisdiction adds record fields and enum values in
`<policy dir>/schema/<policy file>`, checked with positions and codes, seen by the checker and the
record loader; without the declaration the same records are refused with a located error."""

from __future__ import annotations

import datetime as dt
import json
import textwrap
from pathlib import Path

import pytest

from policyengine import cli, load_policy, load_records
from policyengine.diagnostics import PolicyError
from policyengine.engine import check_file
from policyengine.records import RecordErrors

POLICY = """\
format: policyengine/1
jurisdiction: {id: zhangdian, name: 张店区}
title: 张店区义务教育学校发展共同体
source: {file: 004_3e59b9c318b8141b.txt}
effective: {from: 2021-09-01}
rules:
  - id: zhangdian.ext.reads_every_kind
    kind: derived
    subject: community
    value: "community.alliance_size"
    values: {note: "community.alliance_note", tags: "count(community.alliance_tags)", posts_2023: "community.posts_per_year[2023]", head: "community.alliance_head.person_id", shared_posts: "count(p for p in community.posts where p.count >= 2)"}
    citation: {file: 004_3e59b9c318b8141b.txt, quote: 联盟式}
  - id: zhangdian.ext.alliance_model
    kind: requirement
    strength: hard
    subject: community
    require: "community.model_type == 'alliance'"
    citation: {file: 004_3e59b9c318b8141b.txt, quote: 联盟式}
"""

EXTENSION = """\
description: 张店区 records — its 联盟式 model and per-school post counts
enums:
  model_type:
    alliance: [联盟式]
records:
  post_count:                       # nested record (a new sub-record kind)
    fields:
      post: string
      count: int
  community:
    fields:
      alliance_size: {type: int, default: 0}              # scalar
      alliance_note: string?                              # optional
      alliance_tags: {type: list<string>, default: []}    # list
      posts_per_year: {type: "map<int,int>", default: {}} # map
      alliance_head_id: ref:person?                       # reference (gives community.alliance_head)
      posts: {type: list<post_count>, default: []}        # nested records
"""

RECORDS = """\
units: [{unit_id: u1, name: 张店区实验小学}]
persons: [{person_id: p1, home_unit_id: u1}]
communities:
  - community_id: c1
    name: 张店区发展共同体
    model_type: 联盟式
    units: [{unit_id: u1, role: lead}]
    alliance_size: 5
    alliance_note: 五校联盟
    alliance_tags: [体育, 艺术]
    posts_per_year: {2023: 7}
    alliance_head_id: p1
    posts: [{post: 教研组长, count: 2}, {post: 备课组长, count: 1}]
"""


@pytest.fixture()
def city(tmp_path: Path) -> Path:
    (tmp_path / "schema").mkdir()
    (tmp_path / "zhangdian.yaml").write_text(POLICY, encoding="utf-8")
    (tmp_path / "schema" / "zhangdian.yaml").write_text(EXTENSION, encoding="utf-8")
    (tmp_path / "records.yaml").write_text(RECORDS, encoding="utf-8")
    return tmp_path


def test_a_rule_reads_every_kind_of_extension_field(city):
    policy = load_policy(city / "zhangdian.yaml")
    report = policy.evaluate(city / "records.yaml", as_of=dt.date(2024, 9, 1))
    (derived,) = report.select(rule="zhangdian.ext.reads_every_kind")
    assert derived.outcome == "info"
    values = derived.values_dict
    assert (values["value"], values["note"], values["tags"], values["posts_2023"], values["head"],
            values["shared_posts"]) == (5, "五校联盟", 2, 7, "p1", 1)
    (model,) = report.select(rule="zhangdian.ext.alliance_model")
    assert model.outcome == "pass"  # 联盟式 is an alias of the extension's enum value


def test_the_same_records_without_the_declaration_are_refused_with_located_errors(city):
    with pytest.raises(RecordErrors) as raised:
        load_records(city / "records.yaml")
    found = {(e.code, e.record_id, e.field) for e in raised.value.errors}
    assert ("RE103", "c1", "model_type") in found
    for field in ("alliance_size", "alliance_note", "alliance_tags", "posts_per_year", "alliance_head_id", "posts"):
        assert ("RE105", "c1", field) in found
    assert all(e.file == str(city / "records.yaml") for e in raised.value.errors)


def test_without_the_declaration_the_policy_does_not_check(city):
    (city / "schema" / "zhangdian.yaml").unlink()
    codes = {(d.code, d.span.line) for d in check_file(city / "zhangdian.yaml")}
    assert ("PE202", 10) in codes  # community has no field alliance_size …
    assert ("PE304", 17) in codes  # 'alliance' is not a model_type value


def test_the_cli_prints_the_extended_json_schema_and_evaluates(city, capsys):
    assert cli.main(["schema", "records", "--policy", str(city / "zhangdian.yaml")]) == 0
    schema = json.loads(capsys.readouterr().out)
    community = schema["$defs"]["record.community"]["properties"]
    assert {"alliance_size", "alliance_note", "alliance_tags", "posts_per_year", "alliance_head_id", "posts"} <= set(community)
    assert "alliance" in schema["$defs"]["enum.model_type"]["enum"] and "联盟式" in schema["$defs"]["enum.model_type"]["enum"]
    assert schema["$defs"]["record.post_count"]["required"] == ["post", "count"]
    assert cli.main(["schema", "records"]) == 0
    assert "alliance_size" not in capsys.readouterr().out  # the core schema is unchanged
    status = cli.main(["evaluate", "--policy", str(city / "zhangdian.yaml"), str(city / "records.yaml"),
                       "--as-of", "2024-09-01", "--format", "json"])
    assert status == 0 and json.loads(capsys.readouterr().out)["counts"]["pass"] == 1


def test_records_loaded_without_the_extension_are_not_evaluated_silently(city):
    policy = load_policy(city / "zhangdian.yaml")
    core = load_records({"units": [{"unit_id": "u1", "name": "一小"}]})
    with pytest.raises(ValueError, match="policy.load_records"):
        policy.evaluate(core, as_of=dt.date(2024, 9, 1))


def _diagnostics(city: Path, extension: str) -> set[tuple[str, int, int]]:
    (city / "schema" / "zhangdian.yaml").write_text(textwrap.dedent(extension), encoding="utf-8")
    with pytest.raises(PolicyError) as raised:
        load_policy(city / "zhangdian.yaml")
    return {(d.code, d.span.line, d.span.col) for d in raised.value.diagnostics
            if d.span.file.endswith("schema/zhangdian.yaml")}


@pytest.mark.parametrize("extension, expected", [
    # a core field or value redefined: extensions only add
    ("records:\n  community:\n    fields:\n      name: string?\n", ("PE701", 4, 7)),
    ("enums:\n  model_type:\n    fusion: [融合]\n", ("PE701", 3, 5)),
    # an alias that already names another value
    ("enums:\n  model_type:\n    alliance: [融合型]\n", ("PE703", 3, 5)),
    # an unknown type or kind
    ("records:\n  community:\n    fields:\n      x: {type: lisst<string>, default: []}\n", ("PE702", 4, 17)),
    ("records:\n  community:\n    fields:\n      x: ref:nobody?\n", ("PE702", 4, 10)),
    # a required field on a core kind would refuse records the core schema accepts
    ("records:\n  community:\n    fields:\n      x: int\n", ("PE704", 4, 7)),
    # unknown keys, bad names, duplicate keys, YAML syntax
    ("records:\n  community:\n    felds: {x: int?}\n", ("PE401", 3, 5)),
    ("collections: {}\n", ("PE401", 1, 1)),
    ("records:\n  community:\n    fields:\n      Bad-Name: int?\n", ("PE403", 4, 7)),
    ("records:\n  community:\n    fields:\n      x: int?\n      x: int?\n", ("PE407", 5, 7)),
    ("records: [\n", ("PE100", 2, 1)),
])
def test_extension_errors_are_located_and_coded(city, extension, expected):
    assert expected in _diagnostics(city, extension)


def test_every_error_of_an_extension_is_reported_in_one_pass(city):
    found = _diagnostics(city, "enums:\n  model_type:\n    fusion: []\nrecords:\n  community:\n    fields:\n"
                               "      name: string?\n      y: nokind?\n")
    assert {code for code, _, _ in found} == {"PE701", "PE702"} and len(found) == 3
