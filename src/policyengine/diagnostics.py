"""Diagnostics: every problem found in a policy file, as data with a stable code and a position.

The loader, parser and checker collect diagnostics instead of raising on the first one, so that a
policy author sees every error of a file in one pass. Messages exist in Chinese (default, for policy
authors) and English.
"""

from __future__ import annotations

import re
from typing import Iterable

import attrs

from policyengine.source import Span

# code → (Chinese template, English template). Codes are stable: tools and tests rely on them.
MESSAGES: dict[str, tuple[str, str]] = {
    "PE100": ("YAML 语法错误：{problem}", "YAML syntax error: {problem}"),
    "PE101": ("表达式语法错误：此处不应出现 {token}，应为 {expected}", "syntax error: unexpected {token}; expected {expected}"),
    "PE102": ("表达式中有无法识别的字符 {char}", "unexpected character {char}"),
    "PE103": ("表达式不完整，缺少 {expected}", "incomplete expression; expected {expected}"),
    "PE105": ("表达式中有全角或非 ASCII 字符 {char}：请改用半角 {ascii}（数字只用 0-9）",
              "fullwidth or non-ASCII character {char}: write the ASCII {ascii} (numbers use 0-9 only)"),
    "PE104": ("不允许的 YAML 标签 {tag}：政策文件只用普通的字符串、数字、日期、列表和映射",
              "YAML tag {tag} is not allowed: a policy file holds only plain strings, numbers, dates, lists and mappings"),
    "PE201": ("未知名称 {name}", "unknown name {name}"),
    "PE202": ("{type} 没有字段 {name}", "{type} has no field {name}"),
    "PE203": ("未知函数 {name}", "unknown function {name}"),
    "PE204": ("{name} 需要 {expected} 个参数，实际为 {actual} 个", "{name} takes {expected} argument(s), got {actual}"),
    "PE205": ("定义 {name} 递归引用了自身", "definition {name} refers to itself"),
    "PE206": ("名称 {name} 重复定义", "name {name} is defined twice"),
    "PE207": ("{what} 名称 {name} 不符合标识符规则：小写字母开头，只含 a-z、0-9 和 _，至多 64 个字符，不是关键字或保留名",
              "{what} name {name} breaks the identifier rule: a lower-case letter, then a-z, 0-9 or _, at most 64 "
              "characters, not a keyword or reserved name"),
    "PE208": ("定义 {name} 未被使用", "definition {name} is never used"),
    "PE209": ("let 名称 {name} 未被使用", "let name {name} is never used"),
    "PE301": ("运算 {op} 不适用于 {left} 和 {right}", "operator {op} does not apply to {left} and {right}"),
    "PE302": ("无法比较 {left} 与 {right}", "cannot compare {left} with {right}"),
    "PE303": ("条件必须是布尔值，实际为 {actual}", "a condition must be bool, got {actual}"),
    "PE304": ("{value} 不是 {enum} 的取值（可选：{choices}）", "{value} is not a value of {enum} (choices: {choices})"),
    "PE305": ("{name} 的参数类型应为 {expected}，实际为 {actual}", "argument of {name} must be {expected}, got {actual}"),
    "PE306": ("{actual} 不是集合，不能遍历或取下标", "{actual} is not a collection or map"),
    "PE307": ("{field} 的结果类型应为 {expected}，实际为 {actual}", "{field} must be {expected}, got {actual}"),
    "PE308": ("无效的字面量 {text}", "invalid literal {text}"),
    "PE309": ("参数 {name} 的取值无法计算：{problem}", "the value of parameter {name} cannot be computed: {problem}"),
    "PE310": ("{name} 的参数应为{expected_zh}，实际为 {value}（不会截断取整）",
              "the argument of {name} must be {expected_en}, got {value} (it is never truncated)"),
    "PE401": ("未知的键 {key}（允许：{allowed}）", "unknown key {key} (allowed: {allowed})"),
    "PE402": ("缺少必需的键 {key}", "missing required key {key}"),
    "PE403": ("{key} 的值应为 {expected}", "{key} must be {expected}"),
    "PE404": ("规则编号 {id} 重复", "duplicate rule id {id}"),
    "PE405": ("规则 {id} 缺少出处引文（citation.file 与 citation.quote）", "rule {id} has no citation (citation.file and citation.quote)"),
    "PE406": ("{key} 的取值 {value} 无效（可选：{choices}）", "invalid {key} {value} (choices: {choices})"),
    "PE407": ("键 {key} 重复", "duplicate key {key}"),
    "PE408": ("参数 {name} 的取值与声明不符：{problem}", "parameter {name} does not match its declaration: {problem}"),
    "PE409": ("编号 {id} 在 rules 与 not_encoded 中重复出现", "id {id} appears more than once across rules and not_encoded"),
    "PE410": ("{kind} 类规则{problem}", "a {kind} rule {problem_en}"),
    "PE411": ("规则编号 {id} 不符合目录 §1.6 的格式 city.group.name（小写字母、数字、_，以 . 分隔）",
              "rule id {id} does not follow catalog §1.6: city.group.name (lower-case letters, digits, _, separated by .)"),
    "PE412": ("未知类型 {type}（可用：number、money、bool、string、date、duration、period、记录类型、enum:名称、list<T>、map<K,V>）",
              "unknown type {type} (use number, money, bool, string, date, duration, period, a record kind, "
              "enum:NAME, list<T>, map<K,V>)"),
    "PE413": ("无法导入 {path}：{problem}", "cannot import {path}: {problem}"),
    "PE414": ("参数 {name} 不接受 effective:：参数对所有期间只有一个取值。若取值随日期变化，请为每个期间各写一个参数（或各写一个政策文件），由规则按日期选用",
              "parameter {name} does not take effective: a parameter has one value for every period; if the value changes by date, declare one parameter per period (or one policy file per period) and let the rule choose by date"),
    "PE417": ("values 中的名称 {name} 由引擎报告，不能由作者填写（保留：{reserved}）",
              "values name {name} is reported by the engine and cannot be written by the author (reserved: {reserved})"),
    "PE418": ("模板 {name}：{problem}", "template {name}: {problem_en}"),
    "PE419": ("选择参数 {name} 的取值 {value} 不能作为{what}（可选：{allowed}）",
              "choice parameter {name} = {value} cannot be a {what} (allowed: {allowed})"),
    "PE501": ("表达式过深或过大：{what_zh}超过 {limit}", "expression too deep or too large: {what_en} over {limit}"),
    "PE502": ("表达式过长（超过 {limit} 个字符）", "expression too long (over {limit} characters)"),
    "PE503": ("文件过大：{size} 字节，上限 {limit}（max_file_bytes）", "file too large: {size} bytes, over the limit of {limit} (max_file_bytes)"),
    "PE504": ("政策文件中不允许使用 YAML 别名 *{alias}：请把值写出来（共用的值写成参数或定义）",
              "YAML alias *{alias} is not allowed in a policy file: write the value out (a shared value is a parameter or definition)"),
    "PE505": ("YAML 嵌套超过 {limit} 层（max_yaml_depth）", "YAML nested more than {limit} levels deep (max_yaml_depth)"),
    "PE506": ("数字 {text} 超过 {digits} 位有效数字或 10 的 ±{exponent} 次方（max_number_digits、max_number_exponent）",
              "number {text} has more than {digits} significant digits or a magnitude beyond 10^±{exponent} (max_number_digits, max_number_exponent)"),
    "PE507": ("列表或映射超过 {limit} 项（max_list_items）", "a list or mapping of more than {limit} items (max_list_items)"),
    "PE508": ("规则 {rule} 的估计开销 {cost} 超过上限 {limit}（max_rule_cost）：嵌套的遍历相乘{detail}",
              "rule {rule} has an estimated cost of {cost}, over the limit of {limit} (max_rule_cost): nested comprehensions multiply{detail}"),
    "PE509": ("定义调用定义的嵌套超过 {limit} 层（max_definition_depth）：{chain}",
              "definitions calling definitions more than {limit} deep (max_definition_depth): {chain}"),
    "PE510": ("表达式（展开定义后）嵌套过深，超过上限 {limit}（max_code_depth）",
              "expression nested too deeply once definitions are expanded, over the limit of {limit} (max_code_depth)"),
    "PE601": ("引文在出处 {file} 中找不到：自「{from}」起与原文不符；最接近的原文（{file} 第 {line} 行）：「{passage}」",
              "quote not found in {file}: from “{from}” on it departs from the source; nearest passage ({file} line {line}): “{passage}”"),
    "PE602": ("引文中的 ‖ 处，出处 {file} 并未换行（‖ 只代表原文的换行或分块处）；原文（第 {line} 行）：「{passage}」",
              "a ‖ in the quote where {file} has no line break (‖ stands only for a line or chunk break of the source); source (line {line}): “{passage}”"),
    "PE603": ("出处文件 {file} 不在 {dir} 中", "source file {file} is not in {dir}"),
    "PE701": ("记录结构扩展只能新增：{what} 已在核心结构中（城市可用的子集应写成规则）",
              "a schema extension only adds: {what} is already in the core schema (a city's subset is a rule)"),
    "PE702": ("字段 {field} 的类型无效：{problem}", "invalid type of field {field}: {problem}"),
    "PE703": ("枚举 {enum} 中名称 {name} 已表示 {value}", "{name} already names {value} in enum {enum}"),
    "PE704": ("扩展字段 {field} 须为可选（类型后加 ?）或给出 default，否则核心结构接受的记录会被拒绝",
              "extension field {field} must be optional (a trailing ?) or have a default: records the core schema accepts must stay accepted"),
}


