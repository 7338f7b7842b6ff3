"""Where pretrained files come from: local directories, registered names, and http(s) directories.

The only module that touches the network. Settings (environment variables):

- ``PADDLE_ROFORMER_HOME``: cache root (default ``~/.paddle_roformer``). A registered name's files
  go to ``<home>/models/<name>/``; a URL directory's to ``<home>/urls/<host>-<hash>/``.
- ``PADDLE_ROFORMER_ENDPOINT``: a mirror; every registered file comes from
  ``<endpoint>/<name>/<filename>`` instead of its published URL.
- ``PADDLE_ROFORMER_OFFLINE=1``: use the cache only.
- ``PADDLE_ROFORMER_DISABLE_PROGRESS=1``: no progress bars.

A download streams into ``<file>.part`` next to its target, resumes that file with an HTTP Range
request after an interruption, retries connection errors and 5xx answers with backoff, checks the
sha256 when one is known, and only then renames the file into place. A lock file makes
concurrent processes (the ranks of a distributed launch) download once: the others wait.
"""
from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Iterator, Optional

from .config import CONFIG_NAME, LEGACY_CONFIG_NAME
from .registry import get_pretrained, is_registered
from .utils import sha256_of

WEIGHTS_NAME = "model_state.pdparams"
SAFE_WEIGHTS_NAME = "model.safetensors"
DEFAULT_TIMEOUT = 60.0  # seconds without data before a connection counts as failed
RETRIES = 4
BACKOFF = 0.5  # seconds before the first retry; doubles each time
CHUNK = 1 << 20


def cache_home() -> str:
    return os.path.expanduser(os.environ.get("PADDLE_ROFORMER_HOME") or os.path.join("~", ".paddle_roformer"))


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def is_offline() -> bool:
    return _flag("PADDLE_ROFORMER_OFFLINE")


def is_url(value) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))


@dataclass(frozen=True)
class Resolved:
    """Where a model's files are on disk, and whether the weights may be unpickled without a warning."""

    config_source: str  # a directory, or a registered name (its config comes from the registry)
    weights: str
    trusted: bool  # a registered name, or a file whose sha256 was checked


# ---------------------------------------------------------------------------- downloading


class _FileLock:
    """An exclusive lock on ``path`` held across processes (flock on POSIX, msvcrt on Windows)."""

    def __init__(self, path: str):
        self.path = path

    def __enter__(self):
        self._file = open(self.path, "a+b")
        if os.name == "nt":  # pragma: no cover - exercised on Windows only
            import msvcrt

            while True:
                try:
                    msvcrt.locking(self._file.fileno(), msvcrt.LK_LOCK, 1)
                    break
                except OSError:
                    time.sleep(0.1)
        else:
            import fcntl

            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        if os.name != "nt":
            import fcntl

            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
        self._file.close()


class _Retryable(Exception):
    """A failure worth another try: connection errors, timeouts, 5xx, a cut-off body."""


def _meta_path(path: str) -> str:
    return os.path.join(os.path.dirname(path), "." + os.path.basename(path) + ".sha256.json")


