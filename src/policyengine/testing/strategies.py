"""Hypothesis strategies for policyengine: record sets, broken records, evaluation dates and expressions.

Other services build property tests on policyengine with these, so they produce the *raw* record
format (collection name → list of plain dicts, dates and amounts as strings), exactly what
`load_records` takes from a YAML or JSON file:

    from hypothesis import given
    from policyengine import load_policy, load_records
    from policyengine.testing import strategies as pst

    @given(pst.record_sets(), pst.as_of_dates())
    def test_no_crash(raw, as_of):
        policy = load_policy("policies/my-city.yaml")
        policy.evaluate(policy.load_records(raw), as_of)

The generated records are valid and consistent (every reference resolves, a unit is a member of a
community at most once, joined_on < left_on, established_on < dissolved_on …) and deliberately
boundary-heavy: dates fall on or next to semester, school-year and calendar-year edges and the
policies' own due dates; numbers sit on and next to the thresholds the policies use (a Z gain of
exactly 5, six units, 30,000.00 yuan …). Strings such as towns, zones, cities and school names are
drawn from a `Vocabulary`, by default the string constants of the bundled policies (with `policy=`,
that policy's), so that a rule that names a town or a zone can be met.

`invalid_record_sets()` breaks exactly one field of a valid set and says which field and which
record error code the loader must report. `expressions()` generates syntactically valid policy
expressions from every construct of the grammar; `typed_expressions()` generates well-typed ones
over a small ad-hoc record type, for `compile_expression`.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
from decimal import Decimal
from typing import Any, Iterable, Mapping

import attrs
from hypothesis import strategies as st

from policyengine.recordschema import load_record_schema
from policyengine.testing import walk

__all__ = [
    "Vocabulary", "Sizes", "vocabulary", "record_sets", "invalid_record_sets", "as_of_dates", "dates",
    "amounts", "scenarios", "expressions", "typed_expressions", "typed_records", "TYPED_RECORD", "arbitrary_text", "Breakage",
]

YEARS = (2020, 2021, 2022, 2023, 2024, 2025)


# ------------------------------------------------------------------------------------ vocabulary


@attrs.frozen
class Vocabulary:
    """The strings, numbers, amounts and dates that records are drawn near."""

    strings: tuple[str, ...] = ()
    numbers: tuple[Decimal, ...] = ()
    amounts: tuple[Decimal, ...] = ()
    dates: tuple[dt.date, ...] = ()
    groups: tuple[tuple[str, ...], ...] = ()  # strings that belong together (one list parameter: towns, zones)
    jurisdictions: tuple[str, ...] = ()  # values of city / jurisdiction fields
    enum_lists: tuple[tuple[str, ...], ...] = ()  # lists of enum values the policies name

    def merged(self, other: "Vocabulary") -> "Vocabulary":
        return Vocabulary(_unique(self.strings + other.strings), _unique(self.numbers + other.numbers),
                          _unique(self.amounts + other.amounts), _unique(self.dates + other.dates),
                          tuple(dict.fromkeys(self.groups + other.groups)),
                          _unique(self.jurisdictions + other.jurisdictions),
                          tuple(dict.fromkeys(self.enum_lists + other.enum_lists)))


def _unique(items: Iterable[Any]) -> tuple:
    return tuple(sorted(set(items), key=lambda x: (str(type(x)), x)))


DEFAULT_VOCABULARY = Vocabulary(
    strings=("城区", "镇区", "乡村", "一中", "实验小学", "中心小学"),
    numbers=tuple(Decimal(x) for x in ("0", "1", "2", "3", "5", "6", "10", "20")),
    amounts=tuple(Decimal(x) for x in ("0.00", "10000.00", "30000.00", "100000.00")),
    dates=(dt.date(2021, 9, 1), dt.date(2021, 12, 31), dt.date(2022, 12, 31)),
    groups=(("城区", "镇区", "乡村"),),
    jurisdictions=("city",),
)


def _constants(value: Any, out: dict[str, set]) -> None:
    if isinstance(value, bool):
        return
    if isinstance(value, str):
        out["strings"].add(value)
    elif isinstance(value, (int, Decimal)):
        out["numbers"].add(Decimal(value))
    elif isinstance(value, dt.date):
        out["dates"].add(value)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _constants(item, out)


@functools.cache
def _policy_vocabulary(names: tuple[str, ...]) -> Vocabulary:
    from policyengine.engine import load_policy
    from policyengine.diagnostics import PolicyError

    out: dict[str, set] = {"strings": set(), "numbers": set(), "dates": set()}
    amounts: set[Decimal] = set()
    groups: list[tuple[str, ...]] = []
    enum_lists: list[tuple[str, ...]] = []
    jurisdictions: set[str] = set()
    schema = load_record_schema()
    enum_values = {v for enum in schema.enums.values() for v in enum.values}

    def plain_string(x: Any) -> bool:
        return isinstance(x, str) and x not in enum_values and bool(x.strip()) and len(x) <= 40

    for name in names:
        try:
            policy = load_policy(name)
        except (PolicyError, OSError):
            continue
        for key, value in policy.parameters.items():
            _constants(value, out)
            if isinstance(value, Decimal) and value >= 100:  # money parameters (yuan) and large counts
                amounts.add(value.quantize(Decimal("0.01")))
            items = tuple(x for x in (value if isinstance(value, (list, tuple)) else (value,)) if plain_string(x))
            enum_items = tuple(x for x in (value if isinstance(value, (list, tuple)) else (value,))
                               if isinstance(x, str) and x in enum_values)
            if enum_items:
                enum_lists.append(enum_items)
            if items:
                groups.append(items)
                if "city" in key or "jurisdiction" in key:
                    jurisdictions.update(items)
        jurisdictions.update({policy.jurisdiction, policy.jurisdiction_name})
        for literal in walk.literals(policy.path):  # the values the rules compare against
            if literal.kind == "string" and literal.value in enum_values:
                enum_lists.append((literal.value,))
            elif literal.kind == "number" and isinstance(literal.value, (int, Decimal)):
                out["numbers"].add(Decimal(literal.value))
            elif literal.kind == "money":
                amounts.add(Decimal(literal.value).quantize(Decimal("0.01")))
        for when in (policy.effective_from, policy.effective_to):
            if when is not None:
                out["dates"].add(when)
    strings = {s for s in out["strings"] | jurisdictions if plain_string(s)}
    return DEFAULT_VOCABULARY.merged(Vocabulary(tuple(strings), tuple(out["numbers"]), tuple(amounts),
                                                tuple(out["dates"]), tuple(groups), tuple(jurisdictions),
                                                tuple(enum_lists)))


def vocabulary(policies: Iterable[str] | None = None) -> Vocabulary:
    """The constants of the given policies (default: every bundled policy), plus a small default."""
    from policyengine import resources

    names = tuple(sorted(policies)) if policies is not None else tuple(resources.bundled_policy_names())
    return _policy_vocabulary(names)


# ------------------------------------------------------------------------------------------ sizes


@attrs.frozen
class Sizes:
    """Upper bounds of each collection (lower bounds are 0, except communities and units)."""

    communities: int = 3
    units: int = 8
    persons: int = 8
    assignments: int = 8
    activities: int = 14
    quality_scores: int = 8
    budgets: int = 3
    expenses: int = 4
    fund_pools: int = 2
    assessments: int = 5
    reports: int = 5
    awards: int = 3
    min_communities: int = 1
    min_units: int = 2
    scenarios: int = 4  # at most this many scenarios (coherent rule families) are mixed into a set
    rosters: bool = True  # now and then a jurisdiction-wide roster (dozens of communities) instead

    @classmethod
    def small(cls) -> "Sizes":
        return cls(2, 4, 3, 3, 4, 3, 1, 2, 1, 2, 2, 1, scenarios=1, rosters=False)


# ------------------------------------------------------------------------------------------ scalars


def _date_edges(vocab: Vocabulary, years: Iterable[int]) -> list[dt.date]:
    edges = set(vocab.dates)
    for y in years:
        edges.update({dt.date(y, 1, 1), dt.date(y, 1, 31), dt.date(y, 2, 1), dt.date(y, 3, 31),
                      dt.date(y, 4, 1), dt.date(y, 6, 1), dt.date(y, 8, 31), dt.date(y, 9, 1),
                      dt.date(y, 12, 31)})
    return sorted(edges)


def dates(vocab: Vocabulary | None = None, years: Iterable[int] = YEARS) -> st.SearchStrategy[dt.date]:
    """Dates on or one day either side of a period edge or a policy date, or anywhere in `years`."""
    years = tuple(years)
    edges = _date_edges(vocab or DEFAULT_VOCABULARY, years)
    near = st.tuples(st.sampled_from(edges), st.sampled_from((-1, 0, 0, 1))).map(
        lambda p: p[0] + dt.timedelta(days=p[1]))
    anywhere = st.dates(dt.date(min(years), 1, 1), dt.date(max(years), 12, 31))
    return st.one_of(near, near, anywhere)


def as_of_dates(vocab: Vocabulary | None = None) -> st.SearchStrategy[dt.date]:
    """Evaluation dates: mostly after some periods have closed, near period edges."""
    return dates(vocab, years=(2021, 2022, 2023, 2024, 2025, 2026))


def _near(values: Iterable[Decimal], steps: Iterable[str]) -> st.SearchStrategy[Decimal]:
    values = sorted(set(values))
    return st.tuples(st.sampled_from(values), st.sampled_from([Decimal(s) for s in steps])).map(
        lambda p: p[0] + p[1])


def amounts(vocab: Vocabulary | None = None) -> st.SearchStrategy[str]:
    """Money as a decimal string exact to the fen, near the policies' thresholds or anywhere."""
    vocab = vocab or DEFAULT_VOCABULARY
    near = _near(vocab.amounts or DEFAULT_VOCABULARY.amounts, ("-0.01", "0", "0", "0.01", "-1", "1"))
    anywhere = st.decimals(min_value=0, max_value=200000, places=2)
    return st.one_of(near, anywhere).map(lambda d: str(max(d, Decimal(0)).quantize(Decimal("0.01"))))


def _money(draw, vocab: Vocabulary) -> str:
    return draw(amounts(vocab))


def _small_int(draw, around: Iterable[int] = (0, 1, 2, 3, 5, 6, 10)) -> int:
    base = draw(st.sampled_from(sorted(set(around))))
    return max(0, base + draw(st.sampled_from((-1, 0, 0, 1))))


# ------------------------------------------------------------------------------------------ enums


def _enum(name: str) -> tuple[str, ...]:
    return load_record_schema().enums[name].values


def _pick(draw, name: str, weights: Mapping[str, int] | None = None) -> str:
    values = list(_enum(name))
    if weights:
        values = [v for v in values for _ in range(weights.get(v, 1))]
    return draw(st.sampled_from(values))


def _subset(draw, items: Iterable[Any], all_bias: bool = True) -> list:
    items = list(items)
    if not items:
        return []
    mode = draw(st.sampled_from(("all", "all", "some", "none") if all_bias else ("some", "some", "all", "none")))
    if mode == "all":
        return items
    if mode == "none":
        return []
    return [x for x in items if draw(st.booleans())]


def _maybe(draw, value: Any, p_absent: int = 3) -> Any:
    """The value, or None (absent) about once in `p_absent` draws."""
    return None if draw(st.integers(0, p_absent - 1)) == 0 else value


# ------------------------------------------------------------------------------------------ records


ROLE_PAIRS = (("lead", "partner"), ("core", "member"), ("core", "campus"), ("head", "branch"),
              ("core", "branch"), ("lead", "member"))


ROLE_PAIRS = (("lead", "partner"), ("lead", "partner"), ("core", "member"), ("core", "campus"),
              ("head", "branch"), ("core", "branch"), ("lead", "member"))


