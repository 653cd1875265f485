"""Train a StarCoder-style model (GPTBigCode) on `gold/tokens` with DeepSpeed ZeRO.

    deepspeed --num_gpus 2 trainer/train.py --config configs/train.yaml --set data.lake=./lake
    python trainer/train.py --config configs/train.yaml --set deepspeed=none     # plain PyTorch loop
    codemill train ...                                                             # same, via the CLI

Read top to bottom: 1. config, 2. distributed set-up, 3. model, 4. data, 5. engine
(DeepSpeed, or the plain PyTorch loop with the same interface), 6. resume, 7. the training
loop, 8. evaluation, export to Hugging Face format and the lineage file. Everything tunable
is in the one YAML config (configs/train.yaml); the DeepSpeed JSON only holds the ZeRO section.

Outputs under train.output_dir: checkpoints/<tag>/ (+ `latest`), metrics.jsonl (one line per
step: loss, lr, batch fingerprint), eval.json, hf/ (save_pretrained + tokenizer) and
lineage.json (table path + Delta version, config, tokenizer, git commit).
"""
from __future__ import annotations

import argparse
import copy
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

from trainer.data import DataSpec, TokenStream, batch_digest, heldout_batches, lm_loss, load_tokenizer, \
    read_sequences, split_heldout, window
from trainer.model import build_config, build_model, count_params
from trainer.yaml_reader import read_yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = REPO_ROOT / "configs" / "train.yaml"
DEEPSPEED_DIR = REPO_ROOT / "configs" / "deepspeed"


# ---------------------------------------------------------------------------------------------
# 1. Config: one YAML file, optional dotted overrides ("train.steps=20")
# ---------------------------------------------------------------------------------------------
def load_config(path: str | Path | None = None, overrides: list[str] | dict | None = None) -> dict:
    cfg = read_yaml(Path(path or DEFAULT_CONFIG).read_text())
    items = overrides.items() if isinstance(overrides, dict) else (o.split("=", 1) for o in (overrides or []))
    for key, value in items:
        if isinstance(value, str):
            value = read_yaml(value) if value != "" else None
        node = cfg
        *parents, leaf = key.strip().split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return cfg


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


def is_plain_loop(name) -> bool:
    """`deepspeed: none` (or false/plain): the plain PyTorch loop instead of DeepSpeed."""
    return str(name).lower() in ("none", "false", "plain")


def deepspeed_config_path(name: str) -> Path:
    p = Path(name)
    if p.suffix == ".json" and p.exists():
        return p
    cand = DEEPSPEED_DIR / f"{name}.json"
    if not cand.exists():
        known = ", ".join(sorted(x.stem for x in DEEPSPEED_DIR.glob("*.json")))
        raise FileNotFoundError(f"DeepSpeed config {name!r} not found; known: {known}, none, or a path")
    return cand


