"""Source positions: YAML text → a tree of values that remember where they were written.

PyYAML's composer gives every scalar a start and end mark (code-point indices). For expression
scalars we also map each character of the *value* back to the file, so that a syntax error in the
middle of a `|` block or a quoted string, after Chinese text, still points at file:line:col
(1-based, counted in code points).
"""

from __future__ import annotations

import bisect
import re
from typing import Any, Iterator

import attrs
import yaml

from policyengine import limits


@attrs.frozen
class Span:
    file: str
    line: int
    col: int
    end_line: int = 0
    end_col: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@attrs.frozen
class SourceFile:
    name: str
    text: str
    line_starts: tuple[int, ...]

    @classmethod
    def from_text(cls, name: str, text: str) -> "SourceFile":
        starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]
        return cls(name, text, tuple(starts))

    def position(self, index: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.line_starts, index) - 1
        return line + 1, index - self.line_starts[line] + 1

    def span(self, start: int, end: int) -> Span:
        line, col = self.position(start)
        end_line, end_col = self.position(max(start, end))
        return Span(self.name, line, col, end_line, end_col)

    def line_text(self, line: int) -> str:
        start = self.line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start:] if end < 0 else self.text[start:end]


@attrs.frozen
class Scalar:
    """A YAML scalar: its raw text value, its parsed value and where each character came from."""

    text: str
    value: Any
    source: SourceFile
    offsets: tuple[int, ...]  # value index → absolute index in source.text
    start: int
    end: int

    @property
    def span(self) -> Span:
        return self.source.span(self.start, self.end)

    def span_at(self, start: int, end: int | None = None) -> Span:
        """The span of value[start:end] inside the file."""
        first = self._absolute(start)
        last = self._absolute((end if end is not None else start + 1) - 1) + 1
        return self.source.span(first, last)

    def _absolute(self, i: int) -> int:
        if not self.offsets:
            return self.start
        return self.offsets[min(max(i, 0), len(self.offsets) - 1)]


class Mapping(dict):
    """A YAML mapping; `.span` of the mapping and `.key_spans[key]` of each key."""

    span: Span
    key_spans: dict[str, Span]


class Sequence(list):
    span: Span


class YamlSyntaxError(Exception):
    def __init__(self, span: Span, problem: str):
        super().__init__(f"{span}: {problem}")
        self.span = span
        self.problem = problem


class DuplicateKey(Exception):
    def __init__(self, span: Span, key: str):
        super().__init__(f"{span}: duplicate key {key}")
        self.span = span
        self.key = key


def read_policy_text(path: str) -> str:
    """A policy or library file's text; one larger than max_file_bytes is not read at all (PE503)."""
    import os

    size, limit = os.stat(path).st_size, limits.current().max_file_bytes
    if size > limit:
        raise YamlLimitError([("PE503", Span(str(path), 1, 1), {"size": size, "limit": limit})])
    with open(path, encoding="utf-8") as file:
        return file.read()


class YamlLimitError(YamlSyntaxError):
    """A policy file beyond a limit (limits.py): each problem as (code, span, args), in file order."""

    def __init__(self, problems: list[tuple[str, Span, dict]]):
        super().__init__(problems[0][1], problems[0][0])
        self.problems = problems


