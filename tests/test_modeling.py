"""Backbone behaviour: rotary math, any-length positions, masks, inputs, errors, parameter counts."""
import math
import os

import numpy as np
import paddle
import pytest

import paddle_roformer as pr
from paddle_roformer.modeling import MASK_VALUE, RotaryEmbedding, apply_rotary, rotate_pairs
from _helpers import padded_batch, tiny_config


def _rotate_reference(x, positions, base=10000.0):
    """The RoFormer paper's rotation, written out pair by pair in float64."""
    out = np.empty_like(x, dtype="float64")
    dim = x.shape[-1]
    for t, p in enumerate(positions):
        for i in range(dim // 2):
            theta = p * base ** (-2.0 * i / dim)
            a, b = x[..., t, 2 * i], x[..., t, 2 * i + 1]
            out[..., t, 2 * i] = a * math.cos(theta) - b * math.sin(theta)
            out[..., t, 2 * i + 1] = a * math.sin(theta) + b * math.cos(theta)
    return out


# ---------------------------------------------------------------------------- rotary


def test_rotary_golden_values():
    sin, cos = RotaryEmbedding(head_dim=4)(3)
    assert sin.shape == [3, 4]
    # position 1: angles 1 and 1/100; position 2: angles 2 and 2/100; each pair's angle twice
    s1, s2 = [0.84147098, 0.00999983], [0.90929743, 0.01999867]
    c1, c2 = [0.54030231, 0.99995], [-0.41614684, 0.99980001]
    np.testing.assert_allclose(sin.numpy(), [[0, 0, 0, 0], np.repeat(s1, 2), np.repeat(s2, 2)], atol=1e-7)
    np.testing.assert_allclose(cos.numpy(), [[1, 1, 1, 1], np.repeat(c1, 2), np.repeat(c2, 2)], atol=1e-7)


def test_apply_rotary_rotates_interleaved_pairs():
    x = np.random.RandomState(0).randn(2, 3, 5, 8).astype("float32")
    sin, cos = RotaryEmbedding(8)(5, offset=7)
    got = apply_rotary(paddle.to_tensor(x), sin, cos).numpy()
    np.testing.assert_allclose(got, _rotate_reference(x, range(7, 12)), atol=1e-5)


def test_rotary_is_not_the_half_split_layout():
    x = np.random.RandomState(1).randn(1, 1, 6, 8).astype("float32")
    sin, cos = (t.numpy() for t in RotaryEmbedding(8)(6))
    ours = apply_rotary(paddle.to_tensor(x), paddle.to_tensor(sin), paddle.to_tensor(cos)).numpy()
    sin, cos = sin[:, 0::2], cos[:, 0::2]  # one angle per pair
    # GPT-NeoX / LLaMA: rotate (x[i], x[i + D/2]) instead of (x[2i], x[2i + 1])
    rotate_half = np.concatenate([-x[..., 4:], x[..., :4]], axis=-1)
    half_split = x * np.concatenate([cos, cos], -1) + rotate_half * np.concatenate([sin, sin], -1)
    assert np.abs(ours - half_split).max() > 0.1


def test_rotary_tables_are_cached_and_grow_on_demand():
    rot = RotaryEmbedding(8)
    sin, cos = rot(5, offset=3)
    first = rot._cache[("float32", paddle.get_device())][0]
    assert first.shape[0] >= 8 and first.stop_gradient
    rot(4, offset=1)  # inside the cached span: the same tables
    assert rot._cache[("float32", paddle.get_device())][0] is first
    long_sin, long_cos = rot(3000, offset=10)  # beyond it: recomputed, longer
    assert rot._cache[("float32", paddle.get_device())][0].shape[0] >= 3010
    fresh = RotaryEmbedding(8)._tables(paddle.arange(10, 3010, dtype="int64"), "float32")
    np.testing.assert_array_equal(long_sin.numpy(), fresh[0].numpy())
    np.testing.assert_array_equal(long_cos.numpy(), fresh[1].numpy())
    np.testing.assert_array_equal(sin.numpy(), rot(5, offset=3)[0].numpy())
    assert RotaryEmbedding(8).state_dict() == {}  # nothing of the cache is saved


def test_rotary_tables_per_dtype():
    rot = RotaryEmbedding(8)
    sin32, _ = rot(6, dtype="float32")
    sin64, _ = rot(6, dtype="float64")
    assert sin32.dtype == paddle.float32 and sin64.dtype == paddle.float64
    np.testing.assert_allclose(sin32.numpy(), sin64.numpy(), atol=1e-7)


def test_rotary_rejects_negative_positions():
    with pytest.raises(ValueError, match="offset >= 0"):
        RotaryEmbedding(8)(3, offset=-1)


def test_rotate_pairs_is_a_quarter_turn():
    x = paddle.to_tensor(np.arange(8, dtype="float32").reshape(1, 8))
    np.testing.assert_array_equal(rotate_pairs(x).numpy(), [[-1, 0, -3, 2, -5, 4, -7, 6]])


def test_rotation_preserves_norm_and_relative_position():
    """<R_m q, R_n k> depends only on m - n: the property rotary attention relies on."""
    rng = np.random.RandomState(2)
    q, k = rng.randn(1, 1, 1, 16).astype("float32"), rng.randn(1, 1, 1, 16).astype("float32")
    rot = RotaryEmbedding(16)

    def at(x, p):
        sin, cos = rot(1, offset=p)
        return apply_rotary(paddle.to_tensor(x), sin, cos).numpy().ravel()

    assert abs(np.linalg.norm(at(q, 37)) - np.linalg.norm(q)) < 1e-4
    assert abs(at(q, 10) @ at(k, 3) - at(q, 1010) @ at(k, 1003)) < 1e-3


@pytest.mark.parametrize("factor", [2, 4])
def test_sequences_longer_than_max_position_embeddings_run(factor):
    config = tiny_config(max_position_embeddings=16)
    model = pr.RoFormerModel(config)
    model.eval()
    seq_len = factor * config.max_position_embeddings
    ids = paddle.randint(1, config.vocab_size, [2, seq_len])
    with paddle.no_grad():
        sequence_output, pooled = model(ids)
    assert sequence_output.shape == [2, seq_len, config.hidden_size]
    assert np.isfinite(sequence_output.numpy()).all()
    # the angles used at the far positions are exactly the formula's
    sin, cos = RotaryEmbedding(config.head_dim)(seq_len)
    p = seq_len - 1
    expected = [math.sin(p * 10000 ** (-2 * i / config.head_dim)) for i in range(config.head_dim // 2)]
    np.testing.assert_allclose(sin.numpy()[-1, 0::2], expected, atol=1e-6)


def test_long_positions_are_accurate():
    """Angles are formed in float64: position 100000 is still exact to float32 precision."""
    sin, cos = RotaryEmbedding(64)(1, offset=100_000)
    expected = [math.cos(100_000 * 10000 ** (-2 * i / 64)) for i in range(32)]
    np.testing.assert_allclose(cos.numpy()[0, 0::2], expected, atol=1e-6)


# ---------------------------------------------------------------------------- masks and inputs


def _model(**overrides):
    model = pr.RoFormerModel(tiny_config(**overrides))
    model.eval()
    return model


def test_mask_forms_agree():
    model = _model()
    ids, types, mask = padded_batch(97, 3, seq_len=8)
    ids_t = paddle.to_tensor(ids)
    with paddle.no_grad():
        from_int = model(ids_t, attention_mask=paddle.to_tensor(mask))[0]
        from_bool = model(ids_t, attention_mask=paddle.to_tensor(mask.astype(bool)))[0]
        additive = (1.0 - mask[:, None, None, :].astype("float32")) * MASK_VALUE
        from_float = model(ids_t, attention_mask=paddle.to_tensor(additive))[0]
        from_3d = model(ids_t, attention_mask=paddle.to_tensor(np.repeat(mask[:, None, :], 8, axis=1)))[0]
        default = model(ids_t)[0]  # pad_token_id positions are masked when no mask is given
    for other in (from_bool, from_float, from_3d, default):
        np.testing.assert_allclose(other.numpy(), from_int.numpy(), atol=1e-6)


def test_padding_does_not_change_real_tokens():
    model = _model()
    ids = paddle.to_tensor([[5, 6, 7, 8]])
    padded = paddle.to_tensor([[5, 6, 7, 8, 0, 0, 0]])
    with paddle.no_grad():
        short = model(ids)[0].numpy()
        long = model(padded, attention_mask=paddle.to_tensor([[1, 1, 1, 1, 0, 0, 0]]))[0].numpy()
    np.testing.assert_allclose(long[:, :4], short, atol=1e-5)


def test_inputs_embeds_equals_input_ids():
    model = _model()
    ids = paddle.to_tensor([[5, 6, 7, 8, 9]])
    embeds = model.get_input_embeddings()(ids)
    with paddle.no_grad():
        a = model(input_ids=ids)[0]
        b = model(inputs_embeds=embeds)[0]  # no input_ids: nothing to infer padding from, all attend
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)


def test_output_layout_and_return_dict():
    model = _model()
    ids = paddle.to_tensor([[5, 6, 7]])
    with paddle.no_grad():
        plain = model(ids)
        full = model(ids, output_hidden_states=True, output_attentions=True)
        record = model(ids, output_hidden_states=True, return_dict=True)
    assert len(plain) == 2
    assert len(full) == 4 and len(full[2]) == 4 and len(full[3]) == 3
    assert full[3][0].shape == [1, 4, 3, 3]
    assert record.pooler_output.shape == [1, 32]
    np.testing.assert_allclose(record[0].numpy(), plain[0].numpy())
    np.testing.assert_allclose(record["hidden_states"][-1].numpy(), plain[0].numpy())


def test_int32_ids_work():
    model = _model()
    with paddle.no_grad():
        a = model(paddle.to_tensor([[5, 6, 7]], dtype="int32"))[0]
        b = model(paddle.to_tensor([[5, 6, 7]], dtype="int64"))[0]
    np.testing.assert_allclose(a.numpy(), b.numpy())


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(input_ids=[[1, 2]]), TypeError, "input_ids must be a paddle.Tensor"),
        (dict(input_ids=paddle.to_tensor([[1, 97]])), ValueError, r"input_ids contains 97, outside \[0, vocab_size=97\)"),
        (dict(input_ids=paddle.to_tensor([[1, -2]])), ValueError, "input_ids contains -2"),
        (dict(input_ids=paddle.to_tensor([1, 2, 3])), ValueError, r"input_ids must have shape \[batch_size, seq_len\]"),
        (dict(input_ids=paddle.to_tensor([[1.0, 2.0]])), TypeError, "input_ids must be an integer tensor"),
        (dict(input_ids=paddle.to_tensor([[1, 2]]), token_type_ids=paddle.to_tensor([[0, 3]])), ValueError,
         r"token_type_ids contains 3, outside \[0, type_vocab_size=3\)"),
        (dict(input_ids=paddle.to_tensor([[1, 2]]), token_type_ids=paddle.to_tensor([[0, 1, 1]])), ValueError,
         "token_type_ids must have the shape of the input"),
        (dict(input_ids=paddle.to_tensor([[1, 2]]), attention_mask=paddle.to_tensor([[1, 1, 1]])), ValueError,
         r"attention_mask must have shape .* got \[1, 3\]"),
        (dict(input_ids=paddle.to_tensor([[1, 2]]), attention_mask=paddle.ones([1, 1, 1, 2, 2])), ValueError,
         "attention_mask must have shape"),
        (dict(), ValueError, "Pass either input_ids or inputs_embeds"),
        (dict(input_ids=paddle.to_tensor([[1]]), inputs_embeds=paddle.ones([1, 1, 24])), ValueError, "not both"),
        (dict(inputs_embeds=paddle.ones([1, 2, 7])), ValueError, r"embedding_size=24"),
        (dict(inputs_embeds=paddle.ones([1, 2, 24], dtype="int64")), TypeError, "floating-point"),
    ],
)
def test_bad_inputs_raise_clear_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        _model()(**kwargs)


