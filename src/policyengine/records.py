"""Record loading: YAML/JSON record files or mappings → validated, linked RecordSet (or RecordErrors).

Three steps: read the sources (RE108), validate and convert every record against the record schema
(RE101–RE107; all errors of all files are collected, then raised together), and link the records
(fill the navigations declared in recordschema). Runtime values follow typesys: number → int or
Decimal, money → Decimal, date → datetime.date, lists → tuple, maps → dict; no float survives.
"""

from __future__ import annotations

import datetime
import difflib
import functools
import os
import re
import reprlib
import sys
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, Union

import attrs

from policyengine import recordio, runtime
from policyengine.recordio import BadNumber, RecordLimits
from policyengine.recordschema import (
    DATE_PATTERN,
    DECIMAL_PATTERN,
    INT_PATTERN,
    KindDef,
    Record,
    RecordSchema,
    ValueSpec,
    load_record_schema,
)

MISSING_FIELD = "RE101"
WRONG_TYPE = "RE102"
UNKNOWN_ENUM_VALUE = "RE103"
DANGLING_REFERENCE = "RE104"
UNKNOWN_FIELD = "RE105"
DUPLICATE_ID = "RE106"
UNKNOWN_COLLECTION = "RE107"
UNREADABLE_FILE = "RE108"
INCONSISTENT_FIELDS = "RE109"
DUPLICATE_KEY = recordio.DUPLICATE_KEY              # RE110
DUPLICATE_MEMBER = "RE111"
FILE_TOO_LARGE = recordio.FILE_TOO_LARGE            # RE112
TOO_DEEP = recordio.TOO_DEEP                        # RE113
ALIAS_EXPANSION = recordio.ALIAS_EXPANSION          # RE114
NUMBER_OUT_OF_RANGE = recordio.NUMBER_OUT_OF_RANGE  # RE115
UNSUPPORTED_FORMAT = recordio.UNSUPPORTED_FORMAT    # RE116
NOT_TO_THE_FEN = "RE119"

CODES = {
    MISSING_FIELD: "missing required field",
    WRONG_TYPE: "wrong type",
    UNKNOWN_ENUM_VALUE: "unknown enum value",
    DANGLING_REFERENCE: "reference to a record that does not exist",
    UNKNOWN_FIELD: "unknown field",
    DUPLICATE_ID: "duplicate id",
    UNKNOWN_COLLECTION: "unknown top-level collection",
    UNREADABLE_FILE: "unreadable file, or YAML/JSON syntax error",
    INCONSISTENT_FIELDS: "fields that contradict each other (school_year or semester_id against date, a field and its alias)",
    DUPLICATE_KEY: "duplicate key in a YAML or JSON mapping (both positions given)",
    DUPLICATE_MEMBER: "a unit listed twice in one community",
    FILE_TOO_LARGE: "file larger than the limit (max_file_bytes)",
    TOO_DEEP: "nesting deeper than the limit (max_depth)",
    ALIAS_EXPANSION: "YAML aliases that are recursive or expand beyond the limit (max_alias_expansion)",
    NUMBER_OUT_OF_RANGE: "a number with too many digits or too large an exponent (max_number_digits, max_number_exponent)",
    UNSUPPORTED_FORMAT: "an input format that is not supported",
    "RE117": "a spreadsheet number with more than 15 significant digits (enter it as text)",
    "RE118": "a sheet or CSV file that names no collection or nested list",
    NOT_TO_THE_FEN: "an amount of money that is not exact to the fen (4037.655)",
}
_LOCATED_IN_MESSAGE = {UNREADABLE_FILE, DUPLICATE_KEY, FILE_TOO_LARGE, TOO_DEEP, ALIAS_EXPANSION, UNSUPPORTED_FORMAT,
                       "RE117", "RE118"}

Source = Union[str, os.PathLike, Mapping[str, Any]]

KIND_NAMES_ZH = {
    "community": "教共体", "unit": "单位", "person": "人员", "assignment": "交流任务", "activity": "活动",
    "quality_score": "质量评分", "budget": "预算", "expense": "支出", "fund_pool": "资金池",
    "assessment": "考核", "report": "报告", "award": "奖励",
}

EXPECTED = {
    "string": ("字符串", "a string"),
    "ref": ("字符串（记录 id）", "a string (a record id)"),
    "number": ("数字或小数字符串（如 \"72.5\"）", "a number or a decimal string such as \"72.5\""),
    "money": ("金额：数字或小数字符串（如 \"10000.00\"）", "an amount: a number or a decimal string such as \"10000.00\""),
    "int": ("整数", "an integer"),
    "bool": ("布尔值 true/false", "a boolean true/false"),
    "date": ("日期 YYYY-MM-DD", "a date YYYY-MM-DD"),
    "enum": ("字符串（枚举值）", "a string (an enum value)"),
    "record": ("映射（子记录）", "a mapping (a sub-record)"),
    "list": ("列表", "a list"),
    "map": ("映射", "a mapping"),
}

_INVALID = object()


# ------------------------------------------------------------------------------------------ errors


