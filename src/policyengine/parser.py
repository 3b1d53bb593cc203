"""Parser: expression text (a YAML scalar) → AST nodes, or diagnostics with file positions.

The grammar is `grammar/policy.lark` (LALR, built once and cached). Only this module touches Lark
trees and tokens; the transformer never raises, syntax errors come from Lark's Unexpected* errors.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal
from typing import Any

import lark
from lark import Token, Transformer, v_args

from policyengine import limits
from policyengine import nodes as n
from policyengine import resources
from policyengine.diagnostics import Diagnostic
from policyengine.runtime import Duration
from policyengine.source import Scalar, SourceFile

_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)  # scaling a literal never rounds it

MAX_DEPTH = limits.DEFAULT.max_expression_depth  # the defaults; limits.current() holds those in force
MAX_LENGTH = limits.DEFAULT.max_expression_length

_TOKEN_NAMES = {"NAME": "名称/name", "NUMBER": "数字/number", "STRING": "字符串/string", "DATE": "日期/date",
                "COMPARE": "比较运算符/comparison", "ADD_OP": "+ -", "MUL_OP": "* /", "RPAR": ")",
                "LPAR": "(", "RSQB": "]", "LSQB": "[", "COMMA": ",", "DOT": ".", "$END": "表达式结束/end"}


@functools.cache
def _lark() -> lark.Lark:
    return lark.Lark(resources.grammar_text(), parser="lalr", propagate_positions=True,
                     maybe_placeholders=True)


def expression_scalar(text: str, name: str = "<expression>") -> Scalar:
    """Wrap a bare expression (not from a YAML file) so that positions still work."""
    source = SourceFile.from_text(name, text)
    return Scalar(text, text, source, tuple(range(len(text))), 0, len(text))


def parse(scalar: Scalar, diagnostics: list[Diagnostic]) -> n.Node | None:
    """Parse one expression scalar; append diagnostics and return None when it does not parse."""
    text = scalar.text
    bounds = limits.current()
    if len(text) > bounds.max_expression_length:
        diagnostics.append(Diagnostic("PE502", scalar.span, {"limit": bounds.max_expression_length}))
        return None
    try:
        tree = _lark().parse(text)
    except lark.UnexpectedInput as error:
        diagnostics.append(_syntax_diagnostic(error, scalar))
        return None
    if _depth(tree) > bounds.max_expression_depth:
        diagnostics.append(Diagnostic("PE501", scalar.span, {"limit": bounds.max_expression_depth, "what_zh": "嵌套层数",
                                                             "what_en": "nesting depth"}))
        return None
    if isinstance(tree, Token):
        tree = lark.Tree("number_lit" if tree.type == "NUMBER" else "name", [tree])
    long_numbers = [token for token in tree.scan_values(lambda v: isinstance(v, Token) and v.type == "NUMBER")
                    if len(token.replace(".", "").lstrip("0")) > bounds.max_number_digits]
    for token in long_numbers:  # 4,300 digits would even stop Python's int()
        diagnostics.append(Diagnostic("PE506", scalar.span_at(token.start_pos), {
            "text": token[:20] + "…", "digits": bounds.max_number_digits, "exponent": bounds.max_number_exponent}))
    if long_numbers:
        return None
    return _ToAst(scalar).transform(tree)


def _depth(tree: Any) -> int:
    """Nesting depth in syntax-tree nodes (tokens are their leaves, not a level)."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, lark.Tree):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in node.children)
    return deepest


def _syntax_diagnostic(error: lark.UnexpectedInput, scalar: Scalar) -> Diagnostic:
    position = getattr(error, "pos_in_stream", None) or 0
    if isinstance(error, lark.UnexpectedCharacters):
        char = scalar.text[position]
        ascii_form = _ascii_form(char)
        if ascii_form is not None:
            return Diagnostic("PE105", scalar.span_at(position), {"char": repr(char), "ascii": ascii_form})
        return Diagnostic("PE102", scalar.span_at(position), {"char": repr(char)})
    expected = ", ".join(sorted(_TOKEN_NAMES.get(t, t.strip('"').lower()) for t in
                                (getattr(error, "expected", None) or getattr(error, "accepts", None) or []))[:8])
    if isinstance(error, lark.UnexpectedEOF) or getattr(error, "token", None) is not None and error.token.type == "$END":
        end = len(scalar.text.rstrip()) - 1  # the last character written, whatever the scalar style
        return Diagnostic("PE103", scalar.span_at(max(end, 0)), {"expected": expected})
    token = error.token
    return Diagnostic("PE101", scalar.span_at(token.start_pos, token.end_pos),
                      {"token": repr(str(token)), "expected": expected})


def _ascii_form(char: str) -> str | None:
    """The ASCII character a fullwidth one (１, ＋, （) or another script's digit (٣) stands for, or None."""
    if char.isascii():
        return None
    if char.isdigit():
        return str(unicodedata.digit(char, "")) or None
    folded = unicodedata.normalize("NFKC", char)
    return folded if len(folded) == 1 and folded.isascii() and folded.isprintable() else None


