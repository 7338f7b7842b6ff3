"""Text generation: greedy search, sampling and beam search, with a KV cache and the UniLM mask.

Two ways for the generated tokens to see the prompt:

- seq2seq (UniLM, as RoFormer-Sim was trained): the prompt (segment 0) attends to itself in both
  directions; each generated token (segment 1) attends to the prompt, to the generated tokens
  before it and to itself. The prompt never sees what follows it, so its cached keys and values
  stay valid while decoding.
- causal: every token attends to itself and the tokens before it.

Prompts may be padded on either side: each real token gets its own rotary position (0, 1, ...
within its row) and every generated token continues from its row's length, so a padded batch
decodes exactly as each row would alone. The search itself (penalties, top-k / top-p, beams) is
bookkeeping on the host in numpy; the model runs once per step on the new tokens only.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np
import paddle
from paddle import Tensor

from .modeling import MASK_VALUE, TENSOR_TYPES

DECODE_STRATEGIES = ("greedy_search", "sampling", "beam_search")


def unilm_attention_bias(token_type_ids, attention_mask=None, dtype="float32") -> Tensor:
    """Additive (B, 1, T, T) mask of UniLM's seq2seq scheme, from segment ids (B, T).

    With c = cumsum(token_type_ids) along the sequence, query i may attend key j when c[j] <= c[i]
    (and key j is not padding): segment-0 tokens all have c = 0 and see each other; the k-th
    segment-1 token has c = k and sees segment 0 and the segment-1 tokens up to itself.
    """
    types = _to_numpy(token_type_ids, "token_type_ids").astype("int64")
    keys = np.ones_like(types) if attention_mask is None else _to_numpy(attention_mask, "attention_mask")
    return _bias_tensor(_unilm_allowed(types, keys != 0), dtype)


def _unilm_allowed(types: np.ndarray, key_mask: np.ndarray) -> np.ndarray:
    order = np.cumsum(types, axis=1)  # (B, T)
    return (order[:, None, :] <= order[:, :, None]) & key_mask[:, None, :].astype(bool)  # (B, T, T)


def _causal_allowed(key_mask: np.ndarray) -> np.ndarray:
    length = key_mask.shape[1]
    lower = np.tril(np.ones((length, length), dtype=bool))
    return lower[None] & key_mask[:, None, :].astype(bool)


def _bias_tensor(allowed: np.ndarray, dtype) -> Tensor:
    bias = np.where(allowed, 0.0, MASK_VALUE).astype("float32")[:, None]  # (B, 1, T, S)
    return paddle.to_tensor(bias).astype(dtype)


def _to_numpy(value, name: str) -> np.ndarray:
    if isinstance(value, TENSOR_TYPES):
        return value.numpy()
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as err:
        raise TypeError(f"{name} must be a tensor, an array or a list of equal-length lists: {err}") from None
    if array.dtype == object:
        raise TypeError(f"{name} must be a tensor, an array or a list of equal-length lists")
    return array


@dataclass(frozen=True)
class GenerationSettings:
    """The checked arguments of ``generate`` (lengths count generated tokens)."""

    strategy: str
    max_new: int
    min_new: int
    num_beams: int
    num_return: int
    top_k: int
    top_p: float
    temperature: float
    repetition_penalty: float
    length_penalty: float
    early_stopping: bool
    eos_token_id: Optional[int]
    pad_token_id: int
    seq2seq: bool
    use_cache: bool
    suppress: Optional[np.ndarray]  # ids that are never generated


def _check_generation_args(config, prompt_len: int, max_length, max_new_tokens, min_length, min_new_tokens,
                           decode_strategy, num_beams, top_k, top_p, temperature, num_return_sequences,
                           repetition_penalty, length_penalty, early_stopping, eos_token_id, pad_token_id,
                           seq2seq, use_cache, suppress_tokens=None) -> GenerationSettings:
    if decode_strategy not in DECODE_STRATEGIES:
        raise ValueError(f"decode_strategy must be one of {DECODE_STRATEGIES}, got {decode_strategy!r}")
    if max_length is not None and max_new_tokens is not None:
        raise ValueError("pass max_length (prompt + new tokens) or max_new_tokens, not both")
    if max_length is not None:
        _check_int("max_length", max_length, prompt_len + 1)
        if max_length <= prompt_len:
            raise ValueError(f"max_length={max_length} must be greater than the prompt length {prompt_len} "
                             "(it counts the prompt; max_new_tokens counts only generated tokens)")
        max_new = max_length - prompt_len
    else:
        max_new = 20 if max_new_tokens is None else max_new_tokens
        _check_int("max_new_tokens", max_new, 1)
    if min_length is not None and min_new_tokens is not None:
        raise ValueError("pass min_length (prompt + new tokens) or min_new_tokens, not both")
    if min_length is not None:
        _check_int("min_length", min_length, 0)
        min_new = max(min_length - prompt_len, 0)
    else:
        min_new = 0 if min_new_tokens is None else min_new_tokens
        _check_int("min_new_tokens", min_new, 0)
    if min_new > max_new:
        raise ValueError(f"the minimum ({min_new} new tokens) exceeds the maximum ({max_new} new tokens)")
    _check_int("num_beams", num_beams, 1)
    _check_int("num_return_sequences", num_return_sequences, 1)
    _check_int("top_k", top_k, 0)
    if decode_strategy == "beam_search" and num_return_sequences > num_beams:
        raise ValueError(f"num_return_sequences={num_return_sequences} must be <= num_beams={num_beams}")
    if decode_strategy == "greedy_search" and num_return_sequences != 1:
        raise ValueError("greedy_search returns one sequence per input: num_return_sequences must be 1 "
                         "(use sampling or beam_search for several)")
    if decode_strategy != "beam_search" and num_beams != 1:
        raise ValueError(f"num_beams={num_beams} needs decode_strategy='beam_search'")
    if not (isinstance(top_p, (int, float)) and 0.0 < top_p <= 1.0):
        raise ValueError(f"top_p must be in (0, 1], got {top_p!r}")
    if not (isinstance(temperature, (int, float)) and temperature > 0):
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    if not (isinstance(repetition_penalty, (int, float)) and repetition_penalty > 0):
        raise ValueError(f"repetition_penalty must be > 0, got {repetition_penalty!r}")
    if not isinstance(length_penalty, (int, float)) or not math.isfinite(length_penalty):
        raise ValueError(f"length_penalty must be a finite number, got {length_penalty!r}")
    eos = config.eos_token_id if eos_token_id is None else eos_token_id
    pad = config.pad_token_id if pad_token_id is None else pad_token_id
    for name, value in (("eos_token_id", eos), ("pad_token_id", pad)):
        if value is not None and not (isinstance(value, (int, np.integer)) and 0 <= value < config.vocab_size):
            raise ValueError(f"{name} must be an id in [0, vocab_size={config.vocab_size}), got {value!r}")
    if pad is None:
        raise ValueError("pad_token_id is needed to fill finished sequences; set it in the config or pass it")
    if seq2seq is None:
        seq2seq = not config.is_decoder  # RoFormer-Sim's scheme; a Hugging Face decoder adds its own causal mask
    elif seq2seq and config.is_decoder:
        raise ValueError("seq2seq=True needs a model whose config.is_decoder is False (a decoder always adds a causal mask)")
    suppress = None
    if suppress_tokens is not None:
        suppress = np.unique(np.asarray(list(suppress_tokens), dtype="int64"))
        if suppress.size and (suppress.min() < 0 or suppress.max() >= config.vocab_size):
            raise ValueError(f"suppress_tokens must be ids in [0, vocab_size={config.vocab_size}), "
                             f"got {int(suppress.min())}..{int(suppress.max())}")
        if eos is not None and eos in suppress:
            raise ValueError(f"suppress_tokens contains eos_token_id={eos}: nothing could end")
    return GenerationSettings(
        decode_strategy, int(max_new), int(min_new), int(num_beams), int(num_return_sequences), int(top_k),
        float(top_p), float(temperature), float(repetition_penalty), float(length_penalty), bool(early_stopping),
        None if eos is None else int(eos), int(pad), bool(seq2seq), bool(use_cache), suppress,
    )


def _check_int(name: str, value, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


class _Prompt:
    """The prompt batch as numpy arrays, with each row's positions and length."""

    def __init__(self, config, input_ids, token_type_ids, attention_mask, pad_token_id):
        ids = _to_numpy(input_ids, "input_ids")
        if ids.ndim != 2 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"input_ids must be an integer array of shape [batch_size, seq_len], got "
                             f"{ids.dtype} of shape {list(ids.shape)}")
        if ids.shape[0] == 0 or ids.shape[1] == 0:
            raise ValueError(f"input_ids must not be empty, got shape {list(ids.shape)}")
        if ids.min() < 0 or ids.max() >= config.vocab_size:
            bad = ids.max() if ids.max() >= config.vocab_size else ids.min()
            raise ValueError(f"input_ids contains {bad}, outside [0, vocab_size={config.vocab_size}); "
                             "does the tokenizer match the model?")
        self.ids = ids.astype("int64")
        self.types = self._optional(token_type_ids, "token_type_ids", np.zeros_like(self.ids))
        if self.types.min() < 0 or self.types.max() >= config.type_vocab_size:
            raise ValueError(f"token_type_ids must be in [0, type_vocab_size={config.type_vocab_size})")
        default_mask = (self.ids != pad_token_id).astype("int64")
        self.mask = (self._optional(attention_mask, "attention_mask", default_mask) != 0).astype("int64")
        self.lengths = self.mask.sum(axis=1)  # (B,)
        if (self.lengths == 0).any():
            row = int(np.argmin(self.lengths))
            raise ValueError(f"prompt {row} has no token to attend to (its attention_mask is all 0)")
        self.positions = np.maximum(np.cumsum(self.mask, axis=1) - 1, 0)  # real tokens at 0, 1, ... per row
        self.last = self.mask.shape[1] - 1 - np.argmax(self.mask[:, ::-1], axis=1)  # index of each row's last token

    def _optional(self, value, name, default):
        if value is None:
            return default
        array = _to_numpy(value, name)
        if array.shape != self.ids.shape:
            raise ValueError(f"{name} must have the shape of input_ids {list(self.ids.shape)}, got {list(array.shape)}")
        return array.astype("int64")

    def repeat(self, times: int) -> "_Prompt":
        out = object.__new__(_Prompt)
        for name in ("ids", "types", "mask", "lengths", "positions", "last"):
            setattr(out, name, np.repeat(getattr(self, name), times, axis=0))
        return out