@attrs.frozen
class RecordError:
    """One problem in the records. `record_id` is the record's id, or `<collection>[index]` (the index
    in its source file or mapping) when it has none; `field` is a dotted path such as `units[1].unit_id`.
    `file` is the source file (None for mappings); `line` is known only for syntax errors."""

    record_kind: str | None
    record_id: str | None
    field: str | None
    code: str
    message_zh: str
    message_en: str
    file: str | None = None
    line: int | None = None
    column: int | None = None

    def message(self, lang: str = "zh") -> str:
        return self.message_en if lang == "en" else self.message_zh

    def describe(self, lang: str = "zh") -> str:
        """One line: code, where, message."""
        where = " ".join(str(part) for part in (self.record_kind, self.record_id, self.field) if part)
        located = self.code in _LOCATED_IN_MESSAGE or (self.file and self.message(lang).startswith(self.file))
        location = f"{self.file}: " if self.file and not located else ""
        return f"{self.code} {location}{where + ': ' if where else ''}{self.message(lang)}"

    def to_dict(self, lang: str = "zh") -> dict[str, Any]:
        """The CLI's JSON error entry."""
        return {"record_kind": self.record_kind, "record_id": self.record_id, "field": self.field,
                "code": self.code, "message": self.message(lang)}


class RecordErrors(Exception):
    """All the errors found in one load, raised together."""

    def __init__(self, errors: Iterable[RecordError]) -> None:
        self.errors: tuple[RecordError, ...] = tuple(errors)
        super().__init__(self.message("en"))

    def message(self, lang: str = "zh") -> str:
        return "\n".join(error.describe(lang) for error in self.errors)

    def __str__(self) -> str:
        return self.message("en")


@attrs.define
class _Context:
    """Where validation is: the record being checked, and the sink for its errors."""

    schema: RecordSchema
    ids: Mapping[str, set[str]]
    errors: list[RecordError]
    limits: RecordLimits = attrs.field(factory=RecordLimits)
    kind: str | None = None
    record_id: str | None = None
    file: str | None = None
    cells: Mapping[int, Mapping[str, tuple[str, str]]] = attrs.field(factory=dict)  # spreadsheet cells
    here: Mapping[str, tuple[str, str]] = attrs.field(factory=dict)  # … of the record being checked

    def error(self, code: str, field: str | None, zh: str, en: str) -> object:
        cell = _cell_of(self.here, field) if self.here else None
        if cell is not None:  # a record from a spreadsheet: name its file, sheet, row and column
            zh, en = f"{zh}（{cell[0]}）", f"{en} ({cell[1]})"
        self.errors.append(RecordError(self.kind, self.record_id, field or None, code, zh, en, self.file))
        return _INVALID


def _cell_of(cells: Mapping[str, tuple[str, str]], field: str | None) -> tuple[str, str] | None:
    """The cell a field path came from: `units[1].role`, else `units[1]`, else `units`."""
    path = field or ""
    while path:
        if path in cells:
            return cells[path]
        path = re.sub(r"(\[[^\]]*\]|\.[^.\[]*)$", "", path) if re.search(r"[.\[]", path) else ""
    return next(iter(cells.values()), None) if field is None else None


_SHORT = reprlib.Repr()  # bounded: a value may be nested deep or be very long
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother = 3, 50, 50


def _short(value: Any) -> str:
    if type(value) is int and value.bit_length() > 200:  # repr() refuses ints over 4,300 digits
        return f"<an integer of about {int(value.bit_length() * 0.30103) + 1} digits>"
    text = _SHORT.repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _suggest(name: str, candidates: Iterable[str]) -> tuple[str, str]:
    close = difflib.get_close_matches(name, list(candidates), n=1)
    return (f"（是否应为 {close[0]}？）", f" (did you mean {close[0]}?)") if close else ("", "")


# ------------------------------------------------------------------------------------------ reading


def _read_file(path: Path, errors: list[RecordError], limits: RecordLimits, input_format: str | None = None) -> Any:
    """The parsed document, or _INVALID after recording its errors (RE108, RE110, RE112–RE116).
    `-` is standard input, read as `input_format` (default yaml)."""
    problems: list[recordio.ReadError] = []
    if str(path) == "-":
        document = recordio.parse_document(Path("<stdin>"), limits, problems, sys.stdin.read(),
                                           input_format or "yaml")
    else:
        document = recordio.parse_document(path, limits, problems)
    for problem in problems:
        errors.append(RecordError(None, None, None, problem.code, problem.zh, problem.en, str(path),
                                  problem.line, problem.column))
    return _INVALID if problems else document


def _read_tables(paths: list[Path], schema: RecordSchema, errors: list[RecordError], cells: dict) -> Any:
    """CSV files and directories of them (one set), or one xlsx workbook → a record mapping."""
    from policyengine import spreadsheets

    problems: list[spreadsheets.SheetError] = []
    if len(paths) == 1 and paths[0].suffix.lower() == ".xlsx":
        tables = spreadsheets.read_xlsx(paths[0], problems)
    else:
        tables = spreadsheets.read_csv_files(paths, problems)
    document, located = spreadsheets.tables_to_document(schema, tables, problems)
    for problem in problems:
        errors.append(RecordError(None, None, None, problem.code, problem.zh, problem.en, problem.file,
                                  problem.row, problem.column))
    cells.update(located)
    return document  # the rows are validated too: every error of the tables in one pass


