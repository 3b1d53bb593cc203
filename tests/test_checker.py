"""Checker: names, fields, functions, types, enum literals, and definitions (arity, recursion,
lexical scoping, checked where used). Positions are `line:col` in the policy file, counted by hand."""

from __future__ import annotations

import pytest

from policyengine import PolicyError, compile_expression

from langhelpers import HEADER, check_text, requirement  # noqa: F401 (check_text is a fixture)


def codes(text: str, record_type="community") -> list[tuple[str, int]]:
    with pytest.raises(PolicyError) as caught:
        compile_expression(text, record_type)
    return [(d.code, d.span.col) for d in caught.value.diagnostics]


def with_definitions(definitions: str, body: str) -> str:
    """Definitions start on line 6; the first rule's `require:` is on line 6 + (number of definition lines) + 4."""
    return HEADER + "definitions:\n" + definitions + "rules:\n" + requirement(body)


# ------------------------------------------------------------------------------------ names, fields


@pytest.mark.parametrize("text, expected", [
    ("communty.name == ''", [("PE201", 1)]),
    ("record.nmae == ''", [("PE202", 8)]),
    ("record.units[0].unit.nmae == ''", [("PE202", 22)]),
    ("record.model_type.value == ''", [("PE202", 19)]),
    ("cnt(record.units) > 1", [("PE203", 1)]),
    ("ceil(1, 2) > 1", [("PE204", 1)]),
    ("years_between(record.established_on) > 1", [("PE204", 1)]),
    ("record.established_on.week > 1", [("PE202", 23)]),
    ("school_year(as_of).month", [("PE201", 13)]),   # no as_of in a bare expression
])
def test_unknown_names_fields_functions_and_arity(text, expected):
    assert codes(text) == expected


def test_record_fields_and_navigations_resolve():
    f = compile_expression("count(m for m in record.units where m.role == 'lead' and m.unit.is_quality) >= 0",
                           "community")
    assert callable(f)


@pytest.mark.parametrize("text, expected", [
    ("record.established_on + 3万元", [("PE301", 23)]),          # money + date
    ("record.name == 1", [("PE302", 13)]),                        # string vs number
    ("record.batch == '1'", [("PE302", 14)]),
    ("sum(b.amount_yuan for b in record.budgets) > 5", [("PE302", 44)]),  # money vs number
    ("if record.batch then 1 else 2", [("PE303", 11)]),           # non-bool condition
    ("record.pilot and record.name", [("PE303", 25)]),
    ("record.model_type == 'fuson'", [("PE304", 22)]),
    ("record.model_type != '融合型'", [("PE304", 22)]),            # aliases are for records, not policies
    ("record.model_type in ['fusion', 'co-build']", [("PE304", 33)]),
    ("record.units[0].role == 'leader'", [("PE304", 25)]),
    ("record.model_type < 'tight'", []),                          # enums compare with enums (no error)
])
def test_type_errors(text, expected):
    if expected:
        assert codes(text) == expected
    else:
        compile_expression(text, "community")


def test_several_type_errors_of_one_expression_are_all_reported():
    assert codes("record.name == 1 and record.model_type == 'fuson'") == [("PE302", 13), ("PE304", 43)]


# ------------------------------------------------------------------------------------- definitions


def test_definition_arity(check_text):
    text = with_definitions(
        "  role_count(role): \"count(m for m in community.units where m.role == role)\"\n"   # 6
        "  leads: \"role_count('lead')\"\n",                                                  # 7
        "role_count() + role_count('lead', 'partner') + leads(1) + role_count > 0")          # 13
    # require: is at column 5 of line 13; the expression starts at column 14
    assert check_text(text) == ["13:14: PE204", "13:29: PE204", "13:61: PE204", "13:72: PE204"]


def test_definition_arguments_are_type_checked_in_the_body(check_text):
    text = with_definitions(
        "  role_count(role): \"count(m for m in community.units where m.role == role)\"\n",  # 6
        "role_count(3) > 0")                                                               # 12
    # the comparison inside the definition is where number meets the enum role
    assert check_text(text) == ["6:68: PE302"]


def test_recursive_definitions_are_errors(check_text):
    text = with_definitions(
        "  a: \"b + 1\"\n"              # 6
        "  b: \"a + 1\"\n"              # 7
        "  f(n): \"f(n) + 1\"\n",       # 8
        "a > 0 and f(1) > 0")           # 14
    assert check_text(text) == ["7:7: PE205", "8:10: PE205"]


def test_definitions_are_lexically_scoped(check_text):
    # `big` mentions x: the comprehension variable of the rule that uses it is not visible inside it
    text = with_definitions(
        "  big: \"x.role == 'lead'\"\n"            # 6
        "  is_lead(x): \"x.role == 'lead'\"\n",    # 7
        "count(x for x in community.units where big) > 0 and count(m for m in community.units where is_lead(m)) > 0")
    assert check_text(text) == ["6:9: PE201"]


def test_definition_parameters_shadow_subject_variables(check_text):
    # inside `named(community)`, `community` is the argument, not the rule's subject
    text = with_definitions(
        "  named(community): \"len(community) > 0\"\n",
        "named(community.name)")
    assert check_text(text) == []


def test_definitions_are_checked_where_used(check_text):
    # `unit_quality` names `unit`, which exists for unit rules only: an error only in a community rule
    text = with_definitions("  unit_quality: \"unit.is_quality\"\n", "true") + (
        "  - id: t.u\n    kind: requirement\n    strength: hard\n    subject: unit\n"
        "    require: \"unit_quality\"\n    citation: {file: t.txt, quote: 引文}\n"
        "  - id: t.c\n    kind: requirement\n    strength: hard\n    subject: community\n"
        "    require: \"unit_quality\"\n    citation: {file: t.txt, quote: 引文}\n")
    assert check_text(text) == ["6:18: PE201"]


def test_an_error_inside_a_definition_is_reported_once(check_text):
    text = with_definitions("  bad: \"community.nme == ''\"\n",
                            "bad and bad") + requirement("bad", "t.other")
    assert check_text(text) == ["6:19: PE202"]


def test_parameters_and_globals(check_text):
    text = HEADER + "parameters:\n  cap: {value: \"6\", type: number}\nrules:\n" + requirement(
        "count(community.units) <= cap and as_of >= 2021-09-01 and count(units) >= 0")
    assert check_text(text) == []
    text = HEADER + "parameters:\n  cap: {value: \"community.batch\"}\nrules:\n" + requirement("true")
    assert check_text(text) == ["6:17: PE201"]  # parameter values are literals, no record fields
