"""Reading record files: bytes → plain Python documents, bounded and exact, every problem located.

YAML is composed with libyaml's C loader when it is installed (the pure-Python loader otherwise; both
give the same nodes and marks), then one iterative pass over the node graph finds duplicate keys (both
positions), nesting deeper than the limit, recursive aliases and alias expansion beyond the bound,
before anything is constructed. JSON is decoded with numbers kept as their text's exact value and
duplicate keys detected (their positions are found by a second, rare scan). Numbers never pass through
float; numbers too long or too large become `BadNumber` values, which validation reports as RE115 at
their record and field. The limits (`RecordLimits`) have defaults that admit a 30k-community province.
"""

from __future__ import annotations

import json
import os
import re
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import attrs
import yaml

DUPLICATE_KEY = "RE110"
FILE_TOO_LARGE = "RE112"
TOO_DEEP = "RE113"
ALIAS_EXPANSION = "RE114"
NUMBER_OUT_OF_RANGE = "RE115"
UNSUPPORTED_FORMAT = "RE116"


@attrs.frozen
class RecordLimits:
    """Bounds on record input. The defaults admit a 30k-community province (about 150 MB of YAML);
    override them with `load_records(..., limits=RecordLimits(...))` or `--record-limit KEY=VALUE`."""

    max_file_bytes: int = 1 << 30            # 1 GiB per file
    max_depth: int = 64                      # nesting levels of a YAML document (records need ~6)
    max_alias_expansion: int = 10            # aliases may expand a YAML document to 10× its nodes …
    min_alias_budget: int = 1_000_000        # … or to a million nodes, whichever is larger
    max_number_digits: int = 40              # significant digits of a number
    max_number_exponent: int = 40            # |exponent| of a number's leading digit (1E+40, 1E-40)

    @classmethod
    def with_overrides(cls, pairs: dict[str, str]) -> "RecordLimits":
        """`{"max_depth": "128"}` → limits (ValueError naming the known keys otherwise)."""
        known = {field.name for field in attrs.fields(cls)}
        unknown = set(pairs) - known
        if unknown:
            raise ValueError(f"unknown record limit {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
        return cls(**{key: int(value) for key, value in pairs.items()})


@attrs.frozen
class ReadError:
    """A problem of a whole file, located: (code, line, column, zh, en); line/column may be None."""

    code: str
    line: int | None
    column: int | None
    zh: str
    en: str


@attrs.frozen
class BadNumber:
    """A number in the input that is too long or too large to be read exactly; validation reports it
    (RE115) at its record and field."""

    text: str

    def __repr__(self) -> str:
        return self.text if len(self.text) <= 40 else f"{self.text[:20]}…({len(self.text)} characters)"


# ------------------------------------------------------------------------------------------ numbers


def number_problem(value: Decimal | int, limits: RecordLimits) -> tuple[str, str] | None:
    """(zh, en) when a number is beyond the digit or exponent limit, else None."""
    if type(value) is int and value.bit_length() > 4 * (limits.max_number_digits + limits.max_number_exponent):
        digits = int(value.bit_length() * 0.30103) + 1  # Decimal(value) would refuse over 4,300 digits
        return (f"数字约有 {digits} 位，超出范围", f"a number of about {digits} digits, out of range")
    number = value if isinstance(value, Decimal) else Decimal(value)
    if not number.is_finite() or number.is_zero():
        return None
    digits = len(number.as_tuple().digits)
    if digits > limits.max_number_digits:
        return (f"数字有 {digits} 位有效数字，超过上限 {limits.max_number_digits}",
                f"a number with {digits} significant digits, over the limit of {limits.max_number_digits}")
    if abs(number.adjusted()) > limits.max_number_exponent:
        return (f"数字的数量级 10^{number.adjusted()} 超出范围（上限 ±{limits.max_number_exponent}）",
                f"a number of magnitude 10^{number.adjusted()}, beyond ±{limits.max_number_exponent}")
    return None


def _bounded_text(text: str, limits: RecordLimits) -> bool:
    """A numeric literal short enough to parse safely (int() refuses over 4300 digits; an exponent
    of 999999999 would make int() build a huge number)."""
    return len(text) <= limits.max_number_digits + limits.max_number_exponent + 8


def exact_decimal(text: str, limits: RecordLimits) -> Decimal | BadNumber:
    if not _bounded_text(text, limits):
        return BadNumber(text)
    number = Decimal(text)
    return BadNumber(text) if number_problem(number, limits) else number


def exact_int(text: str, limits: RecordLimits) -> int | BadNumber:
    return int(text) if _bounded_text(text, limits) and len(text.lstrip("+-")) <= limits.max_number_digits \
        else BadNumber(text)


# --------------------------------------------------------------------------------------------- files


def read_text(path: Path, limits: RecordLimits) -> str | ReadError:
    try:
        size = os.stat(path).st_size
        if size > limits.max_file_bytes:
            return ReadError(FILE_TOO_LARGE, None, None,
                             f"文件 {path} 有 {size} 字节，超过上限 {limits.max_file_bytes}",
                             f"{path} has {size} bytes, over the limit of {limits.max_file_bytes} (max_file_bytes)")
        with open(path, "rb") as handle:
            data = handle.read(size + 1)  # read(max_file_bytes + 1) would reserve 1 GiB up front
        return data.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return ReadError("RE108", None, None, f"无法读取文件 {path}：{reason}", f"cannot read {path}: {reason}")


# ---------------------------------------------------------------------------------------------- YAML

_YAML_FLOAT_TEXT = re.compile(r"[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*(?:[eE][-+]?[0-9]+)?")


def _loader_class(base: type) -> type:
    class RecordLoader(base):  # type: ignore[misc, valid-type]
        """Safe loading with exact numbers: floats from their text as Decimal, integers bounded, and an
        impossible date (2021-13-01) kept as text so that it is reported as a wrong value (RE102)."""

        limits = RecordLimits()

        def construct_yaml_float(self, node: yaml.Node) -> Any:
            text = str(node.value).replace("_", "")
            if _YAML_FLOAT_TEXT.fullmatch(text):
                return exact_decimal(text, self.limits)
            return super().construct_yaml_float(node) if "inf" in text.lower() or "nan" in text.lower() else text

        def construct_yaml_int(self, node: yaml.Node) -> Any:
            text = str(node.value).replace("_", "")
            if not _bounded_text(text, self.limits):
                return BadNumber(text)
            value = super().construct_yaml_int(node)
            return BadNumber(text) if number_problem(value, self.limits) else value

        def construct_yaml_timestamp(self, node: yaml.Node) -> Any:
            try:
                return super().construct_yaml_timestamp(node)
            except ValueError:
                return self.construct_scalar(node)

    RecordLoader.add_constructor("tag:yaml.org,2002:float", RecordLoader.construct_yaml_float)
    RecordLoader.add_constructor("tag:yaml.org,2002:int", RecordLoader.construct_yaml_int)
    RecordLoader.add_constructor("tag:yaml.org,2002:timestamp", RecordLoader.construct_yaml_timestamp)
    return RecordLoader


PurePythonLoader = _loader_class(yaml.SafeLoader)
FastLoader = _loader_class(yaml.CSafeLoader) if hasattr(yaml, "CSafeLoader") else PurePythonLoader


def parse_yaml(path: Path, text: str, limits: RecordLimits, errors: list[ReadError]) -> Any:
    """The document, or None after appending its errors (a syntax error stops at the first; the
    node checks report every duplicate key)."""
    loader = FastLoader(text)
    loader.limits = limits
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        problems = _check_nodes(node, path, limits)
        errors.extend(problems)
        if any(p.code in (TOO_DEEP, ALIAS_EXPANSION) for p in problems):
            return None  # never construct a document that is too deep or expands too far
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        errors.append(_yaml_error(path, exc))
        return None
    finally:
        loader.dispose()


def _yaml_error(path: Path, exc: yaml.YAMLError) -> ReadError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is None:
        return ReadError("RE108", None, None, f"YAML 语法错误：{path}：{problem}", f"YAML syntax error in {path}: {problem}")
    line, column = mark.line + 1, mark.column + 1
    if "maximum nesting depth" in problem:  # libyaml stops at 1000 levels itself
        return _too_deep(path, line, column, "1000+", 1000)
    return ReadError("RE108", line, column, f"YAML 语法错误：{path} 第 {line} 行第 {column} 列：{problem}",
                     f"YAML syntax error in {path}, line {line}, column {column}: {problem}")


def _too_deep(path: Path, line: int | None, column: int | None, depth: Any, limit: int) -> ReadError:
    where_zh = f" 第 {line} 行第 {column} 列" if line else ""
    where_en = f", line {line}, column {column}" if line else ""
    return ReadError(TOO_DEEP, line, column, f"{path}{where_zh}：嵌套层数 {depth} 超过上限 {limit}",
                     f"{path}{where_en}: nested {depth} levels deep, over the limit of {limit} (max_depth)")


def _check_nodes(root: yaml.Node, path: Path, limits: RecordLimits) -> list[ReadError]:
    """Duplicate keys, depth, recursive aliases and alias expansion, in one iterative post-order pass
    over the node graph (each shared node is visited once; `size` counts it wherever it is used)."""
    problems: list[ReadError] = []
    size: dict[int, int] = {}
    height: dict[int, int] = {}
    unique = 0
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    open_nodes: set[int] = set()
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            children = _children(node)
            size[key] = 1 + sum(size[id(c)] for c in children)
            height[key] = 1 + max((height[id(c)] for c in children), default=0)
            open_nodes.discard(key)
            if height[key] > limits.max_depth:
                mark = node.start_mark
                return [_too_deep(path, mark.line + 1, mark.column + 1, height[key], limits.max_depth)]
            continue
        if key in size:
            continue
        if key in open_nodes:  # an alias inside its own anchor: `&x [*x]`
            mark = node.start_mark
            return [ReadError(ALIAS_EXPANSION, mark.line + 1, mark.column + 1,
                              f"{path} 第 {mark.line + 1} 行第 {mark.column + 1} 列：别名引用了包含它自身的锚点（递归别名）",
                              f"{path}, line {mark.line + 1}, column {mark.column + 1}: a recursive alias (it refers "
                              "to an anchor that contains it)")]
        open_nodes.add(key)
        unique += 1
        if isinstance(node, yaml.MappingNode):
            problems.extend(_duplicate_keys(node, path))
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in size)
    budget = max(limits.min_alias_budget, limits.max_alias_expansion * unique)
    if size[id(root)] > budget:
        problems.append(ReadError(ALIAS_EXPANSION, None, None,
                                  f"{path}：别名展开后有 {size[id(root)]} 个节点（文件本身 {unique} 个），超过上限 {budget}",
                                  f"{path}: aliases expand {unique} nodes to {size[id(root)]}, over the limit of "
                                  f"{budget} (max_alias_expansion × nodes, at least min_alias_budget)"))
    return problems


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _duplicate_keys(node: yaml.MappingNode, path: Path) -> list[ReadError]:
    seen: dict[tuple[str, str], yaml.Node] = {}
    problems = []
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
            continue
        ident = (key_node.tag, key_node.value)
        first = seen.setdefault(ident, key_node)
        if first is not key_node:
            problems.append(_duplicate(path, key_node.value, (first.start_mark.line + 1, first.start_mark.column + 1),
                                       (key_node.start_mark.line + 1, key_node.start_mark.column + 1)))
    return problems