def _is_table(path: Path) -> bool:
    return path.is_dir() or path.suffix.lower() in (".csv", ".xlsx")


def _documents(sources: Source | Iterable[Source], errors: list[RecordError], limits: RecordLimits,
               schema: RecordSchema, cells: dict, input_format: str | None = None) -> Iterator[tuple[str | None, Any]]:
    """(file name or None, parsed document) for each readable source. The CSV files of one load form
    one set of tables (nested-list files need their parents); each xlsx workbook is its own set."""
    if isinstance(sources, (str, os.PathLike, Mapping)):
        sources = [sources]
    if not isinstance(sources, Iterable):
        sources = [sources]
    unusable = [s for s in sources if not isinstance(s, (str, os.PathLike, Mapping))]
    for source in unusable:  # a caller's mistake, reported as records are (RE116), not a TypeError
        errors.append(RecordError(None, None, None, UNSUPPORTED_FORMAT,
                                  f"无法读取的记录来源 {_short(source)}：应为文件路径或映射",
                                  f"cannot read records from {_short(source)} ({type(source).__name__}): "
                                  "give a file path or a mapping of collections"))
    sources = [s for s in sources if isinstance(s, (str, os.PathLike, Mapping))]
    csv_paths = [Path(s) for s in sources if not isinstance(s, Mapping) and str(s) != "-"
                 and _is_table(Path(s)) and Path(s).suffix.lower() != ".xlsx"]
    for source in sources:
        if isinstance(source, Mapping):
            yield None, source
            continue
        path = Path(source)
        if str(source) != "-" and _is_table(path):
            if path.suffix.lower() == ".xlsx" or (csv_paths and path == csv_paths[0]):
                group = [path] if path.suffix.lower() == ".xlsx" else csv_paths
                document = _read_tables(group, schema, errors, cells)
                if document is not _INVALID:
                    yield os.fspath(source), document
            continue
        document = _read_file(path, errors, limits, input_format)
        if document is not _INVALID:
            yield os.fspath(source), document


def _gather(schema: RecordSchema, sources: Source | Iterable[Source], errors: list[RecordError],
            limits: RecordLimits, cells: dict, input_format: str | None) -> dict[str, list[tuple[str | None, Any]]]:
    """Collection name → [(file, index in that source, raw record)], concatenated over the sources."""
    raw: dict[str, list[tuple[str | None, int, Any]]] = {name: [] for name in schema.collections}
    for file, document in _documents(sources, errors, limits, schema, cells, input_format):
        if document is None:
            continue
        if not isinstance(document, Mapping):
            errors.append(RecordError(None, None, None, WRONG_TYPE,
                                      "记录文件应为以集合名（communities、units……）为键的映射",
                                      "a record file is a mapping of collections (communities, units, …)", file))
            continue
        for name, items in document.items():
            _gather_collection(schema, raw, file, name, items, errors)
    return raw


def _gather_collection(schema: RecordSchema, raw: dict[str, list[tuple[str | None, int, Any]]], file: str | None,
                       name: Any, items: Any, errors: list[RecordError]) -> None:
    if name not in raw:
        zh_hint, en_hint = _suggest(str(name), raw)
        allowed = ", ".join(raw)
        errors.append(RecordError(None, None, str(name), UNKNOWN_COLLECTION,
                                  f"未知的记录集合 {name}{zh_hint}；可用集合：{allowed}",
                                  f"unknown collection {name}{en_hint}; collections are: {allowed}", file))
    elif isinstance(items, list):
        raw[name].extend((file, index, item) for index, item in enumerate(items))
    elif items is not None:
        errors.append(RecordError(schema.collections[name].name, None, name, WRONG_TYPE,
                                  f"集合 {name} 应为记录列表，实际为 {_short(items)}",
                                  f"collection {name} must be a list of records, got {_short(items)}", file))


def _known_ids(schema: RecordSchema, raw: Mapping[str, list[tuple[str | None, int, Any]]]) -> dict[str, set[str]]:
    """Kind → every string id given in its collection (references are checked against these)."""
    ids: dict[str, set[str]] = {}
    for name, kind in schema.collections.items():
        ids[kind.name] = {item.get(kind.id_field) for _, _, item in raw[name]
                          if kind.id_field and isinstance(item, Mapping) and isinstance(item.get(kind.id_field), str)}
    for target in {t for k in schema.kinds.values() for f in k.fields.values() for t in f.refers_to if "." in t}:
        kind_name, field = target.split(".", 1)  # `person.subject_team_id`: the values of that field
        collection = schema.kinds[kind_name].collection
        ids[target] = {item.get(field) for _, _, item in raw.get(collection, ())
                       if isinstance(item, Mapping) and isinstance(item.get(field), str)}
    return ids


# --------------------------------------------------------------------------------------- validation


