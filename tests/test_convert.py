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
from _helpers import batch_for, max_diff, random_hf_model, tiny_config

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
    assert sorted(os.listdir(tmp_path / "dst")) == ["config.json", "keep.txt", "model_state.pdparams"]
    assert (tmp_path / "dst" / "keep.txt").read_text() == "mine"


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


# ---------------------------------------------------------------------------- DST never costs a file


def snapshot(directory):
    """{relative path: bytes} of every file below ``directory``."""
    out = {}
    for root, _, files in os.walk(directory):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, directory)] = f.read()
    return out


@pytest.fixture
def hf_src(tmp_path):
    """A saved HF token-classification checkpoint in tmp_path/models/src, with a file of the user's beside it."""
    src = save_hf(hf_model("RoFormerForTokenClassification"), str(tmp_path / "models" / "src"), "safetensors")
    (tmp_path / "models" / "README.txt").write_text("the user's notes")
    return src


def test_dst_that_is_src_is_refused(hf_src, capsys):
    before = snapshot(hf_src)
    for extra in ([], ["--force"]):
        assert convert.main([hf_src, hf_src] + extra) == 1
        assert "is SRC" in capsys.readouterr().err
        assert snapshot(hf_src) == before
    weights = os.path.join(hf_src, "model.safetensors")
    config = os.path.join(hf_src, "config.json")
    assert convert.main([weights, weights, "--config", config, "--force"]) == 1  # a weights file as DST
    assert "is SRC" in capsys.readouterr().err
    assert snapshot(hf_src) == before


def test_dst_holding_src_is_refused(hf_src, tmp_path, capsys):
    models = str(tmp_path / "models")
    before = snapshot(models)
    assert convert.main([hf_src, models, "--force"]) == 1
    assert "is inside DST" in capsys.readouterr().err
    assert snapshot(models) == before
    # the same for a --config that lies inside DST: --force would replace it
    weights = os.path.join(hf_src, "model.safetensors")
    assert convert.main([weights, str(tmp_path / "out"), "--config", os.path.join(hf_src, "config.json")]) == 0
    config_before = (tmp_path / "out" / "config.json").read_bytes()
    assert convert.main([weights, str(tmp_path / "out"), "--config", str(tmp_path / "out" / "config.json"),
                         "--force"]) == 1
    err = capsys.readouterr().err
    assert "--config" in err and "is inside DST" in err
    assert (tmp_path / "out" / "config.json").read_bytes() == config_before


def test_dst_inside_src_is_fine(hf_src):
    before = snapshot(hf_src)
    dst = os.path.join(hf_src, "paddle")
    assert convert.main([hf_src, dst]) == 0
    after = snapshot(hf_src)
    assert {k: v for k, v in after.items() if not k.startswith("paddle")} == before
    assert sorted(os.listdir(dst)) == ["config.json", "model_state.pdparams"]


def test_current_home_and_root_directories_are_refused(hf_src, tmp_path, monkeypatch, capsys):
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("keep me")
    monkeypatch.chdir(work)
    for dst in (".", str(work), "../work"):
        assert convert.main([hf_src, dst, "--force"]) == 1
        assert "is the current directory" in capsys.readouterr().err
    assert snapshot(work) == {"notes.txt": b"keep me"}
    home = tmp_path / "home"
    home.mkdir()
    (home / ".profile").write_text("keep me too")
    monkeypatch.setenv("HOME", str(home))
    assert convert.main([hf_src, str(home), "--force"]) == 1
    assert "is the home directory" in capsys.readouterr().err
    assert snapshot(home) == {".profile": b"keep me too"}
    assert convert.main([hf_src, os.sep]) == 1
    assert "is the root directory" in capsys.readouterr().err


def test_dst_is_checked_before_anything_is_read(hf_src, capsys, monkeypatch):
    def read(*args, **kwargs):
        raise AssertionError("SRC was read before DST was checked")

    monkeypatch.setattr(convert, "_read_safetensors", read)
    monkeypatch.setattr(convert, "_read_torch", read)
    assert convert.main([hf_src, hf_src]) == 1
    assert "is SRC" in capsys.readouterr().err


