"""The training loop: optimisation, schedule, accumulation, clipping, checkpoints, resume, selection."""
import json
import os

import numpy as np
import paddle
import pytest

from paddle_roformer import RoFormerForSequenceClassification
from paddle_roformer.trainer import (
    EvalPrediction,
    Trainer,
    TrainingConfig,
    latest_checkpoint,
    linear_schedule,
    list_checkpoints,
    no_decay_parameter_names,
)

from _helpers import tiny_config

SEQ = 8


def token5_dataset(n, seed=0):
    """Label 1 when token 5 occurs in the sequence: learnable from the tokens alone."""
    rng = np.random.RandomState(seed)
    features = []
    for i in range(n):
        ids = rng.randint(6, 40, size=SEQ).astype("int64")
        label = i % 2
        if label:
            ids[rng.randint(SEQ)] = 5
        features.append({"input_ids": ids, "labels": np.int64(label), "example_id": np.int64(i)})
    return features


def make_model(dropout=0.0, seed=0):
    paddle.seed(seed)
    return RoFormerForSequenceClassification(tiny_config(
        num_labels=2, num_hidden_layers=2, hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout))


def accuracy(pred: EvalPrediction):
    return {"accuracy": float((pred.output(0).argmax(-1) == pred.feature("labels")).mean())}


def config(tmp_path, **overrides):
    values = dict(output_dir=str(tmp_path / "run"), learning_rate=1e-3, num_train_epochs=1,
                  per_device_train_batch_size=8, per_device_eval_batch_size=16, logging_steps=2,
                  save_steps=None, max_grad_norm=1.0, disable_progress=True, seed=7)
    values.update(overrides)
    return TrainingConfig(**values)


