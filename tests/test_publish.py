"""Write-audit-publish (jobs/core/publish.py, docs/operations.md): a stage's output is visible
to readers only after its gate passed. A planted bad batch of gold/tokens fails the tokenize
gate; the failure says which version readers still see; later stages, `codemill train`
(lineage.json), the dataset card and `codemill published` all see the previous published
version; a rollback publishes an earlier one again."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_publication_rows_and_rollback_without_spark(tmp_path):
    """ops/published alone (delta-rs, no Spark): the newest row of a table is its published
    version; rollback accepts only a version published before."""
    import numpy as np

    from jobs.cli import main
    from jobs.core.publish import current, published_version
    from test_trainer_support import write_tokens_table
    lake = tmp_path / "lake"
    assert published_version(lake, "gold/tokens") is None
    v0 = write_tokens_table(lake / "gold" / "tokens", np.ones((3, 8), dtype=np.int32))
    v1 = write_tokens_table(lake / "gold" / "tokens", np.zeros((2, 8), dtype=np.int32))
    assert (v0, v1) == (0, 1) and published_version(lake, "gold/tokens") == 1
    assert main(["published", "rollback", "gold/tokens", "5", "--lake", str(lake)]) == 2   # never published
    assert main(["published", "rollback", "gold/tokens", "0", "--lake", str(lake)]) == 0
    assert published_version(lake, "gold/tokens") == 0
    assert current(lake)["gold/tokens"]["stage"] == "rollback"
    # As the curation DAG's publish task reads it: a fresh interpreter that must exit cleanly
    # (a pyarrow-dataset scan through delta-rs over a table of many files, as a run's
    # ops/published is, once aborted such a process at exit, code 134).
    from jobs.core.publish import publish
    for i in range(12):
        publish(lake, {"gold/files": i}, "r", "decontaminate")
    code = ("import sys; from jobs.core.publish import published_version, gate_failed, version_readable; "
            "print(published_version(sys.argv[1], 'gold/tokens'), version_readable(sys.argv[1], 'gold/tokens', 1), "
            "gate_failed(sys.argv[1], 'r', 'tokenize'))")
    for _ in range(6):  # the abort was a race at exit: many runs, not all
        out = subprocess.run([sys.executable, "-c", code, str(lake)], capture_output=True, text=True, cwd=REPO)
        assert (out.returncode, out.stdout.split()) == (0, ["0", "True", "False"]), out.stderr[-2000:]



def test_incremental_ingest_refused_while_the_run_that_published_bronze_is_unfinished(tmp_path):
    """A run whose ingest gate published bronze/files but whose last gate never passed leaves
    files no later stage processed; an incremental run on top would take them as unchanged
    and lose them downstream, so it is refused (ops/published alone, no Spark)."""
    from types import SimpleNamespace

    from jobs.core.errors import UserError
    from jobs.core.incremental import refuse_after_unfinished_run
    from jobs.core.publish import publish
    from jobs.stages import STAGES
    lake = tmp_path / "lake"

    def ctx(run_id):
        return SimpleNamespace(lake=SimpleNamespace(root=lake), run_id=run_id, stages=STAGES)

    refuse_after_unfinished_run(ctx("first"))  # nothing published yet
    for stage in STAGES:  # run-a went all the way
        publish(lake, {stage.primary: 0}, "run-a", stage.name)
    refuse_after_unfinished_run(ctx("run-b"))
    for stage in STAGES[:4]:  # run-b stopped at a gate after dedup
        publish(lake, {stage.primary: 1}, "run-b", stage.name)
    with pytest.raises(UserError) as err:
        refuse_after_unfinished_run(ctx("run-c"))
    message = str(err.value)
    assert "run run-b is unfinished" in message and f"codemill {STAGES[4].name} --run-id run-b" in message
    refuse_after_unfinished_run(ctx("run-b"))  # continuing run-b itself is allowed
    # rolled back to run-a's bronze: the published files are run-a's, which finished
    publish(lake, {STAGES[0].primary: 0}, "rollback", "rollback")
    refuse_after_unfinished_run(ctx("run-c"))
    publish(lake, {STAGES[0].primary: 1}, "rollback", "rollback")
    with pytest.raises(UserError):
        refuse_after_unfinished_run(ctx("run-c"))
    for stage in STAGES[4:]:  # run-b finished
        publish(lake, {stage.primary: 1}, "run-b", stage.name)
    refuse_after_unfinished_run(ctx("run-c"))

def _gold_files(spark, ctx):
    """36 small files of four languages as gold/files of ctx's run."""
    from conftest import write_gold_files
    code = ["def add(a, b):\n    return a + b\n", "function f(x) { return x * 2; }\n",
            "package main\n\nfunc main() {}\n", "SELECT id, name FROM users WHERE id = 1;\n"]
    langs = ["python", "javascript", "go", "sql"]
    write_gold_files(ctx, [(f"{i:04d}" + "e" * 28, f"owner/repo{i % 5}", f"src/file{i}.x",
                            f"# file {i}\n" + code[i % 4] * (1 + i % 3), i, langs[i % 4]) for i in range(36)])


