"""evals/squad.py: a SQuAD article becomes a corpus document whose answer offsets still point
at the answers."""

from __future__ import annotations

from evals.squad import figures, write_corpus

ARTICLE = {
    "title": "Honey_bee",
    "paragraphs": [
        {
            "context": "Bees make honey.",
            "qas": [
                {
                    "question": "What do bees make?",
                    "answers": [{"text": "honey", "answer_start": 10}],
                    "is_impossible": False,
                }
            ],
        },
        {
            "context": "A hive holds one queen.",
            "qas": [{"question": "Who is king?", "answers": [], "is_impossible": True}],
        },
    ],
}


def test_answer_spans_point_into_the_written_document(tmp_path):
    questions = write_corpus(ARTICLE, tmp_path)
    text = (tmp_path / "article.md").read_text(encoding="utf-8")
    ((start, end),) = questions[0].spans
    assert text[start:end] == "honey"
    assert questions[1].spans == ()
    assert text.startswith('---\ntitle: "Honey bee"\n---\n')


def test_figures_count_evidence_and_abstention(tmp_path):
    answerable, unanswerable = write_corpus(ARTICLE, tmp_path)
    start, end = answerable.spans[0]
    rows = [
        (
            answerable,
            {
                "status": "answered",
                "sources": [{"start": start, "end": end}],
                "timings_ms": {"total": 10},
            },
        ),
        (unanswerable, {"status": "abstained", "sources": [], "timings_ms": {"total": 20}}),
    ]
    f = figures(rows)
    assert f["answerable_evidence"] == 1.0 and f["abstention"] == 1.0
    assert f["accuracy"] == 1.0 and f["always_abstain_accuracy"] == 0.5
    assert f["citation_precision"] == 1.0 and f["false_abstention"] == 0.0


def test_a_reply_naming_the_shipped_subjects_on_another_corpus_is_flagged():
    from evals.squad import names_foreign_subject

    reply = {"answer": "> Oxygen is a gas. [1]\n\nI can tell you what it says about MDMA."}
    assert names_foreign_subject(reply, ["MDMA", "psychedelic"])
    quoted = {"answer": "> MDMA is mentioned here. [1]\n\n*Not advice.*"}
    assert not names_foreign_subject(quoted, ["MDMA"])  # the corpus's own quotes may
