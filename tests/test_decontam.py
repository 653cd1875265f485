"""Benchmark decontamination: loaders for each benchmark format, the Aho–Corasick match,
and the stage on Spark (each benchmark kind, a missing configured file)."""
from __future__ import annotations

import gzip
import json

import pytest
from conftest import feed_from_bronze

from udfs import decontam


def write_jsonl(path, records, gz=False):
    data = "".join(json.dumps(r) + "\n" for r in records).encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


# Fixtures in the layout of each dataset's published files.
MBPP = [
    {"task_id": 3, "text": "Write a python function to identify non-prime numbers.",
     "code": "def is_not_prime(n):\n    return n < 2", "test_list": [], "test_setup_code": "", "challenge_test_list": []},
    {"task_id": 11, "text": "Write a python function to remove first and last occurrence of a given character from the string.",
     "code": "def remove_Occ(s,ch): \r\n    for i in range(len(s)): \r\n        if (s[i] == ch): \r\n            s = s[0 : i] + s[i + 1:] \r\n            break",
     "test_list": ["assert remove_Occ(\"hello\",\"l\") == \"heo\""], "test_setup_code": "", "challenge_test_list": []},
]
APPS = [{"problem_id": 4000, "question": "Polycarp has n dice d_1, d_2, ..., d_n. The i-th dice shows a number from 1 to d_i.",
         "solutions": "[\"print(1)\"]", "input_output": "{}", "difficulty": "interview", "url": "https://x", "starter_code": ""}]
GSM8K = [{"question": "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May.",
          "answer": "Natalia sold 48/2 = 24 clips in May.\n#### 72"},
         {"question": "Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting.",
          "answer": "#### 10"}]
DS1000 = [{"prompt": "Problem:\nI have the following DataFrame with columns Qu1, Qu2 and Qu3.\n"
                     "A:\n<code>\nimport pandas as pd\n</code>\nresult = ... # put solution in this variable\n"
                     "BEGIN SOLUTION\n<code>\n",
           "reference_code": "result = df.where(df.apply(lambda x: x.map(x.value_counts())) >= 2, 'other')",
           "metadata": {"problem_id": 7, "library": "Pandas"}, "code_context": ""}]


def test_humaneval_package_file_is_found_and_generic_solutions_skipped():
    path = decontam.humaneval_data_file()
    assert path is not None and path.name == "HumanEval.jsonl.gz"
    records = decontam.read_jsonl(path)
    assert len(records) == 164
    skipped = [r["task_id"] for r in records if decontam.is_generic_solution(r["task_id"], r["canonical_solution"])]
    assert sorted(skipped) == sorted(decontam.GENERIC_HUMANEVAL_SOLUTIONS)  # exactly the four, all present
    strings = decontam.humaneval_strings(records)
    texts = {s.text for s in strings}
    assert "return x + y" not in texts and "return len(string)" not in texts
    # every non-generic solution is searched, and every prompt contributes a docstring
    assert sum(1 for s in strings if s.text in {r["canonical_solution"].strip() for r in records}) == 160
    assert {s.item_id for s in strings} == {r["task_id"] for r in records}


def test_extract_docstrings_both_quote_styles():
    assert decontam.extract_docstrings('def f():\n    """ Add two.\n    >>> f()\n    """\n') == ["Add two.\n    >>> f()"]
    assert decontam.extract_docstrings("def g():\n    '''Single quoted.'''\n") == ["Single quoted."]


def test_mbpp_only_test_split():
    strings = decontam.mbpp_strings(MBPP)
    assert {s.item_id for s in strings} == {"11"}
    assert len(strings) == 2  # text and code


def test_ds1000_prompt_part_stops_before_solution_marker():
    part = decontam.ds1000_prompt_part(DS1000[0]["prompt"])
    assert part.startswith("Problem:") and part.endswith("# put solution in this variable")
    assert "BEGIN SOLUTION" not in part
    assert decontam.ds1000_prompt_part("abc\n# SOLUTION START\nx = 1") == "abc"


