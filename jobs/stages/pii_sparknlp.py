"""PII model tier through Spark NLP: the same Hugging Face BERT token classifier as
udfs/pii_model.py, exported to ONNX and imported with Spark NLP 5.5.3's
`BertForTokenClassification.loadSavedModel`, so inference runs in the JVM (onnxruntime) and
not in Python workers.

No Spark import at module level: `export_for_sparknlp` needs only torch/transformers/onnx,
and `sparknlp_entities` imports Spark NLP when it is called.

What Spark NLP 5.5.3 reads from the folder given to `loadSavedModel` (ONNX engine; checked
in the spark-nlp jar and its Scala sources, BertForTokenClassification/BertClassification):
  model.onnx        inputs `input_ids`, `attention_mask`, `token_type_ids` (int64,
                    [batch, sequence]); output `logits` ([batch, sequence, labels]).
  assets/vocab.txt  WordPiece vocabulary, one token a line, line number = token id.
  assets/labels.txt label names, one a line, line number = class id.
It tokenizes with its own Tokenizer + WordPiece encoder (not the Hugging Face tokenizer), so
`caseSensitive` must be set from the Hugging Face tokenizer's `do_lower_case`; we keep that
in codemill_export.json next to the model.

Long inputs: Spark NLP gives BertForTokenClassification one sentence per document here
(no sentence detector: code has no sentences) and TRUNCATES each sentence at
maxSentenceLength word pieces; tokens past the cut get no label at all. Spark NLP's own
DocumentCharacterTextSplitter cannot window for it: it locates each chunk with a text search,
so repeated lines (common in code) get the offsets of their first occurrence, and all chunks
of a row share sentence index 0, so the classifier sees them as one sentence again.
`_window_rows` therefore cuts the content into windows in Spark SQL (JVM, no Python), each
window a row; offsets are mapped back to the file afterwards.

Offsets: Spark NLP annotations are Java String indices (UTF-16 units) with an INCLUSIVE end;
codemill spans are Python code-point indices with an exclusive end. `_to_code_points`
converts (only rows holding characters outside the BMP need it).

Session requirements (jobs/session.py): the pure-Java TensorFlow API jars (TENSORFLOW_API)
must be on the classpath even for ONNX, or tasks fail to serialize with NoClassDefFoundError
org/tensorflow/ndarray/buffer/IntDataBuffer. Spark NLP's onnxruntime uses 6 intra-op threads
per task unless `spark.jsl.settings.onnx.intraOpNumThreads` is set when the session starts;
on a small machine that oversubscribes the cores badly (benchmarks/pii_model_backends.py).
"""
from __future__ import annotations

import json
from pathlib import Path

ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")  # names BertClassification feeds
ONNX_OUTPUT = "logits"                                           # name BertClassification reads
EXPORT_META = "codemill_export.json"
# onnxruntime 1.19.2 (the Java runtime Spark NLP 5.5.3 ships) reads opsets up to 21 and
# IR versions up to 10; 14 is the lowest opset with everything BERT needs exported natively.
ONNX_OPSET = 14
MAX_ONNX_IR_VERSION = 10


def _logits_module(model):
    """Wrap the classifier so the traced graph has one plain tensor output (`logits`),
    whatever ModelOutput / return_dict handling this transformers version does."""
    import torch

    class LogitsOnly(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).logits

    return LogitsOnly(model).eval()


def _write_assets(tokenizer, id2label: dict[int, str], assets: Path) -> None:
    """vocab.txt and labels.txt in id order: Spark NLP maps line number → id."""
    assets.mkdir(parents=True, exist_ok=True)
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])
    if [i for _, i in vocab] != list(range(len(vocab))):
        raise ValueError("tokenizer vocabulary ids are not contiguous; Spark NLP needs line number = id")
    (assets / "vocab.txt").write_text("".join(f"{tok}\n" for tok, _ in vocab), encoding="utf-8")
    labels = [id2label[i] for i in range(len(id2label))]
    (assets / "labels.txt").write_text("".join(f"{label}\n" for label in labels), encoding="utf-8")


def _check_wordpiece(tokenizer) -> None:
    """Spark NLP's BertForTokenClassification always re-tokenizes with WordPiece over
    vocab.txt; a model whose tokenizer is BPE (e.g. a StarEncoder-based one) would be fed
    wrong ids without any error, so refuse it here."""
    model = getattr(getattr(tokenizer, "backend_tokenizer", None), "model", None)
    if type(model).__name__ != "WordPiece":
        raise ValueError(f"Spark NLP's BertForTokenClassification needs a WordPiece tokenizer, "
                         f"this model's is {type(model).__name__}")


def _lowercases(tokenizer) -> bool:
    """Whether the Hugging Face tokenizer lowercases (uncased BERT): Spark NLP must then run
    with caseSensitive=False, or every capitalised word piece becomes [UNK]."""
    if hasattr(tokenizer, "do_lower_case"):
        return bool(tokenizer.do_lower_case)
    normalizer = getattr(getattr(tokenizer, "backend_tokenizer", None), "normalizer", None)
    return bool(normalizer and "lowercase" in json.dumps(json.loads(normalizer.__getstate__())).lower())


