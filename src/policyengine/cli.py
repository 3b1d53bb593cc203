"""Command line: `policyengine check | evaluate | explain | diff | rules | test | bench | schema`.

The library does the work (explain.py, summary.py, diff.py, export.py, html.py); this module only
reads arguments and presents results, in zh or en (`--lang`, before or after the subcommand).

Exit status: 0 success; 1 a policy file has errors, or a test failed; 2 bad records or bad usage;
3 an evaluation produced `error` findings; 70 an internal error (a bug of policyengine: please report it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import unicodedata
from pathlib import Path
from typing import Any, Sequence

import attrs

import policyengine
from policyengine import engine, resources
from policyengine.limits import PolicyLimits
from policyengine.limits import using as using_limits
from policyengine.diagnostics import PolicyError
from policyengine.explain import OUTCOME_LABELS, Names, attribute, explain_rule, restrict_rules, select_findings
from policyengine.explain import render as render_explanation
from policyengine.records import RecordErrors, load_records
from policyengine.report import OUTCOMES, SCHEMA_VERSION, Report
from policyengine.summary import render_summary, summarize


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    lang = _lang_of(argv)
    _CURRENT_LANG[0] = lang
    _translate_argparse(lang)
    args = _parser(lang).parse_args(argv)
    try:
        bounds = PolicyLimits.with_overrides(dict(pair.partition("=")[::2] for pair in getattr(args, "limit", None) or []))
    except ValueError as error:  # a usage error: exit status 2
        print(f"policyengine: --limit: {error}", file=sys.stderr)
        return 2
    try:
        with using_limits(bounds):  # every policy this command loads is bounded by them
            return args.run(args)
    except BrokenPipeError:
        return 0
    except Exception as error:  # noqa: BLE001 - the last resort: no input should ever get here
        return internal_error(error, lang)


INTERNAL_ERROR = 70  # EX_SOFTWARE (sysexits.h): a bug in policyengine, not in the policy or the records


def internal_error(error: BaseException, lang: str) -> int:
    """A failure no located error covers is a bug of ours: say so, with the version, and ask for a
    report (the traceback only when POLICYENGINE_TRACEBACK is set)."""
    if os.environ.get("POLICYENGINE_TRACEBACK"):
        import traceback

        traceback.print_exception(error, file=sys.stderr)
    kind = type(error).__name__
    if lang == "zh":
        print(f"policyengine 内部错误（policyengine {policyengine.__version__}）：{kind}：{str(error)[:200]}\n"
              "这是 policyengine 的缺陷，不是政策文件或记录的问题。请把所用的命令和输入文件报告给 policyengine 的维护者。",
              file=sys.stderr)
    else:
        print(f"policyengine: internal error (policyengine {policyengine.__version__}): {kind}: {str(error)[:200]}\n"
              "This is a bug in policyengine, not in the policy or the records. Please report it to the "
              "policyengine maintainers with the command and the input files that produced it.", file=sys.stderr)
    return INTERNAL_ERROR


def _lang_of(argv: list[str]) -> str:
    """`--lang` may come before or after the subcommand; read it first, so that usage and errors of
    the argument parser itself follow it too."""
    for i, arg in enumerate(argv):
        if arg == "--lang" and i + 1 < len(argv) and argv[i + 1] in ("zh", "en"):
            return argv[i + 1]
        if arg in ("--lang=zh", "--lang=en"):
            return arg.split("=", 1)[1]
    return "zh"


# argparse's own texts in Chinese (it looks `_` up at call time)
ARGPARSE_ZH = {
    "usage: ": "用法：", "positional arguments": "位置参数", "options": "选项",
    "show this help message and exit": "显示此帮助并退出", "%(prog)s: error: %(message)s\n": "%(prog)s：错误：%(message)s\n",
    "the following arguments are required: %s": "缺少必需的参数：%s", "unrecognized arguments: %s": "无法识别的参数：%s",
    "invalid choice: %(value)r (choose from %(choices)s)": "无效选项：%(value)r（可选：%(choices)s）",
    "argument %(argument_name)s: %(message)s": "参数 %(argument_name)s：%(message)s",
    "expected one argument": "需要一个值", "invalid %(type)s value: %(value)r": "无效的 %(type)s 值：%(value)r",
    "ambiguous option: %(option)s could match %(matches)s": "有歧义的选项：%(option)s 可匹配 %(matches)s",
    "not allowed with argument %s": "不能与参数 %s 同用", "one of the arguments %s is required": "需要参数 %s 之一",
}


def _translate_argparse(lang: str) -> None:
    table = ARGPARSE_ZH if lang == "zh" else {}
    argparse._ = lambda message: table.get(message, message)  # type: ignore[attr-defined]


def _parser(lang: str = "zh") -> argparse.ArgumentParser:
    h = HELP[lang]
    parser = argparse.ArgumentParser(prog="policyengine", description=h["description"])
    parser.add_argument("--lang", choices=("zh", "en"), default="zh", help=h["lang"])
    parser.add_argument("--version", action="version", version=f"%(prog)s {policyengine.__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--lang", choices=("zh", "en"), default=argparse.SUPPRESS, help=h["lang"])
    common.add_argument("--limit", action="append", default=None, metavar="KEY=VALUE",
                        help="override a policy limit (README, Limits): " + ", ".join(
                            field.name for field in attrs.fields(PolicyLimits)))
    commands = parser.add_subparsers(dest="command", required=True, title=h["commands"])

    def command(name: str, **kwargs) -> argparse.ArgumentParser:
        return commands.add_parser(name, parents=[common], help=h[name], description=h[name], **kwargs)

    check = command("check")
    check.add_argument("files", nargs="+", help=h["files"])
    check.add_argument("--format", choices=("text", "json"), default="text", help=h["format"])
    check.add_argument("--sources", type=Path, metavar="DIR", help=h["check_sources"])
    check.set_defaults(run=_check)

    evaluate = command("evaluate")
    _policy_arguments(evaluate, h)
    evaluate.add_argument("--format", choices=("table", "json", "jsonl", "csv", "xlsx", "html"), default="table",
                          help=h["evaluate_format"])
    evaluate.add_argument("-o", "--output", metavar="FILE", help=h["output"])
    evaluate.add_argument("--pretty", action="store_true", help=h["pretty"])
    evaluate.add_argument("--summary", action="store_true", help=h["summary"])
    evaluate.add_argument("--all", action="store_true", help=h["all"])
    evaluate.add_argument("--outcome", action="append", default=[], choices=OUTCOMES, help=h["outcome"])
    evaluate.add_argument("--rule", action="append", default=[], metavar="GLOB", help=h["rule_glob"])
    evaluate.add_argument("--community", action="append", default=[], metavar="ID", help=h["community"])
    evaluate.add_argument("--jobs", type=int, default=1, help=h["jobs"])
    evaluate.add_argument("--progress", action="store_true", help=h["progress"])
    evaluate.add_argument("--input-format", choices=("yaml", "json", "jsonl"), default=None,
                          help="the format of - (standard input); files are known by their suffix")
    evaluate.add_argument("--record-limit", action="append", default=[], metavar="KEY=VALUE",
                          help="override a record input limit (max_file_bytes, max_depth, max_alias_expansion, "
                               "min_alias_budget, max_number_digits, max_number_exponent)")
    evaluate.set_defaults(run=_evaluate)

    explain = command("explain")
    _policy_arguments(explain, h)
    explain.add_argument("--rule", required=True, metavar="ID", help=h["rule_id"])
    explain.add_argument("--subject", metavar="ID", help=h["subject"])
    explain.add_argument("--period", metavar="LABEL", help=h["period"])
    explain.add_argument("--format", choices=("text", "json"), default="text", help=h["format"])
    explain.set_defaults(run=_explain_command)

    diff = command("diff")
    diff.add_argument("records", nargs="+", help=h["records"])
    diff.add_argument("--policy", action="append", required=True, help=h["diff_policy"])
    diff.add_argument("--as-of", action="append", type=_date, default=[], help=h["diff_as_of"])
    diff.add_argument("--param", action="append", type=_param, default=[], metavar="NAME=VALUE", help=h["diff_param"])
    diff.add_argument("--format", choices=("text", "json"), default="text", help=h["format"])
    diff.set_defaults(run=_diff_command)

    rules = command("rules")
    rules.add_argument("--policy", required=True, help=h["policy"])
    rules.add_argument("--format", choices=("table", "json"), default="table", help=h["format"])
    rules.add_argument("--source", metavar="RULE", help=h["rule_source"])
    rules.set_defaults(run=_rules)

    test = command("test")
    test.add_argument("paths", nargs="*", help=h["test_paths"])
    test.add_argument("--coverage", action="store_true", help=h["coverage"])
    test.add_argument("--param", action="append", type=_param, default=[], metavar="NAME=VALUE", help=h["param"])
    test.add_argument("--format", choices=("text", "json"), default="text", help=h["format"])
    test.add_argument("--mutate", action="store_true", help=h["mutate"])
    test.add_argument("--policy", action="append", default=[], help=h["mutate_policy"])
    test.set_defaults(run=_test)

    bench = command("bench")
    bench.add_argument("--policy", required=True, help=h["policy"])
    bench.add_argument("records", nargs="+", help=h["records"])
    bench.add_argument("--as-of", type=_date, default=None, help=h["as_of"])
    bench.add_argument("--repeat", type=int, default=5, help=h["repeat"])
    bench.set_defaults(run=_bench)

    doc = command("doc")
    doc.add_argument("--policy", required=True, help=h["policy"])
    doc.add_argument("--sources", type=Path, default=None, metavar="DIR", help=h["doc_sources"])
    doc.add_argument("--format", choices=("html", "json"), default="html", help=h["format"])
    doc.add_argument("-o", "--output", type=Path, default=None, help=h["output"])
    doc.set_defaults(run=_doc)

    records = commands.add_parser("records", help="record files: export them as spreadsheets")
    records_commands = records.add_subparsers(dest="records_command", required=True)
    export = records_commands.add_parser("export", help="write records as an xlsx workbook or a directory of CSV files")
    export.add_argument("--format", choices=("xlsx", "csv"), required=True)
    export.add_argument("-o", "--output", required=True, help="the workbook (xlsx) or the directory (csv)")
    export.add_argument("--policy", help="validate against this policy's extended record schema")
    export.add_argument("records", nargs="+")
    export.set_defaults(run=_export)

    schema = command("schema")
    schema.add_argument("which", choices=("records", "policy"), help=h["which"])
    schema.add_argument("--policy", help="records: the schema extended by this policy's schema extension")
    schema.set_defaults(run=_schema)
    return parser


def _policy_arguments(command: argparse.ArgumentParser, h: dict[str, str]) -> None:
    command.add_argument("--policy", required=True, help=h["policy"])
    command.add_argument("records", nargs="+", help=h["records"])
    command.add_argument("--as-of", type=_date, default=None, help=h["as_of"])
    command.add_argument("--param", action="append", type=_param, default=[], metavar="NAME=VALUE", help=h["param"])


HELP = {
    "zh": {"description": "以数据表达的教共体政策：检查、评估、解释、比较。", "lang": "输出语言（默认 zh）",
           "commands": "命令", "check": "检查政策文件，逐条报告错误（文件:行:列）", "evaluate": "在记录上评估政策",
           "explain": "逐句解释一条结果：条件、取值、参数与原文", "diff": "比较两次评估（两个政策、两种参数读法或两个日期）",
           "rules": "列出政策的规则及未编码的目录条目", "test": "运行政策测试文件（默认：全部内置政策）",
           "bench": "按规则计时", "schema": "输出 JSON Schema：记录格式或政策格式", "files": "政策文件",
           "rule_source": "打印为此规则生成的 Python 代码（每个表达式注明 文件:行:列）",
           "format": "输出格式", "evaluate_format": "输出格式（csv/xlsx/html 需要 -o）", "output": "写入此文件", "pretty": "json：缩进",
           "summary": "按教共体汇总：各结果数、按规则的违规与警示、应付金额合计、未到期的期限",
           "all": "表格：也列出不适用的结果", "outcome": "只显示此结果（可重复）",
           "rule_glob": "只评估匹配此通配符的规则（可重复）", "community": "只显示此教共体的结果（可重复）",
           "jobs": "工作进程数（结果相同）", "progress": "在 stderr 显示进度", "rule_id": "规则 id",
           "subject": "对象 id（省略：解释该规则所有非通过的结果）", "period": "期间标签，如 2022-2023-1",
           "records": "记录文件（YAML 或 JSON）", "policy": "内置政策名或政策文件",
           "diff_policy": "政策；给两次则比较两个政策（按 concept 匹配规则）",
           "diff_as_of": "评估日期；给两次则比较两个日期", "diff_param": "参数 NAME=VALUE：与默认值比较（作用于“之后”一侧）",
           "as_of": "评估日期 YYYY-MM-DD（默认今天）", "param": "覆盖参数 NAME=VALUE（按声明的类型检查）",
           "test_paths": "测试文件或目录", "mutate": "变异测试：逐个翻转比较运算符（含 values、let:），报告各政策的杀死率与存活变异",
           "mutate_policy": "--mutate 的政策（名称或文件，可重复；默认：所有带测试的内置政策）", "coverage": "报告规则与结果覆盖率", "repeat": "重复次数",
           "which": "records 或 policy", "doc": "政策与原文并排（及原文覆盖率）",
           "check_sources": "同时按 DIR 中的原文核对每条引文", "doc_sources": "原文目录（默认：内置 sources/）"},
    "en": {"description": "Education-community policies as data: check, evaluate, explain, compare.",
           "lang": "output language (default zh)", "commands": "commands",
           "check": "check policy files; report every error with file:line:col", "evaluate": "evaluate a policy on record files",
           "explain": "explain findings as sentences: conditions, values, parameters and the source text",
           "diff": "compare two evaluations (two policies, two parameter readings or two dates)",
           "rules": "list a policy's rules and the catalog entries it leaves out",
           "test": "run policy test files (default: every bundled policy's tests)", "bench": "time a policy on records, per rule",
           "schema": "print a JSON Schema: the record format or the policy format", "files": "policy files",
           "format": "output format", "evaluate_format": "output format (csv/xlsx/html need -o)", "output": "write to this file", "pretty": "json: indented",
           "summary": "per community: counts by outcome, violations and warnings by rule, amounts owed, deadlines not yet due",
           "all": "table: also list not_applicable findings", "outcome": "show only this outcome (repeatable)",
           "rule_glob": "evaluate only the rules matching this glob (repeatable)",
           "rule_source": "print the Python code generated for this rule (with file:line:col of each expression)",
           "community": "show only this community's findings (repeatable)", "jobs": "worker processes (results are identical)",
           "progress": "show a progress bar on stderr", "rule_id": "rule id",
           "subject": "subject id (omitted: every finding of the rule that is not a pass)",
           "period": "period label, e.g. 2022-2023-1", "records": "record files (YAML or JSON)",
           "policy": "a bundled policy name or a policy file",
           "diff_policy": "policy; twice to compare two policies (rules matched by concept)",
           "diff_as_of": "evaluation date; twice to compare two dates",
           "diff_param": "parameter NAME=VALUE, compared with the defaults (applies to the 'after' side)",
           "as_of": "YYYY-MM-DD (default: today)", "param": "override a parameter NAME=VALUE (type-checked as declared)",
           "test_paths": "test files or folders", "mutate": "mutation run: flip each comparison operator (values and let: included), report each policy's kill rate and survivors",
           "mutate_policy": "policy for --mutate (name or file, repeatable; default: every bundled policy with tests)", "coverage": "report rule and outcome coverage", "repeat": "repetitions",
           "which": "records or policy", "doc": "the policy woven beside its source text, with the source coverage",
           "check_sources": "also verify every quote against the source documents in DIR",
           "doc_sources": "the source documents (default: the bundled sources/)"},
}

TEXT = {
    "zh": {"unreadable": "无法读取", "not_found": "找不到政策：{name}（内置：{bundled}）", "ok_files": "通过：{n} 个文件",
           "needs_output": "--format {format} 需要 -o 文件", "no_rule_matches": "没有规则匹配 {patterns}",
           "unknown_rule": "规则不存在：{rule}", "no_findings": "没有符合条件的结果", "written": "已写入 {path}",
           "diff_usage": "diff 需要：两个 --policy；或一个 --policy 加 --param；或一个 --policy 加两个 --as-of",
           "bad_param": "--param 需要 NAME=VALUE：{text}", "unknown_param": "--param {name}：所测试的政策均未声明此参数",
           "shown": "显示 {shown} / 共 {total}", "encoded": "已编码 {n} 条，未编码 {m} 条",
           "hidden": "（不适用的结果未列出，--all 显示全部）",
           "rules_header": ["规则", "类型", "强度", "对象", "期间"], "not_encoded_header": ["未编码", "原因"],
           "table_header": ["规则", "对象", "教共体", "期间", "结果", "金额", "说明"]},
    "en": {"unreadable": "cannot read", "not_found": "policy not found: {name} (bundled: {bundled})",
           "ok_files": "ok: {n} file(s)", "needs_output": "--format {format} needs -o FILE",
           "no_rule_matches": "no rule matches {patterns}", "unknown_rule": "no such rule: {rule}",
           "no_findings": "no matching findings", "written": "written to {path}",
           "diff_usage": "diff needs two --policy; or one --policy with --param; or one --policy with two --as-of",
           "bad_param": "--param needs NAME=VALUE: {text}",
           "unknown_param": "--param {name}: no policy under test declares this parameter",
           "shown": "shown {shown} of {total}", "encoded": "{n} encoded, {m} not encoded",
           "hidden": " (not_applicable findings hidden; --all shows them)",
           "rules_header": ["rule", "kind", "strength", "subject", "per"], "not_encoded_header": ["not encoded", "reason"],
           "table_header": ["rule", "subject", "community", "period", "outcome", "amount", "note"]},
}


def _param(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name.strip():
        raise argparse.ArgumentTypeError(TEXT[_CURRENT_LANG[0]]["bad_param"].format(text=text))
    return name.strip(), value


_CURRENT_LANG = ["zh"]


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        message = "不是日期（YYYY-MM-DD）" if _CURRENT_LANG[0] == "zh" else "not a date (YYYY-MM-DD)"
        raise argparse.ArgumentTypeError(f"{message}: {text}") from None


def _say(args, key: str, **values) -> str:
    return TEXT[args.lang][key].format(**values)


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
            print(f"{file}: {_say(args, 'unreadable')}: {error}", file=sys.stderr)
            unreadable += 1
    if unreadable:
        return 2
    if args.format == "json":
        print(json.dumps({"errors": [d.to_json(args.lang) for d in problems]}, ensure_ascii=False, indent=2))
    else:
        for diagnostic in problems:
            print(_render_with_source(diagnostic, args.lang))
        if not any(not d.is_warning for d in problems):
            print(_say(args, "ok_files", n=len(args.files)))
    return 1 if any(not d.is_warning for d in problems) else 0  # warnings alone do not fail a check


def _render_with_source(diagnostic, lang: str) -> str:
    line = diagnostic.render(lang)
    try:
        text = Path(diagnostic.span.file).read_text(encoding="utf-8").splitlines()[diagnostic.span.line - 1]
    except (OSError, IndexError):
        return line
    caret = "".join("\u3000" if _width(ch) == 2 else " " for ch in text[:diagnostic.span.col - 1]) + "^"
    return f"{line}\n | {text}\n | {caret}"


def _load_policy_or_report(name: str, lang: str, parameters: Sequence[tuple[str, str]] = ()):
    """The policy with `--param` overrides (type-checked by load_policy), or None after printing the
    located error."""
    try:
        return engine.load_policy(name, parameters=dict(parameters) or None)
    except PolicyError as error:
        for diagnostic in error.diagnostics:
            print(_render_with_source(diagnostic, lang), file=sys.stderr)
        return None
    except FileNotFoundError:
        print(TEXT[lang]["not_found"].format(name=name, bundled=", ".join(resources.bundled_policy_names())),
              file=sys.stderr)
        return None


def _records_or_report(args, policy, as_of):
    try:
        return policy.load_records([Path(p) for p in args.records],
                                   limits=_record_limits(getattr(args, "record_limit", [])),
                                   input_format=getattr(args, "input_format", None))
    except RecordErrors as error:
        _record_errors(error, policy.name, as_of, args)
        return None


def _evaluate(args) -> int:
    if args.format == "xlsx" and not args.output:  # binary: never to a terminal
        print(_say(args, "needs_output", format=args.format), file=sys.stderr)
        return 2
    policy = _load_policy_or_report(args.policy, args.lang, args.param)
    if policy is None:
        return 1
    if args.rule:
        policy = restrict_rules(policy, args.rule)
        if policy is None:
            print(_say(args, "no_rule_matches", patterns=" ".join(args.rule)), file=sys.stderr)
            return 2
    as_of = args.as_of or dt.date.today()
    records = _records_or_report(args, policy, as_of)
    if records is None:
        return 2
    from policyengine import batch

    if args.format in ("json", "jsonl") and not (args.summary or args.outcome or args.community):
        # the compact schema-2 report, streamed (batch.write_report)
        try:
            open(args.output, "a", encoding="utf-8").close() if args.output else None
        except OSError as error:
            print(f"{args.output}: {'无法写入' if args.lang == 'zh' else 'cannot write'}: {error}", file=sys.stderr)
            return 2
        with _output(args.output) as out:
            counts = batch.write_report(policy, records, as_of, out, args.format, pretty=args.pretty,
                                        show_all=args.all, jobs=args.jobs, progress=args.progress)
        return 3 if counts["error"] else 0
    report = batch.evaluate_parallel(policy, records, as_of, jobs=args.jobs, progress=args.progress,
                                     sources=[Path(p) for p in args.records])
    shown = select_findings(report.findings, args.outcome, args.community, records, as_of)
    _present(args, policy, report, records, shown)
    return 3 if report.counts()["error"] else 0


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


def _present(args, policy, report: Report, records, shown: list) -> None:
    filtered = bool(args.outcome or args.community)
    if args.format == "json":
        data = report_json(report, records, shown if filtered else None)
        if args.summary:
            data["summary"] = summarize(report, records, policy, shown, args.community)
        _write_text(args, json.dumps(data, ensure_ascii=False, indent=2))
    elif args.format in ("csv", "xlsx"):
        from policyengine import export

        visible = shown if filtered or args.all else [f for f in shown if f.outcome != "not_applicable"]
        table = export.rows(visible, records, report.as_of, args.lang, policy.jurisdiction_name)
        if args.format == "csv":
            export.write_csv(args.output or sys.stdout, table)
        else:
            export.write_xlsx(args.output, table)
    elif args.format == "html":
        from policyengine.html import render_report

        _write_text(args, render_report(policy, report, records, shown, lang=args.lang, show_all=args.all))
    elif args.summary:
        _write_text(args, render_summary(summarize(report, records, policy, shown, args.community), args.lang))
    else:
        _write_text(args, render_table(report, policy, show_all=args.all, lang=args.lang, records=records,
                                       shown=shown if filtered else None))


def _write_text(args, text: str) -> None:
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
    else:
        print(text)


def report_json(report: Report, records, shown: list | None = None) -> dict[str, Any]:
    """The report's JSON with, per finding, the communities it is attributed to; with a display
    filter, `counts` stays the evaluated total and `counts_shown` counts what is listed."""
    findings = report.findings if shown is None else shown
    data = {"schema_version": SCHEMA_VERSION, "policy": report.policy, "as_of": report.as_of.isoformat(),
            "counts": report.counts()}
    if shown is not None:
        data["counts_shown"] = _counts(shown)
    data["findings"] = [dict(f.to_json(), attribution=attribute(f, records, report.as_of).to_json())
                        for f in findings]
    return data


def _counts(findings) -> dict[str, int]:
    result = {outcome: 0 for outcome in OUTCOMES}
    for f in findings:
        result[f.outcome] += 1
    return result


def _record_errors(error: RecordErrors, policy: str, as_of: dt.date, args) -> int:
    if getattr(args, "format", None) in ("json", "jsonl"):
        data = {"schema_version": SCHEMA_VERSION, "policy": policy, "as_of": as_of.isoformat(),
                "errors": [e.to_dict(args.lang) for e in error.errors]}
        if args.format == "jsonl":
            data = {"type": "errors", **data}
        with _output(getattr(args, "output", None)) as out:
            out.write(json.dumps(data, ensure_ascii=False, indent=2 if getattr(args, "pretty", False) else None) + "\n")
    else:
        print(error.message(args.lang), file=sys.stderr)
    return 2


def _explain_command(args) -> int:
    policy = _load_policy_or_report(args.policy, args.lang, args.param)
    if policy is None:
        return 1
    try:
        policy.rule(args.rule)
    except KeyError:
        print(_say(args, "unknown_rule", rule=args.rule), file=sys.stderr)
        return 2
    as_of = args.as_of or dt.date.today()
    records = _records_or_report(args, policy, as_of)
    if records is None:
        return 2
    import attrs

    report = attrs.evolve(policy, rules=(policy.rule(args.rule),)).evaluate(records, as_of)
    explanations = explain_rule(policy, report, records, args.rule, args.subject, args.period)
    if args.format == "json":
        print(json.dumps({"policy": policy.name, "as_of": as_of.isoformat(), "explanations": explanations},
                         ensure_ascii=False, indent=2))
    elif not explanations:
        print(_say(args, "no_findings"))
    else:
        print("\n\n".join(render_explanation(e, args.lang) for e in explanations))
    return 0 if explanations or args.subject is None else 1


def _diff_command(args) -> int:
    from policyengine.diff import diff, render_diff

    policies, dates = args.policy, args.as_of
    if len(policies) > 2 or len(dates) > 2 or (len(policies) == 1 and not args.param and len(dates) != 2) \
            or (len(policies) == 2 and len(dates) == 2):
        print(_say(args, "diff_usage"), file=sys.stderr)
        return 2
    before = _load_policy_or_report(policies[0], args.lang)
    after = _load_policy_or_report(policies[-1], args.lang, args.param)
    if before is None or after is None:
        return 1
    first = dates[0] if dates else dt.date.today()
    records = _records_or_report(args, before, first)
    if records is None:
        return 2
    # each side reads the records with its own record schema (a policy's extension adds fields and enum values)
    after_records = records if after.record_schema is before.record_schema else _records_or_report(args, after, first)
    if after_records is None:
        return 2
    result = diff(before.evaluate(records, first), after.evaluate(after_records, dates[-1] if dates else first),
                  before, after)
    if args.format == "json":
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print(render_diff(result, args.lang, Names(records, before.jurisdiction_name)))
    return 0


def _rule_source(args, policy) -> int:
    from policyengine.rulegen import source_of

    try:
        rule = policy.rule(args.source)
    except KeyError:
        print(_say(args, "unknown_rule", rule=args.source), file=sys.stderr)
        return 2
    sys.stdout.write(source_of(rule))
    return 0


def _rules(args) -> int:
    policy = _load_policy_or_report(args.policy, args.lang)
    if policy is None:
        return 1
    if args.source is not None:
        return _rule_source(args, policy)
    rules = [{"id": r.id, "kind": r.kind, "strength": r.strength, "subject": r.subject, "per": r.per,
              "concept": r.concept, "parameters": {k: str(v) for k, v in r.parameters},
              "message": {"zh": r.message, "en": r.message_en},
              "citation": {"file": r.citation.file, "section": r.citation.section, "quote": r.citation.quote}}
             for r in policy.rules]
    not_encoded = [{"id": i, "reason": reason} for i, reason in policy.not_encoded]
    if args.format == "json":
        print(json.dumps({"policy": policy.name, "title": policy.title, "source_file": policy.source_file,
                          "rules": rules, "not_encoded": not_encoded}, ensure_ascii=False, indent=2))
        return 0
    rows = [[r["id"], r["kind"], r["strength"] or "", r["subject"], r["per"] or ""] for r in rules]
    print(f"{policy.title}（{policy.name}）: {_say(args, 'encoded', n=len(rules), m=len(not_encoded))}")
    print(_table(TEXT[args.lang]["rules_header"], rows, _terminal_width()))
    if not_encoded:
        print()
        print(_table(TEXT[args.lang]["not_encoded_header"], [[x["id"], x["reason"]] for x in not_encoded],
                     _terminal_width()))
    return 0


def _test(args) -> int:
    from policyengine.testing.cases import run_paths

    if args.mutate:  # the mutation run: kill rate and survivors per policy (testing/mutation.py)
        from policyengine.testing import mutation

        results = mutation.run(args.policy or None)
        if args.format == "json":
            print(json.dumps({"results": results}, ensure_ascii=False, indent=2))
        else:
            print(mutation.render(results))
        return 0 if all("skipped" not in r for r in results) else 1

    try:
        return run_paths(args.paths, coverage=args.coverage, output_format=args.format, lang=args.lang,
                         parameters=dict(args.param))
    except KeyError as unknown:
        print(_say(args, "unknown_param", name=unknown.args[0]), file=sys.stderr)
        return 2


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
    header = ["rule", "findings", "total ms", "µs/finding", "scans (cost grows with the input)"] if args.lang == "en" \
        else ["规则", "结果数", "总毫秒", "微秒/结果", "扫描的全域集合（成本随输入增长）"]
    print(_table(header, [[r, str(n), f"{ms:.3f}", f"{us:.2f}", ", ".join(scans[r])] for r, n, ms, us in rows]))
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
    return 0


def _record_limits(pairs: list[str]):
    from policyengine.recordio import RecordLimits

    try:
        return RecordLimits.with_overrides(dict(pair.split("=", 1) for pair in pairs))
    except ValueError as error:  # a usage error: exit status 2
        print(f"policyengine evaluate: --record-limit: {error}", file=sys.stderr)
        raise SystemExit(2) from None


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
def render_table(report: Report, policy: Any, show_all: bool = False, lang: str = "zh", records: Any = None,
                 shown: list | None = None, width: int | None = None) -> str:
    """Findings as a table with names next to ids, wrapped to `width` (default: the terminal's, or
    $COLUMNS; unwrapped when output is not a terminal). `shown`: a display filter's findings."""
    names = Names(records, getattr(policy, "jurisdiction_name", ""))
    listed = report.findings if shown is None else shown
    listed = [f for f in listed if show_all or shown is not None or f.outcome != "not_applicable"]
    rows = []
    for f in listed:
        outcome = OUTCOME_LABELS[lang][f.outcome]
        unit = ("元" if lang == "zh" else "CNY") if f.currency == "CNY" else ""
        amount = f"{f.amount} {unit}".strip() if f.amount is not None else ""
        message = f.message_in(lang)
        note = message if f.outcome in ("violation", "warning") and message else _note(f, lang)
        communities = attribute(f, records, report.as_of).communities if records is not None else \
            ((f.community,) if f.community else ())
        rows.append([f.rule, names.of(f.subject_kind, f.subject),
                     "; ".join(names.of("community", c) for c in communities), f.period or "", outcome, amount, note])
    counts = ", ".join(f"{OUTCOME_LABELS[lang][k]} {v}" for k, v in report.counts().items() if v)
    title = f"{policy.title}（{policy.name}） as_of {report.as_of.isoformat()}"
    if shown is not None:
        counts += "; " + TEXT[lang]["shown"].format(shown=len(listed), total=len(report.findings))
    hidden = "" if show_all or shown is not None else TEXT[lang]["hidden"]
    return f"{title}\n{counts}{hidden}\n{_table(TEXT[lang]['table_header'], rows, width or _terminal_width())}"


