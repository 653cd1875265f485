"""`codemill package`: what spark-submit needs on a cluster where codemill is not installed.

* dist/codemill-<version>.zip for `--py-files`: the importable packages (jobs, udfs, schemas,
  quality_checks, trainer) and configs/ as data. Executors import the pandas UDFs' code
  (udfs.*, jobs.*) from it; the driver runs jobs/submit.py.
* With --env: dist/codemill-env-<version>.tar.gz for `--archives`, this virtual environment
  packed by venv-pack (`pip install -e '.[cluster]'`) without codemill's own editable install,
  for clusters whose nodes lack the pinned Python packages.
* The jar coordinates for `--packages` (or the cached jar files for `--jars`) and the
  spark-submit line, printed.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

PACKAGES = ("jobs", "udfs", "schemas", "quality_checks", "trainer")
DATA = ("configs",)
ENV_ALIAS = "environment"


def register(subparsers) -> None:
    p = subparsers.add_parser("package", help="build dist/codemill-<version>.zip for spark-submit --py-files "
                                               "(and a packed environment for --archives) and print the submit line",
                              description=__doc__)
    p.add_argument("--dist", default="dist", help="output folder (default: dist)")
    p.add_argument("--env", action="store_true",
                   help="also pack this virtual environment with venv-pack for --archives (large: includes torch)")
    p.add_argument("--master", default="spark://HOST:7077", help="master shown in the printed spark-submit line")
    p.set_defaults(handler=handle)


def project_root() -> Path:
    from jobs.core.config import REPO_ROOT
    return REPO_ROOT


def project_version(root: Path) -> str:
    import tomllib
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        return tomllib.loads(pyproject.read_text())["project"]["version"]
    from importlib.metadata import version
    return version("codemill")


def build_zip(dist: Path, root: Path | None = None) -> Path:
    """Write dist/codemill-<version>.zip (sources and configs, no bytecode) and return its path.
    The zip is rewritten whole, with fixed timestamps, so the same sources give the same bytes."""
    from jobs.core.errors import UserError
    root = root or project_root()
    missing = [name for name in PACKAGES + DATA if not (root / name).is_dir()]
    if missing:
        raise UserError(f"cannot package: {', '.join(missing)} not found under {root} (run from a codemill checkout)")
    dist.mkdir(parents=True, exist_ok=True)
    target = dist / f"codemill-{project_version(root)}.zip"
    tmp = target.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for top in PACKAGES + DATA:
            for path in sorted((root / top).rglob("*")):
                rel = path.relative_to(root)
                if not path.is_file() or "__pycache__" in rel.parts or path.suffix in (".pyc", ".pyo"):
                    continue
                info = zipfile.ZipInfo(rel.as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                zf.writestr(info, path.read_bytes())
    tmp.replace(target)
    return target


def build_env(dist: Path, version: str) -> Path:
    """Pack this virtual environment with venv-pack, leaving out codemill's editable install
    (its path hook would point executors at this checkout; they get the code from the zip)."""
    import subprocess
    import sys

    from jobs.core.errors import UserError
    if sys.prefix == sys.base_prefix:
        raise UserError("--env packs a virtual environment; run codemill from one (e.g. .venv/bin/codemill)")
    import importlib.util
    if importlib.util.find_spec("venv_pack") is None:
        raise UserError("--env needs venv-pack: pip install -e '.[cluster]'")
    target = dist / f"codemill-env-{version}.tar.gz"
    excludes = ["lib/python*/site-packages/__editable__*", "lib/python*/site-packages/codemill-*.dist-info/*",
                "lib/python*/site-packages/pyspark/conf/spark-defaults.conf"]
    cmd = [sys.executable, "-m", "venv_pack", "-p", sys.prefix, "-o", str(target), "--force"]
    for pattern in excludes:
        cmd += ["--exclude", pattern]
    subprocess.run(cmd, check=True)
    return target


def submit_line(zip_path: Path, master: str, env: Path | None = None) -> str:
    from jobs.core.session import CORE_PACKAGES
    parts = [f"spark-submit --master {master}", f"--packages {','.join(CORE_PACKAGES)}", f"--py-files {zip_path}"]
    if env is not None:
        parts += [f"--archives {env}#{ENV_ALIAS}", f"--conf spark.pyspark.python=./{ENV_ALIAS}/bin/python"]
    parts.append("jobs/submit.py STAGE --input URI --lake URI")
    return " \\\n  ".join(parts)


def handle(args) -> int:
    from jobs.core.session import CORE_PACKAGES, EXCLUDES, NLP_PACKAGES, S3_PACKAGES, cached_jars
    root = project_root()
    dist = Path(args.dist).resolve()
    zip_path = build_zip(dist, root)
    print(f"py-files:  {zip_path} ({zip_path.stat().st_size // 1024} KiB)")
    env = build_env(dist, project_version(root)) if args.env else None
    if env is not None:
        print(f"archives:  {env}#{ENV_ALIAS} ({env.stat().st_size // 2**20} MiB)")
    print(f"packages:  {','.join(CORE_PACKAGES)}")
    print(f"  with the pii stage's sparknlp back-end: {','.join(CORE_PACKAGES + NLP_PACKAGES)} "
          f"--exclude-packages {','.join(EXCLUDES)}")
    print(f"  with the lake or input on S3 (s3a://): {','.join(CORE_PACKAGES + S3_PACKAGES)}")
    jars = cached_jars(False)
    if jars:
        print(f"jars (offline, instead of --packages): {','.join(jars)}")
    print("spark-submit line (the driver runs jobs/submit.py from this checkout):")
    print(submit_line(zip_path, args.master, env))
    return 0
