"""Model inputs from token ids: special tokens, truncation, stride windows, padding, tensors.

Nothing here sees text. The tokenizer turns text into ids (and character offsets); these
functions make model inputs of them, by PaddleNLP 2.8's rules, so a data collator, fill-mask or
a predictor that already holds ids uses the same code. ``EncodingOptions`` carries one call's
settings, checked once; ``SpecialIds`` the few ids the steps insert.

    options = EncodingOptions.resolve(max_length=128, padding=True)
    examples = [encode(ids, None, specials, options) for ids in batch_of_ids]
    batch = collate(examples, specials, options)       # padded, merged, tensors if asked
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

logger = logging.getLogger("paddle_roformer")

TRUNCATION_STRATEGIES = ("longest_first", "only_first", "only_second", "do_not_truncate")
PADDING_STRATEGIES = ("longest", "max_length", "do_not_pad")
TENSOR_TYPES = (None, "np", "pd")
NO_LIMIT = int(1e30)  # model_max_length when none is known (PaddleNLP's VERY_LARGE_INTEGER)
# Padding value of every per-token key pad() knows; other keys (labels, ...) are left alone.
PAD_VALUES = {"token_type_ids": None, "attention_mask": 0, "special_tokens_mask": 1, "offset_mapping": (0, 0),
              "position_ids": 0, "start_positions": 0, "end_positions": 0}
# Keys that describe an example rather than its tokens: never padded, never made tensors.
_NOT_TENSORS = ("overflowing_tokens", "num_truncated_tokens")

Ids = Sequence[int]
Spans = Sequence[Tuple[int, int]]


class BatchEncoding(dict):
    """The dict returned by a tokenizer call; ``enc.input_ids`` works as well as ``enc["input_ids"]``."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclasses.dataclass(frozen=True)
class SpecialIds:
    """The ids the encoding steps insert: ``[CLS]``, ``[SEP]``, ``[PAD]`` and padding's token type."""

    cls: int
    sep: int
    pad: int
    pad_token_type: int = 0


