"""The model: transformers' GPTBigCode (StarCoder's architecture, docs/recipe.md §10.1) from a config file.

configs/models/<name>.yaml holds the shape (tiny/small for tests, 1b/3b/7b/15b as published),
read into a typed ModelConfig by trainer/config.py (every key required, unknown keys refused).
No pretrained weights are downloaded: the model is initialised from the config.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from trainer.config import ModelConfig, load_model_config, to_mapping


def build_config(spec: ModelConfig | str | Path, vocab_size: int | None = None, eod_id: int = 0):
    """GPTBigCodeConfig from a ModelConfig (or a model config name or path, loaded by
    trainer/config.py); vocab_size fills a null vocab_size in it.

    `<|endoftext|>` (id 0 in the StarCoder tokenizer, docs/recipe.md §7.2) is BOS and EOS."""
    from transformers import GPTBigCodeConfig
    if not isinstance(spec, ModelConfig):
        spec = load_model_config(spec)
    if spec.vocab_size is None:
        if vocab_size is None:
            raise ValueError("model config has vocab_size: null and no tokenizer size was given")
        spec = replace(spec, vocab_size=int(vocab_size))
    return GPTBigCodeConfig(**to_mapping(spec), bos_token_id=eod_id, eos_token_id=eod_id,
                            tie_word_embeddings=True, use_cache=False)


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
