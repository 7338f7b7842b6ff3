"""The RoFormer encoder: embeddings, rotary self-attention, layers, pooler and ``RoFormerModel``.

Shapes in comments: B batch, T new tokens, S attended tokens (cached + new), H heads,
D head size, E embedding size, C hidden size.
"""
from __future__ import annotations

import math
from typing import List, Optional, Tuple

import numpy as np
import paddle
import paddle.nn as nn
import paddle.nn.functional as F
from paddle import Tensor

from .config import RoFormerConfig
from .outputs import BaseModelOutputWithPooling, as_tuple
from .pretrained import RoFormerPretrainedModel

# Added to the attention scores of masked positions (PaddleNLP's value). exp(-1e4) is exactly 0
# in float32 and the value stays finite in float16 / bfloat16, so masks can be summed safely.
MASK_VALUE = -1e4

KVCache = Tuple[Tensor, Tensor]  # (key, value), each (B, H, S, D), rotary already applied


def get_activation(name: str):
    table = {
        "gelu": F.gelu,  # exact erf form
        "gelu_new": lambda x: F.gelu(x, approximate=True),
        "gelu_fast": lambda x: F.gelu(x, approximate=True),
        "relu": F.relu,
        "silu": F.silu,
        "swish": F.silu,
        "tanh": paddle.tanh,
        "sigmoid": F.sigmoid,
        "linear": lambda x: x,
        "identity": lambda x: x,
    }
    if name not in table:
        raise ValueError(f"Unknown activation {name!r}; choose one of {sorted(table)}")
    return table[name]


# ---------------------------------------------------------------------------- rotary


class RotaryEmbedding(nn.Layer):
    """sin and cos of the rotary angles p * 10000^(-2i/D), for the positions asked for.

    Both tables are (T, D), with the angle of pair i at columns 2i and 2i+1, so that applying
    them is two plain products (see ``apply_rotary``). Any position works: a sequence longer than
    ``max_position_embeddings`` gets exactly the values the formula defines. Angles are formed in
    float64 (as the published sinusoid tables were) and cast afterwards, which keeps large
    positions accurate.

    In eager mode the tables are computed once per dtype and device for the longest span asked
    for so far (grown by doubling) and sliced per call; while tracing for export the positions
    are symbolic and the tables are computed in the traced program.
    """

    def __init__(self, head_dim: int, base: float = 10000.0):
        super().__init__()
        self.head_dim = head_dim
        self.base = base
        self._cache = {}  # (dtype, device) -> (sin, cos), (L, D) each; never saved in state dicts

    def _tables(self, positions: Tensor, dtype) -> Tuple[Tensor, Tensor]:
        exponents = paddle.arange(0, self.head_dim, 2, dtype="float64") / self.head_dim
        inv_freq = 1.0 / paddle.pow(paddle.full([1], self.base, dtype="float64"), exponents)  # (D/2,)
        angles = positions.astype("float64").unsqueeze(-1) * inv_freq  # (T, D/2)
        angles = paddle.stack([angles, angles], axis=-1).flatten(-2)  # (T, D): pairs share an angle
        return paddle.sin(angles).astype(dtype), paddle.cos(angles).astype(dtype)

    def at(self, position_ids: Tensor, dtype="float32") -> Tuple[Tensor, Tensor]:
        """sin and cos (B, 1, T, D) for explicit positions (B, T), e.g. per-row offsets while generating."""
        if not paddle.in_dynamic_mode():
            sin, cos = self._tables(position_ids, dtype)
        else:
            if position_ids.numel() == 0:
                raise ValueError("position_ids must not be empty")
            low, high = int(position_ids.min()), int(position_ids.max())
            if low < 0:
                raise ValueError(f"position_ids must be >= 0, got {low}")
            table_sin, table_cos = self(high + 1, 0, dtype)  # (L, D), from the cache
            flat = position_ids.reshape([-1])
            shape = list(position_ids.shape) + [self.head_dim]
            sin = paddle.gather(table_sin, flat).reshape(shape)
            cos = paddle.gather(table_cos, flat).reshape(shape)
        return sin.unsqueeze(1), cos.unsqueeze(1)

    def forward(self, seq_len, offset=0, dtype="float32") -> Tuple[Tensor, Tensor]:
        if not (paddle.in_dynamic_mode() and isinstance(seq_len, int) and isinstance(offset, int)):
            return self._tables(paddle.arange(offset, offset + seq_len, dtype="int64"), dtype)
        if seq_len < 0 or offset < 0:
            raise ValueError(f"rotary positions need seq_len >= 0 and offset >= 0, got {seq_len} and {offset}")
        key = (str(dtype), paddle.get_device())
        end = offset + seq_len
        tables = self._cache.get(key)
        if tables is None or tables[0].shape[0] < end:
            length = max(end, 2 * tables[0].shape[0] if tables is not None else 512)
            with paddle.no_grad():
                sin, cos = self._tables(paddle.arange(0, length, dtype="int64"), dtype)
            sin.stop_gradient = cos.stop_gradient = True
            tables = self._cache[key] = (sin, cos)
        return tables[0][offset:end], tables[1][offset:end]


