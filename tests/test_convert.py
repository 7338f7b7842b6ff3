"""PyTorch -> Paddle conversion: every Hugging Face class, three file layouts, verification, failures."""
import json
import os
import subprocess
import sys

import numpy as np
import paddle
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("safetensors")

import paddle_roformer as pr
from paddle_roformer import convert
from _refs import batch_for, max_diff, random_hf_model
from conftest import tiny_config

ARCHITECTURES = sorted(convert.HF_ARCHITECTURES)
LAYOUTS = ["safetensors", "sharded", "bin"]


def save_hf(model, directory, layout):
    if layout == "safetensors":
        model.save_pretrained(directory, safe_serialization=True)
    elif layout == "sharded":
        model.save_pretrained(directory, safe_serialization=True, max_shard_size="40KB")
        assert os.path.isfile(os.path.join(directory, "model.safetensors.index.json"))
    else:
        model.save_pretrained(directory, safe_serialization=False)
        assert os.path.isfile(os.path.join(directory, "pytorch_model.bin"))
    return directory


def hf_model(architecture, config=None, seed=0):
    config = config or tiny_config(rotary_value=True)
    extra = {"is_decoder": True} if architecture == "RoFormerForCausalLM" else {}
    return random_hf_model(getattr(transformers, architecture), config, seed=seed, **extra)


def compare(hf, converted_dir, architecture):
    """Max abs diff of the main output between the HF model and ours loaded from converted_dir."""
    ours = getattr(pr, architecture).from_pretrained(converted_dir)
    config = ours.config
    ids, types, mask = batch_for(config, architecture)
    with torch.no_grad():
        ref = hf(input_ids=torch.tensor(ids), token_type_ids=torch.tensor(types), attention_mask=torch.tensor(mask))
    with paddle.no_grad():
        out = ours(paddle.to_tensor(ids), paddle.to_tensor(types), paddle.to_tensor(mask), return_dict=True)
    if architecture == "RoFormerModel":
        return max_diff(out.last_hidden_state, ref.last_hidden_state)
    if architecture == "RoFormerForQuestionAnswering":
        return max(max_diff(out.start_logits, ref.start_logits), max_diff(out.end_logits, ref.end_logits))
    return max_diff(out.logits, ref.logits)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_every_class_and_layout(architecture, layout, tmp_path):
    hf = hf_model(architecture)
    src = save_hf(hf, str(tmp_path / "src"), layout)
    assert convert.main([src, str(tmp_path / "dst")]) == 0
    assert sorted(os.listdir(tmp_path / "dst")) == ["config.json", "model_state.pdparams"]
    assert compare(hf, str(tmp_path / "dst"), architecture) <= 1e-4


@pytest.mark.parametrize("architecture", ["RoFormerForSequenceClassification", "RoFormerForMultipleChoice"])
def test_hf_heads_are_carried_over(architecture, tmp_path):
    hf = hf_model(architecture, tiny_config(embedding_size=32, hidden_act="relu"), seed=3)
    report = convert.convert(save_hf(hf, str(tmp_path / "src"), "safetensors"), str(tmp_path / "dst"), verify=True)
    assert max(report.differences.values()) <= 1e-4
    config = json.loads((tmp_path / "dst" / "config.json").read_text())
    assert config["head_type"] == "huggingface" and config["architectures"] == [architecture]


@pytest.mark.parametrize("name", ["roformer-chinese-base", "roformer-english-small-discriminator"])
def test_full_size_checkpoints(name, tmp_path, capsys):
    config = pr.RoFormerConfig.from_pretrained(name)
    torch.manual_seed(0)
    hf = transformers.RoFormerForMaskedLM(
        transformers.RoFormerConfig(**{k: v for k, v in config.to_dict().items() if k not in ("model_type",)})
    ).eval()
    src = save_hf(hf, str(tmp_path / "src"), "safetensors")
    assert convert.main([src, str(tmp_path / "dst"), "--verify"]) == 0
    out = capsys.readouterr().out
    diff = float(out.split("verify logits: max abs diff ")[1].split()[0])
    assert diff <= 1e-4
    assert "sha256 model_state.pdparams: " in out
    assert "initialised roformer.pooler.dense.weight" in out  # HF checkpoints carry no pooler


