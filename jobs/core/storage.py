"""Where the lake and the input live: a local folder or a URI on a Hadoop/Arrow filesystem.

`Location` names a folder or file as a local path, `file://...`, `s3a://` / `s3://` (S3 and
S3-compatible stores), `hdfs://`, `abfss://` or `gs://`. One string serves every reader:

* Spark (Hadoop filesystems): `s3a://` natively; `s3://` is mapped to the same S3A filesystem
  (jobs/core/session.py, `object_store_conf`).
* delta-rs (the driver-side checks, `ops/*` tables, the trainer): reads `s3://` and `s3a://`
  alike, with credentials from the standard `AWS_*` environment variables.
* pyarrow.fs (input listing, small files such as the lock): `s3://`; a `s3a://` URI is
  rewritten for it here.

Credentials are never part of a Location and never printed: Spark, delta-rs and pyarrow all
take them from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (or an instance profile), and the
endpoint of an S3-compatible store from `AWS_ENDPOINT_URL` (docs/cluster.md).

For a local path every method is the `pathlib` one, so a local lake behaves exactly as before.
"""
from __future__ import annotations

import os
from pathlib import Path

from jobs.core.errors import UserError

REMOTE_SCHEMES = ("s3a", "s3", "hdfs", "abfss", "abfs", "gs", "wasbs")
S3_SCHEMES = ("s3a", "s3")


def is_remote(where) -> bool:
    text = str(where)
    return "://" in text and not text.startswith("file://")


def scheme_of(where) -> str:
    text = str(where)
    return text.split("://", 1)[0].lower() if "://" in text else "file"


