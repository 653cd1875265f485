"""Document formatting: StarCoder file metadata, StarCoder2 repository documents, structured
Jupyter notebooks (pure functions), and the format stage on Spark."""
from __future__ import annotations

import json

import pytest

from udfs import formatting as fmt


def notebook(cells, language="python"):
    return json.dumps({"cells": cells, "nbformat": 4, "nbformat_minor": 5,
                       "metadata": {"kernelspec": {"name": language + "3", "language": language},
                                    "language_info": {"name": language}}})


def md(text):
    return {"cell_type": "markdown", "metadata": {}, "source": [text]}


def code(src, outputs=()):
    return {"cell_type": "code", "metadata": {}, "execution_count": 1, "source": src, "outputs": list(outputs)}


def stream(text):
    return {"output_type": "stream", "name": "stdout", "text": [text]}


def test_special_tokens_order_and_ids():
    toks = fmt.special_tokens()
    assert toks[:19] == list(fmt.STARCODER_SPECIAL_TOKENS)
    assert toks[0] == "<|endoftext|>" and toks[18] == "<reponame>"
    assert toks[19:21] == ["<repo_name>", "<file_sep>"]
    for t in ("<jupyter_script>", "<NAME>", "<EMAIL>", "<KEY>", "<PASSWORD>", "<pr_diff_hunk_comment_line>"):
        assert t in toks
    assert len(toks) == len(set(toks))


@pytest.mark.parametrize("stars,bucket", [(None, "0"), (0, "0"), (1, "1-10"), (9, "1-10"), (10, "10-100"),
                                          (99, "10-100"), (100, "100-1000"), (999, "100-1000"), (1000, "1000+")])
def test_stars_bucket(stars, bucket):
    assert fmt.stars_bucket(stars) == bucket


def test_file_document_metadata_rates_and_layout():
    n = 4000
    counts = {"<reponame>": 0, "<filename>": 0, "<gh_stars>": 0}
    no_prefix = 0
    for i in range(n):
        doc = fmt.file_document("x = 1\n", "o/r", "a/b.py", 50, fmt.seeded_rng(7, f"file{i}"))
        assert doc.endswith("x = 1\n<|endoftext|>")
        for tok in counts:
            counts[tok] += tok in doc
        if doc == "x = 1\n<|endoftext|>":
            no_prefix += 1
        else:
            head, _, rest = doc.partition("\n")
            assert rest == "x = 1\n<|endoftext|>"  # a newline after the prefix
            order = [head.find(t) for t in counts if t in head]
            assert order == sorted(order)  # reponame, filename, gh_stars in that order
    for tok, c in counts.items():
        assert 0.17 < c / n < 0.23, (tok, c)
    assert 0.47 < no_prefix / n < 0.55  # 0.8 ** 3 = 0.512
    full = fmt.file_document("c", "o/r", "p.py", 1500, _AlwaysRng())
    assert full == "<reponame>o/r<filename>p.py<gh_stars>1000+\nc<|endoftext|>"


class _AlwaysRng:
    def random(self):
        return 0.0


def test_file_document_is_seeded_per_file():
    a = [fmt.file_document("c", "o/r", "p", 3, fmt.seeded_rng(1, f"id{i}")) for i in range(50)]
    b = [fmt.file_document("c", "o/r", "p", 3, fmt.seeded_rng(1, f"id{i}")) for i in range(50)]
    c = [fmt.file_document("c", "o/r", "p", 3, fmt.seeded_rng(2, f"id{i}")) for i in range(50)]
    assert a == b and a != c


def test_repo_document_layouts():
    files = [fmt.RepoFile(f"id{i}", f"src/f{i}.py", f"code{i}\n") for i in range(6)]
    seen_meta = seen_plain = False
    for k in range(40):
        text, order = fmt.repo_document("o/r", list(reversed(files)), fmt.seeded_rng(3, f"repo{k}"))
        assert text.endswith("<|endoftext|>") and sorted(order) == [f.file_id for f in files]
        body = text[: -len("<|endoftext|>")]
        if body.startswith("<repo_name>o/r<file_sep>"):
            seen_meta = True
            parts = body[len("<repo_name>o/r"):].split("<file_sep>")[1:]
            assert [p.split("\n", 1)[0] for p in parts] == [f"src/f{o[2:]}.py" for o in order]
        else:
            seen_plain = True
            assert body.startswith("<file_sep>code") and "src/" not in body
            assert body.split("<file_sep>")[1:] == [f"code{o[2:]}\n" for o in order]
    assert seen_meta and seen_plain
    # input order does not matter, the seed does
    t1 = fmt.repo_document("o/r", files, fmt.seeded_rng(3, "x"))
    t2 = fmt.repo_document("o/r", list(reversed(files)), fmt.seeded_rng(3, "x"))
    assert t1 == t2