class _Decoder:
    """Runs the model for a batch of rows, with or without the KV cache, and returns next-token logits."""

    def __init__(self, model, prompt: _Prompt, settings: GenerationSettings):
        self.model, self.prompt, self.settings = model, prompt, settings
        self.new_type = 1 if settings.seq2seq else 0
        self.cache = None

    def _bias(self, mask, types) -> Optional[Tensor]:
        if self.model.config.is_decoder:
            return paddle.to_tensor(mask)  # the model adds the causal part
        allowed = _unilm_allowed(types, mask) if self.settings.seq2seq else _causal_allowed(mask)
        return _bias_tensor(allowed, self.model.roformer.embeddings.word_embeddings.weight.dtype)

    def _run(self, ids, types, positions, mask, past):
        outputs = self.model(
            paddle.to_tensor(ids), token_type_ids=paddle.to_tensor(types), attention_mask=mask,
            position_ids=paddle.to_tensor(positions), past_key_values=past, use_cache=self.settings.use_cache,
            return_dict=True,
        )
        return outputs.logits, outputs.past_key_values

    def first(self) -> np.ndarray:
        """Logits (B, V) for the first new token of every prompt row."""
        p = self.prompt
        logits, self.cache = self._run(p.ids, p.types, p.positions, self._bias(p.mask, p.types), None)
        rows = paddle.to_tensor(np.arange(len(p.last)) * logits.shape[1] + p.last)
        return paddle.gather(logits.reshape([-1, logits.shape[-1]]), rows).astype("float32").numpy()

    def next(self, generated: np.ndarray) -> np.ndarray:
        """Logits (N, V) for the token after ``generated`` (N, g), the tokens chosen so far."""
        p, g = self.prompt, generated.shape[1]
        new_positions = p.lengths[:, None] + np.arange(g)[None, :]  # (N, g): each row continues from its length
        new_types = np.full_like(generated, self.new_type)
        if self.settings.use_cache:
            mask = np.concatenate([p.mask, np.ones_like(generated)], axis=1)  # (N, S): keys cached + new
            # One new query attends to every unmasked key: that is the UniLM and the causal scheme alike.
            logits, self.cache = self._run(generated[:, -1:], new_types[:, -1:], new_positions[:, -1:],
                                           paddle.to_tensor(mask), self.cache)
            return logits[:, -1].astype("float32").numpy()
        ids = np.concatenate([p.ids, generated], axis=1)
        types = np.concatenate([p.types, new_types], axis=1)
        positions = np.concatenate([p.positions, new_positions], axis=1)
        mask = np.concatenate([p.mask, np.ones_like(generated)], axis=1)
        logits, _ = self._run(ids, types, positions, self._bias(mask, types), None)
        return logits[:, -1].astype("float32").numpy()

    def reorder(self, rows: np.ndarray) -> None:
        """Keep the rows ``rows`` (beam search moves hypotheses between beams)."""
        self.prompt = _select(self.prompt, rows)
        if self.cache is not None:
            index = paddle.to_tensor(rows.astype("int64"))
            self.cache = tuple((paddle.gather(k, index), paddle.gather(v, index)) for k, v in self.cache)


