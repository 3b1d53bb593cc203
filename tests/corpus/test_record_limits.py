"""Record and test-file reproducers of issue #20: each an RE error naming the file (and the record
and field when there is one), within a bounded time; test files allow aliases within the bound."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from hostile import write

from policyengine import RecordErrors, load_records
from policyengine.testing.cases import CaseFileError, load_case_file


def errors_of(path: Path) -> list[tuple]:
    with pytest.raises(RecordErrors) as caught:
        load_records(path)
    return [(e.code, e.record_kind, e.record_id, e.field) for e in caught.value.errors]


COMMUNITY = "communities:\n  - community_id: c1\n    name: x\n    batch: {batch}\n    units: []\n"


def test_a_5000_digit_batch_is_re115_naming_record_and_field(tmp_path):
    path = write(tmp_path, COMMUNITY.format(batch="9" * 5000), "r.yaml")
    assert errors_of(path) == [("RE115", "community", "c1", "batch")]


def test_a_70_byte_json_exponent_is_re115_at_once(tmp_path):
    text = '{"communities": [{"community_id": "c1", "name": "x", "batch": 1e999999999, "units": []}]}'
    path = write(tmp_path, text, "r.json")
    started = time.perf_counter()
    assert errors_of(path) == [("RE115", "community", "c1", "batch")]
    assert time.perf_counter() - started < 2


@pytest.mark.parametrize("name, text", [
    ("deep.yaml", "communities: " + "[" * 10_000 + "]" * 10_000 + "\n"),
    ("deep.json", '{"communities": ' + "[" * 10_000 + "]" * 10_000 + "}"),
    ("deeper.json", '{"communities": ' + "[" * 100_000 + "]" * 100_000 + "}"),
])
def test_records_nested_10k_or_100k_deep_are_re113(tmp_path, name, text):
    assert [e[0] for e in errors_of(write(tmp_path, text, name))] == ["RE113"]


def test_a_shared_units_alias_is_re114_not_25_million_memberships(tmp_path):
    units = "".join(f"      - {{unit_id: u{i}, role: partner}}\n" for i in range(500))
    text = "communities:\n" + "".join(
        f"  - community_id: c{i}\n    name: n\n    units: " + ("&u\n" + units if i == 0 else "*u\n") for i in range(500))
    text += "units:\n" + "".join(f"  - {{unit_id: u{i}, name: n}}\n" for i in range(500))
    started = time.perf_counter()
    assert [e[0] for e in errors_of(write(tmp_path, text, "r.yaml"))] == ["RE114"]
    assert time.perf_counter() - started < 5


TEST_FILE = """\
policy: {policy}
shared: &records
  communities: [{{community_id: c1, name: x, units: []}}]
cases:
  - name: one
    as_of: 2022-03-01
    records: *records
    expected: []
"""


def test_a_test_file_may_use_aliases(tmp_path):
    policy = Path(__file__).parent.parent / "data" / "evaluation" / "policy.yaml"
    path = write(tmp_path, TEST_FILE.format(policy=policy).replace("shared: &records", "description: &records"),
                 "cases.yaml")
    (case,) = load_case_file(path)
    assert case.records[0]["communities"][0]["community_id"] == "c1"


def test_a_test_file_alias_bomb_is_refused(tmp_path):
    lines, previous = ["  a: &a [x, x, x, x, x, x, x, x, x]"], "a"
    for name in "bcdefghi":
        lines.append(f"  {name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
        previous = name
    text = "policy: p.yaml\ndescription:\n" + "\n".join(lines) + "\ncases: []\n"
    with pytest.raises(CaseFileError, match="RE114"):
        load_case_file(write(tmp_path, text, "cases.yaml"))
    with pytest.raises(CaseFileError, match="RE114"):  # recursive
        load_case_file(write(tmp_path, "policy: p.yaml\ndescription: &x [*x]\ncases: []\n", "cases.yaml"))


@pytest.mark.parametrize("change, message", [
    (("as_of: 2022-03-01", "as_of: notadate"), "case #1: as_of must be a date (YYYY-MM-DD), not 'notadate'"),
    (("expected: []", "expected: []\n    parameters: [1]"), "case #1: parameters must be a mapping of name → value"),
    (("policy: {policy}", "policy: /nowhere/p.yaml"), "policy: no policy file /nowhere/p.yaml"),
])
def test_a_malformed_test_file_is_a_located_case_error_not_a_traceback(tmp_path, change, message, capsys):
    from policyengine import cli

    policy = Path(__file__).parent.parent / "data" / "evaluation" / "policy.yaml"
    text = TEST_FILE.replace(*change).format(policy=policy).replace("shared: &records", "description: &records")
    path = write(tmp_path, text, "cases.yaml")
    with pytest.raises(CaseFileError, match=re.escape(message)):
        load_case_file(path)
    assert cli.main(["--lang", "en", "test", str(path)]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("sources, code, field", [
    ([1], "RE116", None), (None, "RE116", None),  # not a path or a mapping: a caller's mistake, reported
    ({"communities": [{"community_id": "c1", "name": "x", "units": [], "batch": 10 ** 5000}]}, "RE115", "batch"),
    ({"communities": [{"community_id": "c1", "name": 10 ** 5000, "units": []}]}, "RE102", "name"),
])
def test_hostile_python_records_are_record_errors(sources, code, field):
    # found probing the API: an int over 4,300 digits made repr() and Decimal() raise ValueError
    with pytest.raises(RecordErrors) as caught:
        load_records(sources)
    assert [(e.code, e.field) for e in caught.value.errors] == [(code, field)]
