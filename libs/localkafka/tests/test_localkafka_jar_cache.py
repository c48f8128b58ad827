"""The jar cache with a fake ``mvn``: atomic install, reuse, and failed downloads."""

import stat
from pathlib import Path

import pytest

from continuum.localkafka import JarResolutionError, resolve_jars

REPO_POM = Path(__file__).resolve().parents[3] / "deploy" / "kafka" / "pom.xml"

FAKE_MVN = """#!/bin/sh
for arg in "$@"; do
  case "$arg" in -DoutputDirectory=*) out="${arg#-DoutputDirectory=}";; esac
done
echo "[INFO] Downloading from central: https://repo/x/kafka_2.13-4.4.0.jar"
echo "[INFO] Downloaded from central: https://repo/x/kafka_2.13-4.4.0.jar (6.5 MB at 9 MB/s)"
if [ -n "$FAIL" ]; then echo "[ERROR] Could not resolve dependencies"; exit 1; fi
mkdir -p "$out" && touch "$out/kafka_2.13-4.4.0.jar" "$out/log4j-core-2.25.5.jar"
"""


@pytest.fixture
def fake_mvn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    mvn = bin_dir / "mvn"
    mvn.write_text(FAKE_MVN)
    mvn.chmod(mvn.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    return mvn


def test_download_once_then_reuse(tmp_path: Path, fake_mvn: Path) -> None:
    cache = tmp_path / "cache"
    first = resolve_jars(REPO_POM, cache_dir=cache, quiet=True)
    assert first.downloaded
    assert first.libs_dir == cache / "4.4.0" / "libs"
    assert (cache / "4.4.0" / "complete.json").is_file()
    assert not list((cache / "4.4.0").glob(".download-*"))
    fake_mvn.unlink()  # a second resolve must not need Maven at all
    second = resolve_jars(REPO_POM, cache_dir=cache, quiet=True)
    assert not second.downloaded
    assert second.classpath == f"{cache / '4.4.0' / 'libs'}/*"


def test_failed_download_leaves_no_cache(
    tmp_path: Path, fake_mvn: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAIL", "1")
    cache = tmp_path / "cache"
    with pytest.raises(JarResolutionError, match="Could not resolve dependencies"):
        resolve_jars(REPO_POM, cache_dir=cache, quiet=True)
    base = cache / "4.4.0"
    assert not (base / "libs").exists()
    assert not (base / "complete.json").exists()
    assert not list(base.glob(".download-*"))


def test_libs_without_marker_are_not_trusted(tmp_path: Path, fake_mvn: Path) -> None:
    base = tmp_path / "cache" / "4.4.0"
    (base / "libs").mkdir(parents=True)  # as if killed between rename and marker
    jars = resolve_jars(REPO_POM, cache_dir=tmp_path / "cache", quiet=True)
    assert jars.downloaded
    assert (base / "libs" / "kafka_2.13-4.4.0.jar").is_file()
