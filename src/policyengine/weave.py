"""The policy beside its source text, for authors and reviewers: `policyengine doc`.

The source document is cut into sentences (a sentence ends at 。；！？, their half-width forms that file 001
uses, or a line break; 001's fixed-width chunk breaks are an artifact and join). Each encoded rule is
placed beside the sentences its quote covers, each `not_encoded` entry beside the sentences of its quotes
(its `quote:`, or the 「…」 in its reason), and every sentence that carries a number, a deadline or one of
必须/应/不得/不少于/不超过/以上/以内 but is mapped to nothing is marked. The source-coverage figure has three
parts: sentences mapped to encoded rules, sentences mapped (only) to not_encoded entries, and marked
sentences mapped to nothing.
"""

from __future__ import annotations

import bisect
import re
from pathlib import Path
from typing import Any

import attrs

from policyengine import citations
from policyengine.citations import Located, SourceDocument, locate
from policyengine.source import Mapping, Scalar, load_yaml

SENTENCE_END = "。；！？;!?"
MODALS = ("必须", "应", "不得", "不少于", "不超过", "以上", "以内")
# 应 as "should", not inside 相应/对应/适应/响应/供应/应用/反应/效应/呼应/应届/应急
_NOT_MODAL_YING = re.compile("相应|对应|适应|响应|供应|应用|反应|效应|呼应|应届|应急|回应|答应")
# heading enumerators carry no quantity: 一、 （二） 3. 4、
_ENUMERATOR = re.compile(r"^(?:[（(][一二三四五六七八九十\d]+[）)]|[一二三四五六七八九十]+、|\d+[、.．](?!\d))")
_NUMBER = re.compile(r"[0-9０-９]|[一二两三四五六七八九十百千万半]+(?:个|名|人|次|年|月|日|天|周|所|项|万|元|倍|级|学期|课时"
                     r"|节|类|批|种|位|轮|成|分之)")
_DEADLINE = re.compile(r"月底|年底|月前|年前|日前|之前|以前|截止|期限|届满|期满|前完成|前报|及时")


@attrs.frozen
class Sentence:
    number: int  # 1-based, in document order
    text: str  # as written (whitespace kept, chunk prefixes removed)
    line: int  # the file line it starts on
    start: int  # range in the searchable text of the document (citations.SourceDocument.text)
    end: int
    paragraph: bool  # the first sentence of a source line
    marks: tuple[str, ...]  # "number", "deadline" and the modal words it carries


@attrs.frozen
class PlacedRule:
    id: str
    kind: str
    strength: str | None
    subject: str
    per: str | None
    expressions: tuple[tuple[str, str], ...]  # (key or key.name, expression text)
    parameters: tuple[tuple[str, str, str | None, tuple[str, ...] | None], ...]  # name, value, ambiguity, choices
    file: str
    section: str | None
    quote: str
    sentences: tuple[int, ...]  # empty: cited elsewhere, or the quote is not in the text (check --sources)


@attrs.frozen
class PlacedEntry:
    id: str
    reason: str
    quotes: tuple[str, ...]
    sentences: tuple[int, ...]


