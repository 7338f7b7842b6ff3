"""Text to WordPiece ids with exact character offsets.

The rules are those of the BERT basic tokenizer as PaddleNLP 2.8 applies them, so ids agree token
for token:

1. cleaning: drop NUL, U+FFFD and control characters (category C*, except tab / newline / CR);
2. CJK ideographs become one-character words; with jieba, a segmented word found in the
   vocabulary stays whole and the other CJK characters stand alone;
3. whitespace splits words; each word is lower-cased and stripped of accents (NFD, drop Mn) when
   ``do_lower_case`` is on, then split on punctuation and symbols (categories P* and S*, all
   non-alphanumeric ASCII, and a few extras);
4. WordPiece: greedy longest match, ``##`` marks a continuation, a word longer than 100
   characters or without a match is ``[UNK]``.

Every unit of step 3 is encoded once and cached, which is where the speed comes from: real text
repeats its characters and words. Offsets are carried through every step, for jieba words too.
"""
from __future__ import annotations

import functools
import math
import re
import threading
import unicodedata
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

CJK_RANGES = (
    (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F),
)
EXTRA_SYMBOLS = (0x00AD, 0x00B2, 0x00BA, 0x3007, 0x00B5, 0x00D8, 0x014B, 0x01B1)  # split like punctuation
MAX_CHARS_PER_WORD = 100


def _ranges_to_class(codepoints: Iterable[int]) -> str:
    """Sorted code points -> the inside of a regex character class."""
    parts, start, prev = [], None, None
    for cp in codepoints:
        if start is None:
            start = prev = cp
        elif cp == prev + 1:
            prev = cp
        else:
            parts.append((start, prev))
            start = prev = cp
    if start is not None:
        parts.append((start, prev))
    return "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in parts)


