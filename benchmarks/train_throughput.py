"""Training throughput and MFU: the DeepSpeed ZeRO engine vs a plain PyTorch loop, same model, same run.

    .venv/bin/python benchmarks/train_throughput.py --size tiny --zero 2 --steps 20          # CPU
    python benchmarks/train_throughput.py --size 1b --zero 2 --device cuda --seq-len 2048 \
        --micro-batch 8 --steps 30                                                           # one GPU, bf16

The plain loop lives here only, as the reference: the trainer (trainer/train.py) has one engine,
DeepSpeed's (`zero0` alone). Both loops train the same GPTBigCode (configs/models/<size>.yaml,
same initial weights) on the same random token batches with AdamW (0.9, 0.95), weight decay 0.1,
clip 1.0 and bf16 where the device has it. Timed steps exclude `--warmup` steps; loops alternate
`--rounds` times so drifting machine load hits both alike. Per token FLOPs = 6·N + 12·L·T·d (N
parameters with the tied embedding once, L layers, T sequence length, d hidden); MFU = FLOPs/s ÷
device peak. The peak is `--peak-tflops`, else a table of known GPUs (dense bf16), else (CPU) a
measured fp32 matmul rate, which is labelled as measured.

`--ranks N` (CPU) compares the two ways of using a machine's cores: the plain loop in one
process with N× the micro-batch on all cores' threads, against the DeepSpeed engine in N
data-parallel processes (started with the `deepspeed` launcher, cores/N threads each), each with
the micro-batch. Both then take the same tokens per optimizer step; the engine's step time is
the slowest rank's.

    .venv/bin/python benchmarks/train_throughput.py --size tiny --ranks 2 --steps 40   # whole CPU
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from trainer.model import build_config, build_model, count_params, flops_per_token  # noqa: E402

GPU_PEAK_TFLOPS = {"H100": 989.0, "H200": 989.0, "A100": 312.0, "L40S": 362.0, "A10": 125.0}  # dense bf16


def device_peak(device: torch.device, given: float | None) -> tuple[float, str]:
    if given:
        return given * 1e12, "given"
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for key, tflops in GPU_PEAK_TFLOPS.items():
            if key in name:
                return tflops * 1e12, f"{name} dense bf16 spec"
        raise SystemExit(f"unknown GPU {name!r}: pass --peak-tflops")
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    for _ in range(3):
        a @ b
    reps, t0 = 20, time.perf_counter()
    for _ in range(reps):
        a @ b
    rate = reps * 2 * 1024 ** 3 / (time.perf_counter() - t0)
    return rate, "measured fp32 matmul on this CPU"


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def make_batches(n: int, micro: int, seq_len: int, vocab: int, seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(0, vocab, (micro, seq_len), generator=g) for _ in range(n)]


def run_plain(model, batches, args, device, bf16) -> list[float]:
    """The plain PyTorch loop: forward, backward, (accumulate), clip, AdamW step. Seconds per step."""
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=3e-4, betas=(0.9, 0.95), eps=1e-8)
    model.train()
    times, it = [], iter(batches)
    for _ in range(args.warmup + args.steps):
        sync(device)
        t0 = time.perf_counter()
        for _ in range(args.grad_accum):
            x = next(it).to(device, non_blocking=True)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                loss = model(input_ids=x, labels=x).loss
            (loss / args.grad_accum).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        sync(device)
        times.append(time.perf_counter() - t0)
    del opt
    return times[args.warmup:]


def run_deepspeed(model, batches, args, device, bf16) -> list[float]:
    import deepspeed

    from trainer.config import load_config
    from trainer.train import deepspeed_config, param_groups, skip_allreduce_in_a_group_of_one
    # configs/train.yaml's optimizer (AdamW 0.9/0.95, eps 1e-8, wd 0.1, clip 1.0: as run_plain) at
    # run_plain's learning rate, with this run's batch layout and engine
    cfg = load_config(overrides={"deepspeed": args.zero_config, "train.micro_batch": args.micro_batch,
                                 "train.grad_accum": args.grad_accum, "optim.lr": 3e-4,
                                 "optim.fused": args.ds_adam == "fused"})
    ds = deepspeed_config(cfg, bf16)
    engine, _, _, _ = deepspeed.initialize(model=model, model_parameters=param_groups(model, 0.1), config=ds)
    skip_allreduce_in_a_group_of_one(engine)  # as the trainer does
    engine.train()
    times, it = [], iter(batches)
    for _ in range(args.warmup + args.steps):
        sync(device)
        t0 = time.perf_counter()
        for _ in range(args.grad_accum):
            x = next(it).to(engine.device, non_blocking=True)
            loss = engine(input_ids=x, labels=x).loss
            engine.backward(loss)
            engine.step()
        sync(device)
        times.append(time.perf_counter() - t0)
    engine.destroy()
    if torch.distributed.get_world_size() > 1:  # a data-parallel step lasts as long as its slowest rank
        slowest = torch.tensor(times, dtype=torch.float64)
        torch.distributed.all_reduce(slowest, op=torch.distributed.ReduceOp.MAX)
        times = slowest.tolist()
    return times[args.warmup:]


def run_deepspeed_ranks(argv: list[str], ranks: int) -> list[float]:
    """One DeepSpeed round in `ranks` processes under the `deepspeed` launcher; their step times."""
    launcher = str(Path(sys.executable).parent / "deepspeed")
    from trainer.train import LAUNCHER_ENV
    env = {k: v for k, v in os.environ.items() if k not in LAUNCHER_ENV}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "times.json"
        cmd = [launcher, "--no_local_rank", "--num_gpus", str(ranks), "--master_port", str(29500 + os.getpid() % 1000),
               str(Path(__file__).resolve()), *argv, "--worker-out", str(out)]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if done.returncode != 0 or not out.exists():
            raise SystemExit(f"DeepSpeed ranks failed ({done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
        return json.loads(out.read_text())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", default="tiny", help="configs/models/<size>.yaml or a path (default: %(default)s)")
    p.add_argument("--zero", default="2", help="ZeRO stage 0/1/2/3, auto (the trainer's default: 0 on one rank, "
                                            "2 on more), or a configs/deepspeed name/path (default: 2)")
    p.add_argument("--offload", action="store_true", help="with --zero 2: optimizer offload (zero2_offload.json)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--steps", type=int, default=20, help="timed optimizer steps per loop per round")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    p.add_argument("--rounds", type=int, default=2, help="alternate plain/DeepSpeed this many times")
    p.add_argument("--seq-len", type=int, default=256)
    p.add_argument("--micro-batch", type=int, default=4)
    p.add_argument("--grad-accum", type=int, default=1)
    p.add_argument("--vocab", type=int, default=None, help="vocab when the model config leaves it null (default 49152)")
    p.add_argument("--ds-adam", default="fused", choices=["fused", "torch"],
                   help="the DeepSpeed loop's Adam: DeepSpeed's fused one (the trainer's default, optim.fused) "
                        "or torch.optim.AdamW (default: %(default)s)")
    p.add_argument("--ranks", type=int, default=1,
                   help="CPU: DeepSpeed in this many processes vs the plain loop with this many times the "
                        "micro-batch in one (default: %(default)s)")
    p.add_argument("--worker-out", help=argparse.SUPPRESS)  # set for the launched DeepSpeed ranks
    p.add_argument("--bf16", default="auto", choices=["auto", "on", "off"])
    p.add_argument("--peak-tflops", type=float, default=None, help="device peak for MFU (TFLOP/s)")
    p.add_argument("--json", help="also write the figures to this JSON file")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = p.parse_args(argv)

    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.device == "cuda":
        import os
        os.environ.setdefault("LOCAL_RANK", "0")
        torch.cuda.set_device(0)
    device = torch.device(args.device, 0) if args.device == "cuda" else torch.device("cpu")
    bf16 = {"on": True, "off": False}.get(args.bf16, device.type == "cuda" and torch.cuda.is_bf16_supported())
    if args.zero.lower() == "auto":
        if args.offload:
            p.error("--offload goes with --zero 2 (auto picks zero0 or zero2 without offload)")
        from trainer.train import resolve_deepspeed
        args.zero_config = resolve_deepspeed("auto", max(1, args.ranks))
    else:
        args.zero_config = (f"zero{args.zero}_offload" if args.offload else f"zero{args.zero}") \
            if args.zero.isdigit() else args.zero

    from trainer.train import ensure_launcher_env
    ensure_launcher_env()
    import deepspeed
    deepspeed.init_distributed()

    config = build_config(args.size, vocab_size=args.vocab or 49152)
    config._attn_implementation = "sdpa"
    base = build_model(config, seed=0)
    n_params = count_params(base)
    fpt = flops_per_token(config, args.seq_len, n_params)
    peak, peak_src = device_peak(device, args.peak_tflops)
    ranks = max(1, args.ranks)
    if ranks > 1 and device.type == "cuda":
        raise SystemExit("--ranks compares processes on a CPU; on GPUs launch the trainer with `deepspeed`")
    tokens_per_step = ranks * args.micro_batch * args.grad_accum * args.seq_len
    n_batches = (args.warmup + args.steps) * args.grad_accum
    if args.worker_out:  # one launched rank: its own share of the data, one DeepSpeed round
        rank = torch.distributed.get_rank()
        batches = make_batches(n_batches, args.micro_batch, args.seq_len, config.vocab_size, seed=1 + rank)
        times = run_deepspeed(copy.deepcopy(base), batches, args, device, bf16)
        if rank == 0:
            Path(args.worker_out).write_text(json.dumps(times))
        return 0
    plain_args = copy.copy(args)
    plain_args.micro_batch = ranks * args.micro_batch  # same tokens per optimizer step as all ranks together
    plain_batches = make_batches(n_batches, plain_args.micro_batch, args.seq_len, config.vocab_size, seed=1)
    batches = plain_batches if ranks == 1 else None

    layout = (f"micro-batch {args.micro_batch} x accum {args.grad_accum}" if ranks == 1 else
              f"plain: micro-batch {plain_args.micro_batch} x accum {args.grad_accum} on "
              f"{torch.get_num_threads()} threads; DeepSpeed: {ranks} ranks x micro-batch {args.micro_batch} "
              f"x accum {args.grad_accum}")
    print(f"model {args.size}: {n_params:,} params, {config.n_layer} layers, d={config.n_embd}; seq {args.seq_len}, "
          f"{layout} = {tokens_per_step} tokens/step; "
          f"device {device} ({torch.get_num_threads()} threads)" + (f" {torch.cuda.get_device_name(device)}"
                                                                     if device.type == "cuda" else "")
          + f"; bf16={bf16}; DeepSpeed {args.zero_config}, {args.ds_adam} Adam")
    print(f"FLOPs/token {fpt:.3e} (6N + 12LTd); peak {peak / 1e12:.2f} TFLOP/s ({peak_src})")

    results = {"plain": [], "deepspeed": []}
    for r in range(args.rounds):
        for name in ("plain", "deepspeed"):
            model = copy.deepcopy(base)
            if name == "plain":
                model = model.to(device)
                times = run_plain(model, plain_batches, plain_args, device, bf16)
            elif ranks > 1:
                times = run_deepspeed_ranks(argv, ranks)
            else:
                times = run_deepspeed(model, batches, args, device, bf16)
            results[name] += times
            del model
            if device.type == "cuda":
                torch.cuda.empty_cache()
            print(f"  round {r + 1} {name:9s}: median step {statistics.median(times) * 1e3:.1f} ms", flush=True)

    figures = {}
    for name, times in results.items():
        step = statistics.median(times)
        tps = tokens_per_step / step
        figures[name] = {"median_step_s": step, "tokens_per_s": tps, "mfu": tps * fpt / peak}
    print(f"{'loop':10s} {'step ms':>10s} {'tokens/s':>12s} {'MFU':>8s}")
    for name, f in figures.items():
        print(f"{name:10s} {f['median_step_s'] * 1e3:10.1f} {f['tokens_per_s']:12,.0f} {f['mfu'] * 100:7.2f}%")
    ratio = figures["deepspeed"]["tokens_per_s"] / figures["plain"]["tokens_per_s"]
    print(f"DeepSpeed / plain throughput: {ratio:.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": {k: v for k, v in vars(args).items()}, "params": n_params,
                                               "flops_per_token": fpt, "peak_flops": peak, "peak_source": peak_src,
                                               "figures": figures, "ratio": ratio}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
