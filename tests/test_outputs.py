"""Output records: tuple-like indexing without the Nones, access by name, PaddleNLP's tuple convention."""
import paddle
import pytest

from paddle_roformer.outputs import BaseModelOutputWithPooling, SequenceClassifierOutput, as_tuple


def test_a_record_indexes_like_the_tuple_without_nones():
    hidden, pooled = paddle.ones([1, 2, 4]), paddle.zeros([1, 4])
    out = BaseModelOutputWithPooling(last_hidden_state=hidden, pooler_output=pooled)
    assert len(out) == 2 and out[0] is hidden and out[1] is pooled and out[-1] is pooled
    assert out["pooler_output"] is pooled and out.keys() == ["last_hidden_state", "pooler_output"]
    first, second = out
    assert first is hidden and second is pooled
    with pytest.raises(IndexError):
        out[2]


def test_the_loss_comes_first_when_there_is_one():
    logits, loss = paddle.ones([2, 3]), paddle.to_tensor(0.5)
    assert SequenceClassifierOutput(logits=logits).to_tuple() == (logits,)
    assert SequenceClassifierOutput(loss=loss, logits=logits)[0] is loss


def test_as_tuple_drops_nones_puts_the_loss_first_and_unwraps_one_item():
    a, b, loss = paddle.ones([1]), paddle.zeros([1]), paddle.to_tensor(1.0)
    assert as_tuple((a, None, None)) is a
    assert as_tuple((a, None, b)) == (a, b)
    assert as_tuple((a, None), loss=loss) == (loss, a)
