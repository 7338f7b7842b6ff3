"""Base class of every model: weight init, ``save_pretrained`` / ``from_pretrained``, checked loading.

Checkpoints use PaddleNLP's parameter names. A bare ``RoFormerModel`` has no prefix; a head keeps
the backbone under ``roformer.``. Loading follows one set of rules for every class:

- backbone parameters must all be present with the right shapes, and no unknown backbone key may
  appear: anything else is an error naming the key;
- a head loads a bare-model checkpoint (the prefix is added) and the bare model loads a head
  checkpoint (the prefix is removed);
- head parameters missing from the checkpoint, or present with another shape (e.g. another
  ``num_classes``), are freshly initialised; head parameters of another head are ignored. Both are
  reported in one log line and in the returned ``LoadReport``.
"""
from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass, field
from typing import Dict, List, Union

import numpy as np
import paddle
import paddle.nn as nn

from .config import RoFormerConfig
from .hub import SAFE_WEIGHTS_NAME, WEIGHTS_NAME, resolve_pretrained
from .utils import atomic_path

logger = logging.getLogger("paddle_roformer")

BASE_PREFIX = "roformer."


@dataclass
class LoadReport:
    loaded: List[str] = field(default_factory=list)
    initialized: List[str] = field(default_factory=list)  # head params not in the checkpoint (or resized)
    ignored: List[str] = field(default_factory=list)  # checkpoint keys of another head


class RoFormerPretrainedModel(nn.Layer):
    """Holds the config, initialises weights, and saves / loads PaddleNLP-format checkpoints."""

    base_model_prefix = "roformer"

    def __init__(self, config: RoFormerConfig, **overrides):
        super().__init__()
        if not isinstance(config, RoFormerConfig):
            raise TypeError(f"{type(self).__name__} expects a RoFormerConfig, got {type(config).__name__}")
        self.config = config.update(**overrides) if overrides else config

    # ------------------------------------------------------------------ init
    @paddle.no_grad()
    def init_weights(self, include_backbone: bool = True) -> None:
        """Normal(0, initializer_range) for Linear and Embedding weights; zero biases; LayerNorm 1 / 0.

        Heads call this with ``include_backbone=False`` after the backbone initialised itself.
        """
        std = self.config.initializer_range
        skip = set()
        if not include_backbone and not self.is_base_model:
            skip = {id(layer) for layer in getattr(self, self.base_model_prefix).sublayers(include_self=True)}
        for layer in self.sublayers(include_self=True):
            if id(layer) in skip:
                continue
            if isinstance(layer, (nn.Linear, nn.Embedding)):
                layer.weight.set_value(paddle.normal(0.0, std, layer.weight.shape).astype(layer.weight.dtype))
                if isinstance(layer, nn.Linear) and layer.bias is not None:
                    layer.bias.set_value(paddle.zeros_like(layer.bias))
            elif isinstance(layer, nn.LayerNorm):
                layer.weight.set_value(paddle.ones_like(layer.weight))
                layer.bias.set_value(paddle.zeros_like(layer.bias))

    @property
    def is_base_model(self) -> bool:
        return not hasattr(self, self.base_model_prefix)

    def _backbone_key(self, key: str) -> bool:
        return self.is_base_model or key.startswith(BASE_PREFIX)

    # ------------------------------------------------------------------ saving
    def save_pretrained(self, save_directory: str, safe_serialization: bool = False) -> None:
        """Write ``config.json`` and the weights, each atomically.

        The weights go to ``model_state.pdparams`` (PaddleNLP's pickle format), or with
        ``safe_serialization=True`` to ``model.safetensors``, which loads without running code
        (and which ``from_pretrained`` prefers when a directory has both).
        """
        save_directory = os.fspath(save_directory)
        if os.path.isfile(save_directory):
            raise ValueError(f"save_directory {save_directory!r} is a file, expected a directory")
        os.makedirs(save_directory, exist_ok=True)
        config = self.config.update(architectures=[type(self).__name__])
        if safe_serialization:
            save_safetensors(self, os.path.join(save_directory, SAFE_WEIGHTS_NAME))
        else:
            path = os.path.join(save_directory, WEIGHTS_NAME)
            with atomic_path(path) as tmp:
                paddle.save(self.state_dict(), tmp)
            _saved_here.add(_file_identity(path))
        config.save_pretrained(save_directory)

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(cls, name_or_path: Union[str, os.PathLike], **overrides):
        """Build the model from a registered name or a directory, then load its weights.

        ``overrides`` change the config first (``num_classes=3``, ``hidden_dropout_prob=0.0``, ...).
        """
        resolved = resolve_pretrained(name_or_path)
        config = RoFormerConfig.from_pretrained(resolved.config_source, **overrides)
        model = cls(config)
        state_dict = load_state_file(resolved.weights, trusted=resolved.trusted)
        report = model.load_pretrained_state_dict(state_dict)
        model.eval()
        if report.initialized:
            logger.warning(
                "%s: newly initialised from %s (train them before use): %s",
                cls.__name__, name_or_path, ", ".join(report.initialized),
            )
        if report.ignored:
            logger.info("%s: ignored checkpoint keys of another head: %s", cls.__name__, ", ".join(report.ignored))
        return model

    def load_pretrained_state_dict(self, state_dict: Dict[str, object]) -> LoadReport:
        """Load a checkpoint by the rules in this module's docstring; returns what happened to each key."""
        source, ignored = self._split_checkpoint(state_dict)
        target = self.state_dict()
        report = LoadReport(ignored=ignored)
        to_set: Dict[str, np.ndarray] = {}
        tied = self._tied_keys()

        unexpected_backbone = [k for k in source if k not in target and self._backbone_key(k)]
        if unexpected_backbone:
            raise KeyError(
                f"{type(self).__name__}: checkpoint has unexpected backbone keys {sorted(unexpected_backbone)}; "
                "it was saved from a different architecture"
            )
        for key in source:
            if key not in target:
                report.ignored.append(key)
        for key, param in target.items():
            if key in tied:  # the same parameter as an earlier key, which is loaded instead
                continue
            if key not in source:
                if self._backbone_key(key):
                    raise KeyError(
                        f"{type(self).__name__}: checkpoint is missing {key!r} (shape {list(param.shape)})"
                    )
                report.initialized.append(key)
                continue
            value = _to_numpy(source[key])
            if list(value.shape) != list(param.shape):
                if self._backbone_key(key):
                    raise ValueError(
                        f"{type(self).__name__}: shape mismatch for {key!r}: checkpoint has {list(value.shape)}, "
                        f"model expects {list(param.shape)} (check the config matches the checkpoint)"
                    )
                report.initialized.append(key)
                continue
            to_set[key] = value
            report.loaded.append(key)
        with paddle.no_grad():
            for key, value in to_set.items():
                target[key].set_value(paddle.to_tensor(value).astype(target[key].dtype))
        return report

    def _tied_keys(self) -> set:
        """Keys naming a parameter already named by an earlier key (the MLM decoder weight)."""
        seen: Dict[int, str] = {}
        tied = set()
        for key, param in self.state_dict().items():
            if id(param) in seen:
                tied.add(key)
            else:
                seen[id(param)] = key
        return tied

    def _split_checkpoint(self, state_dict: Dict[str, object]):
        """Return the checkpoint in this class's key names, and the keys dropped as another head's."""
        has_prefix = any(k.startswith(BASE_PREFIX) for k in state_dict)
        if not has_prefix:  # a bare-model checkpoint
            if self.is_base_model:
                return dict(state_dict), []
            return {BASE_PREFIX + k: v for k, v in state_dict.items()}, []
        if self.is_base_model:  # a head checkpoint: keep the backbone, drop the head
            backbone = {k[len(BASE_PREFIX):]: v for k, v in state_dict.items() if k.startswith(BASE_PREFIX)}
            return backbone, sorted(k for k in state_dict if not k.startswith(BASE_PREFIX))
        return dict(state_dict), []


