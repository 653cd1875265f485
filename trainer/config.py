"""The training configuration: configs/train.yaml (every default, with its source), a user's
--config file merged over it, then `--set KEY=VALUE` overrides, built once into frozen
dataclasses; and the model shapes of configs/models/<name>.yaml, built the same way.

    cfg = load_config("my.yaml", ["train.steps=20", "optim.lr=3e-4"])   # a TrainConfig
    cfg.train.steps, cfg.optim.lr                                       # typed: int, float
    load_model_config(cfg.model)                                        # a ModelConfig

One loader (udfs/typedconfig.py, as for the pipeline config): types, ranges and choices are
checked, every key must have a value (no default is repeated in code), and a misspelled key
is a one-line ConfigError naming it, where it came from and the nearest valid key:

    --set train.stpes=5: unknown key; did you mean 'train.steps'?
    config my.yaml: optim.warmup: unknown key; did you mean 'optim.warmup_steps'?
    --set optim.lr=fast: expected float, got str 'fast'

Pure Python (no torch): `codemill train` checks a config before it starts the launcher.
"""
from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import get_type_hints

from udfs.typedconfig import ConfigError, bounds, build, choices, deep_merge, load_yaml_file, parse_sets, to_mapping

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = REPO_ROOT / "configs" / "train.yaml"
MODELS_DIR = REPO_ROOT / "configs" / "models"
DEEPSPEED_DIR = REPO_ROOT / "configs" / "deepspeed"

__all__ = ["ConfigError", "DataConfig", "LoopConfig", "ModelConfig", "OptimConfig", "TrainConfig",
           "deepspeed_config_path", "load_config", "load_model_config", "model_config_path", "to_mapping"]


# ---- configs/train.yaml ----------------------------------------------------------------------

@dataclass(frozen=True)
class DataConfig:
    """`data:` the gold/tokens table to train on and the FIM transformation (trainer/fim.py)."""
    lake: str
    table: str
    version: int | None = field(metadata=bounds(0))      # None: the latest, pinned at launch
    tokenizer: str | None                                 # None: the lake workspace's tokenizer/
    seq_len: int | None = field(metadata=bounds(1))      # None: the stored rows, capped at n_positions
    heldout_fraction: float = field(metadata=bounds(0, 1, hi_open=True))
    fim_rate: float = field(metadata=bounds(0, 1))
    fim_spm_rate: float = field(metadata=bounds(0, 1))
    fim_split_sample: str | None
    fragment_fim_rate: float = field(metadata=bounds(0, 1))
    read_ahead: int = field(metadata=bounds(0))           # row groups read ahead per rank (memory: 1 + this)

    @property
    def lake_path(self):
        """The lake: a local path or a URI (s3a://bucket/lake), as jobs/core/storage.Location."""
        from jobs.core.storage import Location
        return Location(self.lake)

    @property
    def table_path(self):
        return self.lake_path / self.table

    @property
    def tokenizer_path(self) -> Path:
        """`tokenizer`, else `tokenizer/` in the lake's workspace (the lake folder for a local lake:
        jobs/core/storage.workspace_for), where the tokenize stage keeps it."""
        from jobs.core.storage import workspace_for
        return Path(self.tokenizer) if self.tokenizer else workspace_for(self.lake_path) / "tokenizer"


@dataclass(frozen=True)
class OptimConfig:
    """`optim:` AdamW with linear warmup and cosine decay (docs/recipe.md §10.1)."""
    lr: float = field(metadata=bounds(0, lo_open=True))
    min_lr_ratio: float = field(metadata=bounds(0, 1))
    warmup_steps: int = field(metadata=bounds(0))
    betas: tuple[float, ...]
    eps: float = field(metadata=bounds(0, lo_open=True))
    weight_decay: float = field(metadata=bounds(0))
    grad_clip: float = field(metadata=bounds(0))          # 0: no clipping
    fused: bool

    def __post_init__(self):
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas: expected two values in [0, 1), got {list(self.betas)}")


