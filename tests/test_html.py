"""`evaluate --format html`: one self-contained file, summary first, collapsed sections, zh/en,
autoescaped record text (the browser side is in tests/browser/test_report.py)."""

from __future__ import annotations

import re
from pathlib import Path

from policyengine.cli import main

ROOT = Path(__file__).resolve().parents[1]
RUIAN = str(ROOT / "examples" / "ruian.yaml")


def _html(tmp_path, capsys, *extra: str) -> str:
    target = tmp_path / "report.html"
    assert main(["evaluate", "--policy", "ruian", RUIAN, "--as-of", "2024-09-01", "--format", "html",
                 "-o", str(target), *extra]) == 0
    capsys.readouterr()
    return target.read_text(encoding="utf-8")


def test_report_is_self_contained(tmp_path, capsys):
    html = _html(tmp_path, capsys)
    assert not re.search(r"https?://", html)
    assert not re.search(r"<(link|img|iframe)\b|<script[^>]+src=|@import|url\(", html)
    assert "@media print" in html


def test_summary_first_then_collapsed_communities_grouped_by_outcome(tmp_path, capsys):
    html = _html(tmp_path, capsys)
    assert html.index('id="summary"') < html.index('class="filters"') < html.index('class="community"')
    assert "<details open" not in html
    section = html[html.index('data-community="ra-c-03" id='):]
    section = section[:section.index("</section>")]
    groups = re.findall(r'<div class="group" data-outcome="(\w+)">', section)
    assert groups == ["violation", "amount", "entitlement", "info", "pass"]
    assert "瑞安市安阳实验中学教育共同体" in section
    assert "175600.00 元" in html  # the community's amounts in the summary (see test_output for the parts)
    # a violation shows its explanation: the failed condition, parameters and the quote
    assert "确保交流教师交流后聘任职级不低于交流前。" in section and 'class="cond fails"' in section


def test_english_report_and_filters_of_the_url_fragment(tmp_path, capsys):
    html = _html(tmp_path, capsys, "--lang", "en")
    assert '<html lang="en">' in html and ">Summary<" in html and "amounts owed" in html
    assert "location.hash" in html and 'data-key="outcome"' in html and 'data-key="rule"' in html
    assert 'data-key="community"' in html


def test_display_filters_apply_to_the_report(tmp_path, capsys):
    html = _html(tmp_path, capsys, "--community", "ra-c-03", "--outcome", "violation")
    # ra-c-03's violations at 2024-09-01: unified testing, the 10% exchange quota in two school years, the post
    # grade floor, three 3-year rotations, a member recruit's shadow year, and (since 「服务期满后」 means after the
    # service period, #16) the core recruit's rotation after service. Its reporting meetings are not among them:
    # 「建立…例会制度」 gives no frequency, so meetings held before spring 2023 show the system then (#16, §5.2)
    assert len(re.findall(r'<div class="finding" data-outcome="violation"', html)) == 9
