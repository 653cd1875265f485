"""Train a StarCoder-style model (GPTBigCode) on `gold/tokens` with DeepSpeed ZeRO.

    deepspeed --num_gpus 2 trainer/train.py --config configs/train.yaml --set data.lake=./lake
    python trainer/train.py --config configs/train.yaml --set train.steps=20    # one process
    codemill train ...                                                            # same, via the CLI

Read top to bottom: 1. config, 2. distributed set-up, 3. model, 4. data, 5. the DeepSpeed
engine, 6. resume, 7. the training loop, 8. evaluation, export to Hugging Face format and the
lineage file; `train()` at the end runs them in that order. Everything tunable is in the one
YAML config (configs/train.yaml, every default with its source), read once into a typed
TrainConfig by trainer/config.py; the DeepSpeed JSON only holds the ZeRO section. One engine:
DeepSpeed's (`zero0` is its engine without ZeRO partitioning, what `auto` picks for one
process); benchmarks/train_throughput.py keeps a plain PyTorch loop as its reference.

Outputs under train.output_dir: checkpoints/<tag>/ (+ `latest`), metrics.jsonl (one line per
step: loss, lr, batch fingerprint), eval.json, hf/ (save_pretrained + tokenizer) and
lineage.json (table path + Delta version, config, tokenizer, git commit).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import random
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script by the deepspeed launcher
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch

from trainer.config import DEFAULT_CONFIG, REPO_ROOT, ConfigError, TrainConfig, deepspeed_config_path, \
    load_config, load_model_config, to_mapping
from trainer.data import TokenStream, TokenTable, batch_digest, collate, lm_loss, load_tokenizer, published_version, \
    rank_block, split_heldout
from trainer.model import build_config, build_model, count_params

# ---------------------------------------------------------------------------------------------
# 1. Config: trainer/config.py reads configs/train.yaml (+ --config file + --set overrides)
#    once into a frozen TrainConfig: cfg.data, cfg.optim, cfg.train; cfg.model and
#    cfg.deepspeed name the model shape and the ZeRO config. No defaults below this line.
# ---------------------------------------------------------------------------------------------
# (load_config is imported from here too: `from trainer.train import load_config, train`.)


# ---------------------------------------------------------------------------------------------
# 2. Distributed set-up: the deepspeed launcher / torchrun set RANK etc.; a `python` run gets
#    a one-process group of its own (DeepSpeed needs one).
# ---------------------------------------------------------------------------------------------
# What the `deepspeed` launcher / torchrun set for each rank (a child of a launched or
# in-process run must not inherit them: see ensure_launcher_env).
LAUNCHER_ENV = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def ensure_launcher_env() -> tuple[int, int, int]:
    # Launched by `deepspeed`/`torchrun` means a rendezvous address is set. Without one this is a
    # group of one, even when RANK=0/WORLD_SIZE=1 were inherited from a parent process that
    # trained in-process (e.g. `codemill run`) and then started this one.
    launched = "MASTER_ADDR" in os.environ and "RANK" in os.environ
    if not launched:
        os.environ.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", LOCAL_WORLD_SIZE="1")
        # A group of one rendezvouses through an in-process store: no TCP port to pick, so two
        # plain runs started at the same moment cannot race for the same one.
        import torch.distributed as dist
        if not dist.is_initialized():
            backend = "nccl" if torch.cuda.is_available() else "gloo"
            dist.init_process_group(backend, store=dist.HashStore(), rank=0, world_size=1)
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if not torch.cuda.is_available() and "OMP_NUM_THREADS" not in os.environ:
        local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world))
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(1, local_world)))
    return rank, world, local_rank


def all_mean(value: float, world: int) -> float:
    if world == 1:
        return value
    t = torch.tensor([value], dtype=torch.float64)
    torch.distributed.all_reduce(t)
    return float(t.item()) / world


def all_sum(values: list[float], world: int) -> list[float]:
    if world == 1:
        return values
    t = torch.tensor(values, dtype=torch.float64)
    torch.distributed.all_reduce(t)
    return t.tolist()


def barrier(world: int) -> None:
    if world > 1:
        torch.distributed.barrier()


# ---------------------------------------------------------------------------------------------
# 3. Model and 4. data: trainer/model.py (GPTBigCode from configs/models/<name>.yaml) and
#    trainer/data.py (gold/tokens at a pinned Delta version, streamed per row group, sharded,
#    resumable), called in train() below.
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# 5. The engine: DeepSpeed's, configured from the training YAML (the JSON holds only ZeRO)
# ---------------------------------------------------------------------------------------------
# `deepspeed: auto` picks by the size of the data-parallel group. ZeRO partitions optimizer
# state (stage 1) and gradients (stage 2) across ranks; in a group of one there is nothing to
# partition and the stages only add work: a flat fp32 copy of the weights and a copy of every
# gradient into it each step (tiny model on this CPU: ZeRO-2 0.91, ZeRO-1 0.92 of a plain loop's
# tokens/s; ZeRO-0 0.99-1.07; benchmarks/train_throughput.py). More ranks get ZeRO-2.
def resolve_deepspeed(name, world: int, resumed_from: str | None = None) -> str:
    """The DeepSpeed config a run uses: `name` itself, or for "auto" zero0 in a group of one and
    zero2 with more ranks. A resumed "auto" run keeps `resumed_from`, the config its checkpoint
    was written with: a checkpoint loads only into the engine that wrote it."""
    if str(name).lower() != "auto":
        return str(name)
    if resumed_from is not None:
        return resumed_from
    return "zero0" if world == 1 else "zero2"


class WarmupCosine:
    """LR multiplier: linear warmup, then cosine decay to `min_ratio` of peak (docs/recipe.md §10.1)."""

    def __init__(self, warmup: int, total: int, min_ratio: float):
        self.warmup, self.total, self.min_ratio = max(0, warmup), max(1, total), min_ratio

    def __call__(self, step: int) -> float:  # step = optimizer steps already taken
        if step < self.warmup:
            return (step + 1) / self.warmup
        progress = min(1.0, (step - self.warmup) / max(1, self.total - self.warmup))
        return self.min_ratio + (1 - self.min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def use_bf16(setting: bool | str) -> bool:
    """train.bf16: true, false, or auto (on where the accelerator has bf16: CUDA)."""
    if setting == "auto":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return bool(setting)


def param_groups(model, weight_decay: float) -> list[dict]:
    """Weight decay on matrices, none on biases and LayerNorm weights (Megatron's split)."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def deepspeed_config(cfg: TrainConfig, bf16: bool) -> dict:
    """The DeepSpeed config: ZeRO section from the JSON `cfg.deepspeed` names (already
    resolved from `auto`), everything else from the training YAML."""
    ds = json.loads(deepspeed_config_path(cfg.deepspeed).read_text())
    o, t = cfg.optim, cfg.train
    offload = ds.get("zero_optimization", {}).get("offload_optimizer", {}).get("device", "none") != "none"
    ds.update({
        "train_micro_batch_size_per_gpu": t.micro_batch,
        "gradient_accumulation_steps": t.grad_accum,
        "gradient_clipping": o.grad_clip,
        "bf16": {"enabled": bf16},
        "fp16": {"enabled": False},
        "optimizer": {"type": "AdamW", "params": {
            "lr": o.lr, "betas": list(o.betas), "eps": o.eps, "weight_decay": o.weight_decay,
            # optim.fused (DeepSpeed's own default too): DeepSpeed's multi-tensor Adam
            # (FusedAdam, compiled by DeepSpeed on first use: C++ on a CPU host, CUDA on a GPU
            # host), one kernel over ZeRO's flat partition; on the tiny CPU model it took the
            # engine from 0.85 to 0.92 of a plain loop's tokens/s (benchmarks/train_throughput.py).
            # optim.fused: false where DeepSpeed cannot compile ops. Offload always uses
            # DeepSpeedCPUAdam.
            "torch_adam": not offload and not o.fused}},
        "zero_allow_untested_optimizer": True,
    })
    zero = ds.get("zero_optimization", {})
    if not torch.cuda.is_available() and zero.get("stage", 0) in (1, 2):
        # Both settings serve GPUs (overlap on a side stream, one buffer against fragmentation);
        # on a CPU each is one more copy of every gradient per step (-5% tokens/s on the tiny
        # model, benchmarks/train_throughput.py), so CPU runs turn them off.
        zero.update(overlap_comm=False, contiguous_gradients=False)
    return ds


def build_engine(model, cfg: TrainConfig, bf16: bool):
    """DeepSpeed's engine over `model`: AdamW, warmup + cosine schedule, ZeRO as configured."""
    import deepspeed
    ds = deepspeed_config(cfg, bf16)
    schedule = WarmupCosine(cfg.optim.warmup_steps, cfg.train.steps, cfg.optim.min_lr_ratio)
    engine, _, _, _ = deepspeed.initialize(
        model=model, model_parameters=param_groups(model, cfg.optim.weight_decay), config=ds,
        lr_scheduler=lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, schedule))
    skip_allreduce_in_a_group_of_one(engine)
    return engine, ds