def _select(prompt: _Prompt, rows: np.ndarray) -> _Prompt:
    out = object.__new__(_Prompt)
    for name in ("ids", "types", "mask", "lengths", "positions", "last"):
        setattr(out, name, getattr(prompt, name)[rows])
    return out


# ---------------------------------------------------------------------------- logits processing


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _penalise(logits: np.ndarray, prompt: "_Prompt", generated: np.ndarray, settings: GenerationSettings) -> np.ndarray:
    """Repetition penalty (CTRL: divide positive logits, multiply negative ones) and the minimum length."""
    logits = logits.copy()
    if settings.repetition_penalty != 1.0:
        for row, tokens in enumerate(_seen_tokens(prompt, generated)):
            values = logits[row, tokens]
            logits[row, tokens] = np.where(values > 0, values / settings.repetition_penalty,
                                           values * settings.repetition_penalty)
    if settings.suppress is not None and settings.suppress.size:
        logits[:, settings.suppress] = -np.inf
    if settings.eos_token_id is not None and generated.shape[1] < settings.min_new:
        logits[:, settings.eos_token_id] = -np.inf
    return logits


def _filter_top_k_top_p(logits: np.ndarray, top_k: int, top_p: float) -> np.ndarray:
    """Keep the top_k largest logits and the smallest set whose probability reaches top_p."""
    logits = logits.copy()
    if 0 < top_k < logits.shape[-1]:
        kth = np.partition(logits, -top_k, axis=-1)[:, -top_k][:, None]
        logits[logits < kth] = -np.inf
    if top_p < 1.0:
        order = np.argsort(-logits, axis=-1, kind="stable")
        sorted_logits = np.take_along_axis(logits, order, axis=-1)
        probs = np.exp(_log_softmax(sorted_logits))
        before = np.cumsum(probs, axis=-1) - probs  # probability of the tokens ranked above each one
        drop = before >= top_p  # the first token is always kept
        np.put_along_axis(logits, order, np.where(drop, -np.inf, sorted_logits), axis=-1)
    return logits


