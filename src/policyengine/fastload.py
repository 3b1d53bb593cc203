"""Fast record loading: the common case of `records.load_records`, giving the same RecordSet in a
fraction of the time (issue 15.4).

`load(schema, sources, limits)` returns the RecordSet that the full loader would return, or None when
the input is not the common case: a source it does not read itself (YAML, CSV, xlsx, stdin), a record
error of any kind, or anything surprising. On None, `load_records` runs the full loader from scratch,
so every error (code, message, file, record, field) is the full loader's, unchanged.

Three stages, each the fast twin of one in records.py:
1. read: JSON files through the C decoder without hooks. Duplicate keys are ruled out by counting: the
   keys of every object the converter visits must add up to the number of `:` in the file (an upper
   bound on the keys written; a rarer second count is tighter). Any shortfall hands the file to the
   full reader, which names both positions.
2. convert: per record kind, Python source generated once per schema (core or extended) converts the
   common forms of each field inline (a str for a string, a known id for a ref, `"12.50"` for money, an
   ISO date, ...). Any other value goes through the full converter of records.py with a context whose
   `error` raises `_Unusual`: a value is either converted exactly as the full loader converts it, or
   the whole load falls back.
3. build: lists in canonical order, parent navigations, the index and the forward and reverse
   navigations, as records._build does, with the loops generated per kind.

`source(schema)` shows the generated code.
"""

from __future__ import annotations

import functools
import gc
import json
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from operator import attrgetter
from pathlib import Path
from typing import Any, Callable

import attrs

from policyengine import recordio, records
from policyengine.recordio import RecordLimits
from policyengine.recordschema import KindDef, RecordSchema, ValueSpec


class _Unusual(Exception):
    """Not the common case: the full loader decides (and reports)."""


@attrs.define
class _Strict(records._Context):
    """The full converters' context, for values the fast path does not convert inline: an error means
    the load is not the common case."""

    def error(self, code: str, field: str | None, zh: str, en: str) -> object:
        raise _Unusual(code)


def load(schema: RecordSchema, sources: Any, limits: RecordLimits) -> records.RecordSet | None:
    """The RecordSet of `sources`, or None when the full loader must run."""
    collecting = gc.isenabled()
    gc.disable()  # the load builds ~50 objects per record and no garbage: collections would rescan them all
    try:
        return load_strict(schema, sources, limits)
    except Exception:  # _Unusual, or a surprise: the full loader reads the sources again and decides
        return None
    finally:
        if collecting:
            gc.enable()


def load_strict(schema: RecordSchema, sources: Any, limits: RecordLimits) -> records.RecordSet:
    """As `load`, raising _Unusual (or whatever went wrong) instead of returning None (for tests)."""
    documents = _documents(sources, limits)
    run = _Run(schema, limits, documents)
    collections = run.convert()
    return run.build(collections)


# --------------------------------------------------------------------------------------- reading


def _documents(sources: Any, limits: RecordLimits) -> list[tuple[Any, bytes | None]]:
    """(document, the JSON bytes it was decoded from or None) per source: Python mappings and JSON
    files only."""
    if isinstance(sources, (str, os.PathLike, Mapping)):
        sources = [sources]
    if not isinstance(sources, Iterable):
        raise _Unusual("source")
    documents = []
    for source in sources:
        if isinstance(source, Mapping):
            documents.append((source, None))
        elif isinstance(source, (str, os.PathLike)) and str(source) != "-" and \
                Path(source).suffix.lower() == ".json":
            documents.append(_read_json(Path(source), limits))
        else:
            raise _Unusual("source")
    return documents


def _read_json(path: Path, limits: RecordLimits) -> tuple[Any, bytes]:
    """As recordio.read_text and parse_json, without hooks: numbers too long for the limits stay ints
    or Decimals here, and the converter's bounds send them to the full loader."""
    if os.stat(path).st_size > limits.max_file_bytes:
        raise _Unusual("too large")
    with open(path, "rb") as handle:
        data = handle.read()
    decoder = json.JSONDecoder(parse_float=lambda text: recordio.exact_decimal(text, limits),
                               parse_constant=_reject_constant)
    try:
        return decoder.decode(data.decode("utf-8-sig")), data
    except (ValueError, RecursionError) as error:  # syntax, encoding, an int over 4,300 digits, depth
        raise _Unusual("unreadable") from error


