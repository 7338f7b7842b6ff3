"""Convert PyTorch (Hugging Face) RoFormer checkpoints into from_pretrained-ready Paddle directories.

    python -m paddle_roformer.convert SRC DST [--verify] [--dtype float16] [--verbose]
    paddle-roformer convert SRC DST ...

SRC is a Hugging Face model directory (``config.json`` with ``model.safetensors``, sharded
``model-0000x-of-0000y.safetensors`` + index, or ``pytorch_model.bin``), or a single weights file
with ``--config``. The mapping is one explicit table: every source tensor is mapped or dropped on
purpose, every Linear weight is transposed ([out, in] -> [in, out]), every shape is checked, and
anything else is an error that names the key. DST is written in a temporary directory and renamed
into place, so a failed conversion leaves nothing behind.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Dict, List, NamedTuple, Optional, Tuple

import numpy as np

from .config import RoFormerConfig
from .utils import sha256_of

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


def config_from_hf(values: Dict, architecture: Optional[str] = None) -> Tuple[RoFormerConfig, str]:
    """Our config (and the architecture) from a Hugging Face ``config.json`` dict."""
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
    values = dict(values, architectures=[architecture])
    if architecture in HF_HEADS:
        values["head_type"] = "huggingface"
    try:
        return RoFormerConfig.from_dict(values), architecture
    except (ValueError, TypeError) as err:
        raise ConversionError(f"config.json: {err}") from err


def _read_safetensors(path: str) -> Dict[str, np.ndarray]:
    try:
        from safetensors.numpy import load_file
    except ImportError as err:
        raise ConversionError("reading .safetensors needs the safetensors package: pip install 'paddle_roformer[convert]'") from err
    try:
        return dict(load_file(path))
    except Exception as err:  # SafetensorError, or a dtype numpy lacks
        raise ConversionError(f"{path} is not a readable safetensors file (truncated or corrupt?): {err}") from err


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


def read_checkpoint(src: str, config_path: Optional[str] = None) -> Tuple[Dict[str, np.ndarray], Dict, List[str]]:
    """(state dict as numpy, config.json dict, files read) of a Hugging Face directory or weights file."""
    if not os.path.exists(src):
        raise FileNotFoundError(f"SRC not found: {src}")
    if os.path.isdir(src):
        candidates = [
            ("model.safetensors.index.json", lambda p: _read_sharded(p, _read_safetensors)),
            ("model.safetensors", _read_safetensors),
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
                f"{src} has no model.safetensors, sharded safetensors index, or pytorch_model.bin"
            )
        config_path = config_path or os.path.join(src, "config.json")
    else:
        weights_path = src
        reader = _read_safetensors if src.endswith(".safetensors") else _read_torch
        if config_path is None:
            raise ConversionError("a single weights file needs --config (the model's config.json)")
    if not os.path.isfile(config_path):
        raise FileNotFoundError(f"config not found: {config_path}")
    with open(config_path, encoding="utf-8") as f:
        try:
            config = json.load(f)
        except json.JSONDecodeError as err:
            raise ConversionError(f"{config_path} is not valid JSON: {err}") from err
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


def build_model(state: Dict[str, np.ndarray], config: RoFormerConfig, architecture: str):
    """Our model of ``architecture`` with the converted weights; returns (model, report)."""
    import paddle_roformer

    model = getattr(paddle_roformer, architecture)(config)
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

    With ``verify`` the source model runs in PyTorch and the written one in Paddle on the same
    padded random batch; a difference above ``tolerance`` raises ``ConversionError`` and DST is
    not written.
    """
    if dtype not in DEFAULT_TOLERANCE:
        raise ValueError(f"dtype must be one of {sorted(DEFAULT_TOLERANCE)}, got {dtype!r}")
    dst = os.path.abspath(dst)
    if os.path.exists(dst) and not (os.path.isdir(dst) and not os.listdir(dst)) and not force:
        raise FileExistsError(f"DST {dst} exists and is not empty; pass --force to replace it")
    state, hf_config, _ = read_checkpoint(src, config_path)
    config, architecture = config_from_hf(hf_config, architecture)
    model, report = build_model(state, config, architecture)

    parent = os.path.dirname(dst)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix="." + os.path.basename(dst) + ".", dir=parent)
    try:
        if dtype != "float32":
            model.to(dtype=dtype)
        model.save_pretrained(staging)
        report.tokenizer_files = _copy_tokenizer(src if os.path.isdir(src) else None, staging)
        report.sha256 = sha256_of(os.path.join(staging, "model_state.pdparams"))
        if verify:
            report.differences = verify_conversion(state, hf_config, architecture, staging)
            limit = DEFAULT_TOLERANCE[dtype] if tolerance is None else tolerance
            worst = max(report.differences.values())
            if worst > limit:
                raise ConversionError(f"verification failed: max abs difference {worst:.3g} > tolerance {limit:g}")
        _move_into_place(staging, dst)
    finally:
        if os.path.isdir(staging):
            shutil.rmtree(staging)
    return report


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