# ---------------------------------------------------------------------------- the searches


def _seen_tokens(prompt: _Prompt, generated: np.ndarray) -> List[np.ndarray]:
    return [np.unique(np.concatenate([prompt.ids[r][prompt.mask[r] == 1], generated[r]])).astype("int64")
            for r in range(len(generated))]


def _greedy_or_sample(decoder: _Decoder, settings: GenerationSettings) -> Tuple[np.ndarray, np.ndarray]:
    rows = len(decoder.prompt.ids)
    generated = np.zeros((rows, 0), dtype="int64")
    log_probs = np.zeros(rows, dtype="float64")
    lengths = np.zeros(rows, dtype="int64")
    finished = np.zeros(rows, dtype=bool)
    logits = decoder.first()
    for step in range(settings.max_new):
        logits = _penalise(logits, decoder.prompt, generated, settings)
        scores = _log_softmax(logits)
        if settings.strategy == "greedy_search":
            tokens = scores.argmax(axis=-1)
        else:
            filtered = _filter_top_k_top_p(logits / settings.temperature, settings.top_k, settings.top_p)
            probs = np.exp(_log_softmax(filtered)).astype("float32")
            tokens = paddle.multinomial(paddle.to_tensor(probs), num_samples=1).numpy()[:, 0]  # paddle.seed decides
        tokens = np.where(finished, settings.pad_token_id, tokens).astype("int64")
        log_probs += np.where(finished, 0.0, scores[np.arange(rows), tokens])
        lengths += ~finished
        generated = np.concatenate([generated, tokens[:, None]], axis=1)
        if settings.eos_token_id is not None:
            finished |= tokens == settings.eos_token_id
        if finished.all() or step + 1 == settings.max_new:
            break
        logits = decoder.next(generated)
    return generated, log_probs / np.maximum(lengths, 1) ** settings.length_penalty