_QUARTER_TURNS = {}  # (size, dtype, device) -> the (D, D) matrix of rotate_pairs, eager mode only


def _quarter_turn(size: int, dtype) -> Tensor:
    key = (size, str(dtype), paddle.get_device())
    if paddle.in_dynamic_mode() and key in _QUARTER_TURNS:
        return _QUARTER_TURNS[key]
    turn = np.zeros((size, size), dtype="float32")
    turn[np.arange(1, size, 2), np.arange(0, size, 2)] = -1.0  # out[2i] = -x[2i+1]
    turn[np.arange(0, size, 2), np.arange(1, size, 2)] = 1.0  # out[2i+1] = x[2i]
    if not paddle.in_dynamic_mode():
        return paddle.to_tensor(turn, dtype=dtype)
    _QUARTER_TURNS[key] = paddle.to_tensor(turn, dtype=dtype)
    return _QUARTER_TURNS[key]


def rotate_pairs(x: Tensor) -> Tensor:
    """(x[2i], x[2i+1]) -> (-x[2i+1], x[2i]) on the last axis: a quarter turn of every pair.

    Done as a product with a signed permutation matrix: one matmul kernel, which on CPU is faster
    than slicing and stacking the pairs (and their gradients), and stays one op when traced. Each
    output is one input times +-1, so the result is exact.
    """
    return paddle.matmul(x, _quarter_turn(x.shape[-1], x.dtype))


def apply_rotary(x: Tensor, sin: Tensor, cos: Tensor) -> Tensor:
    """Rotate interleaved pairs (x[2i], x[2i+1]) of ``x`` (B, H, T, D) by the angles of sin/cos (T, D).

    (x1, x2) -> (x1 cos - x2 sin, x1 sin + x2 cos). This is RoFormer's layout, not the half-split
    "rotate_half" layout of GPT-NeoX / LLaMA.
    """
    return x * cos + rotate_pairs(x) * sin


# ---------------------------------------------------------------------------- layers


class RoFormerEmbeddings(nn.Layer):
    """Word + token-type embeddings, then LayerNorm and dropout (no absolute positions)."""

    def __init__(self, config: RoFormerConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.embedding_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.embedding_size)
        self.layer_norm = nn.LayerNorm(config.embedding_size, epsilon=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids=None, token_type_ids=None, inputs_embeds=None) -> Tensor:
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)  # (B, T, E)
        if token_type_ids is None:
            token_type_ids = paddle.zeros(paddle.shape(inputs_embeds)[:-1], dtype="int64")
        embeddings = inputs_embeds + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.layer_norm(embeddings))


