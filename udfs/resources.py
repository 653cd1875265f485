"""Reading the project's data files (configs/) both from a checkout and from inside the zip
that `codemill package` builds for spark-submit --py-files: there a module's __file__ is
`.../codemill-0.1.0.zip/udfs/languages.py`, so `configs/x` lies inside the archive."""
from __future__ import annotations

import zipfile
from pathlib import Path


def read_text(path: str | Path) -> str:
    """The file's text; a path through a .zip archive is read from the archive's member.
    Raises FileNotFoundError / OSError as Path.read_text does."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except (NotADirectoryError, FileNotFoundError):
        for archive in path.parents:
            if archive.is_file() and zipfile.is_zipfile(archive):
                member = path.relative_to(archive).as_posix()
                with zipfile.ZipFile(archive) as zf:
                    try:
                        return zf.read(member).decode("utf-8")
                    except KeyError:
                        raise FileNotFoundError(f"{member} not in {archive}") from None
        raise
