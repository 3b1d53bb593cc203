"""The strategies are not vacuous: for every bundled policy (discovered in policies/), one seeded
Hypothesis run of that policy's generated record sets drives its rules to each of their outcome sides
(policyengine.testing.reach). What a policy leaves unreached, each side with its reason, and its
threshold (rules reached on every side / encoded rules) are data beside its tests:
policies/tests/<policy>/scenarios.yaml `reach:`. Each policy runs in a fresh interpreter, seeded, with derandomize=False, so it
draws the same examples in a checkout, an installed wheel and under CI=1.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import settings

from policyengine.testing import reach
from propcommon import policies, policy_names

EXAMPLES = 100 if settings.default.max_examples < 500 else 500


@pytest.mark.parametrize("name", policy_names())
def test_generated_records_reach_each_side_of_the_rules(name):
    # Each policy in a fresh interpreter: what one seeded run reaches must not depend on what else ran in the
    # process before it (an earlier check or mutation run changed which rare sides were drawn), and a fresh
    # process reaches the same sides whatever its hash seed.
    policy = policies()[name]
    run = subprocess.run([sys.executable, "-m", "policyengine.testing.reach", "--examples", str(EXAMPLES), policy.path],
                         capture_output=True, text=True, timeout=1800)
    print(run.stdout, run.stderr)
    assert run.returncode == 0, f"{name}: " + "\n".join(line for line in run.stdout.splitlines() if "FAIL" in line)


@pytest.mark.parametrize("name", policy_names())
def test_unreached_lists_give_a_reason_for_each_rule(name):
    expected = reach.expectation(policies()[name].path)
    ids = {rule.id for rule in policies()[name].rules}
    assert set(expected.unreached) <= ids, sorted(set(expected.unreached) - ids)
    assert 0 < expected.min_share <= 1
