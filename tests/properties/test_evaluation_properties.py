"""Evaluation properties over generated record sets, under every bundled policy: no crash, `error`
findings only where an expression really fails, determinism, order independence (records and rules),
and the JSON round trip of reports."""

from __future__ import annotations

import json
import random

import attrs
from hypothesis import given, strategies as st

from policyengine import Report
from policyengine.testing import strategies as pst
from propcommon import policies

# Rule outcomes `error` that generated data may legitimately produce: the expression really fails on
# these records. Each entry: rule id → (a fragment of the error message, why it is genuine).
GENUINE_ERRORS = {
    "suixian.funding.co_build.year_end_settlement": (
        "weights sum to zero",
        "every contribution of the pool is 0.00: allocate() cannot split the difference in proportion to "
        "zero weights (the policy does not say how to settle a pool nobody paid into)"),
}


def _comparable(report: Report) -> list:
    """The whole report: outcomes, amounts and reported values (lists in values are sorted by the
    evaluator, so they do not follow record order either)."""
    return [(f.rule, f.subject, f.community, f.period, f.outcome, f.amount, f.values) for f in report.findings]


def _loader(raw):
    """Records of `raw` for a policy, loaded once per record schema (a policy with a schema extension
    refuses records loaded with the core schema)."""
    loaded: dict[int, object] = {}

    def load(policy):
        key = id(policy.record_schema)
        if key not in loaded:
            loaded[key] = policy.load_records(raw)
        return loaded[key]
    return load


def _check_errors(report: Report) -> None:
    for finding in report.findings:
        if finding.outcome != "error":
            continue
        message = str(finding.values_dict.get("error", ""))
        assert message, f"{finding.rule}: an error finding without a message"
        known = GENUINE_ERRORS.get(finding.rule)
        assert known and known[0] in message, f"{finding.rule} / {finding.subject}: unexpected error {message!r}"


@given(pst.record_sets(), pst.as_of_dates())
def test_no_crash_under_every_policy(raw, as_of):
    records = _loader(raw)
    for name, policy in policies().items():
        report = policy.evaluate(records(policy), as_of)
        _check_errors(report)
        assert report.policy == name


@given(pst.record_sets(), pst.as_of_dates(), st.randoms(use_true_random=False))
def test_deterministic_and_independent_of_record_and_rule_order(raw, as_of, rng: random.Random):
    shuffled = {name: rng.sample(items, len(items)) for name, items in raw.items()}
    firsts, agains, reordereds = _loader(raw), _loader(raw), _loader(shuffled)
    for name, policy in policies().items():
        first, again, reordered = firsts(policy), agains(policy), reordereds(policy)
        report = policy.evaluate(first, as_of)
        assert policy.evaluate(again, as_of) == report, f"{name}: two evaluations differ"
        assert _comparable(policy.evaluate(reordered, as_of)) == _comparable(report), \
            f"{name}: record order changed the report"
        rules = list(policy.rules)
        rng.shuffle(rules)
        assert attrs.evolve(policy, rules=tuple(rules)).evaluate(first, as_of) == report, \
            f"{name}: rule order changed the report"


@given(pst.record_sets(), pst.as_of_dates())
def test_report_json_round_trip(raw, as_of):
    records = _loader(raw)
    for policy in policies().values():
        report = policy.evaluate(records(policy), as_of)
        text = json.dumps(report.to_json(), ensure_ascii=False)
        assert Report.from_json(json.loads(text)) == report
