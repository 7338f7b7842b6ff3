"""Convert PyTorch (Hugging Face) RoFormer checkpoints into from_pretrained-ready Paddle directories.

    python -m paddle_roformer.convert SRC DST [--verify] [--dtype float16] [--verbose]
    paddle-roformer convert SRC DST ...

SRC is a Hugging Face model directory (``config.json`` with ``model.safetensors``, sharded
``model-0000x-of-0000y.safetensors`` + index, or ``pytorch_model.bin``), or a single weights file
with ``--config``. The mapping is one explicit table: every source tensor is mapped or dropped on
purpose, every Linear weight is transposed ([out, in] -> [in, out]), every shape is checked, and
anything else is an error that names the key.

The converter never deletes what it did not write. DST may not be SRC, hold SRC, or be the current,
home or root directory. Files are staged in a temporary directory and moved into DST only when
everything succeeded, so a failed conversion writes nothing; ``--force`` replaces the converter's
own files in an existing DST and leaves every other file there alone.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Dict, List, NamedTuple, Optional, Tuple

import numpy as np

from .checkpoint import SAFE_WEIGHTS_NAME, WEIGHTS_NAME, directory_save, read_safetensors
from .config import ACTIVATIONS, CONFIG_NAME, RoFormerConfig
from .utils import current_umask, fsync_directory, pid_alive, sha256_of

# Hugging Face class -> (keys carry the "roformer." prefix, head)
HF_ARCHITECTURES = {
    "RoFormerModel": (False, None),
    "RoFormerForMaskedLM": (True, "lm"),
    "RoFormerForCausalLM": (True, "lm"),
    "RoFormerForTokenClassification": (True, "token"),
    "RoFormerForQuestionAnswering": (True, "qa"),
    "RoFormerForSequenceClassification": (True, "sequence"),
    "RoFormerForMultipleChoice": (True, "choice"),
}
HF_HEADS = {"RoFormerForSequenceClassification", "RoFormerForMultipleChoice"}  # heads unlike PaddleNLP's
DEFAULT_TOLERANCE = {"float32": 1e-4, "float16": 1e-2, "bfloat16": 5e-2}
TOKENIZER_FILES = ("vocab.txt", "tokenizer_config.json", "special_tokens_map.json")
# Every name the converter writes (or replaces, with --force) in DST; nothing else there is touched.
OUTPUT_FILES = (CONFIG_NAME, WEIGHTS_NAME, SAFE_WEIGHTS_NAME) + TOKENIZER_FILES
# Keys the ``roformer`` package on PyPI (0.4.x) writes into every config.json. They switch its
# classes to RoFormer-v2 (scale-free RMS norm, Linear layers without bias, a bias-free LM head).
PACKAGE_CONFIG_KEYS = ("norm_type", "use_bias", "pooler_activation")


class ConversionError(ValueError):
    """A checkpoint that cannot be converted faithfully; the message names the problem."""


class Rule(NamedTuple):
    source: str  # Hugging Face key
    target: str  # PaddleNLP / paddle_roformer key
    transpose: bool  # a Linear weight


# ---------------------------------------------------------------------------- the mapping


def _backbone_rules(config: RoFormerConfig) -> List[Rule]:
    rules = [
        Rule("embeddings.word_embeddings.weight", "embeddings.word_embeddings.weight", False),
        Rule("embeddings.token_type_embeddings.weight", "embeddings.token_type_embeddings.weight", False),
        Rule("embeddings.LayerNorm.weight", "embeddings.layer_norm.weight", False),
        Rule("embeddings.LayerNorm.bias", "embeddings.layer_norm.bias", False),
    ]
    if config.embedding_size != config.hidden_size:
        rules += [
            Rule("embeddings_project.weight", "embeddings_project.weight", True),
            Rule("embeddings_project.bias", "embeddings_project.bias", False),
        ]
    per_layer = [  # (HF suffix, Paddle suffix, is a Linear)
        ("attention.self.query", "self_attn.q_proj", True),
        ("attention.self.key", "self_attn.k_proj", True),
        ("attention.self.value", "self_attn.v_proj", True),
        ("attention.output.dense", "self_attn.out_proj", True),
        ("attention.output.LayerNorm", "norm1", False),
        ("intermediate.dense", "linear1", True),
        ("output.dense", "linear2", True),
        ("output.LayerNorm", "norm2", False),
    ]
    for i in range(config.num_hidden_layers):
        for hf, pd, linear in per_layer:
            rules.append(Rule(f"encoder.layer.{i}.{hf}.weight", f"encoder.layers.{i}.{pd}.weight", linear))
            rules.append(Rule(f"encoder.layer.{i}.{hf}.bias", f"encoder.layers.{i}.{pd}.bias", False))
    return rules


POOLER_RULES = [Rule("pooler.dense.weight", "pooler.dense.weight", True), Rule("pooler.dense.bias", "pooler.dense.bias", False)]


def _linear(source: str, target: str) -> List[Rule]:
    return [Rule(f"{source}.weight", f"{target}.weight", True), Rule(f"{source}.bias", f"{target}.bias", False)]


def _head_rules(kind: Optional[str]) -> List[Rule]:
    if kind == "lm":
        return _linear("cls.predictions.transform.dense", "cls.predictions.transform") + [
            Rule("cls.predictions.transform.LayerNorm.weight", "cls.predictions.layer_norm.weight", False),
            Rule("cls.predictions.transform.LayerNorm.bias", "cls.predictions.layer_norm.bias", False),
            Rule("cls.predictions.decoder.bias", "cls.predictions.decoder_bias", False),
        ]
    if kind in ("token", "choice"):
        return _linear("classifier", "classifier")
    if kind == "qa":
        return _linear("qa_outputs", "classifier")
    if kind == "sequence":
        return _linear("classifier.dense", "classifier.dense") + _linear("classifier.out_proj", "classifier.out_proj")
    return []


def mapping_rules(config: RoFormerConfig, architecture: str, with_pooler: bool = False) -> Tuple[List[Rule], List[str]]:
    """The rules for one Hugging Face class, and the source keys dropped on purpose."""
    if architecture not in HF_ARCHITECTURES:
        raise ConversionError(f"unsupported architecture {architecture!r}; supported: {sorted(HF_ARCHITECTURES)}")
    prefixed, kind = HF_ARCHITECTURES[architecture]
    prefix = "roformer." if prefixed else ""
    backbone = _backbone_rules(config) + (POOLER_RULES if with_pooler else [])
    rules = [Rule(prefix + r.source, prefix + r.target, r.transpose) for r in backbone] + _head_rules(kind)
    # The sinusoid table is recomputed at run time; the decoder weight is the word-embedding
    # matrix (tied), and cls.predictions.bias is the same tensor as the decoder bias.
    dropped = [prefix + "encoder.embed_positions.weight"]
    if kind == "lm":
        dropped += ["cls.predictions.decoder.weight", "cls.predictions.bias"]
    return rules, dropped


def hf_to_paddle_state_dict(hf_state: Dict[str, np.ndarray], model, architecture: str) -> Dict[str, np.ndarray]:
    """Map a Hugging Face RoFormer state dict (numpy arrays) to the key names and layouts of ``model``
    (our class of the same name), checking every shape against the model's own parameters.

    A pooler (checkpoints of the ``roformer`` pip package have one) is kept; Hugging Face's own
    checkpoints have none, and the model's pooler then keeps its initialisation.
    """
    config = model.config
    prefix = "roformer." if HF_ARCHITECTURES.get(architecture, (False,))[0] else ""
    with_pooler = prefix + "pooler.dense.weight" in hf_state
    # transformers keeps the LM bias under two names that share one tensor; safetensors files
    # store just one of them.
    decoder_bias, bias = hf_state.get("cls.predictions.decoder.bias"), hf_state.get("cls.predictions.bias")
    if decoder_bias is None and bias is not None:
        hf_state = dict(hf_state, **{"cls.predictions.decoder.bias": bias})
    elif decoder_bias is not None and bias is not None and not np.array_equal(np.asarray(decoder_bias), np.asarray(bias)):
        raise ConversionError("cls.predictions.bias and cls.predictions.decoder.bias differ; they should be one tensor")
    rules, dropped = mapping_rules(config, architecture, with_pooler)
    known = {r.source for r in rules} | set(dropped)
    missing = [r.source for r in rules if r.source not in hf_state]
    unexpected = sorted(k for k in hf_state if k not in known)
    if missing:
        raise ConversionError(f"{architecture} checkpoint is missing {missing}")
    if unexpected:
        raise ConversionError(f"{architecture} checkpoint has unexpected tensors {unexpected}")
    expected = {k: list(v.shape) for k, v in model.state_dict().items()}
    out = {}
    for rule in rules:
        value = np.asarray(hf_state[rule.source])
        if rule.transpose:
            if value.ndim != 2:
                raise ConversionError(f"{rule.source} should be a 2-D Linear weight, got shape {list(value.shape)}")
            value = value.T
        shape = expected[rule.target]
        if list(value.shape) != shape:
            raise ConversionError(
                f"{rule.source}: shape {list(hf_state[rule.source].shape)} does not fit the config "
                f"(expects {shape} after {'transposing' if rule.transpose else 'mapping'} to {rule.target})"
            )
        out[rule.target] = np.ascontiguousarray(value)
    decoder = hf_state.get("cls.predictions.decoder.weight")
    if decoder is not None and not np.array_equal(np.asarray(decoder), out["roformer.embeddings.word_embeddings.weight"]):
        raise ConversionError("cls.predictions.decoder.weight differs from the word embeddings; untied LM heads are not supported")
    return out


# ---------------------------------------------------------------------------- reading


def is_package_config(values: Dict) -> bool:
    """Whether a config.json was written by the ``roformer`` package (it adds ``norm_type`` & co.)."""
    return any(key in values for key in PACKAGE_CONFIG_KEYS)


def _package_settings(values: Dict) -> Dict:
    """Translate the ``roformer`` package's keys into ours; RoFormer-v2 settings are refused."""
    values = dict(values)
    norm_type = values.pop("norm_type", "layer_norm")
    use_bias = values.pop("use_bias", True)
    activation = values.pop("pooler_activation", "tanh")
    v2 = [f"{key}={value!r}" for key, value, v1 in (("norm_type", norm_type, norm_type == "layer_norm"),
                                                     ("use_bias", use_bias, use_bias is True)) if not v1]
    if v2:
        raise ConversionError(
            f"config.json has {', '.join(v2)}: a RoFormer-v2 checkpoint (RMS norm without scale, Linear "
            "layers without bias). RoFormer-v2 is not supported; only RoFormer (norm_type='layer_norm', "
            "use_bias=true) converts"
        )
    if activation not in ACTIVATIONS:
        raise ConversionError(f"config.json has pooler_activation={activation!r}; supported: {list(ACTIVATIONS)}")
    if values.get("pool_act", activation) != activation:
        raise ConversionError(f"config.json has pooler_activation={activation!r} and pool_act={values['pool_act']!r}")
    values["pool_act"] = activation
    # The package adds its causal mask only for tokens after a key/value cache; the first pass
    # over the input (the prompt, in generation) is bidirectional. Our ``is_decoder`` would mask
    # every pass, so it stays off: with one new token per step the two agree.
    values["is_decoder"] = False
    return values


