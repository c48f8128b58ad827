"""docker-compose.yml and the Dockerfiles, proven without a Docker engine.

(a) The compose file agrees with the services' settings: every ``CONTINUUM_*`` variable it
    (or an image) sets is a real settings field and lands there with the intended value;
    addresses name compose services and their ports; storage paths sit on the right named
    volumes; healthchecks, ``depends_on`` conditions, volumes, Prometheus's scrape targets
    and Grafana's provisioning agree with each other.
(b) The five services are built from one Dockerfile (``deploy/service.Dockerfile``) with
    compose's ``SERVICE`` build argument, and each image installs only its own package:
    its ``uv sync`` names only it, it copies its workspace dependencies and no other
    service, and the builder stage, replayed with uv outside Docker with that argument,
    produces a virtualenv without the other services' dependencies (serving's has no
    Evidently). The CLI's one-shot job has its own Dockerfile (``deploy/cli.Dockerfile``).
(c) Each service starts from that virtualenv with the environment compose gives it, against
    a real Kafka and PostgreSQL (compose hostnames rewritten to 127.0.0.1, container paths
    to temporary folders), answers ``/health`` and passes its image's HEALTHCHECK command;
    then the one-shot job applies the example pipeline to the registry. Kafka is secured as
    compose secures it: a broker with only its admin (SASL, ACLs required), the
    ``kafka-setup`` job run first with compose's environment to create the SCRAM users and
    ACLs, then every service logs in with its own user (the static checks of compose's
    Kafka security are in tests/test_compose_kafka_security.py).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from aiokafka import AIOKafkaProducer
from aiokafka.errors import TopicAuthorizationFailedError
from compose_kit import (
    REPO,
    SERVICES,
    MissingVariableError,
    Mount,
    env_names,
    environment,
    field_value,
    load_compose,
    mount_for,
    mounts,
    published_ports,
    settings_class,
    variables,
)
from dockerfile_kit import (
    Stage,
    dependency_closure,
    exported_requirements,
    parse_dockerfile,
    replay_builder,
    shell_command,
    workspace_members,
)
from pydantic import SecretStr
from throwaway_postgres import PostgresServer, free_port
from throwaway_redis import RedisServer, throwaway_redis

from continuum.cli.stack import DEFAULT_PORTS, LocalStack, ServiceProcess, StackError
from continuum.contracts import parse_spec_yaml, topics
from continuum.kafka.acls import PRODUCER
from continuum.localkafka import LocalKafka, RunningKafka, ScramSecurity

TEST_SECRETS = {
    "CONTINUUM_POSTGRES_PASSWORD": "compose-test-postgres",
    "CONTINUUM_REGISTRY_TOKEN": "compose-test-registry-token",
    "CONTINUUM_KAFKA_EVENT_KEY": "compose-test-event-key-0123456789",
    "CONTINUUM_KAFKA_ADMIN_PASSWORD": "compose-test-kafka-admin",
    **{
        f"CONTINUUM_KAFKA_PASSWORD_{user}": f"compose-test-kafka-{user.lower()}"
        for user in ("INGEST", "TRAINER", "REGISTRY", "SERVING", "MONITOR", "PRODUCER")
    },
    "GRAFANA_ADMIN_PASSWORD": "compose-test-grafana",
}
"""What a user's .env gives compose (test values)."""

# What each image may and must contain (from the services' pyproject dependencies).
MUST_HAVE = {
    "registry": {"scikit-learn", "psycopg", "fastapi"},
    "ingest": {"pyarrow", "redis"},  # redis: the online store ingest writes
    "trainer": {"scikit-learn", "evidently"},  # evidently: each run's HTML report
    "serving": {"scikit-learn", "fastapi", "redis"},  # redis: the online store it reads
    "monitor": {"evidently"},
}
MUST_NOT_HAVE = {
    "registry": {"evidently", "redis"},
    "ingest": {"evidently", "scikit-learn", "psycopg", "fastapi"},
    "trainer": {"psycopg", "fastapi", "redis"},
    "serving": {"evidently", "psycopg"},
    "monitor": {"psycopg", "fastapi", "redis"},
}
# Storage a service writes to: its mount must not be read-only.
WRITES = {
    "ingest": {"CONTINUUM_DATA_ROOT", "CONTINUUM_STATE_DIR"},
    "trainer": {"CONTINUUM_ARTIFACT_ROOT", "CONTINUUM_STATE_DIR"},
    "monitor": {"CONTINUUM_STATE_DIR"},
}
STORAGE_VARIABLES = ("CONTINUUM_DATA_ROOT", "CONTINUUM_ARTIFACT_ROOT", "CONTINUUM_STATE_DIR")
VALID_CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
SERVICE_DOCKERFILE = REPO / "deploy" / "service.Dockerfile"
CLI_DOCKERFILE = REPO / "deploy" / "cli.Dockerfile"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


