"""pipeline(): every task on tiny random models saved with a hand-made vocabulary; the CLI's fill-mask and predict."""
import io
import json
import sys
from types import SimpleNamespace

import numpy as np
import paddle
import pytest

from _helpers import tiny_config

from paddle_roformer import (RoFormerForMaskedLM, RoFormerForSequenceClassification, RoFormerForTokenClassification,
                             RoFormerModel, RoFormerTokenizer, cli)
from paddle_roformer.pipelines import pipeline

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = SPECIALS + list("中国的首都是北京上海张三李四在工作，。") + ["he", "##llo", "##l", "##o"]
NER_LABELS = {0: "O", 1: "B-PER", 2: "I-PER", 3: "B-LOC", 4: "I-LOC"}
SENTIMENT = {0: "negative", 1: "neutral", 2: "positive"}


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    """One saved directory per task (model + tokenizer files)."""
    root = tmp_path_factory.mktemp("pipeline")
    (root / "vocab.txt").write_text("\n".join(WORDS) + "\n", encoding="utf-8")
    tokenizer = RoFormerTokenizer(str(root / "vocab.txt"))
    paddle.seed(7)
    size = len(WORDS)
    made = {
        "text-classification": RoFormerForSequenceClassification(tiny_config(vocab_size=size, id2label=SENTIMENT)),
        "token-classification": RoFormerForTokenClassification(tiny_config(vocab_size=size, id2label=NER_LABELS)),
        "fill-mask": RoFormerForMaskedLM(tiny_config(vocab_size=len(WORDS))),
        "feature-extraction": RoFormerModel(tiny_config(vocab_size=len(WORDS))),
    }
    out = {}
    for task, model in made.items():
        path = root / task
        model.save_pretrained(str(path))
        tokenizer.save_pretrained(str(path))
        out[task] = str(path)
    return out


def _json_roundtrip(value):
    assert json.loads(json.dumps(value, ensure_ascii=False)) == value


# ---------------------------------------------------------------------------- text-classification


def test_text_classification_labels_scores_and_top_k(dirs):
    pipe = pipeline("text-classification", model=dirs["text-classification"])
    one = pipe("这个电影很好")  # characters outside the vocabulary become [UNK]
    assert set(one) == {"label", "score"} and one["label"] in SENTIMENT.values()
    every = pipe("这个电影很好", top_k=None)
    assert [r["label"] for r in every] != [] and sorted(r["label"] for r in every) == sorted(SENTIMENT.values())
    scores = [r["score"] for r in every]
    assert scores == sorted(scores, reverse=True)
    assert abs(sum(scores) - 1.0) < 1e-5  # softmax over the labels
    assert every[0] == pytest.approx(one)
    assert len(pipe("北京", top_k=2)) == 2
    batch = pipe(["北京", "上海工作", "中国的首都"])
    assert isinstance(batch, list) and len(batch) == 3
    _json_roundtrip(batch)
    _json_roundtrip(every)


@pytest.mark.parametrize("problem_type, num_labels", [("multi_label_classification", 3), (None, 1), ("regression", 2)])
def test_text_classification_scores_by_problem_type(dirs, problem_type, num_labels):
    config = tiny_config(vocab_size=len(WORDS), num_labels=num_labels, problem_type=problem_type)
    model = RoFormerForSequenceClassification(config)
    tokenizer = RoFormerTokenizer.from_pretrained(dirs["text-classification"])
    pipe = pipeline("text-classification", model=model, tokenizer=tokenizer)
    scores = [r["score"] for r in pipe("北京", top_k=None)]
    model.eval()
    with paddle.no_grad():
        logits = model(paddle.to_tensor([tokenizer("北京")["input_ids"]]))[0].numpy()
    expected = logits if problem_type == "regression" else 1 / (1 + np.exp(-logits))  # raw, or sigmoid
    np.testing.assert_allclose(scores, sorted(expected, reverse=True), atol=1e-5)


def test_device_option(dirs):
    before = paddle.get_device()
    try:
        assert pipeline("fill-mask", model=dirs["fill-mask"], device="cpu")("北[MASK]")
        assert paddle.get_device() == "cpu"
    finally:
        paddle.set_device(before)