def test_verify_and_verbose_output(tmp_path, capsys):
    hf = hf_model("RoFormerForMaskedLM")
    src = save_hf(hf, str(tmp_path / "src"), "bin")  # .bin keeps the tied tensors under every name
    assert convert.main([src, str(tmp_path / "dst"), "--verify", "--verbose"]) == 0
    out = capsys.readouterr().out
    assert "roformer.encoder.layer.0.attention.self.query.weight -> roformer.encoder.layers.0.self_attn.q_proj.weight  (transposed)" in out
    for key in ("cls.predictions.decoder.weight", "cls.predictions.bias", "roformer.encoder.embed_positions.weight"):
        assert f"dropped {key}" in out
    digest = out.split("sha256 model_state.pdparams: ")[1].strip()
    assert digest == convert.sha256_of(str(tmp_path / "dst" / "model_state.pdparams"))


def test_single_weights_file_with_config(tmp_path):
    hf = hf_model("RoFormerForTokenClassification")
    src = save_hf(hf, str(tmp_path / "src"), "bin")
    weights = os.path.join(src, "pytorch_model.bin")
    assert convert.main([weights, str(tmp_path / "dst"), "--config", os.path.join(src, "config.json")]) == 0
    assert compare(hf, str(tmp_path / "dst"), "RoFormerForTokenClassification") <= 1e-4
    assert convert.main([weights, str(tmp_path / "dst2")]) == 1  # no --config


def test_pooler_of_the_roformer_package_is_kept(tmp_path):
    hf = hf_model("RoFormerModel")
    src = save_hf(hf, str(tmp_path / "src"), "bin")
    state = torch.load(os.path.join(src, "pytorch_model.bin"), weights_only=True)
    state["pooler.dense.weight"] = torch.randn(32, 32)
    state["pooler.dense.bias"] = torch.randn(32)
    torch.save(state, os.path.join(src, "pytorch_model.bin"))
    report = convert.convert(src, str(tmp_path / "dst"))
    assert report.initialized == []
    ours = pr.RoFormerModel.from_pretrained(tmp_path / "dst")
    np.testing.assert_array_equal(ours.pooler.dense.weight.numpy(), state["pooler.dense.weight"].numpy().T)


def test_half_precision_copies(tmp_path):
    hf = hf_model("RoFormerForMaskedLM")
    src = save_hf(hf, str(tmp_path / "src"), "safetensors")
    for dtype in ("float16", "bfloat16"):
        report = convert.convert(src, str(tmp_path / dtype), dtype=dtype, verify=True)
        state = paddle.load(str(tmp_path / dtype / "model_state.pdparams"))
        assert str(state["roformer.embeddings.word_embeddings.weight"].dtype).endswith(dtype)
        assert max(report.differences.values()) <= convert.DEFAULT_TOLERANCE[dtype]


def test_tokenizer_files_are_written(tmp_path):
    hf = hf_model("RoFormerForMaskedLM")
    src = save_hf(hf, str(tmp_path / "src"), "safetensors")
    (tmp_path / "src" / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "你", "好"]) + "\n",
                                                encoding="utf-8")
    (tmp_path / "src" / "tokenizer_config.json").write_text(json.dumps(
        {"do_lower_case": True, "tokenizer_class": "RoFormerTokenizer", "model_max_length": 512}))
    report = convert.convert(src, str(tmp_path / "dst"))
    assert report.tokenizer_files == ["special_tokens_map.json", "tokenizer_config.json", "vocab.txt"]
    tokenizer = pr.RoFormerTokenizer.from_pretrained(tmp_path / "dst")
    assert tokenizer.use_jieba and tokenizer.model_max_length == 512
    assert tokenizer("你好")["input_ids"] == [2, 5, 6, 3]


