"""Dedup stage on real Delta tables (shared SparkSession): connected components, keep rule,
determinism, signature reuse == full, verification, and the sample corpus's planted duplicates."""
from __future__ import annotations

import datetime as dt
import hashlib
import random
from pathlib import Path

import pytest
import yaml

from udfs import components as ucc
from udfs import minhash as mh

pytestmark = pytest.mark.spark

REPO_ROOT = Path(__file__).resolve().parents[1]
MANIFEST = REPO_ROOT / "tests" / "data" / "sample_manifest.yaml"
CORPUS = REPO_ROOT / "tests" / "data" / "sample_corpus"


# ---- helpers -----------------------------------------------------------------------------

def _file_id(repo: str, path: str) -> str:
    return hashlib.sha256(f"{repo}\u0000{path}".encode()).hexdigest()[:32]


def _row(repo, path, content, license="MIT", stars=1):
    return dict(file_id=_file_id(repo, path), repo_name=repo, path=path, content=content,
                size_bytes=len(content.encode()), content_sha256=hashlib.sha256(content.encode()).hexdigest(),
                license=license, stars=stars, source="test", run_id="r0", ingested_at=dt.datetime(2024, 1, 1))


def _code(rng: random.Random, n_lines: int) -> str:
    names = ["count", "total", "item", "items", "value", "key", "node", "buf", "size", "index", "name", "text"]
    funcs = ["append", "get", "update", "pop", "split", "strip", "join", "format", "lower", "sort"]
    lines = []
    for _ in range(n_lines):
        a, b, c = rng.choice(names), rng.choice(names), rng.choice(funcs)
        lines.append(f"    {a}_{rng.randint(0, 30)} = {b}.{c}({rng.randint(0, 999)}, {rng.choice(names)})")
    return f"def fn_{rng.randint(0, 10**6)}(items):\n" + "\n".join(lines) + "\n    return total\n"


def _mutate(rng: random.Random, text: str, n_edits: int) -> str:
    lines = text.splitlines()
    for _ in range(n_edits):
        i = rng.randrange(1, len(lines))
        lines[i] = lines[i] + f"  # note {rng.randint(0, 10**6)}"
    return "\n".join(lines) + "\n"


def _synthetic_rows(seed: int = 11) -> list[dict]:
    """Families of near-duplicates (few edits), exact copies with different stars/licences,
    unrelated files and tiny files."""
    rng = random.Random(seed)
    rows = []
    for fam in range(6):
        base = _code(rng, 60)
        rows.append(_row(f"fam{fam}/origin", "src/mod.py", base, stars=rng.randint(0, 50)))
        for v in range(3):
            lic = rng.choice(["MIT", None, "Apache-2.0"])
            rows.append(_row(f"fam{fam}/fork{v}", f"lib/mod_{v}.py", _mutate(rng, base, 2), license=lic,
                             stars=rng.choice([None, 0, 5, 50])))
        rows.append(_row(f"fam{fam}/copy", "vendor/mod.py", base, license=None, stars=1000))  # exact copy
    for i in range(10):
        rows.append(_row(f"solo/r{i}", "main.py", _code(rng, 30)))
    rows.append(_row("tiny/a", "a.py", "x = 1\n"))
    rows.append(_row("tiny/b", "b.py", "y = 2\n"))
    rows.append(_row("tiny/c", "c.py", "x = 1\n", stars=3))  # exact copy of a tiny file
    return rows


def _write_input(make_ctx, lake_dir, rows, run_id):
    """`rows` as silver/filtered, recorded as the filter stage's output in run `run_id` (the
    dedup stage reads its input by lineage)."""
    from jobs.core.stage import adopt_tables
    from jobs.stages import get_stage
    from schemas import table
    ctx = make_ctx(lake_dir, run_id=run_id)
    filtered = [{**r, "language": "Python", "extension": "py",
                 "license_type": "permissive" if r["license"] else "no_license"} for r in rows]
    ctx.lake.overwrite(ctx.spark.createDataFrame(filtered, table("silver/filtered").schema), "silver/filtered")
    adopt_tables(ctx, get_stage("filter"))
    # published, as a passed filter gate would: a later run's dedup reads it
    from jobs.core.publish import publish
    publish(ctx.lake.root, {"silver/filtered": ctx.lake.version("silver/filtered")}, run_id, "filter", "test")


