"""select + filter on the sample corpus: every planted bad file is rejected with the expected
reason, nothing else is, and rows in = kept + rejected for each stage."""
from __future__ import annotations

import pytest
import yaml

from jobs.core.config import REPO_ROOT

MANIFEST = REPO_ROOT / "tests" / "data" / "sample_manifest.yaml"
SAMPLE = REPO_ROOT / "tests" / "data" / "sample_corpus"

pytestmark = [pytest.mark.spark, pytest.mark.skipif(not MANIFEST.exists(), reason="sample manifest missing")]


@pytest.fixture(scope="module")
def curated(spark, tmp_path_factory):
    """Ingest the sample corpus into a fresh lake and run select and filter once for the module."""
    import argparse

    from jobs.stages import filter as filter_stage
    from jobs.stages import ingest, select
    from jobs.core.config import load_config
    from jobs.core.lake import Lake
    from jobs.core.stage import StageContext, execute_stage
    from jobs.stages import STAGES

    lake_dir = tmp_path_factory.mktemp("curated") / "lake"
    ctx = StageContext(spark=spark, lake=Lake(spark, lake_dir), config=load_config(), run_id="sf-run",
                       args=argparse.Namespace(input=str(SAMPLE), input_format=None), stages=STAGES)
    results = {m.STAGE.name: execute_stage(ctx, m.STAGE) for m in (ingest, select, filter_stage)}
    rejections = {(r["stage"], r["repo_name"], r["path"]): (r["reason"], r["detail"])
                  for r in ctx.lake.read("silver/rejections").collect()}
    return ctx, results, rejections


def expected(stage):
    manifest = yaml.safe_load(MANIFEST.read_text())
    return {(e["repo_name"], e["path"]): e["reason"] for e in manifest["rejected"] if e["stage"] == stage}


@pytest.mark.parametrize("stage", ["select", "filter"])
def test_planted_files_rejected_with_expected_reason_and_nothing_else(curated, stage):
    _, _, rejections = curated
    got = {(repo, path): reason for (st, repo, path), (reason, _) in rejections.items() if st == stage}
    assert got == expected(stage)


@pytest.mark.parametrize("stage,table_in,table_out", [("select", "bronze/files", "silver/selected"),
                                                      ("filter", "silver/selected", "silver/filtered")])
def test_rows_in_equals_kept_plus_rejected(curated, stage, table_in, table_out):
    ctx, results, rejections = curated
    r = results[stage]
    rows_in = ctx.lake.read(table_in).count()
    kept = ctx.lake.read(table_out).count()
    rejected = sum(1 for (st, _, _) in rejections if st == stage)
    assert r.rows_in == rows_in == kept + rejected
    assert r.rows_kept == kept and r.rows_rejected == rejected
    runs = ctx.lake.read("ops/runs").filter(f"stage = '{stage}'").collect()
    assert len(runs) == 1 and runs[0]["rows_in"] == runs[0]["rows_kept"] + runs[0]["rows_rejected"]


def test_manifest_counts(curated):
    manifest = yaml.safe_load(MANIFEST.read_text())
    _, results, _ = curated
    assert results["select"].rows_rejected == manifest["counts"]["rejected_select"]
    assert results["filter"].rows_rejected == manifest["counts"]["rejected_filter"]


def test_selected_and_filtered_columns(curated):
    ctx, _, rejections = curated
    sel = {(r["repo_name"], r["path"]): r for r in ctx.lake.read("silver/selected").collect()}
    assert sel[("gopherden/ratelimit", "bucket.go")]["language"] == "Go"
    assert sel[("gopherden/ratelimit", "Makefile")]["language"] == "Makefile"
    assert all(r["license_type"] == "permissive" for r in sel.values())
    filt = ctx.lake.read("silver/filtered").collect()
    assert filt and all(r["max_line_length"] is not None and r["alphanum_fraction"] is not None for r in filt)
    # details carry measured value vs threshold, never content
    reason, detail = rejections[("filter", "quillmark/docs-site", "vendor/sparkline.min.js")]
    assert detail == "2045 > 1000"


def test_license_column_matches_manifest(curated):
    """License the ingest stage recorded per repository (license file or metadata) vs the manifest."""
    ctx, _, _ = curated
    manifest = yaml.safe_load(MANIFEST.read_text())["licenses"]
    got = {r["repo_name"]: r["license"] for r in ctx.lake.read("bronze/files").select("repo_name", "license").distinct().collect()}
    wrong = {repo: (exp, got.get(repo)) for repo, exp in manifest.items() if got.get(repo) != exp}
    print(f"repository license accuracy: {len(manifest) - len(wrong)}/{len(manifest)}; wrong: {wrong}")
    assert not wrong


def test_no_license_policy_keeps_unlicensed(curated, make_ctx):
    """license_policy [permissive, no_license] (The Stack v2) keeps the unlicensed repository."""
    from jobs.stages import select
    ctx, _, _ = curated
    ctx2 = make_ctx(ctx.lake.root, run_id="sf-run-v2",
                    config_overrides={"select": {"license_policy": ["permissive", "no_license"]}})
    files = ctx2.lake.read("bronze/files").filter("repo_name = 'nolicense-nate/scratchpad'")
    out = select.annotate(ctx2, files, ctx2.config.select).collect()
    assert out and all(r["reason"] is None and r["license_type"] == "no_license" for r in out)


def test_inspection_report(curated, tmp_path):
    """The report shows kept and rejected samples with the rule that fired, plots, suggested
    thresholds, and escapes file content."""
    from jobs.tools.inspect_report import build_report
    ctx, _, _ = curated
    path = build_report(ctx, per_extension=5, out=tmp_path / "inspection.html")
    page = path.read_text()
    assert page.count("data:image/png;base64,") >= 5
    assert "xml_header: &#39;&lt;?xml version=&#39; within the first 100 chars" in page  # escaped by jinja2
    assert "max_line_length: 2045 &gt; 1000" in page
    assert "&lt;?xml version=" in page and "<?xml version=" not in page   # content escaped
    assert "suggested thresholds" in page.lower() and "p99=" in page
    assert "<script" not in page.lower()
    assert build_report(ctx, per_extension=1).name == "inspection.html"
    assert (ctx.lake.workspace / "reports" / "inspection.html").exists()
