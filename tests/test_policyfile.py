"""Policy files: the corpus of broken files (tests/data/bad_policies, expected.yaml) through
`python -m policyengine check`, every PE code covered, and the file-shape rules of docs/language.md §2."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from policyengine import PolicyError, load_policy
from policyengine.citations import CODES as CITATION_CODES
from policyengine.diagnostics import MESSAGES
from policyengine.policyfile import json_schema

from langhelpers import HEADER, check_text, requirement  # noqa: F401 (check_text is a fixture)

BAD = Path(__file__).parent / "data" / "bad_policies"
EXPECTED: dict[str, list[str]] = yaml.safe_load((BAD / "expected.yaml").read_text(encoding="utf-8"))
LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<code>PE\d{3}) (?P<message>.+)$")
SRC = Path(__file__).resolve().parent.parent / "src"


def run_check(*files: str | Path, lang: str = "en", fmt: str | None = None) -> subprocess.CompletedProcess:
    args = [sys.executable, "-m", "policyengine", "--lang", lang, "check", *map(str, files)]
    if fmt:
        args += ["--format", fmt]
    env = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(args, capture_output=True, text=True, encoding="utf-8", env=env, timeout=120)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_policy_reports_every_error_in_one_pass(name):
    path = BAD / name
    result = run_check(path)
    assert result.returncode == 1, result.stderr
    found = []
    for line in result.stdout.splitlines():
        if line.startswith(" | "):
            continue  # the source line and caret shown under each diagnostic
        match = LINE.match(line)
        assert match, line
        assert match["file"] == str(path)
        found.append(f"{match['line']}:{match['col']}: {match['code']}")
    assert found == EXPECTED[name]


def test_every_corpus_file_is_listed_and_every_code_is_covered():
    assert sorted(p.name for p in BAD.glob("*.yaml") if p.name != "expected.yaml") == sorted(EXPECTED)
    covered = {entry.split()[-1] for entries in EXPECTED.values() for entry in entries}
    covered |= set(CITATION_CODES)  # `check --sources` only: tests/test_citations.py
    covered |= {"PE701", "PE702", "PE703", "PE704"}  # schema extension files: tests/test_schema_extension.py
    covered |= {"PE104", "PE503", "PE504", "PE505", "PE506", "PE507", "PE508", "PE509",
                "PE510"}  # limits (issue #20): tests/corpus/test_limits.py
    assert covered == set(MESSAGES), set(MESSAGES) ^ covered


def test_messages_exist_in_both_languages_with_the_same_placeholders():
    for code, (zh, en) in MESSAGES.items():
        assert re.fullmatch(r"PE[1-7]\d\d", code)
        names_zh = set(re.findall(r"{(\w+)}", zh))
        names_en = set(re.findall(r"{(\w+)}", en))
        # the zh/en variants of one argument (problem vs problem_en, what_zh vs what_en) differ by suffix
        strip = lambda names: {re.sub(r"_(zh|en)$", "", x) for x in names}  # noqa: E731
        assert strip(names_zh) == strip(names_en), code


def test_check_shows_the_source_line_with_a_caret_under_the_error():
    result = run_check(BAD / "syntax.yaml")
    lines = result.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if ":20:37: PE101" in line)
    assert lines[at + 1] == ' |         community.name == "教共体" and )'
    # Chinese characters are two columns wide in a terminal: the caret is padded with full-width spaces
    assert lines[at + 2] == " | " + " " * 27 + "\u3000" * 3 + " " * 6 + "^"


def test_check_in_chinese_by_default_and_in_json():
    zh = run_check(BAD / "names.yaml", lang="zh")
    assert "未知名称 max_unit" in zh.stdout
    as_json = run_check(BAD / "names.yaml", fmt="json")
    assert as_json.returncode == 1
    errors = json.loads(as_json.stdout)["errors"]
    assert [f"{e['line']}:{e['col']}: {e['code']}" for e in errors] == EXPECTED["names.yaml"]
    assert errors[3]["message"] == "unknown name max_unit (did you mean max_units, units?)"
    assert {e["file"] for e in errors} == {str(BAD / "names.yaml")}


def test_several_files_in_one_run():
    result = run_check(BAD / "yaml_error.yaml", BAD / "bounds.yaml")
    codes = [m["code"] for m in map(LINE.match, result.stdout.splitlines()) if m]
    assert codes == ["PE100", "PE501", "PE502", "PE501"]
    assert result.returncode == 1


def test_bundled_policies_check_clean():
    policies = sorted((Path(__file__).resolve().parent.parent / "policies").glob("*.yaml"))
    assert policies
    result = run_check(*policies)
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip() == f"ok: {len(policies)} file(s)"


# ------------------------------------------------------------------------------------ file shape


def test_unknown_keys_everywhere_are_errors(check_text):
    text = HEADER + "rules:\n" + requirement("true", extra="    strenght: soft\n") + "extra_top: 1\n"
    assert check_text(text) == ["12:5: PE401", "13:1: PE401"]


def test_duplicate_yaml_keys_are_reported_not_lost(check_text):
    text = HEADER + "title: 又一个标题\nrules:\n" + requirement("true")
    assert check_text(text) == ["5:1: PE407"]


def test_duplicate_rule_ids(check_text):
    text = HEADER + "rules:\n" + requirement("true", "t.same") + requirement("false", "t.same")
    assert check_text(text) == ["12:5: PE404"]


def test_rule_without_citation(check_text):
    rule = requirement("true").replace("    citation: {file: t.txt, quote: 引文}\n", "")
    assert check_text(HEADER + "rules:\n" + rule) == ["6:5: PE405"]
    rule = requirement("true").replace("quote: 引文", "quote: ''")
    assert check_text(HEADER + "rules:\n" + rule) == ["11:15: PE405"]


def test_missing_top_level_keys(check_text):
    assert check_text("format: policyengine/1\nrules: []\n") == ["1:1: PE402", "1:1: PE402", "1:1: PE402"]


def test_a_file_that_is_not_a_mapping(check_text):
    assert check_text("- just\n- a list\n") == ["1:1: PE403"]


def test_named_conditions_and_values_are_checked_one_by_one(check_text):
    text = HEADER + "rules:\n" + requirement(
        "\n      first: \"count(community.units) >= 1\"\n      second: \"community.nme != ''\"",
        extra="    values:\n      total: \"count(community.units) + 'x'\"\n")
    assert check_text(text) == ["12:26: PE202", "15:38: PE301"]


def test_the_json_schema_closes_every_object():
    schema = json_schema()
    assert schema["additionalProperties"] is False
    rule, instance = schema["properties"]["rules"]["items"]["oneOf"]  # a rule, or an instance of a template
    assert rule["additionalProperties"] is False and instance["additionalProperties"] is False
    assert set(instance["required"]) == {"id", "template", "citation"}
    assert rule["properties"]["citation"]["additionalProperties"] is False
    assert set(rule["required"]) >= {"id", "kind", "subject", "citation"}


def test_load_policy_raises_with_every_diagnostic():
    with pytest.raises(PolicyError) as caught:
        load_policy(BAD / "types.yaml")
    assert [f"{d.span.line}:{d.span.col}: {d.code}" for d in caught.value.diagnostics] == EXPECTED["types.yaml"]
    assert "PE304" in str(caught.value)
