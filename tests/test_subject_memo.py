"""A rule's subjects are computed once per (record set, subject kind, jurisdiction) and shared by
every rule (evaluator.sorted_subjects): several policies evaluated in turn on one record set give
the reports each gives on a record set of its own."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import policyengine
from policyengine.recordschema import load_record_schema

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("golden", ROOT / "benchmarks" / "golden.py")
golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(golden)


def test_policies_sharing_one_record_set_judge_their_own_subjects():
    raw = golden.province.generate(golden.PROVINCE_COMMUNITIES, city=golden.POLICIES)
    core = [p for p in map(policyengine.load_policy, golden.POLICIES) if p.record_schema is load_record_schema()]
    assert len(core) >= 2  # otherwise this test shares nothing
    shared = policyengine.load_records(raw)
    for policy in core + core[::-1]:  # each policy both first and after the others
        alone = policy.evaluate(policyengine.load_records(raw), golden.AS_OF)
        together = policy.evaluate(shared, golden.AS_OF)
        assert golden.canonical_lines(together.findings) == golden.canonical_lines(alone.findings)
