"""The HTML report in a real browser: filters by outcome, rule and community with the state in the URL
fragment, sections collapsed by default, record text shown as text. Ruian example at 2024-09-01."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import yaml

import policyengine
from policyengine.html import render_report
from policyengine.records import load_records
from policyengine.summary import summarize

ROOT = Path(__file__).resolve().parents[2]
RUIAN = ROOT / "examples" / "ruian.yaml"
AS_OF = dt.date(2024, 9, 1)


def _report(tmp_path: Path, records, lang: str = "zh", name: str = "report.html") -> tuple[Path, object]:
    policy = policyengine.load_policy("ruian")
    report = policy.evaluate(records, AS_OF)
    path = tmp_path / name
    path.write_text(render_report(policy, report, records, lang=lang), encoding="utf-8")
    return path, report


@pytest.fixture(scope="module")
def ruian(tmp_path_factory):
    records = load_records(RUIAN)
    path, report = _report(tmp_path_factory.mktemp("report"), records)
    return path, report


def _shown(driver) -> int:
    return int(driver.find_element("id", "shown-count").text)


def test_sections_start_collapsed_and_a_filter_shows_its_rows(ruian, open_page, visible, screenshot):
    path, report = ruian
    driver = open_page(path)
    listed = [f for f in report.findings if f.outcome != "not_applicable"]
    assert _shown(driver) == len(listed)  # every listed finding counts, …
    assert visible(".finding") == []  # … but each community is collapsed
    screenshot("summary")

    # the filter shows exactly the violations the summary attributes to ra-c-03 (瑞安市安阳实验中学教育共同体);
    # which findings those are is asserted from the text in tests/test_output.py
    summary = summarize(report, load_records(RUIAN), policyengine.load_policy("ruian"))
    c03 = next(c for c in summary["communities"] if c["id"] == "ra-c-03")
    expected = c03["counts"]["violation"]
    assert expected >= 5
    driver = open_page(path, fragment="outcome=violation&community=ra-c-03")
    rows = visible(".finding")
    assert len(rows) == _shown(driver) == expected
    assert {row.get_attribute("data-outcome") for row in rows} == {"violation"}
    assert all("ra-c-03" in row.get_attribute("data-communities").split() for row in rows)
    assert visible("section.community") == [s for s in visible("section.community")
                                            if s.get_attribute("data-community") == "ra-c-03"]
    screenshot("violations-ra-c-03", full_page=True)


def test_selecting_a_filter_writes_the_fragment(ruian, open_page, visible):
    from selenium.webdriver.support.ui import Select, WebDriverWait

    path, report = ruian
    driver = open_page(path)
    Select(driver.find_element("id", "filter-rule")).select_by_value("ruian.reward.z_score_graduating_class")
    WebDriverWait(driver, 10).until(lambda d: "rule=" in d.current_url)
    assert driver.current_url.endswith("#rule=ruian.reward.z_score_graduating_class")
    expected = [f for f in report.findings
                if f.rule == "ruian.reward.z_score_graduating_class" and f.outcome != "not_applicable"]
    # a unit finding is listed under each community it is attributed to; here every unit is in one
    assert len(visible(".finding")) == len(expected) == _shown(driver)
    amounts = sorted(row.find_element("css selector", ".head strong").text for row in visible(".finding"))
    assert "40000.00 元" in amounts and "30000.00 元" in amounts  # 4 and 3 graduating classes × 1万元


def test_explanation_shows_failed_condition_parameters_and_quote(ruian, open_page, visible):
    path, _ = ruian
    driver = open_page(path, fragment="rule=ruian.personnel.co_build.post_grade_floor&outcome=violation")
    (row,) = visible(".finding")
    text = row.text
    assert "ra-a-x09" in text and "共建型教共体交流教师交流后聘任职级低于交流前" in text
    assert row.find_element("css selector", ".cond.fails").is_displayed()
    # the official 岗位等级 numbering, where a lower number is the higher grade, is the default reading (#16)
    assert "post_grade_order = lower_is_senior" in text
    assert "确保交流教师交流后聘任职级不低于交流前。" in text and "001_d2a07aa1147355f8.txt" in text


def test_record_text_with_script_shows_as_text(tmp_path, open_page, visible, screenshot):
    raw = yaml.safe_load(RUIAN.read_text(encoding="utf-8"))
    data = json.loads(json.dumps(raw, default=str))
    hostile = "<script>document.title='pwned'</script><b>粗体</b>"
    next(c for c in data["communities"] if c["community_id"] == "ra-c-03")["name"] = hostile
    path, _ = _report(tmp_path, load_records(data), lang="en")
    html = path.read_text(encoding="utf-8")
    assert "<script>document.title" not in html and "&lt;script&gt;document.title" in html
    driver = open_page(path, fragment="community=ra-c-03")
    assert driver.title != "pwned"
    section = next(s for s in visible("section.community") if s.get_attribute("data-community") == "ra-c-03")
    assert hostile in section.find_element("css selector", "summary").text
    assert driver.find_elements("css selector", "section.community summary b") == []
    screenshot("script-as-text")


def test_english_report(tmp_path, open_page):
    path, _ = _report(tmp_path, load_records(RUIAN), lang="en")
    driver = open_page(path)
    assert driver.find_element("css selector", "html").get_attribute("lang") == "en"
    assert driver.find_element("id", "summary").text == "Summary"
