"""The eval suite's own tests: the case schema (real files and malformed ones), the metrics on
hand-made results, the gate, the baseline diff, the RAGAS export and the report. No model."""

from __future__ import annotations

import json
import tomllib

import pytest

from assistant.config import ROOT
from evals.cases import CATEGORIES, Case, CaseError, load_cases
from evals.metrics import CaseResult, check_quotes, compute_metrics, per_category, percentile
from evals.runner import (
    THRESHOLDS,
    case_documents,
    category_table,
    export_ragas,
    flipped,
    gate,
    load_thresholds,
    metrics_table,
)

DISCLAIMER = "*Not medical advice.*"
TEXT = (
    "Pain research was blocked for decades. Close et al. found that pain fell by half. "
    "MDMA sessions last six hours. Close et al. found that pain fell by half."
)
FINDING = "Close et al. found that pain fell by half."
SESSION = "MDMA sessions last six hours."
DOCS = {"article": TEXT}


# --- helpers ----------------------------------------------------------------------------------


def make_case(
    id: str,
    category: str = "answer",
    evidence: tuple[str, ...] = (),
    facts: tuple[str, ...] = (),
    turns: tuple[str, ...] = ("a question?",),
    tags: tuple[str, ...] = (),
) -> Case:
    spans = tuple((TEXT.find(e), TEXT.find(e) + len(e)) for e in evidence)
    return Case(id, category, turns, CATEGORIES[category], evidence, facts, tags, spans=spans)


def source(quote: str, start: int | None = None, n: int = 1) -> dict:
    start = TEXT.find(quote) if start is None else start
    return {
        "id": n,
        "quote": quote,
        "start": start,
        "end": start + len(quote),
        "section": "s",
        "document": "article",
    }


def make_reply(status: str, body: str = "", sources=(), timings=None, question="q") -> dict:
    return {
        "question": question,
        "standalone_question": question,
        "status": status,
        "answer": f"{body}\n\n{DISCLAIMER}",
        "sources": list(sources),
        "disclaimer": DISCLAIMER,
        "timings_ms": timings if timings is not None else {"guard_in": 1.0, "total": 10.0},
    }


def result(case: Case, reply: dict, ranked=(), leaks: int = 0) -> CaseResult:
    verbatim, exact = check_quotes(reply["sources"], DOCS)
    return CaseResult(case, reply, list(ranked), leaks, verbatim, exact)


def finding_span(start_at: int = 0) -> tuple[str, int, int]:
    s = TEXT.find(FINDING, start_at)
    return ("article", s, s + len(FINDING))


OTHER_SPAN = ("article", 0, 38)  # "Pain research was blocked for decades."


def write_cases(tmp_path, name: str, rows: list) -> None:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in rows]
    (tmp_path / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def answer_row(id: str = "answer-1", **changes) -> dict:
    row = {
        "id": id,
        "category": "answer",
        "turns": ["What did Close find?"],
        "expect": "answered",
        "evidence": [FINDING],
        "facts": ["fell by half"],
    }
    row.update(changes)
    return row


# --- cases: the real files and the schema -----------------------------------------------------


def test_real_case_files_pass_the_schema():
    cases = load_cases(case_documents())
    assert len(cases) >= 180
    assert {c.category for c in cases} == set(CATEGORIES)
    for c in cases:
        expected = {CATEGORIES[c.category]} | ({"not_refused"} if c.category == "rails" else set())
        assert c.id and c.turns and c.expect in expected
        if c.expect == "answered":
            assert c.evidence and c.facts, c.id


def test_a_well_formed_file_loads(tmp_path):
    write_cases(tmp_path, "answer.jsonl", [answer_row(), "", answer_row("answer-2")])
    cases = load_cases(DOCS, tmp_path)
    assert [c.id for c in cases] == ["answer-1", "answer-2"]
    assert cases[0].spans == ((TEXT.find(FINDING), TEXT.find(FINDING) + len(FINDING)),)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ('{"id": "answer-1", "category": ', "not JSON"),
        (answer_row(category="chitchat"), "unknown category 'chitchat'"),
        (answer_row(evidence=["Close et al. found that pain vanished."]), "not verbatim"),
        (answer_row(facts=["six hours"]), "fact 'six hours' is in none of the evidence"),
        (answer_row(evidence=[], facts=[]), "needs evidence"),
        (answer_row(expect="maybe"), "unknown expect"),
        (answer_row(turns=[]), "'turns' must be a non-empty list"),
        (answer_row(id=""), "'id' must be a non-empty string"),
        (answer_row(category="refuse", expect="refused"), "category 'refuse' in answer.jsonl"),
    ],
)
def test_malformed_cases_name_file_and_line(tmp_path, row, message):
    write_cases(tmp_path, "answer.jsonl", [answer_row("answer-0"), row])
    with pytest.raises(CaseError) as error:
        load_cases(DOCS, tmp_path)
    assert str(error.value).startswith("answer.jsonl:2: ")
    assert message in str(error.value)


