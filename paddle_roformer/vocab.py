"""build_vocab: text files -> vocab.txt, character-level or jieba word-level."""
from __future__ import annotations

import collections
import os
from typing import Iterable, List, Optional, Sequence

from .text import JiebaSegmenter, normalize_word, char_classes, clean_text, is_cjk
from .utils import atomic_write_text

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def _pieces(text: str, do_lower_case: bool) -> List[str]:
    """The basic tokenizer's output for ``text`` (before WordPiece): CJK characters and split words."""
    classes = char_classes()
    clean, _ = clean_text(text)
    out: List[str] = []
    for unit in classes.units.findall(clean):
        norm = normalize_word(unit, do_lower_case)[0] if not unit.isascii() else (unit.lower() if do_lower_case else unit)
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
    atomic_write_text(os.fspath(output), "".join(t + "\n" for t in vocab))
    return os.fspath(output)


def _lines(files: Sequence[str], texts: Optional[Iterable[str]]):
    for path in files:
        with open(path, encoding="utf-8", errors="replace") as f:
            yield from f
    if texts is not None:
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"texts[{i}] must be a str, got {type(text).__name__}")
            yield text
