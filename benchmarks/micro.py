"""Micro-workloads R1–R3: one expression per record, policyengine vs peers vs hand-written Decimal code.

Every engine gets the same data, built once outside the timed loop in the form that engine takes:
policyengine and the hand-written functions read the province's records themselves (an ad-hoc mapping
for R1, linked `community` records for R2 and R3); rule-engine reads plain dicts holding the same
Decimal values; zen-engine and cel-python read plain dicts with the Decimal values as floats (they
accept no Decimal). Each engine compiles its expression once; the timed loop makes one call per record.

(R1) Ruian Z-score reward per member school and year: Z rose by 5 or more over last year → 10000 yuan
     per graduating class, else 0; no previous Z → not applicable (None).
(R2) Formation limit per community: at most 6 units, and a fusion community has 1 or 2 members.
(R3) Ruian exchange quota per co-build community: ceil(10% × the members' in-service teachers).
"""

from __future__ import annotations

import decimal
import gc
import math
import statistics
import time
import tracemalloc
from decimal import Decimal
from typing import Any, Callable

import policyengine
from policyengine.runtime import DECIMAL_CONTEXT, Absent

YEAR = 2024
HEAD_ROLES = ("lead", "core", "head")

# ------------------------------------------------------------------------------------------ inputs


def r1_records(records: policyengine.RecordSet) -> list[dict[str, Any]]:
    """One mapping per member school with a Z value this year: z, z_prev (absent when not recorded),
    classes (graduating classes this year)."""
    z: dict[tuple[str, int], Decimal] = {(q.unit_id, q.year): q.z_value for q in records.quality_scores
                                          if q.z_value is not None}
    out = []
    for m in records.memberships:
        if m.role in HEAD_ROLES or (m.unit_id, YEAR) not in z:
            continue
        record = {"z": z[m.unit_id, YEAR], "classes": m.unit.graduating_class_count[YEAR]}
        if (m.unit_id, YEAR - 1) in z:
            record["z_prev"] = z[m.unit_id, YEAR - 1]
        out.append(record)
    return out


def community_dict(community: Any, floats: bool) -> dict[str, Any]:
    """A community as plain data for the peers (R2 and R3 read model_type, units[].role and
    units[].unit.in_service_teacher_count[year])."""
    return {"model_type": community.model_type,
            "units": [{"role": m.role, "unit": {"in_service_teacher_count": {
                str(k): v for k, v in m.unit.in_service_teacher_count.items()}}} for m in community.units]}


def _floats(record: dict[str, Any]) -> dict[str, Any]:
    return {k: float(v) if isinstance(v, Decimal) else v for k, v in record.items()}


# ------------------------------------------------------------------------------------------ hand-written

REWARD = Decimal(10000)
FIVE = Decimal(5)
ZERO_YUAN = Decimal(0)
TEN_PERCENT = Decimal("0.10")


def r1_hand(record: dict[str, Any]) -> Decimal | None:
    z_prev = record.get("z_prev")
    if z_prev is None:
        return None
    return REWARD * record["classes"] if record["z"] - z_prev >= FIVE else ZERO_YUAN


def r2_hand(community: Any) -> bool | None:
    units = community.units
    if len(units) > 6:
        return False
    if community.model_type is None:
        return None
    if community.model_type != "fusion":
        return True
    members = 0
    for m in units:
        if m.role not in HEAD_ROLES:
            members += 1
    return 1 <= members <= 2


def r3_hand(community: Any) -> int | None:
    total = 0
    for m in community.units:
        if m.role not in HEAD_ROLES:
            count = m.unit.in_service_teacher_count.get(YEAR)
            if count is None:
                return None
            total += count
    return math.ceil(TEN_PERCENT * total)


# ------------------------------------------------------------------------------------------ expressions