def config_from_hf(values: Dict, architecture: Optional[str] = None) -> Tuple[RoFormerConfig, str]:
    """Our config (and the architecture) from a Hugging Face or ``roformer``-package ``config.json`` dict."""
    if values.get("model_type") != "roformer":
        raise ConversionError(f"config.json has model_type={values.get('model_type')!r}, not 'roformer'")
    if architecture is None:
        names = values.get("architectures") or []
        if len(names) != 1:
            raise ConversionError(
                f"config.json names architectures {names!r}; pass --architecture with one of {sorted(HF_ARCHITECTURES)}"
            )
        architecture = names[0]
    if architecture not in HF_ARCHITECTURES:
        raise ConversionError(f"unsupported architecture {architecture!r}; supported: {sorted(HF_ARCHITECTURES)}")
    if is_package_config(values):
        values = _package_settings(values)
    values = dict(values, architectures=[architecture])
    if architecture in HF_HEADS:
        values["head_type"] = "huggingface"
    try:
        return RoFormerConfig.from_dict(values), architecture
    except (ValueError, TypeError) as err:
        raise ConversionError(f"config.json: {err}") from err


def _read_safetensors(path: str) -> Dict[str, np.ndarray]:
    try:
        return read_safetensors(path)
    except ValueError as err:  # the message names the file and what is wrong with it
        raise ConversionError(f"{err}; truncated or corrupt?") from err


