"""A seeded synthetic province in the record format (src/policyengine/schema/records.yaml).

`generate(communities=1000, ...)` returns a mapping of collections (`communities`, `units`, `persons`,
`assignments`, `activities`, `quality_scores`, `budgets`, `expenses`) that `policyengine.load_records`
accepts. The same seed and sizes give the same province, byte for byte. Numbers are Decimal or int
(never float): Z values have one decimal, and a share of them rise by exactly 5.0 from one year to the
next with values such as 64.1 → 59.1 where binary float subtraction gives 4.999999999999993.

    python benchmarks/province.py --communities 100 --out /tmp/province.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
from decimal import Decimal
from typing import Any

YEARS = (2021, 2022, 2023, 2024)
MODEL_TYPES = (("fusion", 3), ("co_build", 4), ("collaborative", 2), ("tight", 1))
ROLE_SCHEMES = (("lead", "partner"), ("core", "member"), ("core", "campus"), ("head", "branch"))
STAGES = ("primary", "junior", "nine_year", "senior")
URBANITY = ("urban", "town", "rural")
ASSIGNMENT_KINDS = ("exchange", "support_teaching", "rotation", "shadowing", "itinerant")
ACTIVITY_KINDS = ("regular_meeting", "co_research", "send_teaching", "joint_quality_test", "training",
                  "sync_class", "online_research", "open_day")
TITLES = ("none", "junior", "intermediate", "senior", "full_senior")
# pairs (z_prev, z) one decimal apart by exactly 5.0 whose float difference is below 5
FLOAT_TRAPS = [(Decimal(a) / 10 - 5, Decimal(a) / 10) for a in range(641, 690, 5)]


def generate(communities: int = 1000, *, units_per_community: tuple[int, int] = (2, 6),
             persons_per_unit: int = 2, assignments_per_community: int = 2, activities_per_community: int = 3,
             expenses_per_community: int = 2, score_years: tuple[int, ...] = YEARS,
             city: str | tuple[str, ...] = "ruian", seed: int = 20210901) -> dict[str, list[dict[str, Any]]]:
    """A province of `communities` communities with their units, persons, assignments, activities,
    quality scores (one per unit and year, some missing) and expenses. `city`: one city code, or
    several, given to the communities in turn (a province of several cities)."""
    rng = random.Random(seed)
    cities = (city,) if isinstance(city, str) else tuple(city)
    out: dict[str, list[dict[str, Any]]] = {k: [] for k in (
        "communities", "units", "persons", "assignments", "activities", "quality_scores", "budgets", "expenses")}
    weights = [w for _, w in MODEL_TYPES]
    for c in range(communities):
        cid = f"c{c:06d}"
        city_ = cities[c % len(cities)]
        model = rng.choices([m for m, _ in MODEL_TYPES], weights)[0]
        head_role, member_role = ROLE_SCHEMES[rng.randrange(len(ROLE_SCHEMES))]
        # 1–3 members for fusion (so that "1 to 2 members" fails sometimes), otherwise 1–7 units in all
        n_units = rng.randint(2, 4) if model == "fusion" else rng.randint(*units_per_community) + (rng.random() < 0.1)
        established = dt.date(2021, 9, 1) + dt.timedelta(days=rng.randrange(0, 500))
        memberships, unit_ids = [], []
        for u in range(n_units):
            uid = f"{cid}-u{u}"
            unit_ids.append(uid)
            memberships.append({"unit_id": uid, "role": head_role if u == 0 else member_role,
                                "joined_on": established})
            out["units"].append(_unit(rng, uid, city_, u == 0, score_years))
            for p in range(persons_per_unit):
                out["persons"].append(_person(rng, f"{uid}-p{p}", uid))
            _scores(rng, out["quality_scores"], uid, score_years)
        community = {
            "community_id": cid, "city": city_, "name": f"第{c + 1}教共体", "model_type": model,
            "tier": rng.choice(("intra_county", "district_county_school")), "batch": rng.randint(1, 3),
            "stage": rng.choice(STAGES), "town": f"town-{c % 97}", "established_on": established,
            "units": memberships, "charter_exists": rng.random() < 0.8,
            "development_plan_exists": rng.random() < 0.7, "research_plan_exists": rng.random() < 0.7,
            "expansion_consultation_record": rng.random() < 0.2,
            "head_person_id": f"{unit_ids[0]}-p0" if persons_per_unit else None,
            "annual_work_plans": [{"school_year": y, "adopted_on": dt.date(y, 9, rng.randint(1, 30))}
                                  for y in score_years[:-1] if rng.random() < 0.8],
        }
        if community["head_person_id"] is None:
            del community["head_person_id"]
        out["communities"].append(community)
        for a in range(assignments_per_community if persons_per_unit else 0):
            source, target = unit_ids[0], unit_ids[rng.randrange(1, n_units)]
            if rng.random() < 0.3:
                source, target = target, source
            start = dt.date(rng.choice(score_years[:-1]), 9, 1)
            assignment = {"assignment_id": f"{cid}-a{a}", "person_id": f"{source}-p{rng.randrange(persons_per_unit)}",
                          "community_id": cid, "from_unit_id": source, "to_unit_id": target,
                          "kind": rng.choice(ASSIGNMENT_KINDS), "start_date": start,
                          "establishment_transferred": rng.random() < 0.5, "paperwork_done": rng.random() < 0.8}
            if rng.random() < 0.7:
                assignment["end_date"] = dt.date(start.year + rng.randint(1, 3), 7, 15)
            out["assignments"].append(assignment)
        for a in range(activities_per_community):
            out["activities"].append({
                "activity_id": f"{cid}-act{a}", "community_id": cid, "kind": rng.choice(ACTIVITY_KINDS),
                "date": established + dt.timedelta(days=rng.randrange(0, 900)), "organizer_unit_id": unit_ids[0],
                "participant_unit_ids": rng.sample(unit_ids, rng.randint(1, n_units)),
                "days": Decimal(rng.randint(1, 6)) / 2})
        for e in range(expenses_per_community):
            out["expenses"].append({
                "expense_id": f"{cid}-e{e}", "unit_id": rng.choice(unit_ids), "community_id": cid,
                "amount_yuan": Decimal(rng.randint(100, 5_000_000)) / 100, "category": rng.choice(("training", "equipment", "travel")),
                "date": dt.date(rng.choice(score_years), rng.randint(1, 12), rng.randint(1, 28)),
                "is_large_activity": rng.random() < 0.1, "from_pool": rng.random() < 0.3})
    for city_ in cities:
        for y in score_years:
            out["budgets"].append({"budget_id": f"{city_}-b{y}", "jurisdiction": city_, "year": y,
                                   "amount_yuan": Decimal(rng.randint(10_000_000, 90_000_000))})
    return out


def _unit(rng: random.Random, uid: str, city: str, head: bool, years: tuple[int, ...]) -> dict[str, Any]:
    teachers = rng.randint(15, 180)
    return {
        "unit_id": uid, "name": f"学校{uid}", "city": city, "county": f"county-{rng.randrange(6)}",
        "urbanity": "urban" if head else rng.choice(URBANITY), "stage": rng.choice(STAGES),
        "ownership": rng.choice(("county", "district", "town")), "is_quality": head, "is_weak": not head and rng.random() < 0.4,
        "legal_entity_id": uid if rng.random() < 0.8 else f"{uid}-le",
        "in_service_teacher_count": {y: teachers + rng.randint(-5, 5) for y in years},
        "graduating_class_count": {y: rng.randint(0, 8) for y in years},
        "public_funds_yuan": {y: Decimal(rng.randint(100_000, 9_000_000)) for y in years},
    }


def _person(rng: random.Random, pid: str, uid: str) -> dict[str, Any]:
    cadre = rng.random() < 0.2
    return {"person_id": pid, "home_unit_id": uid, "is_backbone": rng.random() < 0.3,
            "is_famous": rng.random() < 0.05, "is_cadre": cadre,
            "cadre_rank": rng.choice(("principal", "vice_principal", "middle")) if cadre else "none",
            "title": rng.choice(TITLES), "hired_on": dt.date(rng.randint(1990, 2023), 9, 1),
            "rural_experience_days": rng.choice((0, 0, 200, 365, 800))}


def _scores(rng: random.Random, out: list, uid: str, years: tuple[int, ...]) -> None:
    values = []
    z = Decimal(rng.randint(400, 800)) / 10
    for _ in years:
        values.append(z)
        z += Decimal(rng.randint(-30, 80)) / 10
    if len(values) >= 2 and rng.random() < 0.15:  # the last year rises by exactly 5.0: a float trap
        values[-2], values[-1] = rng.choice(FLOAT_TRAPS)
    for y, z in zip(years, values):
        if rng.random() >= 0.1:  # 10% of the years have no score recorded
            out.append({"unit_id": uid, "year": y, "z_value": z})


def counts(province: dict[str, list]) -> dict[str, int]:
    return {k: len(v) for k, v in province.items()}


def to_json(province: dict[str, list]) -> str:
    def default(value: Any) -> Any:
        if isinstance(value, (dt.date, Decimal)):
            return str(value)
        raise TypeError(repr(value))

    return json.dumps(province, ensure_ascii=False, default=default)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--communities", type=int, default=1000)
    parser.add_argument("--city", default="ruian", help="a city code, or several separated by commas")
    parser.add_argument("--seed", type=int, default=20210901)
    parser.add_argument("--out", help="write JSON here (default: print the counts)")
    args = parser.parse_args()
    province = generate(args.communities, city=tuple(args.city.split(",")), seed=args.seed)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(to_json(province))
    print(counts(province))