def _validate_collection(kind: KindDef, items: list[tuple[str | None, int, Any]], ctx: _Context) -> list[Record]:
    records = []
    seen: dict[str, Record | None] = {}
    for file, index, item in items:
        record_id = item.get(kind.id_field) if kind.id_field and isinstance(item, Mapping) else None
        ctx.kind, ctx.file = kind.name, file
        ctx.here = ctx.cells.get(id(item), {}) if ctx.cells else {}
        ctx.record_id = record_id if isinstance(record_id, str) and record_id else f"{kind.collection}[{index}]"
        if not isinstance(item, Mapping):
            ctx.error(WRONG_TYPE, None, f"记录应为映射，实际为 {_short(item)}",
                      f"a record must be a mapping, got {_short(item)}")
            continue
        if isinstance(record_id, str) and record_id in seen:
            ctx.error(DUPLICATE_ID, kind.id_field, f"{kind.id_field} 重复：{record_id} 在 {kind.collection} 中已出现",
                      f"duplicate {kind.id_field} {record_id!r}: already used in {kind.collection}")
        elif isinstance(record_id, str):
            seen[record_id] = None
        first_error = len(ctx.errors)
        record = _convert_record(kind, item, "", ctx)
        if kind.derived_id and record_id is None:
            _derive_id(kind, record, item, seen, ctx, first_error)
        records.append(record)
    return records


def _derive_id(kind: KindDef, record: Record, raw: Mapping[Any, Any], seen: dict[str, Record | None],
               ctx: _Context, first_error: int) -> None:
    """Give a record without an id its stable id from its key fields (never its position), name its
    errors by it, and refuse a second record with the same key fields. A key field that failed
    validation contributes its raw text, so that the error names the record as written."""
    parts = [_id_part(getattr(record, name) if getattr(record, name) is not None else raw.get(name))
             for name in kind.derived_id]
    derived = ":".join([kind.name, *parts])
    setattr(record, kind.id_field, derived)
    ctx.errors[first_error:] = [attrs.evolve(e, record_id=derived) for e in ctx.errors[first_error:]]
    ctx.record_id = derived
    keys = ", ".join(kind.derived_id)
    if derived not in seen:
        seen[derived] = record
    elif seen[derived] is not None and _same_fields(kind, seen[derived], record):
        ctx.error(DUPLICATE_ID, None, f"与另一条 {kind.collection} 记录完全相同（重复记录）",
                  f"an exact duplicate of another record in {kind.collection}")
    else:
        ctx.error(DUPLICATE_ID, kind.id_field,
                  f"另一条 {kind.collection} 记录的键字段（{keys}）相同：请为两者给出不同的 {kind.id_field}",
                  f"another record in {kind.collection} has the same key fields ({keys}); "
                  f"give each its own {kind.id_field}")


def _id_part(value: Any) -> str:
    if value is None:
        return ""
    return value.isoformat() if isinstance(value, datetime.date) else str(value)


def _same_fields(kind: KindDef, a: Record, b: Record) -> bool:
    return all(getattr(a, name) == getattr(b, name) for name in kind.fields)


def _convert_record(kind: KindDef, raw: Mapping[Any, Any], prefix: str, ctx: _Context) -> Record:
    aliases = _aliases(kind)
    for name in raw:
        if name not in kind.fields and name not in aliases:
            zh_hint, en_hint = _suggest(str(name), kind.fields)
            ctx.error(UNKNOWN_FIELD, f"{prefix}{name}", f"{kind.name} 没有字段 {name}{zh_hint}",
                      f"unknown field {name} of {kind.name}{en_hint}")
    values = {}
    for name, field in kind.fields.items():
        path = f"{prefix}{name}"
        value = raw.get(name) if field.alias is None else _field_value(field, raw, prefix, ctx)
        if value is None:
            if field.required:
                ctx.error(MISSING_FIELD, path, f"缺少必填字段 {path}", f"missing required field {path}")
            values[name] = field.default_value() if field.has_default else None
            continue
        converted = value if value is _INVALID else (
            _to_semester(value, path, ctx) if field.semester_of else _convert(field.spec, value, path, ctx))
        if field.is_id and converted == "":
            converted = ctx.error(WRONG_TYPE, path, f"{path} 不能为空字符串", f"{path} must not be empty")
        if converted is not _INVALID and (field.unique_by or field.refers_to):
            _check_links(field, converted, path, ctx)
        values[name] = None if converted is _INVALID else converted
    _check_periods(kind, values, prefix, ctx)
    return kind.cls(**values)


def _field_value(field: Any, raw: Mapping[Any, Any], prefix: str, ctx: _Context) -> Any:
    """The raw value of a field, given under its name or its alias (not both)."""
    value = raw.get(field.name)
    if field.alias is None or raw.get(field.alias) is None:  # nearly always: one lookup
        return value
    if value is not None:
        return ctx.error(INCONSISTENT_FIELDS, f"{prefix}{field.name}",
                         f"{field.name} 与 {field.alias} 是同一字段，只能给出其一",
                         f"{field.name} and {field.alias} are the same field: give only one")
    return raw[field.alias]


