"""A policy says nothing about a day before it took effect: a rule judged on as_of (no `per:`) is
not_applicable, with the reason, when as_of is before `effective.from`; on that day it is judged.
Per-period rules already start their periods at `effective.from`."""

from __future__ import annotations

import datetime as dt

from policyengine import load_policy, load_records

POLICY = """\
format: policyengine/1
jurisdiction: {id: probe, name: 探针}
title: t
source: {file: x.txt}
effective: {from: 2022-01-01}
rules:
  - id: probe.units.max_2
    kind: requirement
    strength: hard
    subject: community
    require: "count(community.units) <= 2"
    citation: {file: x.txt, section: s, quote: q}
    message: {zh: z, en: e}
"""
RECORDS = {"units": [{"unit_id": u, "name": u} for u in ("a", "b", "c")],
           "communities": [{"community_id": "c", "name": "c",
                            "units": [{"unit_id": "a", "role": "core"}, {"unit_id": "b", "role": "member"},
                                      {"unit_id": "c", "role": "member"}]}]}


def _finding(tmp_path, as_of: dt.date):
    path = tmp_path / "p.yaml"
    path.write_text(POLICY, encoding="utf-8")
    [finding] = load_policy(path).evaluate(load_records(RECORDS), as_of).findings
    return finding


def test_the_day_before_the_policy_takes_effect_is_not_judged(tmp_path):
    finding = _finding(tmp_path, dt.date(2021, 12, 31))
    assert finding.outcome == "not_applicable"
    assert dict(finding.values)["reason"] == "方案尚未施行 / the policy takes effect on 2022-01-01"


def test_the_day_it_takes_effect_is_judged(tmp_path):
    assert _finding(tmp_path, dt.date(2022, 1, 1)).outcome == "violation"