def _dedup(make_ctx, lake_dir, run_id, overrides=None, **args):
    from jobs.stages import dedup
    from jobs.core.stage import execute_stage
    from jobs.core.config import deep_merge
    given = {k: v for k, v in args.items() if v is not None}
    ctx = make_ctx(lake_dir, run_id=run_id, config_overrides=deep_merge(overrides or {}, {"dedup": given}))
    return ctx, execute_stage(ctx, dedup.STAGE)


def _state(ctx, run_id):
    """What a dedup run decided: survivors, clusters, rejections (without run ids)."""
    survivors = {r["file_id"] for r in ctx.lake.read("silver/deduped").select("file_id").collect()}
    clusters = {(r["file_id"], r["cluster_id"], r["method"], r["kept"])
                for r in ctx.lake.read("silver/dup_clusters").collect()}
    rejected = {(r["file_id"], r["reason"], r["detail"])
                for r in ctx.lake.read("silver/rejections").where(f"stage = 'dedup' AND run_id = '{run_id}'").collect()}
    return survivors, clusters, rejected


# ---- connected components ------------------------------------------------------------------

def test_connected_components_on_hand_made_graphs(spark):
    from jobs.stages.dedup import connected_components
    rng = random.Random(3)
    edges = []
    # a long chain with shuffled labels (the hard case for label propagation)
    chain = rng.sample(range(1000, 1200), 120)
    edges += list(zip(chain, chain[1:]))
    # a star whose centre is NOT the smallest node, edges in both orientations
    edges += [(500, leaf) if leaf % 2 else (leaf, 500) for leaf in range(501, 540)] + [(499, 539)]
    # disjoint pairs and a triangle, a cycle, and duplicate/self edges
    edges += [(10, 11), (20, 21), (30, 31), (31, 32), (32, 30), (7, 7), (11, 10)]
    cycle = list(range(2000, 2050))
    edges += list(zip(cycle, cycle[1:] + cycle[:1]))
    # two chains joined in the middle
    edges += [(3000 + i, 3001 + i) for i in range(30)] + [(4000 + i, 4001 + i) for i in range(30)] + [(3015, 4029)]
    df = spark.createDataFrame(edges, "src long, dst long")
    labels, rounds = connected_components(df, max_iterations=40)
    got = {r["node"]: r["component"] for r in labels.collect()}
    want = ucc.components([(a, b) for a, b in edges if a != b])
    assert got == want
    assert len(set(got.values())) == 7 and rounds >= 2
    with pytest.raises(RuntimeError, match="did not converge"):
        connected_components(spark.createDataFrame(list(zip(chain, chain[1:])), "src long, dst long"),
                             max_iterations=1)


def test_connected_components_of_no_edges(spark):
    from jobs.stages.dedup import connected_components
    labels, rounds = connected_components(spark.createDataFrame([], "src long, dst long"))
    assert labels.count() == 0 and rounds == 0


# ---- the stage on synthetic data -------------------------------------------------------------