@dataclasses.dataclass(frozen=True)
class EncodingOptions:
    """How ids become model inputs: one tokenizer call's settings, resolved and checked once.

    ``padding`` is ``"longest"``, ``"max_length"`` or ``"do_not_pad"``; ``truncation`` one of
    ``TRUNCATION_STRATEGIES``. ``resolve`` turns a call's arguments (either spelling, PaddleNLP's
    or Hugging Face's) into one of these.
    """

    max_length: Optional[int] = None
    padding: str = "do_not_pad"
    truncation: str = "do_not_truncate"
    stride: int = 0
    pad_to_multiple_of: Optional[int] = None
    add_special_tokens: bool = True
    return_token_type_ids: bool = True
    return_attention_mask: bool = False
    return_position_ids: bool = False
    return_special_tokens_mask: bool = False
    return_offsets_mapping: bool = False
    return_overflowing_tokens: bool = False
    return_length: bool = False
    return_tensors: Optional[str] = None
    return_dict: bool = True

    def __post_init__(self):
        if self.max_length is not None and not _positive_int(self.max_length):
            raise ValueError(f"max_length / max_seq_len must be a positive integer, got {self.max_length!r}")
        if self.padding not in PADDING_STRATEGIES:
            raise ValueError(f"padding must be one of {PADDING_STRATEGIES}, got {self.padding!r}")
        if self.truncation not in TRUNCATION_STRATEGIES:
            raise ValueError(f"truncation must be one of {TRUNCATION_STRATEGIES}, got {self.truncation!r}")
        if isinstance(self.stride, bool) or not isinstance(self.stride, int) or self.stride < 0:
            raise ValueError(f"stride must be a non-negative integer, got {self.stride!r}")
        if self.pad_to_multiple_of is not None and not _positive_int(self.pad_to_multiple_of):
            raise ValueError(f"pad_to_multiple_of must be a positive integer, got {self.pad_to_multiple_of!r}")
        if self.return_tensors not in TENSOR_TYPES:
            raise ValueError(f"return_tensors must be None, 'np' or 'pd', got {self.return_tensors!r}")
        if self.return_token_type_ids and not self.add_special_tokens:
            raise ValueError("return_token_type_ids=True needs add_special_tokens=True (PaddleNLP's rule)")
        if (self.truncation != "do_not_truncate" and self.padding != "do_not_pad" and self.pad_to_multiple_of
                and self.max_length and self.max_length % self.pad_to_multiple_of):
            raise ValueError(f"max_length {self.max_length} is not a multiple of pad_to_multiple_of "
                             f"{self.pad_to_multiple_of}")

    @classmethod
    def resolve(
        cls,
        *,
        max_length: Optional[int] = None,
        padding: Union[bool, str, None] = False,
        truncation: Union[bool, str, None] = False,
        pad_to_max_seq_len: bool = False,
        truncation_strategy: Optional[str] = None,
        model_max_length: int = NO_LIMIT,
        return_token_type_ids: Optional[bool] = None,
        return_attention_mask: Optional[bool] = None,
        return_position_ids: Optional[bool] = None,
        pair: bool = False,
        **flags,
    ) -> "EncodingOptions":
        """PaddleNLP 2.8's reading of a call's arguments.

        A maximum length alone truncates (``longest_first``); ``pad_to_max_seq_len`` pads to it (or
        to the longest without one); the old ``truncation_strategy`` applies when ``truncation``
        is not given; without any maximum length ``model_max_length`` is used, and when that is
        unknown there is nothing to pad or truncate to. ``pair``: whether a second text is given.
        ``flags``: the remaining fields, as they are.
        """
        if max_length is not None and not _positive_int(max_length):
            raise ValueError(f"max_length / max_seq_len must be a positive integer, got {max_length!r}")
        if max_length is not None and padding is False and truncation is False and not truncation_strategy:
            truncation = "longest_first"
        if padding is False and pad_to_max_seq_len:
            padding = "max_length" if max_length is not None else "longest"
        padding = _strategy("padding", padding, "longest", "do_not_pad", PADDING_STRATEGIES)
        if (truncation is False or truncation is None) and truncation_strategy:
            truncation = truncation_strategy
        truncation = _strategy("truncation", truncation, "longest_first", "do_not_truncate", TRUNCATION_STRATEGIES)
        if max_length is None and (padding == "max_length" or truncation != "do_not_truncate"):
            if model_max_length < NO_LIMIT // 10:
                max_length = model_max_length
            else:  # no model length known: nothing to pad or truncate to
                padding = "do_not_pad" if padding == "max_length" else padding
                truncation = "do_not_truncate"
        if flags.get("return_overflowing_tokens") and truncation == "longest_first" and pair:
            raise ValueError("overflowing tokens cannot be returned for pairs with truncation 'longest_first'; "
                             "use 'only_first' or 'only_second'")
        return cls(
            max_length=max_length, padding=padding, truncation=truncation,
            return_token_type_ids=True if return_token_type_ids is None else bool(return_token_type_ids),
            return_attention_mask=bool(return_attention_mask), return_position_ids=bool(return_position_ids),
            **flags,
        )


# ---------------------------------------------------------------------------- special tokens


def with_special_tokens(ids: Ids, pair_ids: Optional[Ids], specials: SpecialIds) -> List[int]:
    """``[CLS] A [SEP]`` or ``[CLS] A [SEP] B [SEP]``."""
    if pair_ids is None:
        return [specials.cls, *ids, specials.sep]
    return [specials.cls, *ids, specials.sep, *pair_ids, specials.sep]


def token_type_ids(ids: Ids, pair_ids: Optional[Ids] = None) -> List[int]:
    """0 for ``[CLS] A [SEP]``, 1 for ``B [SEP]``."""
    first = [0] * (len(ids) + 2)
    return first if pair_ids is None else first + [1] * (len(pair_ids) + 1)


