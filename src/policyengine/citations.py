"""Citations against their sources: every quote of a policy file is looked up in its source document.

`policyengine check --sources DIR FILE...`. The quote conventions are the catalog's (§1.1):

- a quote matches the source verbatim up to whitespace (spaces and line breaks are ignored on both sides);
- `‖` stands for a line break of the source (in file 001, a chunk break: 001 is stored as fixed-width
  chunks each prefixed `N、`; the prefixes are an artifact and are removed before matching);
- `……` (any run of `…`) stands for an omission: the parts must occur in the source in this order.

A quote is a mapping with a `quote:` anywhere in the policy file (a rule's `citation:`, a parameter's
`source:`, a `not_encoded` entry's `quote:`); its file is its own `file:` or else the policy's
`source.file`. The 「…」 quotes inside a `not_encoded` reason are checked too. A quote that does not match
is reported at the first character that the source does not continue, with the nearest passage.
"""

from __future__ import annotations

import difflib
import functools
import re
from pathlib import Path
from typing import Any, Callable, Iterator

import attrs

from policyengine.diagnostics import Diagnostic
from policyengine.report import Citation
from policyengine.source import Mapping, Scalar, Sequence, Span, YamlSyntaxError, load_yaml

CODES = ("PE601", "PE602", "PE603")  # reported only by `check --sources`
BREAK = "‖"
_OMISSION = re.compile("…+")
_QUOTED = re.compile("「([^「」]*)」")
_CHUNK_PREFIX = re.compile(r"(\d+)、")
PASSAGE_CHARS = 60  # the nearest passage shown in a message, in characters of the source


# the source document ------------------------------------------------------------------------------
@attrs.frozen
class SourceDocument:
    """A source text with whitespace (and 001's chunk prefixes) removed, each character remembering
    where it stands in the file."""

    name: str
    text: str  # the searchable text: no whitespace, no chunk prefixes
    lines: tuple[int, ...]  # text index → line in the file (1-based)
    columns: tuple[int, ...]  # text index → column in the file (1-based, code points)
    breaks: frozenset[int]  # text indices that follow a line or chunk break
    raw_lines: tuple[str, ...]  # the file's lines as written

    @classmethod
    def from_text(cls, name: str, raw: str) -> "SourceDocument":
        raw_lines = tuple(raw.splitlines())
        chunked = _is_chunked(raw_lines)
        text, lines, columns, breaks = [], [], [], set()
        for number, line in enumerate(raw_lines, 1):
            start = _CHUNK_PREFIX.match(line).end() if chunked and line.strip() else 0
            if text:
                breaks.add(len(text))
            for col, ch in enumerate(line[start:], start + 1):
                if not ch.isspace():
                    text.append(ch)
                    lines.append(number)
                    columns.append(col)
        return cls(name, "".join(text), tuple(lines), tuple(columns), frozenset(breaks), raw_lines)

    def position(self, index: int) -> tuple[int, int]:
        index = min(max(index, 0), len(self.text) - 1)
        return self.lines[index], self.columns[index]

    def passage(self, start: int, end: int) -> str:
        """The source text of text[start:end], with a break shown as ‖."""
        start, end = max(start, 0), min(end, len(self.text))
        return "".join((BREAK if i in self.breaks and i > start else "") + self.text[i] for i in range(start, end))


def _is_chunked(lines: tuple[str, ...]) -> bool:
    """001's layout: every non-empty line starts with its own number and 、 (1、 2、 3、 …)."""
    numbered = [line for line in lines if line.strip()]
    return len(numbered) > 1 and all(
        (m := _CHUNK_PREFIX.match(line)) is not None and int(m.group(1)) == i for i, line in enumerate(numbered, 1))


@functools.lru_cache(maxsize=32)
def _read_document(path: str, _mtime: int) -> SourceDocument:
    return SourceDocument.from_text(Path(path).name, Path(path).read_text(encoding="utf-8"))


def read_document(path: Path) -> SourceDocument:
    return _read_document(str(path), path.stat().st_mtime_ns)


# the quote ----------------------------------------------------------------------------------------
@attrs.frozen
class Part:
    """One part of a quote between omissions: its searchable text, where each character sits in the quote
    as written, and the offsets (into text) where a ‖ stands."""

    text: str
    origin: tuple[int, ...]
    breaks: tuple[int, ...]
    break_origin: tuple[int, ...]  # where each ‖ is written in the quote


