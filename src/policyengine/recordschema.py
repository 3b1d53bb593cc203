"""Record schema: schema/records.yaml → RecordSchema (enums, kinds, fields, navigations, attrs classes, JSON Schema).

`schema/records.yaml` is the contract; everything here is derived from it. Each field has a language
type (`typesys.Type`, what the checker reasons about) and a `ValueSpec` (the stored shape, finer than the
language type: `int` vs `number`, `ref:<kind>` vs `string`), which the record loader validates against.

Navigations are attributes that hold records instead of ids, filled by the linker in `records.py`:
- forward: a `ref:<kind>` field `x_id` gives `x`; a `list<ref:<kind>>` field `x_ids` gives `xs`;
- reverse: the `reverse:` entries of a kind (the records of another kind whose `via` field names this one);
- parent: a sub-record kind held by exactly one kind (in one or more fields) gets a navigation back to its holder, named after
  the holder's kind (`membership.community`, `approval.expense`).

Regenerate the committed JSON Schema with `python -m policyengine.recordschema`.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import re
import sys
import types
from collections.abc import Mapping
from typing import Any

import attrs
import yaml

from policyengine import typesys

SCALAR_TAGS = ("string", "number", "int", "money", "bool", "date")
JSON_SCHEMA_FILE = "records.schema.json"


class SchemaError(Exception):
    """schema/records.yaml is inconsistent (a bug in the package, not in the user's records)."""


@attrs.frozen
class ValueSpec:
    """The stored shape of a value.

    tag: one of SCALAR_TAGS, or "enum" (arg = enum name), "ref" (arg = kind), "record" (arg = kind),
    "list" (element), "map" (key, value).
    """

    tag: str
    arg: str | None = None
    element: ValueSpec | None = None
    key: ValueSpec | None = None
    value: ValueSpec | None = None

    def __str__(self) -> str:
        if self.tag in ("enum", "ref"):
            return f"{self.tag}:{self.arg}"
        if self.tag == "record":
            return str(self.arg)
        if self.tag == "list":
            return f"list<{self.element}>"
        if self.tag == "map":
            return f"map<{self.key},{self.value}>"
        return self.tag


@attrs.frozen(eq=False)
class EnumDef:
    """An enum: its values (in schema order) and `aliases` mapping every accepted spelling → value."""

    name: str
    values: tuple[str, ...]
    aliases: Mapping[str, str]

    def normalise(self, text: str) -> str | None:
        """The enum value for a value or a Chinese alias, or None."""
        return self.aliases.get(text)


@attrs.frozen(eq=False)
class FieldDef:
    """A stored field. `optional`: may be absent (None at run time); a field with a default is never
    absent (`has_default`); `required` fields must be given."""

    name: str
    type: typesys.Type
    spec: ValueSpec
    optional: bool
    default: Any
    has_default: bool
    ref_kind: str | None
    is_int: bool
    is_id: bool
    alias: str | None = None           # another accepted spelling (a §1.5 name spelled differently here)
    school_year_of: str | None = None  # the date field whose school year this field names
    semester_of: str | None = None     # the date field whose semester this field names
    derived: bool = False              # the id of a kind with `derived_id`: may be absent, then derived
    unique_by: str | None = None       # list of sub-records: no two elements share this field
    refers_to: tuple[str, ...] = ()    # string field (or map keys) naming a record of one of these kinds

    @property
    def required(self) -> bool:
        return not self.optional and not self.has_default and not self.derived

    def default_value(self) -> Any:
        """A fresh copy of the default (maps are mutable dicts)."""
        return dict(self.default) if isinstance(self.default, dict) else self.default


@attrs.frozen(eq=False)
class NavDef:
    """A navigation attribute of a record, filled by the linker.

    direction "forward": `via` is this kind's ref field; "reverse": `via` is the field of `kind` that
    names this record's id (a ref, a list of refs, or a plain string such as assessment.subject_id);
    "parent": `via` is the field of the holder (`kind`) in which this sub-record is nested.
    `many`: a tuple of records (reverse lists in record order); else one record, None only when
    `optional`.
    """

    name: str
    type: typesys.Type
    kind: str
    via: str
    direction: str
    many: bool
    optional: bool


@attrs.frozen(eq=False)
class KindDef:
    """A record kind. Top-level kinds have a `collection` (and usually an `id_field`); sub-records
    (membership, agreement, …) have neither."""

    name: str
    collection: str | None
    id_field: str | None
    fields: Mapping[str, FieldDef]
    navigations: Mapping[str, NavDef]
    cls: type
    derived_id: tuple[str, ...] = ()  # key fields of the id derived for records that give none


@attrs.frozen(eq=False)
class RecordSchema:
    enums: Mapping[str, EnumDef]
    kinds: Mapping[str, KindDef]

    @property
    def collections(self) -> Mapping[str, KindDef]:
        """Top-level collection name → kind, in schema order."""
        return types.MappingProxyType({k.collection: k for k in self.kinds.values() if k.collection})

    def kind_of_collection(self, collection: str) -> KindDef | None:
        return self.collections.get(collection)

    def fields_of(self, kind: str | typesys.Type) -> Mapping[str, tuple[typesys.Type, bool]]:
        """Every attribute a policy may read on a record kind, fields and navigations alike →
        (language type, may be absent). Unknown kinds give an empty mapping."""
        definition = self.kinds.get(kind if isinstance(kind, str) else kind.name)
        if definition is None:
            return types.MappingProxyType({})
        readable = {name: (f.type, f.optional) for name, f in definition.fields.items()}
        readable.update({name: (nav.type, nav.optional) for name, nav in definition.navigations.items()})
        return types.MappingProxyType(readable)

    def collection_types(self) -> Mapping[str, typesys.Type]:
        """The record collections as globals of the language: `units` → list<unit>."""
        return types.MappingProxyType({name: typesys.list_of(typesys.record(kind.name))
                                       for name, kind in self.collections.items()})

    def json_schema(self) -> dict[str, Any]:
        return json_schema(self)


class Record:
    """Base of the generated record classes. `record_kind` and `id_field` are set per class."""

    __slots__ = ()
    record_kind: str = ""
    id_field: str | None = None
    field_names: tuple[str, ...] = ()

    @property
    def record_id(self) -> str | None:
        """The record's own id, or None for kinds without one (memberships, quality scores…)."""
        return getattr(self, self.id_field) if self.id_field else None


# ---------------------------------------------------------------------------------------- parsing


def _split_top_level(text: str) -> list[str]:
    """Split `K,V` at the comma that is not nested inside <…>."""
    depth = 0
    for i, char in enumerate(text):
        depth += {"<": 1, ">": -1}.get(char, 0)
        if char == "," and depth == 0:
            return [text[:i].strip(), text[i + 1:].strip()]
    raise SchemaError(f"map type needs two arguments: map<{text}>")


def parse_spec(text: str, kinds: set[str], enums: set[str]) -> ValueSpec:
    """Parse a type string of records.yaml (without the optional `?`)."""
    text = text.strip()
    if text in SCALAR_TAGS:
        return ValueSpec(text)
    if text.startswith("enum:"):
        name = text[5:]
        if name not in enums:
            raise SchemaError(f"unknown enum {name!r}")
        return ValueSpec("enum", name)
    if text.startswith("ref:"):
        return _kind_spec("ref", text[4:], kinds)
    match = re.fullmatch(r"(list|map)<(.*)>", text)
    if match and match.group(1) == "list":
        return ValueSpec("list", element=parse_spec(match.group(2), kinds, enums))
    if match:
        key, value = _split_top_level(match.group(2))
        key_spec = parse_spec(key, kinds, enums)
        if key_spec.tag not in ("string", "int"):
            raise SchemaError(f"map keys must be string or int: {text}")
        return ValueSpec("map", key=key_spec, value=parse_spec(value, kinds, enums))
    return _kind_spec("record", text, kinds)


def _kind_spec(tag: str, kind: str, kinds: set[str]) -> ValueSpec:
    if kind not in kinds:
        raise SchemaError(f"unknown record kind {kind!r}")
    return ValueSpec(tag, kind)


def language_type(spec: ValueSpec, enums: Mapping[str, EnumDef]) -> typesys.Type:
    """The policy language's type for a stored shape."""
    if spec.tag in SCALAR_TAGS:
        return typesys.SCALARS[spec.tag]
    if spec.tag == "enum":
        return typesys.enum(spec.arg, frozenset(enums[spec.arg].values))
    if spec.tag == "ref":
        return typesys.STRING
    if spec.tag == "record":
        return typesys.record(spec.arg)
    if spec.tag == "list":
        return typesys.list_of(language_type(spec.element, enums))
    return typesys.map_of(language_type(spec.key, enums), language_type(spec.value, enums))


def _parse_enum(name: str, raw: Mapping[str, Any]) -> EnumDef:
    aliases: dict[str, str] = {}
    for value, names in raw.items():
        for spelling in [value, *(names or [])]:
            if aliases.get(spelling, value) != value:
                raise SchemaError(f"enum {name}: {spelling!r} is an alias of two values")
            aliases[spelling] = value
    return EnumDef(name, tuple(raw), types.MappingProxyType(aliases))


def _parse_field(name: str, raw: Any, kinds: set[str], enums: Mapping[str, EnumDef]) -> FieldDef:
    entry = raw if isinstance(raw, dict) else {"type": raw}
    unknown = set(entry) - {"type", "id", "default", "alias", "school_year_of", "semester_of", "unique_by", "refers_to"}
    if unknown:
        raise SchemaError(f"field {name}: unknown keys {sorted(unknown)}")
    text = str(entry["type"]).strip()
    optional = text.endswith("?")
    spec = parse_spec(text.rstrip("?"), kinds, set(enums))
    has_default = "default" in entry
    ref_spec = spec.element if spec.tag == "list" else spec
    return FieldDef(
        name=name,
        type=language_type(spec, enums),
        spec=spec,
        optional=optional,
        default=_runtime_default(spec, entry.get("default")) if has_default else None,
        has_default=has_default,
        ref_kind=ref_spec.arg if ref_spec.tag == "ref" else None,
        is_int=spec.tag == "int",
        is_id=bool(entry.get("id")),
        alias=entry.get("alias"),
        school_year_of=entry.get("school_year_of"),
        semester_of=entry.get("semester_of"),
        unique_by=entry.get("unique_by"),
        refers_to=tuple(entry.get("refers_to") or ()),
    )


def _runtime_default(spec: ValueSpec, value: Any) -> Any:
    if spec.tag == "list":
        return tuple(value)
    if spec.tag == "map":
        if value:
            raise SchemaError("only empty map defaults are supported")
        return {}
    return value


# ------------------------------------------------------------------------------------ navigations


def _forward_navigations(fields: Mapping[str, FieldDef]) -> list[NavDef]:
    navs = []
    for field in fields.values():
        if field.ref_kind is None:
            continue
        target = typesys.record(field.ref_kind)
        if field.spec.tag == "ref" and field.name.endswith("_id"):
            navs.append(NavDef(field.name[:-3], target, field.ref_kind, field.name, "forward",
                               many=False, optional=field.optional))
        elif field.spec.tag == "list" and field.name.endswith("_ids"):
            navs.append(NavDef(field.name[:-4] + "s", typesys.list_of(target), field.ref_kind,
                               field.name, "forward", many=True, optional=False))
    return navs


def _reverse_navigations(kind: str, raw: Mapping[str, Any], raw_kinds: Mapping[str, Any]) -> list[NavDef]:
    navs = []
    for name, entry in (raw or {}).items():
        other, via = entry["kind"], entry["via"]
        if via not in raw_kinds.get(other, {}).get("fields", {}):
            raise SchemaError(f"{kind}.{name}: {other} has no field {via!r}")
        navs.append(NavDef(name, typesys.list_of(typesys.record(other)), other, via, "reverse",
                           many=True, optional=False))
    return navs


def _parent_navigations(parsed_fields: Mapping[str, Mapping[str, FieldDef]]) -> dict[str, list[NavDef]]:
    """Sub-record kind → [NavDef back to its holder], when exactly one kind holds it."""
    holders: dict[str, set[tuple[str, str]]] = {}
    for holder, fields in parsed_fields.items():
        for field in fields.values():
            spec = field.spec.element if field.spec.tag == "list" else field.spec
            if spec.tag == "record":
                holders.setdefault(spec.arg, set()).add((holder, field.name))
    navs: dict[str, list[NavDef]] = {}
    for kind, held_by in holders.items():
        holder_kinds = {holder for holder, _ in held_by}
        if len(holder_kinds) == 1:  # one holder kind, possibly in several of its fields
            (holder,) = holder_kinds
            via = ",".join(sorted(field for _, field in held_by))
            navs[kind] = [NavDef(holder, typesys.record(holder), holder, via, "parent",
                                 many=False, optional=False)]
    return navs


# ---------------------------------------------------------------------------------- attrs classes


def class_name(kind: str) -> str:
    return "".join(part.capitalize() for part in kind.split("_"))


def _make_class(kind: str, id_field: str | None, fields: Mapping[str, FieldDef],
                navigations: Mapping[str, NavDef]) -> type:
    attributes: dict[str, Any] = {}
    for name in fields:
        attributes[name] = attrs.field(default=None, kw_only=True)
    for name in navigations:
        attributes[name] = attrs.field(default=None, kw_only=True, repr=False)
    cls = attrs.make_class(class_name(kind), attributes, bases=(Record,), slots=True, eq=False)
    cls.record_kind = kind
    cls.id_field = id_field
    cls.field_names = tuple(fields)  # schema fields, without navigations (records.canonical_key)
    cls.__module__ = "policyengine.records"
    cls.__doc__ = f"A {kind} record (generated from schema/records.yaml)."
    return cls


# ------------------------------------------------------------------------------------------ build


def build_schema(raw: Mapping[str, Any]) -> RecordSchema:
    """Build the model from the parsed records.yaml document."""
    enums = {name: _parse_enum(name, values) for name, values in raw["enums"].items()}
    raw_kinds = raw["records"]
    kind_names = set(raw_kinds)
    parsed = {kind: {name: _parse_field(name, spec, kind_names, enums)
                     for name, spec in entry["fields"].items()}
              for kind, entry in raw_kinds.items()}
    parents = _parent_navigations(parsed)
    kinds = {}
    for kind, entry in raw_kinds.items():
        unknown = set(entry) - {"collection", "fields", "reverse", "derived_id"}
        if unknown:
            raise SchemaError(f"record kind {kind}: unknown keys {sorted(unknown)}")
        kinds[kind] = _build_kind(kind, entry, parsed[kind], parents.get(kind, []), raw_kinds)
    return RecordSchema(types.MappingProxyType(enums), types.MappingProxyType(kinds))


def _build_kind(kind: str, entry: Mapping[str, Any], fields: Mapping[str, FieldDef],
                parents: list[NavDef], raw_kinds: Mapping[str, Any]) -> KindDef:
    ids = [f.name for f in fields.values() if f.is_id]
    if len(ids) > 1:
        raise SchemaError(f"record kind {kind}: more than one id field")
    navs: dict[str, NavDef] = {}
    for nav in [*_forward_navigations(fields), *_reverse_navigations(kind, entry.get("reverse"), raw_kinds),
                *parents]:
        if nav.name in fields or nav.name in navs:
            raise SchemaError(f"record kind {kind}: navigation {nav.name!r} collides with another name")
        navs[nav.name] = nav
    id_field = ids[0] if ids else None
    if entry.get("reverse") and id_field is None:
        raise SchemaError(f"record kind {kind}: reverse navigations need an id field")
    derived_id = tuple(entry.get("derived_id") or ())
    fields = _with_derived_id(kind, dict(fields), id_field, derived_id)
    _check_field_links(kind, fields)
    cls = _make_class(kind, id_field, fields, navs)
    return KindDef(kind, entry.get("collection"), id_field, types.MappingProxyType(fields),
                   types.MappingProxyType(navs), cls, derived_id)


def _with_derived_id(kind: str, fields: dict[str, FieldDef], id_field: str | None,
                     derived_id: tuple[str, ...]) -> dict[str, FieldDef]:
    if not derived_id:
        return fields
    if id_field is None or any(name not in fields for name in derived_id):
        raise SchemaError(f"record kind {kind}: derived_id needs an id field and names only its fields")
    fields[id_field] = attrs.evolve(fields[id_field], derived=True)
    return fields


def _check_field_links(kind: str, fields: Mapping[str, FieldDef]) -> None:
    """alias, school_year_of and semester_of name things that exist."""
    names = set(fields)
    for field in fields.values():
        if field.alias and (field.alias in names or sum(f.alias == field.alias for f in fields.values()) > 1):
            raise SchemaError(f"record kind {kind}: alias {field.alias!r} collides with another name")
        for target, tag in ((field.school_year_of, "int"), (field.semester_of, "string")):
            if target and (fields.get(target) is None or fields[target].spec.tag != "date" or field.spec.tag != tag):
                raise SchemaError(f"record kind {kind}: {field.name} must be {tag} and name a date field")


@functools.cache
def load_record_schema() -> RecordSchema:
    """The package's record schema (schema/records.yaml), parsed once."""
    source = importlib.resources.files("policyengine") / "schema" / "records.yaml"
    # the package's own file: libyaml's parser (same safe constructor, ~9× faster) when PyYAML has it
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return build_schema(yaml.load(source.read_text(encoding="utf-8"), Loader=loader))  # noqa: S506 (a safe loader)


# ------------------------------------------------------------------------------------ JSON Schema

DECIMAL_PATTERN = r"^[+-]?[0-9]+(\.[0-9]+)?$"
INT_PATTERN = r"^[+-]?[0-9]+$"
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


def _json_value(spec: ValueSpec) -> dict[str, Any]:
    """The JSON Schema of one stored shape (as the record loader accepts it)."""
    if spec.tag in ("number", "money"):
        return {"anyOf": [{"type": "number"}, {"type": "string", "pattern": DECIMAL_PATTERN}]}
    if spec.tag == "int":
        return {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": INT_PATTERN}]}
    if spec.tag == "date":
        return {"type": "string", "format": "date", "pattern": DATE_PATTERN}
    if spec.tag in ("string", "ref"):
        return {"type": "string"}
    if spec.tag == "bool":
        return {"type": "boolean"}
    if spec.tag == "enum":
        return {"$ref": f"#/$defs/enum.{spec.arg}"}
    if spec.tag == "record":
        return {"$ref": f"#/$defs/record.{spec.arg}"}
    if spec.tag == "list":
        return {"type": "array", "items": _json_value(spec.element)}
    schema: dict[str, Any] = {"type": "object", "additionalProperties": _json_value(spec.value)}
    if spec.key.tag == "int":
        schema["propertyNames"] = {"pattern": INT_PATTERN}
    return schema


def _json_field(field: FieldDef) -> dict[str, Any]:
    schema = _json_value(field.spec)
    if field.spec.tag == "ref":
        schema = {**schema, "description": f"id of a {field.spec.arg}"}
    if field.spec.tag == "list" and field.ref_kind:
        schema = {**schema, "description": f"ids of {field.ref_kind} records"}
    if field.required:
        return schema
    if field.has_default:
        schema = {**schema, "default": _json_default(field.default)}
    if isinstance(schema.get("type"), str):
        return {**schema, "type": [schema["type"], "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


def _json_default(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


SEMESTER_PATTERN = r"^[0-9]{4}-([0-9]{4}-[12]|autumn|spring)$"


def _json_kind(kind: KindDef) -> dict[str, Any]:
    properties = {}
    for name, field in kind.fields.items():
        properties[name] = _json_field(field)
        if field.semester_of:
            properties[name] = {"type": ["string", "null"], "pattern": SEMESTER_PATTERN}
        if field.alias:
            properties[field.alias] = {**properties[name], "description": f"the same as {name}"}
    return {
        "type": "object",
        "title": kind.name,
        "properties": properties,
        "required": [name for name, field in kind.fields.items() if field.required],
        "additionalProperties": False,
    }


def json_schema(schema: RecordSchema | None = None) -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a record file: an object of the top-level collections."""
    schema = schema or load_record_schema()
    defs: dict[str, Any] = {}
    for enum in schema.enums.values():
        defs[f"enum.{enum.name}"] = {"enum": list(enum.aliases), "description": "values: " + ", ".join(enum.values)}
    for kind in schema.kinds.values():
        defs[f"record.{kind.name}"] = _json_kind(kind)
    collections = {
        name: {"type": ["array", "null"], "items": {"$ref": f"#/$defs/record.{kind.name}"}}
        for name, kind in schema.collections.items()
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "policyengine records",
        "description": "Community records evaluated by policyengine; generated from schema/records.yaml. "
                       "Enums accept their values and their Chinese aliases; null means absent.",
        "type": "object",
        "properties": collections,
        "additionalProperties": False,
        "$defs": defs,
    }


def json_schema_text() -> str:
    """The committed schema/records.schema.json, byte for byte."""
    return json.dumps(json_schema(), ensure_ascii=False, indent=2) + "\n"


def main() -> None:
    target = importlib.resources.files("policyengine") / "schema" / JSON_SCHEMA_FILE
    with importlib.resources.as_file(target) as path:
        path.write_text(json_schema_text(), encoding="utf-8")
        sys.stdout.write(f"wrote {path}\n")


if __name__ == "__main__":
    main()
