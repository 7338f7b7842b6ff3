"""Where pretrained files come from: the one ``resolve()`` for local directories, http(s) URLs of
directories, and registered names. The only module that touches the network.

``classify(x)`` says which of the three ``x`` is; ``resolve(x, filenames)`` returns the local path
of the first of ``filenames`` that ``x`` provides, downloading it into the cache when needed.

Settings (environment variables, read at each call):

- ``PADDLE_ROFORMER_HOME``: cache root (default ``~/.paddle_roformer``). A registered name's files
  go to ``<home>/models/<name>/``; a URL directory's to ``<home>/urls/<host>-<hash>/``.
- ``PADDLE_ROFORMER_ENDPOINT``: a mirror; every file a name publishes comes from
  ``<endpoint>/<name>/<filename>`` instead of its published URL.
- ``PADDLE_ROFORMER_OFFLINE=1``: use the cache only.
- ``PADDLE_ROFORMER_DISABLE_PROGRESS=1``: no progress bars.
- ``PADDLE_ROFORMER_TIMEOUT`` (seconds, default 60): how long one connect or read may wait.
- ``PADDLE_ROFORMER_STALL_LIMIT`` (seconds, default 300): a download that has received no byte for
  this long, counted across its retries, gives up.
- ``PADDLE_ROFORMER_LOCK_TIMEOUT`` (seconds, default 600): how long a process waits for another
  process's download of the same file while that download makes no progress.
- ``PADDLE_ROFORMER_MISSING_TTL`` (seconds, default 300): how long a 404 is remembered for a file
  that has a fallback (a later alternative, or an optional file).

A download streams into ``<file>.part``; it resumes with ``Range`` + ``If-Range`` only when the
first answer gave a validator (ETag or Last-Modified) and the server confirms the same file;
it is checked (length, file format, sha256 when known) before it is renamed into place. Cache hits
get the same cheap checks; a cached file that fails is renamed to ``<file>.invalid`` and fetched
again once.
"""
from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import logging
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Iterator, List, Optional, Sequence, Union

from . import registry
from .utils import sha256_of

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 60.0  # PADDLE_ROFORMER_TIMEOUT
DEFAULT_STALL_LIMIT = 300.0  # PADDLE_ROFORMER_STALL_LIMIT
DEFAULT_LOCK_TIMEOUT = 600.0  # PADDLE_ROFORMER_LOCK_TIMEOUT
DEFAULT_MISSING_TTL = 300.0  # PADDLE_ROFORMER_MISSING_TTL
RETRIES = 4
BACKOFF = 0.5  # seconds before the first retry; doubles each time
CHUNK = 1 << 20
LOCK_POLL = 0.1  # seconds between attempts to take a download lock


# ---------------------------------------------------------------------------- settings


def cache_home() -> str:
    return os.path.expanduser(os.environ.get("PADDLE_ROFORMER_HOME") or os.path.join("~", ".paddle_roformer"))


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def is_offline() -> bool:
    return _flag("PADDLE_ROFORMER_OFFLINE")


def _seconds(variable: str, default: float, allow_zero: bool = False) -> float:
    text = os.environ.get(variable, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{variable} must be a number of seconds, got {text!r}") from None
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{variable} must be {'>= 0' if allow_zero else '> 0'} seconds, got {text!r}")
    return value


def is_url(value) -> bool:
    return isinstance(value, str) and value[:8].lower().startswith(("http://", "https://"))


# ---------------------------------------------------------------------------- the one resolver


def _as_str(name_or_path) -> str:
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(
            "name_or_path must be a str or os.PathLike (a registered name, a directory or an http(s) URL), "
            f"got {type(name_or_path).__name__}"
        )
    value = os.fspath(name_or_path)
    if not isinstance(value, str):
        raise TypeError(f"name_or_path must be a text path, got {type(value).__name__} {value!r}")
    if not value:
        raise ValueError("name_or_path is empty: pass a registered name, a directory or an http(s) URL")
    return value


def _looks_like_path(value: str) -> bool:
    separators = [os.sep, "/"] + ([os.altsep] if os.altsep else [])
    return any(s in value for s in separators) or value.startswith((".", "~"))


def classify(name_or_path) -> str:
    """``"directory"``, ``"url"`` (http or https) or ``"name"`` (registered); an existing directory
    wins over a registered name of the same spelling.

    TypeError for anything but a str or os.PathLike; ValueError for an existing plain file or
    another URL scheme; FileNotFoundError for a path that does not exist; UnknownModelError (with
    the closest registered name) for anything else.
    """
    value = _as_str(name_or_path)
    if is_url(value):
        return "url"
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]+://", value):
        raise ValueError(f"{value!r}: only http:// and https:// URLs are supported")
    if os.path.isdir(value):
        return "directory"
    if os.path.exists(value):
        raise ValueError(f"{value} is a file; pass the directory that holds it")
    if registry.is_registered(value):
        return "name"
    if _looks_like_path(value):
        raise FileNotFoundError(f"No such directory: {value!r} (and it is not a registered name)")
    registry.get_pretrained(value)  # raises UnknownModelError with the closest name
    return "name"


