"""The typed trainer config (trainer/config.py): configs/train.yaml, a --config file merged
over it and --set overrides, built into frozen dataclasses; a misspelled key, a wrong type or a
value out of range is a one-line error naming the key (and, for a typo, the nearest valid
one). No Spark, no training."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from trainer.config import (DEFAULT_CONFIG, MODELS_DIR, ConfigError, ModelConfig, TrainConfig, load_config,
                            load_model_config, to_mapping)

REPO = Path(__file__).resolve().parents[1]


def error_of(*args, **kwargs) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_train_yaml_builds_into_frozen_sections():
    cfg = load_config()
    assert isinstance(cfg, TrainConfig)
    assert (cfg.model, cfg.deepspeed) == ("tiny", "auto")
    assert cfg.optim.lr == 4e-4 and cfg.optim.betas == (0.9, 0.95) and cfg.train.bf16 == "auto"
    assert cfg.data.version is None and cfg.data.seq_len is None and cfg.train.resume is True
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.train.steps = 5
    # the plain-data form (run.json, lineage.json) builds back into the same config
    assert load_config(None, {k: v for k, v in to_mapping(cfg).items()}) == cfg


def test_misspelled_set_key_names_it_and_the_nearest_valid_one():
    assert error_of(None, ["train.stpes=5"]) == "--set train.stpes=5: unknown key; did you mean 'train.steps'?"
    assert error_of(None, ["optim.lr=1e-3", "optim.warmup=10"]) == \
        "--set optim.warmup=10: unknown key; did you mean 'optim.warmup_steps'?"
    # a section misspelled, and a key put in no section: found by its last part
    assert error_of(None, ["trian.steps=5"]) == "--set trian.steps=5: trian: unknown key; did you mean 'train'?"
    assert error_of(None, ["steps=5"]) == "--set steps=5: unknown key; did you mean 'train.steps'?"
    assert "unknown key (valid: model, deepspeed, data, optim, train)" in error_of(None, ["zzz=1"])


def test_misspelled_key_in_a_config_file(tmp_path):
    path = tmp_path / "my.yaml"
    path.write_text("train:\n  steps: 5\n  micro_bach: 2\n")
    assert error_of(path) == f"config {path}: train.micro_bach: unknown key; did you mean 'train.micro_batch'?"


def test_a_config_file_is_merged_over_train_yaml(tmp_path):
    path = tmp_path / "my.yaml"
    path.write_text("optim:\n  lr: 3e-4\ntrain:\n  steps: 7\n")
    cfg = load_config(path, ["train.steps=9"])
    assert cfg.optim.lr == 3e-4 and cfg.train.steps == 9
    assert cfg.optim.warmup_steps == load_config().optim.warmup_steps  # the rest from configs/train.yaml


def test_misspelled_override_of_train_from_lake():
    """train_from_lake(**overrides) takes dotted keys with Python values, checked the same way."""
    assert error_of(None, {"train.micro_bach": 2}) == \
        "override train.micro_bach=2: unknown key; did you mean 'train.micro_batch'?"
    assert load_config(None, {"train.micro_batch": 2, "data.fim_rate": 0.0}).train.micro_batch == 2


def test_wrong_types_are_refused():
    assert error_of(None, ["optim.lr=fast"]) == "--set optim.lr=fast: expected float, got str 'fast'"
    assert error_of(None, ["train.steps=2.5"]) == "--set train.steps=2.5: expected int, got float 2.5"
    assert error_of(None, ["train.export_hf=maybe"]) == "--set train.export_hf=maybe: expected bool, got str 'maybe'"
    assert error_of(None, ["train.bf16=maybe"]).startswith("--set train.bf16=maybe: 'maybe' is not one of")
    assert error_of(None, ["train=5"]) == "--set train=5: expected a mapping, got int"


def test_values_out_of_range_are_refused():
    assert error_of(None, ["optim.lr=-1"]) == "--set optim.lr=-1: -1.0 is outside (0, inf]"
    assert error_of(None, ["train.steps=0"]) == "--set train.steps=0: 0 is outside [1, inf]"
    assert error_of(None, ["data.fim_rate=1.5"]) == "--set data.fim_rate=1.5: 1.5 is outside [0, 1]"
    assert "betas: expected two values in [0, 1)" in error_of(None, ["optim.betas=[0.9]"])


def test_exponents_without_a_dot_are_floats(tmp_path):
    cfg = load_config(None, ["optim.lr=3e-4", "optim.eps=1E-8"])
    assert isinstance(cfg.optim.lr, float) and cfg.optim.lr == 3e-4 and cfg.optim.eps == 1e-8
    path = tmp_path / "my.yaml"
    path.write_text("optim:\n  lr: 3e-4\n  eps: 1e-8\n")
    cfg = load_config(path)
    assert isinstance(cfg.optim.lr, float) and cfg.optim.lr == 3e-4 and cfg.optim.eps == 1e-8


def test_engine_and_model_names_are_checked():
    assert "use zero0" in error_of(None, ["deepspeed=none"])  # the plain PyTorch loop is gone
    assert "did you mean 'zero3'?" in error_of(None, ["deepspeed=zero5"])
    assert error_of(None, ["model=2b"]).startswith("--set model=2b: model config '2b' not found (known: ")
    for name in ("auto", "zero0", "zero2_offload"):
        assert load_config(None, [f"deepspeed={name}"]).deepspeed == name


def test_model_configs_are_typed(tmp_path):
    for path in sorted(MODELS_DIR.glob("*.yaml")):
        assert isinstance(load_model_config(path.stem), ModelConfig)
    assert load_model_config("1b").n_layer == 24
    bad = tmp_path / "m.yaml"
    bad.write_text((MODELS_DIR / "tiny.yaml").read_text().replace("n_layer:", "n_layr:"))
    with pytest.raises(ConfigError, match=r"n_layr: unknown key; did you mean 'n_layer'\?$"):
        load_model_config(bad)
    partial = tmp_path / "p.yaml"
    partial.write_text("n_layer: 1\nn_embd: 32\nn_head: 2\n")
    with pytest.raises(ConfigError, match="n_inner: missing"):
        load_model_config(partial)
    odd = tmp_path / "o.yaml"
    odd.write_text((MODELS_DIR / "tiny.yaml").read_text().replace("n_head: 4", "n_head: 5"))
    with pytest.raises(ConfigError, match="not a multiple of n_head"):
        load_model_config(odd)


def _clean_env() -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")}
    env["PYTHONPATH"] = str(REPO)
    return env


@pytest.mark.parametrize("command", [
    [sys.executable, "-m", "jobs.cli", "train"],                     # codemill train
    [sys.executable, str(REPO / "trainer" / "train.py"), "--config", str(DEFAULT_CONFIG)],
], ids=["codemill-train", "train.py"])
def test_misspelled_set_on_the_command_line_is_one_line_and_exit_2(command, tmp_path):
    done = subprocess.run(command + ["--set", "train.stpes=5"], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path, env=_clean_env())
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].endswith("--set train.stpes=5: unknown key; did you mean 'train.steps'?")
    assert not (tmp_path / "runs").exists()  # nothing started