def _note(finding, lang: str) -> str:
    values = finding.values_dict
    if values.get("exception"):
        label = "例外路径成立" if lang == "zh" else "exception path recorded"
        return f"{label}: " + ", ".join(map(str, values.get("failed", ())))
    for key in ("reason", "error", "failed", "value"):
        if key in values:
            value = values[key]
            text = ", ".join(map(str, value)) if isinstance(value, tuple) else str(value)
            return f"{key}: {_one_language(text, lang)}"
    return ""


def _one_language(text: str, lang: str) -> str:
    """Engine reasons read `中文 / English`; keep the half asked for."""
    if " / " not in text:
        return text
    zh, en = text.split(" / ", 1)
    return zh if lang == "zh" else en


def _terminal_width() -> int | None:
    """$COLUMNS, else the terminal's width; None (no wrapping) when output is not a terminal."""
    if os.environ.get("COLUMNS", "").isdigit():
        return int(os.environ["COLUMNS"])
    if sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    return None


def _width(ch: str) -> int:
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _text_width(text: str) -> int:
    return sum(_width(ch) for ch in text)


def _table(header: list[str], rows: list[list[str]], width: int | None = None, max_cell: int = 60,
           keep: tuple[int, ...] = (0,)) -> str:
    """Columns aligned by display width (East-Asian wide characters count 2). Within `width`, the
    widest columns are narrowed and their cells wrapped onto continuation lines; without a width,
    cells are clipped at `max_cell`."""
    if width is None:
        rows = [[_clip(cell, max_cell) for cell in row] for row in rows]
    widths = [max([_text_width(h)] + [_text_width(r[i]) for r in rows]) for i, h in enumerate(header)]
    if width is not None:
        widths = _fit(widths, width - 2 * (len(widths) - 1), keep)

    def lines(cells: list[str]) -> list[str]:
        wrapped = [_wrap(c, w) for c, w in zip(cells, widths)]
        height = max(len(w) for w in wrapped)
        out = []
        for i in range(height):
            parts = [(w[i] if i < len(w) else "") for w in wrapped]
            out.append("  ".join(p + " " * (w - _text_width(p)) for p, w in zip(parts, widths)).rstrip())
        return out

    result = lines(header) + ["  ".join("-" * w for w in widths)]
    for row in rows:
        result.extend(lines(row))
    return "\n".join(result)


def _fit(widths: list[int], room: int, keep: tuple[int, ...] = (), narrowest: int = 8) -> list[int]:
    """Narrow the widest column, one character at a time, until the row fits in `room`; the `keep`
    columns (the rule id) only when nothing else can give."""
    widths = list(widths)
    while sum(widths) > room:
        others = [i for i in range(len(widths)) if i not in keep and widths[i] > narrowest]
        candidates = others or [i for i in range(len(widths)) if widths[i] > narrowest]
        if not candidates:
            break
        widths[max(candidates, key=lambda i: widths[i])] -= 1
    return widths


def _wrap(text: str, width: int) -> list[str]:
    """Lines of at most `width` display columns; break at a space when one is near, else anywhere
    (Chinese text has no spaces)."""
    if _text_width(text) <= width:
        return [text]
    lines, line, used = [], "", 0
    for ch in text:
        w = _width(ch)
        if used + w > width:
            cut = line.rfind(" ")
            if cut > width // 2:
                lines.append(line[:cut])
                line = line[cut + 1:]
            else:
                lines.append(line)
                line = ""
            used = _text_width(line)
        line += ch
        used += w
    lines.append(line)
    return lines


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
