"""``pipeline(task, model=...)``: text in, plain Python results out, for four tasks.

- ``"text-classification"``: ``{"label", "score"}`` (softmax; sigmoid for multi-label configs),
  or the ``top_k`` best, best first;
- ``"token-classification"``: entities with character offsets into the input; ``aggregation``
  ``"simple"`` groups B-/I- tags into spans, ``"none"`` lists every token not tagged ``O``;
- ``"fill-mask"``: for each ``[MASK]``, the ``top_k`` tokens with their score and the filled text;
- ``"feature-extraction"``: one float32 numpy array per text, ``pooling`` ``"none"`` (a row per
  token, no padding), ``"cls"``, ``"mean"`` or ``"pooler"``.

Inputs are batched (``batch_size``) and truncated to ``max_seq_len`` tokens; the model runs in eval
mode under ``paddle.no_grad()``. One text gives one result, a list of texts a list of results.
The CLI's ``fill-mask`` and ``predict`` subcommands are defined at the end.

The module is ``pipelines`` (plural) so that ``paddle_roformer.pipeline`` stays the function: a
submodule named ``pipeline`` would replace it on the package once imported.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
import paddle
import paddle.nn.functional as F

from .heads import RoFormerForMaskedLM, RoFormerForSequenceClassification, RoFormerForTokenClassification
from .modeling import RoFormerModel
from .pretrained import RoFormerPretrainedModel
from .tokenizer import RoFormerTokenizer
from .utils import closest_match

__all__ = ["pipeline", "Pipeline", "TASKS"]

AGGREGATIONS = ("none", "simple")
POOLINGS = ("none", "cls", "mean", "pooler")


class Pipeline:
    """Tokenize -> batched forward in eval mode -> task post-processing. Subclasses set the task."""

    task = ""
    model_class = RoFormerPretrainedModel
    defaults: Dict[str, Any] = {}

    def __init__(self, model: RoFormerPretrainedModel, tokenizer: RoFormerTokenizer, batch_size: int = 8,
                 max_seq_len: int = 512, **options):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        if isinstance(max_seq_len, bool) or not isinstance(max_seq_len, int) or max_seq_len < 3:
            raise ValueError(f"max_seq_len must be an integer >= 3 ([CLS], one token, [SEP]), got {max_seq_len!r}")
        self.model, self.tokenizer = model, tokenizer
        self.batch_size, self.max_seq_len = batch_size, max_seq_len
        self.options = self._check_options(options)
        self.model.eval()

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(task={self.task!r}, model={type(self.model).__name__}, "
                f"batch_size={self.batch_size}, max_seq_len={self.max_seq_len}, options={self.options})")

    def _check_options(self, options: Dict[str, Any]) -> Dict[str, Any]:
        unknown = sorted(set(options) - set(self.defaults))
        if unknown:
            known = ", ".join(self.defaults) or "none"
            raise TypeError(f"{self.task}: unknown options {unknown} (this task takes: {known})")
        merged = {**self.defaults, **getattr(self, "options", {}), **options}
        self._validate(merged)
        return merged

    def _validate(self, options: Dict[str, Any]) -> None:
        pass

    def __call__(self, inputs: Union[str, Sequence[str]], **options):
        """Run on one text (one result) or a list of texts (a list of results)."""
        opts = self._check_options(options)
        single = isinstance(inputs, str)
        texts = [inputs] if single else inputs
        if not isinstance(texts, (list, tuple)):
            raise TypeError(f"{self.task}: inputs must be a str or a list of str, got {type(inputs).__name__}")
        if not texts:
            raise ValueError(f"{self.task}: inputs is an empty list; pass at least one text")
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"{self.task}: input {i} must be a str, got {type(text).__name__}")
            if not text.strip():
                raise ValueError(f"{self.task}: input {i} is empty")
        self.model.eval()
        results: List[Any] = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start:start + self.batch_size])
            encoded = self.tokenizer(batch, max_length=self.max_seq_len, truncation=True, padding=True,
                                     return_attention_mask=True, return_offsets_mapping=True)
            arrays = {k: np.asarray(encoded[k], dtype="int64")
                      for k in ("input_ids", "token_type_ids", "attention_mask")}
            self._check_batch(batch, arrays, start)
            with paddle.no_grad():
                output = self._forward({k: paddle.to_tensor(v) for k, v in arrays.items()})
            offsets = [[tuple(span) for span in row] for row in encoded["offset_mapping"]]
            for i, text in enumerate(batch):
                results.append(self._postprocess(text, output, i, arrays, offsets[i], opts))
        return results[0] if single else results

    def _check_batch(self, texts, arrays, start) -> None:
        pass

    def _forward(self, tensors):
        return self.model(**tensors, return_dict=True)

    def _postprocess(self, text, output, row, arrays, offsets, options):
        raise NotImplementedError


def _label(config, index: int) -> str:
    return (config.id2label or {}).get(index, f"LABEL_{index}")


def _check_top_k(top_k, allow_none: bool) -> None:
    if top_k is None and allow_none:
        return
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"top_k must be an integer >= 1{' or None (all)' if allow_none else ''}, got {top_k!r}")


class TextClassificationPipeline(Pipeline):
    """``{"label", "score"}`` for ``top_k=1``; a list of them, best first, for another ``top_k``
    (None: every label). Scores: softmax; sigmoid for multi-label configs or a single label; the
    raw outputs for ``problem_type="regression"``."""

    task = "text-classification"
    model_class = RoFormerForSequenceClassification
    defaults = {"top_k": 1}

    def _validate(self, options):
        _check_top_k(options["top_k"], allow_none=True)

    def _postprocess(self, text, output, row, arrays, offsets, options):
        logits = output.logits[row:row + 1]
        config = self.model.config
        if config.problem_type == "regression":
            scores = logits[0].numpy()  # the predicted values themselves
        elif config.problem_type == "multi_label_classification" or config.num_labels == 1:
            scores = F.sigmoid(logits)[0].numpy()
        else:
            scores = F.softmax(logits, axis=-1)[0].numpy()
        order = np.argsort(-scores, kind="stable")
        ranked = [{"label": _label(self.model.config, int(i)), "score": float(scores[i])} for i in order]
        top_k = options["top_k"]
        if top_k == 1:
            return ranked[0]
        return ranked if top_k is None else ranked[:top_k]


def _split_tag(label: str):
    """("B", "PER") for "B-PER"; ("I", type) for I- / E- / M- / S- style tags; (None, label) for a bare tag."""
    for sep in ("-", "_"):
        head, found, rest = label.partition(sep)
        if found and head in ("B", "I", "S", "E", "M") and rest:
            return head, rest
    return None, label


class TokenClassificationPipeline(Pipeline):
    """Entities with character offsets into the text.

    ``aggregation="simple"``: consecutive tokens form one entity while their tags continue it
    (``B-X`` starts one, ``I-X`` continues an ``X``, a bare tag ``X`` continues an ``X``); each
    entity is ``{"entity_group", "score" (mean of its tokens), "word" (the text it covers),
    "start", "end"}``. ``aggregation="none"``: ``{"entity", "score", "index" (token position),
    "word", "start", "end"}`` for every token. Tokens tagged ``O`` are left out in both.
    """

    task = "token-classification"
    model_class = RoFormerForTokenClassification
    defaults = {"aggregation": "simple", "ignore_labels": ("O",)}

    def _validate(self, options):
        if options["aggregation"] not in AGGREGATIONS:
            close = closest_match(str(options["aggregation"]), AGGREGATIONS)
            hint = f" Did you mean {close!r}?" if close else ""
            raise ValueError(f"aggregation must be one of {list(AGGREGATIONS)}, got {options['aggregation']!r}.{hint}")

    def _postprocess(self, text, output, row, arrays, offsets, options):
        probs = F.softmax(output.logits[row], axis=-1).numpy()  # (T, num_labels)
        mask = arrays["attention_mask"][row]
        tokens = []
        for index, (start, end) in enumerate(offsets):
            if not mask[index] or end <= start:  # padding and [CLS] / [SEP] have no characters
                continue
            best = int(probs[index].argmax())
            tokens.append({"entity": _label(self.model.config, best), "score": float(probs[index, best]),
                           "index": index, "word": text[start:end], "start": int(start), "end": int(end)})
        ignore = set(options["ignore_labels"] or ())
        if options["aggregation"] == "none":
            return [t for t in tokens if t["entity"] not in ignore]
        return self._group(text, tokens, ignore)

    @staticmethod
    def _group(text, tokens, ignore):
        entities, current = [], None
        for token in tokens:
            if token["entity"] in ignore:
                current = None
                continue
            prefix, kind = _split_tag(token["entity"])
            continues = (current is not None and current["type"] == kind and prefix not in ("B", "S")
                         and token["index"] == current["last"] + 1)
            if continues:
                current["scores"].append(token["score"])
                current["end"], current["last"] = token["end"], token["index"]
                if prefix in ("E", "S"):
                    current = None
                continue
            current = {"type": kind, "scores": [token["score"]], "start": token["start"], "end": token["end"],
                       "last": token["index"]}
            entities.append(current)
            if prefix in ("E", "S"):
                current = None
        return [{"entity_group": e["type"], "score": float(np.mean(e["scores"])), "word": text[e["start"]:e["end"]],
                 "start": e["start"], "end": e["end"]} for e in entities]


class FillMaskPipeline(Pipeline):
    """For each ``[MASK]``: the ``top_k`` candidates, best first, each ``{"score", "token" (id),
    "token_str", "sequence" (the text with that token in place of this mask)}``. One mask gives
    that list; several give one list per mask, in text order."""

    task = "fill-mask"
    model_class = RoFormerForMaskedLM
    defaults = {"top_k": 5}

    def _validate(self, options):
        _check_top_k(options["top_k"], allow_none=False)

    def _check_batch(self, texts, arrays, start):
        mask_id = self.tokenizer.mask_token_id
        for i, text in enumerate(texts):
            if not (arrays["input_ids"][i] == mask_id).any():
                raise ValueError(f"fill-mask: input {start + i} has no {self.tokenizer.mask_token} token "
                                 f"(or it was truncated away by max_seq_len={self.max_seq_len}): {text!r}")

    def _postprocess(self, text, output, row, arrays, offsets, options):
        tok = self.tokenizer
        ids = arrays["input_ids"][row][arrays["attention_mask"][row] == 1]
        positions = [int(p) for p in np.nonzero(ids == tok.mask_token_id)[0]]
        # An embedding matrix may have more rows than vocab.txt has lines (padded vocabularies):
        # rows without a token are never candidates.
        usable = min(int(output.logits.shape[-1]), len(tok))
        logits = output.logits[row][:, :usable]  # (T, V)
        top_k = min(options["top_k"], usable)
        per_mask = []
        for position in positions:
            probs = F.softmax(logits[position], axis=-1).numpy()
            best = np.argsort(-probs, kind="stable")[:top_k]
            candidates = []
            for token_id in best:
                filled = [int(t) for t in ids]
                filled[position] = int(token_id)
                sequence = tok.convert_tokens_to_string(tok.convert_ids_to_tokens(filled[1:-1]))  # no [CLS], [SEP]
                candidates.append({"score": float(probs[token_id]), "token": int(token_id),
                                   "token_str": tok.convert_ids_to_tokens(int(token_id)), "sequence": sequence})
            per_mask.append(candidates)
        return per_mask[0] if len(per_mask) == 1 else per_mask


class FeatureExtractionPipeline(Pipeline):
    """One float32 numpy array per text: ``pooling="none"`` (T, hidden) over its real tokens,
    ``"cls"`` the first token's (hidden,), ``"mean"`` the mean over its tokens, ``"pooler"`` the
    pooler output. ``.tolist()`` gives JSON-ready lists."""

    task = "feature-extraction"
    model_class = RoFormerPretrainedModel  # any: a head's backbone is used
    defaults = {"pooling": "none"}

    def _validate(self, options):
        if options["pooling"] not in POOLINGS:
            close = closest_match(str(options["pooling"]), POOLINGS)
            hint = f" Did you mean {close!r}?" if close else ""
            raise ValueError(f"pooling must be one of {list(POOLINGS)}, got {options['pooling']!r}.{hint}")

    def _forward(self, tensors):
        backbone = self.model if isinstance(self.model, RoFormerModel) else self.model.roformer
        return backbone(**tensors, return_dict=True)

    def _postprocess(self, text, output, row, arrays, offsets, options):
        mask = arrays["attention_mask"][row].astype(bool)
        hidden = output.last_hidden_state[row].numpy().astype("float32")[mask]  # (T, H)
        pooling = options["pooling"]
        if pooling == "cls":
            return hidden[0]
        if pooling == "mean":
            return hidden.mean(axis=0)
        if pooling == "pooler":
            return output.pooler_output[row].numpy().astype("float32")
        return hidden


TASKS = {cls.task: cls for cls in (TextClassificationPipeline, TokenClassificationPipeline, FillMaskPipeline,
                                   FeatureExtractionPipeline)}


def _load_model(task_cls, model) -> RoFormerPretrainedModel:
    task = task_cls.task
    if isinstance(model, RoFormerPretrainedModel):
        if not isinstance(model, task_cls.model_class):
            raise ValueError(f"{task} needs a {task_cls.model_class.__name__}, got a {type(model).__name__}")
        return model
    if not isinstance(model, (str, os.PathLike)):
        raise TypeError(f"model must be a directory, a registered name or a model instance, got {type(model).__name__}")
    load_cls = RoFormerModel if task == "feature-extraction" else task_cls.model_class
    loaded = load_cls.from_pretrained(model)
    saved_as = (loaded.config.architectures or [None])[0]
    if task != "feature-extraction" and saved_as not in (None, load_cls.__name__):
        raise ValueError(f"{task} needs a {load_cls.__name__} checkpoint, but {os.fspath(model)!r} was saved "
                         f"from a {saved_as} (its {load_cls.__name__} head would be untrained)")
    return loaded


def pipeline(task: str, model: Union[str, os.PathLike, RoFormerPretrainedModel] = None,
             tokenizer: Union[str, os.PathLike, RoFormerTokenizer, None] = None, device: Optional[str] = None,
             batch_size: int = 8, max_seq_len: int = 512, **options) -> Pipeline:
    """A ready pipeline for ``task`` (see the module docstring for the tasks and their options).

    ``model``: a directory, a registered name, or a model instance of the task's class;
    ``tokenizer``: the same kinds (default: the model's directory or name); ``device``: "cpu",
    "gpu", "gpu:1", ... (``paddle.set_device``; default: leave Paddle's device as it is).
    """
    if task not in TASKS:
        close = closest_match(str(task), TASKS)
        hint = f" Did you mean {close!r}?" if close else ""
        raise ValueError(f"Unknown task {task!r}.{hint} Known tasks: {', '.join(TASKS)}")
    if model is None:
        raise ValueError(f"{task}: pass model= (a directory, a registered name or a model instance)")
    if device is not None:
        paddle.set_device(device)
    task_cls = TASKS[task]
    loaded = _load_model(task_cls, model)
    if tokenizer is None:
        if isinstance(model, RoFormerPretrainedModel):
            raise ValueError(f"{task}: pass tokenizer= when model is an instance "
                             "(it has no directory to read one from)")
        tokenizer = model
    if not isinstance(tokenizer, RoFormerTokenizer):
        tokenizer = RoFormerTokenizer.from_pretrained(tokenizer)
    return task_cls(loaded, tokenizer, batch_size=batch_size, max_seq_len=max_seq_len, **options)


# ---------------------------------------------------------------------------- CLI: `fill-mask`


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model directory or registered name")
    parser.add_argument("--tokenizer", help="tokenizer directory or name (default: --model)")
    parser.add_argument("--device", help="cpu, gpu, gpu:1, ... (default: Paddle's)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-seq-len", type=int, default=512)


def add_fill_mask_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", nargs="+", help="text(s) with one or more [MASK] tokens")
    _add_model_arguments(parser)
    parser.add_argument("--top-k", type=int, default=5, help="candidates per [MASK] (default 5)")
    parser.add_argument("--json", action="store_true", help="print one JSON line per text instead of a table")


def run_fill_mask(args: argparse.Namespace) -> int:
    try:
        pipe = pipeline("fill-mask", model=args.model, tokenizer=args.tokenizer, device=args.device,
                        batch_size=args.batch_size, max_seq_len=args.max_seq_len, top_k=args.top_k)
        results = pipe(list(args.text))
    except (ValueError, TypeError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for text, result in zip(args.text, results):
        per_mask = [result] if result and isinstance(result[0], dict) else result
        if args.json:
            print(json.dumps({"text": text, "masks": per_mask}, ensure_ascii=False))
            continue
        print(text)
        for k, candidates in enumerate(per_mask):
            if len(per_mask) > 1:
                print(f"  [MASK] {k + 1}:")
            for c in candidates:
                print(f"  {c['score']:.4f}  {c['token_str']}  {c['sequence']}")
    return 0


# ---------------------------------------------------------------------------- CLI: `predict`

PREDICT_TASKS = ("text-classification", "token-classification")


def add_predict_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", nargs="?", default="-", help="text file, one text per line; - (default) for stdin")
    parser.add_argument("--task", required=True, choices=PREDICT_TASKS)
    _add_model_arguments(parser)
    parser.add_argument("--top-k", type=int, default=1, help="text-classification: labels per text (default 1)")
    parser.add_argument("--aggregation", default="simple", choices=AGGREGATIONS,
                        help="token-classification: group B-/I- tags into entities (simple) or not (none)")
    parser.add_argument("--output", help="write the JSON lines here instead of stdout")


def _read_lines(source: str) -> List[str]:
    if source == "-":
        lines = sys.stdin.read().splitlines()
    else:
        with open(source, encoding="utf-8") as f:
            lines = f.read().splitlines()
    return [line for line in lines if line.strip()]


def run_predict(args: argparse.Namespace) -> int:
    options = {"top_k": args.top_k} if args.task == "text-classification" else {"aggregation": args.aggregation}
    try:
        texts = _read_lines(args.input)
        if not texts:
            raise ValueError(f"no text to predict in {'stdin' if args.input == '-' else args.input}")
        pipe = pipeline(args.task, model=args.model, tokenizer=args.tokenizer, device=args.device,
                        batch_size=args.batch_size, max_seq_len=args.max_seq_len, **options)
        results = pipe(texts)
    except (ValueError, TypeError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    lines = [json.dumps({"text": t, "result": r}, ensure_ascii=False) for t, r in zip(texts, results)]
    if args.output:
        from .utils import atomic_write_text

        atomic_write_text(args.output, "\n".join(lines) + "\n")
    else:
        for line in lines:
            print(line)
    return 0