class RoFormerSelfAttention(nn.Layer):
    """Multi-head self-attention with rotary positions on queries and keys (and values if asked)."""

    def __init__(self, hidden_size: int, num_heads: int, dropout: float, rotary_value: bool):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = hidden_size // num_heads
        self.rotary_value = rotary_value
        self.q_proj = nn.Linear(hidden_size, hidden_size)
        self.k_proj = nn.Linear(hidden_size, hidden_size)
        self.v_proj = nn.Linear(hidden_size, hidden_size)
        self.out_proj = nn.Linear(hidden_size, hidden_size)
        self.dropout = nn.Dropout(dropout)

    def _split_heads(self, x: Tensor) -> Tensor:
        return x.reshape([0, 0, self.num_heads, self.head_dim]).transpose([0, 2, 1, 3])  # (B, H, T, D)

    def forward(
        self,
        hidden_states: Tensor,  # (B, T, C)
        attn_bias: Optional[Tensor],  # additive, broadcastable to (B, H, T, S)
        rotary: Tuple[Tensor, Tensor],
        past_key_value: Optional[KVCache] = None,
        use_cache: bool = False,
        output_attentions: bool = False,
    ):
        sin, cos = rotary
        q = apply_rotary(self._split_heads(self.q_proj(hidden_states)), sin, cos)
        k = apply_rotary(self._split_heads(self.k_proj(hidden_states)), sin, cos)
        v = self._split_heads(self.v_proj(hidden_states))
        if self.rotary_value:
            v = apply_rotary(v, sin, cos)
        if past_key_value is not None:
            k = paddle.concat([past_key_value[0], k], axis=2)  # (B, H, S, D)
            v = paddle.concat([past_key_value[1], v], axis=2)
        present = (k, v) if use_cache else None

        probs = None
        if self._by_query_blocks(q, k, output_attentions):
            context = self._attend_by_query_blocks(q, k, v, attn_bias)
        else:
            probs = self._attention_probs(q, k, attn_bias)
            context = paddle.matmul(self.dropout(probs), v)  # (B, H, T, D)
        context = context.transpose([0, 2, 1, 3]).reshape([0, 0, self.num_heads * self.head_dim])
        return self.out_proj(context), present, (probs if output_attentions else None)

    # Long inputs in eval: the (B, H, T, S) scores are formed for QUERY_BLOCK queries at a time, so
    # their memory grows with T * QUERY_BLOCK rather than T * S. Each query's softmax is over all
    # keys either way, so the result is the same.
    QUERY_BLOCK = 512
    BLOCKS_ABOVE = 1 << 24  # score elements (B * H * T * S) from which eval attention goes by blocks

    def _by_query_blocks(self, q: Tensor, k: Tensor, output_attentions: bool) -> bool:
        if self.training or output_attentions or not paddle.in_dynamic_mode():
            return False
        batch, heads, q_len, _ = q.shape
        return q_len > self.QUERY_BLOCK and batch * heads * q_len * k.shape[2] >= self.BLOCKS_ABOVE

    def _attention_probs(self, q: Tensor, k: Tensor, attn_bias: Optional[Tensor]) -> Tensor:
        scores = paddle.matmul(q, k, transpose_y=True) * (1.0 / math.sqrt(self.head_dim))  # (B, H, T, S)
        if attn_bias is not None:
            scores = scores + attn_bias
        return F.softmax(scores, axis=-1)

    def _attend_by_query_blocks(self, q: Tensor, k: Tensor, v: Tensor, attn_bias: Optional[Tensor]) -> Tensor:
        blocks = []
        for start in range(0, q.shape[2], self.QUERY_BLOCK):
            end = start + self.QUERY_BLOCK
            bias = attn_bias
            if bias is not None and bias.shape[2] != 1:  # a per-query mask: its rows for this block
                bias = bias[:, :, start:end]
            blocks.append(paddle.matmul(self._attention_probs(q[:, :, start:end], k, bias), v))  # (B, H, block, D)
        return paddle.concat(blocks, axis=2)


class RoFormerLayer(nn.Layer):
    """Post-LayerNorm transformer layer: attention, add & norm, feed-forward, add & norm."""

    def __init__(self, config: RoFormerConfig):
        super().__init__()
        self.self_attn = RoFormerSelfAttention(
            config.hidden_size, config.num_attention_heads, config.attention_probs_dropout_prob, config.rotary_value
        )
        self.dropout1 = nn.Dropout(config.hidden_dropout_prob)
        self.norm1 = nn.LayerNorm(config.hidden_size, epsilon=config.layer_norm_eps)
        self.linear1 = nn.Linear(config.hidden_size, config.intermediate_size)
        self.activation = get_activation(config.hidden_act)
        self.linear2 = nn.Linear(config.intermediate_size, config.hidden_size)
        self.dropout2 = nn.Dropout(config.hidden_dropout_prob)
        self.norm2 = nn.LayerNorm(config.hidden_size, epsilon=config.layer_norm_eps)

    def forward(self, hidden_states, attn_bias, rotary, past_key_value=None, use_cache=False, output_attentions=False):
        attn_out, present, probs = self.self_attn(
            hidden_states, attn_bias, rotary, past_key_value, use_cache, output_attentions
        )
        hidden_states = self.norm1(hidden_states + self.dropout1(attn_out))
        ffn_out = self.linear2(self.activation(self.linear1(hidden_states)))
        hidden_states = self.norm2(hidden_states + self.dropout2(ffn_out))
        return hidden_states, present, probs