def _read_torch(path: str) -> Dict[str, np.ndarray]:
    try:
        import torch
    except ImportError as err:
        raise ConversionError(
            f"reading {os.path.basename(path)} needs PyTorch; install it, or convert the checkpoint to .safetensors"
        ) from err
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)  # no code runs from the file
    except Exception as err:
        raise ConversionError(f"{path} is not a readable PyTorch state dict (truncated or corrupt?): {err}") from err
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ConversionError(f"{path} does not hold a state dict")
    return {k: (v.float() if v.dtype == torch.bfloat16 else v).numpy() for k, v in state.items()}


def _read_sharded(index_path: str, reader) -> Dict[str, np.ndarray]:
    with open(index_path, encoding="utf-8") as f:
        try:
            weight_map = json.load(f)["weight_map"]
        except (json.JSONDecodeError, KeyError) as err:
            raise ConversionError(f"{index_path} is not a shard index (no weight_map)") from err
    directory = os.path.dirname(index_path)
    state: Dict[str, np.ndarray] = {}
    for shard in sorted(set(weight_map.values())):
        path = os.path.join(directory, shard)
        if not os.path.isfile(path):
            raise ConversionError(f"shard {shard} listed in {os.path.basename(index_path)} is missing")
        state.update(reader(path))
    missing = sorted(k for k in weight_map if k not in state)
    if missing:
        raise ConversionError(f"tensors listed in {os.path.basename(index_path)} are missing from the shards: {missing}")
    return state