def _filenames(filenames: Union[str, Sequence[str]]) -> List[str]:
    names = [filenames] if isinstance(filenames, str) else list(filenames)
    if not names:
        raise ValueError("filenames is empty: give a file name or a list of alternatives")
    for name in names:
        if not isinstance(name, str) or not name or "/" in name or "\\" in name or name in (".", ".."):
            raise ValueError(f"filenames must be plain file names, got {name!r}")
    return names


def resolve(name_or_path, filenames: Union[str, Sequence[str]], *, optional: bool = False) -> Optional[str]:
    """Local path of the first of ``filenames`` (alternatives in order of preference) that
    ``name_or_path`` provides.

    A directory is looked into (no network); an http(s) URL of a directory and a registered name
    go through the cache (a name provides only the files its YAML publishes, from their URLs or
    from ``PADDLE_ROFORMER_ENDPOINT``). When none exists: None if ``optional``, else
    FileNotFoundError saying what was looked for, where, and what to do. Network failures,
    stalls and files that fail their checks raise their own errors instead of counting as absent.
    """
    candidates = _filenames(filenames)
    kind = classify(name_or_path)
    source = _as_str(name_or_path)
    if kind == "directory":
        for filename in candidates:
            path = os.path.join(source, filename)
            if os.path.isfile(path):
                return path
        if optional:
            return None
        raise FileNotFoundError(_not_found(source, candidates, [f"not in the directory {os.path.abspath(source)}"],
                                           "add the file there (save_pretrained writes it), or pass another "
                                           "directory, an http(s) URL or a registered name"))
    reasons = []
    entry = registry.get_pretrained(source) if kind == "name" else None
    cache_dir = os.path.join(cache_home(), "models", source) if entry is not None else url_cache_dir(source)
    for i, filename in enumerate(candidates):
        has_fallback = optional or i < len(candidates) - 1
        if entry is not None:
            if filename not in entry.files:
                reasons.append(f"{filename} is not published by {source} "
                               f"(configs/{source}.yaml lists {', '.join(sorted(entry.files))})")
                continue
            url = file_url(source, filename)
            sha256 = entry.files[filename].sha256
        else:
            url = f"{source.rstrip('/')}/{filename}"
            sha256 = ""
        try:
            return fetch(url, os.path.join(cache_dir, filename), sha256, use_recent_404=has_fallback)
        except _Absent as err:
            reasons.append(str(err))
    if optional:
        return None
    if is_offline():
        todo = f"unset PADDLE_ROFORMER_OFFLINE, or copy the file into {cache_dir}"
    elif kind == "name":
        todo = (f"set PADDLE_ROFORMER_ENDPOINT to a mirror that serves <endpoint>/{source}/<file>, "
                f"or put the file into {cache_dir}")
    else:
        todo = "check that the URL is a directory serving the file as <url>/<file>"
    raise FileNotFoundError(_not_found(source, candidates, reasons, todo))


def _not_found(source: str, candidates: List[str], reasons: List[str], todo: str) -> str:
    return f"{source!r} has no {' or '.join(candidates)}: {'; '.join(reasons)}. To fix: {todo}."


class _Absent(FileNotFoundError):
    """The server says the file is not there (or offline mode and not cached): try the next alternative."""


def file_url(name: str, filename: str) -> str:
    """Where a registered name's ``filename`` is downloaded from (the mirror when one is set)."""
    entry = registry.get_pretrained(name)
    if filename not in entry.files:
        raise FileNotFoundError(f"{name} publishes no file {filename!r}; it has {sorted(entry.files)}")
    endpoint = os.environ.get("PADDLE_ROFORMER_ENDPOINT", "").strip()
    if endpoint:
        return f"{endpoint.rstrip('/')}/{name}/{filename}"
    return entry.files[filename].url


