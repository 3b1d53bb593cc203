"""all()/any() over items judge each item on its own: the result never depends on the order of the
items (issue 21.4). A false item decides all() even when another item lacks data, a true item decides
any(); only when none decides does the absence count (the finding is not_applicable)."""

from __future__ import annotations

import datetime as dt

import pytest

from policyengine import load_policy, load_records

POLICY = """\
format: policyengine/1
jurisdiction: {{id: probe, name: 探针}}
title: t
source: {{file: x.txt}}
rules:
  - id: probe.units.all_rural
    kind: requirement
    strength: hard
    subject: community
    require: "{function}(m.unit.urbanity == 'rural' for m in community.units)"
    citation: {{file: x.txt, section: s, quote: q}}
    message: {{zh: z, en: e}}
"""


def _outcome(tmp_path, function: str, urbanities: list) -> str:
    path = tmp_path / "p.yaml"
    path.write_text(POLICY.format(function=function), encoding="utf-8")
    units = [{"unit_id": f"u{i}", "name": f"u{i}", **({"urbanity": u} if u else {})} for i, u in enumerate(urbanities)]
    records = {"units": units, "communities": [{"community_id": "c", "name": "c", "units": [
        {"unit_id": u["unit_id"], "role": "member"} for u in units]}]}
    [finding] = load_policy(path).evaluate(load_records(records), dt.date(2024, 9, 1)).findings
    return finding.outcome


@pytest.mark.parametrize("urbanities", [[None, "urban"], ["urban", None]])
def test_a_false_item_decides_all_whatever_the_order(tmp_path, urbanities):
    assert _outcome(tmp_path, "all", urbanities) == "violation"


@pytest.mark.parametrize("urbanities", [[None, "rural"], ["rural", None]])
def test_all_with_no_false_item_and_one_absent_is_undecided(tmp_path, urbanities):
    assert _outcome(tmp_path, "all", urbanities) == "not_applicable"


@pytest.mark.parametrize("urbanities", [[None, "rural"], ["rural", None]])
def test_a_true_item_decides_any_whatever_the_order(tmp_path, urbanities):
    assert _outcome(tmp_path, "any", urbanities) == "pass"


@pytest.mark.parametrize("urbanities", [[None, "urban"], ["urban", None]])
def test_any_with_no_true_item_and_one_absent_is_undecided(tmp_path, urbanities):
    assert _outcome(tmp_path, "any", urbanities) == "not_applicable"
