"""The stage registry is the one list: a new stage is one new module and one line in
jobs/stages/__init__.py, and it then appears in the CLI (`codemill <stage>`, `codemill run
--until`, `codemill check`), in the gates (its tables' suites and accounting checks) and in
the curation DAG (a spark-submit task and a gate task), with nothing else edited."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
AIRFLOW_PY = ROOT / ".venv-airflow" / "bin" / "python"

TOY = '''
"""Toy stage: the first line of every gold file, in a table of its own."""
from pyspark.sql.types import StringType, StructField, StructType

from jobs.core.stage import Stage, StageContext, StageResult
from schemas import Table, register

register(Table("gold/first_lines", StructType([StructField("file_id", StringType(), False),
                                               StructField("line", StringType())])))


def run(ctx: StageContext) -> StageResult:
    from pyspark.sql import functions as F
    df = ctx.read_input("gold/files").select("file_id", F.split("content", "\\n")[0].alias("line"))
    n = df.count()
    return StageResult(rows_in=n, rows_kept=n, versions_written={"gold/first_lines": ctx.lake.overwrite(df, "gold/first_lines")})


def add_arguments(parser):
    parser.add_argument("--toy-option", help="an option only this stage has")


STAGE = Stage(name="toy", inputs=("gold/files",), outputs=("gold/first_lines",), run=run,
              help="first lines of the gold files (a toy)", add_arguments=add_arguments)
'''


@pytest.fixture(scope="module")
def toy_checkout(tmp_path_factory):
    """A copy of the project's code with the toy stage added: its module, and one line in the
    registry (plus the import that line needs)."""
    root = tmp_path_factory.mktemp("toy") / "repo"
    for name in ("jobs", "udfs", "schemas", "quality_checks", "trainer", "configs", "airflow_dags"):
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "jobs" / "stages" / "toy.py").write_text(TOY)
    registry = root / "jobs" / "stages" / "__init__.py"
    text = registry.read_text()
    text = text.replace("from jobs.stages import decontaminate,", "from jobs.stages import toy\nfrom jobs.stages import decontaminate,")
    text = text.replace("    tokenize.STAGE,\n)", "    tokenize.STAGE,\n    toy.STAGE,\n)")
    assert "toy.STAGE" in text
    registry.write_text(text)
    return root


def _python(root: Path, code: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(root)}
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_new_stage_appears_in_the_cli_and_the_gates(toy_checkout):
    got = _python(toy_checkout, """
        import contextlib, io, json
        import jobs.cli, jobs.stages
        assert jobs.cli.__file__.startswith(%r), jobs.cli.__file__   # the copy, not the checkout
        from jobs.cli import build_parser
        from jobs.stages import STAGES, get_stage
        from quality_checks.checks import aggregate_checks
        from quality_checks.suites import table_expectations
        from jobs.core.config import load_config
        parser = build_parser()
        help_text = parser.format_help()
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                parser.parse_args(["toy", "--help"])
            except SystemExit:
                pass
        check = parser.parse_args(["check", "toy"])
        run = parser.parse_args(["run", "--until", "toy"])
        toy = get_stage("toy")
        suite = [type(e).__name__ for e in table_expectations("gold/first_lines", load_config())]
        checks = [c.name for c in aggregate_checks(toy.primary, toy)]
        print(json.dumps({"stages": [s.name for s in STAGES], "in_help": "first lines of the gold files" in help_text,
                          "toy_help": out.getvalue(), "check": check.stage, "until": run.until,
                          "gated": list(toy.gated), "suite": suite, "checks": checks}))
    """ % str(toy_checkout))
    assert got["stages"][-1] == "toy" and got["in_help"]
    assert "--toy-option" in got["toy_help"] and "--lake" in got["toy_help"] and "--gate" in got["toy_help"]
    assert got["check"] == "toy" and got["until"] == "toy"
    assert got["gated"] == ["gold/first_lines"]
    assert "ExpectTableColumnsToMatchSet" in got["suite"] and "ExpectColumnValuesToNotBeNull" in got["suite"]
    assert {"row_accounting.ops_runs", "row_accounting.table_count", "row_lineage.vanished"} <= set(got["checks"])


@pytest.mark.skipif(not AIRFLOW_PY.exists(), reason="no Airflow venv: run scripts/setup_airflow.sh")
def test_a_new_stage_appears_in_the_curation_dag(toy_checkout, tmp_path):
    home = tmp_path / "airflow_home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTHON", "VIRTUAL_ENV", "PYSPARK"))}
    env.update({"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
                "CODEMILL_REPO": str(toy_checkout), "CODEMILL_VENV": str(ROOT / ".venv")})
    code = textwrap.dedent("""
        import json, sys
        from airflow.dag_processing.dagbag import DagBag
        bag = DagBag(dag_folder=sys.argv[1])
        dag = bag.dags["codemill_curation"]
        tasks = {t.task_id: {"upstream": sorted(t.upstream_task_ids),
                             "args": getattr(t, "application_args", None)} for t in dag.tasks}
        print(json.dumps({"errors": {k: str(v) for k, v in bag.import_errors.items()}, "tasks": tasks}))
    """)
    proc = subprocess.run([str(AIRFLOW_PY), "-c", code, str(toy_checkout / "airflow_dags")], cwd=home, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["errors"] == {}
    tasks = got["tasks"]
    assert tasks["toy"]["upstream"] == ["gate_tokenize"] and tasks["toy"]["args"][:2] == ["toy", "--no-gate"]
    assert tasks["gate_toy"]["upstream"] == ["toy"]
    assert "gate_toy" in tasks["publish_gold_tokens"]["upstream"]


def test_incremental_flag_takes_an_optional_true_or_false():
    """`--incremental` alone turns it on; `--incremental false` (what the curation DAG passes
    when its `incremental` param is off) leaves it off; anything else is a usage error."""
    from jobs.cli import build_parser
    parser = build_parser()
    assert parser.parse_args(["run", "--incremental", "--input", "x"]).incremental is True
    assert parser.parse_args(["run", "--input", "x"]).incremental is False
    assert parser.parse_args(["dedup", "--incremental", "False"]).incremental is False
    assert parser.parse_args(["ingest", "--input", "x", "--incremental", "true"]).incremental is True
    with pytest.raises(SystemExit):
        parser.parse_args(["select", "--incremental", "maybe"])