def url_cache_dir(base_url: str) -> str:
    host = urllib.parse.urlparse(base_url).netloc.replace(":", "_") or "url"
    digest = hashlib.sha256(base_url.rstrip("/").encode()).hexdigest()[:16]
    return os.path.join(cache_home(), "urls", f"{host}-{digest}")


# ---------------------------------------------------------------------------- the cache


def _sidecar(path: str, suffix: str) -> str:
    return os.path.join(os.path.dirname(path), "." + os.path.basename(path) + suffix)


def _read_json(path: str) -> Optional[dict]:
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
        return value if isinstance(value, dict) else None
    except (OSError, ValueError):
        return None


def _write_json(path: str, value: dict) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(value, f)
    os.replace(tmp, path)


def _remove(*paths: str) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


def fetch(url: str, target: str, sha256: str = "", *, use_recent_404: bool = False) -> str:
    """``target`` if it is cached and passes its checks (no network), else downloaded from ``url``.

    Raises a FileNotFoundError subclass when the server answers that the file is absent, or when
    offline and it is not cached; with ``use_recent_404`` a 404 seen in the last
    ``PADDLE_ROFORMER_MISSING_TTL`` seconds counts as absent without asking again.
    """
    if os.path.isfile(target):
        problem = _cache_problem(target, sha256)
        if problem is None:
            return target
        if is_offline():
            aside = _set_aside(target, url, problem)
            raise _Absent(f"PADDLE_ROFORMER_OFFLINE is set and {target} is not cached: the cached copy "
                          f"failed its check ({problem}) and was moved to {aside} (it would come from {url})")
    if is_offline():
        raise _Absent(f"PADDLE_ROFORMER_OFFLINE is set and {target} is not cached (it would come from {url})")
    if use_recent_404:
        age = _recent_404_age(target)
        if age is not None:
            raise _Absent(f"HTTP 404 for {url} {age:.0f} s ago (asked again after PADDLE_ROFORMER_MISSING_TTL)")
    return download(url, target, sha256)


def _recent_404_age(target: str) -> Optional[float]:
    marker = _sidecar(target, ".404")
    try:
        age = time.time() - os.stat(marker).st_mtime
    except OSError:
        return None
    if age < _seconds("PADDLE_ROFORMER_MISSING_TTL", DEFAULT_MISSING_TTL, allow_zero=True):
        return max(age, 0.0)
    _remove(marker)
    return None


def _cache_problem(path: str, sha256: str) -> Optional[str]:
    """None when the cached ``path`` passes the cheap checks (size, format, sha256), else why not."""
    stat = os.stat(path)
    meta = _read_json(_sidecar(path, ".meta.json")) or {}
    if isinstance(meta.get("size"), int) and meta["size"] != stat.st_size:
        return f"it has {stat.st_size} bytes but was downloaded with {meta['size']}"
    problem = format_problem(path)
    if problem is not None or not sha256:
        return problem
    if (meta.get("sha256"), meta.get("size"), meta.get("mtime_ns")) == (sha256, stat.st_size, stat.st_mtime_ns):
        return None  # digest already checked and the file has not changed since
    actual = sha256_of(path)
    if actual != sha256:
        return f"sha256 is {actual}, expected {sha256}"
    meta.update(sha256=sha256, size=stat.st_size, mtime_ns=stat.st_mtime_ns)
    _write_json(_sidecar(path, ".meta.json"), meta)
    return None


def _set_aside(path: str, url: str, problem: str) -> str:
    aside = path + ".invalid"
    os.replace(path, aside)
    _remove(_sidecar(path, ".meta.json"))
    logger.warning("The cached file %s failed its check (%s); it was moved to %s and will be fetched again from %s",
                   path, problem, aside, url)
    return aside


# ---------------------------------------------------------------------------- file checks


def _looks_like_html(head: bytes) -> bool:
    start = head.lstrip().lower()
    return start.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<?xml"))


def _describe(head: bytes) -> str:
    if _looks_like_html(head):
        return "an HTML page (a proxy, captive portal or error page answered instead of the file)"
    return f"data starting with {head[:16]!r}"


