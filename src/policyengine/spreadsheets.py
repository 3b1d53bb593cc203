"""Records as spreadsheets: CSV files or an xlsx workbook ↔ the record mapping `load_records` validates.

One convention for both (README, "Input forms"):
- a sheet (xlsx) or file (`<collection>.csv`) per collection, one record per row, a header row of field
  names (or their Chinese names, schema/headers.yaml);
- a nested list of sub-records is its own sheet or file `<collection>.<field>` (`communities.units`:
  the memberships), whose first column is the parent's id field (`community_id`);
- a map is one column per key, `<field>.<key>` (`in_service_teacher_count.2023`), and a single
  sub-record one column per field (`agreement.signed_on`);
- a list of scalars is one `;`-separated cell (`\\;` for a `;` inside an item);
- an empty cell is an absent value.
CSV is read as UTF-8 (with or without BOM) or GB18030 and written as UTF-8 with BOM (Excel opens it).
xlsx numeric cells are read from their shortest repr; more than 15 significant digits cannot be held
exactly by a spreadsheet number and are an error asking for the value as text (RE117). Every error
names the file, sheet, row and column.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import importlib.resources
import io
import re
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable

import attrs
import yaml

from policyengine.recordschema import FieldDef, KindDef, RecordSchema, ValueSpec

BAD_CELL = "RE117"
BAD_SHEET = "RE118"
SHEET_NAME_LIMIT = 31  # characters in an xlsx sheet name
SCALAR_TAGS = ("string", "ref", "number", "int", "money", "bool", "date", "enum")
TRUE = {"true", "yes", "是", "1", "对", "有"}
FALSE = {"false", "no", "否", "0", "无"}


@attrs.frozen
class Table:
    """One sheet or CSV file: `rows` are (row number, cells), numbered as a spreadsheet shows them."""

    name: str
    file: str
    sheet: str | None
    header: tuple[Any, ...]
    rows: tuple[tuple[int, tuple[Any, ...]], ...]

    def where(self, row: int, column: int) -> tuple[str, str]:
        """(zh, en) location of a cell: file, sheet, row, column letter."""
        letter = column_letter(column)
        sheet = f" 工作表 {self.sheet}" if self.sheet else ""
        sheet_en = f", sheet {self.sheet}" if self.sheet else ""
        return (f"{self.file}{sheet} 第 {row} 行 {letter} 列（{self.header_name(column)}）",
                f"{self.file}{sheet_en}, row {row}, column {letter} ({self.header_name(column)})")

    def header_name(self, column: int) -> str:
        return str(self.header[column - 1]) if 0 < column <= len(self.header) else "?"


@attrs.frozen
class SheetError:
    code: str
    zh: str
    en: str
    file: str
    row: int | None
    column: int | None


def column_letter(column: int) -> str:
    letters = ""
    while column > 0:
        column, remainder = divmod(column - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


@functools.cache
def _headers() -> dict[str, Any]:
    text = (importlib.resources.files("policyengine") / "schema" / "headers.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def _collection_of(name: str, schema: RecordSchema) -> str | None:
    if name in schema.collections:
        return name
    for collection, aliases in _headers()["collections"].items():
        if name in aliases and collection in schema.collections:
            return collection
    return None


def _field_name(header: str, kind: KindDef) -> str | None:
    if header in kind.fields:
        return header
    for field in kind.fields.values():
        if header == field.alias or header in _headers()["fields"].get(field.name, ()):
            return field.name
    return None


# ------------------------------------------------------------------------------------------ reading


def read_csv_files(paths: Iterable[Path], errors: list[SheetError]) -> list[Table]:
    """Tables of CSV files (a directory stands for its *.csv files, in name order)."""
    tables = []
    for path in paths:
        files = sorted(path.glob("*.csv")) if path.is_dir() else [path]
        for file in files:
            text = _decode(file, errors)
            if text is None:
                continue
            rows = list(csv.reader(io.StringIO(text, newline="")))
            header = tuple(cell.strip() for cell in rows[0]) if rows else ()
            body = tuple((number, tuple(row)) for number, row in enumerate(rows[1:], 2) if any(c.strip() for c in row))
            tables.append(Table(file.stem, str(file), None, header, body))
    return tables


def _decode(path: Path, errors: list[SheetError]) -> str | None:
    try:
        data = path.read_bytes()
    except OSError as exc:
        errors.append(SheetError("RE108", f"无法读取文件 {path}：{exc.strerror}", f"cannot read {path}: {exc.strerror}",
                                 str(path), None, None))
        return None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    errors.append(SheetError("RE108", f"{path} 既不是 UTF-8 也不是 GB18030 编码", f"{path} is neither UTF-8 nor GB18030",
                             str(path), None, None))
    return None


def read_xlsx(path: Path, errors: list[SheetError]) -> list[Table]:
    import openpyxl  # only needed for workbooks

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a broken file
        errors.append(SheetError("RE108", f"无法读取工作簿 {path}：{exc}", f"cannot read workbook {path}: {exc}",
                                 str(path), None, None))
        return []
    tables = []
    try:
        for sheet in workbook.worksheets:
            rows = [tuple(row) for row in sheet.iter_rows(values_only=True)]
            header = tuple("" if cell is None else str(cell).strip() for cell in rows[0]) if rows else ()
            body = tuple((number, row) for number, row in enumerate(rows[1:], 2)
                         if any(cell is not None and str(cell).strip() for cell in row))
            tables.append(Table(sheet.title, str(path), sheet.title, header, body))
    finally:
        workbook.close()
    return tables


# ------------------------------------------------------------------------- tables → record mapping


@attrs.define
class _Builder:
    schema: RecordSchema
    errors: list[SheetError]
    document: dict[str, list[dict[str, Any]]] = attrs.field(factory=dict)
    cells: dict[int, dict[str, tuple[str, str]]] = attrs.field(factory=dict)  # id(raw record) → path → where

    def error(self, code: str, table: Table, row: int | None, column: int | None, zh: str, en: str) -> None:
        if row is not None and column is not None:
            where_zh, where_en = table.where(row, column)
        else:
            sheet = f"（工作表 {table.sheet}）" if table.sheet else ""
            where_zh, where_en = f"{table.file}{sheet}", f"{table.file}" + (f", sheet {table.sheet}" if table.sheet else "")
        self.errors.append(SheetError(code, f"{where_zh}：{zh}", f"{where_en}: {en}", table.file, row, column))


def tables_to_document(schema: RecordSchema, tables: list[Table], errors: list[SheetError]) -> tuple[dict, dict]:
    """(record mapping, cell locations per raw record) from the tables of one CSV set or workbook."""
    builder = _Builder(schema, errors)
    top, nested = [], []
    for table in tables:
        collection, _, field = table.name.partition(".")
        resolved = _collection_of(collection, schema)
        if resolved is None:
            allowed = ", ".join(schema.collections)
            builder.error(BAD_SHEET, table, None, None, f"未知的工作表或文件名 {table.name}（应为集合名，如 {allowed}）",
                          f"unknown sheet or file name {table.name} (a collection such as {allowed}, or <collection>.<field>)")
        elif field:
            nested.append((resolved, field, table))
        else:
            top.append((resolved, table))
    for collection, table in top:
        records = builder.document.setdefault(collection, [])
        kind = schema.collections[collection]
        columns = _columns(builder, table, kind)
        for number, row in table.rows:
            records.append(_row_record(builder, table, kind, columns, number, row, ""))
    for collection, field_name, table in nested:
        _nested_rows(builder, collection, field_name, table)
    return builder.document, builder.cells


def _columns(builder: _Builder, table: Table, kind: KindDef, skip_first: bool = False) -> list[tuple[int, list[str]] | None]:
    """Per column: (column number, field path within the record) or None (ignored)."""
    columns: list[tuple[int, list[str]] | None] = []
    for index, header in enumerate(table.header, 1):
        if skip_first and index == 1:
            columns.append(None)
            continue
        if not header:
            columns.append(None)
            continue
        path = _header_path(str(header), kind, builder.schema)
        if path is None:
            builder.error("RE105", table, 1, index, f"未知的列 {header}（{kind.name} 没有此字段）",
                          f"unknown column {header} ({kind.name} has no such field)")
        columns.append((index, path) if path else None)
    return columns


def _header_path(header: str, kind: KindDef, schema: RecordSchema) -> list[str] | None:
    name = _field_name(header, kind)
    if name is not None:
        return [name]
    head, _, rest = header.partition(".")
    name = _field_name(head, kind)
    if name is None or not rest:
        return None
    spec = kind.fields[name].spec
    if spec.tag == "map":
        return [name, rest]
    if spec.tag == "record":
        sub = _header_path(rest, schema.kinds[spec.arg], schema)
        return [name, *sub] if sub else None
    return None


def _row_record(builder: _Builder, table: Table, kind: KindDef, columns, number: int, row: tuple, prefix: str,
                owner: dict | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {}
    locations = builder.cells.setdefault(id(owner if owner is not None else record), {})
    for column in columns:
        if column is None:
            continue
        index, path = column
        cell = row[index - 1] if index - 1 < len(row) else None
        field = kind.fields[path[0]]
        spec, target = _target(builder.schema, field, path)
        value = _cell_value(builder, table, number, index, cell, spec)
        if value is None:
            continue
        node = record
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
        locations[prefix + ".".join(path)] = table.where(number, index)
        locations.setdefault(prefix.rstrip(".") or path[0], table.where(number, index))
    return record


def _target(schema: RecordSchema, field: FieldDef, path: list[str]) -> tuple[ValueSpec, str]:
    spec = field.spec
    for part in path[1:]:
        if spec.tag == "map":
            spec = spec.value
        else:
            spec = schema.kinds[spec.arg].fields[part].spec
    return spec, path[-1]


_ESCAPED_SPLIT = re.compile(r"(?<!\\);")


def _cell_value(builder: _Builder, table: Table, row: int, column: int, cell: Any, spec: ValueSpec) -> Any:
    """A raw value as load_records accepts it, or None for an empty cell."""
    if cell is None or (isinstance(cell, str) and not cell.strip()):
        return None
    if spec.tag == "list":
        text = _as_text(builder, table, row, column, cell)
        if text is None:
            return None
        items = [item.strip().replace("\\;", ";") for item in _ESCAPED_SPLIT.split(text)]
        return [_scalar(builder, table, row, column, item, spec.element) for item in items if item]
    return _scalar(builder, table, row, column, cell, spec)


def _as_text(builder: _Builder, table: Table, row: int, column: int, cell: Any) -> str | None:
    if isinstance(cell, str):
        return cell
    number = _number(builder, table, row, column, cell)
    return None if number is None else str(number)


def _number(builder: _Builder, table: Table, row: int, column: int, cell: Any) -> Any:
    """An xlsx numeric cell as the exact number its shortest repr shows (int stays int)."""
    if isinstance(cell, bool):
        return cell
    exact = Decimal(repr(cell)) if isinstance(cell, float) else Decimal(cell)
    if len(exact.normalize().as_tuple().digits) > 15:
        builder.error(BAD_CELL, table, row, column, f"数值 {cell!r} 超过 15 位有效数字，表格数字无法精确保存：请以文本形式输入",
                      f"the number {cell!r} has more than 15 significant digits, which a spreadsheet number "
                      "cannot hold exactly: enter it as text")
        return None
    if isinstance(cell, int):
        return cell
    return int(exact) if exact == exact.to_integral_value() and "e" not in repr(cell).lower() and \
        repr(cell).endswith(".0") else exact


def _scalar(builder: _Builder, table: Table, row: int, column: int, cell: Any, spec: ValueSpec) -> Any:
    if isinstance(cell, str):
        text = cell.strip()
        if spec.tag == "bool":
            lowered = text.lower()
            return True if lowered in TRUE else False if lowered in FALSE else text
        if spec.tag in ("number", "int") and re.fullmatch(r"[+-]?[0-9]{1,40}", text):
            return int(text)  # as YAML reads an unquoted 70: a number stays int unless it has decimals
        return text
    if isinstance(cell, bool):
        return cell
    if isinstance(cell, dt.datetime):
        return cell.date() if cell.time() == dt.time(0) else cell
    if isinstance(cell, dt.date):
        return cell
    if isinstance(cell, (int, float)):
        number = _number(builder, table, row, column, cell)
        if number is None:
            return None
        if spec.tag in ("string", "ref", "enum"):  # an id typed as a number: 2023 → "2023"
            return str(number)
        return str(number) if isinstance(number, Decimal) else number
    return str(cell)


def _truncated_field(collection: str, sheet: str, kind: KindDef) -> str | None:
    """xlsx sheet names hold 31 characters: `communities.teacher_training_pl` is the one field
    whose `<collection>.<field>` begins so."""
    if len(sheet) != SHEET_NAME_LIMIT:
        return None
    matches = [name for name in kind.fields if f"{collection}.{name}"[:SHEET_NAME_LIMIT] == sheet]
    return matches[0] if len(matches) == 1 else None


def _nested_rows(builder: _Builder, collection: str, field_name: str, table: Table) -> None:
    kind = builder.schema.collections[collection]
    name = _field_name(field_name, kind) or _truncated_field(collection, table.name, kind)
    field = kind.fields.get(name) if name else None
    if field is None or field.spec.tag != "list" or field.spec.element.tag != "record":
        builder.error(BAD_SHEET, table, None, None, f"{kind.name} 没有子记录列表字段 {field_name}",
                      f"{kind.name} has no list of sub-records named {field_name}")
        return
    parent_header = str(table.header[0]) if table.header else ""
    if _field_name(parent_header, kind) != kind.id_field:
        builder.error(BAD_SHEET, table, 1, 1, f"第一列应为上级记录的 {kind.id_field}",
                      f"the first column must be the parent's {kind.id_field}")
        return
    parents = {record.get(kind.id_field): record for record in builder.document.get(collection, [])}
    sub_kind = builder.schema.kinds[field.spec.element.arg]
    columns = _columns(builder, table, sub_kind, skip_first=True)
    for number, row in table.rows:
        parent_id = _scalar(builder, table, number, 1, row[0] if row else None, ValueSpec("string"))
        parent = parents.get(parent_id)
        if parent is None:
            builder.error("RE104", table, number, 1, f"{collection} 中没有 {kind.id_field} 为 {parent_id} 的记录",
                          f"no record of {collection} has {kind.id_field} {parent_id!r}")
            continue
        items = parent.setdefault(name, [])
        prefix = f"{name}[{len(items)}]."
        items.append(_row_record(builder, table, sub_kind, columns, number, row, prefix, owner=parent))


# ------------------------------------------------------------------------------------------ writing


def record_tables(records: Any, schema: RecordSchema) -> dict[str, list[list[Any]]]:
    """Sheet name → rows (header first) for a RecordSet: the convention above, English headers."""
    sheets: dict[str, list[list[Any]]] = {}
    for collection, kind in schema.collections.items():
        items = records.collection(collection)
        if not items:
            continue
        header, nested = _export_header(kind, items, schema)
        sheets[collection] = [header] + [[_export_cell(_get(item, path, schema, kind)) for path in _paths(header)]
                                         for item in items]
        for field in nested:
            sub_kind = schema.kinds[field.spec.element.arg]
            children = [(item, child) for item in items for child in getattr(item, field.name) or ()]
            sub_header, _ = _export_header(sub_kind, [child for _, child in children], schema)
            sheets[f"{collection}.{field.name}"] = [[kind.id_field, *sub_header]] + [
                [parent.record_id, *[_export_cell(_get(child, path, schema, sub_kind)) for path in _paths(sub_header)]]
                for parent, child in children]
    return sheets


def _paths(header: list[str]) -> list[list[str]]:
    return [name.split(".", 1) for name in header]


def _export_header(kind: KindDef, items: list, schema: RecordSchema) -> tuple[list[str], list[FieldDef]]:
    header, nested = [], []
    for field in kind.fields.values():
        spec = field.spec
        if spec.tag == "list" and spec.element.tag == "record":
            if any(getattr(item, field.name) for item in items):
                nested.append(field)
        elif spec.tag == "map":
            keys = sorted({key for item in items for key in (getattr(item, field.name) or {})}, key=str)
            header += [f"{field.name}.{key}" for key in keys]
        elif spec.tag == "record":
            sub = schema.kinds[spec.arg]
            for sub_field in sub.fields:
                if any(getattr(item, field.name) is not None and getattr(getattr(item, field.name), sub_field) not in (None, (), {})
                       for item in items):
                    header.append(f"{field.name}.{sub_field}")
        else:
            header.append(field.name)
    return header, nested


def _get(item: Any, path: list[str], schema: RecordSchema, kind: KindDef) -> Any:
    value = getattr(item, path[0])
    if len(path) == 1 or value is None:
        return value
    if kind.fields[path[0]].spec.tag == "map":
        key = int(path[1]) if kind.fields[path[0]].spec.key.tag == "int" else path[1]
        return value.get(key)
    return getattr(value, path[1])


def _export_cell(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, tuple):
        return ";".join(str(_export_cell(item)).replace(";", "\\;") for item in value) if value else None
    if isinstance(value, dict):
        raise ValueError("a map inside a sub-record cannot be exported")
    return value


def write_csv(sheets: dict[str, list[list[Any]]], directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, rows in sheets.items():
        path = directory / f"{name}.csv"
        with open(path, "w", encoding="utf-8-sig", newline="") as handle:  # the BOM makes Excel read UTF-8
            writer = csv.writer(handle)
            for row in rows:
                writer.writerow(["" if cell is None else _csv_text(cell) for cell in row])
        written.append(path)
    return written


def _csv_text(cell: Any) -> str:
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, (dt.date, Decimal, int)):
        return str(cell) if not isinstance(cell, dt.date) else cell.isoformat()
    return str(cell)


def write_xlsx(sheets: dict[str, list[list[Any]]], path: Path) -> Path:
    import openpyxl

    workbook = openpyxl.Workbook(write_only=True)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(title=name[:SHEET_NAME_LIMIT])
        for row in rows:
            sheet.append([_xlsx_cell(cell) for cell in row])
    workbook.save(path)
    return path


def _xlsx_cell(cell: Any) -> Any:
    """Numbers as numeric cells when a spreadsheet number shows exactly their text (72.4), else as
    text ("10000.00" keeps its two decimals, 17-digit amounts stay exact)."""
    if isinstance(cell, Decimal):  # 62.0 would come back as 62: trailing zeros stay text
        text = str(cell)
        return float(cell) if repr(float(cell)) == text and not text.endswith("0") else text
    if isinstance(cell, int) and not isinstance(cell, bool) and abs(cell) >= 10 ** 15:
        return str(cell)
    return cell