def dockerfile_of(compose: dict[str, Any], service: str) -> Path:
    build = compose["services"][service]["build"]
    assert build["context"] == ".", "images are built from the repository root"
    return REPO / str(build["dockerfile"])


def build_args_of(compose: dict[str, Any], service: str) -> dict[str, str]:
    """The build arguments compose passes (``build.args``, mapping form)."""
    args = compose["services"][service]["build"].get("args") or {}
    assert isinstance(args, dict), f"{service}: use the mapping form of build.args"
    return {str(key): str(value) for key, value in args.items()}


def image_stages(compose: dict[str, Any], service: str) -> list[Stage]:
    """The stages of the service's image as compose builds it (its build args applied)."""
    return parse_dockerfile(dockerfile_of(compose, service), build_args_of(compose, service))


def image_env(compose: dict[str, Any], service: str) -> dict[str, str]:
    """The runtime stage's ENV of the service's image."""
    return image_stages(compose, service)[-1].env()


def container_command(exec_form: list[str], venv: Path) -> list[str]:
    """An exec-form command as the container runs it: a bare program name is found in the
    image's virtualenv (first on its PATH), an absolute path (``/bin/sh``) is used as is."""
    program, *rest = exec_form
    return [program if program.startswith("/") else str(venv / "bin" / program), *rest]


def container_env(compose: dict[str, Any], service: str) -> dict[str, str]:
    """What the service's process sees in its container: image ENV, then compose's."""
    return {
        **image_env(compose, service),
        **environment(compose["services"][service], TEST_SECRETS),
    }


def has_healthcheck(compose: dict[str, Any], name: str) -> bool:
    service = compose["services"][name]
    if "healthcheck" in service:
        return not service["healthcheck"].get("disable", False)
    if "build" in service:
        return bool(image_stages(compose, name)[-1].all("HEALTHCHECK"))
    return False


# -- (a) the compose file agrees with the services' settings ---------------------------


def test_the_five_services_are_built_from_the_one_service_dockerfile(
    compose: dict[str, Any],
) -> None:
    for service in SERVICES:
        assert dockerfile_of(compose, service) == SERVICE_DOCKERFILE
        assert build_args_of(compose, service) == {"SERVICE": service}
        assert compose["services"][service]["image"] == f"continuum-{service}"
    assert SERVICE_DOCKERFILE.exists()
    # No per-service copy creeps back: these two are the repository's only Dockerfiles.
    dockerfiles = {
        path
        for path in REPO.rglob("*Dockerfile*")
        if not any(part.startswith(".") for part in path.relative_to(REPO).parts)
    }
    assert dockerfiles == {SERVICE_DOCKERFILE, CLI_DOCKERFILE}