@attrs.frozen
class Weave:
    policy: str
    title: str
    source_file: str
    sentences: tuple[Sentence, ...]
    rules: tuple[PlacedRule, ...]
    not_encoded: tuple[PlacedEntry, ...]

    def rules_at(self) -> dict[int, list[PlacedRule]]:
        return _by_sentence(self.rules)

    def entries_at(self) -> dict[int, list[PlacedEntry]]:
        return _by_sentence(self.not_encoded)

    def figures(self) -> dict[str, Any]:
        """The source coverage in three parts, with the totals they are parts of."""
        encoded = {n for r in self.rules for n in r.sentences}
        listed = {n for e in self.not_encoded for n in e.sentences} - encoded
        marked = [s.number for s in self.sentences if s.marks]
        unmapped = [n for n in marked if n not in encoded and n not in listed]
        total = len(self.sentences)
        return {"sentences": total, "encoded": len(encoded), "not_encoded": len(listed),
                "marked": len(marked), "marked_unmapped": len(unmapped),
                "encoded_share": _share(len(encoded), total), "not_encoded_share": _share(len(listed), total),
                "marked_unmapped_share": _share(len(unmapped), len(marked)),
                "rules_placed": sum(1 for r in self.rules if r.sentences), "rules": len(self.rules),
                "not_encoded_placed": sum(1 for e in self.not_encoded if e.sentences),
                "not_encoded_entries": len(self.not_encoded)}

    def unmapped(self) -> set[int]:
        mapped = {n for r in self.rules for n in r.sentences} | {n for e in self.not_encoded for n in e.sentences}
        return {s.number for s in self.sentences if s.marks and s.number not in mapped}

    def to_json(self) -> dict[str, Any]:
        unmapped = self.unmapped()
        return {
            "policy": self.policy, "title": self.title, "source_file": self.source_file,
            "coverage": self.figures(),
            "sentences": [{"number": s.number, "line": s.line, "text": s.text, "marks": list(s.marks),
                           "rules": [r.id for r in self.rules_at().get(s.number, ())],
                           "not_encoded": [e.id for e in self.entries_at().get(s.number, ())],
                           "unmapped": s.number in unmapped} for s in self.sentences],
            "rules": [{"id": r.id, "sentences": list(r.sentences)} for r in self.rules],
            "not_encoded": [{"id": e.id, "sentences": list(e.sentences)} for e in self.not_encoded],
        }


COVERAGE_HEADER = ("| policy | source | sentences | mapped to encoded rules | mapped only to not_encoded "
                   "| marked sentences mapped to nothing | rules placed | not_encoded placed |\n"
                   "|---|---|---|---|---|---|---|---|")


def coverage_row(woven: Weave) -> str:
    """One row of the README's source-coverage table."""
    c = woven.figures()
    return (f"| `{woven.policy}` | {woven.source_file} | {c['sentences']} | {c['encoded']} ({c['encoded_share']}) "
            f"| {c['not_encoded']} ({c['not_encoded_share']}) "
            f"| {c['marked_unmapped']} of {c['marked']} ({c['marked_unmapped_share']}) "
            f"| {c['rules_placed']}/{c['rules']} | {c['not_encoded_placed']}/{c['not_encoded_entries']} |")


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "—"


def _by_sentence(items) -> dict[int, list]:
    result: dict[int, list] = {}
    for item in items:
        for number in item.sentences:
            result.setdefault(number, []).append(item)
    return result


# sentences --------------------------------------------------------------------------------------------
def sentences_of(raw: str) -> tuple[Sentence, ...]:
    """The sentences of a source text, each with its range in the searchable text."""
    lines = raw.splitlines()
    chunked = citations._is_chunked(tuple(lines))
    result: list[Sentence] = []
    position = 0  # characters of the searchable text so far
    current: list[str] = []
    start, first_line, paragraph, has_text = 0, 1, True, False

    def close(next_paragraph: bool) -> None:
        nonlocal start, paragraph, has_text
        text = "".join(current).strip()
        if text:
            result.append(Sentence(len(result) + 1, text, first_line, start, position, paragraph, marks_of(text)))
            paragraph = next_paragraph
        elif next_paragraph:
            paragraph = True
        current.clear()
        start, has_text = position, False

    for number, line in enumerate(lines, 1):
        if chunked and line.strip():
            line = line[citations._CHUNK_PREFIX.match(line).end():]  # a chunk continues the text
        else:
            close(True)  # a line break ends a sentence
        for ch in line:
            current.append(ch)
            if not ch.isspace():
                if not has_text:
                    first_line, has_text = number, True
                position += 1
            if ch in SENTENCE_END:
                close(False)
    close(True)
    return tuple(result)


def marks_of(text: str) -> tuple[str, ...]:
    body = text
    while (m := _ENUMERATOR.match(body.lstrip())) is not None:
        body = body.lstrip()[m.end():]
    marks = []
    if _NUMBER.search(body):
        marks.append("number")
    if _DEADLINE.search(body):
        marks.append("deadline")
    plain = _NOT_MODAL_YING.sub("", body)
    marks += [word for word in MODALS if word in plain]
    return tuple(marks)