def special_tokens_mask(ids: Ids, pair_ids: Optional[Ids] = None) -> List[int]:
    """1 where ``with_special_tokens`` puts ``[CLS]`` / ``[SEP]``."""
    if pair_ids is None:
        return [1] + [0] * len(ids) + [1]
    return [1] + [0] * len(ids) + [1] + [0] * len(pair_ids) + [1]


def offsets_with_special_tokens(spans: Spans, pair_spans: Optional[Spans] = None) -> List[Tuple[int, int]]:
    """(0, 0) where ``with_special_tokens`` puts ``[CLS]`` / ``[SEP]``."""
    if pair_spans is None:
        return [(0, 0), *spans, (0, 0)]
    return [(0, 0), *spans, (0, 0), *pair_spans, (0, 0)]


def assemble(ids: Ids, pair_ids: Optional[Ids], specials: SpecialIds, options: EncodingOptions,
             spans: Optional[Spans] = None, pair_spans: Optional[Spans] = None) -> Dict[str, object]:
    """One model input from the ids (and offsets, when ``spans`` is given) of a text or a pair."""
    out: Dict[str, object] = {}
    if options.add_special_tokens:
        out["input_ids"] = with_special_tokens(ids, pair_ids, specials)
        if options.return_token_type_ids:
            out["token_type_ids"] = token_type_ids(ids, pair_ids)
        if options.return_special_tokens_mask:
            out["special_tokens_mask"] = special_tokens_mask(ids, pair_ids)
        if spans is not None:
            out["offset_mapping"] = offsets_with_special_tokens(spans, pair_spans)
    else:
        out["input_ids"] = [*ids, *(pair_ids or ())]
        if options.return_token_type_ids:
            out["token_type_ids"] = [0] * len(out["input_ids"])
        if options.return_special_tokens_mask:
            out["special_tokens_mask"] = [0] * len(out["input_ids"])
        if spans is not None:
            out["offset_mapping"] = [*spans, *(pair_spans or ())]
    if options.return_position_ids:
        out["position_ids"] = list(range(len(out["input_ids"])))
    return out


# ---------------------------------------------------------------------------- truncation


def truncate(ids: Ids, pair_ids: Optional[Ids], remove: int, strategy: str, stride: int = 0):
    """Remove ``remove`` tokens by ``strategy``: returns (ids, pair_ids, overflowing tokens).

    ``longest_first`` takes one token at a time from the longer side (the second on a tie);
    ``only_first`` / ``only_second`` cut that side, and the overflow keeps ``stride`` tokens of
    context before the cut. When the sequences to cut are too short, nothing is cut and an error
    is logged (PaddleNLP's behaviour): one impossible example does not stop a whole batch.
    """
    ids = list(ids)
    pair_ids = None if pair_ids is None else list(pair_ids)
    if remove <= 0 or strategy == "do_not_truncate":
        return ids, pair_ids, []
    if strategy == "longest_first" and pair_ids is not None:
        if remove > len(ids) + len(pair_ids):
            _cannot_truncate(remove, f"the two sequences have only {len(ids)} + {len(pair_ids)}", "a larger max_length")
            return ids, pair_ids, []
        # The longer side loses tokens until the two are level, then they alternate from the second.
        keep_first, keep_second = len(ids), len(pair_ids)
        for _ in range(remove):
            if keep_first > keep_second:
                keep_first -= 1
            else:
                keep_second -= 1
        return ids[:keep_first], pair_ids[:keep_second], []
    if strategy in ("only_first", "longest_first"):  # longest_first of a single sequence cuts it
        if len(ids) <= remove:  # PaddleNLP's bound: at least one token stays
            _cannot_truncate(remove, f"the first sequence has only {len(ids)}",
                             "truncation='longest_first' or 'only_second', or a larger max_length")
            return ids, pair_ids, []
        return ids[:-remove], pair_ids, ids[-min(len(ids), stride + remove):]
    if strategy == "only_second":
        if pair_ids is None or len(pair_ids) <= remove:
            _cannot_truncate(remove, f"the second sequence has only {0 if pair_ids is None else len(pair_ids)}",
                             "truncation='longest_first' or 'only_first', or a larger max_length")
            return ids, pair_ids, []
        return ids, pair_ids[:-remove], pair_ids[-min(len(pair_ids), stride + remove):]
    raise ValueError(f"truncation must be one of {TRUNCATION_STRATEGIES}, got {strategy!r}")