def _reject_constant(name: str) -> Any:
    raise _Unusual(name)


_KEY_END = re.compile(rb'"[ \t\n\r]*:')


def _check_keys(data: bytes, keys: int) -> None:
    """No duplicate key in the file: every key written was seen (`keys`: the lengths of every object
    visited; a duplicate makes an object shorter than its text)."""
    if data.count(b":") != keys and len(_KEY_END.findall(data)) != keys:
        raise _Unusual("keys")


# ---------------------------------------------------------------------------------- one load


class _Run:
    """The state of one load: the raw collections, the known ids, the generated functions."""

    def __init__(self, schema: RecordSchema, limits: RecordLimits, documents: list[tuple[Any, bytes | None]]):
        self.schema, self.limits, self.documents = schema, limits, documents
        self.raw: dict[str, list] = {name: [] for name in schema.collections}
        for document, _ in documents:
            for name, items in _collections(document):
                if name not in self.raw:
                    raise _Unusual("collection")
                self.raw[name].extend(items)
        self.ids = _known_ids(schema, self.raw)
        self.out: dict[str, list] = {kind: [] for kind in schema.kinds}
        self.count = [0]
        self.functions = _program(schema).factory(_environment(self))

    def convert(self) -> dict[str, list]:
        collections: dict[str, list] = {name: [] for name in self.schema.collections}
        convert = self.functions["convert"]
        for document, data in self.documents:
            self.count[0] = len(document) if document is not None else 0
            for name, items in _collections(document):
                collections[name].extend(map(convert[self.schema.collections[name].name], items))
            if data is not None:
                _check_keys(data, self.count[0])
        for name, kind in self.schema.collections.items():
            _check_ids(kind, collections[name])
        return collections

    def build(self, collections: dict[str, list]) -> records.RecordSet:
        walk, schema = self.functions["walk"], self.schema
        for name, kind in schema.collections.items():
            recs = collections[name]
            if kind.id_field:  # every id is a distinct string: canonical order is id order
                recs.sort(key=attrgetter(kind.id_field))
            else:
                recs[:] = records._canonical(tuple(recs))
            if kind.name in walk:
                for record in recs:
                    walk[kind.name](record)
            else:
                self.out[kind.name].extend(recs)
        instances = self.out
        index = {kind.name: dict(zip(map(attrgetter(kind.id_field), instances[kind.name]), instances[kind.name]))
                 for kind in schema.kinds.values() if kind.id_field}
        groups = {key: group(instances[key[0]]) for key, group in self.functions["group"].items()}
        for name, link in self.functions["link"].items():
            link(instances[name], index, groups)
        return records.RecordSet(**{name: tuple(recs) for name, recs in collections.items()},
                                 instances={kind: tuple(recs) for kind, recs in instances.items()},
                                 index=index, schema=schema)


def _collections(document: Any) -> Iterable[tuple[str, list]]:
    """(collection name, its list of raw records) of a document, as records._gather accepts them."""
    if document is None:
        return ()
    if not isinstance(document, Mapping):
        raise _Unusual("document")
    parts = []
    for name, items in document.items():
        if type(name) is not str or (items is not None and type(items) is not list):
            raise _Unusual("collection")
        if items is not None:
            parts.append((name, items))
    return parts


def _known_ids(schema: RecordSchema, raw: Mapping[str, list]) -> dict[str, set[str]]:
    """As records._known_ids (every string id given, and the values of `kind.field` targets)."""
    ids = {kind.name: _strings(raw[name], kind.id_field) if kind.id_field else set()
           for name, kind in schema.collections.items()}
    for target in {t for k in schema.kinds.values() for f in k.fields.values() for t in f.refers_to if "." in t}:
        kind_name, field = target.split(".", 1)
        ids[target] = _strings(raw[schema.kinds[kind_name].collection], field)
    return ids


def _strings(items: list, field: str) -> set[str]:
    if set(map(type, items)) - {dict}:
        raise _Unusual("record")  # not a dict: the full loader reports or converts it
    return {value for item in items if isinstance(value := item.get(field), str)}


