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
import re
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping, Optional, Union

import numpy as np
import paddle
import paddle.nn as nn

from . import hub
from .checkpoint import (SAFE_WEIGHTS_NAME, WEIGHTS_NAME, as_numpy, check_saved_directory, load_state_dict,
                         save_pretrained_files)
from .config import CONFIG_NAME, LEGACY_CONFIG_NAME, RoFormerConfig

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
    def save_pretrained(self, save_directory: Union[str, os.PathLike], safe_serialization: bool = False, *,
                        is_main_process: bool = True, state_dict: Optional[Mapping[str, object]] = None,
                        max_shard_size: Union[int, str, None] = None, variant: Optional[str] = None,
                        save_function: Optional[Callable] = None, merge_tensor_parallel: bool = False,
                        config_to_save: Optional[RoFormerConfig] = None, shard_format: str = "naive",
                        **unsupported) -> None:
        """Write ``config.json`` and the weights into ``save_directory``, as one atomic change.

        The weights go to ``model_state.pdparams`` (PaddleNLP's pickle format), or with
        ``safe_serialization=True`` to ``model.safetensors`` (tied weights stored once); the other
        format's file, if there, is removed. See ``checkpoint.save_pretrained_files`` for what is
        atomic. PaddleNLP's keywords: ``is_main_process=False`` writes nothing (the other ranks of
        a distributed run); ``state_dict`` is saved instead of the model's own; ``max_shard_size`` is
        accepted when the weights fit in one file (no sharding here), else a ValueError;
        ``config_to_save`` is written instead of the model's config; ``save_function`` may only be
        ``paddle.save`` (what ``paddlenlp.trainer.Trainer`` passes; the files are written by this
        package's atomic writer, in the same format); ``merge_tensor_parallel`` is a no-op (the model
        is never split); ``variant`` may only be None or "" (the file names are fixed). Any other
        value, or any other keyword, is a ValueError naming it.
        """
        if unsupported:
            raise ValueError(f"save_pretrained: unsupported keyword arguments {sorted(unsupported)}")
        if variant not in (None, ""):
            raise ValueError(f"save_pretrained: variant={variant!r} is not supported (the file names are fixed)")
        if save_function is not None and save_function is not paddle.save:
            raise ValueError(f"save_pretrained: save_function={save_function!r} is not supported; the weights are "
                             "always written in paddle.save's format by this package's atomic writer")
        if shard_format != "naive":
            raise ValueError(f"save_pretrained: shard_format={shard_format!r} is not supported (no sharding)")
        if config_to_save is not None and not isinstance(config_to_save, RoFormerConfig):
            raise ValueError(f"save_pretrained: config_to_save must be a RoFormerConfig, got "
                             f"{type(config_to_save).__name__}")
        del merge_tensor_parallel  # one rank holds every parameter: nothing to merge
        if not is_main_process:
            return
        state = dict(self.state_dict() if state_dict is None else state_dict)
        if safe_serialization:  # the tied MLM decoder weight is the word embedding: store it once
            for key in self._tied_keys():
                state.pop(key, None)
        if max_shard_size is not None:
            _check_fits_one_shard(state, max_shard_size)
        config = self.config if config_to_save is None else config_to_save
        config = config.update(architectures=[type(self).__name__])
        save_pretrained_files(save_directory, state, config.to_json_string(), safe_serialization=safe_serialization)

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(cls, name_or_path: Union[str, os.PathLike], *, config: Optional[RoFormerConfig] = None,
                        **overrides):
        """Build the model from a registered name, a directory or a URL, then load its weights.

        ``overrides`` change the config first (``num_classes=3``, ``hidden_dropout_prob=0.0``, ...).
        ``config`` (a ``RoFormerConfig``) replaces the one stored with the weights, as in PaddleNLP.
        A directory whose last ``save_pretrained`` did not finish is refused (``InterruptedSaveError``).

        A ``checkpoint-N`` directory written by ``paddlenlp.trainer.Trainer`` holds the weights but
        no ``config.json`` (that Trainer saves only the state dict of models that are not PaddleNLP's
        own); its config is then read from the Trainer's ``output_dir``, the directory above it, where
        ``model.save_pretrained(output_dir)`` put it. The model is returned in eval mode (see
        docs/pipeline.md, "Differences from PaddleNLP").
        """
        if config is not None and not isinstance(config, RoFormerConfig):
            raise TypeError(f"from_pretrained: config must be a RoFormerConfig, got {type(config).__name__}")
        if isinstance(name_or_path, (str, os.PathLike)) and os.path.isdir(name_or_path):
            check_saved_directory(name_or_path)
        weights = hub.resolve(name_or_path, [SAFE_WEIGHTS_NAME, WEIGHTS_NAME])
        if config is not None:
            config = config.update(**overrides)
        else:
            config = RoFormerConfig.from_pretrained(_config_source(name_or_path), **overrides)
        model = cls(config)
        report = model.load_pretrained_state_dict(load_state_dict(weights))
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
            value = as_numpy(source[key])
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


