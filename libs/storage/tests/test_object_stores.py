"""One contract suite, run against every store implementation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from continuum.storage import (
    FileObjectStore,
    IntegrityError,
    MemoryObjectStore,
    ObjectNotFoundError,
    ObjectStore,
    get_verified,
    open_store,
    sha256_hex,
)


@pytest.fixture(params=["file", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    if request.param == "file":
        yield open_store(tmp_path.as_uri())
    else:
        MemoryObjectStore.reset_all()
        yield open_store("memory://unit")
        MemoryObjectStore.reset_all()


def test_put_then_get_verified(store: ObjectStore) -> None:
    obj = store.put("batches/p/b1.parquet", b"hello")
    assert obj.sha256 == sha256_hex(b"hello")
    assert obj.size_bytes == 5
    assert get_verified(store, obj) == b"hello"
    assert store.exists("batches/p/b1.parquet")
    assert store.list("batches/") == ["batches/p/b1.parquet"]


def test_put_is_idempotent_for_same_bytes_and_refuses_different(store: ObjectStore) -> None:
    first = store.put("k", b"same")
    assert store.put("k", b"same") == first
    with pytest.raises(FileExistsError, match="immutable"):
        store.put("k", b"different")


def test_wrong_sha256_is_refused(store: ObjectStore) -> None:
    obj = store.put("k", b"data")
    with pytest.raises(IntegrityError, match="expected"):
        store.get(obj.uri, expected_sha256="0" * 64)


def test_missing_object(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFoundError):
        store.get(store.uri_for("nope"))
    assert not store.exists("nope")


def test_file_store_refuses_keys_escaping_the_root(tmp_path: Path) -> None:
    store = FileObjectStore(tmp_path.as_uri())
    with pytest.raises(ValueError, match="escapes"):
        store.put("../outside", b"x")


def test_file_store_leaves_no_temp_files_and_tampering_is_caught(tmp_path: Path) -> None:
    store = FileObjectStore((tmp_path / "root").as_uri())
    obj = store.put("a/b.bin", b"payload")
    assert [p.name for p in (tmp_path / "root" / "a").iterdir()] == ["b.bin"]
    (tmp_path / "root" / "a" / "b.bin").write_bytes(b"tampered")
    with pytest.raises(IntegrityError):
        get_verified(store, obj)


def test_relative_file_uri_resolves_from_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = FileObjectStore("file://./data")
    assert store.root == tmp_path / "data"


def test_unknown_scheme_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unsupported storage scheme 'ftp'"):
        open_store("ftp://host/x")
