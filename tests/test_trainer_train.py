"""Real training runs in subprocesses: kill + resume equals an uninterrupted run, the exported
checkpoint loads in transformers with the same logits, two-process ZeRO-2 lowers the loss, and
`codemill ablate` compares two lake variants. Slow (DeepSpeed start-up per process)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from test_trainer_support import build_lake, trainer_lake, write_tokens_table  # noqa: F401  (fixture)

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
TRAIN = str(REPO / "trainer" / "train.py")


def env():
    e = dict(os.environ)
    e.setdefault("OMP_NUM_THREADS", "1")
    # What an in-process run earlier in this pytest process left behind must not reach these runs.
    from trainer.train import LAUNCHER_ENV
    for var in LAUNCHER_ENV:
        e.pop(var, None)
    e["PYTHONPATH"] = str(REPO)
    return e


def sets(lake: str, out: Path, **extra) -> list[str]:
    base = {"data.lake": lake, "model": "tiny", "deepspeed": "zero2", "train.steps": 8, "train.micro_batch": 2,
            "train.grad_accum": 2, "train.save_every": 2, "train.log_every": 1, "train.eval_batches": 0,
            "optim.warmup_steps": 2, "optim.lr": 2e-3, "train.output_dir": str(out)}
    base.update(extra)
    args = []
    for k, v in base.items():
        args += ["--set", f"{k}={v}"]
    return args


def metrics(out: Path) -> dict[int, dict]:
    """Last record per step (a resumed run re-logs the steps after its checkpoint)."""
    recs = {}
    for line in (out / "metrics.jsonl").read_text().splitlines():
        r = json.loads(line)
        recs[r["step"]] = r
    return recs


@pytest.fixture(scope="module")
def resume_runs(trainer_lake, tmp_path_factory):  # noqa: F811
    """An uninterrupted 8-step ZeRO-2 run, and one SIGKILLed after its step-4 checkpoint then resumed."""
    root = tmp_path_factory.mktemp("resume")
    full, killed = root / "full", root / "killed"
    lake = trainer_lake["lake"]
    p_full = subprocess.Popen([PY, TRAIN] + sets(lake, full), env=env(), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    p_kill = subprocess.Popen([PY, TRAIN] + sets(lake, killed), env=env(), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, start_new_session=True)
    seen = []
    for line in p_kill.stdout:
        seen.append(line)
        if "checkpoint" in line and "step0000004" in line:
            os.killpg(p_kill.pid, signal.SIGKILL)
            break
    p_kill.wait(timeout=60)
    assert p_kill.returncode == -signal.SIGKILL, "".join(seen[-30:])
    out_full, _ = p_full.communicate(timeout=900)
    assert p_full.returncode == 0, out_full[-3000:]
    resumed = subprocess.run([PY, TRAIN] + sets(lake, killed), env=env(), capture_output=True, text=True,
                             timeout=900)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    return {"full": full, "killed": killed, "resumed_log": resumed.stdout, "lake": lake}


@pytest.mark.slow
def test_kill_and_resume_gives_same_batches_and_losses(resume_runs):
    full, killed = metrics(resume_runs["full"]), metrics(resume_runs["killed"])
    start = [ln for ln in resume_runs["resumed_log"].splitlines() if "from step" in ln][0]
    from_step = int(start.rsplit("from step", 1)[1])
    assert 4 <= from_step < 8, start
    assert sorted(full) == sorted(killed) == list(range(1, 9))
    for step in range(1, 9):
        assert killed[step]["batch"] == full[step]["batch"], step
        assert killed[step]["loss"] == full[step]["loss"], (step, killed[step]["loss"], full[step]["loss"])
        assert killed[step]["lr"] == full[step]["lr"]
    assert full[8]["loss"] < full[1]["loss"]
    # same held-out result and final weights
    ev_full = json.loads((resume_runs["full"] / "eval.json").read_text())
    ev_killed = json.loads((resume_runs["killed"] / "eval.json").read_text())
    assert ev_full == ev_killed


@pytest.mark.slow
def test_export_loads_in_transformers_with_identical_logits(resume_runs):
    import torch
    from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from trainer.evaluate import heldout_loss_of
    from trainer.model import build_config, build_model
    out = resume_runs["full"]
    hf = AutoModelForCausalLM.from_pretrained(str(out / "hf")).eval()
    tok = AutoTokenizer.from_pretrained(str(out / "hf"))
    assert hf.config.model_type == "gpt_bigcode" and hf.config.multi_query
    # the model as DeepSpeed saved it (fp32 master weights)
    cfg = build_config("tiny", vocab_size=len(tok))
    ref = build_model(cfg)
    ref.load_state_dict(get_fp32_state_dict_from_zero_checkpoint(str(out / "checkpoints")), strict=False)
    ref.tie_weights()
    ref.eval()
    x = torch.tensor([tok("def add(a, b):\n    return a + b\n")["input_ids"]])
    with torch.no_grad():
        assert torch.equal(hf(x).logits, ref(x).logits)
    # the held-out loss the training engine measured equals the exported model's
    ev = json.loads((out / "eval.json").read_text())["heldout"]
    mine = heldout_loss_of(out / "hf", resume_runs["lake"])
    assert mine["tokens"] == ev["tokens"]
    assert mine["loss"] == pytest.approx(ev["loss"], rel=1e-5)
    lineage = json.loads((out / "lineage.json").read_text())
    assert lineage["table"].endswith("gold/tokens") and lineage["table_version"] == 0
    assert lineage["tokenizer"].endswith("tokenizer") and "git_commit" in lineage
    assert lineage["config"]["deepspeed"] == "zero2"


@pytest.mark.slow
def test_two_process_zero2_on_cpu_lowers_loss(trainer_lake, tmp_path):  # noqa: F811
    out = tmp_path / "ddp"
    launcher = str(Path(PY).parent / "deepspeed")
    cmd = [launcher, "--num_gpus", "2", TRAIN] + sets(trainer_lake["lake"], out, **{"train.steps": 6,
                                                                                     "train.save_every": 0,
                                                                                     "deepspeed": "auto"})
    r = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=900, cwd=str(REPO))
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    assert "world 2, DeepSpeed zero2" in r.stdout  # `auto` with more than one rank
    m = metrics(out)
    assert sorted(m) == list(range(1, 7))
    assert m[6]["loss"] < m[1]["loss"] - 0.05, (m[1]["loss"], m[6]["loss"])
    assert m[6]["samples"] == 6 * 2 * 2 * 2  # steps x micro x accum x ranks
    tag = (out / "checkpoints" / "latest").read_text().strip()
    names = {p.name for p in (out / "checkpoints" / tag).iterdir()}
    assert {"rng_state_rank0.pt", "rng_state_rank1.pt"} <= names
    assert sum(n.endswith("optim_states.pt") for n in names) == 2  # ZeRO-2: optimizer state partitioned
    assert (out / "hf" / "config.json").exists()


def test_zero0_engine_trains_checkpoints_and_exports(trainer_lake, tmp_path):  # noqa: F811
    """configs/deepspeed/zero0.json: DeepSpeed's engine without partitioning, which `auto` picks
    for one process."""
    out = tmp_path / "z0"
    r = subprocess.run([PY, TRAIN] + sets(trainer_lake["lake"], out, **{"deepspeed": "auto", "train.steps": 6,
                                                                         "train.save_every": 3}),
                       env=env(), capture_output=True, text=True, timeout=900, cwd=str(REPO))
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    assert "world 1, DeepSpeed zero0" in r.stdout
    assert json.loads((out / "checkpoints" / "run.json").read_text())["config"]["deepspeed"] == "zero0"
    m = metrics(out)
    assert sorted(m) == list(range(1, 7))
    assert m[6]["loss"] < m[1]["loss"] - 0.05, (m[1]["loss"], m[6]["loss"])
    tag = (out / "checkpoints" / "latest").read_text().strip()
    assert tag.endswith("0000006") and any(p.name.endswith("optim_states.pt") or p.name.endswith("model_states.pt")
                                           for p in (out / "checkpoints" / tag).iterdir())
    assert (out / "hf" / "config.json").exists()
    # a longer run in the same output folder resumes from the step-6 checkpoint
    r = subprocess.run([PY, TRAIN] + sets(trainer_lake["lake"], out, **{"deepspeed": "zero0", "train.steps": 8,
                                                                         "train.save_every": 3}),
                       env=env(), capture_output=True, text=True, timeout=900, cwd=str(REPO))
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    steps_logged = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps_logged == list(range(1, 9))  # steps 7 and 8 appended, nothing re-run


@pytest.mark.slow
def test_train_from_lake_and_ablate(trainer_lake, tmp_path, capsys):  # noqa: F811
    from jobs.cli import main
    from trainer.train import train_from_lake
    out = train_from_lake(trainer_lake["lake"], "tiny", steps=3, output_dir=tmp_path / "tfl", deepspeed="zero0")
    assert (out / "hf" / "model.safetensors").exists() and (out / "lineage.json").exists()
    # a second lake variant: the same tokenizer, half of the sequences (as a filter would leave)
    import shutil

    from trainer.data import read_sequences
    variant = tmp_path / "variant"
    shutil.copytree(Path(trainer_lake["lake"]) / "tokenizer", variant / "tokenizer")
    seqs = read_sequences(Path(trainer_lake["lake"]) / "gold" / "tokens", 0)
    write_tokens_table(variant / "gold" / "tokens", seqs[: len(seqs) // 2].astype(np.int32))
    rc = main(["ablate", "--variant", f"full={trainer_lake['lake']}@0", "--variant", f"half={variant}",
               "--steps", "3", "--output", str(tmp_path / "abl"), "--set", "train.micro_batch=2"])
    assert rc == 0
    out = capsys.readouterr().out
    rows = json.loads((tmp_path / "abl" / "ablation.json").read_text())["rows"]
    assert [r["variant"] for r in rows] == ["full", "half"]
    assert all(r["reference_heldout_loss"] > 0 for r in rows)
    assert "ref held-out" in out


def test_inherited_rank_without_rendezvous_is_a_group_of_one():
    """A process started by one that trained in-process (`codemill run`) inherits RANK=0 and
    WORLD_SIZE=1 but no MASTER_ADDR; DeepSpeed must still start, not go looking for MPI."""
    code = ("import deepspeed, torch.distributed as dist; from trainer.train import ensure_launcher_env; "
            "print(ensure_launcher_env()); deepspeed.init_distributed(); print('world', dist.get_world_size())")
    e = env()
    e.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1")
    done = subprocess.run([PY, "-c", code], env=e, capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "(0, 1, 0)" in done.stdout and "world 1" in done.stdout


def test_auto_deepspeed_is_zero0_alone_zero2_in_a_group_and_what_a_checkpoint_was_written_with():
    from trainer.train import resolve_deepspeed
    assert resolve_deepspeed("auto", 1) == "zero0"
    assert resolve_deepspeed("AUTO", 2) == "zero2"
    assert resolve_deepspeed("auto", 1, resumed_from="zero2") == "zero2"  # the checkpoint's engine
    assert resolve_deepspeed("zero3", 1) == "zero3"
    assert resolve_deepspeed("zero1", 4, resumed_from="zero2") == "zero1"  # an explicit choice wins


def test_set_overrides_read_exponents_without_a_dot_as_numbers():
    """PyYAML (YAML 1.1) reads 2e-3 as a string, which reached the optimizer as its lr."""
    from trainer.train import load_config
    cfg = load_config(None, ["optim.lr=2e-3", "optim.eps=1E-8", "train.steps=20", "model=1b", "data.table=e5"])
    assert cfg.optim.lr == 0.002 and cfg.optim.eps == 1e-8
    assert cfg.train.steps == 20 and cfg.model == "1b" and cfg.data.table == "e5"


def test_model_configs_read_exponents_without_a_dot_as_numbers(tmp_path):
    from trainer.model import build_config
    spec = tmp_path / "m.yaml"
    spec.write_text("n_layer: 1\nn_embd: 32\nn_head: 2\nn_inner: null\nn_positions: 64\nvocab_size: 64\n"
                    "multi_query: true\nactivation_function: gelu_pytorch_tanh\nlayer_norm_epsilon: 1e-5\n"
                    "initializer_range: 2e-2\nattn_pdrop: 0.1\nresid_pdrop: 0.1\nembd_pdrop: 0.1\n")
    config = build_config(spec)
    assert config.layer_norm_epsilon == 1e-5 and config.initializer_range == 0.02


def test_deepspeed_adam_choice_follows_optim_fused():
    """DeepSpeed's fused Adam by default; torch's AdamW when optim.fused is off; the CPU Adam
    that ZeRO-Offload needs whatever optim.fused says."""
    from trainer.train import deepspeed_config, load_config

    def torch_adam(zero: str, fused: bool = True) -> bool:
        cfg = load_config(None, {"deepspeed": zero, "optim.fused": fused, "train.micro_batch": 2})
        return deepspeed_config(cfg, False)["optimizer"]["params"]["torch_adam"]

    assert torch_adam("zero2") is False
    assert torch_adam("zero2", fused=False) is True
    assert torch_adam("zero2_offload", fused=False) is False
