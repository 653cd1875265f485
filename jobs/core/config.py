"""The pipeline configuration: configs/pipeline.yaml (every default, with its source), a
user's --config file merged over it, built once into frozen dataclasses.

    config = load_config("my.yaml")          # or load_config(overrides={"dedup": {...}})
    config.dedup.threshold                   # typed: float in (0, 1)

Unknown keys, wrong types and values out of range are one-line ConfigErrors naming the key
(and the nearest valid one for a typo). Stages, gates, the DAG files and the commands all
read these objects; none repeats a default.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from jobs.core.errors import ConfigError
from udfs import decontam, licenses, pii
from udfs.heuristics import FilterRules
from udfs.typedconfig import ConfigError as _TypedConfigError
from udfs.typedconfig import bounds, build, choices, deep_merge, load_yaml_file

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = REPO_ROOT / "configs" / "pipeline.yaml"

LICENSE_TYPES = licenses.LICENSE_TYPES
PII_TYPES = pii.TYPES
BENCHMARKS = decontam.BENCHMARKS


@dataclass(frozen=True)
class IngestConfig:
    max_file_bytes: int = field(metadata=bounds(1))


@dataclass(frozen=True)
class SelectConfig:
    language_map: str
    excluded_extensions: tuple[str, ...]
    languages: tuple[str, ...] | None
    permissive_licenses: tuple[str, ...]
    license_policy: tuple[str, ...] = field(metadata=choices(*LICENSE_TYPES))

    def language_map_path(self) -> Path:
        path = Path(self.language_map)
        return path if path.is_absolute() else REPO_ROOT / path


@dataclass(frozen=True)
class DecontaminateConfig:
    humaneval: bool
    benchmark_files: dict[str, str | None]

    def __post_init__(self):
        unknown = sorted(set(self.benchmark_files) - set(BENCHMARKS))
        if unknown:
            raise ValueError(f"benchmark_files: unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")


@dataclass(frozen=True)
class FormatConfig:
    mode: str = field(metadata=choices("file", "repo"))
    seed: int
    file_metadata_prob: float = field(metadata=bounds(0, 1))
    repo_metadata_prob: float = field(metadata=bounds(0, 1))


@dataclass(frozen=True)
class TokenizerConfig:
    vocab_size: int = field(metadata=bounds(300))
    min_frequency: int = field(metadata=bounds(1))
    train_sample_bytes: int = field(metadata=bounds(0))
    dir: str


@dataclass(frozen=True)
class TokenizeConfig:
    seq_len: int = field(metadata=bounds(1))
    seed: int
    last_sequence: str = field(metadata=choices("pad", "drop"))
    train_tokenizer_if_missing: bool


@dataclass(frozen=True)
class DedupConfig:
    threshold: float = field(metadata=bounds(0, 1, lo_open=True, hi_open=True))
    num_perm: int = field(metadata=bounds(1))
    ngram_size: int = field(metadata=bounds(1))
    seed: int
    bands: int | None = field(metadata=bounds(1))
    rows: int | None = field(metadata=bounds(1))
    fp_weight: float = field(metadata=bounds(0))
    fn_weight: float = field(metadata=bounds(0))
    max_tokens_per_file: int = field(metadata=bounds(1))
    verify: bool
    verify_margin: float | None = field(metadata=bounds(0))
    broadcast_max_rows: int = field(metadata=bounds(0))
    reuse_signatures: bool
    max_cc_iterations: int = field(metadata=bounds(1))
    minhash_chunk: int = field(metadata=bounds(1))

    def __post_init__(self):
        if (self.bands is None) != (self.rows is None):
            raise ValueError("bands and rows: set both (a forced LSH layout) or neither (chosen from the threshold)")
        if self.bands is not None and self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands × rows = {self.bands * self.rows} exceeds num_perm = {self.num_perm}")

    @property
    def params(self):
        """The MinHash hash family (udfs.minhash.MinHashParams)."""
        from udfs.minhash import MinHashParams
        return MinHashParams(num_perm=self.num_perm, ngram=self.ngram_size, seed=self.seed,
                             max_tokens=self.max_tokens_per_file)

    def layout(self) -> tuple[int, int]:
        """(bands, rows): forced by the config, or minimising the weighted FP/FN areas."""
        if self.bands is not None:
            return self.bands, self.rows
        from udfs.minhash import optimal_bands
        return optimal_bands(self.threshold, self.num_perm, self.fp_weight, self.fn_weight)


@dataclass(frozen=True)
class PiiConfig:
    entropy_threshold: float = field(metadata=bounds(0))
    model_path: str | None
    model_types: tuple[str, ...] = field(metadata=choices(*PII_TYPES))
    redact_usernames: bool
    model_batch_size: int = field(metadata=bounds(1))
    model_backend: str = field(metadata=choices("transformers", "sparknlp"))
    sparknlp_window_chars: int | None = field(metadata=bounds(1))


@dataclass(frozen=True)
class AirflowConfig:
    schedule: str
    spark_conn_id: str
    retries: int = field(metadata=bounds(0))
    retry_delay_minutes: float = field(metadata=bounds(0))
    stage_timeout_minutes: float = field(metadata=bounds(0, lo_open=True))
    gate_timeout_minutes: float = field(metadata=bounds(0, lo_open=True))
    driver_memory: str
    train_timeout_minutes: float = field(metadata=bounds(0, lo_open=True))


@dataclass(frozen=True)
class QualityConfig:
    gate_after_each_stage: bool
    sample_ids: int = field(metadata=bounds(0))
    column_types: bool
    cache_tables: bool
    pii_rescan_fraction: float = field(metadata=bounds(0.0, 1.0))
    reports_to_lake: bool = True


@dataclass(frozen=True)
class PipelineConfig:
    ingest: IngestConfig
    select: SelectConfig
    filter: FilterRules
    decontaminate: DecontaminateConfig
    format: FormatConfig
    tokenizer: TokenizerConfig
    tokenize: TokenizeConfig
    dedup: DedupConfig
    pii: PiiConfig
    airflow: AirflowConfig
    quality: QualityConfig


def load_config(path: str | Path | None = None, overrides: dict | None = None) -> PipelineConfig:
    """configs/pipeline.yaml, then the file at `path`, then `overrides` (e.g. command-line
    options of a stage), merged mapping by mapping and built into a PipelineConfig."""
    try:
        data = load_yaml_file(DEFAULT_CONFIG)
        source = str(DEFAULT_CONFIG)
        if path:
            data = deep_merge(data, load_yaml_file(Path(path)))
            source = str(path)
    except _TypedConfigError as err:
        raise ConfigError(str(err)) from None
    if overrides:
        data = deep_merge(data, overrides)
        source += " with command-line overrides"
    try:
        return build(PipelineConfig, data)
    except _TypedConfigError as err:
        raise ConfigError(f"config {source}: {err}") from None