def load_yaml(name: str, text: str) -> tuple[Any, list[DuplicateKey]]:
    """Safely compose YAML text into Mapping/Sequence/Scalar values (duplicates reported, not lost).
    The text is first read as a stream of events, which needs no recursion, against the limits
    (limits.current()): size, depth, aliases, tags, number digits, list sizes; only then composed."""
    source = SourceFile.from_text(name, text)
    problems = _check_events(text, source, limits.current())
    if problems:
        raise YamlLimitError(problems)
    node = _compose_fast(text)
    if node is not None:
        return _convert(node, source, yaml.SafeLoader(""), duplicates := []), duplicates
    try:
        loader = yaml.SafeLoader(text)
    except yaml.reader.ReaderError as error:  # a control character: PyYAML refuses the whole text
        index = min(max(error.position, 0), len(text))
        raise YamlSyntaxError(source.span(index, index), f"{error.reason} (#x{error.character:04x})") from None
    try:
        node = loader.get_single_node()
    except yaml.reader.ReaderError as error:
        index = min(max(error.position, 0), len(text))
        raise YamlSyntaxError(source.span(index, index), f"{error.reason} (#x{error.character:04x})") from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        index = mark.index if mark is not None else 0
        raise YamlSyntaxError(source.span(index, index), str(error.problem or error)) from None
    finally:
        loader.dispose()
    duplicates: list[DuplicateKey] = []
    if node is None:
        return None, duplicates
    return _convert(node, source, yaml.SafeLoader(""), duplicates), duplicates


# tags a policy file may write explicitly (`!!str 12`); any other (`!!python/name:…`) is PE104
_SAFE_TAGS = frozenset({None, "!"} | {f"tag:yaml.org,2002:{name}" for name in
                                      ("str", "int", "float", "bool", "null", "seq", "map", "timestamp")})
_NUMBER = re.compile(r"[-+]?(?:0[xob][0-9a-fA-F_]+|[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?|\.[0-9_]+(?:[eE][-+]?[0-9]+)?)")


def _check_events(text: str, source: SourceFile, bounds: "limits.PolicyLimits") -> list[tuple[str, Span, dict]]:
    """The limit problems of a policy file's YAML, found in one pass over its events (a syntax
    error ends the pass: the composer reports it as before)."""
    if len(text) > bounds.max_file_bytes or len(text) * 3 > bounds.max_file_bytes and len(text.encode("utf-8")) > bounds.max_file_bytes:
        return [("PE503", Span(source.name, 1, 1), {"size": len(text.encode("utf-8")), "limit": bounds.max_file_bytes})]
    try:
        return _event_problems((_FAST_LOADER or yaml.SafeLoader)(text), source, bounds)
    except yaml.YAMLError:  # libyaml refuses e.g. 1,000 levels outright: the pure-Python parser reads on
        try:
            return _event_problems(yaml.SafeLoader(text), source, bounds)
        except yaml.YAMLError:
            return []  # a syntax error: the composer reports it as before


def _event_problems(loader: Any, source: SourceFile, bounds: "limits.PolicyLimits") -> list[tuple[str, Span, dict]]:
    problems: list[tuple[str, Span, dict]] = []
    items: list[list[int]] = []  # per open collection: [events so far, events per item]
    try:
        while loader.check_event():
            event = loader.get_event()
            kind = type(event)
            if kind in (yaml.SequenceEndEvent, yaml.MappingEndEvent):
                items.pop()
                continue
            if kind in (yaml.StreamStartEvent, yaml.StreamEndEvent, yaml.DocumentStartEvent, yaml.DocumentEndEvent):
                continue
            span = source.span(event.start_mark.index, event.start_mark.index)
            if items:
                items[-1][0] += 1  # a mapping counts its keys and its values: two events per item
                if items[-1][0] == items[-1][1] * bounds.max_list_items + 1:
                    problems.append(("PE507", span, {"limit": bounds.max_list_items}))
            if kind is yaml.AliasEvent:
                problems.append(("PE504", span, {"alias": event.anchor}))
                continue
            if event.tag not in _SAFE_TAGS:
                problems.append(("PE104", span, {"tag": event.tag}))
            if kind in (yaml.SequenceStartEvent, yaml.MappingStartEvent):
                items.append([0, 2 if kind is yaml.MappingStartEvent else 1])  # [events, events per item]
                if len(items) > bounds.max_yaml_depth:
                    problems.append(("PE505", span, {"limit": bounds.max_yaml_depth}))
                    return problems  # never compose it
            elif not event.style and _too_many_digits(event.value, bounds):
                problems.append(("PE506", span, {"text": event.value[:20] + "…", "digits": bounds.max_number_digits,
                                                 "exponent": bounds.max_number_exponent}))
    except yaml.YAMLError:
        if problems:
            return problems
        raise
    finally:
        loader.dispose()
    return problems


