"""text.py: cleaning, jieba segmentation (identical to jieba, thread-safe), WordPiece, offsets helpers."""
import re
import threading

import pytest

from paddle_roformer.text import (
    JiebaSegmenter,
    WordPieceEncoder,
    char_classes,
    clean_text,
    jieba_words,
    normalize_word,
    split_on_special,
)
from _corpus import EDGE_CASES, peoples_daily, reviews

THREADS = 6


@pytest.fixture(scope="module")
def corpus():
    return reviews(300) + peoples_daily(200)


# ---------------------------------------------------------------------------- cleaning


def test_clean_text_drops_control_characters_and_maps_positions():
    assert clean_text("普通文本 plain") == ("普通文本 plain", None)  # nothing dropped: no position table
    text = "a\x00b\ufffdc\u200bd\te"
    clean, positions = clean_text(text)
    assert clean == "abcd\te"  # tab stays (it is whitespace), NUL / U+FFFD / zero-width space go
    assert [text[p] for p in positions] == list(clean)


def test_normalize_word_lowercases_strips_accents_and_maps_sources():
    assert normalize_word("Café", lower=True) == ("cafe", [0, 1, 2, 3])
    norm, sources = normalize_word("ÅNGström", lower=True)
    assert norm == "angstrom" and len(sources) == len(norm) and sources[0] == 0
    assert normalize_word("Café", lower=False) == ("Café", [0, 1, 2, 3])


def test_character_classes():
    classes = char_classes()
    assert classes.units.findall("今天hello, world") == ["今", "天", "hello,", "world"]
    assert classes.pieces.findall("hello,world！") == ["hello", ",", "world", "！"]
    assert "\u3000".translate(classes.to_space) == " "


# ---------------------------------------------------------------------------- WordPiece


def test_wordpiece_longest_match_unk_and_cache():
    vocab = {t: i for i, t in enumerate(["[UNK]", "play", "##ing", "##s", "un", "##play", ",", "a"])}
    encoder = WordPieceEncoder(vocab, "[UNK]", do_lower_case=True)
    assert encoder.encode_word("Playing,") == ((1, 2, 6), ((0, 4), (4, 7), (7, 8)), ("play", "##ing", ","))
    assert encoder.encode_word("unplays")[2] == ("un", "##play", "##s")
    assert encoder.encode_word("xyz")[2] == ("[UNK]",)  # no match at all: the word is [UNK]
    assert encoder.encode_word("a" * 101) == ((0,), ((0, 101),), ("[UNK]",))  # longer than 100 characters
    assert "Playing," in encoder.cache
    with pytest.raises(ValueError, match="unk_token '<unk>' is not in the vocabulary"):
        WordPieceEncoder(vocab, "<unk>", True)


# ---------------------------------------------------------------------------- offsets helpers


def test_split_on_special_keeps_positions():
    pattern = re.compile(r"\[MASK\]|\[SEP\]")
    assert split_on_special("今天[MASK]气[SEP]", pattern) == [
        ("今天", 0, False), ("[MASK]", 2, True), ("气", 8, False), ("[SEP]", 9, True)]
    assert split_on_special("今天", None) == [("今天", 0, False)]


def test_jieba_words_keeps_vocab_words_and_splits_the_rest():
    vocab = {"欢迎": 0, "百度": 1}
    words_re = char_classes().words
    segments = ["欢迎", "使用", "百度", " ", "ok", "!"]
    text = "".join(segments)
    assert jieba_words(text, segments, vocab, words_re) == [
        ("欢迎", 0), ("使", 2), ("用", 3), ("百度", 4), ("ok!", 7)]
    words = jieba_words(text, segments, vocab, words_re, with_positions=False)
    assert words == ["欢迎", "使", "用", "百度", "ok!"]


# ---------------------------------------------------------------------------- jieba segmentation


def test_jieba_segmentation_identical_to_jieba(corpus):
    import jieba

    segmenter = JiebaSegmenter()
    for text in corpus + EDGE_CASES:
        assert segmenter.cut(text) == list(jieba.cut(text, HMM=False)), text


def test_jieba_user_words_are_seen():
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


def run_together(work, threads=THREADS):
    """Start ``threads`` calls of ``work()`` at the same moment; return (results, errors)."""
    barrier = threading.Barrier(threads)
    results, errors = [None] * threads, []

    def run(k):
        barrier.wait()  # all threads begin on the fresh object at once
        try:
            results[k] = work()
        except Exception as err:  # collected: an exception in a thread would otherwise be lost
            errors.append(repr(err))

    pool = [threading.Thread(target=run, args=(k,)) for k in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return results, errors


def test_jieba_segmenter_is_thread_safe_on_first_use(corpus):
    """A fresh segmenter used by several threads at once: each gets jieba's words, none an error.

    A word added first gives jieba's dictionary a new state, so the first use builds the score
    table while the other threads are already segmenting.
    """
    import jieba

    texts = corpus[:150]
    jieba.initialize()
    jieba.add_word("并发首用测试词", freq=3)
    try:
        segmenter = JiebaSegmenter()
        results, errors = run_together(lambda: [segmenter.cut(t) for t in texts])
        expected = [JiebaSegmenter().cut(t) for t in texts]  # single-threaded, same dictionary
    finally:
        jieba.del_word("并发首用测试词")
    assert errors == []
    assert all(result == expected for result in results)
    assert expected == [list(jieba.cut(t, HMM=False)) for t in texts]