def test_batching_and_padding_do_not_change_results(dirs):
    texts = ["北京", "中国的首都是北京，上海在工作。", "张三"]
    small = pipeline("text-classification", model=dirs["text-classification"], batch_size=1)(texts, top_k=None)
    big = pipeline("text-classification", model=dirs["text-classification"], batch_size=8)(texts, top_k=None)
    for a, b in zip(small, big):
        assert [x["label"] for x in a] == [x["label"] for x in b]
        np.testing.assert_allclose([x["score"] for x in a], [x["score"] for x in b], atol=1e-5)


def test_pipeline_puts_the_model_in_eval_mode(dirs):
    model = RoFormerForSequenceClassification.from_pretrained(dirs["text-classification"], hidden_dropout_prob=0.5)
    model.train()
    tokenizer = RoFormerTokenizer.from_pretrained(dirs["text-classification"])
    pipe = pipeline("text-classification", model=model, tokenizer=tokenizer)
    assert not model.training
    model.train()  # switched back by the caller: the next call still runs in eval mode
    first, second = pipe("北京上海", top_k=None), pipe("北京上海", top_k=None)
    assert first == second and not model.training


# ---------------------------------------------------------------------------- token-classification


def _tagging_forward(pipe, tags):
    """Replace the forward with logits that give each token id the tag in ``tags`` (else O)."""
    vocab = pipe.tokenizer.vocab
    label_id = {v: k for k, v in NER_LABELS.items()}
    table = np.zeros((len(WORDS), len(NER_LABELS)), dtype="float32")
    table[:, label_id["O"]] = 4.0
    for token, tag in tags.items():
        table[vocab[token], label_id[tag]] = 9.0

    def forward(tensors):
        return SimpleNamespace(logits=paddle.to_tensor(table[tensors["input_ids"].numpy()]))

    pipe._forward = forward


NER_TAGS = {"张": "B-PER", "三": "I-PER", "李": "B-PER", "四": "I-PER", "北": "B-LOC", "京": "I-LOC",
            "上": "B-LOC", "海": "I-LOC", "he": "B-PER", "##llo": "I-PER"}


def test_token_classification_groups_bio_tags_into_spans_with_offsets(dirs):
    pipe = pipeline("token-classification", model=dirs["token-classification"])
    _tagging_forward(pipe, NER_TAGS)
    text = "张三在北京工作，李四 在 上海。hello"
    entities = pipe(text)
    assert [(e["entity_group"], e["word"]) for e in entities] == [
        ("PER", "张三"), ("LOC", "北京"), ("PER", "李四"), ("LOC", "上海"), ("PER", "hello")]
    for e in entities:
        assert text[e["start"]:e["end"]] == e["word"]  # offsets point into the input
        assert 0.5 < e["score"] <= 1.0
    _json_roundtrip(entities)


def test_token_classification_bio_edge_cases(dirs):
    pipe = pipeline("token-classification", model=dirs["token-classification"])
    # I- without a B- starts an entity; B- right after the same type starts a new one; types never merge
    _tagging_forward(pipe, {"张": "I-PER", "三": "B-PER", "四": "I-PER", "北": "I-LOC", "京": "I-PER"})
    entities = pipe("张三四北京")
    assert [(e["entity_group"], e["word"], e["start"], e["end"]) for e in entities] == [
        ("PER", "张", 0, 1), ("PER", "三四", 1, 3), ("LOC", "北", 3, 4), ("PER", "京", 4, 5)]


def test_token_classification_without_aggregation(dirs):
    pipe = pipeline("token-classification", model=dirs["token-classification"], aggregation="none")
    _tagging_forward(pipe, NER_TAGS)
    text = "在北京 hello"
    tokens = pipe(text)
    assert [(t["entity"], t["word"], t["index"]) for t in tokens] == [
        ("B-LOC", "北", 2), ("I-LOC", "京", 3), ("B-PER", "he", 4), ("I-PER", "llo", 5)]
    assert all(text[t["start"]:t["end"]] == t["word"] for t in tokens)
    assert pipe([text, "张"], aggregation="simple")[1] == [
        {"entity_group": "PER", "score": pytest.approx(tokens[2]["score"]), "word": "张", "start": 0, "end": 1}]


