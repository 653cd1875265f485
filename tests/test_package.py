"""`codemill package`: the zip for spark-submit --py-files holds the packages and configs, and
codemill runs from it alone (no Spark: a Python without codemill imports it from the zip)."""
from __future__ import annotations

import subprocess
import sys
import sysconfig
import zipfile

from jobs.cli import main
from jobs.commands.package import build_zip


def test_zip_holds_the_packages_and_configs_and_no_bytecode(tmp_path):
    names = set(zipfile.ZipFile(build_zip(tmp_path)).namelist())
    assert {"jobs/submit.py", "jobs/stages/select.py", "udfs/languages.py", "schemas/tables.py",
            "quality_checks/gates.py", "trainer/data.py", "configs/pipeline.yaml", "configs/languages.json"} <= names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert build_zip(tmp_path).read_bytes() == build_zip(tmp_path).read_bytes()  # reproducible


def test_codemill_imports_and_reads_its_configs_from_the_zip(tmp_path):
    zip_path = build_zip(tmp_path / "dist")
    site = sysconfig.get_paths()["purelib"]
    code = ("import jobs.core.config as c, udfs.languages as l; assert '.zip' in c.__file__, c.__file__; "
            "cfg = c.load_config(); print(cfg.dedup.threshold, l.load_map(str(cfg.select.language_map_path())).version)")
    # -S and site-packages on PYTHONPATH: the editable install's .pth hook does not run.
    proc = subprocess.run([sys.executable, "-S", "-c", code], cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": f"{zip_path}:{site}", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[1] != "?"


def test_package_command_prints_the_submit_line(tmp_path, capsys):
    assert main(["package", "--dist", str(tmp_path), "--master", "spark://h:7077"]) == 0
    out = capsys.readouterr().out
    assert f"--py-files {tmp_path}/codemill-" in out and "spark-submit --master spark://h:7077" in out
    assert "io.delta:delta-spark_2.12:3.3.2" in out
