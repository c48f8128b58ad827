"""The documentation is self-contained: every relative Markdown link resolves inside the
repository, and no file points outside it (no ``../shared/...``: no path that climbs above
the repository root).

Pure Python and fast: it reads the files as text, nothing runs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest

REPO = Path(__file__).resolve().parents[1]

SKIPPED_DIRS = {"node_modules", "__pycache__", "build", "dist"}
"""Besides hidden folders (.git, .venv, caches, .continuum): generated, not written."""
MAX_BYTES = 2_000_000

_FENCE = re.compile(r"^\s*(```|~~~)")
_INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+[\"'][^)]*)?\)")
_REFERENCE_DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s.*)?$")
_HTML_LINK = re.compile(r"""(?:href|src)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_PARENT_PATH = re.compile(r"(?<![\w./~-])((?:\.\./)+[\w.-][\w./-]*)")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")


def repo_files(root: Path, suffix: str | None = None) -> Iterator[Path]:
    """Files below ``root``, skipping hidden and generated folders (never walked into)."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRS)
        for name in sorted(files):
            if suffix is None or name.endswith(suffix):
                yield Path(folder) / name


def read_text(path: Path) -> str | None:
    """The file's text, or None for binary and very large files."""
    if path.stat().st_size > MAX_BYTES:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None


def markdown_links(text: str) -> list[tuple[int, str]]:
    """(line number, target) of every link and image outside fenced code blocks."""
    links: list[tuple[int, str]] = []
    in_fence = False
    for number, line in enumerate(text.splitlines(), start=1):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        for pattern in (_INLINE_LINK, _HTML_LINK):
            links.extend((number, match.group(1)) for match in pattern.finditer(line))
        definition = _REFERENCE_DEFINITION.match(line)
        if definition:
            links.append((number, definition.group(1)))
    return links


def heading_anchors(text: str) -> set[str]:
    """The anchors GitHub gives a document's headings (duplicates get ``-1``, ``-2``...)."""
    anchors: set[str] = set()
    counts: dict[str, int] = {}
    in_fence = False
    for line in text.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        heading = None if in_fence else _HEADING.match(line)
        if not heading:
            continue
        title = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.group(1))
        slug = re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")
        seen = counts.get(slug, 0)
        counts[slug] = seen + 1
        anchors.add(slug if seen == 0 else f"{slug}-{seen}")
    return anchors


def link_problems(root: Path, source: Path, target: str) -> list[str]:
    """What is wrong with one link from ``source`` (empty if it resolves inside ``root``)."""
    if not target or _SCHEME.match(target) or target.startswith("//"):
        return []  # web links (https:, mailto:) are not files
    path_part, _, anchor = target.partition("#")
    path_part = unquote(path_part.split("?", 1)[0])
    if not path_part:
        resolved = source
    elif path_part.startswith("/"):
        resolved = (root / path_part.lstrip("/")).resolve()  # GitHub: from the repo root
    else:
        resolved = (source.parent / path_part).resolve()
    if not resolved.is_relative_to(root):
        return [f"{target} points outside the repository"]
    if not resolved.exists():
        return [f"{target} does not exist ({resolved.relative_to(root)})"]
    if anchor and resolved.is_file() and resolved.suffix == ".md":
        text = read_text(resolved) or ""
        if anchor.lower() not in heading_anchors(text):
            return [f"{target}: no heading #{anchor} in {resolved.relative_to(root)}"]
    return []


def broken_markdown_links(root: Path) -> list[str]:
    """Every relative Markdown link below ``root`` that does not resolve inside it."""
    problems = []
    for path in repo_files(root, ".md"):
        text = read_text(path)
        if text is None:
            continue
        for number, target in markdown_links(text):
            for problem in link_problems(root, path, target):
                problems.append(f"{path.relative_to(root)}:{number}: {problem}")
    return problems


def references_outside(root: Path) -> list[str]:
    """Every ``../`` path in any file below ``root`` that climbs above ``root``.

    Counted from the file's own folder, wherever it stands: in a link, a code span or a
    comment alike (``../shared/DESIGN.md`` in the README names a file no clone has).
    """
    root = root.resolve()
    problems = []
    for path in repo_files(root):
        text = read_text(path)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            for match in _PARENT_PATH.finditer(line):
                if not (path.parent / match.group(1)).resolve().is_relative_to(root):
                    problems.append(
                        f"{path.relative_to(root)}:{number}: {match.group(1)} is outside the"
                        " repository"
                    )
    return problems


# -- the repository ------------------------------------------------------------------


def test_every_relative_markdown_link_resolves_inside_the_repository() -> None:
    assert list(repo_files(REPO, ".md")), "no Markdown files found"
    problems = broken_markdown_links(REPO)
    assert not problems, "\n".join(problems)


def test_no_file_refers_to_a_path_outside_the_repository() -> None:
    problems = references_outside(REPO)
    assert not problems, "\n".join(problems)


def test_the_architecture_document_is_linked_from_the_readme() -> None:
    readme = (REPO / "README.md").read_text()
    targets = {target for _, target in markdown_links(readme)}
    assert "docs/architecture.md" in targets


# -- the checks themselves -----------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "guide.md").write_text("# Guide\n\n## Two words\n")
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "DESIGN.md").write_text("# Outside\n")
    return root


@pytest.mark.parametrize(
    ("link", "broken"),
    [
        ("[ok](docs/guide.md)", 0),
        ("[ok](docs/guide.md#two-words)", 0),
        ("[ok](./docs/)", 0),
        ("[web](https://example.com/x.md)", 0),
        ("![img](/docs/guide.md)", 0),
        ("```\n[in a code block](missing.md)\n```", 0),
        ("[gone](docs/missing.md)", 1),
        ("[anchor](docs/guide.md#nowhere)", 1),
        ("[out](../shared/DESIGN.md)", 1),
        ("[ref]: ../shared/DESIGN.md", 1),
        ('<a href="docs/nothing.md">html</a>', 1),
    ],
)
def test_links_are_checked(tree: Path, link: str, broken: int) -> None:
    (tree / "README.md").write_text(f"# Readme\n\n{link}\n")
    assert len(broken_markdown_links(tree)) == broken
    if not broken:
        assert references_outside(tree) == []


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("README.md", "The design is in `../shared/DESIGN.md`.\n"),
        # Written as "../" * 2 so that this file does not mention such a path itself.
        ("docs/notes.md", "See " + "../" * 2 + "shared/DESIGN.md for more.\n"),
        ("app.py", '"""Measured in ../shared/STACK-NOTES.md."""\n'),
    ],
)
def test_mentions_of_outside_paths_fail(tree: Path, name: str, text: str) -> None:
    (tree / name).write_text(text)
    assert len(references_outside(tree)) == 1


def test_parent_paths_that_stay_inside_pass(tree: Path) -> None:
    (tree / "docs" / "more.md").write_text("[up](../README.md) and ../docs/guide.md\n")
    (tree / "README.md").write_text("# Readme\n")
    assert broken_markdown_links(tree) == []
    assert references_outside(tree) == []
