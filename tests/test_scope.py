"""Jurisdiction scope (language.md §5.5), one engine mechanism for every policy: a policy judges only
its own jurisdiction's subjects and reports no finding for another's. On a province export that
mixes two cities, each city's findings are exactly its findings on its own records."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

import pytest
import yaml

from policyengine import load_policy, load_records

ROOT = Path(__file__).resolve().parents[1]
AS_OF = dt.date(2024, 9, 1)


def _raw(name: str) -> dict:
    return yaml.safe_load((ROOT / "examples" / name).read_text(encoding="utf-8"))


def _merged(*raws: dict) -> dict:
    merged: dict = {}
    for raw in raws:
        for key, items in raw.items():
            merged.setdefault(key, []).extend(copy.deepcopy(items))
    return merged


def _findings(policy, raw: dict) -> list[tuple]:
    report = policy.evaluate(load_records(raw, schema=policy.record_schema), AS_OF)
    return sorted((f.rule, f.subject, f.period or "", f.outcome, str(f.amount)) for f in report.findings)


@pytest.fixture(scope="module")
def cities():
    return {name: load_policy(ROOT / "policies" / f"{name}.yaml") for name in ("ruian", "yueqing")}


@pytest.mark.parametrize("name, own", [("ruian", "ruian.yaml"), ("yueqing", "yueqing.yaml")])
def test_a_province_export_gives_each_city_exactly_its_own_findings(cities, name, own):
    province = _merged(_raw("ruian.yaml"), _raw("yueqing.yaml"))
    assert _findings(cities[name], province) == _findings(cities[name], _raw(own))


def test_another_citys_subjects_get_no_finding_of_any_kind(cities):
    report = cities["yueqing"].evaluate(load_records(_raw("ruian.yaml")), AS_OF)
    # every Ruian record carries city: ruian, so only the jurisdiction's own rules speak
    assert report.findings and {f.subject_kind for f in report.findings} == {"jurisdiction"}


def test_a_record_without_city_belongs_to_the_files_jurisdiction(cities):
    raw = _raw("ruian.yaml")
    community = raw["communities"][0]
    del community["city"]
    report = cities["yueqing"].evaluate(load_records(raw), AS_OF)
    judged = {f.subject for f in report.findings if f.subject_kind == "community"}
    assert judged == {community["community_id"]}
    # its memberships are judged through it (a membership's city is its community's)
    members = {m["unit_id"] for m in community["units"]}
    assert {f.subject for f in report.findings if f.subject_kind == "unit"} <= members | {
        u["unit_id"] for u in raw["units"] if "city" not in u}


def test_aliases_name_the_other_spellings_of_a_city():
    liuzhou = load_policy(ROOT / "policies" / "liuzhou.yaml")
    assert liuzhou.scope.cities == frozenset({"liuzhou", "柳州市", "柳州"})
    raw = _merged(_raw("liuzhou-annex.yaml"), _raw("liuzhou-activity.yaml"))
    before = _findings(liuzhou, raw)
    for community in raw["communities"]:
        if community.get("city") == "liuzhou":
            community["city"] = "柳州"
    assert _findings(liuzhou, raw) == before
    raw["communities"][0]["city"] = "wuzhou"
    gone = raw["communities"][0]["community_id"]
    assert gone not in {f.subject for f in liuzhou.evaluate(load_records(raw), AS_OF).findings
                        if f.subject_kind == "community"}


def test_an_alias_that_is_not_text_is_a_located_error(tmp_path):
    from policyengine.diagnostics import PolicyError

    policy_file = tmp_path / "p.yaml"
    policy_file.write_text(
        "format: policyengine/1\njurisdiction: {id: p, name: P, aliases: [[x]]}\ntitle: t\n"
        "source: {file: x.txt}\nrules: []\n", encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_policy(policy_file)
    [diagnostic] = caught.value.diagnostics
    assert (diagnostic.code, diagnostic.span.line, diagnostic.span.col) == ("PE403", 2, 42)  # the inner [x]