POLICYENGINE = {
    "R1": ("if record.z - record.z_prev >= 5 then 10000 yuan * record.classes else 0 yuan",
           {"z": "number", "z_prev": "number?", "classes": "int"}),
    "R2": ("count(record.units) <= 6 and (record.model_type != 'fusion' "
           "or count(m for m in record.units where m.role not in ['lead', 'core', 'head']) between 1 and 2)",
           "community"),
    "R3": (f"ceil(10% * sum(m.unit.in_service_teacher_count[{YEAR}] for m in record.units "
           "where m.role not in ['lead', 'core', 'head']))", "community"),
}
ZEN = {
    "R1": "z_prev == null ? null : (z - z_prev >= 5 ? 10000 * classes : 0)",
    "R2": "len(units) <= 6 and (model_type != 'fusion' or "
          "(count(units, #.role not in ['lead', 'core', 'head']) >= 1 and "
          "count(units, #.role not in ['lead', 'core', 'head']) <= 2))",
    "R3": "ceil(0.1 * sum(map(filter(units, #.role not in ['lead', 'core', 'head']), "
          f"#.unit.in_service_teacher_count['{YEAR}'])))",
}
RULE_ENGINE = {
    "R1": "z_prev == null ? null : (z - z_prev >= 5 ? 10000 * classes : 0)",
    "R2": "units.length <= 6 and (model_type != 'fusion' or "
          "([m for m in units if m.role not in ['lead', 'core', 'head']].length >= 1 and "
          "[m for m in units if m.role not in ['lead', 'core', 'head']].length <= 2))",
    "R3": "(0.1 * $sum([m.unit.in_service_teacher_count['" + str(YEAR) + "'] for m in units "
          "if m.role not in ['lead', 'core', 'head']])).ceiling",
}
# CEL has no sum() or ceil(): they are given to it as Python functions.
CEL = {
    "R1": "has(r.z_prev) ? (r.z - r.z_prev >= 5.0 ? 10000 * r.classes : 0) : null",
    "R2": "size(r.units) <= 6 && (r.model_type != 'fusion' || "
          "size(r.units.filter(m, !(m.role in ['lead', 'core', 'head']))) in [1, 2])",
    "R3": "ceil(0.1 * double(sum(r.units.filter(m, !(m.role in ['lead', 'core', 'head']))"
          f".map(m, m.unit.in_service_teacher_count['{YEAR}']))))",
}


# ------------------------------------------------------------------------------------------ engines


def _calls(function: Callable[[Any], Any]) -> Callable[[list], list]:
    """The timed loop, the same for every engine: one call per record; policyengine's Absent (data
    legitimately missing: not applicable) becomes None, as the others return None."""

    def run(inputs: list) -> list:
        out = []
        append = out.append
        for x in inputs:
            try:
                append(function(x))
            except Absent:
                append(None)
        return out

    return run


class Engine:
    """name; prepare(workload, records) → (loop over inputs returning results, inputs)."""

    name = ""
    available = True
    note = ""
    slow = False
    workloads = ("R1", "R2", "R3")

    def prepare(self, workload: str, records: list) -> tuple[Callable[[list], list], list]:
        raise NotImplementedError


class HandWritten(Engine):
    name = "hand-written (Decimal)"
    note = "plain Python; the caller's decimal context"

    def prepare(self, workload, records):
        return _calls({"R1": r1_hand, "R2": r2_hand, "R3": r3_hand}[workload]), records


class HandWrittenOwnContext(Engine):
    name = "hand-written, own context"
    note = ("as above, switching to policyengine's decimal context per call, as policyengine does for "
            "expressions with decimal arithmetic (R1, R3)")
    workloads = ("R1", "R3")

    def prepare(self, workload, records):
        function = {"R1": r1_hand, "R2": r2_hand, "R3": r3_hand}[workload]
        get, set_ = decimal.getcontext, decimal.setcontext

        def pinned(record):
            saved = get()
            set_(DECIMAL_CONTEXT)
            try:
                return function(record)
            finally:
                set_(saved)

        return _calls(pinned), records


class PolicyEngine(Engine):
    name = "policyengine"
    note = "compile_expression; one call per record"

    def prepare(self, workload, records):
        text, record_type = POLICYENGINE[workload]
        return _calls(policyengine.compile_expression(text, record_type)), records


class Zen(Engine):
    name = "zen-engine"
    note = "Rust, compile_expression(...).evaluate(dict); float inputs"

    def __init__(self):
        try:
            import zen
        except ImportError:
            self.available = False
        else:
            self.zen = zen

    def prepare(self, workload, records):
        expression = self.zen.compile_expression(ZEN[workload])
        inputs = [_floats(x) if workload == "R1" else community_dict(x, True) for x in records]
        return _calls(expression.evaluate), inputs


class RuleEngine(Engine):
    name = "rule-engine"
    note = "pure Python, Rule(...).evaluate(dict); Decimal inputs"
    slow = True

    def __init__(self):
        try:
            import rule_engine
        except ImportError:
            self.available = False
        else:
            self.rule_engine = rule_engine

    def prepare(self, workload, records):
        context = self.rule_engine.Context(default_value=None)
        rule = self.rule_engine.Rule(RULE_ENGINE[workload], context=context)
        inputs = [dict(x) if workload == "R1" else community_dict(x, False) for x in records]
        return _calls(rule.evaluate), inputs


