"""Command line: `policyengine check | evaluate | rules | test | bench | schema`.

Exit status: 0 success; 1 a policy file has errors, or a test failed; 2 bad records or bad usage;
3 an evaluation produced `error` findings.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import unicodedata
from pathlib import Path
from typing import Any, Sequence

import policyengine
from policyengine import engine, resources
from policyengine.diagnostics import PolicyError
from policyengine.records import RecordErrors
from policyengine.report import SCHEMA_VERSION, Report

OUTCOME_LABELS = {"pass": "通过", "violation": "违规", "warning": "警示", "amount": "金额", "entitlement": "享有",
                  "info": "信息", "not_applicable": "不适用", "error": "错误"}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except BrokenPipeError:
        return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="policyengine", description="Education-community policies as data.")
    parser.add_argument("--lang", choices=("zh", "en"), default="zh", help="message language (default zh)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {policyengine.__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser("check", help="check policy files; report every error with file:line:col")
    check.add_argument("files", nargs="+")
    check.add_argument("--format", choices=("text", "json"), default="text")
    check.add_argument("--sources", type=Path, metavar="DIR", help="also verify every quote against the source documents in DIR")
    check.set_defaults(run=_check)

    evaluate = commands.add_parser("evaluate", help="evaluate a policy on record files")
    evaluate.add_argument("--policy", required=True, help="a bundled policy name or a policy file")
    evaluate.add_argument("records", nargs="+")
    evaluate.add_argument("--as-of", type=_date, default=None, help="YYYY-MM-DD (default: today)")
    evaluate.add_argument("--format", choices=("table", "json", "jsonl"), default="table",
                          help="json: one compact document; jsonl: one line per rule and finding, streamed")
    evaluate.add_argument("--pretty", action="store_true", help="json: indented")
    evaluate.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE instead of stdout")
    evaluate.add_argument("--rule", action="append", metavar="ID_OR_GLOB",
                          help="evaluate only these rules (repeatable; globs such as 'ruian.reward.*')")
    evaluate.add_argument("--all", action="store_true",
                          help="also list not_applicable findings (every format; the counts include them always)")
    evaluate.add_argument("--jobs", type=int, default=1, help="worker processes (results are identical)")
    evaluate.add_argument("--progress", action="store_true", help="show a progress bar on stderr")
    evaluate.add_argument("--input-format", choices=("yaml", "json", "jsonl"), default=None,
                          help="the format of - (standard input); files are known by their suffix")
    evaluate.add_argument("--record-limit", action="append", default=[], metavar="KEY=VALUE",
                          help="override a record input limit (max_file_bytes, max_depth, max_alias_expansion, "
                               "min_alias_budget, max_number_digits, max_number_exponent)")
    evaluate.set_defaults(run=_evaluate)

    rules = commands.add_parser("rules", help="list a policy's rules and the catalog entries it leaves out")
    rules.add_argument("--policy", required=True)
    rules.add_argument("--format", choices=("table", "json"), default="table")
    rules.set_defaults(run=_rules)

    test = commands.add_parser("test", help="run policy test files (default: every bundled policy's tests)")
    test.add_argument("paths", nargs="*")
    test.add_argument("--coverage", action="store_true", help="report rule and outcome coverage")
    test.add_argument("--format", choices=("text", "json"), default="text")
    test.set_defaults(run=_test)

    bench = commands.add_parser("bench", help="time a policy on records, per rule")
    bench.add_argument("--policy", required=True)
    bench.add_argument("records", nargs="+")
    bench.add_argument("--as-of", type=_date, default=None)
    bench.add_argument("--repeat", type=int, default=5)
    bench.set_defaults(run=_bench)

    doc = commands.add_parser("doc", help="the policy woven beside its source text, with the source coverage")
    doc.add_argument("--policy", required=True, help="a bundled policy name or a policy file")
    doc.add_argument("--sources", type=Path, default=None, metavar="DIR",
                     help="the source documents (default: the bundled sources/)")
    doc.add_argument("--format", choices=("html", "json"), default="html")
    doc.add_argument("-o", "--output", type=Path, default=None, help="write to this file (default: stdout)")
    doc.set_defaults(run=_doc)

    records = commands.add_parser("records", help="record files: export them as spreadsheets")
    records_commands = records.add_subparsers(dest="records_command", required=True)
    export = records_commands.add_parser("export", help="write records as an xlsx workbook or a directory of CSV files")
    export.add_argument("--format", choices=("xlsx", "csv"), required=True)
    export.add_argument("-o", "--output", required=True, help="the workbook (xlsx) or the directory (csv)")
    export.add_argument("--policy", help="validate against this policy's extended record schema")
    export.add_argument("records", nargs="+")
    export.set_defaults(run=_export)

    schema = commands.add_parser("schema", help="print a JSON Schema: the record format or the policy format")
    schema.add_argument("which", choices=("records", "policy"))
    schema.add_argument("--policy", help="records: the schema extended by this policy's schema extension")
    schema.set_defaults(run=_schema)
    return parser


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text}") from None


# commands -------------------------------------------------------------------------------------------
def _check(args) -> int:
    problems, unreadable = [], 0
    if args.sources is not None and not args.sources.is_dir():
        print(f"--sources: {'不是目录' if args.lang == 'zh' else 'not a directory'}: {args.sources}", file=sys.stderr)
        return 2
    for file in args.files:
        try:
            problems.extend(engine.check_file(file))
            if args.sources is not None:
                from policyengine.citations import check_quotes

                problems.extend(check_quotes(file, args.sources))
        except (OSError, UnicodeDecodeError) as error:  # a usage error, not a diagnostic of the file
            print(f"{file}: {'无法读取' if args.lang == 'zh' else 'cannot read'}: {error}", file=sys.stderr)
            unreadable += 1
    if unreadable:
        return 2
    if args.format == "json":
        print(json.dumps({"errors": [d.to_json(args.lang) for d in problems]}, ensure_ascii=False, indent=2))
    else:
        for diagnostic in problems:
            print(_render_with_source(diagnostic, args.lang))
        if not any(not d.is_warning for d in problems):
            print(f"ok: {len(args.files)} file(s)" if args.lang == "en" else f"通过：{len(args.files)} 个文件")
    return 1 if any(not d.is_warning for d in problems) else 0  # warnings alone do not fail a check


def _render_with_source(diagnostic, lang: str) -> str:
    line = diagnostic.render(lang)
    try:
        text = Path(diagnostic.span.file).read_text(encoding="utf-8").splitlines()[diagnostic.span.line - 1]
    except (OSError, IndexError):
        return line
    caret = "".join("\u3000" if _width(ch) == 2 else " " for ch in text[:diagnostic.span.col - 1]) + "^"
    return f"{line}\n | {text}\n | {caret}"


def _load_policy_or_report(name: str, lang: str):
    try:
        return engine.load_policy(name)
    except PolicyError as error:
        print(error.render(lang), file=sys.stderr)
        return None
    except FileNotFoundError:
        print(f"policy not found: {name} (bundled: {', '.join(resources.bundled_policy_names())})", file=sys.stderr)
        return None


def _evaluate(args) -> int:
    policy = _load_policy_or_report(args.policy, args.lang)
    if policy is None:
        return 1
    as_of = args.as_of or dt.date.today()
    try:
        records = policy.load_records([Path(p) for p in args.records], limits=_record_limits(args.record_limit),
                                      input_format=args.input_format)
    except RecordErrors as error:
        return _record_errors(error, policy.name, as_of, args)
    from policyengine import batch

    try:
        batch.select_rules(policy, args.rule)
    except KeyError as error:
        print(error.args[0], file=sys.stderr)
        return 2
    try:
        open(args.output, "a", encoding="utf-8").close() if args.output else None
    except OSError as error:
        print(f"{args.output}: {'无法写入' if args.lang == 'zh' else 'cannot write'}: {error}", file=sys.stderr)
        return 2
    with _output(args.output) as out:
        options = dict(show_all=args.all, jobs=args.jobs, rules=args.rule, progress=args.progress)
        if args.format in ("json", "jsonl"):
            counts = batch.write_report(policy, records, as_of, out, args.format, pretty=args.pretty, **options)
        else:
            shown, counts = batch.table_report(policy, records, as_of, **options)
            out.write(render_findings(shown, counts, as_of, policy, show_all=args.all, lang=args.lang) + "\n")
    return 3 if counts["error"] else 0


class _output:
    """The report's destination: FILE (written as the evaluation goes) or stdout."""

    def __init__(self, path: str | None):
        self.path = path

    def __enter__(self):
        self.file = open(self.path, "w", encoding="utf-8", newline="\n") if self.path else sys.stdout
        return self.file

    def __exit__(self, *exc) -> None:
        if self.path:
            self.file.close()
        else:
            self.file.flush()


