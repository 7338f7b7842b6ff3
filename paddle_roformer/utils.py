"""Small helpers shared by the modules: atomic file writes and name suggestions."""
from __future__ import annotations

import contextlib
import difflib
import hashlib
import os
import re
import secrets
from typing import Callable, Iterable, List, Optional


_TEMP_PATTERN = re.compile(r"^\.(?P<target>.+)\.(?P<pid>\d+)\.[0-9a-f]{8}\.tmp$")


def _temp_path(path: str) -> str:
    # The pid in the name lets a later writer tell a killed writer's leftovers from a live one's.
    directory, name = os.path.split(os.path.abspath(path))
    return os.path.join(directory, f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def atomic_write(path: str, write: Callable) -> None:
    """``write(binary file)`` into a temporary file beside ``path``, fsync it, rename it onto ``path``.

    The file is created with mode 0o666 minus the umask, as ``open`` would (not mkstemp's 0600).
    On an exception the temporary file is removed and ``path`` is unchanged; the rename is made
    durable by an fsync of the directory.
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = _temp_path(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    fsync_directory(directory)


def atomic_write_text(path: str, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name == "nt":  # os.kill(pid, 0) would terminate it there: assume alive
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def remove_stale_temp_files(directory: str, targets: Iterable[str]) -> List[str]:
    """Remove the temporary files of ``targets`` left in ``directory`` by processes no longer running."""
    targets, removed = set(targets), []
    for name in os.listdir(directory):
        match = _TEMP_PATTERN.match(name)
        if match and match["target"] in targets and not pid_alive(int(match["pid"])):
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(directory, name))
                removed.append(name)
    return removed


def current_umask() -> int:
    """The process umask, read without changing it where the platform allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # portable fallback: set and restore
    os.umask(mask)
    return mask


def fsync_directory(directory: str) -> None:
    """Make a rename inside ``directory`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def closest_match(word: str, candidates: Iterable[str], cutoff: float = 0.6) -> Optional[str]:
    matches = difflib.get_close_matches(word, sorted(candidates), n=1, cutoff=cutoff)
    return matches[0] if matches else None


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
