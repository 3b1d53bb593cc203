"""Record strategies: generated record sets load; one broken field gives a RecordErrors naming it."""

from __future__ import annotations

import json

from hypothesis import given

from policyengine import RecordErrors, load_records
from policyengine.testing import strategies as pst


@given(pst.record_sets())
def test_generated_record_sets_are_valid_and_json_serialisable(raw):
    json.dumps(raw, ensure_ascii=False)  # the raw format: plain values only
    records = load_records(raw)
    assert len(records.communities) == len(raw["communities"])
    for membership in records.memberships:  # consistent memberships: each unit once per community
        ids = [m.unit_id for m in membership.community.units]
        assert len(ids) == len(set(ids))


@given(pst.invalid_record_sets())
def test_one_broken_field_gives_a_record_error_naming_it(case):
    raw, broken = case
    try:
        load_records(raw)
    except RecordErrors as errors:
        fields = [(e.code, e.field) for e in errors.errors]
        assert (broken.code, broken.field) in fields, f"{broken} not reported; got {fields}"
        for error in errors.errors:
            assert error.describe("en") and error.describe("zh")
    else:
        raise AssertionError(f"{broken}: no RecordErrors")
