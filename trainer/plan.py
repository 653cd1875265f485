"""Compute planning: Chinchilla-optimal model size and tokens, and Harm's law overhead (docs/recipe.md §13).

Parametric loss L(N, D) = E + A/N^α + B/D^β (E 1.69, A 406.4, B 410.7, α 0.34, β 0.28) with
training compute C = 6·N·D. Minimising L on that budget gives
    N_opt = G·(C/6)^(β/(α+β)),  D_opt = (C/6)^(α/(α+β)) / G,  G = (α·A / (β·B))^(1/(α+β)).
Harm's law: a model k_N·N_opt reaches the same loss with k_D·D_opt tokens,
    k_D = [1 − (k_N^(−α) − 1)·(A·N_opt^(−α)) / (B·D_opt^(−β))]^(−1/β),
and costs k_N·k_D − 1 more compute.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

E, A, B, ALPHA, BETA = 1.69, 406.4, 410.7, 0.34, 0.28


def loss(n: float, d: float) -> float:
    return E + A / n ** ALPHA + B / d ** BETA


def chinchilla_optimal(flops: float) -> tuple[float, float]:
    """(N_opt parameters, D_opt tokens) for a budget of `flops` (C = 6ND)."""
    g = (ALPHA * A / (BETA * B)) ** (1 / (ALPHA + BETA))
    n = g * (flops / 6) ** (BETA / (ALPHA + BETA))
    return n, flops / (6 * n)


def harms_law(k_n: float, n_opt: float, d_opt: float) -> tuple[float, float]:
    """(k_D, compute overhead) for a model of k_N·N_opt; overhead inf if it cannot reach the loss."""
    if not 0 < k_n:
        raise ValueError("k_N must be positive")
    ratio = (A * n_opt ** -ALPHA) / (B * d_opt ** -BETA)
    base = 1 - (k_n ** -ALPHA - 1) * ratio
    if base <= 0:
        return math.inf, math.inf
    k_d = base ** (-1 / BETA)
    return k_d, k_n * k_d - 1


@dataclass
class Plan:
    flops: float
    n_opt: float
    d_opt: float
    loss_opt: float
    n: float | None = None
    d: float | None = None
    k_n: float | None = None
    k_d: float | None = None
    overhead: float | None = None


def make_plan(flops: float, model_fraction: float | None = None, params: float | None = None) -> Plan:
    n_opt, d_opt = chinchilla_optimal(flops)
    plan = Plan(flops, n_opt, d_opt, loss(n_opt, d_opt))
    if params is not None:
        model_fraction = params / n_opt
    if model_fraction is not None:
        k_d, overhead = harms_law(model_fraction, n_opt, d_opt)
        plan.k_n, plan.k_d, plan.overhead = model_fraction, k_d, overhead
        plan.n, plan.d = model_fraction * n_opt, k_d * d_opt
    return plan


def flops_from_gpu_hours(gpu_hours: float, peak_tflops: float, mfu: float) -> float:
    return gpu_hours * 3600 * peak_tflops * 1e12 * mfu


def human(x: float) -> str:
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{unit}"
    return f"{x:.3g}"


def format_plan(p: Plan) -> str:
    lines = [f"compute budget C = {p.flops:.3e} FLOPs (C = 6·N·D)",
             f"Chinchilla-optimal: N = {human(p.n_opt)} parameters, D = {human(p.d_opt)} tokens "
             f"({p.d_opt / p.n_opt:.1f} tokens/parameter), predicted loss {p.loss_opt:.3f}"]
    if p.k_n is not None:
        if math.isinf(p.overhead):
            lines.append(f"smaller model k_N = {p.k_n:.3g} ({human(p.n)} params): cannot reach the optimal loss "
                         "at any data size (Harm's law)")
        else:
            lines.append(f"smaller model k_N = {p.k_n:.3g}: N = {human(p.n)} parameters on D = {human(p.d)} tokens "
                         f"(k_D = {p.k_d:.3f}), same loss for {p.overhead * 100:+.1f}% compute "
                         f"= {p.flops * (1 + p.overhead):.3e} FLOPs (Harm's law)")
    return "\n".join(lines)
