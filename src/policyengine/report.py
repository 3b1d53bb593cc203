"""Report: findings (one per rule, subject and period) and their JSON form.

A finding is frozen and holds only plain values (str, int, bool, None, tuples, Decimal amounts), so
that a report written as JSON parses back to an equal report.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Iterable, Mapping

import attrs

SCHEMA_VERSION = 1
OUTCOMES = ("pass", "violation", "warning", "amount", "entitlement", "info", "not_applicable", "error")


@attrs.frozen
class Citation:
    file: str
    section: str | None
    quote: str


@attrs.frozen
class Finding:
    rule: str
    subject: str
    subject_kind: str
    community: str | None
    period: str | None
    outcome: str
    amount: Decimal | None
    currency: str | None
    strength: str | None
    values: tuple[tuple[str, Any], ...]  # (name, plain value), in a stable order
    citation: Citation
    message: str | None = None

    @property
    def values_dict(self) -> dict[str, Any]:
        return dict(self.values)

    def sort_key(self) -> tuple:
        return (self.rule, self.subject_kind, self.subject, self.community or "", self.period or "")

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule, "subject": self.subject, "subject_kind": self.subject_kind,
            "community": self.community, "period": self.period, "outcome": self.outcome,
            "amount": None if self.amount is None else str(self.amount), "currency": self.currency,
            "strength": self.strength, "values": {k: _json_value(v) for k, v in self.values},
            "citation": attrs.asdict(self.citation), "message": self.message,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Finding":
        return cls(
            rule=data["rule"], subject=data["subject"], subject_kind=data["subject_kind"],
            community=data.get("community"), period=data.get("period"), outcome=data["outcome"],
            amount=None if data.get("amount") is None else Decimal(data["amount"]),
            currency=data.get("currency"), strength=data.get("strength"),
            values=tuple((k, plain(v)) for k, v in data.get("values", {}).items()),
            citation=Citation(**data["citation"]), message=data.get("message"),
        )


@attrs.frozen
class Report:
    policy: str
    as_of: dt.date
    findings: tuple[Finding, ...]

    def counts(self) -> dict[str, int]:
        result = {outcome: 0 for outcome in OUTCOMES}
        for finding in self.findings:
            result[finding.outcome] += 1
        return result

    def select(self, rule: str | None = None, subject: str | None = None, outcome: str | None = None,
               period: str | None = None) -> list[Finding]:
        return [f for f in self.findings if (rule is None or f.rule == rule) and (subject is None or f.subject == subject)
                and (outcome is None or f.outcome == outcome) and (period is None or f.period == period)]

    def to_json(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, "policy": self.policy, "as_of": self.as_of.isoformat(),
                "counts": self.counts(), "findings": [f.to_json() for f in self.findings]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Report":
        return cls(data["policy"], dt.date.fromisoformat(data["as_of"]),
                   tuple(Finding.from_json(f) for f in data["findings"]))


def plain(value: Any) -> Any:
    """Turn an evaluated value into a plain, immutable, JSON-stable value."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return tuple(plain(v) for v in value)
    if isinstance(value, Mapping):
        return tuple((str(k), plain(v)) for k, v in sorted(value.items(), key=lambda kv: str(kv[0])))
    label = getattr(value, "label", None)  # a period
    if isinstance(label, str):
        return label
    record_id = getattr(value, "record_id", None)
    if record_id is not None:
        return record_id
    return str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, tuple):
        if value and all(isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], str) for v in value) and \
                _looks_like_mapping(value):
            return {k: _json_value(v) for k, v in value}
        return [_json_value(v) for v in value]
    return value


def _looks_like_mapping(value: Iterable) -> bool:
    keys = [k for k, _ in value]
    return keys == sorted(set(keys))