def skip_allreduce_in_a_group_of_one(engine) -> None:
    """Without ZeRO, DeepSpeed all-reduces the gradients through flattened buckets after every
    backward, also in a group of one, where the reduction is the identity (a sum over one rank
    divided by one) but the flatten/copy-back is not free. ZeRO stages reduce inside their own
    optimizer and are left alone."""
    import torch.distributed as dist
    if engine.zero_optimization_stage() == 0 and dist.get_world_size() == 1:
        engine.enable_backward_allreduce = False


# ---------------------------------------------------------------------------------------------
# 6. Resume: the engine's checkpoint holds model, optimizer and scheduler; the data position
#    travels in its client state, the RNG states per rank beside its files.
# ---------------------------------------------------------------------------------------------
def rng_state() -> dict:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


# ---------------------------------------------------------------------------------------------
# 8. Evaluation and export
# ---------------------------------------------------------------------------------------------
@torch.no_grad()
def heldout_loss(engine, heldout, micro_batch: int, device, rank: int, world: int,
                 max_batches: int = 0) -> dict | None:
    """Token-weighted next-token loss over the held-out samples (a TokenTable: this rank reads
    only its block of them), and its perplexity.

    Every rank runs the same number of forward passes (ZeRO-3 gathers parameters collectively);
    a rank with fewer samples fills its last batch with rows of weight zero.
    """
    if len(heldout) == 0:
        return None
    lo, hi = rank_block(len(heldout), rank, world)
    mine = heldout[lo:hi]
    per_rank = math.ceil(len(heldout) / world)  # the largest block: what every rank runs through
    n_batches = math.ceil(per_rank / micro_batch)
    if max_batches:
        n_batches = min(n_batches, max_batches)
    filler = np.zeros(heldout.sample_len, dtype=np.int64)  # weight 0: its loss is not counted
    engine.eval()
    total_loss, total_tokens = 0.0, 0.0
    for b in range(n_batches):
        idx = range(b * micro_batch, min((b + 1) * micro_batch, per_rank))
        rows = [mine[i] if i < len(mine) else filler for i in idx]
        w = [1.0 if i < len(mine) else 0.0 for i in idx]
        batch = {k: v.to(device) for k, v in collate(rows).items()}
        logits = engine(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        losses = lm_loss(logits, batch["labels"], reduction="none").view(len(rows), -1)
        counts = (batch["labels"] != -100).sum(dim=1)
        wt = torch.tensor(w, device=losses.device)
        total_loss += float((losses.sum(dim=1) * wt).sum())
        total_tokens += float((counts * wt).sum())
    engine.train()
    total_loss, total_tokens = all_sum([total_loss, total_tokens], world)
    loss = total_loss / max(1.0, total_tokens)
    return {"loss": loss, "perplexity": math.exp(min(loss, 50.0)), "tokens": int(total_tokens),
            "sequences": len(heldout)}


def export_hf(engine, ckpt_dir: Path, tag: str, model_config, tokenizer, out_dir: Path) -> Path:
    """fp32 weights of the saved checkpoint -> save_pretrained, so `from_pretrained` loads it.

    ZeRO checkpoints are gathered with zero_to_fp32 (fp32 master weights, stages 1-3); without
    ZeRO (zero0) the checkpoint holds the module's own weights, which are the ones in memory
    (in the module's dtype: bf16-rounded when training in bf16). Written with save_pretrained
    (zero_to_fp32's own safetensors output fails on the tied embeddings of GPTBigCode).
    """
    if engine.zero_optimization_stage() == 0:
        state = {k: v.detach().float().cpu() for k, v in engine.module.state_dict().items()}
    else:
        from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint
        state = get_fp32_state_dict_from_zero_checkpoint(str(ckpt_dir), tag=tag)
    model = build_model(model_config)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if set(missing) - {"lm_head.weight"} or unexpected:
        raise RuntimeError(f"checkpoint does not match the model: missing {missing}, unexpected {unexpected}")
    model.tie_weights()
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out_dir))
    tokenizer.save_pretrained(str(out_dir))
    return out_dir


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except OSError:
        return None


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------
def train(cfg: TrainConfig) -> Path:
    """Run training as configured (a TrainConfig from load_config); returns the output directory."""
    t, d = cfg.train, cfg.data
    out_dir = Path(t.output_dir).resolve()
    ckpt_dir = out_dir / "checkpoints"

    # 2. distributed set-up (a group of one for `python` runs)
    rank, world, local_rank = ensure_launcher_env()
    resuming = t.resume and (ckpt_dir / "latest").exists()
    run_json = ckpt_dir / "run.json"  # written after each checkpoint: what the run was started with
    stored = json.loads(run_json.read_text()) if resuming and run_json.exists() else {}
    engine_name = resolve_deepspeed(cfg.deepspeed, world, stored.get("config", {}).get("deepspeed"))
    if resuming and (ckpt_dir / (ckpt_dir / "latest").read_text().strip() / "plain_state.pt").exists():
        raise ConfigError(f"{ckpt_dir} was written by the plain PyTorch loop, which is gone; DeepSpeed cannot "
                          "load it: train into a new train.output_dir")
    import deepspeed
    deepspeed.init_distributed()
    bf16 = use_bf16(t.bf16)

    # 4a. data: pin the Delta version now (a resumed run keeps the version of its checkpoint)
    version = d.version
    if resuming and version is None:
        if "table_version" not in stored:
            raise RuntimeError(f"{ckpt_dir} holds a checkpoint but no run.json: set data.version to the "
                               "gold/tokens version it was trained on")
        version = stored["table_version"]
    if version is None:
        version = published_version(d.lake_path, d.table)  # never a version whose gate failed
    # the config as run (engine resolved, version pinned): recorded in run.json and lineage.json
    cfg = dataclasses.replace(cfg, deepspeed=engine_name, data=dataclasses.replace(d, version=version))
    d = cfg.data
    tokenizer = load_tokenizer(d.tokenizer_path)

    # 3. model
    model_config = build_config(load_model_config(cfg.model), vocab_size=len(tokenizer),
                                eod_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"))
    model = build_model(model_config, seed=t.seed)
    n_params = count_params(model)  # before ZeRO-3 partitions the parameters away

    # 4b. data: the pinned version's files and row counts (tokens are streamed per row group,
    #     trainer/data.py), cut into windows, held out, this rank's block
    table = TokenTable.open(d.table_path, d.version, read_ahead=d.read_ahead, vocab_size=model_config.vocab_size)
    # rows hold seq_len + 1 tokens (inputs + shifted targets); longer than the model's context ->
    # cut into windows of data.seq_len (null: the stored length, at most the model's n_positions)
    seq_len = d.seq_len or min(table.row_len - 1, model_config.n_positions)
    if seq_len > model_config.n_positions:
        raise ValueError(f"data.seq_len {seq_len} exceeds the model's n_positions {model_config.n_positions}")
    if table.row_len - 1 > seq_len and rank == 0:
        print(f"[train] stored sequences of {table.row_len} tokens cut into windows of {seq_len + 1}", flush=True)
    samples = table.windows(seq_len)
    n_heldout = split_heldout(len(samples), d.heldout_fraction)
    train_part, heldout_part = samples[:len(samples) - n_heldout], samples[len(samples) - n_heldout:]
    stream = TokenStream(train_part, tokenizer, rank=rank, world=world, seed=t.seed, fim_rate=d.fim_rate,
                         fim_spm_rate=d.fim_spm_rate, fim_split_sample=d.fim_split_sample,
                         fragment_fim_rate=d.fragment_fim_rate)

    # 5. engine
    engine, ds_config = build_engine(model, cfg, bf16)
    device = engine.device

    # 6. resume: model, optimizer, scheduler, data position, RNG
    step = 0
    if resuming:
        _, client = engine.load_checkpoint(str(ckpt_dir))
        step = int(client["step"])
        stream.load_state_dict(client["data"])
        set_rng_state(torch.load(ckpt_dir / client["tag"] / f"rng_state_rank{rank}.pt", weights_only=False))
    elif rank == 0:
        out_dir.mkdir(parents=True, exist_ok=True)
    barrier(world)

    def save(step: int) -> str:
        tag = f"step{step:07d}"
        client = {"step": step, "tag": tag, "data": stream.state_dict(), "table_version": d.version}
        (ckpt_dir / tag).mkdir(parents=True, exist_ok=True)
        torch.save(rng_state(), ckpt_dir / tag / f"rng_state_rank{rank}.pt")
        barrier(world)
        engine.save_checkpoint(str(ckpt_dir), tag=tag, client_state=client)
        if rank == 0:
            run = {"table_version": d.version, "config": to_mapping(cfg)}
            (ckpt_dir / "run.json").write_text(json.dumps(run, indent=1))
            print(f"[train] checkpoint {ckpt_dir / tag}", flush=True)
        barrier(world)
        return tag

    # 7. the loop
    total_steps, mb, ga = t.steps, t.micro_batch, t.grad_accum
    tokens_per_step = mb * ga * world * (samples.sample_len - 1)
    metrics_file = out_dir / "metrics.jsonl"
    if rank == 0:
        print(f"[train] {n_params:,} params, {len(train_part)} train / {n_heldout} held-out sequences "
              f"of {samples.sample_len} tokens, {d.table_path}@v{d.version} streamed (read-ahead "
              f"{d.read_ahead} row groups), world {world}, "
              f"DeepSpeed {cfg.deepspeed}, bf16={bf16}, from step {step}", flush=True)
    engine.train()
    last_tag = None
    t0 = time.perf_counter()
    while step < total_steps:
        losses, digests, lr = [], [], engine.get_lr()[0]
        for _ in range(ga):
            batch = stream.next_batch(mb)
            digests.append(batch_digest(batch))
            batch = {k: v.to(device) for k, v in batch.items()}
            logits = engine(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            loss = lm_loss(logits, batch["labels"])
            engine.backward(loss)
            engine.step()
            losses.append(loss.item())
        step += 1
        loss = all_mean(sum(losses) / len(losses), world)
        if rank == 0:
            elapsed = time.perf_counter() - t0
            record = {"step": step, "loss": loss, "lr": lr, "batch": "-".join(digests),
                      "samples": stream.position * world, "elapsed_s": round(elapsed, 3)}
            with metrics_file.open("a") as f:
                f.write(json.dumps(record) + "\n")
            if step % t.log_every == 0 or step == total_steps:
                print(f"[train] step {step}/{total_steps} loss {loss:.4f} lr {record['lr']:.2e} "
                      f"{tokens_per_step * step / max(elapsed, 1e-9):,.0f} tok/s", flush=True)
        if (t.save_every and step % t.save_every == 0) or step == total_steps:
            last_tag = save(step)
        if t.eval_every and step % t.eval_every == 0 and step != total_steps:
            ev = heldout_loss(engine, heldout_part, mb, device, rank, world, t.eval_batches)
            if rank == 0 and ev:
                print(f"[eval] step {step} held-out loss {ev['loss']:.4f} ppl {ev['perplexity']:.2f}", flush=True)

    # 8. final evaluation, export, lineage
    if last_tag is None:  # resumed a finished run
        last_tag = (ckpt_dir / "latest").read_text().strip()
    ev = heldout_loss(engine, heldout_part, mb, device, rank, world, t.eval_batches)
    barrier(world)
    if rank == 0:
        (out_dir / "eval.json").write_text(json.dumps({"step": step, "heldout": ev}, indent=1))
        if ev:
            print(f"[eval] held-out loss {ev['loss']:.4f} perplexity {ev['perplexity']:.2f} "
                  f"({ev['tokens']} tokens)", flush=True)
        if t.export_hf:
            hf_dir = export_hf(engine, ckpt_dir, last_tag, model_config, tokenizer, out_dir / "hf")
            lineage = {
                "table": str(d.table_path), "table_version": d.version,
                "tokenizer": str(d.tokenizer_path.resolve()), "git_commit": git_commit(),
                "config": to_mapping(cfg), "deepspeed_config": ds_config, "checkpoint": str(ckpt_dir / last_tag),
                "steps": step, "world_size": world, "samples_consumed": stream.position * world,
                "tokens_consumed": stream.position * world * int(samples.sample_len - 1),
                "params": n_params, "heldout": ev,
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            (out_dir / "lineage.json").write_text(json.dumps(lineage, indent=1, default=str))
            (hf_dir / "lineage.json").write_text(json.dumps(lineage, indent=1, default=str))
            print(f"[train] Hugging Face model: {hf_dir}", flush=True)
    barrier(world)
    return out_dir


def train_from_lake(lake_dir: str | Path, model_config: str = "tiny", steps: int = 10,
                    output_dir: str | Path | None = None, deepspeed: str = "auto", config: str | Path | None = None,
                    **overrides) -> Path:
    """Train `model_config` for `steps` steps on <lake>/gold/tokens in this process (one rank).

    For `codemill run`: returns the run directory holding checkpoints/, hf/ (from_pretrained)
    and lineage.json. Extra keyword arguments are dotted config overrides, e.g.
    `**{"train.micro_batch": 2}`; a misspelled one is a ConfigError like a misspelled --set.
    """
    from jobs.core.storage import Location, workspace_for
    lake_dir = Location(lake_dir)
    base = {"model": str(model_config), "deepspeed": deepspeed, "data.lake": str(lake_dir), "train.steps": steps,
            "train.grad_accum": 1, "train.micro_batch": 2, "train.save_every": steps, "train.log_every": 1,
            "optim.warmup_steps": max(1, steps // 10),
            "train.output_dir": str(output_dir or workspace_for(lake_dir) / "runs"
                                    / f"train-{time.strftime('%Y%m%d-%H%M%S')}")}
    return train(load_config(config, {**base, **overrides}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(DEFAULT_CONFIG),
                        help="training YAML, merged over configs/train.yaml (default: %(default)s)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. --set train.steps=20 (repeatable)")
    parser.add_argument("--local_rank", "--local-rank", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        cfg = load_config(args.config, args.set)
    except ConfigError as err:  # one line, no traceback (once per launch, not once per rank)
        if int(os.environ.get("RANK", "0")) == 0:
            print(f"train.py: error: {err}", file=sys.stderr)
        return 2
    out = train(cfg)
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"[train] done: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