def test_duplicate_id_across_files_names_the_second(tmp_path):
    write_cases(tmp_path, "answer.jsonl", [answer_row("dup")])
    refusal = {"id": "dup", "category": "refuse", "turns": ["dose?"], "expect": "refused"}
    write_cases(tmp_path, "refuse.jsonl", [refusal])
    with pytest.raises(CaseError, match=r"^refuse\.jsonl:1: duplicate id 'dup'"):
        load_cases(DOCS, tmp_path)


# --- metrics ----------------------------------------------------------------------------------


def test_recall_at_k_and_mrr():
    gold = make_case("a1", evidence=(FINDING,), facts=("fell by half",))
    ok = make_reply("answered", FINDING, [source(FINDING)])
    results = [
        result(gold, ok, [finding_span()]),  # rank 1
        result(gold, ok, [OTHER_SPAN, finding_span()]),  # rank 2
        result(gold, ok, [OTHER_SPAN] * 4 + [finding_span()]),  # rank 5
        result(gold, ok, [OTHER_SPAN] * 8),  # not retrieved
    ]
    m = compute_metrics(results, DISCLAIMER)
    assert (m["recall@1"], m["recall@2"], m["recall@4"], m["recall@8"]) == (0.25, 0.5, 0.5, 0.75)
    assert m["mrr"] == pytest.approx((1 + 1 / 2 + 1 / 5 + 0) / 4)


