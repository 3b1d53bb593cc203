"""Rule templates declared in library YAML (tests/data/libraries/templates.yaml: a template written as
data, nothing under src/ knows it) and choice parameters that choose a rule's period, a rounding
mode and a quantifier, folded when the policy is compiled (docs/language.md §2)."""

from __future__ import annotations

import datetime as dt
import shutil
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

from policyengine import engine, load_policy

from langhelpers import HEADER, check_text  # noqa: F401 (check_text is a fixture)

DATA = Path(__file__).parent / "data"
POLICY = DATA / "templates" / "policy.yaml"


def activities(*items: tuple[str, str]) -> dict:
    return {"communities": [{"community_id": "c-1", "name": "一", "units": []}],
            "activities": [{"activity_id": f"a-{i}", "community_id": "c-1", "kind": kind, "date": day}
                           for i, (kind, day) in enumerate(items)]}


def outcomes(policy, records, as_of, rule):
    return {f.period: (f.outcome, f.values_dict.get("held")) for f in policy.evaluate(records, as_of=as_of).findings
            if f.rule == rule}


# ------------------------------------------------------------------------------------ templates


def test_an_instance_takes_six_lines():
    text = POLICY.read_text(encoding="utf-8")
    instance = text[text.index("  - id: tpl.activity.research_min"):text.index("  - id: tpl.activity.yearly")]
    assert len(instance.strip().splitlines()) == 5  # id, template, args, citation, message


def test_a_template_from_a_fixture_library_is_expanded_and_evaluated():
    policy = load_policy(POLICY)
    assert policy.rule_kinds["tpl.activity.research_min"] == ("requirement", "hard")
    rule = policy.rule("tpl.activity.research_min")
    assert (rule.per, rule.strength, rule.citation.quote) == ("semester", "hard", "每学期至少开展2次教研活动")
    # autumn 2022-2023 (Sep 1 – Jan 31): two co-research meetings, the second on the semester's last day;
    # spring (Feb 1 – Aug 31): one, plus one on Feb 1 of the next year's spring — outside it
    records = activities(("co_research", "2022-09-01"), ("co_research", "2023-01-31"),
                         ("co_research", "2023-02-01"), ("seminar", "2023-03-01"))
    found = outcomes(policy, records, dt.date(2023, 9, 1), "tpl.activity.research_min")
    assert found == {"2022-2023-1": ("pass", 2), "2022-2023-2": ("violation", 1),
                     "2023-2024-1": ("not_applicable", 0)}  # open on as_of: not judged yet
    finding = policy.evaluate(records, as_of=dt.date(2023, 9, 1)).select(rule="tpl.activity.research_min")[0]
    assert finding.values_dict["minimum"] == 2 and finding.message == "教研活动不足2次"


def test_an_instance_may_set_its_strength_and_its_period_by_a_choice_parameter():
    policy = load_policy(POLICY)
    rule = policy.rule("tpl.activity.yearly_lessons_min")
    assert (rule.per, rule.strength) == ("school_year", "soft")
    records = activities(("showcase", "2022-10-01"), ("open_day", "2023-05-01"), ("co_research", "2023-06-01"))
    found = outcomes(policy, records, dt.date(2023, 9, 1), "tpl.activity.yearly_lessons_min")
    assert found == {"2022-2023": ("warning", 2), "2023-2024": ("not_applicable", 0)}  # 2 of 3, soft → warning
    finding = policy.evaluate(records, as_of=dt.date(2023, 9, 1)).select(rule="tpl.activity.yearly_lessons_min")[0]
    assert finding.parameters == (("research_period", "school_year"),)
    per_semester = load_policy(POLICY, parameters={"research_period": "semester"})
    assert per_semester.rule("tpl.activity.yearly_lessons_min").per == "semester"
    assert set(outcomes(per_semester, records, dt.date(2023, 9, 1), "tpl.activity.yearly_lessons_min")) == {
        "2022-2023-1", "2022-2023-2", "2023-2024-1"}


