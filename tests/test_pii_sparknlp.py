"""PII model tier through Spark NLP (jobs/stages/pii_sparknlp.py): the tiny "always I-NAME" BERT of
tests/test_pii_model.py is exported to ONNX, loaded with Spark NLP's
BertForTokenClassification.loadSavedModel, and run in the shared SparkSession. With every
token labelled I-NAME, a window's entity runs from its first to its last token, so the
expected character offsets are exact."""
from __future__ import annotations

import pytest

pytest.importorskip("onnx")
pytest.importorskip("transformers")

from test_pii_model import build_tiny_model  # noqa: E402  (tests/ is on sys.path under pytest)

from udfs.pii_model import STARPII_LABELS, ModelDetector  # noqa: E402

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from jobs.stages.pii_sparknlp import export_for_sparknlp
    root = tmp_path_factory.mktemp("pii-sparknlp")
    hf = build_tiny_model(root / "hf", "I-NAME", max_positions=512)
    return hf, export_for_sparknlp(hf, root / "sparknlp")


def test_export_layout(exported):
    _, out = exported
    assert (out / "model.onnx").stat().st_size > 0
    assert (out / "assets" / "labels.txt").read_text().split() == STARPII_LABELS  # id order
    vocab = (out / "assets" / "vocab.txt").read_text().splitlines()
    assert vocab[:4] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]


def test_entities_point_at_the_right_characters(spark, exported):
    from jobs.stages.pii_sparknlp import sparknlp_entities
    texts = {
        "plain": 'author = "Jane Doe"',
        "indented": '\n\n  x = "Jane Doe"  \n',
        "astral": 'x = "\U0001F600 Jane Doe"\n',  # outside the BMP: 2 UTF-16 units, 1 character
        "empty": "",
    }
    df = spark.createDataFrame(list(texts.items()), "file_id string, content string")
    got = {(r.file_id, r.start, r.end, r.type) for r in sparknlp_entities(spark, df, exported[1]).collect()}
    # one entity per text, from the first to the last non-space character, end exclusive
    expected = set()
    for fid, text in texts.items():
        if text.strip():
            start = len(text) - len(text.lstrip())
            expected.add((fid, start, len(text.rstrip()), "NAME"))
    assert got == expected
    assert texts["plain"][0:19] == 'author = "Jane Doe"'


def test_long_files_are_windowed_not_truncated(spark, exported):
    from jobs.stages.pii_sparknlp import sparknlp_entities
    text = "ada lovelace\n" * 120  # 1560 characters: more than one 510-character window
    df = spark.createDataFrame([("long", text)], "file_id string, content string")
    ents = sorted((r.start, r.end) for r in sparknlp_entities(spark, df, exported[1]).collect())
    assert len(ents) >= 3
    for start, end in ents:  # windows end at line ends: every entity is whole lines
        assert text[start:end].startswith("ada") and text[start:end].endswith("lovelace")
    covered = {i for start, end in ents for i in range(start, end)}
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())  # nothing past a cut


def test_postprocess_matches_transformers_path(spark, exported):
    from jobs.stages.pii_sparknlp import sparknlp_spans
    hf, out = exported
    texts = ['author = "Jane Doe"', "ada", "x = 1\ny = 2", "ada lovelace"]
    df = spark.createDataFrame([(str(i), t) for i, t in enumerate(texts)], "file_id string, content string")
    got = sorted((int(r.file_id), r.start, r.end, r.type) for r in sparknlp_spans(spark, df, out).collect())
    ref = ModelDetector(str(hf)).detect_batch(texts)
    assert got == sorted((i, s.start, s.end, s.type) for i, spans in enumerate(ref) for s in spans)
    assert (0, 0, 18, "NAME") in got  # the closing quote is trimmed, as in the transformers path


def test_stage_with_the_sparknlp_backend(make_ctx, tmp_lake, tmp_path, exported):
    """pii.model_backend: sparknlp — the stage exports the model once, runs it in Spark NLP and
    merges its spans with the rule tier's in the same redaction as the transformers path."""
    hf, _ = exported
    repo = tmp_path / "repos" / "alice__tools"
    repo.mkdir(parents=True)
    (repo / "a.py").write_text("ada lovelace\n")
    (repo / "b.py").write_text('k = "AKIAQWERTYUIOP123456"\n')
    from jobs.stages import ingest
    from jobs.stages import pii as stage
    ingest_ctx = make_ctx(tmp_lake, input=str(tmp_path / "repos"), input_format="repos")
    ingest.run(ingest_ctx)
    from conftest import feed_from_bronze
    feed_from_bronze(ingest_ctx, "pii")
    ctx = make_ctx(tmp_lake, config_overrides={"pii": {"model_path": str(hf), "model_backend": "sparknlp"}})
    result = stage.run(ctx)
    assert result.metrics["model_tier"] == "on" and result.metrics["model_backend"] == "sparknlp"
    assert list((ctx.lake.workspace / "_models").glob("sparknlp-*/model.onnx"))
    found = {(r["detector"], r["type"]) for r in ctx.lake.read("silver/pii_findings").collect()}
    assert ("model", "NAME") in found and ("aws_access_key_id", "KEY") in found
    contents = {r["path"]: r["content"] for r in ctx.lake.read("silver/redacted").collect()}
    assert contents["a.py"] == "<NAME>\n"
    assert contents["b.py"].startswith('k = "<KEY>"')