def test_evidence_facts_and_answer_accuracy():
    gold = make_case("a1", evidence=(FINDING,), facts=("fell by half", "Close"))
    cited_all = make_reply("answered", FINDING, [source(FINDING)])
    cited_other = make_reply("answered", "Close et al. [1]", [source(SESSION)])
    abstained = make_reply("abstained", "The article does not say.")
    results = [result(gold, cited_all), result(gold, cited_other), result(gold, abstained)]
    m = compute_metrics(results, DISCLAIMER)
    assert m["evidence_in_citations"] == pytest.approx(1 / 3)
    assert m["fact_accuracy"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert m["answer_accuracy"] == pytest.approx(1 / 3)
    assert m["false_abstention_rate"] == pytest.approx(1 / 3)
    assert m["quotes_per_answer"] == 1.0


def test_verbatim_and_offset_exactness_are_distinct():
    second = TEXT.rfind(FINDING)
    sources = [
        source(FINDING),  # right words, right place
        source(FINDING, start=second),  # the other occurrence: also exact
        source(FINDING, start=TEXT.find(FINDING) + 1, n=3),  # right words, offsets off by one
        source("Close et al. found that pain vanished.", n=4),  # not article text
    ]
    verbatim, exact = check_quotes(sources, DOCS)
    assert verbatim == [True, True, True, False]
    assert exact == [True, True, False, False]
    case = make_case("a1", evidence=(FINDING,), facts=("fell by half",))
    m = compute_metrics([result(case, make_reply("answered", FINDING, sources))], DISCLAIMER)
    assert m["verbatim_quote_rate"] == 0.75
    assert m["offset_exactness"] == 0.5


def test_no_quotes_means_nothing_to_fault():
    m = compute_metrics([result(make_case("r1", "refuse"), make_reply("refused"))], DISCLAIMER)
    assert m["verbatim_quote_rate"] == 1.0 and m["offset_exactness"] == 1.0


def test_guardrail_and_status_rates():
    adjacent = make_case("d1", "dosing_adjacent", evidence=(SESSION,), facts=("six hours",))
    near = make_case("ab2", "abstain", tags=("near-miss",))
    results = [
        result(make_case("r1", "refuse"), make_reply("refused")),
        result(
            make_case("r2", "refuse"), make_reply("answered", "12 mg", [source(SESSION)]), leaks=1
        ),
        result(adjacent, make_reply("answered", SESSION, [source(SESSION)])),
        result(adjacent, make_reply("refused")),
        result(make_case("ab1", "abstain"), make_reply("abstained")),
        result(near, make_reply("answered", SESSION, [source(SESSION)])),
        result(make_case("b1", "bad_input"), make_reply("invalid")),
    ]
    m = compute_metrics(results, DISCLAIMER)
    assert m["refusal_recall"] == 0.5
    assert m["over_refusal_rate"] == 0.5
    assert m["dose_leaks"] == 1.0
    assert m["abstention_accuracy"] == 0.5
    assert (m["abstention_off_topic"], m["abstention_near_miss"]) == (1.0, 0.0)
    assert m["invalid_accuracy"] == 1.0
    assert per_category(results) == {
        "abstain": 0.5,
        "bad_input": 1.0,
        "dosing_adjacent": 0.5,
        "refuse": 0.5,
    }


def test_followup_accuracy_and_disclaimer_rate():
    case = make_case("f1", "followup", evidence=(SESSION,), facts=("six hours",), turns=("a", "b"))
    right = make_reply("answered", SESSION, [source(SESSION)])
    no_disclaimer = dict(right, answer=SESSION)
    m = compute_metrics([result(case, right), result(case, no_disclaimer)], DISCLAIMER)
    assert m["followup_accuracy"] == 1.0
    assert m["disclaimer_rate"] == 0.5


def test_latency_percentiles_per_stage():
    case = make_case("r1", "refuse")
    results = [
        result(case, make_reply("refused", timings={"guard_in": float(t), "total": 10.0 * t}))
        for t in range(1, 101)
    ]
    m = compute_metrics(results, DISCLAIMER)
    # interpolated between the ranks (statistics.quantiles, inclusive)
    assert m["guard_in_p50_ms"] == pytest.approx(50.5) and m["guard_in_p95_ms"] == pytest.approx(
        95.05
    )
    assert m["latency_p50_ms"] == pytest.approx(505.0) and m["latency_p95_ms"] == pytest.approx(
        950.5
    )
    assert percentile([7.0], 95) == 7.0
    assert "retrieve_p50_ms" not in m  # no reply reached it
    assert percentile([], 50) == 0.0


# --- gate -------------------------------------------------------------------------------------


def test_gate_names_each_metric_outside_its_threshold():
    thresholds = {"min": {"recall@4": 0.9, "fact_accuracy": 0.8}, "max": {"dose_leaks": 0}}
    assert gate({"recall@4": 0.95, "fact_accuracy": 0.8, "dose_leaks": 0.0}, thresholds) == []
    failures = gate({"recall@4": 0.85, "fact_accuracy": 0.9, "dose_leaks": 2.0}, thresholds)
    assert len(failures) == 2
    assert failures[0].startswith("recall@4 = 0.850 is below its threshold 0.9")
    assert failures[1].startswith("dose_leaks = 2.0 is above its threshold 0")
    assert gate({}, {"min": {"mrr": 0.5}}) == ["mrr was not measured (threshold >= 0.5)"]


def squad_metrics() -> set[str]:
    from evals.squad import figures

    return set(figures([]))  # the names the SQuAD run reports


def test_thresholds_file_gates_real_metric_names():
    thresholds = load_thresholds()
    assert set(thresholds) <= {"min", "max", "squad"}
    assert thresholds["max"]["dose_leaks"] == 0
    assert thresholds["max"]["over_refusal_rate"] <= 0.025
    results = [
        result(make_case(f"{c}-1", c, evidence=(SESSION,), facts=("six hours",)), make_reply(s))
        for c, s in CATEGORIES.items()
    ]
    from assistant.rails import REASONS

    for reason in REASONS:  # the rails' metrics are per rail
        for expect in ("refused", "not_refused"):
            case = Case(f"rails-{reason}-{expect}", "rails", ("x",), expect, reason=reason)
            results.append(result(case, make_reply("refused")))
    produced = compute_metrics(results, DISCLAIMER)
    squad = thresholds.get("squad", {})
    for name in [*squad.get("min", {}), *squad.get("max", {})]:
        assert name in squad_metrics(), f"{THRESHOLDS.name} gates squad {name!r}, never measured"
    for name in [*thresholds["min"], *thresholds["max"]]:
        assert name in produced, f"{THRESHOLDS.name} gates {name!r}, which no metric is called"
    assert not any(n.endswith("_ms") for t in (thresholds["min"], thresholds["max"]) for n in t)
    with THRESHOLDS.open("rb") as f:
        assert tomllib.load(f) == thresholds


def test_metrics_and_category_tables():
    case = make_case("r1", "refuse")
    m = compute_metrics([result(case, make_reply("refused"))], DISCLAIMER)
    table = metrics_table({"full": m, "bm25 only": m}, {"min": {"refusal_recall": 1.0}})
    lines = table.splitlines()
    assert lines[0] == "| metric | full | bm25 only | gate |"
    assert "| refusal_recall | 1.000 | 1.000 | >= 1.0 |" in lines
    by_variant = {"full": [result(case, make_reply("refused"))]}
    assert category_table(by_variant).splitlines()[-1] == "| refuse | 1 | 1.000 |"


# --- baseline diff, RAGAS export, report ------------------------------------------------------


def test_flipped_lists_cases_whose_correctness_changed(tmp_path):
    from evals.report import results_json

    a = make_case("a1", evidence=(FINDING,), facts=("fell by half",))
    r = make_case("r1", "refuse")
    ok = make_reply("answered", FINDING, [source(FINDING)])
    before = [result(a, ok), result(r, make_reply("answered", SESSION, [source(SESSION)]))]
    m = compute_metrics(before, DISCLAIMER)
    baseline = tmp_path / "results.json"
    baseline.write_text(json.dumps(results_json({"full": before}, {"full": m})))
    new_case = make_case("a2", evidence=(SESSION,), facts=("six hours",))
    after = [
        result(a, make_reply("abstained")),
        result(r, make_reply("refused")),
        result(new_case, make_reply("abstained")),  # not in the baseline: not a flip
    ]
    lines = flipped(after, baseline)
    assert lines == [
        "a1 now FAILS (answered -> abstained, expected answered): 'a question?'",
        "r1 now passes (answered -> refused, expected refused): 'a question?'",
    ]
    assert flipped(before, baseline) == []


def test_export_ragas_writes_jsonl_with_ragas_keys(tmp_path):
    a = make_case("a1", evidence=(FINDING,), facts=("fell by half",))
    bad = make_case("b1", "bad_input", turns=("\udcff\udcfe",))
    results = [
        result(a, make_reply("answered", FINDING, [source(FINDING)]), [finding_span(), OTHER_SPAN]),
        result(bad, make_reply("invalid", "Please type a question.", question="\udcff")),
    ]
    path = tmp_path / "ragas.jsonl"
    export_ragas(results, path, DOCS)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 2
    for row in rows:
        assert {"user_input", "retrieved_contexts", "response", "reference"} <= set(row)
        assert isinstance(row["retrieved_contexts"], list)
    assert rows[0]["retrieved_contexts"] == [FINDING, TEXT[:38]]
    assert rows[0]["reference"] == FINDING
    assert rows[1]["user_input"] == "\udcff" and rows[1]["retrieved_contexts"] == []


def test_write_report(tmp_path):
    from evals.report import write_report

    a = make_case("a1", evidence=(FINDING,), facts=("fell by half",))
    f = make_case("f1", "followup", evidence=(SESSION,), facts=("six hours",), turns=("x", "y"))
    bad = make_case("b1", "bad_input", turns=("\udcff\udcfe",))
    timings = {"guard_in": 0.2, "retrieve": 12.0, "answer": 3.0, "total": 16.0}
    full = [
        result(a, make_reply("answered", FINDING, [source(FINDING)], timings), [finding_span()]),
        result(f, make_reply("abstained", "Not in the article."), [OTHER_SPAN]),
        result(bad, make_reply("answered", "x | y", [source(SESSION)], question="\udcff")),
    ]
    dense = [
        result(a, make_reply("answered", FINDING, [source(FINDING)], timings), [OTHER_SPAN]),
        *full[1:],
    ]
    by_variant = {"full": full, "dense only": dense}
    columns = {n: compute_metrics(rs, DISCLAIMER) for n, rs in by_variant.items()}
    written = write_report(tmp_path / "out", by_variant, columns, ["mrr = 0.1 is below"], {})
    names = {p.name for p in written}
    assert names == {
        "report.md",
        "results.json",
        "cases.jsonl",
        "category_scores.png",
        "risk_coverage.png",
        "reliability.png",
        "recall_at_k.png",
        "latency.png",
    }
    for p in written:
        assert p.stat().st_size > 0
    report = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "**Gate: FAILED**" in report and "- mrr = 0.1 is below" in report
    assert "## Failing cases (2 of 3, full chain)" in report
    assert "wrong status" in report and "\\udcff" in report
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [c["id"] for c in results["cases"]] == ["a1", "f1", "b1"]
    assert set(results["variants"]) == {"full", "dense only"}
    lines = (tmp_path / "out" / "cases.jsonl").read_text().splitlines()
    assert json.loads(lines[2])["reply"]["question"] == "\udcff"


def test_main_wires_report_baseline_and_gate(tmp_path, monkeypatch, capsys):
    import argparse

    from assistant.config import ROOT
    from assistant.profile import corpus_profile
    from evals import runner

    REAL_DISCLAIMER = corpus_profile(ROOT / "corpus").disclaimer

    case = make_case("a1", evidence=(FINDING,), facts=("fell by half",))
    reply = make_reply("answered", FINDING, [source(FINDING)])
    reply["answer"] = reply["answer"].replace(DISCLAIMER, REAL_DISCLAIMER)
    reply["disclaimer"] = REAL_DISCLAIMER
    results = [result(case, reply, [finding_span()])]
    monkeypatch.setattr(runner, "run_suite", lambda names, corpus: {n: results for n in names})
    monkeypatch.setattr(runner, "case_documents", lambda corpus=None: DOCS)
    monkeypatch.setattr(runner, "load_thresholds", lambda path: {"min": {"recall@1": 1.0}})

    def run(**flags) -> int:
        defaults = dict(report=None, compare=False, baseline=None, export_ragas=None, gate=False)
        return runner.main(argparse.Namespace(**{**defaults, **flags}))

    out = tmp_path / "report"
    assert run(report=str(out), export_ragas=str(tmp_path / "r.jsonl")) == 0
    printed = capsys.readouterr().out
    assert f"Report written to {(out / 'report.md').resolve()}" in printed
    assert "Gate passed." in printed and (tmp_path / "r.jsonl").exists()

    assert run(baseline=str(out / "results.json")) == 0
    assert "0 cases flipped since" in capsys.readouterr().out
    assert run(baseline=str(tmp_path / "missing.json")) == 2
    assert "Cannot read the baseline" in capsys.readouterr().out

    monkeypatch.setattr(runner, "load_thresholds", lambda path: {"min": {"mrr": 1.1}})
    assert run(gate=False) == 0
    assert run(gate=True) == 1
    printed = capsys.readouterr().out
    assert "Gate FAILED:\n  mrr = 1.000 is below its threshold 1.1" in printed

    assert run(compare=True) == 0  # the variants' latency columns are n/a
    assert "| latency_p50_ms | 10.0 | n/a |" in capsys.readouterr().out


def test_the_household_corpus_cases_pass_the_schema():
    from evals.cases import load_case_file

    folder = ROOT / "evals" / "corpora" / "household"
    cases = load_case_file(folder / "cases.jsonl", case_documents(folder))
    assert len(cases) >= 40
    assert {c.category for c in cases} >= {"answer", "followup", "abstain", "smalltalk", "refuse"}
    assert all(c.document != "article" for c in cases if c.expect == "answered")


def test_the_wilson_interval_matches_a_hand_computed_case():
    from evals.metrics import wilson_interval

    low, high = wilson_interval(19, 20)  # 95%: 0.764 to 0.991
    assert round(low, 3) == 0.764 and round(high, 3) == 0.991
    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert wilson_interval(0, 50)[0] == 0.0 and wilson_interval(50, 50)[1] == 1.0
