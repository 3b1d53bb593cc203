"""Rule-local `let:` (docs/language.md §2 "let") and the engine's own fields of a finding: what the
engine reports (reason, failed and unmet conditions, parameters in force) is never an author's value."""

from __future__ import annotations

import datetime as dt
import json
import textwrap
from pathlib import Path

import pytest

from policyengine import Report, load_policy
from policyengine.policyfile import read_policy_file

from langhelpers import HEADER, check_text  # noqa: F401 (check_text is a fixture)

RECORDS = {
    "communities": [
        {"community_id": "c-1", "name": "一", "units": [{"unit_id": "u-1", "role": "lead"},
                                                      {"unit_id": "u-2", "role": "member"},
                                                      {"unit_id": "u-3", "role": "member"}]},
        {"community_id": "c-2", "name": "二", "units": [{"unit_id": "u-1", "role": "lead"}]},
    ],
    "units": [{"unit_id": "u-1", "name": "甲"}, {"unit_id": "u-2", "name": "乙"}, {"unit_id": "u-3", "name": "丙"}],
}
AS_OF = dt.date(2022, 1, 1)


def rule(body: str, kind: str = "requirement") -> str:
    """A rule whose lines after `subject:` are `body` (indented by 4); it starts on line 8."""
    strength = "    strength: hard\n" if kind == "requirement" else ""
    return (HEADER + "parameters:\n  cap: {value: \"2\"}\nrules:\n"
            f"  - id: t.r\n    kind: {kind}\n{strength}    subject: community\n"
            + textwrap.indent(textwrap.dedent(body), "    ")
            + "    citation: {file: t.txt, quote: 引文}\n")


LET = """\
let:
  members: "[m for m in community.units where m.role == 'member']"
  n_members: "count(members)"
"""


def load(tmp_path: Path, text: str):
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    return load_policy(path)


def test_let_is_read_in_order(tmp_path):
    model, diagnostics = read_policy_file("p.yaml", rule(LET + "require: \"n_members <= cap\"\n"))
    assert diagnostics == [] and list(model.rules[0].lets) == ["members", "n_members"]


def test_let_names_are_visible_to_when_require_values_and_amount(tmp_path):
    policy = load(tmp_path, rule(LET + "when: \"n_members > 0\"\nrequire: \"n_members <= cap\"\n"
                                       "values: {members: \"n_members\"}\n"))
    report = policy.evaluate(RECORDS, as_of=AS_OF)
    first, second = report.findings
    assert (first.outcome, first.values_dict["members"]) == ("pass", 2)   # 2 members ≤ cap 2
    assert second.outcome == "not_applicable" and second.unmet == ("n_members > 0",)
    paid = load(tmp_path, rule(LET + "amount: \"n_members * 100 yuan\"\nvalues: {n: \"n_members\"}\n", kind="amount"))
    assert [(f.amount, f.values_dict["n"]) for f in paid.evaluate(RECORDS, as_of=AS_OF).findings] == [
        (pytest.approx(200), 2), (0, 0)]


def test_let_is_checked_once_and_errors_point_into_it(check_text):
    text = rule("let:\n  n: \"count(community.unitz)\"\nrequire: \"n <= cap\"\n")
    assert check_text(text) == ["13:27: PE202"]  # and no cascade where `n` is used


@pytest.mark.parametrize("let, expected", [
    ("  community: \"1\"\n", ["13:18: PE206"]),      # a subject variable
    ("  cap: \"1\"\n", ["13:12: PE206"]),            # a parameter
    ("  Big: \"1\"\n", ["13:7: PE207"]),             # the identifier rule
    ("  count: \"1\"\n", ["13:14: PE207"]),          # a built-in
    ("  unused: \"1\"\n", ["13:15: PE209"]),         # a warning
    ("  a: \"b\"\n  b: \"1\"\n", ["13:11: PE201", "14:10: PE209"]),   # in order: `a` cannot see `b`
])
def test_let_names(check_text, let, expected):
    assert check_text(rule("let:\n" + let + "require: \"true\"\n")) == expected


@pytest.mark.parametrize("name", ["reason", "failed", "unmet", "due", "exception", "error", "absent", "value", "cap"])
def test_author_values_cannot_take_the_engines_names(check_text, name):
    text = rule(f"require: \"count(community.units) <= cap\"\nvalues: {{{name}: \"1\"}}\n")
    assert check_text(text) == ["13:{}: PE417".format(16 + len(name))]


def test_engine_facts_live_in_their_own_fields(tmp_path):
    policy = load(tmp_path, rule("when: {has_members: \"count(community.units) > 1\"}\n"
                                 "require: {small: \"count(community.units) <= cap\", led: \"count(community.units) > 5\"}\n"
                                 "values: {units: \"count(community.units)\"}\n"))
    first, second = policy.evaluate(RECORDS, as_of=AS_OF).findings
    assert first.outcome == "violation" and first.failed == ("led", "small") and first.reason is None
    assert first.parameters == (("cap", 2),) and first.author_values == {"units": 3}
    assert first.values_dict == {"cap": 2, "failed": ("led", "small"), "units": 3}
    assert second.outcome == "not_applicable" and second.unmet == ("has_members",)
    assert "when" in second.reason and second.failed is None
    report = policy.evaluate(RECORDS, as_of=AS_OF)
    data = json.loads(json.dumps(report.to_json(), ensure_ascii=False))
    assert data["rules"]["t.r"]["parameters"] == {"cap": 2}  # schema 2: the parameters in force, per rule
    assert data["findings"][0]["values"]["failed"] == ["led", "small"]
    assert Report.from_json(data) == report
