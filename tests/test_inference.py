"""export_model and Predictor: exported graphs match eager, dynamic shapes, precisions, ONNX, errors, CLI."""
import json
import os

import numpy as np
import paddle
import pytest

import paddle_roformer as pr
from paddle_roformer.heads import MODEL_CLASSES
from paddle_roformer.inference import Predictor, cpu_supports_bf16, export_model
from _helpers import batch_for, padded_batch, tiny_config


def _eager(model, *arrays):
    with paddle.no_grad():
        out = model(*(None if a is None else paddle.to_tensor(a) for a in arrays))
    out = out if isinstance(out, (tuple, list)) else (out,)
    return tuple(t.numpy() for t in out)


def _max_diff(ours, eager):
    assert len(ours) == len(eager)
    for a, b in zip(ours, eager):
        assert a.shape == b.shape, (a.shape, b.shape)
    return max(float(np.abs(a - b).max()) for a, b in zip(ours, eager))


def _cosine(ours, eager):
    a = np.concatenate([x.ravel() for x in ours]).astype("float64")
    b = np.concatenate([x.ravel() for x in eager]).astype("float64")
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


@pytest.fixture(scope="module")
def backbone(tmp_path_factory):
    """A RoFormerModel exported as paddle + ONNX, and the eager model."""
    paddle.seed(0)
    model = pr.RoFormerModel(tiny_config(rotary_value=True))
    model.eval()
    out = export_model(model, tmp_path_factory.mktemp("export") / "backbone", format="onnx")
    return model, out


@pytest.mark.parametrize("name", list(MODEL_CLASSES))
def test_fp32_predictor_matches_eager_for_every_class(name, tmp_path):
    paddle.seed(0)
    config = tiny_config(num_choices=None) if name == "RoFormerForMultipleChoice" else tiny_config()
    model = MODEL_CLASSES[name](config)
    model.train()
    out = export_model(model, tmp_path / "out")
    assert model.training  # restored
    model.eval()
    arrays = batch_for(config, name)
    predictor = Predictor(out, threads=1)
    diff = _max_diff(predictor.predict(*arrays), _eager(model, *arrays))
    assert diff <= 1e-4, diff
    record = json.loads((tmp_path / "out" / "export.json").read_text())
    assert record["class"] == name and len(record["output_names"]) == len(_eager(model, *arrays))
    assert sorted(os.listdir(out)) == ["config.json", "export.json", "inference.json", "inference.pdiparams"]


def test_dynamic_batch_and_length(backbone):
    model, out = backbone
    predictor = Predictor(out, threads=1)
    assert model.config.max_position_embeddings < 130
    for batch, seq_len in ((3, 11), (1, 130)):  # 130 > max_position_embeddings
        arrays = padded_batch(model.config.vocab_size, 2, batch, seq_len)
        assert _max_diff(predictor.predict(*arrays), _eager(model, *arrays)) <= 1e-4


def test_optional_inputs_default_like_eager(backbone):
    model, out = backbone
    ids, types, _ = padded_batch(model.config.vocab_size, 2, 3, 11)
    predictor = Predictor(out, threads=1)
    assert _max_diff(predictor.predict(ids), _eager(model, ids)) <= 1e-4
    assert _max_diff(predictor.predict(ids.tolist(), types.tolist()), _eager(model, ids, types)) <= 1e-4


def test_onnxruntime_matches_eager(backbone):
    pytest.importorskip("onnxruntime")
    model, out = backbone
    predictor = Predictor(out, backend="onnxruntime", threads=1)
    for batch, seq_len in ((3, 11), (2, 130)):
        arrays = padded_batch(model.config.vocab_size, 2, batch, seq_len)
        assert _max_diff(predictor.predict(*arrays), _eager(model, *arrays)) <= 1e-4
    ids = padded_batch(model.config.vocab_size, 2, 3, 11)[0]
    assert _max_diff(predictor.predict(ids), _eager(model, ids)) <= 1e-4


def test_int8_onnxruntime_is_close(backbone):
    pytest.importorskip("onnxruntime")
    model, out = backbone
    arrays = padded_batch(model.config.vocab_size, 2, 3, 11)
    cosine = _cosine(Predictor(out, precision="int8", backend="onnxruntime", threads=1).predict(*arrays),
                     _eager(model, *arrays))
    assert cosine >= 0.999, cosine


