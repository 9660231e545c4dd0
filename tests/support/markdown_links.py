"""Check the relative links and anchors of markdown files the way GitHub resolves them.

A link resolves when its path names an existing file or directory (relative to the linking file, or to
the repository root when it starts with ``/``) and its ``#anchor``, when the target is a markdown file,
is the slug of one of that file's headings. External links (any ``scheme:``) are not checked.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

SKIPPED_DIRS = frozenset({".venv", "node_modules", ".git"})

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
# [text](target) or ![alt](target), target optionally in <...>, optionally followed by a "title".
_INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
_REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


@dataclass(frozen=True)
class Problem:
    """One link that does not resolve: where it is written, what it points at, and why it fails."""

    file: Path
    line: int
    target: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.target}: {self.reason}"


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lowercase, punctuation but ``-`` and ``_`` dropped, spaces to ``-``."""
    parts = _CODE_SPAN.split(heading)  # [prose, fence, code, prose, fence, code, ..., prose]
    prose = [re.sub(r"<[^>]+>", "", re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", part)) for part in parts[::3]]
    code = parts[2::3]  # a code span counts by its content, even when it looks like HTML
    text = "".join(p + c for p, c in zip(prose, [*code, ""], strict=True))
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def _prose_lines(text: str) -> Iterator[tuple[int, str]]:
    """Numbered lines outside fenced code blocks."""
    fence: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        match = _FENCE.match(line)
        if fence is None and match:
            fence = match.group(1)[0] * 3
            continue
        if fence is not None:
            if line.lstrip().startswith(fence):
                fence = None
            continue
        yield number, line


def anchors(text: str) -> set[str]:
    """Every anchor the headings of a markdown text define, with GitHub's ``-1``, ``-2`` for repeats."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    for _number, line in _prose_lines(text):
        match = _HEADING.match(line)
        if not match:
            continue
        slug = github_slug(match.group(2))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def links(text: str) -> Iterator[tuple[int, str]]:
    """The link targets of a markdown text with their line numbers, leaving out code blocks and code spans."""
    for number, line in _prose_lines(text):
        definition = _REFERENCE_DEFINITION.match(line)
        if definition:
            yield number, definition.group(1).strip("<>")
            continue
        for match in _INLINE_LINK.finditer(_CODE_SPAN.sub("", line)):
            yield number, match.group(1).strip("<>")


def check_file(path: Path, root: Path) -> list[Problem]:
    """The links of one markdown file that do not resolve; ``root`` is where ``/``-links start."""
    text = path.read_text(encoding="utf-8")
    problems: list[Problem] = []
    for number, target in links(text):
        if _SCHEME.match(target):
            continue
        link_path, _, anchor = target.partition("#")
        link_path = unquote(link_path)
        if not link_path:
            resolved = path
        elif link_path.startswith("/"):
            resolved = root / link_path.lstrip("/")
        else:
            resolved = path.parent / link_path
        if not resolved.exists():
            problems.append(Problem(path, number, target, f"no such file or directory: {resolved}"))
            continue
        if anchor and resolved.is_file() and resolved.suffix.lower() == ".md":
            target_text = text if resolved == path else resolved.read_text(encoding="utf-8")
            if unquote(anchor) not in anchors(target_text):
                problems.append(Problem(path, number, target, f"no heading with anchor #{anchor} in {resolved.name}"))
    return problems


def markdown_files(root: Path) -> list[Path]:
    """The repository's markdown files: git's tracked and untracked-but-not-ignored ones, else a walk."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", "--", "*.md"],
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout.decode()
        candidates: Iterable[Path] = (root / name for name in listed.split("\0") if name)
    except (OSError, subprocess.CalledProcessError):
        candidates = root.rglob("*.md")
    return sorted(
        path for path in candidates if path.is_file() and not SKIPPED_DIRS.intersection(path.relative_to(root).parts)
    )


def check_tree(root: Path) -> list[Problem]:
    """Every unresolved relative link or anchor in the markdown files under ``root``."""
    return [problem for path in markdown_files(root) for problem in check_file(path, root)]
