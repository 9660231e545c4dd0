"""``edit_file``: find-and-replace edits that survive whitespace and line-ending drift.

Each edit is applied in turn to the text the previous ones left:

1. **exact** (after line endings are normalised): ``oldText`` occurs exactly once. Several
   occurrences are refused as ambiguous, with their line numbers.
2. **whitespace**: compared line by line with runs of whitespace collapsed and Unicode in NFC, a
   single window of whole lines matches. The replacement takes the file's indentation (tabs
   stay tabs, a four-space file stays four-space), shifted by the levels ``newText`` indents.
3. otherwise the edit is refused and the closest line is shown.

A CRLF file is edited in LF form and written back CRLF; a BOM is kept; a mixed file keeps each
untouched line's ending. The result carries a git-style unified diff.
"""

from __future__ import annotations

import difflib
import math
import os
import stat
import unicodedata
from collections.abc import Sequence

from servers.filesystem.beneath import open_beneath
from servers.filesystem.errors import FsError, os_errors
from servers.filesystem.models import AppliedEdit, EditOperation, EditResult, MatchKind
from servers.filesystem.textio import is_binary, sha256_bytes, text_line_ending
from servers.filesystem.writing import atomic_write, check_expected
from servers.kit.paths.policy import Resolved

BOM = "\ufeff"
TAB_WIDTH = 4
CLOSEST_SCAN_LINES = 20_000


def _norm(line: str) -> str:
    return " ".join(unicodedata.normalize("NFC", line).split())


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _width(indent: str) -> int:
    return sum(TAB_WIDTH if char == "\t" else 1 for char in indent)


def _unit(indents: Sequence[str]) -> str:
    """The indentation unit these lines use: a tab, or the gcd of their space indents (default four)."""
    if any("\t" in indent for indent in indents):
        return "\t"
    widths = [len(indent) for indent in indents if indent]
    step = math.gcd(*widths) if widths else TAB_WIDTH
    return " " * (step if 2 <= step <= 8 else TAB_WIDTH)


def _reindent(new_lines: list[str], old_lines: list[str], file_lines: list[str]) -> list[str]:
    """``new_lines`` carried over to the file's indentation, keeping their relative levels."""
    if all(_indent(old) == _indent(have) for old, have in zip(old_lines, file_lines, strict=False)):
        return new_lines
    first_old = next((line for line in old_lines if line.strip()), "")
    first_file = next((line for line in file_lines if line.strip()), "")
    model_unit = _unit([_indent(line) for line in old_lines + new_lines])
    file_unit = _unit([_indent(line) for line in file_lines])
    base = _width(_indent(first_old))
    unit_width = _width(model_unit)
    out: list[str] = []
    for line in new_lines:
        if not line.strip():
            out.append("")
            continue
        width = _width(_indent(line)) - base
        levels, residue = divmod(abs(width), unit_width)
        prefix = _indent(first_file)
        if width >= 0:
            prefix += file_unit * levels + " " * residue
        else:
            prefix = prefix[: max(0, len(prefix) - len(file_unit) * levels)]
        out.append(prefix + line.lstrip(" \t"))
    return out