_warned_about_pickles = False
_saved_here = set()  # pickles this process wrote itself: loading them back needs no warning


def _file_identity(path: str) -> tuple:
    stat = os.stat(path)
    return os.path.realpath(path), stat.st_size, stat.st_mtime_ns


def load_state_file(path: str, trusted: bool = True) -> Dict[str, np.ndarray]:
    """Read a state dict (``.safetensors`` or ``.pdparams``) as numpy arrays.

    ``.pdparams`` files are pickles, and unpickling runs code: loading one that is not
    ``trusted`` (from a registered name, or with a checked sha256) and that this process did not
    write itself warns once per process.
    """
    global _warned_about_pickles
    if not os.path.isfile(path):
        raise FileNotFoundError(f"weights file not found: {path}")
    if path.endswith(".safetensors"):
        return load_safetensors(path)
    if not trusted and not _warned_about_pickles and _file_identity(path) not in _saved_here:
        _warned_about_pickles = True
        warnings.warn(
            f"{path} is a pickle: loading it can run code. Load pickles only from sources you trust, "
            "or save with save_pretrained(..., safe_serialization=True) to get model.safetensors.",
            UserWarning,
            stacklevel=3,
        )
    try:
        state = paddle.load(path)
    except Exception as err:  # paddle raises several types for a corrupt or foreign file
        raise ValueError(f"{path} is not a readable Paddle state dict ({type(err).__name__}: {err})") from err
    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
        raise ValueError(f"{path} does not hold a state dict (a mapping of parameter names to arrays)")
    return {k: _to_numpy(v) for k, v in state.items()}


def _safetensors_numpy():
    try:
        from safetensors import numpy as safetensors_numpy
    except ImportError as err:
        raise ImportError("model.safetensors needs the safetensors package: pip install safetensors") from err
    return safetensors_numpy


def save_safetensors(model: "RoFormerPretrainedModel", path: str) -> None:
    """The state dict as safetensors; tied duplicates are stored once, bfloat16 as float32."""
    tied = model._tied_keys()
    arrays = {k: np.ascontiguousarray(_to_numpy(v)) for k, v in model.state_dict().items() if k not in tied}
    with atomic_path(path) as tmp:
        _safetensors_numpy().save_file(arrays, tmp, metadata={"format": "np"})


def load_safetensors(path: str) -> Dict[str, np.ndarray]:
    try:
        return dict(_safetensors_numpy().load_file(path))
    except ImportError:
        raise
    except Exception as err:
        raise ValueError(f"{path} is not a readable safetensors file ({type(err).__name__}: {err})") from err


def _to_numpy(value) -> np.ndarray:
    """numpy has no bfloat16: such tensors come back as float32 (exactly representable)."""
    if isinstance(value, paddle.Tensor):
        if value.dtype == paddle.bfloat16:
            value = value.astype("float32")
        return value.numpy()
    return np.asarray(value)