TRAINER_STATE_NAME = "trainer_state.json"  # written into every checkpoint-N by paddlenlp.trainer.Trainer


def _config_source(name_or_path):
    """Where the config of ``name_or_path`` is read: itself, or for a Trainer checkpoint without a
    ``config.json``, the Trainer's ``output_dir`` above it."""
    if not (isinstance(name_or_path, (str, os.PathLike)) and os.path.isdir(name_or_path)):
        return name_or_path
    directory = os.fspath(name_or_path)
    if any(os.path.isfile(os.path.join(directory, name)) for name in (CONFIG_NAME, LEGACY_CONFIG_NAME)):
        return name_or_path
    parent = os.path.dirname(os.path.abspath(directory))
    if os.path.isfile(os.path.join(directory, TRAINER_STATE_NAME)):
        if os.path.isfile(os.path.join(parent, CONFIG_NAME)):
            logger.info("%s: a Trainer checkpoint without config.json; using %s", directory,
                        os.path.join(parent, CONFIG_NAME))
            return parent
        raise FileNotFoundError(
            f"{directory} is a paddlenlp Trainer checkpoint with weights but no {CONFIG_NAME}, and its output_dir "
            f"{parent} has none either. The Trainer saves only the weights of models that are not PaddleNLP's own: "
            f"save the config once with model.save_pretrained(output_dir) (before or after training), or pass "
            f"config=RoFormerConfig.from_pretrained(...)"
        )
    raise FileNotFoundError(
        f"{directory} holds no {CONFIG_NAME}: save the model with save_pretrained, or pass "
        "config=RoFormerConfig.from_pretrained(...)"
    )


_SIZE_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
               "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def _check_fits_one_shard(state: Mapping[str, object], max_shard_size: Union[int, str]) -> None:
    """Accept ``max_shard_size`` (an int of bytes, or "10GB" / "500MiB") when no sharding is needed."""
    if isinstance(max_shard_size, bool) or not isinstance(max_shard_size, (int, str)):
        raise TypeError(f"max_shard_size must be an int or a string like '10GB', got {max_shard_size!r}")
    limit = max_shard_size
    if isinstance(max_shard_size, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]I?B|B)?\s*", max_shard_size.upper())
        if not match:
            raise ValueError(f"max_shard_size {max_shard_size!r} is not a size like '10GB' or '500MiB'")
        limit = int(float(match[1]) * _SIZE_UNITS[match[2] or ""])
    total = sum(as_numpy(v).nbytes for v in state.values())
    if total > limit:
        raise ValueError(
            f"max_shard_size={max_shard_size!r}: the weights take {total} bytes and sharded checkpoints are not "
            "supported; pass a larger max_shard_size, or none"
        )
