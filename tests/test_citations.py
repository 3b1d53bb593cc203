"""`policyengine check --sources DIR`: every quote against its source document (catalog §1.1).

The expected texts and positions come from the vendored sources (sources/*.txt) as written: line 28 of
000 is 「…单位总数原则上不超过6个。」; chunk 1 of 001 ends 「缩小城」 and chunk 2 begins 「2、乡教育差距」."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from policyengine import citations
from policyengine.citations import Located, Mismatch, SourceDocument, check_quotes, locate, quote_parts
from policyengine.cli import main

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "sources"
POLICIES = sorted((ROOT / "policies").glob("*.yaml"))
LIUZHOU = "000_c5362f3556539064.txt"
RUIAN = "001_d2a07aa1147355f8.txt"


def doc(name: str) -> SourceDocument:
    return citations.read_document(SOURCES / name)


def policy(tmp_path: Path, body: str, source: str = LIUZHOU) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(
        "format: policyengine/1\n"
        "jurisdiction: {id: t, name: 测试市}\n"
        "title: 测试政策\n"
        f"source: {{file: {source}}}\n" + body, encoding="utf-8")
    return path


def rule(quote: str, file: str = LIUZHOU) -> str:
    return ("rules:\n"
            "  - id: t.formation.max_units\n"
            "    kind: requirement\n"
            "    strength: soft\n"
            "    subject: community\n"
            "    require: count(community.units) <= 6\n"
            "    citation:\n"
            f"      file: {file}\n"
            "      section: 五、教共体建设类型\n"
            f"      quote: {quote}\n")  # the quote's value starts at line 14, column 14


# the bundled policies -------------------------------------------------------------------------
def test_vendored_sources_are_the_five_seed_files_unchanged():
    names = sorted(p.name for p in SOURCES.glob("*.txt"))
    assert names == [LIUZHOU, RUIAN, "002_859ef7301bd829df.txt", "003_535c2c2546195ebe.txt",
                     "004_3e59b9c318b8141b.txt"]
    import hashlib

    sums = dict(line.split()[::-1] for line in (SOURCES / "SHA256SUMS").read_text().splitlines())
    for name in names:
        assert hashlib.sha256((SOURCES / name).read_bytes()).hexdigest() == sums[name]


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.stem)
def test_every_quote_of_the_bundled_policies_is_in_its_source(path):
    quotes = list(citations.quotes_of(citations.load_yaml(str(path), path.read_text(encoding="utf-8"))[0]))
    assert len(quotes) >= 20  # every rule cites; the not_encoded reasons quote too
    assert check_quotes(str(path), SOURCES) == []


def test_cli_check_sources_clean_on_the_bundled_policies(capsys):
    assert main(["--lang", "en", "check", "--sources", str(SOURCES), *map(str, POLICIES)]) == 0
    assert f"ok: {len(POLICIES)} file(s)" in capsys.readouterr().out


# an altered quote ------------------------------------------------------------------------------
def test_altered_quote_is_reported_at_the_first_wrong_character_with_the_nearest_passage(tmp_path, capsys):
    path = policy(tmp_path, rule("单位总数原则上不超过8个。"))
    assert main(["--lang", "en", "check", "--sources", str(SOURCES), str(path)]) == 1
    out = capsys.readouterr().out
    # value starts at column 14; 单位总数原则上不超过 is 10 characters, so the 8 is at column 24
    assert f"{path}:14:24: PE601 quote not found in {LIUZHOU}: from “8个。”" in out
    assert f"nearest passage ({LIUZHOU} line 28): “单位总数原则上不超过6个。”" in out


def test_altered_quote_message_in_chinese_and_json(tmp_path, capsys):
    path = policy(tmp_path, rule("单位总数原则上不超过8个。"))
    assert main(["check", "--sources", str(SOURCES), str(path)]) == 1
    assert f"引文在出处 {LIUZHOU} 中找不到：自「8个。」起与原文不符" in capsys.readouterr().out
    assert main(["check", "--format", "json", "--sources", str(SOURCES), str(path)]) == 1
    (error,) = json.loads(capsys.readouterr().out)["errors"]
    assert (error["line"], error["col"], error["code"]) == (14, 24, "PE601")


def test_a_quote_passes_without_sources_and_fails_with_them(tmp_path, capsys):
    path = policy(tmp_path, rule("单位总数原则上不超过8个。"))
    assert main(["check", str(path)]) == 0  # the quote is only compared when --sources names the texts
    capsys.readouterr()


def test_an_inserted_word_and_a_dropped_word_are_both_caught():
    document = doc(LIUZHOU)
    assert isinstance(locate(document, "单位总数原则上不超过6个。"), Located)
    inserted = locate(document, "单位总数原则上一律不超过6个。")
    assert isinstance(inserted, Mismatch) and inserted.code == "PE601" and inserted.quote_index == 7
    dropped = locate(document, "单位总数不超过6个。")  # 原则上 dropped: the soft reading lost
    assert isinstance(dropped, Mismatch) and dropped.quote_index == 4
    assert document.passage(*dropped.nearest).startswith("单位总数")


def test_whitespace_is_ignored_on_both_sides():
    assert isinstance(locate(doc(LIUZHOU), "单位总数 原则上\n不超过6个。"), Located)


def test_punctuation_is_verbatim_full_and_half_width_differ():
    # 001 writes half-width punctuation: 「2021年,全市乡村」 — a full-width comma is not the source's text
    assert isinstance(locate(doc(RUIAN), "2021年,全市乡村和镇区公办义务教育学校实现教共体全覆盖。"), Located)
    assert isinstance(locate(doc(RUIAN), "2021年，全市乡村和镇区公办义务教育学校实现教共体全覆盖。"), Mismatch)


# ‖ and 001's chunk prefixes -----------------------------------------------------------------------
def test_chunk_prefixes_of_001_are_not_text_and_a_chunk_break_is_a_break():
    document = doc(RUIAN)
    assert document.text.startswith("市新时代城乡义务教育共同体建设实施方案")  # 「1、」 removed
    assert "缩小城‖乡教育差距" in document.passage(0, 400)
    assert isinstance(locate(document, "缩小城‖乡教育差距"), Located)  # ‖ at the chunk break
    assert isinstance(locate(document, "缩小城乡教育差距"), Located)  # a break is whitespace
    prefixed = locate(document, "缩小城2、乡教育差距")  # the prefix is an artifact, never quoted
    assert isinstance(prefixed, Mismatch) and prefixed.code == "PE601" and prefixed.quote_index == 3


def test_a_break_mark_where_the_source_runs_on_is_reported_at_the_mark(tmp_path):
    path = policy(tmp_path, rule("单位总数原则上‖不超过6个。"))
    (diagnostic,) = check_quotes(str(path), SOURCES)
    assert diagnostic.code == "PE602"
    assert (diagnostic.span.line, diagnostic.span.col) == (14, 21)  # the ‖ itself, 7 characters in
    assert "has no line break" in diagnostic.message("en")


def test_a_line_break_of_an_ordinary_file_is_a_break():
    # 000 line 26 is the heading 五、教共体建设类型, the next text is on line 28
    assert isinstance(locate(doc(LIUZHOU), "五、教共体建设类型‖教共体建设单位分为牵头单位和联合单位"), Located)
    assert isinstance(locate(doc(LIUZHOU), "五、教共体‖建设类型"), Mismatch)


def test_a_doubled_or_edge_break_mark_means_nothing_more():
    assert quote_parts("‖缩小城‖‖乡‖")[0].breaks == (3,)


# …… omissions -------------------------------------------------------------------------------------
def test_omission_parts_must_all_be_there_in_order():
    document = doc(LIUZHOU)
    whole = "1个教共体一般由1个牵头单位和1—2个联合单位组成。……单位总数原则上不超过6个。"
    assert isinstance(locate(document, whole), Located)
    assert isinstance(locate(document, "1个教共体一般由……不超过6个。"), Located)
    assert isinstance(locate(document, "1个教共体一般由…不超过6个。"), Located)  # one … is an omission too
    backwards = locate(document, "单位总数原则上不超过6个。……1个教共体一般由1个牵头单位")
    assert isinstance(backwards, Mismatch) and backwards.code == "PE601"
    wrong_second = "1个教共体一般由……单位总数原则上不超过9个。"
    result = locate(document, wrong_second)
    assert isinstance(result, Mismatch) and wrong_second[result.quote_index] == "9"


def test_an_omission_is_not_a_wildcard_inside_a_word():
    assert isinstance(locate(doc(LIUZHOU), "单位总数……不超过7个。"), Mismatch)


# what is checked ------------------------------------------------------------------------------------
def test_parameter_source_and_not_encoded_quotes_are_checked(tmp_path):
    path = policy(tmp_path, rule("单位总数原则上不超过6个。") + (
        "parameters:\n"
        "  max_units:\n"
        "    value: 6\n"
        "    source: {section: 五、教共体建设类型, quote: 单位总数原则上不超过7个。}\n"  # line 18
        "not_encoded:\n"
        "  - id: t.other\n"
        "    reason: 「如有需要，经建设单位集体协商」之外，「可以随意增加」——无从判断\n"))  # line 21
    found = [(d.span.line, d.span.col, d.code) for d in check_quotes(str(path), SOURCES)]
    # the parameter's quote (file: the policy's source.file) at its 7; the reason's second 「…」 at 随
    assert found == [(18, 51, "PE601"), (21, 35, "PE601")]


def test_a_source_file_missing_from_the_folder(tmp_path):
    path = policy(tmp_path, rule("单位总数原则上不超过6个。", file="999_missing.txt"))
    (diagnostic,) = check_quotes(str(path), SOURCES)
    assert diagnostic.code == "PE603" and (diagnostic.span.line, diagnostic.span.col) == (12, 13)
    assert "999_missing.txt" in diagnostic.message("en")


def test_a_citation_is_a_file_name_never_a_path(tmp_path):
    path = policy(tmp_path, rule("单位总数原则上不超过6个。", file="../sources/" + LIUZHOU))
    assert [d.code for d in check_quotes(str(path), SOURCES)] == ["PE603"]


def test_sources_must_be_a_folder(tmp_path, capsys):
    path = policy(tmp_path, rule("单位总数原则上不超过6个。"))
    assert main(["check", "--sources", str(tmp_path / "nowhere"), str(path)]) == 2
    capsys.readouterr()


def test_the_message_is_bounded_for_a_long_quote():
    document = doc(LIUZHOU)
    long_quote = "单位总数原则上不超过6个。" * 40 + "X"
    result = locate(document, long_quote)
    assert isinstance(result, Mismatch)
    assert len(citations._clip(document.passage(*result.nearest))) <= citations.PASSAGE_CHARS + 1


def test_cli_entry_point_runs_the_check(tmp_path):
    path = policy(tmp_path, rule("单位总数原则上不超过8个。"))
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "utf-8"}
    result = subprocess.run([sys.executable, "-m", "policyengine", "--lang", "en", "check", "--sources",
                             str(SOURCES), str(path)], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 1 and ":14:24: PE601" in result.stdout


def test_a_parameter_source_is_read_as_a_citation(tmp_path):
    from policyengine.policyfile import read_policy_file
    from policyengine.report import Citation

    path = policy(tmp_path, rule("单位总数原则上不超过6个。") + (
        "parameters:\n"
        "  max_units:\n"
        "    value: 6\n"
        "    source: {section: 五、教共体建设类型, quote: 单位总数原则上不超过6个。}\n"))
    model, diagnostics = read_policy_file(str(path), path.read_text(encoding="utf-8"))
    assert diagnostics == []
    (parameter,) = model.parameters
    assert parameter.source == Citation("", "五、教共体建设类型", "单位总数原则上不超过6个。")  # file: the policy's
    assert check_quotes(str(path), SOURCES) == []
