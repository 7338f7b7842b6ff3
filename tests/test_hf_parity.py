"""Numerics against Hugging Face transformers' RoFormer (torch, fp32): max abs diff <= 1e-4."""
import numpy as np
import paddle
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import paddle_roformer as pr
from paddle_roformer.heads import MODEL_CLASSES
from _helpers import batch_for, causal_mask, max_diff, padded_batch, random_hf_model, tiny_config, transfer_from_hf

TOL = 1e-4

TINY_CONFIGS = {
    "projected_embeddings": dict(),
    "projected_rotary_value": dict(rotary_value=True),
    "square_rotary_value": dict(embedding_size=32, rotary_value=True, hidden_act="relu"),
    "one_head_linear_pool": dict(num_attention_heads=1, pool_act="linear", hidden_size=16, embedding_size=16),
}


def _inputs(config, seq_len=11):
    ids, types, mask = padded_batch(config.vocab_size, config.type_vocab_size, seq_len=seq_len)
    hf = dict(input_ids=torch.tensor(ids), token_type_ids=torch.tensor(types), attention_mask=torch.tensor(mask))
    pd = dict(input_ids=paddle.to_tensor(ids), token_type_ids=paddle.to_tensor(types),
              attention_mask=paddle.to_tensor(mask))
    return hf, pd, mask


def _pair(architecture, config, **hf_extra):
    """A random HF model of ``architecture`` and ours with the same weights."""
    hf_model = random_hf_model(getattr(transformers, architecture), config, **hf_extra)
    return hf_model, transfer_from_hf(hf_model, MODEL_CLASSES[architecture](config), architecture)


def _compare_backbone_and_mlm(config, seq_len=11):
    hf_model, ours = _pair("RoFormerForMaskedLM", config)
    hf_in, pd_in, _ = _inputs(config, seq_len)
    with torch.no_grad():
        ref = hf_model(**hf_in, output_hidden_states=True)
    with paddle.no_grad():
        out = ours(**pd_in, output_hidden_states=True, return_dict=True)
    assert len(out.hidden_states) == len(ref.hidden_states) == config.num_hidden_layers + 1
    for mine, theirs in zip(out.hidden_states, ref.hidden_states):
        assert max_diff(mine, theirs) <= TOL
    assert max_diff(out.logits, ref.logits) <= TOL


@pytest.mark.parametrize("name", pr.list_pretrained())
def test_full_size_architectures_match_hf(name):
    """Every registered architecture at full size: all hidden states and the MLM logits."""
    config = pr.RoFormerConfig.from_pretrained(name)
    _compare_backbone_and_mlm(config, seq_len=13)


@pytest.mark.parametrize("variant", sorted(TINY_CONFIGS))
def test_tiny_configs_match_hf(variant):
    _compare_backbone_and_mlm(tiny_config(**TINY_CONFIGS[variant]))


@pytest.mark.parametrize("variant", sorted(TINY_CONFIGS))
def test_bare_model_matches_hf(variant):
    config = tiny_config(**TINY_CONFIGS[variant])
    hf_model, ours = _pair("RoFormerModel", config)
    hf_in, pd_in, _ = _inputs(config)
    with torch.no_grad():
        ref = hf_model(**hf_in, output_attentions=True)
    with paddle.no_grad():
        out = ours(**pd_in, output_attentions=True, return_dict=True)
    assert max_diff(out.last_hidden_state, ref.last_hidden_state) <= TOL
    for mine, theirs in zip(out.attentions, ref.attentions):
        assert max_diff(mine, theirs) <= TOL


@pytest.mark.parametrize("variant", sorted(TINY_CONFIGS))
def test_token_classification_matches_hf(variant):
    config = tiny_config(**TINY_CONFIGS[variant])
    hf_model, ours = _pair("RoFormerForTokenClassification", config)
    hf_in, pd_in, _ = _inputs(config)
    labels = np.random.RandomState(3).randint(0, config.num_labels, size=hf_in["input_ids"].shape)
    labels[:, 0] = labels[0, 5:] = -100  # ignored labels ([CLS], sub-words): the mean is over the others
    with torch.no_grad():
        ref = hf_model(**hf_in, labels=torch.tensor(labels))
    with paddle.no_grad():
        loss, logits = ours(**pd_in, labels=paddle.to_tensor(labels))
    assert max_diff(logits, ref.logits) <= TOL
    assert abs(float(loss) - float(ref.loss)) <= TOL


@pytest.mark.parametrize("masked", [1, 4, 20])
def test_masked_lm_loss_over_the_masked_tokens_matches_hf(masked):
    """-100 labels take no part: the loss is the mean over the masked tokens, however few."""
    config = tiny_config()
    hf_model, ours = _pair("RoFormerForMaskedLM", config)
    hf_in, pd_in, _ = _inputs(config)
    ids = hf_in["input_ids"].numpy()
    labels = np.full_like(ids, -100)
    positions = np.random.RandomState(masked).permutation(ids.size)[:masked]
    labels.flat[positions] = ids.flat[positions]
    with torch.no_grad():
        ref = hf_model(**hf_in, labels=torch.tensor(labels))
    with paddle.no_grad():
        out = ours(**pd_in, labels=paddle.to_tensor(labels), return_dict=True)
    assert abs(float(out.loss) - float(ref.loss)) <= TOL