def test_int8_paddle_backend_refused(backbone):
    with pytest.raises(ValueError, match="int8.*calibration.*onnxruntime"):
        Predictor(backbone[1], precision="int8")


def test_bf16(backbone):
    model, out = backbone
    if not cpu_supports_bf16():
        with pytest.raises(ValueError, match="lacks bfloat16"):
            Predictor(out, precision="bf16")
        pytest.skip("this CPU has neither AVX512-BF16 nor AMX: bf16 is refused (checked above)")
    arrays = padded_batch(model.config.vocab_size, 2, 3, 11)
    cosine = _cosine(Predictor(out, precision="bf16", threads=1).predict(*arrays), _eager(model, *arrays))
    assert cosine >= 0.999, cosine


def test_fp16_needs_gpu(backbone):
    if paddle.is_compiled_with_cuda():
        pytest.skip("Paddle has CUDA here")
    with pytest.raises(ValueError, match="fp16.*GPU"):
        Predictor(backbone[1], precision="fp16")


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(input_ids=[[1.5, 2.0]]), TypeError, "input_ids must hold integers"),
    (dict(input_ids=[1, 2, 3]), ValueError, r"input_ids must have rank 2"),
    (dict(input_ids=[[1, 2, 97]]), ValueError, r"input_ids must lie in \[0, 97\)"),
    (dict(input_ids=[[1, 2]], token_type_ids=[[0, 0, 0]]), ValueError, "token_type_ids must have the shape"),
    (dict(input_ids=[[1, 2]], attention_mask=[[1], [1]]), ValueError, "attention_mask must have the shape"),
    (dict(input_ids=np.zeros((2, 0), "int64")), ValueError, "at least one token"),
])
def test_bad_inputs(backbone, kwargs, error, match):
    with pytest.raises(error, match=match):
        Predictor(backbone[1], threads=1).predict(**kwargs)


def test_bad_arguments(backbone, tmp_path):
    with pytest.raises(ValueError, match="precision must be one of"):
        Predictor(backbone[1], precision="fp8")
    with pytest.raises(ValueError, match="threads must be an integer >= 1, got 0"):
        Predictor(backbone[1], threads=0)
    with pytest.raises(ValueError, match="backend must be one of"):
        Predictor(backbone[1], backend="tvm")
    with pytest.raises(FileNotFoundError, match="export.json"):
        Predictor(tmp_path)
    with pytest.raises(ValueError, match="format must be one of"):
        export_model(backbone[0], tmp_path / "x", format="tflite")
    assert not (tmp_path / "x").exists()


def test_repr(backbone):
    text = repr(Predictor(backbone[1], threads=1))
    for part in (backbone[1], "'fp32'", "threads=1", "'paddle'"):
        assert part in text


def test_existing_dir_refused_unless_overwrite(backbone, tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "keep.txt").write_text("x")
    with pytest.raises(ValueError, match="not empty.*overwrite=True"):
        export_model(backbone[0], target)
    assert os.listdir(target) == ["keep.txt"]
    export_model(backbone[0], target, overwrite=True)
    assert "keep.txt" not in os.listdir(target) and "export.json" in os.listdir(target)
    assert os.listdir(tmp_path) == ["out"]  # no staging or old dir left


def test_failed_export_leaves_nothing(backbone, tmp_path, monkeypatch):
    import paddle_roformer.inference as inference

    def fail(staging, opset):
        raise RuntimeError("conversion failed")

    monkeypatch.setattr(inference, "_convert_onnx", fail)
    with pytest.raises(RuntimeError, match="conversion failed"):
        export_model(backbone[0], tmp_path / "out", format="onnx")
    assert os.listdir(tmp_path) == []