@pytest.mark.slow
def test_keep_rule_determinism_and_signature_reuse_equals_full(spark, make_ctx, tmp_path, capsys):
    from jobs.core.lake import Lake
    rows = _synthetic_rows()
    by_id = {r["file_id"]: r for r in rows}

    full_dir = tmp_path / "full"
    full_dir.mkdir()
    lake = Lake(spark, full_dir)
    _write_input(make_ctx, full_dir, rows, "full-1")
    ctx, res = _dedup(make_ctx, full_dir, "full-1")
    survivors, clusters, rejected = _state(ctx, "full-1")

    # accounting and expected structure: 6 exact copies, 6 families → 18 fork/origin/copy merges
    assert res.rows_in == len(rows) == res.rows_kept + res.rows_rejected
    assert res.rejected_by_reason["exact_duplicate"] == 7      # 6 family copies + tiny/c
    assert res.rejected_by_reason["near_duplicate"] == 18      # each family: 5 files → 1
    assert len(survivors) == res.rows_kept == 6 + 10 + 2
    assert {by_id[f]["repo_name"] for f in survivors if by_id[f]["repo_name"].startswith("solo/")} == \
        {f"solo/r{i}" for i in range(10)}
    assert res.metrics["short_docs_skipped"] == 2              # tiny files: no signature, not merged
    # tiny files are exact-deduplicated only (tiny/c: more stars than its copy tiny/a)
    assert {_file_id("tiny/b", "b.py"), _file_id("tiny/c", "c.py")} <= survivors
    assert (_file_id("tiny/a", "a.py"), "exact_duplicate", _file_id("tiny/c", "c.py")) in rejected

    # keep rule: every cluster's survivor is the one udfs.minhash.choose_survivor picks among
    # all its members (exact copies included); one row per file
    assert len({fid for fid, *_ in clusters}) == len(clusters)
    members: dict = {}
    for fid, cluster_id, method, kept in clusters:
        members.setdefault(cluster_id, []).append((fid, kept))
    for cluster_id, group in members.items():
        chosen = mh.choose_survivor([{**by_id[f], "license_type": "permissive" if by_id[f]["license"] else "no_license"} for f, _ in group], has_license_type=True)["file_id"]
        assert chosen == cluster_id
        assert [f for f, kept in group if kept] == [chosen]
    cluster_of = {fid: cluster_id for fid, cluster_id, _, _ in clusters}
    for fid, reason, detail in rejected:
        assert fid not in survivors
        if reason == "near_duplicate":     # detail: the survivor of its component
            assert detail == cluster_of[fid]
        else:                              # detail: the byte-identical file exact dedup kept
            assert by_id[detail]["content_sha256"] == by_id[fid]["content_sha256"]

    # determinism: the same input gives the same decisions
    ctx2, _ = _dedup(make_ctx, full_dir, "full-2")
    assert _state(ctx2, "full-2") == (survivors, clusters, {(f, r, d) for f, r, d in rejected})

    # attribution: a forked copy of family 0 points at the family's survivor in silver/deduped
    from jobs.cli import main as cli
    fam0 = [r for r in rows if r["repo_name"] == "fam0/fork1"][0]
    snippet = tmp_path / "snippet.py"
    snippet.write_text(fam0["content"])
    capsys.readouterr()
    assert cli(["attribution", str(snippet), "--lake", str(full_dir)]) == 0
    out = capsys.readouterr().out
    fam0_survivor = [f for f in survivors if by_id[f]["repo_name"].startswith("fam0/")]
    assert len(fam0_survivor) == 1
    survivor_row = by_id[fam0_survivor[0]]
    assert f"{survivor_row['repo_name']}  {survivor_row['path']}" in out and "silver/deduped" in out
    snippet.write_text(_code(random.Random(99), 40))
    assert cli(["attribution", str(snippet), "--lake", str(full_dir)]) == 0
    assert "no near-identical code" in capsys.readouterr().out

    # eval-dedup: the planted families are exactly the pairs above 0.7
    from jobs.tools.dedup_eval import evaluate_lake
    ev = evaluate_lake(ctx2)
    assert ev["files"] == len(rows) - 7 and ev["true_pairs"] == 6 * 6
    assert ev["pairs"]["f1"] == 1.0 and ev["closure"]["f1"] == 1.0
    assert ev["ceilings"]["truth_components"]["f1"] == 1.0 and ev["ceilings"]["oracle"]["f1"] == 1.0
    assert cli(["eval-dedup", "--lake", str(full_dir)]) == 0
    out = capsys.readouterr().out
    assert "F1 1.0000" in out and "for scale" in out
    assert cli(["eval-dedup", "--lake", str(full_dir), "--no-ceilings"]) == 0
    assert "for scale" not in capsys.readouterr().out

    # incremental: half first, then the rest, reusing the first half's signatures
    inc_dir = tmp_path / "inc"
    inc_dir.mkdir()
    inc_lake = Lake(spark, inc_dir)
    first = rows[::2]
    _write_input(make_ctx, inc_dir, first, "inc-1")
    _dedup(make_ctx, inc_dir, "inc-1")
    stored_before = {r["file_id"] for r in inc_lake.read("silver/minhash_signatures").collect()}
    _write_input(make_ctx, inc_dir, rows, "inc-2")
    ctx3, res3 = _dedup(make_ctx, inc_dir, "inc-2", reuse_signatures=True)
    assert _state(ctx3, "inc-2") == (survivors, clusters, rejected)
    exact_survivors = {r["file_id"] for r in rows} - {f for f, reason, _ in rejected if reason == "exact_duplicate"}
    assert int(res3.metrics["signatures_computed"]) == len(exact_survivors - stored_before) > 0
    # old signatures were not recomputed: their rows still carry the first run's id
    sig_runs = {r["file_id"]: r["run_id"] for r in inc_lake.read("silver/minhash_signatures").collect()}
    assert all(sig_runs[f] == "inc-1" for f in stored_before & exact_survivors)


