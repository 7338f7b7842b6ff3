"""RoFormerConfig: dict / JSON / YAML in and out, PaddleNLP files, aliases, validation."""
import json

import pytest

from paddle_roformer import RoFormerConfig
from _helpers import tiny_config


def test_defaults_follow_hidden_size_for_embeddings():
    config = RoFormerConfig(hidden_size=64, num_attention_heads=4)
    assert config.embedding_size == 64 and config.head_dim == 16


def test_unknown_key_is_an_error_with_suggestion():
    with pytest.raises(ValueError, match=r"Unknown RoFormerConfig key 'hiden_size' \(did you mean 'hidden_size'\?\)"):
        RoFormerConfig.from_dict({"hiden_size": 32})


def test_generic_paddlenlp_keys_are_accepted_and_dropped():
    config = RoFormerConfig.from_dict({"hidden_size": 32, "num_attention_heads": 2, "paddlenlp_version": None,
                                       "model_type": "roformer", "dtype": "float32", "num_beams": 1})
    assert config.hidden_size == 32


def test_overrides_refuse_generic_keys_too():
    with pytest.raises(ValueError, match="Unknown RoFormerConfig key 'num_beams'"):
        tiny_config().update(num_beams=4)


def test_other_model_type_is_rejected():
    with pytest.raises(ValueError, match="model_type='bert'"):
        RoFormerConfig.from_dict({"model_type": "bert"})


def test_num_classes_alias_and_labels():
    config = RoFormerConfig.from_dict({"num_classes": 3, "dropout": 0.2})
    assert config.num_labels == config.num_classes == 3 and config.classifier_dropout == 0.2
    labelled = RoFormerConfig(id2label={"0": "neg", "1": "pos"})
    assert labelled.num_labels == 2 and labelled.label2id == {"neg": 0, "pos": 1}
    assert labelled.update(num_classes=4).id2label is None  # stale names are dropped


@pytest.mark.parametrize(
    "values, message",
    [
        (dict(hidden_size=30, num_attention_heads=4), "must be divisible by num_attention_heads"),
        (dict(hidden_size=36, num_attention_heads=4), "must be even"),
        (dict(vocab_size=0), "vocab_size must be a positive integer"),
        (dict(hidden_dropout_prob=1.5), r"hidden_dropout_prob must be in \[0, 1\)"),
        (dict(pool_act="softmax"), "pool_act must be one of"),
        (dict(pad_token_id=10, vocab_size=5), r"pad_token_id must be in \[0, vocab_size=5\)"),
        (dict(num_labels=0), "num_labels must be a positive integer"),
        (dict(layer_norm_eps="tiny"), "layer_norm_eps must be a number"),
    ],
)
def test_validation_messages(values, message):
    with pytest.raises(ValueError, match=message):
        RoFormerConfig.from_dict(values)


def test_json_round_trip(tmp_path):
    config = tiny_config(rotary_value=True, classifier_dropout=0.0, id2label={0: "a", 1: "b"})
    config.save_pretrained(tmp_path)
    again = RoFormerConfig.from_pretrained(tmp_path)
    assert again == config
    assert json.loads((tmp_path / "config.json").read_text())["model_type"] == "roformer"


def test_yaml_round_trip_and_registry_file(tmp_path):
    config = tiny_config(pool_act="linear")
    path = tmp_path / "arch.yaml"
    config.to_yaml(str(path))
    assert RoFormerConfig.from_yaml(str(path)) == config
    assert RoFormerConfig.from_pretrained(str(path)) == config


def test_reads_the_yaml_files_of_configs_folder():
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "configs" / "roformer-chinese-base.yaml"
    config = RoFormerConfig.from_yaml(str(path), num_classes=2)
    assert config.max_position_embeddings == 1536 and config.num_labels == 2


def test_reads_paddlenlp_legacy_model_config(tmp_path):
    legacy = {
        "init_args": [{"vocab_size": 120, "hidden_size": 64, "num_attention_heads": 4, "embedding_size": 32,
                       "init_class": "RoFormerModel"}],
        "init_class": "RoFormerForSequenceClassification",
        "num_classes": 3,
        "dropout": 0.2,
    }
    (tmp_path / "model_config.json").write_text(json.dumps(legacy))
    config = RoFormerConfig.from_pretrained(tmp_path)
    assert (config.vocab_size, config.embedding_size, config.num_labels, config.classifier_dropout) == (120, 32, 3, 0.2)


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="has no config.json or model_config.json: not in the directory"):
        RoFormerConfig.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="is not valid JSON"):
        RoFormerConfig.from_pretrained(tmp_path)
    with pytest.raises(TypeError, match="expects a dict"):
        RoFormerConfig.from_dict(["vocab_size"])


@pytest.mark.parametrize("field, value", [
    ("rotary_value", "false"), ("rotary_value", 0), ("use_cache", "yes"), ("is_decoder", 1),
    ("return_dict", None), ("output_hidden_states", "True"),
])
def test_boolean_fields_take_only_booleans(field, value):
    with pytest.raises(TypeError, match=f"RoFormerConfig.{field} must be true or false"):
        tiny_config(**{field: value})


def test_string_false_from_a_file_is_an_error_not_true(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(dict(tiny_config().to_dict(), rotary_value="false")))
    with pytest.raises(TypeError, match="rotary_value must be true or false.*'false' \\(str\\)"):
        RoFormerConfig.from_json_file(str(path))


@pytest.mark.parametrize("field, value", [
    ("pad_token_id", "0"), ("pad_token_id", 1.0), ("pad_token_id", True), ("eos_token_id", "102"),
    ("hidden_size", 32.0), ("num_hidden_layers", "3"), ("type_vocab_size", False), ("num_choices", 2.5),
])
def test_integer_fields_take_only_integers(field, value):
    with pytest.raises(TypeError, match=f"RoFormerConfig.{field} must be an integer"):
        tiny_config(**{field: value})


@pytest.mark.parametrize("field, value, error", [
    ("layer_norm_eps", float("nan"), ValueError), ("initializer_range", float("inf"), ValueError),
    ("hidden_dropout_prob", float("nan"), ValueError), ("layer_norm_eps", True, TypeError),
    ("attention_probs_dropout_prob", [0.1], TypeError),
])
def test_float_fields_must_be_finite_numbers(field, value, error):
    with pytest.raises(error, match=f"RoFormerConfig.{field} must be"):
        tiny_config(**{field: value})


@pytest.mark.parametrize("field, value, error", [
    ("hidden_act", 3, TypeError), ("problem_type", "ranking", ValueError), ("id2label", ["a", "b"], TypeError),
    ("id2label", {"x": "a"}, ValueError), ("architectures", "RoFormerModel", TypeError),
    ("eos_token_id", -1, ValueError), ("num_choices", 0, ValueError),
])
def test_other_fields_are_checked(field, value, error):
    with pytest.raises(error, match=f"RoFormerConfig.{field}"):
        tiny_config(**{field: value})


def test_valid_optional_values_are_accepted():
    config = tiny_config(eos_token_id=None, problem_type="regression", num_choices=4, classifier_dropout=0,
                         layer_norm_eps=1e-5, id2label={"0": "neg", "1": "pos"})
    assert config.classifier_dropout == 0 and config.num_labels == 2 and config.id2label == {0: "neg", 1: "pos"}


def test_numpy_integers_are_accepted_as_plain_ints():
    import numpy as np

    config = tiny_config(num_labels=np.int64(3), pad_token_id=np.int32(0))
    assert type(config.num_labels) is int and type(config.pad_token_id) is int
    json.dumps(config.to_dict())