class Cel(Engine):
    name = "cel-python"
    note = "pure Python (Lark), program.evaluate(activation); float inputs; sum/ceil given as functions"
    slow = True

    def __init__(self):
        try:
            import celpy
        except ImportError:
            self.available = False
        else:
            self.celpy = celpy

    def prepare(self, workload, records):
        celpy = self.celpy
        env = celpy.Environment()
        functions = {"sum": lambda xs: celpy.celtypes.IntType(sum(int(x) for x in xs)),
                     "ceil": lambda x: celpy.celtypes.IntType(math.ceil(float(x)))}
        program = env.program(env.compile(CEL[workload]), functions=functions)
        inputs = [{"r": celpy.json_to_cel(_floats(x) if workload == "R1" else community_dict(x, True))}
                  for x in records]
        return _calls(program.evaluate), inputs


ENGINES = (HandWritten, PolicyEngine, HandWrittenOwnContext, Zen, RuleEngine, Cel)


# ------------------------------------------------------------------------------------------ running


def normalise(value: Any) -> Any:
    """Results as comparable values: None, bool, or an exact Decimal (floats via their repr)."""
    if value is None or isinstance(value, bool):
        return value
    type_name = type(value).__name__
    if type_name == "NullType":
        return None
    if type_name == "BoolType":
        return bool(value)
    if isinstance(value, float) or type_name == "DoubleType":
        return Decimal(repr(float(value)))
    return Decimal(value) if not isinstance(value, Decimal) else value


def _time_pass(run: Callable[[list], list], inputs: list) -> float:
    """µs of CPU time per record for one pass (CPU time: other processes on a shared machine do not
    count; the garbage collector is paused during the pass)."""
    gc_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.process_time()
        run(inputs)
        return (time.process_time() - start) * 1e6 / max(len(inputs), 1)
    finally:
        if gc_enabled:
            gc.enable()


def peak_memory(run: Callable[[list], list], inputs: list) -> int:
    """Peak bytes allocated by Python during one pass (results kept); Rust allocations are not seen."""
    gc.collect()
    tracemalloc.start()
    try:
        run(inputs)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def run_workloads(records: policyengine.RecordSet, repeat: int = 15, slow_repeat: int = 3,
                  log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Time every engine on R1–R3. The passes of the engines are interleaved (round-robin, `repeat`
    rounds; `slow_repeat` for the pure-Python peers), so that a busy phase of the machine hits them
    all alike; each engine's figure is the median of its passes."""
    inputs = {
        "R1": r1_records(records),
        "R2": list(records.communities),
        "R3": [c for c in records.communities if c.model_type == "co_build"],
    }
    engines = [cls() for cls in ENGINES]
    for engine in engines:
        if not engine.available:
            log(f"  {engine.name}: not installed (pip install -e '.[bench]')")
    engines = [e for e in engines if e.available]
    rows = []
    for workload, records_ in inputs.items():
        prepared = []
        reference = None
        for engine in engines:
            if workload not in engine.workloads:
                continue
            run, engine_inputs = engine.prepare(workload, records_)
            results = [normalise(v) for v in run(engine_inputs)]  # warm-up, and the results compared
            row = {"workload": workload, "engine": engine.name, "records": len(records_), "note": engine.note}
            if reference is None:
                reference = results
                row["disagreements"] = 0
            else:
                diffs = [(i, reference[i], r) for i, r in enumerate(results) if r != reference[i]]
                row["disagreements"] = len(diffs)
                row["disagreement_examples"] = [_example(workload, records_[i], ref, got)
                                                for i, ref, got in diffs[:3]]
            row["peak_memory_bytes"] = peak_memory(run, engine_inputs)
            prepared.append((engine, run, engine_inputs, row, []))
        for round_ in range(repeat):
            for engine, run, engine_inputs, row, samples in prepared:
                if engine.slow and round_ >= slow_repeat:
                    continue
                samples.append(_time_pass(run, engine_inputs))
        hand = statistics.median(prepared[0][4])
        for engine, run, engine_inputs, row, samples in prepared:
            row.update(median_us=statistics.median(samples), min_us=min(samples), passes=len(samples),
                       ratio_to_hand_written=statistics.median(samples) / hand)
            rows.append(row)
            log(f"  {workload} {engine.name:26} {row['median_us']:10.2f} µs/record  ×{row['ratio_to_hand_written']:<8.2f}"
                f"({len(records_)} records, {row['disagreements']} disagreements)")
    return rows


def _example(workload: str, record: Any, expected: Any, got: Any) -> dict[str, str]:
    if workload == "R1":
        shown = {k: str(v) for k, v in record.items()}
    else:
        shown = {"community_id": record.community_id, "model_type": record.model_type,
                 "roles": [m.role for m in record.units]}
    return {"record": str(shown), "expected": str(expected), "got": str(got)}
