"""save_pretrained / from_pretrained: round trips, overrides, loading across classes, and errors."""
import os
import pickle

import numpy as np
import paddle
import pytest

import paddle_roformer as pr
from _helpers import tiny_config
from paddle_roformer import checkpoint

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
    assert not again.training  # eval mode (PaddleNLP returns train mode; see the list of differences)
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
    state = checkpoint.load_state_dict(str(tmp_path / "model_state.pdparams"))
    report = pr.RoFormerModel(config).load_pretrained_state_dict(state)
    assert report.initialized == []
    assert report.ignored == sorted(k for k in state if k.startswith("cls."))


def test_classifier_from_mlm_checkpoint(tmp_path):
    config = tiny_config()
    pr.RoFormerForMaskedLM(config).save_pretrained(tmp_path)
    state = checkpoint.load_state_dict(str(tmp_path / "model_state.pdparams"))
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
    with pytest.raises(FileNotFoundError, match="model.safetensors or model_state.pdparams"):
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


def _outputs(model, config):
    model.eval()
    with paddle.no_grad():
        return _first(model(_ids(config)))


def test_failed_save_leaves_previous_checkpoint_intact(tmp_path, monkeypatch):
    config = tiny_config()
    model = pr.RoFormerModel(config)
    model.save_pretrained(tmp_path)
    before = {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)}

    def broken_write(state, f):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint, "_write_pdparams", broken_write)
    with pytest.raises(OSError, match="disk full"):
        pr.RoFormerModel(config).save_pretrained(tmp_path)
    assert {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)} == before  # no temporary left
    np.testing.assert_array_equal(_outputs(pr.RoFormerModel.from_pretrained(tmp_path), config),
                                  _outputs(model, config))


@pytest.mark.parametrize("first_safe", [True, False], ids=["safetensors-then-pdparams", "pdparams-then-safetensors"])
def test_saving_again_in_the_other_format_loads_the_newer_weights(first_safe, tmp_path):
    """The earlier format's file is removed: it cannot shadow the newer weights."""
    config = tiny_config()
    older, newer = pr.RoFormerForMaskedLM(config), pr.RoFormerForMaskedLM(config)
    older.save_pretrained(tmp_path, safe_serialization=first_safe)
    newer.save_pretrained(tmp_path, safe_serialization=not first_safe)
    expected = "model_state.pdparams" if first_safe else "model.safetensors"
    assert sorted(os.listdir(tmp_path)) == ["config.json", expected]
    again = pr.RoFormerForMaskedLM.from_pretrained(tmp_path)
    np.testing.assert_array_equal(_outputs(again, config), _outputs(newer, config))
    assert not np.array_equal(_outputs(older, config), _outputs(newer, config))


def test_save_interrupted_after_the_weights_is_refused_not_loaded(tmp_path, monkeypatch):
    """New weights with the old config never load silently; the next complete save repairs the directory."""
    pr.RoFormerForSequenceClassification(tiny_config(num_labels=2)).save_pretrained(tmp_path)
    newer = pr.RoFormerForSequenceClassification(tiny_config(num_labels=2, hidden_act="relu"))
    real = checkpoint.atomic_write

    def killed_at_config(path, write):
        if path.endswith("config.json"):
            raise KeyboardInterrupt  # as a Ctrl-C between the two renames would
        return real(path, write)

    with monkeypatch.context() as patch:
        patch.setattr(checkpoint, "atomic_write", killed_at_config)
        with pytest.raises(KeyboardInterrupt):
            newer.save_pretrained(tmp_path)
    assert '"hidden_act": "gelu"' in (tmp_path / "config.json").read_text()  # the old config is still there
    with pytest.raises(checkpoint.InterruptedSaveError, match="did not finish.*Save the model into it again"):
        pr.RoFormerForSequenceClassification.from_pretrained(tmp_path)
    newer.save_pretrained(tmp_path)
    again = pr.RoFormerForSequenceClassification.from_pretrained(tmp_path)
    assert again.config.hidden_act == "relu"
    np.testing.assert_array_equal(_outputs(again, newer.config), _outputs(newer, newer.config))


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_malicious_pickle_in_a_directory_runs_nothing(tmp_path):
    tiny_config().save_pretrained(tmp_path)
    marker = tmp_path / "pwned"
    state = {k: v.numpy() for k, v in pr.RoFormerModel(tiny_config()).state_dict().items()}
    state["zz"] = _Payload(marker)
    with open(tmp_path / "model_state.pdparams", "wb") as f:
        pickle.dump(state, f, protocol=4)
    with pytest.raises(checkpoint.UnsafeCheckpointError, match=r"model_state.pdparams: refused .* posix.system"):
        pr.RoFormerModel.from_pretrained(tmp_path)
    assert not marker.exists()


def test_directory_written_by_paddle_save_loads(tmp_path):
    """A directory without our save marker (PaddleNLP's, or from before it) loads as before."""
    config = tiny_config()
    model = pr.RoFormerForTokenClassification(config)
    config.save_pretrained(tmp_path)
    paddle.save(model.state_dict(), str(tmp_path / "model_state.pdparams"))
    again = pr.RoFormerForTokenClassification.from_pretrained(tmp_path)
    np.testing.assert_array_equal(_outputs(again, config), _outputs(model, config))


def test_bfloat16_model_saves_as_paddle_does(tmp_path):
    config = tiny_config()
    model = pr.RoFormerModel(config)
    model.to(dtype="bfloat16")
    model.save_pretrained(tmp_path)
    saved = paddle.load(str(tmp_path / "model_state.pdparams"))
    assert all(v.dtype == paddle.bfloat16 for v in saved.values())
    again = pr.RoFormerModel.from_pretrained(tmp_path)  # a float32 model: bfloat16 widens exactly
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(again.state_dict()[key].numpy(), value.astype("float32").numpy())


def test_paddlenlp_keyword_arguments(tmp_path):
    config = tiny_config()
    model = pr.RoFormerModel(config)
    model.save_pretrained(tmp_path / "rank1", is_main_process=False)
    assert not (tmp_path / "rank1").exists()  # the other ranks write nothing
    model.save_pretrained(tmp_path / "fits", max_shard_size="10GB")
    model.save_pretrained(tmp_path / "bytes", max_shard_size=10**9)
    with pytest.raises(ValueError, match=r"max_shard_size='1KB': the weights take \d+ bytes and sharded"):
        model.save_pretrained(tmp_path / "sharded", max_shard_size="1KB")
    assert not (tmp_path / "sharded").exists()
    with pytest.raises(ValueError, match="max_shard_size '10 parsecs' is not a size"):
        model.save_pretrained(tmp_path / "sharded", max_shard_size="10 parsecs")
    with pytest.raises(ValueError, match="variant='fp16' is not supported"):
        model.save_pretrained(tmp_path / "variant", variant="fp16")
    other = pr.RoFormerModel(config)
    model.save_pretrained(tmp_path / "given", state_dict=other.state_dict())
    np.testing.assert_array_equal(_outputs(pr.RoFormerModel.from_pretrained(tmp_path / "given"), config),
                                  _outputs(other, config))


def test_constructor_overrides():
    model = pr.RoFormerForSequenceClassification(tiny_config(), num_classes=7)
    assert model.classifier.weight.shape == [32, 7] and model.config.num_classes == 7
