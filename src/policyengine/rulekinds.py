"""Rule kinds and rule subjects: the one table every stage reads.

The policy file loader takes from it which keys a kind needs and takes, the checker which variables
a subject binds, the evaluator which records a subject enumerates and how a kind is judged, the
testing kit which outcome sides a kind has. A new kind or subject is a row here, not an edit in six
modules.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class RuleKind:
    name: str
    judged_as: str  # requirement | amount | entitlement | derived: how the evaluator decides a finding
    needs: tuple[str, ...]  # expression keys it must have
    takes: tuple[str, ...]  # expression keys it accepts (the needed ones included)
    needs_strength: bool
    sides: tuple[str, ...]  # the outcome sides a test can assert (coverage)


@attrs.frozen
class Subject:
    name: str
    variables: tuple[str, ...]  # bound for the rule's expressions, in call order (each a record kind)
    finding_kind: str  # a finding's `subject_kind`
    collection: str | None  # the record collection enumerated (None: one subject, the jurisdiction)
    # where the subject's `city` is read (language.md §5.5): navigations from the subject record, tried
    # in order; the first that reaches a record decides (() is the record itself)
    city_via: tuple[tuple[str, ...], ...] = ()


_REQUIREMENT_SIDES = ("pass", "fail")
RULE_KINDS: dict[str, RuleKind] = {k.name: k for k in (
    RuleKind("requirement", "requirement", ("require",), ("when", "require", "exception"), True, _REQUIREMENT_SIDES),
    RuleKind("deadline", "requirement", ("due", "require"), ("when", "due", "require", "exception"), True,
             _REQUIREMENT_SIDES),
    RuleKind("target", "requirement", ("due", "require"), ("when", "due", "require", "exception"), True,
             _REQUIREMENT_SIDES),
    RuleKind("amount", "amount", ("amount",), ("when", "amount", "pays_when"), False, ("paid", "unpaid")),
    RuleKind("entitlement", "entitlement", ("grant",), ("when", "grant"), False, ("granted", "not_granted")),
    RuleKind("eligibility", "entitlement", ("grant",), ("when", "grant"), False, ("granted", "not_granted")),
    RuleKind("derived", "derived", ("value",), ("when", "value"), False, ("info",)),
)}

SUBJECTS: dict[str, Subject] = {s.name: s for s in (
    Subject("community", ("community",), "community", "communities", ((),)),
    Subject("membership", ("membership", "unit", "community"), "unit", "memberships", (("community",),)),
    Subject("unit", ("unit",), "unit", "units", ((),)),
    Subject("person", ("person",), "person", "persons", (("home_unit",),)),
    Subject("assignment", ("assignment",), "assignment", "assignments", (("community",), ("from_unit",))),
    Subject("activity", ("activity",), "activity", "activities", (("community",),)),
    Subject("expense", ("expense",), "expense", "expenses", (("community",), ("unit",))),
    Subject("fund_pool", ("fund_pool",), "fund_pool", "fund_pools", (("community",),)),
    Subject("jurisdiction", (), "jurisdiction", None),
)}

REQUIREMENT_KINDS = tuple(k for k, kind in RULE_KINDS.items() if kind.judged_as == "requirement")
ENTITLEMENT_KINDS = tuple(k for k, kind in RULE_KINDS.items() if kind.judged_as == "entitlement")