def _too_many_digits(value: str, bounds: "limits.PolicyLimits") -> bool:
    if len(value) <= bounds.max_number_digits and "e" not in value.lower():
        return False  # the common case: short, no exponent
    if not _NUMBER.fullmatch(value):
        return False
    mantissa, _, exponent = value.lower().replace("_", "").lstrip("+-").partition("e")
    if mantissa.startswith(("0x", "0o", "0b")):
        return len(mantissa) - 2 > bounds.max_number_digits
    digits = mantissa.replace(".", "").lstrip("0")
    whole = len(mantissa.split(".")[0].lstrip("0"))
    magnitude = (whole - 1 if whole else -(len(mantissa.partition(".")[2]) - len(mantissa.partition(".")[2].lstrip("0")) + 1))
    if exponent:
        if len(exponent.lstrip("+-")) > 6:
            return True
        magnitude += int(exponent)
    return len(digits.rstrip("0")) > bounds.max_number_digits or abs(magnitude) > bounds.max_number_exponent


_FAST_LOADER = getattr(yaml, "CSafeLoader", None)  # libyaml: the same nodes and marks, ~12× faster


def _compose_fast(text: str) -> yaml.Node | None:
    """The document's node through libyaml, or None (no libyaml, an empty document, or any error:
    the pure-Python loader then composes the text again and reports the error as it always has)."""
    if _FAST_LOADER is None:
        return None
    loader = _FAST_LOADER(text)
    try:
        return loader.get_single_node()
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()


def _convert(node: yaml.Node, source: SourceFile, constructor: yaml.SafeLoader, dups: list) -> Any:
    span = source.span(node.start_mark.index, node.end_mark.index)
    if isinstance(node, yaml.MappingNode):
        constructor.flatten_mapping(node)
        result = Mapping()
        result.span, result.key_spans = span, {}
        for key_node, value_node in node.value:
            key_span = source.span(key_node.start_mark.index, key_node.end_mark.index)
            key = str(_construct(constructor, key_node, key_span))
            if key in result:
                dups.append(DuplicateKey(key_span, key))
            result[key] = _convert(value_node, source, constructor, dups)
            result.key_spans[key] = key_span
        return result
    if isinstance(node, yaml.SequenceNode):
        seq = Sequence(_convert(item, source, constructor, dups) for item in node.value)
        seq.span = span
        return seq
    value = _construct(constructor, node, span)
    offsets = tuple(_align(node, source.text))
    return Scalar(node.value, value, source, offsets, node.start_mark.index, node.end_mark.index)


def _construct(constructor: yaml.SafeLoader, node: yaml.Node, span: Span) -> Any:
    try:
        return constructor.construct_object(node)
    except (ValueError, OverflowError, TypeError, yaml.YAMLError) as error:  # 2020-02-30 read as a timestamp …
        raise YamlSyntaxError(span, f"invalid value {str(node.value)[:40]!r}: {error}") from None


def _align(node: yaml.ScalarNode, text: str) -> Iterator[int]:
    """Match each character of the scalar's value to its position in the raw text (greedy)."""
    start, end = node.start_mark.index, node.end_mark.index
    p = start
    if node.style in ("'", '"'):
        p += 1
    elif node.style in ("|", ">"):
        p = text.find("\n", start) + 1 or end
    for ch in node.value:
        q = p
        while q < end and not _same(ch, text[q]):
            if node.style == '"' and text[q] == "\\":
                break  # an escape sequence stands for this character
            q += 1
        if q >= end:
            q = p  # not found (escape or folding): keep the current position
        yield q
        p = q + (2 if node.style == '"' and text[q] == "\\" else 1)


def _same(value_char: str, raw_char: str) -> bool:
    return value_char == raw_char or (value_char == " " and raw_char == "\n")