class _Draw:
    """Per-record-set drawing helpers. `tidy` (0–100) is how often a flag takes its compliant value and an
    optional field is present: 0 gives independent random data, high values give coherent, mostly
    compliant communities, so that count and conjunction thresholds are met as well as missed."""

    def __init__(self, draw, vocab: Vocabulary, years: tuple[int, ...], focus: int, tidy: int):
        self.draw, self.vocab, self.years, self.focus, self.tidy = draw, vocab, years, focus, tidy
        self.near_years = tuple(y for y in years if abs(y - focus) <= 1)
        self.date_strategy = dates(vocab, self.near_years)
        self.strings = st.sampled_from(vocab.strings or DEFAULT_VOCABULARY.strings)
        singles = [g[0] for g in vocab.groups if len(g) == 1] or list(DEFAULT_VOCABULARY.strings)
        self.singles = st.sampled_from(singles)
        groups = [g for g in vocab.groups if len(g) > 1] or list(DEFAULT_VOCABULARY.groups)
        self.places = draw(st.sampled_from(groups))
        self.jurisdiction = draw(st.sampled_from(vocab.jurisdictions or DEFAULT_VOCABULARY.jurisdictions))
        semesters = []
        for y in self.near_years:
            semesters += [(dt.date(y, 9, 1), dt.date(y + 1, 1, 31)), (dt.date(y, 2, 1), dt.date(y, 8, 31))]
        self.active = draw(st.lists(st.sampled_from(sorted(semesters)), min_size=1, max_size=2, unique=True))

    def chance(self, percent: int) -> bool:
        return self.draw(st.integers(0, 99)) < percent

    def good(self) -> bool:
        """A flag: its compliant value (True) `tidy` % of the time, else a coin toss."""
        return True if self.chance(self.tidy) else self.draw(st.booleans())

    def present(self) -> bool:
        return self.chance(max(self.tidy, 60))

    def date(self) -> dt.date:
        return self.draw(self.date_strategy)

    def iso(self) -> str:
        return self.date().isoformat()

    def busy_date(self) -> str:
        """A date inside one of the set's active semesters (where activities cluster) or near an edge."""
        if self.chance(60):
            start, end = self.draw(st.sampled_from(self.active))
            return (start + dt.timedelta(days=self.draw(st.integers(0, (end - start).days)))).isoformat()
        return self.iso()

    def year(self) -> int:
        return self.draw(st.sampled_from(self.near_years))

    def place(self) -> str:
        return self.draw(st.one_of(st.sampled_from(self.places), st.sampled_from(self.places), self.strings))

    def has_city(self) -> bool:
        """Whether a community or unit records its city: often not, since a record without city is in
        every policy's scope (language.md §5.5), and one set is judged by several policies."""
        return self.chance(35)

    def city(self) -> str:
        return self.jurisdiction if self.chance(max(self.tidy, 50)) else self.draw(
            st.sampled_from(self.vocab.jurisdictions or DEFAULT_VOCABULARY.jurisdictions))

    def enum(self, name: str, weights: Mapping[str, int] | None = None) -> str:
        groups = _enum_groups(self.vocab).get(name)
        if groups and self.chance(50):
            return self.draw(st.sampled_from(self.draw(st.sampled_from(groups))))
        return _pick(self.draw, name, weights)

    def enums(self, name: str, max_size: int = 3) -> list[str]:
        """A list of enum values: a policy's own list (exactly, or most of it), all values, or a few."""
        groups = tuple(x for x in _enum_groups(self.vocab).get(name, ()) if len(x) > 1)
        mode = self.draw(st.sampled_from(("group", "group", "all", "some", "none") if groups else
                                         ("all", "some", "some", "none")))
        if mode == "group":
            chosen = list(self.draw(st.sampled_from(groups)))
            return chosen if self.chance(max(self.tidy, 50)) else chosen[:-1]
        if mode == "all":
            return list(_enum(name))
        if mode == "none":
            return []
        return self.draw(st.lists(st.sampled_from(_enum(name)), max_size=max_size, unique=True))

    def subset(self, items: Iterable[Any]) -> list:
        items = list(items)
        if items and self.chance(self.tidy):
            return items
        return _subset(self.draw, items)

    def money(self) -> str:
        return self.draw(amounts(self.vocab))


@functools.cache
def _enum_groups(vocab: Vocabulary) -> Mapping[str, tuple[tuple[str, ...], ...]]:
    """Enum name → the lists of its values that the policies name (support roles, research kinds …)."""
    enums = load_record_schema().enums
    result: dict[str, list[tuple[str, ...]]] = {}
    for group in vocab.enum_lists:
        for name, enum in enums.items():
            if all(v in enum.values for v in group):
                result.setdefault(name, []).append(group)
    return {k: tuple(v) for k, v in result.items()}


