"""Train the reader: a cross-encoder from the bundled MiniLM, fine-tuned on SQuAD 2.0 pairs.

    python -m training.reader [--epochs N] [--export-only]   (``make reader``)

The run checkpoints every ``--every`` steps into ``models/reader/checkpoints/`` and resumes from
the newest checkpoint, so a stopped run loses at most that many steps. At the end the model is
checked on the dev file, exported to ONNX, quantised to int8 when that keeps its accuracy, and
its figures are written to ``models/reader/metrics.json`` for the model card.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

from assistant.config import ROOT, apply_offline_env
from training.onnx_export import export_logits
from training.pairs import Question, read_squad, training_pairs

SHARED = ROOT.parent / "shared" / "squad2"
OUT = ROOT / "models" / "reader"
MAX_TOKENS = 96
SEED = 13


def _checkpoints(out: Path) -> list[Path]:
    return sorted((out / "checkpoints").glob("step-*.pt"), key=lambda p: int(p.stem[5:]))


def _load_base(torch):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from assistant.embeddings import model_path

    torch.manual_seed(SEED)
    base = model_path()
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=1)
    return tokenizer, model


def train(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    tokenizer, model = _load_base(torch)
    pairs = training_pairs(read_squad(args.train), seed=SEED)
    steps_per_epoch = math.ceil(len(pairs) / args.batch)
    total = steps_per_epoch * args.epochs
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    warmup = int(0.06 * total)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: min(1.0, (s + 1) / warmup) * max(0.0, (total - s) / max(1, total - warmup)),
    )
    step = 0
    saved = _checkpoints(args.out)
    if saved:
        state = torch.load(saved[-1], weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step = state["step"]
        print(f"resuming at step {step} of {total} from {saved[-1].name}", flush=True)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    model.train()
    started, running = time.time(), 0.0
    while step < total:
        offset = (step % steps_per_epoch) * args.batch
        batch = pairs[offset : offset + args.batch]
        encoded = tokenizer(
            [p.question for p in batch],
            [p.sentence for p in batch],
            truncation="only_second",
            max_length=MAX_TOKENS,
            padding=True,
            return_tensors="pt",
        )
        labels = torch.tensor([p.label for p in batch])
        loss = loss_fn(model(**encoded).logits.squeeze(-1), labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        step += 1
        running = 0.98 * running + 0.02 * loss.item() if step > 1 else loss.item()
        if step % 50 == 0:
            rate = (time.time() - started) / 50
            started = time.time()
            print(f"step {step}/{total} loss {running:.4f} {rate:.2f} s/step", flush=True)
        if step % args.every == 0 or step == total:
            folder = args.out / "checkpoints"
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / f"step-{step}.pt.tmp"
            torch.save(
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "step": step,
                },
                tmp,
            )
            os.replace(tmp, folder / f"step-{step}.pt")
            for old in _checkpoints(args.out)[:-2]:
                old.unlink()


def question_scores(score, questions: list[Question]) -> list[list[float]]:
    """The reader's score for every sentence of each question's paragraph."""
    flat = [(q.text, s) for q in questions for s in q.sentences]
    values = score(flat)
    out, at = [], 0
    for q in questions:
        out.append(list(values[at : at + len(q.sentences)]))
        at += len(q.sentences)
    return out


def paragraph_metrics(questions: list[Question], scores: list[list[float]]) -> dict:
    """Top-1 sentence accuracy on answerable questions, and how well the best score separates
    answerable from unanswerable (ROC AUC)."""
    import numpy as np

    answerable = [(q, s) for q, s in zip(questions, scores) if q.answers]
    top1 = np.mean([int(np.argmax(s)) in q.answers for q, s in answerable])
    best = np.array([max(s) for s in scores])
    label = np.array([bool(q.answers) for q in questions])
    pos, neg = best[label], best[~label]
    auc = float((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean())
    return {
        "questions": len(questions),
        "top1_answerable": round(float(top1), 4),
        "auc": round(auc, 4),
    }


def export(args: argparse.Namespace) -> None:
    import numpy as np
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from assistant.reader.onnx import OnnxReader

    torch.set_num_threads(args.threads)
    tokenizer, model = _load_base(torch)
    saved = _checkpoints(args.out)
    state = torch.load(saved[-1], weights_only=False)
    model.load_state_dict(state["model"])
    model.eval()
    tokenizer.save_pretrained(args.out / "tokenizer")
    for extra in ("vocab.txt", "special_tokens_map.json", "tokenizer_config.json"):
        (args.out / "tokenizer" / extra).unlink(missing_ok=True)
    fp32 = args.out / "reader-fp32.onnx"
    export_logits(model, tokenizer(["a question?"], ["a sentence."], return_tensors="pt"), fp32)
    int8 = args.out / "reader.onnx"
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
    dev = read_squad(args.dev)
    metrics: dict = {
        "step": state["step"],
        "train_pairs": len(training_pairs(read_squad(args.train))),
    }
    for name, path in (("fp32", fp32), ("int8", int8)):
        reader = OnnxReader(path, args.out / "tokenizer" / "tokenizer.json")
        started = time.perf_counter()
        scores = question_scores(reader.score, dev)
        seconds = time.perf_counter() - started
        metrics[name] = paragraph_metrics(dev, scores)
        metrics[name]["ms_per_pair"] = round(1000 * seconds / sum(len(q.sentences) for q in dev), 3)
        metrics[name]["mb"] = round(path.stat().st_size / 2**20, 1)
        print(name, metrics[name], flush=True)
    kept = metrics["int8"]["top1_answerable"] >= metrics["fp32"]["top1_answerable"] - 0.01
    metrics["shipped"] = "int8" if kept else "fp32"
    if not kept:
        os.replace(fp32, int8)
    fp32.unlink(missing_ok=True)
    _ = np  # numpy is needed by the metrics above
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, default=SHARED / "train-v2.0.json")
    parser.add_argument("--dev", type=Path, default=SHARED / "dev-v2.0.json")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=6e-5)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--export-only", action="store_true")
    args = parser.parse_args()
    apply_offline_env()
    if not args.export_only:
        train(args)
    export(args)


if __name__ == "__main__":
    main()
