"""The registry of pretrained names, built from configs/*.yaml; every property is checked per name."""
import dataclasses
import re
from pathlib import Path

import pytest

import paddle_roformer as pr
from paddle_roformer import registry
from paddle_roformer.registry import get_pretrained, list_pretrained

ROOT = Path(__file__).resolve().parents[1]
NAMES = list_pretrained()


def test_one_name_per_yaml_file():
    assert NAMES == sorted(p.stem for p in (ROOT / "configs").glob("*.yaml"))
    assert NAMES, "no registered name"


def test_patterns_filter_the_names():
    assert list_pretrained("*sim*") == [n for n in NAMES if "sim" in n]
    assert list_pretrained("roformer-chinese-*") == [n for n in NAMES if n.startswith("roformer-chinese-")]
    assert list_pretrained("no-such-*") == []


def test_unknown_name_suggests_the_closest():
    with pytest.raises(pr.UnknownModelError, match=r"Did you mean 'roformer-chinese-base'\?.*roformer-english"):
        get_pretrained("roformer-chinese-bass")
    with pytest.raises(pr.UnknownModelError, match="Did you mean"):
        pr.RoFormerConfig.from_pretrained("roformer-chinese-bass")
    assert not registry.is_registered(3) and not registry.is_registered("roformer-chinese-bass")


@pytest.mark.parametrize("name", NAMES)
def test_every_entry_builds_a_valid_config(name):
    entry = get_pretrained(name)
    config = pr.RoFormerConfig.from_pretrained(name)
    assert config == pr.RoFormerConfig.from_dict(entry.model_values())
    assert config == pr.RoFormerConfig.from_yaml(str(ROOT / "configs" / f"{name}.yaml"))
    assert config.to_dict()["model_type"] == "roformer"
    assert pr.RoFormerConfig.from_pretrained(name, num_classes=4).num_labels == 4


@pytest.mark.parametrize("name", NAMES)
def test_every_entry_is_read_only(name):
    entry = get_pretrained(name)
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.name = "other"
    with pytest.raises(TypeError):
        entry.model["vocab_size"] = 1
    with pytest.raises(TypeError):
        del entry.files["vocab.txt"]
    with pytest.raises(TypeError):
        registry._registry()[name] = entry
    assert entry.model_values() == dict(entry.model) and entry.model_values() is not entry.model_values()


@pytest.mark.parametrize("name", NAMES)
def test_every_entry_publishes_weights_and_vocab(name):
    entry = get_pretrained(name)
    assert entry.name == name and entry.description
    assert {"model_state.pdparams", "vocab.txt"} <= set(entry.files)
    for filename, spec in entry.files.items():
        assert spec.url.startswith("https://") and spec.url.endswith(f"/{name}/{filename}")
        assert spec.sha256 == "" or re.fullmatch(r"[0-9a-f]{64}", spec.sha256)
    assert entry.tokenizer.mode in ("jieba", "char", "wordpiece")
    assert entry.tokenizer.use_jieba == (entry.tokenizer.mode == "jieba")
    assert entry.tokenizer.model_max_length == pr.RoFormerConfig.from_pretrained(name).max_position_embeddings


@pytest.mark.parametrize("name", NAMES)
def test_architectures_equal_paddlenlp(name):
    """Every value PaddleNLP 2.8.1 publishes for the name is what the YAML holds."""
    configuration = pytest.importorskip("paddlenlp.transformers.roformer.configuration")
    published = configuration.ROFORMER_PRETRAINED_INIT_CONFIGURATION[name]
    config = pr.RoFormerConfig.from_pretrained(name)
    for key, value in published.items():
        assert getattr(config, key) == value, key


@pytest.mark.parametrize("name", NAMES)
def test_files_and_tokenizer_settings_equal_paddlenlp(name):
    configuration = pytest.importorskip("paddlenlp.transformers.roformer.configuration")
    tokenizer_mod = pytest.importorskip("paddlenlp.transformers.roformer.tokenizer")
    entry = get_pretrained(name)
    assert entry.files["model_state.pdparams"].url == configuration.ROFORMER_PRETRAINED_RESOURCE_FILES_MAP[
        "model_state"][name]
    tok = tokenizer_mod.RoFormerTokenizer
    assert entry.files["vocab.txt"].url == tok.pretrained_resource_files_map["vocab_file"][name]
    assert entry.tokenizer.use_jieba == tok.pretrained_init_configuration[name]["use_jieba"]
    assert entry.tokenizer.do_lower_case == tok.pretrained_init_configuration[name]["do_lower_case"]
    assert entry.tokenizer.model_max_length == tok.max_model_input_sizes[name]


@pytest.mark.parametrize("name", NAMES)
def test_facts_of_the_reference(name):
    entry, config = get_pretrained(name), pr.RoFormerConfig.from_pretrained(name)
    assert (config.pool_act == "linear") == ("sim" in name)
    assert config.rotary_value == ("english" in name)
    assert entry.tokenizer.use_jieba == (name in ("roformer-chinese-small", "roformer-chinese-base"))
    assert all(not f.sha256 for f in entry.files.values())  # no digest is invented


def test_facts_of_two_names():
    assert pr.RoFormerConfig.from_pretrained("roformer-chinese-base").max_position_embeddings == 1536
    generator = pr.RoFormerConfig.from_pretrained("roformer-english-small-generator")
    assert (generator.hidden_size, generator.num_attention_heads, generator.intermediate_size,
            generator.embedding_size) == (64, 1, 256, 128)


@pytest.mark.parametrize("name", NAMES)
def test_docs_table_matches_the_configs(name):
    """docs/models.md states each name's architecture and parameter count; keep it true."""
    text = (ROOT / "docs" / "models.md").read_text(encoding="utf-8")
    row = re.search(rf"^\| `{re.escape(name)}` \|(.*)$", text, re.M)
    assert row, name
    cells = [c.strip() for c in row.group(1).split("|")]
    c = pr.RoFormerConfig.from_pretrained(name)
    assert cells[:7] == [str(v) for v in (c.num_hidden_layers, c.hidden_size, c.embedding_size,
                                          c.num_attention_heads, c.intermediate_size, c.vocab_size,
                                          c.max_position_embeddings)], name
    assert cells[9] == f"{c.num_parameters() / 1e6:.1f}M", name


@pytest.mark.parametrize(
    "text, message",
    [
        ("- a list\n", "expected a mapping at the top level"),
        ("name: x\nmodel: {}\ntokenizer: {}\n", "missing section 'files'"),
        ("name: x\nmodel: [1]\ntokenizer: {}\nfiles: {}\n", "section 'model' must be a mapping"),
        ("name: x\nmodel: {}\ntokenizer: {mode: char}\nfiles: {}\n", "section 'tokenizer'"),
        ("name: x\nmodel: {}\ntokenizer: {mode: char, use_jieba: false, do_lower_case: true, model_max_length: 8}\n"
         "files: {a.txt: {sha256: ''}}\n", "files.a.txt needs a 'url' string"),
    ],
)
def test_malformed_yaml_is_refused_with_the_file_name(text, message):
    with pytest.raises(ValueError, match=rf"broken.yaml: .*{re.escape(message)}|broken.yaml: {re.escape(message)}"):
        registry._parse_entry(text, "broken.yaml")