def locate_checkpoint(src: str, config_path: Optional[str] = None):
    """(weights path, its reader, config path) of a Hugging Face directory or weights file; reads nothing."""
    if not os.path.exists(src):
        raise FileNotFoundError(f"SRC not found: {src}")
    if os.path.isdir(src):
        candidates = [
            (SAFE_WEIGHTS_NAME + ".index.json", lambda p: _read_sharded(p, _read_safetensors)),
            (SAFE_WEIGHTS_NAME, _read_safetensors),
            ("pytorch_model.bin.index.json", lambda p: _read_sharded(p, _read_torch)),
            ("pytorch_model.bin", _read_torch),
        ]
        for name, reader in candidates:
            path = os.path.join(src, name)
            if os.path.isfile(path):
                weights_path = path
                break
        else:
            raise FileNotFoundError(
                f"{src} has no {SAFE_WEIGHTS_NAME}, sharded safetensors index, or pytorch_model.bin"
            )
        config_path = config_path or os.path.join(src, CONFIG_NAME)
    else:
        weights_path = src
        reader = _read_safetensors if src.endswith(".safetensors") else _read_torch
        if config_path is None:
            raise ConversionError("a single weights file needs --config (the model's config.json)")
    if not os.path.isfile(config_path):
        raise FileNotFoundError(f"config not found: {config_path}")
    return weights_path, reader, config_path


def read_config(config_path: str) -> Dict:
    with open(config_path, encoding="utf-8") as f:
        try:
            config = json.load(f)
        except json.JSONDecodeError as err:
            raise ConversionError(f"{config_path} is not valid JSON: {err}") from err
    if not isinstance(config, dict):
        raise ConversionError(f"{config_path} does not hold a JSON object")
    return config


