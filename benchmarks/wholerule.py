"""Whole-rule workload (issue 19): four Ruian rules, the engine against hand-written Decimal Python.

The hand-written code is what a careful programmer would write for the same four rules of
policies/ruian.yaml, over the same loaded records: the subject and period loops, the outcome table
of docs/language.md §3 (when → not_applicable with the first unmet condition; an open period →
not_applicable; a failed requirement → violation with the failed conditions; an amount 0.00 when the
paying condition fails), and the values each finding reports. It returns, per finding, the tuple
(rule, subject, period, outcome, amount, values) — values as the engine's rows carry them (plain:
Decimal as str; the parameters are in the report's rule table) — and the run checks both sides
equal. Only the policy's default reading is written (the parameters it reads are checked).

    ruian.formation.fusion.size_1_plus_1to2          community
    ruian.annex1.co_build.reporting_meeting_system   community × semester
    ruian.reward.z_score_graduating_class            unit × calendar year (amount)
    ruian.personnel.co_build.exchange_10pct          community × school year
"""

from __future__ import annotations

import datetime as dt
import decimal
import gc
import math
import time
from decimal import Decimal
from typing import Any, Callable

from policyengine import runtime
from policyengine.evaluator import _periods

RULES = ("ruian.formation.fusion.size_1_plus_1to2", "ruian.annex1.co_build.reporting_meeting_system",
         "ruian.reward.z_score_graduating_class", "ruian.personnel.co_build.exchange_10pct")
MEMBER_ROLES = ("partner", "member", "branch", "campus")
NOT_IN_SCOPE = "不适用 / outside the rule's scope (when)"
NOT_PAID = "支付条件未满足 / paying condition not met (pays_when)"
FEN = Decimal("0.01")
LEAD_ROLES = ("lead", "core", "head")
MEETINGS = ("count(a for a in community.activities where annex1_counted(a, ['regular_meeting'], period) "
            "and by_lead(a)) >= min_regular_meetings")
DEFAULTS = {"annex1_frequency": "none", "exchange_denominator": "aggregate", "exchange_count_mode": "flow", "exchange_directions": "both"}


def _open(period: runtime.Period) -> str:
    return f"期间未结束 / period open until {period.end.isoformat()}"


def _absent(what: str) -> str:
    return f"缺少数据 / data absent: {what}"


def _in_force(k: Any, d: dt.date) -> bool:
    return (k.joined_on is None or k.joined_on <= d) and (k.left_on is None or k.left_on > d)


def _exists_on(c: Any, d: dt.date) -> bool:
    return (c.established_on is None or c.established_on <= d) and (c.dissolved_on is None or c.dissolved_on > d)


def _in_force_throughout(k: Any, p: runtime.Period) -> bool:
    return (k.joined_on is None or k.joined_on <= p.start) and (k.left_on is None or k.left_on > p.end)


def _holds(c: Any, uid: str, roles: tuple, d: dt.date) -> bool:
    return any(k.unit_id == uid and k.role in roles and _in_force(k, d) for k in c.units)


def _core_to_member(c: Any, f: str, t: str, d: dt.date) -> bool:
    return _exists_on(c, d) and _holds(c, f, LEAD_ROLES, d) and _holds(c, t, MEMBER_ROLES, d)


def _exists_throughout(c: Any, p: runtime.Period) -> bool:
    return (c.established_on is None or c.established_on <= p.start) and (c.dissolved_on is None or c.dissolved_on > p.end)


