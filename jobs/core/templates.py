"""HTML pages from jinja2 templates: the run report (quality_checks/templates/) and the
inspection report (jobs/tools/templates/). Autoescaping is on, so every value a template
prints is HTML-escaped unless marked safe; an undefined name is an error, not an empty string.

    from jobs.core.templates import render
    page = render(Path(__file__).parent / "templates", "run_report.html.j2", run_id=..., sections=...)
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=None)
def _environment(folder: str):
    import jinja2
    return jinja2.Environment(loader=jinja2.FileSystemLoader(folder), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                              keep_trailing_newline=True)


def render(folder: str | Path, name: str, **values) -> str:
    """Template `name` of `folder`, rendered with `values`."""
    return _environment(str(folder)).get_template(name).render(**values)