def _duplicate(path: Path, key: str, first: tuple[int, int], second: tuple[int, int]) -> ReadError:
    return ReadError(DUPLICATE_KEY, second[0], second[1],
                     f"{path}：键 {key} 重复：第 {first[0]} 行第 {first[1]} 列与第 {second[0]} 行第 {second[1]} 列",
                     f"{path}: duplicate key {key!r} at line {first[0]}, column {first[1]} and line {second[0]}, "
                     f"column {second[1]}")


# ---------------------------------------------------------------------------------------------- JSON


class _DuplicateKeys(Exception):
    pass


def _pairs_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _DuplicateKeys()
    return result


def parse_json(path: Path, text: str, limits: RecordLimits, errors: list[ReadError]) -> Any:
    decode: Callable[[str], Any] = json.JSONDecoder(
        parse_float=lambda t: exact_decimal(t, limits), parse_int=lambda t: exact_int(t, limits),
        parse_constant=_reject_constant, object_pairs_hook=_pairs_without_duplicates).decode
    try:
        return decode(text)
    except _DuplicateKeys:
        errors.extend(_json_duplicates(path, text))
        return None
    except RecursionError:
        line, column, depth = _json_depth_position(text, limits.max_depth)
        errors.append(_too_deep(path, line, column, depth, limits.max_depth))
        return None
    except json.JSONDecodeError as exc:
        errors.append(ReadError("RE108", exc.lineno, exc.colno,
                                f"JSON 语法错误：{path} 第 {exc.lineno} 行第 {exc.colno} 列：{exc.msg}",
                                f"JSON syntax error in {path}, line {exc.lineno}, column {exc.colno}: {exc.msg}"))
        return None
    except ValueError as exc:
        errors.append(ReadError("RE108", None, None, f"JSON 错误：{path}：{exc}", f"JSON error in {path}: {exc}"))
        return None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]')


