"""Report: compact findings (one row per rule, subject and period), a per-rule table, and their JSON.

A finding is stored as a row: a tuple of the fields that vary from finding to finding (rule,
subject, subject_kind, community, period, outcome, amount, currency, values). What is the same for
every finding of a rule (strength, citation, message, the parameters in force) is stored once, in
the report's rule table (`RuleInfo`). The Python API still hands out frozen `Finding` objects, made
from a row and its rule's entry when asked for (`report.findings`), so a report of a million
findings costs a million small tuples, not a million objects with their own copies of the rule's
data. Everything is plain (str, int, bool, None, tuples, Decimal amounts), so that a report written
as JSON parses back to an equal report.

JSON schema 2 (`Report.to_json`, and what `policyengine evaluate --format json|jsonl` writes):
`rules` maps each rule id to its table entry; each finding carries only its own fields, and its
`values` leave out the rule's parameters (they are in `rules[id].parameters`).
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any, Iterable, Iterator, Mapping, Sequence

import attrs

SCHEMA_VERSION = 2
OUTCOMES = ("pass", "violation", "warning", "amount", "entitlement", "info", "not_applicable", "error")
ROW_FIELDS = ("rule", "subject", "subject_kind", "community", "period", "outcome", "amount", "currency", "values")
OUTCOME_FIELD = 5  # index of `outcome` in a row

Row = tuple  # (rule, subject, subject_kind, community, period, outcome, amount, currency, values)
# names in `values` that only the engine writes (an author's `values:` may not use them, PE414)
ENGINE_VALUES = frozenset({"reason", "failed", "unmet", "due", "exception", "error", "error_code", "error_at",
                           "absent", "value"})


@attrs.frozen
class Citation:
    file: str
    section: str | None
    quote: str


@attrs.frozen
class RuleInfo:
    """What is the same for every finding of one rule: the report's rule table entry."""
    id: str
    strength: str | None
    citation: Citation
    message: str | None
    parameters: tuple[tuple[str, Any], ...]  # (name, plain value): the parameters in force
    message_en: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.id, "strength": self.strength, "citation": attrs.asdict(self.citation),
                "message": self.message, "message_en": self.message_en,
                "parameters": {k: _json_value(v) for k, v in self.parameters}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "RuleInfo":
        return cls(data["rule"], data.get("strength"), Citation(**data["citation"]), data.get("message"),
                   tuple((k, plain(v)) for k, v in data.get("parameters", {}).items()), data.get("message_en"))


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
    values: tuple[tuple[str, Any], ...]  # (name, plain value), in a stable order; the parameters first
    citation: Citation
    message: str | None = None  # zh (or the only message the rule has)
    message_en: str | None = None
    # the rule's parameters in force (engine-reported; also first in `values`, hence not compared)
    parameters: tuple[tuple[str, Any], ...] = attrs.field(default=(), eq=False)

    def message_in(self, lang: str) -> str | None:
        return (self.message_en or self.message) if lang == "en" else (self.message or self.message_en)

    # what the engine reports, by name (an author's `values:` may never use these names, PE417)
    @property
    def reason(self) -> str | None:
        return self.values_dict.get("reason")

    @property
    def failed(self) -> tuple[str, ...] | None:
        return self.values_dict.get("failed")

    @property
    def unmet(self) -> tuple[str, ...] | None:
        return self.values_dict.get("unmet")

    @property
    def values_dict(self) -> dict[str, Any]:
        return dict(self.values)

    @property
    def author_values(self) -> dict[str, Any]:
        """Only the values the rule's author asked for (`values:`)."""
        parameters = {name for name, _ in self.parameters}
        return {k: v for k, v in self.values if k not in ENGINE_VALUES and k not in parameters}

    def sort_key(self) -> tuple:
        return (self.rule, self.subject_kind, self.subject, self.community or "", self.period or "")

    def to_json(self) -> dict[str, Any]:
        """One finding on its own, with its rule's data (the schema-1 shape)."""
        return {
            "rule": self.rule, "subject": self.subject, "subject_kind": self.subject_kind,
            "community": self.community, "period": self.period, "outcome": self.outcome,
            "amount": None if self.amount is None else str(self.amount), "currency": self.currency,
            "strength": self.strength, "values": {k: _json_value(v) for k, v in self.values},
            "citation": attrs.asdict(self.citation), "message": self.message,
            "message_en": self.message_en,
            "reason": self.reason, "failed": _list_or_none(self.failed), "unmet": _list_or_none(self.unmet),
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
            message_en=data.get("message_en"),
            parameters=tuple((k, plain(v)) for k, v in (data.get("parameters") or {}).items()),
        )