def _record_limits(pairs: list[str]):
    from policyengine.recordio import RecordLimits

    try:
        return RecordLimits.with_overrides(dict(pair.split("=", 1) for pair in pairs))
    except ValueError as error:  # a usage error: exit status 2
        print(f"policyengine evaluate: --record-limit: {error}", file=sys.stderr)
        raise SystemExit(2) from None


def _record_errors(error: RecordErrors, policy: str, as_of: dt.date, args) -> int:
    if args.format in ("json", "jsonl"):
        data = {"schema_version": SCHEMA_VERSION, "policy": policy, "as_of": as_of.isoformat(),
                "errors": [e.to_dict(args.lang) for e in error.errors]}
        if args.format == "jsonl":
            data = {"type": "errors", **data}
        with _output(args.output) as out:
            out.write(json.dumps(data, ensure_ascii=False, indent=2 if args.pretty else None) + "\n")
    else:
        print(error.message(args.lang), file=sys.stderr)
    return 2


def _rules(args) -> int:
    policy = _load_policy_or_report(args.policy, args.lang)
    if policy is None:
        return 1
    rules = [{"id": r.id, "kind": r.kind, "strength": r.strength, "subject": r.subject, "per": r.per,
              "parameters": {k: str(v) for k, v in r.parameters},
              "citation": {"file": r.citation.file, "section": r.citation.section, "quote": r.citation.quote}}
             for r in policy.rules]
    not_encoded = [{"id": i, "reason": reason} for i, reason in policy.not_encoded]
    if args.format == "json":
        print(json.dumps({"policy": policy.name, "title": policy.title, "source_file": policy.source_file,
                          "rules": rules, "not_encoded": not_encoded}, ensure_ascii=False, indent=2))
        return 0
    rows = [[r["id"], r["kind"], r["strength"] or "", r["subject"], r["per"] or ""] for r in rules]
    print(f"{policy.title}（{policy.name}）: {len(rules)} encoded, {len(not_encoded)} not encoded")
    print(_table(["rule", "kind", "strength", "subject", "per"], rows))
    if not_encoded:
        print()
        print(_table(["not encoded", "reason"], [[x["id"], x["reason"]] for x in not_encoded]))
    return 0


