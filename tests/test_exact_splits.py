"""Every split conserves the total, for any signs and sizes, or refuses with an error (issue 21.2):
`allocate` and the library's pooled splits (policies/lib/common.yaml: split_by_weights, equal_share),
and the Suixian year-end settlement built on them. Property tests over signs, zeros, sub-fen inputs,
totals of 28 digits and more and single parts; the expected shares are exact fractions (the rule of
docs/language.md: floor to the fen, the fen left over to the largest remainders, ties to the smaller
key, a negative total split as the negation of its size's split)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from fractions import Fraction

import pytest
from hypothesis import example, given, strategies as st

from policyengine import load_policy, load_records
from policyengine.runtime import EvaluationError, allocate

FEN = Fraction(1, 100)
KEYS = st.sampled_from(["a", "b", "c", "d", "e", "u-01", "u-02", "甲", "乙"])


def exact_decimal(digits: int, exponent: int) -> st.SearchStrategy[D]:
    """Decimals of up to `digits` significant digits, of either sign, with exponents down to `exponent`."""
    return st.builds(lambda n, e: D(n).scaleb(e, context=_WIDE), st.integers(-(10 ** digits - 1), 10 ** digits - 1),
                     st.integers(exponent, 4))


from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context  # noqa: E402

_WIDE = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)
# fen-exact totals of either sign, from 0 to 45 significant digits (well past the 28 of the context)
TOTALS = st.one_of(st.integers(-10_000, 10_000), st.integers(-(10 ** 45), 10 ** 45)).map(lambda c: D(c).scaleb(-2, _WIDE))
# weights of any sign, zeros included, sub-fen (down to 10^-6) and up to 30 digits
WEIGHTS = st.dictionaries(KEYS, st.one_of(st.just(D(0)), st.integers(-5, 5).map(D), exact_decimal(30, -6)),
                          min_size=1, max_size=7)


def expected_bounds(total: D, weights: dict) -> dict:
    """Each key's exact share (a Fraction) of the total."""
    weight_sum = sum(Fraction(w) for w in weights.values())
    return {k: Fraction(total) * Fraction(w) / weight_sum for k, w in weights.items()}


@given(TOTALS, WEIGHTS)
@example(D("0.01"), {"a": D("-0.60"), "b": D("-0.60"), "c": D("2.20")})  # the Suixian reproducer
@example(D("1234567890123456789012345678901.23"), {"a": D(1), "b": D(2)})  # 33 digits
@example(D("-0.05"), {"a": D(1), "b": D(1), "c": D(1)})
@example(D("0.00"), {"a": D("-1"), "b": D("1.5")})
def test_allocate_conserves_any_total_over_any_weights(total, weights):
    if sum(Fraction(w) for w in weights.values()) == 0:
        with pytest.raises(EvaluationError, match="^allocate: the weights sum to zero$"):
            allocate(total, weights)
        return
    parts = allocate(total, weights)
    assert sorted(parts) == sorted(weights)
    assert sum(Fraction(p) for p in parts.values()) == Fraction(total)  # exactly, at any size
    shares = expected_bounds(total, weights)
    for key, part in parts.items():
        assert Fraction(part) % FEN == 0, (key, part)  # whole fen
        assert abs(Fraction(part) - shares[key]) < FEN, (key, part, shares[key])  # within one fen of its share
    assert allocate(total.copy_negate(), weights) == {k: p.copy_negate() for k, p in parts.items()}  # -(split of |total|)
    assert allocate(total, dict(reversed(list(weights.items())))) == parts  # the map's order does not matter


@given(TOTALS, WEIGHTS)
def test_the_left_over_fen_go_to_the_largest_remainders_ties_to_the_smaller_key(total, weights):
    if sum(Fraction(w) for w in weights.values()) == 0:
        return
    size = total.copy_abs()
    parts = allocate(size, weights)
    shares = expected_bounds(size, weights)
    floors = {k: (shares[k] / FEN).__floor__() for k in weights}
    bumped = {k for k in weights if Fraction(parts[k]) / FEN == floors[k] + 1}
    assert all(Fraction(parts[k]) / FEN == floors[k] for k in set(weights) - bumped)
    assert len(bumped) == Fraction(size) / FEN - sum(floors.values())
    rank = sorted(weights, key=lambda k: (-(shares[k] / FEN - floors[k]), k))
    assert bumped == set(rank[:len(bumped)])


@given(TOTALS, st.sampled_from([D(1), D("-3"), D("0.000001"), D("12345678901234567890123456789.5")]), KEYS)
def test_a_single_part_is_the_whole_total(total, weight, key):
    assert allocate(total, {key: weight}) == {key: total}


@given(TOTALS, st.lists(KEYS, min_size=1, max_size=9, unique=True))
def test_equal_weights_from_a_list_of_keys(total, keys):
    parts = allocate(total, keys)
    assert sum(Fraction(p) for p in parts.values()) == Fraction(total)
    sizes = sorted({abs(p) for p in parts.values()})
    assert len(sizes) <= 2 and (len(sizes) == 1 or sizes[1] - sizes[0] == D("0.01"))
    larger = [k for k in sorted(keys) if abs(parts[k]) == sizes[-1]]
    assert larger == sorted(keys)[:len(larger)]  # the remainder fens go to the smallest keys
    assert parts == allocate(total, {k: 1 for k in keys})