def test_exact_survivor_with_near_duplicates_is_one_cluster_and_passes_the_gate(spark, make_ctx, tmp_path):
    """The shape real code has and the sample corpus had not (issue: the dedup gate stopped the
    first real run): the survivor of an exact group also has near duplicates (a vendored copy
    of a file, several releases of one package). Its exact copies, its near duplicates and
    their own copies form ONE cluster with one survivor; silver/dup_clusters holds one row per
    file, and the dedup gate passes."""
    from jobs.core.lake import Lake
    from quality_checks.gates import run_gate
    rng = random.Random(21)
    base = _code(rng, 60)
    release2, release3 = _mutate(rng, base, 2), _mutate(rng, base, 3)
    other = _code(rng, 40)
    rows = [_row("pkg/a-1.0", "src/core.py", base, stars=10),
            _row("vendor/x", "third_party/core.py", base, license=None, stars=0),       # exact copy
            _row("pkg/a-2.0", "src/core.py", release2, stars=5),                        # near
            _row("vendor/y", "_vendor/core.py", release2, license=None, stars=0),       # copy of a near one
            _row("pkg/a-3.0", "src/core.py", release3, stars=1),                        # near
            _row("solo/b", "b.py", other), _row("solo/b-copy", "b.py", other, license=None)]  # exact only
    lake_dir = tmp_path / "shape"
    lake_dir.mkdir()
    _write_input(make_ctx, lake_dir, rows, "shape-1")
    ctx, res = _dedup(make_ctx, lake_dir, "shape-1")
    survivors, clusters, rejected = _state(ctx, "shape-1")
    base_id, other_id = _file_id("pkg/a-1.0", "src/core.py"), _file_id("solo/b", "b.py")
    assert survivors == {base_id, other_id}
    assert res.rejected_by_reason == {"exact_duplicate": 3, "near_duplicate": 2}
    by_file = {fid: (cluster_id, method, kept) for fid, cluster_id, method, kept in clusters}
    assert len(by_file) == len(clusters) == len(rows)
    assert by_file[base_id] == (base_id, "near", True)
    assert by_file[_file_id("vendor/x", "third_party/core.py")] == (base_id, "exact", False)
    assert by_file[_file_id("pkg/a-2.0", "src/core.py")] == (base_id, "near", False)
    assert by_file[_file_id("vendor/y", "_vendor/core.py")] == (base_id, "exact", False)
    assert by_file[other_id] == (other_id, "exact", True)
    report = run_gate(ctx.lake, ctx.config, "dedup", "shape-1", docs=False)
    assert report.ok, report.message()
    names = {r.expectation for r in report.rows}
    assert {"one_survivor_per_cluster", "survivors_present", "dropped_duplicates_absent"} <= names


def test_star_verification_handles_stars_split_across_batches():
    """star_jaccards gets rows (centre, node, content) sorted by centre in Arrow batches that
    cut stars anywhere; every leaf gets its exact Jaccard with its own centre."""
    import pyarrow as pa

    from jobs.stages.dedup import star_jaccards
    rng = random.Random(11)
    base = [_code(rng, 30) for _ in range(3)]
    texts = {1: base[0], 2: _mutate(rng, base[0], 2), 3: _mutate(rng, base[0], 6),
             10: base[1], 11: _mutate(rng, base[1], 1), 12: base[2], 13: _mutate(rng, base[2], 3), 14: base[0]}
    stars = {1: [1, 2, 3, 14], 10: [10, 11, 3], 12: [12, 13]}   # node 3 is a leaf of two stars
    rows = [(c, n, texts[n]) for c in sorted(stars) for n in sorted(stars[c])]
    want = {(n, c): mh.jaccard(mh.shingle_set(texts[n]), mh.shingle_set(texts[c]))
            for c in stars for n in stars[c] if n != c}
    for size in (1, 2, 3, 4, len(rows)):
        batches = [pa.RecordBatch.from_pylist([dict(centre=c, node=n, content=t) for c, n, t in rows[i:i + size]])
                   for i in range(0, len(rows), size)]
        got = {}
        for out in star_jaccards(5, 100_000)(iter(batches)):
            for r in out.to_pylist():
                assert (r["src"], r["dst"]) not in got
                got[(r["src"], r["dst"])] = r["jaccard"]
        assert got.keys() == want.keys(), size
        assert all(abs(got[k] - want[k]) < 1e-9 for k in want), size


