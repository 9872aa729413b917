"""Outputs that are complete or absent (files and folders written under a temporary name, then renamed),
and the machine that wrote them."""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from .errors import SpecError


def write_atomically(path: Path, content: str | bytes | Callable[[Path], object]) -> Path:
    """Write a file under a temporary name and rename it: a reader sees the old file or the new one.
    ``content``: the text or bytes, or a function that writes the file at the path it is given."""
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    try:
        if isinstance(content, str):
            partial.write_text(content)
        elif isinstance(content, bytes):
            partial.write_bytes(content)
        else:
            content(partial)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(path)
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _take_lock(lock: Path, out: Path) -> int:
    """An exclusive lock file holding this process's id; a lock left by a dead process is taken over."""
    for _ in range(2):
        try:
            handle = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                holder = int(lock.read_text().strip() or 0)
            except (OSError, ValueError):
                holder = 0
            if holder and _alive(holder):
                raise SpecError(f"another run (process {holder}) is writing {out}; wait for it, or write elsewhere")
            lock.unlink(missing_ok=True)  # left by a run that died
            continue
        os.write(handle, str(os.getpid()).encode())
        return handle
    raise SpecError(f"cannot lock {out} ({lock} keeps coming back)")


@contextmanager
def output_folder(out: Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a fresh temporary folder beside ``out``; when the block ends normally it replaces
    ``out``, so a reader never sees a half-written or mixed folder (on an error or Ctrl-C ``out``
    is left as it was). A non-empty ``out`` is refused unless ``overwrite``; a lock file keeps
    two runs from writing one folder."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SpecError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise SpecError(f"{out} is not empty: pass --overwrite to replace its contents, or choose another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    lock = out.parent / f".{out.name}.lock"
    handle = _take_lock(lock, out)
    partial = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        yield partial
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            out.rename(old / out.name)
            partial.rename(out)
            shutil.rmtree(old)
        else:
            partial.rename(out)
    finally:
        shutil.rmtree(partial, ignore_errors=True)  # gone already unless the block failed
        os.close(handle)
        lock.unlink(missing_ok=True)


def machine_description() -> str:
    """The machine a written result came from (results/ files name it)."""
    return (
        f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_implementation()} {platform.python_version()}"
    )