def test_secrets_come_from_the_environment_and_env_example_names_them(
    compose: dict[str, Any],
) -> None:
    text = (REPO / "docker-compose.yml").read_text()
    example = dict(
        line.split("=", 1)
        for line in (REPO / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    used = {name for name, _ in variables(text)}
    assert used == set(TEST_SECRETS) == set(example), "compose, .env.example and the test agree"
    assert all(value == "" for value in example.values()), ".env.example holds no secret"
    # Every variable is required (`:?`): no default secret, compose refuses to start.
    assert {op for _, op in variables(text)} == {":?"}
    for service in compose["services"].values():
        if variables(yaml.safe_dump(service.get("environment") or {})):
            with pytest.raises(MissingVariableError):
                environment(service, {})
    raw = {
        "postgres": "POSTGRES_PASSWORD",
        "grafana": "GF_SECURITY_ADMIN_PASSWORD",
        "registry": "CONTINUUM_REGISTRY_TOKEN",
    }
    for name, key in raw.items():
        value = compose["services"][name]["environment"][key]
        assert value.startswith("${") and value.endswith("}"), f"{name} {key} is not from .env"
    assert ".env" in (REPO / ".gitignore").read_text().splitlines()


@pytest.mark.parametrize("service", SERVICES)
def test_every_variable_is_a_settings_field_and_lands_there(
    compose: dict[str, Any], service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cls = settings_class(service)
    known = env_names(cls)
    env = {k: v for k, v in container_env(compose, service).items() if k.startswith("CONTINUUM_")}
    unknown = sorted(set(env) - set(known))
    assert not unknown, f"{service} has no setting for {unknown} (known: {sorted(known)})"

    for key in list(os.environ):
        if key.startswith("CONTINUUM_"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = cls()
    for key, value in env.items():
        landed = field_value(settings, known[key])
        if isinstance(landed, SecretStr):
            landed = landed.get_secret_value()
        if isinstance(landed, Path):
            assert landed == Path(value), key
        else:
            assert str(landed) == value, f"{key}={value!r} became {landed!r}"
    assert (settings.http_host, settings.http_port) == ("0.0.0.0", 8000)
    assert settings.kafka.bootstrap_servers == "kafka:19092"


@pytest.mark.parametrize("service", SERVICES)
def test_addresses_name_compose_services_and_their_ports(
    compose: dict[str, Any], service: str
) -> None:
    services = compose["services"]
    env = container_env(compose, service)
    kafka_env = environment(services["kafka"], TEST_SECRETS)
    advertised = {
        listener.split("://", 1)[1]
        for listener in kafka_env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    }
    assert env["CONTINUUM_KAFKA_BOOTSTRAP_SERVERS"] in advertised
    assert env["CONTINUUM_KAFKA_BOOTSTRAP_SERVERS"].split(":")[0] == "kafka"
    registry_port = image_env(compose, "registry")["CONTINUUM_HTTP_PORT"]
    if service != "registry":
        assert env["CONTINUUM_REGISTRY_URL"] == f"http://registry:{registry_port}"
        return
    postgres = environment(services["postgres"], TEST_SECRETS)
    url = urlsplit(env["CONTINUUM_REGISTRY_DATABASE_URL"])
    assert url.scheme == "postgresql+psycopg"
    assert (url.hostname, url.port) == ("postgres", 5432)
    assert url.username == postgres["POSTGRES_USER"]
    assert url.password == postgres["POSTGRES_PASSWORD"]
    assert url.path == "/" + postgres["POSTGRES_DB"]
    assert len(env["CONTINUUM_REGISTRY_TOKEN"]) >= 8


def test_storage_is_on_named_volumes_shared_by_the_right_services(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    volume_of: dict[str, dict[str, str]] = {var: {} for var in STORAGE_VARIABLES}
    for service in SERVICES:
        env = container_env(compose, service)
        for var in STORAGE_VARIABLES:
            if var not in env:
                continue
            path = env[var].removeprefix("file://")
            assert path.startswith("/"), f"{service} {var} must be an absolute path"
            mount = mount_for(path, services[service])
            assert mount is not None, f"{service}: {var}={path} is on no volume"
            assert not mount.is_bind, f"{service}: {var} must be on a named volume"
            if var in WRITES.get(service, set()):
                assert not mount.read_only, f"{service} writes {var}: its mount is read-only"
            volume_of[var][service] = mount.source
    data, artifacts, state = (volume_of[var] for var in STORAGE_VARIABLES)
    assert set(data) == {"ingest", "trainer"} and len(set(data.values())) == 1
    assert set(artifacts) == {"registry", "trainer", "serving", "monitor"}
    assert len(set(artifacts.values())) == 1
    # State is private: ingest (feature views' per-entity windows), the trainer and the
    # monitor each have their own volume.
    assert set(state) == {"ingest", "trainer", "monitor"} and len(set(state.values())) == 3


def test_volumes_are_declared_and_bind_mounts_exist(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    used = set()
    for name, service in compose["services"].items():
        for mount in mounts(service):
            if mount.is_bind:
                assert (REPO / mount.source).exists(), f"{name}: {mount.source} is missing"
            else:
                assert mount.source in declared, f"{name}: volume {mount.source} undeclared"
                used.add(mount.source)
    assert used == declared, f"declared but unused: {declared - used}"


@pytest.mark.parametrize("service", SERVICES)
def test_ports_expose_and_healthcheck(compose: dict[str, Any], service: str) -> None:
    port = int(image_env(compose, service)["CONTINUUM_HTTP_PORT"])
    runtime = image_stages(compose, service)[-1]
    assert [i.args for i in runtime.all("EXPOSE")] == [(str(port),)]
    # The host ports are the ones `continuum up` uses, so the docs' URLs hold for both.
    assert published_ports(compose["services"][service]) == {DEFAULT_PORTS[service]: port}
    assert has_healthcheck(compose, service)


def test_depends_on_conditions_are_valid(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        assert isinstance(depends, dict), f"{name}: use the long depends_on syntax"
        for target, spec in depends.items():
            assert target in services, f"{name} depends on unknown {target}"
            assert spec["condition"] in VALID_CONDITIONS, (name, target)
            if spec["condition"] == "service_healthy":
                assert has_healthcheck(compose, target), f"{target} has no healthcheck"
    healthy = {
        name: {
            t
            for t, s in (svc.get("depends_on") or {}).items()
            if s["condition"] == "service_healthy"
        }
        for name, svc in services.items()
    }
    assert healthy["registry"] == {"kafka", "postgres"}
    for service in SERVICES[1:]:
        # A service pointed at an online store server (redis) waits for it to be healthy.
        store = urlsplit(container_env(compose, service).get("CONTINUUM_ONLINE_STORE_URI", ""))
        expected = {"kafka", "registry"} | ({store.hostname} if store.hostname else set())
        assert healthy[service] == expected, service
    assert healthy["apply-pipelines"] == {"registry"}
    assert healthy["kafka-setup"] == {"kafka"}
    # No service touches Kafka before its user and ACLs exist.
    for service in SERVICES:
        setup = services[service]["depends_on"]["kafka-setup"]
        assert setup["condition"] == "service_completed_successfully", service


def test_the_one_shot_job_applies_the_example_pipeline(compose: dict[str, Any]) -> None:
    job = compose["services"]["apply-pipelines"]
    assert job["restart"] == "no"
    assert REPO / job["build"]["dockerfile"] == CLI_DOCKERFILE
    *_, spec_path = job["command"]
    mount = mount_for(spec_path, job)
    assert mount is not None and mount.is_bind and mount.read_only
    host_file = REPO / mount.source / Path(spec_path).relative_to(mount.target)
    assert parse_spec_yaml(host_file.read_text()).name == "flights"
    env = environment(job, TEST_SECRETS)
    assert set(env) == {"CONTINUUM_REGISTRY_URL", "CONTINUUM_REGISTRY_TOKEN"}


def test_prometheus_scrapes_every_service_where_compose_runs_it(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    prometheus = services["prometheus"]
    config_dir = mount_for("/etc/prometheus/prometheus.yml", prometheus)
    assert config_dir is not None and config_dir.is_bind
    host_dir = REPO / config_dir.source
    config = yaml.safe_load((host_dir / "prometheus.yml").read_text())
    scraped = set()
    for job in config["scrape_configs"]:
        for static in job.get("static_configs", []):
            for target in static["targets"]:
                host, port = target.rsplit(":", 1)
                assert host in services, f"scrape target {target} is no compose service"
                if host in SERVICES:
                    assert int(port) == int(image_env(compose, host)["CONTINUUM_HTTP_PORT"])
                scraped.add(host)
    assert set(SERVICES) <= scraped
    for pattern in config.get("rule_files", []):
        relative = (
            Path(pattern).relative_to("/etc/prometheus")
            if pattern.startswith("/")
            else Path(pattern)
        )
        assert list(host_dir.glob(str(relative))), f"rule_files {pattern} matches nothing"


def test_grafana_is_provisioned_from_the_mounted_folders(compose: dict[str, Any]) -> None:
    services = compose["services"]
    grafana = services["grafana"]
    env = environment(grafana, TEST_SECRETS)
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    assert env["GF_SECURITY_ADMIN_PASSWORD"] == TEST_SECRETS["GRAFANA_ADMIN_PASSWORD"]
    provisioning = mount_for("/etc/grafana/provisioning", grafana)
    assert provisioning is not None and provisioning.is_bind
    datasources = list((REPO / provisioning.source / "datasources").glob("*.y*ml"))
    assert datasources, "no datasource is provisioned"
    for path in datasources:
        for source in yaml.safe_load(path.read_text()).get("datasources", []):
            url = urlsplit(source["url"])
            assert url.hostname in services, f"{path.name}: {source['url']} is no compose service"
            assert url.port == 9090
    providers = list((REPO / provisioning.source / "dashboards").glob("*.y*ml"))
    assert providers, "no dashboard provider is provisioned"
    for path in providers:
        for provider in yaml.safe_load(path.read_text()).get("providers", []):
            folder = provider["options"]["path"]
            mount = mount_for(folder, grafana)
            assert mount is not None and mount.is_bind, f"{path.name}: {folder} is not mounted"
            host_folder = REPO / mount.source / Path(folder).relative_to(mount.target)
            dashboards = list(host_folder.glob("*.json"))
            assert dashboards, f"no dashboard JSON in {host_folder}"
            for dashboard in dashboards:
                json.loads(dashboard.read_text())


# -- (b) each image holds its own package and nothing more -----------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_dockerfile_names_only_its_own_package(compose: dict[str, Any], service: str) -> None:
    builder, runtime = image_stages(compose, service)
    package = f"continuum-{service}"
    syncs = [i.args[0].split() for i in builder.all("RUN")]
    assert [s[:2] for s in syncs] == [["uv", "sync"], ["uv", "sync"]]
    for argv in syncs:
        assert argv[argv.index("--package") + 1] == package
        assert argv.count("--package") == 1 and {"--frozen", "--no-dev"} <= set(argv)
    assert "--no-install-workspace" in syncs[0] and "--no-editable" in syncs[1]
    # One file for five services: no instruction names one of them, SERVICE does.
    stages = parse_dockerfile(dockerfile_of(compose, service))  # as written, SERVICE unset
    written = "\n".join(i.raw for stage in stages for i in stage.instructions)
    named = [n for n in SERVICES if f"continuum-{n}" in written or f"services/{n}" in written]
    assert not named, f"the Dockerfile's instructions name {named}"
    # Only the virtualenv leaves the builder; the image runs as an unprivileged user.
    assert runtime.base.startswith("python:3.11-slim")
    assert [i.args for i in runtime.all("COPY")] == [("/app/.venv", "/app/.venv")]
    assert [i.args[0] for i in runtime.all("USER")] not in ([], ["root"], ["0"])
    env = runtime.env()
    assert (env["CONTINUUM_HTTP_HOST"], env["CONTINUUM_HTTP_PORT"]) == ("0.0.0.0", "8000")
    cmd = json.loads(runtime.all("CMD")[0].args[-1])
    assert shell_command(cmd, env) == ["python", "-m", f"continuum.{service}"]
    check = runtime.all("HEALTHCHECK")[0].args
    assert check[0] == "CMD" and json.loads(check[1])[0] == "python" and "/health" in check[1]


def test_the_service_dockerfile_needs_its_service_argument(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"COPY services/pyproject\.toml"):
        replay_builder(SERVICE_DOCKERFILE, tmp_path)


def workspace_folders(package: str) -> set[str]:
    """The workspace folders ``package`` needs at run time (its own included)."""
    members = workspace_members()
    return {members[p] for p in dependency_closure(package) if p in members}


@pytest.mark.parametrize("service", [*SERVICES, "cli"])
def test_dockerfile_copies_its_workspace_dependencies_and_no_other_service(
    compose: dict[str, Any], service: str
) -> None:
    if service == "cli":
        builder = parse_dockerfile(CLI_DOCKERFILE)[0]
        expected = workspace_folders("continuum-cli")
    else:
        builder = image_stages(compose, service)[0]
        # The one Dockerfile copies every library some service needs, and this service.
        libraries = {
            folder
            for name in SERVICES
            for folder in workspace_folders(f"continuum-{name}")
            if folder.startswith("libs/")
        }
        expected = libraries | {f"services/{service}"}
        assert workspace_folders(f"continuum-{service}") <= expected
    copies = [i.args for i in builder.all("COPY") if not i.flags]
    manifests = {Path(a[0]).parent.as_posix() for a in copies if a[0].endswith("/pyproject.toml")}
    sources = {a[0].rstrip("/") for a in copies if a[0].endswith("/")}
    assert copies[0] == ("pyproject.toml", "uv.lock", "./")
    assert manifests == expected, "manifests copied before the dependency layer"
    assert sources == expected, "workspace folders copied before the second uv sync"


@pytest.mark.parametrize("service", SERVICES)
def test_dependency_export_has_only_what_the_service_needs(service: str) -> None:
    exported = exported_requirements(f"continuum-{service}")
    assert MUST_HAVE[service] <= exported, MUST_HAVE[service] - exported
    assert not MUST_NOT_HAVE[service] & exported, MUST_NOT_HAVE[service] & exported


def test_dockerignore_keeps_state_and_secrets_out() -> None:
    ignored = set((REPO / ".dockerignore").read_text().split())
    assert {".git", ".env", "**/.venv", "**/.continuum", "**/tests"} <= ignored
    assert not {"libs", "services", "uv.lock", "pyproject.toml"} & ignored


def installed_distributions(venv: Path) -> set[str]:
    """Normalised names of the distributions installed in a virtualenv."""
    site = next(venv.glob("lib/python3*/site-packages"))
    return {path.name.split("-")[0].lower().replace("_", "-") for path in site.glob("*.dist-info")}


@pytest.fixture(scope="module")
def image_venvs(
    compose: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """Each image's virtualenv, from its Dockerfile's builder stage replayed with uv (with
    the build arguments compose gives it)."""
    venvs = {}
    for name in [*SERVICES, "apply-pipelines"]:
        dockerfile, args = dockerfile_of(compose, name), build_args_of(compose, name)
        key = "cli" if name == "apply-pipelines" else name
        try:
            venvs[key] = replay_builder(dockerfile, tmp_path_factory.mktemp(f"image-{key}"), args)
        except (RuntimeError, ValueError, FileNotFoundError) as exc:
            pytest.fail(f"the builder stage of {dockerfile} ({args}) failed:\n{exc}", pytrace=False)
    return venvs


@pytest.mark.parametrize("service", [*SERVICES, "cli"])
def test_image_virtualenv_holds_only_its_dependencies(
    image_venvs: dict[str, Path], service: str
) -> None:
    installed = installed_distributions(image_venvs[service])
    members = set(workspace_members())
    assert installed & members == dependency_closure(f"continuum-{service}") & members
    assert not {"pytest", "mypy", "ruff"} & installed, "no dev dependencies in an image"
    if service != "cli":
        assert MUST_HAVE[service] <= installed
        assert not MUST_NOT_HAVE[service] & installed, MUST_NOT_HAVE[service] & installed
    # Installed as wheels (--no-editable): the code is in the venv, not in the repo.
    site = next(image_venvs[service].glob("lib/python3*/site-packages"))
    for member in dependency_closure(f"continuum-{service}") & members:
        module = member.removeprefix("continuum-").replace("-", "_")
        assert list((site / "continuum" / module).glob("*.py")), f"{member}'s code is missing"
    assert not list(site.glob("*.pth")) or all(
        str(REPO) not in p.read_text() for p in site.glob("*.pth")
    )


# -- (c) each service starts with the environment compose gives it ---------------------


@dataclass
class Container:
    """A service process standing in for its container."""

    name: str
    port: int
    env: dict[str, str]
    process: ServiceProcess


class ComposeOnLocalhost:
    """Compose's view of the stack, mapped onto local processes, Kafka and PostgreSQL."""

    def __init__(self, compose: dict[str, Any], root: Path, addresses: dict[str, str]) -> None:
        self.compose = compose
        self.root = root
        self.addresses = addresses  # "host:port" inside compose -> "127.0.0.1:port" here

    def host_path(self, mount: Mount) -> Path:
        """A named volume is a folder under root; a bind mount is its repository path."""
        if mount.is_bind:
            return (REPO / mount.source).resolve()
        path = self.root / "volumes" / mount.source
        path.mkdir(parents=True, exist_ok=True)
        return path

    def rewrite(self, name: str, env: dict[str, str]) -> dict[str, str]:
        """Compose hostnames to 127.0.0.1 and its ports, container paths to host folders."""
        service = self.compose["services"][name]
        paths = {m.target: str(self.host_path(m)) for m in mounts(service)}
        result = {}
        for key, value in env.items():
            for old, new in [*self.addresses.items(), *sorted(paths.items(), reverse=True)]:
                value = value.replace(old, new)
            result[key] = value
        # A compose host is ``<service>:<port>``; ``redis://`` is a URI scheme, not the host.
        hosts = re.compile(
            r"(?<![\w.-])(?:" + "|".join(map(re.escape, self.compose["services"])) + r"):(?!//)"
        )
        leftovers = [
            f"{k}={v}" for k, v in result.items() if hosts.search(v) or "/var/lib/continuum" in v
        ]
        assert not leftovers, f"{name}: not mapped to this machine: {leftovers}"
        return result

    def process_env(self, name: str, env: dict[str, str], venv: Path, home: Path) -> dict[str, str]:
        """A clean environment: the image's and compose's variables, and PATH to the venv."""
        return {
            **self.rewrite(name, env),
            "PATH": f"{venv / 'bin'}:{os.environ['PATH']}",
            "HOME": str(home),
        }


@pytest.fixture(scope="module")
def secured_kafka(
    compose: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningKafka]:
    """A broker secured as compose's: SASL on every listener, ACLs required, only the admin
    (with compose's admin password) until the kafka-setup job has run."""
    setup = environment(compose["services"]["kafka-setup"], TEST_SECRETS)
    assert setup["CONTINUUM_KAFKA_SASL_USERNAME"] == "admin"
    security = ScramSecurity(admin_password=setup["CONTINUUM_KAFKA_SASL_PASSWORD"])
    local = LocalKafka(tmp_path_factory.mktemp("kafka-compose"), security=security)
    try:
        running = local.start(port=0)
    except Exception as exc:
        local.stop(timeout=10)
        pytest.fail(f"could not start the secured local Kafka:\n{exc}", pytrace=False)
    try:
        yield running
    finally:
        local.stop(timeout=20)


def run_kafka_setup(
    compose: dict[str, Any], local: ComposeOnLocalhost, image_venvs: dict[str, Path], cwd: Path
) -> str:
    """The one-shot kafka-setup job as compose runs it (its image, command, environment)."""
    job = compose["services"]["kafka-setup"]
    venv = image_venvs[build_args_of(compose, "kafka-setup")["SERVICE"]]
    env = local.process_env("kafka-setup", environment(job, TEST_SECRETS), venv, cwd)
    command = [local.rewrite("kafka-setup", {"arg": a})["arg"] for a in job["command"]]
    argv = container_command(command, venv)
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    """A Redis server standing in for compose's ``redis`` (the online store)."""
    with throwaway_redis() as server:
        yield server


@pytest.fixture(scope="module")
def stack(
    compose: dict[str, Any],
    secured_kafka: RunningKafka,
    postgres_server: PostgresServer,
    redis_server: RedisServer,
    image_venvs: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ComposeOnLocalhost, dict[str, Container]]]:
    """The five services started in compose's order, each healthy before the next."""
    services = compose["services"]
    postgres = environment(services["postgres"], TEST_SECRETS)
    postgres_server.create_database(postgres["POSTGRES_DB"], owner=postgres["POSTGRES_USER"])
    kafka = secured_kafka
    ports = {name: free_port() for name in SERVICES}
    addresses = {
        "kafka:19092": kafka.bootstrap_servers,
        "postgres:5432": f"127.0.0.1:{postgres_server.port}",
        "redis:6379": f"127.0.0.1:{redis_server.port}",
        **{
            f"{n}:{image_env(compose, n)['CONTINUUM_HTTP_PORT']}": f"127.0.0.1:{p}"
            for n, p in ports.items()
        },
    }
    root = tmp_path_factory.mktemp("compose")
    local = ComposeOnLocalhost(compose, root, addresses)
    launcher = LocalStack(home=root, bootstrap_servers=kafka.bootstrap_servers)
    setup_home = root / "home" / "kafka-setup"
    setup_home.mkdir(parents=True)
    run_kafka_setup(compose, local, image_venvs, setup_home)
    started: dict[str, Container] = {}
    try:
        for name in SERVICES:
            home = root / "home" / name  # the image's WORKDIR
            home.mkdir(parents=True)
            env = local.process_env(name, container_env(compose, name), image_venvs[name], home)
            env |= {"CONTINUUM_HTTP_HOST": "127.0.0.1", "CONTINUUM_HTTP_PORT": str(ports[name])}
            # The image's CMD as it is (`/bin/sh -c "exec python -m ..."`), in its env.
            cmd = json.loads(image_stages(compose, name)[-1].all("CMD")[0].args[-1])
            argv = container_command(cmd, image_venvs[name])
            log_path = root / f"{name}.log"
            with log_path.open("wb") as log:
                process = subprocess.Popen(
                    argv,
                    cwd=home,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            service = ServiceProcess(name, ports[name], process, log_path)
            started[name] = Container(name, ports[name], env, service)
            try:
                launcher.wait_healthy(service, timeout=90)
            except StackError as exc:
                pytest.fail(
                    f"{name} did not start with compose's environment:\n{exc}", pytrace=False
                )
        yield local, started
    finally:
        for container in reversed(list(started.values())):
            process = container.process.process
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.mark.integration
@pytest.mark.parametrize("service", SERVICES)
def test_service_starts_healthy_and_passes_its_image_healthcheck(
    compose: dict[str, Any],
    stack: tuple[ComposeOnLocalhost, dict[str, Container]],
    image_venvs: dict[str, Path],
    service: str,
) -> None:
    container = stack[1][service]
    response = httpx.get(f"{container.process.url}/health", timeout=5)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ok"
    # The image's HEALTHCHECK command, run as Docker would (inside the container's env).
    check = json.loads(image_stages(compose, service)[-1].all("HEALTHCHECK")[0].args[1])
    argv = container_command(check, image_venvs[service])
    result = subprocess.run(argv, env=container.env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert container.process.alive()


@pytest.mark.integration
def test_one_shot_job_applies_the_example_pipeline_to_the_registry(
    compose: dict[str, Any],
    stack: tuple[ComposeOnLocalhost, dict[str, Container]],
    image_venvs: dict[str, Path],
    tmp_path: Path,
) -> None:
    local, started = stack
    job = compose["services"]["apply-pipelines"]
    env = local.process_env(
        "apply-pipelines", environment(job, TEST_SECRETS), image_venvs["cli"], tmp_path
    )
    entrypoint = json.loads(
        parse_dockerfile(REPO / job["build"]["dockerfile"])[-1].all("ENTRYPOINT")[0].args[-1]
    )
    command = [local.rewrite("apply-pipelines", {"arg": a})["arg"] for a in job["command"]]
    argv = [*container_command(entrypoint, image_venvs["cli"]), *command]
    result = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pipeline flights: spec v1 applied" in result.stdout
    registry = started["registry"].process.url
    response = httpx.get(f"{registry}/v1/pipelines/flights", timeout=5)
    assert response.status_code == 200, response.text


@pytest.mark.integration
async def test_the_setup_jobs_users_and_acls_bound_the_producer(
    compose: dict[str, Any], stack: tuple[ComposeOnLocalhost, dict[str, Container]]
) -> None:
    """The users kafka-setup made from .env: the producer writes the example's source topic
    but not the trainer's models.trained."""
    local, _ = stack
    bootstrap = local.addresses["kafka:19092"]
    spec = parse_spec_yaml((REPO / "examples" / "pipelines" / "flights.yaml").read_text())
    login = {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": PRODUCER,
        "sasl_plain_password": TEST_SECRETS["CONTINUUM_KAFKA_PASSWORD_PRODUCER"],
    }
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, request_timeout_ms=10_000, **login)
    await producer.start()
    try:
        await producer.send_and_wait(spec.source_topic, b"{}")
        with pytest.raises(TopicAuthorizationFailedError):
            await producer.send_and_wait(topics.MODELS_TRAINED, b"{}")
    finally:
        await producer.stop()
