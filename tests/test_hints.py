"""Messages that teach (#14.7): unknown names and fields suggest the nearest names and the navigation that
reaches them; YAML syntax errors say what to do. Both in zh and en."""

from __future__ import annotations

import pytest

from policyengine import engine
from policyengine.diagnostics import Diagnostic
from policyengine.source import Span

from langhelpers import HEADER, requirement


def diagnostics(tmp_path, text: str, subject: str = "community") -> list[Diagnostic]:
    path = tmp_path / "p.yaml"
    path.write_text(text.replace("subject: community", f"subject: {subject}"), encoding="utf-8")
    return engine.check_file(path)


def only(tmp_path, body: str, subject: str = "community") -> Diagnostic:
    (diagnostic,) = diagnostics(tmp_path, HEADER + "rules:\n" + requirement(body), subject)
    return diagnostic


def test_unknown_field_suggests_the_nearest_fields(tmp_path):
    d = only(tmp_path, "\"community.modle_type == 'fusion'\"")
    assert d.code == "PE202" and (d.span.line, d.span.col) == (10, 25)
    assert d.message("en").startswith("community has no field modle_type (did you mean model_type")
    assert "是否想写 model_type" in d.message("zh")


def test_unknown_field_names_the_navigation_that_reaches_it(tmp_path):
    # a membership has no ownership; its unit does
    d = only(tmp_path, "\"membership.ownership == 'city'\"", subject="membership")
    assert d.code == "PE202"
    assert "reachable as membership.unit.ownership" in d.message("en")
    assert "可经由 membership.unit.ownership 访问" in d.message("zh")


def test_unknown_field_through_a_list_names_the_iteration(tmp_path):
    d = only(tmp_path, "\"community.ownership == 'city'\"")
    assert "x.unit.ownership for x in community.units" in d.message("en")  # among the two simplest routes


def test_unknown_name_that_is_a_field_of_the_subject(tmp_path):
    d = only(tmp_path, "\"model_type == 'fusion'\"")
    assert d.code == "PE201"
    assert "reachable as community.model_type" in d.message("en")


def test_unknown_name_suggests_parameters_and_definitions(tmp_path):
    text = HEADER + "parameters:\n  max_units: {value: \"6\"}\nrules:\n" + requirement("\"count(community.units) <= max_unit\"")
    (d,) = diagnostics(tmp_path, text)
    assert d.code == "PE201" and "did you mean max_units" in d.message("en")


def test_unknown_function_suggests_the_nearest_function(tmp_path):
    d = only(tmp_path, "\"countt(community.units) > 0\"")
    assert d.code == "PE203" and "did you mean count" in d.message("en")


def test_nothing_near_adds_nothing(tmp_path):
    d = only(tmp_path, "\"community.zzzzqqq == 1\"")
    assert d.message("en") == "community has no field zzzzqqq"


@pytest.mark.parametrize("yaml_text, advice_en, advice_zh", [
    ("rules:\n  - id: a\n    quote: 甲: 乙\n", "quote the whole value, e.g. quote: \"a: b\"", "请给整个值加引号"),
    ("rules:\n\t- id: a\n", "indent with spaces", "改用空格"),
    ("title: \"未闭合\n", "is not closed", "没有闭合"),
    ("rules: [a, b\n", "lacks a comma or its closing bracket", "缺少逗号或右方括号"),
    ("title: \"a\\qb\"\n", "use single quotes", "改用单引号"),
])
def test_yaml_syntax_errors_say_what_to_do(tmp_path, yaml_text, advice_en, advice_zh):
    path = tmp_path / "p.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    (d,) = engine.check_file(path)
    assert d.code == "PE100"
    assert advice_en in d.message("en") and advice_zh in d.message("zh")


def test_an_alias_in_a_policy_file_says_to_write_the_value_out(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("title: *x\n", encoding="utf-8")
    (d,) = engine.check_file(path)
    assert (d.code, d.span.line, d.span.col) == ("PE504", 1, 8)
    assert "write the value out" in d.message("en")


def test_a_yaml_problem_without_known_advice_is_shown_as_is():
    d = Diagnostic("PE100", Span("f", 1, 1), {"problem": "something new"})
    assert d.message("en") == "YAML syntax error: something new"