@pytest.mark.parametrize("kwargs, message", [
    (dict(input_ids=paddle.zeros([0, 4], dtype="int64")), r"input_ids has batch_size 0 \(shape \[0, 4\]\)"),
    (dict(input_ids=paddle.zeros([2, 0], dtype="int64")), r"input_ids has seq_len 0"),
    (dict(inputs_embeds=paddle.zeros([0, 3, 24])), r"inputs_embeds has batch_size 0"),
    (dict(inputs_embeds=paddle.zeros([1, 0, 24])), r"inputs_embeds has seq_len 0"),
])
def test_empty_batch_or_sequence_is_a_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _model()(**kwargs)


def test_wrong_number_of_cache_entries():
    model = _model()
    past = [(paddle.zeros([1, 4, 2, 8]), paddle.zeros([1, 4, 2, 8]))]
    with pytest.raises(ValueError, match=r"one \(key, value\) pair per layer \(3\), got 1"):
        model(paddle.to_tensor([[1]]), past_key_values=past)


def test_num_parameters_matches_published_sizes():
    published = {  # millions, from the RoFormer release notes
        "roformer-chinese-small": 30, "roformer-chinese-base": 124, "roformer-chinese-char-small": 15,
        "roformer-chinese-char-base": 95, "roformer-english-small-discriminator": 13,
        "roformer-english-small-generator": 5,
    }
    for name, millions in published.items():
        count = pr.RoFormerConfig.from_pretrained(name).num_parameters()
        assert abs(count / 1e6 - millions) / millions < 0.1, (name, count)


