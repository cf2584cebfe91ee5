"""Train the learned intent rail: the bundled MiniLM fine-tuned as a 7-way classifier.

    python -m training.intents [--layers N] [--epochs N]   (``make intents``)
    python -m training.intents --recalibrate               (thresholds only)
    python -m training.intents --head                      (the head only)

Data: ``training/data/intents/intent_examples*.jsonl`` (messages written for it by people who
never saw the rails; one with a ``context`` is read after that earlier message), less any near
copy of an eval or blind message, and ordinary SQuAD 2.0 train questions as more ``none``; a
share of the training messages is also read after a safe one, as the rail reads a follow-up. 15%
is held out; each rail's threshold is the lowest probability at which the held-out safe messages
written for it (the look-alikes, not the SQuAD questions, which are too easy to count) are taken
for it at most ``MAX_FALSE_RATE`` of the time, raised above every safe message of the gated eval
suite. The model is exported to ONNX, quantised to int8, and written to ``models/intents/`` with
its thresholds and held-out figures (recall with 95% intervals).

The head (``--head``, after the model) is a logistic regression over the message's sentence
vector, the one retrieval computes anyway: a message it finds safer than every held-out unsafe
message skips the fine-tuned model (``head.json``)."""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from assistant.config import ROOT, apply_offline_env
from assistant.rails.learned import HEAD, LABELS, MAX_TOKENS, MODEL_DIR, IntentModel
from training.onnx_export import export_logits
from training.squad import SQUAD_TRAIN

# the written messages; those in not_trained/ were tried and left out (see its README)
DATA = ROOT / "training" / "data" / "intents"

SQUAD_NONE = 8000
MAX_FALSE_RATE = 0.01
FLOOR = 0.5
SEED = 13
# a written example this close (rapidfuzz ratio, 0-100) to a message of any eval or blind set
# is left out, so the figures measured on those sets are not inflated by near copies
NEAR_COPY = 85
EVAL_SETS = ("evals/cases/*.jsonl", "evals/blind/*.jsonl", "evals/corpora/*/cases.jsonl")


def eval_messages() -> list[str]:
    """Every message of the eval and blind sets, alone and read after the one before it."""
    texts = []
    for glob in EVAL_SETS:
        for path in sorted(ROOT.glob(glob)):
            for line in path.read_text(encoding="utf-8").splitlines():
                if not line.strip():
                    continue
                turns = [t for t in json.loads(line).get("turns", []) if isinstance(t, str)]
                texts += turns + [f"{a} {b}" for a, b in zip(turns, turns[1:])]
    return texts


