"""``file://`` object store: write to a temp file, fsync, atomic rename, fsync the folder."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

from continuum.contracts import StoredObject
from continuum.storage.base import ObjectNotFoundError, sha256_hex, verify


def path_from_file_uri(uri: str) -> Path:
    """``file:///abs/dir`` -> ``/abs/dir``; ``file://./rel`` -> ``./rel`` resolved from CWD."""
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        raise ValueError(f"not a file:// URI: {uri}")
    raw = unquote(parsed.netloc + parsed.path)
    return Path(raw).expanduser().resolve()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileObjectStore:
    """Objects as files below a root folder."""

    def __init__(self, root_uri: str) -> None:
        self.root = path_from_file_uri(root_uri)
        self.root_uri = self.root.as_uri()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(f"key escapes the store root: {key!r}")
        return path

    def uri_for(self, key: str) -> str:
        return self._path(key).as_uri()

    def put(self, key: str, data: bytes) -> StoredObject:
        path = self._path(key)
        digest = sha256_hex(data)
        stored = StoredObject(uri=path.as_uri(), sha256=digest, size_bytes=len(data))
        if path.exists():
            if sha256_hex(path.read_bytes()) == digest:
                return stored
            raise FileExistsError(f"{path} exists with different content (objects are immutable)")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as tmp:
                tmp.write(data)
                tmp.flush()
                os.fsync(tmp.fileno())
            Path(tmp_name).replace(path)
            _fsync_dir(path.parent)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        return stored

    def get(self, uri: str, expected_sha256: str | None = None) -> bytes:
        path = path_from_file_uri(uri)
        if not path.is_relative_to(self.root):
            raise ValueError(f"{uri} is outside this store ({self.root_uri})")
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ObjectNotFoundError(uri) from None
        return verify(data, expected_sha256, uri) if expected_sha256 else data

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> list[str]:
        if not self.root.exists():
            return []
        keys = (
            p.relative_to(self.root).as_posix()
            for p in self.root.rglob("*")
            if p.is_file() and not p.name.endswith(".tmp")
        )
        return sorted(k for k in keys if k.startswith(prefix))
