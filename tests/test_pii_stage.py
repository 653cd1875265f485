"""The pii stage on Spark: redaction, findings, row accounting, no leaks, and the sample corpus."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml

from udfs import pii

DATA = Path(__file__).resolve().parent / "data"
SAMPLE = DATA / "sample_corpus"
PLACEHOLDER_OUT = {"<EMAIL>", "<KEY>", "<PASSWORD>", "<NAME>", *pii.IPV4_REPLACEMENTS, *pii.IPV6_REPLACEMENTS}

# Fake values planted by the leak test (none is a real credential).
PLANTED = {
    "EMAIL": "henrietta.vos@quasar-mail.net",
    "IP_ADDRESS": "145.62.19.77",
    "KEY": "ghp_Zr8Qm2Lk5Xv9Tn3Bw7Yc1Hd6Jf4Gs0Pa8Ue2",
    "PASSWORD": "Velvet7Harbor!42",
    "KEY2": "AKIAZXCVBNMQWERTY123",
}


def _repo(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        f = root / "acme__svc" / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    return root


def _ingest(make_ctx, lake, folder, run_id="test-run"):
    """Ingest `folder`, then hand bronze/files to the pii stage as its input (stages between skipped)."""
    from conftest import feed_from_bronze
    from jobs.stages import ingest
    ctx = make_ctx(lake, run_id=run_id, input=str(folder), input_format="repos")
    ingest.run(ctx)
    feed_from_bronze(ctx, "pii")


@pytest.mark.spark
def test_stage_redacts_and_records_findings(make_ctx, tmp_lake, tmp_path):
    from jobs.stages import pii as stage
    folder = _repo(tmp_path / "in", {
        "app/settings.py": (f'ADMIN = "{PLANTED["EMAIL"]}"\nUPSTREAM = "{PLANTED["IP_ADDRESS"]}"\n'
                            f'AGAIN = "{PLANTED["IP_ADDRESS"]}"\nDNS = "8.8.8.8"\n'),
        "deploy.sh": f'export GH_TOKEN={PLANTED["KEY"]}\nDB_PASSWORD={PLANTED["PASSWORD"]}\n',
        "clean.py": "def f(x):\n    return x @ x.T  # user@example.com 10.0.0.1\n",
    })
    _ingest(make_ctx, tmp_lake, folder, "pii-1")
    ctx = make_ctx(tmp_lake, run_id="pii-1")
    result = stage.run(ctx)
    assert result.rows_in == result.rows_kept == 3 and result.rejected_by_reason == {}

    rows = {r["path"]: r for r in ctx.lake.read("silver/redacted").collect()}
    before = {r["path"]: r for r in ctx.lake.read("bronze/files").collect()}
    s = rows["app/settings.py"]["content"]
    assert PLANTED["EMAIL"] not in s and PLANTED["IP_ADDRESS"] not in s and '"8.8.8.8"' in s
    ip1, ip2 = s.splitlines()[1].split('"')[1], s.splitlines()[2].split('"')[1]
    assert ip1 == ip2 and ip1 in pii.IPV4_REPLACEMENTS  # same value → same replacement in a file
    assert rows["deploy.sh"]["content"] == "export GH_TOKEN=<KEY>\nDB_PASSWORD=<PASSWORD>\n"
    assert rows["clean.py"]["content"] == before["clean.py"]["content"]
    # hashes and sizes describe the redacted content
    import hashlib
    for path, r in rows.items():
        assert r["content_sha256"] == hashlib.sha256(r["content"].encode()).hexdigest()
        assert r["size_bytes"] == len(r["content"].encode())
    assert rows["clean.py"]["content_sha256"] == before["clean.py"]["content_sha256"]

    findings = ctx.lake.read("silver/pii_findings").collect()
    by_file = {}
    for f in findings:
        by_file.setdefault(f["file_id"], []).append(f)
    assert sorted(f["type"] for f in by_file[before["deploy.sh"]["file_id"]]) == ["KEY", "PASSWORD"]
    assert sorted(f["type"] for f in by_file[before["app/settings.py"]["file_id"]]) == ["EMAIL", "IP_ADDRESS",
                                                                                       "IP_ADDRESS"]
    original = before["deploy.sh"]["content"]
    assert {original[f["start"]:f["end"]] for f in by_file[before["deploy.sh"]["file_id"]]} == {
        PLANTED["KEY"], PLANTED["PASSWORD"]}
    assert {f["run_id"] for f in findings} == {"pii-1"}

    # idempotent: a re-run replaces, it does not append
    stage.run(make_ctx(tmp_lake, run_id="pii-1"))
    assert ctx.lake.read("silver/pii_findings").count() == len(findings)
    assert ctx.lake.read("silver/redacted").count() == 3


@pytest.mark.spark
def test_no_planted_value_leaks(make_ctx, tmp_lake, tmp_path, capfd, caplog):
    """Run the stage through execute_stage (which logs and writes ops/runs) with planted values;
    scan stdout/stderr (Python side; the JVM's own stderr is not capturable from here), log
    records, the findings table, ops/runs and silver/redacted for them."""
    from jobs.stages import pii as stage
    from jobs.core.stage import execute_stage
    body = "\n".join([f'contact = "{PLANTED["EMAIL"]}"', f'host = "{PLANTED["IP_ADDRESS"]}"',
                      f'token = "{PLANTED["KEY"]}"', f'password = "{PLANTED["PASSWORD"]}"',
                      f'aws_key = "{PLANTED["KEY2"]}"', ""])
    folder = _repo(tmp_path / "in", {"leaky.py": body, "leaky.yaml": body.replace(" = ", ": ")})
    _ingest(make_ctx, tmp_lake, folder, "leak-run")
    caplog.set_level(logging.DEBUG)
    ctx = make_ctx(tmp_lake, run_id="leak-run")
    execute_stage(ctx, stage.STAGE)

    out, err = capfd.readouterr()
    texts = [out, err, caplog.text]
    for name in ("silver/pii_findings", "ops/runs", "silver/redacted"):
        texts += [str(r.asDict(recursive=True)) for r in ctx.lake.read(name).collect()]
    if ctx.lake.exists("silver/rejections"):
        texts += [str(r.asDict()) for r in ctx.lake.read("silver/rejections").collect()]
    blob = "\n".join(texts)
    assert "leak-run" in blob  # the scan did see the logs and the run record
    for value in PLANTED.values():
        assert value not in blob
    findings = ctx.lake.read("silver/pii_findings").count()
    assert findings == 10  # 5 planted values × 2 files


@pytest.mark.spark
def test_bad_model_path_is_a_user_error(make_ctx, tmp_lake, tmp_path):
    from jobs.stages import pii as stage
    from jobs.core.errors import UserError
    _ingest(make_ctx, tmp_lake, _repo(tmp_path / "in", {"a.py": "x = 1\n"}))
    with pytest.raises(UserError):
        stage.run(make_ctx(tmp_lake, config_overrides={"pii": {"model_path": str(tmp_path / "nope")}}))


# ---- the shared sample corpus ---------------------------------------------------------------
@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.skipif(not (DATA / "sample_manifest.yaml").exists(), reason="sample corpus not present")
def test_sample_corpus_pii_redacted_and_nothing_else_changes(make_ctx, tmp_lake):
    from jobs.stages import ingest
    from jobs.stages import pii as stage
    manifest = yaml.safe_load((DATA / "sample_manifest.yaml").read_text())
    _ingest(make_ctx, tmp_lake, SAMPLE, "sample")
    ctx = make_ctx(tmp_lake, run_id="sample")
    result = stage.run(ctx)  # every ingested file, PII files included
    assert result.rows_in == result.rows_kept and result.rejected_by_reason == {}

    before = {(r["repo_name"], r["path"]): r for r in ctx.lake.read("bronze/files").collect()}
    after = {(r["repo_name"], r["path"]): r for r in ctx.lake.read("silver/redacted").collect()}
    assert before.keys() == after.keys()
    findings = {}
    for f in ctx.lake.read("silver/pii_findings").collect():
        findings.setdefault(f["file_id"], []).append(f)

    planted = {}
    for item in manifest["pii"]:
        key = (item["repo_name"], item["path"])
        planted.setdefault(key, set()).add((item["type"], item["value"]))
        assert item["value"] in before[key]["content"], item
        assert item["value"] not in after[key]["content"], f"planted {item['type']} not redacted in {key}"
    for item in manifest.get("pii_negatives", []):
        key = (item["repo_name"], item["path"])
        if key in after:
            assert item["value"] in after[key]["content"], f"look-alike changed in {key}: {item['why']}"

    for key, row in before.items():
        original, redacted = row["content"], after[key]["content"]
        found = sorted(findings.get(row["file_id"], []), key=lambda f: f["start"])
        # every finding is a planted value of the expected type (no false positives)
        got = {(f["type"], original[f["start"]:f["end"]]) for f in found}
        assert got == planted.get(key, set()), key
        # outside the finding spans the text is unchanged, inside it is a placeholder
        pos, rebuilt = 0, []
        for f in found:
            rebuilt.append(original[pos:f["start"]])
            pos = f["end"]
        rebuilt.append(original[pos:])
        cursor = 0
        for i, piece in enumerate(rebuilt):
            at = redacted.find(piece, cursor) if piece else cursor
            assert at >= 0 and (i > 0 or at == 0), f"unplanned change in {key}"
            if i > 0:
                assert redacted[cursor:at] in PLACEHOLDER_OUT, key
            cursor = at + len(piece)
        assert cursor == len(redacted), key


@pytest.mark.spark
def test_gate_finds_pii_left_in_a_redacted_file(make_ctx, tmp_lake, tmp_path):
    """no_remaining_pii rescans every file the stage redacted (and a sample of the others): a
    key left in a redacted file is found, naming the file, never the value."""
    from pyspark.sql import functions as F

    from jobs.stages import get_stage
    from jobs.stages import pii as stage
    from quality_checks.base import Env
    from quality_checks.scans import remaining_pii
    folder = _repo(tmp_path / "in", {
        "deploy.sh": f'export GH_TOKEN={PLANTED["KEY"]}\n',
        **{f"clean{i}.py": f"def f{i}(x):\n    return x + {i}\n" for i in range(30)},
    })
    _ingest(make_ctx, tmp_lake, folder, "pii-gate")
    ctx = make_ctx(tmp_lake, run_id="pii-gate")
    stage.run(ctx)

    def check(df):
        env = Env(lake=ctx.lake, table_name="silver/redacted", df=df, config=ctx.config,
                  stage=get_stage("pii"), run_id="pii-gate")
        return remaining_pii(env)

    redacted = ctx.lake.read("silver/redacted")
    assert check(redacted).failing == 0
    # The rules run once, on the rescan set only: a deterministic UDF let Spark push the
    # `types IS NOT NULL` filter below the join and sample, scanning every file twice over.
    from quality_checks.scans import pii_hits
    hits, _ = pii_hits(Env(lake=ctx.lake, table_name="silver/redacted", df=redacted, config=ctx.config,
                           stage=get_stage("pii"), run_id="pii-gate"))
    plan = hits._jdf.queryExecution().executedPlan().toString()
    assert plan.count("ArrowEvalPython") == 1, plan
    leaked = F.concat("content", F.lit(f'AWS_KEY = "{PLANTED["KEY2"]}"\n'))
    out = check(redacted.withColumn("content", F.when(F.col("path") == "deploy.sh", leaked).otherwise(F.col("content"))))
    deploy_id = redacted.where("path = 'deploy.sh'").first()["file_id"]
    assert out.failing == 1 and out.samples == [deploy_id]
    assert "every redacted file and 10% of the others" in out.detail and PLANTED["KEY2"] not in out.detail
