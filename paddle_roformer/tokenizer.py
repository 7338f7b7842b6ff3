"""RoFormerTokenizer: PaddleNLP's call and ids, jieba word-level / char-level / English WordPiece,
with character offsets in every mode.
"""
from __future__ import annotations

import inspect
import json
import os
import re
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import encoding
from .encoding import BatchEncoding, EncodingOptions, SpecialIds
from .text import JiebaSegmenter, WordPieceEncoder, char_classes, clean_text, is_cjk, jieba_words, split_on_special
from .utils import atomic_write_text
from .vocab import read_vocab, token_to_id, write_vocab

__all__ = ["RoFormerTokenizer", "BatchEncoding", "EncodingOptions"]

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

TextInput = Union[str, Sequence[str]]


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
        self.ids_to_tokens: List[str] = read_vocab(vocab_file)  # every line: id -> token
        self.vocab: Dict[str, int] = token_to_id(self.ids_to_tokens)  # a repeated token: its last line
        self.do_lower_case = bool(do_lower_case)
        self.use_jieba = bool(use_jieba)
        self.split_special_tokens = bool(split_special_tokens)
        self.model_max_length = int(model_max_length) if model_max_length else encoding.NO_LIMIT
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

    def __repr__(self) -> str:
        length = "" if self.model_max_length >= encoding.NO_LIMIT else f", model_max_length={self.model_max_length}"
        split = ", split_special_tokens=True" if self.split_special_tokens else ""
        return (f"RoFormerTokenizer(vocab_file={self.vocab_file!r}, vocab_size={self.vocab_size}, "
                f"use_jieba={self.use_jieba}, do_lower_case={self.do_lower_case}{length}{split})")

    # ------------------------------------------------------------------ vocabulary
    @property
    def vocab_size(self) -> int:
        """Lines of the vocabulary file: the rows of the embedding table (a repeated token counts each time)."""
        return len(self.ids_to_tokens)

    def __len__(self) -> int:
        return len(self.ids_to_tokens)

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
        if not 0 <= index < len(self.ids_to_tokens):
            raise ValueError(f"token id {index} is outside the vocabulary [0, {len(self.ids_to_tokens)})")
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

    def special_ids(self) -> SpecialIds:
        """The ids ``encoding`` inserts: [CLS], [SEP], [PAD] and padding's token type."""
        return SpecialIds(self.cls_token_id, self.sep_token_id, self.pad_token_id, self.pad_token_type_id)

    def build_inputs_with_special_tokens(self, token_ids_0: List[int], token_ids_1: Optional[List[int]] = None):
        """``[CLS] A [SEP]`` or ``[CLS] A [SEP] B [SEP]``."""
        return encoding.with_special_tokens(token_ids_0, token_ids_1, self.special_ids())

    def build_offset_mapping_with_special_tokens(self, offsets_0, offsets_1=None):
        return encoding.offsets_with_special_tokens(offsets_0, offsets_1)

    def create_token_type_ids_from_sequences(self, token_ids_0, token_ids_1=None) -> List[int]:
        return encoding.token_type_ids(token_ids_0, token_ids_1)

    def get_special_tokens_mask(self, token_ids_0, token_ids_1=None, already_has_special_tokens=False) -> List[int]:
        if already_has_special_tokens:
            if token_ids_1 is not None:
                raise ValueError("token_ids_1 must be None when already_has_special_tokens=True")
            marks = {self.cls_token_id, self.sep_token_id}
            return [1 if i in marks else 0 for i in token_ids_0]
        return encoding.special_tokens_mask(token_ids_0, token_ids_1)

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
        options = EncodingOptions.resolve(
            max_length=max_seq_len if max_length is None else max_length, padding=padding, truncation=truncation,
            pad_to_max_seq_len=pad_to_max_seq_len, truncation_strategy=truncation_strategy,
            model_max_length=self.model_max_length, pair=text_pair is not None, stride=stride,
            pad_to_multiple_of=pad_to_multiple_of, add_special_tokens=add_special_tokens,
            return_token_type_ids=return_token_type_ids, return_attention_mask=return_attention_mask,
            return_position_ids=return_position_ids, return_special_tokens_mask=return_special_tokens_mask,
            return_offsets_mapping=return_offsets_mapping, return_overflowing_tokens=return_overflowing_tokens,
            return_length=return_length, return_tensors=return_tensors, return_dict=return_dict,
        )
        specials = self.special_ids()
        if not _is_batch(text, is_split_into_words):
            example = self._encode(text, text_pair, is_split_into_words, specials, options)
            return encoding.collate([example], specials, options, batched=False)
        if text_pair is not None:
            if isinstance(text_pair, str) or not isinstance(text_pair, (list, tuple)):
                raise TypeError("text_pair must be a list with one entry per text when text is a batch")
            if len(text_pair) != len(text):
                raise ValueError(f"text has {len(text)} entries but text_pair has {len(text_pair)}")
        examples = []
        for i, item in enumerate(text):
            pair = text_pair[i] if text_pair is not None else None
            try:
                if options.stride and pair is not None:
                    examples += self._windows(item, pair, i, is_split_into_words, specials, options)
                else:
                    examples.append(self._encode(item, pair, is_split_into_words, specials, options))
            except TypeError as err:
                raise TypeError(f"batch item {i}: {err}") from None
        return encoding.collate(examples, specials, options)

    def encode(self, text, text_pair=None, **kwargs):
        """Same as calling the tokenizer on a single text (or pair)."""
        if _is_batch(text, kwargs.get("is_split_into_words", False)):
            raise TypeError("encode takes a single text; call the tokenizer on a list to encode a batch")
        return self(text, text_pair, **kwargs)

    def pad(self, encoded_inputs, padding: Union[bool, str] = True, max_length: Optional[int] = None,
            pad_to_multiple_of: Optional[int] = None, return_attention_mask: Optional[bool] = None,
            return_tensors: Optional[str] = None, verbose: bool = True) -> BatchEncoding:
        """Pad encoded examples (a list of dicts, or a dict of lists) as PaddleNLP's ``tokenizer.pad``.

        What ``DataCollatorWithPadding`` calls. ``padding`` True / ``"longest"`` pads to the longest
        example, ``"max_length"`` to ``max_length`` (default ``model_max_length``); keys other than
        ids (``labels``, ...) are kept as they are. See ``encoding.pad``.
        """
        return encoding.pad(encoded_inputs, self.special_ids(), padding=padding, max_length=max_length,
                            pad_to_multiple_of=pad_to_multiple_of, return_attention_mask=return_attention_mask,
                            return_tensors=return_tensors, model_max_length=self.model_max_length)

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

    def _encode(self, text, text_pair, is_split_into_words: bool, specials: SpecialIds,
                options: EncodingOptions) -> Dict[str, object]:
        with_offsets = options.return_offsets_mapping
        ids, spans = self._ids_for(text, is_split_into_words, with_offsets)
        pair_ids = pair_spans = None
        if text_pair is not None:
            pair_ids, pair_spans = self._ids_for(text_pair, is_split_into_words, with_offsets)
        if not with_offsets:
            spans = pair_spans = None
        return encoding.encode(ids, pair_ids, specials, options, spans, pair_spans)

    def _windows(self, text, text_pair, example_id: int, is_split_into_words: bool, specials: SpecialIds,
                 options: EncodingOptions) -> List[Dict[str, object]]:
        """Document-stride windows of a (question, context) pair; see ``encoding.stride_windows``."""
        ids, spans = self._ids_for(text, is_split_into_words, True)
        pair_ids, pair_spans = self._ids_for(text_pair, is_split_into_words, True)
        return encoding.stride_windows(ids, pair_ids, spans, pair_spans, specials, options, example_id)

    # ------------------------------------------------------------------ files
    def save_pretrained(self, save_directory: str) -> None:
        """Write ``vocab.txt``, ``tokenizer_config.json`` and ``special_tokens_map.json`` (PaddleNLP's files)."""
        save_directory = os.fspath(save_directory)
        if os.path.isfile(save_directory):
            raise ValueError(f"save_directory {save_directory!r} is a file, expected a directory")
        os.makedirs(save_directory, exist_ok=True)
        write_vocab(os.path.join(save_directory, VOCAB_NAME), self.ids_to_tokens)  # every line, as read
        specials = {name: getattr(self, name) for name in SPECIAL_TOKEN_NAMES}
        config = dict(do_lower_case=self.do_lower_case, use_jieba=self.use_jieba, **specials,
                      tokenizer_class="RoFormerTokenizer")
        if self.split_special_tokens:
            config["split_special_tokens"] = True
        if self.model_max_length < encoding.NO_LIMIT:
            config["model_max_length"] = self.model_max_length
        atomic_write_text(os.path.join(save_directory, TOKENIZER_CONFIG_NAME),
                          json.dumps(config, ensure_ascii=False, indent=2) + "\n")
        atomic_write_text(os.path.join(save_directory, SPECIAL_TOKENS_MAP_NAME),
                          json.dumps(specials, ensure_ascii=False) + "\n")

    @classmethod
    def from_pretrained(cls, name_or_path, **kwargs) -> "RoFormerTokenizer":
        """A registered name (settings from its YAML, vocab from the cache / its URL), a directory,
        or an http(s) URL of a directory (``vocab.txt`` and, if there, ``tokenizer_config.json``).
        ``kwargs`` override the settings."""
        from . import hub, registry

        kind = hub.classify(name_or_path)
        source = os.fspath(name_or_path)
        if kind == "name":
            entry = registry.get_pretrained(source).tokenizer
            settings = dict(do_lower_case=entry.do_lower_case, use_jieba=entry.use_jieba,
                            model_max_length=entry.model_max_length)
        else:
            config = hub.resolve(source, TOKENIZER_CONFIG_NAME, optional=True)
            settings = _read_tokenizer_config(config) if config is not None else {}
        settings.update(kwargs)
        return cls(hub.resolve(source, VOCAB_NAME), **settings)


def _read_tokenizer_config(path: str) -> Dict[str, object]:
    """The settings in a ``tokenizer_config.json`` (PaddleNLP's or Hugging Face's), or an error naming the file."""
    try:
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is not a JSON tokenizer config: {err}") from None
    if not isinstance(config, dict):
        raise ValueError(f"{path} must hold a JSON object of tokenizer settings, got a {type(config).__name__}")
    settings = set(inspect.signature(RoFormerTokenizer.__init__).parameters) - {"self", "vocab_file", "kwargs"}
    known = settings | IGNORED_CONFIG_KEYS
    unknown = sorted(key for key in config if key not in known)
    if unknown:
        raise ValueError(f"{path} is not a RoFormer tokenizer config: unknown keys {unknown}")
    for name in SPECIAL_TOKEN_NAMES:  # Hugging Face may store a special token as {"content": "[UNK]", ...}
        if isinstance(config.get(name), dict) and isinstance(config[name].get("content"), str):
            config[name] = config[name]["content"]
    return config


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