def test_console_script_and_module(tmp_path):
    hf = hf_model("RoFormerForQuestionAnswering")
    src = save_hf(hf, str(tmp_path / "src"), "safetensors")
    run = subprocess.run([sys.executable, "-m", "paddle_roformer.convert", src, str(tmp_path / "dst")],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "architecture: RoFormerForQuestionAnswering" in run.stdout
    from paddle_roformer import cli

    assert cli.main(["convert", src, str(tmp_path / "dst2")]) == 0


# ---------------------------------------------------------------------------- failures write nothing


def _broken(tmp_path, edit):
    hf = hf_model("RoFormerForMaskedLM")
    src = save_hf(hf, str(tmp_path / "src"), "bin")
    path = os.path.join(src, "pytorch_model.bin")
    state = torch.load(path, weights_only=True)
    edit(state, src)
    torch.save(state, path)
    return src


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda s, d: s.pop("roformer.encoder.layer.1.output.dense.weight"), "missing.*layer.1.output.dense.weight"),
        (lambda s, d: s.__setitem__("roformer.encoder.layer.1.extra.weight", torch.zeros(2)), "unexpected tensors.*extra.weight"),
        (lambda s, d: s.__setitem__("roformer.encoder.layer.0.intermediate.dense.weight", torch.zeros(41, 32)),
         r"intermediate.dense.weight: shape \[41, 32\] does not fit the config \(expects \[32, 40\]"),
        (lambda s, d: s.__setitem__("cls.predictions.decoder.weight", torch.zeros(97, 24)), "untied LM heads"),
    ],
)
def test_bad_checkpoints_fail_clearly(tmp_path, capsys, edit, message):
    src = _broken(tmp_path, edit)
    assert convert.main([src, str(tmp_path / "dst")]) == 1
    assert pytest.importorskip("re").search(message, capsys.readouterr().err)
    assert not (tmp_path / "dst").exists()
    assert [p for p in os.listdir(tmp_path) if p.startswith(".dst")] == []  # no staging left


def test_non_roformer_and_truncated(tmp_path, capsys):
    hf = hf_model("RoFormerModel")
    src = save_hf(hf, str(tmp_path / "src"), "safetensors")
    config = json.loads((tmp_path / "src" / "config.json").read_text())
    (tmp_path / "src" / "config.json").write_text(json.dumps(dict(config, model_type="bert")))
    assert convert.main([src, str(tmp_path / "dst")]) == 1
    assert "model_type='bert', not 'roformer'" in capsys.readouterr().err
    (tmp_path / "src" / "config.json").write_text(json.dumps(config))
    weights = tmp_path / "src" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    assert convert.main([src, str(tmp_path / "dst")]) == 1
    assert "truncated or corrupt" in capsys.readouterr().err
    assert not (tmp_path / "dst").exists()
    bin_src = save_hf(hf, str(tmp_path / "bin"), "bin")
    path = tmp_path / "bin" / "pytorch_model.bin"
    path.write_bytes(path.read_bytes()[:1000])
    assert convert.main([bin_src, str(tmp_path / "dst")]) == 1
    assert "not a readable PyTorch state dict" in capsys.readouterr().err


def test_existing_destination(tmp_path, capsys):
    hf = hf_model("RoFormerModel")
    src = save_hf(hf, str(tmp_path / "src"), "safetensors")
    (tmp_path / "dst").mkdir()
    (tmp_path / "dst" / "keep.txt").write_text("mine")
    assert convert.main([src, str(tmp_path / "dst")]) == 1
    assert "exists and is not empty; pass --force" in capsys.readouterr().err
    assert os.listdir(tmp_path / "dst") == ["keep.txt"]
    assert convert.main([src, str(tmp_path / "dst"), "--force"]) == 0
    assert sorted(os.listdir(tmp_path / "dst")) == ["config.json", "model_state.pdparams"]


def test_failed_verification_writes_nothing(tmp_path, capsys):
    hf = hf_model("RoFormerForMaskedLM")
    src = save_hf(hf, str(tmp_path / "src"), "safetensors")
    assert convert.main([src, str(tmp_path / "dst"), "--verify", "--tolerance", "0"]) == 1
    assert "verification failed" in capsys.readouterr().err
    assert not (tmp_path / "dst").exists()


def test_bin_without_torch_says_so(tmp_path, capsys, monkeypatch):
    hf = hf_model("RoFormerModel")
    src = save_hf(hf, str(tmp_path / "src"), "bin")
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    assert convert.main([src, str(tmp_path / "dst")]) == 1
    assert "reading pytorch_model.bin needs PyTorch" in capsys.readouterr().err
    assert not (tmp_path / "dst").exists()