@pytest.mark.parametrize("overrides", [dict(), dict(embedding_size=32), dict(pool_act="linear")])
def test_num_parameters_counts_the_real_model(overrides):
    config = tiny_config(**overrides)
    model = pr.RoFormerModel(config)
    assert config.num_parameters() == sum(int(np.prod(p.shape)) for p in model.parameters())


def test_input_value_check_setting(monkeypatch):
    from paddle_roformer import modeling

    model, bad = _model(), paddle.to_tensor([[1, 97]])
    monkeypatch.setattr(modeling, "CHECK_INPUT_VALUES", "always")
    with pytest.raises(ValueError, match="input_ids contains 97"):
        model(bad)
    monkeypatch.setattr(modeling, "CHECK_INPUT_VALUES", "never")
    checked = []
    monkeypatch.setattr(paddle.Tensor, "min", lambda self, *a, **k: checked.append(1))
    model(paddle.to_tensor([[1, 2]]))  # no value read at all
    assert checked == []
    monkeypatch.setattr(modeling, "CHECK_INPUT_VALUES", "sometimes")
    with pytest.raises(ValueError, match='CHECK_INPUT_VALUES must be "cpu", "always" or "never"'):
        model(paddle.to_tensor([[1, 2]]))


@pytest.mark.parametrize("mask_kind", ["pad", "3d", "decoder"])
def test_attention_by_query_blocks_equals_full_attention(monkeypatch, mask_kind):
    """Long eval inputs attend QUERY_BLOCK queries at a time; the outputs are those of full attention."""
    from paddle_roformer.modeling import RoFormerSelfAttention

    config = tiny_config(is_decoder=mask_kind == "decoder")
    model = pr.RoFormerModel(config)
    model.eval()
    ids, types, mask = padded_batch(config.vocab_size, 3, 3, 13)
    inputs = dict(input_ids=paddle.to_tensor(ids), token_type_ids=paddle.to_tensor(types))
    if mask_kind == "3d":  # a per-query mask: each query sees keys up to itself and two beyond
        per_query = np.tril(np.ones((13, 13), "int64"), k=2)[None].repeat(3, 0) * mask[:, None, :]
        inputs["attention_mask"] = paddle.to_tensor(per_query)
    else:
        inputs["attention_mask"] = paddle.to_tensor(mask)
    blocks = []
    original = RoFormerSelfAttention._attend_by_query_blocks
    monkeypatch.setattr(RoFormerSelfAttention, "_attend_by_query_blocks",
                        lambda self, *a: blocks.append(1) or original(self, *a))
    with paddle.no_grad():
        monkeypatch.setattr(RoFormerSelfAttention, "BLOCKS_ABOVE", 10 ** 12)
        full = model(**inputs)[0].numpy()
        assert not blocks
        monkeypatch.setattr(RoFormerSelfAttention, "QUERY_BLOCK", 4)  # 13 queries: blocks of 4, 4, 4, 1
        monkeypatch.setattr(RoFormerSelfAttention, "BLOCKS_ABOVE", 1)
        by_blocks = model(**inputs)[0].numpy()
    assert len(blocks) == config.num_hidden_layers
    np.testing.assert_allclose(by_blocks, full, atol=1e-5)
    model.train()  # training keeps full attention (its backward needs every block's scores anyway)
    model(**inputs)
    assert len(blocks) == config.num_hidden_layers