def _check_links(field: Any, value: Any, path: str, ctx: _Context) -> None:
    """unique_by: a unit listed twice in one community; refers_to: plain-string references."""
    if field.unique_by:
        first: dict[Any, int] = {}
        for index, item in enumerate(value):
            key = getattr(item, field.unique_by)
            if key is not None and first.setdefault(key, index) != index:
                where = f"{path}[{index}].{field.unique_by}"
                ctx.error(DUPLICATE_MEMBER, where, f"{where}：{key} 已在 {path}[{first[key]}] 中列出，一个单位只能列出一次",
                          f"{where}: {key} is already listed at {path}[{first[key]}]; list a unit once")
    if field.refers_to:
        known = set().union(*(ctx.ids[kind] for kind in field.refers_to))
        kinds = "/".join(field.refers_to)
        for target in (value.keys() if isinstance(value, dict) else [value]):
            if target not in known:
                where = path if not isinstance(value, dict) else f"{path}[{target}]"
                ctx.error(DANGLING_REFERENCE, where, f"{where} 引用的 {target} 不存在（不是任何 {kinds} 的 id）",
                          f"{where} refers to {target!r}, which is not the id of any {kinds}")


@functools.cache
def _period_fields(kind: KindDef) -> tuple:
    return tuple(f for f in kind.fields.values() if f.school_year_of or f.semester_of)


@functools.cache
def _aliases(kind: KindDef) -> Mapping[str, Any]:
    return {field.alias: field for field in kind.fields.values() if field.alias}


def _check_periods(kind: KindDef, values: Mapping[str, Any], prefix: str, ctx: _Context) -> None:
    """school_year / semester_id agree with the date they describe (§1.4 periods)."""
    for field in _period_fields(kind):
        given, day = values.get(field.name), values.get(field.school_year_of or field.semester_of or "")
        if given is None or day is None or not isinstance(day, datetime.date):
            continue
        if field.school_year_of:
            actual = runtime.school_year(day).year
            if given != actual:
                _period_mismatch(ctx, prefix, field.name, field.school_year_of, given, day, str(actual))
        elif given != runtime.semester(day).label:
            _period_mismatch(ctx, prefix, field.name, field.semester_of, given, day, runtime.semester(day).label)


def _period_mismatch(ctx: _Context, prefix: str, name: str, date_field: str, given: Any, day: datetime.date,
                     actual: str) -> None:
    ctx.error(INCONSISTENT_FIELDS, f"{prefix}{name}",
              f"{prefix}{name} 为 {given}，但 {prefix}{date_field} {day.isoformat()} 属于 {actual}",
              f"{prefix}{name} is {given}, but {prefix}{date_field} {day.isoformat()} falls in {actual}")


def _wrong_type(spec: ValueSpec, value: Any, path: str, ctx: _Context, note: tuple[str, str] = ("", "")) -> object:
    zh, en = EXPECTED[spec.tag]
    return ctx.error(WRONG_TYPE, path, f"{path} 类型错误：应为{zh}，实际为 {_short(value)}{note[0]}",
                     f"{path}: expected {en}, got {_short(value)} ({type(value).__name__}){note[1]}")


def _convert(spec: ValueSpec, value: Any, path: str, ctx: _Context) -> Any:
    """The runtime value of a raw value, or _INVALID after recording the error."""
    if type(value) is BadNumber:
        return _out_of_range(path, value, ctx)
    return _CONVERTERS[spec.tag](spec, value, path, ctx)


def _out_of_range(path: str, value: Any, ctx: _Context) -> object:
    zh, en = recordio.number_problem(Decimal(str(value)), ctx.limits) if _decimal_text(str(value)) else (
        "数字过长", "a number too long to read")
    return ctx.error(NUMBER_OUT_OF_RANGE, path, f"{path}：{zh}（{_short(value)}）", f"{path}: {en} ({_short(value)})")


_SMALL = 10 ** 15


def _decimal_text(text: str) -> bool:
    return len(text) <= 10_000 and re.fullmatch(r"[+-]?[0-9]*\.?[0-9]*([eE][+-]?[0-9]+)?", text) is not None


def _in_range(number: Decimal | int, value: Any, path: str, ctx: _Context) -> Any:
    if type(number) is int and -_SMALL < number < _SMALL:  # the common case, without building a Decimal
        return number
    problem = recordio.number_problem(number, ctx.limits)
    if problem is None:
        return number
    return ctx.error(NUMBER_OUT_OF_RANGE, path, f"{path}：{problem[0]}（{_short(value)}）",
                     f"{path}: {problem[1]} ({_short(value)})")


SEMESTER_SPELLINGS = (
    (re.compile(r"([0-9]{4})-([0-9]{4})-([12])"), lambda m: (int(m[1]), int(m[2]), m[3])),
    (re.compile(r"([0-9]{4})-autumn"), lambda m: (int(m[1]), int(m[1]) + 1, "1")),
    (re.compile(r"([0-9]{4})-spring"), lambda m: (int(m[1]) - 1, int(m[1]), "2")),
)


def _to_semester(value: Any, path: str, ctx: _Context) -> Any:
    """`2023-2024-1` (the engine's label), `2023-autumn` or `2024-spring` → `2023-2024-1` / `2023-2024-2`."""
    text = value.strip() if isinstance(value, str) else None
    for pattern, parts in SEMESTER_SPELLINGS:
        match = pattern.fullmatch(text) if text is not None else None
        if match:
            start, end, half = parts(match)
            if end == start + 1:
                return f"{start}-{end}-{half}"
    return ctx.error(WRONG_TYPE, path, f"{path} 应为学期，如 2023-2024-1、2023-autumn 或 2024-spring，实际为 {_short(value)}",
                     f"{path}: expected a semester such as 2023-2024-1, 2023-autumn or 2024-spring, got {_short(value)}")


