"""`codemill plan`: Chinchilla-optimal model size and tokens for a compute budget, and the extra
compute of a smaller model by Harm's law (docs/recipe.md §13; trainer/plan.py)."""
from __future__ import annotations

import argparse


def _number(text: str) -> float:
    t = text.strip().upper().replace("_", "")
    scale = {"K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12}.get(t[-1:], None)
    try:
        return float(t[:-1]) * scale if scale else float(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r} (e.g. 1e23, 7B, 500M)") from None


def register(subparsers) -> None:
    p = subparsers.add_parser("plan", help="compute-optimal model size / tokens and Harm's-law overhead",
                              description=__doc__)
    budget = p.add_mutually_exclusive_group(required=True)
    budget.add_argument("--flops", type=_number, help="training compute C in FLOPs, e.g. 1e23")
    budget.add_argument("--gpu-hours", type=_number, help="GPU-hours (with --gpu-peak-tflops and --mfu)")
    p.add_argument("--gpu-peak-tflops", type=float, default=989.0, help="per-GPU peak (default: H100 dense bf16 989)")
    p.add_argument("--mfu", type=float, default=0.4, help="model FLOPs utilisation assumed (default: %(default)s)")
    small = p.add_mutually_exclusive_group()
    small.add_argument("--model-fraction", type=float, help="k_N: the smaller model as a fraction of N_opt")
    small.add_argument("--params", type=_number, help="the smaller model's parameters, e.g. 7B")
    p.set_defaults(handler=handle)


def handle(args) -> int:
    from jobs.core.errors import UserError
    from trainer.plan import flops_from_gpu_hours, format_plan, make_plan
    flops = args.flops if args.flops is not None else flops_from_gpu_hours(args.gpu_hours, args.gpu_peak_tflops,
                                                                           args.mfu)
    if flops <= 0:
        raise UserError("the compute budget must be positive")
    if args.model_fraction is not None and args.model_fraction <= 0:
        raise UserError("--model-fraction must be positive")
    if args.gpu_hours is not None:
        print(f"{args.gpu_hours:g} GPU-hours x {args.gpu_peak_tflops:g} TFLOP/s x MFU {args.mfu:g}")
    print(format_plan(make_plan(flops, args.model_fraction, args.params)))
    return 0
