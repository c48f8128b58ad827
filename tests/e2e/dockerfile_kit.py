"""Reads the Dockerfiles and replays their builder stage without a Docker engine.

Build arguments are applied as Docker applies them: an ``ARG`` declared in a stage is
substituted (``$NAME``, ``${NAME}``) in that stage's later instructions, with the value
given for the build (compose's ``build.args``) or the ``ARG``'s default, else empty; so is
a variable the stage's own ``ENV`` set. ``CMD``, ``ENTRYPOINT`` and ``HEALTHCHECK`` are
left as written: a shell in the container expands them at run time.

Replaying the builder stage means: copy exactly the files the ``COPY`` instructions name
into an empty folder (the image's build context as the builder sees it) and run the
stage's ``uv sync`` commands there. The virtualenv that comes out is the one the image
would ship, so tests can look inside it and run the service from it.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction: its keyword (upper case), flags and arguments."""

    keyword: str
    flags: tuple[str, ...]
    args: tuple[str, ...]
    raw: str


@dataclass
class Stage:
    """A ``FROM ... AS name`` stage and its instructions."""

    base: str
    name: str
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        """The stage's instructions with this keyword, in order."""
        return [i for i in self.instructions if i.keyword == keyword]

    def env(self) -> dict[str, str]:
        """The variables its ``ENV`` instructions set (``KEY=value`` form only)."""
        values: dict[str, str] = {}
        for instruction in self.all("ENV"):
            for token in instruction.args:
                key, sep, value = token.partition("=")
                if not sep:
                    raise ValueError(f"ENV without '=' is not supported: {instruction.raw}")
                values[key] = value
        return values


def _logical_lines(text: str) -> list[str]:
    """Lines with continuations joined; comment lines (also inside continuations) dropped."""
    lines: list[str] = []
    current = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    if current:
        lines.append(current)
    return lines