def params(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def assert_params_close(a, b, atol):
    assert a.keys() == b.keys()
    worst = max(float(np.abs(a[k] - b[k]).max()) for k in a)
    assert worst <= atol, worst


# ---------------------------------------------------------------------------- learning


def test_loss_goes_down_and_accuracy_rises(tmp_path):
    train, dev = token5_dataset(256, seed=0), token5_dataset(64, seed=1)
    model = make_model(dropout=0.1)
    trainer = Trainer(model, config(tmp_path, num_train_epochs=6, learning_rate=3e-3, warmup_ratio=0.1,
                                    logging_steps=4),
                      train, dev, compute_metrics=accuracy)
    before = trainer.evaluate()
    result = trainer.train()
    after = trainer.evaluate()
    losses = [r["loss"] for r in trainer.state["log_history"] if "loss" in r]
    assert np.mean(losses[-4:]) < 0.6 * np.mean(losses[:4])
    assert after["loss"] < 0.6 * before["loss"]
    assert after["accuracy"] >= 0.9 > before["accuracy"]
    assert result.global_step == 6 * 32
    assert result.training_loss == pytest.approx(np.mean(
        [r["loss"] for r in trainer.state["log_history"] if "loss" in r]), rel=1e-5)


def test_gradient_accumulation_matches_the_larger_batch(tmp_path):
    train = token5_dataset(32)
    a = make_model()
    Trainer(a, config(tmp_path / "a", per_device_train_batch_size=8, gradient_accumulation_steps=1,
                      num_train_epochs=2), train).train()
    b = make_model()
    trainer = Trainer(b, config(tmp_path / "b", per_device_train_batch_size=4, gradient_accumulation_steps=2,
                                num_train_epochs=2), train)
    result = trainer.train()
    assert result.global_step == 8
    assert_params_close(params(a), params(b), atol=2e-5)
    # ... and the comparison has teeth: without accumulation the small batches give other parameters
    c = make_model()
    Trainer(c, config(tmp_path / "c", per_device_train_batch_size=4, num_train_epochs=1), train).train()
    assert max(float(np.abs(params(a)[k] - params(c)[k]).max()) for k in params(a)) > 1e-3


def _first_moment_norm(trainer):
    # After one AdamW step moment1 = (1 - beta1) * the gradient the optimizer saw (after clipping).
    moments = [t.numpy() for t in trainer.optimizer._accumulators["moment1"].values()]
    return float(np.sqrt(sum((m.astype("float64") ** 2).sum() for m in moments))) / (1 - trainer.config.adam_beta1)


def test_clipping_bounds_the_gradient_that_is_applied(tmp_path):
    train = token5_dataset(8)
    raw = Trainer(make_model(), config(tmp_path / "raw", max_steps=1, max_grad_norm=None), train)
    raw.train()
    clipped = Trainer(make_model(), config(tmp_path / "clip", max_steps=1, max_grad_norm=0.02), train)
    clipped.train()
    assert _first_moment_norm(raw) > 5 * 0.02  # the unclipped gradient is well above the bound ...
    assert _first_moment_norm(clipped) == pytest.approx(0.02, rel=1e-3)  # ... and clipping scales it to it


def test_learning_rate_schedule_warmup_peak_and_end(tmp_path):
    assert [linear_schedule(s, 4, 10) for s in (0, 2, 4, 7, 10, 12)] == [0.0, 0.5, 1.0, 0.5, 0.0, 0.0]
    trainer = Trainer(make_model(), config(tmp_path, max_steps=10, warmup_steps=4, learning_rate=0.01,
                                           logging_steps=1), token5_dataset(16))
    trainer.train()
    lrs = [r["learning_rate"] for r in trainer.state["log_history"] if "learning_rate" in r]
    np.testing.assert_allclose(lrs, [0.0, 0.0025, 0.005, 0.0075, 0.01, 0.01 * 5 / 6, 0.01 * 4 / 6,
                                     0.005, 0.01 * 2 / 6, 0.01 / 6], rtol=1e-6)
    assert trainer.scheduler.get_lr() == pytest.approx(0.0)
    ratio = Trainer(make_model(), config(tmp_path / "r", max_steps=10, warmup_ratio=0.25), token5_dataset(16))
    ratio.train()
    assert ratio.warmup == 3  # ceil(0.25 * 10)


def test_no_weight_decay_on_biases_and_layer_norms(tmp_path):
    model = make_model()
    names = no_decay_parameter_names(model)
    assert "roformer.embeddings.layer_norm.weight" in names and "classifier.bias" in names
    assert "classifier.weight" not in names and "roformer.embeddings.word_embeddings.weight" not in names
    # With a zero learning-rate schedule apart from decay the effect is visible: use lr > 0 and
    # compare one AdamW step with and without decay; only the decayed parameters may differ.
    train = token5_dataset(8)
    runs = []
    for wd in (0.0, 0.5):
        m = make_model()
        Trainer(m, config(tmp_path / str(wd), max_steps=1, weight_decay=wd, learning_rate=0.1), train).train()
        runs.append(params(m))
    differ = {k for k in runs[0] if not np.allclose(runs[0][k], runs[1][k], atol=1e-7)}
    assert differ and not differ & set(names)
    assert "classifier.weight" in differ


# ---------------------------------------------------------------------------- selection


def test_early_stopping_stops_after_patience(tmp_path):
    train, dev = token5_dataset(32), token5_dataset(16, seed=3)
    seen = []

    def worsening(pred):  # a metric that never improves after the first evaluation
        seen.append(1)
        return {"score": -float(len(seen))}

    trainer = Trainer(make_model(), config(tmp_path, num_train_epochs=20, eval_steps=1,
                                           early_stopping_patience=2, metric_for_best_model="score"),
                      train, dev, compute_metrics=worsening)
    result = trainer.train()
    assert result.global_step == 3 and len(seen) == 3
    assert trainer.state["stopped_early"] and trainer.state["best_step"] == 1
    with open(tmp_path / "run" / "metrics.json") as f:
        assert json.load(f)["stopped_early"] is True


def test_best_checkpoint_has_the_best_metric_and_reloads_with_identical_predictions(tmp_path):
    train, dev = token5_dataset(32), token5_dataset(24, seed=5)
    scores, seen = iter([0.2, 0.9, 0.4, 0.5]), []

    def metric(pred):  # the best evaluation is the second of four (step 4): not the last, not the first
        seen.append(pred.output(0))
        return {"score": next(scores)}

    trainer = Trainer(make_model(), config(tmp_path, max_steps=8, eval_steps=2, learning_rate=3e-3,
                                           metric_for_best_model="score"), train, dev, compute_metrics=metric)
    trainer.train()
    assert (trainer.state["best_step"], trainer.state["best_metric"]) == (4, 0.9)
    assert not np.allclose(seen[1], seen[-1])  # the model changed after the best step
    reloaded = RoFormerForSequenceClassification.from_pretrained(str(tmp_path / "run" / "best"))
    again = Trainer(reloaded, config(tmp_path / "x"), None, dev)
    np.testing.assert_allclose(again.predict(dev).output(0), seen[1], rtol=0, atol=1e-6)
    assert again.evaluate()["loss"] == pytest.approx(trainer.state["best_eval"]["loss"], abs=1e-6)


def test_greater_is_better_is_derived_from_the_metric_name(tmp_path):
    assert not config(tmp_path).higher_is_better
    assert not config(tmp_path, metric_for_best_model="eval_loss").higher_is_better
    assert config(tmp_path, metric_for_best_model="accuracy").higher_is_better
    assert not config(tmp_path, metric_for_best_model="accuracy", greater_is_better=False).higher_is_better


def test_metrics_json_and_predict_keep_extra_keys(tmp_path):
    train, dev = token5_dataset(32), token5_dataset(20, seed=2)
    trainer = Trainer(make_model(), config(tmp_path, num_train_epochs=2, metric_for_best_model="accuracy"),
                      train, dev, compute_metrics=accuracy)
    result = trainer.train()
    with open(tmp_path / "run" / "metrics.json") as f:
        metrics = json.load(f)
    assert metrics == json.loads(json.dumps(result.metrics))
    assert metrics["global_step"] == 8 and metrics["epoch"] == 2.0
    assert metrics["train_loss"] == pytest.approx(result.training_loss)
    assert metrics["train_samples"] == 64 and metrics["train_samples_per_second"] > 0
    assert metrics["train_runtime"] > 0
    assert set(metrics["eval"]) == {"loss", "accuracy"}
    assert metrics["best_step"] in (4, 8) and metrics["metric_for_best_model"] == "accuracy"
    assert metrics["best_metric"] == metrics["best_eval"]["accuracy"] >= metrics["eval"]["accuracy"]
    assert not [n for n in os.listdir(tmp_path / "run") if n.startswith(".")]  # no temp files left
    pred = trainer.predict(dev)
    assert [len(b["example_id"]) for b in pred.batches] == [16, 4]  # keys the model does not take stay
    assert [p[0].shape for p in pred.predictions] == [(16, 2), (4, 2)]
    np.testing.assert_array_equal(pred.feature("example_id"), np.arange(20))


# ---------------------------------------------------------------------------- checkpoints and resume


def test_resume_from_a_mid_run_checkpoint_ends_with_identical_parameters(tmp_path):
    train = token5_dataset(40)  # 5 batches of 8, accumulation 2: 3 steps per epoch, the last one short
    common = dict(num_train_epochs=3, gradient_accumulation_steps=2, save_steps=2, weight_decay=0.01,
                  warmup_steps=2)
    full = make_model(dropout=0.2)
    Trainer(full, config(tmp_path / "full", **common), train).train()
    want = params(full)

    first = make_model(dropout=0.2)
    cfg = config(tmp_path / "part", **common)
    with pytest.raises(KeyboardInterrupt):
        _interrupt_after(Trainer(first, cfg, train), step=5)
    assert [s for s, _ in list_checkpoints(cfg.output_dir)] == [2, 4]
    with open(os.path.join(cfg.output_dir, "checkpoint-4", "trainer_state.json")) as f:
        state = json.load(f)
    assert (state["global_step"], state["epoch"], state["batch_in_epoch"]) == (4, 1, 2)

    resumed = make_model(dropout=0.2, seed=99)  # other initial weights: all must come from the checkpoint
    trainer = Trainer(resumed, config(tmp_path / "part", resume_from_checkpoint=True, **common), train)
    result = trainer.train()
    assert result.global_step == 9
    assert_params_close(params(resumed), want, atol=1e-6)
    # dropout is on, so a run that ignored the step seeds or the data position would differ
    other = make_model(dropout=0.2)
    Trainer(other, config(tmp_path / "seed", seed=8, **common), train).train()
    assert max(float(np.abs(params(other)[k] - want[k]).max()) for k in want) > 1e-4


def _interrupt_after(trainer, step):
    """Run trainer.train() and raise KeyboardInterrupt once ``step`` optimizer steps are done."""
    real_seed = paddle.seed

    def seed(value):
        if trainer.state.get("global_step") == step:
            raise KeyboardInterrupt
        return real_seed(value)

    paddle.seed = seed
    try:
        trainer.train()
    finally:
        paddle.seed = real_seed


def test_a_save_killed_half_way_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    import paddle_roformer.trainer as trainer_module

    train = token5_dataset(32)
    cfg = config(tmp_path, num_train_epochs=2, save_steps=2)
    calls = {"n": 0}
    real_write = trainer_module._write_json

    def failing_write(path, value):
        if path.endswith("trainer_state.json") and "checkpoint-4" in path:
            calls["n"] += 1
            raise OSError("disk full (simulated)")
        return real_write(path, value)

    monkeypatch.setattr(trainer_module, "_write_json", failing_write)
    with pytest.raises(OSError, match="simulated"):
        Trainer(make_model(), cfg, train).train()
    assert calls["n"] == 1
    assert [s for s, _ in list_checkpoints(cfg.output_dir)] == [2]
    assert latest_checkpoint(cfg.output_dir).endswith("checkpoint-2")
    # a staging directory left by a killed process (its pid is gone) is ignored, then removed
    stale = os.path.join(cfg.output_dir, "checkpoint-4.tmp-999999999")
    os.makedirs(stale)
    with open(os.path.join(stale, "trainer_state.json"), "w") as f:
        f.write("{")
    assert latest_checkpoint(cfg.output_dir).endswith("checkpoint-2")
    RoFormerForSequenceClassification.from_pretrained(os.path.join(cfg.output_dir, "checkpoint-2"))

    monkeypatch.setattr(trainer_module, "_write_json", real_write)
    resumed = make_model(seed=5)
    trainer = Trainer(resumed, config(tmp_path, num_train_epochs=2, save_steps=2, resume_from_checkpoint=True),
                      train)
    result = trainer.train()
    assert result.global_step == 8
    assert not os.path.exists(stale)
    full = make_model()
    Trainer(full, config(tmp_path / "full", num_train_epochs=2), train).train()
    assert_params_close(params(resumed), params(full), atol=1e-6)


def test_save_total_limit_prunes_the_oldest_but_never_the_best(tmp_path):
    train, dev = token5_dataset(16), token5_dataset(8, seed=4)
    scores = iter([5.0, 1.0, 2.0, 3.0, 4.0, 0.0])

    def metric(pred):
        return {"score": next(scores)}

    trainer = Trainer(make_model(), config(tmp_path, max_steps=6, per_device_train_batch_size=4, save_steps=1,
                                           save_total_limit=2, eval_steps=1, metric_for_best_model="score"),
                      train, dev, compute_metrics=metric)
    trainer.train()
    assert trainer.state["best_step"] == 1
    assert [s for s, _ in list_checkpoints(trainer.output_dir)] == [1, 6]
    unlimited = Trainer(make_model(), config(tmp_path / "all", max_steps=3, save_steps=1), train)
    unlimited.train()
    assert [s for s, _ in list_checkpoints(unlimited.output_dir)] == [1, 2, 3]


def test_resume_refuses_a_checkpoint_of_another_schedule(tmp_path):
    train = token5_dataset(16)
    Trainer(make_model(), config(tmp_path, max_steps=2, save_steps=1), train).train()
    with pytest.raises(ValueError, match="2 steps"):
        Trainer(make_model(), config(tmp_path, max_steps=5, resume_from_checkpoint=True), train).train()
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        Trainer(make_model(), config(tmp_path / "empty", resume_from_checkpoint=True), train).train()


# ---------------------------------------------------------------------------- configuration


@pytest.mark.parametrize("field, value, message", [
    ("learning_rate", 0, "learning_rate must be a finite number > 0"),
    ("num_train_epochs", -1, "num_train_epochs"),
    ("per_device_train_batch_size", 0, "per_device_train_batch_size must be an integer >= 1"),
    ("gradient_accumulation_steps", 1.5, "gradient_accumulation_steps"),
    ("max_steps", 0, "max_steps must be None or an integer >= 1"),
    ("warmup_ratio", 1.0, r"warmup_ratio must be in \[0, 1\)"),
    ("weight_decay", -0.1, "weight_decay"),
    ("max_grad_norm", -1.0, "max_grad_norm"),
    ("amp", "fp8", "amp must be one of"),
    ("eval_steps", 0, "eval_steps"),
    ("save_total_limit", 0, "save_total_limit"),
    ("early_stopping_patience", True, "early_stopping_patience"),
    ("resume_from_checkpoint", 3, "resume_from_checkpoint"),
])
def test_bad_config_values_name_the_field_and_bound(tmp_path, field, value, message):
    with pytest.raises(ValueError, match=message):
        config(tmp_path, **{field: value})


def test_config_is_frozen_and_exclusive_warmup(tmp_path):
    cfg = config(tmp_path)
    with pytest.raises(Exception):
        cfg.learning_rate = 1.0
    with pytest.raises(ValueError, match="not both"):
        config(tmp_path, warmup_steps=2, warmup_ratio=0.1)
    with pytest.raises(ValueError, match="early_stopping_patience needs an eval_dataset"):
        Trainer(make_model(), config(tmp_path, early_stopping_patience=1), token5_dataset(4))


@pytest.mark.skipif(paddle.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0,
                    reason="checks the CPU refusal")
@pytest.mark.parametrize("amp", ["fp16", "bf16"])
def test_amp_on_cpu_is_refused_clearly(tmp_path, amp):
    with pytest.raises(ValueError, match=f"amp='{amp}' needs a GPU"):
        Trainer(make_model(), config(tmp_path, amp=amp), token5_dataset(4))


def test_unknown_best_metric_is_a_clear_error(tmp_path):
    trainer = Trainer(make_model(), config(tmp_path, max_steps=1, metric_for_best_model="f1"),
                      token5_dataset(8), token5_dataset(8))
    with pytest.raises(KeyError, match="'f1' is not among the evaluation metrics"):
        trainer.train()


# ---------------------------------------------------------------------------- several processes

_DIST_SCRIPT = """
import sys
from pathlib import Path
import numpy as np
from test_trainer import config, make_model, token5_dataset
from paddle_roformer.trainer import Trainer

out, batch_size = Path(sys.argv[1]), int(sys.argv[2])
model = make_model()
trainer = Trainer(model, config(out, per_device_train_batch_size=batch_size, num_train_epochs=2, save_steps=2),
                  token5_dataset(16))
trainer.train()
np.savez(out / f"params-{trainer.rank}.npz", **{k: v.numpy() for k, v in model.state_dict().items()})
print("RANK", trainer.rank, "OF", trainer.world_size, flush=True)
"""


@pytest.mark.skipif(paddle.is_compiled_with_cuda(), reason="the CPU (gloo) proof; a GPU build launches on GPUs")
def test_two_processes_on_cpu_match_one_process_with_the_global_batch(tmp_path):
    """Two ranks of 4 examples (gloo on CPU, DataParallel averaging) = one process of 8; rank 0 alone saves."""
    import subprocess
    import sys

    script = tmp_path / "dist_train.py"
    script.write_text(_DIST_SCRIPT)
    tests_dir = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([tests_dir, os.path.dirname(tests_dir)]))
    launch = [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2",
              "--log_dir", str(tmp_path / "log"), str(script), str(tmp_path / "two"), "4"]
    done = subprocess.run(launch, env=env, capture_output=True, text=True, timeout=300)
    logs = "".join(p.read_text() for p in sorted((tmp_path / "log").glob("workerlog.*")))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:] + logs[-3000:]
    assert "RANK 0 OF 2" in logs and "RANK 1 OF 2" in logs
    rank0, rank1 = ((tmp_path / "log" / f"workerlog.{r}").read_text() for r in (0, 1))
    assert "done: train_loss=" in rank0 and "done: train_loss=" not in rank1  # only rank 0 logs
    single = subprocess.run([sys.executable, str(script), str(tmp_path / "one"), "8"], env=env,
                            capture_output=True, text=True, timeout=300)
    assert single.returncode == 0, single.stderr[-3000:]
    one = np.load(tmp_path / "one" / "params-0.npz")
    for rank in (0, 1):  # both ranks hold the same parameters, equal to the single-process run's
        two = np.load(tmp_path / "two" / f"params-{rank}.npz")
        assert max(float(np.abs(one[k] - two[k]).max()) for k in one.files) < 2e-6
    with open(tmp_path / "two" / "run" / "metrics.json") as f, open(tmp_path / "one" / "run" / "metrics.json") as g:
        two_metrics, one_metrics = json.load(f), json.load(g)
    assert two_metrics["train_samples"] == one_metrics["train_samples"] == 32
    assert two_metrics["train_loss"] == pytest.approx(one_metrics["train_loss"], abs=1e-5)
    assert [s for s, _ in list_checkpoints(str(tmp_path / "two" / "run"))] == [2, 4]