def row_sort_key(row: Row) -> tuple:
    """The report order (as `Finding.sort_key`)."""
    return (row[0], row[2], row[1], row[3] or "", row[4] or "")


def make_finding(row: Row, info: RuleInfo) -> Finding:
    values = row[8]
    if info.parameters:
        merged = dict(info.parameters)
        merged.update(values)  # (the checker refuses a value named like a parameter in force: PE417)
        values = tuple(merged.items())
    return Finding(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], info.strength, values,
                   info.citation, info.message, info.message_en, info.parameters)


def row_of(finding: Finding) -> tuple[Row, RuleInfo]:
    """A finding split back into its row and its rule's entry (values: all of them, no parameters)."""
    info = RuleInfo(finding.rule, finding.strength, finding.citation, finding.message, (), finding.message_en)
    return (finding.rule, finding.subject, finding.subject_kind, finding.community, finding.period, finding.outcome,
            finding.amount, finding.currency, finding.values), info


class Findings(Sequence):
    """The findings of a report as `Finding` objects, made from the rows when read."""

    __slots__ = ("_rows", "_rules")

    def __init__(self, rows: Sequence[Row], rules: Mapping[str, RuleInfo]):
        self._rows = rows
        self._rules = rules

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [make_finding(row, self._rules[row[0]]) for row in self._rows[index]]
        row = self._rows[index]
        return make_finding(row, self._rules[row[0]])

    def __iter__(self) -> Iterator[Finding]:
        rules = self._rules
        for row in self._rows:
            yield make_finding(row, rules[row[0]])

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Findings):
            return list(self) == list(other) if self._rules != other._rules else self._rows == other._rows
        if isinstance(other, (list, tuple)):
            return list(self) == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"<{len(self)} findings>"