def instance_policy(tmp_path: Path, instance: str) -> Path:
    shutil.copy(DATA / "libraries" / "templates.yaml", tmp_path / "templates.yaml")
    path = tmp_path / "p.yaml"
    path.write_text(HEADER + "imports: [templates.yaml]\nrules:\n" + textwrap.indent(textwrap.dedent(instance), "  "),
                    encoding="utf-8")
    return path


@pytest.mark.parametrize("instance, expected", [
    # an unknown template; an unknown argument; a missing argument
    ("- id: t.r\n  template: per_period_minimmum\n  args: {n: \"1\"}\n  citation: {file: t.txt, quote: 引文}\n",
     [("p.yaml", 8, 15, "PE418")]),
    ("- id: t.r\n  template: per_period_minimum\n  args: {kinds: \"[]\", n: \"1\", m: \"2\"}\n"
     "  citation: {file: t.txt, quote: 引文}\n", [("p.yaml", 9, 36, "PE418")]),
    ("- id: t.r\n  template: per_period_minimum\n  args: {n: \"1\"}\n  citation: {file: t.txt, quote: 引文}\n",
     [("p.yaml", 7, 5, "PE418")]),
    # arguments are typed by the template, enum values included
    ("- id: t.r\n  template: per_period_minimum\n  args: {kinds: \"['co_research']\", n: \"'two'\"}\n"
     "  citation: {file: t.txt, quote: 引文}\n", [("p.yaml", 9, 42, "PE305")]),
    ("- id: t.r\n  template: per_period_minimum\n  args: {kinds: \"['co_reserch']\", n: \"2\"}\n"
     "  citation: {file: t.txt, quote: 引文}\n", [("p.yaml", 9, 21, "PE304")]),
    # the instance needs its citation; keys a template instance does not take
    ("- id: t.r\n  template: per_period_minimum\n  args: {kinds: \"[]\", n: \"1\"}\n", [("p.yaml", 7, 5, "PE405")]),
    ("- id: t.r\n  template: per_period_minimum\n  args: {kinds: \"[]\", n: \"1\"}\n  require: \"true\"\n"
     "  citation: {file: t.txt, quote: 引文}\n", [("p.yaml", 10, 5, "PE401")]),
])
def test_instance_errors(tmp_path, instance, expected):
    diagnostics = engine.check_file(instance_policy(tmp_path, instance))
    assert [(Path(d.span.file).name, d.span.line, d.span.col, d.code) for d in diagnostics] == expected


def test_a_template_is_checked_where_it_is_defined_even_unused(tmp_path):
    library = tmp_path / "lib.yaml"
    library.write_text(textwrap.dedent("""\
        format: policyengine-library/1
        templates:
          broken:
            params: {n: number, Bad: number}
            rule: {kind: requirement, strength: hard, subject: community, require: "n > 0"}
          typo:
            params: {n: number}
            rule: {kind: requirement, strength: hard, subject: community, require: "count(community.unitz) > n"}
          no_kind:
            rule: {strength: hard, subject: community, require: "true", citation: {file: t.txt, quote: q}}
          reserved:
            params: {community: number}
            rule: {kind: requirement, strength: hard, subject: community, require: "true"}
        """), encoding="utf-8")
    assert [(d.span.line, d.span.col, d.code) for d in engine.check_file(library)] == [
        (4, 25, "PE207"), (8, 93, "PE202"), (10, 11, "PE402"), (10, 65, "PE401"), (11, 3, "PE207")]


# ------------------------------------------------------------------------------------ choice parameters

CHOICES = """\
parameters:
  mode: {value: "'half_up'", choices: [half_up, down]}
  quantifier: {value: "'all'", choices: [all, any]}
  counting: {value: "'stock'", choices: [stock, flow]}
rules:
  - id: t.share
    kind: amount
    subject: community
    amount: "round(1000 yuan / 3 * count(community.units), 2, mode)"
    citation: {file: t.txt, quote: 引文}
  - id: t.leads
    kind: requirement
    strength: hard
    subject: community
    require: "quantifier(m.role == 'lead' for m in community.units)"
    values: {n: "if counting == 'stock' then count(community.units) else 0"}
    citation: {file: t.txt, quote: 引文}
"""

