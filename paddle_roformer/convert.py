"""PyTorch (Hugging Face) RoFormer state dicts -> PaddleNLP-format state dicts.

The mapping is one explicit table. Every source tensor is either mapped or deliberately dropped,
every Linear weight is transposed ([out, in] -> [in, out]) and every shape is checked against
what the config implies. Anything else is an error that names the key.
"""
from __future__ import annotations

from typing import Dict, List, NamedTuple, Tuple

import numpy as np

from .config import RoFormerConfig

# Hugging Face class name -> (has "roformer." prefix, head kind)
HF_ARCHITECTURES = {
    "RoFormerModel": (False, None),
    "RoFormerForMaskedLM": (True, "lm"),
    "RoFormerForCausalLM": (True, "lm"),
    "RoFormerForTokenClassification": (True, "token"),
    "RoFormerForQuestionAnswering": (True, "qa"),
}


class Rule(NamedTuple):
    source: str  # Hugging Face key
    target: str  # PaddleNLP / paddle_roformer key
    transpose: bool  # a Linear weight


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


def _head_rules(kind) -> List[Rule]:
    if kind == "lm":
        return [
            Rule("cls.predictions.transform.dense.weight", "cls.predictions.transform.weight", True),
            Rule("cls.predictions.transform.dense.bias", "cls.predictions.transform.bias", False),
            Rule("cls.predictions.transform.LayerNorm.weight", "cls.predictions.layer_norm.weight", False),
            Rule("cls.predictions.transform.LayerNorm.bias", "cls.predictions.layer_norm.bias", False),
            Rule("cls.predictions.decoder.bias", "cls.predictions.decoder_bias", False),
        ]
    if kind == "token":
        return [Rule("classifier.weight", "classifier.weight", True), Rule("classifier.bias", "classifier.bias", False)]
    if kind == "qa":
        return [Rule("qa_outputs.weight", "classifier.weight", True), Rule("qa_outputs.bias", "classifier.bias", False)]
    return []


def mapping_rules(config: RoFormerConfig, architecture: str) -> Tuple[List[Rule], List[str]]:
    """The rules for one Hugging Face class, and the source keys dropped on purpose."""
    if architecture not in HF_ARCHITECTURES:
        raise ValueError(f"Unsupported architecture {architecture!r}; supported: {sorted(HF_ARCHITECTURES)}")
    prefixed, kind = HF_ARCHITECTURES[architecture]
    prefix = "roformer." if prefixed else ""
    rules = [Rule(prefix + r.source, prefix + r.target, r.transpose) for r in _backbone_rules(config)]
    rules += _head_rules(kind)
    # The sinusoid table is recomputed at run time; the decoder weight is the word-embedding
    # matrix (tied) and cls.predictions.bias is the same tensor as the decoder bias.
    dropped = [prefix + "encoder.embed_positions.weight"]
    if kind == "lm":
        dropped += ["cls.predictions.decoder.weight", "cls.predictions.bias"]
    return rules, dropped


def hf_to_paddle_state_dict(
    hf_state: Dict[str, np.ndarray], config: RoFormerConfig, architecture: str
) -> Dict[str, np.ndarray]:
    """Map a Hugging Face RoFormer state dict (numpy arrays) to our key names and layouts."""
    rules, dropped = mapping_rules(config, architecture)
    known = {r.source for r in rules} | set(dropped)
    missing = [r.source for r in rules if r.source not in hf_state]
    unexpected = [k for k in hf_state if k not in known]
    if missing:
        raise KeyError(f"{architecture} checkpoint is missing {missing}")
    if unexpected:
        raise KeyError(f"{architecture} checkpoint has unexpected keys {unexpected}")
    out = {}
    for rule in rules:
        value = np.asarray(hf_state[rule.source])
        if rule.transpose:
            if value.ndim != 2:
                raise ValueError(f"{rule.source} should be a 2-D Linear weight, got shape {list(value.shape)}")
            value = value.T
        out[rule.target] = np.ascontiguousarray(value)
    _check_shapes(out, config)
    decoder = hf_state.get("cls.predictions.decoder.weight")
    if decoder is not None:
        embeddings = out["roformer.embeddings.word_embeddings.weight"]
        if not np.array_equal(np.asarray(decoder), embeddings):
            raise ValueError("cls.predictions.decoder.weight differs from the word embeddings; untied LM heads are not supported")
    return out


def expected_shapes(config: RoFormerConfig) -> Dict[str, List[int]]:
    """Shapes (Paddle layout) of the backbone parameters implied by ``config``, keyed by suffix."""
    C, E, I = config.hidden_size, config.embedding_size, config.intermediate_size
    shapes = {
        "embeddings.word_embeddings.weight": [config.vocab_size, E],
        "embeddings.token_type_embeddings.weight": [config.type_vocab_size, E],
        "embeddings.layer_norm.weight": [E],
        "embeddings.layer_norm.bias": [E],
        "embeddings_project.weight": [E, C],
        "embeddings_project.bias": [C],
        "cls.predictions.transform.weight": [C, E],
        "cls.predictions.transform.bias": [E],
        "cls.predictions.layer_norm.weight": [E],
        "cls.predictions.layer_norm.bias": [E],
        "cls.predictions.decoder_bias": [config.vocab_size],
    }
    for name, shape in {
        "q_proj": [C, C], "k_proj": [C, C], "v_proj": [C, C], "out_proj": [C, C]
    }.items():
        shapes[f"self_attn.{name}.weight"] = shape
        shapes[f"self_attn.{name}.bias"] = [C]
    shapes.update({"linear1.weight": [C, I], "linear1.bias": [I], "linear2.weight": [I, C], "linear2.bias": [C],
                   "norm1.weight": [C], "norm1.bias": [C], "norm2.weight": [C], "norm2.bias": [C]})
    return shapes


def _check_shapes(state: Dict[str, np.ndarray], config: RoFormerConfig) -> None:
    shapes = expected_shapes(config)
    for key, value in state.items():
        for suffix, shape in shapes.items():
            if key.endswith(suffix):
                if list(value.shape) != shape:
                    raise ValueError(f"{key}: shape {list(value.shape)} after conversion, config implies {shape}")
                break