def _move_into_place(staging: str, dst: str) -> None:
    if os.path.isdir(dst) and not os.listdir(dst):
        os.rmdir(dst)
    if os.path.exists(dst):  # --force: swap, then remove the old directory
        old = dst + ".old-" + os.path.basename(staging)
        os.replace(dst, old)
        os.replace(staging, dst)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, dst)


# ---------------------------------------------------------------------------- verifying


def verify_conversion(state: Dict[str, np.ndarray], hf_config: Dict, architecture: str, converted_dir: str,
                      seed: int = 0) -> Dict[str, float]:
    """Max abs difference per output between the source (PyTorch) and the written model (Paddle)."""
    try:
        import torch
        import transformers
    except ImportError as err:
        raise ConversionError("--verify needs torch and transformers: pip install 'paddle_roformer[test]'") from err
    import paddle

    import paddle_roformer

    hf_cfg = transformers.RoFormerConfig.from_dict(hf_config)
    hf_model = getattr(transformers, architecture)(hf_cfg).eval()
    state = dict(state)
    if HF_ARCHITECTURES[architecture][1] == "lm":  # the tied tensors a safetensors file stores once
        state.setdefault("cls.predictions.decoder.weight", state["roformer.embeddings.word_embeddings.weight"])
        state.setdefault("cls.predictions.decoder.bias", state.get("cls.predictions.bias"))
        state.setdefault("cls.predictions.bias", state["cls.predictions.decoder.bias"])
    result = hf_model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()}, strict=False)
    missing = [k for k in result.missing_keys if "embed_positions" not in k]
    if missing or result.unexpected_keys:
        raise ConversionError(f"the source does not load into transformers.{architecture}: "
                              f"missing {missing}, unexpected {result.unexpected_keys}")
    ours = getattr(paddle_roformer, architecture).from_pretrained(converted_dir)

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
    return {theirs: float(np.abs(getattr(out, mine).numpy().astype("float64")
                                 - getattr(ref, theirs).numpy().astype("float64")).max()) for mine, theirs in pairs}


# ---------------------------------------------------------------------------- command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", help="Hugging Face model directory, or a weights file (.safetensors / .bin) with --config")
    parser.add_argument("dst", help="output directory (must not exist or be empty, unless --force)")
    parser.add_argument("--config", help="config.json for a single weights file")
    parser.add_argument("--architecture", choices=sorted(HF_ARCHITECTURES),
                        help="override the class named in config.json's 'architectures'")
    parser.add_argument("--dtype", choices=sorted(DEFAULT_TOLERANCE), default="float32",
                        help="precision of the written weights (default float32)")
    parser.add_argument("--verify", action="store_true",
                        help="run both models on a padded random batch and fail above the tolerance")
    parser.add_argument("--tolerance", type=float,
                        help="max abs difference allowed by --verify (default 1e-4; 1e-2 float16; 5e-2 bfloat16)")
    parser.add_argument("--force", action="store_true", help="replace a non-empty DST")
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
    if report.tokenizer_files:
        print(f"tokenizer files: {', '.join(report.tokenizer_files)}")
    for name, diff in report.differences.items():
        print(f"verify {name}: max abs diff {diff:.3e}")
    print(f"wrote {os.path.abspath(args.dst)}")
    print(f"sha256 model_state.pdparams: {report.sha256}")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m paddle_roformer.convert",
                                     description="Convert a PyTorch RoFormer checkpoint to a Paddle directory.")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
