"""Exact or error (issue 21.1, 21.5): the engine's own decimal context in every entry point, numbers read
exactly from their text, whole-number arguments and list indexes checked, string escapes and fullwidth
digits. Expected values are decimal and calendar facts worked out by hand."""

from __future__ import annotations

import datetime as dt
import decimal
from decimal import Decimal as D
from pathlib import Path

import pytest

from policyengine import PolicyError, compile_expression, load_policy, load_records
from policyengine.runtime import DECIMAL_CONTEXT, EvaluationError

FIELDS = {"z": "number", "m": "money", "m2": "money", "ms": "list<money>", "xs": "list<number>", "k": "number"}
COMMUNITY = {"units": [{"unit_id": "u1", "name": "一小"}],
             "communities": [{"community_id": "c1", "name": "甲", "units": [{"unit_id": "u1", "role": "lead"}]}]}


def ev(text: str, **record):
    return compile_expression(text, FIELDS)(record)


def codes(text: str) -> list[tuple[str, int, int]]:
    with pytest.raises(PolicyError) as caught:
        compile_expression(text, FIELDS)
    return [(d.code, d.span.line, d.span.col) for d in caught.value.diagnostics]


# ------------------------------------------------------------------------- the decimal context


def test_the_context_traps_overflow_underflow_subnormal_and_invalid_operation():
    traps = {signal for signal, on in DECIMAL_CONTEXT.traps.items() if on}
    assert traps == {decimal.Overflow, decimal.Underflow, decimal.Subnormal, decimal.InvalidOperation,
                     decimal.DivisionByZero}
    assert (DECIMAL_CONTEXT.prec, DECIMAL_CONTEXT.rounding) == (28, decimal.ROUND_HALF_EVEN)


def test_overflow_is_an_error_never_infinity():
    with pytest.raises(decimal.Overflow):
        ev("record.z * record.z", z=D("1E+600000"))  # 1E+1200000 is beyond Emax 999999


def test_underflow_is_an_error_never_zero():
    with pytest.raises(decimal.Underflow):
        ev("record.z * record.z == 0", z=D("1E-600000"))  # 1E-1200000 would round to 0 and compare equal


@pytest.mark.parametrize("caller", [
    dict(traps=[decimal.Inexact, decimal.Rounded]),  # a caller trapping rounding must not make 1/3 raise
    dict(prec=6, rounding=decimal.ROUND_DOWN, traps=[]),  # nor a short precision round, or no traps hide
])
def test_compile_expression_runs_in_the_engines_context_whatever_the_callers(caller):
    add = compile_expression("record.z + 1", FIELDS)
    third = compile_expression("record.z / 3", FIELDS)
    square = compile_expression("record.z * record.z", FIELDS)
    with decimal.localcontext(**caller) as context:
        assert add({"z": D("0.1234567890123456789012345678")}) == D("1.123456789012345678901234568")
        assert third({"z": D(1)}) == D("0." + "3" * 28)
        with pytest.raises(decimal.Overflow):
            square({"z": D("1E+600000")})
        assert decimal.getcontext() is context  # restored