class _Hypotheses:
    """The finished hypotheses of one input, best ``size`` kept, scored by sum log p / length ** penalty."""

    def __init__(self, size: int, length_penalty: float, early_stopping: bool):
        self.size, self.length_penalty, self.early_stopping = size, length_penalty, early_stopping
        self.items: List[Tuple[float, List[int]]] = []

    def add(self, tokens: List[int], sum_log_probs: float) -> None:
        score = sum_log_probs / max(len(tokens), 1) ** self.length_penalty
        self.items.append((score, tokens))
        self.items.sort(key=lambda item: -item[0])
        del self.items[self.size:]

    def is_done(self, best_sum_log_probs: float, length: int) -> bool:
        if len(self.items) < self.size:
            return False
        if self.early_stopping:
            return True
        return self.items[-1][0] >= best_sum_log_probs / max(length, 1) ** self.length_penalty


def _beam_search(decoder: _Decoder, settings: GenerationSettings, batch: int) -> Tuple[np.ndarray, np.ndarray]:
    beams = settings.num_beams
    decoder.reorder(np.repeat(np.arange(batch), beams))  # the prompt ran once per input; now once per beam
    beam_scores = np.zeros((batch, beams), dtype="float64")
    beam_scores[:, 1:] = -np.inf  # at the first step every beam is the same: expand only the first
    generated = np.zeros((batch * beams, 0), dtype="int64")
    hypotheses = [_Hypotheses(beams, settings.length_penalty, settings.early_stopping) for _ in range(batch)]
    done = np.zeros(batch, dtype=bool)
    logits = np.repeat(decoder.first_logits, beams, axis=0)
    for step in range(settings.max_new):
        logits = _penalise(logits, decoder.prompt, generated, settings)
        vocab = logits.shape[-1]
        totals = (beam_scores.reshape(-1, 1) + _log_softmax(logits)).reshape(batch, beams * vocab)
        top = np.argsort(-totals, axis=1, kind="stable")[:, : 2 * beams]  # (batch, 2K) candidates
        next_rows, next_tokens, next_scores = [], [], []
        for b in range(batch):
            chosen = []
            if not done[b]:
                for rank, flat in enumerate(top[b]):
                    beam, token = divmod(int(flat), vocab)
                    row, score = b * beams + beam, float(totals[b, flat])
                    if settings.eos_token_id is not None and token == settings.eos_token_id:
                        if rank < beams:
                            hypotheses[b].add(list(generated[row]) + [token], score)
                        continue
                    chosen.append((row, token, score))
                    if len(chosen) == beams:
                        break
                done[b] = hypotheses[b].is_done(max(s for _, _, s in chosen), step + 1) if chosen else True
            if done[b] or not chosen:  # keep the rows in place, padding; they are ignored from now on
                chosen = [(b * beams + k, settings.pad_token_id, -np.inf) for k in range(beams)]
            for row, token, score in chosen:
                next_rows.append(row)
                next_tokens.append(token)
                next_scores.append(score)
        rows = np.asarray(next_rows, dtype="int64")
        generated = np.concatenate([generated[rows], np.asarray(next_tokens, dtype="int64")[:, None]], axis=1)
        beam_scores = np.asarray(next_scores, dtype="float64").reshape(batch, beams)
        if done.all() or step + 1 == settings.max_new:
            break
        decoder.reorder(rows)
        logits = decoder.next(generated)
    for b in range(batch):
        if not done[b]:  # out of length: the live beams compete with the finished ones
            for k in range(beams):
                if np.isfinite(beam_scores[b, k]):
                    hypotheses[b].add(list(generated[b * beams + k]), float(beam_scores[b, k]))
    return _pack_hypotheses(hypotheses, settings)