def test_force_replaces_only_the_converters_files(hf_src, tmp_path, capsys):
    dst = tmp_path / "dst"
    (dst / "runs").mkdir(parents=True)
    (dst / "runs" / "log.txt").write_text("training log")
    (dst / "keep.txt").write_text("mine")
    (dst / "config.json").write_text("{}")  # an older model: its config and weights are replaced
    (dst / "model.safetensors").write_bytes(b"older weights that from_pretrained would prefer")
    assert convert.main([hf_src, str(dst), "--force"]) == 0
    out = capsys.readouterr().out
    assert "removed the older model.safetensors" in out
    assert sorted(os.listdir(dst)) == ["config.json", "keep.txt", "model_state.pdparams", "runs"]
    assert (dst / "keep.txt").read_text() == "mine" and (dst / "runs" / "log.txt").read_text() == "training log"
    hf = hf_model("RoFormerForTokenClassification")
    assert compare(hf, str(dst), "RoFormerForTokenClassification") <= 1e-4
    # tokenizer files are replaced only when the conversion writes them
    (dst / "vocab.txt").write_text("[PAD]\n[UNK]\n")
    assert convert.main([hf_src, str(dst), "--force"]) == 0
    assert (dst / "vocab.txt").read_text() == "[PAD]\n[UNK]\n"
    assert not [p for p in os.listdir(dst) if p.startswith(".")]  # no staging left


def test_failed_conversion_with_force_leaves_dst_as_it_was(tmp_path, capsys):
    good = save_hf(hf_model("RoFormerForMaskedLM"), str(tmp_path / "good"), "bin")
    dst = tmp_path / "dst"
    assert convert.main([good, str(dst)]) == 0
    (dst / "keep.txt").write_text("mine")
    before = snapshot(dst)
    bad = _broken(tmp_path, lambda s, d: s.pop("roformer.encoder.layer.1.output.dense.weight"))
    assert convert.main([bad, str(dst), "--force"]) == 1
    assert "missing" in capsys.readouterr().err
    assert convert.main([good, str(dst), "--force", "--verify", "--tolerance", "0"]) == 1
    assert "verification failed" in capsys.readouterr().err
    assert snapshot(dst) == before
    assert sorted(os.listdir(dst)) == sorted(before)  # no staging directory left inside DST either
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]


def test_force_killed_between_moves_leaves_a_refused_dst(hf_src, tmp_path, monkeypatch):
    from paddle_roformer.checkpoint import InterruptedSaveError

    dst = tmp_path / "dst"
    assert convert.main([hf_src, str(dst)]) == 0
    real_replace = os.replace

    def killed_after_the_weights(a, b):
        if b == str(dst / "config.json"):  # the move into DST, not the staging save
            raise KeyboardInterrupt("killed between the weights and the config")
        return real_replace(a, b)

    monkeypatch.setattr(convert.os, "replace", killed_after_the_weights)
    with pytest.raises(KeyboardInterrupt):
        convert.convert(hf_src, str(dst), force=True)
    monkeypatch.setattr(convert.os, "replace", real_replace)
    with pytest.raises(InterruptedSaveError, match="did not finish"):
        pr.RoFormerForTokenClassification.from_pretrained(str(dst))
    assert convert.main([hf_src, str(dst), "--force"]) == 0  # a complete conversion repairs it
    hf = hf_model("RoFormerForTokenClassification")
    assert compare(hf, str(dst), "RoFormerForTokenClassification") <= 1e-4


def test_staging_left_by_a_killed_conversion_is_removed_by_the_next(hf_src, tmp_path):
    dst = tmp_path / "dst"
    assert convert.main([hf_src, str(dst)]) == 0
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    leftover = dst / f".dst.{int(dead.stdout)}.abcd1234.converting"
    live = dst / f".dst.{os.getpid()}.efgh5678.converting"  # a conversion still running in this process
    for staging in (leftover, live):
        staging.mkdir()
        (staging / "model_state.pdparams").write_bytes(b"half-written")
    assert convert.main([hf_src, str(dst), "--force"]) == 0
    assert not leftover.exists() and live.exists()


@pytest.mark.parametrize("umask, dir_mode, file_mode", [(0o022, 0o755, 0o644), (0o002, 0o775, 0o664)],
                         ids=["umask022", "umask002"])
def test_written_files_follow_the_umask(hf_src, tmp_path, umask, dir_mode, file_mode):
    old = os.umask(umask)
    try:
        assert convert.main([hf_src, str(tmp_path / "dst")]) == 0
        (tmp_path / "existing").mkdir()
        (tmp_path / "existing" / "keep.txt").write_text("mine")
        assert convert.main([hf_src, str(tmp_path / "existing"), "--force"]) == 0
    finally:
        os.umask(old)
    assert (tmp_path / "dst").stat().st_mode & 0o777 == dir_mode
    for directory in ("dst", "existing"):
        for name in ("config.json", "model_state.pdparams"):
            assert (tmp_path / directory / name).stat().st_mode & 0o777 == file_mode, (directory, name)