def is_punctuation_or_symbol(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126 or cp in EXTRA_SYMBOLS:
        return True
    return unicodedata.category(ch)[0] in "PS"


def is_cjk(ch: str) -> bool:
    if "\u4e00" <= ch <= "\u9fff":  # the common case first
        return True
    cp = ord(ch)
    return any(a <= cp <= b for a, b in CJK_RANGES)


class _Classes:
    """Regexes over character classes, built once by scanning the Unicode table (~0.1 s)."""

    def __init__(self):
        removed, spaces, punct = [], [], []
        for cp in range(0x110000):
            ch = chr(cp)
            category = unicodedata.category(ch)
            if ch in "\t\n\r":
                spaces.append(cp)
            elif cp == 0 or cp == 0xFFFD or category[0] == "C":
                removed.append(cp)
            elif category == "Zs" or ch.isspace():
                spaces.append(cp)
            elif is_punctuation_or_symbol(ch):
                punct.append(cp)
        cjk = "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in CJK_RANGES)
        space = _ranges_to_class(spaces)
        self.removed = re.compile(f"[{_ranges_to_class(removed)}]")
        # Characters the cleaning step maps to a plain space (what jieba then sees).
        self.to_space = {cp: " " for cp in spaces if unicodedata.category(chr(cp)) == "Zs" or chr(cp) in "\t\n\r"}
        # Words of step 3 when CJK characters stand alone: one ideograph, or a run of anything else.
        self.units = re.compile(f"[{cjk}]|[^{space}{cjk}]+")
        # Words of step 3 inside a jieba unit (CJK already handled by the segmentation).
        self.words = re.compile(f"[^{space}]+")
        self.pieces = re.compile(f"[{_ranges_to_class(punct)}]|[^{_ranges_to_class(punct)}]+")
        self.ascii_pieces = re.compile(r"[!-/:-@\[-`{-~]|[^!-/:-@\[-`{-~]+")


@functools.lru_cache(maxsize=None)
def char_classes() -> _Classes:
    return _Classes()


def clean_text(text: str) -> Tuple[str, Optional[List[int]]]:
    """Drop removed characters; return the text and, if anything was dropped, each kept char's index."""
    classes = char_classes()
    # isprintable() is False for every removed character (categories C*), so it clears most texts at C speed
    if text.isprintable() or not classes.removed.search(text):
        return text, None
    kept, positions = [], []
    for i, ch in enumerate(text):
        if not classes.removed.match(ch):
            kept.append(ch)
            positions.append(i)
    return "".join(kept), positions


def normalize_word(word: str, lower: bool) -> Tuple[str, List[int]]:
    """Lower-case and strip accents like the reference; also map each output char to its source char."""
    if not lower:
        return word, list(range(len(word)))
    lowered = word.lower()  # the whole word at once, as the reference (final sigma depends on context)
    sources: List[int] = []
    for i, ch in enumerate(word):
        sources.extend([i] * len(ch.lower()))
    if len(sources) != len(lowered):  # lengths differ only through exotic casing rules: map coarsely
        sources = [0] * len(lowered)
    out, out_sources = [], []
    for ch, src in zip(lowered, sources):
        for part in unicodedata.normalize("NFD", ch):
            if unicodedata.category(part) != "Mn":
                out.append(part)
                out_sources.append(src)
    result = "".join(out)
    reference = "".join(c for c in unicodedata.normalize("NFD", lowered) if unicodedata.category(c) != "Mn")
    if result != reference:  # canonical reordering moved a non-mark: keep the reference text
        return reference, [0] * len(reference)
    return result, out_sources


class WordPieceEncoder:
    """Vocabulary lookups with a cache of whole words (the units of step 3)."""

    def __init__(self, vocab: Dict[str, int], unk_token: str, do_lower_case: bool, cache_size: int = 1 << 20):
        if unk_token not in vocab:
            raise ValueError(f"unk_token {unk_token!r} is not in the vocabulary")
        self.vocab = vocab
        self.unk_token = unk_token
        self.unk_id = vocab[unk_token]
        self.do_lower_case = do_lower_case
        self.cache_size = cache_size
        self.cache: Dict[str, Tuple[Tuple[int, ...], Tuple[Tuple[int, int], ...], Tuple[str, ...]]] = {}

    def encode_word(self, word: str):
        """(ids, spans relative to ``word``, token strings) of one whitespace-delimited word."""
        hit = self.cache.get(word)
        if hit is None:
            hit = self._encode_word(word)
            if len(self.cache) >= self.cache_size:
                self.cache.clear()
            self.cache[word] = hit
        return hit

    def _encode_word(self, word: str):
        if word.isascii():
            norm = word.lower() if self.do_lower_case else word
            sources = None  # one to one
            splitter = char_classes().ascii_pieces
        else:
            norm, sources = normalize_word(word, self.do_lower_case)
            splitter = char_classes().pieces
        ids, spans, tokens = [], [], []
        for m in splitter.finditer(norm):
            for token, a, b in self._wordpiece(m.group()):
                start, end = m.start() + a, m.start() + b
                if sources is not None:
                    start, end = sources[start], sources[end - 1] + 1
                ids.append(self.vocab.get(token, self.unk_id))
                spans.append((start, end))
                tokens.append(token)
        return tuple(ids), tuple(spans), tuple(tokens)

    def _wordpiece(self, piece: str) -> List[Tuple[str, int, int]]:
        if len(piece) > MAX_CHARS_PER_WORD:
            return [(self.unk_token, 0, len(piece))]
        if piece in self.vocab:
            return [(piece, 0, len(piece))]
        out, start, n = [], 0, len(piece)
        while start < n:
            end = n
            while end > start:
                sub = piece[start:end] if start == 0 else "##" + piece[start:end]
                if sub in self.vocab:
                    out.append((sub, start, end))
                    break
                end -= 1
            else:
                return [(self.unk_token, 0, n)]
            start = end
        return out


_MISSING = object()
_NEG_INF = float("-inf")
_ASCII_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


class _Snapshot:
    """One state of jieba's dictionary with its score table and its cache of segmented blocks.

    A segmenter publishes a snapshot only once it is complete (one attribute assignment), so a
    thread never sees a key without its table; a new dictionary state gets a new snapshot and a
    new cache, so a thread still working on the old state cannot pollute the new one.
    """

    __slots__ = ("key", "freq", "scores", "alone", "cache")

    def __init__(self, key: tuple, freq: Dict[str, int], scores: Dict[str, Optional[float]], total: int):
        self.key = key
        self.freq = freq  # jieba's live dictionary: a deletion (frequency set to 0) shows at once
        self.scores = scores
        self.alone = -math.log(total)  # a character that starts no word: log(1) - log(total)
        self.cache: Dict[str, tuple] = {}


class JiebaSegmenter:
    """``jieba.cut(text, HMM=False)``, computed from jieba's own dictionary, faster.

    The dynamic program is jieba's (same log-probabilities in the same order, same tie-breaking),
    so the words are identical; a test checks this on real text. The speed comes from one table
    of word -> log-probability (``None`` for the prefixes jieba stores with frequency 0), built
    once per dictionary state, so each step of the search costs one lookup instead of two, and
    from a cache of blocks already segmented.

    Words added or deleted at run time (``jieba.add_word``, ``del_word``, ``load_userdict``,
    ``suggest_freq``) are seen: adding changes jieba's total or its size, which rebuilds the table;
    deleting sets a frequency to 0, and a result is only kept if every dictionary word on its best
    path still has a frequency (a word off the path cannot change the best path by going away).

    Safe to share between threads: the table is built under a lock and published whole.
    """

    _han = re.compile("([\u4E00-\u9FD5a-zA-Z0-9+#&\\._%\\-]+)")
    _skip = re.compile("(\r\n|\\s)")
    _tables: Dict[tuple, Dict[str, Optional[float]]] = {}  # dictionary state -> scores, shared
    _lock = threading.Lock()  # guards _tables and the building of a snapshot

    def __init__(self, cache_size: int = 1 << 18):
        import jieba

        self._jieba = jieba
        self.cache_size = cache_size
        self._snapshot: Optional[_Snapshot] = None

    def _current(self, stale: Optional[_Snapshot] = None) -> _Snapshot:
        """The snapshot of jieba's dictionary as it is now; ``stale``: one known to be out of date."""
        dt = self._jieba.dt
        dt.check_initialized()
        key = (id(dt.FREQ), dt.total, len(dt.FREQ))
        snapshot = self._snapshot
        if snapshot is not None and snapshot.key == key and snapshot is not stale:
            return snapshot
        with JiebaSegmenter._lock:
            snapshot = self._snapshot  # another thread may have built it while this one waited
            if snapshot is None or snapshot.key != key or snapshot is stale:
                table = None if stale is not None else self._tables.get(key)
                if table is None:
                    self._tables.clear()  # only the current dictionary state is worth keeping
                    table = self._tables[key] = _score_table(dt.FREQ, math.log(dt.total))
                snapshot = _Snapshot(key, dt.FREQ, table, dt.total)
                self._snapshot = snapshot  # published complete
        return snapshot

    def cut(self, text: str) -> List[str]:
        snapshot = self._current()
        words: List[str] = []
        for block in self._han.split(text):
            if not block:
                continue
            if self._han.match(block):
                words.extend(self._segment_block(block, snapshot))
            else:
                for part in self._skip.split(block):
                    if self._skip.match(part):
                        words.append(part)
                    else:
                        words.extend(part)
        return words

    def _segment_block(self, block: str, snapshot: _Snapshot) -> Tuple[str, ...]:
        freq_get = snapshot.freq.get
        hit = snapshot.cache.get(block)
        if hit is not None and all(freq_get(w) for w in hit[1]):
            return hit[0]
        hit = _cut_block(block, snapshot)
        if not all(freq_get(w) for w in hit[1]):  # a word was deleted since the table was built
            snapshot = self._current(stale=snapshot)
            hit = _cut_block(block, snapshot)
        if len(snapshot.cache) >= self.cache_size:
            snapshot.cache.clear()
        snapshot.cache[block] = hit
        return hit[0]


def _score_table(freq: Dict[str, int], logtotal: float) -> Dict[str, Optional[float]]:
    log = math.log
    return {w: (log(f) - logtotal if f else None) for w, f in freq.items()}


def _cut_block(block: str, snapshot: _Snapshot):
    """(words, dictionary words on the best path) of one block of CJK / alphanumeric text."""
    get, n, alone = snapshot.scores.get, len(block), snapshot.alone
    best_score = [0.0] * (n + 1)
    best_end = list(range(n + 1))
    from_dictionary = [False] * n
    for i in range(n - 1, -1, -1):
        # jieba's DAG: every end j such that block[i:j+1] is a word with non-zero frequency
        score = get(block[i], _MISSING)
        if score is _MISSING:  # no word starts here: the character alone
            best_score[i] = alone + best_score[i + 1]
            continue
        top, top_end, j = _NEG_INF, i, i
        while True:
            if score is not None:
                total = score + best_score[j + 1]
                if total >= top:  # max over (score, end): a tie goes to the larger end
                    top = total
                    top_end = j
            j += 1
            if j >= n:
                break
            score = get(block[i : j + 1], _MISSING)
            if score is _MISSING:
                break
        if top == _NEG_INF:  # only zero-frequency prefixes start here
            best_score[i] = alone + best_score[i + 1]
        else:
            best_score[i] = top
            best_end[i] = top_end
            from_dictionary[i] = True
    words, path, buf, x = [], [], "", 0
    while x < n:
        y = best_end[x] + 1
        word = block[x:y]
        if from_dictionary[x]:
            path.append(word)
        if y - x == 1 and word in _ASCII_ALNUM:  # jieba joins single letters and digits
            buf += word
        else:
            if buf:
                words.append(buf)
                buf = ""
            words.append(word)
        x = y
    if buf:
        words.append(buf)
    return tuple(words), tuple(path)


def split_on_special(text: str, pattern: Optional[re.Pattern]) -> List[Tuple[str, int, bool]]:
    """Pieces of ``text`` as (string, start, is_special_token)."""
    if pattern is None:
        return [(text, 0, False)]
    out, last = [], 0
    for m in pattern.finditer(text):
        if m.start() > last:
            out.append((text[last : m.start()], last, False))
        out.append((m.group(), m.start(), True))
        last = m.end()
    if last < len(text):
        out.append((text[last:], last, False))
    return out


def jieba_words(text: str, segments: Sequence[str], vocab: Dict[str, int], words_re: re.Pattern,
                with_positions: bool = True) -> list:
    """Words under the jieba rule: a segment found in the vocabulary stays whole, other CJK
    characters stand alone, and the remaining characters merge into runs that are then split on
    whitespace (as the reference, which pads kept words and CJK characters with spaces).

    Returns (word, start) pairs, or just the words when ``with_positions`` is False (faster).
    """
    out: list = []
    add_run = (lambda a, b: out.extend((m.group(), m.start()) for m in words_re.finditer(text, a, b))) \
        if with_positions else (lambda a, b: out.extend(words_re.findall(text, a, b)))
    run_start = None
    pos = 0
    for segment in segments:
        end = pos + len(segment)
        if segment in vocab:
            if run_start is not None:
                add_run(run_start, pos)
                run_start = None
            out.append((segment, pos) if with_positions else segment)
        else:
            for k, ch in enumerate(segment):
                if is_cjk(ch):
                    if run_start is not None:
                        add_run(run_start, pos + k)
                        run_start = None
                    out.append((ch, pos + k) if with_positions else ch)
                elif run_start is None:
                    run_start = pos + k
        pos = end
    if run_start is not None:
        add_run(run_start, pos)
    return out
