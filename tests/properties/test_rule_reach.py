"""The strategies are not vacuous: for every bundled policy (discovered in policies/), one seeded
Hypothesis run of that policy's generated record sets drives its rules to each of their outcome sides
(policyengine.testing.reach). What a policy leaves unreached, each side with its reason, and its
threshold (rules reached on every side / encoded rules) are data beside its tests:
policies/tests/<policy>/scenarios.yaml `reach:`. Each policy runs in a fresh interpreter, seeded, with derandomize=False, so it
draws the same examples in a checkout, an installed wheel and under CI=1.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

import policyengine
from policyengine import resources
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


# One reach run in a fresh interpreter: the sides reached per rule and a digest of every record set drawn.
_DRAW = """
import hashlib, json, sys
from policyengine.engine import load_policy
from policyengine.testing import reach, strategies
policy, digest = load_policy(sys.argv[1]), hashlib.sha256()
def seen(raw):
    digest.update(json.dumps(raw, sort_keys=True, default=str).encode())
    return raw
reached = reach.drive(policy, strategies.record_sets(policy=policy.path).map(seen), int(sys.argv[2]))
print(json.dumps({"policyengine": strategies.__file__, "digest": digest.hexdigest(),
                  "reached": {rule: sorted(sides) for rule, sides in sorted(reached.items())}}))
"""


def _package_copy(root: Path) -> Path:
    """This policyengine's code copied under `root` (the data folders linked), for PYTHONPATH."""
    data = ("grammar", "policies", "sources", "examples")
    package = root / "policyengine"
    shutil.copytree(Path(policyengine.__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__", *data))
    for name in data:
        with contextlib.suppress(FileNotFoundError):
            (package / name).symlink_to(resources._data_dir(name), target_is_directory=True)
    return root


def test_reach_draws_the_same_installed_and_in_a_checkout(tmp_path):
    # The same code as a checkout's src/ and as an installed package's site-packages/, each run from its own
    # directory under its own hash seed: Hypothesis reads constants from the source of modules outside
    # site-packages, so the two drew different record sets (linzi: 10/30 rules in a checkout, 9/30 from the wheel).
    name, runs = policy_names()[0], []
    for where, hash_seed in (("checkout/src", "1"), ("venv/lib/site-packages", "2")):
        cwd = tmp_path / f"cwd{hash_seed}"
        cwd.mkdir()
        env = {**os.environ, "PYTHONPATH": str(_package_copy(tmp_path / where)), "PYTHONHASHSEED": hash_seed}
        run = subprocess.run([sys.executable, "-c", _DRAW, name, "30"], capture_output=True, text=True,
                             cwd=cwd, env=env, timeout=600)
        assert run.returncode == 0, run.stderr
        runs.append(json.loads(run.stdout.splitlines()[-1]))
    assert [Path(r["policyengine"]).parent.parent.parent for r in runs] == [tmp_path / "checkout/src",
                                                                          tmp_path / "venv/lib/site-packages"]
    assert runs[0]["reached"] == runs[1]["reached"]
    assert runs[0]["digest"] == runs[1]["digest"]
