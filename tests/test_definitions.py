"""Typed definitions, `imports:` of library files, the identifier rule and rule ids (docs/language.md
§1 "Definitions", §2 "Libraries"). Parser (file shape), checker (codes at line:col) and compiled
semantics (findings on small records, the generated functions)."""

from __future__ import annotations

import datetime as dt
import os
import textwrap
from pathlib import Path

import pytest

from policyengine import PolicyError, engine, load_policy
from policyengine.policyfile import read_policy_file

from langhelpers import HEADER, check_text, requirement  # noqa: F401 (check_text is a fixture)

LIBRARIES = Path(__file__).parent / "data" / "libraries"


def policy_text(definitions: str = "", rules: str = "", parameters: str = "", imports: str = "") -> str:
    """HEADER (lines 1–4), then the optional sections, each given as complete YAML lines."""
    return (HEADER + (f"imports: {imports}\n" if imports else "") + parameters
            + ("definitions:\n" + definitions if definitions else "") + "rules:\n" + rules)


IN_FORCE = """\
  in_force:
    params: {m: membership, d: date}
    type: bool
    expr: "(not has(m.joined_on) or m.joined_on <= d) and (not has(m.left_on) or m.left_on > d)"
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------ file shape


def test_typed_definition_is_read_with_its_declared_types(tmp_path):
    text = policy_text(IN_FORCE + "  nothing:\n    type: number\n    expr: \"0\"\n    description: 零\n",
                       requirement("true"))
    model, diagnostics = read_policy_file("p.yaml", text)
    assert diagnostics == []
    in_force, nothing = model.definitions
    assert in_force.typed and in_force.params == ("m", "d")
    assert [s.value for s in in_force.param_types] == ["membership", "date"] and in_force.result_type.value == "bool"
    assert nothing.params == () and nothing.description == "零"
    assert (in_force.span.line, in_force.span.col) == (6, 3)


@pytest.mark.parametrize("body, expected", [
    ("    params: {c: community}\n    type: bool\n    exp: \"true\"\n", ["7:5: PE402", "9:5: PE401"]),  # exp: / no expr
    ("    params: {c: community}\n    expr: \"true\"\n", ["7:5: PE402"]),                                # no type
    ("    params: [c]\n    type: bool\n    expr: \"true\"\n", ["7:13: PE403"]),                           # params a list
    ("    params: {C: community}\n    type: bool\n    expr: \"true\"\n", ["7:14: PE207"]),                # parameter name
])
def test_typed_definition_shape_errors(check_text, body, expected):
    assert check_text(policy_text("  f:\n" + body, requirement("true"))) == expected


def test_a_typed_definition_takes_its_parameters_under_params_only(check_text):
    text = policy_text("  f(x):\n    type: bool\n    expr: \"true\"\n", requirement("true"))
    assert check_text(text) == ["6:3: PE403"]


@pytest.mark.parametrize("name, ok", [
    ("in_force", True), ("n2", True), ("a" * 64, True), ("a" * 65, False), ("Cap", False), ("_x", False),
    ("x-y", False), ("2x", False), ("if", False), ("where", False), ("学校", False),
    ("count", False), ("round", False), ("has", False), ("community", False), ("as_of", False),
    ("period", False), ("communities", False),
])
def test_one_identifier_rule_for_parameters_and_definitions(check_text, name, ok):
    as_parameter = policy_text(parameters=f"parameters:\n  {name}: {{value: \"1\"}}\n", rules=requirement("true"))
    as_definition = policy_text(f"  {name}:\n    type: number\n    expr: \"1\"\n", requirement("true"))
    assert check_text(as_parameter) == ([] if ok else ["6:3: PE207"])
    assert check_text(as_definition) == (["6:3: PE208"] if ok else ["6:3: PE207"])


@pytest.mark.parametrize("rule_id, ok", [
    ("t.r", True), ("ruian.reward.z_score_2", True), ("a.b1.c_d", True), ("t", False), ("T.r", False),
    ("t..r", False), ("t.r-x", False), ("t.r.", False), ("probe.规则", False), ("12", False), ("1t.r", False),
])
def test_rule_ids_follow_catalog_1_6(check_text, rule_id, ok):
    text = policy_text(rules=requirement("true", rule_id=rule_id))
    assert check_text(text) == ([] if ok else ["6:9: PE411"])


def test_names_outside_the_identifier_rule_never_reach_generated_code(check_text):
    # each of these used to be a traceback from the compiler
    text = policy_text("  f(学校): \"学校 + 1\"\n", requirement("f(1) > 0", rule_id="probe.规则")
                       + requirement("true", rule_id="12"))
    # (f itself is refused, so its use is an unknown function)
    assert check_text(text) == ["6:3: PE207", "8:9: PE411", "12:14: PE203", "14:9: PE411"]


# ------------------------------------------------------------------------------------ checker


def test_a_typed_definition_is_checked_where_it_is_defined_even_unused(check_text):
    text = policy_text("  bad:\n    params: {c: community}\n    type: number\n    expr: \"count(c.unitz)\"\n",
                       requirement("true"))
    assert check_text(text) == ["6:3: PE208", "9:20: PE202"]


def test_an_unused_definition_is_a_warning_and_the_policy_loads(tmp_path):
    path = write(tmp_path, "p.yaml", policy_text(IN_FORCE + "  leads: \"count(community.units)\"\n",
                                                 requirement("true")))
    policy = load_policy(path)
    assert [(d.code, d.span.line, d.args["name"]) for d in policy.warnings] == [
        ("PE208", 6, "in_force"), ("PE208", 10, "leads")]
    assert "warning" in policy.warnings[0].render("en") and "警告" in policy.warnings[0].render("zh")


def test_check_reports_warnings_but_succeeds(tmp_path):
    import subprocess
    import sys

    path = write(tmp_path, "p.yaml", policy_text(IN_FORCE, requirement("true")))
    src = Path(__file__).resolve().parent.parent / "src"
    result = subprocess.run([sys.executable, "-m", "policyengine", "--lang", "en", "check", str(path)],
                            capture_output=True, text=True, env={"PYTHONPATH": str(src), "PATH": os.environ["PATH"]},
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PE208 warning definition in_force is never used" in result.stdout


@pytest.mark.parametrize("body, expected", [
    ("count(m for m in community.units where in_force(m)) > 0", ["15:53: PE204"]),                # arity
    ("count(m for m in community.units where in_force(m, 3)) > 0", ["15:65: PE305"]),             # number for date
    ("in_force(community, as_of)", ["15:23: PE305"]),                                              # community for membership
    ("in_force(community.units[0], as_of) + 1 > 0", ["15:50: PE301"]),                            # bool + number
])
def test_calls_are_checked_against_the_declaration(check_text, body, expected):
    assert check_text(policy_text(IN_FORCE, requirement(body))) == expected


def test_the_body_must_have_the_declared_result_type(check_text):
    text = policy_text("  n_units:\n    params: {c: community}\n    type: bool\n    expr: \"count(c.units)\"\n",
                       requirement("n_units(community)"))
    assert check_text(text) == ["9:12: PE307"]


def test_unknown_declared_types(check_text):
    text = policy_text("  f:\n    params: {c: comunity, n: list<nmber>}\n    type: enum:rol\n    expr: \"true\"\n",
                       requirement("true"))
    assert check_text(text) == ["7:17: PE412", "7:30: PE412", "8:11: PE412"]


def test_a_typed_definition_sees_only_its_parameters_not_the_rule_subject(check_text):
    text = policy_text("  n:\n    type: number\n    expr: \"count(community.units)\"\n", requirement("n > 0"))
    assert check_text(text) == ["8:18: PE201"]


def test_typed_recursion_is_reported_at_the_definition(check_text):
    text = policy_text(
        "  f:\n    params: {x: number}\n    type: number\n    expr: \"f(x) + 1\"\n"       # 6
        "  g:\n    params: {x: number}\n    type: number\n    expr: \"h(x)\"\n"           # 10
        "  h:\n    params: {x: number}\n    type: number\n    expr: \"g(x)\"\n",          # 14
        requirement("f(1) + g(1) > 0"))
    assert check_text(text) == ["6:3: PE205", "10:3: PE205"]


def test_typed_definitions_may_use_other_definitions_and_parameters_in_any_order(check_text):
    text = policy_text(
        "  is_current:\n    params: {m: membership}\n    type: bool\n    expr: \"in_force(m, as_of)\"\n" + IN_FORCE
        + "  big:\n    params: {c: community}\n    type: bool\n    expr: \"count(c.units) > cap\"\n",
        requirement("big(community) and any(is_current(m) for m in community.units)"),
        parameters="parameters:\n  cap: {value: \"2\"}\n")
    assert check_text(text) == []


# ------------------------------------------------------------------------------------ enums


IS_MODEL_TYPED = "  is_model:\n    params: {c: community, t: string}\n    type: bool\n    expr: \"c.model_type == t\"\n"


@pytest.mark.parametrize("definitions", [
    IS_MODEL_TYPED,                                                      # typed, parameter a string
    IS_MODEL_TYPED.replace("t: string", "t: enum:model_type"),           # typed, parameter the enum
    "  is_model(c, t): \"c.model_type == t\"\n",                         # untyped macro
])
def test_an_enum_literal_through_a_definition_argument_is_checked(check_text, definitions):
    lines = definitions.count("\n")
    text = policy_text(definitions, requirement("is_model(community, 'fuson')"))
    line = 6 + lines + 1 + 4  # definitions, rules:, the rule's require: line
    assert check_text(text) == [f"{line}:34: PE304"]
    assert check_text(policy_text(definitions, requirement("is_model(community, 'fusion')"))) == []


def test_the_enum_message_lists_the_allowed_values(tmp_path):
    path = write(tmp_path, "p.yaml", policy_text(IS_MODEL_TYPED, requirement("is_model(community, 'fuson')")))
    (diagnostic,) = engine.check_file(path)
    assert "'fuson' is not a value of model_type" in diagnostic.message("en")
    assert "co_build" in diagnostic.message("en") and "fusion" in diagnostic.message("en")


def test_an_enum_literal_through_nested_typed_definitions_is_checked(check_text):
    text = policy_text(IS_MODEL_TYPED + "  is_fusion_like:\n    params: {c: community, t: string}\n    type: bool\n"
                       "    expr: \"is_model(c, t)\"\n", requirement("is_fusion_like(community, 'fuson')"))
    assert check_text(text) == ["19:40: PE304"]


def test_an_enum_value_in_a_list_parameter_or_list_argument_is_checked(check_text):
    models = "parameters:\n  models: {value: \"['fusion', 'fuson']\"}\n"
    text = policy_text(rules=requirement("community.model_type in models"), parameters=models)
    assert check_text(text) == ["12:38: PE304"]
    macro = "  of_models(c, ms): \"c.model_type in ms\"\n"
    text = policy_text(macro, requirement("of_models(community, ['fusion', 'fuson'])"))
    assert check_text(text) == ["12:46: PE304"]
    typed = "  of_models:\n    params: {c: community, ms: list<string>}\n    type: bool\n    expr: \"c.model_type in ms\"\n"
    text = policy_text(typed, requirement("of_models(community, ['fusion', 'fuson'])"))
    assert check_text(text) == ["15:46: PE304"]


def test_an_enum_typed_constant_definition_checks_its_literals(check_text):
    text = policy_text("  roles:\n    type: list<enum:role>\n    expr: \"['lead', 'leader']\"\n", requirement("true"))
    assert check_text(text) == ["6:3: PE208", "8:21: PE304"]


# ------------------------------------------------------------------------------------ compiled semantics

RECORDS = {
    "communities": [
        {"community_id": "c-1", "name": "一", "model_type": "fusion",
         "units": [{"unit_id": "u-1", "role": "lead", "joined_on": "2022-09-01"},
                   {"unit_id": "u-2", "role": "member", "joined_on": "2021-09-01", "left_on": "2022-09-01"},
                   {"unit_id": "u-3", "role": "member"}]},
        {"community_id": "c-2", "name": "二", "model_type": "co_build", "units": [{"unit_id": "u-1", "role": "lead"}]},
    ],
    "units": [{"unit_id": "u-1", "name": "甲"}, {"unit_id": "u-2", "name": "乙"}, {"unit_id": "u-3", "name": "丙"}],
}

MEMBERS_ON = """\
  members_on:
    params: {c: community, d: date}
    type: number
    expr: "count(m for m in c.units where in_force(m, d))"
