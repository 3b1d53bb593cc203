"""One error path (issue #20 item 1): a failure is a PE diagnostic at file:line:col, or an `error`
finding naming its EV code and the policy position of the expression that failed; the CLI's last
resort says "internal error" and exits 70. Reproducers from the issue's list."""

from __future__ import annotations

import pytest
from hostile import AS_OF, HEADER, RECORDS, derived, located, position, write

import policyengine
from policyengine import cli, load_policy, load_records

PARAMETERS = HEADER + """\
parameters:
  p1: {value: "1 / 0", type: number}
  p2: {value: "date(2023, 2, 30)", type: date}
  p3: {value: "[1][3]", type: number}
  p4: {value: "min(x for x in [1] where x > 5)", type: number}
rules:
  - id: t.r
    kind: requirement
    strength: hard
    subject: community
    require: "p1 > 0 and p2 > date(2020, 1, 1) and p3 > 1 and p4 > 0"
    citation: {file: t.txt, quote: 引文}
"""


def test_a_parameter_whose_value_fails_is_pe309_at_the_failing_part(tmp_path):
    path = write(tmp_path, PARAMETERS)
    t = PARAMETERS
    # each at what failed: the `/`, the date( call, the [1][3] lookup, the min(…) of nothing; no PE201
    # cascade at their uses
    assert located(path) == [f"{position(t, '/ 0')} PE309", f"{position(t, 'date(2023')} PE309",
                             f"{position(t, '[1][3]')} PE309", f"{position(t, 'min(x')} PE309"]
    messages = [d.message("en") for d in policyengine.check_file(path)]
    assert messages[0] == "the value of parameter p1 cannot be computed: EV101 division by zero (1 / 0)"
    assert messages[1].startswith("the value of parameter p2 cannot be computed: EV102 ")


EVALUATED = HEADER + """\
definitions:
  n: "count(community.units)"
  pick(k): "[1, 2, 3][k + n]"
rules:
""" + derived("t.index", "[1, 2, 3][n + 5]") + derived("t.badday", "date(2023, 2, 28 + n)") + """\
  - id: t.def
    kind: requirement
    strength: hard
    subject: community
    require: "n >= 0 and pick(4) > 0"
    citation: {file: t.txt, quote: 引文}
  - id: t.zero
    kind: requirement
    strength: hard
    subject: community
    require: "n / (n - n) > 1"
    citation: {file: t.txt, quote: 引文}
"""


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    path = write(tmp_path_factory.mktemp("evaluated"), EVALUATED)
    report = load_policy(path).evaluate(load_records(RECORDS), as_of=AS_OF)
    return path, {(f.rule, f.subject): f for f in report.findings}


@pytest.mark.parametrize("rule, code, needle", [
    ("t.index", "EV103", "[1, 2, 3][n + 5]"),     # [1,2,3][5]: IndexError → the lookup
    ("t.badday", "EV102", "date(2023, 2, 28"),   # 2023-02-30 (n = 2 or 3 units)
    ("t.def", "EV103", "[1, 2, 3][k + n]"),      # inside the definition the rule called
    ("t.zero", "EV101", "/ (n - n)"),            # the `/` itself
])
def test_a_failing_expression_is_an_error_finding_at_its_policy_position(evaluated, rule, code, needle):
    path, findings = evaluated
    finding = findings[(rule, "c-02")]
    assert finding.outcome == "error"
    assert finding.values_dict["error_code"] == code
    assert finding.values_dict["error_at"] == f"{path}:{position(EVALUATED, needle)}"


def test_error_values_are_engine_names_an_author_cannot_write(tmp_path):
    text = HEADER + "rules:\n" + derived("t.v", "1", "    values: {error_at: \"1\"}\n")
    value = position(text, '"1"}')  # PE417 is at the value
    assert located(write(tmp_path, text)) == [f"{value} PE417"]


def test_the_last_resort_is_an_internal_error_with_status_70(monkeypatch, capsys, tmp_path):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(cli.engine, "check_file", broken)
    path = write(tmp_path, PARAMETERS)
    assert cli.main(["--lang", "en", "check", str(path)]) == 70
    err = capsys.readouterr().err
    assert f"internal error (policyengine {policyengine.__version__}): RuntimeError: a bug" in err
    assert "Please report it to the policyengine maintainers" in err
    assert "http" not in err  # no invented address
    assert cli.main(["check", str(path)]) == 70
    assert "内部错误" in capsys.readouterr().err


def test_explain_names_the_code_and_the_policy_position_of_an_error(capsys):
    from hostile import RECORDS as records

    policy = records.parent / "policy.yaml"  # ev.broken: value "1 / (unit_count - unit_count)", line 78
    assert cli.main(["--lang", "en", "explain", "--policy", str(policy), str(records), "--as-of", "2022-03-01",
                     "--rule", "ev.broken", "--subject", "c-02"]) == 0
    out = capsys.readouterr().out
    assert f"Outcome: error (EV101 {policy}:78:15: division by zero (1 / 0))." in out


def test_a_date_beyond_year_9999_is_ev102_in_the_api_and_in_a_finding(tmp_path):
    from policyengine import EvaluationError, compile_expression

    function = compile_expression("r.d + 10000 years", {"d": "date"}, name="r")  # found by the API fuzz
    with pytest.raises(EvaluationError) as error:
        function({"d": __import__("datetime").date(2022, 9, 1)})
    assert error.value.code == "EV102"
    text = HEADER + "rules:\n" + derived("t.far", "as_of + 10000 years")
    report = load_policy(write(tmp_path, text)).evaluate(load_records(RECORDS), as_of=AS_OF)
    assert {(f.values_dict["error_code"], f.values_dict["error_at"]) for f in report.findings} == {
        ("EV102", f"{tmp_path / 'p.yaml'}:{position(text, '+ 10000')}")}


@pytest.mark.parametrize("name, value, code", [
    ("max_units", 10 ** 5000, "PE506"),                       # repr() itself refuses it: bounded text
    ("quality_bonus", __import__("decimal").Decimal("1e999999"), "PE506"),
    ("quality_bonus", __import__("decimal").Decimal("NaN"), "PE408"),
], ids=["int-5000-digits", "decimal-1e999999", "decimal-nan"])
def test_hostile_parameter_overrides_are_located_at_the_parameter(name, value, code):
    policy = RECORDS.parent / "policy.yaml"  # max_units on line 9, quality_bonus on line 14 (value: at column 12)
    with pytest.raises(policyengine.PolicyError) as error:
        load_policy(policy, parameters={name: value})
    line = {"max_units": 9, "quality_bonus": 14}[name]
    assert [(d.code, d.span.line, d.span.col) for d in error.value.diagnostics] == [(code, line, 12)]
