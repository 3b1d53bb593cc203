"""Bounded by construction (issue #20 item 2): each reproducer of the issue gets its limit's code at
its position, or a bounded result; every limit can be overridden in the API and the CLI."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from hostile import AS_OF, HEADER, RECORDS, derived, located, position, write

from policyengine import PolicyError, check_file, compile_expression, limits, load_policy, load_records
from policyengine.limits import PolicyLimits

SRC = Path(__file__).resolve().parents[2] / "src"
RULE = "rules:\n" + derived("t.r", "1")


def cli(*args: str) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "utf-8"}
    return subprocess.run([sys.executable, "-m", "policyengine", "--lang", "en", *args], capture_output=True,
                          text=True, encoding="utf-8", env=env, timeout=60)


# ------------------------------------------------------------------------------------ YAML of a policy


def test_a_recursive_alias_is_refused_before_composition(tmp_path):
    text = HEADER + "notes: &x [*x]\n" + RULE
    assert located(write(tmp_path, text)) == [f"{position(text, '*x')} PE504"]


def test_an_alias_bomb_is_refused_at_once(tmp_path):
    # the issue's 607-byte bomb: nine levels of nine aliases each (9^9 nodes if expanded)
    lines, previous = ["  a: &a [x, x, x, x, x, x, x, x, x]"], "a"
    for name in "bcdefghi":
        lines.append(f"  {name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
        previous = name
    text = HEADER + "notes:\n" + "\n".join(lines) + "\n" + RULE
    started = time.perf_counter()
    found = located(write(tmp_path, text))
    assert time.perf_counter() - started < 2
    assert len(found) == 72 and set(f.split()[1] for f in found) == {"PE504"}
    assert found[0] == f"{position(text, '*a')} PE504"


def test_nesting_10000_deep_is_pe505_at_the_level_past_the_limit(tmp_path):
    text = HEADER + "notes: " + "[" * 10_000 + "]" * 10_000 + "\n" + RULE
    # the mapping is level 1, so the 32nd `[` opens level 33
    column = len("notes: ") + 32
    assert located(write(tmp_path, text)) == [f"5:{column} PE505"]


def test_a_python_tag_is_pe104_never_constructed(tmp_path):
    text = HEADER + "notes: !!python/name:os.system\n" + RULE
    assert located(write(tmp_path, text)) == [f"{position(text, '!!python')} PE104"]
    message = check_file(write(tmp_path, text))[0].message("en")
    assert message.startswith("YAML tag tag:yaml.org,2002:python/name:os.system is not allowed")


def test_an_integer_of_5000_digits_is_pe506(tmp_path):
    text = HEADER + "notes: " + "9" * 5000 + "\n" + RULE
    assert located(write(tmp_path, text)) == [f"{position(text, '9999')} PE506"]


def test_a_number_literal_of_5000_digits_in_an_expression_is_pe506(tmp_path):
    text = HEADER + "rules:\n" + derived("t.r", "1 + " + "9" * 5000)
    # PE502 comes first: the expression is over 4000 characters; under that, the digits count
    scalar = position(text, '"1 + 9')  # PE502 is at the whole scalar
    assert located(write(tmp_path, text)) == [f"{scalar} PE502"]
    text = HEADER + "rules:\n" + derived("t.r", "1 + " + "9" * 41)
    assert located(write(tmp_path, text)) == [f"{position(text, '9' * 41)} PE506"]


def test_an_exponent_beyond_the_limit_is_pe506(tmp_path):
    text = HEADER + "notes: 1e999999999\n" + RULE
    assert located(write(tmp_path, text)) == [f"{position(text, '1e9')} PE506"]


def test_an_impossible_date_is_pe100_at_it(tmp_path):
    text = HEADER + "effective: {from: 2020-02-30}\n" + RULE
    assert located(write(tmp_path, text)) == [f"{position(text, '2020-02-30')} PE100"]
    assert "day is out of range for month" in check_file(write(tmp_path, text))[0].message("en")


def test_a_list_over_max_list_items_is_pe507(tmp_path):
    text = HEADER + "notes: [" + ", ".join(["1"] * 10_001) + "]\n" + RULE
    assert located(write(tmp_path, text)) == [f"5:{len('notes: [') + 3 * 10_000 + 1} PE507"]
    text = HEADER + "notes: [" + ", ".join(["1"] * 10_000) + "]\n" + RULE
    assert located(write(tmp_path, text)) == ["5:1 PE401"]  # at the limit: read (and `notes` is no key)


def test_a_file_over_max_file_bytes_is_pe503_unread(tmp_path):
    text = HEADER + RULE
    path = write(tmp_path, text)
    small = PolicyLimits(max_file_bytes=100)
    assert [(d.code, d.span.line, d.span.col) for d in check_file(path, limits=small)] == [("PE503", 1, 1)]
    assert check_file(path) == []


# ------------------------------------------------------------------------------- checker and compiler


def test_a_chain_of_400_definitions_is_pe509_at_the_first_past_the_limit(tmp_path):
    chain = "".join(f"  g{i}: \"g{i - 1} + 1\"\n" for i in range(1, 400))
    text = HEADER + "definitions:\n  g0: \"count(community.units)\"\n" + chain + "rules:\n" + derived("t.r", "g399")
    # g0 is one deep, so g48 is the first definition 49 deep
    assert located(write(tmp_path, text))[:1] == [f"{position(text, 'g48:')} PE509"]


def test_a_chain_of_100_one_parameter_definitions_is_pe509(tmp_path):
    chain = "".join(f"  f{i}(x): \"f{i - 1}(x)\"\n" for i in range(1, 100))
    text = HEADER + "definitions:\n  f0(x): \"x + 1\"\n" + chain + "rules:\n" + derived("t.r", "f99(1)")
    assert located(write(tmp_path, text))[:1] == [f"{position(text, 'f48(x):')} PE509"]


def test_55_nested_map_lookups_are_pe510_not_a_python_syntax_error():
    text = "r.c[" * 55 + "1" + "]" * 55
    with pytest.raises(PolicyError) as error:
        compile_expression(text, {"c": "map<int,int>"}, name="r")
    assert [(d.code, d.span.line, d.span.col) for d in error.value.diagnostics] == [("PE510", 1, 1)]
    nested = "r.c[" * 40 + "1" + "]" * 40  # under the limit: it runs
    assert compile_expression(nested, {"c": "map<int,int>"}, name="r")({"c": {1: 1}}) == 1


def test_macros_nesting_past_max_code_depth_are_pe510(tmp_path):
    # each macro nests its argument three levels deeper; 45 of them exceed 120 levels
    chain = "".join(f"  m{i}: \"((m{i - 1} + 1) * 1)\"\n" for i in range(1, 45))
    text = HEADER + "definitions:\n  m0: \"count(community.units)\"\n" + chain + "rules:\n" + derived("t.r", "m44")
    assert located(write(tmp_path, text)) == [f"{position(text, 'm44', 2)} PE510"]


COMPREHENSIONS = "count(a for a in xs where count(b for b in xs where count(c for c in xs where " \
                 "count(d for d in xs where count(e for e in xs where e > a) > 0) > 0) > 0) > 0)"
# 1,000 items in two parameters (an expression is at most 4,000 characters), joined by a constant definition
HALVES = ("[" + ", ".join(str(i) for i in range(500)) + "]", "[" + ", ".join(str(i) for i in range(500, 1000)) + "]")


def five_nested(tmp_path) -> Path:
    text = (HEADER + f"parameters:\n  low: {{value: \"{HALVES[0]}\", type: \"list<number>\"}}\n"
            f"  high: {{value: \"{HALVES[1]}\", type: \"list<number>\"}}\n"
            "definitions:\n  xs: {type: \"list<number>\", expr: \"low + high\"}\n"
            + "rules:\n" + derived("t.r", COMPREHENSIONS))
    return write(tmp_path, text)


def test_five_nested_comprehensions_over_1000_items_are_pe508_naming_the_rule(tmp_path):
    path = five_nested(tmp_path)
    found = check_file(path)
    text = path.read_text(encoding="utf-8")
    assert [f"{d.span.line}:{d.span.col} {d.code}" for d in found] == [f"{position(text, 'id: t.r')} PE508"]
    assert found[0].args["rule"] == "t.r"
    assert found[0].message("en").startswith("rule t.r has an estimated cost of 5.01e+15, over the limit of 1e+15")


def test_over_the_loop_trip_budget_the_finding_is_an_ev105_error(tmp_path):
    path = five_nested(tmp_path)
    bounds = PolicyLimits(max_rule_cost=10 ** 17, max_loop_trips=100_000)
    report = load_policy(path, limits=bounds).evaluate(load_records(RECORDS), as_of=AS_OF)
    assert {f.outcome for f in report.findings} == {"error"}
    values = report.findings[0].values_dict
    assert values["error_code"] == "EV105"
    text = path.read_text(encoding="utf-8")
    # at the comprehension whose iteration ran out of trips: the innermost
    assert values["error_at"] == f"{path}:{position(text, 'count(e for')}"


def test_the_default_budget_stops_a_finding_within_seconds(tmp_path):
    path = five_nested(tmp_path)
    policy = load_policy(path, limits=PolicyLimits(max_rule_cost=10 ** 17))
    started = time.process_time()
    report = policy.evaluate(load_records(RECORDS), as_of=AS_OF, rules=["t.r"])
    assert {f.values_dict["error_code"] for f in report.findings} == {"EV105"}
    assert time.process_time() - started < 3 * 5  # three communities, each under 5 s of CPU


def test_squaring_squares_is_an_ev104_error_not_a_memory_error(tmp_path):
    square = "n"
    for _ in range(8):
        square = f"({square}) * ({square})"
    # typed definitions, each a call (macros would be inlined: PE501 long before)
    levels = "".join(f"  s{i}:\n    params: {{n: number}}\n    type: number\n    expr: \"{square}\"\n"
                     for i in range(1, 6))
    text = HEADER + "definitions:\n" + levels + "rules:\n" + derived("t.r", "s5(s4(s3(s2(s1(count(community.units) + 1)))))")
    report = load_policy(write(tmp_path, text)).evaluate(load_records(RECORDS), as_of=AS_OF)
    assert {f.values_dict["error_code"] for f in report.findings} == {"EV104"}
    assert report.findings[0].values_dict["error"].endswith("an integer of more than 60 digits (max_integer_digits)")


def test_a_3000_digit_product_is_bounded_and_the_report_writes(tmp_path):
    factor = "9" * 40
    text = HEADER + "rules:\n" + derived("t.r", f"count(community.units) * {' * '.join([factor] * 60)}")
    report = load_policy(write(tmp_path, text)).evaluate(load_records(RECORDS), as_of=AS_OF)
    assert {f.values_dict["error_code"] for f in report.findings} == {"EV104"}
    assert report.to_json()  # the writer never meets a number Python cannot print


# ------------------------------------------------------------------------------------------- overrides


def test_limits_are_overridden_in_the_api_and_the_cli(tmp_path):
    path = five_nested(tmp_path)
    assert check_file(path, limits=PolicyLimits(max_rule_cost=10 ** 16)) == []
    assert cli("check", str(path)).returncode == 1
    assert cli("check", str(path), "--limit", "max_rule_cost=10000000000000000").returncode == 0
    result = cli("check", str(path), "--limit", "max_rule_kost=1")
    assert result.returncode == 2 and "unknown policy limit max_rule_kost" in result.stderr
    assert limits.current() == limits.DEFAULT


def test_the_defaults_admit_every_bundled_policy():
    from policyengine import resources

    for name in resources.bundled_policy_names():
        assert load_policy(name).rules


# --------------------------------------------------------------------- never the last-resort handler


def corpus_inputs(tmp_path) -> list[Path]:
    """The policy reproducers above, as files."""
    bomb, previous = ["  a: &a [x, x, x, x, x, x, x, x, x]"], "a"
    for name in "bcdefghi":
        bomb.append(f"  {name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
        previous = name
    texts = [
        HEADER + "notes: &x [*x]\n" + RULE,
        HEADER + "notes:\n" + "\n".join(bomb) + "\n" + RULE,
        HEADER + "notes: " + "[" * 10_000 + "]" * 10_000 + "\n" + RULE,
        HEADER + "notes: !!python/name:os.system\n" + RULE,
        HEADER + "notes: " + "9" * 5000 + "\n" + RULE,
        HEADER + "effective: {from: 2020-02-30}\n" + RULE,
        HEADER + "rules:\n" + derived("t.r", "1 + " + "9" * 5000),
        HEADER + "definitions:\n  g0: \"count(community.units)\"\n"
        + "".join(f"  g{i}: \"g{i - 1} + 1\"\n" for i in range(1, 400)) + "rules:\n" + derived("t.r", "g399"),
        HEADER + "rules:\n" + derived("t.index", "[1, 2, 3][count(community.units) + 5]")
        + derived("t.date", "date(2023, 2, 28 + count(community.units))")
        + derived("t.zero", "1 / (count(community.units) - count(community.units))"),
        HEADER + "rules:\n  - id: 规则.一\n    kind: derived\n    subject: community\n    value: \"1\"\n"
        "    citation: {file: t.txt, quote: 引文}\n",
        HEADER + "definitions:\n  f(学校): \"学校 + 1\"\n" + "rules:\n" + derived("t.r", "f(1)"),
    ]
    return [write(tmp_path, text, f"c{i}.yaml") for i, text in enumerate(texts)] + [five_nested(tmp_path)]


def test_no_corpus_input_reaches_the_internal_error_handler(tmp_path, capsys):
    from policyengine import cli

    for path in corpus_inputs(tmp_path):
        assert cli.main(["check", str(path)]) in (0, 1), path.read_text(encoding="utf-8")[:300]
        status = cli.main(["evaluate", "--policy", str(path), str(RECORDS), "--as-of", "2022-03-01",
                           "--format", "jsonl", "-o", str(tmp_path / "out.jsonl")])
        assert status in (1, 3), path.read_text(encoding="utf-8")[:300]  # policy errors, or `error` findings
    assert "内部错误" not in capsys.readouterr().err  # the handler's text (zh, the default language)


def test_doubling_a_text_or_a_list_through_definitions_is_bounded(tmp_path):
    # each definition doubles the last: 2^40 characters (or items) if nothing stopped it
    texts = "".join(f"  t{i}:\n    params: {{s: string}}\n    type: string\n    expr: \"t{i - 1}(s) + t{i - 1}(s)\"\n"
                    for i in range(1, 41))
    lists = "".join(f"  l{i}:\n    params: {{xs: list<number>}}\n    type: list<number>\n"
                    f"    expr: \"l{i - 1}(xs) + l{i - 1}(xs)\"\n" for i in range(1, 41))
    text = (HEADER + "definitions:\n  t0:\n    params: {s: string}\n    type: string\n    expr: \"s + s\"\n" + texts
            + "  l0:\n    params: {xs: list<number>}\n    type: list<number>\n    expr: \"xs + xs\"\n" + lists
            + "rules:\n" + derived("t.text", "len(t40('ab'))") + derived("t.list", "count(x for x in l40([1, 2]))"))
    path = write(tmp_path, text)
    started = time.process_time()
    report = load_policy(path).evaluate(load_records(RECORDS), as_of=AS_OF)
    assert time.process_time() - started < 10
    codes = {(f.rule, f.values_dict.get("error_code")) for f in report.findings}
    assert codes == {("t.list", "EV111"), ("t.text", "EV111")}
    finding = next(f for f in report.findings if f.rule == "t.text")
    # t_k('ab') has 2^(k+2) characters: t18 is the first over 10^6, at its `+`
    assert finding.values_dict["error_at"] == f"{path}:{position(text, '+ t17(s)')}"
