"""Size of the HTML report per community, on the seeded synthetic province (benchmarks/province.py).

    python benchmarks/report_size.py [--communities 100,1000] [--policy ruian] [--browser] [--out results/report_size.json]

For each size: the report's bytes in total and per community, the number of findings listed (all but
not_applicable, as `evaluate --format html` writes it) and the render time. The report is one page whose
per-community sections are collapsed; its size grows linearly with the communities (what a section holds
does not depend on the others), which this measurement states. With `--browser` (headless Chromium
through Selenium, as tests/browser/ uses) it also times opening the file and applying a filter.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE))

import policyengine  # noqa: E402
from policyengine.html import render_report  # noqa: E402
from policyengine.records import load_records  # noqa: E402
from province import generate  # noqa: E402

AS_OF = dt.date(2024, 9, 1)


def measure(policy_name: str, communities: int) -> dict:
    policy = policyengine.load_policy(policy_name)
    records = load_records(generate(communities, city=policy.jurisdiction))
    report = policy.evaluate(records, AS_OF)
    started = time.perf_counter()
    html = render_report(policy, report, records)
    seconds = time.perf_counter() - started
    size = len(html.encode("utf-8"))
    listed = sum(1 for f in report.findings if f.outcome != "not_applicable")
    row = {"policy": policy_name, "communities": communities, "findings": len(report.findings),
           "findings_listed": listed, "bytes": size, "bytes_per_community": round(size / communities),
           "bytes_per_listed_finding": round(size / max(listed, 1)), "render_seconds": round(seconds, 2)}
    return row, html


def browser_times(html: str) -> dict:
    """Seconds to open the report in headless Chromium and to apply an outcome filter."""
    import shutil
    import tempfile

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    profile = tempfile.mkdtemp()
    page = Path(profile) / "report.html"
    page.write_text(html, encoding="utf-8")
    options = webdriver.ChromeOptions()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={profile}/chromium"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        driver.set_page_load_timeout(300)
        started = time.perf_counter()
        driver.get(page.as_uri())
        opened = time.perf_counter() - started
        before = driver.find_element("id", "shown-count").text
        started = time.perf_counter()
        driver.execute_script("location.hash = 'outcome=violation'")
        WebDriverWait(driver, 120).until(lambda d: d.find_element("id", "shown-count").text != before)
        filtered = time.perf_counter() - started
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    return {"browser_open_seconds": round(opened, 2), "browser_filter_seconds": round(filtered, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--communities", default="100,1000")
    parser.add_argument("--policy", default="ruian")
    parser.add_argument("--browser", action="store_true", help="also time opening and filtering in Chromium")
    parser.add_argument("--out", default=str(HERE / "results" / "report_size.json"))
    args = parser.parse_args(argv)
    rows = []
    for size in (int(n) for n in args.communities.split(",")):
        row, html = measure(args.policy, size)
        if args.browser:
            row.update(browser_times(html))
        rows.append(row)
        print(f"{row['policy']} {row['communities']:>6} communities: {row['bytes'] / 1e6:7.2f} MB, "
              f"{row['bytes_per_community']:>6} bytes/community, {row['findings_listed']} findings listed, "
              f"rendered in {row['render_seconds']} s"
              + (f"; Chromium opens it in {row['browser_open_seconds']} s, filters in {row['browser_filter_seconds']} s"
                 if args.browser else ""), flush=True)
    Path(args.out).write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
