"""Parser: every construct and literal of docs/language.md §1, precedence, and file positions.

Expected trees and values are written from the language spec; positions are counted by hand
(1-based lines and columns, in code points) from the YAML text shown in each test.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from policyengine import nodes as n
from policyengine import parser
from policyengine.runtime import Duration

from langhelpers import HEADER, check_text, requirement  # noqa: F401 (check_text is a fixture)


def parse(text: str) -> n.Node:
    diagnostics: list = []
    node = parser.parse(parser.expression_scalar(text), diagnostics)
    assert not diagnostics, [d.render("en") for d in diagnostics]
    return node


def errors(text: str) -> list[str]:
    diagnostics: list = []
    assert parser.parse(parser.expression_scalar(text), diagnostics) is None
    return [f"{d.span.line}:{d.span.col}: {d.code}" for d in diagnostics]


def sexp(node: n.Node) -> str:
    """A compact rendering of a tree, to state precedence and associativity."""
    match node:
        case n.Literal(value=v, kind=k):
            return f"{v}" if k in ("number", "bool") else f"{k}:{v}"
        case n.Name(name=name):
            return name
        case n.Field(target=t, name=name):
            return f"{sexp(t)}.{name}"
        case n.Index(target=t, key=k):
            return f"{sexp(t)}[{sexp(k)}]"
        case n.Call(function=f, args=args):
            return f"{f}(" + " ".join(sexp(a) for a in args) + ")"
        case n.Aggregate(function=f, element=e, var=v, source=s, condition=c):
            where = f" where {sexp(c)}" if c is not None else ""
            return f"{f}({sexp(e)} for {v} in {sexp(s)}{where})"
        case n.ListLiteral(items=items):
            return "[" + " ".join(sexp(i) for i in items) + "]"
        case n.Unary(op=op, operand=o):
            return f"({op} {sexp(o)})"
        case n.Binary(op=op, left=l, right=r):
            return f"({op} {sexp(l)} {sexp(r)})"
        case n.Between(value=v, low=lo, high=hi):
            return f"(between {sexp(v)} {sexp(lo)} {sexp(hi)})"
        case n.Conditional(condition=c, then=t, otherwise=o):
            return f"(if {sexp(c)} {sexp(t)} {sexp(o)})"
    raise AssertionError(node)


# ---------------------------------------------------------------------------------------- literals


@pytest.mark.parametrize("text, value", [
    ("3", 3), ("0", 0), ("0.5", Decimal("0.5")), ("72.4", Decimal("72.4")),
    ("10%", Decimal("0.10")), ("5%", Decimal("0.05")), ("12.5%", Decimal("0.125")), ("100%", Decimal(1)),
])
def test_number_and_percentage_literals_are_exact(text, value):
    node = parse(text)
    assert isinstance(node, n.Literal) and node.kind == "number"
    assert node.value == value
    assert not isinstance(node.value, float)


@pytest.mark.parametrize("text, yuan", [
    ("10000 yuan", 10000), ("10000yuan", 10000), ("10000元", 10000), ("10000 元", 10000),
    ("3万元", 30000), ("3万", 30000), ("5000万元", 50_000_000), ("1.5万元", 15000), ("0.01 yuan", Decimal("0.01")),
    ("1 yuan", 1),
])
def test_money_literals(text, yuan):
    node = parse(text)
    assert node.kind == "money"
    assert node.value == Decimal(yuan)
    assert isinstance(node.value, Decimal)


@pytest.mark.parametrize("text, duration", [
    ("3 years", Duration(months=36)), ("1 year", Duration(months=12)), ("1 month", Duration(months=1)),
    ("6 months", Duration(months=6)), ("200 days", Duration(days=200)), ("1 day", Duration(days=1)),
])
def test_duration_literals(text, duration):
    node = parse(text)
    assert node.kind == "duration" and node.value == duration


def test_fractional_duration_is_an_invalid_literal_not_truncated():
    # durations count whole units: "1.5 years" must not silently become 1 year
    from policyengine import compile_expression, PolicyError

    with pytest.raises(PolicyError) as caught:
        compile_expression("2021-09-01 + 1.5 years", {})
    assert [(d.code, d.span.col) for d in caught.value.diagnostics] == [("PE308", 14)]


def test_date_literals():
    assert parse("2021-09-01").value == dt.date(2021, 9, 1)
    assert parse("2024-02-29").value == dt.date(2024, 2, 29)
    # a date that does not exist is reported (by the checker) as an invalid literal, not parsed as arithmetic
    node = parse("2023-02-29")
    assert isinstance(node, n.Call) and node.args[0].value == "2023-02-29"


@pytest.mark.parametrize("text, value", [
    ('"融合型"', "融合型"), ("'lead'", "lead"), ('""', ""), ("'中文 与 English'", "中文 与 English"),
    (r'"他说\"好\""', '他说"好"'), (r"'it\'s'", "it's"), (r'"a\\b"', "a\\b"), (r'"a\nb"', "a\nb"),
    (r'"a\tb"', "a\tb"), ("'单引号里的\"双引号\"'", '单引号里的"双引号"'),
])
def test_string_literals_with_chinese_and_escapes(text, value):
    node = parse(text)
    assert node.kind == "string" and node.value == value


def test_booleans_and_lists():
    assert parse("true").value is True and parse("false").value is False
    assert sexp(parse("[]")) == "[]"
    assert sexp(parse('["primary", "junior"]')) == "[string:primary string:junior]"
    assert sexp(parse("[1, 2,]")) == "[1 2]"  # a trailing comma is allowed


# ----------------------------------------------------------------------------------------- constructs


@pytest.mark.parametrize("text, tree", [
    ("community.model_type", "community.model_type"),
    ("m.unit.urbanity", "m.unit.urbanity"),
    ("unit.graduating_class_count[2021]", "unit.graduating_class_count[2021]"),
    ("pool.contributions[unit.unit_id]", "pool.contributions[unit.unit_id]"),
    ("a.b[c].d", "a.b[c].d"),
    ("f()", "f()"),
    ("round(x, 2, half_up)", "round(x 2 half_up)"),
    ("max(1, 2,)", "max(1 2)"),
    ("count(m for m in community.units where m.role == 'lead')",
     "count(m for m in community.units where (== m.role string:lead))"),
    ("sum(a.days for a in person.activities)", "sum(a.days for a in person.activities)"),
    ("[e * 2 for e in xs where e > 1]", "list((* e 2) for e in xs where (> e 1))"),
    ("first(x for x in xs)", "first(x for x in xs)"),
    ("has(x.f)", "has(x.f)"),
    ("has(x.m[k])", "has(x.m[k])"),
    ("x in xs", "(in x xs)"),
    ("x not in xs", "(not_in x xs)"),
    ("x between a and b", "(between x a b)"),
    ("if c then a else b", "(if c a b)"),
    ("not a", "(not a)"),
    ("-x", "(- x)"),
    ("- - 1", "(- (- 1))"),
    # names that merely start with a keyword are names
    ("android", "android"), ("notes", "notes"), ("index", "index"), ("order", "order"), ("iffy", "iffy"),
    ("truelove", "truelove"), ("between_count", "between_count"),
])
def test_constructs(text, tree):
    assert sexp(parse(text)) == tree


@pytest.mark.parametrize("text, tree", [
    ("1 + 2 * 3", "(+ 1 (* 2 3))"),
    ("(1 + 2) * 3", "(* (+ 1 2) 3)"),
    ("2 - 1 - 1", "(- (- 2 1) 1)"),  # left associative
    ("8 / 2 / 2", "(/ (/ 8 2) 2)"),
    ("-2 * 3", "(* (- 2) 3)"),
    ("-x.f", "(- x.f)"),  # postfix binds tighter than negation
    ("a + b == c * d", "(== (+ a b) (* c d))"),
    ("not a == b", "(not (== a b))"),  # not is below comparison
    ("not a and b", "(and (not a) b)"),
    ("a or b and c", "(or a (and b c))"),
    ("a and b or c", "(or (and a b) c)"),
    ("a or b or c", "(or (or a b) c)"),
    ("x in xs and y", "(and (in x xs) y)"),
    ("x + 1 in xs", "(in (+ x 1) xs)"),
    ("x between 1 + 1 and 3 and y", "(and (between x (+ 1 1) 3) y)"),
    ("if a then b else c or d", "(if a b (or c d))"),
    ("if a then b else if c then d else e", "(if a b (if c d e))"),
    ("if a or b then 1 else 2", "(if (or a b) 1 2)"),
    ("a.b[0] * -c", "(* a.b[0] (- c))"),
])
def test_precedence_and_associativity(text, tree):
    assert sexp(parse(text)) == tree


@pytest.mark.parametrize("text, expected", [
    ("1 < 2 < 3", ["1:7: PE101"]),  # comparisons are not chained
    ("a or if b then c else d", ["1:6: PE101"]),  # a conditional needs parentheses inside an operator
    ("1 + * 2", ["1:5: PE101"]),
    ("1 +", ["1:3: PE103"]),
    ("count(x for x in xs", ["1:19: PE103"]),
    ("1 Year", ["1:3: PE101"]),  # units are lower case
    ("3 万 元", ["1:5: PE101"]),
    ("1e5", ["1:2: PE101"]),  # no exponent notation
    ("a $ b", ["1:3: PE102"]),
    ("中文", ["1:1: PE102"]),  # names are ASCII; Chinese only inside strings
    ('"unterminated', ["1:1: PE102"]),
])
def test_syntax_errors_in_bare_expressions(text, expected):
    assert errors(text) == expected


# ------------------------------------------------------------------------------------- positions


def test_node_spans_point_at_the_operator_and_names():
    node = parse("community.name == '教共体' and x")
    assert (node.span.line, node.span.col) == (1, 1)
    compare = node.left
    assert (compare.span.col, compare.span.end_col) == (16, 18)  # the `==`
    assert compare.left.span.col == 11  # the field name `name`
    assert node.right.span.col == 29  # after 5 Chinese characters, counted as one column each


@pytest.mark.parametrize("body, line_col", [
    # a literal block: the error is on the second line of the block
    ("|\n      count(community.units) >= 1 and\n        community.name == \"教共体\" and )", "12:37"),
    # keep/strip chomping and blank lines inside the block
    ("|-\n      1 +\n\n      2 +  \n      )", "14:7"),
    # an explicit indentation indicator: the block's content starts two columns further in
    ("|2\n        1 +\n      3 )", "12:9"),
    # a folded block: line breaks become spaces, more-indented lines stay as they are
    (">\n      count(community.units) >= 1\n      and 1 + * 2", "12:15"),
    (">-\n      1 +\n        2 +\n      3 )\n      + 4", "13:9"),
    # a single-quoted scalar with a doubled quote ('') before Chinese text
    ("'community.name == ''中文'' and $'", "10:44"),
    # a double-quoted scalar with escapes (\" counts two columns in the file, one character in the value)
    ('"community.name == \\"中文\\" and \\t ?"', "10:47"),
    # a \\u escape before the error: six columns in the file for one character
    ('"\\"a\\u4e2d\\" == \\"中\\" and )"', "10:40"),
    # a double-quoted scalar over several lines, with an empty line (a line break in the value)
    ('"1 +\n\n       2 ) "', "12:10"),
    # an escaped line break in a double-quoted scalar
    ('"line1 \\\n      and )"', "11:11"),
    # a plain scalar continued on the next line
    ("count(community.units) >=\n      1 and )", "11:13"),
    # a plain scalar with Chinese text before the error on the same line
    ("community.name == \"教育共同体\" and @", "10:44"),
])
def test_syntax_error_positions_in_yaml_scalars(check_text, body, line_col):
    text = HEADER + "rules:\n" + requirement(body)
    found = check_text(text)
    assert len(found) == 1, found
    assert found[0].startswith(line_col + ": PE10"), (found, text.splitlines()[9:14])


def test_file_line_col_code_rendering(tmp_path):
    from policyengine import engine

    path = tmp_path / "中文名.yaml"
    path.write_text(HEADER + "rules:\n" + requirement("\"'教共体' == )\""), encoding="utf-8")
    [diagnostic] = engine.check_file(path)
    assert diagnostic.render("en").startswith(f"{path}:10:24: PE101 ")


def test_incomplete_expression_points_at_its_last_character_in_every_scalar_style(check_text):
    # the same incomplete expression, written plain and as a block: the position is the `*`
    plain = check_text(HEADER + "rules:\n" + requirement("2 *"))
    block = check_text(HEADER + "rules:\n" + requirement("|\n      1 +\n      2 *\n"))
    folded = check_text(HEADER + "rules:\n" + requirement(">\n      1 +\n      2 *\n\n"))
    assert plain == ["10:16: PE103"]
    assert block == ["12:9: PE103"]
    assert folded == ["12:9: PE103"]


def test_errors_in_definitions_and_parameters_point_into_them(check_text):
    text = HEADER + (
        "parameters:\n"                       # 5
        "  cap:\n"                            # 6
        "    value: \"6 +\"\n"                # 7
        "definitions:\n"                      # 8
        "  leads: |\n"                        # 9
        "    [m for m in community.units\n"   # 10
        "     where m.role == '牵头' ]]\n"     # 11
        "rules:\n" + requirement("true"))
    assert check_text(text) == ["7:15: PE103", "11:28: PE101"]


# ----------------------------------------------------------------------------------------- bounds


def test_depth_limit_64_levels():
    # 63 negations around a literal: 64 nested nodes, accepted; one more level is rejected
    assert parse("-" * 63 + "1") is not None
    assert errors("-" * 64 + "1") == ["1:1: PE501"]
    assert errors("(" * 100 + "-" * 100 + "1" + ")" * 100) == ["1:1: PE501"]


def test_depth_limit_does_not_crash_on_very_deep_input():
    assert errors("-" * 3990 + "1") == ["1:1: PE501"]
    assert errors("not " * 990 + "true") == ["1:1: PE501"]


def test_length_limit_4000_characters():
    ok = "1" + " + 1" * 20 + " " * (4000 - 81)
    assert len(ok) == 4000 and parse(ok) is not None
    assert errors(ok + " ") == ["1:1: PE502"]