def _test(args) -> int:
    from policyengine.testing.cases import run_paths

    return run_paths(args.paths, coverage=args.coverage, output_format=args.format)


def _bench(args) -> int:
    from policyengine.batch import bench_rules, province_scans

    policy = _load_policy_or_report(args.policy, args.lang)
    if policy is None:
        return 1
    try:
        records = policy.load_records([Path(p) for p in args.records])
    except RecordErrors as error:
        print(error.message(args.lang), file=sys.stderr)
        return 2
    rows = bench_rules(policy, records, args.as_of or dt.date.today(), args.repeat)
    scans = {rule.id: province_scans(rule) for rule in policy.rules}
    print(_table(["rule", "findings", "total ms", "µs/finding", "scans (cost grows with the input)"],
                 [[r, str(n), f"{ms:.3f}", f"{us:.2f}", ", ".join(scans[r])] for r, n, ms, us in rows]))
    return 0


def _doc(args) -> int:
    from policyengine.weave import render_html, weave

    sources = args.sources or resources.sources_dir()
    try:
        woven = weave(args.policy, sources)
    except PolicyError as error:
        print(error.render(args.lang), file=sys.stderr)
        return 1
    except FileNotFoundError as error:
        print(f"{'找不到' if args.lang == 'zh' else 'not found'}: {error.filename or error}", file=sys.stderr)
        return 2
    text = (render_html(woven, args.lang) if args.format == "html"
            else json.dumps(woven.to_json(), ensure_ascii=False, indent=2) + "\n")
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")


