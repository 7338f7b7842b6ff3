"""save_pretrained / from_pretrained: round trips, overrides, loading across classes, and errors."""
import os

import numpy as np
import paddle
import pytest

import paddle_roformer as pr
from conftest import tiny_config

HEADS = [
    pr.RoFormerModel, pr.RoFormerForSequenceClassification, pr.RoFormerForTokenClassification,
    pr.RoFormerForQuestionAnswering, pr.RoFormerForMultipleChoice, pr.RoFormerForMaskedLM, pr.RoFormerForCausalLM,
]


def _ids(config, shape=(2, 6)):
    return paddle.to_tensor(np.random.RandomState(0).randint(1, config.vocab_size, size=shape))


def _first(out):
    return (out[0] if isinstance(out, tuple) else out).numpy()


@pytest.mark.parametrize("cls", HEADS, ids=lambda c: c.__name__)
def test_round_trip_every_class(cls, tmp_path):
    config = tiny_config()
    model = cls(config)
    model.eval()
    model.save_pretrained(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["config.json", "model_state.pdparams"]
    again = cls.from_pretrained(tmp_path)
    assert not again.training  # from_pretrained returns an eval-mode model, as PaddleNLP does
    ids = _ids(config, (2, 3, 6) if cls is pr.RoFormerForMultipleChoice else (2, 6))
    with paddle.no_grad():
        np.testing.assert_array_equal(_first(model(ids)), _first(again(ids)))
    assert again.config.architectures == [cls.__name__]


def test_overrides_apply_to_the_config(tmp_path):
    model = pr.RoFormerForSequenceClassification(tiny_config())
    model.save_pretrained(tmp_path)
    again = pr.RoFormerForSequenceClassification.from_pretrained(
        tmp_path, num_classes=3, max_position_embeddings=2048, hidden_dropout_prob=0.0
    )
    assert again.config.num_labels == 3 and again.config.max_position_embeddings == 2048
    assert again.classifier.weight.shape == [32, 3]  # resized head: freshly initialised
    with pytest.raises(ValueError, match="Unknown RoFormerConfig key 'num_clases'"):
        pr.RoFormerModel.from_pretrained(tmp_path, num_clases=3)


def test_head_from_bare_checkpoint_reports_new_parameters(tmp_path, caplog):
    config = tiny_config()
    bare = pr.RoFormerModel(config)
    bare.eval()
    bare.save_pretrained(tmp_path)
    with caplog.at_level("WARNING", logger="paddle_roformer"):
        head = pr.RoFormerForTokenClassification.from_pretrained(tmp_path)
    assert "classifier.weight" in caplog.text and "classifier.bias" in caplog.text
    ids = _ids(config)
    with paddle.no_grad():
        np.testing.assert_array_equal(bare(ids)[0].numpy(), head.roformer(ids)[0].numpy())


def test_bare_model_from_head_checkpoint_ignores_the_head(tmp_path):
    config = tiny_config()
    mlm = pr.RoFormerForMaskedLM(config)
    mlm.save_pretrained(tmp_path)
    state = pr.pretrained.load_state_file(str(tmp_path / "model_state.pdparams"))
    report = pr.RoFormerModel(config).load_pretrained_state_dict(state)
    assert report.initialized == []
    assert report.ignored == sorted(k for k in state if k.startswith("cls."))


def test_classifier_from_mlm_checkpoint(tmp_path):
    config = tiny_config()
    pr.RoFormerForMaskedLM(config).save_pretrained(tmp_path)
    state = pr.pretrained.load_state_file(str(tmp_path / "model_state.pdparams"))
    report = pr.RoFormerForSequenceClassification(config).load_pretrained_state_dict(state)
    assert sorted(report.initialized) == ["classifier.bias", "classifier.weight"]
    assert "cls.predictions.decoder_bias" in report.ignored


def _state(config, cls=pr.RoFormerForSequenceClassification):
    return {k: v.numpy() for k, v in cls(config).state_dict().items()}


def test_missing_backbone_key_is_an_error():
    config = tiny_config()
    state = _state(config)
    del state["roformer.encoder.layers.1.linear1.weight"]
    with pytest.raises(KeyError, match=r"missing 'roformer.encoder.layers.1.linear1.weight' \(shape \[32, 40\]\)"):
        pr.RoFormerForSequenceClassification(config).load_pretrained_state_dict(state)


def test_unexpected_backbone_key_is_an_error():
    config = tiny_config()
    state = _state(config)
    state["roformer.encoder.layers.9.linear1.weight"] = np.zeros([32, 40], "float32")
    with pytest.raises(KeyError, match="unexpected backbone keys.*layers.9.linear1.weight"):
        pr.RoFormerForSequenceClassification(config).load_pretrained_state_dict(state)


def test_backbone_shape_mismatch_is_an_error():
    state = _state(tiny_config(vocab_size=120))
    with pytest.raises(ValueError, match=r"shape mismatch for 'roformer.embeddings.word_embeddings.weight'.*\[120, 24\].*\[97, 24\]"):
        pr.RoFormerForSequenceClassification(tiny_config()).load_pretrained_state_dict(state)


def test_not_a_state_dict(tmp_path):
    tiny_config().save_pretrained(tmp_path)
    (tmp_path / "model_state.pdparams").write_bytes(b"this is not a pickle")
    with pytest.raises(ValueError, match="is not a readable Paddle state dict"):
        pr.RoFormerModel.from_pretrained(tmp_path)
    paddle.save([1, 2, 3], str(tmp_path / "model_state.pdparams"))
    with pytest.raises(ValueError, match="does not hold a state dict"):
        pr.RoFormerModel.from_pretrained(tmp_path)


def test_incomplete_directory_and_bad_arguments(tmp_path):
    with pytest.raises(FileNotFoundError, match="must contain config.json"):
        pr.RoFormerModel.from_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match="No such directory"):
        pr.RoFormerModel.from_pretrained(str(tmp_path / "nope" / "deeper"))
    with pytest.raises(TypeError, match="name_or_path must be a str"):
        pr.RoFormerModel.from_pretrained(None)
    with pytest.raises(TypeError, match="expects a RoFormerConfig"):
        pr.RoFormerModel({"vocab_size": 10})
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        pr.RoFormerModel(tiny_config()).save_pretrained(tmp_path / "file.txt")


def test_failed_save_leaves_previous_checkpoint_intact(tmp_path, monkeypatch):
    model = pr.RoFormerModel(tiny_config())
    model.save_pretrained(tmp_path)
    before = (tmp_path / "model_state.pdparams").read_bytes()

    def broken_save(obj, path, *args, **kwargs):
        with open(path, "wb") as f:
            f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(paddle, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        pr.RoFormerModel(tiny_config()).save_pretrained(tmp_path)
    assert (tmp_path / "model_state.pdparams").read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["config.json", "model_state.pdparams"]  # no temporary left


def test_constructor_overrides():
    model = pr.RoFormerForSequenceClassification(tiny_config(), num_classes=7)
    assert model.classifier.weight.shape == [32, 7] and model.config.num_classes == 7
