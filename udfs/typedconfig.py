"""Typed configuration: YAML mappings into frozen dataclasses, with one-line errors.

The pipeline config (jobs/core/config.py), the filter rules (udfs/heuristics.py) and the
trainer config (trainer/config.py) are frozen dataclasses built by `build` from mappings
read by `read_yaml`. What this gives every one of them:

* types: a field annotated `int`, `float`, `bool`, `str`, `X | None`, `tuple[X, ...]`,
  `dict[str, X]` or another dataclass is checked (and lists become tuples), so a string
  never reaches torch as a learning rate;
* ranges: `field(metadata=bounds(lo, hi))`, checked on build;
* unknown keys: an error naming the key and the nearest valid one (`dedup.treshold: unknown
  key; did you mean 'threshold'?`);
* missing keys: an error naming them — defaults live in the config files
  (configs/pipeline.yaml, configs/train.yaml), next to their sources, not in code.

A dataclass may instead define `from_mapping(cls, data, where)` to build itself (the filter
rules do: per-extension entries are partial overrides of the defaults); `build` calls it.

Pure Python (PyYAML only): importable by the stages, the quality gates, the trainer and the
Airflow DAG files alike.
"""
from __future__ import annotations

import copy
import dataclasses
import difflib
import re
import types
import typing
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A config file or override that is missing, unreadable or malformed (one line)."""


# ---- YAML -------------------------------------------------------------------------------

class _Loader(yaml.SafeLoader):
    """PyYAML follows YAML 1.1, where an exponent without a dot (3e-4, 1e-5) is a string:
    this loader reads such exponents as floats, as YAML 1.2 and Python do."""


_Loader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$"),
                              list("-+0123456789."))


def read_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)


def load_yaml_file(path: str | Path) -> dict:
    """A YAML file that must hold a mapping at its top (an empty file is {})."""
    from udfs.resources import read_text
    path = Path(path)
    try:
        data = read_yaml(read_text(path))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except OSError as err:
        raise ConfigError(f"cannot read config {path}: {err.strerror}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"config {path} is not valid YAML{where}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config {path} must be a mapping at the top level")
    return data


def deep_merge(base: dict, override: dict) -> dict:
    """`override` over `base`, mapping by mapping (a value that is not a mapping replaces)."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def parse_sets(sets: list[str]) -> dict:
    """`--set a.b=value` overrides → a nested mapping; each value is read as YAML
    (`--set train.steps=20`, `--set optim.betas=[0.9,0.95]`, `--set data.version=null`)."""
    out: dict = {}
    for item in sets:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE")
        key, raw = item.split("=", 1)
        parts = key.strip().split(".")
        if not all(parts):
            raise ConfigError(f"--set {item!r}: empty key part")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {item!r}: {part} is set twice")
        node[parts[-1]] = read_yaml(raw) if raw.strip() else ""
    return out


# ---- dataclasses ----------------------------------------------------------------------------

def bounds(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False, hi_open: bool = False) -> dict:
    """Field metadata: the value (when not None) must lie in [lo, hi] (open ends when asked)."""
    return {"bounds": (lo, hi, lo_open, hi_open)}


def choices(*values) -> dict:
    """Field metadata: the value, or every item of a tuple value, must be one of `values`."""
    return {"choices": tuple(values)}


def nearest(key: str, valid) -> str:
    """'; did you mean X?' for the valid name closest to `key`, or ''."""
    close = difflib.get_close_matches(str(key), [str(v) for v in valid], n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def check_keys(data: dict, valid, where: str) -> None:
    """Refuse keys of `data` that are not in `valid`, naming the nearest valid one."""
    for key in data:
        if key not in valid:
            hint = nearest(key, valid) or f" (valid: {', '.join(sorted(map(str, valid)))})"
            raise ConfigError(f"{_join(where, key)}: unknown key{hint}")


def build(cls, data: Any, where: str = ""):
    """An instance of dataclass `cls` from the mapping `data` (see the module docstring)."""
    if hasattr(cls, "from_mapping"):
        try:
            return cls.from_mapping(data, where)
        except ConfigError:
            raise
        except (TypeError, ValueError) as err:
            raise ConfigError(f"{where or cls.__name__}: {err}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{where or cls.__name__}: expected a mapping, got {_kind(data)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    check_keys(data, fields, where)
    hints = typing.get_type_hints(cls)
    values = {}
    for name, f in fields.items():
        path = _join(where, name)
        if name in data:
            values[name] = _convert(hints[name], data[name], path)
            _check_metadata(f, values[name], path)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{path}: missing (every key needs a value; defaults are in the config file)")
    try:
        return cls(**values)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{where or cls.__name__}: {err}") from None


def to_mapping(obj) -> Any:
    """The plain-data form of a built config (tuples as lists), e.g. for a run record."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_mapping(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {k: to_mapping(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_mapping(v) for v in obj]
    return obj


def _join(where: str, key) -> str:
    return f"{where}.{key}" if where else str(key)


def _kind(value) -> str:
    return "null" if value is None else type(value).__name__


def _convert(hint, value, path: str):
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        errors = []
        for option in options:
            try:
                return _convert(option, value, path)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0] if len(errors) == 1 else
                          f"{path}: expected {' or '.join(_name(o) for o in options)}, got {_kind(value)} {value!r}")
    if hint is Any:
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: expected a list, got {_kind(value)} {value!r}")
        item = args[0] if args else Any
        return tuple(_convert(item, v, f"{path}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping, got {_kind(value)}")
        key_t, val_t = args or (str, Any)
        return {_convert(key_t, k, path): _convert(val_t, v, _join(path, k)) for k, v in value.items()}
    if dataclasses.is_dataclass(hint):
        return build(hint, value, path)
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif hint is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)  # a version or name that YAML read as a number (e.g. extension "y": yes)
    else:
        raise TypeError(f"unsupported config type {hint!r} at {path}")
    raise ConfigError(f"{path}: expected {_name(hint)}, got {_kind(value)} {value!r}")


def _name(hint) -> str:
    return getattr(hint, "__name__", str(hint))


def _check_metadata(f: dataclasses.Field, value, path: str) -> None:
    if "bounds" in f.metadata and value is not None:
        lo, hi, lo_open, hi_open = f.metadata["bounds"]
        below = lo is not None and (value <= lo if lo_open else value < lo)
        above = hi is not None and (value >= hi if hi_open else value > hi)
        if below or above:
            left, right = ("(" if lo_open else "["), (")" if hi_open else "]")
            raise ConfigError(f"{path}: {value!r} is outside {left}{'-inf' if lo is None else lo}, "
                              f"{'inf' if hi is None else hi}{right}")
    if "choices" in f.metadata and value is not None:
        allowed = f.metadata["choices"]
        for item in (value if isinstance(value, tuple) else (value,)):
            if item not in allowed:
                raise ConfigError(f"{path}: {item!r} is not one of {', '.join(map(str, allowed))}"
                                  f"{nearest(item, allowed)}")
