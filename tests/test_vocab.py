"""vocab.py: reading and writing vocab.txt (ids are line numbers, repeats included) and build_vocab."""
import logging

import pytest

from paddle_roformer import RoFormerTokenizer, build_vocab
from paddle_roformer.vocab import read_vocab, token_to_id, write_vocab
from _corpus import peoples_daily, reviews

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


@pytest.fixture(scope="module")
def corpus():
    return reviews(300) + peoples_daily(200)


# ---------------------------------------------------------------------------- vocab.txt


def test_repeated_lines_keep_their_ids_and_are_named_in_a_warning(tmp_path, caplog):
    lines = SPECIALS + ["好", "坏", "好", "天", "坏", "好"]
    path = tmp_path / "vocab.txt"
    path.write_text("".join(t + "\n" for t in lines), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="paddle_roformer"):
        tokens = read_vocab(path)
    assert tokens == lines  # every line, in order: line k is id k
    assert token_to_id(tokens)["好"] == 10 and token_to_id(tokens)["坏"] == 9  # the last line, as PaddleNLP
    assert "repeats 2 token(s)" in caplog.text
    assert "'好' at ids 5, 7, 10" in caplog.text and "'坏' at ids 6, 9" in caplog.text


def test_no_warning_without_repeats(tmp_path, caplog):
    path = write_vocab(tmp_path / "vocab.txt", SPECIALS + ["好"])
    with caplog.at_level(logging.WARNING, logger="paddle_roformer"):
        assert read_vocab(path) == SPECIALS + ["好"]
    assert caplog.text == ""


def test_write_then_read_is_the_identity(tmp_path):
    lines = SPECIALS + ["a", "", "a", "##b", "\u3000", "\u2028"]  # an empty line, odd characters
    path = write_vocab(tmp_path / "v.txt", lines)
    assert read_vocab(path) == lines
    assert open(path, "rb").read() == "".join(t + "\n" for t in lines).encode("utf-8")


def test_read_vocab_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="vocab file not found: .*nope.txt"):
        read_vocab(tmp_path / "nope.txt")
    (tmp_path / "empty.txt").write_text("\n \n")
    with pytest.raises(ValueError, match="is empty"):
        read_vocab(tmp_path / "empty.txt")
    with pytest.raises(TypeError, match="vocab_file must be a path"):
        read_vocab(None)


# ---------------------------------------------------------------------------- build_vocab


def test_build_vocab_char_and_word(tmp_path, corpus):
    source = tmp_path / "corpus.txt"
    source.write_text("\n".join(corpus), encoding="utf-8")
    char = build_vocab([str(source)], str(tmp_path / "char.txt"), mode="char")
    word = build_vocab([str(source)], str(tmp_path / "word.txt"), mode="word", max_size=3000, min_freq=2)
    char_tokens = open(char, encoding="utf-8").read().split("\n")[:-1]
    word_tokens = open(word, encoding="utf-8").read().split("\n")[:-1]
    assert char_tokens[:5] == SPECIALS and len(word_tokens) == 3000
    assert len(set(word_tokens)) == len(word_tokens)  # no token twice
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