def _verified(path: str, sha256: str) -> bool:
    """True when ``path`` has ``sha256``; the digest is recomputed only if size or mtime changed."""
    stat = os.stat(path)
    try:
        with open(_meta_path(path), encoding="utf-8") as f:
            meta = json.load(f)
        if meta == {"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}:
            return True
    except (OSError, ValueError):
        pass
    if sha256_of(path) != sha256:
        return False
    _write_meta(path, sha256)
    return True


def _write_meta(path: str, sha256: str) -> None:
    stat = os.stat(path)
    with open(_meta_path(path), "w", encoding="utf-8") as f:
        json.dump({"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}, f)


def download(url: str, target: str, sha256: str = "", timeout: float = DEFAULT_TIMEOUT,
             retries: int = RETRIES, progress: Optional[bool] = None) -> str:
    """Fetch ``url`` to ``target`` (resuming, retrying, checking ``sha256``); returns ``target``."""
    directory = os.path.dirname(os.path.abspath(target))
    os.makedirs(directory, exist_ok=True)
    with _FileLock(os.path.join(directory, "." + os.path.basename(target) + ".lock")):
        if os.path.isfile(target):  # another process finished it while this one waited
            if not sha256 or _verified(target, sha256):
                return target
            os.remove(target)
        part = target + ".part"
        for attempt in range(retries + 1):
            try:
                _fetch(url, part, timeout, progress)
                break
            except _Retryable as err:
                if attempt == retries:
                    raise ConnectionError(
                        f"Could not download {url} after {retries + 1} attempts ({err.__cause__ or err}). "
                        f"The network or server could not be reached: set PADDLE_ROFORMER_ENDPOINT to a "
                        f"mirror, or PADDLE_ROFORMER_OFFLINE=1 with the files already in {directory}."
                    ) from err
                time.sleep(BACKOFF * 2 ** attempt)
        if sha256:
            actual = sha256_of(part)
            if actual != sha256:
                os.remove(part)
                raise ValueError(f"sha256 of {url} is {actual}, expected {sha256}; the download was deleted")
        os.replace(part, target)
        if sha256:
            _write_meta(target, sha256)
    return target


def _fetch(url: str, part: str, timeout: float, progress: Optional[bool]) -> None:
    have = os.path.getsize(part) if os.path.isfile(part) else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # the partial file is stale or complete: start over
            os.remove(part)
            raise _Retryable(f"HTTP 416 for {url}") from err
        if err.code >= 500 or err.code in (408, 429):
            raise _Retryable(f"HTTP {err.code}") from err
        raise FileNotFoundError(f"Download failed: HTTP {err.code} for {url}") from err
    except (urllib.error.URLError, socket.timeout, ConnectionError, http.client.HTTPException) as err:
        raise _Retryable(str(err)) from err
    with response:
        resumed = response.status == 206
        if not resumed:
            have = 0
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        with open(part, "ab" if resumed else "wb") as out, _progress_bar(url, total, have, progress) as bar:
            try:
                while True:
                    chunk = response.read(CHUNK)
                    if not chunk:
                        break
                    out.write(chunk)
                    bar(len(chunk))
            except (socket.timeout, ConnectionError, http.client.HTTPException, OSError) as err:
                raise _Retryable(f"connection lost after {out.tell()} bytes") from err
            if total is not None and out.tell() < total:
                raise _Retryable(f"connection closed after {out.tell()} of {total} bytes")


@contextlib.contextmanager
def _progress_bar(url: str, total: Optional[int], initial: int, enabled: Optional[bool]) -> Iterator:
    if enabled is None:
        enabled = not _flag("PADDLE_ROFORMER_DISABLE_PROGRESS")
    if not enabled:
        yield lambda n: None
        return
    from tqdm.auto import tqdm

    name = os.path.basename(urllib.parse.urlparse(url).path)
    with tqdm(total=total, initial=initial, unit="B", unit_scale=True, unit_divisor=1024, desc=name,
              file=sys.stderr, leave=False) as bar:
        yield bar.update


# ---------------------------------------------------------------------------- the cache


def file_url(name: str, filename: str) -> str:
    endpoint = os.environ.get("PADDLE_ROFORMER_ENDPOINT", "").strip()
    if endpoint:
        return f"{endpoint.rstrip('/')}/{name}/{filename}"
    entry = get_pretrained(name)
    if filename not in entry.files:
        raise FileNotFoundError(f"{name} publishes no file {filename!r}; it has {sorted(entry.files)}")
    return entry.files[filename].url


def _from_cache_or_network(url: str, target: str, sha256: str = "") -> str:
    if os.path.isfile(target):
        if not sha256 or _verified(target, sha256):
            return target  # no network I/O at all
        os.remove(target)  # corrupted in the cache: fetched again below
    if is_offline():
        raise FileNotFoundError(f"PADDLE_ROFORMER_OFFLINE is set and {target} is not cached (it would come from {url})")
    return download(url, target, sha256)


def cached_file(name: str, filename: str) -> str:
    """Path of ``filename`` of the registered ``name`` in the cache, downloaded if needed."""
    entry = get_pretrained(name)
    sha256 = entry.files[filename].sha256 if filename in entry.files else ""
    target = os.path.join(cache_home(), "models", name, filename)
    return _from_cache_or_network(file_url(name, filename), target, sha256)


def url_cache_dir(base_url: str) -> str:
    host = urllib.parse.urlparse(base_url).netloc.replace(":", "_") or "url"
    digest = hashlib.sha256(base_url.rstrip("/").encode()).hexdigest()[:16]
    return os.path.join(cache_home(), "urls", f"{host}-{digest}")


def cached_url_file(base_url: str, filename: str, required: bool = True) -> Optional[str]:
    """``<base_url>/<filename>`` through the cache; None for an optional file the server lacks."""
    url = f"{base_url.rstrip('/')}/{filename}"
    target = os.path.join(url_cache_dir(base_url), filename)
    missing_marker = target + ".missing"
    if not required and os.path.isfile(missing_marker):
        return None
    try:
        return _from_cache_or_network(url, target)
    except FileNotFoundError:
        if required:
            raise
        if not is_offline():
            open(missing_marker, "w").close()  # remember, so the next call makes no request
        return None


# ---------------------------------------------------------------------------- resolving


def _local_weights(directory: str) -> Optional[str]:
    for name in (SAFE_WEIGHTS_NAME, WEIGHTS_NAME):  # safetensors first: loading it runs no code
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    return None


def resolve_pretrained(name_or_path) -> Resolved:
    """Find (downloading if needed) the config and weights of a directory, a registered name or a URL."""
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(f"name_or_path must be a str or path, got {type(name_or_path).__name__}")
    name_or_path = os.fspath(name_or_path)
    if is_url(name_or_path):
        directory = url_cache_dir(name_or_path)
        if cached_url_file(name_or_path, CONFIG_NAME, required=False) is None:
            cached_url_file(name_or_path, LEGACY_CONFIG_NAME)
        weights = cached_url_file(name_or_path, SAFE_WEIGHTS_NAME, required=False) or cached_url_file(
            name_or_path, WEIGHTS_NAME)
        return Resolved(directory, weights, trusted=weights.endswith(".safetensors"))
    if os.path.isdir(name_or_path):
        has_config = any(os.path.isfile(os.path.join(name_or_path, f)) for f in (CONFIG_NAME, LEGACY_CONFIG_NAME))
        weights = _local_weights(name_or_path)
        if not has_config or weights is None:
            raise FileNotFoundError(
                f"{name_or_path} must contain {CONFIG_NAME} (or {LEGACY_CONFIG_NAME}) and "
                f"{SAFE_WEIGHTS_NAME} or {WEIGHTS_NAME}"
            )
        return Resolved(name_or_path, weights, trusted=weights.endswith(".safetensors"))
    if os.path.exists(name_or_path):
        raise ValueError(f"{name_or_path} is a file; pass the directory that holds it")
    if not is_registered(name_or_path) and (os.path.sep in name_or_path or name_or_path.startswith(".")):
        raise FileNotFoundError(f"No such directory: {name_or_path}")
    get_pretrained(name_or_path)  # raises with the close match for an unknown name
    return Resolved(name_or_path, cached_file(name_or_path, WEIGHTS_NAME), trusted=True)


def resolve_tokenizer_files(name_or_path: str) -> tuple:
    """(vocab.txt, tokenizer_config.json or None) of a directory or a URL directory."""
    if is_url(name_or_path):
        return cached_url_file(name_or_path, "vocab.txt"), cached_url_file(name_or_path, "tokenizer_config.json",
                                                                             required=False)
    config = os.path.join(name_or_path, "tokenizer_config.json")
    return os.path.join(name_or_path, "vocab.txt"), (config if os.path.isfile(config) else None)