def test_classes_come_from_the_one_table(tmp_path, monkeypatch):
    from paddle_roformer import heads

    built = []
    base = heads.MODEL_CLASSES["RoFormerForTokenClassification"]

    class Recorded(base):
        def __init__(self, *args, **kwargs):
            built.append(type(self).__name__)
            super().__init__(*args, **kwargs)

    Recorded.__name__ = Recorded.__qualname__ = base.__name__
    monkeypatch.setitem(heads.MODEL_CLASSES, "RoFormerForTokenClassification", Recorded)
    src = save_hf(hf_model("RoFormerForTokenClassification"), str(tmp_path / "src"), "safetensors")
    convert.convert(src, str(tmp_path / "dst"), verify=True)
    assert len(built) == 2  # the converted model, and the written one loaded by --verify


# ---------------------------------------------------------------------------- the roformer package (PyPI, 0.4.3)

# (class, constructor keyword arguments, config overrides): every head of the package
PACKAGE_CASES = [
    ("RoFormerModel", {}, {}),
    ("RoFormerModel", {"add_pooling_layer": True}, {"pooler_activation": "linear"}),  # a sim model's encoder
    ("RoFormerModel", {"add_pooling_layer": True}, {"pooler_activation": "tanh"}),
    ("RoFormerForMaskedLM", {}, {}),
    ("RoFormerForCausalLM", {}, {"is_decoder": True, "pooler_activation": "linear"}),  # RoFormer-Sim
    ("RoFormerForSequenceClassification", {}, {}),
    ("RoFormerForTokenClassification", {}, {}),
    ("RoFormerForQuestionAnswering", {}, {"num_labels": 2}),
    ("RoFormerForMultipleChoice", {}, {}),
]
# The package's LM heads tie tensors in a way transformers' safetensors writer refuses, so they
# save (and were published) as pytorch_model.bin only.
PACKAGE_PARAMS = [
    pytest.param(name, kwargs, overrides, layout, id=f"{name}-{'-'.join(map(str, overrides.values()))}{'-pooler' if kwargs else ''}-{layout}")
    for name, kwargs, overrides in PACKAGE_CASES
    for layout in (["bin"] if name.endswith("LM") else ["bin", "safetensors"])
]


def package_model(name, kwargs=None, seed=0, **overrides):
    """A tiny random model built with the roformer package's own classes, in eval mode."""
    roformer = pytest.importorskip("roformer")
    values = dict(vocab_size=97, embedding_size=24, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                  intermediate_size=40, max_position_embeddings=64, type_vocab_size=3, num_labels=5,
                  rotary_value=True)
    values.update(overrides)
    torch.manual_seed(seed)
    model = getattr(roformer, name)(roformer.RoFormerConfig(**values), **(kwargs or {})).eval()
    with torch.no_grad():
        for key, param in model.named_parameters():
            if "embed_positions" not in key:
                param.copy_((1.0 if "LayerNorm.weight" in key else 0.0) + 0.05 * torch.randn_like(param))
    return model


@pytest.mark.parametrize("name, kwargs, overrides, layout", PACKAGE_PARAMS)
def test_roformer_package_checkpoints(name, kwargs, overrides, layout, tmp_path):
    theirs = package_model(name, kwargs, **overrides)
    src = save_hf(theirs, str(tmp_path / "src"), layout)
    saved = json.loads((tmp_path / "src" / "config.json").read_text())
    assert {"norm_type", "use_bias", "pooler_activation"} <= set(saved)  # what made convert refuse them
    report = convert.convert(src, str(tmp_path / "dst"), verify=True)
    assert max(report.differences.values()) <= 1e-4
    has_pooler = kwargs.get("add_pooling_layer") or name == "RoFormerForCausalLM"
    if has_pooler:
        assert report.initialized == []
    else:
        assert all("pooler" in key for key in report.initialized)
    assert compare(theirs, str(tmp_path / "dst"), name) <= 1e-4

    config = json.loads((tmp_path / "dst" / "config.json").read_text())
    assert config["pool_act"] == overrides.get("pooler_activation", "tanh")
    assert not {"norm_type", "use_bias", "pooler_activation"} & set(config)
    assert config.get("is_decoder", False) is False  # the package's first pass is bidirectional
    if has_pooler:  # the pooler is carried over, with its activation
        ours = getattr(pr, name).from_pretrained(tmp_path / "dst")
        ids, types, mask = batch_for(ours.config, name)
        with torch.no_grad():
            ref = theirs(input_ids=torch.tensor(ids), token_type_ids=torch.tensor(types),
                         attention_mask=torch.tensor(mask), return_dict=True)
        backbone = ours if name == "RoFormerModel" else ours.roformer
        with paddle.no_grad():
            out = backbone(paddle.to_tensor(ids), paddle.to_tensor(types), paddle.to_tensor(mask), return_dict=True)
        assert max_diff(out.pooler_output, ref.pooler_output) <= 1e-4
        if name == "RoFormerModel":
            assert report.differences["pooler_output"] <= 1e-4  # --verify checks it too


