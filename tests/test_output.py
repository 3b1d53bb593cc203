"""explain, evaluate --summary, diff, --param, filters, languages, names and exports, on the bundled
Ruian example (examples/ruian.yaml) judged at 2024-09-01.

Expected values come from the source text (001_d2a07aa1147355f8.txt) applied to the example records:
  五(五) 「成员校(校区)教学质量年度考核Z值较上年度提升5分及以上,按毕业班每班1万元予以奖励」:
    马屿镇中学 ra-u-08: Z 50.0 → 58.5 (2022, +8.5) with 4 graduating classes → 40000.00; 58.5 → 60.0 (2023,
    +1.5) → 0.00. 陶山镇中学 ra-u-09: 55.0 → 61.0 (2023, +6.0), 3 classes → 30000.00.
  五(五) 「核心校本年度获得教育教学质量奖,且成员校(校区)Z值提升5分及以上,…按1.2系数拨付」:
    安阳实验中学 ra-u-07, 2023 award 80000.00; a member (ra-u-09) rose by 6 → 96000.00. Read as "all members"
    (member_quantifier=all), ra-u-08's +1.5 fails → 80000.00: 16000.00 less.
  五(六) 「马屿和陶山教育学区片区内学校任教的教师特岗津贴调整为600元/月」: ra-p-r1 teaches at 马屿 → 600.00.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
import yaml

import policyengine
from policyengine.cli import main
from policyengine.explain import attribute
from policyengine.records import load_records

ROOT = Path(__file__).resolve().parents[1]
RUIAN = str(ROOT / "examples" / "ruian.yaml")
AS_OF = "2024-09-01"
SRC = ROOT / "src"


def run(capsys, *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def run_json(capsys, *args: str) -> dict:
    status, out, err = run(capsys, *args, "--format", "json")
    assert status in (0, 3), err
    return json.loads(out)


def cli(*args: str, columns: int | None = None) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "utf-8"}
    if columns:
        env["COLUMNS"] = str(columns)
    return subprocess.run([sys.executable, "-m", "policyengine", *args], capture_output=True, text=True,
                          encoding="utf-8", env=env, timeout=300)


# --------------------------------------------------------------------------------------------- explain
def test_explain_amount_with_values_parameters_ambiguity_and_quote(capsys):
    status, out, _ = run(capsys, "explain", "--policy", "ruian", RUIAN, "--as-of", AS_OF, "--rule",
                         "ruian.reward.core_quality_award_x1_2", "--subject", "ra-u-07", "--period", "2023")
    assert status == 0
    assert "对象：学校 瑞安市安阳实验中学（ra-u-07）" in out
    assert "所属教共体：瑞安市安阳实验中学教育共同体（ra-c-03）" in out
    assert "结果：金额 96000.00元" in out
    assert "base_award = 80000.00" in out and "coefficient = 1.2" in out
    assert "参数 member_quantifier = any；歧义与所取读法：" in out
    assert "依据（001_d2a07aa1147355f8.txt 五、激励措施 (五)）：「核心校本年度获得教育教学质量奖" in out
    assert "按1.2系数拨付。」" in out


def test_explain_failed_condition_in_english(capsys):
    status, out, _ = run(capsys, "explain", "--policy", "ruian", RUIAN, "--as-of", AS_OF, "--rule",
                         "ruian.reward.z_score_graduating_class", "--subject", "ra-u-08", "--period", "2023",
                         "--lang", "en")
    assert status == 0
    assert "Outcome: amount 0.00 CNY (paying condition not met (pays_when))." in out
    assert ("Condition pays_when `z_of(unit, period.year) - z_of(unit, period.year - 1) >= z_rise_threshold`: "
            "FAILS (z_rise_threshold = 5).") in out
    assert "z = 60.0, z_previous = 58.5, z_rise = 1.5" in out
    assert "Source (001_d2a07aa1147355f8.txt 五、激励措施 (五)): “教共体内成员校(校区)教学质量年度考核Z值较上年度提升5分及以上" in out


def test_explain_json_structure(capsys):
    data = run_json(capsys, "explain", "--policy", "ruian", RUIAN, "--as-of", AS_OF, "--rule",
                    "ruian.reward.z_score_graduating_class", "--subject", "ra-u-08")
    by_period = {e["period"]: e for e in data["explanations"]}
    assert by_period["2022"]["amount"] == "40000.00" and by_period["2023"]["amount"] == "0.00"
    paying = next(c for c in by_period["2022"]["conditions"] if c["part"] == "pays_when")
    assert paying["holds"] is True
    assert next(c for c in by_period["2023"]["conditions"] if c["part"] == "pays_when")["holds"] is False
    e = by_period["2022"]
    assert e["subject"] == {"kind": "unit", "id": "ra-u-08", "name": "瑞安市马屿镇中学"}
    assert e["communities"] == [{"id": "ra-c-03", "name": "瑞安市安阳实验中学教育共同体"}]
    assert e["message"]["en"].startswith("member school's annual teaching-quality Z rose by 5 points")
    threshold = next(p for p in e["parameters"] if p["name"] == "z_rise_threshold")
    assert str(threshold["value"]) == "5" and "提升5分及以上" in threshold["description"]
    assert e["citation"]["quote"] == "教共体内成员校(校区)教学质量年度考核Z值较上年度提升5分及以上,按毕业班每班1万元予以奖励。"


def test_explain_without_subject_lists_every_finding_that_is_not_a_pass(capsys):
    data = run_json(capsys, "explain", "--policy", "ruian", RUIAN, "--as-of", AS_OF, "--rule",
                    "ruian.annex1.co_build.reporting_meeting_system")
    outcomes = {e["outcome"] for e in data["explanations"]}
    assert "pass" not in outcomes and "violation" in outcomes
    violation = next(e for e in data["explanations"] if e["outcome"] == "violation")
    require = next(c for c in violation["conditions"] if c["part"] == "require")
    assert require["holds"] is False and require["reads"] == {"min_regular_meetings": 1}
    # no frequency in 「建立…例会制度」: existence is the default, a per-semester minimum the opt-in (#16)
    ambiguity = next(p for p in violation["parameters"] if p["name"] == "annex1_frequency")["ambiguity"]
    assert "no frequency → existence" in ambiguity


def test_explain_unknown_rule_is_a_usage_error(capsys):
    status, _, err = run(capsys, "--lang", "en", "explain", "--policy", "ruian", RUIAN, "--rule", "ruian.nope")
    assert status == 2 and "no such rule: ruian.nope" in err


# --------------------------------------------------------------------------------------------- summary
def test_summary_per_community_by_name_with_exact_amounts(capsys):
    data = run_json(capsys, "evaluate", "--policy", "ruian", RUIAN, "--as-of", AS_OF, "--summary",
                    "--rule", "ruian.reward.*")
    c03 = next(c for c in data["summary"]["communities"] if c["id"] == "ra-c-03")
    assert c03["name"] == "瑞安市安阳实验中学教育共同体"
    # 40000.00 + 0.00 (ra-u-08) + 30000.00 (ra-u-09) + 96000.00 (core ra-u-07)
    assert c03["amounts"] == {"CNY": "166000.00"}
    assert c03["counts"]["amount"] == 4
    status, out, _ = run(capsys, "evaluate", "--policy", "ruian", RUIAN, "--as-of", AS_OF, "--summary",
                         "--rule", "ruian.reward.*")
    assert "瑞安市安阳实验中学教育共同体（ra-c-03）" in out and "应付金额合计：166000.00 元" in out


def test_summary_violations_by_rule_and_deadlines_not_yet_due(capsys):
    data = run_json(capsys, "evaluate", "--policy", "ruian", RUIAN, "--as-of", AS_OF, "--summary")
    c03 = next(c for c in data["summary"]["communities"] if c["id"] == "ra-c-03")
    # 五(一) 「确保交流教师交流后聘任职级不低于交流前」: ra-a-x09 went down
    assert c03["by_rule"]["violation"]["ruian.personnel.co_build.post_grade_floor"] == 1
    # ra-p-r3 was hired 2024-02-01 and has to shadow one year at the core: due after 2024-09-01
    pending = [d for d in c03["deadlines_not_yet_due"] if d["subject"] == "ra-p-r3"]
    assert [d["rule"] for d in pending] == ["ruian.personnel.member_recruit_shadow_1y"]
    assert pending[0]["due"] > AS_OF
    later = run_json(capsys, "evaluate", "--policy", "ruian", RUIAN, "--as-of", "2025-06-01", "--summary")
    c03_later = next(c for c in later["summary"]["communities"] if c["id"] == "ra-c-03")
    assert not [d for d in c03_later["deadlines_not_yet_due"] if d["subject"] == "ra-p-r3"]


def test_unit_and_person_findings_belong_to_the_community_in_force_in_the_period_judged():
    raw = yaml.safe_load(Path(RUIAN).read_text(encoding="utf-8"))
    policy = policyengine.load_policy("ruian")

    def z_reward(left_on: str) -> list:
        data = json.loads(json.dumps(raw, default=str))
        community = next(c for c in data["communities"] if c["community_id"] == "ra-c-03")
        member = next(u for u in community["units"] if u["unit_id"] == "ra-u-08")
        member["left_on"] = left_on
        records = load_records(data)
        report = policy.evaluate(records, dt.date(2024, 9, 1))
        finding = report.select(rule="ruian.reward.z_score_graduating_class", subject="ra-u-08", period="2023")
        return [attribute(f, records, report.as_of) for f in finding]

    # left_on is the first day no longer in force: leaving on 2023-01-01 ends before calendar 2023
    assert z_reward("2023-01-01")[0].communities == ()
    kept = z_reward("2023-01-02")[0]  # in force on 2023-01-01, one day of the period judged
    assert kept.communities == ("ra-c-03",) and kept.basis == "membership"
    assert kept.memberships == (("ra-u-08", "ra-c-03", None, "2023-01-02"),)


def test_evaluate_json_states_the_attribution(capsys):
    data = run_json(capsys, "evaluate", "--policy", "ruian", RUIAN, "--as-of", AS_OF, "--summary",
                    "--rule", "ruian.allowance.mountain_special_post")
    r1 = next(f for f in data["findings"] if f["subject"] == "ra-p-r1")
    assert r1["amount"] == "600.00" and r1["community"] is None
    assert r1["attribution"]["communities"] == ["ra-c-03"] and r1["attribution"]["basis"] == "membership"


# ------------------------------------------------------------------------------------------------ diff
def test_diff_under_two_readings_of_member_quantifier(capsys):
    data = run_json(capsys, "diff", RUIAN, "--policy", "ruian", "--param", "member_quantifier=all",
                    "--as-of", AS_OF)
    assert data["matched_by"] == "rule"
    assert len(data["changes"]) == 1
    change = data["changes"][0]
    assert (change["match"], change["subject"], change["period"]) == \
        ("ruian.reward.core_quality_award_x1_2", "ra-u-07", "2023")
    assert [s["amount"] for s in change["before"]] == ["96000.00"]
    assert [s["amount"] for s in change["after"]] == ["80000.00"]
    assert change["before"][0]["citation"]["quote"].endswith("按1.2系数拨付。")
    assert change["after"][0]["citation"]["file"] == "001_d2a07aa1147355f8.txt"
    assert data["totals"]["CNY"]["change"] == "-16000.00"
    assert data["totals"]["CNY"]["in_changed_findings"] == {"before": "96000.00", "after": "80000.00"}
    status, out, _ = run(capsys, "--lang", "en", "diff", RUIAN, "--policy", "ruian", "--param",
                         "member_quantifier=all", "--as-of", AS_OF)
    assert status == 0 and "member_quantifier: any → all" in out and "(change -16000.00)" in out


def test_diff_between_two_dates(capsys):
    data = run_json(capsys, "diff", RUIAN, "--policy", "ruian", "--as-of", AS_OF, "--as-of", "2025-06-01")
    shadow = [c for c in data["changes"] if c["subject"] == "ra-p-r3"
              and c["match"] == "ruian.personnel.member_recruit_shadow_1y"]
    assert len(shadow) == 1
    assert [s["outcome"] for s in shadow[0]["before"]] == ["not_applicable"]  # not yet due on 2024-09-01
    assert [s["outcome"] for s in shadow[0]["after"]] != ["not_applicable"]


def test_diff_between_two_policies_matches_rules_by_concept(capsys):
    data = run_json(capsys, "diff", RUIAN, "--policy", "ruian", "--policy", "yueqing", "--as-of", AS_OF)
    assert data["matched_by"] == "concept"
    floor = [c for c in data["changes"] if c["match"] == "funding.annual_budget_floor"]
    assert floor and all(c["subject"] == "*" for c in floor)
    # Ruian 「每年投入不少于5000万元」: 2021 50000000.00 passes, 2022 49999999.99 fails. Yueqing's 1000万 floor
    # counts only Yueqing's budgets, of which these records have none: a violation every year. So 2021
    # changes (pass → violation) and 2022 does not (violation both sides).
    by_year = {c["period"]: c for c in floor}
    assert [(s["rule"], s["outcome"]) for s in by_year["2021"]["before"]] == [("ruian.funding.city_floor_50m", "pass")]
    assert [(s["rule"], s["outcome"]) for s in by_year["2021"]["after"]] == \
        [("yueqing.funding.city_floor_10m", "violation")]
    assert "2022" not in by_year
    assert "ruian.reward.z_score_graduating_class" in data["unmatched_rules"]["before"]


def test_every_concept_of_the_catalog_is_shared_by_at_least_two_policies():
    concepts: dict[str, set[str]] = {}
    for name in ("liuzhou", "ruian", "suixian", "yueqing", "wucheng"):
        for rule in policyengine.load_policy(name).rules:
            if rule.concept:
                concepts.setdefault(rule.concept, set()).add(name)
    assert len(concepts) >= 20
    assert {c for c, cities in concepts.items() if len(cities) < 2} == set()
    assert concepts["funding.annual_budget_floor"] == {"ruian", "yueqing"}
    # catalog §11.3: the same title exemption with different data (README "Same concept, different data")
    assert concepts["incentive.senior_post_exemption"] == {"ruian", "wucheng"}


def test_diff_between_two_policies_reads_the_records_with_each_policys_schema(tmp_path, capsys):
    """One side has a schema extension (policies/schema/<name>.yaml): each side loads the records with its own
    record schema, so the records the core schema accepts are compared, not refused as loaded without it."""
    body = ("format: policyengine/1\njurisdiction: {{id: {name}, name: 测试{name}}}\ntitle: t\nsource: {{file: t.txt}}\n"
            "effective: {{from: 2021-09-01}}\nrules:\n  - id: {name}.formation.one_lead\n    concept: formation.roles\n"
            "    kind: requirement\n    strength: hard\n    subject: community\n"
            "    require: \"count(m for m in community.units where m.role == 'lead') == 1\"\n"
            "    citation: {{file: t.txt, quote: 一个牵头单位}}\n")
    (tmp_path / "plain.yaml").write_text(body.format(name="plain"), encoding="utf-8")
    (tmp_path / "extended.yaml").write_text(body.format(name="extended"), encoding="utf-8")
    (tmp_path / "schema").mkdir()
    (tmp_path / "schema" / "extended.yaml").write_text("records:\n  community:\n    fields:\n      note: string?\n",
                                                       encoding="utf-8")
    records = tmp_path / "records.yaml"
    records.write_text("units: [{unit_id: a, name: A}]\ncommunities: [{community_id: c, name: C, units: [{unit_id: a, role: lead}]}]\n",
                       encoding="utf-8")
    for first, second in (("plain", "extended"), ("extended", "plain")):
        data = run_json(capsys, "diff", str(records), "--policy", str(tmp_path / f"{first}.yaml"),
                        "--policy", str(tmp_path / f"{second}.yaml"), "--as-of", AS_OF)
        assert data["matched_by"] == "concept" and data["changes"] == []


def test_diff_of_the_title_exemption_showcase(capsys):
    """README "Same concept, different data": Ruian's and Wucheng's senior-post exemption on one record set."""
    data = run_json(capsys, "diff", str(ROOT / "examples" / "title-exemption-showcase.yaml"), "--policy", "ruian",
                    "--policy", "wucheng", "--as-of", "2024-09-01")
    changes = {c["subject"]: ([s["outcome"] for s in c["before"]], [s["outcome"] for s in c["after"]])
               for c in data["changes"] if c["match"] == "incentive.senior_post_exemption"}
    assert changes == {"sc-yi": (["not_applicable"], ["entitlement"]), "sc-bing": (["entitlement"], ["not_applicable"])}


def test_diff_usage_is_checked(capsys):
    status, _, err = run(capsys, "--lang", "en", "diff", RUIAN, "--policy", "ruian")
    assert status == 2 and "diff needs" in err


# ------------------------------------------------------------------------------------------- --param
def test_param_unknown_name_is_a_located_error(capsys):
    status, _, err = run(capsys, "--lang", "en", "evaluate", "--policy", "ruian", RUIAN, "--param", "no_such=1")
    assert status == 1
    assert "ruian.yaml:1:1: PE201 unknown name no_such" in err


def test_param_bad_value_is_located_at_the_declaration(capsys):
    status, _, err = run(capsys, "--lang", "en", "explain", "--policy", "ruian", RUIAN, "--rule",
                         "ruian.reward.core_quality_award_x1_2", "--param", "member_quantifier=some")
    assert status == 1
    line = next(i for i, text in enumerate(Path(ROOT / "policies" / "ruian.yaml").read_text(
        encoding="utf-8").splitlines(), 1) if text.strip() == "member_quantifier:") + 1
    assert f"ruian.yaml:{line}:" in err and "PE408" in err and "'some'" in err


def test_param_wrong_type_is_refused(capsys):
    status, _, err = run(capsys, "--lang", "en", "evaluate", "--policy", "ruian", RUIAN,
                         "--param", "z_rise_threshold='five'")
    assert status == 1 and "PE408" in err


def test_param_changes_evaluate(capsys):
    # 「提升5分及以上」 read as 8: ra-u-09's +6.0 no longer pays; ra-u-08's +8.5 still does
    data = run_json(capsys, "evaluate", "--policy", "ruian", RUIAN, "--as-of", AS_OF,
                    "--rule", "ruian.reward.z_score_graduating_class", "--param", "z_rise_threshold=8")
    amounts = {(f["subject"], f["period"]): f["amount"] for f in data["findings"] if f["outcome"] == "amount"}
    assert amounts[("ra-u-08", "2022")] == "40000.00" and amounts[("ra-u-09", "2023")] == "0.00"


def test_param_on_test_command(capsys):
    tests = str(ROOT / "policies" / "tests" / "ruian")
    status, out, _ = run(capsys, "--lang", "en", "test", tests, "--param", "member_quantifier=all")
    assert status == 1 and "FAIL" in out  # the suite asserts the default reading
    status, _, err = run(capsys, "--lang", "en", "test", tests, "--param", "no_such=1")
    assert status == 2 and "no_such" in err


# ------------------------------------------------------------------------------------------- filters
def test_outcome_and_community_filters_restrict_display_and_show_both_counts(capsys):
    everything = run_json(capsys, "evaluate", "--policy", "ruian", RUIAN, "--as-of", AS_OF)
    shown = run_json(capsys, "evaluate", "--policy", "ruian", RUIAN, "--as-of", AS_OF,
                     "--outcome", "violation", "--community", "ra-c-03")
    assert shown["counts"] == everything["counts"]
    assert shown["counts_shown"]["violation"] == len(shown["findings"]) > 0
    assert sum(shown["counts_shown"].values()) == len(shown["findings"])
    assert all(f["outcome"] == "violation" and "ra-c-03" in f["attribution"]["communities"]
               for f in shown["findings"])
    status, out, _ = run(capsys, "--lang", "en", "evaluate", "--policy", "ruian", RUIAN, "--as-of", AS_OF,
                         "--outcome", "violation", "--community", "ra-c-03")
    assert f"shown {len(shown['findings'])} of {sum(everything['counts'].values())}" in out


def test_rule_glob_restricts_evaluation_and_the_counts_follow(capsys):
    data = run_json(capsys, "evaluate", "--policy", "ruian", RUIAN, "--as-of", AS_OF, "--rule", "ruian.reward.*")
    assert {f["rule"] for f in data["findings"]} == {"ruian.reward.z_score_graduating_class",
                                                      "ruian.reward.core_quality_award_x1_2"}
    assert data["counts"]["amount"] == len([f for f in data["findings"] if f["outcome"] == "amount"]) == 8
    status, _, err = run(capsys, "--lang", "en", "evaluate", "--policy", "ruian", RUIAN, "--rule", "nope.*")
    assert status == 2 and "no rule matches nope.*" in err


def test_filters_in_the_api():
    from policyengine.explain import restrict_rules, select_findings

    records = load_records(RUIAN)
    policy = restrict_rules(policyengine.load_policy("ruian"), ["ruian.allowance.*"])
    report = policy.evaluate(records, dt.date(2024, 9, 1))
    chosen = select_findings(report.findings, ["amount"], ["ra-c-03"], records, report.as_of)
    assert chosen and all(f.rule == "ruian.allowance.mountain_special_post" for f in chosen)
    r1 = next(f for f in chosen if f.subject == "ra-p-r1")
    assert str(r1.amount) == "600.00"


# ----------------------------------------------------------------------------------------- languages
def test_lang_after_the_subcommand_and_english_messages(capsys):
    status, out, _ = run(capsys, "evaluate", "--policy", "ruian", RUIAN, "--as-of", AS_OF, "--lang", "en",
                         "--outcome", "violation")
    assert status == 0
    policy = policyengine.load_policy("ruian")
    for rule in policy.rules:
        if rule.message and rule.message != rule.message_en:
            assert rule.message not in out  # no Chinese message under --lang en
    assert "the exchanged teacher's post grade after the exchange is lo" in out  # clipped at 60 off a terminal
    assert "violation" in out and "违规" not in out


def test_findings_carry_both_messages(capsys):
    data = run_json(capsys, "evaluate", "--policy", "ruian", RUIAN, "--as-of", AS_OF,
                    "--rule", "ruian.personnel.co_build.post_grade_floor")
    finding = data["rules"]["ruian.personnel.co_build.post_grade_floor"]  # schema 2: per rule
    assert finding["message"] == "共建型教共体交流教师交流后聘任职级低于交流前"
    assert finding["message_en"] == "the exchanged teacher's post grade after the exchange is lower than before"


def test_json_never_cuts_a_failed_condition_short(capsys):
    data = run_json(capsys, "evaluate", "--policy", "ruian", RUIAN, "--as-of", AS_OF,
                    "--rule", "ruian.personnel.co_build.post_grade_floor")
    failed = next(f for f in data["findings"] if f["outcome"] == "violation")["values"]["failed"]
    assert failed == ["if post_grade_order == 'lower_is_senior' then assignment.post_grade_after <= "
                      "assignment.post_grade_before else assignment.post_grade_after >= assignment.post_grade_before"]


def test_usage_rules_and_tests_follow_lang(capsys):
    with pytest.raises(SystemExit):
        main(["evaluate", "--lang", "en"])
    assert "the following arguments are required" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["evaluate"])
    assert "缺少必需的参数" in capsys.readouterr().err
    status, out, _ = run(capsys, "rules", "--policy", "ruian", "--lang", "en")
    assert status == 0 and "encoded" in out and out.splitlines()[1].split()[:2] == ["rule", "kind"]
    status, out, _ = run(capsys, "rules", "--policy", "ruian")
    assert "已编码" in out and out.splitlines()[1].split()[:2] == ["规则", "类型"]
    status, out, err = run(capsys, "--lang", "en", "evaluate", "--policy", "nowhere", RUIAN)
    assert status == 1 and "policy not found: nowhere" in err
    status, out, err = run(capsys, "evaluate", "--policy", "nowhere", RUIAN)
    assert "找不到政策：nowhere" in err
    tests = str(ROOT / "policies" / "tests" / "ruian")
    status, out, _ = run(capsys, "test", tests)
    assert status == 0 and "通过" in out.splitlines()[-1] and "失败 0" in out.splitlines()[-1]
    status, out, _ = run(capsys, "test", tests, "--lang", "en")
    assert out.splitlines()[-1].endswith("passed, 0 failed")


# -------------------------------------------------------------------------------------- names, table
def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def test_table_shows_names_next_to_ids():
    result = cli("evaluate", "--policy", "ruian", RUIAN, "--as-of", AS_OF, "--rule", "ruian.reward.*", columns=400)
    assert "瑞安市马屿镇中学（ra-u-08）" in result.stdout
    assert "瑞安市安阳实验中学教育共同体（ra-c-03）" in result.stdout


@pytest.mark.parametrize("columns", [80, 120])
def test_table_wraps_within_the_terminal_width(columns):
    result = cli("evaluate", "--policy", "ruian", RUIAN, "--as-of", AS_OF, columns=columns)
    table = result.stdout.splitlines()[2:]
    assert table and max(_display_width(line) for line in table) <= columns
    if columns >= 120:  # room enough: the other columns give way and rule ids stay whole
        rule_column = _display_width(table[1].split("  ")[0])
        assert rule_column == max(len(r.id) for r in policyengine.load_policy("ruian").rules)


# ------------------------------------------------------------------------------------------- exports
def test_csv_export_with_bom_names_values_and_quote(tmp_path, capsys):
    target = tmp_path / "findings.csv"
    status, _, _ = run(capsys, "evaluate", "--policy", "ruian", RUIAN, "--as-of", AS_OF,
                       "--rule", "ruian.reward.z_score_graduating_class", "--format", "csv", "-o", str(target))
    assert status == 0
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    row = next(r for r in rows if r["subject"] == "ra-u-08" and r["period"] == "2022")
    assert row["subject_name"] == "瑞安市马屿镇中学" and row["community_names"] == "瑞安市安阳实验中学教育共同体"
    assert row["amount"] == "40000.00" and row["currency"] == "CNY"
    assert json.loads(row["values"])["z_rise"] == "8.5"
    assert row["citation_quote"].endswith("按毕业班每班1万元予以奖励。")


def test_xlsx_export(tmp_path, capsys):
    from openpyxl import load_workbook

    target = tmp_path / "findings.xlsx"
    status, _, _ = run(capsys, "--lang", "en", "evaluate", "--policy", "ruian", RUIAN, "--as-of", AS_OF,
                       "--rule", "ruian.reward.*", "--format", "xlsx", "-o", str(target))
    assert status == 0
    sheet = load_workbook(target).active
    header = [c.value for c in sheet[1]]
    rows = [dict(zip(header, (c.value for c in row))) for row in sheet.iter_rows(min_row=2)]
    core = next(r for r in rows if r["subject"] == "ra-u-07" and r["period"] == "2023")
    assert core["amount"] == "96000.00" and core["outcome_label"] == "amount"
    assert core["message"].startswith("the core school's teaching-quality award")
    status, _, err = run(capsys, "--lang", "en", "evaluate", "--policy", "ruian", RUIAN, "--format", "xlsx")
    assert status == 2 and "needs -o" in err


EXAMPLES = {"liuzhou": ["liuzhou-annex.yaml", "liuzhou-activity.yaml"], "ruian": ["ruian.yaml"],
            "suixian": ["suixian-annex.yaml"], "yueqing": ["yueqing.yaml", "yueqing-activities.yaml"],
            "zhangdian": ["zhangdian.yaml"], "linzi": ["linzi.yaml"],
            "wucheng": ["wucheng.yaml"], "libo": ["libo.yaml"]}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_finding_of_every_bundled_example_explains_in_both_languages(name):
    from policyengine.explain import explain, render

    policy = policyengine.load_policy(name)
    records = policy.load_records([ROOT / "examples" / f for f in EXAMPLES[name]])  # with its schema extension
    report = policy.evaluate(records, dt.date(2024, 9, 1))
    for finding in report.findings:
        if finding.outcome == "not_applicable":
            continue
        data = explain(policy, finding, records, report.as_of)
        english = render(data, "en")
        assert english.splitlines()[0].endswith(finding.message_en)
        assert f"“{finding.citation.quote}”" in english
        assert render(data, "zh").splitlines()[0].endswith(finding.message)
        if finding.outcome in ("violation", "warning"):
            assert any(c["holds"] is False for c in data["conditions"]), finding.rule