def _check_ids(kind: KindDef, recs: list) -> None:
    """Derived ids (records._derive_id), then no id twice (given or derived)."""
    if not kind.id_field:
        return
    if kind.derived_id:
        key = attrgetter(*kind.derived_id) if len(kind.derived_id) > 1 else (lambda r: (getattr(r, kind.derived_id[0]),))
        for record in recs:
            if getattr(record, kind.id_field) is None:
                setattr(record, kind.id_field, ":".join([kind.name, *map(records._id_part, key(record))]))
    ids = list(map(attrgetter(kind.id_field), recs))
    if len(set(ids)) != len(ids):
        raise _Unusual(records.DUPLICATE_ID)


# ------------------------------------------------------------------------- the generated program


def _environment(run: _Run) -> dict[str, Any]:
    """Everything the generated functions of one load refer to: the schema's constants, this load's
    ids and caches, and the full converters bound to a strict context."""
    program = _program(run.schema)
    limits, strict = run.limits, _Strict(run.schema, run.ids, [], run.limits)
    digits, exponent = limits.max_number_digits, limits.max_number_exponent
    # numbers within these bounds are exact and within the limits without further checks (see
    # records._in_range and recordio.exact_int/exact_decimal)
    int_bound = 10 ** min(15, digits) if digits >= 1 else 0
    chars = min(digits, exponent + 1)
    env = dict(program.constants)
    env.update({f"IDS_{name.replace('.', '__')}": ids for name, ids in run.ids.items()})
    env.update({f"KNOWN_{i}": set().union(*(run.ids[k] for k in field.refers_to))
                for i, field in enumerate(program.linked)})
    env.update({f"OUT_{kind}": out for kind, out in run.out.items()})

    def slow(spec: ValueSpec, value: Any) -> Any:
        return records._convert(spec, value, "", strict)

    caches: dict[str, dict] = {name: {} for name in ("NUMBERS", "MONEY", "DATES", "INT_KEYS")}

    def map_key(spec: ValueSpec, key: Any) -> Any:
        return records._map_key(spec, key, "", strict)

    def text_converter(cache: str, pattern: re.Pattern, longest: int, make: Callable[[str], Any],
                       fallback: Callable[[ValueSpec, Any], Any] = slow):
        """The common spelling of a value converted (and remembered), any other by the full converter."""
        def convert(text: str, spec: ValueSpec) -> Any:
            if len(text) > longest or not pattern.fullmatch(text):
                return fallback(spec, text)
            try:
                value = make(text)
            except ValueError:  # an impossible date
                return fallback(spec, text)
            caches[cache][text] = value
            return value
        return convert

    env.update(caches)
    env.update({
        "COUNT": run.count, "INT_BOUND": int_bound, "MONEY_BOUND": 10 ** chars if chars >= 1 else 0,
        "slow": slow, "Decimal": Decimal, "date": date, "new": object.__new__,
        "number_text": text_converter("NUMBERS", _DECIMAL, chars, Decimal),
        "money_text": text_converter("MONEY", _FEN, chars, Decimal),
        "date_text": text_converter("DATES", _DATE, 10, date.fromisoformat),
        "int_key": text_converter("INT_KEYS", _INT, 15, int, map_key), "map_key": map_key,
        "to_semester": lambda value: records._to_semester(value, "", strict),
        "check_periods": lambda kind, values: records._check_periods(kind, values, "", strict),
        "bail": _bail, "canon": records._canonical, "children": records._children,
        "adopt": lambda record, field, child: _adopt(run, record, field, child),
        "dict_fromkeys": dict.fromkeys, "defaultdict": defaultdict, "id_part": records._id_part,
    })
    return env


def _bail(reason: str = "") -> Any:
    raise _Unusual(reason)


def _adopt(run: _Run, record: Any, field: str, child: Any) -> None:
    """A sub-record held other than directly or in a list (in a map): as records._walk."""
    parent = run.schema.kinds[child.record_kind].navigations.get(record.record_kind)
    if parent is not None and parent.direction == "parent" and field in parent.via.split(","):
        setattr(child, parent.name, record)
    records._walk(run.schema, child, run.out)


_DECIMAL = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
_FEN = re.compile(r"[+-]?[0-9]+(?:\.[0-9]{1,2})?")     # money exact to the fen
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_INT = re.compile(r"[+-]?[0-9]+")


@attrs.frozen(eq=False)
class _Program:
    factory: Callable[[dict], dict]
    constants: Mapping[str, Any]
    linked: tuple   # the fields with refers_to, in KNOWN_<i> order
    source: str