def far_from_evals(rows: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """The rows that are no near copy of an eval or blind message."""
    import numpy as np
    from rapidfuzz import fuzz, process, utils

    scores = process.cdist(
        [t for t, _ in rows], eval_messages(), scorer=fuzz.ratio, processor=utils.default_process
    )
    keep = np.asarray(scores).max(axis=1) < NEAR_COPY
    return [row for row, kept in zip(rows, keep, strict=True) if kept]


def examples(squad: Path) -> list[tuple[str, int]]:
    """The labelled messages and the SQuAD questions as ``none``. A message with a ``context``
    is read after it, as the rail reads a follow-up, unless the patterns refuse the context."""
    from assistant.rails import rail_for

    rows = []
    for path in sorted(DATA.glob("intent_examples*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            text, label = row["text"], LABELS.index(row["label"])
            if row.get("context") and rail_for(row["context"]) is None:
                rows.append((f"{row['context']} {text}", label))
            elif not row.get("context") or label == 0:
                # after a turn the patterns refuse, the rail reads the message alone; what an
                # unsafe message means after one is the patterns' (crisis carried on, insisting)
                rows.append((text, label))
    rows = far_from_evals(rows)
    return rows + [(q, 0) for q in squad_questions(squad)]


def squad_questions(squad: Path) -> list[str]:
    """The ordinary questions added as ``none`` (the same sample every run)."""
    from training.squad import squad_questions as sample

    return sample(SQUAD_NONE, SEED, squad)


def after_safe_turns(rows: list[tuple[str, int]], share: float) -> list[tuple[str, int]]:
    """Copies of a share of the messages read after an earlier safe one, with their own
    label: the rail also reads a message joined to the one before it, and a safe opening
    must neither hide a request nor make one."""
    rng = random.Random(SEED)
    safe = [text for text, label in rows if label == 0]
    chosen = rng.sample(rows, int(share * len(rows)))
    return [(f"{rng.choice(safe)} {text}", label) for text, label in chosen]


def train(args: argparse.Namespace) -> dict:
    import numpy as np
    import torch
    from sklearn.model_selection import train_test_split
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from assistant.embeddings import model_path

    torch.manual_seed(SEED)
    torch.set_num_threads(args.threads)
    rows = examples(args.squad)
    written = sum(1 for path in DATA.glob("intent_examples*.jsonl") for _ in path.open())
    args.trained_on = (
        f"{len(rows) - SQUAD_NONE:,} of the {written:,} messages of "
        "training/data/intents/intent_examples*.jsonl (written for it by helpers who never saw the "
        "rails; left out: near copies of eval or blind messages, and unsafe messages after a "
        f"context the patterns refuse) and {SQUAD_NONE:,} SQuAD 2.0 train questions as 'none'; "
        f"{args.joined_share:.0%} of the training share is also read after a safe message"
    )
    fit, held = train_test_split(
        rows, test_size=0.15, stratify=[y for _, y in rows], random_state=SEED
    )
    ordinary = set(squad_questions(args.squad))
    if args.head:
        return train_head(args.out, fit, held)
    if args.recalibrate:
        # the models in --out as they are: their thresholds again, on the split rebuilt from
        # the data files, patterns and eval sets; valid only while those are as at training
        about = _json(args.out / "metrics.json")
        keep = ("epochs", "layers", "trained_on")
        return calibrate(args.out, held, {k: about[k] for k in keep if k in about}, ordinary)
    fit += after_safe_turns(fit, args.joined_share)
    tokenizer = AutoTokenizer.from_pretrained(model_path())
    model = AutoModelForSequenceClassification.from_pretrained(model_path(), num_labels=len(LABELS))
    if args.layers < model.config.num_hidden_layers:  # the lower layers only: a faster rail
        model.bert.encoder.layer = model.bert.encoder.layer[: args.layers]
        model.config.num_hidden_layers = args.layers
    counts = np.bincount([y for _, y in fit], minlength=len(LABELS))
    weights = torch.tensor(len(fit) / (len(LABELS) * counts), dtype=torch.float32)
    # label smoothing: a model that never learned to say "I am sure" stays humble off its data
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights, label_smoothing=args.smoothing)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    rng = random.Random(SEED)
    started = time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        order = fit[:]
        rng.shuffle(order)
        for at in range(0, len(order), args.batch):
            batch = order[at : at + args.batch]
            enc = tokenizer(
                [t for t, _ in batch],
                truncation=True,
                max_length=MAX_TOKENS,
                padding=True,
                return_tensors="pt",
            )
            loss = loss_fn(model(**enc).logits, torch.tensor([y for _, y in batch]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        print(f"epoch {epoch + 1}: {time.perf_counter() - started:.0f} s", flush=True)
    export(model, tokenizer, args.out, "intents.onnx")
    about = {"epochs": args.epochs, "layers": args.layers, "trained_on": args.trained_on}
    return calibrate(args.out, held, about, ordinary)


def export(model, tokenizer, out: Path, name: str) -> None:
    """The model as int8 ONNX (``name``) in ``out``; its tokenizer is the bundled MiniLM's."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out.mkdir(parents=True, exist_ok=True)
    model.eval()
    fp32 = out / "intents-fp32.onnx"
    export_logits(model, tokenizer(["a message"], return_tensors="pt"), fp32)
    quantize_dynamic(str(fp32), str(out / name), weight_type=QuantType.QInt8)
    fp32.unlink()


def calibrate(out: Path, held: list[tuple[str, int]], about: dict, ordinary: set[str]) -> dict:
    """Each rail's threshold for the model in ``out``: the point where at most
    ``MAX_FALSE_RATE`` of the held-out written safe messages (not the ``ordinary`` SQuAD
    questions) are taken for it, raised above every safe message of the gated suite
    (answerable, abstain, dosing-adjacent questions and the rails' safe look-alikes: the
    learned rail must not refuse what the patterns, tuned on those, do not). Writes
    thresholds.json and metrics.json, with recall at both points and its 95% interval."""
    import numpy as np

    from evals.metrics import wilson_interval

    head = _json(out / "thresholds.json").get(HEAD)
    shipped = IntentModel(out)  # its probabilities only: the thresholds are set here
    probs = np.array(
        [[p[k] for k in LABELS] for p in map(shipped.probabilities, (t for t, _ in held))]
    )
    truth = np.array([y for _, y in held])
    written = np.array([t not in ordinary for t, _ in held])
    ceilings = safe_ceilings(shipped)
    thresholds, report = {}, {}

    def fired_at(k: int, threshold: float):
        return (probs.argmax(1) == k) & (probs[:, k] >= threshold)

    for k, label in enumerate(LABELS[1:], 1):
        # refusing a safe message is the error a threshold trades against recall; a message
        # of another rail taken for this one is refused all the same, under another name
        safe = np.sort(probs[(truth == 0) & written, k])[::-1]
        allowed = int(MAX_FALSE_RATE * len(safe))
        held_point = max(FLOOR, float(safe[allowed]) + 1e-4)
        thresholds[label] = round(max(held_point, ceilings[label] + 1e-3), 4)
        fired, at_budget = fired_at(k, thresholds[label]), fired_at(k, held_point)
        caught = int(fired[truth == k].sum())
        report[label] = {
            "threshold": thresholds[label],
            "budget_threshold": round(held_point, 4),
            "held_out_recall": round(caught / int((truth == k).sum()), 3),
            "held_out_recall_ci95": [
                round(x, 3) for x in wilson_interval(caught, int((truth == k).sum()))
            ],
            "held_out_recall_at_budget": round(float(at_budget[truth == k].mean()), 3),
            "held_out_written_safe_refused": round(float(fired[(truth == 0) & written].mean()), 4),
            "held_out_ordinary_refused": round(float(fired[(truth == 0) & ~written].mean()), 4),
            "held_out_other_rails_taken": round(
                float(fired[(truth != 0) & (truth != k)].mean()), 4
            ),
        }
    if head is not None:
        thresholds[HEAD] = head
    (out / "thresholds.json").write_text(json.dumps(thresholds, indent=2) + "\n", encoding="utf-8")
    metrics = (
        about
        | {k: v for k, v in _json(out / "metrics.json").items() if k == "head"}
        | {
            "held_out_messages": len(held),
            "held_out": report,
            "mb": round((out / "intents.onnx").stat().st_size / 2**20, 1),
        }
    )
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    return metrics


def train_head(out: Path, fit: list[tuple[str, int]], held: list[tuple[str, int]]) -> dict:
    """The head: a logistic regression over the messages' sentence vectors (the encoder
    retrieval uses), fitted on the training share; its threshold is just above the highest
    ``none`` probability it gives a held-out unsafe message, so each of them still reaches the
    fine-tuned model (by construction: the blind sets are the evidence on unseen messages).
    Writes head.json, and merges its threshold and figures into thresholds.json and
    metrics.json."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from assistant.embeddings import get_embeddings

    embeddings = get_embeddings()

    def vectors(rows):
        texts = [t for t, _ in rows]
        return np.concatenate(
            [embeddings.embed_many(texts[at : at + 256]) for at in range(0, len(texts), 256)]
        )

    head = LogisticRegression(C=4.0, max_iter=2000, class_weight="balanced")
    head.fit(vectors(fit), [y for _, y in fit])
    weights = {"classes": [LABELS[c] for c in head.classes_]}
    weights |= {"coef": head.coef_.round(6).tolist(), "intercept": head.intercept_.tolist()}
    (out / "head.json").write_text(json.dumps(weights) + "\n", encoding="utf-8")
    none = head.predict_proba(vectors(held))[:, list(head.classes_).index(0)]
    unsafe = np.array([y != 0 for _, y in held])
    threshold = round(float(none[unsafe].max()) + 1e-3, 4)
    thresholds = _json(out / "thresholds.json") | {HEAD: threshold}
    (out / "thresholds.json").write_text(json.dumps(thresholds, indent=2) + "\n", encoding="utf-8")
    metrics = {k: v for k, v in _json(out / "metrics.json").items() if k != "gate"} | {
        "head": {
            "threshold": threshold,
            "held_out_safe_stopped": round(float((none[~unsafe] >= threshold).mean()), 3),
        }
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    return metrics


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def safe_ceilings(model: IntentModel) -> dict[str, float]:
    """Per rail, the highest probability the model gives a safe message of the eval suite
    that it would take for that rail: each case's judged turn (its last), alone and read with
    the one before it, as the rail reads a follow-up. An earlier turn is the case's context,
    not what it judges ("I have chronic back pain, like Callie did." before the question)."""
    from assistant.rails import rail_for
    from assistant.smalltalk import small_talk_kind
    from evals.cases import load_cases
    from evals.runner import case_documents

    safe = ("answer", "followup", "dosing_adjacent", "abstain")
    ceilings = {label: 0.0 for label in LABELS[1:]}
    for case in load_cases(case_documents()):
        if not (case.category in safe or case.expect == "not_refused"):
            continue
        turns = [t for t in case.turns if isinstance(t, str)]
        if not turns or rail_for(turns[-1]) is not None:
            continue
        texts = [turns[-1]]
        # read with the turn before it, as a split request is read, unless the patterns
        # refuse that one ("How much MDMA should I take?" before a follow-up)
        if len(turns) > 1 and rail_for(turns[-2]) is None:
            texts.append(f"{turns[-2]} {turns[-1]}")
        for text in texts:
            if not isinstance(text, str) or not text.strip() or small_talk_kind(text):
                continue
            p = model.probabilities(text)
            best = max(p, key=p.get)
            if best != "none":
                ceilings[best] = max(ceilings[best], p[best])
    return ceilings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, default=SQUAD_TRAIN)
    parser.add_argument("--out", type=Path, default=MODEL_DIR)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--layers", type=int, default=6, help="keep the lower N of 6 layers")
    parser.add_argument(
        "--recalibrate", action="store_true", help="only set the thresholds of the models in --out"
    )
    parser.add_argument(
        "--head", action="store_true", help="fit the head beside the model in --out"
    )
    parser.add_argument("--smoothing", type=float, default=0.1, help="label smoothing")
    parser.add_argument(
        "--joined-share", type=float, default=0.3, help="share also read after a safe message"
    )
    apply_offline_env()
    args = parser.parse_args()
    print(json.dumps(train(args), indent=2))


if __name__ == "__main__":
    main()
