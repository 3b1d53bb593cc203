"""`policyengine doc`: the policy woven beside its source text, and the source-coverage figure.

Sentences and their numbers come from the source text as written (sources/000: line 28 holds two
sentences, 「…1—2个联合单位组成。」 and 「如有需要，…单位总数原则上不超过6个。」)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from policyengine.cli import main
from policyengine import resources
from policyengine.weave import COVERAGE_HEADER, coverage_row, marks_of, render_html, sentences_of, weave

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "sources"

SOURCE_TEXT = "一、总则\n每个教共体单位总数不超过6个。经费另行规定。\n每年应开展2次活动；加强领导。\n"
POLICY = """\
format: policyengine/1
jurisdiction: {id: t, name: 测试市}
title: 测试政策
source: {file: t.txt}
rules:
  - id: t.formation.max_units
    kind: requirement
    strength: hard
    subject: community
    require: count(community.units) <= max_units
    citation: {file: t.txt, section: 一、总则, quote: 每个教共体单位总数不超过6个。}
parameters:
  max_units: {value: "6", ambiguity: "单位 counts the lead too"}
not_encoded:
  - id: t.funding
    reason: "「经费另行规定」 — the amount is in another document"
  - id: t.quoted
    reason: "<script>alert(1)</script> is text, never markup"
    quote: 加强领导。
  - id: t.nowhere
    reason: no sentence of this text
