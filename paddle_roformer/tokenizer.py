"""RoFormerTokenizer: PaddleNLP's call and ids, jieba word-level / char-level / English WordPiece,
with character offsets in every mode.
"""
from __future__ import annotations

import json
import logging
import os
import re
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .text import (
    JiebaSegmenter,
    WordPieceEncoder,
    char_classes,
    clean_text,
    is_cjk,
    jieba_words,
    split_on_special,
)
from .utils import atomic_write_text

logger = logging.getLogger("paddle_roformer")

VOCAB_NAME = "vocab.txt"
TOKENIZER_CONFIG_NAME = "tokenizer_config.json"
SPECIAL_TOKENS_MAP_NAME = "special_tokens_map.json"
SPECIAL_TOKEN_NAMES = ("unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
# Keys PaddleNLP / Hugging Face write into tokenizer_config.json that carry no setting of ours.
IGNORED_CONFIG_KEYS = frozenset(
    {"tokenizer_class", "name_or_path", "special_tokens_map_file", "init_inputs", "chat_template",
     "added_tokens_decoder", "clean_up_tokenization_spaces", "tokenize_chinese_chars", "strip_accents",
     "never_split", "do_basic_tokenize", "additional_special_tokens", "padding_side", "truncation_side"}
)
TRUNCATION_STRATEGIES = ("longest_first", "only_first", "only_second", "do_not_truncate")
PADDING_STRATEGIES = ("longest", "max_length", "do_not_pad")

TextInput = Union[str, Sequence[str]]


class BatchEncoding(dict):
    """The dict returned by a tokenizer call; ``enc.input_ids`` works as well as ``enc["input_ids"]``."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def load_vocab(vocab_file: str) -> Dict[str, int]:
    """One token per line; the line number is the id (a repeated token keeps its last line, as PaddleNLP)."""
    if vocab_file is None:
        raise TypeError("vocab_file must be a path to vocab.txt, got None")
    vocab_file = os.fspath(vocab_file)
    if not os.path.isfile(vocab_file):
        raise FileNotFoundError(
            f"vocab file not found: {vocab_file!r}; pass the path of a vocab.txt, or build one with "
            "paddle_roformer.build_vocab"
        )
    vocab: Dict[str, int] = {}
    with open(vocab_file, encoding="utf-8") as f:
        for index, line in enumerate(f):
            vocab[line.rstrip("\n")] = index
    if not vocab or all(not t.strip() for t in vocab):
        raise ValueError(f"vocab file {vocab_file!r} is empty")
    return vocab


class RoFormerTokenizer:
    """WordPiece tokenizer for RoFormer, a drop-in for PaddleNLP's ``RoFormerTokenizer``.

    Args:
        vocab_file: path of ``vocab.txt``.
        do_lower_case: lower-case and strip accents (all ten published vocabularies are uncased).
        use_jieba: segment Chinese with jieba first (``roformer-chinese-small/base``); a word found
            in the vocabulary stays one token.
        split_special_tokens: PaddleNLP 2.8 splits a literal ``[MASK]`` in the text into ``[``,
            ``mask``, ``]``; by default it is kept as the special token. Set True for PaddleNLP's ids.
        model_max_length: length used by ``padding="max_length"`` / ``truncation=True`` without
            ``max_length``.
    """

    resource_files_names = {"vocab_file": VOCAB_NAME}
    model_input_names = ["input_ids", "token_type_ids"]
    padding_side = "right"
    truncation_side = "right"
    pad_token_type_id = 0

    def __init__(
        self,
        vocab_file: str,
        do_lower_case: bool = True,
        use_jieba: bool = False,
        unk_token: str = "[UNK]",
        sep_token: str = "[SEP]",
        pad_token: str = "[PAD]",
        cls_token: str = "[CLS]",
        mask_token: str = "[MASK]",
        split_special_tokens: bool = False,
        model_max_length: Optional[int] = None,
        **kwargs,
    ):
        unknown = sorted(k for k in kwargs if k not in IGNORED_CONFIG_KEYS)
        if unknown:
            raise TypeError(f"RoFormerTokenizer got unexpected arguments {unknown}")
        self.vocab_file = os.fspath(vocab_file) if vocab_file is not None else None
        self.vocab = load_vocab(vocab_file)
        self.ids_to_tokens = {i: t for t, i in self.vocab.items()}
        self.do_lower_case = bool(do_lower_case)
        self.use_jieba = bool(use_jieba)
        self.split_special_tokens = bool(split_special_tokens)
        self.model_max_length = int(model_max_length) if model_max_length else int(1e30)
        self.unk_token, self.sep_token, self.pad_token = unk_token, sep_token, pad_token
        self.cls_token, self.mask_token = cls_token, mask_token
        for name in SPECIAL_TOKEN_NAMES:
            token = getattr(self, name)
            if token not in self.vocab:
                raise ValueError(f"{name} {token!r} is not in the vocabulary {self.vocab_file}")
        self._encoder = WordPieceEncoder(self.vocab, unk_token, self.do_lower_case)
        self._segmenter = JiebaSegmenter() if self.use_jieba else None
        specials = sorted(self.all_special_tokens, key=len, reverse=True)
        self._special_pattern = None if self.split_special_tokens else re.compile("|".join(map(re.escape, specials)))
        char_classes()  # build the character tables now rather than on the first call

    # ------------------------------------------------------------------ vocabulary
    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def __len__(self) -> int:
        return len(self.vocab)

    def get_vocab(self) -> Dict[str, int]:
        return dict(self.vocab)

    @property
    def all_special_tokens(self) -> List[str]:
        return [getattr(self, name) for name in SPECIAL_TOKEN_NAMES]

    @property
    def all_special_ids(self) -> List[int]:
        return [self.vocab[t] for t in self.all_special_tokens]

    unk_token_id = property(lambda self: self.vocab[self.unk_token])
    sep_token_id = property(lambda self: self.vocab[self.sep_token])
    pad_token_id = property(lambda self: self.vocab[self.pad_token])
    cls_token_id = property(lambda self: self.vocab[self.cls_token])
    mask_token_id = property(lambda self: self.vocab[self.mask_token])

    def convert_tokens_to_ids(self, tokens: Union[str, Sequence[str]]):
        if tokens is None:
            return None
        if isinstance(tokens, str):
            return self.vocab.get(tokens, self.unk_token_id)
        return [self.vocab.get(t, self.unk_token_id) for t in tokens]

    def convert_ids_to_tokens(self, ids, skip_special_tokens: bool = False):
        if isinstance(ids, (int, np.integer)):
            return self._id_to_token(int(ids))
        special = set(self.all_special_ids) if skip_special_tokens else ()
        return [self._id_to_token(int(i)) for i in _as_id_list(ids) if int(i) not in special]

    def _id_to_token(self, index: int) -> str:
        if index not in self.ids_to_tokens:
            raise ValueError(f"token id {index} is outside the vocabulary [0, {len(self.vocab)})")
        return self.ids_to_tokens[index]

    # ------------------------------------------------------------------ tokenizing
    def _pieces(self, text: str, with_offsets: bool = False, with_tokens: bool = False):
        """(ids, offsets, tokens) of ``text`` without special tokens; offsets / tokens only on request."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        ids: List[int] = []
        spans: List[Tuple[int, int]] = []
        tokens: List[str] = []
        encode, cache_get = self._encoder.encode_word, self._encoder.cache.get
        classes = char_classes()
        for chunk, base, special in split_on_special(text, self._special_pattern):
            if special:
                ids.append(self.vocab[chunk])
                spans.append((base, base + len(chunk)))
                tokens.append(chunk)
                continue
            clean, positions = clean_text(chunk)
            if self._segmenter is None:
                words = ([(m.group(), m.start()) for m in classes.units.finditer(clean)] if with_offsets
                         else classes.units.findall(clean))
            else:
                segments = self._segmenter.cut(clean.translate(classes.to_space))
                words = jieba_words(clean, segments, self.vocab, classes.words, with_positions=with_offsets)
            if not with_offsets:  # the hot path: one cache lookup per word
                for word in words:
                    hit = cache_get(word) or encode(word)
                    ids.extend(hit[0])
                    if with_tokens:
                        tokens.extend(hit[2])
                continue
            for word, start in words:
                word_ids, word_spans, word_tokens = cache_get(word) or encode(word)
                ids.extend(word_ids)
                tokens.extend(word_tokens)
                for a, b in word_spans:
                    a, b = start + a, start + b
                    if positions is not None:
                        a, b = positions[a], positions[b - 1] + 1
                    spans.append((base + a, base + b))
        return ids, spans, tokens

    def tokenize(self, text: str) -> List[str]:
        return self._pieces(text, with_tokens=True)[2]

    def get_offset_mapping(self, text: str) -> List[Tuple[int, int]]:
        """(start, end) in ``text`` of every token of ``tokenize(text)``, jieba words included."""
        return self._pieces(text, with_offsets=True)[1]

    # ------------------------------------------------------------------ special tokens
    def num_special_tokens_to_add(self, pair: bool = False) -> int:
        return 3 if pair else 2

    def build_inputs_with_special_tokens(self, token_ids_0: List[int], token_ids_1: Optional[List[int]] = None):
        """``[CLS] A [SEP]`` or ``[CLS] A [SEP] B [SEP]``."""
        if token_ids_1 is None:
            return [self.cls_token_id] + list(token_ids_0) + [self.sep_token_id]
        return [self.cls_token_id] + list(token_ids_0) + [self.sep_token_id] + list(token_ids_1) + [self.sep_token_id]

    def build_offset_mapping_with_special_tokens(self, offsets_0, offsets_1=None):
        if offsets_1 is None:
            return [(0, 0)] + list(offsets_0) + [(0, 0)]
        return [(0, 0)] + list(offsets_0) + [(0, 0)] + list(offsets_1) + [(0, 0)]

    def create_token_type_ids_from_sequences(self, token_ids_0, token_ids_1=None) -> List[int]:
        first = [0] * (len(token_ids_0) + 2)
        return first if token_ids_1 is None else first + [1] * (len(token_ids_1) + 1)

    def get_special_tokens_mask(self, token_ids_0, token_ids_1=None, already_has_special_tokens=False) -> List[int]:
        if already_has_special_tokens:
            if token_ids_1 is not None:
                raise ValueError("token_ids_1 must be None when already_has_special_tokens=True")
            marks = {self.cls_token_id, self.sep_token_id}
            return [1 if i in marks else 0 for i in token_ids_0]
        if token_ids_1 is None:
            return [1] + [0] * len(token_ids_0) + [1]
        return [1] + [0] * len(token_ids_0) + [1] + [0] * len(token_ids_1) + [1]

    # ------------------------------------------------------------------ decoding
    def convert_tokens_to_string(self, tokens: Sequence[str]) -> str:
        """Join tokens: ``##`` pieces attach, and no space is put next to a CJK character."""
        out: List[str] = []
        for token in tokens:
            if token.startswith("##") and out:
                out[-1] += token[2:]
            else:
                out.append(token)
        text = ""
        for token in out:
            if text and not (_is_cjk_like(text[-1]) or _is_cjk_like(token[0])):
                text += " "
            text += token
        return text

    def decode(self, token_ids, skip_special_tokens: bool = False) -> str:
        return self.convert_tokens_to_string(self.convert_ids_to_tokens(token_ids, skip_special_tokens))

    def batch_decode(self, sequences, skip_special_tokens: bool = False) -> List[str]:
        return [self.decode(s, skip_special_tokens) for s in sequences]

    # ------------------------------------------------------------------ the call
    def __call__(
        self,
        text: Union[TextInput, Sequence[TextInput]],
        text_pair: Optional[Union[TextInput, Sequence[TextInput]]] = None,
        max_length: Optional[int] = None,
        stride: int = 0,
        is_split_into_words: bool = False,
        padding: Union[bool, str] = False,
        truncation: Union[bool, str] = False,
        return_position_ids: Optional[bool] = None,
        return_token_type_ids: Optional[bool] = None,
        return_attention_mask: Optional[bool] = None,
        return_length: bool = False,
        return_overflowing_tokens: bool = False,
        return_special_tokens_mask: bool = False,
        return_dict: bool = True,
        return_offsets_mapping: bool = False,
        add_special_tokens: bool = True,
        pad_to_multiple_of: Optional[int] = None,
        return_tensors: Optional[str] = None,
        verbose: bool = True,
        max_seq_len: Optional[int] = None,
        pad_to_max_seq_len: bool = False,
        truncation_strategy: Optional[str] = None,
    ):
        """Encode one text, a pair, or a batch (lists), PaddleNLP's way.

        Both spellings work: PaddleNLP's ``max_seq_len`` / ``pad_to_max_seq_len`` /
        ``truncation_strategy`` and Hugging Face's ``max_length`` / ``padding`` / ``truncation``.
        Giving only a maximum length truncates to it (``longest_first``).
        """
        if max_length is None:
            max_length = max_seq_len
        padding_strategy, truncation, max_length = self._strategies(
            max_length, padding, truncation, pad_to_max_seq_len, truncation_strategy, pad_to_multiple_of
        )
        if isinstance(stride, bool) or not isinstance(stride, int) or stride < 0:
            raise ValueError(f"stride must be a non-negative integer, got {stride!r}")
        if return_token_type_ids is None:
            return_token_type_ids = True
        if return_token_type_ids and not add_special_tokens:
            raise ValueError("return_token_type_ids=True needs add_special_tokens=True (PaddleNLP's rule)")
        if return_overflowing_tokens and truncation == "longest_first" and text_pair is not None:
            raise ValueError("overflowing tokens cannot be returned for pairs with truncation 'longest_first'; "
                             "use 'only_first' or 'only_second'")
        if return_tensors not in (None, "np", "pd"):
            raise ValueError(f"return_tensors must be None, 'np' or 'pd', got {return_tensors!r}")
        options = dict(
            add_special_tokens=add_special_tokens, truncation=truncation, max_length=max_length,
            return_position_ids=bool(return_position_ids), return_token_type_ids=return_token_type_ids,
            return_overflowing_tokens=return_overflowing_tokens, return_special_tokens_mask=return_special_tokens_mask,
            return_offsets_mapping=return_offsets_mapping, is_split_into_words=is_split_into_words,
        )
        batched = _is_batch(text, is_split_into_words)
        if not batched:
            encoded = self._encode_one(text, text_pair, stride=stride, **options)
            encoded = self._pad(encoded, padding_strategy, max_length, pad_to_multiple_of, bool(return_attention_mask))
            if return_length:
                encoded["length"] = encoded["seq_len"] = len(encoded["input_ids"])
            return _to_tensors(BatchEncoding(encoded), return_tensors, prepend_batch_axis=True)

        if text_pair is not None:
            if isinstance(text_pair, str) or not isinstance(text_pair, (list, tuple)):
                raise TypeError("text_pair must be a list with one entry per text when text is a batch")
            if len(text_pair) != len(text):
                raise ValueError(f"text has {len(text)} entries but text_pair has {len(text_pair)}")
        examples = []
        for i, item in enumerate(text):
            pair = text_pair[i] if text_pair is not None else None
            try:
                if stride and pair is not None:
                    encoded_list = self._windows(item, pair, i, stride, **options)
                else:
                    encoded_list = [self._encode_one(item, pair, stride=stride, **options)]
            except TypeError as err:
                raise TypeError(f"batch item {i}: {err}") from None
            for encoded in encoded_list:
                if return_length:
                    encoded["length"] = encoded["seq_len"] = len(encoded["input_ids"])
                examples.append(encoded)
        if padding_strategy == "longest":
            target = max((len(e["input_ids"]) for e in examples), default=0)
            padding_strategy = "max_length"
        else:
            target = max_length
        examples = [self._pad(e, padding_strategy, target, pad_to_multiple_of, bool(return_attention_mask))
                    for e in examples]
        if not return_dict:
            return [_to_tensors(BatchEncoding(e), return_tensors, prepend_batch_axis=True) for e in examples]
        keys = list(examples[0]) if examples else ["input_ids"]
        merged = BatchEncoding({k: [e[k] for e in examples] for k in keys})
        return _to_tensors(merged, return_tensors, prepend_batch_axis=False)

    def encode(self, text, text_pair=None, **kwargs):
        """Same as calling the tokenizer on a single text (or pair)."""
        if _is_batch(text, kwargs.get("is_split_into_words", False)):
            raise TypeError("encode takes a single text; call the tokenizer on a list to encode a batch")
        return self(text, text_pair, **kwargs)

    def _strategies(self, max_length, padding, truncation, pad_to_max_seq_len, truncation_strategy,
                    pad_to_multiple_of):
        """PaddleNLP 2.8's resolution of the old and new padding / truncation arguments."""
        if max_length is not None and (isinstance(max_length, bool) or not isinstance(max_length, int)
                                       or max_length < 1):
            raise ValueError(f"max_length / max_seq_len must be a positive integer, got {max_length!r}")
        if max_length is not None and padding is False and truncation is False and not truncation_strategy:
            truncation = "longest_first"
        if padding is False and pad_to_max_seq_len:
            padding = "max_length" if max_length is not None else "longest"
        padding = _strategy("padding", padding, "longest", "do_not_pad", PADDING_STRATEGIES)
        if (truncation is False or truncation is None) and truncation_strategy:
            truncation = truncation_strategy
        truncation = _strategy("truncation", truncation, "longest_first", "do_not_truncate", TRUNCATION_STRATEGIES)
        if max_length is None:
            if padding == "max_length" or truncation != "do_not_truncate":
                if self.model_max_length < int(1e29):
                    max_length = self.model_max_length
                else:  # no model length known: nothing to pad or truncate to
                    padding = "do_not_pad" if padding == "max_length" else padding
                    truncation = "do_not_truncate"
        if (truncation != "do_not_truncate" and padding != "do_not_pad" and pad_to_multiple_of and max_length
                and max_length % pad_to_multiple_of):
            raise ValueError(f"max_length {max_length} is not a multiple of pad_to_multiple_of {pad_to_multiple_of}")
        return padding, truncation, max_length

    def _ids_for(self, text, is_split_into_words: bool, with_offsets: bool):
        if text is None:
            raise TypeError("text must be a str or a list of str, got None")
        if is_split_into_words:
            if isinstance(text, str) or not isinstance(text, (list, tuple)):
                raise TypeError("with is_split_into_words=True each text must be a list of words")
            ids, spans, offset = [], [], 0
            for k, word in enumerate(text):
                if not isinstance(word, str):
                    raise TypeError(f"word {k} must be a str, got {type(word).__name__}")
                w_ids, w_spans, _ = self._pieces(word, with_offsets)
                ids += w_ids
                spans += [(offset + a, offset + b) for a, b in w_spans]
                offset += len(word) + 1  # offsets into " ".join(words)
            return ids, spans
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        ids, spans, _ = self._pieces(text, with_offsets)
        return ids, spans

    def _encode_one(self, text, text_pair, add_special_tokens, truncation, max_length, return_position_ids,
                    return_token_type_ids, return_overflowing_tokens, return_special_tokens_mask,
                    return_offsets_mapping, is_split_into_words, stride=0):
        ids, spans = self._ids_for(text, is_split_into_words, return_offsets_mapping)
        pair_ids, pair_spans = (None, None)
        if text_pair is not None:
            pair_ids, pair_spans = self._ids_for(text_pair, is_split_into_words, return_offsets_mapping)
        pair = pair_ids is not None
        total = len(ids) + (len(pair_ids) if pair else 0) + (self.num_special_tokens_to_add(pair) if add_special_tokens else 0)
        overflowing: List[int] = []
        if truncation != "do_not_truncate" and max_length and total > max_length:
            remove = total - max_length
            ids, pair_ids, overflowing = _truncate(ids, pair_ids, remove, truncation, stride)
            if return_offsets_mapping:
                spans, pair_spans, _ = _truncate(spans, pair_spans, remove, truncation)
        out: Dict[str, object] = {}
        if return_overflowing_tokens:
            out["overflowing_tokens"] = overflowing
            out["num_truncated_tokens"] = total - max_length if max_length else 0
        out.update(self._assemble(ids, pair_ids, spans if return_offsets_mapping else None, pair_spans,
                                  add_special_tokens, return_token_type_ids, return_special_tokens_mask,
                                  return_position_ids))
        return out

    def _assemble(self, ids, pair_ids, spans, pair_spans, add_special_tokens, return_token_type_ids,
                  return_special_tokens_mask, return_position_ids) -> Dict[str, object]:
        """One model input from the ids (and offsets, if ``spans`` is given) of a text or a pair."""
        out: Dict[str, object] = {}
        if add_special_tokens:
            out["input_ids"] = self.build_inputs_with_special_tokens(ids, pair_ids)
            token_type_ids = self.create_token_type_ids_from_sequences(ids, pair_ids)
        else:
            out["input_ids"] = list(ids) + list(pair_ids or [])
            token_type_ids = [0] * len(out["input_ids"])
        if return_token_type_ids:
            out["token_type_ids"] = token_type_ids
        if return_special_tokens_mask:
            out["special_tokens_mask"] = (self.get_special_tokens_mask(ids, pair_ids) if add_special_tokens
                                          else [0] * len(out["input_ids"]))
        if spans is not None:
            out["offset_mapping"] = (self.build_offset_mapping_with_special_tokens(spans, pair_spans)
                                     if add_special_tokens else list(spans) + list(pair_spans or []))
        if return_position_ids:
            out["position_ids"] = list(range(len(out["input_ids"])))
        return out

    def _windows(self, text, text_pair, example_id, stride, add_special_tokens, truncation, max_length,
                 return_position_ids, return_token_type_ids, return_overflowing_tokens, return_special_tokens_mask,
                 return_offsets_mapping, is_split_into_words) -> List[Dict[str, object]]:
        """Overlapping windows over a long second text (extractive QA's document stride).

        PaddleNLP's rule: the first text (the question) is kept whole in every window, the second
        (the context) is cut into pieces of the room left by ``max_length``, and each window starts
        ``stride`` tokens after the previous one. Every window carries ``offset_mapping`` and
        ``overflow_to_sample`` (the index of its example).
        """
        if not max_length:
            raise ValueError("stride > 0 needs max_length / max_seq_len: the windows are cut to that length")
        ids, spans = self._ids_for(text, is_split_into_words, True)
        pair_ids, pair_spans = self._ids_for(text_pair, is_split_into_words, True)
        room = max_length - len(ids) - (self.num_special_tokens_to_add(pair=True) if add_special_tokens else 0)
        if room <= 0:
            raise ValueError(
                f"batch item {example_id}: the first text has {len(ids)} tokens, leaving no room for the "
                f"second within max_length={max_length}; shorten it or raise max_length"
            )
        windows, offset = [], 0
        while offset < len(pair_ids):
            length = min(len(pair_ids) - offset, room)
            out = self._assemble(ids, pair_ids[offset : offset + length], spans, pair_spans[offset : offset + length],
                                 add_special_tokens, return_token_type_ids, return_special_tokens_mask,
                                 return_position_ids)
            out["overflow_to_sample"] = example_id
            windows.append(out)
            if offset + length == len(pair_ids):
                break
            offset += min(length, stride)
        return windows

    def _pad(self, encoded, strategy, max_length, pad_to_multiple_of, return_attention_mask):
        length = len(encoded["input_ids"])
        if strategy == "longest":
            max_length = length
        if max_length is not None and pad_to_multiple_of and max_length % pad_to_multiple_of:
            max_length = (max_length // pad_to_multiple_of + 1) * pad_to_multiple_of
        if return_attention_mask and "attention_mask" not in encoded:
            encoded["attention_mask"] = [1] * length
        if strategy == "do_not_pad" or max_length is None or length >= max_length:
            return encoded
        extra = max_length - length
        fill = {"input_ids": self.pad_token_id, "token_type_ids": self.pad_token_type_id, "attention_mask": 0,
                "special_tokens_mask": 1, "offset_mapping": (0, 0), "position_ids": 0}
        for key, value in fill.items():
            if key in encoded:
                encoded[key] = list(encoded[key]) + [value] * extra
        return encoded

    # ------------------------------------------------------------------ files
    def save_pretrained(self, save_directory: str) -> None:
        """Write ``vocab.txt``, ``tokenizer_config.json`` and ``special_tokens_map.json`` (PaddleNLP's files)."""
        save_directory = os.fspath(save_directory)
        if os.path.isfile(save_directory):
            raise ValueError(f"save_directory {save_directory!r} is a file, expected a directory")
        os.makedirs(save_directory, exist_ok=True)
        ordered = sorted(self.vocab.items(), key=lambda kv: kv[1])
        atomic_write_text(os.path.join(save_directory, VOCAB_NAME), "".join(t + "\n" for t, _ in ordered))
        specials = {name: getattr(self, name) for name in SPECIAL_TOKEN_NAMES}
        config = dict(do_lower_case=self.do_lower_case, use_jieba=self.use_jieba, **specials,
                      tokenizer_class="RoFormerTokenizer")
        if self.split_special_tokens:
            config["split_special_tokens"] = True
        if self.model_max_length < int(1e29):
            config["model_max_length"] = self.model_max_length
        atomic_write_text(os.path.join(save_directory, TOKENIZER_CONFIG_NAME), json.dumps(config, ensure_ascii=False, indent=2) + "\n")
        atomic_write_text(os.path.join(save_directory, SPECIAL_TOKENS_MAP_NAME), json.dumps(specials, ensure_ascii=False) + "\n")

    @classmethod
    def from_pretrained(cls, name_or_path, **kwargs) -> "RoFormerTokenizer":
        """A registered name (settings from its YAML, vocab from the cache / its URL), a directory,
        or an http(s) URL of a directory."""
        from .hub import cached_file, is_url, resolve_tokenizer_files
        from .registry import get_pretrained

        if not isinstance(name_or_path, (str, os.PathLike)):
            raise TypeError(f"name_or_path must be a str or path, got {type(name_or_path).__name__}")
        name_or_path = os.fspath(name_or_path)
        if os.path.isdir(name_or_path) or is_url(name_or_path):
            vocab_file, config_path = resolve_tokenizer_files(name_or_path)
            if not os.path.isfile(vocab_file):
                raise FileNotFoundError(f"{name_or_path} has no {VOCAB_NAME}")
            settings = {}
            if config_path is not None:
                with open(config_path, encoding="utf-8") as f:
                    settings = json.load(f)
            settings.update(kwargs)
            return cls(vocab_file, **settings)
        if os.path.exists(name_or_path):
            raise ValueError(f"{name_or_path} is a file; pass the directory that holds vocab.txt")
        entry = get_pretrained(name_or_path)
        settings = dict(do_lower_case=entry.tokenizer.do_lower_case, use_jieba=entry.tokenizer.use_jieba,
                        model_max_length=entry.tokenizer.model_max_length)
        settings.update(kwargs)
        return cls(cached_file(name_or_path, VOCAB_NAME), **settings)


def _strategy(name: str, value, on: str, off: str, allowed: Sequence[str]) -> str:
    """True / False / None / a strategy name -> a strategy name, or a clear error."""
    if value is True:
        return on
    if value is False or value is None:
        return off
    if value not in allowed:
        raise ValueError(f"{name} must be True, False or one of {tuple(allowed)}, got {value!r}")
    return value


def _is_cjk_like(ch: str) -> bool:
    """CJK ideographs and the CJK / full-width punctuation blocks: written without spaces."""
    cp = ord(ch)
    return is_cjk(ch) or 0x3000 <= cp <= 0x303F or 0xFF00 <= cp <= 0xFFEF


def _as_id_list(ids) -> List[int]:
    if hasattr(ids, "numpy"):
        ids = ids.numpy()
    if isinstance(ids, np.ndarray):
        if ids.ndim != 1:
            raise ValueError(f"expected a 1-D sequence of ids, got shape {list(ids.shape)}")
        return ids.tolist()
    return list(ids)


def _is_batch(text, is_split_into_words: bool) -> bool:
    if text is None:
        raise TypeError("text must be a str or a list of str, got None")
    if isinstance(text, str):
        return False
    if not isinstance(text, (list, tuple)):
        raise TypeError(f"text must be a str or a list of str, got {type(text).__name__}")
    if is_split_into_words:
        return bool(text) and isinstance(text[0], (list, tuple))
    return True


def _truncate(ids, pair_ids, remove: int, strategy: str, stride: int = 0):
    """PaddleNLP's truncation: returns (ids, pair_ids, overflowing tokens).

    When the sequence to cut is too short, the example is left as it is and an error is logged
    (PaddleNLP's behaviour): one impossible example does not stop a whole batch.
    """
    if strategy == "only_first" or (strategy == "longest_first" and pair_ids is None):
        if len(ids) > remove:  # the overflow keeps `stride` tokens of context before the cut
            return ids[:-remove], pair_ids, ids[-min(len(ids), stride + remove):]
        logger.error(
            "cannot truncate: %d tokens must go but the first sequence has only %d; the example is left "
            "too long (use truncation='longest_first' or 'only_second', or a larger max_length)", remove, len(ids)
        )
        return ids, pair_ids, []
    if strategy == "longest_first":
        ids, pair_ids = list(ids), list(pair_ids)
        for _ in range(remove):
            if len(ids) > len(pair_ids):
                ids.pop()
            else:
                pair_ids.pop()
        return ids, pair_ids, []
    if strategy == "only_second":
        if pair_ids is not None and len(pair_ids) > remove:
            return ids, pair_ids[:-remove], pair_ids[-min(len(pair_ids), stride + remove):]
        have = 0 if pair_ids is None else len(pair_ids)
        logger.error(
            "cannot truncate: %d tokens must go but the second sequence has only %d; the example is left "
            "too long (use truncation='longest_first' or 'only_first', or a larger max_length)", remove, have
        )
        return ids, pair_ids, []
    return ids, pair_ids, []


def _to_tensors(encoding: BatchEncoding, return_tensors: Optional[str], prepend_batch_axis: bool) -> BatchEncoding:
    if return_tensors is None:
        return encoding
    for key, value in list(encoding.items()):
        if key in ("overflowing_tokens", "num_truncated_tokens"):
            continue
        if prepend_batch_axis:
            value = [value]
        try:
            array = np.asarray(value, dtype="int64")
        except ValueError:
            raise ValueError(
                f"cannot make a tensor of {key!r}: the sequences have different lengths; pass padding=True"
            ) from None
        if return_tensors == "pd":
            import paddle

            array = paddle.to_tensor(array)
        encoding[key] = array
    return encoding