def _cannot_truncate(remove: int, have: str, advice: str) -> None:
    logger.error("cannot truncate: %d tokens must go but %s; the example is left too long (use %s)",
                 remove, have, advice)


def encode(ids: Ids, pair_ids: Optional[Ids], specials: SpecialIds, options: EncodingOptions,
           spans: Optional[Spans] = None, pair_spans: Optional[Spans] = None) -> Dict[str, object]:
    """Truncate to ``options.max_length`` and assemble one model input (no padding yet)."""
    pair = pair_ids is not None
    total = len(ids) + (len(pair_ids) if pair else 0) + (3 if pair else 2) * options.add_special_tokens
    overflowing: List[int] = []
    max_length = options.max_length
    if options.truncation != "do_not_truncate" and max_length and total > max_length:
        ids, pair_ids, overflowing = truncate(ids, pair_ids, total - max_length, options.truncation, options.stride)
        if spans is not None:  # offsets go with their tokens, cut from the right the same way
            spans = spans[: len(ids)]
            pair_spans = pair_spans[: len(pair_ids)] if pair_spans is not None else None
    out: Dict[str, object] = {}
    if options.return_overflowing_tokens:
        out["overflowing_tokens"] = overflowing
        out["num_truncated_tokens"] = total - max_length if max_length else 0
    out.update(assemble(ids, pair_ids, specials, options, spans, pair_spans))
    return out


def stride_windows(ids: Ids, pair_ids: Ids, spans: Spans, pair_spans: Spans, specials: SpecialIds,
                   options: EncodingOptions, example_id: int = 0) -> List[Dict[str, object]]:
    """Overlapping windows over a long second sequence (extractive QA's document stride).

    PaddleNLP's rule: the first sequence (the question) is kept whole in every window, the second
    (the context) is cut into pieces of the room left by ``max_length``, and each window starts
    ``options.stride`` tokens after the previous one. Every window carries ``offset_mapping`` and
    ``overflow_to_sample`` (``example_id``).
    """
    max_length = options.max_length
    if not max_length:
        raise ValueError("stride > 0 needs max_length / max_seq_len: the windows are cut to that length")
    room = max_length - len(ids) - (3 if options.add_special_tokens else 0)
    if room <= 0:
        raise ValueError(
            f"batch item {example_id}: the first text has {len(ids)} tokens, leaving no room for the "
            f"second within max_length={max_length}; shorten it or raise max_length"
        )
    windows, offset = [], 0
    while offset < len(pair_ids):
        length = min(len(pair_ids) - offset, room)
        out = assemble(ids, pair_ids[offset : offset + length], specials, options, spans,
                       pair_spans[offset : offset + length])
        out["overflow_to_sample"] = example_id
        windows.append(out)
        if offset + length == len(pair_ids):
            break
        offset += min(length, options.stride)
    return windows


# ---------------------------------------------------------------------------- padding


