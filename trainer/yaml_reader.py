"""YAML as the trainer reads it (configs/train.yaml, model configs, `--set` values).

PyYAML follows YAML 1.1, where an exponent without a dot (3e-4, 1e-5) is a string: a learning
rate or a layer-norm epsilon written that way would reach torch as a str. This reader takes
such exponents as floats, as YAML 1.2 and Python do.
"""
from __future__ import annotations

import re

import yaml


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$"),
                              list("-+0123456789."))


def read_yaml(text: str):
    return yaml.load(text, Loader=_Loader)
