"""`codemill train`: train a GPTBigCode model on <lake>/gold/tokens (trainer/train.py).

One process runs here (DeepSpeed's engine in a one-rank group: `auto` = zero0); `--nproc N`
hands over to the `deepspeed` launcher with N local processes (GPUs, or CPU processes with
gloo when there is no GPU). A run resumes from <output>/checkpoints/latest when it exists.

The config (configs/train.yaml, a --config file merged over it, the options below and --set)
is checked before anything starts: a misspelled key, a wrong type or a value out of range is
one line naming it (`--set train.stpes=5: unknown key; did you mean 'train.steps'?`), exit 2.
"""
from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser("train", help="train a StarCoder-style model on gold/tokens (DeepSpeed ZeRO)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_train_options(p)
    p.add_argument("--nproc", type=int, default=1, help="processes for the deepspeed launcher (default: 1, in-process)")
    p.set_defaults(handler=handle)


def add_train_options(p) -> None:
    p.add_argument("--lake", help="lake folder or URI, e.g. s3a://bucket/lake (default: $CODEMILL_LAKE or ./lake)")
    p.add_argument("--config", help="training YAML, merged over configs/train.yaml (default: that file alone)")
    p.add_argument("--model", help="configs/models/<name> or a path: tiny, small, 1b, 3b, 7b, 15b")
    p.add_argument("--deepspeed", help="auto (default: zero0 on one process, zero2 on more), zero0, zero1, zero2, zero3, "
                                        "zero2_offload, or a JSON path")
    p.add_argument("--steps", type=int, help="optimizer steps")
    p.add_argument("--output", help="run directory (checkpoints/, hf/, lineage.json)")
    p.add_argument("--version", type=int, help="gold/tokens Delta version to pin (default: its published version, docs/operations.md)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="any config key, repeatable")


def overrides_from(args, lake: str | None = None) -> list[str]:
    from jobs.core.lake import lake_root
    out = [f"data.lake={lake or lake_root(args.lake)}"]
    for key, value in (("model", args.model), ("deepspeed", args.deepspeed), ("train.steps", args.steps),
                       ("train.output_dir", args.output), ("data.version", args.version)):
        if value is not None:
            out.append(f"{key}={value}")
    return out + list(args.set)


def handle(args) -> int:
    import os
    import shutil
    import subprocess
    import sys

    from jobs.core.errors import UserError
    from trainer.config import DEFAULT_CONFIG, REPO_ROOT, load_config
    config = args.config or str(DEFAULT_CONFIG)
    sets = overrides_from(args)
    cfg = load_config(config, sets)  # a ConfigError: one line, exit 2 (jobs/cli.py)
    if args.nproc > 1:
        launcher = shutil.which("deepspeed", path=os.path.dirname(sys.executable)) or shutil.which("deepspeed")
        if not launcher:
            raise UserError("the deepspeed launcher is not on PATH")
        cmd = [launcher, "--num_gpus", str(args.nproc), str(REPO_ROOT / "trainer" / "train.py"), "--config", config]
        for s in sets:
            cmd += ["--set", s]
        print("+ " + " ".join(cmd), flush=True)
        return subprocess.call(cmd, cwd=str(REPO_ROOT))

    from trainer.data import DataError
    from trainer.train import train
    try:
        out = train(cfg)
    except (DataError, FileNotFoundError) as err:
        raise UserError(str(err)) from None
    print(f"run directory: {out}")
    return 0
