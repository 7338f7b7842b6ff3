import os
import random

import numpy as np
import paddle
import pytest

os.environ.setdefault("PADDLE_ROFORMER_OFFLINE", "1")  # no test reaches the network by accident


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


@pytest.fixture(autouse=True)
def _seed():
    paddle.seed(1234)
    np.random.seed(1234)
    random.seed(1234)
    yield
