"""End to end: `codemill run` on the sample corpus runs every stage with its gate, ends with the
run report and the dataset card and prints their paths; the report renders in headless
Chromium with its plots (the screenshot is not blank, every <img> is an embedded PNG)."""
from __future__ import annotations

import re

import pytest

from jobs.core.config import REPO_ROOT

SAMPLE = REPO_ROOT / "tests" / "data" / "sample_corpus"
pytestmark = [pytest.mark.spark, pytest.mark.slow,
              pytest.mark.skipif(not SAMPLE.exists(), reason="sample corpus missing")]
RUN = "e2e-report"


@pytest.fixture(scope="module")
def finished_run(spark, tmp_path_factory):
    import contextlib
    import io

    from jobs.cli import main

    lake = tmp_path_factory.mktemp("report") / "lake"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["run", "--lake", str(lake), "--run-id", RUN])
    return lake, code, out.getvalue()


def test_run_passes_every_gate_and_prints_report_and_card(finished_run, spark):
    from jobs.core.lake import Lake
    from jobs.stages import stage_names

    lake, code, printed = finished_run
    assert code == 0, printed
    report = lake / "reports" / f"run-{RUN}.html"
    card = lake / "reports" / "dataset_card.md"
    assert f"run report: {report}" in printed and f"dataset card: {card}" in printed
    # the run ends by training the tiny model in this one process: `auto` = DeepSpeed without ZeRO
    assert "world 1, DeepSpeed zero0" in printed
    assert f"tiny model trained 4 steps on gold/tokens: checkpoint {lake / 'checkpoints' / RUN}" in printed
    dq = Lake(spark, lake).read("ops/dq_results").where(f"run_id = '{RUN}'")
    checked = {r["stage"] for r in dq.select("stage").distinct().collect()}
    assert checked == set(stage_names())
    assert dq.where("NOT success").count() == 0

    text = card.read_text()
    for heading in ("## Delta versions described", "## Languages and sizes", "## Licenses",
                    "## Filters and thresholds", "## Deduplication", "## PII handling",
                    "## Benchmark decontamination", "## Opt-outs"):
        assert heading in text
    assert "| max_line_length | a line longer than the threshold (§3.1, §3.2) | 1000 |" in text
    assert "FACTS" not in text and "docs/recipe.md" in text


def test_run_produces_the_recorded_tables(finished_run):
    """The same row counts in every table and the same gold content as the recorded run of the
    sample corpus (tests/data/sample_run_manifest.json; regenerate with tests/run_manifest.py
    when a change is MEANT to alter what the pipeline produces, and say why in the commit)."""
    import json

    from run_manifest import run_manifest
    lake, code, printed = finished_run
    assert code == 0, printed
    recorded = json.loads((REPO_ROOT / "tests" / "data" / "sample_run_manifest.json").read_text())
    assert run_manifest(lake) == recorded


def test_report_renders_with_its_plots(finished_run, tmp_path):
    from quality_checks.render import check_render, embedded_pngs, find_chromium

    lake, code, _ = finished_run
    html_path = lake / "reports" / f"run-{RUN}.html"
    html_text = html_path.read_text()
    assert len(embedded_pngs(html_text)) >= 5  # funnel, languages, rejections, ..., seconds
    assert not re.search(r'src="(?!data:image/png;base64,)', html_text)  # self-contained
    if find_chromium() is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium); embedded PNGs checked only")
    result = check_render(html_path, tmp_path / "report.png")
    assert result.ink_fraction > 0.02 and result.colour_fraction > 0.005
