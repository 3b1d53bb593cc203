"""Records in the forms bureaus keep them (issue 15.2–15.3): CSV files and directories, xlsx workbooks,
JSON Lines and standard input; `policyengine records export`; located errors for bad spreadsheets."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings

import policyengine
from policyengine import cli, load_policy, load_records
from policyengine.records import RecordErrors
from policyengine.recordschema import load_record_schema
from policyengine.testing.strategies import record_sets

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = {  # policy → its bundled example records
    "liuzhou": ["liuzhou-annex.yaml", "liuzhou-activity.yaml"],
    "ruian": ["ruian.yaml"],
    "suixian": ["suixian-annex.yaml", "suixian-fusion-b2.yaml", "suixian-nonconforming.yaml"],
    "yueqing": ["yueqing.yaml", "yueqing-activities.yaml"],
}
AS_OF = dt.date(2024, 9, 1)


def plain(value):
    """A record (or value) as plain data: every schema field, nested records included."""
    if isinstance(value, policyengine.recordschema.Record):
        kind = load_record_schema().kinds[value.record_kind]
        return {name: plain(getattr(value, name)) for name in kind.fields}
    if isinstance(value, tuple):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value


def same_records(a, b) -> None:
    for collection in load_record_schema().collections:
        assert plain(a.collection(collection)) == plain(b.collection(collection)), collection


def export(tmp_path: Path, form: str, sources: list[Path]) -> Path:
    target = tmp_path / ("book.xlsx" if form == "xlsx" else "tables")
    assert cli.main(["records", "export", "--format", form, "-o", str(target), *map(str, sources)]) == 0
    return target


@pytest.mark.parametrize("form", ["csv", "xlsx"])
@pytest.mark.parametrize("policy_name", sorted(EXAMPLES))
def test_spreadsheets_of_the_examples_evaluate_to_the_same_report(tmp_path, policy_name, form):
    sources = [ROOT / "examples" / name for name in EXAMPLES[policy_name]]
    policy = load_policy(policy_name)
    expected = policy.evaluate(load_records(sources), AS_OF).to_json()
    sheet_source = export(tmp_path, form, sources)
    assert policy.evaluate(load_records(sheet_source), AS_OF).to_json() == expected
    same_records(load_records(sources), load_records(sheet_source))


@settings(max_examples=15, deadline=None)
@given(data=record_sets())
def test_round_trip_through_csv_and_xlsx_gives_the_same_records(tmp_path_factory, data):
    """Any record set without empty strings (an empty cell is an absent value: '' has no cell of its own)
    and without nested maps none of whose fields is given (such a map has no cell of its own either, so it
    reads back as absent: a known limit of the column convention, README "Records")."""
    records = load_records(_without_empty_maps(_without_empty_strings(data)))
    tmp = tmp_path_factory.mktemp("rt")
    from policyengine import spreadsheets

    sheets = spreadsheets.record_tables(records, records.schema)
    spreadsheets.write_csv(sheets, tmp / "csv")
    spreadsheets.write_xlsx(sheets, tmp / "book.xlsx")
    same_records(records, load_records(tmp / "csv"))
    same_records(records, load_records(tmp / "book.xlsx"))


def _without_empty_maps(value):
    """Drop a map-valued field whose values are all absent or empty (it has no cell in a sheet)."""
    if isinstance(value, dict):
        kept = {key: _without_empty_maps(item) for key, item in value.items()}
        return {key: item for key, item in kept.items()
                if not (isinstance(item, dict) and all(v in (None, [], {}) for v in item.values()))}
    if isinstance(value, list):
        return [_without_empty_maps(item) for item in value]
    return value


def _without_empty_strings(value):
    if isinstance(value, dict):
        return {key: _without_empty_strings(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_empty_strings(item) for item in value]
    return "-" if value == "" else value


def test_csv_is_written_as_utf8_with_bom(tmp_path):
    target = export(tmp_path, "csv", [ROOT / "examples" / "ruian.yaml"])
    data = (target / "units.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and "瑞安".encode("utf-8") in data


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_with_chinese_headers_and_file_names_in_any_of_the_encodings(tmp_path, encoding):
    _write(tmp_path / "d" / "单位.csv", "单位编号,名称,城乡类型,在编教师数.2023\nu1,一小,乡村,40\nu2,二小,城区,\n", encoding)
    _write(tmp_path / "d" / "communities.csv", "教共体编号,名称,模式,pilot\nc1,甲共同体,融合型,是\n", encoding)
    _write(tmp_path / "d" / "communities.units.csv", "community_id,unit_id,角色,joined_on\nc1,u1,牵头单位,2021-09-01\n"
           "c1,u2,成员校,\n", encoding)
    records = load_records(tmp_path / "d")
    assert [(u.unit_id, u.urbanity, u.in_service_teacher_count) for u in records.units] == [
        ("u1", "rural", {2023: 40}), ("u2", "urban", {})]
    (community,) = records.communities
    assert (community.model_type, community.pilot) == ("fusion", True)
    assert [(m.unit_id, m.role, m.joined_on) for m in community.units] == [
        ("u1", "lead", dt.date(2021, 9, 1)), ("u2", "member", None)]


def test_scalar_lists_are_semicolon_separated(tmp_path):
    _write(tmp_path / "units.csv", "unit_id,name,aliases\nu1,一小,实验小学; 一小\\;本部\n")
    assert load_records(tmp_path / "units.csv").units[0].aliases == ("一小;本部", "实验小学")  # a set: canonical order


def test_bad_csv_cells_name_file_row_and_column(tmp_path):
    path = _write(tmp_path / "units.csv", "unit_id,name,urbanity,colour\nu1,一小,suburban,red\n")
    with pytest.raises(RecordErrors) as raised:
        load_records(path)
    by_code = {e.code: e for e in raised.value.errors}
    assert f"{path}, row 1, column D (colour)" in by_code["RE105"].message_en
    assert by_code["RE103"].record_id == "u1" and by_code["RE103"].field == "urbanity"
    assert f"{path}, row 2, column C (urbanity)" in by_code["RE103"].message_en
    assert "第 2 行 C 列" in by_code["RE103"].message_zh


def _workbook(path: Path, sheets: dict[str, list[list]]) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def test_xlsx_numbers_are_read_from_their_shortest_repr(tmp_path):
    path = _workbook(tmp_path / "b.xlsx", {
        "units": [["unit_id", "name", "public_funds_yuan.2023"], ["u1", "一小", 33333.33], [2023, "二小", 0.1]],
        "budgets": [["budget_id", "year", "amount_yuan"], ["b1", 2023, 12345.67]]})
    records = load_records(path)
    by_id = {u.unit_id: u for u in records.units}
    assert by_id["u1"].public_funds_yuan == {2023: Decimal("33333.33")}
    assert by_id["2023"].public_funds_yuan == {2023: Decimal("0.1")}
    assert records.budgets[0].amount_yuan == Decimal("12345.67")


def test_xlsx_number_over_15_significant_digits_asks_for_text(tmp_path):
    path = _workbook(tmp_path / "b.xlsx", {"budgets": [["budget_id", "year", "amount_yuan"],
                                                       ["b1", 2023, 12345678901234567.89], ["b2", 2023, "12345678901234567.89"]]})
    with pytest.raises(RecordErrors) as raised:
        load_records(path)
    (error,) = [e for e in raised.value.errors if e.code == "RE117"]  # and RE101: the amount is missing
    assert (error.line, error.column) == (2, 3)
    assert f"{path}, sheet budgets, row 2, column C (amount_yuan)" in error.message_en and "as text" in error.message_en


def test_bad_workbooks_give_located_errors(tmp_path):
    path = _workbook(tmp_path / "b.xlsx", {
        "units": [["unit_id", "name"], ["u1", "一小"]],
        "schools": [["unit_id"], ["u9"]],
        "communities": [["community_id", "name"], ["c1", "甲"]],
        "communities.units": [["community_id", "unit_id", "role"], ["c1", "u1", "lead"], ["c2", "u1", "lead"],
                              ["c1", "u404", "lead"]]})
    with pytest.raises(RecordErrors) as raised:
        load_records(path)
    messages = {e.code: e.message_en for e in raised.value.errors}
    assert "sheet schools" in messages["RE118"]
    # a membership row whose parent community does not exist is located at its row
    assert any(e.code == "RE104" and "sheet communities.units, row 3, column A" in e.message_en for e in raised.value.errors)


def test_json_lines(tmp_path):
    lines = ['{"collection": "units", "unit_id": "u1", "name": "一小"}', "",
             '{"collection": "budgets", "year": 2023, "amount_yuan": 12345678901234567.89}']
    records = load_records(_write(tmp_path / "r.jsonl", "\n".join(lines) + "\n"))
    assert records.units[0].name == "一小" and records.budgets[0].amount_yuan == Decimal("12345678901234567.89")
    bad = _write(tmp_path / "bad.jsonl", '{"unit_id": "u1"}\n{"collection": "units", "unit_id": "u1", "unit_id": "u2"}\n')
    with pytest.raises(RecordErrors) as raised:
        load_records(bad)
    assert [(e.code, e.line) for e in raised.value.errors] == [("RE107", 1), ("RE110", 2)]


@pytest.mark.parametrize("form, text", [
    ("yaml", "units: [{unit_id: u1, name: 一小}]\n"),
    ("json", '{"units": [{"unit_id": "u1", "name": "一小"}]}'),
    ("jsonl", '{"collection": "units", "unit_id": "u1", "name": "一小"}\n'),
])
def test_standard_input(form, text):
    env = {**os.environ, "PYTHONPATH": str(Path(policyengine.__file__).resolve().parent.parent)}
    result = subprocess.run([sys.executable, "-m", "policyengine", "evaluate", "--policy", "ruian", "-",
                             "--input-format", form, "--as-of", "2024-09-01", "--format", "json"],
                            input=text, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode in (0, 3), result.stderr
    assert json.loads(result.stdout)["policy"] == "ruian"


@pytest.mark.parametrize("name", ["records.txt", "records.xls", "records.toml"])
def test_unsupported_formats_are_a_clear_error(tmp_path, name):
    path = _write(tmp_path / name, "units: []\n")
    with pytest.raises(RecordErrors) as raised:
        load_records(path)
    (error,) = raised.value.errors
    assert error.code == "RE116" and str(path) in error.message_en and ".xlsx" in error.message_en
