"""Compiled semantics of every operator and built-in, through `policyengine.compile_expression`.

Expected values are arithmetic and calendar facts or statements of docs/language.md, worked out by
hand; none is copied from the engine's output.
"""

from __future__ import annotations

import datetime as dt
import gc
import inspect
import itertools
import weakref
from decimal import Decimal

import pytest

from policyengine import PolicyError, compile_expression, load_records, parser
from policyengine import ir
from policyengine import nodes as n
from policyengine.checker import Checker, Environment
from policyengine.compiler import compile_ir
from policyengine.runtime import Absent, Duration, EvaluationError

D = Decimal
FIELDS = {
    "z": "number", "z_prev": "number?", "m": "money", "m2": "money?", "d": "date", "d2": "date?",
    "s": "string", "xs": "list<number>", "ms": "list<money>", "names": "list<string>", "mt": "enum:model_type",
    "w": "map<string,number>", "counts": "map<int,int>", "flag": "bool",
}
RECORD = {"z": D("1.5"), "z_prev": None, "m": D("100.00"), "m2": None, "d": dt.date(2022, 9, 1), "d2": None,
          "s": "融合型教共体", "xs": (3, 1, 4, 1, 5), "ms": (D("0.10"), D("0.20")), "names": ("甲", "乙", "甲"),
          "mt": "fusion", "w": {"a": 1, "b": 1, "c": 1}, "counts": {2021: 6, 2022: 7}, "flag": True}


def ev(text: str, **fields):
    """Compile `text` once against the ad-hoc record type FIELDS and evaluate it on RECORD + fields."""
    return compile_expression(text, FIELDS)({**RECORD, **fields})


def codes(text: str, record_type=None) -> list[tuple[str, int]]:
    with pytest.raises(PolicyError) as caught:
        compile_expression(text, record_type or FIELDS)
    return [(d.code, d.span.col) for d in caught.value.diagnostics]


# ---------------------------------------------------------------------------------- exact decimals


def test_exact_decimal_arithmetic():
    assert 0.1 + 0.2 != 0.3  # the float trap this language must not fall into
    assert ev("0.1 + 0.2 == 0.3") is True
    assert ev("0.1 + 0.2") == D("0.3")
    assert ev("72.4 - 67.4 == 5") is True
    assert ev("72.4 - 67.4 >= 5") is True
    assert not (0.3 - 0.1 >= 0.2)  # float: 0.19999999999999998
    assert ev("0.3 - 0.1 >= 0.2") is True
    assert ev("record.z * 3") == D("4.5")
    assert ev("1.1 * 1.1") == D("1.21")
    assert not any(isinstance(ev(t), float) for t in ("1 / 3", "0.5 * 2", "10% * 3", "2.5 yuan / 2"))


def test_arithmetic_does_not_depend_on_the_callers_decimal_context():
    import decimal

    f = compile_expression("record.m + 0.01 yuan", FIELDS)
    with decimal.localcontext(prec=6, rounding=decimal.ROUND_DOWN):
        assert f({**RECORD, "m": D("123456.78")}) == D("123456.79")
        assert ev("(1 / 3) * 3 == 1") is False


def test_division_is_exact_to_28_digits_and_by_zero_is_an_error():
    assert ev("1 / 3") == D("0." + "3" * 28)  # the declared context: 28 significant digits, half-even
    assert ev("1 / 4") == D("0.25")
    assert ev("(1 / 3) * 3 == 1") is False  # exact but finite: a third is not representable
    assert ev("100 yuan / 3 yuan") == D("33." + "3" * 26)
    with pytest.raises(EvaluationError):
        ev("1 / 0")
    with pytest.raises(EvaluationError):
        ev("record.m / (record.m - record.m)")
    with pytest.raises(EvaluationError):
        ev("record.z / 0.0")


def test_money_and_number_arithmetic():
    assert ev("record.m * 10%") == D("10.00")
    assert ev("3万元 + 5000 yuan") == D(35000)
    assert ev("10 yuan / 4") == D("2.5")
    assert ev("record.m - 0.01 yuan") == D("99.99")
    assert ev("-record.m") == D("-100.00")
    assert ev("--3") == 3
    assert ev("-(1 - 3)") == 2
    assert ev("abs(-3 yuan)") == D(3)
    assert ev("abs(-2.5)") == D("2.5")
    assert codes("record.m + 1") == [("PE301", 10)]          # money + number
    assert codes("record.m * record.m") == [("PE301", 10)]   # money * money has no meaning
    assert codes("1 / record.m") == [("PE301", 3)]           # number / money
    assert codes("-record.s") == [("PE301", 1)]


# ------------------------------------------------------------------------------------ comparisons


