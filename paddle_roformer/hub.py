"""Where pretrained files come from: local directories, or registered names fetched into a cache.

The only module that touches the network. Settings (environment variables):

- ``PADDLE_ROFORMER_HOME``: cache root (default ``~/.paddle_roformer``); files go to
  ``<home>/models/<name>/<filename>``.
- ``PADDLE_ROFORMER_ENDPOINT``: a mirror; every registered file is fetched from
  ``<endpoint>/<name>/<filename>`` instead of its published URL.
- ``PADDLE_ROFORMER_OFFLINE=1``: use the cache only.
"""
from __future__ import annotations

import os
import shutil
import urllib.error
import urllib.request
from typing import Tuple

from .config import CONFIG_NAME, LEGACY_CONFIG_NAME
from .registry import get_pretrained, is_registered
from .utils import atomic_path, sha256_of

WEIGHTS_NAME = "model_state.pdparams"
DEFAULT_TIMEOUT = 60.0


def cache_home() -> str:
    return os.path.expanduser(os.environ.get("PADDLE_ROFORMER_HOME") or os.path.join("~", ".paddle_roformer"))


def is_offline() -> bool:
    return os.environ.get("PADDLE_ROFORMER_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def file_url(name: str, filename: str) -> str:
    endpoint = os.environ.get("PADDLE_ROFORMER_ENDPOINT", "").strip()
    if endpoint:
        return f"{endpoint.rstrip('/')}/{name}/{filename}"
    entry = get_pretrained(name)
    if filename not in entry.files:
        raise FileNotFoundError(f"{name} publishes no file {filename!r}; it has {sorted(entry.files)}")
    return entry.files[filename].url


def cached_file(name: str, filename: str, timeout: float = DEFAULT_TIMEOUT) -> str:
    """Path of ``filename`` of the registered ``name`` in the cache, downloading it if absent."""
    entry = get_pretrained(name)
    target = os.path.join(cache_home(), "models", name, filename)
    expected = entry.files[filename].sha256 if filename in entry.files else ""
    if os.path.isfile(target):
        return target
    url = file_url(name, filename)
    if is_offline():
        raise FileNotFoundError(
            f"PADDLE_ROFORMER_OFFLINE is set and {target} is not cached (it would come from {url})"
        )
    _download(url, target, timeout)
    if expected and sha256_of(target) != expected:
        os.remove(target)
        raise ValueError(f"sha256 of {url} does not match the registry ({expected}); the file was removed")
    return target


def _download(url: str, target: str, timeout: float) -> None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, atomic_path(target) as tmp:
            with open(tmp, "wb") as out:
                shutil.copyfileobj(response, out, 1 << 20)
    except urllib.error.HTTPError as err:
        raise FileNotFoundError(f"Download failed: HTTP {err.code} for {url}") from err
    except (urllib.error.URLError, OSError) as err:
        raise ConnectionError(
            f"Could not reach {url} ({err}). Set PADDLE_ROFORMER_ENDPOINT to a mirror, or "
            "PADDLE_ROFORMER_OFFLINE=1 with the files already in the cache "
            f"({os.path.dirname(target)})."
        ) from err


def resolve_pretrained(name_or_path) -> Tuple[str, str]:
    """Return (config source, weights file) for a directory or a registered name."""
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(f"name_or_path must be a str or path, got {type(name_or_path).__name__}")
    name_or_path = os.fspath(name_or_path)
    if os.path.isdir(name_or_path):
        has_config = any(os.path.isfile(os.path.join(name_or_path, f)) for f in (CONFIG_NAME, LEGACY_CONFIG_NAME))
        weights = os.path.join(name_or_path, WEIGHTS_NAME)
        if not has_config or not os.path.isfile(weights):
            raise FileNotFoundError(
                f"{name_or_path} must contain {CONFIG_NAME} (or {LEGACY_CONFIG_NAME}) and {WEIGHTS_NAME}"
            )
        return name_or_path, weights
    if os.path.exists(name_or_path):
        raise ValueError(f"{name_or_path} is a file; pass the directory that holds it")
    if not is_registered(name_or_path) and os.path.sep in name_or_path:
        raise FileNotFoundError(f"No such directory: {name_or_path}")
    get_pretrained(name_or_path)  # raises with the close match for an unknown name
    return name_or_path, cached_file(name_or_path, WEIGHTS_NAME)