def _pack_hypotheses(hypotheses: List[_Hypotheses], settings: GenerationSettings) -> Tuple[np.ndarray, np.ndarray]:
    picked = [item for h in hypotheses for item in h.items[: settings.num_return]]
    width = max(len(tokens) for _, tokens in picked)
    ids = np.full((len(picked), width), settings.pad_token_id, dtype="int64")
    for i, (_, tokens) in enumerate(picked):
        ids[i, : len(tokens)] = tokens
    return ids, np.asarray([score for score, _ in picked])


class GenerationMixin:
    """``generate`` for a model whose forward returns next-token logits and takes a KV cache."""

    @paddle.no_grad()
    def generate(
        self,
        input_ids,
        token_type_ids=None,
        attention_mask=None,
        max_length: Optional[int] = None,
        min_length: Optional[int] = None,
        decode_strategy: str = "greedy_search",
        num_beams: int = 1,
        top_k: int = 0,
        top_p: float = 1.0,
        temperature: float = 1.0,
        num_return_sequences: int = 1,
        repetition_penalty: float = 1.0,
        length_penalty: float = 1.0,
        early_stopping: bool = False,
        eos_token_id: Optional[int] = None,
        pad_token_id: Optional[int] = None,
        max_new_tokens: Optional[int] = None,
        min_new_tokens: Optional[int] = None,
        seq2seq: Optional[bool] = None,
        use_cache: bool = True,
        suppress_tokens=None,
    ) -> Tuple[Tensor, Tensor]:
        """Generate continuations of the prompts ``input_ids`` (B, T); returns (ids, scores).

        ids (B * num_return_sequences, L) holds only the generated tokens (the eos token included,
        then pad_token_id); scores (B * num_return_sequences,) is each sequence's sum of token
        log-probabilities divided by its length ** length_penalty (the beam score). Lengths:
        ``max_length`` / ``min_length`` count the prompt as well (its padded width T),
        ``max_new_tokens`` / ``min_new_tokens`` only generated tokens (default 20 new tokens).
        ``attention_mask`` (B, T) marks real tokens (default: input_ids != pad_token_id); either
        padding side works. ``seq2seq`` (default: True unless config.is_decoder) uses the UniLM
        mask with the prompt as the source segment, as RoFormer-Sim was trained; False uses a
        causal mask. ``suppress_tokens``: ids never generated (e.g. [PAD], [MASK], or embedding rows
        the tokenizer has no token for). Sampling draws with ``paddle.multinomial``, so ``paddle.seed`` makes it
        reproducible. ``use_cache=False`` recomputes the whole sequence at every step (same result,
        slower).
        """
        prompt_width = _to_numpy(input_ids, "input_ids").shape[-1]
        settings = _check_generation_args(
            self.config, prompt_width, max_length, max_new_tokens, min_length, min_new_tokens, decode_strategy,
            num_beams, top_k, top_p, temperature, num_return_sequences, repetition_penalty, length_penalty,
            early_stopping, eos_token_id, pad_token_id, seq2seq, use_cache, suppress_tokens,
        )
        prompt = _Prompt(self.config, input_ids, token_type_ids, attention_mask, settings.pad_token_id)
        was_training = self.training
        self.eval()
        try:
            if settings.strategy == "beam_search":
                ids, scores = self._beam(prompt, settings)
            else:
                decoder = _Decoder(self, prompt.repeat(settings.num_return), settings)
                ids, scores = _greedy_or_sample(decoder, settings)
        finally:
            if was_training:
                self.train()
        return paddle.to_tensor(ids), paddle.to_tensor(scores.astype("float32"))

    def _beam(self, prompt: _Prompt, settings: GenerationSettings):
        decoder = _Decoder(self, prompt, settings)
        decoder.first_logits = decoder.first()
        return _beam_search(decoder, settings, len(prompt.ids))
