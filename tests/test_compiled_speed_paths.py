"""The compiler's fast paths keep the language's semantics: the decimal-context switch inside
`compile_expression` functions, inline map lookups, and sums/counts over list comprehensions."""

from __future__ import annotations

import decimal
from decimal import Decimal as D

import pytest

from policyengine import compile_expression, load_records
from policyengine.runtime import DECIMAL_CONTEXT, Absent

FIELDS = {"z": "number", "z_prev": "number?", "classes": "int", "m": "money", "counts": "map<int,int>"}


def test_the_callers_context_is_restored_after_a_value_an_absence_and_an_error():
    f = compile_expression("record.z - record.z_prev", FIELDS)
    g = compile_expression("record.z / (record.z - record.z)", FIELDS)
    with decimal.localcontext(prec=3, rounding=decimal.ROUND_DOWN) as caller:
        assert f({"z": D("123456.78"), "z_prev": D("0.01")}) == D("123456.77")
        assert decimal.getcontext() is caller
        with pytest.raises(Absent):
            f({"z": D(1)})
        assert decimal.getcontext() is caller
        with pytest.raises(Exception):
            g({"z": D(1)})
        assert decimal.getcontext() is caller and caller.prec == 3


def test_already_in_the_runtime_context_and_no_arithmetic_take_the_short_path():
    f = compile_expression("record.z * 3", FIELDS)
    saved = decimal.getcontext()
    decimal.setcontext(DECIMAL_CONTEXT)
    try:
        assert f({"z": D("1.5")}) == D("4.5")
        assert decimal.getcontext() is DECIMAL_CONTEXT
    finally:
        decimal.setcontext(saved)
    assert "_setcontext(" in f.__policyengine_source__
    comparison = compile_expression("record.z >= 5 and record.classes > 1", FIELDS)
    assert "_setcontext(" not in comparison.__policyengine_source__


def test_inline_map_lookup_is_absent_with_the_key_named():
    f = compile_expression("record.counts[2023] * 2", FIELDS)
    assert f({"counts": {2023: 4}}) == 8
    with pytest.raises(Absent) as absent:
        f({"counts": {2022: 4}})
    assert absent.value.what.endswith("[2023]")
    g = compile_expression("has(record.counts[2023])", FIELDS)
    assert g({"counts": {2023: 0}}) is True and g({"counts": {}}) is False


def test_sum_and_count_over_comprehensions():
    records = load_records({"communities": [{"community_id": "c", "name": "c", "units": [
        {"unit_id": "a", "role": "lead"}, {"unit_id": "b", "role": "partner"}, {"unit_id": "d", "role": "partner"}]}],
        "units": [{"unit_id": "a", "name": "a", "in_service_teacher_count": {2024: 40}},
                  {"unit_id": "b", "name": "b", "in_service_teacher_count": {2024: 41}},
                  {"unit_id": "d", "name": "d", "in_service_teacher_count": {2023: 7}}]})
    community = records.communities[0]
    count = compile_expression("count(m for m in record.units where m.role == 'partner')", "community")
    assert count(community) == 2
    quota = compile_expression(
        "ceil(10% * sum(m.unit.in_service_teacher_count[2024] for m in record.units where m.role == 'lead'))",
        "community")
    assert quota(community) == 4
    missing = compile_expression(
        "sum(m.unit.in_service_teacher_count[2024] for m in record.units where m.role == 'partner')", "community")
    with pytest.raises(Absent):
        missing(community)
    assert compile_expression("sum(m.unit.in_service_teacher_count[2024] for m in record.units where "
                              "m.role == 'head')", "community")(community) == 0


@pytest.mark.parametrize("value", ["4.1", "-4.1", "4", "-0.5", "1E+30", "12345678901234567890123456789012345.1"])
def test_ceil_and_floor_are_exact_in_any_context(value):
    ceil = compile_expression("ceil(record.z)", FIELDS)
    floor = compile_expression("floor(record.z)", FIELDS)
    exact_ceil = int(D(value).to_integral_value(rounding=decimal.ROUND_CEILING))
    exact_floor = int(D(value).to_integral_value(rounding=decimal.ROUND_FLOOR))
    with decimal.localcontext(prec=3):
        assert ceil({"z": D(value)}) == exact_ceil and floor({"z": D(value)}) == exact_floor