"""


def rule(rule_id: str, body: str, values: str = "") -> str:
    return requirement(body, rule_id=rule_id, extra=values)


def test_typed_definitions_evaluate_on_both_sides_of_each_date(tmp_path):
    # u-1 joins 2022-09-01 (in force from that day), u-2 leaves 2022-09-01 (in force until the day before)
    text = policy_text(IN_FORCE + MEMBERS_ON, rule("t.members", "members_on(community, as_of) >= 3",
                                                   "    values: {n: \"members_on(community, as_of)\"}\n"))
    policy = load_policy(write(tmp_path, "p.yaml", text))
    n_on = {d: policy.evaluate(RECORDS, as_of=d).select(rule="t.members", subject="c-1")[0].values_dict["n"]
            for d in (dt.date(2022, 8, 31), dt.date(2022, 9, 1))}
    assert n_on == {dt.date(2022, 8, 31): 2, dt.date(2022, 9, 1): 2}  # u-2 and u-3, then u-1 and u-3
    assert policy.evaluate(RECORDS, as_of=dt.date(2021, 8, 31)).select(
        rule="t.members", subject="c-1")[0].values_dict["n"] == 1  # only u-3 (u-1 not yet, u-2 not yet)


def test_a_typed_definition_is_compiled_once_as_a_function_shared_by_its_uses(tmp_path):
    text = policy_text(IN_FORCE + MEMBERS_ON, rule("t.a", "members_on(community, as_of) > 0")
                       + rule("t.b", "members_on(community, 2022-01-01) > 0"))
    policy = load_policy(write(tmp_path, "p.yaml", text))
    sources = [r.require[0][1].__policyengine_source__ for r in policy.rules]
    assert all("lambda" not in s and "_g)" in s for s in sources)

    def called(function):
        return {id(c.cell_contents) for c in function.__closure__ or () if hasattr(c.cell_contents, "__policyengine_source__")}

    a, b = (called(r.require[0][1]) for r in policy.rules)
    assert a == b and len(a) == 1  # the same function object: compiled once
    (members_on,) = [c.cell_contents for c in policy.rules[0].require[0][1].__closure__
                     if hasattr(c.cell_contents, "__policyengine_source__")]
    # a real function of its parameters and the context, which calls in_force (compiled once too)
    assert "def f_def__members_on(v_c__0, v_d__1, _g):" in members_on.__policyengine_source__
    assert "_c0(v_m__2, v_d__1, _g)" in members_on.__policyengine_source__


def test_a_constant_definition_is_folded(tmp_path):
    text = policy_text("  member_roles:\n    type: list<enum:role>\n    expr: \"['member', 'campus']\"\n",
                       rule("t.r", "any(m.role in member_roles for m in community.units)"))
    policy = load_policy(write(tmp_path, "p.yaml", text))
    source = policy.rules[0].require[0][1].__policyengine_source__
    assert "_g" not in source.splitlines()[2]  # the body calls nothing: the value is a constant
    assert [f.outcome for f in policy.evaluate(RECORDS, as_of=dt.date(2022, 1, 1)).findings] == ["pass", "violation"]


def test_absent_data_inside_a_typed_definition_makes_the_finding_not_applicable(tmp_path):
    text = policy_text("  model_of:\n    params: {c: community}\n    type: enum:model_type\n    expr: \"c.model_type\"\n",
                       rule("t.r", "model_of(community) == 'fusion'"))
    policy = load_policy(write(tmp_path, "p.yaml", text))
    records = {"communities": [{"community_id": "c-9", "name": "九", "units": []}]}
    (finding,) = policy.evaluate(records, as_of=dt.date(2022, 1, 1)).findings
    assert finding.outcome == "not_applicable" and "community.model_type" in finding.values_dict["reason"]


def test_parameters_and_scans_inside_typed_definitions_count_for_the_rule(tmp_path):
    text = policy_text("  many:\n    type: bool\n    expr: \"count(communities) >= cap\"\n",
                       rule("t.r", "many"), parameters="parameters:\n  cap: {value: \"2\"}\n")
    policy = load_policy(write(tmp_path, "p.yaml", text))
    assert policy.rules[0].scans == ("communities",) and policy.rules[0].parameters == (("cap", 2),)
    findings = policy.evaluate(RECORDS, as_of=dt.date(2022, 1, 1)).findings
    assert [f.outcome for f in findings] == ["pass", "pass"] and findings[0].values_dict["cap"] == 2
    smaller = load_policy(write(tmp_path, "p.yaml", text), parameters={"cap": 3})
    assert [f.outcome for f in smaller.evaluate(RECORDS, as_of=dt.date(2022, 1, 1)).findings] == ["violation"] * 2


# ------------------------------------------------------------------------------------ imports

LIBRARY = """\
format: policyengine-library/1
description: 成员关系
definitions:
  in_force:
    params: {m: membership, d: date}
    type: bool
    expr: "(not has(m.joined_on) or m.joined_on <= d) and (not has(m.left_on) or m.left_on > d)"
