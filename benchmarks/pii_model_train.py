"""Train a small token-classification model for the PII model tier on the labelled tuning split
of the real-file set (benchmarks/pii_evalset.py), on CPU, in a few minutes.

    .venv/bin/python benchmarks/pii_model_train.py --data tune.jsonl [--out DIR] [--epochs 6]

What it builds (no download: everything is trained here):
* a WordPiece vocabulary trained on the split's contents (Hugging Face `tokenizers`, cased,
  6,000 entries), saved as a BertTokenizerFast with vocab.txt, so that the same folder runs
  under both back-ends: transformers (udfs/pii_model.py) and Spark NLP, which re-tokenizes with
  vocab.txt (udfs/pii_sparknlp.py);
* a 2-layer BERT (hidden 128, 4 heads, 512 positions) with StarPII's label set (docs/recipe.md §5.3),
  trained on BIO labels derived from the planted spans (every planted KEY, PASSWORD, EMAIL,
  IP_ADDRESS and NAME; look-alikes and real text are O). StarPII itself was trained on
  pseudo-labels of the same kind: labels that come from a generator, not from annotators.

The folder is cached under ~/.cache/codemill/pii_model/<hash of data and settings>, so the
evaluation (benchmarks/pii_eval_real.py) trains once per set.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CACHE = Path(os.environ.get("CODEMILL_CACHE", Path.home() / ".cache" / "codemill")) / "pii_model"
# entity_weight: the loss weight of entity labels against O. Fewer than 3% of tokens are inside
# a planted value; with plain cross-entropy the first run (weight 1) collapsed to all-O (mean
# loss stuck at 0.21 from the second epoch, nothing found on either split). Those runs, and the
# weighted one after them, trained on [UNK] only (see the tokenizer below). epochs: 3, what fits
# the CPU budget of a benchmark run on 2 shared cores (3 epochs on a third of the split reached
# 0.76 recall on other tuning records at learning rate 3e-3; 1e-3 had the higher loss after an epoch).
SETTINGS = {"vocab": 6000, "hidden": 128, "layers": 2, "heads": 4, "intermediate": 256, "window": 256,
            "epochs": 3, "batch": 16, "lr": 3e-3, "seed": 7, "entity_weight": 10.0}


def token_labels(offsets, spans, labels_index) -> list[int]:
    """BIO label ids of tokens from character spans: a token is inside a span when it overlaps
    it; the first such token of a span is B-, the rest I-."""
    out, si = [], 0
    spans = sorted(spans)
    prev_span = None
    for (s, e) in offsets:
        if s == e:
            out.append(-100)
            continue
        while si < len(spans) and spans[si][1] <= s:
            si += 1
        if si < len(spans) and spans[si][0] < e:
            tag = "I" if prev_span == si else "B"
            out.append(labels_index[f"{tag}-{spans[si][2]}"])
            prev_span = si
        else:
            out.append(labels_index["O"])
            prev_span = None
    return out


def cache_dir(records: list[dict], settings: dict) -> Path:
    h = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for r in records:
        h.update(r["content"].encode())
        h.update(json.dumps(r["spans"], sort_keys=True).encode())
    h.update(Path(__file__).read_bytes())
    return CACHE / h.hexdigest()[:16]


def train(records: list[dict], out: Path | None = None, log=print, **overrides) -> Path:
    """Train (or reuse the cached) model folder for these labelled records."""
    import torch
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertConfig, BertForTokenClassification, BertTokenizerFast

    from udfs.pii_model import STARPII_LABELS

    cfg = {**SETTINGS, **overrides}
    out = Path(out) if out else cache_dir(records, cfg)
    if (out / "config.json").exists() and (out / "vocab.txt").exists():
        log(f"model: cached at {out}")
        return out
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    random.seed(cfg["seed"])
    torch.manual_seed(cfg["seed"])
    wp = BertWordPieceTokenizer(lowercase=False, strip_accents=False, clean_text=True)
    wp.train_from_iterator((r["content"] for r in records), vocab_size=cfg["vocab"], min_frequency=2,
                           special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    wp.save_model(str(out))
    # `vocab=`: transformers 5 ignores the old `vocab_file=` keyword and builds a tokenizer of the 5
    # special tokens only, so every word became [UNK] and the model could learn nothing (the
    # "0.33 M parameters" of the first runs: no word embeddings)
    tok = BertTokenizerFast(vocab=str(out / "vocab.txt"), do_lower_case=False, strip_accents=False)
    if tok.vocab_size != wp.get_vocab_size():
        raise RuntimeError(f"tokenizer has {tok.vocab_size} entries, the trained vocabulary {wp.get_vocab_size()}")
    tok.save_pretrained(out)
    index = {label: i for i, label in enumerate(STARPII_LABELS)}

    step = cfg["window"] - 2
    windows = []
    enc = tok([r["content"] for r in records], add_special_tokens=False, return_offsets_mapping=True)
    for rec, ids, offs in zip(records, enc["input_ids"], enc["offset_mapping"]):
        spans = [(s["start"], s["end"], s["type"]) for s in rec["spans"]]
        labels = token_labels(offs, spans, index)
        for s in range(0, len(ids), step):
            windows.append(([tok.cls_token_id] + ids[s:s + step] + [tok.sep_token_id],
                            [-100] + labels[s:s + step] + [-100]))
    config = BertConfig(vocab_size=tok.vocab_size, hidden_size=cfg["hidden"], num_hidden_layers=cfg["layers"],
                        num_attention_heads=cfg["heads"], intermediate_size=cfg["intermediate"],
                        max_position_embeddings=512, num_labels=len(STARPII_LABELS),
                        id2label=dict(enumerate(STARPII_LABELS)), label2id=index)
    model = BertForTokenClassification(config)
    class_weight = torch.full((len(STARPII_LABELS),), float(cfg["entity_weight"]))
    class_weight[index["O"]] = 1.0
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=0.01)
    total = cfg["epochs"] * ((len(windows) + cfg["batch"] - 1) // cfg["batch"])
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg["lr"], total_steps=total, pct_start=0.1)
    model.train()
    log(f"model: training on {len(windows)} windows of <= {cfg['window']} tokens, {cfg['epochs']} epochs, "
        f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters")
    for epoch in range(cfg["epochs"]):
        random.shuffle(windows)
        loss_sum, n = 0.0, 0
        for b in range(0, len(windows), cfg["batch"]):
            chunk = windows[b:b + cfg["batch"]]
            width = max(len(i) for i, _ in chunk)
            ids = torch.full((len(chunk), width), tok.pad_token_id, dtype=torch.long)
            lab = torch.full((len(chunk), width), -100, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for r_, (i, lb) in enumerate(chunk):
                ids[r_, :len(i)] = torch.tensor(i)
                lab[r_, :len(lb)] = torch.tensor(lb)
                mask[r_, :len(i)] = 1
            logits = model(input_ids=ids, attention_mask=mask).logits
            loss = torch.nn.functional.cross_entropy(logits.view(-1, logits.size(-1)), lab.view(-1),
                                                     weight=class_weight, ignore_index=-100)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            loss_sum += float(loss)
            n += 1
        log(f"model: epoch {epoch + 1}/{cfg['epochs']} mean loss {loss_sum / max(n, 1):.4f} "
            f"({time.time() - t0:.0f} s)")
    model.eval()
    model.save_pretrained(out)
    (out / "codemill_training.json").write_text(json.dumps({**cfg, "windows": len(windows), "records": len(records),
                                                            "seconds": round(time.time() - t0, 1)}, indent=2))
    log(f"model: saved to {out} in {time.time() - t0:.0f} s")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="labelled JSONL (the tuning split)")
    ap.add_argument("--out", help="model folder (default: the cache)")
    ap.add_argument("--epochs", type=int, default=SETTINGS["epochs"])
    args = ap.parse_args(argv)
    records = [json.loads(line) for line in Path(args.data).read_text("utf-8").splitlines() if line.strip()]
    print(train(records, args.out, epochs=args.epochs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
