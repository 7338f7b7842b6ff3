"""RoFormerTokenizer: ids identical to PaddleNLP 2.8.1, offsets, the call API, files and errors."""
import os
import unicodedata

import numpy as np
import paddle
import pytest

from paddle_roformer import RoFormerTokenizer, build_vocab
from paddle_roformer.text import JiebaSegmenter
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


# ---------------------------------------------------------------------------- segmentation


def test_jieba_segmentation_identical_to_jieba(corpus):
    import jieba

    segmenter = JiebaSegmenter()
    for text in corpus + EDGE_CASES:
        assert segmenter.cut(text) == list(jieba.cut(text, HMM=False)), text


def test_jieba_user_words_are_seen(char_vocab):
    import jieba

    segmenter = JiebaSegmenter()
    text = "我们在测试绿萝卜汤面馆"
    before = segmenter.cut(text)
    jieba.add_word("绿萝卜汤面馆", freq=100000)
    try:
        after = segmenter.cut(text)
        assert after == list(jieba.cut(text, HMM=False)) and "绿萝卜汤面馆" in after and before != after
    finally:
        jieba.del_word("绿萝卜汤面馆")
    assert segmenter.cut(text) == list(jieba.cut(text, HMM=False))


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


# ---------------------------------------------------------------------------- build_vocab


def test_build_vocab_char_and_word(tmp_path, corpus):
    source = tmp_path / "corpus.txt"
    source.write_text("\n".join(corpus), encoding="utf-8")
    char = build_vocab([str(source)], str(tmp_path / "char.txt"), mode="char")
    word = build_vocab([str(source)], str(tmp_path / "word.txt"), mode="word", max_size=3000, min_freq=2)
    char_tokens = open(char, encoding="utf-8").read().split("\n")[:-1]
    word_tokens = open(word, encoding="utf-8").read().split("\n")[:-1]
    assert char_tokens[:5] == SPECIALS and len(word_tokens) == 3000
    assert any(len(t) > 1 and "\u4e00" <= t[0] <= "\u9fff" for t in word_tokens)  # jieba words made it in
    for path, use_jieba, max_unk in ((char, False, 0.0), (word, True, 0.03)):  # word: rare chars were cut
        tokenizer = RoFormerTokenizer(path, use_jieba=use_jieba)
        ids = tokenizer(corpus[:100])["input_ids"]
        unk = sum(row.count(tokenizer.unk_token_id) for row in ids)
        assert unk / sum(map(len, ids)) <= max_unk


def test_build_vocab_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="text file not found"):
        build_vocab([str(tmp_path / "none.txt")], str(tmp_path / "v.txt"))
    with pytest.raises(ValueError, match="mode must be 'char' or 'word'"):
        build_vocab([], str(tmp_path / "v.txt"), mode="bpe", texts=["好"])
    with pytest.raises(ValueError, match="min_freq must be an integer >= 1"):
        build_vocab([], str(tmp_path / "v.txt"), min_freq=0, texts=["好"])
    with pytest.raises(ValueError, match="max_size must be an integer > 5"):
        build_vocab([], str(tmp_path / "v.txt"), max_size=3, texts=["好"])
    with pytest.raises(ValueError, match="hold no text"):
        build_vocab([], str(tmp_path / "v.txt"), texts=["   "])
    with pytest.raises(TypeError, match=r"texts\[1\] must be a str"):
        build_vocab([], str(tmp_path / "v.txt"), texts=["好", None])
    assert not (tmp_path / "v.txt").exists()  # nothing half-written
