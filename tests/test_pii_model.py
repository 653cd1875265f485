"""PII model tier: a tiny BERT token-classification model with StarPII's label set is built
here (random encoder weights, a tiny WordPiece vocabulary written by the test, no download)
and loaded through the real path (udfs/pii_model.py: AutoTokenizer/AutoModel from a folder,
512-token windows, batched inference, docs/recipe.md §5.1 post-processing). The classifier's bias is
set so that the predicted label is known, which makes the expected spans exact."""
from __future__ import annotations

import string

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from udfs import pii  # noqa: E402
from udfs.pii_model import STARPII_LABELS, ModelDetector, _group_entities, postprocess  # noqa: E402


def build_tiny_model(folder, force_label: str = "O", max_positions: int = 64):
    """Save a tiny BERT token classifier whose every token is predicted as `force_label`."""
    from transformers import BertConfig, BertForTokenClassification, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    letters = string.ascii_lowercase + string.digits
    vocab = (["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list(letters) + [f"##{c}" for c in letters]
             + list(".,:;=\"'()[]{}<>@#/-_*+!?$%&|\\") + ["ada", "love", "##lace", "def", "return"])
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tokenizer = BertTokenizerFast(vocab=str(folder / "vocab.txt"), do_lower_case=True)
    assert tokenizer.vocab_size == len(vocab)  # transformers 5 ignores `vocab_file=`
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=max_positions, num_labels=len(STARPII_LABELS),
                        id2label=dict(enumerate(STARPII_LABELS)),
                        label2id={label: i for i, label in enumerate(STARPII_LABELS)})
    torch.manual_seed(0)
    model = BertForTokenClassification(config)
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.fill_(-10.0)
        model.classifier.bias[STARPII_LABELS.index(force_label)] = 10.0
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def name_model(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("pii-model-name"), "I-NAME")


@pytest.fixture(scope="module")
def o_model(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("pii-model-o"), "O")


def test_loads_from_folder_and_finds_names(name_model):
    det = ModelDetector(str(name_model), types=("NAME",), batch_size=4)
    texts = ["Ada Lovelace", "ada", "x = 1\ny = 2"]
    spans = det.detect_batch(texts)
    # all tokens I-NAME → one entity per window; NAME needs ≥ 2 words, > 3 chars (docs/recipe.md §5.1)
    assert spans[0] == [pii.Span(0, 12, "NAME", "model")]
    assert spans[1] == []  # one word, 3 chars
    assert spans[2] == [pii.Span(0, 11, "NAME", "model")]


def test_all_o_model_finds_nothing(o_model):
    det = ModelDetector(str(o_model))
    assert det.detect_batch(["Ada Lovelace wrote the first program", ""]) == [[], []]


def test_windows_cover_long_texts(name_model):
    # max_position_embeddings 64 → windows of 62 tokens; a long text spans several windows,
    # each window's entity starts where the previous one ended.
    det = ModelDetector(str(name_model), batch_size=2)
    text = " ".join(["ada lovelace"] * 100)
    spans = det.detect_batch([text])[0]
    assert len(spans) > 3
    assert spans[0].start == 0 and spans[-1].end == len(text)
    assert all(a.end <= b.start for a, b in zip(spans, spans[1:]))


def test_usernames_ignored_unless_configured():
    text = "owner: octocat-dev"
    ents = [(7, 18, "USERNAME")]
    assert postprocess(text, ents, ("NAME",)) == []
    assert postprocess(text, ents, ("NAME",), redact_usernames=True) == [pii.Span(7, 18, "USERNAME", "model")]


def test_postprocess_filters():
    text = "Ann Lee | Bob | k = 'abcabcabcabc' | k2 = 'Zq8Lm3Xr0Tn5Vb' | amb-thing"
    ents = [(0, 7, "NAME"), (10, 13, "NAME"), (21, 33, "KEY"), (43, 57, "KEY"), (61, 70, "AMBIGUOUS")]
    got = postprocess(text, ents, ("NAME", "KEY"))
    assert [(s.type, text[s.start:s.end]) for s in got] == [("NAME", "Ann Lee"), ("KEY", "Zq8Lm3Xr0Tn5Vb")]


def test_bio_grouping():
    labels = ["B-NAME", "I-NAME", "O", "B-KEY", "I-KEY", "B-KEY", "I-NAME"]
    offsets = [(0, 3), (4, 7), (8, 9), (10, 12), (12, 15), (16, 18), (19, 22)]
    assert _group_entities(labels, offsets) == [(0, 7, "NAME"), (10, 15, "KEY"), (16, 18, "KEY"), (19, 22, "NAME")]


@pytest.mark.spark
@pytest.mark.slow
def test_stage_with_model_tier(make_ctx, tmp_lake, tmp_path, name_model):
    """The pii stage loads the model in the Python workers when pii.model_path is set."""
    repo = tmp_path / "repos" / "alice__tools"
    repo.mkdir(parents=True)
    (repo / "a.py").write_text("ada lovelace\n")
    (repo / "b.py").write_text('k = "AKIAQWERTYUIOP123456"\n')
    from jobs.stages import ingest, pii as stage
    ingest_ctx = make_ctx(tmp_lake, input=str(tmp_path / "repos"), input_format="repos")
    ingest.run(ingest_ctx)
    from conftest import feed_from_bronze
    feed_from_bronze(ingest_ctx, "pii")
    ctx = make_ctx(tmp_lake, config_overrides={"pii": {"model_path": str(name_model)}})
    result = stage.run(ctx)
    assert result.metrics["model_tier"] == "on"
    found = {(r["detector"], r["type"]) for r in ctx.lake.read("silver/pii_findings").collect()}
    assert ("model", "NAME") in found and ("aws_access_key_id", "KEY") in found
    contents = {r["path"]: r["content"] for r in ctx.lake.read("silver/redacted").collect()}
    assert contents["a.py"] == "<NAME>\n"