@attrs.frozen(eq=False)
class Report:
    """Findings of one evaluation: `rows` (report order) and `rules` (id → RuleInfo). Keeps every
    finding, not_applicable ones included."""

    policy: str
    as_of: dt.date
    rows: tuple[Row, ...]
    rules: Mapping[str, RuleInfo]

    @classmethod
    def from_findings(cls, policy: str, as_of: dt.date, findings: Iterable[Finding]) -> "Report":
        rows, rules = [], {}
        for finding in findings:
            row, info = row_of(finding)
            rows.append(row)
            rules.setdefault(info.id, info)
        return cls(policy, as_of, tuple(sorted(rows, key=row_sort_key)), rules)

    @property
    def findings(self) -> Findings:
        return Findings(self.rows, self.rules)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Report):
            return NotImplemented
        return self.policy == other.policy and self.as_of == other.as_of and self.findings == other.findings

    __hash__ = None  # type: ignore[assignment]

    def counts(self) -> dict[str, int]:
        result = {outcome: 0 for outcome in OUTCOMES}
        for row in self.rows:
            result[row[OUTCOME_FIELD]] += 1
        return result

    def select(self, rule: str | None = None, subject: str | None = None, outcome: str | None = None,
               period: str | None = None) -> list[Finding]:
        return [make_finding(r, self.rules[r[0]]) for r in self.rows
                if (rule is None or r[0] == rule) and (subject is None or r[1] == subject)
                and (outcome is None or r[5] == outcome) and (period is None or r[4] == period)]

    def to_json(self) -> dict[str, Any]:
        """The whole report as one dict (schema 2): for the API and small reports. The command line
        streams instead (`write_json`, `write_jsonl`)."""
        return {"schema_version": SCHEMA_VERSION, "policy": self.policy, "as_of": self.as_of.isoformat(),
                "counts": self.counts(),
                "rules": {rule_id: info.to_json() for rule_id, info in sorted(self.rules.items())},
                "findings": [row_json(row) for row in self.rows]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Report":
        as_of = dt.date.fromisoformat(data["as_of"])
        if data.get("schema_version", 1) == 1:
            return cls.from_findings(data["policy"], as_of, (Finding.from_json(f) for f in data["findings"]))
        rules = {rule_id: RuleInfo.from_json(info) for rule_id, info in data["rules"].items()}
        return cls(data["policy"], as_of, tuple(row_from_json(f) for f in data["findings"]), rules)


def row_json(row: Row) -> dict[str, Any]:
    amount = row[6]
    return {"rule": row[0], "subject": row[1], "subject_kind": row[2], "community": row[3], "period": row[4],
            "outcome": row[5], "amount": None if amount is None else str(amount), "currency": row[7],
            "values": {k: _json_value(v) for k, v in row[8]}}


def row_from_json(data: Mapping[str, Any]) -> Row:
    amount = data.get("amount")
    return (data["rule"], data["subject"], data["subject_kind"], data.get("community"), data.get("period"),
            data["outcome"], None if amount is None else Decimal(amount), data.get("currency"),
            tuple((k, plain(v)) for k, v in data.get("values", {}).items()))


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


# streamed output -------------------------------------------------------------------------------------
# An evaluation streams as (RuleInfo, rows) per rule, in report order; the writers below turn that
# stream into text piece by piece, so that no dict tree of the whole report is ever built. A rule's
# text is made by `encode_rule` alone, so that worker processes can encode their rules and the
# parent only concatenates (batch.py).

_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def shown_rows(rows: Iterable[Row], show_all: bool) -> list[Row]:
    return list(rows) if show_all else [r for r in rows if r[OUTCOME_FIELD] != "not_applicable"]


def encode_rule(info: RuleInfo, rows: Sequence[Row], fmt: str, show_all: bool, pretty: bool = False) -> str:
    """The text of one rule's part of the output: for jsonl its rule line then one line per finding
    (nothing when no finding is shown); for json the findings, comma-separated."""
    shown = shown_rows(rows, show_all)
    if not shown:
        return ""
    if fmt == "jsonl":
        encode = _COMPACT.encode
        return "".join([encode({"type": "rule", **info.to_json()}) + "\n"]
                       + [encode({"type": "finding", **row_json(r)}) + "\n" for r in shown])
    if pretty:
        return ",\n".join(_indented(row_json(r), 4) for r in shown)
    encode = _COMPACT.encode
    return ",".join(encode(row_json(r)) for r in shown)


def _indented(value: Any, by: int) -> str:
    text = json.dumps(value, ensure_ascii=False, indent=2)
    pad = " " * by
    return "\n".join(pad + line for line in text.splitlines())


class StreamWriter:
    """Writes `--format json|jsonl` to `out` as rule parts arrive (`rule_part`), then `close` adds
    the counts. JSON keeps the key order schema_version, policy, as_of, rules, findings, counts."""

    def __init__(self, out, fmt: str, policy: str, as_of: dt.date, rules: Sequence[RuleInfo],
                 show_all: bool, pretty: bool = False):
        self.out, self.fmt, self.show_all, self.pretty = out, fmt, show_all, pretty
        self.counts = {outcome: 0 for outcome in OUTCOMES}
        self._first = True
        header = {"schema_version": SCHEMA_VERSION, "policy": policy, "as_of": as_of.isoformat()}
        if fmt == "jsonl":
            out.write(_COMPACT.encode({"type": "header", **header}) + "\n")
        elif pretty:
            head = json.dumps(header, ensure_ascii=False, indent=2)[:-2]
            table = json.dumps({r.id: r.to_json() for r in rules}, ensure_ascii=False, indent=2)
            out.write(head + ',\n  "rules": ' + table.replace("\n", "\n  ") + ',\n  "findings": [\n')
        else:
            head = _COMPACT.encode(header)[:-1]
            out.write(head + ',"rules":' + _COMPACT.encode({r.id: r.to_json() for r in rules}) + ',"findings":[')

    def rule_part(self, rows: Sequence[Row], info: RuleInfo) -> None:
        self.add_counts(rows)
        self.write_text(encode_rule(info, rows, self.fmt, self.show_all, self.pretty))

    def add_counts(self, rows: Iterable[Row]) -> None:
        counts = self.counts
        for row in rows:
            counts[row[OUTCOME_FIELD]] += 1

    def write_text(self, text: str) -> None:
        if not text:
            return
        if self.fmt == "json" and not self._first:
            self.out.write(",\n" if self.pretty else ",")
        self._first = False
        self.out.write(text)

    def close(self) -> None:
        if self.fmt == "jsonl":
            self.out.write(_COMPACT.encode({"type": "counts", "counts": self.counts}) + "\n")
        elif self.pretty:
            counts = json.dumps(self.counts, ensure_ascii=False, indent=2).replace("\n", "\n  ")
            self.out.write(("\n" if not self._first else "") + '  ],\n  "counts": ' + counts + "\n}\n")
        else:
            self.out.write('],"counts":' + _COMPACT.encode(self.counts) + "}\n")


def _list_or_none(names: tuple[str, ...] | None) -> list[str] | None:
    return None if names is None else list(names)