def test_token_classification_on_the_real_model(dirs):
    texts = ["张三在北京工作", "上海"]
    tokens = pipeline("token-classification", model=dirs["token-classification"],
                      aggregation="none", ignore_labels=())(texts)
    assert [len(t) for t in tokens] == [7, 2]  # every character, no [CLS] / [SEP] / padding
    for text, row in zip(texts, tokens):
        assert "".join(t["word"] for t in row) == text
        assert all(t["entity"] in NER_LABELS.values() and 0 < t["score"] <= 1 for t in row)


# ---------------------------------------------------------------------------- fill-mask


def test_fill_mask_top_k_and_sequences(dirs):
    pipe = pipeline("fill-mask", model=dirs["fill-mask"], top_k=4)
    candidates = pipe("中国的首都是[MASK]京。")
    assert len(candidates) == 4
    scores = [c["score"] for c in candidates]
    assert scores == sorted(scores, reverse=True) and all(0 < s <= 1 for s in scores)
    for c in candidates:
        assert set(c) == {"score", "token", "token_str", "sequence"}
        assert WORDS[c["token"]] == c["token_str"]
        assert c["sequence"] == f"中国的首都是{c['token_str']}京。"
    every = pipe("中国的首都是[MASK]京。", top_k=10_000)  # clipped to the vocabulary
    assert len(every) == len(WORDS) and abs(sum(c["score"] for c in every) - 1.0) < 1e-4
    _json_roundtrip(every)


def test_fill_mask_several_masks_and_batches(dirs):
    pipe = pipeline("fill-mask", model=dirs["fill-mask"], top_k=2, batch_size=2)
    results = pipe(["[MASK]海[MASK]", "北[MASK]", "张三[MASK]"])
    assert len(results) == 3
    two = results[0]
    assert len(two) == 2 and all(len(per) == 2 for per in two)
    assert two[0][0]["sequence"].endswith("海[MASK]") and two[1][0]["sequence"].startswith("[MASK]海")
    assert len(results[1]) == 2 and isinstance(results[1][0], dict)


def test_fill_mask_with_more_embedding_rows_than_vocabulary_lines(dirs, tmp_path):
    model = RoFormerForMaskedLM(tiny_config(vocab_size=len(WORDS) + 40))  # rows past the vocabulary
    model.save_pretrained(str(tmp_path))
    RoFormerTokenizer.from_pretrained(dirs["fill-mask"]).save_pretrained(str(tmp_path))
    result = pipeline("fill-mask", model=str(tmp_path), top_k=100)("北[MASK]")
    assert len(result) == len(WORDS) and all(c["token"] < len(WORDS) for c in result)
    assert abs(sum(c["score"] for c in result) - 1.0) < 1e-5


def test_fill_mask_errors(dirs):
    pipe = pipeline("fill-mask", model=dirs["fill-mask"])
    with pytest.raises(ValueError, match=r"input 1 has no \[MASK\]"):
        pipe(["北[MASK]", "北京"])
    with pytest.raises(ValueError, match="top_k"):
        pipe("北[MASK]", top_k=0)


# ---------------------------------------------------------------------------- feature-extraction


def test_feature_extraction_poolings(dirs):
    texts = ["北京", "中国的首都是北京"]
    pipe = pipeline("feature-extraction", model=dirs["feature-extraction"])
    rows = pipe(texts)
    assert [r.shape for r in rows] == [(4, 32), (10, 32)] and rows[0].dtype == np.float32
    cls = pipe(texts, pooling="cls")
    mean = pipe(texts, pooling="mean")
    pooled = pipe(texts, pooling="pooler")
    for r, c, m, p in zip(rows, cls, mean, pooled):
        np.testing.assert_allclose(c, r[0], atol=1e-6)
        np.testing.assert_allclose(m, r.mean(axis=0), atol=1e-6)
        assert p.shape == (32,)
    alone = pipe("北京")  # no padding: the same rows as inside the padded batch
    np.testing.assert_allclose(alone, rows[0], atol=1e-5)
    _json_roundtrip(rows[0].tolist())


def test_feature_extraction_uses_a_heads_backbone(dirs):
    head = RoFormerForMaskedLM.from_pretrained(dirs["fill-mask"])
    tokenizer = RoFormerTokenizer.from_pretrained(dirs["fill-mask"])
    from_head = pipeline("feature-extraction", model=head, tokenizer=tokenizer)("北京")
    from_dir = pipeline("feature-extraction", model=dirs["fill-mask"])("北京")
    np.testing.assert_allclose(from_head, from_dir, atol=1e-6)


# ---------------------------------------------------------------------------- errors and API