# Evaluation errors: an expression failed on a record. The finding becomes `error`, with
# values.error_code (one of these), values.error_at (the policy file:line:col of the expression that
# failed) and values.error (what happened). Codes are stable, like the PE codes.
EVALUATION_ERRORS: dict[str, tuple[str, str]] = {
    "EV100": ("表达式求值失败", "the expression failed"),
    "EV101": ("除数为零", "division by zero"),
    "EV102": ("无效的值（如不存在的日期）", "invalid value (e.g. a date that does not exist)"),
    "EV103": ("下标超出范围", "index out of range"),
    "EV104": ("数值超出位数或指数限制", "a number over the digit or exponent limit"),
    "EV105": ("循环次数超出预算", "loop-trip budget exceeded"),
    "EV106": ("无效的十进制运算", "invalid decimal operation"),
    "EV107": ("嵌套调用过深", "calls nested too deep"),
    "EV108": ("金额不是精确到分的数", "an amount not exact to the fen"),
    "EV109": ("分配权重之和为零", "allocate weights sum to zero"),
    "EV110": ("内存不足", "out of memory"),
    "EV111": ("列表超出长度限制", "a list over the size limit"),
    "EV112": ("没有值（数据缺失或集合为空）", "no value (absent data or an empty collection)"),
}