@pytest.mark.parametrize("text, expected", [
    ("5 >= 5", True), ("5 > 5", False), ("5 <= 5", True), ("5 < 5", False), ("5 == 5.0", True),
    ("5 != 5", False), ("4.99 < 5", True), ("5.01 > 5", True),
    ("6 between 1 and 6", True), ("1 between 1 and 6", True), ("0.99 between 1 and 6", False),
    ("6.01 between 1 and 6", False),
    ("2021-09-01 >= 2021-09-01", True), ("2021-08-31 < 2021-09-01", True), ("2021-09-01 > 2021-09-01", False),
    ("2021-09-01 between 2021-09-01 and 2021-12-31", True), ("2022-01-01 between 2021-09-01 and 2021-12-31", False),
    ("100 yuan >= 100.00 yuan", True), ("99.99 yuan < 100 yuan", True),
    ("'a' < 'b'", True), ("'融合' == '融合'", True), ("true == true", True), ("true != false", True),
])
def test_comparison_boundaries(text, expected):
    assert ev(text) is expected


def test_comparison_type_errors():
    assert codes("1 == '1'") == [("PE302", 3)]
    assert codes("record.s > 3") == [("PE302", 10)]
    assert codes("record.m > 3") == [("PE302", 10)]  # money only with money
    assert codes("record.m == 0") == [("PE302", 10)]
    assert codes("record.d < 3") == [("PE302", 10)]
    assert codes("true < false") == [("PE302", 6)]  # booleans are not ordered
    assert codes("record.z between 1 yuan and 2 yuan") == [("PE302", 1)]


def test_boolean_operators_short_circuit():
    # the right side would fail (division by zero, absent data) if it were evaluated
    assert ev("false and 1 / 0 > 1") is False
    assert ev("true or 1 / 0 > 1") is True
    assert ev("has(record.z_prev) and record.z_prev > 1") is False
    assert ev("not has(record.z_prev) or record.z_prev > 1") is True
    assert ev("if true then 1 else 1 / 0") == 1
    assert ev("if false then record.z_prev else 2") == 2
    assert ev("not true") is False
    assert ev("true and not false") is True
    for a, b in itertools.product((True, False), repeat=2):
        assert ev(f"{str(a).lower()} and {str(b).lower()}") is (a and b)
        assert ev(f"{str(a).lower()} or {str(b).lower()}") is (a or b)


def test_conditions_must_be_bool():
    assert codes("if 1 then 2 else 3") == [("PE303", 4)]
    assert codes("1 and true") == [("PE303", 1)]
    assert codes("not record.s") == [("PE303", 12)]  # a field is positioned at its name
    assert codes("count(x for x in record.xs where x)") == [("PE303", 34)]
    assert codes("if true then 1 else 'a'") == [("PE301", 1)]  # both branches share one type


def test_membership():
    assert ev("3 in record.xs") is True
    assert ev("2 in record.xs") is False
    assert ev("2 not in record.xs") is True
    assert ev("'甲' in record.names") is True
    assert ev("record.mt in ['fusion', 'co_build']") is True
    assert ev("record.mt not in ['collaborative']") is True
    assert ev("1 in []") is False
    assert codes("record.mt in ['fusion', 'fuson']") == [("PE304", 25)]
    assert codes("'a' in record.xs") == [("PE301", 1)]


def test_date_in_period_is_closed_on_both_ends():
    assert ev("2022-09-01 in school_year(2022-09-01)") is True
    assert ev("2023-08-31 in school_year(2022-09-01)") is True
    assert ev("2023-09-01 in school_year(2022-09-01)") is False
    assert ev("2022-08-31 not in school_year(2022-09-01)") is True


# --------------------------------------------------------------------------------------- rounding


@pytest.mark.parametrize("x, half_up, half_even, down, up, ceiling, floor", [
    ("2.5", "3", "2", "2", "3", "3", "2"),
    ("3.5", "4", "4", "3", "4", "4", "3"),
    ("-2.5", "-3", "-2", "-2", "-3", "-2", "-3"),
    ("2.4", "2", "2", "2", "3", "3", "2"),
    ("2.6", "3", "3", "2", "3", "3", "2"),
    ("-2.6", "-3", "-3", "-2", "-3", "-2", "-3"),
    ("7", "7", "7", "7", "7", "7", "7"),
])
def test_round_all_six_modes_to_integers(x, half_up, half_even, down, up, ceiling, floor):
    for mode, expected in zip(("half_up", "half_even", "down", "up", "ceiling", "floor"),
                              (half_up, half_even, down, up, ceiling, floor)):
        assert ev(f"round({x}, 0, {mode})") == D(expected), mode


