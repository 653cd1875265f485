"""The Great Expectations context of one lake: a file context rooted at <lake>/gx whose
Data Docs site is built into <lake>/reports/data_docs.

Suites, validation definitions and checkpoints are (re)defined in code on every gate run
(`add_or_update`), so the YAML/JSON that GX keeps under <lake>/gx is a record, never the
source of truth. Validation results persist there, so Data Docs show every past gate run.
"""
from __future__ import annotations

import os
from pathlib import Path

# No usage statistics leave the machine (GX reads this before building a context).
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

# An ephemeral GX context already owns a `local_site`; ours has its own name.
DOCS_SITE = "codemill_data_docs"
SPARK_SOURCE = "codemill_spark"
PANDAS_SOURCE = "codemill_aggregates"


def gx_name(table_name: str, suffix: str = "") -> str:
    """GX object names cannot hold '/': silver/filtered -> silver.filtered."""
    return table_name.replace("/", ".") + (f".{suffix}" if suffix else "")


def docs_dir(lake_root: Path) -> Path:
    return Path(lake_root) / "reports" / "data_docs"


_preload = None


def preload_gx() -> None:
    """Import Great Expectations in a background thread, so that the first gate of a process
    does not wait for it: the import takes 5-12 s on 2 cores, while the stage before the gate
    spends most of its driver time waiting on Spark. Modules both threads could import
    (numpy, pandas, pyarrow) are imported here first; `get_context` waits for the thread
    before GX is touched, and a failed preload only means the gate imports GX itself."""
    global _preload
    if _preload is not None:
        return
    import threading

    import numpy  # noqa: F401
    import pandas  # noqa: F401
    import pyarrow  # noqa: F401

    def load():
        try:
            import great_expectations  # noqa: F401
            import great_expectations.expectations  # noqa: F401
        except Exception:  # noqa: BLE001 - the gate's own import reports it
            pass

    _preload = threading.Thread(target=load, name="gx-preload", daemon=True)
    _preload.start()


def _wait_preload() -> None:
    if _preload is not None:
        _preload.join()


def get_context(lake_root: Path):
    _wait_preload()
    import great_expectations as gx

    root = Path(lake_root) / "gx"
    root.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(root))
    if DOCS_SITE not in context.get_site_names():
        context.add_data_docs_site(site_name=DOCS_SITE, site_config={
            "class_name": "SiteBuilder",
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                              "base_directory": str(docs_dir(lake_root))},
        })
    # Progress bars would flood the logs of spark-submit and Airflow tasks.
    try:
        from great_expectations.data_context.types.base import ProgressBarsConfig
        context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    except Exception:  # noqa: BLE001 - cosmetic only
        pass
    return context


def _source(context, name: str, kind: str):
    try:
        return context.data_sources.get(name)
    except Exception:  # noqa: BLE001 - GX raises different errors for "not found" across versions
        if kind == "spark":
            return context.data_sources.add_spark(name=name)
        return context.data_sources.add_pandas(name=name)


def batch_definition(context, asset_name: str, kind: str):
    """The whole-DataFrame batch definition of asset `asset_name` on the Spark or pandas source."""
    source = _source(context, SPARK_SOURCE if kind == "spark" else PANDAS_SOURCE, kind)
    try:
        asset = source.get_asset(asset_name)
    except Exception:  # noqa: BLE001
        asset = source.add_dataframe_asset(name=asset_name)
    try:
        return asset.get_batch_definition("whole")
    except Exception:  # noqa: BLE001
        return asset.add_batch_definition_whole_dataframe("whole")


def build_docs(context) -> Path | None:
    context.build_data_docs(site_names=[DOCS_SITE])
    urls = context.get_docs_sites_urls(site_name=DOCS_SITE)
    if urls and urls[0].get("site_url"):
        return Path(urls[0]["site_url"].removeprefix("file://"))
    return None