@pytest.mark.slow
@pytest.mark.parametrize("margin", [None, 0.15])
def test_verify_removes_lsh_false_positives(spark, make_ctx, tmp_path, margin):
    """margin None: every candidate pair is checked by exact Jaccard; 0.15: the dissimilar
    pairs (estimate ≈ 0.4) are decided by the signature estimate. Same outcome."""
    from jobs.core.lake import Lake
    rng = random.Random(5)
    base = _code(rng, 80)
    lines = base.splitlines()
    # about half of the lines rewritten: 5-gram Jaccard ≈ 0.3–0.5, far below 0.7
    half = "\n".join(l if i % 2 else l.replace("=", "= 1 +") + " and x" for i, l in enumerate(lines)) + "\n"
    close = _mutate(rng, base, 1)
    rows = [_row("o/base", "a.py", base, stars=10), _row("o/half", "b.py", half, stars=1),
            _row("o/close", "c.py", close, stars=1)]
    j_half = mh.jaccard(mh.shingle_set(base), mh.shingle_set(half))
    assert j_half < 0.6 and mh.jaccard(mh.shingle_set(base), mh.shingle_set(close)) > 0.8
    lake_dir = tmp_path / "v"
    lake_dir.mkdir()
    _write_input(make_ctx, lake_dir, rows, "v1")
    # LSH with one row per band (128 bands) makes every pair sharing one minimum a
    # candidate: at Jaccard ≈ 0.4 that is all but certain (1 − 0.6^128).
    overrides = {"dedup": {"bands": 128, "rows": 1, "verify_margin": margin}}
    ctx, res = _dedup(make_ctx, lake_dir, "v1", overrides=overrides, verify=True)
    # candidates: close–base plus at least one edge touching the dissimilar file; only close–base survives
    n_cand = res.metrics["candidate_edges"]
    assert n_cand >= 2 and res.metrics["verified_edges"] == 1
    fp_rate = round(1 - 1 / n_cand, 6)
    assert res.metrics["verify_false_positive_rate"] == fp_rate
    exact_checked = res.metrics["verify_exact_checked"]
    assert exact_checked == n_cand if margin is None else exact_checked < n_cand
    survivors, _, rejected = _state(ctx, "v1")
    assert survivors == {_file_id("o/base", "a.py"), _file_id("o/half", "b.py")}
    assert rejected == {(_file_id("o/close", "c.py"), "near_duplicate", _file_id("o/base", "a.py"))}
    run = ctx.lake.read("ops/runs").where("stage = 'dedup' AND run_id = 'v1'").collect()[0]
    assert run["metrics"]["verify_false_positive_rate"] == str(fp_rate)


# ---- the sample corpus ---------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.skipif(not MANIFEST.exists(), reason="sample corpus not written yet")
def test_sample_corpus_planted_duplicates(spark, make_ctx, tmp_lake):
    """Ingest the sample corpus, remove what the manifest says earlier stages remove, dedup:
    exactly the planted duplicates go, with the manifest's survivors."""
    from pyspark.sql import functions as F

    from jobs.core.stage import adopt_tables, execute_stage
    from jobs.stages import get_stage, ingest
    manifest = yaml.safe_load(MANIFEST.read_text())
    ctx = make_ctx(tmp_lake, run_id="s1", input=str(CORPUS), input_format=None)
    execute_stage(ctx, ingest.STAGE)
    earlier = [(r["repo_name"], r["path"]) for r in manifest["rejected"] if r["stage"] in ("select", "filter")]
    earlier_ids = [_file_id(*k) for k in earlier]
    bronze = ctx.lake.read("bronze/files")
    reaching = bronze.where(~F.col("file_id").isin(earlier_ids))
    ctx.lake.overwrite(reaching, "silver/filtered")  # columns of later stages written as nulls
    adopt_tables(ctx, get_stage("filter"))
    n_in = reaching.count()

    _, res = _dedup(make_ctx, tmp_lake, "s1")
    expected = {}
    for kind, reason in (("exact_duplicates", "exact_duplicate"), ("near_duplicates", "near_duplicate")):
        for group in manifest[kind]:
            survivor = _file_id(*group["survivor"])
            for f in group["files"]:
                if _file_id(*f) != survivor:
                    expected[_file_id(*f)] = (reason, survivor)
    dedup_rows = [r for r in manifest["rejected"] if r["stage"] == "dedup"]
    assert {_file_id(r["repo_name"], r["path"]) for r in dedup_rows} == set(expected)
    rejections = ctx.lake.read("silver/rejections").where("stage = 'dedup' AND run_id = 's1'").collect()
    assert {r["file_id"]: (r["reason"], r["detail"]) for r in rejections} == expected
    assert res.rows_in == n_in and res.rows_kept == n_in - len(expected)
    kept_ids = {r["file_id"] for r in ctx.lake.read("silver/deduped").collect()}
    assert kept_ids == {r["file_id"] for r in reaching.collect()} - set(expected)
