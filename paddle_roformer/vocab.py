"""vocab.txt: read and write it (one token per line, the line number is the id), and build_vocab:
text files -> vocab.txt, character-level or jieba word-level."""
from __future__ import annotations

import collections
import logging
import os
from typing import Dict, Iterable, List, Optional, Sequence

from .text import JiebaSegmenter, normalize_word, char_classes, clean_text, is_cjk
from .utils import atomic_write_text

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
SHOWN_REPEATS = 10  # repeated tokens named in the warning

logger = logging.getLogger("paddle_roformer")


def read_vocab(vocab_file) -> List[str]:
    """Every line of ``vocab_file``, in order: line k (counting from 0) is the token of id k.

    A token on several lines keeps all of them (ids are rows of the embedding table, so none may
    shift); a warning names each repeated token and its ids.
    """
    if vocab_file is None:
        raise TypeError("vocab_file must be a path to vocab.txt, got None")
    vocab_file = os.fspath(vocab_file)
    if not os.path.isfile(vocab_file):
        raise FileNotFoundError(
            f"vocab file not found: {vocab_file!r}; pass the path of a vocab.txt, or build one with "
            "paddle_roformer.build_vocab"
        )
    with open(vocab_file, encoding="utf-8") as f:
        tokens = [line.rstrip("\n") for line in f]
    if all(not t.strip() for t in tokens):
        raise ValueError(f"vocab file {vocab_file!r} is empty")
    if len(set(tokens)) != len(tokens):
        _warn_repeats(vocab_file, tokens)
    return tokens


def token_to_id(tokens: Sequence[str]) -> Dict[str, int]:
    """token -> id; a repeated token maps to its last line, as PaddleNLP and Hugging Face read it."""
    return {token: index for index, token in enumerate(tokens)}


def write_vocab(path, tokens: Sequence[str]) -> str:
    """Write one token per line, atomically; returns ``path``."""
    atomic_write_text(os.fspath(path), "".join(t + "\n" for t in tokens))
    return os.fspath(path)


def _warn_repeats(vocab_file: str, tokens: Sequence[str]) -> None:
    where: Dict[str, List[int]] = collections.defaultdict(list)
    for index, token in enumerate(tokens):
        where[token].append(index)
    repeats = [(token, ids) for token, ids in where.items() if len(ids) > 1]
    shown = "; ".join(f"{token!r} at ids {', '.join(map(str, ids))}" for token, ids in repeats[:SHOWN_REPEATS])
    more = f"; and {len(repeats) - SHOWN_REPEATS} more" if len(repeats) > SHOWN_REPEATS else ""
    logger.warning(
        "vocab file %s repeats %d token(s): %s%s. Every line keeps its id (ids count lines from 0); "
        "the text of a repeated token encodes to its last id.", vocab_file, len(repeats), shown, more
    )


def _pieces(text: str, do_lower_case: bool) -> List[str]:
    """The basic tokenizer's output for ``text`` (before WordPiece): CJK characters and split words."""
    classes = char_classes()
    clean, _ = clean_text(text)
    out: List[str] = []
    for unit in classes.units.findall(clean):
        if unit.isascii():
            norm = unit.lower() if do_lower_case else unit
        else:
            norm = normalize_word(unit, do_lower_case)[0]
        out.extend(classes.pieces.findall(norm))
    return out


def build_vocab(
    files: Sequence[str],
    output: str,
    mode: str = "char",
    max_size: Optional[int] = None,
    min_freq: int = 1,
    do_lower_case: bool = True,
    special_tokens: Sequence[str] = SPECIAL_TOKENS,
    texts: Optional[Iterable[str]] = None,
) -> str:
    """Count the text of ``files`` (and ``texts``) and write a WordPiece ``vocab.txt`` to ``output``.

    - ``mode="char"``: every character seen, then frequent non-Chinese words (English, numbers).
    - ``mode="word"``: the same, plus Chinese words from ``jieba.cut(HMM=False)``, for
      ``use_jieba=True`` tokenizers (the layout of roformer-chinese-base's vocabulary).

    Order: special tokens, single characters (most frequent first), ``##`` continuations of the
    non-Chinese characters (so any word can be spelled), then words by frequency until
    ``max_size``. Tokens seen fewer than ``min_freq`` times are left out. Returns ``output``.
    """
    if mode not in ("char", "word"):
        raise ValueError(f"mode must be 'char' or 'word', got {mode!r}")
    if isinstance(min_freq, bool) or not isinstance(min_freq, int) or min_freq < 1:
        raise ValueError(f"min_freq must be an integer >= 1, got {min_freq!r}")
    if max_size is not None and (not isinstance(max_size, int) or max_size <= len(special_tokens)):
        raise ValueError(f"max_size must be an integer > {len(special_tokens)} (the special tokens), got {max_size!r}")
    if isinstance(files, (str, os.PathLike)):
        files = [files]
    for path in files:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"text file not found: {path}")

    chars: collections.Counter = collections.Counter()
    words: collections.Counter = collections.Counter()
    segmenter = JiebaSegmenter() if mode == "word" else None
    for line in _lines(files, texts):
        for piece in _pieces(line, do_lower_case):
            chars.update(piece)
            if len(piece) > 1:
                words[piece] += 1
        if segmenter is not None:
            clean, _ = clean_text(line)
            for segment in segmenter.cut(clean):
                if len(segment) > 1 and all(is_cjk(c) for c in segment):
                    words[segment.lower() if do_lower_case else segment] += 1
    if not chars:
        raise ValueError("the files hold no text to build a vocabulary from")

    vocab: List[str] = list(dict.fromkeys(special_tokens))
    seen = set(vocab)

    def add(token: str) -> bool:
        if max_size is not None and len(vocab) >= max_size:
            return False
        if token not in seen:
            seen.add(token)
            vocab.append(token)
        return True

    frequent_chars = [c for c, n in chars.most_common() if n >= min_freq and not c.isspace()]
    for c in frequent_chars:
        add(c)
    for c in frequent_chars:
        if not is_cjk(c) and c.isalnum():
            add("##" + c)
    for word, n in sorted(words.items(), key=lambda kv: (-kv[1], kv[0])):
        if n < min_freq or not add(word):
            break
    return write_vocab(output, vocab)


def _lines(files: Sequence[str], texts: Optional[Iterable[str]]):
    for path in files:
        with open(path, encoding="utf-8", errors="replace") as f:
            yield from f
    if texts is not None:
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"texts[{i}] must be a str, got {type(text).__name__}")
            yield text