# codes that report a problem worth fixing but do not stop a policy from loading
WARNINGS = frozenset({"PE208", "PE209"})


@attrs.frozen
class Diagnostic:
    code: str
    span: Span
    args: dict = attrs.field(factory=dict, eq=False)

    @property
    def is_warning(self) -> bool:
        return self.code in WARNINGS

    def message(self, lang: str = "zh") -> str:
        zh, en = MESSAGES[self.code]
        template = zh if lang == "zh" else en
        return template.format_map(_Defaulting(self.args)) + hint_text(self.code, self.args, lang)

    def render(self, lang: str = "zh") -> str:
        flag = ("警告 " if lang == "zh" else "warning ") if self.is_warning else ""
        return f"{self.span}: {self.code} {flag}{self.message(lang)}"

    def to_json(self, lang: str = "zh") -> dict:
        return {"file": self.span.file, "line": self.span.line, "col": self.span.col,
                "code": self.code, "severity": "warning" if self.is_warning else "error",
                "message": self.message(lang)}


def hint_text(code: str, args: dict, lang: str) -> str:
    """What to do, appended to the message: the nearest names and a navigation (hints.py), or for a
    YAML syntax error the usual cause and its fix."""
    parts = []
    if args.get("did_you_mean"):
        names = ("、" if lang == "zh" else ", ").join(args["did_you_mean"])
        parts.append(f"是否想写 {names}？" if lang == "zh" else f"did you mean {names}?")
    if args.get("navigation"):
        parts.append(f"可经由 {args['navigation']} 访问" if lang == "zh" else f"reachable as {args['navigation']}")
    if code == "PE100":
        parts += [zh if lang == "zh" else en for pattern, zh, en in YAML_ADVICE
                  if re.search(pattern, str(args.get("problem", "")))][:1]
    if not parts:
        return ""
    return "（" + "；".join(parts) + "）" if lang == "zh" else " (" + "; ".join(parts) + ")"