@dataclass(frozen=True)
class LoopConfig:
    """`train:` the loop: steps, batch layout, seed, precision, logging, checkpoints, output."""
    steps: int = field(metadata=bounds(1))
    micro_batch: int = field(metadata=bounds(1))
    grad_accum: int = field(metadata=bounds(1))
    seed: int = field(metadata=bounds(0))
    bf16: bool | str = field(metadata=choices(True, False, "auto"))
    log_every: int = field(metadata=bounds(1))
    save_every: int = field(metadata=bounds(0))           # 0: only at the end
    eval_every: int = field(metadata=bounds(0))           # 0: only at the end
    eval_batches: int = field(metadata=bounds(0))         # 0: all held-out sequences
    output_dir: str
    resume: bool
    export_hf: bool


@dataclass(frozen=True)
class TrainConfig:
    """configs/train.yaml: which model and engine, and the data, optim and train sections."""
    model: str       # configs/models/<name>.yaml or a path (checked by load_config)
    deepspeed: str   # auto, configs/deepspeed/<name>.json or a path (checked by load_config)
    data: DataConfig
    optim: OptimConfig
    train: LoopConfig


# ---- configs/models/<name>.yaml ----------------------------------------------------------------

@dataclass(frozen=True)
class ModelConfig:
    """A GPTBigCode shape (transformers' GPTBigCodeConfig keys; docs/recipe.md §10.1 for the published ones)."""
    n_layer: int = field(metadata=bounds(1))
    n_embd: int = field(metadata=bounds(1))
    n_head: int = field(metadata=bounds(1))
    n_inner: int | None = field(metadata=bounds(1))       # None: 4 x n_embd
    n_positions: int = field(metadata=bounds(1))
    vocab_size: int | None = field(metadata=bounds(1))    # None: the tokenizer's size
    multi_query: bool
    activation_function: str
    layer_norm_epsilon: float = field(metadata=bounds(0, lo_open=True))
    initializer_range: float = field(metadata=bounds(0, lo_open=True))
    attn_pdrop: float = field(metadata=bounds(0, 1, hi_open=True))
    resid_pdrop: float = field(metadata=bounds(0, 1, hi_open=True))
    embd_pdrop: float = field(metadata=bounds(0, 1, hi_open=True))

    def __post_init__(self):
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd {self.n_embd} is not a multiple of n_head {self.n_head}")


# ---- loading -----------------------------------------------------------------------------------

def load_config(path: str | Path | None = None, overrides: list[str] | dict | None = None) -> TrainConfig:
    """configs/train.yaml, then the file at `path` over it, then `overrides`: `--set` items
    (["train.steps=20", ...], values read as YAML) or a mapping of dotted keys to values
    ({"train.steps": 20}, values as given). Errors name the override or file they come from."""
    data = load_yaml_file(DEFAULT_CONFIG)
    source = f"config {path or DEFAULT_CONFIG}"
    if path:
        user = load_yaml_file(path)
        _refuse_unknown_keys(TrainConfig, user, source)
        data = deep_merge(data, user)
    _build(data, source)
    items = [(f"--set {item}", parse_sets([item])) for item in overrides] if isinstance(overrides, (list, tuple)) \
        else [(f"override {key}={value!r}", _nest(key, value)) for key, value in (overrides or {}).items()]
    for label, override in items:  # each one alone over the file: an error names the override
        leaf = _leaf(override)
        _refuse_unknown_keys(TrainConfig, override, label, strip=leaf)
        _build(deep_merge(data, override), label, strip=leaf)
    for _, override in items:
        data = deep_merge(data, override)
    return _build(data, f"{source} with overrides" if items else source)


def load_model_config(name_or_path: str | Path) -> ModelConfig:
    """configs/models/<name>.yaml (or a YAML/JSON file) built into a ModelConfig."""
    path = model_config_path(name_or_path)
    where = f"model config {path}"
    if path.suffix == ".json":
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise ConfigError(f"{where}: not readable JSON ({err})") from None
    else:
        data = load_yaml_file(path)
    _refuse_unknown_keys(ModelConfig, data, where)
    try:
        return build(ModelConfig, data)
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None