"""

COUNTS = """\
format: policyengine-library/1
imports: [membership.yaml]
definitions:
  members_on:
    params: {c: community, d: date}
    type: number
    expr: "count(m for m in c.units where in_force(m, d))"
"""


def test_a_policy_imports_library_definitions_transitively(tmp_path):
    write(tmp_path, "lib/membership.yaml", LIBRARY)
    write(tmp_path, "lib/counts.yaml", COUNTS)
    path = write(tmp_path, "p.yaml", policy_text(rules=rule("t.r", "members_on(community, as_of) >= 2"),
                                                 imports="[lib/counts.yaml, lib/membership.yaml]"))
    policy = load_policy(path)
    assert policy.warnings == ()  # library definitions are exported: never "unused"
    assert [os.path.basename(p) for p in policy.libraries] == ["membership.yaml", "counts.yaml"]  # each once
    report = policy.evaluate(RECORDS, as_of=dt.date(2022, 9, 1))
    assert [(f.subject, f.outcome) for f in report.findings] == [("c-1", "pass"), ("c-2", "violation")]


def test_a_library_sees_only_what_it_imports(tmp_path):
    write(tmp_path, "lib/membership.yaml", LIBRARY)
    write(tmp_path, "lib/counts.yaml", COUNTS.replace("imports: [membership.yaml]\n", ""))
    path = write(tmp_path, "p.yaml", policy_text(rules=rule("t.r", "members_on(community, as_of) >= 2"),
                                                 imports="[lib/membership.yaml, lib/counts.yaml]"))
    diagnostics = engine.check_file(path)
    assert [(Path(d.span.file).name, d.span.line, d.code) for d in diagnostics] == [("counts.yaml", 6, "PE203")]


def test_a_library_definition_cannot_read_policy_parameters(tmp_path):
    write(tmp_path, "lib.yaml", "format: policyengine-library/1\ndefinitions:\n"
                                "  big:\n    params: {c: community}\n    type: bool\n    expr: \"count(c.units) > cap\"\n")
    path = write(tmp_path, "p.yaml", policy_text(rules=rule("t.r", "big(community)"), imports="[lib.yaml]",
                                                 parameters="parameters:\n  cap: {value: \"1\"}\n"))
    assert [(d.span.line, d.code) for d in engine.check_file(path)] == [(6, "PE201")]


def test_import_errors(tmp_path):
    write(tmp_path, "dup.yaml", LIBRARY)
    write(tmp_path, "dup2.yaml", LIBRARY)
    write(tmp_path, "policy_not_library.yaml", policy_text(rules=requirement("true")))
    path = write(tmp_path, "p.yaml", policy_text(IN_FORCE, requirement("any(in_force(m, as_of) for m in community.units)"),
                                                 imports="[dup.yaml, dup2.yaml, policy_not_library.yaml, x.txt]"))
    # a name defined by two libraries, and again by the policy; a policy is no library; only .yaml files
    assert [(Path(d.span.file).name, d.span.line, d.span.col, d.code) for d in engine.check_file(path)] == [
        ("dup2.yaml", 4, 3, "PE206"), ("p.yaml", 5, 57, "PE413"), ("p.yaml", 7, 3, "PE206"),
        ("policy_not_library.yaml", 1, 9, "PE406")]


def test_import_cycles_are_reported_without_cascading(tmp_path):
    import shutil

    for name in ("cycle_a.yaml", "cycle_b.yaml"):
        shutil.copy(LIBRARIES / name, tmp_path / name)
    path = write(tmp_path, "p.yaml", policy_text(rules=rule("t.r", "a_one + b_two == 3"), imports="[cycle_a.yaml]"))
    assert [(Path(d.span.file).name, d.span.line, d.span.col, d.code) for d in engine.check_file(path)] == [
        ("cycle_b.yaml", 2, 11, "PE413")]


def test_imports_fall_back_to_the_bundled_policies_folder(tmp_path, monkeypatch):
    from policyengine import resources

    bundled = tmp_path / "bundled"
    write(bundled, "lib/membership.yaml", LIBRARY)
    monkeypatch.setattr(resources, "policies_dir", lambda: bundled)
    path = write(tmp_path / "elsewhere", "p.yaml", policy_text(
        rules=rule("t.r", "any(in_force(m, as_of) for m in community.units)"), imports="[lib/membership.yaml]"))
    assert engine.check_file(path) == []


def test_a_library_file_checks_on_its_own(tmp_path):
    lib = write(tmp_path, "lib.yaml", LIBRARY + "  broken:\n    type: number\n    expr: \"count(unitz)\"\n")
    assert [(d.span.line, d.code) for d in engine.check_file(lib)] == [(10, "PE201")]
    write(tmp_path, "lib.yaml", LIBRARY)
    assert engine.check_file(lib) == []


def test_a_changed_library_is_reloaded(tmp_path):
    lib = write(tmp_path, "lib.yaml", LIBRARY)
    path = write(tmp_path, "p.yaml", policy_text(
        rules=rule("t.r", "all(in_force(m, as_of) for m in community.units)"), imports="[lib.yaml]"))
    first = load_policy(path)
    assert load_policy(path) is first
    stat = lib.stat()
    lib.write_text(LIBRARY.replace("m.left_on > d", "m.left_on >= d"), encoding="utf-8")
    os.utime(lib, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert load_policy(path) is not first


def test_a_library_with_policy_keys_is_refused(check_text, tmp_path):
    lib = write(tmp_path, "lib.yaml", LIBRARY + "rules: []\n")
    assert [(d.span.line, d.code) for d in engine.check_file(lib)] == [(8, "PE401")]
    with pytest.raises(PolicyError):
        load_policy(write(tmp_path, "p.yaml", policy_text(rules=requirement("true"), imports="[lib.yaml]")))


def test_an_unused_untyped_definition_is_still_checked(check_text):
    # valid in some rule's scope: only the warning; valid in none: the errors of the closest scope
    assert check_text(policy_text("  n_units: \"count(community.units)\"\n", requirement("true"))) == ["6:3: PE208"]
    assert check_text(policy_text("  n_units: \"count(community.unitz)\"\n", requirement("true"))) == [
        "6:3: PE208", "6:29: PE202"]
    assert check_text(policy_text("  in_term: \"as_of in period\"\n", requirement("true"))) == ["6:3: PE208"]


def test_a_field_named_like_a_python_keyword_compiles(tmp_path):
    # record fields are read as attributes; a Python keyword (`from`, `class`) cannot be spliced into code
    from policyengine import compile_expression

    f = compile_expression("record.__x > 1", {"__x": "number"})  # mapping records: keys are constants
    assert f({"__x": 2}) is True
    from policyengine.compiler import _Generator

    generator = _Generator()
    assert generator._read("_g", "from").startswith("_c0(") and generator._read("t", "units") == "t.units"
