"""Order (issue 21.4): a report never depends on the order of items inside any list of the records —
the collections, and every list nested in a record (community.units, aliases, participant ids,
approvals …) and the key order of every map — under every bundled policy. Lists the engine derives
from collections are sets: reported sorted (evaluator._unordered)."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, strategies as st

from policyengine import Report
from policyengine.testing import strategies as pst
from propcommon import policies, policy_names


def shuffled(value: Any, rng: random.Random) -> Any:
    """`value` with every list (at any depth) in a random order, and every mapping's keys too."""
    if isinstance(value, dict):
        items = [(key, shuffled(item, rng)) for key, item in value.items()]
        rng.shuffle(items)
        return dict(items)
    if isinstance(value, (list, tuple)):
        items = [shuffled(item, rng) for item in value]
        rng.shuffle(items)
        return items
    return value


def comparable(report: Report) -> list:
    return [(f.rule, f.subject, f.community, f.period, f.outcome, f.amount, f.values) for f in report.findings]


def differences(a: Report, b: Report) -> list:
    left, right = comparable(a), comparable(b)
    return [(x, y) for x, y in zip(left, right) if x != y][:3] + ([("lengths", len(left), len(right))]
                                                                 if len(left) != len(right) else [])


@pytest.mark.parametrize("name", policy_names())
def test_no_report_depends_on_the_order_inside_any_list(name):
    policy = policies()[name]

    @given(pst.record_sets(sizes=pst.Sizes.small(), policy=name), pst.as_of_dates(), st.randoms(use_true_random=False))
    def check(raw, as_of, rng: random.Random):
        report = policy.evaluate(policy.load_records(raw), as_of)
        again = policy.evaluate(policy.load_records(shuffled(raw, rng)), as_of)
        assert comparable(again) == comparable(report), f"{name}: {differences(report, again)}"

    check()
