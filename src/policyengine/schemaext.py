"""Record schema extensions: a jurisdiction's extra record fields and enum values, as data.

A policy file `DIR/<name>.yaml` is extended by `DIR/schema/<name>.yaml` when that file exists:

    enums:
      model_type: {alliance: [联盟式]}          # extra values of a core enum (with Chinese aliases)
      evidence_source: {minutes: [会议纪要]}     # or a new enum
    records:
      community:                               # extra fields of a core kind
        fields:
          alliance_partner_count: int?
      post_count:                              # a new sub-record kind (no collection)
        fields: {post: string, count: int}

Extensions only add: a field or enum value that the core schema already has is an error (PE701), so a
city's allowed subset of a core enum stays a rule. Every problem is a diagnostic with the extension
file's line and column; the merged document is then built exactly like the core schema.
"""

from __future__ import annotations

import copy
import functools
import importlib.resources
import re
from pathlib import Path
from typing import Any

import yaml

from policyengine import source as src
from policyengine.diagnostics import Diagnostic
from policyengine.recordschema import RecordSchema, SchemaError, build_schema, load_record_schema, parse_spec

NAME = re.compile(r"[a-z][a-z0-9_]*")
TOP_KEYS = ("description", "enums", "records")
KIND_KEYS = ("description", "fields")
FIELD_KEYS = ("type", "default", "description")


def extension_path(policy_path: str | Path) -> Path:
    """Where a policy file's schema extension lives (it may not exist)."""
    path = Path(policy_path)
    return path.parent / "schema" / path.name