def test_round_to_the_fen_and_to_tens():
    assert ev("round(2.345, 2, half_up)") == D("2.35")
    assert ev("round(2.345, 2, half_even)") == D("2.34")
    assert ev("round(2.355, 2, half_even)") == D("2.36")
    assert ev("round(2.349, 2, down)") == D("2.34")
    assert ev("round(2.341, 2, up)") == D("2.35")
    assert ev("round(1 yuan / 3, 2, half_up)") == D("0.33")
    assert ev("round(2 yuan / 3, 2, down)") == D("0.66")
    assert ev("round(2 yuan / 3, 2, half_up)") == D("0.67")
    assert ev("round(1234.5, -1, half_up)") == D("1.23E+3")  # to tens: 1230
    assert ev("round(1235, -1, half_even)") == D(1240)
    assert codes("round(2.5, 0, nearest)") == [("PE201", 15)]
    assert codes("round(2.5, 0, 'half_up')") == [("PE305", 1)]
    assert codes("round(2.5, 0)") == [("PE204", 1)]


@pytest.mark.parametrize("text, expected", [
    ("ceil(2.1)", 3), ("ceil(2)", 2), ("ceil(-2.1)", -2), ("floor(2.9)", 2), ("floor(-2.1)", -3), ("floor(2)", 2),
    ("ceil(10 / 3)", 4), ("floor(10 / 3)", 3), ("ceil(6 / 2)", 3), ("ceil(0.0001)", 1),
])
def test_ceil_and_floor(text, expected):
    assert ev(text) == expected


# ---------------------------------------------------------------------------------------- periods


@pytest.mark.parametrize("day, label, start, end", [
    ("2022-08-31", "2021-2022", "2021-09-01", "2022-08-31"),
    ("2022-09-01", "2022-2023", "2022-09-01", "2023-08-31"),
    ("2023-01-01", "2022-2023", "2022-09-01", "2023-08-31"),
    ("2024-02-29", "2023-2024", "2023-09-01", "2024-08-31"),
])
def test_school_year_boundaries(day, label, start, end):
    assert ev(f"school_year({day}).label") == label
    assert ev(f"school_year({day}).start") == dt.date.fromisoformat(start)
    assert ev(f"school_year({day}).end") == dt.date.fromisoformat(end)
    assert ev(f"school_year({day}).year") == int(label[:4])
    assert ev(f"school_year({day}).kind") == "school_year"


@pytest.mark.parametrize("day, label, start, end", [
    ("2022-09-01", "2022-2023-1", "2022-09-01", "2023-01-31"),
    ("2022-12-31", "2022-2023-1", "2022-09-01", "2023-01-31"),
    ("2023-01-31", "2022-2023-1", "2022-09-01", "2023-01-31"),
    ("2023-02-01", "2022-2023-2", "2023-02-01", "2023-08-31"),
    ("2023-08-31", "2022-2023-2", "2023-02-01", "2023-08-31"),
    ("2022-08-31", "2021-2022-2", "2022-02-01", "2022-08-31"),
    ("2024-02-29", "2023-2024-2", "2024-02-01", "2024-08-31"),
])
def test_semester_boundaries(day, label, start, end):
    assert ev(f"semester({day}).label") == label
    assert ev(f"semester({day}).start") == dt.date.fromisoformat(start)
    assert ev(f"semester({day}).end") == dt.date.fromisoformat(end)


def test_calendar_year_and_period_navigation():
    assert ev("calendar_year(2022-12-31).label") == "2022"
    assert ev("calendar_year(2023-01-01).label") == "2023"
    assert ev("calendar_year(2022-06-15).start") == dt.date(2022, 1, 1)
    assert ev("calendar_year(2022-06-15).end") == dt.date(2022, 12, 31)
    assert ev("semester(2023-01-31).next.label") == "2022-2023-2"
    assert ev("semester(2023-02-01).previous.label") == "2022-2023-1"
    assert ev("semester(2023-02-01).next.label") == "2023-2024-1"
    assert ev("school_year(2022-09-01).previous.label") == "2021-2022"
    assert ev("record.d.year * 10000 + record.d.month * 100 + record.d.day") == 20220901


# ------------------------------------------------------------------------------- calendar counting


@pytest.mark.parametrize("a, b, years", [
    ("2018-09-01", "2021-08-31", 2),  # the day before the third anniversary
    ("2018-09-01", "2021-09-01", 3),  # the anniversary itself: 满3年
    ("2018-09-01", "2018-09-01", 0),
    ("2021-01-01", "2021-12-31", 0),
    ("2020-02-29", "2021-02-27", 0),
    # 29 Feb: the anniversary in a common year is 28 Feb, as `2020-02-29 + 1 year` says (month-end
    # clamping; 《民法典》第二百零三条: 没有对应日的，月末日为期间的最后一日)
    ("2020-02-29", "2021-02-28", 1),
    ("2020-02-29", "2021-03-01", 1),
    ("2020-02-29", "2024-02-28", 3),
    ("2020-02-29", "2024-02-29", 4),
    ("2019-03-01", "2020-02-29", 0),
    ("2019-02-28", "2020-02-28", 1),
])
def test_years_between_counts_full_years(a, b, years):
    assert ev(f"years_between({a}, {b})") == years