def _line_of(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def _strip_blank_edges(lines: list[str]) -> list[str]:
    start, stop = 0, len(lines)
    while start < stop and not lines[start].strip():
        start += 1
    while stop > start and not lines[stop - 1].strip():
        stop -= 1
    return lines[start:stop]


def _closest(work_lines: list[str], wanted: str) -> str:
    target = _norm(wanted)
    best_ratio, best_index = 0.0, -1
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(target)
    for index, line in enumerate(work_lines[:CLOSEST_SCAN_LINES]):
        matcher.set_seq1(_norm(line))
        if matcher.real_quick_ratio() > best_ratio and matcher.quick_ratio() > best_ratio:
            ratio = matcher.ratio()
            if ratio > best_ratio:
                best_ratio, best_index = ratio, index
    if best_index < 0 or best_ratio < 0.5:
        return "No line is similar to its first line."
    return (
        f"The closest line is {best_index + 1} ({round(best_ratio * 100)}% similar): "
        f"{work_lines[best_index].strip()[:200]!r}."
    )


def apply_edit(work: str, edit: EditOperation, index: int) -> tuple[str, AppliedEdit]:
    """Apply one edit to ``work`` (LF-normalised unless the file is mixed); refuse if it is not unique."""
    old = edit.old_text.replace("\r\n", "\n")
    new = edit.new_text.replace("\r\n", "\n")
    count = work.count(old)
    if count == 1:
        position = work.index(old)
        kind: MatchKind = "exact" if old == edit.old_text else "line_endings"
        applied = AppliedEdit(
            index=index,
            match=kind,
            start_line=_line_of(work, position),
            lines_removed=old.count("\n") + 1,
            lines_added=new.count("\n") + 1,
        )
        return work[:position] + new + work[position + len(old) :], applied
    if count > 1:
        lines = []
        start = 0
        for _ in range(min(count, 5)):
            position = work.index(old, start)
            lines.append(str(_line_of(work, position)))
            start = position + 1
        raise FsError(
            "ambiguous",
            f"oldText of edit #{index} matches {count} places (lines {', '.join(lines)}{'...' if count > 5 else ''}); "
            "include more surrounding lines so it matches exactly one",
        )
    work_lines = work.split("\n")
    old_lines = _strip_blank_edges(old.split("\n"))
    if not old_lines:
        raise FsError("invalid_argument", f"oldText of edit #{index} is only whitespace; give text to find")
    normalized = [_norm(line) for line in work_lines]
    target = [_norm(line) for line in old_lines]
    size = len(target)
    hits = [
        start
        for start in range(len(work_lines) - size + 1)
        if normalized[start] == target[0] and normalized[start : start + size] == target
    ]
    if len(hits) > 1:
        raise FsError(
            "ambiguous",
            f"oldText of edit #{index} matches {len(hits)} places when whitespace is ignored "
            f"(lines {', '.join(str(h + 1) for h in hits[:5])}); include more surrounding lines",
        )
    if not hits:
        raise FsError(
            "no_match",
            f"oldText of edit #{index} was not found, not even ignoring whitespace and line endings. "
            f"{_closest(work_lines, old_lines[0])} Read the file again and copy the text exactly.",
        )
    start = hits[0]
    window = work_lines[start : start + size]
    new_lines = new.split("\n")
    if new.endswith("\n"):
        new_lines = new_lines[:-1]
    replacement = _reindent(new_lines, old_lines, window) if new else []
    if window and window[-1].endswith("\r"):
        replacement = [line if line.endswith("\r") else line + "\r" for line in replacement]
    applied = AppliedEdit(
        index=index, match="whitespace", start_line=start + 1, lines_removed=size, lines_added=len(replacement)
    )
    return "\n".join(work_lines[:start] + replacement + work_lines[start + size :]), applied


def _diff_lines(text: str) -> list[str]:
    lines = text.split("\n")
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()
    return lines


def unified_diff(before: str, after: str, relative: str) -> str:
    name = relative or os.path.basename(relative) or "file"
    lines = list(
        difflib.unified_diff(
            _diff_lines(before), _diff_lines(after), fromfile=f"a/{name}", tofile=f"b/{name}", lineterm="", n=3
        )
    )
    if not lines:
        return ""
    return f"diff --git a/{name} b/{name}\n" + "\n".join(line.rstrip("\r") for line in lines) + "\n"


def edit_file(
    target: Resolved,
    shown: str,
    edits: list[EditOperation],
    *,
    dry_run: bool,
    expected_sha256: str | None,
    max_bytes: int,
) -> EditResult:
    fd = open_beneath(target.anchor, target.path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0), shown=shown)
    with os.fdopen(fd, "rb") as handle, os_errors(shown):
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise FsError("is_directory", f"{shown!r} is a directory; `edit_file` edits text files")
        if not stat.S_ISREG(info.st_mode):
            raise FsError("not_a_file", f"{shown!r} is not a regular file (device, socket or pipe)")
        if info.st_size > max_bytes:
            raise FsError("too_large", f"{shown!r} is {info.st_size} bytes; `edit_file` handles at most {max_bytes}")
        data = handle.read()
    before_hash = sha256_bytes(data)
    if expected_sha256 is not None:
        check_expected(shown, expected_sha256, before_hash)
    if is_binary(data):
        raise FsError("binary", f"{shown!r} is a binary file; `edit_file` edits UTF-8 text")
    try:
        original = data.decode("utf-8")
    except UnicodeDecodeError:
        raise FsError("not_utf8", f"{shown!r} is not valid UTF-8; editing it would corrupt it") from None
    bom = original.startswith(BOM)
    body = original[1:] if bom else original
    ending = text_line_ending(body)
    work = body.replace("\r\n", "\n") if ending == "crlf" else body
    start_work = work
    applied: list[AppliedEdit] = []
    for number, edit in enumerate(edits, start=1):
        work, done = apply_edit(work, edit, number)
        applied.append(done)
    diff = unified_diff(start_work, work, target.relative)
    final = work.replace("\n", "\r\n") if ending == "crlf" else work
    encoded = ((BOM if bom else "") + final).encode("utf-8")
    if len(encoded) > max_bytes:
        raise FsError("too_large", f"the edited file would be {len(encoded)} bytes; at most {max_bytes} are allowed")
    if not dry_run and encoded != data:
        atomic_write(target, encoded, exclusive=False, shown=shown, mode=stat.S_IMODE(info.st_mode))
    return EditResult(
        path=target.path,
        applied=not dry_run,
        diff=diff,
        edits=applied,
        sha256_before=before_hash,
        sha256_after=sha256_bytes(encoded),
        line_ending=ending,
    )
