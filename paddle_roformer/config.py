"""RoFormerConfig: the one description of a RoFormer architecture and its task settings."""
from __future__ import annotations

import dataclasses
import json
import math
import numbers
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import yaml

from . import hub, registry
from .utils import atomic_write_text, closest_match

CONFIG_NAME = "config.json"
LEGACY_CONFIG_NAME = "model_config.json"  # written by PaddleNLP before 2.5

HEAD_TYPES = ("paddlenlp", "huggingface")
PROBLEM_TYPES = (None, "regression", "single_label_classification", "multi_label_classification")
ACTIVATIONS = ("gelu", "gelu_new", "gelu_fast", "relu", "silu", "swish", "tanh", "linear", "identity", "sigmoid")

# Keys PaddleNLP and Hugging Face write into every config.json (bookkeeping, generation defaults,
# parallelism). They say nothing about a RoFormer, so reading a file accepts and drops them.
# Any other unknown key is an error.
GENERIC_CONFIG_KEYS = frozenset(
    """
    _name_or_path add_cross_attention bad_words_ids begin_suppress_tokens bos_token_id
    chunk_size_feed_forward cross_attention_hidden_size decoder_start_token_id diversity_penalty
    do_sample dtype early_stopping encoder_no_repeat_ngram_size exponential_decay_length_penalty
    finetuning_task forced_bos_token_id forced_eos_token_id init_class is_encoder_decoder length_penalty
    max_length min_length model_type no_repeat_ngram_size num_beam_groups num_beams
    num_return_sequences output_scores paddlenlp_version prefix pruned_heads quantization_config
    recompute_use_reentrant remove_invalid_values repetition_penalty return_dict_in_generate
    sep_parallel_degree sep_token_id suppress_tokens task_specific_params temperature
    tensor_parallel_degree tensor_parallel_output tensor_parallel_rank tf_legacy_loss
    tie_encoder_decoder tie_word_embeddings tokenizer_class top_k top_p torch_dtype torchscript
    transformers_version typical_p use_bfloat16 use_flash_attention gradient_checkpointing
    """.split()
)

# PaddleNLP spellings accepted as input.
ALIASES = {"num_classes": "num_labels", "dropout": "classifier_dropout"}