def quote_parts(quote: str) -> tuple[Part, ...]:
    parts, text, origin, breaks, break_origin = [], [], [], [], []

    def close() -> None:
        if breaks and breaks[-1] == len(text):  # a ‖ at the end of a part says nothing
            breaks.pop(), break_origin.pop()
        if text:
            parts.append(Part("".join(text), tuple(origin), tuple(breaks), tuple(break_origin)))
        text.clear(), origin.clear(), breaks.clear(), break_origin.clear()

    i = 0
    while i < len(quote):
        ch = quote[i]
        if ch == "…":
            close()
            i = _OMISSION.match(quote, i).end()
            continue
        if ch == BREAK:
            if text and (not breaks or breaks[-1] != len(text)):  # nor at its start
                breaks.append(len(text))
                break_origin.append(i)
        elif not ch.isspace():
            text.append(ch)
            origin.append(i)
        i += 1
    close()
    return tuple(parts)


@attrs.frozen
class Located:
    spans: tuple[tuple[int, int], ...]  # text ranges of the source, one per part


@attrs.frozen
class Mismatch:
    code: str  # PE601 text not in the source, PE602 a ‖ where the source has no break
    quote_index: int  # where in the quote (as written) the problem starts
    nearest: tuple[int, int] | None  # the nearest passage of the source (text range)


def locate(document: SourceDocument, quote: str) -> Located | Mismatch:
    """Find the quote's parts in order; else say where it stops matching and what is nearest."""
    parts = quote_parts(quote)
    if not parts:
        return Mismatch("PE601", 0, None)
    spans, position = [], 0
    for part in parts:
        found, text_found = _find(document, part, position)
        if found is None:
            if text_found is not None:  # the words are there, but a ‖ falls where the source runs on
                bad = next(i for i, b in enumerate(part.breaks) if text_found + b not in document.breaks)
                return Mismatch("PE602", part.break_origin[bad], (text_found, text_found + len(part.text)))
            return _mismatch(document, part, position)
        spans.append((found, found + len(part.text)))
        position = found + len(part.text)
    return Located(tuple(spans))


def _find(document: SourceDocument, part: Part, start: int) -> tuple[int | None, int | None]:
    """(the first match at or after start honouring every ‖, the first match of the words alone)."""
    words_only = None
    at = document.text.find(part.text, start)
    while at >= 0:
        if words_only is None:
            words_only = at
        if all(at + b in document.breaks for b in part.breaks):
            return at, words_only
        at = document.text.find(part.text, at + 1)
    return None, words_only


def _mismatch(document: SourceDocument, part: Part, start: int) -> Mismatch:
    # the longest beginning of the part that the source holds (after the previous part) tells where
    # the quote departs from the text; the passage most like the whole part is what the author meant
    low, high = 0, len(part.text)
    while low < high:
        mid = (low + high + 1) // 2
        if document.text.find(part.text[:mid], start) >= 0:
            low = mid
        else:
            high = mid - 1
    prefix_at = document.text.find(part.text[:low], start) if low else -1
    return Mismatch("PE601", part.origin[min(low, len(part.origin) - 1)], _nearest(document, part.text, prefix_at))