@given(st.integers(-10 ** 6, 10 ** 6).filter(lambda n: n % 10), st.integers(1, 4), WEIGHTS)
def test_a_total_not_exact_to_the_fen_is_refused(thousandths, extra, weights):
    total = D(thousandths).scaleb(-2 - extra)  # at least one non-zero digit beyond the fen
    with pytest.raises(EvaluationError, match=r"^allocate: the total -?[0-9.E+-]+ is not exact to the fen"):
        allocate(total, weights)


def test_refusals():
    with pytest.raises(EvaluationError, match="^allocate: key a is listed twice$"):
        allocate(D("1.00"), ["a", "b", "a"])
    with pytest.raises(EvaluationError, match="^allocate: the weights sum to zero$"):
        allocate(D("1.00"), {"a": D("-1"), "b": D("1")})
    assert allocate(D("1.00"), {"a": D("-1"), "b": D("2")}) == {"a": D("-1.00"), "b": D("2.00")}  # sum 1: fine


# ----------------------------------------------------------------------------- the library and Suixian

SETTLEMENT = "suixian.funding.co_build.year_end_settlement"


def suixian_pool(contributions: dict, spend: str) -> dict:
    units = sorted(contributions)
    return {
        "units": [{"unit_id": u, "name": f"学校{u}"} for u in units],
        "communities": [{"community_id": "c1", "name": "甲", "model_type": "co_build",
                         "units": [{"unit_id": u, "role": "lead" if i == 0 else "member"} for i, u in enumerate(units)]}],
        "fund_pools": [{"community_id": "c1", "year": 2023, "contributions": contributions, "actual_spend_yuan": spend}],
    }


def settlement(records: dict, key: str = "contribution") -> dict:
    policy = load_policy("suixian", parameters={"settlement_key": key})
    report = policy.evaluate(load_records(records), as_of=dt.date(2024, 1, 1), rules=[SETTLEMENT])
    return {f.subject: (f.outcome, f.amount) for f in report.findings if f.period == "2023"}


def test_the_suixian_reproducer_pays_the_difference_not_four_times_it():
    """Contributions −0.60, −0.60, 2.20 sum to 1.00; spending 0.99 leaves 0.01 to refund. Its exact shares
    are −0.006, −0.006 and 0.022 yuan: floors −0.01, −0.01, 0.02 (0.00 in all), and the one fen left over
    goes to the largest remainder, 0.004 for a and b alike: to a, the smaller id. Before: 0.04 in all."""
    found = settlement(suixian_pool({"a": "-0.60", "b": "-0.60", "c": "2.20"}, "0.99"))
    assert found == {"a": ("amount", D("0.00")), "b": ("amount", D("-0.01")), "c": ("amount", D("0.02"))}


def test_the_equal_reading_splits_through_allocate_too():
    # 0.01 over three: the fen goes to the smallest id
    found = settlement(suixian_pool({"a": "-0.60", "b": "-0.60", "c": "2.20"}, "0.99"), "equal")
    assert found == {"a": ("amount", D("0.01")), "b": ("amount", D("0.00")), "c": ("amount", D("0.00"))}
    # a top-up of 0.05 over three: −(0.02, 0.02, 0.01)
    found = settlement(suixian_pool({"a": "1.00", "b": "1.00", "c": "1.00"}, "3.05"), "equal")
    assert found == {"a": ("amount", D("-0.02")), "b": ("amount", D("-0.02")), "c": ("amount", D("-0.01"))}


def test_a_pool_of_more_than_28_digits_settles_exactly():
    big = "1234567890123456789012345678901.23"  # 33 significant digits
    found = settlement(suixian_pool({"a": big, "b": big}, "0.01"))
    # difference 2469135780246913578024691357802.45, split 1:1 → .23 (a: the smaller id takes the fen) and .22
    assert found == {"a": ("amount", D("1234567890123456789012345678901.23")),
                     "b": ("amount", D("1234567890123456789012345678901.22"))}


FEN_AMOUNTS = st.one_of(st.integers(-500, 500), st.integers(-(10 ** 38), 10 ** 38)).map(lambda c: f"{D(c).scaleb(-2, _WIDE):f}")


@given(st.dictionaries(st.sampled_from(["u1", "u2", "u3", "u4"]), FEN_AMOUNTS, min_size=1, max_size=4), FEN_AMOUNTS,
       st.sampled_from(["contribution", "equal"]))
def test_every_settlement_conserves_the_difference(contributions, spend, key):
    found = settlement(suixian_pool(contributions, spend), key)
    pool = sum(Fraction(D(v)) for v in contributions.values())
    difference = pool - Fraction(D(spend))
    assert {outcome for outcome, _ in found.values()} == {"amount"}
    amounts = [Fraction(amount) for _, amount in found.values()]
    if key == "contribution" and pool <= 0:  # pays_when: nobody paid in, nobody shares (the policy's reading)
        assert amounts == [0] * len(amounts)
    else:
        assert sum(amounts) == difference


def test_sub_fen_pool_inputs_are_record_errors_not_rounded():
    from policyengine.records import RecordErrors

    with pytest.raises(RecordErrors) as raised:
        load_records(suixian_pool({"a": "4037.655", "b": "1.00"}, "0.999"))
    assert [(e.code, e.field) for e in raised.value.errors] == [("RE119", "contributions[a]"),
                                                                 ("RE119", "actual_spend_yuan")]