def _to_string(spec: ValueSpec, value: Any, path: str, ctx: _Context) -> Any:
    if isinstance(value, str):
        return value
    quote = isinstance(value, (int, Decimal, float)) and not isinstance(value, bool)
    return _wrong_type(spec, value, path, ctx, ("（请加引号）", "; quote it") if quote else ("", ""))


def _to_ref(spec: ValueSpec, value: Any, path: str, ctx: _Context) -> Any:
    if not isinstance(value, str):
        return _to_string(spec, value, path, ctx)
    if value not in ctx.ids[spec.arg]:
        kind = ctx.schema.kinds[spec.arg]
        kind_zh = KIND_NAMES_ZH.get(spec.arg, spec.arg)
        return ctx.error(DANGLING_REFERENCE, path,
                         f"{path} 引用的{kind_zh} {value} 不存在（{kind.collection} 中没有此 {kind.id_field}）",
                         f"{path} refers to {spec.arg} {value!r}, which does not exist in {kind.collection}")
    return value


def _to_bool(spec: ValueSpec, value: Any, path: str, ctx: _Context) -> Any:
    return value if isinstance(value, bool) else _wrong_type(spec, value, path, ctx)


def _to_decimal(value: Any) -> Decimal | None:
    """An exact Decimal for a numeric raw value (floats via their shortest repr), or None. The file
    readers never produce floats; mappings given from Python may."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        value = Decimal(str(value))
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, str) and len(value) <= 10_000 and re.fullmatch(DECIMAL_PATTERN, value.strip()):
        return Decimal(value.strip())
    return None


def _to_number(spec: ValueSpec, value: Any, path: str, ctx: _Context) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return _in_range(value, value, path, ctx)
    number = _to_decimal(value)
    return _in_range(number, value, path, ctx) if number is not None else _wrong_type(spec, value, path, ctx)


def _to_money(spec: ValueSpec, value: Any, path: str, ctx: _Context) -> Any:
    number = _to_decimal(value)
    if number is None:
        return _wrong_type(spec, value, path, ctx)
    checked = _in_range(number, value, path, ctx)
    if checked is number and not _to_the_fen(number):
        # every rule that splits, sums or pays money needs it exact to the fen: never rounded silently
        return ctx.error(NOT_TO_THE_FEN, path, f"{path}：金额 {_short(value)} 不是精确到分的数（最多两位小数）",
                         f"{path}: the amount {_short(value)} is not exact to the fen (at most two decimals)")
    return checked


def _to_the_fen(number: Decimal) -> bool:
    """Whether an amount is a whole number of fen: digits beyond the second decimal are all 0."""
    sign, digits, exponent = number.as_tuple()
    beyond = -2 - exponent
    return beyond <= 0 or not any(digits[-beyond:])


def _to_int(spec: ValueSpec, value: Any, path: str, ctx: _Context) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return _in_range(value, value, path, ctx)
    if isinstance(value, str) and len(value) <= 10_000 and re.fullmatch(INT_PATTERN, value.strip()):
        number = Decimal(value.strip())  # checked before int(): int() refuses over 4300 digits
        checked = _in_range(number, value, path, ctx)
        return int(number) if checked is number else checked
    number = None if isinstance(value, str) else _to_decimal(value)
    if number is not None and _in_range(number, value, path, ctx) is not number:
        return _INVALID
    if number is not None and number == number.to_integral_value():
        return int(number)
    return _wrong_type(spec, value, path, ctx)


def _to_date(spec: ValueSpec, value: Any, path: str, ctx: _Context) -> Any:
    if isinstance(value, datetime.datetime):
        return _wrong_type(spec, value, path, ctx, ("（不带时间）", " (without a time)"))
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str) and re.fullmatch(DATE_PATTERN, value.strip()):
        try:
            return datetime.date.fromisoformat(value.strip())
        except ValueError:
            return _wrong_type(spec, value, path, ctx, ("（日期不存在）", " (no such date)"))
    return _wrong_type(spec, value, path, ctx)


def _to_enum(spec: ValueSpec, value: Any, path: str, ctx: _Context) -> Any:
    if not isinstance(value, str):
        return _wrong_type(spec, value, path, ctx)
    enum = ctx.schema.enums[spec.arg]
    normalised = enum.normalise(value.strip())
    if normalised is not None:
        return normalised
    allowed = ", ".join(enum.values)
    zh_hint, en_hint = _suggest(value, enum.aliases)
    return ctx.error(UNKNOWN_ENUM_VALUE, path,
                     f"{path} 的值 {value} 不是 {spec.arg} 的取值{zh_hint}；可用值：{allowed}（或其中文名称）",
                     f"{path}: {value!r} is not a {spec.arg} value{en_hint}; allowed: {allowed} (or their Chinese names)")


def _to_record(spec: ValueSpec, value: Any, path: str, ctx: _Context) -> Any:
    if not isinstance(value, Mapping):
        return _wrong_type(spec, value, path, ctx)
    return _convert_record(ctx.schema.kinds[spec.arg], value, f"{path}.", ctx)


def _to_list(spec: ValueSpec, value: Any, path: str, ctx: _Context) -> Any:
    if not isinstance(value, (list, tuple)):
        return _wrong_type(spec, value, path, ctx)
    items = []
    for index, item in enumerate(value):
        item_path = f"{path}[{index}]"
        if item is None:
            items.append(ctx.error(WRONG_TYPE, item_path, f"{item_path} 为空", f"{item_path} is empty (null)"))
        else:
            items.append(_convert(spec.element, item, item_path, ctx))
    return _INVALID if any(item is _INVALID for item in items) else tuple(items)


def _to_map(spec: ValueSpec, value: Any, path: str, ctx: _Context) -> Any:
    if not isinstance(value, Mapping):
        return _wrong_type(spec, value, path, ctx)
    result = {}
    failed = False
    for raw_key, item in value.items():
        key = _map_key(spec.key, raw_key, path, ctx)
        item_path = f"{path}[{raw_key}]"
        if item is None:
            converted = ctx.error(WRONG_TYPE, item_path, f"{item_path} 为空", f"{item_path} is empty (null)")
        else:
            converted = _convert(spec.value, item, item_path, ctx)
        failed = failed or key is _INVALID or converted is _INVALID
        result[key] = converted
    return _INVALID if failed else result


def _map_key(spec: ValueSpec, key: Any, path: str, ctx: _Context) -> Any:
    if spec.tag == "int" and isinstance(key, str) and re.fullmatch(INT_PATTERN, key.strip()):
        return int(key.strip())
    if spec.tag == "int" and isinstance(key, int) and not isinstance(key, bool):
        return key
    if spec.tag == "string" and isinstance(key, str):
        return key
    zh, en = EXPECTED[spec.tag]
    return ctx.error(WRONG_TYPE, f"{path}[{key}]", f"{path} 的键 {_short(key)} 类型错误：应为{zh}",
                     f"{path}: key {_short(key)} must be {en}")


_CONVERTERS = {
    "string": _to_string, "ref": _to_ref, "bool": _to_bool, "number": _to_number, "money": _to_money,
    "int": _to_int, "date": _to_date, "enum": _to_enum, "record": _to_record, "list": _to_list,
    "map": _to_map,
}


# ------------------------------------------------------------------------------------------ linking


def _children(spec: ValueSpec, value: Any) -> Iterator[Record]:
    """The sub-records held in a field value."""
    if value is None:
        return
    if spec.tag == "record":
        yield value
    elif spec.tag == "list":
        for item in value:
            yield from _children(spec.element, item)
    elif spec.tag == "map":
        for item in value.values():
            yield from _children(spec.value, item)


@functools.cache
def _holding_fields(kind: KindDef) -> tuple:
    """The fields of a kind that can hold sub-records (the others need no walk)."""
    def holds(spec: ValueSpec) -> bool:
        return spec.tag == "record" or (spec.tag == "list" and holds(spec.element)) or (
            spec.tag == "map" and holds(spec.value))
    return tuple(field for field in kind.fields.values() if holds(field.spec))


@functools.cache
def _list_fields(kind: KindDef) -> tuple[str, ...]:
    return tuple(name for name, field in kind.fields.items() if field.spec.tag == "list")


def canonical_key(value: Any) -> tuple:
    """A total order over record values: None, booleans, numbers, strings, dates, lists, maps, records
    (by id, else by their fields in schema order)."""
    if value is None:
        return (0,)
    if isinstance(value, bool):
        return (1, value)
    if isinstance(value, (int, Decimal)):
        return (2, value)
    if isinstance(value, str):
        return (3, value)
    if isinstance(value, datetime.date):
        return (4, value.toordinal())
    if isinstance(value, tuple):
        return (5, tuple(canonical_key(item) for item in value))
    if isinstance(value, Mapping):
        return (6, tuple(sorted((canonical_key(k), canonical_key(v)) for k, v in value.items())))
    if isinstance(value, Record):
        if value.record_id is not None:
            return (7, value.record_id)
        return (8, tuple(canonical_key(getattr(value, name)) for name in value.field_names))
    return (9, str(value))


def _canonical(items: tuple) -> tuple:
    """A list of the records as a set: in canonical order, whatever order the input gave (issue 21.4).
    Nothing a rule computes can then depend on the order of a list in the records."""
    if len(items) < 2:
        return items
    if all(type(item) is str for item in items):
        return tuple(sorted(items))
    return tuple(sorted(items, key=canonical_key))


def _walk(schema: RecordSchema, record: Record, out: dict[str, list[Record]]) -> None:
    """Append `record` and its nested sub-records (depth first) to `out`; set parent navigations. Its
    lists are put in canonical order first."""
    for name in _list_fields(schema.kinds[record.record_kind]):
        items = getattr(record, name)
        if items:
            setattr(record, name, _canonical(items))
    out[record.record_kind].append(record)
    for field in _holding_fields(schema.kinds[record.record_kind]):
        for child in _children(field.spec, getattr(record, field.name)):
            parent = schema.kinds[child.record_kind].navigations.get(record.record_kind)
            if parent is not None and parent.direction == "parent" and field.name in parent.via.split(","):
                setattr(child, parent.name, record)
            _walk(schema, child, out)


def _ids_in(value: Any) -> list[str]:
    if value is None:
        return []
    return list(dict.fromkeys(value)) if isinstance(value, tuple) else [value]


def _link(schema: RecordSchema, instances: Mapping[str, list[Record]],
          index: Mapping[str, Mapping[str, Record]]) -> None:
    """Fill the forward and reverse navigations of every record."""
    for kind in schema.kinds.values():
        for nav in kind.navigations.values():
            if nav.direction == "forward":
                targets = index[nav.kind]
                for record in instances[kind.name]:
                    value = getattr(record, nav.via)
                    resolved = tuple(targets[i] for i in value) if nav.many else targets.get(value)
                    setattr(record, nav.name, resolved)
            elif nav.direction == "reverse":
                groups: dict[str, list[Record]] = {}
                for other in instances[nav.kind]:
                    for target_id in _ids_in(getattr(other, nav.via)):
                        groups.setdefault(target_id, []).append(other)
                for record in instances[kind.name]:
                    setattr(record, nav.name, tuple(groups.get(record.record_id, ())))


# -------------------------------------------------------------------------------------------- API


@attrs.frozen(eq=False)
class RecordSet:
    """Validated, linked records: one tuple per collection. Every list (the collections, the lists inside
    records, the reverse navigations) is a set in canonical order (records by id, else by their fields;
    scalars by value), whatever order the input gave."""

    communities: tuple = ()
    units: tuple = ()
    persons: tuple = ()
    assignments: tuple = ()
    activities: tuple = ()
    quality_scores: tuple = ()
    budgets: tuple = ()
    expenses: tuple = ()
    fund_pools: tuple = ()
    assessments: tuple = ()
    reports: tuple = ()
    awards: tuple = ()
    _instances: Mapping[str, tuple] = attrs.field(factory=dict, repr=False)
    _index: Mapping[str, Mapping[str, Record]] = attrs.field(factory=dict, repr=False)
    _schema: RecordSchema | None = attrs.field(default=None, repr=False)

    @property
    def schema(self) -> RecordSchema:
        """The record schema these records were validated against (core, or a policy's extension)."""
        return self._schema or load_record_schema()

    def collection(self, name: str) -> tuple:
        """A top-level collection by name (`units`)."""
        return getattr(self, name)

    def by_id(self, kind: str, record_id: str) -> Record | None:
        """The record of `kind` (`unit`, not `units`) with that id, or None."""
        return self._index.get(kind, {}).get(record_id)

    def instances(self, kind: str) -> tuple:
        """Every record of a kind, nested sub-records included (in record order)."""
        return self._instances.get(kind, ())

    @property
    def memberships(self) -> tuple:
        """Every membership of every community (community order, then `units` order)."""
        return self.instances("membership")


def load_records(sources: Source | Iterable[Source], schema: RecordSchema | None = None,
                 limits: RecordLimits | None = None, input_format: str | None = None) -> RecordSet:
    """Load, validate and link records from a path, a mapping, or a list of both (concatenated).

    `schema`: the record schema to validate against (default: the core schema; a policy with a schema
    extension passes its own, see `Policy.load_records`). `limits`: bounds on the input (RecordLimits;
    the defaults admit a 30k-community province). Paths may be YAML, JSON, JSON Lines, CSV files or
    directories, xlsx workbooks, or `-` for standard input read as `input_format` (yaml, json, jsonl).
    Raises RecordErrors with every error found.
    """
    from policyengine import fastload  # the common case, the same records quicker (or None)

    schema = schema or load_record_schema()
    limits = limits or RecordLimits()
    if not isinstance(sources, (str, os.PathLike, Mapping)) and isinstance(sources, Iterable):
        sources = list(sources)  # read twice when the fast path declines
    fast = fastload.load(schema, sources, limits) if input_format is None else None
    if fast is not None:
        return fast
    errors: list[RecordError] = []
    cells: dict[int, Mapping[str, tuple[str, str]]] = {}
    raw = _gather(schema, sources, errors, limits, cells, input_format)
    ctx = _Context(schema, _known_ids(schema, raw), errors, limits, cells=cells)
    collections = {name: _validate_collection(kind, raw[name], ctx) for name, kind in schema.collections.items()}
    if errors:
        raise RecordErrors(errors)
    return _build(schema, collections)


def _build(schema: RecordSchema, collections: Mapping[str, list[Record]]) -> RecordSet:
    collections = {name: list(_canonical(tuple(records))) for name, records in collections.items()}
    instances: dict[str, list[Record]] = {kind: [] for kind in schema.kinds}
    for records in collections.values():
        for record in records:
            _walk(schema, record, instances)
    index = {kind.name: {record.record_id: record for record in instances[kind.name]}
             for kind in schema.kinds.values() if kind.id_field}
    _link(schema, instances, index)
    return RecordSet(**{name: tuple(records) for name, records in collections.items()},
                     instances={kind: tuple(records) for kind, records in instances.items()}, index=index,
                     schema=schema)