class RoFormerEncoder(nn.Layer):
    def __init__(self, config: RoFormerConfig):
        super().__init__()
        self.layers = nn.LayerList([RoFormerLayer(config) for _ in range(config.num_hidden_layers)])
        self.rotary = RotaryEmbedding(config.head_dim)
        self.num_heads, self.head_dim = config.num_attention_heads, config.head_dim

    def forward(
        self,
        hidden_states: Tensor,
        attn_bias: Optional[Tensor],
        past_key_values: Optional[List[KVCache]] = None,
        past_length=0,
        use_cache: bool = False,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
        position_ids: Optional[Tensor] = None,
    ):
        # One sin/cos for all layers; new tokens continue after the cached ones unless positions are given.
        if position_ids is not None:
            rotary = self.rotary.at(position_ids, dtype=hidden_states.dtype)  # (B, 1, T, D)
        else:
            seq_len = hidden_states.shape[1] if paddle.in_dynamic_mode() else paddle.shape(hidden_states)[1]
            rotary = self.rotary(seq_len, offset=past_length, dtype=hidden_states.dtype)  # (T, D)
        if paddle.in_dynamic_mode():
            rotary, attn_bias = self._expand_once(hidden_states, rotary, attn_bias)
        presents = [] if use_cache else None
        all_hidden = [hidden_states] if output_hidden_states else None
        all_attn = [] if output_attentions else None
        for i, layer in enumerate(self.layers):
            past = past_key_values[i] if past_key_values is not None else None
            hidden_states, present, probs = layer(hidden_states, attn_bias, rotary, past, use_cache, output_attentions)
            if use_cache:
                presents.append(present)
            if output_hidden_states:
                all_hidden.append(hidden_states)
            if output_attentions:
                all_attn.append(probs)
        return (
            hidden_states,
            tuple(presents) if use_cache else None,
            tuple(all_hidden) if output_hidden_states else None,
            tuple(all_attn) if output_attentions else None,
        )

    # Paddle's CPU kernels for same-shape elementwise ops (and their gradients) are several times
    # faster than its broadcasting ones, so the rotary tables and the mask are expanded to the
    # shapes they meet once per forward, for all layers, rather than broadcast in every layer.
    EXPAND_BIAS_LIMIT = 1 << 24  # elements: above this (long inputs) the mask stays broadcast to save memory

    def _expand_once(self, hidden_states, rotary, attn_bias):
        batch_size, seq_len = hidden_states.shape[:2]
        heads_shape = [batch_size, self.num_heads, seq_len, self.head_dim]  # (B, H, T, D)
        rotary = tuple(table.expand(heads_shape) for table in rotary)
        if attn_bias is not None:
            scores_shape = [batch_size, self.num_heads, seq_len, attn_bias.shape[-1]]  # (B, H, T, S)
            if math.prod(scores_shape) <= self.EXPAND_BIAS_LIMIT:
                attn_bias = attn_bias.expand(scores_shape)
        return rotary, attn_bias


class RoFormerPooler(nn.Layer):
    """Dense + activation on the first token ([CLS])."""

    def __init__(self, hidden_size: int, pool_act: str):
        super().__init__()
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.activation = get_activation(pool_act)

    def forward(self, hidden_states: Tensor) -> Tensor:
        return self.activation(self.dense(hidden_states[:, 0]))


# ---------------------------------------------------------------------------- inputs


def _tensor_types() -> tuple:
    """Tensor classes: eager Tensors, and the symbolic values seen while tracing for export."""
    types = [Tensor]
    for module, name in ((getattr(paddle, "pir", None), "Value"), (paddle.static, "Variable")):
        if module is not None and hasattr(module, name):
            types.append(getattr(module, name))
    return tuple(types)


TENSOR_TYPES = _tensor_types()


def _is_int(dtype) -> bool:
    return dtype in (paddle.int64, paddle.int32, paddle.int16, paddle.int8, paddle.uint8)


