"""The pretrained names, read once from ``configs/*.yaml`` (the single source of their settings).

Every record here is read-only and plain: this module knows nothing of ``RoFormerConfig`` or of
downloading. ``RoFormerConfig.from_pretrained(name)`` builds a fresh config from
:meth:`Pretrained.model_values`; ``hub`` takes a name's URLs and sha256 digests from ``files``.
"""
from __future__ import annotations

import copy
import fnmatch
import functools
import types
from dataclasses import dataclass
from importlib import resources
from typing import Any, Dict, List, Mapping, Optional

import yaml

from .utils import closest_match

CONFIG_PACKAGE = "paddle_roformer.configs"  # setup.py maps the top-level configs/ folder here
SECTIONS = ("name", "model", "tokenizer", "files")


@dataclass(frozen=True)
class PretrainedFile:
    url: str
    sha256: str = ""  # empty: no verified digest is known


@dataclass(frozen=True)
class TokenizerSettings:
    mode: str  # "jieba" (word-level), "char" or "wordpiece"
    use_jieba: bool
    do_lower_case: bool
    model_max_length: int


@dataclass(frozen=True)
class Pretrained:
    """One registered name: its architecture values, tokenizer settings and published files."""

    name: str
    description: str
    model: Mapping[str, Any]  # the YAML's ``model`` section, read-only (nested values frozen too)
    tokenizer: TokenizerSettings
    files: Mapping[str, PretrainedFile]  # file name -> where it is published

    def model_values(self) -> Dict[str, Any]:
        """A fresh, mutable copy of the ``model`` section (for ``RoFormerConfig.from_dict``)."""
        return _thaw(self.model)


class UnknownModelError(ValueError):
    """Raised for a name that is neither registered nor a path."""


def _freeze(value):
    if isinstance(value, dict):
        return types.MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value):
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


def _parse_entry(text: str, source: str) -> Pretrained:
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError(f"{source}: expected a mapping at the top level")
    for key in SECTIONS:
        if key not in data:
            raise ValueError(f"{source}: missing section {key!r}")
    for key in ("model", "tokenizer", "files"):
        if not isinstance(data[key], dict):
            raise ValueError(f"{source}: section {key!r} must be a mapping, got {type(data[key]).__name__}")
    description = text.splitlines()[0].lstrip("# ").strip() if text.startswith("#") else ""
    try:
        tokenizer = TokenizerSettings(**data["tokenizer"])
    except TypeError as err:
        raise ValueError(f"{source}: section 'tokenizer': {err}") from None
    files = {}
    for filename, spec in data["files"].items():
        if not isinstance(spec, dict) or not isinstance(spec.get("url"), str):
            raise ValueError(f"{source}: files.{filename} needs a 'url' string")
        files[filename] = PretrainedFile(url=spec["url"], sha256=spec.get("sha256") or "")
    return Pretrained(
        name=data["name"],
        description=description,
        model=_freeze(copy.deepcopy(data["model"])),
        tokenizer=tokenizer,
        files=types.MappingProxyType(files),
    )


@functools.lru_cache(maxsize=None)
def _registry() -> Mapping[str, Pretrained]:
    entries: Dict[str, Pretrained] = {}
    for item in sorted(resources.files(CONFIG_PACKAGE).iterdir(), key=lambda p: p.name):
        if not item.name.endswith(".yaml"):
            continue
        entry = _parse_entry(item.read_text(encoding="utf-8"), item.name)
        if entry.name + ".yaml" != item.name:
            raise ValueError(f"configs/{item.name} declares name {entry.name!r}; the file name must match")
        entries[entry.name] = entry
    return types.MappingProxyType(entries)


def list_pretrained(pattern: Optional[str] = None) -> List[str]:
    """The registered names, sorted; ``pattern`` filters them with shell wildcards (``"*char*"``)."""
    names = sorted(_registry())
    if pattern is not None:
        names = [n for n in names if fnmatch.fnmatch(n, pattern)]
    return names


def is_registered(name) -> bool:
    return isinstance(name, str) and name in _registry()


def get_pretrained(name: str) -> Pretrained:
    registry = _registry()
    if isinstance(name, str) and name in registry:
        return registry[name]
    close = closest_match(str(name), registry, cutoff=0.5)
    hint = f" Did you mean {close!r}?" if close else ""
    raise UnknownModelError(
        f"Unknown pretrained name {name!r}.{hint} Registered names: {', '.join(sorted(registry))}. "
        "A local directory with config.json, or an http(s) URL of one, also works."
    )