def _export(args) -> int:
    from policyengine import spreadsheets
    from policyengine.records import load_records

    policy = _load_policy_or_report(args.policy, args.lang) if args.policy else None
    if args.policy and policy is None:
        return 1
    try:
        records = load_records([Path(p) for p in args.records], schema=policy.record_schema if policy else None)
    except RecordErrors as error:
        print(error.message(args.lang), file=sys.stderr)
        return 2
    sheets = spreadsheets.record_tables(records, records.schema)
    if args.format == "xlsx":
        spreadsheets.write_xlsx(sheets, Path(args.output))
    else:
        spreadsheets.write_csv(sheets, Path(args.output))
    print(f"{args.output}: {len(sheets)} {'sheets' if args.format == 'xlsx' else 'files'}", file=sys.stderr)
    return 0


def _schema(args) -> int:
    if args.which == "records" and args.policy:
        policy = _load_policy_or_report(args.policy, args.lang)
        if policy is None:
            return 1
        print(json.dumps(policy.record_schema.json_schema(), ensure_ascii=False, indent=2))
    elif args.which == "records":
        from policyengine.recordschema import json_schema_text

        print(json_schema_text())
    else:
        from policyengine.policyfile import json_schema

        print(json.dumps(json_schema(), ensure_ascii=False, indent=2))
    return 0


# table rendering -------------------------------------------------------------------------------------
def render_table(report: Report, policy: Any, show_all: bool = False, lang: str = "zh") -> str:
    shown = [f for f in report.findings if show_all or f.outcome != "not_applicable"]
    return render_findings(shown, report.counts(), report.as_of, policy, show_all, lang)


def render_findings(shown: list, counts: dict[str, int], as_of: dt.date, policy: Any, show_all: bool = False,
                    lang: str = "zh") -> str:
    rows = []
    for f in shown:
        outcome = OUTCOME_LABELS[f.outcome] if lang == "zh" else f.outcome
        amount = f"{f.amount} {'元' if f.currency == 'CNY' else ''}".strip() if f.amount is not None else ""
        note = f.message if f.outcome in ("violation", "warning") and f.message else _explain(f)
        rows.append([f.rule, f.subject, f.community or "", f.period or "", outcome, amount, note])
    header = ["规则", "对象", "教共体", "期间", "结果", "金额", "说明"] if lang == "zh" else \
        ["rule", "subject", "community", "period", "outcome", "amount", "note"]
    counts = ", ".join(f"{OUTCOME_LABELS[k] if lang == 'zh' else k} {v}" for k, v in counts.items() if v)
    title = f"{policy.title}（{policy.name}） as_of {as_of.isoformat()}"
    hidden = "" if show_all else ("（不适用的结果未列出，--all 显示全部）" if lang == "zh" else
                                  " (not_applicable findings hidden; --all shows them)")
    return f"{title}\n{counts}{hidden}\n{_table(header, rows)}"


def _explain(finding) -> str:
    values = finding.values_dict
    if values.get("exception"):
        return "例外路径成立 / exception path recorded: " + ", ".join(map(str, values.get("failed", ())))
    for key in ("reason", "error", "failed", "value"):
        if key in values:
            value = values[key]
            return f"{key}: {', '.join(map(str, value)) if isinstance(value, tuple) else value}"
    return ""


def _width(ch: str) -> int:
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _text_width(text: str) -> int:
    return sum(_width(ch) for ch in text)


def _table(header: list[str], rows: list[list[str]], max_width: int = 60) -> str:
    rows = [[_clip(cell, max_width) for cell in row] for row in rows]
    widths = [max([_text_width(h)] + [_text_width(r[i]) for r in rows]) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        return "  ".join(c + " " * (w - _text_width(c)) for c, w in zip(cells, widths)).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def _clip(text: str, limit: int) -> str:
    if _text_width(text) <= limit:
        return text
    out, width = [], 0
    for ch in text:
        width += _width(ch)
        if width > limit - 1:
            break
        out.append(ch)
    return "".join(out) + "…"


if __name__ == "__main__":
    sys.exit(main())