UNITS = {"communities": [{"community_id": "c-1", "name": "一", "units": [
    {"unit_id": "u-1", "role": "lead"}, {"unit_id": "u-2", "role": "member"}]}],
    "units": [{"unit_id": "u-1", "name": "甲"}, {"unit_id": "u-2", "name": "乙"}]}


def test_choice_parameters_choose_rounding_and_quantifier_folded_at_compile_time(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(HEADER + CHOICES, encoding="utf-8")
    policy = load_policy(path)
    for rule in policy.rules:  # the choices are constants in the generated code: no test of the parameter
        for name, function in (*(rule.require or ()), ("amount", rule.amount), *rule.values):
            if function is not None:
                source = function.__policyengine_source__
                assert "'half_up'" not in source and "'all'" not in source and "'stock'" not in source
    report = policy.evaluate(UNITS, as_of=dt.date(2022, 1, 1))
    leads, share = report.findings
    assert share.amount == Decimal("666.67")        # 2000 / 3 = 666.666…, half_up
    assert leads.outcome == "violation" and leads.values_dict["n"] == 2   # not every unit is a lead
    assert dict(leads.parameters) == {"counting": "stock", "quantifier": "all"}
    other = load_policy(path, parameters={"mode": "down", "quantifier": "any", "counting": "flow"})
    leads, share = other.evaluate(UNITS, as_of=dt.date(2022, 1, 1)).findings
    assert share.amount == Decimal("666.66") and leads.outcome == "pass" and leads.values_dict["n"] == 0


@pytest.mark.parametrize("parameters, expected", [
    ("  mode: {value: \"'nearest'\"}\n", "PE419"),
    ("  quantifier: {value: \"'most'\"}\n", "PE419"),
])
def test_a_choice_outside_what_it_chooses_is_an_error(check_text, parameters, expected):
    text = HEADER + "parameters:\n" + parameters + CHOICES.replace("parameters:\n", "").replace(
        "  mode: {value: \"'half_up'\", choices: [half_up, down]}\n", "" if "mode" in parameters else
        "  mode: {value: \"'half_up'\", choices: [half_up, down]}\n").replace(
        "  quantifier: {value: \"'all'\", choices: [all, any]}\n", "" if "quantifier" in parameters else
        "  quantifier: {value: \"'all'\", choices: [all, any]}\n")
    assert [x.split()[-1] for x in check_text(text)] == [expected]


def test_per_names_a_declared_parameter_or_a_period(check_text):
    rule = ("rules:\n  - id: t.r\n    kind: requirement\n    strength: hard\n    subject: community\n"
            "    per: {per}\n    require: \"true\"\n    citation: {{file: t.txt, quote: 引文}}\n")
    assert check_text(HEADER + rule.format(per="weekly")) == ["10:10: PE406"]
    with_parameter = HEADER + "parameters:\n  p: {value: \"'calendar_year'\"}\n" + rule.format(per="p")
    assert check_text(with_parameter) == []


def test_a_library_template_and_an_instance_are_read_with_their_positions():
    from policyengine.policyfile import read_library_file, read_policy_file

    library, problems = read_library_file("lib.yaml", (DATA / "libraries" / "templates.yaml").read_text(encoding="utf-8"))
    assert problems == []
    (template,) = library.templates
    assert template.name == "per_period_minimum" and template.params == ("kinds", "n")
    assert [s.value for s in template.param_types] == ["list<enum:activity_kind>", "number"]
    assert template.rule["kind"].value == "requirement" and (template.span.line, template.span.col) == (10, 3)
    model, problems = read_policy_file("p.yaml", POLICY.read_text(encoding="utf-8"))
    assert problems == [] and model.rules == ()
    first, second = model.instances
    assert (first.id, first.template, sorted(first.args)) == ("tpl.activity.research_min", "per_period_minimum",
                                                              ["kinds", "n"])
    assert second.item["per"].value == "research_period"  # a parameter's name, resolved when elaborated