@pytest.mark.parametrize("a, b, months", [
    ("2021-01-15", "2021-02-14", 0), ("2021-01-15", "2021-02-15", 1), ("2021-01-31", "2021-02-28", 1),
    ("2021-01-31", "2021-03-30", 1), ("2021-01-31", "2021-03-31", 2), ("2021-09-01", "2022-08-31", 11),
    ("2021-09-01", "2022-09-01", 12), ("2020-01-30", "2020-02-29", 1),
])
def test_months_between_counts_full_months(a, b, months):
    assert ev(f"months_between({a}, {b})") == months


def test_years_and_months_between_agree_with_date_arithmetic():
    # full years from a to b = the largest n with a + n years <= b (and the same for months)
    years = compile_expression("years_between(record.d, record.d2)", FIELDS)
    months = compile_expression("months_between(record.d, record.d2)", FIELDS)
    from policyengine.runtime import add_duration

    starts = [dt.date(2020, 2, 29), dt.date(2019, 1, 31), dt.date(2021, 8, 31), dt.date(2020, 12, 31)]
    for a in starts:
        for offset in range(0, 1200, 7):
            b = a + dt.timedelta(days=offset)
            record = {**RECORD, "d": a, "d2": b}
            n_years = years(record)
            assert add_duration(a, Duration(months=12 * n_years)) <= b < add_duration(a, Duration(months=12 * (n_years + 1))), (a, b)
            n_months = months(record)
            assert add_duration(a, Duration(months=n_months)) <= b < add_duration(a, Duration(months=n_months + 1)), (a, b)


def test_days_between_and_date_constructor():
    assert ev("days_between(2021-01-01, 2021-03-01)") == 59
    assert ev("days_between(2024-01-01, 2024-03-01)") == 60
    assert ev("days_between(2021-03-01, 2021-01-01)") == -59
    assert ev("date(2024, 2, 29)") == dt.date(2024, 2, 29)
    with pytest.raises(EvaluationError, match=r"^date\(2023, 2, 29\): day is out of range for month$"):
        ev("date(2023, 2, 29)")
    assert codes("2023-02-29") == [("PE308", 1)]


@pytest.mark.parametrize("text, expected", [
    ("2021-01-31 + 1 month", "2021-02-28"),
    ("2020-01-31 + 1 month", "2020-02-29"),
    ("2021-03-31 - 1 month", "2021-02-28"),
    ("2021-05-31 + 1 month", "2021-06-30"),
    ("2020-02-29 + 1 year", "2021-02-28"),
    ("2020-02-29 + 4 years", "2024-02-29"),
    ("2021-09-01 + 3 years", "2024-09-01"),
    ("2021-12-15 + 1 month", "2022-01-15"),
    ("2022-01-15 - 1 month", "2021-12-15"),
    ("2021-12-31 + 1 day", "2022-01-01"),
    ("2024-03-01 - 1 day", "2024-02-29"),
    ("2021-09-01 + 200 days", "2022-03-20"),
])
def test_date_plus_minus_duration_clamps_to_month_end(text, expected):
    assert ev(text) == dt.date.fromisoformat(expected)


def test_date_type_errors():
    assert codes("2021-01-01 + 1 yuan") == [("PE301", 12)]  # money + date
    assert codes("1 yuan + 2021-01-01") == [("PE301", 8)]
    assert codes("2021-01-01 + 1") == [("PE301", 12)]
    assert codes("2021-01-01 + 2021-01-02") == [("PE301", 12)]


def test_overlaps():
    assert ev("overlaps(2022-01-01, 2022-12-31, school_year(2022-09-01))") is True
    assert ev("overlaps(2023-08-31, 2023-08-31, school_year(2022-09-01))") is True
    assert ev("overlaps(2023-09-01, 2023-09-30, school_year(2022-09-01))") is False
    assert ev("overlaps(2022-01-01, 2022-08-31, school_year(2022-09-01))") is False
    # an open end (absent optional date) means "still running"
    assert ev("overlaps(2020-01-01, record.d2, school_year(2022-09-01))") is True


# ---------------------------------------------------------------------------------------- allocate


def allocate(total: str, **weights):
    f = compile_expression("allocate(record.m, record.w)", FIELDS)
    return f({**RECORD, "m": D(total), "w": weights})


