"""Hypothesis strategies for policyengine: record sets, broken records, evaluation dates and expressions.

Other services build property tests on policyengine with these, so they produce the *raw* record
format (collection name → list of plain dicts, dates and amounts as strings), exactly what
`load_records` takes from a YAML or JSON file:

    from hypothesis import given
    from policyengine import load_policy, load_records
    from policyengine.testing import strategies as pst

    @given(pst.record_sets(), pst.as_of_dates())
    def test_no_crash(raw, as_of):
        load_policy("ruian").evaluate(load_records(raw), as_of)

The generated records are valid and consistent (every reference resolves, a unit is a member of a
community at most once, joined_on < left_on, established_on < dissolved_on …) and deliberately
boundary-heavy: dates fall on or next to semester, school-year and calendar-year edges and the
policies' own due dates; numbers sit on and next to the thresholds the policies use (a Z gain of
exactly 5, six units, 30,000.00 yuan …). Strings such as towns, zones, cities and school names are
drawn from a `Vocabulary`, by default the string constants of the bundled policies, so that a rule
that names 殷店镇 or 高楼 can be met.

`invalid_record_sets()` breaks exactly one field of a valid set and says which field and which
record error code the loader must report. `expressions()` generates syntactically valid policy
expressions from every construct of the grammar; `typed_expressions()` generates well-typed ones
over a small ad-hoc record type, for `compile_expression`.
"""

from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal
from typing import Any, Iterable, Mapping

import attrs
from hypothesis import strategies as st

from policyengine.recordschema import load_record_schema
from policyengine.testing import walk

__all__ = [
    "Vocabulary", "Sizes", "vocabulary", "record_sets", "invalid_record_sets", "as_of_dates", "dates",
    "amounts", "expressions", "typed_expressions", "typed_records", "TYPED_RECORD", "arbitrary_text", "Breakage",
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

    @classmethod
    def small(cls) -> "Sizes":
        return cls(2, 4, 3, 3, 4, 3, 1, 2, 1, 2, 2, 1)


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
                years: Iterable[int] = YEARS) -> dict[str, list[dict]]:
    """A valid, consistent record set as a raw mapping (collection → list of dicts)."""
    sizes = sizes or Sizes()
    vocab = vocab if vocab is not None else vocabulary()
    years = tuple(years)
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
        if g.present():
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
        if g.present():
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
    subject_ids = sorted(community_units) + unit_ids + ["team-a", "team-b"]
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