def test_progress_bar_log_lines_and_visualdl(tmp_path, capsys, caplog):
    import importlib.util
    import logging

    caplog.set_level(logging.INFO, logger="paddle_roformer")
    trainer = Trainer(make_model(), config(tmp_path, max_steps=4, logging_steps=2, disable_progress=False),
                      token5_dataset(16), token5_dataset(8))
    trainer.train()
    bar = capsys.readouterr().err
    assert "4/4" in bar and "loss=" in bar and "lr=" in bar and "samples_s=" in bar
    lines = [r.getMessage() for r in caplog.records]
    assert [m.split()[1] for m in lines if m.startswith("step ") and " loss " in m] == ["2/4", "4/4"]
    assert any(m.startswith("step 4 eval: loss=") for m in lines)
    assert lines[-1].startswith("done: train_loss=")
    if importlib.util.find_spec("visualdl") is not None:
        assert os.listdir(tmp_path / "run" / "vdl")
    quiet = Trainer(make_model(), config(tmp_path / "quiet", max_steps=2), token5_dataset(16))
    quiet.train()
    assert "2/2" not in capsys.readouterr().err


def test_saving_the_same_step_again_replaces_the_checkpoint(tmp_path):
    train = token5_dataset(16)
    trainer = Trainer(make_model(), config(tmp_path, max_steps=2, save_steps=2), train)
    trainer.train()
    first = params(trainer.model)
    with paddle.no_grad():
        for p in trainer.model.parameters():
            p.set_value(p * 0 + 1)
    trainer.save_checkpoint()
    assert [s for s, _ in list_checkpoints(trainer.output_dir)] == [2]
    assert not [n for n in os.listdir(trainer.output_dir) if ".old-" in n or ".tmp-" in n]
    again = make_model(seed=3)
    Trainer(again, config(tmp_path, max_steps=2, resume_from_checkpoint=True), train).train()
    assert all(np.all(v == 1) for v in params(again).values() if v.dtype.kind == "f")
    assert any(not np.all(v == 1) for v in first.values())


