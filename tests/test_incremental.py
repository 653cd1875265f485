"""Incremental runs (jobs/core/incremental.py): `codemill run --input B --incremental` after
`codemill run --input A` equals `codemill run --input A∪B` up to the survivor rule of
docs/dedup.md ("Incremental runs"), gates on; a changed file is replaced and a deleted one leaves every table (a third, incremental run).

The sample corpus is split by repository into A and B; each run is the real command
(jobs.cli.main), every gate on."""
from __future__ import annotations

import shutil

import pytest

from tests.conftest import SAMPLE_CORPUS

pytestmark = pytest.mark.slow

OVERRIDES = "tokenizer:\n  vocab_size: 600\ntokenize:\n  seq_len: 63\n"


def _split(tmp_path):
    repos = sorted(p for p in SAMPLE_CORPUS.iterdir() if p.is_dir())
    parts = {"a": repos[::2], "b": repos[1::2], "ab": repos}
    for name, members in parts.items():
        (tmp_path / name).mkdir()
        for repo in members:
            shutil.copytree(repo, tmp_path / name / repo.name)
    return {name: tmp_path / name for name in parts}, {p.name for p in parts["a"]}


def _run(lake, folder, config, *extra):
    from jobs.cli import main
    assert main(["run", "--input", str(folder), "--lake", str(lake), "--config", str(config),
                 "--train-steps", "0", *extra]) == 0


def _published(lake, name, columns):
    from deltalake import DeltaTable

    from jobs.core.publish import published_version
    table = DeltaTable(str(lake / name), version=published_version(lake, name)).to_pyarrow_table(columns=columns)
    return table.to_pylist()


def _rejections(lake, stage):
    return {r["file_id"]: r for r in _published(lake, "silver/rejections", ["file_id", "stage", "reason", "detail"])
            if r["stage"] == stage}


def test_incremental_run_equals_full_run_up_to_the_survivor_rule(spark, tmp_path):
    folders, _ = _split(tmp_path)
    config = tmp_path / "small.yaml"
    config.write_text(OVERRIDES)
    inc, whole = tmp_path / "inc", tmp_path / "full"
    _run(inc, folders["a"], config, "--run-id", "run-a")
    a_tokens = {r["seq_id"]: r["input_ids"] for r in _published(inc, "gold/tokens", ["seq_id", "input_ids"])}
    _run(inc, folders["b"], config, "--run-id", "run-b", "--incremental")
    _run(whole, folders["ab"], config, "--run-id", "run-ab")

    def ids(lake, name):
        return {r["file_id"] for r in _published(lake, name, ["file_id"])}

    # ingest: the same files; B's carry the incremental run's id, A's kept theirs
    bronze = _published(inc, "bronze/files", ["file_id", "content_sha256", "run_id", "repo_name"])
    assert {(r["file_id"], r["content_sha256"]) for r in bronze} == {
        (r["file_id"], r["content_sha256"]) for r in _published(whole, "bronze/files", ["file_id", "content_sha256"])}
    assert {r["run_id"] for r in bronze} == {"run-a", "run-b"}
    changes = _published(inc, "bronze/changes", ["file_id", "change", "run_id"])
    assert {r["change"] for r in changes} == {"added"} and len(changes) == len(bronze) - sum(
        r["run_id"] == "run-a" for r in bronze)
    # row-wise stages: identical
    for name in ("silver/selected", "silver/filtered"):
        assert ids(inc, name) == ids(whole, name), name
    for stage in ("select", "filter"):
        assert {k: v["reason"] for k, v in _rejections(inc, stage).items()} == {
            k: v["reason"] for k, v in _rejections(whole, stage).items()}, stage

    # dedup, up to the survivor rule: the incremental run keeps a file the full run dropped
    # only when it is a published survivor of A, and drops one the full run kept only as a
    # duplicate of such a survivor
    a_files = {r["file_id"] for r in bronze if r["run_id"] == "run-a"}
    kept_inc, kept_full = ids(inc, "silver/deduped"), ids(whole, "silver/deduped")
    assert kept_inc - kept_full <= a_files
    dropped_inc = _rejections(inc, "dedup")
    assert all(dropped_inc[f]["detail"] in a_files for f in kept_full - kept_inc)
    assert dropped_inc, "the split must put duplicates on both sides for this test to say anything"
    clusters = _published(inc, "silver/dup_clusters", ["file_id", "cluster_id", "kept"])
    survivors = {}
    for r in clusters:
        survivors.setdefault(r["cluster_id"], []).append(r["kept"])
    assert all(kept.count(True) == 1 for kept in survivors.values())

    # after dedup, the same decisions for the files both runs kept
    common = kept_inc & kept_full
    for name in ("silver/redacted", "gold/files"):
        assert ids(inc, name) & common == ids(whole, name) & common, name
    redacted = {r["file_id"]: r["content"] for lake in (inc,) for r in _published(lake, "silver/redacted",
                                                                                   ["file_id", "content"])}
    for r in _published(whole, "silver/redacted", ["file_id", "content"]):
        if r["file_id"] in common:
            assert redacted[r["file_id"]] == r["content"]
    docs = {r["doc_id"]: r["text"] for r in _published(inc, "gold/training_docs", ["doc_id", "text"])}
    full_docs = {r["doc_id"]: r["text"] for r in _published(whole, "gold/training_docs", ["doc_id", "text"])}
    assert {d: docs[d] for d in docs.keys() & common} == {d: full_docs[d] for d in full_docs.keys() & common}
    assert set(docs) == ids(inc, "gold/files") - set(_rejections(inc, "format"))

    # gold/tokens grew by appended sequences: A's are untouched, every document is in some sequence
    tokens = {r["seq_id"]: r for r in _published(inc, "gold/tokens", ["seq_id", "input_ids", "doc_ids"])}
    assert {s: tokens[s]["input_ids"] for s in a_tokens} == a_tokens
    assert min(set(tokens) - set(a_tokens)) > max(a_tokens)
    assert {d for r in tokens.values() for d in r["doc_ids"]} == set(docs)

    # the next snapshot of one repository: one file changed, one gone
    _changed_and_deleted(tmp_path, inc, folders["a"], config)