@functools.cache
def _core_document() -> dict[str, Any]:
    text = (importlib.resources.files("policyengine") / "schema" / "records.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def schema_for_policy(policy_path: str | Path) -> tuple[RecordSchema, list[Diagnostic]]:
    """The record schema a policy is checked and evaluated against: the core schema, extended by the
    policy's extension file when it has one."""
    path = extension_path(policy_path)
    if not path.is_file():
        return load_record_schema(), []
    return _extended(str(path), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _extended(path: str, _mtime: int) -> tuple[RecordSchema, list[Diagnostic]]:
    diagnostics: list[Diagnostic] = []
    text = Path(path).read_text(encoding="utf-8")
    try:
        document, duplicates = src.load_yaml(path, text)
    except src.YamlSyntaxError as error:
        return load_record_schema(), [Diagnostic("PE100", error.span, {"problem": error.problem})]
    diagnostics += [Diagnostic("PE407", d.span, {"key": d.key}) for d in duplicates]
    merged = _Merger(copy.deepcopy(_core_document()), diagnostics).merge(document, path)
    if diagnostics:
        return load_record_schema(), diagnostics
    try:
        return build_schema(merged), []
    except SchemaError as error:  # e.g. a new field whose navigation collides with another name
        return load_record_schema(), [Diagnostic("PE702", _span(document, path), {"field": "", "problem": str(error)})]


def _span(node: Any, path: str) -> src.Span:
    if isinstance(node, src.Span):
        return node
    return getattr(node, "span", None) or src.Span(path, 1, 1)


def _plain(node: Any) -> Any:
    """A composed YAML value without positions (what records.yaml parses to)."""
    if isinstance(node, src.Scalar):
        return node.value
    if isinstance(node, dict):
        return {key: _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(item) for item in node]
    return node


def _optional(declaration: Any) -> bool:
    if isinstance(declaration, dict):
        return "default" in declaration or str(declaration.get("type", "")).strip().endswith("?")
    return str(declaration).strip().endswith("?")


class _Merger:
    """Checks an extension document and adds it to a copy of the core document."""

    def __init__(self, core: dict[str, Any], diagnostics: list[Diagnostic]):
        self.core = core
        self.core_kinds = set(core["records"])
        self.diagnostics = diagnostics

    def error(self, code: str, node: Any, **args: Any) -> None:
        self.diagnostics.append(Diagnostic(code, _span(node, self.path), args))

    def mapping(self, node: Any, key: str, allowed: tuple[str, ...] | None = None) -> bool:
        if not isinstance(node, src.Mapping):
            self.error("PE403", node, key=key, expected="a mapping")
            return False
        for name in node if allowed is not None else ():
            if name not in allowed:
                self.error("PE401", node.key_spans[name], key=name, allowed=", ".join(allowed))
        return True

    def merge(self, document: Any, path: str) -> dict[str, Any]:
        self.path = path
        if document is None or not self.mapping(document, "<file>", TOP_KEYS):
            return self.core
        if document.get("enums") is not None and self.mapping(document["enums"], "enums"):
            for name, values in document["enums"].items():
                self.enum(name, values, document["enums"].key_spans[name])
        records = document.get("records")
        if records is not None and self.mapping(records, "records"):
            new_kinds = {name for name in records if name not in self.core_kinds}
            for name in new_kinds:  # new kinds first: fields of core kinds may hold them
                if self.name_ok(name, records.key_spans[name]):
                    self.core["records"][name] = {"fields": {}}
            for name, entry in records.items():
                self.kind(name, entry, records.key_spans[name])
        return self.core

    def name_ok(self, name: str, span: src.Span) -> bool:
        if NAME.fullmatch(name):
            return True
        self.error("PE403", span, key=name, expected="a lower-case identifier ([a-z][a-z0-9_]*)")
        return False

    def enum(self, name: str, values: Any, span: src.Span) -> None:
        if not self.name_ok(name, span) or not self.mapping(values, f"enums.{name}"):
            return
        existing = self.core["enums"].setdefault(name, {})
        spellings = {alias: value for value, aliases in existing.items() for alias in [value, *(aliases or [])]}
        for value, aliases in values.items():
            value_span = values.key_spans[value]
            if not self.name_ok(value, value_span):
                continue
            if value in existing:
                self.error("PE701", value_span, what=f"enums.{name}.{value}")
                continue
            aliases = _plain(aliases) or []
            if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
                self.error("PE403", value_span, key=f"enums.{name}.{value}", expected="a list of names (aliases)")
                continue
            for spelling in [value, *aliases]:
                if spelling in spellings:
                    self.error("PE703", value_span, name=spelling, enum=name, value=spellings[spelling])
                spellings[spelling] = value
            existing[value] = aliases

    def kind(self, name: str, entry: Any, span: src.Span) -> None:
        if not self.name_ok(name, span) or not self.mapping(entry, f"records.{name}", KIND_KEYS):
            return
        fields = entry.get("fields")
        if fields is None or not self.mapping(fields, f"records.{name}.fields"):
            return
        target = self.core["records"][name]["fields"]
        kinds = set(self.core["records"])
        for field_name, declaration in fields.items():
            field_span = fields.key_spans[field_name]
            if not self.name_ok(field_name, field_span):
                continue
            if field_name in target:
                self.error("PE701", field_span, what=f"{name}.{field_name}")
                continue
            plain = self.field(f"{name}.{field_name}", declaration, field_span, kinds)
            if plain is not None and name in self.core_kinds and not _optional(plain):
                # a required field would refuse records the core schema accepts: extensions only add
                self.error("PE704", field_span, field=f"{name}.{field_name}")
            elif plain is not None:
                target[field_name] = plain

    def field(self, where: str, declaration: Any, span: src.Span, kinds: set[str]) -> Any:
        if isinstance(declaration, src.Mapping):
            self.mapping(declaration, where, FIELD_KEYS)
            type_node = declaration.get("type")
        else:
            type_node = declaration
        if not isinstance(type_node, src.Scalar) or not isinstance(type_node.value, str):
            self.error("PE403", type_node if type_node is not None else span, key=f"{where}.type",
                       expected="a type (string, int?, list<ref:unit>, map<int,int>, a record kind …)")
            return None
        try:
            parse_spec(type_node.value.strip().removesuffix("?"), kinds, set(self.core["enums"]))
        except SchemaError as error:
            self.error("PE702", type_node, field=where, problem=str(error))
            return None
        plain = _plain(declaration)
        if isinstance(plain, dict):
            plain.pop("description", None)
        return plain