@pytest.mark.spark
def test_failed_gate_keeps_previous_published_version_for_every_reader(spark, tmp_lake, make_ctx, capsys):
    from jobs.cli import main
    from jobs.core.errors import UserError
    from jobs.core.stage import adopt_tables, execute_stage, input_version
    from jobs.stages import format as format_stage
    from jobs.stages import get_stage
    from jobs.stages import tokenize as tokenize_stage
    from quality_checks.card import build_card
    from quality_checks.gates import GateFailed, run_gate
    from schemas import table
    from trainer.data import read_sequences

    overrides = {"tokenizer": {"vocab_size": 600}, "tokenize": {"seq_len": 63}}
    # 1. A good run: format + tokenize, the tokenize gate passes and publishes gold/tokens.
    ctx = make_ctx(tmp_lake, run_id="good", config_overrides=overrides)
    _gold_files(spark, ctx)
    execute_stage(ctx, format_stage.STAGE)
    execute_stage(ctx, tokenize_stage.STAGE)
    run_gate(ctx.lake, ctx.config, "tokenize", "good", docs=False)
    good = ctx.lake.version("gold/tokens")
    assert ctx.lake.published_version("gold/tokens") == good
    n_good = len(read_sequences(tmp_lake / "gold" / "tokens", good))

    # 2. A planted bad batch: sequences of two lengths and a repeated seq_id, as tokenize's output in run "bad".
    bad_ctx = make_ctx(tmp_lake, run_id="bad", config_overrides=overrides)
    bad = spark.createDataFrame([(0, [1, 2, 3], ["d1"], "bad"), (0, [4, 5], ["d2"], "bad"), (1, [6], ["d3"], "bad")],
                                table("gold/tokens").schema)
    ctx.lake.overwrite(bad, "gold/tokens")
    adopt_tables(bad_ctx, get_stage("tokenize"), ("gold/tokens",))
    bad_version = ctx.lake.version("gold/tokens")
    assert bad_version > good
    with pytest.raises(GateFailed) as failed:
        run_gate(ctx.lake, ctx.config, "tokenize", "bad", docs=False)
    assert f"not published: readers still see gold/tokens version {good}" in str(failed.value)
    assert ctx.lake.published_version("gold/tokens") == good

    # 3. Readers: a stage of the failed run refuses the version, one of a new run reads the published one.
    with pytest.raises(UserError, match=f"failed its gate.*still see gold/tokens version {good}"):
        input_version(bad_ctx, "gold/tokens")
    assert input_version(make_ctx(tmp_lake, run_id="later"), "gold/tokens") == good
    card = build_card(ctx.lake, ctx.config).read_text()
    assert f"| gold/tokens | {good} |" in card
    capsys.readouterr()
    assert main(["published", "--lake", str(tmp_lake)]) == 0
    assert f"gold/tokens" in (out := capsys.readouterr().out) and f"published v{good}" in out
    assert f"latest version {bad_version} is not published" in out

    # 4. `codemill train` trains on the published version (same number in lineage.json).
    run_dir = tmp_lake.parent / "train"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "LOCAL_WORLD_SIZE"):
        env.pop(var, None)
    sets = {"train.micro_batch": 2, "train.grad_accum": 1, "train.save_every": 1, "train.eval_batches": 0,
            "optim.warmup_steps": 1}
    cmd = [str(Path(sys.executable).parent / "codemill"), "train", "--lake", str(tmp_lake), "--model", "tiny",
           "--steps", "1", "--deepspeed", "zero0", "--output", str(run_dir)]
    for k, v in sets.items():
        cmd += ["--set", f"{k}={v}"]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, cwd=str(REPO))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    lineage = json.loads((run_dir / "lineage.json").read_text())
    assert lineage["table_version"] == good != bad_version
    assert n_good > 3  # the bad batch had 3 rows: the trainer did not read it