def test_allocate_conserves_the_total_to_the_fen():
    assert allocate("33333.33", a=1, b=1, c=1) == {"a": D("11111.11"), "b": D("11111.11"), "c": D("11111.11")}
    # 100000 / 3 = 33333.333…: one fen left over, to the smallest key on a tie
    assert allocate("100000", a=1, b=1, c=1) == {"a": D("33333.34"), "b": D("33333.33"), "c": D("33333.33")}
    assert allocate("0.02", x=1, y=1, z=1) == {"x": D("0.01"), "y": D("0.01"), "z": D("0")}
    # largest remainder: 10 yuan by 1:2 → 3.333… and 6.666…; the fen goes to the larger remainder (b)
    assert allocate("10", a=1, b=2) == {"a": D("3.33"), "b": D("6.67")}
    assert allocate("100", a=D("0.5"), b=D("1.5")) == {"a": D("25.00"), "b": D("75.00")}
    assert allocate("100", only=7) == {"only": D("100.00")}
    assert allocate("100", a=0, b=1) == {"a": D(0), "b": D("100")}


def test_allocate_negative_totals_and_exhaustive_conservation():
    assert allocate("-100000", a=1, b=1, c=1) == {"a": D("-33333.34"), "b": D("-33333.33"), "c": D("-33333.33")}
    for total in ("0.01", "1", "99.99", "33333.33", "100000", "-7.01", "0"):
        for weights in ({"a": 1, "b": 1, "c": 1}, {"a": 3, "b": 5, "c": 7, "d": 11}, {"k": 1, "j": 2}):
            parts = allocate(total, **weights)
            assert sum(parts.values()) == D(total), (total, weights)
            assert all(p == p.quantize(D("0.01")) for p in parts.values())
            exact = {k: D(total) * w / sum(weights.values()) for k, w in weights.items()}
            assert all(abs(parts[k] - exact[k]) < D("0.01") for k in weights)


def test_allocate_errors():
    with pytest.raises(EvaluationError):
        allocate("100", a=0, b=0)
    with pytest.raises(Absent):
        allocate("100")
    assert codes("allocate(100, record.w)") == [("PE305", 1)]


# ---------------------------------------------------------------------------------- absent values


def test_absent_optional_field_is_absent_at_run_time():
    with pytest.raises(Absent) as caught:
        ev("record.z_prev > 1")
    assert "z_prev" in caught.value.what
    assert ev("record.z_prev > 1", z_prev=D(2)) is True
    with pytest.raises(Absent):
        ev("record.m2 + 1 yuan")
    with pytest.raises(Absent):
        ev("record.counts[2020]")
    assert ev("record.counts[2021]") == 6


def test_has_is_a_presence_test_and_never_absent():
    assert ev("has(record.z_prev)") is False
    assert ev("has(record.z_prev)", z_prev=D(0)) is True  # zero is present
    assert ev("has(record.counts[2021])") is True
    assert ev("has(record.counts[2020])") is False
    assert ev("has(record.xs[4])") is True
    assert ev("has(record.xs[5])") is False
    assert ev("if has(record.z_prev) then record.z - record.z_prev else 0") == 0
    assert codes("has(1 + 1)") == [("PE305", 1)]
    assert codes("has(record.z_prev, record.z)") == [("PE204", 1)]


# ---------------------------------------------------------------------------------- comprehensions


@pytest.mark.parametrize("text, expected", [
    ("count(record.xs)", 5),
    ("count(x for x in record.xs)", 5),
    ("count(x for x in record.xs where x > 1)", 3),
    ("count(x for x in record.xs where x > 100)", 0),
    ("sum(x for x in record.xs)", 14),
    ("sum(x for x in record.xs where x > 3)", 9),
    ("sum(x for x in record.xs where x > 100)", 0),
    ("sum(record.xs)", 14),
    ("sum(record.ms)", D("0.30")),
    ("sum(m for m in record.ms where m > 1 yuan) == 0 yuan", True),
    ("min(x for x in record.xs)", 1),
    ("max(x for x in record.xs)", 5),
    ("min(x for x in record.xs where x > 1)", 3),
    ("max(x * 2 for x in record.xs where x < 4)", 6),
    ("min(record.xs)", 1),
    ("max(1, 7, 3)", 7),
    ("all(x > 0 for x in record.xs)", True),
    ("all(x > 1 for x in record.xs)", False),
    ("all(x > 100 for x in record.xs where x > 100)", True),  # vacuous truth
    ("any(x > 4 for x in record.xs)", True),
    ("any(x > 5 for x in record.xs)", False),
    ("any(x > 0 for x in record.xs where x > 100)", False),
    ("first(x for x in record.xs where x > 3)", 4),
    ("first(x for x in record.xs)", 3),
    ("[x * 2 for x in record.xs where x != 1]", (6, 8, 10)),
    ("[x for x in record.xs where x > 100]", ()),
    ("distinct(record.xs)", (3, 1, 4, 5)),
    ("distinct(record.names)", ("甲", "乙")),
    ("distinct([x for x in record.xs where x < 4])", (3, 1)),
    ("count([[1] for x in record.xs])", 5),
    ("sum(count(y for y in record.xs where y <= x) for x in record.xs)", 16),  # nested: 3 + 2 + 4 + 2 + 5
])
def test_comprehensions(text, expected):
    result = ev(text)
    assert result == expected and type(result) is not float