def read_checkpoint(src: str, config_path: Optional[str] = None) -> Tuple[Dict[str, np.ndarray], Dict, List[str]]:
    """(state dict as numpy, config.json dict, files read) of a Hugging Face directory or weights file."""
    weights_path, reader, config_path = locate_checkpoint(src, config_path)
    config = read_config(config_path)
    return reader(weights_path), config, [weights_path, config_path]


# ---------------------------------------------------------------------------- converting


@dataclass
class ConversionReport:
    architecture: str
    mapped: List[Tuple[str, str, bool]] = field(default_factory=list)  # (source, target, transposed)
    dropped: List[str] = field(default_factory=list)
    initialized: List[str] = field(default_factory=list)
    tokenizer_files: List[str] = field(default_factory=list)
    sha256: str = ""
    differences: Dict[str, float] = field(default_factory=dict)
    written: List[str] = field(default_factory=list)  # file names placed in DST
    removed: List[str] = field(default_factory=list)  # an older weights file of DST that would shadow ours
    notes: List[str] = field(default_factory=list)


def build_model(state: Dict[str, np.ndarray], config: RoFormerConfig, architecture: str):
    """Our model of ``architecture`` with the converted weights; returns (model, report)."""
    from .heads import get_model_class

    model = get_model_class(architecture)(config)
    mapped = hf_to_paddle_state_dict(state, model, architecture)
    rules_prefix = "roformer." if HF_ARCHITECTURES[architecture][0] else ""
    target = {k: v.numpy() for k, v in model.state_dict().items()}
    initialized = sorted(k for k in target if k not in mapped and k != "cls.predictions.decoder_weight")
    allowed = {rules_prefix + "pooler.dense.weight", rules_prefix + "pooler.dense.bias"}
    unfilled = [k for k in initialized if k not in allowed]
    if unfilled:
        raise ConversionError(f"no source tensor fills {unfilled}")
    target.update(mapped)
    model.load_pretrained_state_dict(target)
    model.eval()
    report = ConversionReport(architecture=architecture, initialized=initialized)
    rules, dropped = mapping_rules(config, architecture, with_pooler=rules_prefix + "pooler.dense.weight" not in initialized)
    report.mapped = [(r.source, r.target, r.transpose) for r in rules]
    report.dropped = [k for k in dropped if k in state]
    return model, report


def convert(src: str, dst: str, config_path: Optional[str] = None, architecture: Optional[str] = None,
            dtype: str = "float32", verify: bool = False, tolerance: Optional[float] = None,
            force: bool = False) -> ConversionReport:
    """Convert SRC into the directory DST; returns what was mapped, dropped and measured.

    DST is checked before anything is read (see ``check_destination``). The files are staged in a
    temporary directory and moved into DST only after everything, ``verify`` included, succeeded.
    With ``verify`` the source model runs in PyTorch and the written one in Paddle on the same
    padded random batch; a difference above ``tolerance`` raises ``ConversionError``.
    """
    if dtype not in DEFAULT_TOLERANCE:
        raise ValueError(f"dtype must be one of {sorted(DEFAULT_TOLERANCE)}, got {dtype!r}")
    dst = os.path.abspath(dst)
    check_destination(src, dst, config_path, force)
    weights_path, reader, config_path = locate_checkpoint(src, config_path)
    hf_config = read_config(config_path)
    config, architecture = config_from_hf(hf_config, architecture)  # before the (large) weights are read
    state = reader(weights_path)
    model, report = build_model(state, config, architecture)
    if is_package_config(hf_config) and hf_config.get("is_decoder"):
        report.notes.append("is_decoder set to false: the roformer package masks only tokens after a cache; "
                            "pass a causal or UniLM attention_mask where one is needed")

    exists = os.path.isdir(dst)
    # Stage on DST's own filesystem: inside DST when it exists, else beside it.
    parent = dst if exists else os.path.dirname(dst)
    os.makedirs(parent, exist_ok=True)
    _remove_stale_staging(parent, os.path.basename(dst))
    # The pid in the name lets a later conversion remove what a killed one left behind.
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(dst)}.{os.getpid()}.", suffix=".converting", dir=parent)
    try:
        os.chmod(staging, 0o777 & ~current_umask())  # mkdtemp makes 0700; DST follows the umask
        if dtype != "float32":
            model.to(dtype=dtype)
        model.save_pretrained(staging)
        report.tokenizer_files = _copy_tokenizer(src if os.path.isdir(src) else None, staging)
        report.sha256 = sha256_of(os.path.join(staging, WEIGHTS_NAME))
        if verify:
            report.differences = verify_conversion(state, hf_config, architecture, staging)
            limit = DEFAULT_TOLERANCE[dtype] if tolerance is None else tolerance
            worst = max(report.differences.values())
            if worst > limit:
                raise ConversionError(f"verification failed: max abs difference {worst:.3g} > tolerance {limit:g}")
        report.written = sorted(os.listdir(staging))
        report.removed = _move_into_place(staging, dst, exists)
    finally:
        if os.path.isdir(staging):
            shutil.rmtree(staging)
    return report