def model_config_path(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml", ".json") and p.exists():
        return p
    for ext in (".yaml", ".yml", ".json"):
        cand = MODELS_DIR / f"{name_or_path}{ext}"
        if cand.exists():
            return cand
    known = sorted(x.stem for x in MODELS_DIR.glob("*.y*ml"))
    raise ConfigError(f"model config {str(name_or_path)!r} not found (known: {', '.join(known)} or a file path)"
                      f"{_hint(str(name_or_path), known)}")


def deepspeed_config_path(name: str) -> Path:
    """configs/deepspeed/<name>.json or a .json path (`auto` is resolved by the trainer first)."""
    p = Path(name)
    if p.suffix == ".json" and p.exists():
        return p
    cand = DEEPSPEED_DIR / f"{name}.json"
    if cand.exists():
        return cand
    known = sorted(x.stem for x in DEEPSPEED_DIR.glob("*.json"))
    if str(name).lower() in ("none", "false", "plain"):
        raise ConfigError(f"deepspeed {name!r}: the plain PyTorch loop was removed; use zero0 (DeepSpeed's "
                          "engine without ZeRO partitioning) or auto")
    raise ConfigError(f"DeepSpeed config {name!r} not found (known: auto, {', '.join(known)} or a .json path)"
                      f"{_hint(str(name), ['auto', *known])}")


# ---- helpers -----------------------------------------------------------------------------------

def _build(data: dict, where: str, strip: str | None = None) -> TrainConfig:
    """build(TrainConfig, data), then the model config and the DeepSpeed config it names;
    errors prefixed with `where` (for an override of one key, without that key's path again)."""
    try:
        cfg = build(TrainConfig, data)
        load_model_config(cfg.model)
        if cfg.deepspeed.lower() != "auto":
            deepspeed_config_path(cfg.deepspeed)
        return cfg
    except ConfigError as err:
        message = str(err)
        if strip and message.startswith(f"{strip}: "):
            message = message[len(strip) + 2:]
        raise ConfigError(f"{where}: {message}") from None


def _refuse_unknown_keys(cls, data, where: str, strip: str | None = None, root=None, prefix: str = "") -> None:
    """A key of `data` that `cls` (a dataclass of dataclasses) does not have: an error naming
    its full dotted path and the nearest valid one, also in full (`train.steps`, not `steps`;
    a key in the wrong section is found by its last part: `optim.steps` -> `train.steps`)."""
    if not isinstance(data, dict):
        return  # not a mapping: build() reports the wrong type
    root = root or cls
    hints = get_type_hints(cls)
    names = [f.name for f in fields(cls)]
    for key, value in data.items():
        path = f"{prefix}{key}"
        if key not in names:
            hint = (_hint(str(key), [prefix + n for n in names], by_leaf=True)
                    or _hint(str(key), _leaf_paths(root), by_leaf=True)
                    or f" (valid: {', '.join(prefix + n for n in names)})")
            subject = "" if path == strip else f" {path}:"
            raise ConfigError(f"{where}:{subject} unknown key{hint}")
        if is_dataclass(hints[key]):
            _refuse_unknown_keys(hints[key], value, where, strip, root, f"{path}.")


def _leaf_paths(cls, prefix: str = "") -> list[str]:
    hints, out = get_type_hints(cls), []
    for f in fields(cls):
        out += _leaf_paths(hints[f.name], f"{prefix}{f.name}.") if is_dataclass(hints[f.name]) else [prefix + f.name]
    return out


def _hint(key: str, valid, by_leaf: bool = False) -> str:
    """'; did you mean X?' for the valid name closest to `key` (with by_leaf, the dotted path
    whose last part is: `steps` -> `train.steps`)."""
    if by_leaf:
        leaves = {p.rsplit(".", 1)[-1]: p for p in valid}
        close = difflib.get_close_matches(key, list(leaves), n=1, cutoff=0.6)
        return f"; did you mean {leaves[close[0]]!r}?" if close else ""
    close = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _nest(dotted: str, value) -> dict:
    """"train.steps", 20 -> {"train": {"steps": 20}}."""
    out: dict = {}
    node = out
    *parents, leaf = str(dotted).strip().split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value
    return out


def _leaf(override: dict) -> str | None:
    """The dotted path an override of one key sets ("optim.lr"), else None."""
    parts, node = [], override
    while isinstance(node, dict) and len(node) == 1:
        key, node = next(iter(node.items()))
        parts.append(str(key))
    return ".".join(parts) if parts and not isinstance(node, dict) else None