def _covered(sentences: tuple[Sentence, ...], spans) -> tuple[int, ...]:
    starts = [s.start for s in sentences]
    found: set[int] = set()
    for begin, end in spans:
        i = max(bisect.bisect_right(starts, begin) - 1, 0)
        while i < len(sentences) and sentences[i].start < end:
            if sentences[i].end > begin:
                found.add(sentences[i].number)
            i += 1
    return tuple(sorted(found))


# the weave ------------------------------------------------------------------------------------------------
def weave(policy_name: str, sources: Path) -> Weave:
    """Load, check and compile a policy (PolicyError if it has errors) and place it on its source text."""
    from policyengine import engine
    from policyengine.policyfile import read_policy_file

    policy = engine.load_policy(policy_name)
    text = Path(policy.path).read_text(encoding="utf-8")
    model, _ = read_policy_file(policy.path, text)
    source_path = sources / policy.source_file
    raw = source_path.read_text(encoding="utf-8")
    document = SourceDocument.from_text(policy.source_file, raw)
    sentences = sentences_of(raw)

    def place(file: str, quotes) -> tuple[int, ...]:
        if file != policy.source_file:
            return ()
        spans = []
        for quote in quotes:
            result = locate(document, quote)
            if isinstance(result, Located):
                spans += result.spans
        return _covered(sentences, spans)

    declarations = {p.name: p for p in model.parameters}
    compiled = {r.id: r for r in policy.rules}
    rules = []
    for decl in policy.declarations:  # template instances expanded, in file order
        used = compiled[decl.id].parameters if decl.id in compiled else ()
        parameters = tuple((name, _plain(value), declarations[name].ambiguity if name in declarations else None,
                            declarations[name].choices if name in declarations else None) for name, value in used)
        citation = decl.citation
        rules.append(PlacedRule(decl.id, decl.kind, decl.strength, decl.subject, decl.per, _expressions(decl),
                                parameters, citation.file, citation.section, citation.quote,
                                place(citation.file, [citation.quote])))
    tree, _ = load_yaml(policy.path, text)
    entries = [PlacedEntry(entry_id, reason, quotes, place(file or policy.source_file, quotes))
               for entry_id, reason, quotes, file in _not_encoded(tree)]
    return Weave(policy.name, policy.title, policy.source_file, sentences, tuple(rules), tuple(entries))