def format_problem(path: str, filename: Optional[str] = None) -> Optional[str]:
    """A cheap check that ``path`` is what ``filename`` (default: its own name) says (None when it is); by extension:
    ``.pdparams`` a pickle, ``.safetensors`` a header that fits the file, ``.json`` a JSON object,
    ``.txt`` UTF-8 text with at least one non-empty line. Other files: non-empty."""
    size = os.path.getsize(path)
    if size == 0:
        return "the file is empty"
    name = filename or os.path.basename(path)
    with open(path, "rb") as f:
        head = f.read(64)
        if name.endswith(".pdparams"):
            # paddle.save writes one pickle: PROTO opcode 0x80 with protocol 2..5 ... STOP opcode "."
            f.seek(-1, os.SEEK_END)
            if len(head) < 2 or head[0] != 0x80 or not 2 <= head[1] <= 5:
                return f"it is not a Paddle state dict (a pickle): it is {_describe(head)}"
            if f.read(1) != b".":
                return "the pickle is cut off (it does not end with the STOP opcode)"
            return None
        if name.endswith(".safetensors"):
            return _safetensors_problem(f, head, size)
        if name.endswith(".json"):
            f.seek(0)
            try:
                value = json.loads(f.read().decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as err:
                return f"it is not JSON ({err}): it is {_describe(head)}"
            return None if isinstance(value, dict) else f"it holds a JSON {type(value).__name__}, not an object"
        if name.endswith(".txt"):
            if _looks_like_html(head):
                return f"it is {_describe(head)}"
            f.seek(0)
            try:
                text = f.read().decode("utf-8")
            except UnicodeDecodeError as err:
                return f"it is not UTF-8 text ({err})"
            return None if any(line.strip() for line in text.splitlines()) else "it has no non-empty line"
    return None


def _safetensors_problem(f, head: bytes, size: int) -> Optional[str]:
    # Layout: 8-byte little-endian header length n, n bytes of JSON header, then the tensor bytes.
    if len(head) < 8:
        return f"it is {size} bytes, too short for a safetensors file"
    n = int.from_bytes(head[:8], "little")
    if n < 2 or 8 + n > size:
        return f"it is not a safetensors file: header length {n} does not fit its {size} bytes ({_describe(head)})"
    f.seek(8)
    try:
        header = json.loads(f.read(n).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return "its safetensors header is not JSON"
    if not isinstance(header, dict):
        return "its safetensors header is not a JSON object"
    ends = [v["data_offsets"][1] for k, v in header.items()
            if k != "__metadata__" and isinstance(v, dict) and isinstance(v.get("data_offsets"), list)
            and len(v["data_offsets"]) == 2 and isinstance(v["data_offsets"][1], int)]
    if ends and 8 + n + max(ends) != size:
        return f"its tensors need {8 + n + max(ends)} bytes but the file has {size}"
    return None


# ---------------------------------------------------------------------------- downloading


class RedirectRefused(ValueError):
    """A server redirected to something other than http(s)."""


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    def http_error_302(self, req, fp, code, msg, headers):
        location = headers.get("location") or headers.get("uri")
        if location:
            target = urllib.parse.urljoin(req.full_url, location)
            if urllib.parse.urlparse(target).scheme.lower() not in ("http", "https"):
                fp.close()
                raise RedirectRefused(f"{req.full_url} redirected (HTTP {code}) to {target}; only redirects to "
                                      "http:// or https:// are followed")
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


class _Retryable(Exception):
    """A failure worth another try: connection errors, timeouts, 5xx / 408 / 429, a cut-off body."""


class _FileLock:
    """An exclusive lock on ``path`` across processes, taken by polling a non-blocking lock.

    While another process holds it, logs once that it is waiting, and gives up with TimeoutError
    when the files in ``watch`` (the other process's download) stop changing for ``timeout`` s.
    """

    def __init__(self, path: str, what: str, watch: Sequence[str] = (), timeout: Optional[float] = None):
        self.path, self.what, self.watch = path, what, tuple(watch)
        self.timeout = _seconds("PADDLE_ROFORMER_LOCK_TIMEOUT", DEFAULT_LOCK_TIMEOUT) if timeout is None else timeout

    def _try_lock(self) -> bool:
        if os.name == "nt":  # pragma: no cover - exercised on Windows only
            import msvcrt

            try:
                msvcrt.locking(self._file.fileno(), msvcrt.LK_NBLCK, 1)
            except OSError:
                return False
            return True
        import fcntl

        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except (BlockingIOError, PermissionError):
            return False
        return True

    def _state(self):
        out = []
        for path in self.watch:
            try:
                stat = os.stat(path)
                out.append((stat.st_size, stat.st_mtime_ns))
            except OSError:
                out.append(None)
        return tuple(out)

    def __enter__(self):
        self._file = open(self.path, "a+b")
        if self._try_lock():
            return self
        logger.warning("Waiting for another process to finish downloading %s (it holds the lock %s)",
                       self.what, self.path)
        state, changed = self._state(), time.monotonic()
        while not self._try_lock():
            now = time.monotonic()
            if self._state() != state:
                state, changed = self._state(), now
            elif now - changed >= self.timeout:
                self._file.close()
                raise TimeoutError(
                    f"Gave up waiting for the lock {self.path}: another process holds it while downloading "
                    f"{self.what}, and that download made no progress for {self.timeout:g} s "
                    "(PADDLE_ROFORMER_LOCK_TIMEOUT). Stop that process if it is hung; the lock is released "
                    "when it exits."
                )
            time.sleep(LOCK_POLL)
        return self

    def __exit__(self, *exc):
        if os.name == "nt":  # pragma: no cover
            import msvcrt

            with contextlib.suppress(OSError):
                self._file.seek(0)
                msvcrt.locking(self._file.fileno(), msvcrt.LK_UNLCK, 1)
        else:
            import fcntl

            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
        self._file.close()


class _Progress:
    def __init__(self):
        self.last = time.monotonic()  # when the last body byte arrived


def download(url: str, target: str, sha256: str = "", timeout: Optional[float] = None,
             retries: int = RETRIES, progress: Optional[bool] = None) -> str:
    """Fetch ``url`` to ``target`` (locked, resumed, retried, checked); returns ``target``.

    ``timeout`` is the per-read limit (default ``PADDLE_ROFORMER_TIMEOUT``). Raises
    FileNotFoundError for a 404 / 410 or another client error, ConnectionError when the retries
    run out, TimeoutError on a stall, ValueError when the file fails its checks, RedirectRefused
    for a redirect away from http(s).
    """
    directory = os.path.dirname(os.path.abspath(target))
    os.makedirs(directory, exist_ok=True)
    part = target + ".part"
    lock = _sidecar(os.path.abspath(target), ".lock")
    with _FileLock(lock, what=f"{url} to {target}", watch=(part, target)):
        if os.path.isfile(target):  # another process finished it while this one waited
            problem = _cache_problem(target, sha256)
            if problem is None:
                return target
            _set_aside(target, url, problem)
        read_timeout = _seconds("PADDLE_ROFORMER_TIMEOUT", DEFAULT_TIMEOUT) if timeout is None else timeout
        stall_limit = _seconds("PADDLE_ROFORMER_STALL_LIMIT", DEFAULT_STALL_LIMIT)
        state = _Progress()
        for attempt in range(retries + 1):
            try:
                _fetch(url, target, read_timeout, progress, state)
                break
            except _Retryable as err:
                idle = time.monotonic() - state.last
                have = os.path.getsize(part) if os.path.isfile(part) else 0
                if idle >= stall_limit:
                    raise TimeoutError(
                        f"Download of {url} stalled: no data for {idle:.1f} s ({err}; limits: "
                        f"PADDLE_ROFORMER_TIMEOUT={read_timeout:g} s per read, PADDLE_ROFORMER_STALL_LIMIT="
                        f"{stall_limit:g} s without data). {have} bytes are kept in {part}; a later call resumes."
                    ) from err
                if attempt == retries:
                    raise ConnectionError(
                        f"Could not download {url} after {retries + 1} attempts ({err}). The network or server "
                        f"could not be reached: set PADDLE_ROFORMER_ENDPOINT to a mirror, or "
                        f"PADDLE_ROFORMER_OFFLINE=1 with the files already in {directory}."
                    ) from err
                time.sleep(BACKOFF * 2 ** attempt)
        _finish(url, target, sha256)
    return target


def _parse_content_range(value: Optional[str]):
    match = re.fullmatch(r"\s*bytes\s+(\d+)-(\d+)/(\d+)\s*", value or "")
    return tuple(int(g) for g in match.groups()) if match else None


def _resume_validator(meta: Optional[dict], url: str) -> Optional[str]:
    """The If-Range value for a partial download, or None when it cannot be resumed safely."""
    if not meta or meta.get("url") != url or not isinstance(meta.get("length"), int):
        return None
    etag = meta.get("etag")
    if etag and not etag.startswith("W/"):  # If-Range needs a strong validator
        return etag
    return meta.get("last_modified") or None


def _fetch(url: str, target: str, timeout: float, progress: Optional[bool], state: _Progress) -> None:
    """One attempt: fill ``<target>.part`` (resuming it when that is safe)."""
    part, part_meta = target + ".part", _sidecar(target, ".part.json")
    have = os.path.getsize(part) if os.path.isfile(part) else 0
    meta = _read_json(part_meta) if have else None
    headers = {}
    if have:
        validator = _resume_validator(meta, url)
        if validator is None or have > meta["length"]:
            _remove(part, part_meta)  # no way to tell whether the server's file is still the same
            have = 0
        elif have == meta["length"]:
            return  # complete already (the process stopped before the rename): checked by _finish
        else:
            headers = {"Range": f"bytes={have}-", "If-Range": validator}
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.build_opener(_HttpOnlyRedirects).open(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        err.close()
        if err.code == 416 and have:  # the partial file does not fit the server's file: start over
            _remove(part, part_meta)
            raise _Retryable(f"HTTP 416 for a resumed download of {url}") from err
        if err.code >= 500 or err.code in (408, 429):
            raise _Retryable(f"HTTP {err.code}") from err
        if err.code in (404, 410):
            open(_sidecar(target, ".404"), "w").close()  # remembered for PADDLE_ROFORMER_MISSING_TTL
        raise _Absent(f"HTTP {err.code} for {url}") from err
    except (OSError, http.client.HTTPException) as err:  # URLError, timeouts, refused / reset connections
        raise _Retryable(str(getattr(err, "reason", None) or err)) from err
    with response:
        etag, modified = response.headers.get("ETag"), response.headers.get("Last-Modified")
        length = response.headers.get("Content-Length")
        length = int(length) if length is not None and length.strip().isdigit() else None
        if response.status == 206:
            content_range = _parse_content_range(response.headers.get("Content-Range"))
            same = (have and content_range is not None and content_range[0] == have
                    and content_range[2] == meta["length"]
                    and not (etag and meta.get("etag") and etag != meta["etag"]))
            if not same:
                _remove(part, part_meta)
                raise _Retryable(f"the server's answer to the resumed download of {url} does not continue the "
                                 f"same file (Content-Range {response.headers.get('Content-Range')!r}); starting over")
            total, mode = meta["length"], "ab"
        else:
            have, total, mode = 0, length, "wb"
            _write_json(part_meta, {"url": url, "etag": etag, "last_modified": modified, "length": length})
        with open(part, mode) as out, _progress_bar(url, total, have, progress) as bar:
            try:
                while True:
                    chunk = response.read1(CHUNK)
                    if not chunk:
                        break
                    out.write(chunk)
                    state.last = time.monotonic()
                    bar(len(chunk))
            except (OSError, http.client.HTTPException) as err:
                raise _Retryable(f"connection lost after {out.tell()} bytes ({err or type(err).__name__})") from err
            if total is not None and out.tell() != total:
                raise _Retryable(f"connection closed after {out.tell()} of {total} bytes")


def _finish(url: str, target: str, sha256: str) -> None:
    """Check the finished ``.part`` and rename it into place; a file that fails goes to ``.rejected``."""
    part, part_meta = target + ".part", _sidecar(target, ".part.json")
    meta = _read_json(part_meta) or {}
    problem = format_problem(part, os.path.basename(target))
    if problem is None and sha256:
        actual = sha256_of(part)
        if actual != sha256:
            problem = f"sha256 of {url} is {actual}, expected {sha256}"
    if problem is not None:
        rejected = target + ".rejected"
        os.replace(part, rejected)
        _remove(part_meta)
        raise ValueError(
            f"The download of {url} failed its check: {problem}. Nothing was cached; the download was moved "
            f"to {rejected}. If a proxy or login page answered, fix the network or set PADDLE_ROFORMER_ENDPOINT "
            "to a mirror; if the published file changed, its sha256 in the registry needs updating."
        )
    os.replace(part, target)
    stat = os.stat(target)
    record = {"url": url, "size": stat.st_size, "etag": meta.get("etag"), "last_modified": meta.get("last_modified")}
    if sha256:
        record.update(sha256=sha256, mtime_ns=stat.st_mtime_ns)
    _write_json(_sidecar(target, ".meta.json"), record)
    _remove(part_meta, _sidecar(target, ".404"))


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