def _static_dims(tensor: Tensor) -> List[int]:
    return list(tensor.shape)


def _same_dims(actual: List[int], expected: List[int]) -> bool:
    """Equal shapes, where a size unknown while tracing for export (-1, None, a tensor) matches anything."""

    def known(size) -> bool:
        return isinstance(size, int) and size >= 0

    return len(actual) == len(expected) and all(
        not (known(a) and known(e)) or a == e for a, e in zip(actual, expected)
    )


@paddle.jit.not_to_static  # plain Python even while tracing: shapes are then lists with -1
def check_inputs(config: RoFormerConfig, input_ids, token_type_ids, inputs_embeds) -> None:
    """Raise a clear Python error for inputs that would otherwise fail deep inside a kernel."""
    if input_ids is None and inputs_embeds is None:
        raise ValueError("Pass either input_ids or inputs_embeds")
    if input_ids is not None and inputs_embeds is not None:
        raise ValueError("Pass input_ids or inputs_embeds, not both")
    if input_ids is not None:
        if not isinstance(input_ids, TENSOR_TYPES):
            raise TypeError(f"input_ids must be a paddle.Tensor, got {type(input_ids).__name__}")
        if input_ids.ndim != 2:
            raise ValueError(f"input_ids must have shape [batch_size, seq_len] (rank 2), got shape {list(input_ids.shape)}")
        if not _is_int(input_ids.dtype):
            raise TypeError(f"input_ids must be an integer tensor (int64 or int32), got {input_ids.dtype}")
        _check_range("input_ids", input_ids, config.vocab_size, "vocab_size")
        shape = _static_dims(input_ids)
    else:
        if not isinstance(inputs_embeds, TENSOR_TYPES):
            raise TypeError(f"inputs_embeds must be a paddle.Tensor, got {type(inputs_embeds).__name__}")
        if inputs_embeds.ndim != 3 or inputs_embeds.shape[-1] not in (config.embedding_size, -1):
            raise ValueError(
                f"inputs_embeds must have shape [batch_size, seq_len, embedding_size={config.embedding_size}], "
                f"got {list(inputs_embeds.shape)}"
            )
        if _is_int(inputs_embeds.dtype) or inputs_embeds.dtype == paddle.bool:
            raise TypeError(f"inputs_embeds must be a floating-point tensor, got {inputs_embeds.dtype}")
        shape = _static_dims(inputs_embeds)[:2]
    _check_not_empty("input_ids" if input_ids is not None else "inputs_embeds", shape)
    if token_type_ids is not None:
        if not isinstance(token_type_ids, TENSOR_TYPES):
            raise TypeError(f"token_type_ids must be a paddle.Tensor, got {type(token_type_ids).__name__}")
        if not _is_int(token_type_ids.dtype):
            raise TypeError(f"token_type_ids must be an integer tensor, got {token_type_ids.dtype}")
        if not _same_dims(_static_dims(token_type_ids), shape):
            raise ValueError(f"token_type_ids must have the shape of the input {shape}, got {list(token_type_ids.shape)}")
        _check_range("token_type_ids", token_type_ids, config.type_vocab_size, "type_vocab_size")


def _check_position_ids(position_ids, shape: List[int]) -> None:
    if not isinstance(position_ids, TENSOR_TYPES):
        raise TypeError(f"position_ids must be a paddle.Tensor, got {type(position_ids).__name__}")
    if not _is_int(position_ids.dtype):
        raise TypeError(f"position_ids must be an integer tensor, got {position_ids.dtype}")
    if not _same_dims(_static_dims(position_ids), shape):
        raise ValueError(f"position_ids must have the shape of the input {shape}, got {list(position_ids.shape)}")


def _check_not_empty(name: str, shape: List[int]) -> None:
    # A size of 0 fails deep inside the kernels (or yields NaN from an all-masked softmax).
    for axis, size in zip(("batch_size", "seq_len"), shape):
        if isinstance(size, int) and size == 0:
            raise ValueError(f"{name} has {axis} 0 (shape {shape}): pass at least one sequence of at least one token")


