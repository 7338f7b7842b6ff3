"""Task heads: losses, gradients, shapes, dropout, tied weights, and the table of model classes."""
import numpy as np
import paddle
import pytest

import paddle_roformer as pr
from paddle_roformer.heads import MODEL_CLASSES, get_model_class
from _helpers import batch_for, padded_batch, tiny_config


def test_the_table_lists_the_backbone_and_every_head():
    heads = {n for n in pr.__all__ if n.startswith("RoFormerFor") and pr._EXPORTS[n] == "heads"}
    assert set(MODEL_CLASSES) == heads | {"RoFormerModel"}
    for name, cls in MODEL_CLASSES.items():
        assert cls.__name__ == name and get_model_class(name) is cls and issubclass(cls, pr.RoFormerPretrainedModel)


def test_unknown_class_name_suggests_the_closest():
    with pytest.raises(ValueError, match="Did you mean 'RoFormerForMaskedLM'"):
        get_model_class("RoFormerForMaskLM")


@pytest.mark.parametrize("name", sorted(MODEL_CLASSES))
def test_every_class_runs_and_reloads_exactly(name, tmp_path):
    config = tiny_config()
    model = MODEL_CLASSES[name](config)
    model.eval()
    ids, types, mask = (paddle.to_tensor(a) for a in batch_for(config, name))
    with paddle.no_grad():
        before = model(ids, token_type_ids=types, attention_mask=mask)
    model.save_pretrained(str(tmp_path))
    again = MODEL_CLASSES[name].from_pretrained(str(tmp_path))
    again.eval()
    with paddle.no_grad():
        after = again(ids, token_type_ids=types, attention_mask=mask)
    flat = lambda out: [t for t in (out if isinstance(out, (tuple, list)) else [out]) if isinstance(t, paddle.Tensor)]
    for a, b in zip(flat(before), flat(after)):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


HEAD_CASES = {
    "RoFormerModel": lambda b, s, c: {},
    "RoFormerForSequenceClassification": lambda b, s, c: dict(labels=paddle.to_tensor([1, 0, 4])),
    "RoFormerForTokenClassification": lambda b, s, c: dict(labels=paddle.randint(0, c.num_labels, [b, s])),
    "RoFormerForQuestionAnswering": lambda b, s, c: dict(
        start_positions=paddle.to_tensor([0, 2, 3]), end_positions=paddle.to_tensor([1, 4, 5])
    ),
    "RoFormerForMaskedLM": lambda b, s, c: dict(labels=paddle.randint(0, c.vocab_size, [b, s])),
    "RoFormerForCausalLM": lambda b, s, c: dict(labels=paddle.randint(0, c.vocab_size, [b, s])),
}


@pytest.mark.parametrize("head", sorted(HEAD_CASES))
def test_gradients_reach_every_parameter(head):
    config = tiny_config()
    model = MODEL_CLASSES[head](config)
    model.train()
    ids, types, mask = padded_batch(config.vocab_size, config.type_vocab_size, batch=3, seq_len=7)
    out = model(paddle.to_tensor(ids), token_type_ids=paddle.to_tensor(types),
                attention_mask=paddle.to_tensor(mask), **HEAD_CASES[head](3, 7, config))
    loss = out[1].sum() + out[0].mean() if head == "RoFormerModel" else out[0]
    assert loss.shape == [] or loss.size == 1
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not np.isfinite(p.grad.numpy()).all()]
    if head in ("RoFormerForTokenClassification", "RoFormerForQuestionAnswering", "RoFormerForMaskedLM",
                "RoFormerForCausalLM"):
        # these heads read the sequence output, not the pooler
        missing = [n for n in missing if not n.startswith("roformer.pooler")]
    assert missing == []


def test_multiple_choice_gradients_and_shapes():
    config = tiny_config()
    model = pr.RoFormerForMultipleChoice(config)
    ids = paddle.randint(1, config.vocab_size, [2, 3, 6])  # batch 2, 3 choices
    loss, logits = model(ids, labels=paddle.to_tensor([2, 0]))
    assert logits.shape == [2, 3]
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_multiple_choice_flattened_inputs_need_num_choices():
    config = tiny_config()
    model = pr.RoFormerForMultipleChoice(config)
    with pytest.raises(ValueError, match=r"\[batch_size, num_choices, seq_len\].*config.num_choices"):
        model(paddle.randint(1, 90, [6, 5]))
    flat = pr.RoFormerForMultipleChoice(config, num_choices=3)
    assert flat(paddle.randint(1, 90, [6, 5])).shape == [2, 3]


def test_dropout_is_off_in_eval_and_on_in_train():
    model = pr.RoFormerForSequenceClassification(tiny_config(hidden_dropout_prob=0.3, attention_probs_dropout_prob=0.3))
    ids = paddle.randint(1, 90, [2, 9])
    model.eval()
    with paddle.no_grad():
        a, b = model(ids).numpy(), model(ids).numpy()
    np.testing.assert_array_equal(a, b)
    model.train()
    with paddle.no_grad():
        c = model(ids).numpy()
    assert np.abs(c - a).max() > 1e-4


def test_sequence_classification_problem_types():
    ids = paddle.randint(1, 90, [3, 5])
    regression = pr.RoFormerForSequenceClassification(tiny_config(num_labels=1))
    loss, logits = regression(ids, labels=paddle.to_tensor([0.5, 1.0, -1.0]))
    assert logits.shape == [3, 1] and float(loss) > 0
    multi = pr.RoFormerForSequenceClassification(tiny_config(num_labels=4))
    loss, _ = multi(ids, labels=paddle.to_tensor(np.eye(4, dtype="float32")[:3]))
    assert float(loss) > 0
    with pytest.raises(ValueError, match="problem_type"):
        tiny_config(problem_type="ranking")


def test_mlm_decoder_is_tied_to_word_embeddings():
    model = pr.RoFormerForMaskedLM(tiny_config())
    assert model.cls.predictions.decoder_weight is model.roformer.embeddings.word_embeddings.weight
    assert len(model.parameters()) == len({id(p) for p in model.parameters()})
