"""Helpers shared by the tests: the tiny config, padded batches, HF reference models, weight transfer."""
import numpy as np
import paddle


def tiny_config(**overrides):
    """A small odd config: embedding_size != hidden_size, 3 layers, 4 heads of size 8."""
    from paddle_roformer import RoFormerConfig

    values = dict(
        vocab_size=97,
        embedding_size=24,
        hidden_size=32,
        num_hidden_layers=3,
        num_attention_heads=4,
        intermediate_size=40,
        max_position_embeddings=64,
        type_vocab_size=3,
        num_labels=5,
    )
    values.update(overrides)
    return RoFormerConfig(**values)


def padded_batch(vocab_size, type_vocab_size=2, batch=3, seq_len=11, pad_id=0, seed=0):
    """Random ids with decreasing lengths; padding uses pad_id and mask 0."""
    rng = np.random.RandomState(seed)
    ids = rng.randint(1, vocab_size, size=(batch, seq_len)).astype("int64")
    ids[ids == pad_id] = 1
    mask = np.ones((batch, seq_len), dtype="int64")
    for b in range(1, batch):
        mask[b, seq_len - 2 * b - 1 :] = 0
    ids[mask == 0] = pad_id
    types = np.zeros((batch, seq_len), dtype="int64")
    types[:, seq_len // 2 :] = min(1, type_vocab_size - 1)
    return ids, types, mask


def batch_for(config, architecture, seed=0):
    """padded_batch shaped for the class: [2, 2 choices, seq] for multiple choice, else [3, seq]."""
    if architecture == "RoFormerForMultipleChoice":
        arrays = padded_batch(config.vocab_size, config.type_vocab_size, batch=4, seed=seed)
        return tuple(a.reshape(2, 2, -1) for a in arrays)
    return padded_batch(config.vocab_size, config.type_vocab_size, batch=3, seed=seed)


def causal_mask(mask):
    """[B, S] padding mask -> [B, 1, S, S] keep-mask that is also lower triangular."""
    seq = mask.shape[1]
    tri = np.tril(np.ones((seq, seq), dtype="int64"))
    return (tri[None, None] * mask[:, None, None, :]).astype("int64")


def hf_config(config, **extra):
    import transformers

    return transformers.RoFormerConfig(
        vocab_size=config.vocab_size,
        embedding_size=config.embedding_size,
        hidden_size=config.hidden_size,
        num_hidden_layers=config.num_hidden_layers,
        num_attention_heads=config.num_attention_heads,
        intermediate_size=config.intermediate_size,
        hidden_act=config.hidden_act,
        hidden_dropout_prob=config.hidden_dropout_prob,
        attention_probs_dropout_prob=config.attention_probs_dropout_prob,
        max_position_embeddings=config.max_position_embeddings,
        type_vocab_size=config.type_vocab_size,
        initializer_range=config.initializer_range,
        layer_norm_eps=config.layer_norm_eps,
        pad_token_id=config.pad_token_id,
        rotary_value=config.rotary_value,
        num_labels=config.num_labels,
        **extra,
    )


def random_hf_model(hf_cls, config, seed=0, **extra):
    """An HF model whose every parameter (biases and LayerNorms too) is random, in eval mode."""
    import torch

    torch.manual_seed(seed)
    model = hf_cls(hf_config(config, **extra)).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "embed_positions" in name:
                continue
            if "LayerNorm.weight" in name:
                param.copy_(1.0 + 0.1 * torch.randn_like(param))
            else:
                param.copy_(0.05 * torch.randn_like(param))
    return model


def transfer_from_hf(hf_model, our_model, architecture):
    """Copy an HF model's weights into ours through the converter's mapping; pooler keeps its init."""
    from paddle_roformer.convert import hf_to_paddle_state_dict

    hf_state = {k: v.detach().cpu().numpy() for k, v in hf_model.state_dict().items()}
    mapped = hf_to_paddle_state_dict(hf_state, our_model, architecture)
    state = {k: v.numpy() for k, v in our_model.state_dict().items()}
    state.update(mapped)
    our_model.load_pretrained_state_dict(state)
    our_model.eval()
    return our_model


def max_diff(ours, theirs):
    a = ours.numpy() if isinstance(ours, paddle.Tensor) else np.asarray(ours)
    b = theirs.detach().cpu().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.abs(a - b).max())