def _remove_stale_staging(parent: str, name: str) -> None:
    """Remove the staging directories of conversions to ``name`` whose process is no longer running."""
    pattern = re.compile(rf"^\.{re.escape(name)}\.(?P<pid>\d+)\.[^.]+\.converting$")
    for entry in os.listdir(parent):
        match = pattern.match(entry)
        path = os.path.join(parent, entry)
        if match and os.path.isdir(path) and not pid_alive(int(match["pid"])):
            shutil.rmtree(path, ignore_errors=True)


def _copy_tokenizer(src_dir: Optional[str], staging: str) -> List[str]:
    """Write the tokenizer files when SRC has a vocab (Hugging Face's RoFormer tokenizer always runs jieba)."""
    if src_dir is None or not os.path.isfile(os.path.join(src_dir, "vocab.txt")):
        return []
    from .tokenizer import RoFormerTokenizer

    settings = {"use_jieba": True}
    config_path = os.path.join(src_dir, "tokenizer_config.json")
    if os.path.isfile(config_path):
        with open(config_path, encoding="utf-8") as f:
            hf = json.load(f)
        for key in ("do_lower_case", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token", "model_max_length"):
            value = hf.get(key)
            if isinstance(value, dict):  # AddedToken serialised as a dict
                value = value.get("content")
            if value is not None and not (key == "model_max_length" and value > 1e29):
                settings[key] = value
    RoFormerTokenizer(os.path.join(src_dir, "vocab.txt"), **settings).save_pretrained(staging)
    return sorted(f for f in os.listdir(staging) if f in TOKENIZER_FILES)


def _inside(path: str, directory: str) -> bool:
    """Whether ``path`` is ``directory`` or below it (both already resolved)."""
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def check_destination(src: str, dst: str, config_path: Optional[str] = None, force: bool = False) -> None:
    """Refuse a DST whose writing could delete or overwrite anything the converter did not write.

    Refused: the current, home or root directory; SRC itself or a directory that holds SRC (or
    ``config_path``); a path that exists and is not a directory; a non-empty directory without
    ``force``. A DST inside SRC is fine: only DST's files are written.
    """
    real = os.path.realpath(dst)
    for place, name in ((os.getcwd(), "the current directory"), (os.path.expanduser("~"), "the home directory"),
                        (os.path.abspath(os.sep), "the root directory")):
        if real == os.path.realpath(place):
            raise ConversionError(f"DST {dst} is {name}; name a new directory for the converted model")
    sources = [("SRC", src)] + ([("--config", config_path)] if config_path else [])
    for label, path in sources:
        source = os.path.realpath(path)
        if source == real:
            raise ConversionError(f"DST {dst} is {label} {path}; name a new directory for the converted model")
        if _inside(source, real):
            raise ConversionError(f"{label} {path} is inside DST {dst}; name a directory that does not hold the source")
    if os.path.exists(dst) and not os.path.isdir(dst):
        raise FileExistsError(f"DST {dst} exists and is not a directory")
    if os.path.isdir(dst) and os.listdir(dst) and not force:
        raise FileExistsError(
            f"DST {dst} exists and is not empty; pass --force to replace the converter's files in it "
            f"({', '.join(OUTPUT_FILES)}); other files are left alone"
        )


def _move_into_place(staging: str, dst: str, exists: bool) -> List[str]:
    """Move the staged files into DST; returns the names of older files removed from DST."""
    if not exists:
        try:
            os.replace(staging, dst)  # one rename: DST appears complete or not at all
        except OSError as err:  # something was put at DST during the conversion
            raise FileExistsError(f"DST {dst} appeared during the conversion; nothing was written to it") from err
        fsync_directory(os.path.dirname(dst))
        return []
    written = set(os.listdir(staging))
    # from_pretrained prefers model.safetensors to model_state.pdparams: an older one would be
    # loaded instead of the new weights, so it goes with the rest of the replaced model.
    removed = [name for name in (SAFE_WEIGHTS_NAME, WEIGHTS_NAME)
               if name not in written and os.path.isfile(os.path.join(dst, name))]
    # Under the save marker, as save_pretrained writes: a kill between two moves leaves a directory
    # that loading refuses, never new weights beside an old config.
    with directory_save(dst, sorted(written)) as save:
        save.changed = True
        for name in removed:
            os.remove(os.path.join(dst, name))
        for name in sorted(written, key=lambda n: (n != WEIGHTS_NAME, n != CONFIG_NAME, n)):
            os.replace(os.path.join(staging, name), os.path.join(dst, name))
    return removed


# ---------------------------------------------------------------------------- verifying


def verify_conversion(state: Dict[str, np.ndarray], hf_config: Dict, architecture: str, converted_dir: str,
                      seed: int = 0) -> Dict[str, float]:
    """Max abs difference per output between the source (PyTorch) and the written model (Paddle)."""
    try:
        import torch
        import transformers  # noqa: F401  (the reference models come from it)
    except ImportError as err:
        raise ConversionError("--verify needs torch and transformers: pip install 'paddle_roformer[test]'") from err
    import paddle

    from .heads import get_model_class

    hf_model, library = _reference_model(hf_config, architecture, state)
    hf_cfg = hf_model.config
    state = dict(state)
    if HF_ARCHITECTURES[architecture][1] == "lm":  # the tied tensors a safetensors file stores once
        state.setdefault("cls.predictions.decoder.weight", state["roformer.embeddings.word_embeddings.weight"])
        state.setdefault("cls.predictions.decoder.bias", state.get("cls.predictions.bias"))
        state.setdefault("cls.predictions.bias", state["cls.predictions.decoder.bias"])
    result = hf_model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()}, strict=False)
    missing = [k for k in result.missing_keys if "embed_positions" not in k]
    if missing or result.unexpected_keys:
        raise ConversionError(f"the source does not load into {library}.{architecture}: "
                              f"missing {missing}, unexpected {result.unexpected_keys}")
    ours = get_model_class(architecture).from_pretrained(converted_dir)

    rng = np.random.RandomState(seed)
    seq = max(2, min(16, hf_cfg.max_position_embeddings))
    shape = (2, 2, seq) if architecture == "RoFormerForMultipleChoice" else (3, seq)
    ids = rng.randint(1, hf_cfg.vocab_size, size=shape).astype("int64")
    mask = np.ones(shape, dtype="int64")
    mask.reshape(-1, seq)[1:, seq - max(1, seq // 3):] = 0  # padding on every sequence but the first
    ids[mask == 0] = hf_cfg.pad_token_id
    types = np.zeros(shape, dtype="int64")
    if hf_cfg.type_vocab_size > 1:
        types[..., seq // 2:] = 1
    with torch.no_grad():
        ref = hf_model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask),
                       token_type_ids=torch.from_numpy(types), return_dict=True)
    with paddle.no_grad():
        out = ours(input_ids=paddle.to_tensor(ids), token_type_ids=paddle.to_tensor(types),
                   attention_mask=paddle.to_tensor(mask), return_dict=True)
    names = {"RoFormerModel": [("last_hidden_state", "last_hidden_state")],
             "RoFormerForQuestionAnswering": [("start_logits", "start_logits"), ("end_logits", "end_logits")]}
    pairs = names.get(architecture, [("logits", "logits")])
    if architecture == "RoFormerModel" and getattr(ref, "pooler_output", None) is not None:
        pairs.append(("pooler_output", "pooler_output"))  # a roformer-package model with its pooler
    return {theirs: float(np.abs(getattr(out, mine).numpy().astype("float64")
                                 - getattr(ref, theirs).numpy().astype("float64")).max()) for mine, theirs in pairs}


def _reference_model(hf_config: Dict, architecture: str, state: Dict[str, np.ndarray]):
    """The source's own PyTorch model, untrained: the ``roformer`` package's class for its
    checkpoints, transformers' otherwise; returns (model, library name)."""
    if is_package_config(hf_config):
        try:
            import roformer as library
        except ImportError as err:
            raise ConversionError("--verify of a checkpoint of the roformer package needs that package: "
                                  "pip install roformer==0.4.3") from err
        name = "roformer"
    else:
        import transformers as library

        name = "transformers"
    config = library.RoFormerConfig.from_dict(hf_config)
    cls = getattr(library, architecture)
    if name == "roformer" and architecture == "RoFormerModel":  # its pooler is optional
        return cls(config, add_pooling_layer="pooler.dense.weight" in state).eval(), name
    return cls(config).eval(), name


# ---------------------------------------------------------------------------- command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", help="Hugging Face model directory, or a weights file (.safetensors / .bin) with --config")
    parser.add_argument("dst", help="output directory (must not exist or be empty, unless --force); "
                                    "not SRC, a directory holding SRC, or the current, home or root directory")
    parser.add_argument("--config", help="config.json for a single weights file")
    parser.add_argument("--architecture", choices=sorted(HF_ARCHITECTURES),
                        help="override the class named in config.json's 'architectures'")
    parser.add_argument("--dtype", choices=sorted(DEFAULT_TOLERANCE), default="float32",
                        help="precision of the written weights (default float32)")
    parser.add_argument("--verify", action="store_true",
                        help="run both models on a padded random batch and fail above the tolerance")
    parser.add_argument("--tolerance", type=float,
                        help="max abs difference allowed by --verify (default 1e-4; 1e-2 float16; 5e-2 bfloat16)")
    parser.add_argument("--force", action="store_true",
                        help="write into a non-empty DST, replacing only the converter's own files there")
    parser.add_argument("--verbose", action="store_true", help="list every mapped, dropped and initialised tensor")


def run(args: argparse.Namespace) -> int:
    try:
        report = convert(args.src, args.dst, config_path=args.config, architecture=args.architecture,
                         dtype=args.dtype, verify=args.verify, tolerance=args.tolerance, force=args.force)
    except (ConversionError, FileNotFoundError, FileExistsError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"architecture: {report.architecture}")
    print(f"mapped {len(report.mapped)} tensors, dropped {len(report.dropped)}, initialised {len(report.initialized)}")
    if args.verbose:
        for source, target, transposed in report.mapped:
            print(f"  {source} -> {target}{'  (transposed)' if transposed else ''}")
        for key in report.dropped:
            print(f"  dropped {key}")
    for key in report.initialized:
        print(f"  initialised {key} (no pooler in the source; pooled_output is untrained)")
    for note in report.notes:
        print(f"note: {note}")
    if report.tokenizer_files:
        print(f"tokenizer files: {', '.join(report.tokenizer_files)}")
    for name, diff in report.differences.items():
        print(f"verify {name}: max abs diff {diff:.3e}")
    for name in report.removed:
        print(f"removed the older {name} of DST (from_pretrained would load it instead of the new weights)")
    print(f"wrote {', '.join(report.written)} to {os.path.abspath(args.dst)}")
    print(f"sha256 model_state.pdparams: {report.sha256}")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m paddle_roformer.convert",
                                     description="Convert a PyTorch RoFormer checkpoint to a Paddle directory.")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