def _policy(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text("format: policyengine/1\njurisdiction: {id: t, name: 测试市}\ntitle: 测试\nsource: {file: t.txt}\n"
                    + body, encoding="utf-8")
    return path


SQUARES = """definitions:
  sq1: {params: {x: number}, type: number, expr: "x * x"}
  sq2: {params: {x: number}, type: number, expr: "sq1(sq1(x))"}
  sq3: {params: {x: number}, type: number, expr: "sq2(sq2(x))"}
  sq4: {params: {x: number}, type: number, expr: "sq3(sq3(x))"}
  sq5: {params: {x: number}, type: number, expr: "sq4(sq4(x))"}
  sq6: {params: {x: number}, type: number, expr: "sq5(sq5(x))"}
"""


def test_an_overflowing_or_underflowing_rule_is_an_error_finding(tmp_path):
    """sq6(x) = x^(2^32) in Decimal: 10.0^(2^32) overflows, 0.1^(2^32) underflows; before, the amount was reported as
    "Infinity" and `== 0` passed."""
    rules = "".join(f"""  - id: t.{name}
    kind: {kind}
    {"strength: hard" if kind == "requirement" else ""}
    subject: community
    {body}
    citation: {{file: t.txt, quote: 引文}}
""" for name, kind, body in [("big", "amount", 'amount: "sq6(10.0) * 1 yuan"'),
                             ("tiny", "requirement", 'require: "sq6(0.1) == 0"'),
                             ("fine", "requirement", f'require: "sq4(0.1) == 0.{"0" * 255}1"')])
    policy = load_policy(_policy(tmp_path, SQUARES + "rules:\n" + rules))
    report = policy.evaluate(load_records(COMMUNITY), as_of=dt.date(2024, 1, 1))
    outcomes = {f.rule: (f.outcome, f.amount) for f in report.findings}
    assert outcomes == {"t.big": ("error", None), "t.tiny": ("error", None), "t.fine": ("pass", None)}  # 0.1^256
    errors = {f.rule: (f.values_dict["error_code"], f.values_dict["error_at"]) for f in report.findings
              if f.outcome == "error"}
    path = str(tmp_path / "p.yaml")
    # the failing part is the multiplication inside sq1 (line 6: `expr: "x * x"`, the `*` at column 53)
    assert errors == {"t.big": ("EV104", f"{path}:6:53"), "t.tiny": ("EV104", f"{path}:6:53")}


# ------------------------------------------------------------------------- money never rounds

BIG = D("123456789012345678901234567890.12")  # 32 significant digits: beyond the 28 of the context


def test_money_sums_differences_and_products_are_exact_at_any_size():
    assert ev("sum(record.ms)", ms=(BIG, D("0.01"), D("0.01"))) == D("123456789012345678901234567890.14")
    assert ev("sum(x for x in record.ms)", ms=(BIG, BIG)) == D("246913578024691357802469135780.24")
    assert ev("record.m - record.m2", m=BIG, m2=D("0.02")) == D("123456789012345678901234567890.10")
    assert ev("record.m + record.m2 - record.m", m=BIG, m2=D("0.01")) == D("0.01")  # 28 digits would give 0
    assert ev("-record.m", m=BIG) == D("-123456789012345678901234567890.12") and ev("abs(0 yuan - record.m)", m=BIG) == BIG
    assert ev("record.m * 3", m=BIG) == D("370370367037037036703703703670.36")
    # numbers (not money) keep 28 significant digits: z² = 1524157875323883675.049535154031397676…
    assert ev("record.z * record.z + 1", z=D("1234567890.123456789012345678")) == D("1524157875323883676.049535154")


def test_money_division_never_rounds_at_the_fen():
    assert ev("record.m / 3", m=D("100.00")) == D("33.33333333333333333333333333")  # 28 digits, as before
    assert ev("record.m / 2", m=BIG) == D("61728394506172839450617283945.06")  # exact at any size
    big_plus = D("123456789012345678901234567890.13")
    assert str(ev("record.m / 3", m=big_plus)) == "41152263004115226300411522630." + "04" + "3" * 26  # 28 after the point
    assert ev("round(record.m / 3, 2, half_up)", m=big_plus) == D("41152263004115226300411522630.04")


def test_an_amount_of_any_size_is_reported_exactly(tmp_path):
    body = """rules:
  - id: t.amount
    kind: amount
    subject: community
    amount: "123456789012345678901234567890.12 yuan + 0.01 yuan"
    citation: {file: t.txt, quote: 引文}
"""
    (finding,) = load_policy(_policy(tmp_path, body)).evaluate(load_records(COMMUNITY), as_of=dt.date(2024, 1, 1)).findings
    assert (finding.outcome, finding.amount) == ("amount", D("123456789012345678901234567890.13"))


# ------------------------------------------------------------------------- numbers from their text


def test_unquoted_policy_numbers_are_read_exactly(tmp_path):
    body = """parameters:
  ceiling: {value: 12345678901234567.89, type: number}
  share: {value: 0.1, type: number}
rules:
  - id: t.exact
    kind: requirement
    strength: hard
    subject: community
    require: "ceiling == 12345678901234567.89 and ceiling * 1 yuan == 12345678901234567.89 yuan and share * 3 == 0.3"
    citation: {file: t.txt, quote: 引文}
"""
    policy = load_policy(_policy(tmp_path, body))
    (finding,) = policy.evaluate(load_records(COMMUNITY), as_of=dt.date(2024, 1, 1)).findings
    assert finding.outcome == "pass"
    assert dict(policy.parameters)["ceiling"] == D("12345678901234567.89")


def test_wan_and_percent_literals_are_exact_at_any_length():
    assert ev("123456789012345678901234567.89万") == D("1234567890123456789012345678900")
    assert ev("3万元") == D("30000") and str(ev("3万元")) == "30000"
    assert ev("12.5%") == D("0.125")


def test_sub_fen_money_in_records_is_a_record_error():
    from policyengine.records import RecordErrors

    pools = [{"community_id": "c1", "year": 2023, "contributions": {"u1": "4037.655"}, "actual_spend_yuan": "1.000"}]
    with pytest.raises(RecordErrors) as raised:
        load_records({**COMMUNITY, "fund_pools": pools})
    assert [(e.code, e.record_id, e.field) for e in raised.value.errors] == [
        ("RE119", "fund_pool:c1:2023", "contributions[u1]")]
    assert "4037.655" in raised.value.errors[0].message_en
    pools[0]["contributions"]["u1"] = "4037.650"  # trailing zeros are exact to the fen
    assert load_records({**COMMUNITY, "fund_pools": pools}).fund_pools[0].contributions == {"u1": D("4037.65")}


# ------------------------------------------------------------------------- whole numbers and indexes


def test_round_digits_must_be_whole():
    assert codes("round(record.z, 1.5, half_up)") == [("PE310", 1, 17)]
    assert ev("round(record.z, 1, half_up)", z=D("1.25")) == D("1.3")
    assert ev("round(record.z, record.k, half_up)", z=D("1.25"), k=D("1.0")) == D("1.3")
    with pytest.raises(EvaluationError, match=r"^round\(x, digits, mode\): digits must be a whole number, got 1\.5$"):
        ev("round(record.z, record.k, half_up)", z=D("1.25"), k=D("1.5"))


def test_date_parts_must_be_whole():
    assert codes("date(2024, 2.5, 1)") == [("PE310", 1, 12)]
    assert ev("date(2024, record.k, 1)", k=D("2")) == dt.date(2024, 2, 1)
    with pytest.raises(EvaluationError, match=r"^date\(y, m, d\): m must be a whole number, got 2\.5$"):
        ev("date(2024, record.k, 1)", k=D("2.5"))


def test_list_indexes_are_checked_never_counted_from_the_end():
    assert ev("record.xs[0] + record.xs[2]", xs=(1, 2, 3)) == 4
    assert codes("record.xs[-1]") == [("PE310", 1, 11)]
    assert codes("record.xs[0.5]") == [("PE310", 1, 11)]
    with pytest.raises(EvaluationError, match=r"^__record__\.xs: index 3 is outside 0 … 2$"):
        ev("record.xs[3]", xs=(1, 2, 3))
    with pytest.raises(EvaluationError, match=r"^__record__\.xs: index -1 is outside 0 … 2$"):
        ev("record.xs[record.k]", xs=(1, 2, 3), k=-1)
    with pytest.raises(EvaluationError, match=r"^__record__\.xs: index 0 of an empty list$"):
        ev("record.xs[0]", xs=())
    assert ev("has(record.xs[3])", xs=(1, 2, 3)) is False and ev("has(record.xs[2])", xs=(1, 2, 3)) is True


# ------------------------------------------------------------------------- the lexical level


def test_unicode_escapes_are_honoured_and_unknown_escapes_rejected():
    assert ev('"\\u006e\\u6559"') == "n教"
    assert ev('"a\\tb\\n\\\\\\"\\\'"') == "a\tb\n\\\"'"
    assert codes('"\\u006"') == [("PE308", 1, 1)]
    assert codes('"\\ud800"') == [("PE308", 1, 1)]  # a lone surrogate is no character
    assert codes('"x" == "\\q"') == [("PE308", 1, 8)]


def test_fullwidth_digits_are_rejected_with_a_hint():
    with pytest.raises(PolicyError) as caught:
        compile_expression("record.z > １２", FIELDS)
    (diagnostic,) = caught.value.diagnostics
    assert (diagnostic.code, diagnostic.span.col) == ("PE105", 12)
    assert diagnostic.message("en") == "fullwidth or non-ASCII character '１': write the ASCII 1 (numbers use 0-9 only)"
    assert codes("（1 + 2)") == [("PE105", 1, 1)]
    assert codes("record.z > ٣") == [("PE105", 1, 12)]  # an Arabic-Indic three
    assert codes("２０２４-01-01") == [("PE105", 1, 1)]
