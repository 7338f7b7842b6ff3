"""The registry of pretrained names, built from configs/*.yaml."""
import pytest

import paddle_roformer as pr
from paddle_roformer.registry import get_pretrained

NAMES = [
    "roformer-chinese-small", "roformer-chinese-base", "roformer-chinese-char-small", "roformer-chinese-char-base",
    "roformer-chinese-sim-char-ft-small", "roformer-chinese-sim-char-ft-base", "roformer-chinese-sim-char-small",
    "roformer-chinese-sim-char-base", "roformer-english-small-discriminator", "roformer-english-small-generator",
]


def test_the_ten_names():
    assert pr.list_pretrained() == sorted(NAMES)
    assert pr.list_pretrained("*sim*") == sorted(n for n in NAMES if "sim" in n)


def test_unknown_name_suggests_the_closest():
    with pytest.raises(pr.UnknownModelError, match=r"Did you mean 'roformer-chinese-base'\?.*roformer-english"):
        get_pretrained("roformer-chinese-bass")
    with pytest.raises(pr.UnknownModelError, match="Did you mean"):
        pr.RoFormerConfig.from_pretrained("roformer-chinese-bass")


@pytest.mark.parametrize("name", NAMES)
def test_architectures_equal_paddlenlp(name):
    """Every value PaddleNLP 2.8.1 publishes for the name is what the YAML holds."""
    configuration = pytest.importorskip("paddlenlp.transformers.roformer.configuration")
    published = configuration.ROFORMER_PRETRAINED_INIT_CONFIGURATION[name]
    config = get_pretrained(name).config
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


def test_facts_of_the_reference():
    assert get_pretrained("roformer-chinese-base").config.max_position_embeddings == 1536
    generator = get_pretrained("roformer-english-small-generator").config
    assert (generator.hidden_size, generator.num_attention_heads, generator.intermediate_size,
            generator.embedding_size) == (64, 1, 256, 128)
    for name in NAMES:
        entry = get_pretrained(name)
        assert (entry.config.pool_act == "linear") == ("sim" in name)
        assert entry.config.rotary_value == ("english" in name)
        assert entry.tokenizer.use_jieba == (name in ("roformer-chinese-small", "roformer-chinese-base"))
        assert all(not f.sha256 for f in entry.files.values())  # no digest is invented


def test_docs_table_matches_the_configs():
    """docs/models.md states each name's architecture and parameter count; keep it true."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "models.md").read_text(encoding="utf-8")
    for name in NAMES:
        row = re.search(rf"^\| `{re.escape(name)}` \|(.*)$", text, re.M)
        assert row, name
        cells = [c.strip() for c in row.group(1).split("|")]
        c = get_pretrained(name).config
        assert cells[:7] == [str(v) for v in (c.num_hidden_layers, c.hidden_size, c.embedding_size,
                                              c.num_attention_heads, c.intermediate_size, c.vocab_size,
                                              c.max_position_embeddings)], name
        assert cells[9] == f"{c.num_parameters() / 1e6:.1f}M", name