class HandWritten:
    def __init__(self, policy: Any, as_of: dt.date):
        parameters = policy.parameters
        for name, value in DEFAULTS.items():
            if parameters[name] != value:
                raise ValueError(f"hand-written rules follow the default reading: {name} = {value!r}")
        self.as_of = as_of
        self.window = (policy.effective_from, policy.effective_to)
        self.min_campuses = parameters["fusion_min_campuses"]
        self.max_campuses = parameters["fusion_max_campuses"]
        self.min_meetings = parameters["min_regular_meetings"]
        self.threshold = parameters["z_rise_threshold"]
        self.reward = parameters["reward_per_graduating_class"]
        self.ratio = parameters["exchange_ratio"]
        self.exchange_kinds = tuple(parameters["exchange_kinds"])
        self.quota = policy.rule(RULES[3]).require[0][0]  # an unnamed condition is named by its text

    def run(self, records: Any) -> list[tuple]:
        out: list[tuple] = []
        with decimal.localcontext(runtime.DECIMAL_CONTEXT):
            self.fusion_size(records, out)
            self.meetings(records, out)
            self.z_reward(records, out)
            self.exchange_quota(records, out)
        return out

    # ruian.formation.fusion.size_1_plus_1to2 ------------------------------------------------------
    def fusion_size(self, records: Any, out: list) -> None:
        rule, as_of = RULES[0], self.as_of
        for c in records.communities:
            cores = campuses = 0
            for k in c.units:
                if k.role in LEAD_ROLES and _in_force(k, as_of):
                    cores += 1
                elif k.role in MEMBER_ROLES and _in_force(k, as_of):
                    campuses += 1
            measured = (("cores", cores), ("campuses", campuses))
            unmet = "model" if c.model_type != "fusion" else "exists_on_as_of" if not _exists_on(c, as_of) else None
            if unmet is not None:
                out.append((rule, c.community_id, None, "not_applicable", None,
                            (("reason", NOT_IN_SCOPE), ("unmet", (unmet,))) + measured))
                continue
            failed = tuple(name for name, ok in (("one_core", cores == 1), (
                "one_or_two_campuses", self.min_campuses <= campuses <= self.max_campuses)) if not ok)
            if failed:
                out.append((rule, c.community_id, None, "violation", None, (("failed", failed),) + measured))
            else:
                out.append((rule, c.community_id, None, "pass", None, measured))

    # ruian.annex1.co_build.reporting_meeting_system -----------------------------------------------
    def meetings(self, records: Any, out: list) -> None:
        rule, as_of = RULES[1], self.as_of
        periods = _periods("semester", self.window, as_of)
        for c in records.communities:
            co_build = c.model_type == "co_build"
            # regular meetings organised by a lead in force on the meeting's day (counted by each semester's end)
            led = [a.date for a in c.activities if a.kind == "regular_meeting" and a.organizer_unit_id is not None
                   and any(k.unit_id == a.organizer_unit_id and k.role in LEAD_ROLES and _in_force(k, a.date)
                           for k in c.units)]
            for p in periods:
                held = sum(1 for d in led if d <= p.end)
                measured = (("core_led_meetings", held),)
                if not co_build:
                    out.append((rule, c.community_id, p.label, "not_applicable", None,
                                (("reason", NOT_IN_SCOPE), ("unmet", ("model",))) + measured))
                elif not _exists_throughout(c, p):
                    out.append((rule, c.community_id, p.label, "not_applicable", None,
                                (("reason", NOT_IN_SCOPE), ("unmet", ("community_exists_throughout_period",)))
                                + measured))
                elif p.end > as_of:
                    out.append((rule, c.community_id, p.label, "not_applicable", None, (("reason", _open(p)),) + measured))
                elif held >= self.min_meetings:
                    out.append((rule, c.community_id, p.label, "pass", None, measured))
                else:
                    out.append((rule, c.community_id, p.label, "violation", None, (("failed", (MEETINGS,)),) + measured))

    # ruian.reward.z_score_graduating_class -------------------------------------------------------
    def z_reward(self, records: Any, out: list) -> None:
        rule, as_of = RULES[2], self.as_of
        periods = _periods("calendar_year", self.window, as_of)
        for u in records.units:
            z_by_year: dict[int, Decimal] = {}
            for q in u.quality_scores:
                if q.z_value is not None:
                    z_by_year.setdefault(q.year, q.z_value)
            for p in periods:
                year = p.year
                z, z_prev = z_by_year.get(year), z_by_year.get(year - 1)
                measured: tuple = ()
                absent = []
                if z is not None:
                    measured += (("z", str(z)),)
                else:
                    absent.append("z: first(…)")
                if z_prev is not None:
                    measured += (("z_previous", str(z_prev)),)
                else:
                    absent.append("z_previous: first(…)")
                if z is not None and z_prev is not None:
                    measured += (("z_rise", str(z - z_prev)),)
                else:
                    absent.append("z_rise: first(…)")
                if absent:
                    measured += (("absent", tuple(absent)),)
                unmet = None
                if not any(k.role in MEMBER_ROLES and _in_force(k, p.end) and _exists_on(k.community, p.end)
                           for k in u.memberships):
                    unmet = "member_school"
                elif z is None:
                    unmet = "z_this_year"
                elif z_prev is None:
                    unmet = "z_previous_year"
                if unmet is not None:
                    out.append((rule, u.unit_id, p.label, "not_applicable", None,
                                (("reason", NOT_IN_SCOPE), ("unmet", (unmet,))) + measured))
                elif p.end > as_of:
                    out.append((rule, u.unit_id, p.label, "not_applicable", None, (("reason", _open(p)),) + measured))
                elif z - z_prev < self.threshold:
                    out.append((rule, u.unit_id, p.label, "amount", Decimal("0.00"), (("reason", NOT_PAID),) + measured))
                elif year not in u.graduating_class_count:
                    out.append((rule, u.unit_id, p.label, "not_applicable", None,
                                (("reason", _absent(f"unit.graduating_class_count[{year}]")),) + measured))
                else:
                    amount = self.reward * u.graduating_class_count[year]
                    out.append((rule, u.unit_id, p.label, "amount", amount.quantize(FEN), measured))

    # ruian.personnel.co_build.exchange_10pct -----------------------------------------------------
    def exchange_quota(self, records: Any, out: list) -> None:
        rule, as_of, quota = RULES[3], self.as_of, self.quota
        periods = _periods("school_year", self.window, as_of)
        for c in records.communities:
            exchanges = [ta for ta in c.assignments if ta.kind in self.exchange_kinds and (
                _core_to_member(c, ta.from_unit_id, ta.to_unit_id, ta.start_date)
                or _core_to_member(c, ta.to_unit_id, ta.from_unit_id, ta.start_date))]
            co_build = c.model_type == "co_build"
            for p in periods:
                people = {ta.person_id for ta in exchanges if p.start <= ta.start_date <= p.end}
                members = [k for k in c.units if k.role in MEMBER_ROLES and _in_force_throughout(k, p)]
                teachers, missing = 0, None
                for k in members:
                    counts = k.unit.in_service_teacher_count
                    if p.year not in counts:
                        missing = f"unit.in_service_teacher_count[{p.year}]"
                        break
                    teachers += counts[p.year]
                if missing is None:
                    required = math.ceil(self.ratio * teachers)
                    measured = (("exchanged_teachers", len(people)), ("member_in_service_teachers", teachers),
                                ("required_aggregate", required))
                else:
                    measured = (("exchanged_teachers", len(people)),
                                ("absent", (f"member_in_service_teachers: {missing}", f"required_aggregate: {missing}")))
                unmet = ("model" if not co_build else "community_exists_throughout_period"
                         if not _exists_throughout(c, p) else "members_throughout_period" if not members else None)
                if unmet is not None:
                    out.append((rule, c.community_id, p.label, "not_applicable", None,
                                (("reason", NOT_IN_SCOPE), ("unmet", (unmet,))) + measured))
                elif p.end > as_of:
                    out.append((rule, c.community_id, p.label, "not_applicable", None, (("reason", _open(p)),) + measured))
                elif missing is not None:
                    out.append((rule, c.community_id, p.label, "not_applicable", None,
                                (("reason", _absent(missing)),) + measured))
                elif len(people) >= required:
                    out.append((rule, c.community_id, p.label, "pass", None, measured))
                else:
                    out.append((rule, c.community_id, p.label, "violation", None, (("failed", (quota,)),) + measured))


