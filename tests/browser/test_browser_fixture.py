"""The browser fixture itself: a local page with CJK text and a script, opened with a URL fragment."""


def test_local_page_runs_its_script_and_reads_the_fragment(tmp_path, open_page, visible, screenshot):
    page = tmp_path / "page.html"
    page.write_text("""<!doctype html><meta charset="utf-8"><title>t</title>
<p class="row">教共体 一</p><p class="row">教共体 二</p><p class="row" hidden>三</p>
<script>document.title = "fragment:" + decodeURIComponent(location.hash.slice(1));</script>""", encoding="utf-8")
    driver = open_page(page, fragment="outcome=violation")
    assert driver.title == "fragment:outcome=violation"
    assert [row.text for row in visible("p.row")] == ["教共体 一", "教共体 二"]
    assert screenshot("page").stat().st_size > 0
