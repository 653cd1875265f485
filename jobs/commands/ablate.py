"""`codemill ablate`: train the same small config on two or more data variants with the same
seed and print their evaluation side by side (the BigCode way to judge a filter).

A variant is NAME=LAKE or NAME=LAKE@VERSION (gold/tokens Delta version). Every variant is
trained in its own process with identical settings; each model is scored on its own held-out
split and on the held-out split of the reference variant (--reference, default the first), so
that all models meet the same sequences (when the variants share a tokenizer).
"""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser("ablate", help="train one small config on several data variants and compare",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--variant", action="append", required=True, metavar="NAME=LAKE[@VERSION]",
                   help="a data variant (give two or more)")
    p.add_argument("--config", help="training YAML, merged over configs/train.yaml (default: that file alone)")
    p.add_argument("--model", default="tiny", help="model config (default: %(default)s)")
    p.add_argument("--steps", type=int, default=50, help="optimizer steps per variant (default: %(default)s)")
    p.add_argument("--deepspeed", help="DeepSpeed config for every variant (default: the config's, auto: zero0 "
                                        "in the one process each variant trains in)")
    p.add_argument("--output", default="runs/ablation", help="folder for the variants' runs (default: %(default)s)")
    p.add_argument("--reference", help="variant whose held-out split every model is scored on (default: first)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override for all variants")
    p.set_defaults(handler=handle)


def parse_variant(text: str):
    from pathlib import Path

    from jobs.core.errors import UserError
    if "=" not in text:
        raise UserError(f"--variant {text!r}: expected NAME=LAKE[@VERSION]")
    name, rest = text.split("=", 1)
    version = None
    if "@" in rest:
        rest, v = rest.rsplit("@", 1)
        if not v.isdigit():
            raise UserError(f"--variant {text!r}: version must be an integer")
        version = int(v)
    lake = Path(rest).resolve()
    if not (lake / "gold" / "tokens" / "_delta_log").is_dir():
        raise UserError(f"--variant {name}: no gold/tokens Delta table in {lake}")
    return name, lake, version


def handle(args) -> int:
    import json
    import subprocess
    import sys
    from pathlib import Path

    from jobs.core.errors import UserError
    from trainer.config import DEFAULT_CONFIG, REPO_ROOT, load_config
    variants = [parse_variant(v) for v in args.variant]
    names = [v[0] for v in variants]
    if len(variants) < 2:
        raise UserError("give at least two --variant")
    if len(set(names)) != len(names):
        raise UserError("variant names must differ")
    reference = args.reference or names[0]
    if reference not in names:
        raise UserError(f"--reference {reference!r} is not a variant")
    out_root = Path(args.output).resolve()
    config = args.config or str(DEFAULT_CONFIG)
    engine = [f"deepspeed={args.deepspeed}"] if args.deepspeed else []
    common = [f"model={args.model}", *engine, f"train.steps={args.steps}", "train.resume=false", *args.set]
    # the settings every variant shares, checked once before any trains (a ConfigError: one line, exit 2)
    load_config(config, [f"data.lake={variants[0][1]}", *common])

    from trainer.data import published_version
    from trainer.evaluate import heldout_loss_of
    runs = {}
    for name, lake, version in variants:
        version = published_version(lake) if version is None else version
        run_dir = out_root / name
        sets = [f"data.lake={lake}", f"data.version={version}", f"train.output_dir={run_dir}", *common]
        cmd = [sys.executable, str(REPO_ROOT / "trainer" / "train.py"), "--config", config]
        for s in sets:
            cmd += ["--set", s]
        print(f"[ablate] training {name} on {lake}/gold/tokens@v{version}", flush=True)
        if run_dir.exists():
            import shutil
            shutil.rmtree(run_dir)
        rc = subprocess.call(cmd, cwd=str(REPO_ROOT))
        if rc != 0:
            raise UserError(f"training variant {name} failed (exit {rc})")
        runs[name] = {"lake": lake, "version": version, "dir": run_dir}

    ref = runs[reference]
    ref_tok = (ref["lake"] / "tokenizer" / "tokenizer.json").read_bytes()
    rows = []
    for name, run in runs.items():
        metrics = [json.loads(line) for line in (run["dir"] / "metrics.jsonl").read_text().splitlines()]
        own = json.loads((run["dir"] / "eval.json").read_text())["heldout"]
        same_tok = (run["lake"] / "tokenizer" / "tokenizer.json").read_bytes() == ref_tok
        common = heldout_loss_of(run["dir"] / "hf", ref["lake"], version=ref["version"]) if same_tok else None
        rows.append({"variant": name, "table": f"{run['lake']}@v{run['version']}",
                     "final_train_loss": metrics[-1]["loss"], "own_heldout_loss": own["loss"] if own else None,
                     "reference_heldout_loss": common["loss"] if common else None,
                     "reference_perplexity": common["perplexity"] if common else None})
    print()
    print(f"{'variant':16s} {'train loss':>10s} {'own held-out':>12s} {'ref held-out':>12s} {'ref ppl':>9s}  table")

    def f(x, fmt):
        return format(x, fmt) if x is not None else "n/a"
    for r in rows:
        print(f"{r['variant']:16s} {f(r['final_train_loss'], '10.4f')} {f(r['own_heldout_loss'], '12.4f')} "
              f"{f(r['reference_heldout_loss'], '12.4f')} {f(r['reference_perplexity'], '9.2f')}  {r['table']}")
    print(f"(same seed and config; reference held-out = {reference}'s held-out split; n/a = different tokenizer)")
    (out_root / "ablation.json").write_text(json.dumps({"reference": reference, "steps": args.steps,
                                                        "model": args.model, "rows": rows}, indent=1, default=str))
    print(f"results: {out_root / 'ablation.json'}")
    return 0