# PyYAML's problem text → what the author should do (the first pattern that matches)
YAML_ADVICE: tuple[tuple[str, str, str], ...] = (
    (r"mapping values are not allowed",
     "值中含有“: ”（冒号加空格）时，请给整个值加引号，如 quote: \"甲: 乙\"；并检查上一行的键是否缺少冒号",
     "if a value contains ': ' (colon and space), quote the whole value, e.g. quote: \"a: b\"; also check that the key on the line above has its colon"),
    (r"found character '\\t'", "YAML 不能用制表符缩进，请改用空格", "YAML does not allow tabs for indentation: indent with spaces"),
    (r"found character '[@`%]'", "以 @、`、% 开头的值必须加引号", "a value that starts with @, ` or % must be quoted"),
    (r"undefined alias|expected alphabetic or numeric character",
     "以 * 或 & 开头的值会被读作 YAML 别名或锚点，请给整个值加引号，如 \"*2\"",
     "a value that starts with * or & is read as a YAML alias or anchor: quote the whole value, e.g. \"*2\""),
    (r"unknown escape character", "双引号中的反斜杠 \\ 开始转义序列：请改用单引号，或写成 \\\\",
     "inside double quotes a backslash starts an escape: use single quotes, or write \\\\"),
    (r"unexpected end of stream", "引号或括号没有闭合：请在值的末尾补上", "a quote or bracket is not closed: close it at the end of the value"),
    (r"expected ',' or '\}'", "花括号 {…} 中缺少逗号或右花括号；其中含“: ”或“,”的值请加引号",
     "a {…} mapping lacks a comma or its closing brace; quote values that contain ': ' or ','"),
    (r"expected ',' or '\]'", "方括号 […] 中缺少逗号或右方括号；其中含“,”的值请加引号",
     "a […] list lacks a comma or its closing bracket; quote values that contain ','"),
    (r"expected <block end>",
     "缩进不一致：同一层的键须对齐，列表项“- ”与其同级键不能混用；以引号开头的值须以引号结束（整个值放进引号）",
     "inconsistent indentation: keys of one level must line up, and list items '- ' cannot mix with keys at the same level; a value that starts with a quote must end with it (put the whole value in quotes)"),
    (r"chomping or indentation indicators", "| 或 > 之后须换行再写内容（其后只能跟 - 或 +）",
     "after | or > the text starts on the next line (only - or + may follow them)"),
    (r"special characters are not allowed", "文件中有控制字符，请删除", "the file contains a control character: delete it"),
)


class _Defaulting(dict):
    def __missing__(self, key: str) -> str:
        return "?"


class PolicyError(Exception):
    """A policy file (or expression) did not pass loading and checking; holds every diagnostic."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        # the same problem at the same place (an error inside a definition used by several rules) once
        unique = {(d.span, d.render("en")): d for d in diagnostics}
        self.diagnostics = tuple(sorted(unique.values(), key=_order))
        super().__init__("\n".join(d.render("en") for d in self.diagnostics))

    def render(self, lang: str = "zh") -> str:
        return "\n".join(d.render(lang) for d in self.diagnostics)


def _order(d: Diagnostic) -> tuple:
    return (d.span.file, d.span.line, d.span.col, d.code)