_LONG_INPUT_SCRIPT = """
import json, sys
import numpy as np
import paddle
from paddle_roformer import RoFormerConfig, RoFormerModel

def vm(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ":")) / 1024

config = RoFormerConfig.from_pretrained("roformer-chinese-base", num_hidden_layers=2)
model = RoFormerModel(config)
model.eval()
ids = paddle.to_tensor(np.random.RandomState(0).randint(1, config.vocab_size, (1, 4096)))
with paddle.no_grad():
    model(ids[:, :8])
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak to the current resident size
    before = vm("VmRSS")
    out = model(ids)[0]
print(json.dumps({"run_mb": vm("VmHWM") - before, "finite": bool(np.isfinite(out.numpy()).all()),
                  "shape": list(out.shape)}))
"""


@pytest.mark.skipif(not os.access("/proc/self/clear_refs", os.W_OK), reason="needs Linux /proc peak-memory reset")
def test_long_input_of_4096_tokens_runs_in_memory_linear_in_length():
    """chinese-base width at 1 x 4096: full attention's scores alone would be 12 x 4096^2 floats (768 MiB)
    per layer; by query blocks the whole forward stays well under that."""
    import json
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _LONG_INPUT_SCRIPT], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["finite"] and result["shape"] == [1, 4096, 768]
    assert result["run_mb"] < 500, result
