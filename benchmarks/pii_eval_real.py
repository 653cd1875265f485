"""PII detection on real files of every language family (issue 20): codemill's rules, rules +
the model tier, and detect-secrets, side by side, on the tuning, dev and held-out splits.

    .venv/bin/python benchmarks/pii_eval_real.py [--records 1500] [--no-model] [--no-baseline]
                                                 [--splits tune,dev,dev2,dev3,holdout] [--json OUT]

1. The five splits of benchmarks/pii_evalset.py are generated (seeded; cached under
   ~/.cache/codemill/pii_eval by a hash of the generator and the corpus folder): `tune` from
   benchmarks/real_corpus.py's `main` corpus, `dev`, `dev2` and `dev3` (the three former
   held-out splits, now tuned on) from `holdout`, `holdout2` and `holdout3`, and the held-out
   split `holdout` from `holdout4`, with files, templates, names, domains and value shapes the
   rules were never tuned on: the split the issue's targets are read on.
   `--source-tune/--source-dev/--source-dev2/--source-dev3/--source-holdout DIR` use other folders.
2. Systems: `rules` = udfs/pii.py's detect_rules at the configured entropy threshold;
   `rules+model` = the rules merged with a small token-classification model trained on the
   `tune` split only (so `dev` is out of sample for the model, not for the rules) (benchmarks/pii_model_train.py, cached), run through udfs/pii_model.py
   (the transformers back-end, every entity type taken from the model); `detect-secrets` =
   Yelp's detect-secrets (default plugins and filters) on each record as a file, by line.
3. Tables per secret type, per look-alike kind and per language family; counts and rates
   only, never a value. The model's speed is measured as MB/s of one core (torch on one
   thread, CPU time).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import pii_evalset  # noqa: E402

CACHE = Path(os.environ.get("CODEMILL_CACHE", Path.home() / ".cache" / "codemill")) / "pii_eval"


def load_split(split: str, source: str | None, n_records: int, seed: int, log=print) -> tuple[list[dict], dict]:
    src = Path(source) if source else pii_evalset.corpus_source(split)
    key = pii_evalset.fingerprint(split, src.resolve(), n_records, seed, _rules_stamp())
    path, stats_path = CACHE / f"{split}-{key}.jsonl", CACHE / f"{split}-{key}.stats.json"
    if path.exists() and stats_path.exists():
        return [json.loads(x) for x in path.read_text("utf-8").splitlines()], json.loads(stats_path.read_text())
    t0 = time.time()
    records, stats = pii_evalset.build_split(split, src, n_records, seed)
    pii_evalset.write_jsonl(records, path)
    stats_path.write_text(json.dumps(stats))
    log(f"{split}: generated {len(records)} records from {src} in {time.time() - t0:.0f} s")
    return records, stats


def _rules_stamp() -> str:
    # screening uses codemill's rules, so the set depends on udfs/pii.py's version
    import hashlib
    return hashlib.sha256((ROOT / "udfs" / "pii.py").read_bytes()).hexdigest()[:12]


def model_spans(records: list[dict], model_path: Path, types) -> tuple[list[list], float]:
    """Model spans per record and the model's MB/s on one core (torch on one thread)."""
    import torch

    from udfs.pii_model import ModelDetector
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        det = ModelDetector(str(model_path), types=types, batch_size=16, device="cpu")
        det.detect_batch([r["content"] for r in records[:16]])  # warm-up
        c0 = time.process_time()
        out = []
        for b in range(0, len(records), 64):
            out += det.detect_batch([r["content"] for r in records[b:b + 64]])
        cpu = time.process_time() - c0
    finally:
        torch.set_num_threads(threads)
    mb = sum(len(r["content"].encode()) for r in records) / 1e6
    return out, mb / cpu


def screening_line(stats: dict) -> str:
    t = {k: sum(v.values()) for k, v in stats.items()}
    return (f"real windows {t['windows']} ({t['lines']} lines) from {t['files_seen']} files; lines screened out "
            f"before planting: broad screen {t['screened_broad']}, codemill rules {t['screened_codemill']}, "
            f"detect-secrets {t['screened_detect_secrets']}; windows dropped {t['windows_dropped']}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1500, help="records per split (about)")
    ap.add_argument("--seed", type=int, default=pii_evalset.SEED)
    ap.add_argument("--splits", default=",".join(pii_evalset.SPLITS))
    ap.add_argument("--source-tune")
    ap.add_argument("--source-dev")
    ap.add_argument("--source-dev2")
    ap.add_argument("--source-dev3")
    ap.add_argument("--source-holdout")
    ap.add_argument("--no-model", action="store_true")
    ap.add_argument("--model-path", help="use this model folder instead of training one")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--entropy-threshold", type=float, default=None,
                    help="default: pii.entropy_threshold of configs/pipeline.yaml")
    ap.add_argument("--json", help="write the scores as JSON")
    args = ap.parse_args(argv)

    from jobs.tools.pii_eval import (detect_secrets_line_predictions, format_real, pii_config, real_as_json,
                                score_real)
    from udfs import pii

    cfg = pii_config(None)
    threshold = args.entropy_threshold if args.entropy_threshold is not None else float(cfg.get("entropy_threshold", 3.0))
    splits = args.splits.split(",")
    data = {}
    unknown = set(splits) - set(pii_evalset.SPLITS)
    if unknown:
        ap.error(f"unknown split(s): {', '.join(sorted(unknown))}")
    for split in pii_evalset.SPLITS:
        if split in splits or (split == "tune" and not args.no_model and not args.model_path):
            data[split] = load_split(split, getattr(args, f"source_{split}"), args.records, args.seed)

    model_path = None
    if not args.no_model:
        if args.model_path:
            model_path = Path(args.model_path)
        else:
            import pii_model_train
            model_path = pii_model_train.train(data["tune"][0])

    out_json = {}
    for split in splits:
        records, stats = data[split]
        systems = []
        c0 = time.process_time()
        rules = [pii.detect_rules(r["content"], r.get("path"), threshold) for r in records]
        rules_mbps = sum(len(r["content"].encode()) for r in records) / 1e6 / (time.process_time() - c0)
        systems.append(score_real("rules", records, rules))
        speed = f"rules {rules_mbps:.1f} MB/s per core"
        if model_path:
            spans, mbps = model_spans(records, model_path, ("KEY", "PASSWORD", "EMAIL", "IP_ADDRESS", "NAME"))
            merged = [pii.merge_spans(a + b) for a, b in zip(rules, spans)]
            systems.append(score_real("rules+model", records, merged))
            names_only = [pii.merge_spans(a + [s for s in b if s.type == "NAME"]) for a, b in zip(rules, spans)]
            systems.append(score_real("rules+model:NAME", records, names_only))
            systems.append(score_real("model alone", records, spans))
            speed += f"; model {mbps:.2f} MB/s per core (transformers, torch 1 thread)"
        if not args.no_baseline:
            systems.append(score_real("detect-secrets", records, detect_secrets_line_predictions(records),
                                      handles=("SECRET",)))
        title = (f"== {split} split: {len(records)} records, {sum(len(r['spans']) for r in records)} planted values, "
                 f"{sum(len(r['lookalikes']) for r in records)} look-alikes, "
                 f"{len({r['source'] for r in records})} package releases ==\n  {screening_line(stats)}\n  {speed}")
        print(format_real(systems, records, title))
        print()
        out_json[split] = {"records": len(records), "screening": stats, "scores": real_as_json(systems)}
    if args.json:
        Path(args.json).write_text(json.dumps(out_json, indent=2) + "\n")
        print(f"scores written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