@pytest.mark.parametrize("text", ["min(x for x in record.xs where x > 100)", "max(x for x in record.xs where x > 100)",
                                  "first(x for x in record.xs where x > 100)", "min([x for x in record.xs where x > 100])"])
def test_empty_min_max_first_are_absent(text):
    with pytest.raises(Absent):
        ev(text)


def test_comprehension_type_errors():
    assert codes("sum(s for s in record.names)") == [("PE305", 5)]
    assert codes("all(x for x in record.xs)") == [("PE303", 5)]
    assert codes("count(x for x in record.z)") == [("PE306", 25)]
    assert codes("nope(x for x in record.xs)") == [("PE203", 1)]
    assert codes("count(y for x in record.xs)") == [("PE201", 7)]
    assert codes("x + count(x for x in record.xs)") == [("PE201", 1)]  # the variable is local


def test_comprehensions_over_schema_records():
    records = load_records({
        "communities": [{"community_id": "c-1", "name": "一号", "model_type": "融合型", "units": [
            {"unit_id": "u-1", "role": "lead"}, {"unit_id": "u-2", "role": "partner"},
            {"unit_id": "u-3", "role": "partner"}]}],
        "units": [{"unit_id": "u-1", "name": "甲校", "urbanity": "urban"}, {"unit_id": "u-2", "name": "乙校"},
                  {"unit_id": "u-3", "name": "丙校", "urbanity": "rural"}],
    })
    [community] = records.communities
    f = compile_expression("count(m for m in record.units where m.role == 'partner')", "community")
    assert f(community) == 2
    g = compile_expression("[m.unit.name for m in record.units where m.unit.urbanity == 'rural']", "community")
    with pytest.raises(Absent):  # u-2 has no urbanity: reading it is absent, not false
        g(community)
    h = compile_expression("[m.unit.name for m in record.units where has(m.unit.urbanity) and m.unit.urbanity == 'rural']",
                           "community")
    assert h(community) == ("丙校",)
    assert compile_expression("record.model_type == 'fusion'", "community")(community) is True


# ------------------------------------------------------------------------------------ strings, maps


def test_string_and_map_functions():
    assert ev("len('中文')") == 2
    assert ev("len(record.xs)") == 5
    assert ev("contains(record.s, '融合')") is True
    assert ev("startswith(record.s, '融合型')") is True
    assert ev("endswith(record.s, '教共体')") is True
    assert ev("replace('牵头单位+联合单位', '+', '、')") == "牵头单位、联合单位"
    assert ev("concat(['柳州', '一中', '教育共同体'])") == "柳州一中教育共同体"
    assert ev("'柳州' + '教共体'") == "柳州教共体"
    assert ev("keys(record.counts)") == (2021, 2022)
    assert ev("values(record.counts)") == (6, 7)
    assert ev("keys(record.w)", w={"b": 2, "a": 1}) == ("a", "b")  # key order, not insertion order
    assert ev("[1, 2] + [3]") == (1, 2, 3)


def test_enum_literal_typos_are_type_errors():
    assert codes("record.mt == 'fuson'") == [("PE304", 14)]
    assert codes("'fuson' != record.mt") == [("PE304", 1)]
    assert ev("record.mt == 'fusion'") is True
    assert ev("record.mt == record.s") is False  # a string field is not checked against the enum


def test_parameters_are_constants_of_the_expression():
    f = compile_expression("record.z >= threshold", FIELDS, parameters={"threshold": D("1.5")})
    assert f(RECORD) is True
    assert f({**RECORD, "z": D("1.49")}) is False


# ------------------------------------------------------------------------------------ compilation


def _all_nodes(root) -> list:
    found, stack = [], [root]
    while stack:
        node = stack.pop()
        found.append(node)
        for field in attrs_fields(node):
            value = getattr(node, field)
            items = value if isinstance(value, tuple) else (value,)
            for item in items:
                if isinstance(item, tuple):
                    items_inner = item
                else:
                    items_inner = (item,)
                for x in items_inner:
                    if isinstance(x, (n.Node, ir.IR)):
                        stack.append(x)
    return found


def attrs_fields(node) -> list[str]:
    import attrs

    return [f.name for f in attrs.fields(type(node))]


