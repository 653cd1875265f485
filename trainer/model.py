"""The model: transformers' GPTBigCode (StarCoder's architecture, FACTS §10.1) from a config file.

configs/models/<name>.yaml holds the shape (tiny/small for tests, 1b/3b/7b/15b as published).
No pretrained weights are downloaded: the model is initialised from the config.
"""
from __future__ import annotations

import json
from pathlib import Path

from trainer.yaml_reader import read_yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
MODELS_DIR = REPO_ROOT / "configs" / "models"


def model_config_path(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml", ".json") and p.exists():
        return p
    for ext in (".yaml", ".yml", ".json"):
        cand = MODELS_DIR / f"{name_or_path}{ext}"
        if cand.exists():
            return cand
    known = sorted(x.stem for x in MODELS_DIR.glob("*.y*ml"))
    raise FileNotFoundError(f"model config {name_or_path!r} not found; known: {', '.join(known)} or a file path")


def load_model_spec(name_or_path: str | Path) -> dict:
    path = model_config_path(name_or_path)
    text = path.read_text()
    return json.loads(text) if path.suffix == ".json" else read_yaml(text)


def build_config(spec: dict | str | Path, vocab_size: int | None = None, eod_id: int = 0):
    """GPTBigCodeConfig from a spec dict (or name); vocab_size fills a null in the spec.

    `<|endoftext|>` (id 0 in the StarCoder tokenizer, FACTS §7.2) is BOS and EOS."""
    from transformers import GPTBigCodeConfig
    if not isinstance(spec, dict):
        spec = load_model_spec(spec)
    spec = dict(spec)
    if spec.get("vocab_size") is None:
        if vocab_size is None:
            raise ValueError("model config has vocab_size: null and no tokenizer size was given")
        spec["vocab_size"] = int(vocab_size)
    spec.setdefault("multi_query", True)
    spec.setdefault("bos_token_id", eod_id)
    spec.setdefault("eos_token_id", eod_id)
    return GPTBigCodeConfig(**spec, tie_word_embeddings=True, use_cache=False)


def build_model(config, seed: int | None = None):
    """Fresh GPTBigCodeForCausalLM (fp32) initialised from `config`, seeded for reproducibility."""
    import torch
    from transformers import GPTBigCodeForCausalLM
    if seed is not None:
        torch.manual_seed(seed)
    model = GPTBigCodeForCausalLM(config)
    return model


def count_params(model) -> int:
    """Parameters with tied tensors counted once."""
    seen, total = set(), 0
    for p in model.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            total += p.numel()
    return total


def analytic_params(config) -> int:
    """Parameter count from the shape (MQA: K/V of one head), tied embeddings."""
    d, L, V, P = config.n_embd, config.n_layer, config.vocab_size, config.n_positions
    ffn = config.n_inner or 4 * d
    head = d // config.n_head
    kv = 2 * head if config.multi_query else 2 * d
    per_layer = (d * (d + kv) + (d + kv)) + (d * d + d) + (d * ffn + ffn) + (ffn * d + d) + 4 * d
    return L * per_layer + V * d + P * d + 2 * d


def flops_per_token(config, seq_len: int, n_params: int | None = None) -> float:
    """Training FLOPs per token: 6·N + 12·L·T·d (PaLM appendix B; attention term with T = seq_len)."""
    n = n_params if n_params is not None else analytic_params(config)
    return 6.0 * n + 12.0 * config.n_layer * seq_len * config.n_embd