def export_for_sparknlp(hf_folder: str | Path, out_folder: str | Path) -> Path:
    """Export a Hugging Face BertForTokenClassification folder to the layout Spark NLP's
    `BertForTokenClassification.loadSavedModel(out_folder, spark)` loads with ONNX."""
    import onnx  # noqa: F401  (torch.onnx.export needs it; fail before the model is loaded)
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    hf_folder, out = Path(hf_folder), Path(out_folder)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(hf_folder)
    _check_wordpiece(tokenizer)
    # eager attention: the SDPA kernel path traces into ops the legacy exporter handles less well
    model = AutoModelForTokenClassification.from_pretrained(hf_folder, attn_implementation="eager").eval()
    id2label = {int(k): v for k, v in model.config.id2label.items()}

    dummy = tokenizer(["a b", "c"], padding=True, return_tensors="pt", return_token_type_ids=True)
    args = tuple(dummy[name] for name in ONNX_INPUTS)
    dynamic = {name: {0: "batch", 1: "sequence"} for name in ONNX_INPUTS}
    dynamic[ONNX_OUTPUT] = {0: "batch", 1: "sequence"}
    onnx_path = out / "model.onnx"
    with torch.no_grad():
        torch.onnx.export(_logits_module(model), args, str(onnx_path), input_names=list(ONNX_INPUTS),
                          output_names=[ONNX_OUTPUT], dynamic_axes=dynamic, opset_version=ONNX_OPSET,
                          dynamo=False)
    _cap_ir_version(onnx_path)

    _write_assets(tokenizer, id2label, out / "assets")
    meta = {"case_sensitive": not _lowercases(tokenizer), "source": str(hf_folder),
            "max_positions": int(getattr(model.config, "max_position_embeddings", 512))}
    (out / EXPORT_META).write_text(json.dumps(meta, indent=2) + "\n")
    return out


def _cap_ir_version(onnx_path: Path) -> None:
    """A newer onnx writer may stamp an IR version the JVM's onnxruntime refuses."""
    import onnx

    proto = onnx.load(str(onnx_path))
    onnx.checker.check_model(proto)
    if proto.ir_version > MAX_ONNX_IR_VERSION:
        proto.ir_version = MAX_ONNX_IR_VERSION
        onnx.save(proto, str(onnx_path))


def export_meta(model_folder: str | Path) -> dict:
    path = Path(model_folder) / EXPORT_META
    return json.loads(path.read_text()) if path.exists() else {"case_sensitive": True, "max_positions": 512}


# --- Spark NLP side --------------------------------------------------------------------

def _window_rows(df, window_chars: int):
    """(file_id, win_start, text) rows: the content cut into consecutive windows of at most
    `window_chars` code points, at a line end where one is in reach, else at a space, else
    anywhere. A word piece spans at least one non-space character, so a window of
    maxSentenceLength - 2 characters can never be truncated by the classifier."""
    from pyspark.sql import functions as F

    n = int(window_chars)
    # alternatives tried in order; every match takes >= 1 character, so matches tile the text
    pattern = f"(?s).{{1,{n}}}(?=\\n|\\z)|.{{1,{n}}}(?=\\s)|.{{1,{n}}}"
    pieces = F.regexp_extract_all(F.coalesce("content", F.lit("")), F.lit(pattern), F.lit(0))
    # one pass over the pieces: a window starts where the previous one ended (length() counts
    # code points, like Python's str indices)
    empty = F.array().cast("array<struct<win_start:int,text:string>>")
    windows = F.aggregate(
        pieces, F.struct(empty.alias("wins"), F.lit(0).alias("pos")),
        lambda acc, w: F.struct(
            F.concat(acc["wins"], F.array(F.struct(acc["pos"].alias("win_start"), w.alias("text")))).alias("wins"),
            (acc["pos"] + F.length(w)).alias("pos")),
        lambda acc: acc["wins"])
    return (df.select("file_id", F.explode(windows).alias("w"))
            .select("file_id", F.col("w.win_start").alias("win_start"), F.col("w.text").alias("text")))


def _pipeline(spark, model_folder: str | Path, batch_size: int, max_tokens: int):
    """DocumentAssembler → Tokenizer → BertForTokenClassification (ONNX) → NerConverter,
    fitted. Only the Tokenizer is an estimator, and it learns nothing from data: fit it on an
    empty frame so that fitting never reads the input."""
    from pyspark.ml import Pipeline
    from sparknlp.annotator import BertForTokenClassification, NerConverter, Tokenizer
    from sparknlp.base import DocumentAssembler

    meta = export_meta(model_folder)
    classifier = (BertForTokenClassification.loadSavedModel(str(model_folder), spark)
                  .setInputCols(["document", "token"]).setOutputCol("ner")
                  .setCaseSensitive(bool(meta["case_sensitive"]))
                  .setMaxSentenceLength(min(int(max_tokens), int(meta["max_positions"]), 512))
                  .setBatchSize(int(batch_size)))
    return Pipeline(stages=[
        DocumentAssembler().setInputCol("text").setOutputCol("document"),
        Tokenizer().setInputCols(["document"]).setOutputCol("token"),
        classifier,
        NerConverter().setInputCols(["document", "token", "ner"]).setOutputCol("entities"),
    ]).fit(spark.createDataFrame([], "text string"))