# Which inputs get their id values checked against vocab_size / type_vocab_size:
#   "cpu"    (default) tensors in host memory: a cheap min / max, no device sync;
#   "always" also tensors on a GPU, where reading min / max waits for the device every call;
#   "never"  no value check (shapes and dtypes are still checked).
# An out-of-range id on a GPU otherwise fails inside the embedding kernel, far less clearly.
CHECK_INPUT_VALUES = "cpu"


def _check_range(name: str, ids: Tensor, bound: int, bound_name: str) -> None:
    # No values while tracing for export, so nothing to check then.
    if CHECK_INPUT_VALUES not in ("cpu", "always", "never"):
        raise ValueError(f'modeling.CHECK_INPUT_VALUES must be "cpu", "always" or "never", got {CHECK_INPUT_VALUES!r}')
    if not paddle.in_dynamic_mode() or ids.size == 0 or CHECK_INPUT_VALUES == "never":
        return
    if CHECK_INPUT_VALUES == "cpu" and not ids.place.is_cpu_place():
        return
    low, high = int(ids.min()), int(ids.max())
    if low < 0 or high >= bound:
        bad = high if high >= bound else low
        raise ValueError(f"{name} contains {bad}, outside [0, {bound_name}={bound}); check the tokenizer and config")


@paddle.jit.not_to_static
def _check_mask_shape(attention_mask, batch_size, num_heads, q_len, past_length) -> None:
    k_len = q_len + past_length if isinstance(q_len, int) and isinstance(past_length, int) else -1
    dims = _static_dims(attention_mask)
    ndim = len(dims)
    # allowed sizes per axis; 1 broadcasts (a mask shared by the batch, the heads or the queries)
    allowed = {
        2: [(batch_size,), (k_len,)],
        3: [(batch_size, 1), (q_len, 1), (k_len,)],
        4: [(batch_size, 1), (num_heads, 1), (q_len, 1), (k_len,)],
    }.get(ndim)
    if allowed is None or not all(any(_same_dims([d], [c]) for c in choices) for d, choices in zip(dims, allowed)):
        raise ValueError(
            "attention_mask must have shape [batch_size, seq_len], [batch_size, q_len, seq_len] or "
            f"[batch_size, 1 or num_heads, q_len, seq_len] with batch_size={batch_size}, num_heads={num_heads}, "
            f"q_len={q_len}, seq_len={k_len} (cached + new tokens); got {list(attention_mask.shape)}"
        )


def build_attention_bias(
    attention_mask: Optional[Tensor],
    input_ids: Optional[Tensor],
    pad_token_id: int,
    batch_size: int,
    q_len: int,
    past_length: int,
    dtype,
    num_heads: int = -1,
) -> Optional[Tensor]:
    """Turn any accepted mask into an additive bias broadcastable to (B, H, T, S).

    - None: mask the positions where input_ids == pad_token_id (PaddleNLP's default); with only
      inputs_embeds there is nothing to infer, so every position attends.
    - [B, S] (any dtype): 1/True = attend, 0/False = padding.
    - [B, T, S] or [B, 1|H, T, S]: bool or integer means 1 = attend; float is already additive
      (0 = attend, large negative = masked), e.g. a causal or UniLM mask.
    """
    if attention_mask is None:
        if input_ids is None:
            return None
        bias = (input_ids == pad_token_id).astype(dtype) * MASK_VALUE  # (B, T)
        bias = bias.unsqueeze([1, 2])  # (B, 1, 1, T)
        if past_length:
            bias = paddle.concat([paddle.zeros([batch_size, 1, 1, past_length], dtype=dtype), bias], axis=-1)
        return bias

    if not isinstance(attention_mask, TENSOR_TYPES):
        raise TypeError(f"attention_mask must be a paddle.Tensor, got {type(attention_mask).__name__}")
    _check_mask_shape(attention_mask, batch_size, num_heads, q_len, past_length)
    ndim = attention_mask.ndim
    if ndim == 2 or attention_mask.dtype == paddle.bool or _is_int(attention_mask.dtype):
        bias = (1.0 - attention_mask.astype(dtype)) * MASK_VALUE
    else:
        bias = attention_mask.astype(dtype)
    if ndim == 2:
        return bias.unsqueeze([1, 2])
    if ndim == 3:
        return bias.unsqueeze(1)
    return bias


