"""Unit tests of quality_checks/ that need no Spark: config reading, suites, rendering helpers."""
from __future__ import annotations

import base64
import io

import pytest

from jobs.core.config import load_config


@pytest.fixture(scope="module")
def config():
    return load_config()


def test_limits_follow_defaults_and_per_extension_overrides(config):
    def limits(ext):
        return {rule: {m: lim for m, _side, lim in ls} for rule, ls in config.filter.limits(ext).items()}
    py = limits("py")
    assert py["max_line_length"] == {"max_line_length": 1000} and py["avg_line_length"] == {"avg_line_length": 100}
    assert py["alphanum_fraction"] == {"alphanum_fraction": 0.25}
    assert py["alpha_fraction"] == {}  # null in defaults: rule off
    md = limits(".md")
    # Long-line filter removed for markdown (docs/recipe.md §3.2), and with it the mean-line rule.
    assert md["max_line_length"] == {} and md["avg_line_length"] == {}
    assert md["alphanum_fraction"] == {"alphanum_fraction": 0.25}
    assert limits("json")["alpha_fraction"] == {"alpha_fraction": 0.5}
    assert limits("fsh")["max_line_length"] == {"max_line_length": 500}
    assert limits("py")["encoded_data"] == {"encoded_max_run": 1024, "encoded_fraction": 0.5}


def test_every_stage_table_has_a_suite(config):
    pytest.importorskip("great_expectations")
    from jobs.stages import STAGES
    from quality_checks import checks, suites
    from schemas import TABLES
    for stage in STAGES:
        for t in stage.gated:
            assert t in TABLES
            names = [type(e).__name__ for e in suites.table_expectations(t, config)]
            assert "ExpectTableColumnsToMatchSet" in names
        names = [c.name for c in checks.aggregate_checks(stage.primary, stage)]
        assert "row_accounting.ops_runs" in names  # every stage's accounting is checked


def test_no_expectation_exposes_content_values(config):
    """GX keeps failing values in results and Data Docs: on `content` only null checks may run."""
    from quality_checks import suites
    for t in suites.FILE_TABLES:
        for e in suites.table_expectations(t, config):
            if getattr(e, "column", None) == "content":
                assert type(e).__name__ in ("ExpectColumnValuesToNotBeNull", "ExpectColumnValuesToBeOfType")


def _png_bytes() -> bytes:
    from PIL import Image
    buf = io.BytesIO()
    Image.new("RGB", (4, 3), (200, 10, 10)).save(buf, format="PNG")
    return buf.getvalue()


def test_embedded_pngs_decode_and_reject_others():
    from quality_checks.render import RenderError, embedded_pngs
    good = base64.b64encode(_png_bytes()).decode()
    assert embedded_pngs(f'<p><img alt="x" src="data:image/png;base64,{good}"></p>') == [(4, 3)]
    with pytest.raises(RenderError):
        embedded_pngs('<img src="plot.png">')
    with pytest.raises(RenderError):
        embedded_pngs(f'<img src="data:image/png;base64,{base64.b64encode(b"GIF89a....").decode()}">')


def test_pixel_stats_tell_blank_from_plot(tmp_path):
    from PIL import Image

    from quality_checks.render import pixel_stats
    blank = tmp_path / "blank.png"
    Image.new("RGB", (100, 100), (255, 255, 255)).save(blank)
    assert pixel_stats(blank)[2] == 0.0
    plot = tmp_path / "plot.png"
    im = Image.new("RGB", (100, 100), (255, 255, 255))
    for x in range(20, 60):
        for y in range(10, 90):
            im.putpixel((x, y), (46, 111, 208))
    im.save(plot)
    _w, _h, ink, colour = pixel_stats(plot)
    assert ink == pytest.approx(0.32) and colour == pytest.approx(0.32)


def test_gate_message_names_table_expectation_rows_and_ids():
    from quality_checks.gates import GateReport, ResultRow
    report = GateReport("ingest", "r1", [
        ResultRow("bronze/files", "expect_column_values_to_not_be_null(content)", False, 1, ["abc123"], "1 of 9", 3),
        ResultRow("bronze/files", "row_accounting.ops_runs", True, 0, [], "ok", 3)])
    msg = report.message()
    assert "bronze/files" in msg and "expect_column_values_to_not_be_null(content)" in msg
    assert "1 failing rows" in msg and "abc123" in msg and "row_accounting" not in msg
    assert not report.ok