def test_unknown_task_names_the_closest():
    with pytest.raises(ValueError, match="Did you mean 'text-classification'"):
        pipeline("text-clasification", model="unused")


def test_empty_and_bad_inputs(dirs):
    pipe = pipeline("text-classification", model=dirs["text-classification"])
    with pytest.raises(ValueError, match="empty list"):
        pipe([])
    with pytest.raises(ValueError, match="input 1 is empty"):
        pipe(["北京", "  "])
    with pytest.raises(TypeError, match="input 0 must be a str"):
        pipe([3])
    with pytest.raises(TypeError, match="unknown options"):
        pipe("北京", pooling="mean")
    with pytest.raises(ValueError, match="Did you mean 'simple'"):
        pipeline("token-classification", model=dirs["token-classification"], aggregation="simpel")


def test_model_that_does_not_fit_the_task(dirs):
    mlm = RoFormerForMaskedLM.from_pretrained(dirs["fill-mask"])
    tokenizer = RoFormerTokenizer.from_pretrained(dirs["fill-mask"])
    with pytest.raises(ValueError, match="text-classification needs a RoFormerForSequenceClassification"):
        pipeline("text-classification", model=mlm, tokenizer=tokenizer)
    with pytest.raises(ValueError, match="saved from a RoFormerForMaskedLM"):
        pipeline("text-classification", model=dirs["fill-mask"])
    with pytest.raises(ValueError, match="pass tokenizer="):
        pipeline("fill-mask", model=mlm)
    with pytest.raises(ValueError, match="pass model="):
        pipeline("fill-mask")


def test_package_exports_the_function_even_after_the_module_is_imported():
    import paddle_roformer.pipelines  # noqa: F401

    assert paddle_roformer.pipeline is pipeline


# ---------------------------------------------------------------------------- CLI


def test_cli_fill_mask(dirs, capsys):
    assert cli.main(["fill-mask", "中国的首都是[MASK]京。", "--model", dirs["fill-mask"], "--top-k", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "中国的首都是[MASK]京。" and len(lines) == 4
    scores = [float(line.split()[0]) for line in lines[1:]]
    assert scores == sorted(scores, reverse=True)
    expected = pipeline("fill-mask", model=dirs["fill-mask"], top_k=3)("中国的首都是[MASK]京。")
    assert [line.split()[1] for line in lines[1:]] == [c["token_str"] for c in expected]

    assert cli.main(["fill-mask", "[MASK]海[MASK]", "--model", dirs["fill-mask"], "--top-k", "2", "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["text"] == "[MASK]海[MASK]" and [len(m) for m in record["masks"]] == [2, 2]

    assert cli.main(["fill-mask", "北京", "--model", dirs["fill-mask"]]) == 1
    assert "has no [MASK]" in capsys.readouterr().err


def test_cli_predict_from_a_file_and_stdin(dirs, tmp_path, capsys, monkeypatch):
    source = tmp_path / "texts.txt"
    source.write_text("北京\n\n张三在上海工作\n", encoding="utf-8")
    assert cli.main(["predict", "--model", dirs["text-classification"], "--task", "text-classification",
                     str(source), "--top-k", "2"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["text"] for r in records] == ["北京", "张三在上海工作"]  # blank lines skipped
    assert all(len(r["result"]) == 2 and r["result"][0]["label"] in SENTIMENT.values() for r in records)

    monkeypatch.setattr(sys, "stdin", io.StringIO("张三在北京\n上海\n"))
    assert cli.main(["predict", "--model", dirs["token-classification"], "--task", "token-classification", "-"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["text"] for r in records] == ["张三在北京", "上海"]
    for r in records:
        assert all(r["text"][e["start"]:e["end"]] == e["word"] for e in r["result"])

    out = tmp_path / "out.jsonl"
    monkeypatch.setattr(sys, "stdin", io.StringIO("北京\n"))
    assert cli.main(["predict", "--model", dirs["text-classification"], "--task", "text-classification",
                     "--output", str(out)]) == 0
    assert json.loads(out.read_text(encoding="utf-8"))["text"] == "北京"

    monkeypatch.setattr(sys, "stdin", io.StringIO("\n"))
    assert cli.main(["predict", "--model", dirs["text-classification"], "--task", "text-classification"]) == 1
    assert "no text" in capsys.readouterr().err