def _split(keyword: str, rest: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if keyword in ("CMD", "ENTRYPOINT") or (keyword == "HEALTHCHECK" and "CMD [" in rest):
        # Flags before the exec-form JSON; keep the JSON whole as the last argument.
        head, bracket, tail = rest.partition("[")
        words = shlex.split(head)
        flags = tuple(w for w in words if w.startswith("--"))
        others = tuple(w for w in words if not w.startswith("--"))
        return flags, (*others, bracket + tail) if bracket else others
    words = shlex.split(rest) if keyword != "RUN" else rest.split()
    flags = tuple(w for w in words if w.startswith("--") and "=" in w and keyword != "RUN")
    if keyword == "RUN":
        flags = tuple(w for w in words if w.startswith("--mount="))
        command = rest
        for flag in flags:
            command = command.replace(flag, "", 1)
        return flags, (command.strip(),)
    return flags, tuple(w for w in words if w not in flags)


_VARIABLE = re.compile(r"\$(?:\{(?P<braced>\w+)\}|(?P<plain>\w+))")
_EXPANDED_BY_DOCKER = {"ADD", "COPY", "ENV", "EXPOSE", "LABEL", "RUN", "USER", "WORKDIR"}
"""Instructions whose variables are substituted at build time (RUN: by its shell)."""


def substitute(text: str, variables: Mapping[str, str]) -> str:
    """``$NAME`` and ``${NAME}`` replaced for the names in ``variables``; others kept."""

    def replace(match: re.Match[str]) -> str:
        name = match["braced"] or match["plain"]
        return variables[name] if name in variables else match.group(0)

    return _VARIABLE.sub(replace, text)


def parse_dockerfile(path: Path, build_args: Mapping[str, str] | None = None) -> list[Stage]:
    """The stages of a Dockerfile, in order, with ``build_args`` applied."""
    given = dict(build_args or {})
    stages: list[Stage] = []
    scope: dict[str, str] = {}
    for line in _logical_lines(path.read_text()):
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = rest.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else str(len(stages))
            stages.append(Stage(base=words[0], name=name))
            scope = {}  # ARG and ENV values do not cross stages
            continue
        if keyword in _EXPANDED_BY_DOCKER:
            rest = substitute(rest, scope)
        flags, args = _split(keyword, rest.strip())
        if keyword == "ARG":
            for token in args:
                arg, _, default = token.partition("=")
                scope[arg] = given.get(arg, default)
        stages[-1].instructions.append(Instruction(keyword, flags, args, line))
        if keyword == "ENV":
            scope |= stages[-1].env()
    return stages


def shell_command(exec_form: list[str], env: Mapping[str, str]) -> list[str]:
    """The argv a ``["/bin/sh", "-c", "exec ..."]`` command runs, its variables from ``env``.

    Simple scripts only (one command, optionally after ``exec``): what the tests check.
    """
    if exec_form[:2] != ["/bin/sh", "-c"] or len(exec_form) != 3:
        return exec_form
    argv = shlex.split(substitute(exec_form[2], env))
    return argv[1:] if argv[:1] == ["exec"] else argv


def workspace_members() -> dict[str, str]:
    """Workspace package name -> its folder (from uv.lock)."""
    lock = tomllib.loads((REPO / "uv.lock").read_text())
    members: dict[str, str] = {}
    for package in lock["package"]:
        source = package["source"]
        folder = source.get("editable") or source.get("virtual")
        if folder is not None and folder != ".":
            members[package["name"]] = folder
    return members


def dependency_closure(package: str) -> set[str]:
    """Every package ``package`` needs at run time (itself included), per uv.lock."""
    lock = tomllib.loads((REPO / "uv.lock").read_text())
    by_name = {p["name"]: p for p in lock["package"]}
    seen: set[str] = set()
    stack = [package]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack.extend(d["name"] for d in by_name[name].get("dependencies", []))
    return seen


def exported_requirements(package: str) -> set[str]:
    """Package names ``uv export --package ... --frozen --no-dev`` lists (what uv installs)."""
    result = subprocess.run(
        ["uv", "export", "--package", package, "--frozen", "--no-dev", "--no-hashes"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    names = set()
    for line in result.stdout.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-e ") or line.startswith("./"):
            names.add(line.removeprefix("-e ").strip())
            continue
        names.add(line.split("==")[0].split(";")[0].strip().lower())
    return names


def replay_builder(
    dockerfile: Path, workdir: Path, build_args: Mapping[str, str] | None = None
) -> Path:
    """Run the builder stage's COPY and ``uv sync`` steps in ``workdir``; returns the venv.

    Differences from a real build, all about speed and none about content: the venv is
    created at ``workdir/venv`` rather than ``/app/.venv``, files are hard-linked from
    uv's cache instead of copied, bytecode is not compiled, and the interpreter is the
    one running the tests (a CPython 3.11, as in the image).
    """
    builder = parse_dockerfile(dockerfile, build_args)[0]
    context = workdir / "context"
    context.mkdir(parents=True)
    venv = workdir / "venv"
    env = {
        **os.environ,
        **builder.env(),
        "UV_PROJECT_ENVIRONMENT": str(venv),
        "UV_LINK_MODE": "hardlink",
        "UV_COMPILE_BYTECODE": "0",
        "UV_PYTHON": getattr(sys, "_base_executable", sys.executable),
    }
    env.pop("VIRTUAL_ENV", None)
    for instruction in builder.instructions:
        if instruction.keyword == "COPY" and not any(
            f.startswith("--from=") for f in instruction.flags
        ):
            *sources, dest = instruction.args
            for source in sources:
                _copy(REPO / source, context, dest)
        elif instruction.keyword == "RUN":
            argv = shlex.split(instruction.args[0])
            if argv[:2] != ["uv", "sync"]:
                raise ValueError(f"builder RUN is not a uv sync: {instruction.raw}")
            result = subprocess.run(
                argv, cwd=context, env=env, capture_output=True, text=True, check=False
            )
            if result.returncode != 0:
                raise RuntimeError(f"{instruction.raw} failed:\n{result.stderr[-3000:]}")
    return venv


def _copy(source: Path, context: Path, dest: str) -> None:
    """Docker's COPY: a folder's contents into ``dest``; a file into ``dest/`` or as ``dest``."""
    if not source.exists():
        raise FileNotFoundError(f"COPY {source.relative_to(REPO)}: not in the build context")
    target = context / dest
    if source.is_dir():
        # Like the build context: .dockerignore keeps tests and caches out.
        ignore = shutil.ignore_patterns("tests", "__pycache__", "*.pyc", ".*")
        shutil.copytree(source, target, ignore=ignore, dirs_exist_ok=True)
        return
    if dest.endswith("/") or dest in (".", "./"):
        target = target / source.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)