class Location:
    """A local path or a filesystem URI, with the few path operations codemill needs."""

    __slots__ = ("uri",)

    def __init__(self, where: "str | os.PathLike | Location"):
        if isinstance(where, Location):
            self.uri = where.uri
            return
        text = os.fspath(where) if isinstance(where, os.PathLike) else str(where)
        if not text:
            raise UserError("empty path")
        if text.startswith("file://"):
            from urllib.parse import unquote
            text = unquote(text[len("file://"):]) or "/"
        if "://" in text:
            scheme = scheme_of(text)
            if scheme not in REMOTE_SCHEMES:
                raise UserError(f"unsupported filesystem {scheme}:// in {text}: codemill reads local paths, "
                                f"file://, {', '.join(s + '://' for s in REMOTE_SCHEMES)}")
            rest = text.split("://", 1)[1].strip("/")
            if not rest:
                raise UserError(f"{scheme}:// with no bucket or host")
            if "@" in rest.split("/", 1)[0]:
                # Not echoed: the text holds a secret. Paths reach logs, ops/runs and reports.
                raise UserError(f"a {scheme}:// path with credentials in it is refused: give them in the environment "
                                "(AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or the store's own variables)")
            self.uri = f"{scheme}://{rest}"
        else:
            self.uri = str(Path(text).expanduser().resolve())

    # ---- naming ---------------------------------------------------------------------------
    @property
    def is_local(self) -> bool:
        return "://" not in self.uri

    @property
    def scheme(self) -> str:
        return scheme_of(self.uri)

    @property
    def is_s3(self) -> bool:
        return self.scheme in S3_SCHEMES

    @property
    def local(self) -> Path:
        """The local path (UserError for a remote location: the caller needs a local folder)."""
        if not self.is_local:
            raise UserError(f"{self.uri} is not on the local disk: this needs a local folder")
        return Path(self.uri)

    @property
    def name(self) -> str:
        return self.uri.rstrip("/").rsplit("/", 1)[-1]

    @property
    def parent(self) -> "Location":
        if self.is_local:
            return Location(Path(self.uri).parent)
        head, _, _ = self.uri.partition("://")[2].rpartition("/")
        return Location(f"{self.scheme}://{head}") if head else self

    def __truediv__(self, part: str) -> "Location":
        part = str(part).strip("/")
        if self.is_local:
            return Location(Path(self.uri) / part)
        return Location(f"{self.uri}/{part}")

    def __str__(self) -> str:
        return self.uri

    def __repr__(self) -> str:
        return f"Location({self.uri!r})"

    def __fspath__(self) -> str:
        return str(self.local)

    def __eq__(self, other) -> bool:
        if isinstance(other, (Location, str, os.PathLike)):
            try:
                return self.uri == Location(other).uri
            except UserError:
                return False
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.uri)

    @property
    def arrow_uri(self) -> str:
        """The URI pyarrow and delta-rs open: file:// for a local path, and S3 as s3:// (they
        do not know Hadoop's s3a://)."""
        if self.is_local:
            return Path(self.uri).as_uri()
        return "s3://" + self.uri.split("://", 1)[1] if self.is_s3 else self.uri

    # ---- filesystem -----------------------------------------------------------------------
    def arrow(self):
        """(pyarrow filesystem, path in it)."""
        from pyarrow import fs as pafs
        if self.is_local:
            return pafs.LocalFileSystem(), self.uri
        return pafs.FileSystem.from_uri(self.arrow_uri)

    def _info(self):
        filesystem, path = self.arrow()
        return filesystem.get_file_info(path)

    def exists(self) -> bool:
        if self.is_local:
            return Path(self.uri).exists()
        from pyarrow import fs as pafs
        return self._info().type != pafs.FileType.NotFound

    def is_dir(self) -> bool:
        if self.is_local:
            return Path(self.uri).is_dir()
        from pyarrow import fs as pafs
        return self._info().type == pafs.FileType.Directory

    def is_file(self) -> bool:
        if self.is_local:
            return Path(self.uri).is_file()
        from pyarrow import fs as pafs
        return self._info().type == pafs.FileType.File

    def iterdir(self):
        if self.is_local:
            return [Location(p) for p in sorted(Path(self.uri).iterdir())]
        from pyarrow import fs as pafs
        filesystem, path = self.arrow()
        return [self / info.base_name for info in
                sorted(filesystem.get_file_info(pafs.FileSelector(path)), key=lambda i: i.base_name)]

    def mkdir(self, parents: bool = True, exist_ok: bool = True) -> None:
        if self.is_local:
            Path(self.uri).mkdir(parents=parents, exist_ok=exist_ok)
        # An object store has no folders: a key's prefix exists once a key is written under it.

    def read_bytes(self) -> bytes:
        if self.is_local:
            return Path(self.uri).read_bytes()
        filesystem, path = self.arrow()
        with filesystem.open_input_stream(path) as stream:
            return stream.read()

    def read_text(self, encoding: str = "utf-8") -> str:
        return self.read_bytes().decode(encoding)

    def write_bytes(self, data: bytes) -> None:
        if self.is_local:
            Path(self.uri).write_bytes(data)
            return
        filesystem, path = self.arrow()
        with filesystem.open_output_stream(path) as stream:
            stream.write(data)

    def write_text(self, text: str, encoding: str = "utf-8") -> None:
        self.write_bytes(text.encode(encoding))

    def unlink(self, missing_ok: bool = True) -> None:
        if self.is_local:
            Path(self.uri).unlink(missing_ok=missing_ok)
            return
        filesystem, path = self.arrow()
        try:
            filesystem.delete_file(path)
        except FileNotFoundError:
            if not missing_ok:
                raise

    def rmtree(self) -> None:
        """Remove the folder and everything under it (nothing when it does not exist)."""
        if self.is_local:
            import shutil
            shutil.rmtree(self.uri, ignore_errors=True)
            return
        filesystem, path = self.arrow()
        try:
            filesystem.delete_dir(path)
        except FileNotFoundError:
            pass

    def upload(self, folder: Path) -> int:
        """Copy a local folder's files to this location (same relative paths); returns the
        number of files copied. A local target is a plain copy."""
        folder = Path(folder)
        files = [p for p in sorted(folder.rglob("*")) if p.is_file()]
        for p in files:
            target = self / p.relative_to(folder).as_posix()
            if self.is_local:
                target.local.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(p.read_bytes())
        return len(files)


def workspace_for(root: Location) -> Path:
    """The local folder of a lake's non-table files: the Great Expectations context, Data Docs,
    reports, the dataset card, the tokenizer, exported models and training checkpoints.

    `$CODEMILL_WORKSPACE` when set; otherwise the lake folder itself for a local lake (as it
    always was), and `./codemill-workspace/<scheme>/<bucket and path>` for a lake on a remote
    filesystem (Great Expectations' file context and the tokenizer library read local files)."""
    configured = os.environ.get("CODEMILL_WORKSPACE")
    if configured:
        return Path(configured).expanduser().resolve()
    if root.is_local:
        return root.local
    scheme, rest = root.uri.split("://", 1)
    return (Path("codemill-workspace") / scheme / rest).resolve()