def _only_bmp(text_col):
    """True when no character of the text needs a surrogate pair (2 bytes each in UTF-16):
    then Java indices and code-point indices agree, which is almost always."""
    from pyspark.sql import functions as F

    return F.octet_length(F.encode(text_col, "UTF-16BE")) == F.length(text_col) * 2


def _to_code_points(text_col, only_bmp, utf16_index):
    """Java (UTF-16) index into `text_col` → code-point index (the length of the prefix)."""
    from pyspark.sql import functions as F

    prefix = F.decode(F.encode(text_col, "UTF-16BE").substr(F.lit(1), utf16_index * 2), "UTF-16BE")
    return F.when(only_bmp, utf16_index).otherwise(F.length(prefix))


def annotate_windows(spark, df, model_folder: str | Path, window_chars: int | None = None,
                     batch_size: int = 16, max_tokens: int = 512):
    """Window rows of `df` (file_id, content) with the model's raw entities as an array of
    (start, end, type) structs: code-point offsets into the window text, end exclusive."""
    from pyspark.sql import functions as F

    max_tokens = min(int(max_tokens), int(export_meta(model_folder)["max_positions"]), 512)
    windows = _window_rows(df, window_chars or max_tokens - 2)  # [CLS] and [SEP] take 2
    annotated = (_pipeline(spark, model_folder, batch_size, max_tokens).transform(windows)
                 .withColumn("only_bmp", _only_bmp(F.col("text"))))
    text, only_bmp = F.col("text"), F.col("only_bmp")
    ents = F.transform("entities", lambda e: F.struct(
        _to_code_points(text, only_bmp, e["begin"]).alias("start"),
        _to_code_points(text, only_bmp, e["end"] + 1).alias("end"),  # NerConverter's end is inclusive
        e["metadata"]["entity"].alias("type")))
    return annotated.select("file_id", "win_start", "text", ents.alias("ents"))


def sparknlp_entities(spark, df, model_folder: str | Path, window_chars: int | None = None,
                      batch_size: int = 16, max_tokens: int = 512):
    """Raw model entities (file_id, start, end, type) found by Spark NLP in `df`'s `content`,
    as code-point offsets into the content with an exclusive end (what codemill spans use).
    Not yet filtered: `postprocess_windows` applies udfs.pii_model.postprocess."""
    from pyspark.sql import functions as F

    windows = annotate_windows(spark, df, model_folder, window_chars, batch_size, max_tokens)
    return (windows.select("file_id", "win_start", F.explode("ents").alias("e"))
            .select("file_id", (F.col("win_start") + F.col("e.start")).alias("start"),
                    (F.col("win_start") + F.col("e.end")).alias("end"), F.col("e.type").alias("type")))


def postprocess_windows(windows, types=("NAME",), redact_usernames: bool = False):
    """docs/recipe.md §5.1 filters (udfs.pii_model.postprocess, the transformers path's own) on the
    output of `annotate_windows`, in a mapInArrow over the window rows: no join back to the
    files is needed because an entity never crosses a window. Returns (file_id, start, end,
    type) of kept spans, offsets into the file content."""
    types, usernames = tuple(types), bool(redact_usernames)

    def apply(batches):
        import pyarrow as pa

        from udfs.pii_model import postprocess
        for batch in batches:
            rows = batch.to_pylist()
            out = {"file_id": [], "start": [], "end": [], "type": []}
            for row in rows:
                ents = [(e["start"], e["end"], e["type"]) for e in row["ents"] or []]
                for span in postprocess(row["text"] or "", ents, types, usernames):
                    out["file_id"].append(row["file_id"])
                    out["start"].append(row["win_start"] + span.start)
                    out["end"].append(row["win_start"] + span.end)
                    out["type"].append(span.type)
            yield pa.RecordBatch.from_pydict(out, schema=pa.schema([
                ("file_id", pa.string()), ("start", pa.int32()), ("end", pa.int32()), ("type", pa.string())]))

    return windows.mapInArrow(apply, "file_id string, start int, end int, type string")


def sparknlp_spans(spark, df, model_folder: str | Path, types=("NAME",), redact_usernames: bool = False,
                   window_chars: int | None = None, batch_size: int = 16, max_tokens: int = 512):
    """The Spark NLP tier end to end: post-processed spans (file_id, start, end, type), the
    same filters as ModelDetector.detect_batch applies."""
    windows = annotate_windows(spark, df, model_folder, window_chars, batch_size, max_tokens)
    return postprocess_windows(windows, types, redact_usernames)