class _Regressor(paddle.nn.Layer):
    """A plain Layer (no save_pretrained) whose forward returns (loss, prediction) or the prediction alone."""

    def __init__(self):
        super().__init__()
        self.linear = paddle.nn.Linear(3, 1)
        self.norm = paddle.nn.LayerNorm(3)

    def forward(self, x, labels=None):
        prediction = self.linear(self.norm(x)).squeeze(-1)
        if labels is None:
            return prediction
        return paddle.nn.functional.mse_loss(prediction, labels), prediction


def test_a_plain_layer_trains_checkpoints_and_resumes(tmp_path):
    rng = np.random.RandomState(0)
    xs = rng.randn(24, 3).astype("float32")
    data = [{"x": x, "labels": np.float32(x @ [1.0, -2.0, 0.5]), "note": np.int64(i)} for i, x in enumerate(xs)]
    common = dict(num_train_epochs=4, per_device_train_batch_size=6, save_steps=5, learning_rate=0.05)
    paddle.seed(0)
    full = _Regressor()
    result = Trainer(full, config(tmp_path / "full", **common), data, data).train()
    assert result.metrics["eval"]["loss"] < result.metrics["best_eval"]["loss"] + 1e-9
    assert os.path.isfile(tmp_path / "full" / "run" / "checkpoint-10" / "model.safetensors")
    paddle.seed(1)
    resumed = _Regressor()
    Trainer(resumed, config(tmp_path / "full", resume_from_checkpoint=str(tmp_path / "full" / "run" / "checkpoint-10"),
                            **common), data).train()
    assert_params_close(params(resumed), params(full), atol=1e-6)
    pred = Trainer(resumed, config(tmp_path / "p"), None).predict([{"x": x} for x in xs[:5]])
    assert pred.output(0).shape == (5,)


class _RegressorWithAnUnusedLayer(_Regressor):
    """A parameter no loss reaches (like a pooler during masked-LM pretraining)."""

    def __init__(self):
        super().__init__()
        self.unused = paddle.nn.Linear(3, 2)


def test_resume_with_a_parameter_that_never_gets_a_gradient(tmp_path):
    rng = np.random.RandomState(0)
    xs = rng.randn(24, 3).astype("float32")
    data = [{"x": x, "labels": np.float32(x @ [1.0, -2.0, 0.5])} for x in xs]
    common = dict(num_train_epochs=2, per_device_train_batch_size=6, save_steps=4, learning_rate=0.05)
    paddle.seed(0)
    full = _RegressorWithAnUnusedLayer()
    Trainer(full, config(tmp_path / "full", **common), data).train()
    paddle.seed(1)
    resumed = _RegressorWithAnUnusedLayer()
    resumed.unused.set_state_dict(full.unused.state_dict())
    checkpoint = str(tmp_path / "full" / "run" / "checkpoint-4")
    Trainer(resumed, config(tmp_path / "full", resume_from_checkpoint=checkpoint, **common), data).train()
    assert_params_close(params(resumed), params(full), atol=1e-6)