class WarmupCosine:
    """LR multiplier: linear warmup, then cosine decay to `min_ratio` of peak (FACTS §10.1)."""

    def __init__(self, warmup: int, total: int, min_ratio: float):
        self.warmup, self.total, self.min_ratio = max(0, warmup), max(1, total), min_ratio

    def __call__(self, step: int) -> float:  # step = optimizer steps already taken
        if step < self.warmup:
            return (step + 1) / self.warmup
        progress = min(1.0, (step - self.warmup) / max(1, self.total - self.warmup))
        return self.min_ratio + (1 - self.min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def use_bf16(setting) -> bool:
    if setting == "auto":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return bool(setting)


# ---------------------------------------------------------------------------------------------
# 2. Distributed set-up: the deepspeed launcher / torchrun set RANK etc.; a plain `python` run
#    gets a one-process group of its own (DeepSpeed needs one).
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
# 5. Engines. DeepSpeed's engine, or PlainEngine: the same calls (engine(**batch),
#    engine.backward(loss), engine.step() every micro-step, save/load_checkpoint) over a plain
#    PyTorch AdamW loop, so the training loop below is one piece of code for both.
# ---------------------------------------------------------------------------------------------
def param_groups(model, weight_decay: float) -> list[dict]:
    """Weight decay on matrices, none on biases and LayerNorm weights (Megatron's split)."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


class PlainEngine:
    """A plain PyTorch training loop behind DeepSpeed's engine interface (single process)."""

    def __init__(self, model, cfg: dict, device: torch.device, bf16: bool):
        o, t = cfg["optim"], cfg["train"]
        self.module = model.to(device)
        self.device, self.bf16 = device, bf16
        self.grad_accum, self.grad_clip = int(t["grad_accum"]), float(o["grad_clip"])
        self.optimizer = torch.optim.AdamW(param_groups(model, o["weight_decay"]), lr=o["lr"],
                                           betas=tuple(o["betas"]), eps=o["eps"])
        self.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, WarmupCosine(o["warmup_steps"], t["steps"], o["min_lr_ratio"]))
        self.micro_steps = 0
        self.global_steps = 0

    def __call__(self, **batch):
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            return self.module(**batch)

    def train(self):
        self.module.train()

    def eval(self):
        self.module.eval()

    def backward(self, loss):
        (loss / self.grad_accum).backward()

    def step(self):
        self.micro_steps += 1
        if self.micro_steps % self.grad_accum:
            return
        if self.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.module.parameters(), self.grad_clip)
        self.optimizer.step()
        self.lr_scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.global_steps += 1

    def save_checkpoint(self, save_dir, tag, client_state):
        path = Path(save_dir) / tag
        path.mkdir(parents=True, exist_ok=True)
        torch.save({"module": self.module.state_dict(), "optimizer": self.optimizer.state_dict(),
                    "lr_scheduler": self.lr_scheduler.state_dict(), "micro_steps": self.micro_steps,
                    "global_steps": self.global_steps, "client_state": client_state}, path / "plain_state.pt")
        (Path(save_dir) / "latest").write_text(tag)

    def load_checkpoint(self, load_dir, tag=None):
        tag = tag or (Path(load_dir) / "latest").read_text().strip()
        state = torch.load(Path(load_dir) / tag / "plain_state.pt", map_location=self.device, weights_only=False)
        self.module.load_state_dict(state["module"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.lr_scheduler.load_state_dict(state["lr_scheduler"])
        self.micro_steps, self.global_steps = state["micro_steps"], state["global_steps"]
        return str(Path(load_dir) / tag), state["client_state"]

    def get_lr(self):
        return [g["lr"] for g in self.optimizer.param_groups]


def deepspeed_config(cfg: dict, bf16: bool) -> dict:
    """The DeepSpeed config: ZeRO section from the JSON, everything else from the training YAML."""
    ds = json.loads(deepspeed_config_path(cfg["deepspeed"]).read_text())
    o, t = cfg["optim"], cfg["train"]
    offload = ds.get("zero_optimization", {}).get("offload_optimizer", {}).get("device", "none") != "none"
    ds.update({
        "train_micro_batch_size_per_gpu": int(t["micro_batch"]),
        "gradient_accumulation_steps": int(t["grad_accum"]),
        "gradient_clipping": float(o["grad_clip"]),
        "bf16": {"enabled": bf16},
        "fp16": {"enabled": False},
        "optimizer": {"type": "AdamW", "params": {
            "lr": o["lr"], "betas": list(o["betas"]), "eps": o["eps"], "weight_decay": o["weight_decay"],
            # optim.fused (default, DeepSpeed's own default too): DeepSpeed's multi-tensor Adam
            # (FusedAdam, compiled by DeepSpeed on first use: C++ on a CPU host, CUDA on a GPU
            # host), one kernel over ZeRO's flat partition; on the tiny CPU model it took the
            # engine from 0.85 to 0.92 of a plain loop's tokens/s (benchmarks/train_throughput.py).
            # optim.fused: false where DeepSpeed cannot compile ops. Offload always uses
            # DeepSpeedCPUAdam.
            "torch_adam": not offload and not bool(o.get("fused", True))}},
        "zero_allow_untested_optimizer": True,
    })
    zero = ds.get("zero_optimization", {})
    if not torch.cuda.is_available() and zero.get("stage", 0) in (1, 2):
        # Both settings serve GPUs (overlap on a side stream, one buffer against fragmentation);
        # on a CPU each is one more copy of every gradient per step (-5% tokens/s on the tiny
        # model, benchmarks/train_throughput.py), so CPU runs turn them off.
        zero.update(overlap_comm=False, contiguous_gradients=False)
    return ds


def build_engine(model, cfg: dict, bf16: bool, world: int):
    if is_plain_loop(cfg["deepspeed"]):
        if world != 1:
            raise RuntimeError("the plain PyTorch loop runs on one process; use a DeepSpeed config for more")
        device = torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else torch.device("cpu")
        return PlainEngine(model, cfg, device, bf16), None
    import deepspeed
    o, t = cfg["optim"], cfg["train"]
    ds = deepspeed_config(cfg, bf16)
    schedule = WarmupCosine(o["warmup_steps"], t["steps"], o["min_lr_ratio"])
    engine, _, _, _ = deepspeed.initialize(
        model=model, model_parameters=param_groups(model, o["weight_decay"]), config=ds,
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


# RNG states travel per rank beside the engine's checkpoint files.
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


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except OSError:
        return None


# ---------------------------------------------------------------------------------------------
# 8. Evaluation and export
# ---------------------------------------------------------------------------------------------
@torch.no_grad()
def heldout_loss(engine, sequences: np.ndarray, micro_batch: int, device, rank: int, world: int,
                 max_batches: int = 0) -> dict | None:
    """Token-weighted next-token loss over the held-out sequences, and its perplexity.

    Every rank runs the same number of forward passes (ZeRO-3 gathers parameters collectively);
    a rank with fewer sequences repeats one with weight zero.
    """
    if len(sequences) == 0:
        return None
    per_rank = math.ceil(len(sequences) / world)
    mine = list(range(rank, len(sequences), world))
    weights = [1.0] * len(mine) + [0.0] * (per_rank - len(mine))
    mine += [0] * (per_rank - len(mine))
    n_batches = math.ceil(per_rank / micro_batch)
    if max_batches:
        n_batches = min(n_batches, max_batches)
    engine.eval()
    total_loss, total_tokens = 0.0, 0.0
    for b in range(n_batches):
        idx = mine[b * micro_batch:(b + 1) * micro_batch]
        w = weights[b * micro_batch:(b + 1) * micro_batch]
        batch = next(heldout_batches(sequences[idx], len(idx)))
        batch = {k: v.to(device) for k, v in batch.items()}
        logits = engine(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        losses = lm_loss(logits, batch["labels"], reduction="none").view(len(idx), -1)
        counts = (batch["labels"] != -100).sum(dim=1)
        wt = torch.tensor(w, device=losses.device)
        total_loss += float((losses.sum(dim=1) * wt).sum())
        total_tokens += float((counts * wt).sum())
    engine.train()
    total_loss, total_tokens = all_sum([total_loss, total_tokens], world)
    loss = total_loss / max(1.0, total_tokens)
    return {"loss": loss, "perplexity": math.exp(min(loss, 50.0)), "tokens": int(total_tokens),
            "sequences": len(sequences)}


def export_hf(engine, ckpt_dir: Path, tag: str, model_config, tokenizer, out_dir: Path) -> Path:
    """fp32 weights of the saved checkpoint -> save_pretrained, so `from_pretrained` loads it.

    ZeRO checkpoints are gathered with zero_to_fp32 (fp32 master weights, stages 1-3); without
    ZeRO (zero0) the checkpoint holds the module's own weights, which are the ones in memory
    (in the module's dtype: bf16-rounded when training in bf16). Written with save_pretrained
    (zero_to_fp32's own safetensors output fails on the tied embeddings of GPTBigCode).
    """
    if isinstance(engine, PlainEngine) or engine.zero_optimization_stage() == 0:
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


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------
def train(cfg: dict) -> Path:
    """Run training as configured; returns the output directory."""
    cfg = copy.deepcopy(cfg)
    t, o, d = cfg["train"], cfg["optim"], cfg["data"]
    out_dir = Path(t["output_dir"]).resolve()
    ckpt_dir = out_dir / "checkpoints"

    # 2. distributed set-up (a no-op group of one for plain `python` runs)
    rank, world, local_rank = ensure_launcher_env()
    resuming = bool(t.get("resume", True)) and (ckpt_dir / "latest").exists()
    run_json = ckpt_dir / "run.json"  # written after each checkpoint: what the run was started with
    stored = json.loads(run_json.read_text()) if resuming and run_json.exists() else {}
    cfg["deepspeed"] = resolve_deepspeed(cfg["deepspeed"], world, stored.get("config", {}).get("deepspeed"))
    deepspeed_run = not is_plain_loop(cfg["deepspeed"])
    if deepspeed_run:
        import deepspeed
        deepspeed.init_distributed()
    bf16 = use_bf16(t.get("bf16", "auto"))
    seed = int(t["seed"])

    # 4a. data: pin the Delta version now (a resumed run keeps the version of its checkpoint)
    spec = DataSpec(lake=Path(d["lake"]).resolve(), table=d.get("table", "gold/tokens"), version=d.get("version"),
                    tokenizer=d.get("tokenizer"), heldout_fraction=float(d.get("heldout_fraction", 0.05)),
                    fim_rate=float(d.get("fim_rate", 0.5)), fim_spm_rate=float(d.get("fim_spm_rate", 0.5)),
                    fim_split_sample=d.get("fim_split_sample"),
                    fragment_fim_rate=float(d.get("fragment_fim_rate", 0.5)))
    if resuming and spec.version is None:
        if "table_version" not in stored:
            raise RuntimeError(f"{ckpt_dir} holds a checkpoint but no run.json: set data.version to the "
                               "gold/tokens version it was trained on")
        spec.version = stored["table_version"]
    spec = spec.pinned()
    cfg["data"]["version"] = spec.version
    tokenizer = load_tokenizer(spec.tokenizer_path)

    # 3. model
    model_config = build_config(cfg["model"], vocab_size=len(tokenizer),
                                eod_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"))
    model = build_model(model_config, seed=seed)
    n_params = count_params(model)  # before ZeRO-3 partitions the parameters away

    # 4b. data: read, hold out, shard
    sequences = read_sequences(spec.table_path, spec.version)
    if sequences.max() >= model_config.vocab_size:
        raise ValueError(f"token id {int(sequences.max())} >= model vocab {model_config.vocab_size}: "
                         "tokenizer and gold/tokens do not match")
    # rows hold seq_len + 1 tokens (inputs + shifted targets); longer than the model's context ->
    # cut into windows of data.seq_len (default: the model's n_positions)
    seq_len = int(d.get("seq_len") or min(sequences.shape[1] - 1, model_config.n_positions))
    if seq_len > model_config.n_positions:
        raise ValueError(f"data.seq_len {seq_len} exceeds the model's n_positions {model_config.n_positions}")
    if sequences.shape[1] - 1 > seq_len:
        if rank == 0:
            print(f"[train] stored sequences of {sequences.shape[1]} tokens cut into windows of {seq_len + 1}",
                  flush=True)
        sequences = window(sequences, seq_len)
    n_heldout = split_heldout(len(sequences), spec.heldout_fraction)
    train_seqs, heldout_seqs = sequences[:len(sequences) - n_heldout], sequences[len(sequences) - n_heldout:]
    stream = TokenStream(train_seqs, tokenizer, rank=rank, world=world, seed=seed, fim_rate=spec.fim_rate,
                         fim_spm_rate=spec.fim_spm_rate, fim_split_sample=spec.fim_split_sample,
                         fragment_fim_rate=spec.fragment_fim_rate)

    # 5. engine
    engine, ds_config = build_engine(model, cfg, bf16, world)
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
        client = {"step": step, "tag": tag, "data": stream.state_dict(), "table_version": spec.version}
        (ckpt_dir / tag).mkdir(parents=True, exist_ok=True)
        torch.save(rng_state(), ckpt_dir / tag / f"rng_state_rank{rank}.pt")
        barrier(world)
        engine.save_checkpoint(str(ckpt_dir), tag=tag, client_state=client)
        if rank == 0:
            (ckpt_dir / "run.json").write_text(json.dumps({"table_version": spec.version, "config": cfg}, indent=1))
            print(f"[train] checkpoint {ckpt_dir / tag}", flush=True)
        barrier(world)
        return tag

    # 7. the loop
    total_steps, mb, ga = int(t["steps"]), int(t["micro_batch"]), int(t["grad_accum"])
    tokens_per_step = mb * ga * world * (sequences.shape[1] - 1)
    metrics_file = out_dir / "metrics.jsonl"
    if rank == 0:
        print(f"[train] {n_params:,} params, {len(train_seqs)} train / {n_heldout} held-out sequences "
              f"of {sequences.shape[1]} tokens, {spec.table_path}@v{spec.version}, world {world}, "
              f"{'DeepSpeed ' + str(cfg['deepspeed']) if deepspeed_run else 'plain PyTorch'}, bf16={bf16}, "
              f"from step {step}", flush=True)
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
            if step % max(1, int(t.get("log_every", 10))) == 0 or step == total_steps:
                print(f"[train] step {step}/{total_steps} loss {loss:.4f} lr {record['lr']:.2e} "
                      f"{tokens_per_step * step / max(elapsed, 1e-9):,.0f} tok/s", flush=True)
        save_every, eval_every = int(t.get("save_every", 0)), int(t.get("eval_every", 0))
        if (save_every and step % save_every == 0) or step == total_steps:
            last_tag = save(step)
        if eval_every and step % eval_every == 0 and step != total_steps:
            ev = heldout_loss(engine, heldout_seqs, mb, device, rank, world, int(t.get("eval_batches", 0)))
            if rank == 0 and ev:
                print(f"[eval] step {step} held-out loss {ev['loss']:.4f} ppl {ev['perplexity']:.2f}", flush=True)

    # 8. final evaluation, export, lineage
    if last_tag is None:  # resumed a finished run
        last_tag = (ckpt_dir / "latest").read_text().strip()
    ev = heldout_loss(engine, heldout_seqs, mb, device, rank, world, int(t.get("eval_batches", 0)))
    barrier(world)
    if rank == 0:
        (out_dir / "eval.json").write_text(json.dumps({"step": step, "heldout": ev}, indent=1))
        if ev:
            print(f"[eval] held-out loss {ev['loss']:.4f} perplexity {ev['perplexity']:.2f} "
                  f"({ev['tokens']} tokens)", flush=True)
        if t.get("export_hf", True):
            hf_dir = export_hf(engine, ckpt_dir, last_tag, model_config, tokenizer, out_dir / "hf")
            lineage = {
                "table": str(spec.table_path), "table_version": spec.version,
                "tokenizer": str(spec.tokenizer_path.resolve()), "git_commit": git_commit(),
                "config": cfg, "deepspeed_config": ds_config, "checkpoint": str(ckpt_dir / last_tag),
                "steps": step, "world_size": world, "samples_consumed": stream.position * world,
                "tokens_consumed": stream.position * world * int(sequences.shape[1] - 1),
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
    `**{"train.micro_batch": 2}`.
    """
    lake_dir = Path(lake_dir).resolve()
    base = {"model": model_config, "deepspeed": deepspeed, "data.lake": str(lake_dir), "train.steps": steps,
            "train.grad_accum": 1, "train.micro_batch": 2, "train.save_every": steps, "train.log_every": 1,
            "optim.warmup_steps": max(1, steps // 10),
            "train.output_dir": str(output_dir or lake_dir / "runs" / f"train-{time.strftime('%Y%m%d-%H%M%S')}")}
    cfg = load_config(config, {**base, **overrides})
    return train(cfg)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(DEFAULT_CONFIG), help="training YAML (default: %(default)s)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. --set train.steps=20 (repeatable)")
    parser.add_argument("--local_rank", "--local-rank", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    out = train(load_config(args.config, args.set))
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"[train] done: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
