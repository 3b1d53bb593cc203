"""Hoisting (src/policyengine/hoist.py): subject-independent scans computed once per evaluation give
exactly the report of the unhoisted code — including where filtering raises (fallback), where the
original stops early, and where a lookup key would be absent but is never needed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from policyengine import engine, hoist, load_records

DATA = Path(__file__).resolve().parent / "data"
POLICY = DATA / "hoist" / "policy.yaml"
RECORDS = DATA / "evaluation" / "records.yaml"
AS_OF = dt.date(2022, 3, 1)


def _reports(monkeypatch, policy_path, records, as_of):
    hoisted = engine._load(str(policy_path), {})
    with monkeypatch.context() as m:
        m.setattr(hoist, "rewrite", lambda node, functions: node)
        plain = engine._load(str(policy_path), {})
    return hoisted, plain, hoisted.evaluate(records, as_of), plain.evaluate(records, as_of)


def _sources(rule) -> str:
    functions = [f for _, f in rule.when + rule.require + rule.values] + [rule.value]
    return "\n".join(getattr(f, "__policyengine_source__", "") for f in functions if f is not None)


def test_hoisted_report_equals_the_unhoisted_one(monkeypatch):
    hoisted, plain, fast, slow = _reports(monkeypatch, POLICY, load_records(RECORDS), AS_OF)
    assert list(fast.findings) == list(slow.findings)
    # the scan left the rule's code (Shared); a probe of an index replaced the filter (Indexed)
    assert "in _rt.trips(_g.communities)" not in _sources(hoisted.rule("h.shared"))
    assert "in _rt.trips(_g.communities)" in _sources(plain.rule("h.shared"))
    assert "(() if not " in _sources(hoisted.rule("h.index")) and "(() if not " not in _sources(plain.rule("h.index"))
    assert _sources(hoisted.rule("h.any_element")) != _sources(plain.rule("h.any_element"))


def test_edge_cases_keep_the_original_outcomes(monkeypatch):
    _, _, report, _ = _reports(monkeypatch, POLICY, load_records(RECORDS), AS_OF)
    outcomes = {(f.rule, f.subject): f.outcome for f in report.findings}
    assert {outcomes["h.filter_falls_back", c] for c in ("LZ-教共体-01", "c-02", "c-03")} == {"pass"}
    assert {outcomes["h.filter_reaches_absent", c] for c in ("LZ-教共体-01", "c-02", "c-03")} == {"not_applicable"}
    assert outcomes["h.index_key_only_when_needed", "c-03"] == "pass"
    index = {f.subject: f.values_dict for f in report.findings if f.rule == "h.index"}
    assert all(v["value"] == v["navigated"] for v in index.values()) and index["LZ-教共体-01"]["value"] >= 1
    assert outcomes["h.shared", "c-03"] == "pass"
    assert outcomes["h.any_element", "c-02"] == "violation" and outcomes["h.any_element", "c-03"] == "pass"


@pytest.mark.parametrize("name", ["liuzhou", "ruian", "suixian", "yueqing"])
def test_bundled_policies_on_a_province_are_the_same_unhoisted(monkeypatch, name):
    import sys

    sys.path.insert(0, str(DATA.parent.parent / "benchmarks"))
    from province import generate

    records = load_records(generate(30, city=("liuzhou", "ruian", "suixian", "yueqing"), seed=3))
    _, _, fast, slow = _reports(monkeypatch, engine.policy_path(name), records, dt.date(2024, 9, 1))
    assert fast.rows == slow.rows
