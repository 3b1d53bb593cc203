"""Metamorphic properties of the city policies' rules: change the records in one direction and the
finding may only move in one direction. Rule ids and thresholds are read from the policy files."""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal

from hypothesis import assume, given, strategies as st

from policyengine import load_records
from policyengine.testing import strategies as pst
from propcommon import policy

SMALL = pst.Sizes(communities=2, units=6, persons=4, assignments=6, activities=4, quality_scores=4, budgets=1,
                  expenses=1, fund_pools=1, assessments=1, reports=1, awards=1)
AS_OF = dt.date(2026, 3, 1)  # after every calendar year and school year the properties look at


def _in_scope(raw: dict, name: str) -> dict:
    """The records as the city's own: every community and unit in its jurisdiction (language.md §5.5), so
    that the subject a property follows has a finding at all."""
    raw = copy.deepcopy(raw)
    for record in (*raw.get("communities", ()), *raw.get("units", ())):
        record["city"] = policy(name).jurisdiction
    return raw


def _finding(report, rule, subject, period=None, community=None):
    found = [f for f in report.findings if f.rule == rule and f.subject == subject
             and (period is None or f.period == period) and (community is None or f.community == community)]
    assert len(found) <= 1, found
    return found[0] if found else None


# ---------------------------------------------------------------------- Ruian: Z gain → Z reward
Z_RULE = "ruian.reward.z_score_graduating_class"


@given(pst.record_sets(SMALL), st.sampled_from((2022, 2023, 2024)), st.decimals(-20, 80, places=2),
       st.sampled_from(("-1", "-0.01", "0", "0.01", "1")), st.sampled_from(("0.01", "0.5", "1", "threshold")),
       st.integers(0, 6))
def test_raising_a_members_z_gain_never_lowers_the_ruian_z_reward(raw, year, z_before, offset, raise_by, classes):
    ruian = policy("ruian")
    threshold = Decimal(ruian.parameters["z_rise_threshold"])
    raw = _in_scope(raw, "ruian")
    community = raw["communities"][0]
    unit = community["units"][0]["unit_id"]
    community["units"][0] = {"unit_id": unit, "role": "member"}  # a member school through the year,
    community.pop("established_on", None)  # of a community that exists through it (a membership is in
    community.pop("dissolved_on", None)    # force only while its community exists, docs/language.md §5.1)
    raw["units"][[u["unit_id"] for u in raw["units"]].index(unit)]["graduating_class_count"] = {year: classes}
    gain = threshold + Decimal(offset)
    scores = [s for s in raw.get("quality_scores", []) if s["unit_id"] != unit]
    scores += [{"unit_id": unit, "year": year - 1, "z_value": str(z_before)},
               {"unit_id": unit, "year": year, "z_value": str(z_before + gain)}]
    raised = copy.deepcopy(raw)
    raised["quality_scores"] = copy.deepcopy(scores)
    raised["quality_scores"][-1]["z_value"] = str(z_before + gain + (threshold if raise_by == "threshold" else Decimal(raise_by)))
    raw["quality_scores"] = scores
    before = _finding(ruian.evaluate(load_records(raw), AS_OF), Z_RULE, unit, str(year))
    after = _finding(ruian.evaluate(load_records(raised), AS_OF), Z_RULE, unit, str(year))
    assert before is not None and after is not None
    assert before.outcome == after.outcome == "amount", (before, after)
    assert after.amount >= before.amount


# ---------------------------------------------------------------------- size caps: adding a unit
CAP_RULES = {"liuzhou": "liuzhou.formation.max_units_6", "suixian": "suixian.formation.fusion_b2.max_5_schools"}
FAILED = ("violation", "warning")


@given(pst.record_sets(SMALL), st.sampled_from(sorted(CAP_RULES)), st.integers(1, 3), st.booleans())
def test_adding_a_unit_never_turns_a_size_cap_violation_into_a_pass(raw, name, added, in_scope):
    city = policy(name)
    rule = CAP_RULES[name]
    raw = _in_scope(raw, name)
    community = raw["communities"][0]
    if in_scope:  # make the community one the cap applies to (suixian: a batch-2 fusion community)
        community.update({"model_type": "fusion", "batch": 2, "members_enumerated": True})
    grown = copy.deepcopy(raw)
    for i in range(added):
        grown["units"].append({"unit_id": f"new{i}", "name": f"新学校{i}"})
        grown["communities"][0]["units"].append({"unit_id": f"new{i}", "role": "member"})
    before = _finding(city.evaluate(load_records(raw), AS_OF), rule, community["community_id"])
    after = _finding(city.evaluate(load_records(grown), AS_OF), rule, community["community_id"])
    if before is not None and before.outcome in FAILED:
        assert after.outcome in FAILED, (before, after)


# ---------------------------------------------------------------------- Suixian: pool settlement
SETTLEMENT = "suixian.funding.co_build.year_end_settlement"


@given(pst.record_sets(SMALL), st.sampled_from((2023, 2024, 2025)),
       st.lists(st.decimals(0, 100000, places=2), min_size=1, max_size=6), st.decimals(0, 300000, places=2))
def test_suixian_contributions_equal_spending_plus_settlements_to_the_fen(raw, year, contributions, spent):
    suixian = policy("suixian")
    raw = _in_scope(raw, "suixian")
    community = raw["communities"][0]
    community.update({"model_type": "co_build"})
    members = [m["unit_id"] for m in community["units"]]
    paid = {u: str(c) for u, c in zip(members, contributions)}
    total = sum((Decimal(v) for v in paid.values()), Decimal(0))
    assume(total > 0)
    raw["fund_pools"] = [{"fund_pool_id": "pool", "community_id": community["community_id"], "year": year,
                          "contributions": paid, "actual_spend_yuan": str(spent)}]
    report = suixian.evaluate(load_records(raw), AS_OF)
    settled = [_finding(report, SETTLEMENT, u, str(year), community["community_id"]) for u in paid]
    assert all(f is not None and f.outcome == "amount" for f in settled), settled
    assert Decimal(spent) + sum(f.amount for f in settled) == total
    assert all(f.amount == f.amount.quantize(Decimal("0.01")) for f in settled)


# ---------------------------------------------------------------------- Ruian: exchange quota
QUOTA = "ruian.personnel.co_build.exchange_10pct"


@given(pst.record_sets(SMALL), st.integers(1, 40), st.data())
def test_ruian_exchange_quota_is_monotone_in_the_number_of_teachers(raw, more, data):
    ruian = policy("ruian")
    raw = _in_scope(raw, "ruian")
    community = raw["communities"][0]
    community.update({"model_type": "co_build"})
    members = [m for m in community["units"] if m["role"] in ("member", "campus")]
    assume(members)
    unit_id = data.draw(st.sampled_from([m["unit_id"] for m in members]))
    grown = copy.deepcopy(raw)
    unit = grown["units"][[u["unit_id"] for u in grown["units"]].index(unit_id)]
    counts = unit.get("in_service_teacher_count") or {}
    unit["in_service_teacher_count"] = {y: n + more for y, n in counts.items()}
    before = ruian.evaluate(load_records(raw), AS_OF)
    after = ruian.evaluate(load_records(grown), AS_OF)
    rank = {"violation": 0, "warning": 0, "pass": 1}
    for old in before.select(rule=QUOTA, subject=community["community_id"]):
        new = _finding(after, QUOTA, old.subject, old.period)
        if old.outcome in rank and new.outcome in rank:
            assert rank[new.outcome] <= rank[old.outcome], (old, new)