def test_cli_export(tmp_path, capsys):
    from paddle_roformer.cli import main

    config = tiny_config()
    model = pr.RoFormerForTokenClassification(config)
    model.save_pretrained(str(tmp_path / "model"))
    assert main(["export", str(tmp_path / "model"), str(tmp_path / "out"), "--max-seq-len", "64"]) == 0
    record = json.loads((tmp_path / "out" / "export.json").read_text())
    assert record["class"] == "RoFormerForTokenClassification" and record["tested_max_seq_len"] == 64
    ids = padded_batch(config.vocab_size)[0]
    model.eval()
    assert _max_diff(Predictor(tmp_path / "out", threads=1).predict(ids), _eager(model, ids)) <= 1e-4

    assert main(["export", str(tmp_path / "model"), str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "not empty" in err[0]
    assert main(["export", str(tmp_path / "model"), str(tmp_path / "o2"), "--class", "RoFormerForQA"]) == 1
    assert "Unknown model class" in capsys.readouterr().err


# ---------------------------------------------------------------------------- compile


@pytest.mark.parametrize("cls", [pr.RoFormerModel, pr.RoFormerForSequenceClassification])
def test_compile_keeps_the_call_and_outputs(cls):
    paddle.seed(0)
    config = tiny_config()
    model = cls(config)
    model.train()
    compiled = pr.compile(model, threads=1)
    assert model.training  # left as it was
    model.eval()
    ids, types, mask = padded_batch(config.vocab_size, 2, 3, 11)
    with paddle.no_grad():
        eager = model(paddle.to_tensor(ids), paddle.to_tensor(types), paddle.to_tensor(mask))
    got = compiled(paddle.to_tensor(ids), paddle.to_tensor(types), paddle.to_tensor(mask))
    assert type(got) is type(eager)  # a tuple stays a tuple, a single tensor stays unwrapped
    for a, b in zip(got if isinstance(got, tuple) else (got,), eager if isinstance(eager, tuple) else (eager,)):
        assert isinstance(a, paddle.Tensor)
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-4)
    default = compiled(paddle.to_tensor(ids))  # mask from the pad ids, as eager does
    with paddle.no_grad():
        eager_default = model(paddle.to_tensor(ids))
    first = (lambda x: x[0] if isinstance(x, tuple) else x)
    np.testing.assert_allclose(first(default).numpy(), first(eager_default).numpy(), atol=1e-4)
    assert cls.__name__ in repr(compiled)
    workdir = compiled._workdir
    assert os.path.isdir(workdir)
    compiled.close()
    assert not os.path.exists(workdir)


def test_compile_failure_leaves_no_files(monkeypatch, tmp_path):
    import tempfile

    from paddle_roformer import inference

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(ValueError, match="precision"):
        pr.compile(pr.RoFormerModel(tiny_config()), precision="fp8")
    assert os.listdir(tmp_path) == []
    assert inference.compile is pr.compile


_RACE = """
import sys
import paddle_roformer as pr
from paddle_roformer.inference import export_model
model = pr.RoFormerModel.from_pretrained(sys.argv[1])
try:
    export_model(model, sys.argv[2], overwrite=sys.argv[3] == "1")
except FileExistsError as err:
    print("refused:", err)
    sys.exit(3)
"""


@pytest.mark.parametrize("overwrite", [False, True])
def test_two_processes_exporting_into_one_directory(backbone, tmp_path, overwrite):
    """Whoever loses the race gets FileExistsError (or both succeed when overwriting); the result is whole."""
    import subprocess
    import sys

    model_dir = tmp_path / "model"
    model = backbone[0]
    model.save_pretrained(str(model_dir))
    out = tmp_path / "out"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    procs = [subprocess.Popen([sys.executable, "-c", _RACE, str(model_dir), str(out), "1" if overwrite else "0"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    codes = [p.wait(timeout=300) for p in procs]
    outputs = [p.stdout.read() + p.stderr.read() for p in procs]
    assert set(codes) <= {0, 3}, outputs
    assert 0 in codes
    if not overwrite:
        assert sorted(codes) == [0, 3], outputs
    assert sorted(os.listdir(tmp_path)) == ["model", "out"]  # no staging or old dirs left beside it
    ids, types, mask = padded_batch(64, seq_len=7)
    got = Predictor(str(out)).predict(ids, types, mask)
    assert _max_diff(got, _eager(model, ids, types, mask)) <= 1e-4