def _changed_and_deleted(tmp_path, lake, folder, config):
    """A changed file is replaced and a deleted one leaves every table, tokens included."""
    repo = next(p for p in sorted(folder.iterdir()) if len([f for f in p.rglob("*.py")]) >= 2)
    changed, gone = sorted(repo.rglob("*.py"))[:2]
    changed.write_text(changed.read_text() + "\n\ndef added_in_the_next_snapshot(x):\n    return x * 2 + 1\n")
    gone.unlink()
    snapshot = tmp_path / "next"
    shutil.copytree(repo, snapshot / repo.name)
    _run(lake, snapshot, config, "--run-id", "run-c", "--incremental")

    rows = {r["path"]: r for r in _published(lake, "bronze/changes", ["path", "change", "run_id", "file_id"])
            if r["run_id"] == "run-c"}
    rel = lambda p: str(p.relative_to(repo))  # noqa: E731
    assert {k: v["change"] for k, v in rows.items()} == {rel(changed): "changed", rel(gone): "deleted"}
    gone_id, changed_id = rows[rel(gone)]["file_id"], rows[rel(changed)]["file_id"]
    for name in ("bronze/files", "silver/selected", "silver/filtered", "silver/deduped", "silver/redacted",
                 "gold/files"):
        present = {r["file_id"] for r in _published(lake, name, ["file_id"])}
        assert gone_id not in present, name
    bronze = {r["file_id"]: r for r in _published(lake, "bronze/files", ["file_id", "content", "run_id"])}
    assert "added_in_the_next_snapshot" in bronze[changed_id]["content"] and bronze[changed_id]["run_id"] == "run-c"
    gold = {r["file_id"]: r for r in _published(lake, "gold/files", ["file_id", "content", "run_id"])}
    if changed_id in gold:  # (unless a later stage dropped it)
        assert "added_in_the_next_snapshot" in gold[changed_id]["content"]
        assert gold[changed_id]["run_id"] == "run-c"
    docs = {r["doc_id"] for r in _published(lake, "gold/training_docs", ["doc_id"])}
    assert gone_id not in docs
    in_tokens = [d for r in _published(lake, "gold/tokens", ["doc_ids"]) for d in r["doc_ids"]]
    assert gone_id not in in_tokens and set(in_tokens) == docs