def padded_length(lengths: Sequence[int], padding: str, max_length: Optional[int],
                  pad_to_multiple_of: Optional[int]) -> Optional[int]:
    """The length to pad to (None: no padding): the longest or ``max_length``, rounded up to a multiple."""
    if padding == "do_not_pad":
        return None
    target = max(lengths, default=0) if padding == "longest" else max_length
    if target is not None and pad_to_multiple_of and target % pad_to_multiple_of:
        target = (target // pad_to_multiple_of + 1) * pad_to_multiple_of
    return target


def pad_example(example: Dict[str, object], length: Optional[int], specials: SpecialIds,
                return_attention_mask: bool = False) -> Dict[str, object]:
    """Pad one example's per-token keys on the right to ``length`` (None: only add the mask).

    ``input_ids`` get ``[PAD]``, ``token_type_ids`` padding's type, ``special_tokens_mask`` 1,
    ``offset_mapping`` (0, 0), the rest 0; keys not in ``PAD_VALUES`` (labels, ...) are left alone.
    """
    current = len(example["input_ids"])
    if return_attention_mask and "attention_mask" not in example:
        example["attention_mask"] = [1] * current
    if length is None or current >= length:
        return example
    extra = length - current
    example["input_ids"] = list(example["input_ids"]) + [specials.pad] * extra
    for key, value in PAD_VALUES.items():
        sequence = example.get(key)
        if sequence is None or (key.endswith("_positions") and not isinstance(sequence, list)):
            continue  # absent, or a QA answer position given as a number
        if value is None:
            value = specials.pad_token_type
        example[key] = list(sequence) + [value] * extra
    return example


def collate(examples: List[Dict[str, object]], specials: SpecialIds, options: EncodingOptions,
            batched: bool = True):
    """Pad encoded examples together and make the call's result: a ``BatchEncoding`` of lists,
    arrays or tensors (``options.return_tensors``), or a list of them (``return_dict=False``).
    ``batched=False``: the result of a single text, without the batch axis for lists."""
    # PaddleNLP's "length": before padding in a batch, after it for a single text.
    if options.return_length and batched:
        for example in examples:
            example["length"] = example["seq_len"] = len(example["input_ids"])
    target = padded_length([len(e["input_ids"]) for e in examples], options.padding, options.max_length,
                           options.pad_to_multiple_of)
    for example in examples:
        pad_example(example, target, specials, options.return_attention_mask)
    if not batched:
        if options.return_length:
            examples[0]["length"] = examples[0]["seq_len"] = len(examples[0]["input_ids"])
        return to_tensors(BatchEncoding(examples[0]), options.return_tensors, prepend_batch_axis=True)
    if not options.return_dict:
        return [to_tensors(BatchEncoding(e), options.return_tensors, prepend_batch_axis=True) for e in examples]
    keys = list(examples[0]) if examples else ["input_ids"]
    merged = BatchEncoding({k: [e[k] for e in examples] for k in keys})
    return to_tensors(merged, options.return_tensors)


def pad(features, specials: SpecialIds, padding: Union[bool, str] = True, max_length: Optional[int] = None,
        pad_to_multiple_of: Optional[int] = None, return_attention_mask: Optional[bool] = None,
        return_tensors: Optional[str] = None, model_max_length: int = NO_LIMIT) -> BatchEncoding:
    """Pad encoded examples: a list of dicts, a dict of lists (a batch), or one example's dict.

    PaddleNLP's / Hugging Face's ``tokenizer.pad``: ``padding`` True / ``"longest"`` pads to the
    longest, ``"max_length"`` to ``max_length`` (or ``model_max_length``), False not at all;
    ``pad_to_multiple_of`` rounds the length up. ``return_attention_mask`` None adds no mask but
    pads one that is there. Keys other than ids (labels, ...) are kept as they are.
    """
    if isinstance(features, (list, tuple)):
        if not features:
            raise ValueError("pad got an empty list of examples")
        for i, feature in enumerate(features):
            if not isinstance(feature, Mapping):
                raise TypeError(f"pad takes dicts of encoded inputs; item {i} is a {type(feature).__name__}")
        missing = [i for i, f in enumerate(features) if f.keys() != features[0].keys()]
        if missing:
            raise ValueError(f"pad: example {missing[0]} has keys {sorted(features[missing[0]])}, "
                             f"example 0 has {sorted(features[0])}")
        features = {key: [f[key] for f in features] for key in features[0]}
    if not isinstance(features, Mapping):
        raise TypeError(f"pad takes a list of dicts or a dict of lists, got {type(features).__name__}")
    if "input_ids" not in features:
        raise ValueError(f"pad needs 'input_ids' in the examples, got keys {sorted(features)}")
    padding = _strategy("padding", padding, "longest", "do_not_pad", PADDING_STRATEGIES)
    if max_length is not None and not _positive_int(max_length):
        raise ValueError(f"max_length must be a positive integer, got {max_length!r}")
    if padding == "max_length" and max_length is None:
        if model_max_length >= NO_LIMIT // 10:
            raise ValueError("padding='max_length' needs max_length: the tokenizer has no model_max_length")
        max_length = model_max_length
    if return_tensors not in TENSOR_TYPES:
        raise ValueError(f"return_tensors must be None, 'np' or 'pd', got {return_tensors!r}")
    columns = {key: (_as_python(value) if key == "input_ids" or key in PAD_VALUES else value)
               for key, value in features.items()}
    input_ids = columns["input_ids"]
    single = not input_ids or not isinstance(input_ids[0], (list, tuple))
    if single:
        examples = [dict(columns)]
    else:
        sizes = {key: len(value) for key, value in columns.items() if hasattr(value, "__len__")}
        if any(size != len(input_ids) for size in sizes.values()):
            raise ValueError(f"pad: the keys hold different numbers of examples: {sizes}")
        examples = [{key: value[i] for key, value in columns.items()} for i in range(len(input_ids))]
    target = padded_length([len(e["input_ids"]) for e in examples], padding, max_length, pad_to_multiple_of)
    for example in examples:
        pad_example(example, target, specials, bool(return_attention_mask))
    if single:
        return to_tensors(BatchEncoding(examples[0]), return_tensors, prepend_batch_axis=False, only_ids=False)
    merged = BatchEncoding({key: [e[key] for e in examples] for key in examples[0]})
    return to_tensors(merged, return_tensors, only_ids=False)


# ---------------------------------------------------------------------------- tensors


def to_tensors(encoding: BatchEncoding, return_tensors: Optional[str], prepend_batch_axis: bool = False,
               only_ids: bool = True) -> BatchEncoding:
    """Lists -> int64 numpy arrays (``"np"``) or Paddle tensors (``"pd"``, imported only then).

    ``only_ids=False``: keys other than ids (labels, ...) become arrays of their own dtype too.
    """
    if return_tensors is None:
        return encoding
    for key, value in list(encoding.items()):
        if key in _NOT_TENSORS:
            continue
        if prepend_batch_axis:
            value = [value]
        is_ids = key == "input_ids" or key in PAD_VALUES or key in ("length", "seq_len", "overflow_to_sample")
        try:
            array = np.asarray(value, dtype="int64" if is_ids or only_ids else None)
        except ValueError:
            raise ValueError(
                f"cannot make a tensor of {key!r}: the sequences have different lengths; pass padding=True"
            ) from None
        if return_tensors == "pd":
            import paddle

            array = paddle.to_tensor(array)
        encoding[key] = array
    return encoding


def _as_python(value):
    """A numpy array or Paddle tensor of ids -> nested lists; anything else as it is."""
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        value = value.numpy()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_as_python(v) if isinstance(v, np.ndarray) or hasattr(v, "numpy") else v for v in value]
    return value


def _positive_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 1


def _strategy(name: str, value, on: str, off: str, allowed: Sequence[str]) -> str:
    """True / False / None / a strategy name -> a strategy name, or a clear error."""
    if value is True:
        return on
    if value is False or value is None:
        return off
    if value not in allowed:
        raise ValueError(f"{name} must be True, False or one of {tuple(allowed)}, got {value!r}")
    return value