def _plain(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(map(_plain, value)) + "]"
    return str(value)


def _expressions(decl) -> tuple[tuple[str, str], ...]:
    result = []
    for key, value in decl.expressions.items():
        if isinstance(value, dict):
            result += [(f"{key}.{name}", str(scalar.value)) for name, scalar in value.items()]
        else:
            result.append((key, str(value.value)))
    return tuple(result)


def _not_encoded(tree: Any):
    """(id, reason, quotes, file) per not_encoded entry: its `quote:` if given, else the 「…」 of its reason."""
    for entry in (tree.get("not_encoded") or ()) if isinstance(tree, Mapping) else ():
        if not isinstance(entry, Mapping):
            continue
        entry_id, reason = _text(entry.get("id")), _text(entry.get("reason")) or ""
        quote = _text(entry.get("quote"))
        quotes = (quote,) if quote else tuple(m.group(1) for m in citations._QUOTED.finditer(reason))
        if entry_id:
            yield entry_id, reason, quotes, _text(entry.get("file"))


def _text(value: Any) -> str | None:
    return str(value.value) if isinstance(value, Scalar) and value.value is not None else None


# HTML ---------------------------------------------------------------------------------------------------------
LABELS = {
    "zh": {"coverage": "出处覆盖", "sentences": "句", "encoded": "对应已编码规则的句子",
           "not_encoded": "仅对应未编码条目的句子", "marked_unmapped": "含数字、期限或义务词而未对应任何条目的句子",
           "of_sentences": "占全部句子", "of_marked": "占含标记的句子", "unmapped": "未对应", "reason": "理由",
           "parameters": "所用参数", "ambiguity": "歧义与所取解读", "choices": "可选", "kind": "类型",
           "strength": "强度", "subject": "对象", "per": "周期", "not_placed": "未能放在原文旁的条目",
           "cited_elsewhere": "引自其他文件或引文不在原文中", "no_quote": "无引文", "legend": "图例",
           "legend_text": "左栏为原文（每句有编号），右栏为该句对应的规则；黄色标出含数字、期限或义务词却无任何条目对应的句子。",
           "marks": {"number": "数字", "deadline": "期限"}, "quote": "引文", "section": "章节",
           "not_encoded_label": "未编码"},
    "en": {"coverage": "Source coverage", "sentences": "sentences", "encoded": "sentences mapped to encoded rules",
           "not_encoded": "sentences mapped only to not_encoded entries",
           "marked_unmapped": "marked sentences (a number, a deadline or an obligation word) mapped to nothing",
           "of_sentences": "of all sentences", "of_marked": "of marked sentences", "unmapped": "mapped to nothing",
           "reason": "reason", "parameters": "parameters in force", "ambiguity": "ambiguity and the reading chosen",
           "choices": "choices", "kind": "kind", "strength": "strength", "subject": "subject", "per": "per",
           "not_placed": "Entries not placed beside the text", "cited_elsewhere": "cited from another file, or the quote is not in the text",
           "no_quote": "no quote", "legend": "Legend",
           "legend_text": "Left: the source text, every sentence numbered. Right: the rules that encode it. Yellow: a sentence with a number, a deadline or an obligation word that nothing encodes.",
           "marks": {"number": "number", "deadline": "deadline"}, "quote": "quote", "section": "section",
           "not_encoded_label": "not encoded"},
}


@attrs.frozen
class Row:
    sentences: tuple[Sentence, ...]
    rules: tuple[PlacedRule, ...]
    entries: tuple[PlacedEntry, ...]
    unmapped: tuple[Sentence, ...]
    paragraph: bool


def rows_of(woven: Weave) -> list[Row]:
    """Rows of the woven view: a row starts at each source line and at each sentence that has notes; a
    rule (or entry) sits in the row of the first sentence it covers."""
    rules_first: dict[int, list[PlacedRule]] = {}
    for rule in woven.rules:
        if rule.sentences:
            rules_first.setdefault(rule.sentences[0], []).append(rule)
    entries_first: dict[int, list[PlacedEntry]] = {}
    for entry in woven.not_encoded:
        if entry.sentences:
            entries_first.setdefault(entry.sentences[0], []).append(entry)
    unmapped = woven.unmapped()
    groups: list[list[Sentence]] = []
    for sentence in woven.sentences:
        noted = sentence.number in rules_first or sentence.number in entries_first or sentence.number in unmapped
        if not groups or sentence.paragraph or noted:
            groups.append([sentence])
        else:
            groups[-1].append(sentence)
    return [Row(tuple(g), tuple(r for s in g for r in rules_first.get(s.number, ())),
                tuple(e for s in g for e in entries_first.get(s.number, ())),
                tuple(s for s in g if s.number in unmapped), g[0].paragraph) for g in groups]


def render_html(woven: Weave, lang: str = "zh") -> str:
    import jinja2

    environment = jinja2.Environment(loader=jinja2.PackageLoader("policyengine", "templates"),
                                     autoescape=True, undefined=jinja2.StrictUndefined,
                                     trim_blocks=True, lstrip_blocks=True)
    template = environment.get_template("policy_doc.html.j2")
    unmapped = woven.unmapped()
    css = {s.number: " ".join(filter(None, [
        "encoded" if s.number in woven.rules_at() else "",
        "listed" if s.number in woven.entries_at() and s.number not in woven.rules_at() else "",
        "unmapped" if s.number in unmapped else ""])) for s in woven.sentences}
    return template.render(w=woven, rows=rows_of(woven), figures=woven.figures(), css=css, lang=lang,
                           t=LABELS[lang], unplaced_rules=[r for r in woven.rules if not r.sentences],
                           unplaced_entries=[e for e in woven.not_encoded if not e.sentences])