"""


@pytest.fixture
def small(tmp_path):
    (tmp_path / "t.txt").write_text(SOURCE_TEXT, encoding="utf-8")
    policy = tmp_path / "t.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    return policy, tmp_path


# sentences ------------------------------------------------------------------------------------------
def test_a_sentence_ends_at_the_full_stop_semicolon_and_line_break():
    texts = [s.text for s in sentences_of(SOURCE_TEXT)]
    assert texts == ["一、总则", "每个教共体单位总数不超过6个。", "经费另行规定。", "每年应开展2次活动；", "加强领导。"]
    assert [s.line for s in sentences_of(SOURCE_TEXT)] == [1, 2, 2, 3, 3]
    assert [s.paragraph for s in sentences_of(SOURCE_TEXT)] == [True, True, False, True, False]


def test_line_28_of_liuzhou_is_two_sentences():
    sentences = [s for s in sentences_of((SOURCES / "000_c5362f3556539064.txt").read_text(encoding="utf-8"))
                 if s.line == 28]
    assert len(sentences) == 2
    assert sentences[0].text.endswith("1个教共体一般由1个牵头单位和1—2个联合单位组成。")
    assert sentences[1].text.endswith("单位总数原则上不超过6个。")
    assert sentences[1].text.startswith("如有需要")


def test_the_chunks_of_001_join_and_its_half_width_semicolon_ends_a_sentence():
    sentences = sentences_of((SOURCES / "001_d2a07aa1147355f8.txt").read_text(encoding="utf-8"))
    (across,) = [s for s in sentences if "缩小城" in s.text]
    assert "缩小城乡教育差距" in across.text and "2、" not in across.text  # chunk 1 → chunk 2
    assert sentences[0].text.startswith("市新时代城乡义务教育共同体建设实施方案")  # no 「1、」
    assert any(s.text.endswith(";") for s in sentences)


def test_marks_number_deadline_and_obligation_words():
    assert marks_of("合作期限一般不少于3年。") == ("number", "deadline", "不少于")
    assert marks_of("教共体建设单位应当签订合作协议。") == ("应",)
    assert marks_of("各单位不得挪用经费。") == ("不得",)
    assert marks_of("每年12月底前报送。") == ("number", "deadline")
    assert marks_of("选派三名骨干教师。") == ("number",)
    assert marks_of("中层以上领导跟班学习。") == ("以上",)


def test_no_mark_without_a_quantity_or_obligation():
    assert marks_of("全市中小学校（含幼儿园）。") == ()
    assert marks_of("五、教共体建设类型") == ()  # a heading's enumerator is no number
    assert marks_of("（二）实施阶段") == ()
    assert marks_of("享受相应标准的工作补助。") == ()  # 相应 is not 应
    assert marks_of("推动信息技术应用。") == ()


# the weave and its figures ------------------------------------------------------------------------------
def test_rules_and_not_encoded_entries_sit_at_their_sentences(small):
    policy, sources = small
    woven = weave(str(policy), sources)
    (rule,) = woven.rules
    assert rule.id == "t.formation.max_units" and rule.sentences == (2,)
    assert rule.parameters == (("max_units", "6", "单位 counts the lead too", None),)
    assert ("require", "count(community.units) <= max_units") in rule.expressions
    placed = {e.id: e.sentences for e in woven.not_encoded}
    assert placed == {"t.funding": (3,), "t.quoted": (5,), "t.nowhere": ()}


def test_the_coverage_figure_in_three_parts(small):
    policy, sources = small
    figures = weave(str(policy), sources).figures()
    # 5 sentences: 2 encoded; 3 and 5 only not_encoded; marked are 2 (6, 不超过) and 4 (2, 应), 4 maps to nothing
    assert (figures["sentences"], figures["encoded"], figures["not_encoded"]) == (5, 1, 2)
    assert (figures["marked"], figures["marked_unmapped"]) == (2, 1)
    assert figures["marked_unmapped_share"] == "50.0%"


def test_doc_json_gives_the_same_figures_as_the_html(small, capsys):
    policy, sources = small
    assert main(["doc", "--policy", str(policy), "--sources", str(sources), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["coverage"]["encoded"] == 1 and data["coverage"]["marked_unmapped"] == 1
    assert [s["number"] for s in data["sentences"] if s["unmapped"]] == [4]
    html = render_html(weave(str(policy), sources), "en")
    assert re.search(r'id="figure-encoded"><div class="value">1 / 5<', html)
    assert re.search(r'id="figure-not-encoded"><div class="value">2 / 5<', html)
    assert re.search(r'id="figure-unmapped"><div class="value">1 / 2<', html)


def test_html_is_self_contained_and_escapes_policy_text(small, tmp_path):
    policy, sources = small
    out = tmp_path / "policy.html"
    assert main(["doc", "--policy", str(policy), "--sources", str(sources), "--format", "html", "-o", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert not re.search(r"https?://", html) and "<script" not in html and "<link" not in html
    assert 'data-unmapped="4"' in html
    # the entry that maps to no sentence is listed apart, with its reason
    assert 'id="not-encoded-t.nowhere"' in html.split('id="unplaced"')[1]


def test_the_rule_card_is_in_the_row_of_its_sentence(small):
    policy, sources = small
    html = render_html(weave(str(policy), sources), "zh")
    row = html.split('id="row-2"')[1].split('class="row')[0]
    assert 'id="s-2"' in row and 'data-rule="t.formation.max_units"' in row and "单位总数不超过6个" in row


def test_every_bundled_policy_places_every_rule(capsys):
    for name in ("liuzhou", "ruian", "suixian", "yueqing"):
        figures = weave(name, SOURCES).figures()
        assert figures["rules_placed"] == figures["rules"], name  # every quote is in the text (check --sources)
        assert 0 < figures["encoded"] < figures["sentences"]


def test_liuzhou_max_units_sits_beside_its_sentence():
    woven = weave("liuzhou", SOURCES)
    (rule,) = [r for r in woven.rules if r.id == "liuzhou.formation.max_units_6"]
    (sentence,) = [s for s in woven.sentences if s.number == rule.sentences[0]]
    assert sentence.text == "如有需要，经建设单位集体协商，可以适当增加牵头单位或联合单位，单位总数原则上不超过6个。"


def test_doc_defaults_to_the_bundled_sources(capsys):
    assert main(["doc", "--policy", "suixian", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["source_file"] == "002_859ef7301bd829df.txt"


def test_doc_missing_source_is_a_usage_error(small, tmp_path, capsys):
    policy, _ = small
    assert main(["doc", "--policy", str(policy), "--sources", str(tmp_path / "none")]) == 2
    assert "t.txt" in capsys.readouterr().err


def test_readme_lists_the_source_coverage_of_every_bundled_policy():
    expected = "\n".join([COVERAGE_HEADER, *(coverage_row(weave(name, SOURCES))
                                            for name in resources.bundled_policy_names())])
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert expected in readme, "README's source-coverage table is stale; it should read:\n" + expected
