"""Exports: findings as spreadsheet rows, one row per finding, with names, values and the quote.

CSV is written UTF-8 with a byte-order mark, so that Excel opens the Chinese text correctly; xlsx is
written with openpyxl. Amounts stay exact decimal text in both (Excel numbers are binary floats).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Iterable, TextIO

from policyengine.explain import OUTCOME_LABELS, Names, attribute
from policyengine.report import Finding, _json_value

COLUMNS = ("rule", "subject_kind", "subject", "subject_name", "communities", "community_names", "period",
           "outcome", "outcome_label", "amount", "currency", "strength", "message", "failed", "values",
           "citation_file", "citation_section", "citation_quote")


def rows(findings: Iterable[Finding], records: Any, as_of, lang: str = "zh",
         jurisdiction_name: str = "") -> list[dict[str, str]]:
    names = Names(records, jurisdiction_name)
    result = []
    for f in findings:
        communities = attribute(f, records, as_of).communities
        values = f.values_dict
        result.append({
            "rule": f.rule, "subject_kind": f.subject_kind, "subject": f.subject,
            "subject_name": names.name(f.subject_kind, f.subject) or "",
            "communities": "; ".join(communities),
            "community_names": "; ".join(names.name("community", c) or c for c in communities),
            "period": f.period or "", "outcome": f.outcome, "outcome_label": OUTCOME_LABELS[lang][f.outcome],
            "amount": "" if f.amount is None else str(f.amount), "currency": f.currency or "",
            "strength": f.strength or "", "message": f.message_in(lang) or "",
            "failed": "; ".join(map(str, values.get("failed", values.get("unmet", ())))),
            "values": json.dumps({k: _json_value(v) for k, v in f.values}, ensure_ascii=False),
            "citation_file": f.citation.file, "citation_section": f.citation.section or "",
            "citation_quote": f.citation.quote})
    return result


def write_csv(target: str | Path | TextIO, table: list[dict[str, str]]) -> None:
    """To a path (UTF-8 with BOM) or an open text stream (as it is)."""
    if not isinstance(target, (str, Path)):
        _csv_rows(target, table)
        return
    with open(target, "w", encoding="utf-8-sig", newline="") as out:
        _csv_rows(out, table)


def _csv_rows(out: TextIO, table: list[dict[str, str]]) -> None:
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(table)


def write_xlsx(path: str | Path, table: list[dict[str, str]], title: str = "findings") -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    sheet.append(list(COLUMNS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in table:
        sheet.append([row[c] for c in COLUMNS])
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    book.save(path)