def test_match_is_case_insensitive_and_names_the_item():
    strings = decontam.gsm8k_strings(GSM8K) + decontam.apps_strings(APPS)
    automaton = decontam.build_automaton(decontam.pattern_table(strings))
    content = "# " + GSM8K[1]["question"].upper() + "\nprint(10)\n"
    assert decontam.first_match(automaton, content) == "gsm8k:1"
    assert decontam.first_match(automaton, "x = 1  # " + APPS[0]["question"]) == "apps:4000"
    assert decontam.first_match(automaton, "weng earns $12 an hour") is None  # only a fragment
    assert decontam.first_match(automaton, None) is None


def test_load_benchmarks_reports_missing_files(tmp_path):
    mbpp = write_jsonl(tmp_path / "mbpp.jsonl.gz", MBPP, gz=True)
    report = decontam.load_benchmarks({"mbpp": str(mbpp), "apps": str(tmp_path / "nope.jsonl")})
    assert report.loaded == {"humaneval": report.loaded["humaneval"], "mbpp": 2}
    assert report.loaded["humaneval"] > 300
    assert set(report.missing) == {"apps"} and "nope.jsonl" in report.missing["apps"]
    assert set(report.not_configured) == {"gsm8k", "ds1000"}


# ---- the stage on Spark -----------------------------------------------------------------

def _bronze(spark, lake_ctx, files):
    from pyspark.sql import functions as F

    rows = [{"file_id": f"f{i:03d}", "repo_name": repo, "path": path, "content": content}
            for i, (repo, path, content) in enumerate(files)]
    df = (spark.createDataFrame(rows)
          .withColumn("size_bytes", F.octet_length("content").cast("long"))
          .withColumn("content_sha256", F.sha2("content", 256))
          .withColumn("license", F.lit("mit")).withColumn("stars", F.lit(3).cast("long"))
          .withColumn("source", F.lit("test")).withColumn("run_id", F.lit("seed"))
          .withColumn("ingested_at", F.current_timestamp()))
    lake_ctx.lake.overwrite(df, "bronze/files")
    feed_from_bronze(lake_ctx, "decontaminate")


@pytest.mark.spark
def test_stage_removes_each_benchmark_kind(spark, tmp_lake, tmp_path, make_ctx):
    from jobs.stages import decontaminate

    he = {r["task_id"]: r for r in decontam.read_jsonl(decontam.humaneval_data_file())}
    sol = he["HumanEval/12"]["canonical_solution"]
    doc = decontam.extract_docstrings(he["HumanEval/0"]["prompt"])[0]
    files = [
        ("a/clean", "ok.py", "def add(a, b):\n    return a + b\n"),
        ("a/clean", "generic.py", "def add(x, y):\n    return x + y\n"),  # generic HumanEval/53: kept
        ("b/he", "sol.py", "def longest(strings):\n" + sol),
        ("b/he", "doc.py", 'def f():\n    """' + doc.upper() + '"""\n'),
        ("c/mb", "m.py", MBPP[1]["code"].replace("\r\n", "\r\n") + "\n"),
        ("c/mb", "train_split.py", MBPP[0]["code"] + "\n"),  # task 3 is not in the test split: kept
        ("d/apps", "q.md", "Statement: " + APPS[0]["question"]),
        ("e/gsm", "q.txt", GSM8K[0]["question"]),
        ("f/ds", "p.py", DS1000[0]["prompt"].split("BEGIN SOLUTION")[0]),
    ]
    paths = {
        "mbpp": str(write_jsonl(tmp_path / "mbpp.jsonl", MBPP)),
        "apps": str(write_jsonl(tmp_path / "apps_test.jsonl", APPS)),
        "gsm8k": str(write_jsonl(tmp_path / "gsm8k_test.jsonl", GSM8K)),
        "ds1000": str(write_jsonl(tmp_path / "ds1000.jsonl.gz", DS1000, gz=True)),
    }
    ctx = make_ctx(tmp_lake, run_id="dc1", config_overrides={"decontaminate": {"benchmark_files": paths}})
    _bronze(spark, ctx, files)
    result = decontaminate.run(ctx)

    kept = {r["path"] for r in ctx.lake.read("gold/files").collect()}
    assert kept == {"ok.py", "generic.py", "train_split.py"}
    rej = {r["path"]: (r["reason"], r["detail"]) for r in ctx.lake.read("silver/rejections")
           .filter("stage = 'decontaminate' AND run_id = 'dc1'").collect()}
    assert rej == {
        "sol.py": ("benchmark_match", "humaneval:HumanEval/12"),
        "doc.py": ("benchmark_match", "humaneval:HumanEval/0"),
        "m.py": ("benchmark_match", "mbpp:11"),
        "q.md": ("benchmark_match", "apps:4000"),
        "q.txt": ("benchmark_match", "gsm8k:0"),
        "p.py": ("benchmark_match", "ds1000:7"),
    }
    assert result.rows_in == 9 and result.rows_kept == 3
    assert result.rows_in == result.rows_kept + sum(result.rejected_by_reason.values())
    assert result.metrics["benchmark.gsm8k"].startswith("loaded 2 strings; 1 files matched")


