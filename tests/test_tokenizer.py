"""RoFormerTokenizer: ids identical to PaddleNLP 2.8.1, offsets, the call API, pad, files, threads, errors."""
import copy
import json
import logging
import os
import threading
import unicodedata

import numpy as np
import paddle
import pytest

from paddle_roformer import RoFormerTokenizer, build_vocab
from _corpus import EDGE_CASES, peoples_daily, reviews

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


@pytest.fixture(scope="module")
def corpus():
    return reviews(300) + peoples_daily(200)


@pytest.fixture(scope="module")
def word_vocab(tmp_path_factory, corpus):
    """A word + char vocabulary in the layout of roformer-chinese-base: jieba's dictionary words."""
    import jieba

    jieba.initialize()
    path = tmp_path_factory.mktemp("vocab") / "word_vocab.txt"
    chars = build_vocab([], str(path) + ".chars", mode="char", texts=corpus + EDGE_CASES)
    tokens = [t.rstrip("\n") for t in open(chars, encoding="utf-8")]
    seen = set(tokens)
    top = sorted(((f, w) for w, f in jieba.dt.FREQ.items() if f > 0 and len(w) > 1), reverse=True)[:30000]
    for _, word in top:
        if word not in seen:
            seen.add(word)
            tokens.append(word)
    path.write_text("".join(t + "\n" for t in tokens), encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def char_vocab(tmp_path_factory, corpus):
    path = tmp_path_factory.mktemp("vocab") / "char_vocab.txt"
    return build_vocab([], str(path), mode="char", texts=corpus + EDGE_CASES, max_size=6000)


@pytest.fixture(scope="module")
def paddlenlp_tokenizer():
    module = pytest.importorskip("paddlenlp.transformers")
    return module.RoFormerTokenizer


MODES = [("word", True), ("char", False)]


def _vocab(request, kind):
    return request.getfixturevalue(f"{kind}_vocab")


# ---------------------------------------------------------------------------- ids against PaddleNLP


@pytest.mark.parametrize("kind, use_jieba", MODES)
def test_ids_identical_to_paddlenlp_on_real_text(request, kind, use_jieba, corpus, paddlenlp_tokenizer):
    vocab = _vocab(request, kind)
    theirs = paddlenlp_tokenizer(vocab, use_jieba=use_jieba)
    ours = RoFormerTokenizer(vocab, use_jieba=use_jieba, split_special_tokens=True)
    texts = corpus + EDGE_CASES
    a, b = theirs(texts)["input_ids"], ours(texts)["input_ids"]
    mismatched = [t for t, x, y in zip(texts, a, b) if x != y]
    assert mismatched == []
    assert sum(len(x) for x in a) > 20000  # the comparison covered real volume


@pytest.mark.parametrize("kind, use_jieba", MODES)
def test_tokens_identical_on_edge_cases(request, kind, use_jieba, paddlenlp_tokenizer):
    vocab = _vocab(request, kind)
    theirs = paddlenlp_tokenizer(vocab, use_jieba=use_jieba)
    ours = RoFormerTokenizer(vocab, use_jieba=use_jieba, split_special_tokens=True)
    for text in EDGE_CASES:
        assert ours.tokenize(text) == theirs.tokenize(text), text


@pytest.mark.parametrize("kind, use_jieba", MODES)
def test_pairs_and_truncation_identical(request, kind, use_jieba, corpus, paddlenlp_tokenizer):
    vocab = _vocab(request, kind)
    theirs = paddlenlp_tokenizer(vocab, use_jieba=use_jieba)
    ours = RoFormerTokenizer(vocab, use_jieba=use_jieba, split_special_tokens=True)
    firsts, seconds = corpus[:60], corpus[60:120]
    for kwargs in (
        dict(),
        dict(max_seq_len=32),
        dict(max_seq_len=20, truncation="only_second"),
        dict(max_seq_len=20, truncation="only_first"),
        dict(max_length=24, truncation="longest_first", padding="max_length", return_attention_mask=True),
        dict(max_seq_len=40, pad_to_max_seq_len=True, return_special_tokens_mask=True, return_length=True),
        dict(padding=True, return_attention_mask=True, return_position_ids=True, return_length=True),
    ):
        a = theirs(firsts, seconds, **kwargs)
        b = ours(firsts, seconds, **kwargs)
        assert dict(a) == dict(b), kwargs
        for x, y in zip(firsts[:10], seconds[:10]):  # single (non-batch) calls too
            assert dict(theirs(x, y, **kwargs)) == dict(ours(x, y, **kwargs)), kwargs


def test_call_options_identical(char_vocab, corpus, paddlenlp_tokenizer):
    theirs = paddlenlp_tokenizer(char_vocab)
    ours = RoFormerTokenizer(char_vocab, split_special_tokens=True)
    texts = corpus[:20]
    for kwargs in (
        dict(max_seq_len=16, return_overflowing_tokens=True),
        dict(add_special_tokens=False, return_token_type_ids=False),
        dict(max_length=17, padding="max_length", truncation=True, return_tensors="np"),
        dict(padding=True, return_tensors="np", return_attention_mask=True),
        dict(return_token_type_ids=False, return_special_tokens_mask=True),
        dict(return_offsets_mapping=True, max_seq_len=30),
    ):
        a, b = theirs(texts, **kwargs), ours(texts, **kwargs)
        assert a.keys() == b.keys(), kwargs
        for key in a:
            np.testing.assert_array_equal(np.asarray(a[key], dtype=object), np.asarray(b[key], dtype=object))
        a1, b1 = theirs(texts[0], **kwargs), ours(texts[0], **kwargs)
        for key in a1:
            np.testing.assert_array_equal(np.asarray(a1[key], dtype=object), np.asarray(b1[key], dtype=object))


def test_document_stride_windows_identical(char_vocab, corpus, paddlenlp_tokenizer):
    """Extractive QA's windows: the question whole, the context cut with a stride (PaddleNLP's step)."""
    theirs = paddlenlp_tokenizer(char_vocab)
    ours = RoFormerTokenizer(char_vocab, split_special_tokens=True)
    questions = [line[:12] for line in corpus[200:230]]
    contexts = corpus[:30]
    for kwargs in (
        dict(stride=16, max_seq_len=48),
        dict(stride=32, max_length=64, padding="max_length", return_attention_mask=True,
             return_special_tokens_mask=True, return_length=True),
        dict(stride=8, max_seq_len=40, padding=True, return_position_ids=True),
    ):
        a = theirs(questions, contexts, **kwargs)
        b = ours(questions, contexts, **kwargs)
        assert a.keys() == b.keys(), kwargs
        for key in a:
            assert list(a[key]) == list(b[key]), (key, kwargs)
        assert len(b["input_ids"]) > len(questions)  # long contexts made several windows
    with pytest.raises(ValueError, match="leaving no room for the second"):
        ours(["问" * 60], ["答"], stride=4, max_seq_len=32)
    with pytest.raises(ValueError, match="stride must be a non-negative integer"):
        ours(["问"], ["答"], stride=-1, max_seq_len=32)


def test_overflowing_tokens_keep_stride_context(char_vocab, corpus, paddlenlp_tokenizer):
    theirs = paddlenlp_tokenizer(char_vocab)
    ours = RoFormerTokenizer(char_vocab, split_special_tokens=True)
    for text in corpus[:10]:
        kwargs = dict(max_seq_len=20, stride=5, return_overflowing_tokens=True)
        assert dict(theirs(text, **kwargs)) == ours(text, **kwargs)


def test_english_wordpiece_identical(tmp_path, paddlenlp_tokenizer):
    """English text (the standard library's own docstrings) through a WordPiece vocab with ## pieces."""
    import argparse, json as json_module, logging, unittest

    lines = [l.strip() for m in (argparse, json_module, logging, unittest) for l in (m.__doc__ or "").splitlines()
             if l.strip()]
    words = {w.lower().strip(".,:;()'\"`") for l in lines for w in l.split()}
    pieces = sorted(w for w in words if w.isalpha() and len(w) > 3)[::2]  # half the words whole, the rest spelled
    vocab = SPECIALS + [chr(c) for c in range(33, 127)] + ["##" + chr(c) for c in range(97, 123)] + pieces
    vocab += ["##" + p[3:] for p in pieces if len(p) > 5]
    path = tmp_path / "english.txt"
    path.write_text("\n".join(dict.fromkeys(vocab)) + "\n", encoding="utf-8")
    theirs = paddlenlp_tokenizer(str(path))
    ours = RoFormerTokenizer(str(path), split_special_tokens=True)
    assert len(lines) > 50
    assert [theirs.tokenize(l) for l in lines] == [ours.tokenize(l) for l in lines]
    assert theirs(lines)["input_ids"] == ours(lines)["input_ids"]
    assert any(t.startswith("##") and len(t) > 3 for l in lines for t in ours.tokenize(l))


def test_golden_example_from_the_paddlenlp_docs(tmp_path):
    """'欢迎使用百度飞桨' -> 欢迎 / 使用 / 百度 / 飞 / 桨 with ids [101, 22355, 8994, 25854, 5438, 2473, 102]."""
    placed = {101: "[CLS]", 102: "[SEP]", 0: "[PAD]", 100: "[UNK]", 103: "[MASK]",
              22355: "欢迎", 8994: "使用", 25854: "百度", 5438: "飞", 2473: "桨"}
    lines = [placed.get(i, f"[unused{i}]") for i in range(30000)]
    (tmp_path / "vocab.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    tokenizer = RoFormerTokenizer(str(tmp_path / "vocab.txt"), use_jieba=True)
    assert tokenizer.tokenize("欢迎使用百度飞桨") == ["欢迎", "使用", "百度", "飞", "桨"]
    assert tokenizer("欢迎使用百度飞桨") == {
        "input_ids": [101, 22355, 8994, 25854, 5438, 2473, 102], "token_type_ids": [0] * 7
    }


# ---------------------------------------------------------------------------- offsets


def _normalized(text):
    """What the tokenizer compares: lower-cased, accents stripped, control / format characters dropped."""
    text = unicodedata.normalize("NFD", text.lower())
    return "".join(c for c in text if unicodedata.category(c) != "Mn" and unicodedata.category(c)[0] != "C"
                   and c != "\ufffd")


@pytest.mark.parametrize("kind, use_jieba", MODES)
def test_offsets_point_at_the_token_text(request, kind, use_jieba, corpus):
    """For every token that is not special or [UNK], text[start:end] normalised is the token.

    Where one character becomes several tokens (a Hangul syllable decomposes into jamo under NFD),
    those tokens share the character's span and together spell it.
    """
    tokenizer = RoFormerTokenizer(_vocab(request, kind), use_jieba=use_jieba)
    checked = 0
    for text in corpus + EDGE_CASES:
        encoded = tokenizer(text, return_offsets_mapping=True)
        tokens = tokenizer.convert_ids_to_tokens(encoded["input_ids"])
        groups, previous_end = [], 0
        for token, (start, end) in zip(tokens, encoded["offset_mapping"]):
            if token in ("[CLS]", "[SEP]") and (start, end) == (0, 0):
                continue
            assert 0 <= start < end <= len(text), (text, token)
            if groups and groups[-1][0] == (start, end):
                groups[-1][1].append(token)
                continue
            assert start >= previous_end, (text, token)
            previous_end = end
            groups.append(((start, end), [token]))
        for (start, end), group in groups:
            if group == ["[UNK]"]:
                continue
            if len(group) == 1 and group[0] in SPECIALS:
                assert text[start:end] == group[0]  # a literal special token in the text
                continue
            spelled = "".join(t[2:] if t.startswith("##") else t for t in group)
            assert _normalized(text[start:end]) == spelled, (text, group, text[start:end])
            checked += len(group)
    assert checked > 10000


def test_offsets_for_pairs_and_words(word_vocab):
    tokenizer = RoFormerTokenizer(word_vocab, use_jieba=True)
    encoded = tokenizer("欢迎使用", "百度飞桨", return_offsets_mapping=True)
    tokens = tokenizer.convert_ids_to_tokens(encoded["input_ids"])
    spans = dict(zip(tokens, encoded["offset_mapping"]))
    assert spans["欢迎"] == (0, 2) and spans["使用"] == (2, 4) and spans["百度"] == (0, 2)
    assert encoded["offset_mapping"][0] == (0, 0) and encoded["offset_mapping"][-1] == (0, 0)


# ---------------------------------------------------------------------------- the API


def test_hugging_face_spelling_equals_paddlenlp_spelling(char_vocab, corpus):
    tokenizer = RoFormerTokenizer(char_vocab)
    texts = corpus[:8]
    assert tokenizer(texts, max_seq_len=20, pad_to_max_seq_len=True) == tokenizer(
        texts, max_length=20, padding="max_length", truncation=True)
    assert tokenizer(texts, truncation_strategy="longest_first", max_seq_len=12) == tokenizer(
        texts, max_length=12, truncation=True)


def test_truncation_strategy_is_honoured(char_vocab, corpus):
    """PaddleNLP 2.8 ignores the old truncation_strategy argument when max_seq_len is given (it
    truncates longest_first); ours applies it, as its name promises."""
    tokenizer = RoFormerTokenizer(char_vocab)
    a, b = corpus[0], corpus[1]
    old = tokenizer(a, b, max_seq_len=40, truncation_strategy="only_first")
    new = tokenizer(a, b, max_seq_len=40, truncation="only_first")
    assert old == new
    assert old["token_type_ids"].count(1) == len(tokenizer.tokenize(b)) + 1


def test_tensors(char_vocab, corpus):
    tokenizer = RoFormerTokenizer(char_vocab)
    pd = tokenizer(corpus[:3], padding=True, return_attention_mask=True, return_tensors="pd")
    assert isinstance(pd["input_ids"], paddle.Tensor) and pd["input_ids"].dtype == paddle.int64
    assert pd.input_ids.shape == pd.attention_mask.shape
    single = tokenizer(corpus[0], return_tensors="np")
    assert single["input_ids"].shape[0] == 1
    with pytest.raises(ValueError, match="different lengths; pass padding=True"):
        tokenizer(corpus[:3], return_tensors="np")


def test_decode_has_no_spaces_between_chinese(char_vocab):
    tokenizer = RoFormerTokenizer(char_vocab)
    ids = tokenizer("这个手机很好用，iPhone 12也不错。")["input_ids"]
    assert tokenizer.decode(ids, skip_special_tokens=True) == "这个手机很好用，iphone 12也不错。"
    assert tokenizer.decode(ids).startswith("[CLS]这个")
    assert tokenizer.convert_tokens_to_string(["play", "##ing", "游", "戏"]) == "playing游戏"


def test_helpers(char_vocab):
    tokenizer = RoFormerTokenizer(char_vocab)
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    assert tokenizer.build_inputs_with_special_tokens([7, 8], [9]) == [cls, 7, 8, sep, 9, sep]
    assert tokenizer.create_token_type_ids_from_sequences([7, 8], [9]) == [0, 0, 0, 0, 1, 1]
    assert tokenizer.get_special_tokens_mask([7, 8], [9]) == [1, 0, 0, 1, 0, 1]
    assert tokenizer.get_special_tokens_mask([cls, 7, sep], already_has_special_tokens=True) == [1, 0, 1]
    assert tokenizer.vocab_size == len(tokenizer.get_vocab()) == len(tokenizer)
    assert tokenizer.convert_ids_to_tokens(tokenizer.convert_tokens_to_ids(["[CLS]", "好"])) == ["[CLS]", "好"]
    assert tokenizer.convert_tokens_to_ids("no-such-token") == tokenizer.unk_token_id
    words = tokenizer(["今天", "天气"], is_split_into_words=True)
    assert words["input_ids"] == tokenizer("今天天气")["input_ids"]


def test_special_tokens_in_text_are_kept_by_default(char_vocab):
    tokenizer = RoFormerTokenizer(char_vocab)
    assert tokenizer.tokenize("今天[MASK]气好") == ["今", "天", "[MASK]", "气", "好"]
    split = RoFormerTokenizer(char_vocab, split_special_tokens=True)
    tokens = split.tokenize("今天[MASK]气好")
    assert "[MASK]" not in tokens and tokens[2] == "[" and "]" in tokens  # PaddleNLP's split


# ---------------------------------------------------------------------------- files


@pytest.mark.parametrize("kind, use_jieba", MODES)
def test_save_and_load_round_trip(request, kind, use_jieba, corpus, tmp_path):
    tokenizer = RoFormerTokenizer(_vocab(request, kind), use_jieba=use_jieba, model_max_length=64)
    tokenizer.save_pretrained(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["special_tokens_map.json", "tokenizer_config.json", "vocab.txt"]
    again = RoFormerTokenizer.from_pretrained(tmp_path)
    assert again.use_jieba == use_jieba and again.model_max_length == 64
    assert again(corpus[:50], return_offsets_mapping=True) == tokenizer(corpus[:50], return_offsets_mapping=True)


def test_directories_interchange_with_paddlenlp(word_vocab, corpus, tmp_path, paddlenlp_tokenizer):
    theirs = paddlenlp_tokenizer(word_vocab, use_jieba=True)
    theirs.save_pretrained(str(tmp_path / "theirs"))
    ours = RoFormerTokenizer.from_pretrained(tmp_path / "theirs", split_special_tokens=True)
    assert ours.use_jieba
    assert ours(corpus[:30]) == dict(theirs(corpus[:30]))
    ours.save_pretrained(tmp_path / "ours")
    back = paddlenlp_tokenizer.from_pretrained(str(tmp_path / "ours"))
    assert dict(back(corpus[:30])) == ours(corpus[:30])


def test_registered_name_reads_settings_from_yaml(tmp_path, monkeypatch, char_vocab):
    """For a name, use_jieba / do_lower_case come from configs/<name>.yaml; the vocab from the cache."""
    monkeypatch.setenv("PADDLE_ROFORMER_HOME", str(tmp_path))
    cache = tmp_path / "models" / "roformer-chinese-base"
    cache.mkdir(parents=True)
    (cache / "vocab.txt").write_bytes(open(char_vocab, "rb").read())
    tokenizer = RoFormerTokenizer.from_pretrained("roformer-chinese-base")
    assert tokenizer.use_jieba and tokenizer.do_lower_case and tokenizer.model_max_length == 1536
    assert not RoFormerTokenizer.from_pretrained("roformer-chinese-base", use_jieba=False).use_jieba


# ---------------------------------------------------------------------------- errors


def test_bad_vocab_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="vocab file not found: .*nope.txt"):
        RoFormerTokenizer(str(tmp_path / "nope.txt"))
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(ValueError, match="is empty"):
        RoFormerTokenizer(str(tmp_path / "empty.txt"))
    with pytest.raises(TypeError, match="vocab_file must be a path"):
        RoFormerTokenizer(None)
    (tmp_path / "nospecial.txt").write_text("a\nb\n")
    with pytest.raises(ValueError, match=r"'\[UNK\]' is not in the vocabulary"):
        RoFormerTokenizer(str(tmp_path / "nospecial.txt"))
    with pytest.raises(FileNotFoundError, match="has no vocab.txt"):
        RoFormerTokenizer.from_pretrained(tmp_path)
    with pytest.raises(TypeError, match="unexpected arguments \\['use_jeiba'\\]"):
        RoFormerTokenizer(str(tmp_path / "nospecial.txt"), use_jeiba=True)


def test_bad_inputs(char_vocab):
    tokenizer = RoFormerTokenizer(char_vocab)
    with pytest.raises(TypeError, match="text must be a str or a list of str, got None"):
        tokenizer(None)
    with pytest.raises(TypeError, match="batch item 1: text must be a str, got int"):
        tokenizer(["好", 3])
    with pytest.raises(TypeError, match="text must be a str or a list of str, got dict"):
        tokenizer({"a": 1})
    with pytest.raises(ValueError, match="text has 2 entries but text_pair has 1"):
        tokenizer(["好", "坏"], ["好"])
    with pytest.raises(ValueError, match="padding must be"):
        tokenizer("好", padding="left")
    with pytest.raises(ValueError, match="truncation must be"):
        tokenizer("好", truncation="middle")
    with pytest.raises(ValueError, match="max_length / max_seq_len must be a positive integer, got 0"):
        tokenizer("好", max_seq_len=0)
    with pytest.raises(ValueError, match="return_tensors must be"):
        tokenizer("好", return_tensors="pt")
    with pytest.raises(ValueError, match="token id 999999 is outside the vocabulary"):
        tokenizer.convert_ids_to_tokens([999999])


def test_impossible_truncation_is_logged_and_left(char_vocab, caplog):
    tokenizer = RoFormerTokenizer(char_vocab)
    with caplog.at_level("ERROR", logger="paddle_roformer"):
        encoded = tokenizer("好好好好好好", "坏", max_seq_len=4, truncation="only_second")
    assert "the second sequence has only 1" in caplog.text
    assert len(encoded["input_ids"]) == 10


def test_impossible_longest_first_does_not_stop_the_batch(char_vocab, caplog):
    """max_seq_len below the three special tokens of a pair: each pair is logged and left as it is."""
    tokenizer = RoFormerTokenizer(char_vocab)
    firsts, seconds = ["好", "天气", ""], ["坏", "不错啊", ""]
    with caplog.at_level(logging.ERROR, logger="paddle_roformer"):
        encoded = tokenizer(firsts, seconds, max_seq_len=2, truncation=True, padding=True, return_attention_mask=True)
    assert caplog.text.count("cannot truncate") == 3 and "the two sequences have only 1 + 1" in caplog.text
    untruncated = tokenizer(firsts, seconds)["input_ids"]
    assert [ids[: len(u)] for ids, u in zip(encoded["input_ids"], untruncated)] == untruncated
    assert len({len(ids) for ids in encoded["input_ids"]}) == 1  # padded together all the same


@pytest.mark.parametrize("firsts, seconds, kwargs, bad", [
    (["好好好好好好", "好"], ["坏", "坏坏坏坏"], dict(max_seq_len=6, truncation="only_second"), 0),
    (["好", "好好好好"], ["坏坏坏坏坏坏", "坏"], dict(max_seq_len=6, truncation="only_first"), 0),
    (["好好", ""], None, dict(max_seq_len=2), 0),  # one text: at least one of its tokens must stay
])
def test_impossible_truncation_leaves_only_that_example(char_vocab, caplog, paddlenlp_tokenizer, firsts, seconds,
                                                       kwargs, bad):
    """The other examples are truncated as usual, and all ids are PaddleNLP's."""
    theirs = paddlenlp_tokenizer(char_vocab)
    ours = RoFormerTokenizer(char_vocab, split_special_tokens=True)
    with caplog.at_level(logging.ERROR, logger="paddle_roformer"):
        encoded = ours(firsts, seconds, **kwargs)
    assert "cannot truncate" in caplog.text
    lengths = [len(ids) for ids in encoded["input_ids"]]
    assert lengths[bad] > kwargs["max_seq_len"] and all(n <= kwargs["max_seq_len"] for n in lengths[bad + 1 :])
    assert dict(theirs(firsts, seconds, **kwargs)) == encoded


# ---------------------------------------------------------------------------- pad and repr


def _features(tokenizer, texts):
    options = dict(max_seq_len=40, return_special_tokens_mask=True, return_position_ids=True)
    return [dict(tokenizer(t, **options), labels=i % 2) for i, t in enumerate(texts)]


def test_pad_identical_to_paddlenlp_data_collator(char_vocab, corpus, paddlenlp_tokenizer):
    """PaddleNLP's DataCollatorWithPadding calls tokenizer.pad: the same batches with either tokenizer."""
    from paddlenlp.data import DataCollatorWithPadding

    theirs = paddlenlp_tokenizer(char_vocab)
    ours = RoFormerTokenizer(char_vocab, split_special_tokens=True)
    features = _features(ours, corpus[:8])
    kept = copy.deepcopy(features)
    for kwargs in (dict(), dict(pad_to_multiple_of=16), dict(padding="max_length", max_length=48),
                   dict(return_attention_mask=True), dict(return_tensors="pd")):
        kwargs.setdefault("return_tensors", "np")
        a = DataCollatorWithPadding(theirs, **kwargs)(copy.deepcopy(features))
        b = DataCollatorWithPadding(ours, **kwargs)(features)
        assert a.keys() == b.keys() and "labels" in b, kwargs
        for key in a:
            np.testing.assert_array_equal(np.asarray(a[key]), np.asarray(b[key]), err_msg=f"{key} {kwargs}")
    assert features == kept  # the examples given are not changed


def test_pad_on_the_tokenizer(char_vocab, corpus):
    tokenizer = RoFormerTokenizer(char_vocab, model_max_length=64)
    features = [tokenizer(t, max_seq_len=30, return_offsets_mapping=True) for t in corpus[:4]]
    batch = tokenizer.pad(features, return_attention_mask=True, return_tensors="pd")
    assert isinstance(batch.input_ids, paddle.Tensor) and batch.offset_mapping.shape[-1] == 2
    assert batch.input_ids.shape == batch.attention_mask.shape == batch.token_type_ids.shape
    longest = max(len(f["input_ids"]) for f in features)
    assert batch.input_ids.shape[1] == longest
    assert len(tokenizer.pad(features, padding="max_length")["input_ids"][0]) == 64  # model_max_length
    columns = {key: [f[key] for f in features] for key in features[0]}
    assert tokenizer.pad(columns) == tokenizer.pad(features)


def test_repr_is_readable(char_vocab):
    text = repr(RoFormerTokenizer(char_vocab, use_jieba=True, model_max_length=512))
    assert text.startswith("RoFormerTokenizer(vocab_file=") and "vocab_size=" in text
    assert "use_jieba=True" in text and "model_max_length=512" in text


# ---------------------------------------------------------------------------- threads


def test_fresh_tokenizer_is_thread_safe(word_vocab, corpus):
    """Six threads start together on a fresh jieba tokenizer: all get the single-threaded ids.

    A word added first gives jieba's dictionary a new state, so the first calls build its score
    table while the other threads are already tokenizing.
    """
    import jieba

    texts = corpus[:120]
    jieba.add_word("多线程分词测试", freq=3)
    try:
        tokenizer = RoFormerTokenizer(word_vocab, use_jieba=True)
        barrier = threading.Barrier(6)
        results, errors = [None] * 6, []

        def work(k):
            barrier.wait()
            try:
                results[k] = tokenizer(texts, return_offsets_mapping=k % 2 == 1)
            except Exception as err:
                errors.append(repr(err))

        threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        fresh = RoFormerTokenizer(word_vocab, use_jieba=True)
        expected = [fresh(texts), fresh(texts, return_offsets_mapping=True)]
    finally:
        jieba.del_word("多线程分词测试")
    assert errors == []
    assert all(result == expected[k % 2] for k, result in enumerate(results))


# ---------------------------------------------------------------------------- repeated vocabulary lines


REPEATED = SPECIALS + ["好", "坏", "好", "天", "气"]  # '好' on ids 5 and 7


def test_repeated_vocab_lines_keep_their_ids_through_save_and_load(tmp_path, caplog):
    """Ids are line numbers: a repeated token shifts nothing after it, and save writes the same lines."""
    path = tmp_path / "vocab.txt"
    path.write_text("".join(t + "\n" for t in REPEATED), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="paddle_roformer"):
        tokenizer = RoFormerTokenizer(str(path))
    assert "'好' at ids 5, 7" in caplog.text
    assert tokenizer.vocab_size == len(tokenizer) == len(REPEATED)
    assert tokenizer("好天气坏")["input_ids"] == [2, 7, 8, 9, 6, 3]  # the last '好'; '天' keeps line 8
    assert tokenizer.convert_ids_to_tokens(list(range(len(REPEATED)))) == REPEATED  # every id has its token
    tokenizer.save_pretrained(tmp_path / "saved")
    assert (tmp_path / "saved" / "vocab.txt").read_bytes() == path.read_bytes()
    again = RoFormerTokenizer.from_pretrained(tmp_path / "saved")
    assert again.vocab_size == len(REPEATED) and again("好天气坏") == tokenizer("好天气坏")
    assert again.convert_ids_to_tokens([5, 7, 8]) == ["好", "好", "天"]


def test_repeated_vocab_lines_give_paddlenlp_ids(tmp_path, corpus, paddlenlp_tokenizer):
    path = tmp_path / "vocab.txt"
    lines = REPEATED + sorted({c for line in corpus[:50] for c in line})
    lines += lines[5:40]  # 35 characters repeated at the end: their text now encodes to the later line
    path.write_text("".join(t + "\n" for t in lines), encoding="utf-8")
    theirs = paddlenlp_tokenizer(str(path))
    ours = RoFormerTokenizer(str(path), split_special_tokens=True)
    assert ours(corpus[:50])["input_ids"] == theirs(corpus[:50])["input_ids"]
    theirs.save_pretrained(str(tmp_path / "theirs"))
    ours.save_pretrained(tmp_path / "ours")
    assert (tmp_path / "ours" / "vocab.txt").read_bytes() == (tmp_path / "theirs" / "vocab.txt").read_bytes()


# ---------------------------------------------------------------------------- tokenizer_config.json


@pytest.mark.parametrize("content, message", [
    ("{not json", "is not a JSON tokenizer config"),
    ("[1, 2]", "must hold a JSON object of tokenizer settings, got a list"),
    ('{"vocab_size": 50257, "bos_token": "<|endoftext|>"}',
     r"is not a RoFormer tokenizer config: unknown keys \['bos_token', 'vocab_size'\]"),
])
def test_bad_tokenizer_config_names_the_file(tmp_path, char_vocab, content, message):
    (tmp_path / "vocab.txt").write_bytes(open(char_vocab, "rb").read())
    (tmp_path / "tokenizer_config.json").write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=".*tokenizer_config.json " + message):
        RoFormerTokenizer.from_pretrained(tmp_path)


def test_hugging_face_special_token_records_are_read(tmp_path, char_vocab):
    (tmp_path / "vocab.txt").write_bytes(open(char_vocab, "rb").read())
    config = {"do_lower_case": True, "tokenizer_class": "RoFormerTokenizer",
              "mask_token": {"content": "[MASK]", "lstrip": True, "__type": "AddedToken"}}
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    assert RoFormerTokenizer.from_pretrained(tmp_path).mask_token == "[MASK]"
