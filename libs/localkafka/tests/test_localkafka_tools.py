"""POM lookup, jar cache, and Java checks (no Maven, no broker)."""

import stat
from pathlib import Path

import pytest

from continuum.localkafka import MissingToolError, PomNotFoundError, find_pom
from continuum.localkafka.jars import read_kafka_version
from continuum.localkafka.java import check_java, find_java, parse_java_major

REPO_POM = Path(__file__).resolve().parents[3] / "deploy" / "kafka" / "pom.xml"


def test_explicit_pom_must_exist(tmp_path: Path) -> None:
    with pytest.raises(PomNotFoundError, match="given explicitly"):
        find_pom(tmp_path / "nope.xml")


def test_env_pom_must_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTINUUM_KAFKA_POM", str(tmp_path / "missing.xml"))
    with pytest.raises(PomNotFoundError, match="CONTINUUM_KAFKA_POM"):
        find_pom()


def test_search_failure_names_the_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONTINUUM_KAFKA_POM", raising=False)
    with pytest.raises(PomNotFoundError, match="set \\$CONTINUUM_KAFKA_POM"):
        find_pom(start_dirs=[tmp_path])


def test_search_walks_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONTINUUM_KAFKA_POM", raising=False)
    pom = tmp_path / "deploy" / "kafka" / "pom.xml"
    pom.parent.mkdir(parents=True)
    pom.write_text("<project/>")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_pom(start_dirs=[deep]) == pom.resolve()


def test_repo_pom_is_found_and_pins_kafka(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONTINUUM_KAFKA_POM", raising=False)
    assert find_pom() == REPO_POM
    assert read_kafka_version(REPO_POM) == "4.4.0"


def test_missing_java_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(MissingToolError) as info:
        find_java()
    message = str(info.value)
    assert "Java was not found" in message
    assert "apt-get install -y openjdk-17-jre-headless maven" in message


def test_old_java_is_rejected(tmp_path: Path) -> None:
    fake = tmp_path / "java"
    fake.write_text("#!/bin/sh\necho 'openjdk version \"11.0.22\" 2024-01-16' >&2\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    with pytest.raises(MissingToolError, match=r"Java 11, but Kafka 4\.x needs Java 17"):
        check_java(fake)


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('java version "1.8.0_392"', 8),
        ('openjdk version "21" 2023-09-19', 21),
        ("garbage", None),
    ],
)
def test_parse_java_major(output: str, major: int | None) -> None:
    assert parse_java_major(output) == major


def test_real_java_is_new_enough() -> None:
    _, major = check_java()
    assert major >= 17