def test_compiled_function_holds_no_syntax_tree_or_ir_nodes():
    text = ("if has(record.z_prev) then round(record.z - record.z_prev, 2, half_up) "
            "else sum(x * 2 for x in record.xs where x between 1 and 4) + count(record.names)")
    from policyengine.engine import _adhoc_type
    from policyengine.recordschema import load_record_schema

    schema = load_record_schema()
    adhoc = {field: _adhoc_type(spec, schema) for field, spec in FIELDS.items()}
    import policyengine.typesys as t

    env = Environment({"record": t.record("__record__")}, {}, {}, {}, lambda _: adhoc, frozenset({"__record__"}))
    diagnostics: list = []
    tree = parser.parse(parser.expression_scalar(text), diagnostics)
    checked = Checker(env, diagnostics).check(tree)
    assert not diagnostics
    function = compile_ir(checked, ("record",))
    references = [weakref.ref(x) for x in _all_nodes(tree) + _all_nodes(checked)]
    assert len(references) > 20
    del tree, checked
    gc.collect()
    assert [r() for r in references if r() is not None] == []
    # x in (3, 1, 4, 1, 5) between 1 and 4 → 3, 1, 4, 1 → sum of doubles 18; + 3 names
    assert function(RECORD) == 21
    assert function({**RECORD, "z_prev": D("1.25")}) == D("0.25")


def test_compiled_function_reaches_only_plain_values():
    f = compile_expression("record.s == '融合型教共体' and count(record.xs) > 2", FIELDS)
    seen, stack = set(), [f]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, type):
            continue
        seen.add(id(obj))
        assert not isinstance(obj, (n.Node, ir.IR)), obj
        if obj is f or getattr(obj, "__closure__", None) is not None:
            stack.extend(c.cell_contents for c in (obj.__closure__ or ()))
    assert f(RECORD) is True


def test_generated_code_cannot_reach_python_builtins():
    f = inspect.unwrap(compile_expression("record.z > 1", FIELDS))
    builtins = f.__globals__["__builtins__"]
    assert "__import__" not in builtins and "open" not in builtins and "getattr" not in builtins
    assert "eval" not in builtins and "exec" not in builtins
    # and a policy cannot name them or reach Python attributes
    assert codes("__import__('os')") == [("PE203", 1)]
    assert codes("open('/etc/passwd')") == [("PE203", 1)]
    assert codes("eval('1')") == [("PE203", 1)]
    assert codes("__builtins__") == [("PE201", 1)]
    assert codes("record.__class__") == [("PE202", 8)]
    assert codes("record.z.__class__") == [("PE202", 10)]
    assert codes("'a'.upper") == [("PE202", 5)]
    assert codes("_rt") == [("PE201", 1)]
    assert codes("_g") == [("PE201", 1)]
    assert codes("as_of") == [("PE201", 1)]  # no clock reads in a bare expression either


def test_strings_never_become_code():
    text = '"\\" + __import__(\'os\').getcwd() + \\""'
    g = compile_expression(f"record.s == {text}", FIELDS)
    assert g(RECORD) is False
    assert g({**RECORD, "s": "\" + __import__('os').getcwd() + \""}) is True


def test_compile_expression_reports_positions_and_unknown_kinds():
    with pytest.raises(PolicyError) as caught:
        compile_expression("record.nope + missing", FIELDS)
    # both sides of the `+` are checked: both problems are reported
    assert [(d.code, d.span.line, d.span.col) for d in caught.value.diagnostics] == [("PE202", 1, 8), ("PE201", 1, 15)]
    with pytest.raises(ValueError):
        compile_expression("true", "no_such_kind")


def test_flatten_joins_nested_lists_in_order():
    f = compile_expression("flatten([record.a, record.b, []])", {"a": "list<string>", "b": "list<string>"})
    assert f({"a": ("马屿", "陶山"), "b": ("高楼",)}) == ("马屿", "陶山", "高楼")
    g = compile_expression("count(flatten([m.unit.aliases for m in record.units]))", "community", name="record")
    assert callable(g)


# ------------------------------------------------------------------ semantics that cannot hide errors (#21.5)

COMMUNITY_RECORDS = {"units": [{"unit_id": "u1", "name": "一小"}],
                     "communities": [{"community_id": "c1", "name": "甲", "units": [{"unit_id": "u1", "role": "lead"}]}]}


def test_has_through_an_absent_parent_is_false():
    f = compile_expression("has(record.agreement.signed_on)", "community")
    g = compile_expression("has(record.agreement.signed_on) or record.name == '甲'", "community")
    (bare,) = load_records(COMMUNITY_RECORDS).communities
    assert f(bare) is False and g(bare) is True  # before: absent, and the finding not_applicable
    signed = {**COMMUNITY_RECORDS["communities"][0], "agreement": {"signed_on": "2022-01-01"}}
    unsigned = {**COMMUNITY_RECORDS["communities"][0], "agreement": {}}
    (with_date,) = load_records({**COMMUNITY_RECORDS, "communities": [signed]}).communities
    (without,) = load_records({**COMMUNITY_RECORDS, "communities": [unsigned]}).communities
    assert f(with_date) is True and f(without) is False
    # the parent itself stays absent where it is read outside has()
    with pytest.raises(Absent, match="agreement"):
        compile_expression("record.agreement.signed_on > 2020-01-01", "community")(bare)