def _nearest(document: SourceDocument, text: str, prefix_at: int) -> tuple[int, int] | None:
    """The passage most like `text`: a window at the longest common run (aligned) or where the quote's
    longest matching beginning stands, whichever is more alike, trimmed to its last matching character."""
    matcher = difflib.SequenceMatcher(None, document.text, text, autojunk=False)
    match = matcher.find_longest_match(0, len(document.text), 0, len(text))
    if match.size == 0:
        return None
    size = len(text) + max(4, len(text) // 4)
    best = None
    for start in sorted({max(match.a - match.b, 0), prefix_at} - {-1}):
        window = document.text[start:start + size]
        scorer = difflib.SequenceMatcher(None, window, text, autojunk=False)
        blocks = [b for b in scorer.get_matching_blocks() if b.size]
        end = start + (blocks[-1].a + blocks[-1].size if blocks else len(window))
        if best is None or scorer.ratio() > best[0]:
            best = (scorer.ratio(), start, end)
    return best[1], best[2]


def _clip(text: str, limit: int = PASSAGE_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


# a parameter's keys -------------------------------------------------------------------------------
SOURCE_KEYS = ("file", "section", "quote")


def parameter_source(name: str, body: Mapping, report: Callable[..., None]) -> Citation | None:
    """A parameter's `source:` read like a rule's citation, `{file?, section?, quote}` (the file defaults
    to the policy's source document); `effective:` is refused with PE414, since a parameter has one value
    for every period (values by date would be chosen silently wrong if the key were ignored)."""
    if "effective" in body:
        report("PE414", body.key_spans["effective"], name=name)
    source = body.get("source")
    if source is None:
        return None
    if not isinstance(source, Mapping):
        report("PE403", getattr(source, "span", body.key_spans["source"]), key="source",
               expected="{file, section, quote}")
        return None
    for key in source:
        if key not in SOURCE_KEYS:
            report("PE401", source.key_spans[key], key=key, allowed=", ".join(SOURCE_KEYS))
    texts = {}
    for key in SOURCE_KEYS:
        value = source.get(key)
        if value is None:
            continue
        if not isinstance(value, Scalar) or not isinstance(value.value, str) or not value.value.strip():
            report("PE403", getattr(value, "span", source.key_spans[key]), key=f"source.{key}", expected="text")
            continue
        texts[key] = value.value
    if "quote" not in source:
        report("PE402", source.span, key="source.quote")
    if "quote" not in texts:
        return None
    return Citation(texts.get("file", ""), texts.get("section"), texts["quote"])


# the quotes of a policy file -----------------------------------------------------------------------
@attrs.frozen
class Quote:
    """A quote as written in a policy file: the scalar holding it, the part of the scalar that is the
    quote (all of it, or one 「…」 inside a not_encoded reason) and the source file it cites."""

    scalar: Scalar
    start: int  # index of the quote inside scalar.value
    text: str
    file: str | None
    file_scalar: Scalar | None


def quotes_of(tree: Any) -> Iterator[Quote]:
    """Every quote of a composed policy file, in file order."""
    if not isinstance(tree, Mapping):
        return
    default = _scalar_text(tree.get("source").get("file")) if isinstance(tree.get("source"), Mapping) else None
    yield from _walk(tree, default)
    for entry in tree.get("not_encoded") or ():
        reason = entry.get("reason") if isinstance(entry, Mapping) else None
        if isinstance(reason, Scalar) and isinstance(reason.value, str):
            file = _scalar_text(entry.get("file")) or default
            for m in _QUOTED.finditer(reason.value):
                yield Quote(reason, m.start(1), m.group(1), file, None)


def _walk(node: Any, default: str | None) -> Iterator[Quote]:
    if isinstance(node, Mapping):
        quote = node.get("quote")
        if isinstance(quote, Scalar) and isinstance(quote.value, str):
            file = node.get("file")
            yield Quote(quote, 0, quote.value, _scalar_text(file) or default, file if isinstance(file, Scalar) else None)
        for key, value in node.items():
            if key != "quote":
                yield from _walk(value, default)
    elif isinstance(node, Sequence):
        for item in node:
            yield from _walk(item, default)


def _scalar_text(value: Any) -> str | None:
    return str(value.value) if isinstance(value, Scalar) and value.value is not None else None


def check_quotes(path: str, sources: Path, text: str | None = None) -> list[Diagnostic]:
    """Every quote of one policy file against the documents in `sources` (an unreadable or invalid
    file gives nothing here: `check` reports it)."""
    try:
        tree, _ = load_yaml(path, text if text is not None else Path(path).read_text(encoding="utf-8"))
    except YamlSyntaxError:
        return []
    diagnostics = []
    for quote in quotes_of(tree):
        diagnostic = check_quote(quote, sources, quote.scalar.span_at(quote.start, quote.start + 1))
        if diagnostic is not None:
            diagnostics.append(diagnostic)
    return diagnostics


def check_quote(quote: Quote, sources: Path, where: Span) -> Diagnostic | None:
    document = _document(quote.file, sources)
    if document is None:
        span = quote.file_scalar.span if quote.file_scalar is not None else where
        return Diagnostic("PE603", span, {"file": quote.file or "?", "dir": str(sources)})
    result = locate(document, quote.text)
    if isinstance(result, Located):
        return None
    at = quote.start + result.quote_index
    span = quote.scalar.span_at(at, at + 1)
    args = {"file": document.name, "from": _excerpt(quote.text, result.quote_index)}
    if result.nearest is None:
        args.update(line="?", passage="—")
    else:
        line, _ = document.position(result.nearest[0])
        args.update(line=line, passage=_clip(document.passage(*result.nearest)))
    return Diagnostic(result.code, span, args)


def _document(file: str | None, sources: Path) -> SourceDocument | None:
    if not file or "/" in file or "\\" in file or file.startswith("."):
        return None  # a citation names a file of the sources folder, never a path
    path = sources / file
    try:
        return read_document(path) if path.is_file() else None
    except (OSError, UnicodeDecodeError):
        return None


def _excerpt(text: str, start: int, size: int = 12) -> str:
    piece = text[start:start + size]
    return piece + ("…" if len(text) > start + size else "")