def causal_bias(q_len, past_length, dtype) -> Tensor:
    """(1, 1, T, S) additive mask: query t (at position past + t) sees keys 0 .. past + t."""
    keys = paddle.arange(0, past_length + q_len, dtype="int64").unsqueeze(0)  # (1, S)
    queries = paddle.arange(past_length, past_length + q_len, dtype="int64").unsqueeze(1)  # (T, 1)
    return ((keys > queries).astype(dtype) * MASK_VALUE).unsqueeze([0, 1])


# ---------------------------------------------------------------------------- model


class RoFormerModel(RoFormerPretrainedModel):
    """The bare RoFormer encoder, returning (sequence_output, pooled_output, ...)."""

    def __init__(self, config: RoFormerConfig, **overrides):
        super().__init__(config, **overrides)
        config = self.config
        self.pad_token_id = config.pad_token_id
        if config.embedding_size != config.hidden_size:
            self.embeddings_project = nn.Linear(config.embedding_size, config.hidden_size)  # (E -> C)
        else:
            self.embeddings_project = None
        self.embeddings = RoFormerEmbeddings(config)
        self.encoder = RoFormerEncoder(config)
        self.pooler = RoFormerPooler(config.hidden_size, config.pool_act)
        self.init_weights()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings.word_embeddings

    def encode(self, texts, tokenizer=None, **options):
        """Sentence embeddings of ``texts`` as a numpy array (n, hidden); see ``paddle_roformer.sentence.encode``."""
        from .sentence import encode

        return encode(self, texts, tokenizer=tokenizer, **options)

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embeddings.word_embeddings = value

    def forward(
        self,
        input_ids: Optional[Tensor] = None,
        token_type_ids: Optional[Tensor] = None,
        attention_mask: Optional[Tensor] = None,
        inputs_embeds: Optional[Tensor] = None,
        past_key_values: Optional[List[KVCache]] = None,
        use_cache: Optional[bool] = None,
        output_hidden_states: Optional[bool] = None,
        output_attentions: Optional[bool] = None,
        return_dict: Optional[bool] = None,
        position_ids: Optional[Tensor] = None,
    ):
        """``position_ids`` (B, T), optional, sets each token's rotary position (by default the
        cached length + 0, 1, ...); generation uses it to continue right-padded prompts exactly."""
        config = self.config
        use_cache = config.use_cache if use_cache is None else use_cache
        output_hidden_states = config.output_hidden_states if output_hidden_states is None else output_hidden_states
        output_attentions = config.output_attentions if output_attentions is None else output_attentions
        return_dict = config.return_dict if return_dict is None else return_dict

        check_inputs(config, input_ids, token_type_ids, inputs_embeds)
        past_length = 0
        if past_key_values is not None:
            if len(past_key_values) != config.num_hidden_layers:
                raise ValueError(
                    f"past_key_values must hold one (key, value) pair per layer "
                    f"({config.num_hidden_layers}), got {len(past_key_values)}"
                )
            past_length = past_key_values[0][0].shape[2]

        embedding_output = self.embeddings(input_ids, token_type_ids, inputs_embeds)  # (B, T, E)
        if position_ids is not None:
            _check_position_ids(position_ids, _static_dims(embedding_output)[:2])
        if self.embeddings_project is not None:
            embedding_output = self.embeddings_project(embedding_output)  # (B, T, C)
        batch_size, q_len = embedding_output.shape[0], embedding_output.shape[1]
        attn_bias = build_attention_bias(
            attention_mask, input_ids, self.pad_token_id, batch_size, q_len, past_length, embedding_output.dtype,
            config.num_attention_heads,
        )
        if config.is_decoder:  # each token attends to the cached ones and to those before it
            causal = causal_bias(q_len, past_length, embedding_output.dtype)
            attn_bias = causal if attn_bias is None else attn_bias + causal
        sequence_output, presents, hidden_states, attentions = self.encoder(
            embedding_output,
            attn_bias,
            past_key_values=past_key_values,
            past_length=past_length,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            position_ids=position_ids,
        )
        pooled_output = self.pooler(sequence_output)
        if return_dict:
            return BaseModelOutputWithPooling(
                last_hidden_state=sequence_output,
                pooler_output=pooled_output,
                past_key_values=presents,
                hidden_states=hidden_states,
                attentions=attentions,
            )
        return as_tuple((sequence_output, pooled_output, presents, hidden_states, attentions))