def source(schema: RecordSchema | None = None) -> str:
    """The generated Python source for a schema (for reading and debugging)."""
    return _program(schema or records.load_record_schema()).source


@functools.cache
def _program(schema: RecordSchema) -> _Program:
    generator = _Generator(schema)
    text = generator.program()
    namespace: dict[str, Any] = {}
    exec(compile(text, "<policyengine.fastload generated>", "exec"), namespace)
    return _Program(namespace["factory"], generator.constants, tuple(generator.linked), text)


class _Generator:
    """Writes `factory(env)`, which returns this load's functions: `convert[kind](raw) → record`,
    `walk[kind](record)`, `group[(kind, via)](records) → {id: [records]}` and
    `link[kind](records, index, groups)`."""

    def __init__(self, schema: RecordSchema):
        self.schema = schema
        self.constants: dict[str, Any] = {}
        self.linked: list = []
        self.temp = 0
        self.nested = _nested_kinds(schema)  # derived ids are given to top-level records only
        self.keys: dict[str, list[str]] = {}  # sort keys of sub-record kinds, written by sort_key
        self.walked = frozenset(k.name for k in schema.kinds.values() if _list_fields(k) or _holding(k))

    def constant(self, prefix: str, value: Any) -> str:
        name = f"{prefix}_{len(self.constants)}"
        self.constants[name] = value
        return name

    def fresh(self, prefix: str) -> str:
        self.temp += 1
        return f"_{prefix}{self.temp}"

    def program(self) -> str:
        body = []
        for kind in self.schema.kinds.values():
            body += self.converter(kind)
        walkers = [kind for kind in self.schema.kinds.values() if _list_fields(kind) or _holding(kind)]
        for kind in walkers:
            body += self.walker(kind)
        for key in self.keys.values():
            body += key
        groups = _reverse_groups(self.schema)
        for (other, via), many in groups.items():
            body += self.grouper(other, via, many)
        linked = [kind for kind in self.schema.kinds.values() if kind.navigations and _linked_navs(kind)]
        for kind in linked:
            body += self.linker(kind)
        names = sorted(self.constants) + ["COUNT", "INT_BOUND", "MONEY_BOUND", "NUMBERS", "MONEY", "DATES",
                                          "INT_KEYS", "slow", "Decimal", "date", "new", "number_text",
                                          "money_text", "date_text", "int_key", "map_key", "to_semester",
                                          "check_periods", "bail", "canon", "children", "adopt",
                                          "dict_fromkeys", "defaultdict", "id_part"]
        names += [f"IDS_{kind.name}" for kind in self.schema.collections.values()]
        names += sorted({f"IDS_{t.replace('.', '__')}" for k in self.schema.kinds.values()
                         for f in k.fields.values() for t in f.refers_to if "." in t})
        names += [f"KNOWN_{i}" for i in range(len(self.linked))]
        names += [f"OUT_{kind}" for kind in self.schema.kinds]
        lines = ["def factory(env):"]
        lines += [f"    {name} = env[{name!r}]" for name in names]
        lines += ["    " + line for line in body]
        convert = ", ".join(f"{k!r}: convert_{k}" for k in self.schema.kinds)
        walk = ", ".join(f"{k.name!r}: walk_{k.name}" for k in walkers)
        group = ", ".join(f"({o!r}, {v!r}): group_{o}__{v}" for o, v in groups)
        link = ", ".join(f"{k.name!r}: link_{k.name}" for k in linked)
        lines.append(f"    return {{'convert': {{{convert}}}, 'walk': {{{walk}}}, 'group': {{{group}}}, "
                     f"'link': {{{link}}}}}")
        return "\n".join(lines) + "\n"

    # ---------------------------------------------------------------------------- converting

    def converter(self, kind: KindDef) -> list[str]:
        """convert_<kind>(raw): records._convert_record's common case."""
        spec = self.constant("RECORD", ValueSpec("record", kind.name))
        known = self.constant("FIELDS", frozenset([*kind.fields, *(f.alias for f in kind.fields.values() if f.alias)]))
        lines = [f"def convert_{kind.name}(raw):",
                 f"    if type(raw) is not dict: return slow({spec}, raw)",
                 "    COUNT[0] += len(raw)",
                 f"    if not {known}.issuperset(raw): bail('field')",
                 "    get = raw.get",
                 f"    o = new({self.constant('CLASS', kind.cls)})"]
        for field in kind.fields.values():
            lines += ["    " + line for line in self.field(field)]
        for nav in kind.navigations.values():
            if nav.direction == "parent":  # set by walk when held as the schema says; None otherwise
                lines.append(f"    o.{nav.name} = None")
        periods = records._period_fields(kind)
        if periods:
            names = sorted({name for f in periods for name in (f.name, f.school_year_of or f.semester_of)})
            given = " or ".join(f"o.{f.name} is not None" for f in periods)
            values = ", ".join(f"{name!r}: o.{name}" for name in names)
            lines.append(f"    if {given}: check_periods({self.constant('KIND', kind)}, {{{values}}})")
        if kind.derived_id and kind.collection and kind.name not in self.nested:
            parts = " + ':' + ".join(self.id_part(kind.fields[name]) for name in kind.derived_id)
            lines.append(f"    if o.{kind.id_field} is None: o.{kind.id_field} = {kind.name + ':'!r} + {parts}")
        lines.append("    return o")
        return lines

    def id_part(self, field: Any) -> str:
        """records._id_part of a key field's value, for a record without errors."""
        if field.required and field.spec.tag in ("string", "ref", "enum"):
            return f"o.{field.name}"
        if field.required and field.spec.tag == "int":
            return f"str(o.{field.name})"
        return f"id_part(o.{field.name})"

    def field(self, field: Any) -> list[str]:
        lines = [f"v = get({field.name!r})"]
        if field.alias:  # records._field_value
            lines += [f"if get({field.alias!r}) is not None:",
                      "    if v is not None: bail('alias')",
                      f"    v = raw[{field.alias!r}]"]
        lines.append("if v is None:")
        if field.required:
            lines.append("    bail('missing')")
        elif field.has_default:
            default = "{}" if isinstance(field.default, dict) else self.constant("DEFAULT", field.default)
            lines.append(f"    v = {default}")
        else:
            lines.append("    pass")
        lines.append("else:")
        if field.semester_of:
            body = ["v = to_semester(v)"]
        else:
            body = self.value(field.spec, "v")
        if field.is_id:
            body.append("if v == '': bail('empty id')")
        if field.unique_by:
            body += [f"_keys = [x.{field.unique_by} for x in v if x.{field.unique_by} is not None]",
                     "if len(set(_keys)) != len(_keys): bail('member')"]
        if field.refers_to:
            known = f"KNOWN_{len(self.linked)}"
            self.linked.append(field)
            body.append(f"if not {known}.issuperset(v): bail('reference')" if field.spec.tag == "map"
                        else f"if v not in {known}: bail('reference')")
        lines += ["    " + line for line in body]
        lines.append(f"o.{field.name} = v")
        return lines

    def value(self, spec: ValueSpec, var: str) -> list[str]:
        """Statements that replace `var` (not None) by its runtime value: the common forms inline, any
        other through the full converter."""
        s = self.constant("SPEC", spec)
        slow = f"{var} = slow({s}, {var})"
        tag = spec.tag
        if tag == "string":
            return [f"if type({var}) is not str: {slow}"]
        if tag == "ref":
            return [f"if type({var}) is not str or {var} not in IDS_{spec.arg}: {slow}"]
        if tag == "bool":
            return [f"if type({var}) is not bool: {slow}"]
        if tag == "int":
            return [f"if type({var}) is not int or not -INT_BOUND < {var} < INT_BOUND: {slow}"]
        if tag == "enum":
            aliases = self.aliases(spec.arg)
            found = self.fresh("e")
            return [f"{found} = {aliases}.get({var}) if type({var}) is str else None",
                    f"{var} = {found} if {found} is not None else slow({s}, {var})"]
        if tag in ("number", "money", "date"):
            return self.scalar_text(tag, spec, var, s, slow)
        if tag == "record":
            return [f"{var} = convert_{spec.arg}({var})"]
        if tag == "list":
            return self.list_value(spec, var, s, slow)
        return self.map_value(spec, var, slow)

    def aliases(self, enum: str) -> str:
        """An enum's spellings that need no strip() (records._to_enum strips the value first)."""
        return self.constant("ALIASES", {a: v for a, v in self.schema.enums[enum].aliases.items() if a == a.strip()})

    def scalar_text(self, tag: str, spec: ValueSpec, var: str, s: str, slow: str) -> list[str]:
        cache = {"number": "NUMBERS", "money": "MONEY", "date": "DATES"}[tag]
        found = self.fresh("c")
        lines = [f"if type({var}) is str:",
                 f"    {found} = {cache}.get({var})",
                 f"    {var} = {found} if {found} is not None else {tag}_text({var}, {s})"]
        if tag == "number":
            lines.append(f"elif type({var}) is not int or not -INT_BOUND < {var} < INT_BOUND: {slow}")
        elif tag == "money":
            lines += [f"elif type({var}) is int and -MONEY_BOUND < {var} < MONEY_BOUND: {var} = Decimal({var})",
                      f"else: {slow}"]
        else:
            lines.append(f"elif type({var}) is not date: {slow}")
        return lines

    def list_value(self, spec: ValueSpec, var: str, s: str, slow: str) -> list[str]:
        element = spec.element
        lines = [f"if type({var}) is not list: {slow}"]
        if element.tag in ("string", "ref"):
            known = f" and IDS_{element.arg}.issuperset({var})" if element.tag == "ref" else ""
            return lines + [f"elif {{str}}.issuperset(map(type, {var})){known}: {var} = tuple({var})",
                            f"else: {slow}"]
        if element.tag == "enum":
            item = self.fresh("x")
            return lines + ["else:", "    try:",
                            f"        {var} = tuple([{self.aliases(element.arg)}[{item}] for {item} in {var}])",
                            "    except (KeyError, TypeError):",
                            f"        {slow}"]
        if element.tag == "record":
            item = self.fresh("x")
            return lines + [f"else: {var} = tuple([convert_{element.arg}({item}) for {item} in {var}])"]
        item, out = self.fresh("x"), self.fresh("l")
        return lines + ["else:", f"    {out} = []", f"    for {item} in {var}:"] + \
            ["        " + line for line in self.value(element, item)] + \
            [f"        {out}.append({item})", f"    {var} = tuple({out})"]

    def map_value(self, spec: ValueSpec, var: str, slow: str) -> list[str]:
        key, item, out = self.fresh("k"), self.fresh("x"), self.fresh("m")
        key_spec = self.constant("SPEC", spec.key)
        if spec.key.tag == "int":
            found = self.fresh("c")
            key_lines = [f"if type({key}) is str:",
                         f"    {found} = INT_KEYS.get({key})",
                         f"    {key} = {found} if {found} is not None else int_key({key}, {key_spec})",
                         f"elif type({key}) is not int: {key} = map_key({key_spec}, {key})"]
        else:
            key_lines = [f"if type({key}) is not str: {key} = map_key({key_spec}, {key})"]
        return [f"if type({var}) is not dict: {slow}", "else:",
                f"    COUNT[0] += len({var})",
                f"    {out} = {{}}",
                f"    for {key}, {item} in {var}.items():"] + \
            ["        " + line for line in key_lines] + \
            [f"        if {item} is None: bail('null')"] + \
            ["        " + line for line in self.value(spec.value, item)] + \
            [f"        {out}[{key}] = {item}", f"    {var} = {out}"]

    # ------------------------------------------------------------------------------ building

    def walker(self, kind: KindDef) -> list[str]:
        """walk_<kind>(record): records._walk (canonical lists, then the record, then its sub-records)."""
        lines = [f"def walk_{kind.name}(r):"]
        for name in _list_fields(kind):
            key = self.sort_key(kind.fields[name])
            order = f"tuple(sorted(t, key={key}))" if key else "canon(t)"
            lines += [f"    t = r.{name}", f"    if t is not None and len(t) > 1: r.{name} = {order}"]
        lines.append(f"    OUT_{kind.name}.append(r)")
        for field in _holding(kind):
            spec = field.spec
            child_kind = spec.arg if spec.tag == "record" else (
                spec.element.arg if spec.tag == "list" and spec.element.tag == "record" else None)
            if child_kind is None:
                lines += [f"    for c in children({self.constant('SPEC', spec)}, r.{field.name}):",
                          f"        adopt(r, {field.name!r}, c)"]
                continue
            parent = self.schema.kinds[child_kind].navigations.get(kind.name)
            adopt = parent is not None and parent.direction == "parent" and field.name in parent.via.split(",")
            body = ([f"c.{parent.name} = r"] if adopt else []) + [
                f"walk_{child_kind}(c)" if child_kind in self.walked else f"OUT_{child_kind}.append(c)"]
            if spec.tag == "record":
                lines += [f"    c = r.{field.name}", "    if c is not None:"] + ["        " + b for b in body]
            else:
                lines += [f"    for c in r.{field.name} or ():"] + ["        " + b for b in body]
        return lines

    def sort_key(self, field: Any) -> str | None:
        """A key giving a list of sub-records records.canonical_key's order, from the element kind's field
        types, or None (records._canonical then). Records without an id are keyed by their fields;
        listed `unique_by` their first, required string field, they are ordered by it alone."""
        element = field.spec.element
        if element.tag != "record" or self.schema.kinds[element.arg].id_field:
            return None
        kind = self.schema.kinds[element.arg]
        first = next(iter(kind.fields.values()), None)
        if first is not None and field.unique_by == first.name and first.required and \
                first.spec.tag in ("string", "ref", "enum"):
            return self.constant("BY", attrgetter(first.name))
        parts = []
        for f in kind.fields.values():
            rank = {"bool": "1", "int": "2", "number": "2", "money": "2", "string": "3", "ref": "3", "enum": "3",
                    "date": "4"}.get(f.spec.tag)
            if rank is None:
                return None
            key = f"({rank}, r.{f.name}.toordinal())" if f.spec.tag == "date" else f"({rank}, r.{f.name})"
            never_none = f.required or (f.has_default and f.default is not None)
            parts.append(key if never_none else f"((0,) if r.{f.name} is None else {key})")
        name = f"key_{kind.name}"
        if name not in self.keys:
            self.keys[name] = [f"def {name}(r):", f"    return (8, ({', '.join(parts)},))"]
        return name

    def grouper(self, other: str, via: str, many: bool) -> list[str]:
        """group_<other>__<via>(records): records of `other` by the ids in their `via` field
        (records._ids_in: None gives none, a list each id once)."""
        lines = [f"def group_{other}__{via}(recs):", "    g = defaultdict(list)", "    for o in recs:",
                 f"        v = o.{via}"]
        if many:
            lines += ["        if v:", "            for t in dict_fromkeys(v): g[t].append(o)"]
        else:
            lines += ["        if v is not None: g[v].append(o)"]
        return lines + ["    return g"]

    def linker(self, kind: KindDef) -> list[str]:
        """link_<kind>(records, index, groups): records._link for one kind."""
        lines = [f"def link_{kind.name}(recs, index, groups):"]
        loop = []
        for i, nav in enumerate(_linked_navs(kind)):
            if nav.direction == "forward":
                lines.append(f"    t{i} = index[{nav.kind!r}]")
                loop += [f"r.{nav.name} = tuple([t{i}[x] for x in r.{nav.via}])"] if nav.many else [
                    f"x = r.{nav.via}", f"r.{nav.name} = None if x is None else t{i}.get(x)"]
            else:  # most groups are empty or small: no lookup in an empty one
                lines.append(f"    g{i} = groups[({nav.kind!r}, {nav.via!r})]")
                loop += [f"x = g{i}.get(r.{kind.id_field}) if g{i} else None", f"r.{nav.name} = tuple(x) if x else ()"]
        return lines + ["    for r in recs:"] + ["        " + line for line in loop]


_list_fields = records._list_fields
_holding = records._holding_fields


def _nested_kinds(schema: RecordSchema) -> frozenset:
    """The kinds held in a field of some kind (at any depth of lists and maps)."""
    def held(spec: ValueSpec | None) -> set:
        if spec is None:
            return set()
        return ({spec.arg} if spec.tag == "record" else set()) | held(spec.element) | held(spec.value)
    return frozenset().union(*(held(f.spec) for k in schema.kinds.values() for f in k.fields.values()))


def _linked_navs(kind: KindDef) -> list:
    return [nav for nav in kind.navigations.values() if nav.direction in ("forward", "reverse")]


def _reverse_groups(schema: RecordSchema) -> dict[tuple[str, str], bool]:
    """(kind, via field) of every reverse navigation → whether the field is a list."""
    groups = {}
    for kind in schema.kinds.values():
        for nav in kind.navigations.values():
            if nav.direction == "reverse":
                groups[(nav.kind, nav.via)] = schema.kinds[nav.kind].fields[nav.via].spec.tag == "list"
    return groups