def engine_tuples(policy: Any, records: Any, as_of: dt.date) -> list[tuple]:
    report = policy.evaluate(records, as_of, rules=list(RULES))
    return [(r[0], r[1], r[4], r[5], r[6], r[8]) for r in report.rows]


def _best(function: Callable[[], Any], repeat: int) -> tuple[Any, float]:
    best, result = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        start = time.process_time()
        result = function()
        best = min(best, time.process_time() - start)
    return result, best


def run(policy: Any, records: Any, as_of: dt.date, repeat: int = 3) -> dict:
    """Both sides, interleaved, best CPU time of `repeat`; the tuples checked equal."""
    hand = HandWritten(policy, as_of)
    # timed: the evaluation and its rows (the findings); the tuples are taken from the rows afterwards
    report, engine_s = _best(lambda: policy.evaluate(records, as_of, rules=list(RULES)), repeat)
    engine_out = [(r[0], r[1], r[4], r[5], r[6], r[8]) for r in report.rows]
    hand_out, hand_s = _best(lambda: hand.run(records), repeat)
    engine_sorted, hand_sorted = sorted(engine_out, key=repr), sorted(hand_out, key=repr)
    disagreements = [(e, h) for e, h in zip(engine_sorted, hand_sorted) if e != h]
    per_rule = {}
    for rule in RULES:
        e_rule, e_s = _best(lambda: policy.evaluate(records, as_of, rules=[rule]).rows, repeat)
        method = {RULES[0]: hand.fusion_size, RULES[1]: hand.meetings, RULES[2]: hand.z_reward,
                  RULES[3]: hand.exchange_quota}[rule]

        def one() -> list:
            out: list = []
            with decimal.localcontext(runtime.DECIMAL_CONTEXT):
                method(records, out)
            return out

        _, h_s = _best(one, repeat)
        per_rule[rule] = {"findings": len(e_rule), "engine_s": e_s, "hand_s": h_s, "ratio": e_s / h_s if h_s else None}
    return {"findings": len(engine_out), "engine_s": engine_s, "hand_s": hand_s, "ratio": engine_s / hand_s,
            "equal": len(engine_out) == len(hand_out) and not disagreements,
            "disagreements": len(disagreements) + abs(len(engine_out) - len(hand_out)),
            "disagreement_example": repr(disagreements[0])[:600] if disagreements else None,
            "per_rule": per_rule}