def test_strip_structural_tokens_keeps_pii_placeholders():
    text, n = fmt.strip_structural_tokens("a<|endoftext|>b<file_sep>c <EMAIL> <KEY> <reponame>")
    assert text == "abc <EMAIL> <KEY> " and n == 3


def test_jupyter_structured_document():
    long_out = "y" * 1500
    nb = notebook([
        code("import os", [stream("ignored leading code")]),     # leading code group dropped
        md("# Title <b>bold</b>\nline two"),
        md("more text"),
        code("print(1)", [stream("1\n"), stream("second output ignored")]),
        code("x = 2"),                                          # same group: output from last cell
        md("## Next"),
        code("print('y' * 1500)", [stream(long_out)]),
        md("trailing markdown is dropped"),
    ])
    doc = fmt.jupyter_document(nb)
    assert doc == ("<jupyter_start>"
                   "<jupyter_text>Title bold line two more text<jupyter_code>print(1)\nx = 2<jupyter_output><empty_output>"
                   "<jupyter_text>Next<jupyter_code>print('y' * 1500)<jupyter_output>" + "y" * 1000 + "[...]"
                   "<|endoftext|>")


def test_jupyter_output_kinds():
    exec_result = {"output_type": "execute_result", "data": {"text/plain": ["42"]}, "metadata": {}}
    doc = fmt.jupyter_document(notebook([md("m"), code("6*7", [exec_result])]))
    assert "<jupyter_output>42<|endoftext|>" in doc


@pytest.mark.parametrize("raw,why", [
    ("{not json", "not valid JSON"),
    (notebook([md("m"), code("x")], language="julia"), "does not mention Python"),
    (notebook([code("x"), md("only trailing markdown")]), "no markdown/code triplets"),
])
def test_unusable_notebooks_say_why(raw, why):
    with pytest.raises(fmt.NotebookError, match=why):
        fmt.jupyter_document(raw)


# ---- the stage on Spark -----------------------------------------------------------------

def gold_files(spark, ctx, rows):
    """`rows` as gold/files, recorded as the decontaminate stage's output in ctx's run."""
    from pyspark.sql import functions as F

    from jobs.core.stage import adopt_tables
    from jobs.stages import get_stage

    df = (spark.createDataFrame(rows, "file_id string, repo_name string, path string, content string, "
                                      "stars long, language string")
          .withColumn("size_bytes", F.octet_length("content").cast("long"))
          .withColumn("content_sha256", F.sha2("content", 256)).withColumn("run_id", F.lit("seed")))
    ctx.lake.overwrite(df, "gold/files")
    adopt_tables(ctx, get_stage("decontaminate"), ("gold/files",))


@pytest.mark.spark
def test_format_stage_repo_mode_with_notebooks(spark, tmp_lake, make_ctx):
    from jobs.stages import format as format_stage

    good_nb = notebook([md("Load"), code("import pandas as pd", [stream("ok")])])
    rows = [
        ("f1", "o/one", "a.py", "print('a')\n", 5, "python"),
        ("f2", "o/one", "b.py", "print('b')<|endoftext|>\n", 5, "python"),  # special string stripped
        ("f3", "o/one", "c.js", "let c = 1;\n", 5, "javascript"),
        ("f4", "o/two", "x.go", "package x\n", None, "go"),
        ("f5", "o/two", "nb.ipynb", good_nb, None, None),
        ("f6", "o/two", "bad.ipynb", "{", None, None),
    ]
    ctx = make_ctx(tmp_lake, run_id="fm1", config_overrides={"format": {"mode": "repo"}})
    gold_files(spark, ctx, rows)
    result = format_stage.run(ctx)
    docs = {r["doc_id"]: r.asDict() for r in ctx.lake.read("gold/training_docs").collect()}
    assert len(docs) == 3
    by_format = {}
    for d in docs.values():
        by_format.setdefault(d["format"], []).append(d)
        assert d["text"].endswith("<|endoftext|>") and d["text"].count("<|endoftext|>") == 1
    one = next(d for d in by_format["repo"] if d["repo_name"] == "o/one")
    assert sorted(one["file_ids"]) == ["f1", "f2", "f3"] and one["language"] == "python"
    assert one["text"].count("<file_sep>") == 3 and "print('b')\n" in one["text"]
    assert by_format["jupyter"][0]["file_ids"] == ["f5"] and by_format["jupyter"][0]["language"] == "jupyter-structured"
    assert result.rows_in == 6 and result.rows_kept == 5 and result.rejected_by_reason == {"jupyter_unrenderable": 1}
    assert result.metrics["special_token_strings_removed"] == "1"
    rej = ctx.lake.read("silver/rejections").filter("stage = 'format'").collect()
    assert [(r["file_id"], r["detail"]) for r in rej] == [("f6", "notebook is not valid JSON")]
