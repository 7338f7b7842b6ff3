"""The model traces with paddle.jit.to_static (dynamic batch and length) and reloads for inference."""
import numpy as np
import paddle
import pytest

import paddle_roformer as pr
from _helpers import padded_batch, tiny_config


@pytest.mark.parametrize("cls", [pr.RoFormerModel, pr.RoFormerForSequenceClassification])
def test_to_static_export_round_trip(cls, tmp_path):
    config = tiny_config(rotary_value=True)
    model = cls(config)
    model.eval()
    spec = [paddle.static.InputSpec([None, None], "int64", name) for name in
            ("input_ids", "token_type_ids", "attention_mask")]
    static = paddle.jit.to_static(model, input_spec=spec, full_graph=True)
    paddle.jit.save(static, str(tmp_path / "inference"))
    loaded = paddle.jit.load(str(tmp_path / "inference"))
    for batch, seq_len in ((3, 11), (1, 130)):  # 130 > max_position_embeddings
        ids, types, mask = (paddle.to_tensor(a) for a in padded_batch(config.vocab_size, 2, batch, seq_len))
        with paddle.no_grad():
            eager = model(ids, types, mask)
            exported = loaded(ids, types, mask)
        eager = eager if isinstance(eager, tuple) else (eager,)
        exported = exported if isinstance(exported, (tuple, list)) else (exported,)
        for a, b in zip(eager, exported):
            np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)