@dataclass
class RoFormerConfig:
    """Architecture and task settings of a RoFormer model.

    Field names and meanings follow PaddleNLP's ``RoFormerConfig`` so that its ``config.json``
    files read unchanged. ``num_classes`` is accepted as the PaddleNLP name of ``num_labels``.
    """

    # --- architecture ---
    vocab_size: int = 50000  # rows of the word-embedding matrix
    embedding_size: Optional[int] = None  # width of the embeddings; None means hidden_size
    hidden_size: int = 768  # width of every encoder layer
    num_hidden_layers: int = 12
    num_attention_heads: int = 12  # hidden_size / heads must be even: rotary rotates pairs
    intermediate_size: int = 3072  # width of the feed-forward layer
    hidden_act: str = "gelu"  # exact (erf) GELU, as the checkpoints were trained with
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    # Length the model was trained on. Rotary positions are computed, not looked up, so longer
    # inputs run; this value only documents the trained range and bounds tokenizer defaults.
    max_position_embeddings: int = 1536
    type_vocab_size: int = 2
    initializer_range: float = 0.02  # std of the normal init of Linear and Embedding weights
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0  # used to build the attention mask when none is given
    eos_token_id: Optional[int] = 102  # end of a generated sequence
    pool_act: str = "tanh"  # activation after the pooler's dense layer; "linear" for the sim models
    rotary_value: bool = False  # rotate the values as well as queries and keys (English models)
    use_cache: bool = False  # return key/value caches by default (generation)

    # --- task heads ---
    num_labels: int = 2  # classes of the sequence / token classification heads
    id2label: Optional[Dict[int, str]] = None
    label2id: Optional[Dict[str, int]] = None
    classifier_dropout: Optional[float] = None  # None means hidden_dropout_prob
    num_choices: Optional[int] = None  # only needed when multiple-choice inputs come flattened
    problem_type: Optional[str] = None  # regression | single_label_classification | multi_label_classification
    # "paddlenlp": classify the pooled output (PaddleNLP's heads, the default). "huggingface": the
    # heads of transformers' RoFormer, for converted checkpoints: sequence classification reads the
    # first token through dense -> act -> out_proj, multiple choice reads the last token.
    head_type: str = "paddlenlp"

    # --- outputs ---
    output_hidden_states: bool = False
    output_attentions: bool = False
    return_dict: bool = False  # PaddleNLP's default: heads return tuples, loss first
    is_decoder: bool = False  # add a causal mask in every forward (Hugging Face decoders); PaddleNLP's is False
    architectures: Optional[List[str]] = None

    def __post_init__(self):
        if self.embedding_size is None:
            self.embedding_size = self.hidden_size
        _check_field_types(self)
        if self.id2label is not None:
            try:
                self.id2label = {int(k): v for k, v in self.id2label.items()}
            except (TypeError, ValueError):
                raise ValueError(f"RoFormerConfig.id2label keys must be class indices, got {list(self.id2label)}") from None
            self.num_labels = len(self.id2label)
            if self.label2id is None:
                self.label2id = {v: k for k, v in self.id2label.items()}
        self.validate()

    # ------------------------------------------------------------------ checks
    def validate(self) -> None:
        _check_field_types(self)
        for name in ("vocab_size", "embedding_size", "hidden_size", "num_hidden_layers",
                     "num_attention_heads", "intermediate_size", "max_position_embeddings", "type_vocab_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"RoFormerConfig.{name} must be a positive integer, got {value!r}")
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"RoFormerConfig.hidden_size ({self.hidden_size}) must be divisible by "
                f"num_attention_heads ({self.num_attention_heads})"
            )
        if (self.hidden_size // self.num_attention_heads) % 2:
            raise ValueError(
                f"RoFormerConfig head size hidden_size / num_attention_heads = "
                f"{self.hidden_size // self.num_attention_heads} must be even: rotary embeddings rotate pairs"
            )
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob", "classifier_dropout"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= float(value) < 1.0:
                raise ValueError(f"RoFormerConfig.{name} must be in [0, 1), got {value!r}")
        for name in ("hidden_act", "pool_act"):
            if getattr(self, name) not in ACTIVATIONS:
                raise ValueError(f"RoFormerConfig.{name} must be one of {ACTIVATIONS}, got {getattr(self, name)!r}")
        if isinstance(self.num_labels, bool) or not isinstance(self.num_labels, int) or self.num_labels < 1:
            raise ValueError(f"RoFormerConfig.num_labels must be a positive integer, got {self.num_labels!r}")
        if not 0 <= self.pad_token_id < self.vocab_size:
            raise ValueError(f"RoFormerConfig.pad_token_id must be in [0, vocab_size={self.vocab_size}), got {self.pad_token_id}")
        if self.head_type not in HEAD_TYPES:
            raise ValueError(f"RoFormerConfig.head_type must be one of {HEAD_TYPES}, got {self.head_type!r}")
        if self.layer_norm_eps <= 0:
            raise ValueError(f"RoFormerConfig.layer_norm_eps must be > 0, got {self.layer_norm_eps}")
        if self.initializer_range < 0:
            raise ValueError(f"RoFormerConfig.initializer_range must be >= 0, got {self.initializer_range}")
        if self.eos_token_id is not None and self.eos_token_id < 0:
            raise ValueError(f"RoFormerConfig.eos_token_id must be >= 0, got {self.eos_token_id}")
        if self.num_choices is not None and self.num_choices < 1:
            raise ValueError(f"RoFormerConfig.num_choices must be a positive integer, got {self.num_choices}")
        if self.problem_type not in PROBLEM_TYPES:
            raise ValueError(f"RoFormerConfig.problem_type must be one of {PROBLEM_TYPES}, got {self.problem_type!r}")

    # ------------------------------------------------------------------ aliases
    @property
    def num_classes(self) -> int:
        return self.num_labels

    @num_classes.setter
    def num_classes(self, value: int) -> None:
        self.num_labels = value

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    def num_parameters(self) -> int:
        """Parameters of the bare RoFormerModel this config builds (pooler included)."""
        C, E, I = self.hidden_size, self.embedding_size, self.intermediate_size
        embeddings = (self.vocab_size + self.type_vocab_size) * E + 2 * E
        project = E * C + C if E != C else 0
        layer = 4 * (C * C + C) + (C * I + I) + (I * C + C) + 2 * 2 * C
        pooler = C * C + C
        return embeddings + project + self.num_hidden_layers * layer + pooler

    # ------------------------------------------------------------------ dict / files
    @classmethod
    def field_names(cls) -> List[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def _normalize(cls, values: Dict[str, Any], drop_generic: bool) -> Dict[str, Any]:
        known = set(cls.field_names())
        out: Dict[str, Any] = {}
        for key, value in values.items():
            key = ALIASES.get(key, key)
            if key in known:
                out[key] = value
            elif drop_generic and key in GENERIC_CONFIG_KEYS:
                continue
            else:
                close = closest_match(key, known)
                hint = f" (did you mean {close!r}?)" if close else ""
                raise ValueError(f"Unknown RoFormerConfig key {key!r}{hint}")
        model_type = values.get("model_type")
        if model_type not in (None, "roformer"):
            raise ValueError(f"config has model_type={model_type!r}, expected 'roformer'")
        return _coerce_types(out)

    @classmethod
    def from_dict(cls, values: Dict[str, Any], **overrides) -> "RoFormerConfig":
        """Build a config from a dict; unknown keys are errors.

        Keys that PaddleNLP or Hugging Face add to every config file (``paddlenlp_version``,
        ``model_type``, generation defaults, …) are accepted and ignored.
        """
        if not isinstance(values, dict):
            raise TypeError(f"RoFormerConfig.from_dict expects a dict, got {type(values).__name__}")
        values = _flatten_legacy(values)
        merged = cls._normalize(values, drop_generic=True)
        overrides = cls._normalize(overrides, drop_generic=False)
        if "num_labels" in overrides and "id2label" not in overrides:
            # A new number of classes makes the stored label names stale.
            if len(merged.get("id2label") or {}) != overrides["num_labels"]:
                merged.pop("id2label", None)
                merged.pop("label2id", None)
        merged.update(overrides)
        return cls(**merged)

    def to_dict(self) -> Dict[str, Any]:
        out = dataclasses.asdict(self)
        for key in ("id2label", "label2id", "classifier_dropout", "num_choices", "problem_type", "architectures"):
            if out[key] is None:
                out.pop(key)
        if out["head_type"] == "paddlenlp":
            out.pop("head_type")  # keeps config.json in PaddleNLP's own terms
        if "id2label" in out:
            out["id2label"] = {str(k): v for k, v in out["id2label"].items()}
        out["model_type"] = "roformer"
        return out

    def update(self, **overrides) -> "RoFormerConfig":
        """Return a copy with ``overrides`` applied (unknown keys are errors)."""
        return type(self).from_dict(self.to_dict(), **overrides)

    def to_json_string(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    def save_pretrained(self, save_directory: str) -> None:
        os.makedirs(save_directory, exist_ok=True)
        atomic_write_text(os.path.join(save_directory, CONFIG_NAME), self.to_json_string())

    @classmethod
    def from_json_file(cls, path: str, **overrides) -> "RoFormerConfig":
        with open(path, encoding="utf-8") as f:
            try:
                values = json.load(f)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path} is not valid JSON: {err}") from err
        return cls.from_dict(values, **overrides)

    @classmethod
    def from_yaml(cls, path: str, **overrides) -> "RoFormerConfig":
        """Read a YAML file: either a flat config or a ``configs/<name>.yaml`` entry (its ``model`` section)."""
        with open(path, encoding="utf-8") as f:
            values = yaml.safe_load(f)
        if not isinstance(values, dict):
            raise ValueError(f"{path} does not hold a mapping of config values")
        if isinstance(values.get("model"), dict):
            values = values["model"]
        return cls.from_dict(values, **overrides)

    def to_yaml(self, path: Optional[str] = None) -> str:
        text = yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)
        if path is not None:
            atomic_write_text(path, text)
        return text

    @classmethod
    def from_pretrained(cls, name_or_path, **overrides) -> "RoFormerConfig":
        """A fresh config from a registered name (its ``configs/<name>.yaml``), a directory or http(s)
        URL of one (``config.json``, else ``model_config.json``), or a .json / .yaml file."""
        if isinstance(name_or_path, (str, os.PathLike)) and os.path.isfile(name_or_path):
            path = os.fspath(name_or_path)
            if path.endswith((".yaml", ".yml")):
                return cls.from_yaml(path, **overrides)
            return cls.from_json_file(path, **overrides)
        if hub.classify(name_or_path) == "name":
            return cls.from_dict(registry.get_pretrained(os.fspath(name_or_path)).model_values(), **overrides)
        return cls.from_json_file(hub.resolve(name_or_path, [CONFIG_NAME, LEGACY_CONFIG_NAME]), **overrides)


def _type_name(value) -> str:
    return f"{value!r} ({type(value).__name__})"


def _check_field_types(config: "RoFormerConfig") -> None:
    """Every field has the type its annotation names: ``rotary_value: "false"`` is an error, not True.

    bool is a subclass of int in Python, so booleans are refused where an int is expected, and
    floats must be finite.
    """
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        annotation = str(f.type)
        if value is None and annotation.startswith("Optional"):
            continue
        where = f"RoFormerConfig.{f.name}"
        if annotation.startswith("Optional[List"):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise TypeError(f"{where} must be a list of strings, got {_type_name(value)}")
        elif annotation.endswith("bool"):
            if not isinstance(value, bool):
                raise TypeError(f"{where} must be true or false (a bool), got {_type_name(value)}")
        elif "[int]" in annotation or annotation == "int":
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"{where} must be an integer, got {_type_name(value)}")
            setattr(config, f.name, int(value))  # numpy integers become plain ints (JSON-ready)
        elif "float" in annotation:
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"{where} must be a number, got {_type_name(value)}")
            if not math.isfinite(value):
                raise ValueError(f"{where} must be finite, got {value!r}")
        elif "[str]" in annotation or annotation == "str":
            if not isinstance(value, str):
                raise TypeError(f"{where} must be a string, got {_type_name(value)}")
        elif annotation.startswith("Optional[Dict"):
            if not isinstance(value, dict):
                raise TypeError(f"{where} must be a mapping, got {_type_name(value)}")


def _flatten_legacy(values: Dict[str, Any]) -> Dict[str, Any]:
    """PaddleNLP < 2.5 wrote heads as {"init_args": [{base config}], "init_class": ..., head kwargs}."""
    if "init_args" not in values:
        return values
    flat: Dict[str, Any] = {}
    for arg in values.get("init_args") or []:
        if isinstance(arg, dict):
            flat.update(_flatten_legacy(arg))
    flat.update({k: v for k, v in values.items() if k != "init_args"})
    return flat


_FIELD_TYPES = {f.name: f.type for f in dataclasses.fields(RoFormerConfig)}


def _coerce_types(values: Dict[str, Any]) -> Dict[str, Any]:
    """YAML 1.1 reads ``1e-12`` as a string; accept numeric strings for float fields."""
    out = dict(values)
    for key, value in values.items():
        annotation = str(_FIELD_TYPES.get(key, ""))
        if "float" in annotation and isinstance(value, str):
            try:
                out[key] = float(value)
            except ValueError:
                raise ValueError(f"RoFormerConfig.{key} must be a number, got {value!r}") from None
        elif "float" in annotation and isinstance(value, int) and not isinstance(value, bool):
            out[key] = float(value)
    return out
