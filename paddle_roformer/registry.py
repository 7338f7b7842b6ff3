"""The pretrained names, read from ``configs/*.yaml`` (the single source of their settings)."""
from __future__ import annotations

import fnmatch
import functools
from dataclasses import dataclass, field
from importlib import resources
from typing import Dict, List, Mapping, Optional

import yaml

from .config import RoFormerConfig
from .utils import closest_match

CONFIG_PACKAGE = "paddle_roformer.configs"  # setup.py maps the top-level configs/ folder here


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
    """One registered name: its architecture, tokenizer settings and published files."""

    name: str
    description: str
    config: RoFormerConfig = field(compare=False)
    tokenizer: TokenizerSettings
    files: Mapping[str, PretrainedFile]


class UnknownModelError(ValueError):
    """Raised for a name that is neither registered nor a path."""


def _parse_entry(text: str, source: str) -> Pretrained:
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError(f"{source}: expected a mapping at the top level")
    for key in ("name", "model", "tokenizer", "files"):
        if key not in data:
            raise ValueError(f"{source}: missing section {key!r}")
    description = text.splitlines()[0].lstrip("# ").strip() if text.startswith("#") else ""
    tokenizer = TokenizerSettings(**data["tokenizer"])
    files = {fn: PretrainedFile(url=spec["url"], sha256=spec.get("sha256") or "") for fn, spec in data["files"].items()}
    return Pretrained(
        name=data["name"],
        description=description,
        config=RoFormerConfig.from_dict(data["model"]),
        tokenizer=tokenizer,
        files=files,
    )


@functools.lru_cache(maxsize=None)
def _registry() -> Dict[str, Pretrained]:
    entries: Dict[str, Pretrained] = {}
    for item in sorted(resources.files(CONFIG_PACKAGE).iterdir(), key=lambda p: p.name):
        if not item.name.endswith(".yaml"):
            continue
        entry = _parse_entry(item.read_text(encoding="utf-8"), item.name)
        if entry.name + ".yaml" != item.name:
            raise ValueError(f"configs/{item.name} declares name {entry.name!r}; the file name must match")
        entries[entry.name] = entry
    return entries


def list_pretrained(pattern: Optional[str] = None) -> List[str]:
    """The registered names, sorted; ``pattern`` filters them with shell wildcards (``"*char*"``)."""
    names = sorted(_registry())
    if pattern is not None:
        names = [n for n in names if fnmatch.fnmatch(n, pattern)]
    return names


def is_registered(name: str) -> bool:
    return name in _registry()


def get_pretrained(name: str) -> Pretrained:
    registry = _registry()
    if name in registry:
        return registry[name]
    close = closest_match(str(name), registry, cutoff=0.5)
    hint = f" Did you mean {close!r}?" if close else ""
    raise UnknownModelError(
        f"Unknown pretrained name {name!r}.{hint} Registered names: {', '.join(sorted(registry))}. "
        "A local directory with config.json also works."
    )