def _rule_policy(tmp_path, rule: str, definitions: str = "") -> object:
    from policyengine import load_policy

    path = tmp_path / "p.yaml"
    path.write_text("format: policyengine/1\njurisdiction: {id: t, name: 测试市}\ntitle: 测试\nsource: {file: t.txt}\n"
                    + definitions + "rules:\n" + rule + "    citation: {file: t.txt, quote: 引文}\n", encoding="utf-8")
    return load_policy(path)


def _finding(policy):
    (finding,) = policy.evaluate(load_records(COMMUNITY_RECORDS), as_of=dt.date(2024, 1, 1)).findings
    return finding


def test_a_failing_value_makes_the_finding_an_error(tmp_path):
    rule = """  - id: t.values
    kind: requirement
    strength: hard
    subject: community
    require: "count(community.units) >= 1"
    values: {ratio: "count(community.units) / (count(community.units) - 1)", units: "count(community.units)"}
"""
    finding = _finding(_rule_policy(tmp_path, rule))
    values = finding.values_dict
    assert finding.outcome == "error"  # before: pass, with values.ratio = "error: division by zero"
    assert (values["error_code"], values["error_at"]) == ("EV101", f"{tmp_path / 'p.yaml'}:11:45")  # the `/` of values.ratio
    assert values["error"].startswith("values.ratio: ") and values["units"] == 1


@pytest.mark.parametrize("order", [("a", "b"), ("b", "a")])
def test_a_false_when_condition_decides_whatever_the_order(tmp_path, order):
    """`when` conditions are scope tests: a false one puts the subject outside the rule, whatever the
    others give — missing data or an error — in either order (before: one order gave an error)."""
    conditions = {"a": '"false"', "b": '"1 / 0 > 1"'}
    when = ", ".join(f"{name}: {conditions[name]}" for name in order)
    rule = f"""  - id: t.when
    kind: requirement
    strength: hard
    subject: community
    when: {{{when}}}
    require: "true"
"""
    finding = _finding(_rule_policy(tmp_path, rule))
    assert (finding.outcome, finding.values_dict["unmet"]) == ("not_applicable", ("a",))


@pytest.mark.parametrize("order", [("ok", "bad"), ("bad", "ok")])
def test_without_a_false_when_condition_an_error_is_the_findings_error(tmp_path, order):
    conditions = {"ok": '"true"', "bad": '"1 / 0 > 1"', "gone": '"community.established_on > 2020-01-01"'}
    when = ", ".join(f"{name}: {conditions[name]}" for name in (*order, "gone"))
    rule = f"""  - id: t.when
    kind: requirement
    strength: hard
    subject: community
    when: {{{when}}}
    require: "true"
"""
    finding = _finding(_rule_policy(tmp_path, rule))
    assert (finding.outcome, finding.values_dict["error_code"]) == ("error", "EV101")  # the error, not the absence


@pytest.mark.parametrize("order", [("bad", "no"), ("no", "bad")])
def test_an_error_in_any_required_condition_is_the_findings_error(tmp_path, order):
    conditions = {"no": '"false"', "bad": '"1 / 0 > 1"'}
    require = ", ".join(f"{name}: {conditions[name]}" for name in order)
    rule = f"""  - id: t.require
    kind: requirement
    strength: hard
    subject: community
    require: {{{require}}}
"""
    assert _finding(_rule_policy(tmp_path, rule)).outcome == "error"


def test_an_exception_reading_absent_data_does_not_excuse_a_failure(tmp_path):
    rule = """  - id: t.exception
    kind: requirement
    strength: hard
    subject: community
    require: "count(community.units) >= 2"
    exception: "community.established_on < 2020-01-01"
"""
    finding = _finding(_rule_policy(tmp_path, rule))
    assert finding.outcome == "violation"  # before: not_applicable
    assert finding.values_dict["absent"] == ("exception: community.established_on",)
    assert "exception" not in finding.values_dict


def test_a_failing_value_of_a_subject_outside_the_rule_is_not_available(tmp_path):
    rule = """  - id: t.values
    kind: requirement
    strength: hard
    subject: community
    when: {several: "count(community.units) > 1"}
    require: "true"
    values: {ratio: "count(community.units) / (count(community.units) - 1)"}
"""
    finding = _finding(_rule_policy(tmp_path, rule))
    assert (finding.outcome, finding.values_dict["unmet"]) == ("not_applicable", ("several",))
    assert finding.values_dict["absent"] == ("ratio: EV101 division by zero (1 / 0)",)
