"""State-dict compatibility with PaddleNLP 2.8.1: checkpoints load both ways, outputs agree within 1e-5."""
import numpy as np
import paddle
import pytest

import paddle_roformer as pr
from paddle_roformer.heads import MODEL_CLASSES
from _helpers import padded_batch, tiny_config

paddlenlp_transformers = pytest.importorskip("paddlenlp.transformers")

TOL = 1e-5
HEADS = [name for name in sorted(MODEL_CLASSES) if hasattr(paddlenlp_transformers, name)]
OURS_ONLY = {"RoFormerForReplacedTokenDetection"}  # ELECTRA's discriminator: PaddleNLP has no RoFormer class for it


def test_every_class_but_ours_only_exists_in_paddlenlp():
    assert set(MODEL_CLASSES) - set(HEADS) == OURS_ONLY


def _config():
    return tiny_config(num_choices=2, rotary_value=True)


def _inputs(config, head):
    ids, types, mask = padded_batch(config.vocab_size, config.type_vocab_size, batch=4, seq_len=9)
    inputs = dict(input_ids=ids, token_type_ids=types, attention_mask=mask)
    flat = {k: paddle.to_tensor(v) for k, v in inputs.items()}
    if head == "RoFormerForMultipleChoice":  # ours takes [batch, choices, seq]; PaddleNLP needs them flattened
        ours = {k: paddle.to_tensor(v.reshape(2, 2, -1)) for k, v in inputs.items()}
        return ours, flat
    return flat, flat


def _outputs(result):
    items = result if isinstance(result, (tuple, list)) else (result,)
    return [x.numpy() for x in items]


def _assert_close(ours, theirs):
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape
        assert float(np.abs(a - b).max()) <= TOL


@pytest.mark.parametrize("head", HEADS)
def test_same_parameter_names_and_shapes(head):
    config = _config()
    ours = MODEL_CLASSES[head](config)
    theirs = getattr(paddlenlp_transformers, head)(paddlenlp_transformers.RoFormerConfig(**_pnlp_kwargs(config)))
    assert {k: list(v.shape) for k, v in ours.state_dict().items()} == {
        k: list(v.shape) for k, v in theirs.state_dict().items()
    }


def _pnlp_kwargs(config):
    values = config.to_dict()
    for key in ("architectures", "model_type", "is_decoder", "return_dict", "output_hidden_states",
                "output_attentions"):
        values.pop(key, None)
    return values


@pytest.mark.parametrize("head", HEADS)
def test_our_checkpoint_loads_in_paddlenlp(head, tmp_path):
    config = _config()
    ours = MODEL_CLASSES[head](config)
    ours.eval()
    ours.save_pretrained(tmp_path)
    theirs = getattr(paddlenlp_transformers, head).from_pretrained(str(tmp_path))
    theirs.eval()
    ours_in, pnlp_in = _inputs(config, head)
    with paddle.no_grad():
        _assert_close(_outputs(ours(**ours_in)), _outputs(theirs(**pnlp_in)))


@pytest.mark.parametrize("head", HEADS)
def test_paddlenlp_checkpoint_loads_in_ours(head, tmp_path):
    config = _config()
    paddle.seed(7)
    theirs = getattr(paddlenlp_transformers, head)(paddlenlp_transformers.RoFormerConfig(**_pnlp_kwargs(config)))
    theirs.eval()
    theirs.save_pretrained(str(tmp_path))
    ours = MODEL_CLASSES[head].from_pretrained(tmp_path)
    ours_in, pnlp_in = _inputs(config, head)
    with paddle.no_grad():
        _assert_close(_outputs(ours(**ours_in)), _outputs(theirs(**pnlp_in)))


def test_paddlenlp_hidden_states_and_attentions_tuple_layout(tmp_path):
    """With output_hidden_states / output_attentions the tuple layout matches PaddleNLP's too."""
    config = _config()
    ours = pr.RoFormerForTokenClassification(config)
    ours.eval()
    ours.save_pretrained(tmp_path)
    theirs = paddlenlp_transformers.RoFormerForTokenClassification.from_pretrained(str(tmp_path))
    theirs.eval()
    ours_in, pnlp_in = _inputs(config, "RoFormerForTokenClassification")
    labels = paddle.to_tensor(np.random.RandomState(0).randint(0, config.num_labels, size=(4, 9)))
    kwargs = dict(labels=labels, output_hidden_states=True, output_attentions=True)
    with paddle.no_grad():
        a = ours(**ours_in, **kwargs)
        b = theirs(**pnlp_in, **kwargs)
    assert len(a) == len(b) == 4  # loss, logits, hidden_states, attentions
    _assert_close(_outputs(a[:2]), _outputs(b[:2]))
    _assert_close(_outputs(a[2]), _outputs(b[2]))
    _assert_close(_outputs(a[3]), _outputs(b[3]))


def test_head_loads_paddlenlp_bare_model_checkpoint(tmp_path):
    """The line users write most: a classifier from a bare pretrained checkpoint, with num_classes."""
    config = _config()
    theirs = paddlenlp_transformers.RoFormerModel(paddlenlp_transformers.RoFormerConfig(**_pnlp_kwargs(config)))
    theirs.eval()
    theirs.save_pretrained(str(tmp_path))
    ours = pr.RoFormerForSequenceClassification.from_pretrained(tmp_path, num_classes=3)
    assert ours.classifier.weight.shape == [config.hidden_size, 3]
    ids, types, mask = padded_batch(config.vocab_size, config.type_vocab_size)
    inputs = dict(input_ids=paddle.to_tensor(ids), token_type_ids=paddle.to_tensor(types))
    with paddle.no_grad():
        _assert_close(_outputs(ours.roformer(**inputs)), _outputs(theirs(**inputs)))