@st.composite
def record_sets(draw, sizes: Sizes | None = None, vocab: Vocabulary | None = None,
                years: Iterable[int] = YEARS, policy: str | None = None) -> dict[str, list[dict]]:
    """A valid, consistent record set as a raw mapping (collection → list of dicts): generic records,
    into which up to `sizes.scenarios` scenarios are mixed about half of the time; with `sizes.rosters`,
    now and then a jurisdiction-wide roster alone. With `policy` (a bundled name or a policy file), the
    vocabulary and the scenarios are that policy's only, so that what one policy's run draws does not
    change when another policy is added."""
    sizes = sizes or Sizes()
    vocab = vocab if vocab is not None else vocabulary([policy] if policy is not None else None)
    years = tuple(years)
    n_scenarios = draw(st.integers(1, sizes.scenarios)) if sizes.scenarios and draw(st.integers(0, 3)) else 0
    focus = draw(st.sampled_from(years[1:-1] or years))  # most dated things cluster near this year
    g = _Draw(draw, vocab, years, focus, draw(st.sampled_from((0, 50, 80, 95))))

    n_units = draw(st.integers(sizes.min_units, max(sizes.min_units, sizes.units)))
    n_persons = draw(st.integers(0, sizes.persons))
    unit_ids = [f"u{i}" for i in range(n_units)]
    person_ids = [f"p{i}" for i in range(n_persons)]
    legal_entities = [f"le{i}" for i in range(max(1, n_units // 2 + 1))]

    def person_or_none() -> str | None:
        return draw(st.sampled_from(person_ids)) if person_ids and g.present() else None

    # units --------------------------------------------------------------------------------
    units = []
    for index, uid in enumerate(unit_ids):
        unit: dict[str, Any] = {"unit_id": uid, "name": draw(st.one_of(g.strings, g.singles, st.just(f"学校{uid}")))}
        if draw(st.booleans()):
            unit["aliases"] = draw(st.lists(g.strings, max_size=2))
        unit["kind"] = g.enum("unit_kind") if g.chance(30) else "school"
        if g.has_city():
            unit["city"] = g.city()
        for key in ("county", "town", "education_district", "zone"):
            if g.present():
                unit[key] = g.place()
        for key, enum in (("urbanity", "urbanity"), ("ownership", "ownership"), ("stage", "stage")):
            if g.present():
                unit[key] = g.enum(enum, {"primary": 3, "junior": 2, "public": 2})
        for key in ("is_quality", "is_weak", "is_central_school", "is_model_hs", "public",
                    "facilities_open_to_members", "group_branch_plaque"):
            if g.present():
                unit[key] = g.good() if key != "is_weak" else draw(st.booleans())
        if g.present():
            unit["legal_entity_id"] = draw(st.sampled_from(legal_entities)) if g.chance(50) else f"le-{uid}"
        for key in ("principal_person_id", "first_responsible_person_id", "party_branch_secretary_person_id"):
            if person_ids and g.present():
                same = key != "principal_person_id" and "principal_person_id" in unit and g.chance(g.tidy)
                unit[key] = unit["principal_person_id"] if same else (
                    person_ids[index % len(person_ids)] if g.chance(50) else draw(st.sampled_from(person_ids)))
        if g.present():
            unit["in_service_teacher_count"] = {y: _small_int(draw, (5, 10, 20, 30, 40)) for y in g.near_years
                                                if draw(st.booleans()) or y == focus}
        if g.present():
            unit["graduating_class_count"] = {y: _small_int(draw, (0, 1, 2, 4)) for y in g.near_years}
        if g.present():
            unit["public_funds_yuan"] = {y: g.money() for y in g.near_years if g.good()}
        if g.present():
            unit["finance_staff_count"] = _small_int(draw, (0, 1))
        if g.present():
            unit["name_before_joining"] = unit["name"] if g.good() else "旧校名"
        if draw(st.booleans()):
            unit["scarce_subjects"] = draw(st.lists(st.sampled_from(("音乐", "美术", "英语")), max_size=2,
                                                    unique=True))
        units.append(unit)
    unit_by_id = {u["unit_id"]: u for u in units}

    # persons --------------------------------------------------------------------------------
    persons = []
    for pid in person_ids:
        person: dict[str, Any] = {"person_id": pid, "home_unit_id": draw(st.sampled_from(unit_ids))}
        if draw(st.booleans()):
            person["name"] = f"教师{pid}"
        for key in ("is_full_time_teacher", "is_backbone", "is_famous", "is_cadre", "is_cpc_member",
                    "meets_senior_criteria", "meets_intermediate_criteria"):
            if g.present():
                person[key] = g.good()
        if g.present():
            person["cadre_rank"] = g.enum("cadre_rank")
        if draw(st.booleans()):
            person["title"] = g.enum("title")
        if draw(st.booleans()):
            person["establishment_unit_id"] = draw(st.sampled_from(unit_ids))
        if g.present():
            person["recruited_by_unit_id"] = person["home_unit_id"] if g.chance(50) else draw(st.sampled_from(unit_ids))
        if g.present():
            hired = g.date()
            person["hired_on"] = hired.isoformat()
            if g.present():
                person["service_period_end"] = (hired + dt.timedelta(days=draw(st.sampled_from((0, 365, 1095))))).isoformat()
        if g.present():
            person["campus_tenure_start"] = draw(st.sampled_from(
                (dt.date(2005, 9, 1), dt.date(2011, 9, 1), dt.date(2013, 9, 1), dt.date(2020, 9, 1)))).isoformat()
        if g.present():
            person["retirement_date"] = draw(st.sampled_from(
                (dt.date(2026, 8, 31), dt.date(2028, 9, 1), dt.date(2030, 9, 1), dt.date(2040, 9, 1)))).isoformat()
        if g.present():
            person["rural_experience_days"] = draw(st.sampled_from((0, 0, 100, 1094, 1095, 1096, 2000)))
        if draw(st.booleans()):
            person["subject_team_id"] = draw(st.sampled_from(("team-a", "team-b")))
        if g.present():
            person["teaching_load_hours_per_week"] = draw(st.sampled_from(("0", "0.5", "4", "12")))
        if draw(st.booleans()):
            person["home_roles"] = g.enums("destination_role")
        persons.append(person)
    person_by_id = {p["person_id"]: p for p in persons}

    # communities ------------------------------------------------------------------------------
    n_communities = draw(st.integers(sizes.min_communities, max(sizes.min_communities, sizes.communities)))
    communities = []
    community_units: dict[str, list[tuple[str, str]]] = {}
    for ci in range(n_communities):
        cid = f"c{ci}"
        lead_role, member_role = draw(st.sampled_from(ROLE_PAIRS))
        members = draw(st.lists(st.sampled_from(unit_ids), min_size=1, max_size=min(len(unit_ids), 7),
                                unique=True))
        n_leads = draw(st.sampled_from((1, 1, 1, 2, 0)))
        memberships = []
        for i, uid in enumerate(members):
            role = lead_role if i < n_leads else member_role
            if not g.chance(max(g.tidy, 85)):
                role = g.enum("role")
            membership: dict[str, Any] = {"unit_id": uid, "role": role}
            if g.chance(100 - max(g.tidy, 70)):
                joined = g.date()
                membership["joined_on"] = joined.isoformat()
                if draw(st.booleans()):
                    membership["left_on"] = (joined + dt.timedelta(days=draw(st.sampled_from((1, 180, 365, 1000))))).isoformat()
            memberships.append(membership)
        community_units[cid] = [(m["unit_id"], m["role"]) for m in memberships]
        principals = [unit_by_id[u].get("principal_person_id") for u in members]
        community: dict[str, Any] = {"community_id": cid, "name": f"教共体{ci}", "units": memberships}
        if g.chance(85):
            community["model_type"] = g.enum("model_type", {"fusion": 3, "co_build": 3, "collaborative": 2})
        if g.chance(25):
            community["legacy_model_type"] = g.enum("model_type")
        if g.present():
            community["tier"] = g.enum("tier")
        if g.has_city():
            community["city"] = g.city()
        if g.present():
            towns = [unit_by_id[u].get("town") for u in members]
            community["town"] = towns[0] if towns[0] and g.chance(50) else g.place()
        if g.present():
            community["batch"] = draw(st.sampled_from((1, 1, 2, 2, 3, 2021, 2022)))
        if g.present():
            stages = [unit_by_id[u].get("stage") for u in members]
            community["stage"] = stages[0] if stages[0] and g.chance(50) else g.enum("stage", {"primary": 3, "junior": 2})
        for key in ("pilot", "expansion_consultation_record", "charter_exists", "development_plan_exists",
                    "research_plan_exists", "management_system_exists", "assessment_system_exists",
                    "members_enumerated"):
            if g.present():
                community[key] = g.good() if key != "expansion_consultation_record" else draw(st.booleans())
        if g.chance(80):
            established = draw(st.sampled_from((dt.date(2020, 9, 1), dt.date(2021, 6, 1), dt.date(2021, 9, 1)))) \
                if g.chance(g.tidy) else g.date()
            community["established_on"] = established.isoformat()
            if g.chance(15):
                community["dissolved_on"] = (established + dt.timedelta(days=draw(st.sampled_from((1, 365, 800))))).isoformat()
        if draw(st.booleans()):
            community["plaque_name"] = _plaque(draw, memberships, unit_by_id, vocab)
        if g.chance(70):
            community["agreement"] = _agreement(draw, g, members)
        if draw(st.booleans()):
            community["exception_reason"] = "集体协商"
        if draw(st.booleans()):
            community["city_bureau_approved_on"] = g.iso()
        if g.present():
            community["lists"] = g.enums("community_list")
        if person_ids and g.present():
            community["board"] = _board(draw, g, members, memberships, unit_by_id, person_ids, persons)
        if g.present():
            community["party_org"] = _party_org(draw, g, members, unit_by_id, person_or_none)
        if g.present():
            head = principals[0] if principals[0] and g.chance(max(g.tidy, 50)) else person_or_none()
            if head is not None:
                community["head_person_id"] = head
        for key in ("annual_work_plans", "teacher_training_plans"):
            if g.present():
                community[key] = [{"school_year": y, "adopted_on": (dt.date(y, 9, 1) + dt.timedelta(
                    days=draw(st.sampled_from((-30, -1, 0, 1, 30))))).isoformat()}
                    for y in g.near_years if g.good()]
        if person_ids and g.present():
            pool = [p for p in principals if p]
            pool += [p["person_id"] for p in persons if p["home_unit_id"] in members and
                     p.get("cadre_rank") in ("vice_principal", "middle")]
            community["joint_meeting_member_person_ids"] = sorted(set(g.subset(pool)) | set(
                draw(st.lists(st.sampled_from(person_ids), max_size=1))))
        for key in ("board_established_on", "joint_meeting_established_on"):
            if g.present():
                community[key] = g.iso()
        if g.present():
            community["synchronized"] = g.enums("sync_item")
        communities.append(community)

    # assignments ------------------------------------------------------------------------------
    assignments = []
    flow_kinds = [g.enum("assignment_kind") for _ in range(2)]
    if person_ids:
        for i in range(draw(st.integers(0, sizes.assignments))):
            assignments.append(_assignment(draw, g, i, person_ids, person_by_id, unit_ids, community_units,
                                           flow_kinds))

    # activities ---------------------------------------------------------------------------------
    activities = []
    n_activities = draw(st.integers(0, sizes.activities))
    active_kinds = {cid: [g.enum("activity_kind") for _ in range(draw(st.sampled_from((1, 1, 2, 3))))]
                    for cid in community_units}
    for i in range(n_activities):
        cid = draw(st.sampled_from(sorted(community_units)))
        members = [u for u, _ in community_units[cid]]
        leads = [u for u, r in community_units[cid] if r in ("lead", "core", "head")] or members
        kind = draw(st.sampled_from(active_kinds[cid])) if g.chance(80) else g.enum("activity_kind")
        when = g.busy_date()
        if activities and g.chance(20):  # a follow-up of an earlier activity (a debrief after a class)
            earlier = draw(st.sampled_from(activities))
            cid, members = earlier["community_id"], [u for u, _ in community_units[earlier["community_id"]]]
            when = (dt.date.fromisoformat(earlier["date"]) + dt.timedelta(days=draw(st.sampled_from((0, 1, 7, 8))))).isoformat()
            kind = FOLLOW_UPS.get(earlier["kind"], kind)
        activity: dict[str, Any] = {"activity_id": f"a{i}", "community_id": cid, "kind": kind, "date": when}
        if g.present():
            activity["organizer_unit_id"] = draw(st.sampled_from(leads if g.chance(70) else unit_ids))
        if g.present():
            activity["participant_unit_ids"] = g.subset(members)
        if person_ids and g.present():
            activity["participant_person_ids"] = g.subset(person_ids)
        if draw(st.booleans()):
            activity["lessons"] = draw(st.sampled_from((1, 100, 200, 201)))
        if draw(st.booleans()):
            activity["days"] = draw(st.sampled_from((1, 10, 100, 200, "0.5")))
        if draw(st.booleans()):
            activity["hours"] = draw(st.sampled_from((1, 2, "1.5")))
        if g.present():
            activity["attended_by_liaison_leader"] = g.good()
        if g.present():
            activity["unified"] = g.enums("unified_item")
        if draw(st.booleans()):
            activity["subjects"] = draw(st.lists(st.sampled_from(("语文", "数学")), max_size=2, unique=True))
        activities.append(activity)

    # quality scores: consecutive years, gains on and around the thresholds ----------------------
    quality_scores = []
    gains = _near([n for n in vocab.numbers if 0 < n <= 20] or [Decimal(5)], ("-0.01", "0", "0", "0.01", "-1", "1"))
    scored = draw(st.lists(st.sampled_from(unit_ids), max_size=max(0, sizes.quality_scores // 2), unique=True))
    for uid in scored:  # one score per unit and year
        first_year = draw(st.sampled_from(g.near_years))
        z = draw(st.decimals(min_value=-20, max_value=80, places=2))
        for y in range(first_year, first_year + draw(st.integers(1, 3))):
            score: dict[str, Any] = {"unit_id": uid, "year": y}
            if g.chance(85):
                score["z_value"] = str(z)
            if draw(st.booleans()):
                score["quality_index"] = str(draw(st.decimals(min_value=0, max_value=100, places=1)))
            quality_scores.append(score)
            z = z + draw(st.one_of(gains, gains, gains.map(lambda x: -x)))

    # budgets, expenses, fund pools ---------------------------------------------------------------
    budgets = []
    for i in range(draw(st.integers(0, sizes.budgets))):
        budget: dict[str, Any] = {"budget_id": f"b{i}", "year": g.year(), "amount_yuan": g.money()}
        if g.present():
            budget["jurisdiction"] = g.city()
        scope = draw(st.sampled_from(("city", "community", "unit", "both")))
        if scope in ("community", "both"):
            budget["community_id"] = draw(st.sampled_from(sorted(community_units)))
        if scope in ("unit", "both"):
            cid = budget.get("community_id")
            budget["unit_id"] = draw(st.sampled_from([u for u, _ in community_units[cid]] if cid else unit_ids))
        if draw(st.booleans()):
            budget["purpose"] = draw(st.one_of(g.singles, g.strings))
        budgets.append(budget)

    expenses = []
    for i in range(draw(st.integers(0, sizes.expenses))):
        cid = draw(st.sampled_from(sorted(community_units)))
        expense: dict[str, Any] = {"expense_id": f"e{i}", "unit_id": draw(st.sampled_from(
            [u for u, _ in community_units[cid]])), "amount_yuan": g.money(), "date": g.busy_date()}
        if g.present():
            expense["community_id"] = cid
        if draw(st.booleans()):
            expense["procurement_id"] = draw(st.sampled_from(("proc-1", "proc-2")))
        if draw(st.booleans()):
            expense["category"] = "活动"
        for key in ("is_large_activity", "from_pool"):
            if draw(st.booleans()):
                expense[key] = draw(st.booleans())
        if g.present():
            spent = dt.date.fromisoformat(expense["date"])
            expense["approvals"] = [
                {"approver": g.enum("approver"),
                 "approved_on": (spent + dt.timedelta(days=draw(st.sampled_from((-10, -1, 0, 0, 1))))).isoformat()}
                for _ in range(draw(st.integers(1, 3)))]
        expenses.append(expense)

    fund_pools = []
    pool_keys = draw(st.lists(st.tuples(st.sampled_from(sorted(community_units)), st.sampled_from(g.near_years)),
                              max_size=sizes.fund_pools, unique=True))  # one pool per community and year
    for i, (cid, pool_year) in enumerate(pool_keys):
        members = sorted({u for u, _ in community_units[cid]})
        contributions = {u: g.money() for u in members if g.chance(max(g.tidy, 75))}
        pool: dict[str, Any] = {"fund_pool_id": f"f{i}", "community_id": cid, "year": pool_year,
                                "contributions": contributions}
        if g.present():
            total = sum((Decimal(v) for v in contributions.values()), Decimal("0.00"))
            delta = draw(st.sampled_from(("0", "0.01", "-0.01", "0.03", "-1000", "1000", "-0.05")))
            pool["actual_spend_yuan"] = str(max(Decimal(0), total + Decimal(delta)))
        fund_pools.append(pool)

    # assessments, reports, awards: dated against their deadlines -----------------------------------
    assessments = []
    # an assessment's subject is a community, a unit or a subject team some person belongs to (RE104 otherwise)
    teams = sorted({p["subject_team_id"] for p in persons if "subject_team_id" in p})
    subject_ids = sorted(community_units) + unit_ids + teams
    agreement_ends = {c["community_id"]: c["agreement"]["end_date"] for c in communities
                      if "end_date" in c.get("agreement", {})}
    for i in range(draw(st.integers(0, sizes.assessments))):
        subject = draw(st.sampled_from(subject_ids))
        kind = g.enum("assessment_kind")
        y = g.year()
        if subject in agreement_ends and g.chance(50):
            kind = "final"
            held = dt.date.fromisoformat(agreement_ends[subject]) - dt.timedelta(
                days=draw(st.sampled_from((0, 1, 15, 30, 31, 32))))
        elif g.chance(50):
            held = draw(st.sampled_from((dt.date(y, 2, 1), dt.date(y, 3, 31), dt.date(y, 4, 1), dt.date(y, 1, 31),
                                         dt.date(y, 6, 30), dt.date(y, 12, 20))))
        else:
            held = dt.date.fromisoformat(g.busy_date())
        assessment: dict[str, Any] = {"assessment_id": f"x{i}", "subject_id": subject, "kind": kind,
                                      "held_on": held.isoformat()}
        if draw(st.booleans()):
            assessment["period_covered"] = y
        if g.present():
            assessment["rating"] = g.enum("rating")
        if g.present():
            assessment["published_on"] = (held + dt.timedelta(days=draw(st.sampled_from((0, 10))))).isoformat()
        assessments.append(assessment)

    reports = []
    for i in range(draw(st.integers(0, sizes.reports))):
        y = g.year()
        submitted = draw(st.sampled_from((dt.date(y, 12, 31), dt.date(y + 1, 1, 31), dt.date(y, 9, 1),
                                          dt.date(y, 2, 1)))) + dt.timedelta(days=draw(st.sampled_from((-1, 0, 1, 30, 31))))
        report: dict[str, Any] = {"report_id": f"r{i}", "unit_id": draw(st.sampled_from(unit_ids)),
                                  "kind": g.enum("report_kind"), "period_year": y, "submitted_on": submitted.isoformat()}
        if g.present():
            report["approved_by_party_group_on"] = (submitted + dt.timedelta(days=draw(st.sampled_from((-1, 0, 1))))).isoformat()
        reports.append(report)

    awards = []
    for i in range(draw(st.integers(0, sizes.awards))):
        awards.append({"award_id": f"w{i}", "unit_id": draw(st.sampled_from(unit_ids)), "year": g.year(),
                       "kind": _pick(draw, "award_kind", {"teaching_quality": 3}), "base_amount_yuan": g.money()})

    # activity programmes: a community that meets k times per semester for a few kinds (k around the
    # policies' minimums), organised by its lead and attended by every unit and person
    for cid in sorted(community_units):
        if not g.chance(g.tidy // 2):
            continue
        members = [u for u, _ in community_units[cid]]
        leads = [u for u, r in community_units[cid] if r in ("lead", "core", "head")] or members
        for kind in active_kinds[cid]:
            for start, end in g.active:
                for _ in range(draw(st.sampled_from((1, 2, 2, 3, 3, 5)))):
                    day = start + dt.timedelta(days=draw(st.integers(0, (end - start).days)))
                    activity = {"activity_id": f"a{len(activities)}", "community_id": cid, "kind": kind,
                                "date": day.isoformat(), "organizer_unit_id": draw(st.sampled_from(leads)),
                                "participant_unit_ids": g.subset(members),
                                "attended_by_liaison_leader": g.good(), "unified": g.enums("unified_item")}
                    if person_ids:
                        activity["participant_person_ids"] = g.subset(person_ids)
                    activities.append(activity)

    result = {"communities": communities, "units": units, "persons": persons, "assignments": assignments,
              "activities": activities, "quality_scores": quality_scores, "budgets": budgets,
              "expenses": expenses, "fund_pools": fund_pools, "assessments": assessments,
              "reports": reports, "awards": awards}
    if n_scenarios:
        _merge(result, draw(scenarios(n_scenarios, years, policy)))
    rosters = _candidates(policy, rosters=True)
    if sizes.rosters and rosters and draw(st.integers(0, 5)) == 0:  # a roster alone (decided last: Hypothesis
        rnd = random.Random(draw(st.integers(0, 2 ** 32 - 1)))  # then varies it as often as the rest)
        owner, name = rnd.choice(rosters)
        scene = _Scene(rnd, "r", owner)
        ROSTERS[name](scene, rnd.choice(YEARS[1:-1]))
        if rnd.random() < 0.5:
            _FUNDING(scene, rnd.choice(YEARS[1:-1]))
        return scene.records
    return {k: v for k, v in result.items() if v or k in ("communities", "units")}


FOLLOW_UPS = {"sync_class": "sync_debrief", "cadre_meeting": "work_meeting", "joint_quality_test": "seminar"}


def _plaque(draw, memberships: list[dict], unit_by_id: Mapping[str, dict], vocab: Vocabulary) -> str:
    """Mostly the plaque format 「牵头单位+联合单位+教育共同体」, sometimes scrambled."""
    leads = [unit_by_id[m["unit_id"]]["name"] for m in memberships if m["role"] == "lead"]
    partners = [unit_by_id[m["unit_id"]]["name"] for m in memberships if m["role"] == "partner"]
    suffix = draw(st.sampled_from([s for s in vocab.strings if s.endswith("共同体")] or ["教育共同体"]))
    names = leads + partners
    if draw(st.booleans()):
        names = list(reversed(names))
    if draw(st.integers(0, 3)) == 0 and names:
        names = names[:-1]
    return "".join(names) + draw(st.sampled_from((suffix, suffix, "", "联盟")))


def _agreement(draw, g: "_Draw", members: list[str]) -> dict:
    agreement: dict[str, Any] = {}
    signed = g.date()
    if g.present():
        agreement["signed_on"] = signed.isoformat()
    if g.present():
        agreement["reviewed_by_supervisor_on"] = (signed + dt.timedelta(days=draw(st.sampled_from((-30, -1, 0, 1))))).isoformat()
    if g.present():
        agreement["signatory_unit_ids"] = g.subset(members)
    if g.present():
        start = g.date()
        agreement["start_date"] = start.isoformat()
        if g.present():
            years = draw(st.sampled_from((1, 3, 3, 5)))
            end = dt.date(start.year + years, start.month, min(start.day, 28))
            agreement["end_date"] = (end + dt.timedelta(days=draw(st.sampled_from((-1, 0, 0, 1))))).isoformat()
    if g.present():
        agreement["terms"] = g.enums("agreement_term")
    return agreement


def _board(draw, g: "_Draw", members, memberships, unit_by_id, person_ids, persons) -> list[dict]:
    """Seats mostly by the book (the first member's principal chairs, the others' principals are vice
    chairs or executive directors, their vice principals and middle cadres directors), sometimes not."""
    seats = []
    lead_seat = "chair"
    other_seat = draw(st.sampled_from(("vice_chair", "executive_director")))
    for i, uid in enumerate(members):
        person = unit_by_id[uid].get("principal_person_id")
        if person and g.chance(max(g.tidy, 60)):
            seats.append({"person_id": person, "seat": lead_seat if i == 0 else other_seat})
    for p in persons:
        if p["home_unit_id"] in members and p.get("cadre_rank") in ("vice_principal", "middle") and g.good():
            seats.append({"person_id": p["person_id"], "seat": "director"})
    for _ in range(draw(st.integers(0, 1))):
        seats.append({"person_id": draw(st.sampled_from(person_ids)), "seat": g.enum("board_seat")})
    return seats


def _party_org(draw, g: "_Draw", members, unit_by_id, person_or_none) -> dict:
    org: dict[str, Any] = {"kind": g.enum("party_org_kind")}
    principals = [unit_by_id[u].get("principal_person_id") for u in members]
    head = principals[0] if principals[0] and g.chance(max(g.tidy, 50)) else person_or_none()
    if head:
        org["head_person_id"] = head
    deputy = principals[-1] if len(principals) > 1 and principals[-1] and g.chance(max(g.tidy, 50)) else person_or_none()
    if deputy:
        org["deputy_head_person_id"] = deputy
    if g.present():
        org["branches"] = g.subset(members[1:] or members)
    return org


def _assignment(draw, g: "_Draw", i, person_ids, person_by_id, unit_ids, community_units, flow_kinds) -> dict:
    """A move of a person between two units, mostly within one community, from its lead/core units to
    its other units (or back), of one of the set's few kinds."""
    cid = draw(st.sampled_from(sorted(community_units)))
    members = community_units[cid]
    heads = [u for u, r in members if r in ("lead", "core", "head")] or [u for u, _ in members]
    others = [u for u, r in members if r not in ("lead", "core", "head")] or [u for u, _ in members]
    direction = draw(st.sampled_from(("out", "out", "out", "back", "any")))
    if direction == "out":
        source, target = draw(st.sampled_from(heads)), draw(st.sampled_from(others))
    elif direction == "back":
        source, target = draw(st.sampled_from(others)), draw(st.sampled_from(heads))
    else:
        source, target = draw(st.sampled_from(unit_ids)), draw(st.sampled_from(unit_ids))
    at_source = [p for p in person_ids if person_by_id[p]["home_unit_id"] == source]
    pid = draw(st.sampled_from(at_source)) if at_source and g.chance(70) else draw(st.sampled_from(person_ids))
    start = dt.date.fromisoformat(g.busy_date()) if g.chance(50) else g.date()
    kind = draw(st.sampled_from(flow_kinds)) if g.chance(70) else g.enum("assignment_kind")
    assignment: dict[str, Any] = {"assignment_id": f"t{i}", "person_id": pid, "from_unit_id": source,
                                  "to_unit_id": target, "kind": kind, "start_date": start.isoformat()}
    if g.chance(85):
        assignment["community_id"] = cid
    if g.present():
        assignment["role_at_destination"] = g.enums("destination_role")
    if draw(st.booleans()):
        assignment["subject"] = draw(st.sampled_from(("音乐", "美术", "英语", "语文")))
    if g.chance(65):
        length = draw(st.sampled_from((30, 364, 365, 366, 729, 730, 1094, 1095, 1096, 1200)))
        assignment["end_date"] = (start + dt.timedelta(days=length)).isoformat()
    for key in ("establishment_transferred", "paperwork_done", "open_selection",
                "joined_destination_party_committee", "record_archived"):
        if g.present():
            assignment[key] = g.good()
    if g.present():
        before = draw(st.integers(1, 12))
        assignment["post_grade_before"] = before
        assignment["post_grade_after"] = before + draw(st.sampled_from((-1, 0, 1)))
    if g.present():
        salary = draw(st.sampled_from((Decimal("5000.00"), Decimal("8000.00"))))
        assignment["salary_before_monthly_yuan"] = str(salary)
        assignment["salary_during_monthly_yuan"] = str(salary + draw(st.sampled_from(
            (Decimal("-0.01"), Decimal(0), Decimal("0.01"), Decimal(500)))))
    return assignment


# ------------------------------------------------------------------------------------------ scenarios
#
# The generic generator above rarely meets a rule whose conditions must all hold at once (a board
# chaired by the core principal *and* every campus principal an executive director …). Scenarios
# build small, coherent, mostly compliant pieces of a jurisdiction, one rule family at a time, with
# one count or date drawn on, just below or just above the policies' own thresholds, so that rules
# are driven to both of their outcomes. Their detail is drawn from a `random.Random` seeded by
# Hypothesis (one draw), which keeps large record sets cheap to draw and within Hypothesis's buffer.


@functools.cache
def _policy_params(policy: str) -> Mapping[str, Any]:
    """A policy's parameters (and its jurisdiction id as `__jurisdiction__`), {} if it does not load."""
    from policyengine.diagnostics import PolicyError
    from policyengine.engine import load_policy

    try:
        loaded = load_policy(policy)
    except (PolicyError, OSError):
        return {}
    return {**dict(loaded.parameters), "__jurisdiction__": loaded.jurisdiction}


def _policy_parameters() -> Mapping[str, Mapping[str, Any]]:
    from policyengine import resources

    return {name: _policy_params(name) for name in resources.bundled_policy_names() if _policy_params(name)}


def _param(policy: str | None, name: str, default: Any) -> Any:
    value = _policy_params(policy).get(name, default) if policy is not None else default
    return default if value is None else value


def _city(policy: str | None) -> str:
    """The value of city fields that marks the policy's own records: its city_code, else the first of a
    `…city_names` list, else its jurisdiction id."""
    params = _policy_params(policy) if policy is not None else {}
    if isinstance(params.get("city_code"), str):
        return params["city_code"]
    for key, value in params.items():
        if key.endswith("city_names") and isinstance(value, (list, tuple)) and value:
            return str(value[0])
    return str(params.get("__jurisdiction__") or "city")


def _seq(policy: str | None, name: str, default: Iterable[Any]) -> list:
    value = _param(policy, name, tuple(default))
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _int(policy: str | None, name: str, default: int) -> int:
    try:
        return int(_param(policy, name, default))
    except (TypeError, ValueError):
        return default


@functools.cache
def _policy_activity_kinds(policy: str) -> tuple[str, ...]:
    """The activity kinds a policy names (its literals and list parameters)."""
    kinds = set(_enum("activity_kind"))
    found: set[str] = set()
    try:
        for literal in walk.literals(policy):
            if literal.kind == "string" and literal.value in kinds:
                found.add(literal.value)
    except Exception:  # noqa: BLE001 — a policy being edited: fall back to its parameters
        pass
    for value in _policy_params(policy).values():
        for item in (value if isinstance(value, (list, tuple)) else (value,)):
            if isinstance(item, str) and item in kinds:
                found.add(item)
    return tuple(sorted(found)) or tuple(sorted(kinds))


def _around(rnd, n: int, spread: tuple[int, ...] = (-1, 0, 0, 1)) -> int:
    """n, one less or one more (never negative)."""
    return max(0, n + rnd.choice(spread))


def _semesters(school_year: int) -> list[tuple[dt.date, dt.date]]:
    return [(dt.date(school_year, 9, 1), dt.date(school_year + 1, 1, 31)),
            (dt.date(school_year + 1, 2, 1), dt.date(school_year + 1, 8, 31))]


class _Scene:
    """Records of one scenario, with ids that cannot clash with the generic ones."""

    def __init__(self, rnd, prefix: str, policy: str | None = None):
        self.rnd, self.prefix, self.policy = rnd, prefix, policy
        self.records: dict[str, list[dict]] = {}
        self.counter = 0

    def id(self, letter: str) -> str:
        self.counter += 1
        return f"{self.prefix}{letter}{self.counter}"

    def add(self, collection: str, record: dict) -> dict:
        self.records.setdefault(collection, []).append(record)
        return record

    def ok(self, percent: int = 90) -> bool:
        return self.rnd.randrange(100) < percent

    def day_in(self, start: dt.date, end: dt.date) -> dt.date:
        return start + dt.timedelta(days=self.rnd.randrange((end - start).days + 1))

    def person(self, home: str, **fields) -> str:
        pid = self.id("p")
        self.add("persons", {"person_id": pid, "home_unit_id": home, **fields})
        return pid

    def unit(self, with_principal: bool = True, **fields) -> str:
        uid = self.id("u")
        unit = self.add("units", {"unit_id": uid, "name": fields.pop("name", f"学校{uid}"), **fields})
        if with_principal:
            pid = self.person(uid, is_cadre=True, cadre_rank="principal", is_full_time_teacher=True,
                              teaching_load_hours_per_week="4")
            unit["principal_person_id"] = pid
            unit["party_branch_secretary_person_id"] = pid if self.ok() else self.person(uid)
        return uid

    def unit_record(self, uid: str) -> dict:
        return next(u for u in self.records["units"] if u["unit_id"] == uid)

    def community(self, memberships: list[tuple[str, str]], **fields) -> str:
        cid = self.id("c")
        self.add("communities", {"community_id": cid, "name": f"教共体{cid}",
                                 "units": [{"unit_id": u, "role": r} for u, r in memberships], **fields})
        return cid

    def activity(self, cid: str, kind: str, when: dt.date, organizer: str | None, participants: list[str],
                 **fields) -> dict:
        record = {"activity_id": self.id("a"), "community_id": cid, "kind": kind, "date": when.isoformat(),
                  "participant_unit_ids": list(participants), **fields}
        if organizer:
            record["organizer_unit_id"] = organizer
        return self.add("activities", record)

    def assignment(self, person: str, source: str, target: str, kind: str, start: dt.date,
                   end: dt.date | None = None, cid: str | None = None, **fields) -> dict:
        record = {"assignment_id": self.id("t"), "person_id": person, "from_unit_id": source,
                  "to_unit_id": target, "kind": kind, "start_date": start.isoformat(), **fields}
        if end is not None:
            record["end_date"] = end.isoformat()
        if cid is not None:
            record["community_id"] = cid
        return self.add("assignments", record)

    def assessment(self, subject: str, kind: str, held: dt.date, **fields) -> dict:
        return self.add("assessments", {"assessment_id": self.id("x"), "subject_id": subject, "kind": kind,
                                        "held_on": held.isoformat(), **fields})


def _group(sc: _Scene, city: str, model: str, core_role: str, member_role: str, n_members: int,
           focus: int, **community_fields) -> dict:
    """A coherent community: a core/lead unit and n member units, each with its principal (who is its
    party branch secretary); vice principals at the members, middle cadres and famous teachers at the
    core; a board, party organisation, joint meeting and plans by the book (mostly)."""
    rnd = sc.rnd
    town = community_fields.pop("town_of_units", None)
    stage = community_fields.pop("stage_of_units", "primary")
    common = {"city": city, "kind": "school", "public": True, "stage": stage}
    if town:
        common["town"] = town
    core = sc.unit(**common, urbanity="urban", is_quality=True, is_central_school=True, legal_entity_id=sc.id("le"))
    members = [sc.unit(**common, urbanity="rural", is_weak=True, legal_entity_id=sc.id("le"),
                       group_branch_plaque=True) for _ in range(n_members)]
    for uid in members:
        record = sc.unit_record(uid)
        record["name_before_joining"] = record["name"]
    units = [core] + members
    principal = {u: sc.unit_record(u)["principal_person_id"] for u in units}
    vice = {u: sc.person(u, cadre_rank="vice_principal", is_cadre=True, teaching_load_hours_per_week="4")
            for u in members}
    middle = [sc.person(core, cadre_rank="middle", is_cadre=True, teaching_load_hours_per_week="2")]
    famous = [sc.person(rnd.choice(units), is_famous=rnd.random() < 0.5, is_backbone=True, is_full_time_teacher=True)
              for _ in range(_around(rnd, 5, (-1, 0, 0, 1, 2)))]
    member_seat = {"fusion": "vice_chair", "co_build": "executive_director"}.get(model, rnd.choice(
        ("vice_chair", "executive_director")))
    board = [{"person_id": principal[core], "seat": "chair"}]
    board += [{"person_id": principal[u], "seat": member_seat} for u in members]
    board += [{"person_id": p, "seat": "director"} for p in list(vice.values()) + middle]
    if not sc.ok(85):  # one seat missing or a second chair
        board.pop(rnd.randrange(len(board))) if rnd.random() < 0.5 else board.append(
            {"person_id": principal[members[0]], "seat": "chair"})
    established = dt.date(min(focus - 1, 2021), 6, 1) if sc.ok(85) else dt.date(focus, 9, 1) + dt.timedelta(
        days=rnd.choice((-1, 0, 1, 500)))
    fields: dict[str, Any] = {
        "model_type": model, "city": city, "established_on": established.isoformat(), "stage": stage,
        "board": board, "head_person_id": principal[core],
        "party_org": {"kind": "unified_general_branch", "head_person_id": principal[core],
                      "deputy_head_person_id": principal[members[0]] if members else principal[core],
                      "branches": list(members)},
        "joint_meeting_member_person_ids": sorted(set(principal.values()) | set(vice.values()) | set(middle)),
        "board_established_on": dt.date(2021, 8, rnd.choice((1, 31))).isoformat(),
        "joint_meeting_established_on": dt.date(2021, 8, rnd.choice((1, 31))).isoformat(),
        "annual_work_plans": [{"school_year": y, "adopted_on": (dt.date(y, 9, 1) - dt.timedelta(
            days=rnd.choice((30, 1, 1, 0)))).isoformat()} for y in range(2021, 2026) if sc.ok()],
        "teacher_training_plans": [{"school_year": y, "adopted_on": dt.date(y, 9, 1).isoformat()}
                                   for y in range(2021, 2026) if sc.ok()],
        "charter_exists": sc.ok(), "research_plan_exists": sc.ok(), "management_system_exists": sc.ok(), "assessment_system_exists": sc.ok(),
        "members_enumerated": True, "synchronized": list(_enum("sync_item")),
    }
    if town:
        fields["town"] = town
    fields.update(community_fields)
    if not sc.ok(90):  # the party organisation of another kind, or without its secretaries
        fields["party_org"] = {"kind": rnd.choice(_enum("party_org_kind"))} if rnd.random() < 0.5 else {
            "kind": "unified_general_branch", "branches": list(members)}
    cid = sc.community([(core, core_role)] + [(u, member_role) for u in members], **fields)
    return {"cid": cid, "core": core, "members": members, "units": units, "principal": principal,
            "vice": vice, "middle": middle, "famous": famous, "established": established}


def _programme(sc: _Scene, g: dict, kinds: Iterable[str], school_years: Iterable[int]) -> None:
    """Activities of the given kinds in each semester of the school years: 1–3 of each (0–2 of one kind
    now and then), organised by the core and attended by every unit (now and then one is left out)."""
    rnd = sc.rnd
    kinds = list(kinds)
    everyone = g["famous"] + g["middle"] + list(g["vice"].values())
    short = rnd.choice(kinds) if kinds and sc.ok(50) else None  # one kind held too rarely
    for y in school_years:
        for start, end in _semesters(y):
            for kind in kinds:
                for _ in range(rnd.choice((0, 1, 2)) if kind == short else rnd.choice((1, 2, 3, 3))):
                    participants = list(g["units"])
                    if not sc.ok(85):
                        participants.remove(rnd.choice(participants))
                    sc.activity(g["cid"], kind, sc.day_in(start, end), g["core"] if sc.ok() else rnd.choice(g["units"]),
                                participants, participant_person_ids=list(everyone),
                                unified=list(_enum("unified_item")) if sc.ok() else ["time"],
                                attended_by_liaison_leader=sc.ok(), days=rnd.choice((1, 100, 200)),
                                lessons=rnd.choice((1, 100, 201)))


def _assessments_by_period(sc: _Scene, g: dict, focus: int) -> None:
    """Annual assessments in February–March, school-year and semester assessments of the community
    and each unit: mostly one per period, sometimes none or two."""
    rnd = sc.rnd
    cid = g["cid"]
    for y in range(focus, focus + 3):
        for _ in range(rnd.choice((0, 1, 1, 1, 2))):
            sc.assessment(cid, "annual", dt.date(y, rnd.choice((2, 3)), rnd.choice((1, 15, 28))),
                          period_covered=y - 1 if rnd.random() < 0.5 else y)
        if sc.ok(80):
            sc.assessment(cid, "school_year_bundled", dt.date(y, 7, 1), period_covered=y - 1 if sc.ok(80) else y)
        for start, end in _semesters(y - 1):
            for _ in range(rnd.choice((0, 1, 1, 1, 2))):
                sc.assessment(cid, "semester", sc.day_in(start, end))
            for uid in g["units"]:
                if sc.ok(93):
                    sc.assessment(uid, "semester", sc.day_in(start, end))


# --- per policy ---------------------------------------------------------------------------------


def _tiered_pairings(sc: _Scene, focus: int) -> None:
    """Two lead–partner communities of different tiers (mostly school tiers), each with secondments,
    training, a subject team, assessments and a county bureau's reports."""
    L = sc.policy
    tiers = _seq(L, "school_tiers", ()) + _seq(L, "cadre_tiers", ()) + list(_enum("tier"))
    first = sc.rnd.choice(tiers)
    _tiered_pairing(sc, focus, first)
    _tiered_pairing(sc, focus, sc.rnd.choice([t for t in tiers if t != first] or tiers))


def _tiered_pairing(sc: _Scene, focus: int, tier: str) -> None:
    rnd = sc.rnd
    L = sc.policy
    city = _city(L)
    g = _group(sc, city, rnd.choice(("fusion", "co_build", "collaborative")), "lead", "partner",
               _around(rnd, _int(L, "partners_max", 2), (-1, 0, 1)) or 1, focus, tier=tier,
               expansion_consultation_record=not sc.ok(80))
    community = sc.records["communities"][-1]
    if tier == "city_county_hs":  # a later application, approved by the city bureau before (or after) work began
        community["batch"] = rnd.choice((1, 2, 2))
        community["city_bureau_approved_on"] = (dt.date(focus, 9, 1) - dt.timedelta(days=rnd.choice((1, 30, -400)))).isoformat()
    if sc.ok(30):  # a second lead
        extra = sc.unit(city=city)
        community["units"].append({"unit_id": extra, "role": "lead"})
    lead, partners = g["core"], g["members"]
    districts = _seq(L, "lead_districts", ("甲区",))
    counties = _seq(L, "five_counties", ("乙县",))
    county = rnd.choice(counties)
    same_town = rnd.choice(("town-a", "town-b"))
    for uid in g["units"]:
        record = sc.unit_record(uid)
        record["town"] = same_town if sc.ok(80) else "town-c"
        if uid != lead and not sc.ok(75):
            record["stage"] = "junior"
        if tier == "district_county_admin":
            record["kind"] = "edu_bureau" if sc.ok(95) else "school"
            record["county"] = rnd.choice(districts) if uid == lead else (rnd.choice(counties) if sc.ok() else districts[0])
        else:
            record["county"] = county if sc.ok() else rnd.choice(counties)
    cid = g["cid"]
    ranks = _seq(L, "cadre_ranks", ("vice_principal",))
    dest = _seq(L, "cadre_destination_roles", ("principal",))
    support_roles = _seq(L, "support_roles", ("head_teacher",))
    exchange_roles = _seq(L, "exchange_roles", ("deputy_leader",))
    start_of = lambda: dt.date(focus, 9, 1) + dt.timedelta(days=rnd.choice((0, 0, 30, 200)))
    end_of = lambda s: s + dt.timedelta(days=rnd.choice((364, 365, 730)))
    for _ in range(rnd.choice((0, 1, 1, 2))):  # cadre secondments lead → partner
        p = sc.person(lead, cadre_rank=rnd.choice(ranks) if sc.ok(85) else "none", is_cadre=True,
                      is_cpc_member=sc.ok(70))
        s = start_of()
        sc.assignment(p, lead, rnd.choice(partners), rnd.choice(("post_secondment", "support_teaching")), s,
                      end_of(s), cid, role_at_destination=[rnd.choice(dest)] if sc.ok(85) else ["teacher"],
                      joined_destination_party_committee=sc.ok(70))
    for _ in range(_around(rnd, _int(L, "backbone_per_year", 3), (-1, 0, 0, 1))):  # backbone support teaching
        p = sc.person(lead, is_backbone=sc.ok(95), is_cadre=sc.ok(40), is_cpc_member=sc.ok(60))
        s = start_of()
        salary = rnd.choice((Decimal("5000.00"), Decimal("6200.50")))
        sc.assignment(p, lead, rnd.choice(partners), "support_teaching", s, end_of(s), cid,
                      role_at_destination=[rnd.choice(support_roles)] if sc.ok(75) else ["teacher"],
                      joined_destination_party_committee=sc.ok(60),
                      salary_before_monthly_yuan=str(salary),
                      salary_during_monthly_yuan=str(salary + rnd.choice((Decimal("-0.01"), Decimal(0), Decimal(1)))))
    if tier == "district_county_admin":  # mutual cadre exchange, sometimes one way only
        for source, target in ((lead, partners[0]), (partners[0], lead)):
            if sc.ok(80):
                p = sc.person(source, is_cadre=True, cadre_rank="middle")
                sc.assignment(p, source, target, "admin_exchange", start_of(), None, cid,
                              role_at_destination=list(exchange_roles) if sc.ok() else exchange_roles[:1])
    for kind in ("shadowing", "rotation", "exchange"):  # partner → lead: shadowing (by rank), rotation, exchange
        if sc.ok(50):
            p = sc.person(partners[0], cadre_rank=rnd.choice(_seq(L, "shadowing_ranks", ("middle",))) if sc.ok(60)
                          else rnd.choice(_enum("cadre_rank")))
            sc.assignment(p, partners[0], lead, kind, start_of(), None, cid)
    # systematic training of the partners' group leaders
    leaders = [sc.person(rnd.choice(partners), home_roles=[rnd.choice(_seq(L, "group_leader_roles", ("research_group_leader",)))]
                         if sc.ok(80) else ["teacher"])]
    for y in (focus, focus + 1):
        for _ in range(rnd.choice((0, 1, 1, 2))):
            sc.activity(cid, "systematic_training", sc.day_in(dt.date(y, 9, 1), dt.date(y + 1, 8, 31)),
                        lead if sc.ok() else partners[0], g["units"], participant_person_ids=leaders)
    for _ in range(rnd.choice((0, 1, 2))):  # school-based training by the lead, with or without the partners
        sc.activity(cid, "school_based_training", sc.day_in(dt.date(focus, 9, 1), dt.date(focus + 1, 6, 30)), lead,
                    g["units"] if sc.ok(60) else [lead], participant_person_ids=[])
    # the agreement's term, and a final assessment in (or just outside) the month before it expires
    start = dt.date(focus - 3, 9, 1) if sc.ok(60) else dt.date(focus, 9, 1)
    end = dt.date(start.year + 3, 8, 31)
    community["agreement"] = {"signed_on": start.isoformat(), "start_date": start.isoformat(), "end_date": end.isoformat(),
                              "signatory_unit_ids": list(g["units"]), "terms": _seq(L, "required_agreement_terms", ())}
    if sc.ok(85):
        sc.assessment(cid, "final", end - dt.timedelta(days=rnd.choice((0, 1, 10, 30, 31, 40))))
    # a subject team of the lead: send-teaching days, online lessons, studio years, a team assessment
    team = sc.id("team")
    teacher = sc.person(lead, subject_team_id=team)
    for _ in range(rnd.choice((0, 1, 2))):
        sc.activity(cid, "send_teaching", sc.day_in(dt.date(focus, 9, 1), dt.date(focus + 1, 6, 30)), lead,
                    g["units"], participant_person_ids=[teacher],
                    days=rnd.choice((100, _int(L, "send_teaching_days_min", 200), 199)))
    for _ in range(rnd.choice((0, 1))):
        sc.activity(cid, "online_teaching", dt.date(focus, 10, 10), lead, g["units"], participant_person_ids=[teacher],
                    lessons=_around(rnd, _int(L, "online_lessons_min", 200)))
    sc.assessment(team, "project", dt.date(focus, 6, 30), rating=rnd.choice(_enum("rating")))
    # annual assessments in February–March, one a year (sometimes none or two)
    for y in range(max(focus, 2022), focus + 4):
        for _ in range(rnd.choice((0, 1, 1, 1, 1, 2))):
            sc.assessment(cid, "annual", dt.date(y, rnd.choice((2, 3)), rnd.choice((1, 15, 28))))
    # a county bureau in the community, its year summary due on 31 January
    bureau = sc.unit(with_principal=False, kind="edu_bureau", city=city, county=county)
    community["units"].append({"unit_id": bureau, "role": rnd.choice(("partner", "member"))})
    for y in range(max(focus, 2021), focus + 3):
        if sc.ok(85):
            submitted = dt.date(y + 1, 1, 31) + dt.timedelta(days=rnd.choice((-20, -1, 0, 0, 1)))
            sc.add("reports", {"report_id": sc.id("r"), "unit_id": bureau, "kind": "county_summary", "period_year": y,
                               "submitted_on": submitted.isoformat(),
                               "approved_by_party_group_on": (submitted - dt.timedelta(days=rnd.choice((0, 1, -1)))).isoformat()})


def _bureau_pairing(sc: _Scene, focus: int) -> None:
    """A district–county bureau pairing and its school communities: for each primary/junior stage a
    quality school of the lead district with a rural or weak school of the paired county (now and then
    a stage missing or a school off the pairing); cadres exchanged both ways for one to two years."""
    rnd = sc.rnd
    L = sc.policy
    city = _city(L)
    district = rnd.choice(_seq(L, "lead_districts", ("甲区",)))
    county = rnd.choice(_seq(L, "five_counties", ("乙县",)))
    lead = sc.unit(with_principal=False, kind="edu_bureau", county=district, city=city)
    partner = sc.unit(with_principal=False, kind="edu_bureau", county=county, city=city)
    cid = sc.community([(lead, "lead"), (partner, "partner")], tier="district_county_admin", city=city,
                       established_on="2021-06-01")
    roles = _seq(L, "exchange_roles", ("deputy_leader",))
    for source, target in ((lead, partner), (partner, lead)):
        if sc.ok(85):
            start = dt.date(focus, 9, 1)
            years = rnd.choice((1, 2, 2, 3))
            end = dt.date(start.year + years, 9, 1) + dt.timedelta(days=rnd.choice((-1, 0, 0, 1)))
            sc.assignment(sc.person(source, is_cadre=True, cadre_rank="middle"), source, target, "admin_exchange",
                          start, end, cid, role_at_destination=list(roles) if sc.ok() else roles[:1])
    for stage in _seq(L, "dc_school_stages", ("primary", "junior")):
        if not sc.ok(85):
            continue
        school = sc.unit(kind="school", county=district if sc.ok() else county, is_quality=sc.ok(), stage=stage, city=city)
        rural = sc.unit(kind="school", county=county if sc.ok() else district, stage=stage, city=city,
                        urbanity="rural" if sc.ok() else "urban", is_weak=sc.ok(50))
        sc.community([(school, "lead"), (rural, "partner")], tier="district_county_school", stage=stage, city=city,
                     established_on="2021-06-01")


def _named_leads(sc: _Scene, focus: int) -> None:
    """The five first-batch high-school communities: each named lead with a county model high school
    of one of the five counties (now and then one lead or county off the list)."""
    rnd = sc.rnd
    L = sc.policy
    city = _city(L)
    leads = _seq(L, "first_batch_leads", ("某高级中学",))
    counties = _seq(L, "five_counties", ("乙县",))
    stage = _seq(L, "hs_stages", ("senior",))[0]
    for i, name in enumerate(leads):
        lead = sc.unit(name=name if sc.ok(95) else "某中学", city=city, stage=stage)
        partner = sc.unit(city=city, stage=stage, is_model_hs=sc.ok(95), ownership="county" if sc.ok(95) else "city",
                          county=counties[i % len(counties)] if sc.ok(95) else "其他县")
        sc.community([(lead, "lead"), (partner, "partner")], tier="city_county_hs", batch=1, city=city,
                     established_on="2021-06-01")


def _core_exchanges(sc: _Scene, focus: int) -> None:
    rnd = sc.rnd
    R = sc.policy
    city = _city(R)
    model = rnd.choice(("fusion", "co_build", "co_build", "collaborative", "collaborative"))
    g = _group(sc, city, model, "core", rnd.choice(("member", "campus")), rnd.choice((1, 1, 2)), focus)
    cid, core, members = g["cid"], g["core"], g["members"]
    zones = _seq(R, "mountain_zones", ("山区",))
    core_record = sc.unit_record(core)
    if sc.ok(50):
        core_record["public"], core_record["ownership"] = False, "private"
    if sc.ok(60):  # the core's teaching-quality award
        sc.add("awards", {"award_id": sc.id("w"), "unit_id": core, "year": focus + rnd.choice((0, 1)),
                          "kind": "teaching_quality", "base_amount_yuan": rnd.choice(("10000.00", "33333.33"))})
    for y in (focus, focus + 1):  # the city's annual conference, regular meetings of the community
        if sc.ok(60):
            sc.activity(cid, "city_conference", dt.date(y, rnd.choice((3, 11)), 15), core, g["units"])
        for start, end in _semesters(y):
            for _ in range(rnd.choice((0, 1, 1, 2))):
                sc.activity(cid, "regular_meeting", sc.day_in(start, end), core, g["units"])
    for uid in members:
        record = sc.unit_record(uid)
        record["zone"] = rnd.choice(zones) if sc.ok(80) else "城区"
        record["education_district"] = record["zone"]
        if not sc.ok(75):  # merged with the core, or two members share an entity
            record["legal_entity_id"] = core_record["legal_entity_id"]
    for uid in g["units"]:
        sc.unit_record(uid)["in_service_teacher_count"] = {y: rnd.choice((5, 9, 10, 11, 20)) for y in range(2020, 2027)}
        sc.unit_record(uid)["graduating_class_count"] = {y: rnd.choice((0, 1, 2)) for y in range(2020, 2027)}
    exchange_kinds = _seq(R, "exchange_kinds", ("exchange",))
    # exchanges core ↔ member, a few per school year, around 10 % of the teachers
    for y in (focus, focus + 1):
        for _ in range(rnd.choice((0, 1, 2, 3, 4))):
            m = rnd.choice(members)
            source, target = (core, m) if sc.ok(70) else (m, core)
            p = sc.person(source)
            before = rnd.randrange(3, 10)
            s = dt.date(y, 9, 1) + dt.timedelta(days=rnd.choice((0, 10, 150)))
            sc.assignment(p, source, target, rnd.choice(exchange_kinds), s, s + dt.timedelta(days=rnd.choice((180, 364))),
                          cid, post_grade_before=before, post_grade_after=before + rnd.choice((-1, 0, 1)),
                          paperwork_done=sc.ok(85))
    # a new teacher recruited by a member school, shadowing at the core for about a year
    hired = dt.date(max(focus, 2021), 9, 1) + dt.timedelta(days=rnd.choice((0, 0, 30)))
    recruit = sc.person(members[0], recruited_by_unit_id=members[0], hired_on=hired.isoformat())
    if sc.ok(85):
        days = rnd.choice((364, 365, 365, 400))
        sc.assignment(recruit, members[0], core, "shadowing", hired, hired + dt.timedelta(days=days - 1), cid)
    # a new teacher recruited by the core, rotating to a member within six months of the service period
    core_recruit = sc.person(core, recruited_by_unit_id=core, hired_on=hired.isoformat(),
                             service_period_end=(hired + dt.timedelta(days=rnd.choice((365, 1095)))).isoformat())
    if sc.ok(80):
        end = dt.date.fromisoformat(sc.records["persons"][-1]["service_period_end"])
        sc.assignment(core_recruit, core, members[0], rnd.choice(exchange_kinds),
                      end + dt.timedelta(days=rnd.choice((0, 100, 182, 183, 200))), None, cid)
    # core teachers who served three years at a (mountain) member: still there, or back at the core
    for _ in range(rnd.choice((1, 2))):
        p = sc.person(core, meets_senior_criteria=sc.ok(70), meets_intermediate_criteria=sc.ok(70),
                      title=rnd.choice(("senior", "intermediate", "full_senior")))
        start = dt.date(rnd.choice((2018, 2019, 2020, 2021)), 9, 1)
        end = None if sc.ok(50) else dt.date(start.year + rnd.choice((2, 3, 3)), 8, 31)
        sc.assignment(p, core, rnd.choice(members), rnd.choice(_seq(R, "teaching_kinds", ("exchange",))), start, end, cid)
    # Z scores of the members around the reward threshold
    threshold = Decimal(_param(R, "z_rise_threshold", 5))
    for uid in members:
        z = Decimal(rnd.randrange(-10, 40))
        for y in range(focus - 1, focus + 2):
            sc.add("quality_scores", {"unit_id": uid, "year": y, "z_value": str(z)})
            z += threshold + Decimal(rnd.choice(("-0.01", "0", "0", "0.01", "1", "-3")))
    # joint quality tests of the (fusion) community, every campus there or one missing
    for _ in range(rnd.choice((1, 2))):
        participants = list(g["units"]) if sc.ok(75) else g["units"][:-1]
        sc.activity(cid, "joint_quality_test", sc.day_in(dt.date(focus, 9, 1), dt.date(focus + 1, 6, 30)), core,
                    participants)
    if model == "collaborative":  # support teaching at a rural member, with its paperwork (mostly)
        s = dt.date(focus, 9, 1)
        sc.assignment(sc.person(core), core, members[0], "support_teaching", s, s + dt.timedelta(days=300), cid,
                      paperwork_done=sc.ok(85))
    for _ in range(rnd.choice((1, 2)) if model == "collaborative" else 0):  # synchronized classes, debriefed within the week or not
        held = sc.day_in(dt.date(focus, 9, 1), dt.date(focus + 1, 6, 30))
        sc.activity(cid, "sync_class", held, core, g["units"])
        if sc.ok(70):
            sc.activity(cid, "sync_debrief", held + dt.timedelta(days=rnd.choice((0, 1, 7, 8))), core, g["units"])
    # a rural public school left out of every community at the end of 2021 (or joining late)
    if sc.ok(50):
        loose = sc.unit(city=city, kind="school", public=True, stage=rnd.choice(("primary", "junior")),
                        urbanity=rnd.choice(("rural", "town")))
        if sc.ok(50):
            sc.records["communities"][-1]["units"].append({"unit_id": loose, "role": "member",
                                                           "joined_on": rnd.choice(("2021-12-31", "2022-01-01", "2021-06-01"))})
    if sc.ok(50):  # the community still alive at the mix date
        sc.records["communities"][-1].pop("dissolved_on", None)


def _stage_roster(sc: _Scene, focus: int) -> None:
    """A per-stage batch roster: the policy's primary and junior/nine-year community counts (its
    parameters), one more or one fewer."""
    rnd = sc.rnd
    R = sc.policy
    city = _city(R)
    off = rnd.choice(("primary", "junior")) if not sc.ok(70) else None  # one count one off
    for stage, n in (("primary", _int(R, "primary_communities_2021", 30)),
                     ("junior", _int(R, "junior_communities_2021", 23))):
        for _ in range(n + (rnd.choice((-1, 1)) if stage == off else 0)):
            core = sc.unit(with_principal=False, city=city, stage=stage)
            sc.community([(core, "core")], city=city, batch=2021,
                         stage=stage if stage == "primary" or sc.ok(60) else "nine_year",
                         model_type=rnd.choice(("fusion", "co_build", "collaborative")), established_on="2021-06-01")


def _town_group(sc: _Scene, focus: int) -> None:
    rnd = sc.rnd
    S = sc.policy
    towns = _seq(S, "b2_towns", ("乙镇",))
    pilot = _param(S, "pilot_town", "甲镇")
    kind = rnd.choice(("fusion_b1", "fusion_b2", "co_build", "co_build"))
    model = "co_build" if kind == "co_build" else "fusion"
    batch = 1 if kind == "fusion_b1" else 2 if kind == "fusion_b2" else rnd.choice((1, 2))
    town = pilot if kind == "fusion_b1" else rnd.choice(towns)
    n = _around(rnd, _int(S, "b2_max_schools", 5) - 1, (-2, 0, 1, 1)) if kind == "fusion_b2" else rnd.choice((1, 2))
    g = _group(sc, _city(S), model, rnd.choice(_seq(S, "lead_roles", ("core",))), "member", max(1, n), focus,
               town_of_units=town, stage_of_units=_param(S, "b2_lead_stage", "primary"), batch=batch, town=town,
               members_enumerated=sc.ok(90))
    community = sc.records["communities"][-1]
    if sc.ok(25):
        community["exception_reason"] = "集体协商"
    if batch == 2 and not sc.ok(65):
        community["established_on"] = rnd.choice(("2023-12-31", "2024-01-01", "2024-03-01"))
    if not sc.ok(85):
        community.pop("established_on")
    cid = g["cid"]
    _programme(sc, g, _seq(S, "research_kinds", ("co_research",))[:1] + ["joint_quality_test"], (focus, focus + 1))
    _assessments_by_period(sc, g, focus)
    for y in (focus, focus + 1):  # semester targets issued to each school within the first month
        for start, _ in _semesters(y):
            for uid in g["units"]:
                if sc.ok(93):
                    sc.add("reports", {"report_id": sc.id("r"), "unit_id": uid, "kind": "semester_targets", "period_year": start.year,
                                       "submitted_on": (start + dt.timedelta(days=rnd.choice((0, 5, 30, 31)))).isoformat()})
    if model == "co_build":  # a temporary party organisation with its head, a fund pool settled each year
        community["party_org"] = {"kind": "temporary" if sc.ok() else "unified_committee",
                                  **({"head_person_id": g["principal"][g["core"]]} if sc.ok() else {})}
        for y in (focus, focus + 1):
            contributions = {uid: rnd.choice(("0.00", "10000.00", "20000.00", "33333.33")) for uid in g["units"]}
            total = sum(Decimal(v) for v in contributions.values())
            sc.add("fund_pools", {"fund_pool_id": sc.id("f"), "community_id": cid, "year": y, "contributions": contributions,
                                  "actual_spend_yuan": str(max(Decimal(0), total + Decimal(rnd.choice(("-1000.01", "0", "0.03", "500")))))})
    for y in (focus, focus + 1):  # a budget for each school, spending approved by the core principal
        for uid in g["units"]:
            if sc.ok(92):
                sc.add("budgets", {"budget_id": sc.id("b"), "year": y, "amount_yuan": "100000.00", "community_id": cid,
                                   "unit_id": uid})
        for _ in range(rnd.choice((0, 1, 2))):
            spent = dt.date(y, rnd.randrange(1, 13), 10)
            sc.add("expenses", {"expense_id": sc.id("e"), "unit_id": rnd.choice(g["units"]), "community_id": cid,
                                "amount_yuan": "5000.00", "date": spent.isoformat(),
                                "is_large_activity": sc.ok(50),
                                "approvals": [{"approver": rnd.choice(_seq(S, "fusion_spending_approvers", ("core_principal",)))
                                               if sc.ok(85) else "unit_head", "approved_on": spent.isoformat()},
                                              {"approver": _param(S, "approving_authority", "edu_bureau") if sc.ok(70) else "unit_head",
                                               "approved_on": (spent + dt.timedelta(days=rnd.choice((-1, 0, 1)))).isoformat()}]})


def _batch_roster(sc: _Scene, focus: int) -> None:
    """Batched rosters: one fusion community in the pilot town (a parameter), the co-build communities of batches 1
    and 2, and one to three fusion communities in each batch-2 town (counts on or next to the policy's)."""
    rnd = sc.rnd
    S = sc.policy
    pilot = _param(S, "pilot_town", "甲镇")
    lo, hi = _int(S, "b2_per_town_min", 1), _int(S, "b2_per_town_max", 3)

    def one(model: str, batch: int, town: str) -> None:
        lead = sc.unit(with_principal=False, town=town, stage="primary", is_central_school=True)
        sc.community([(lead, "core")], model_type=model, batch=batch, town=town, established_on="2022-06-01",
                     city=_city(S))

    towns = _seq(S, "b2_towns", ("乙镇",))
    off = rnd.choice(("fusion_b1", "co_build_b1", "co_build_b2", "towns")) if not sc.ok(70) else None
    for key, model, batch in (("fusion_b1", "fusion", 1), ("co_build_b1", "co_build", 1), ("co_build_b2", "co_build", 2)):
        for _ in range(_int(S, f"{key}_count", 1) + (rnd.choice((-1, 1)) if off == key else 0)):
            one(model, batch, pilot if key == "fusion_b1" else rnd.choice(towns))
    odd_town = rnd.choice(towns) if off == "towns" else None
    for town in towns:
        for _ in range(rnd.choice((lo - 1, hi + 1)) if town == odd_town else rnd.randint(lo, hi)):
            one("fusion", 2, town)


def _model_groups(sc: _Scene, focus: int) -> None:
    """Two groups of different models, each with its activity programme, assessments and teachers."""
    for model in sc.rnd.sample(("fusion", "co_build", "collaborative"), 2):
        _model_group(sc, focus, model)


def _model_group(sc: _Scene, focus: int, model: str) -> None:
    rnd = sc.rnd
    Y = sc.policy
    city = _city(Y)
    g = _group(sc, city, model, rnd.choice(("core", "head")), rnd.choice(("campus", "branch", "member")),
               rnd.choice((1, 1, 2)), focus)
    kinds = [k for k in _policy_activity_kinds(Y)]
    _programme(sc, g, kinds, (focus - 1, focus) if focus > 2021 else (focus,))
    # student festivals with one school only now and then
    cid = g["cid"]
    for a in sc.records["activities"]:
        if a["community_id"] == cid and a["kind"] == "student_festival" and not sc.ok(85):
            a["participant_unit_ids"] = a["participant_unit_ids"][:1]
    for y in range(focus, focus + 3):
        if sc.ok(85):
            sc.assessment(cid, "annual", dt.date(y, 12, 20), period_covered=y if sc.ok(85) else y - 1)
    tenure = _int(Y, "exchange_tenure_min_years", 10)
    window = _int(Y, "retirement_window_years", 6)
    built_up = _seq(Y, "built_up_zones", ("城区",))
    sc.unit_record(g["core"])["zone"] = rnd.choice(built_up)
    min_days = _int(Y, "rural_experience_min_years", 3) * _int(Y, "days_per_experience_year", 365)
    for _ in range(rnd.choice((1, 2))):  # built-up teachers with (nearly) three years' rural experience
        sc.person(g["core"], is_full_time_teacher=True, rural_experience_days=rnd.choice((0, min_days - 1, min_days, min_days + 1)))
    for _ in range(rnd.choice((0, 1, 2))):  # full-time teachers ten years at one campus, near retirement
        home = rnd.choice(g["units"])
        p = sc.person(home, is_full_time_teacher=True,
                      campus_tenure_start=dt.date(focus - tenure - rnd.choice((0, 1, 3)), 9, 1).isoformat(),
                      retirement_date=dt.date(focus + window - rnd.choice((1, 2, 5)), 9, 1).isoformat())
        if sc.ok(70):
            sc.assignment(p, home, rnd.choice([u for u in g["units"] if u != home]),
                          rnd.choice(("exchange", "rotation")),
                          dt.date(focus, 9, 1), None, cid, open_selection=sc.ok())
            if sc.ok(40):  # a colleague longer at the campus, not exchanged that year
                sc.person(home, is_full_time_teacher=True,
                          campus_tenure_start=dt.date(focus - tenure - 5, 9, 1).isoformat())


def _group_roster(sc: _Scene, focus: int) -> None:
    """The city's public compulsory schools, nearly all in groups: a pilot town, a first batch."""
    rnd = sc.rnd
    Y = sc.policy
    city = _city(Y)
    for i in range(rnd.choice((2, 3))):
        _group(sc, city, rnd.choice(("fusion", "co_build", "collaborative")), "core", "campus", rnd.choice((2, 3)), focus,
               pilot=i == 0 and sc.ok(90), town=_seq(Y, "built_up_zones", ("城区",))[0], batch=1 if sc.ok(70) else 2)
        sc.records["communities"][-1]["established_on"] = rnd.choice(("2021-06-01", "2021-12-31", "2022-01-01"))
    for _ in range(rnd.choice((0, 0, 1, 2))):
        sc.unit(city=city, kind="school", public=True, stage=rnd.choice(_seq(Y, "compulsory_stages", ("primary",))))


def _funding(sc: _Scene, focus: int) -> None:
    """Each jurisdiction's own earmarked budget for a few years, on and around its floor."""
    rnd = sc.rnd
    floors = []
    chosen = {sc.policy: _policy_params(sc.policy)} if sc.policy is not None else _policy_parameters()
    for name, params in chosen.items():
        code = _city(name)
        purposes = [v for k, v in params.items() if "purpose" in k and isinstance(v, str)]
        for key, value in params.items():
            if isinstance(value, Decimal) and value >= 1_000_000 and ("fund" in key or "floor" in key):
                floors.append((code, value, purposes))
    for code, floor, purposes in floors:
        for y in range(focus - 1, focus + 3):
            if not sc.ok(85):
                continue
            amount = floor + Decimal(rnd.choice(("-0.01", "0", "0", "0.01", "1000000", "-1000000")))
            budget = {"budget_id": sc.id("b"), "year": y, "jurisdiction": str(code), "amount_yuan": str(max(amount, Decimal(0)))}
            if purposes and sc.ok(90):
                budget["purpose"] = purposes[0]
            sc.add("budgets", budget)


_FUNDING = _funding
# Scenario families, by the shape they build; a policy names the ones it uses, with weights, in its
# policies/tests/<policy>/scenarios.yaml (`scenarios:` family → weight, `rosters:`), and every family reads
# the parameters of the policy it is drawn for.
SCENARIOS = {"tiered_pairings": _tiered_pairings, "bureau_pairing": _bureau_pairing, "named_leads": _named_leads,
             "core_exchanges": _core_exchanges, "town_group": _town_group, "model_groups": _model_groups,
             "funding": _funding}
ROSTERS = {"stage_roster": _stage_roster, "group_roster": _group_roster, "batch_roster": _batch_roster,
           "named_leads": _named_leads}


def _merge(raw: dict[str, list[dict]], records: Mapping[str, list[dict]]) -> None:
    for collection, items in records.items():
        raw.setdefault(collection, []).extend(items)


@functools.cache
def _families(policy: str) -> tuple[tuple[tuple[str, int], ...], tuple[str, ...]]:
    """The scenario families (with weights) and rosters a policy's scenarios.yaml names; `funding`
    (the policy's own budget floors) is drawn for every policy."""
    from policyengine.testing.reach import HintsError, load_hints

    hints = load_hints(policy)
    families = dict(hints.get("scenarios") or {})
    rosters = tuple(hints.get("rosters") or ())
    unknown = sorted(set(families) - set(SCENARIOS)) + sorted(set(rosters) - set(ROSTERS))
    if unknown or not all(isinstance(w, int) and w > 0 for w in families.values()):
        raise HintsError(f"{hints.get('__file__')}: unknown scenario families {unknown} (known: "
                         f"{sorted(SCENARIOS)}, rosters {sorted(ROSTERS)}) or a weight that is not a positive integer")
    families.setdefault("funding", 1)
    return tuple(sorted(families.items())), rosters


def _candidates(policy: str | None, rosters: bool = False) -> list[tuple[str, str]]:
    """(policy, family) pairs to draw from, each as often as its weight: the policy's own, or with no
    policy every bundled policy's."""
    from policyengine import resources

    names = [policy] if policy is not None else resources.bundled_policy_names()
    out = []
    for name in names:
        families, roster_names = _families(name)
        if rosters:
            out += [(name, r) for r in roster_names]
        else:
            out += [(name, family) for family, weight in families for _ in range(weight)]
    return out


@st.composite
def scenarios(draw, count: int = 1, years: Iterable[int] = YEARS, policy: str | None = None) -> dict[str, list[dict]]:
    """Records of `count` scenarios (rule families built to be met, or missed by one) of the families
    the policy's scenarios.yaml names (with no policy: of every bundled policy's)."""
    years = tuple(years)
    rnd = random.Random(draw(st.integers(0, 2 ** 32 - 1)))
    raw: dict[str, list[dict]] = {}
    candidates = _candidates(policy)
    for k in range(count):
        owner, name = draw(st.sampled_from(candidates))
        # mostly early years, so that most evaluation dates fall after the scenario's periods
        focus = draw(st.sampled_from([y for y in years if 2021 <= y <= 2023 for _ in range(2024 - y)] or years))
        scene = _Scene(rnd, f"s{k}", owner)
        SCENARIOS[name](scene, focus)
        _merge(raw, scene.records)
    return raw


# ------------------------------------------------------------------------------------------ invalid


@attrs.frozen
class Breakage:
    """How a record set was broken: the collection, the record's index, the field path the loader must
    name (as in RecordError.field) and the error code it must report."""

    collection: str
    index: int
    field: str
    code: str


def _breakages(raw: Mapping[str, list[dict]]) -> list[tuple[str, int, str, str]]:
    """(collection, index, field, how) for every breakable field of the set."""
    schema = load_record_schema()
    options = []
    for collection, records in raw.items():
        kind = schema.collections[collection]
        for index, record in enumerate(records):
            for name, field in kind.fields.items():
                tag = field.spec.tag
                if field.required:
                    options.append((collection, index, name, "missing"))
                if name in record or field.required:
                    if tag in ("int", "number", "money", "date", "bool", "enum", "list", "map", "record"):
                        options.append((collection, index, name, "wrong_type"))
                    if tag == "string":
                        options.append((collection, index, name, "wrong_type"))
                    if tag == "enum":
                        options.append((collection, index, name, "bad_enum"))
                    if tag == "ref":
                        options.append((collection, index, name, "dangling"))
                    if tag == "date":
                        options.append((collection, index, name, "bad_date"))
            options.append((collection, index, "no_such_field", "unknown"))
            if kind.id_field:
                options.append((collection, index, kind.id_field, "duplicate"))
            if collection == "communities":
                for m in range(len(record.get("units", ()))):
                    options.append((collection, index, f"units[{m}].role", "bad_enum"))
                    options.append((collection, index, f"units[{m}].unit_id", "dangling"))
                    options.append((collection, index, f"units[{m}].joined_on", "bad_date"))
    return options


_WRONG = {"int": "12.5", "number": "twelve", "money": "¥100", "date": "2021/09/01", "bool": "yes",
          "enum": 17, "list": "not-a-list", "map": ["not", "a", "map"], "record": "not-a-record",
          "string": ["not", "a", "string"], "ref": 42}
_CODE = {"missing": "RE101", "wrong_type": "RE102", "bad_date": "RE102", "bad_enum": "RE103",
         "dangling": "RE104", "unknown": "RE105", "duplicate": "RE106"}


@st.composite
def invalid_record_sets(draw, sizes: Sizes | None = None, vocab: Vocabulary | None = None
                        ) -> tuple[dict[str, list[dict]], Breakage]:
    """A record set with exactly one field broken, and what the loader must say about it."""
    raw = draw(record_sets(sizes or Sizes.small(), vocab))
    collection, index, field, how = draw(st.sampled_from(_breakages(raw)))
    schema = load_record_schema()
    kind = schema.collections[collection]
    broken = {k: [dict(r) for r in v] for k, v in raw.items()}
    record = broken[collection][index]
    if field.startswith("units["):
        m = int(field[6:field.index("]")])
        sub = field.split(".", 1)[1]
        record["units"] = [dict(x) for x in record["units"]]
        target, name = record["units"][m], sub
        spec_tag = schema.kinds["membership"].fields[name].spec.tag
    else:
        target, name = record, field
        spec_tag = kind.fields[name].spec.tag if name in kind.fields else None
    if how == "missing":
        target.pop(name, None)
    elif how == "wrong_type":
        target[name] = _WRONG["string" if spec_tag == "ref" else spec_tag]
        if spec_tag == "ref":
            target[name] = ["not", "a", "string"]
    elif how == "bad_enum":
        target[name] = "no_such_value"
    elif how == "dangling":
        target[name] = "does-not-exist"
    elif how == "bad_date":
        target[name] = draw(st.sampled_from(("2021-02-30", "2021-13-01", "01/09/2021")))
    elif how == "unknown":
        target[name] = "surprise"
    elif how == "duplicate":
        copy = dict(record)
        broken[collection].append(copy)
    if how == "duplicate":
        return broken, Breakage(collection, len(broken[collection]) - 1, field, _CODE[how])
    return broken, Breakage(collection, index, field, _CODE[how])


# ------------------------------------------------------------------------------------------ expressions


KEYWORDS = ("if", "then", "else", "and", "or", "not", "in", "between", "for", "where", "true", "false")
FUNCTIONS = ("count", "sum", "min", "max", "all", "any", "first", "distinct", "ceil", "floor", "round",
             "abs", "has", "school_year", "semester", "calendar_year", "years_between", "months_between",
             "days_between", "overlaps", "date", "keys", "values", "allocate", "len", "contains",
             "startswith", "endswith", "replace", "concat")

_names = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True).filter(lambda s: s not in KEYWORDS)


def _literal_texts() -> st.SearchStrategy[str]:
    number = st.one_of(st.integers(0, 10 ** 6).map(str),
                       st.decimals(min_value=0, max_value=10 ** 6, places=2, allow_nan=False).map(str))
    return st.one_of(
        number,
        number.map(lambda x: f"{x}%"),
        number.map(lambda x: f"{x} yuan"), number.map(lambda x: f"{x}元"), number.map(lambda x: f"{x}万元"),
        st.integers(0, 30).map(lambda n: f"{n} {'year' if n == 1 else 'years'}"),
        st.integers(0, 400).map(lambda n: f"{n} days"), st.integers(0, 24).map(lambda n: f"{n} months"),
        st.dates(dt.date(1990, 1, 1), dt.date(2040, 12, 31)).map(dt.date.isoformat),
        st.text(st.characters(blacklist_characters="\"\\\n", blacklist_categories=("Cs",)), max_size=8)
          .map(lambda s: f'"{s}"'),
        st.text(st.characters(blacklist_characters="'\\\n", blacklist_categories=("Cs",)), max_size=8)
          .map(lambda s: f"'{s}'"),
        st.sampled_from(("true", "false")),
    )


def expressions(max_leaves: int = 25) -> st.SearchStrategy[str]:
    """Syntactically valid expressions, built from every construct of grammar/policy.lark."""
    atoms = st.one_of(_literal_texts(), _names)

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        p = inner.map(lambda e: f"({e})")
        compare = st.sampled_from(("==", "!=", "<", "<=", ">", ">="))
        return st.one_of(
            st.tuples(p, p, p).map(lambda t: f"if {t[0]} then {t[1]} else {t[2]}"),
            st.tuples(p, st.sampled_from(("and", "or")), p).map(" ".join),
            p.map(lambda e: f"not {e}"),
            st.tuples(p, compare, p).map(" ".join),
            st.tuples(p, st.sampled_from(("in", "not in")), p).map(" ".join),
            st.tuples(p, p, p).map(lambda t: f"{t[0]} between {t[1]} and {t[2]}"),
            st.tuples(p, st.sampled_from(("+", "-", "*", "/")), p).map(" ".join),
            p.map(lambda e: f"-{e}"),
            st.tuples(p, _names).map(lambda t: f"{t[0]}.{t[1]}"),
            st.tuples(p, inner).map(lambda t: f"{t[0]}[{t[1]}]"),
            st.tuples(st.sampled_from(FUNCTIONS + ("f",)), st.lists(inner, max_size=3)).map(
                lambda t: f"{t[0]}({', '.join(t[1])})"),
            st.tuples(st.sampled_from(("count", "sum", "min", "max", "all", "any", "first")), inner, _names,
                      inner, st.one_of(st.none(), inner)).map(
                lambda t: f"{t[0]}({t[1]} for {t[2]} in {t[3]}" + (f" where {t[4]})" if t[4] else ")")),
            st.tuples(inner, _names, inner, st.one_of(st.none(), inner)).map(
                lambda t: f"[{t[0]} for {t[1]} in {t[2]}" + (f" where {t[3]}]" if t[3] else "]")),
            st.lists(inner, max_size=3).map(lambda xs: f"[{', '.join(xs)}]"),
        )

    return st.recursive(atoms, extend, max_leaves=max_leaves)


TYPED_RECORD = {"n": "number", "m": "number?", "money": "money", "d": "date", "e": "date?", "s": "string",
                "flag": "bool", "xs": "list<number>", "tags": "list<string>"}


def typed_expressions(max_leaves: int = 20) -> st.SearchStrategy[str]:
    """Well-typed boolean expressions over a record of type TYPED_RECORD (bound to `record`)."""
    number_atoms = st.one_of(st.integers(0, 100).map(str), st.sampled_from(("record.n", "record.m", "5", "0.5",
                                                                            "10%", "count(record.xs)",
                                                                            "sum(x for x in record.xs)")))
    numbers = st.recursive(number_atoms, lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(("+", "-", "*", "/")), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda e: f"-({e})"),
        st.tuples(st.sampled_from(("ceil", "floor", "abs")), inner).map(lambda t: f"{t[0]}({t[1]})"),
        inner.map(lambda e: f"round({e}, 2, half_up)"),
        inner.map(lambda e: f"max(x * {e} for x in record.xs)"),
    ), max_leaves=max_leaves // 2)
    money_atoms = st.sampled_from(("record.money", "30000 yuan", "3万元", "0.01 yuan"))
    moneys = st.one_of(money_atoms, st.tuples(money_atoms, st.sampled_from(("+", "-")), money_atoms).map(
        lambda t: f"({t[0]} {t[1]} {t[2]})"), st.tuples(money_atoms, numbers).map(lambda t: f"({t[0]} * {t[1]})"))
    date_atoms = st.sampled_from(("record.d", "record.e", "2022-09-01", "record.d + 1 year", "date(2023, 2, 1)"))
    compare = st.sampled_from(("==", "!=", "<", "<=", ">", ">="))
    bool_atoms = st.one_of(
        st.sampled_from(("true", "false", "record.flag", "has(record.m)", "has(record.e)",
                         "'a' in record.tags", "contains(record.s, 'x')", "record.d in semester(record.d)")),
        st.tuples(numbers, compare, numbers).map(" ".join),
        st.tuples(moneys, compare, moneys).map(" ".join),
        st.tuples(date_atoms, compare, date_atoms).map(" ".join),
        st.tuples(numbers, numbers, numbers).map(lambda t: f"{t[0]} between {t[1]} and {t[2]}"),
        numbers.map(lambda e: f"all(x <= {e} for x in record.xs)"),
        numbers.map(lambda e: f"any(x > {e} for x in record.xs where x != 0)"),
    )
    return st.recursive(bool_atoms, lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(("and", "or")), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda e: f"not ({e})"),
        st.tuples(inner, inner, inner).map(lambda t: f"(if {t[0]} then {t[1]} else {t[2]})"),
    ), max_leaves=max_leaves)


@st.composite
def typed_records(draw) -> dict:
    """A mapping record of type TYPED_RECORD (optional fields sometimes absent)."""
    record = {
        "n": draw(st.one_of(st.integers(-5, 10), st.decimals(-5, 10, places=2))),
        "money": draw(st.decimals(0, 50000, places=2)),
        "d": draw(st.dates(dt.date(2020, 1, 1), dt.date(2026, 12, 31))),
        "s": draw(st.text(max_size=5)), "flag": draw(st.booleans()),
        "xs": tuple(draw(st.lists(st.integers(-3, 10), max_size=4))),
        "tags": tuple(draw(st.lists(st.sampled_from(("a", "b")), max_size=2))),
    }
    record["m"] = draw(st.one_of(st.none(), st.integers(-3, 10)))
    record["e"] = draw(st.one_of(st.none(), st.dates(dt.date(2020, 1, 1), dt.date(2026, 12, 31))))
    return record


def arbitrary_text() -> st.SearchStrategy[str]:
    """Text that looks a little like an expression: grammar tokens, keywords and arbitrary characters."""
    tokens = st.sampled_from(KEYWORDS + FUNCTIONS + ("(", ")", "[", "]", ",", ".", "==", "<=", ">", "+", "-",
                                                     "*", "/", "%", "元", "万元", "yuan", "2021-09-01",
                                                     "2021-02-30", "3", "0.5", "'x'", '"y', "x", "community",
                                                     "units", " ", "\n", "\t"))
    return st.one_of(st.text(max_size=60), st.lists(st.one_of(tokens, st.text(max_size=2)), max_size=30).map(" ".join))
