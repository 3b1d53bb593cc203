"""Explain: one finding as structured data and as sentences (zh or en).

An explanation is derived from the finding, the rule's source (the policy file, read again for the
expression texts and the `ambiguity:` readings) and the records (for names and the community a unit or
person belonged to in the period judged). Nothing is evaluated again: the finding's `values` already
hold what decided it.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import functools
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

import attrs

from policyengine import runtime
from policyengine.policyfile import read_policy_file
from policyengine.report import Finding, _json_value

OUTCOME_LABELS = {"zh": {"pass": "通过", "violation": "违规", "warning": "警示", "amount": "金额",
                         "entitlement": "享有", "info": "信息", "not_applicable": "不适用", "error": "错误"},
                  "en": {o: o for o in ("pass", "violation", "warning", "amount", "entitlement", "info",
                                        "not_applicable", "error")}}
KIND_LABELS = {"zh": {"community": "教共体", "unit": "学校", "person": "人员", "assignment": "派遣", "activity": "活动",
                      "expense": "支出", "fund_pool": "资金池", "jurisdiction": "辖区"},
               "en": {"community": "community", "unit": "school", "person": "person", "assignment": "assignment",
                      "activity": "activity", "expense": "expense", "fund_pool": "fund pool",
                      "jurisdiction": "jurisdiction"}}
STRENGTH_LABELS = {"zh": {"hard": "刚性（未满足即违规）", "soft": "原则性（未满足为警示）", None: "无强度"},
                   "en": {"hard": "hard (a failure is a violation)", "soft": "soft (a failure is a warning)",
                          None: "no strength"}}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# --------------------------------------------------------------------------------------- attribution
@attrs.frozen
class Attribution:
    """The communities a finding belongs to, and why (a unit's or person's memberships in force)."""

    communities: tuple[str, ...]
    basis: str  # "own" (the subject names its community), "membership", "none"
    memberships: tuple[tuple[str, str, str | None, str | None], ...] = ()  # (unit, community, joined_on, left_on)

    def to_json(self) -> dict[str, Any]:
        return {"communities": list(self.communities), "basis": self.basis,
                "memberships": [{"unit": u, "community": c, "joined_on": j, "left_on": left}
                                for u, c, j, left in self.memberships]}

    def sentence(self, lang: str, names: "Names") -> str:
        if self.basis == "own":
            return ""
        if not self.communities:
            return ("判定期间内不属于任何教共体" if lang == "zh" else
                    "not a member of any community in the period judged")
        spans = "; ".join(
            f"{names.of('unit', u)} → {names.of('community', c)} "
            f"[{j or '…'}, {left or '…'})" for u, c, j, left in self.memberships)
        return (f"按判定期间内有效的成员关系归属：{spans}" if lang == "zh" else
                f"attributed by the memberships in force in the period judged: {spans}")


def judged_window(period: str | None, as_of: dt.date) -> tuple[dt.date, dt.date]:
    """The days a finding judged: its period (label `2022`, `2022-2023`, `2022-2023-1|2`), or as_of."""
    if period is None:
        return as_of, as_of
    parts = period.split("-")
    year = int(parts[0])
    if len(parts) == 1:
        judged = runtime.calendar_year(dt.date(year, 1, 1))
    elif len(parts) == 2:
        judged = runtime.school_year(dt.date(year, 9, 1))
    else:
        judged = runtime.semester(dt.date(year, 9, 1) if parts[2] == "1" else dt.date(year + 1, 4, 1))
    return judged.start, min(judged.end, as_of)


def attribute(finding: Finding, records: Any, as_of: dt.date) -> Attribution:
    """A finding's community: its own (community, membership, assignment … subjects), else for a unit
    or person the communities the unit (the person's home unit) was a member of at some time in the
    period judged (joined_on inclusive, left_on exclusive)."""
    if finding.community is not None:
        return Attribution((finding.community,), "own")
    record = records.by_id(finding.subject_kind, finding.subject) if records is not None else None
    unit = record if finding.subject_kind == "unit" else getattr(record, "home_unit", None) \
        if finding.subject_kind == "person" else None
    if unit is None:
        return Attribution((), "none")
    first, last = judged_window(finding.period, as_of)
    spans = []
    for membership in getattr(unit, "memberships", ()):
        joined, left = membership.joined_on, membership.left_on
        if (joined is None or joined <= last) and (left is None or left > first):
            spans.append((unit.unit_id, membership.community.community_id,
                          joined.isoformat() if joined else None, left.isoformat() if left else None))
    spans.sort(key=lambda span: span[1])
    return Attribution(tuple(dict.fromkeys(span[1] for span in spans)), "membership", tuple(spans))


# --------------------------------------------------------------------------------------------- names
class Names:
    """Display names of records: `name` where the record has one, else its id."""

    def __init__(self, records: Any, jurisdiction_name: str = ""):
        self.records = records
        self.jurisdiction_name = jurisdiction_name

    def of(self, kind: str, record_id: str | None) -> str:
        name = self.name(kind, record_id)
        return f"{name}（{record_id}）" if name and name != record_id else (record_id or "")

    def name(self, kind: str, record_id: str | None) -> str | None:
        if record_id is None:
            return None
        if kind == "jurisdiction":
            return self.jurisdiction_name or record_id
        record = self.records.by_id(kind, record_id) if self.records is not None else None
        return getattr(record, "name", None) or getattr(record, "title", None) if record is not None else None


# ------------------------------------------------------------------------------------------ explain
def explain(policy: Any, finding: Finding, records: Any = None, as_of: dt.date | None = None) -> dict[str, Any]:
    """One finding as structured data (JSON-ready): rule, subject and community by name, every
    condition with the values it reads and whether it held, the parameters in force with their
    `ambiguity:` readings, the verbatim quote."""
    as_of = as_of or dt.date.today()
    names = Names(records, getattr(policy, "jurisdiction_name", ""))
    values = finding.values_dict
    attribution = attribute(finding, records, as_of)
    declared = _parameter_decls(policy)
    rule = policy.rule(finding.rule)
    parameters = [{"name": name, "value": _json_value(_plain(value)),
                   "description": getattr(declared.get(name), "description", None),
                   "ambiguity": policy.ambiguities.get(name) or getattr(declared.get(name), "ambiguity", None)}
                  for name, value in rule.parameters]
    return {
        "rule": finding.rule, "kind": rule.kind, "strength": finding.strength, "concept": rule.concept,
        "message": {"zh": finding.message, "en": finding.message_en},
        "subject": {"kind": finding.subject_kind, "id": finding.subject,
                    "name": names.name(finding.subject_kind, finding.subject)},
        "communities": [{"id": c, "name": names.name("community", c)} for c in attribution.communities],
        "attribution": attribution.to_json(),
        "period": finding.period, "outcome": finding.outcome,
        "amount": None if finding.amount is None else str(finding.amount), "currency": finding.currency,
        "reason": values.get("reason"), "error": values.get("error"),
        "error_code": values.get("error_code"), "error_at": values.get("error_at"),
        "exception_applied": bool(values.get("exception")),
        "conditions": _conditions(rule.texts, finding, values, {p["name"] for p in parameters}),
        "values": {k: _json_value(v) for k, v in finding.values},
        "parameters": parameters,
        "citation": {"file": finding.citation.file, "section": finding.citation.section,
                     "quote": finding.citation.quote},
    }


def _plain(value: Any) -> Any:
    from policyengine.report import plain

    return plain(value)


def _parameter_decls(policy: Any) -> Mapping[str, Any]:
    path = Path(policy.path)
    return _parameter_cache(str(path), path.stat().st_mtime_ns) if path.exists() else {}


@functools.lru_cache(maxsize=32)
def _parameter_cache(path: str, _mtime: int) -> Mapping[str, Any]:
    model, _ = read_policy_file(path, Path(path).read_text(encoding="utf-8"))
    return {decl.name: decl for decl in (model.parameters if model else ())}


def _conditions(texts, finding: Finding, values: Mapping[str, Any], parameters: set[str]) -> list[dict[str, Any]]:
    """Each when/require/grant/pays_when condition (and the amount/value/due expression): its text, the
    reported values and parameters it reads, and whether it held (True/False; None when the evaluation
    stopped before judging it, or for a computation)."""
    result = []
    unmet = set(values.get("unmet", ()))
    failed = set(values.get("failed", ()))
    stage = _stage_reached(finding, values)
    order = ("when", "require", "grant", "pays_when", "amount", "value", "due")
    stopped = False
    for part, name, text in sorted(texts, key=lambda item: order.index(item[0]) if item[0] in order else 99):
        if part not in order:
            continue  # exception: reported as exception_applied
        holds = _holds(part, name or text, stage, unmet, failed, stopped, values)
        if part == "when" and holds is False:
            stopped = True  # `when` stops at its first unmet condition
        read = [token for token in dict.fromkeys(_IDENTIFIER.findall(text))
                if token in values and token not in ("reason", "failed", "unmet", "exception") or token in parameters]
        result.append({"part": part, "name": name, "expression": text, "holds": holds,
                       "reads": {token: _json_value(values[token]) for token in read if token in values}})
    return result


def _stage_reached(finding: Finding, values: Mapping[str, Any]) -> str:
    """How far the evaluation went: 'when' (stopped there), 'before' (period open, not yet due,
    data absent or error), 'judged'."""
    reason = str(values.get("reason", ""))
    if "(when)" in reason:
        return "when"
    if finding.outcome == "error" or (finding.outcome == "not_applicable" and "unmet" not in values):
        return "before"
    return "judged"


def _holds(part: str, key: str, stage: str, unmet: set, failed: set, stopped: bool,
           values: Mapping[str, Any] | None = None) -> bool | None:
    if part in ("amount", "value", "due"):
        return None  # a computation, not a condition
    if part == "pays_when":
        if stage != "judged":
            return None
        return "paying condition not met" not in str((values or {}).get("reason", ""))
    if part == "when":
        if stage == "when":
            return None if stopped else (key not in unmet)
        return True
    if stage != "judged":
        return None
    if part == "require":
        return key not in failed
    return key not in unmet  # grant


def explain_rule(policy: Any, report: Any, records: Any, rule_id: str, subject: str | None = None,
                 period: str | None = None) -> list[dict[str, Any]]:
    """Explanations of one rule's findings: of `subject` (and `period`) if given, else of every
    finding of the rule that is not a pass."""
    policy.rule(rule_id)  # KeyError for an unknown rule
    chosen = [f for f in report.findings if f.rule == rule_id
              and (subject is None or f.subject == subject) and (period is None or f.period == period)
              and (subject is not None or f.outcome != "pass")]
    return [explain(policy, f, records, report.as_of) for f in chosen]


# ---------------------------------------------------------------------------------------- sentences
def render(explanation: Mapping[str, Any], lang: str = "zh") -> str:
    """An explanation as sentences."""
    e = explanation
    zh = lang == "zh"
    lines = [_rule_sentence(e, lang), _subject_sentence(e, lang), _outcome_sentence(e, lang)]
    for condition in e["conditions"]:
        lines.append(_condition_sentence(condition, lang))
    computed = {k: v for k, v in e["values"].items()
                if k not in {p["name"] for p in e["parameters"]} | {"reason", "failed", "unmet", "exception", "error", "error_code", "error_at"}}
    if computed:
        shown = ", ".join(f"{k} = {_show(v)}" for k, v in computed.items())
        lines.append(f"计算值：{shown}。" if zh else f"Computed values: {shown}.")
    if e["exception_applied"]:
        lines.append("例外路径成立，故判为通过。" if zh else "The exception path is recorded, so it passes.")
    for parameter in e["parameters"]:
        lines.append(_parameter_sentence(parameter, lang))
    citation = e["citation"]
    where = " ".join(x for x in (citation["file"], citation["section"]) if x)
    lines.append(f"依据（{where}）：「{citation['quote']}」" if zh else f"Source ({where}): “{citation['quote']}”")
    return "\n".join(line for line in lines if line)


def _rule_sentence(e: Mapping[str, Any], lang: str) -> str:
    message = e["message"]["zh" if lang == "zh" else "en"] or ""
    kind = e["kind"]
    if kind in ("requirement", "deadline", "target"):  # strength decides only what a failure is
        kind += ("，" if lang == "zh" else ", ") + STRENGTH_LABELS[lang].get(e["strength"], str(e["strength"]))
    if lang == "zh":
        return f"规则 {e['rule']}（{kind}）：{message}"
    return f"Rule {e['rule']} ({kind}): {message}"


def _subject_sentence(e: Mapping[str, Any], lang: str) -> str:
    s = e["subject"]
    kind = KIND_LABELS[lang].get(s["kind"], s["kind"])
    who = f"{s['name']}（{s['id']}）" if s["name"] and s["name"] != s["id"] else s["id"]
    communities = "、".join(f"{c['name'] or c['id']}（{c['id']}）" for c in e["communities"])
    basis = e["attribution"]["basis"]
    if s["kind"] == "community":
        communities = ""
    if lang == "zh":
        text = f"对象：{kind} {who}"
        if communities:
            text += f"，所属教共体：{communities}" + ("（按判定期间内有效的成员关系）" if basis == "membership" else "")
        elif basis != "own":
            text += "，判定期间内不属于任何教共体"
        return text + (f"；期间 {e['period']}" if e["period"] else "") + "。"
    text = f"Subject: {kind} {who}"
    if communities:
        text += f", in community {communities}" + (" (by the memberships in force in the period judged)"
                                                    if basis == "membership" else "")
    elif basis != "own":
        text += ", in no community during the period judged"
    return text + (f"; period {e['period']}" if e["period"] else "") + "."


def _outcome_sentence(e: Mapping[str, Any], lang: str) -> str:
    label = OUTCOME_LABELS[lang].get(e["outcome"], e["outcome"])
    amount = ""
    if e["amount"] is not None:
        unit = ("元" if lang == "zh" else " CNY") if e["currency"] == "CNY" else ""
        amount = f" {e['amount']}{unit}"
    detail = e["error"] or e["reason"]
    if detail:
        detail = _bilingual(str(detail), lang)
    if e["error"] and e.get("error_code"):  # what failed, and where in the policy
        detail = " ".join(str(x) for x in (e["error_code"], e.get("error_at")) if x) + f": {detail}"
    if lang == "zh":
        return f"结果：{label}{amount}" + (f"（{detail}）" if detail else "") + "。"
    return f"Outcome: {label}{amount}" + (f" ({detail})" if detail else "") + "."


def _condition_sentence(c: Mapping[str, Any], lang: str) -> str:
    if c["part"] in ("amount", "value", "due"):
        reads = ", ".join(f"{k} = {_show(v)}" for k, v in c["reads"].items())
        label = {"amount": ("金额", "amount"), "value": ("取值", "value"), "due": ("期限", "due date")}[c["part"]]
        if lang == "zh":
            return f"{label[0]}按「{c['expression']}」计算" + (f"（{reads}）" if reads else "") + "。"
        return f"The {label[1]} is `{c['expression']}`" + (f" ({reads})" if reads else "") + "."
    mark = {True: ("成立", "holds"), False: ("不成立", "FAILS"), None: ("未判定", "not judged")}[c["holds"]]
    reads = ", ".join(f"{k} = {_show(v)}" for k, v in c["reads"].items())
    label = f"{c['part']}{'.' + c['name'] if c['name'] else ''}"
    if lang == "zh":
        return f"条件 {label}「{c['expression']}」：{mark[0]}" + (f"（{reads}）" if reads else "") + "。"
    return f"Condition {label} `{c['expression']}`: {mark[1]}" + (f" ({reads})" if reads else "") + "."


def _parameter_sentence(p: Mapping[str, Any], lang: str) -> str:
    value = _show(p["value"])
    if lang == "zh":
        return f"参数 {p['name']} = {value}" + (f"；歧义与所取读法：{p['ambiguity']}" if p["ambiguity"] else "") + "。"
    return f"Parameter {p['name']} = {value}" + (f"; ambiguity, reading taken: {p['ambiguity']}"
                                                  if p["ambiguity"] else "") + "."


def _show(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    return str(value)


def _bilingual(text: str, lang: str) -> str:
    """Engine reasons are written `中文 / English`: keep the half in the language asked for."""
    if " / " not in text or not re.search(r"[\u4e00-\u9fff]", text.split(" / ", 1)[0]):
        return text  # not bilingual (`division by zero (1 / 0)`)
    zh, en = text.split(" / ", 1)
    return zh if lang == "zh" else en


def select_findings(findings: Iterable[Finding], outcomes: Iterable[str] = (), communities: Iterable[str] = (),
                    records: Any = None, as_of: dt.date | None = None) -> list[Finding]:
    """Findings restricted for display: by outcome, and by community (a unit's or person's finding
    by the community it is attributed to)."""
    outcomes, communities = set(outcomes), set(communities)
    chosen = []
    for finding in findings:
        if outcomes and finding.outcome not in outcomes:
            continue
        if communities and not communities & set(attribute(finding, records, as_of or dt.date.today()).communities):
            continue
        chosen.append(finding)
    return chosen


def restrict_rules(policy: Any, patterns: Iterable[str]) -> Any:
    """The policy with only the rules whose id matches one of the globs (`ruian.reward.*`), or None
    when none does. What is evaluated follows, and so do the counts."""
    patterns = list(patterns)
    chosen = tuple(rule for rule in policy.rules if any(fnmatch.fnmatchcase(rule.id, p) for p in patterns))
    return attrs.evolve(policy, rules=chosen) if chosen else None