@v_args(meta=True, inline=True)
class _ToAst(Transformer):
    """Lark tree → nodes. Each method is named after the grammar alias it builds."""

    def __init__(self, scalar: Scalar):
        super().__init__()
        self.scalar = scalar

    def _span(self, item: Any):
        if isinstance(item, Token):
            return self.scalar.span_at(item.start_pos, item.end_pos)
        return self.scalar.span_at(item.start_pos, item.end_pos)

    # literals ---------------------------------------------------------------------------------
    def number_lit(self, meta, token):
        return n.Literal(self._span(meta), _number(token), "number")

    def percent_lit(self, meta, token):
        return n.Literal(self._span(meta), Decimal(str(token)).scaleb(-2, _EXACT), "number")

    def money_lit(self, meta, token, _unit):
        return n.Literal(self._span(meta), Decimal(str(token)), "money")

    def wan_money_lit(self, meta, token, _unit):
        return n.Literal(self._span(meta), _EXACT.multiply(Decimal(str(token)), 10000), "money")  # exact, any digits

    def duration_lit(self, meta, token, unit):
        count = _number(token)
        if not isinstance(count, int):  # durations are whole units: "1.5 years" is not 1 year
            return _invalid_literal(self._span(meta), f"{token} {unit}")
        months = count * 12 if unit.startswith("year") else count if unit.startswith("month") else 0
        days = count if unit.startswith("day") else 0
        return n.Literal(self._span(meta), Duration(months, days), "duration")

    def date_lit(self, meta, token):
        try:
            value = dt.date.fromisoformat(str(token))
        except ValueError:
            return _invalid_literal(self._span(meta), str(token))
        return n.Literal(self._span(meta), value, "date")

    def string_lit(self, meta, token):
        value = _unquote(str(token))
        if value is None:
            return _invalid_literal(self._span(meta), str(token))
        return n.Literal(self._span(meta), value, "string")

    def true_lit(self, meta):
        return n.Literal(self._span(meta), True, "bool")

    def false_lit(self, meta):
        return n.Literal(self._span(meta), False, "bool")

    # names and postfix --------------------------------------------------------------------------
    def name(self, meta, token):
        return n.Name(self._span(token), str(token))

    def field(self, meta, target, token):
        return n.Field(self._span(token), target, str(token))

    def index(self, meta, target, key):
        return n.Index(self._span(meta), target, key)

    def call(self, meta, token, args):
        return n.Call(self._span(token), str(token), tuple(args or ()))

    def args(self, meta, *items):
        return [item for item in items if item is not None]

    def aggregate(self, meta, function, element, var, source, condition):
        return n.Aggregate(self._span(function), str(function), element, str(var), source, condition)

    def list_comp(self, meta, element, var, source, condition):
        return n.Aggregate(self._span(meta), "list", element, str(var), source, condition)

    def list_lit(self, meta, args):
        return n.ListLiteral(self._span(meta), tuple(args or ()))

    # operators ----------------------------------------------------------------------------------
    def cond(self, meta, condition, then, otherwise):
        return n.Conditional(self._span(meta), condition, then, otherwise)

    def or_(self, meta, left, right):
        return n.Binary(self._span(meta), "or", left, right)

    def and_(self, meta, left, right):
        return n.Binary(self._span(meta), "and", left, right)

    def not_(self, meta, operand):
        return n.Unary(self._span(meta), "not", operand)

    def compare(self, meta, left, op, right):
        return n.Binary(self._span(op), str(op), left, right)

    def in_(self, meta, left, right):
        return n.Binary(self._span(meta), "in", left, right)

    def not_in(self, meta, left, right):
        return n.Binary(self._span(meta), "not_in", left, right)

    def between(self, meta, value, low, high):
        return n.Between(self._span(meta), value, low, high)

    def arith(self, meta, left, op, right):
        return n.Binary(self._span(op), str(op), left, right)

    def neg(self, meta, operand):
        return n.Unary(self._span(meta), "-", operand)


def _invalid_literal(span, text: str) -> n.Node:
    """A literal that matched the grammar but has no value (2023-02-30, 1.5 years): the checker
    reports it as PE308."""
    return n.Call(span, "__invalid_literal__", (n.Literal(span, text, "string"),))


def _number(token: Token) -> int | Decimal:
    text = str(token)
    return Decimal(text) if "." in text else int(text)


_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'"}


def _unquote(text: str) -> str | None:
    """The value of a string literal: escapes \\n \\t \\\\ \\" \\' and \\uXXXX (four hex digits, not a
    surrogate); None for any other escape (\\u12, \\x41, \\q), which the checker reports as PE308."""
    body = text[1:-1]
    if "\\" not in body:
        return body
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1] if i + 1 < len(body) else ""
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", body[i + 2:i + 6]) and not 0xD800 <= int(body[i + 2:i + 6], 16) <= 0xDFFF:
            out.append(chr(int(body[i + 2:i + 6], 16)))
            i += 6
        else:
            return None
    return "".join(out)