def _line_col(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _json_duplicates(path: Path, text: str) -> list[ReadError]:
    """Every duplicate key with both positions (only run once a duplicate is known to exist)."""
    objects: list[dict[str, int] | None] = []  # per open container: key → index (None for arrays)
    expecting_key = False
    problems = []
    for token in _JSON_TOKEN.finditer(text):
        value = token.group()
        if value in "{[":
            objects.append({} if value == "{" else None)
            expecting_key = value == "{"
        elif value in "}]":
            objects.pop()
        elif value == ",":
            expecting_key = bool(objects) and objects[-1] is not None
        elif value == ":":
            expecting_key = False
        elif expecting_key and objects and objects[-1] is not None:
            key = json.loads(value)
            first = objects[-1].setdefault(key, token.start())
            if first != token.start():
                problems.append(_duplicate(path, key, _line_col(text, first), _line_col(text, token.start())))
    return problems


def _json_depth_position(text: str, limit: int) -> tuple[int | None, int | None, str]:
    depth = 0
    for token in _JSON_TOKEN.finditer(text):
        value = token.group()
        if value in "{[":
            depth += 1
            if depth > limit:
                line, column = _line_col(text, token.start())
                return line, column, f"{limit + 1}+"
        elif value in "}]":
            depth -= 1
    return None, None, f"{limit}+"


def parse_jsonl(path: Path, text: str, limits: RecordLimits, errors: list[ReadError]) -> Any:
    """JSON Lines: one record per line, each naming its `collection`; blank lines are skipped."""
    document: dict[str, list[Any]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        problems: list[ReadError] = []
        record = parse_json(path, line, limits, problems)
        errors.extend(attrs.evolve(p, line=number, zh=f"{p.zh}（第 {number} 行）", en=f"{p.en} (line {number})")
                      for p in problems)
        if problems:
            continue
        collection = record.pop("collection", None) if isinstance(record, dict) else None
        if not isinstance(collection, str):
            errors.append(ReadError("RE107", number, None, f"{path} 第 {number} 行：记录应为带 collection 键的 JSON 对象",
                                    f"{path}, line {number}: a record must be a JSON object with a collection key"))
            continue
        document.setdefault(collection, []).append(record)
    return document


PARSERS = {"yaml": parse_yaml, "json": parse_json, "jsonl": parse_jsonl}
SUFFIXES = {".yaml": "yaml", ".yml": "yaml", ".json": "json", ".jsonl": "jsonl"}


def parse_document(path: Path, limits: RecordLimits, errors: list[ReadError], text: str | None = None,
                   input_format: str | None = None) -> Any:
    """A record file by its suffix (.yaml/.yml/.json/.jsonl) or `input_format`, or None after
    appending its errors. `text`: the content already read (stdin)."""
    form = input_format or SUFFIXES.get(path.suffix.lower())
    if form not in PARSERS:
        errors.append(unsupported(path))
        return None
    if text is None:
        text = read_text(path, limits)
    if isinstance(text, ReadError):
        errors.append(text)
        return None
    return PARSERS[form](path, text, limits, errors)


def unsupported(path: Path) -> ReadError:
    return ReadError(UNSUPPORTED_FORMAT, None, None,
                     f"不支持的记录格式：{path}（可用：.yaml .yml .json .jsonl .csv .xlsx、CSV 目录，或 - 读取标准输入）",
                     f"unsupported record format: {path} (supported: .yaml .yml .json .jsonl .csv .xlsx, a "
                     "directory of CSV files, or - for standard input)")
