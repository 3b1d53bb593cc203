"""The woven view (`policyengine doc --format html`) in a real browser: a known rule sits beside its
sentence — in the same row, to its right, at the same height."""

from pathlib import Path

from policyengine.cli import main

SOURCES = Path(__file__).resolve().parents[2] / "sources"
RULE = "liuzhou.formation.max_units_6"
SENTENCE = "如有需要，经建设单位集体协商，可以适当增加牵头单位或联合单位，单位总数原则上不超过6个。"  # 000, line 28


def test_liuzhou_max_units_rule_sits_beside_its_sentence(tmp_path, open_page, screenshot, capsys):
    from selenium.webdriver.common.by import By

    page = tmp_path / "liuzhou.html"
    assert main(["doc", "--policy", "liuzhou", "--sources", str(SOURCES), "--format", "html", "-o", str(page)]) == 0
    driver = open_page(page)
    card = driver.find_element(By.CSS_SELECTOR, f'article[data-rule="{RULE}"]')
    sentence = driver.find_element(By.ID, "s-" + card.get_attribute("data-sentences").split()[0])
    assert sentence.text.endswith(SENTENCE)  # the number badge precedes the text
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", card)
    row = card.find_element(By.XPATH, "./ancestor::div[contains(@class, 'row')]")
    assert row.find_element(By.ID, sentence.get_attribute("id")) == sentence  # same row
    text_box, card_box = sentence.rect, card.rect
    assert card_box["x"] >= text_box["x"] + text_box["width"] - 1  # beside: to the right of the text
    assert card_box["y"] < text_box["y"] + text_box["height"] and text_box["y"] < card_box["y"] + card_box["height"]
    assert card.is_displayed() and RULE in card.text
    # the coverage figures are shown in the header
    assert "/" in driver.find_element(By.ID, "figure-encoded").text
    assert screenshot("woven-liuzhou").stat().st_size > 0