def test_roformer_package_causal_lm_keeps_decoding_with_a_cache(tmp_path):
    """The package's decoder: a bidirectional pass over the prompt, then one token at a time with a cache."""
    theirs = package_model("RoFormerForCausalLM", is_decoder=True, pooler_activation="linear")
    convert.convert(save_hf(theirs, str(tmp_path / "src"), "bin"), str(tmp_path / "dst"))
    ours = pr.RoFormerForCausalLM.from_pretrained(tmp_path / "dst")
    rng = np.random.RandomState(0)
    prompt, steps = rng.randint(1, 97, size=(2, 7)), rng.randint(1, 97, size=(2, 3))
    with torch.no_grad():
        ref = theirs(input_ids=torch.tensor(prompt), use_cache=True, return_dict=True)
        past, ref_logits = ref.past_key_values, [ref.logits]
        for i in range(steps.shape[1]):
            ref = theirs(input_ids=torch.tensor(steps[:, i:i + 1]), past_key_values=past, use_cache=True,
                         attention_mask=torch.ones(2, 8 + i, dtype=torch.long), return_dict=True)
            past = ref.past_key_values
            ref_logits.append(ref.logits)
    with paddle.no_grad():
        out = ours(paddle.to_tensor(prompt), use_cache=True, return_dict=True)
        cache, logits = out.past_key_values, [out.logits]
        for i in range(steps.shape[1]):
            out = ours(paddle.to_tensor(steps[:, i:i + 1]), past_key_values=cache, use_cache=True, return_dict=True)
            cache = out.past_key_values
            logits.append(out.logits)
    for mine, reference in zip(logits, ref_logits):
        assert max_diff(mine, reference) <= 1e-4


@pytest.mark.parametrize(
    "settings",
    [{"norm_type": "rms_norm", "use_bias": False}, {"norm_type": "rms_norm"}, {"use_bias": False}],
)
def test_roformer_v2_is_refused(settings, tmp_path, capsys):
    theirs = package_model("RoFormerForMaskedLM", **settings)  # the package builds RoFormer-v2 from these
    src = save_hf(theirs, str(tmp_path / "src"), "bin")
    assert convert.main([src, str(tmp_path / "dst"), "--verify"]) == 1
    err = capsys.readouterr().err
    assert "RoFormer-v2 is not supported" in err
    for key, value in settings.items():
        assert f"{key}={value!r}" in err
    assert not (tmp_path / "dst").exists()
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]


def test_roformer_package_pooler_activation_must_be_known(tmp_path, capsys):
    src = save_hf(package_model("RoFormerModel", {"add_pooling_layer": True}), str(tmp_path / "src"), "bin")
    path = tmp_path / "src" / "config.json"
    path.write_text(json.dumps(dict(json.loads(path.read_text()), pooler_activation="mish")))
    assert convert.main([src, str(tmp_path / "dst")]) == 1
    assert "pooler_activation='mish'" in capsys.readouterr().err
    assert not (tmp_path / "dst").exists()


def test_safetensors_are_read_by_the_checkpoint_module(tmp_path, monkeypatch):
    """One reader of weight files: paddle_roformer.checkpoint, which needs no safetensors package."""
    from paddle_roformer import checkpoint

    hf = hf_model("RoFormerForMaskedLM")
    src = save_hf(hf, str(tmp_path / "src"), "sharded")
    read = []
    monkeypatch.setattr(convert, "read_safetensors", lambda path: read.append(path) or checkpoint.read_safetensors(path))
    for name in ("safetensors", "safetensors.numpy"):
        monkeypatch.setitem(sys.modules, name, None)  # importing it now raises ImportError
    assert convert.main([src, str(tmp_path / "dst")]) == 0
    assert len(read) > 1 and all(p.endswith(".safetensors") for p in read)
    assert compare(hf, str(tmp_path / "dst"), "RoFormerForMaskedLM") <= 1e-4
