"""A directory swapped for a symlink between the check and the open: nothing is read or written outside."""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import pytest

from servers.filesystem import beneath
from tests.servers.filesystem.support import open_root, snapshot, text_of

ITERATIONS = 300
INSIDE = "inside bytes\n"
SECRET = "outside secret\n"


@pytest.fixture(params=["openat2", "walk"])
def resolver(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each race runs against the kernel's ``openat2`` and against the per-component walk."""
    if request.param == "walk":
        monkeypatch.setattr(beneath, "use_openat2", False)
    else:
        monkeypatch.setattr(beneath, "use_openat2", None)
    return str(request.param)


_libc = ctypes.CDLL(None, use_errno=True)
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(first: Path, second: Path) -> None:
    """Swap two names in one atomic ``renameat2(RENAME_EXCHANGE)``: either is always there."""
    if _libc.renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(first))


@contextmanager
def swapping(work: Path, outside: Path) -> Iterator[list[int]]:
    """A thread that keeps swapping ``work`` (a directory) with a symlink to ``outside``, by rename."""
    stop = threading.Event()
    swaps = [0]
    link = work.with_name("work.link")
    os.symlink(outside, link)

    def swap() -> None:
        while not stop.is_set():
            _exchange(work, link)
            _exchange(work, link)
            swaps[0] += 1

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # hand the interpreter back and forth often, so checks and swaps interleave
    thread = threading.Thread(target=swap, daemon=True)
    thread.start()
    try:
        yield swaps
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(interval)
        assert work.is_dir() and not work.is_symlink()
        link.unlink()


def _seed(root: Path, outside: Path) -> Path:
    work = root / "work"
    work.mkdir()
    (work / "data.txt").write_text(INSIDE, encoding="utf-8")
    (outside / "data.txt").write_text(SECRET, encoding="utf-8")
    return work


@pytest.mark.anyio
async def test_reads_racing_a_directory_swapped_for_an_outside_symlink_never_return_outside_bytes(
    root: Path, outside: Path, resolver: str
) -> None:
    work = _seed(root, outside)
    texts: list[str] = []
    with anyio.fail_after(120):
        async with open_root(root) as client:
            with swapping(work, outside) as swaps:
                for _ in range(ITERATIONS):
                    read = await client.call_tool("read_text_file", {"path": "work/data.txt"})
                    media = await client.call_tool("read_media_file", {"path": "work/data.txt"})
                    info = await client.call_tool("get_file_info", {"path": "work/data.txt"})
                    texts += [text_of(read), str(media.structured_content), str(info.structured_content)]
    assert swaps[0] > 0
    leaked = [text for text in texts if "outside secret" in text or "b3V0c2lkZSBzZWNyZXQK" in text]
    assert not leaked, f"{len(leaked)} of {len(texts)} answers carried bytes from outside the root"
    assert any(INSIDE.strip() in text for text in texts), "no read succeeded: the race was never run"


@pytest.mark.anyio
async def test_writes_racing_a_directory_swapped_for_an_outside_symlink_never_land_outside(
    root: Path, outside: Path, resolver: str
) -> None:
    work = _seed(root, outside)
    before = snapshot(outside)
    written = 0
    with anyio.fail_after(120):
        async with open_root(root) as client:
            with swapping(work, outside) as swaps:
                for index in range(ITERATIONS):
                    write = await client.call_tool("write_file", {"path": f"work/new-{index}.txt", "content": "x"})
                    await client.call_tool("write_file", {"path": "work/data.txt", "content": f"v{index}\n"})
                    await client.call_tool("create_directory", {"path": f"work/dir-{index}"})
                    await client.call_tool(
                        "edit_file", {"path": "work/data.txt", "edits": [{"oldText": f"v{index}", "newText": "e"}]}
                    )
                    written += not write.is_error
    assert swaps[0] > 0
    assert snapshot(outside) == before, "a write through the swapped directory landed outside the root"
    assert written > 0, "no write succeeded: the race was never run"