@pytest.mark.spark
def test_stage_warns_about_a_configured_missing_benchmark(spark, tmp_lake, tmp_path, make_ctx, caplog):
    from jobs.stages import decontaminate
    from jobs.core.stage import execute_stage

    missing = str(tmp_path / "gsm8k" / "test.jsonl")
    ctx = make_ctx(tmp_lake, run_id="dc2", config_overrides={"decontaminate": {"benchmark_files": {"gsm8k": missing}}})
    _bronze(spark, ctx, [("a/b", "x.py", "print('hello')\n")])
    execute_stage(ctx, decontaminate.STAGE)
    assert "benchmark gsm8k configured but not loaded" in caplog.text
    assert any(r.levelname == "WARNING" for r in caplog.records if "gsm8k" in r.getMessage())
    metrics = ctx.lake.read("ops/runs").filter("stage = 'decontaminate'").collect()[0]["metrics"]
    assert metrics["benchmark.gsm8k"].startswith("MISSING: data file not found")
    assert "gsm8k" in metrics["warnings"]
    assert metrics["benchmark.apps"] == "not configured"
    assert ctx.lake.read("gold/files").count() == 1


@pytest.mark.spark
def test_sample_corpus_planted_humaneval_file_is_removed(spark, tmp_lake, make_ctx):
    """After ingest alone, decontaminate removes exactly the manifest's planted file(s)."""
    import yaml

    from jobs.stages import decontaminate, ingest
    from tests.conftest import REPO_ROOT, SAMPLE_CORPUS

    manifest = yaml.safe_load((REPO_ROOT / "tests" / "data" / "sample_manifest.yaml").read_text())
    planted = {(r["repo_name"], r["path"]): r["detail"] for r in manifest["rejected"] if r["stage"] == "decontaminate"}
    assert planted  # the manifest plants at least one HumanEval copy
    ctx = make_ctx(tmp_lake, run_id="dc3", input=str(SAMPLE_CORPUS), input_format="repos")
    ingest.run(ctx)
    feed_from_bronze(ctx, "decontaminate")
    result = decontaminate.run(ctx)
    rej = {(r["repo_name"], r["path"]): r["detail"] for r in ctx.lake.read("silver/rejections")
           .filter("stage = 'decontaminate' AND run_id = 'dc3'").collect()}
    assert rej == planted
    assert result.rows_kept == ctx.lake.read("bronze/files").count() - len(planted)


@pytest.mark.spark
def test_the_matcher_runs_once_per_file_when_its_result_is_filtered(spark):
    """The gate's scan (quality_checks/scans.py: remaining_benchmarks) filters on the match: the
    plan must evaluate the matcher once, not once for the filter and again for the column."""
    from jobs.stages.decontaminate import match_udf
    df = spark.createDataFrame([("a", "def f():\n    pass\n"), ("b", "x = 1\n")], "file_id string, content string")
    match = match_udf(spark, [("def f():", "humaneval:HumanEval/0")])
    found = df.select("file_id", match("content").alias("match")).where("match IS NOT NULL")
    plan = found._jdf.queryExecution().executedPlan().toString()
    assert plan.count("EvalPython") == 1, plan
    assert [r["file_id"] for r in found.collect()] == ["a"]