@pytest.mark.parametrize("variant", sorted(TINY_CONFIGS))
def test_question_answering_matches_hf(variant):
    config = tiny_config(**TINY_CONFIGS[variant])
    hf_model, ours = _pair("RoFormerForQuestionAnswering", config)
    hf_in, pd_in, _ = _inputs(config)
    start, end = np.array([1, 2, 40]), np.array([3, 4, 5])  # 40 is outside the sequence: ignored
    with torch.no_grad():
        ref = hf_model(**hf_in, start_positions=torch.tensor(start), end_positions=torch.tensor(end))
    with paddle.no_grad():
        loss, start_logits, end_logits = ours(
            **pd_in, start_positions=paddle.to_tensor(start), end_positions=paddle.to_tensor(end)
        )
    assert max_diff(start_logits, ref.start_logits) <= TOL
    assert max_diff(end_logits, ref.end_logits) <= TOL
    assert abs(float(loss) - float(ref.loss)) <= TOL


@pytest.mark.parametrize("variant", sorted(TINY_CONFIGS))
def test_causal_lm_matches_hf_decoder(variant):
    """HF's decoder adds a causal mask itself; ours takes it as a 4-D attention_mask (PaddleNLP's contract)."""
    config = tiny_config(**TINY_CONFIGS[variant])
    hf_model, ours = _pair("RoFormerForCausalLM", config, is_decoder=True)
    hf_in, pd_in, mask = _inputs(config)
    labels = hf_in["input_ids"].numpy()
    with torch.no_grad():
        ref = hf_model(**hf_in, labels=torch.tensor(labels))
    pd_in["attention_mask"] = paddle.to_tensor(causal_mask(mask))
    with paddle.no_grad():
        out = ours(**pd_in, labels=paddle.to_tensor(labels), return_dict=True)
    assert max_diff(out.logits, ref.logits) <= TOL
    assert abs(float(out.loss) - float(ref.loss)) <= TOL


def _decoder_reference(config, seed, seq_len):
    """Ours and an HF decoder with the same weights, unpadded ids [2, seq_len], and HF's logits."""
    hf_model, ours = _pair("RoFormerForCausalLM", config, is_decoder=True)
    ids = np.random.RandomState(seed).randint(1, config.vocab_size, size=(2, seq_len)).astype("int64")
    with torch.no_grad():
        ref = hf_model(torch.tensor(ids)).logits
    return ours, ids, ref


def test_kv_cache_decoding_matches_hf():
    """Incremental decoding with past_key_values: rotary positions continue after the cache."""
    config = tiny_config(rotary_value=True)
    ours, ids, ref = _decoder_reference(config, seed=5, seq_len=9)
    ones = np.ones_like(ids)
    with paddle.no_grad():
        first = ours(paddle.to_tensor(ids[:, :6]), attention_mask=paddle.to_tensor(causal_mask(ones[:, :6])),
                     use_cache=True, return_dict=True)
        past, steps = first.past_key_values, [first.logits]
        for t in range(6, 9):
            step = ours(paddle.to_tensor(ids[:, t : t + 1]), attention_mask=paddle.to_tensor(ones[:, : t + 1]),
                        past_key_values=past, use_cache=True, return_dict=True)
            past = step.past_key_values
            steps.append(step.logits)
    assert past[0][0].shape == [2, config.num_attention_heads, 9, config.head_dim]
    assert max_diff(paddle.concat(steps, axis=1), ref) <= TOL


@pytest.mark.parametrize("variant", sorted(TINY_CONFIGS))
@pytest.mark.parametrize("architecture", ["RoFormerForSequenceClassification", "RoFormerForMultipleChoice"])
def test_hf_style_heads_match_hf(architecture, variant):
    """head_type="huggingface" reproduces transformers' classification and multiple-choice heads."""
    config = tiny_config(head_type="huggingface", **TINY_CONFIGS[variant])
    hf_model, ours = _pair(architecture, config)
    ids, types, mask = batch_for(config, architecture)
    labels = np.array([1, 0]) if architecture == "RoFormerForMultipleChoice" else np.array([1, 0, 4])
    with torch.no_grad():
        ref = hf_model(input_ids=torch.tensor(ids), token_type_ids=torch.tensor(types),
                       attention_mask=torch.tensor(mask), labels=torch.tensor(labels))
    with paddle.no_grad():
        loss, logits = ours(paddle.to_tensor(ids), paddle.to_tensor(types), paddle.to_tensor(mask),
                            labels=paddle.to_tensor(labels))
    assert max_diff(logits, ref.logits) <= TOL
    assert abs(float(loss) - float(ref.loss)) <= TOL


def test_decoder_config_adds_the_causal_mask_itself():
    """config.is_decoder (set by converted HF decoders): causal without an explicit mask, cache too."""
    config = tiny_config(is_decoder=True)
    ours, ids, ref = _decoder_reference(config, seed=9, seq_len=8)
    with paddle.no_grad():
        full = ours(paddle.to_tensor(ids), attention_mask=paddle.ones([2, 8], dtype="int64"))
        first = ours(paddle.to_tensor(ids[:, :5]), attention_mask=paddle.ones([2, 5], dtype="int64"),
                     use_cache=True, return_dict=True)
        rest = ours(paddle.to_tensor(ids[:, 5:]), attention_mask=paddle.ones([2, 8], dtype="int64"),
                    past_key_values=first.past_key_values, use_cache=True, return_dict=True)
    assert max_diff(full, ref) <= TOL
    assert max_diff(paddle.concat([first.logits, rest.logits], axis=1), ref) <= TOL
