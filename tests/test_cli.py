"""The command line and its JSON contract: `python -m policyengine check | evaluate | rules`, exit
statuses, `--lang`, record errors (exit 2) and the table's alignment of Chinese text."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import unicodedata
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from policyengine.cli import main

TESTS = Path(__file__).parent
EVAL = TESTS / "data" / "evaluation"
BAD_RECORDS = TESTS / "data" / "bad_records"
BAD_POLICIES = TESTS / "data" / "bad_policies"
SRC = TESTS.parent / "src"


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "utf-8"}
    return subprocess.run([sys.executable, "-m", "policyengine", *args], capture_output=True, text=True,
                          encoding="utf-8", env=env, cwd=cwd, timeout=120)


def evaluate(*extra: str) -> subprocess.CompletedProcess:
    return cli("evaluate", "--policy", str(EVAL / "policy.yaml"), str(EVAL / "records.yaml"), *extra)


# ---------------------------------------------------------------------------------------- check


def test_check_clean_file_exit_0(capsys):
    assert main(["check", str(EVAL / "policy.yaml")]) == 0
    assert capsys.readouterr().out.strip() == "通过：1 个文件"
    assert main(["--lang", "en", "check", str(EVAL / "policy.yaml")]) == 0
    assert capsys.readouterr().out.strip() == "ok: 1 file(s)"


def test_check_errors_exit_1_with_file_line_col_code(capsys):
    assert main(["--lang", "en", "check", str(BAD_POLICIES / "names.yaml")]) == 1
    first = capsys.readouterr().out.splitlines()[0]
    assert first == f"{BAD_POLICIES / 'names.yaml'}:9:3: PE206 name max_units is defined twice"


def test_check_missing_file_is_reported_not_a_traceback():
    result = cli("check", "/nonexistent/policy.yaml")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr


# ------------------------------------------------------------------------------------- evaluate


def test_evaluate_json_contract():
    result = evaluate("--as-of", "2022-03-01", "--format", "json")
    assert result.returncode == 3, result.stderr  # ev.broken yields `error` findings
    assert "\n" not in result.stdout.rstrip("\n"), "compact by default"
    data = json.loads(result.stdout)
    assert data["schema_version"] == 2
    assert data["policy"] == "evalcity"
    assert data["as_of"] == "2022-03-01"
    for finding in data["findings"]:
        assert set(finding) == {"rule", "subject", "subject_kind", "community", "period", "outcome", "amount",
                                "currency", "values"}
        assert finding["amount"] is None or isinstance(finding["amount"], str)
        assert finding["outcome"] != "not_applicable", "shown only with --all"
        assert {"strength", "citation", "message", "parameters"} <= set(data["rules"][finding["rule"]])
    paid = [f for f in data["findings"] if f["rule"] == "ev.bonus"]
    assert [(f["subject"], f["amount"], f["currency"]) for f in paid] == [
        ("u-01", "10000.00", "CNY"), ("u-02", "0.00", "CNY"), ("u-03", "0.00", "CNY")]
    assert Decimal(paid[0]["amount"]) == 10000
    meeting = next(f for f in data["findings"] if f["rule"] == "ev.meetings" and f["subject"] == "LZ-教共体-01"
                   and f["period"] == "2021-2022-1")
    assert meeting["outcome"] == "pass" and meeting["community"] == "LZ-教共体-01"
    assert data["rules"]["ev.meetings"]["citation"] == {"file": "eval.txt", "section": None,
                                                        "quote": "每学期至少召开1次例会。"}
    everything = json.loads(evaluate("--as-of", "2022-03-01", "--format", "json", "--all").stdout)
    assert everything["counts"] == data["counts"], "the counts always include not_applicable findings"
    hidden = [f for f in everything["findings"] if f["outcome"] == "not_applicable"]
    assert len(hidden) == data["counts"]["not_applicable"] > 0
    assert len(everything["findings"]) == len(data["findings"]) + len(hidden)


def test_evaluate_jsonl_streams_header_rules_findings_counts(tmp_path):
    out = tmp_path / "report.jsonl"
    result = evaluate("--as-of", "2022-03-01", "--format", "jsonl", "-o", str(out))
    assert result.returncode == 3 and result.stdout == ""
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert lines[0] == {"type": "header", "schema_version": 2, "policy": "evalcity", "as_of": "2022-03-01"}
    assert lines[-1]["type"] == "counts"
    ruled = set()
    for line in lines[1:-1]:
        assert line["type"] in ("rule", "finding")
        if line["type"] == "rule":
            ruled.add(line["rule"])
        else:
            assert line["rule"] in ruled, "a rule line comes before its first finding"
    document = json.loads(evaluate("--as-of", "2022-03-01", "--format", "json").stdout)
    assert [{k: v for k, v in line.items() if k != "type"} for line in lines if line["type"] == "finding"] \
        == document["findings"]
    assert lines[-1]["counts"] == document["counts"]
    pretty = evaluate("--as-of", "2022-03-01", "--format", "json", "--pretty").stdout
    assert pretty.count("\n") > 10 and json.loads(pretty) == document


def test_evaluate_rule_filter_takes_ids_and_globs():
    data = json.loads(evaluate("--as-of", "2022-03-01", "--format", "json", "--all",
                               "--rule", "ev.bonus", "--rule", "ev.meet*").stdout)
    assert {f["rule"] for f in data["findings"]} == {"ev.bonus", "ev.meetings"}
    assert set(data["rules"]) == {"ev.bonus", "ev.meetings"}
    result = evaluate("--as-of", "2022-03-01", "--rule", "ev.nosuch*")
    assert result.returncode == 2 and "ev.nosuch*" in result.stderr


def test_evaluate_exit_0_without_error_findings(tmp_path):
    policy = yaml.safe_load((EVAL / "policy.yaml").read_text(encoding="utf-8"))
    policy["rules"] = [r for r in policy["rules"] if r["id"] != "ev.broken"]
    path = tmp_path / "ok.yaml"
    path.write_text(yaml.safe_dump(policy, allow_unicode=True, sort_keys=False), encoding="utf-8")
    result = cli("evaluate", "--policy", str(path), str(EVAL / "records.yaml"), "--as-of", "2022-03-01")
    assert result.returncode == 0, result.stderr


def test_evaluate_defaults_as_of_to_today_and_states_it():
    import datetime as dt

    data = json.loads(evaluate("--format", "json").stdout)
    assert data["as_of"] in {dt.date.today().isoformat(), (dt.date.today() + dt.timedelta(days=1)).isoformat()}


def test_bad_as_of_is_a_usage_error():
    result = evaluate("--as-of", "2022-02-30")
    assert result.returncode == 2
    assert "2022-02-30" in result.stderr


EXPECTED_RECORD_ERRORS = yaml.safe_load((BAD_RECORDS / "expected.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(EXPECTED_RECORD_ERRORS))
def test_broken_records_exit_2_with_every_error(name):
    result = cli("evaluate", "--policy", str(EVAL / "policy.yaml"), str(BAD_RECORDS / name),
                 "--as-of", "2022-03-01", "--format", "json")
    assert result.returncode == 2
    data = json.loads(result.stdout)
    assert data["schema_version"] == 2 and data["policy"] == "evalcity" and data["as_of"] == "2022-03-01"
    assert "findings" not in data
    for error in data["errors"]:
        assert set(error) == {"record_kind", "record_id", "field", "code", "message"}
        assert error["message"]
    assert [[e["code"], e["record_kind"], e["record_id"], e["field"]] for e in data["errors"]] == \
        EXPECTED_RECORD_ERRORS[name]


def test_broken_records_in_table_format_go_to_stderr():
    result = cli("evaluate", "--policy", str(EVAL / "policy.yaml"),
                 str(BAD_RECORDS / "references_and_duplicates.yaml"), "--as-of", "2022-03-01")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("RE10") == len(EXPECTED_RECORD_ERRORS["references_and_duplicates.yaml"])


def test_evaluate_with_a_broken_policy_exits_1():
    result = cli("evaluate", "--policy", str(BAD_POLICIES / "types.yaml"), str(EVAL / "records.yaml"))
    assert result.returncode == 1
    assert "PE304" in result.stderr


# ----------------------------------------------------------------------------------------- table


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def test_table_aligns_chinese_text():
    result = evaluate("--as-of", "2022-03-01", "--all")
    lines = result.stdout.splitlines()
    assert lines[0] == "测试市教共体方案（evalcity） as_of 2022-03-01"
    header, rule = lines[2], lines[3]
    assert header.split() == ["规则", "对象", "教共体", "期间", "结果", "金额", "说明"]
    # every column starts at the same display column on every row: where the dashes of the rule line start
    starts = []
    for i, ch in enumerate(rule):
        if ch == "-" and (i == 0 or rule[i - 1] == " "):
            starts.append(i)
    rows = [line for line in lines[4:] if line.startswith("ev.units_hard") or line.startswith("ev.meetings")]
    assert rows
    for row in rows:
        # cells are runs of text separated by two or more spaces (a cell may hold single spaces)
        positions = [display_width(row[:m.start()]) for m in re.finditer(r"\S+(?: \S+)*", row)]
        assert set(positions) <= set(starts) and positions == sorted(positions), row  # empty cells are skipped
    violation = next(r for r in rows if r.startswith("ev.units_hard") and "LZ-教共体-01" in r)
    assert "违规" in violation and "单位超过上限" in violation


def test_table_hides_not_applicable_unless_all():
    shown = evaluate("--as-of", "2022-03-01").stdout
    everything = evaluate("--as-of", "2022-03-01", "--all").stdout
    assert "不适用 " not in shown.split("\n", 2)[2]
    assert "ev.agreement" not in shown and "ev.agreement" in everything


def test_lang_en_table():
    result = cli("--lang", "en", "evaluate", "--policy", str(EVAL / "policy.yaml"), str(EVAL / "records.yaml"),
            "--as-of", "2022-03-01")
    header = result.stdout.splitlines()[2].split()
    assert header == ["rule", "subject", "community", "period", "outcome", "amount", "note"]
    assert "violation" in result.stdout and "违规" not in result.stdout


# ----------------------------------------------------------------------------------------- rules


def test_rules_json():
    result = cli("rules", "--policy", str(EVAL / "policy.yaml"), "--format", "json")
    assert result.returncode == 0
    data = json.loads(result.stdout)
    assert data["policy"] == "evalcity"
    ids = [r["id"] for r in data["rules"]]
    assert len(ids) == 13 and "ev.bonus" in ids
    bonus = next(r for r in data["rules"] if r["id"] == "ev.bonus")
    assert bonus["kind"] == "amount" and bonus["strength"] is None
    assert bonus["citation"]["quote"] == "对优质学校奖励1万元。"
    hard = next(r for r in data["rules"] if r["id"] == "ev.units_hard")
    assert (hard["kind"], hard["strength"]) == ("requirement", "hard")
    assert data["not_encoded"] == [{"id": "ev.other", "reason": "不在本文件中"}]


def test_rules_table_for_a_bundled_policy():
    result = cli("rules", "--policy", "liuzhou")
    assert result.returncode == 0
    assert "liuzhou" in result.stdout.splitlines()[0]


def test_python_dash_m_from_another_directory(tmp_path):
    result = cli("check", str(EVAL / "policy.yaml"), cwd=tmp_path)
    assert result.returncode == 0
    help_text = cli("--help", cwd=tmp_path)
    assert help_text.returncode == 0 and "evaluate" in help_text.stdout
