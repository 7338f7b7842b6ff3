"""The training / evaluation loop shared by the CLI, the example scripts and the notebooks.

``Trainer(model, config, train_dataset, eval_dataset, collate_fn, compute_metrics).train()`` runs
AdamW with linear warmup then linear decay (no weight decay on biases and LayerNorm weights),
gradient accumulation, global-norm clipping, evaluation every ``eval_steps`` and at each epoch end,
early stopping, best-model selection, AMP on GPU and ``paddle.DataParallel`` when launched on
several processes.

Determinism: epoch ``e`` is shuffled by ``np.random.RandomState(seed + e)`` and Paddle's generator
is reseeded before every optimizer step from ``(seed, step)``, so dropout depends on the step
alone. A checkpoint stores the model, the optimizer's accumulators, the scheduler, the step and the
position within the epoch, so a resumed run sees the same batches and ends with the same
parameters as an uninterrupted one.

Files under ``output_dir``:

- ``checkpoint-<step>/``: the model (``save_pretrained``), ``optimizer.safetensors`` (accumulators
  keyed by structured parameter names), ``optimizer.json`` (scheduler and scalars) and
  ``trainer_state.json``. A checkpoint is staged in ``checkpoint-<step>.tmp-<pid>`` and renamed
  into place, so it exists whole or not at all; stale staging directories are removed later.
- ``best/``: the model with the best evaluation metric, ``final/``: the model at the end.
- ``metrics.json``: train loss, steps, speed, final and best evaluation metrics.
- ``vdl/``: VisualDL scalars, when ``visualdl`` is installed.

Nothing is pickled except the model weights, which go through ``checkpoint.py`` like every model save.
"""
from __future__ import annotations

import dataclasses
import inspect
import json
import logging
import math
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import paddle
import paddle.nn as nn

from .checkpoint import SAFE_WEIGHTS_NAME, WEIGHTS_NAME, load_state_dict, read_safetensors, write_safetensors
from .utils import atomic_write_text, fsync_directory, pid_alive

logger = logging.getLogger("paddle_roformer")

TRAINER_STATE_NAME = "trainer_state.json"
OPTIMIZER_NAME = "optimizer.safetensors"
OPTIMIZER_SCALARS_NAME = "optimizer.json"
METRICS_NAME = "metrics.json"
CHECKPOINT_PREFIX = "checkpoint-"
_CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")
_STAGING_RE = re.compile(r"^checkpoint-(\d+)\.(?:tmp|old)-(\d+)$")  # a save being staged / a replaced one
LABEL_KEYS = ("labels", "start_positions", "end_positions")  # a batch with any of these yields a loss
_LOWER_IS_BETTER = ("loss", "perplexity", "error", "wer", "cer")


# ---------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class TrainingConfig:
    """Every setting of a training run; validated on construction (errors name the field and the bound)."""

    output_dir: str  # checkpoints, best/, final/, metrics.json and vdl/ go here
    learning_rate: float = 5e-5  # peak learning rate, reached at the end of warmup
    num_train_epochs: float = 3.0  # passes over the training set (a fraction stops mid-epoch)
    max_steps: Optional[int] = None  # optimizer steps; when set, overrides num_train_epochs
    per_device_train_batch_size: int = 8  # examples per forward pass on each process
    per_device_eval_batch_size: int = 8
    gradient_accumulation_steps: int = 1  # forward passes summed into one optimizer step
    warmup_steps: int = 0  # linear warmup length in optimizer steps ...
    warmup_ratio: float = 0.0  # ... or as a fraction of all steps (only one of the two may be set)
    weight_decay: float = 0.0  # AdamW's decoupled decay; never applied to biases and LayerNorm weights
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    max_grad_norm: Optional[float] = 1.0  # global-norm clipping; None or 0 turns it off
    logging_steps: int = 50  # a log line (and VisualDL point) every this many optimizer steps
    eval_steps: Optional[int] = None  # evaluate every this many steps; None = at each epoch end only
    save_steps: Optional[int] = 500  # checkpoint every this many steps; None = no step checkpoints
    save_total_limit: Optional[int] = None  # keep at most this many checkpoints (the best one is kept)
    seed: int = 42  # shuffling and dropout are functions of (seed, epoch) and (seed, step)
    early_stopping_patience: Optional[int] = None  # evaluations without improvement before stopping
    metric_for_best_model: str = "loss"  # a key of evaluate()'s result
    greater_is_better: Optional[bool] = None  # None: False for loss-like names, else True
    amp: str = "no"  # "no" | "fp16" | "bf16" (GPU only)
    disable_progress: bool = False  # no tqdm bar
    resume_from_checkpoint: Union[str, bool, None] = None  # a checkpoint path, or True = latest in output_dir

    def __post_init__(self):
        def bad(name, bound):
            raise ValueError(f"TrainingConfig.{name} must be {bound}, got {getattr(self, name)!r}")

        if not isinstance(self.output_dir, (str, os.PathLike)) or not str(self.output_dir):
            bad("output_dir", "a non-empty path")
        for name in ("learning_rate", "num_train_epochs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or math.isinf(value):
                bad(name, "a finite number > 0")
        ints = {"per_device_train_batch_size": 1, "per_device_eval_batch_size": 1,
                "gradient_accumulation_steps": 1, "logging_steps": 1, "warmup_steps": 0, "seed": 0}
        for name, low in ints.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                bad(name, f"an integer >= {low}")
        optional_ints = {"max_steps": 1, "eval_steps": 1, "save_steps": 1, "save_total_limit": 1,
                         "early_stopping_patience": 1}
        for name, low in optional_ints.items():
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < low):
                bad(name, f"None or an integer >= {low}")
        if not isinstance(self.warmup_ratio, (int, float)) or not 0.0 <= self.warmup_ratio < 1.0:
            bad("warmup_ratio", "in [0, 1)")
        if self.warmup_ratio and self.warmup_steps:
            raise ValueError(f"TrainingConfig: set warmup_steps ({self.warmup_steps}) or warmup_ratio "
                             f"({self.warmup_ratio}), not both")
        if not isinstance(self.weight_decay, (int, float)) or self.weight_decay < 0:
            bad("weight_decay", "a number >= 0")
        for name in ("adam_beta1", "adam_beta2"):
            if not 0.0 <= getattr(self, name) < 1.0:
                bad(name, "in [0, 1)")
        if not self.adam_epsilon > 0:
            bad("adam_epsilon", "> 0")
        if self.max_grad_norm is not None and (not isinstance(self.max_grad_norm, (int, float))
                                               or self.max_grad_norm < 0):
            bad("max_grad_norm", "None or a number >= 0")
        if self.amp not in ("no", "fp16", "bf16"):
            bad("amp", 'one of "no", "fp16", "bf16"')
        if not isinstance(self.metric_for_best_model, str) or not self.metric_for_best_model:
            bad("metric_for_best_model", "a metric name such as 'loss' or 'accuracy'")
        if self.greater_is_better is not None and not isinstance(self.greater_is_better, bool):
            bad("greater_is_better", "None or a bool")
        r = self.resume_from_checkpoint
        if not (r is None or r is False or r is True or isinstance(r, (str, os.PathLike))):
            bad("resume_from_checkpoint", "None, True (latest in output_dir) or a checkpoint path")

    @property
    def higher_is_better(self) -> bool:
        """Whether a larger ``metric_for_best_model`` is better (``greater_is_better``, else from its name)."""
        if self.greater_is_better is not None:
            return self.greater_is_better
        name = self.metric_for_best_model.lower()
        return not any(name == w or name.endswith("_" + w) for w in _LOWER_IS_BETTER)

    def to_dict(self) -> Dict[str, Any]:
        values = dataclasses.asdict(self)
        values["output_dir"] = os.fspath(values["output_dir"])
        if isinstance(values["resume_from_checkpoint"], os.PathLike):
            values["resume_from_checkpoint"] = os.fspath(values["resume_from_checkpoint"])
        return values


# ---------------------------------------------------------------------------- records


@dataclass
class EvalPrediction:
    """What a model produced on a dataset, batch by batch.

    ``predictions[i]`` is the tuple of the model's non-loss outputs (numpy) for batch ``i``;
    ``batches[i]`` is the collated batch dict (every key, also those the model does not take, such
    as ``example_id``). Shapes may differ between batches (e.g. padded lengths), so nothing is
    concatenated here; ``output(k)`` and ``feature(key)`` concatenate when the shapes allow.
    """

    predictions: List[Tuple[np.ndarray, ...]]
    batches: List[Dict[str, np.ndarray]]

    def output(self, index: int = 0) -> np.ndarray:
        """The ``index``-th output of every batch, concatenated along the batch axis."""
        return np.concatenate([p[index] for p in self.predictions], axis=0)

    def feature(self, key: str) -> np.ndarray:
        """The batch key ``key`` of every batch, concatenated along the batch axis."""
        return np.concatenate([np.asarray(b[key]) for b in self.batches], axis=0)


@dataclass
class TrainResult:
    global_step: int  # optimizer steps taken in all (a resumed run counts the steps before it)
    training_loss: float  # mean loss over those steps
    metrics: Dict[str, Any] = field(default_factory=dict)  # what metrics.json holds


# ---------------------------------------------------------------------------- helpers


def default_collate(features: Sequence[Mapping[str, Any]]) -> Dict[str, np.ndarray]:
    """Stack each key of equally shaped feature dicts into one numpy array."""
    if not features:
        raise ValueError("default_collate: empty list of features")
    return {key: np.stack([np.asarray(f[key]) for f in features]) for key in features[0]}


def linear_schedule(step: int, warmup: int, total: int) -> float:
    """Learning-rate factor before optimizer step ``step`` (0-based): 0 -> 1 over warmup, then 1 -> 0 at total."""
    if step < warmup:
        return step / max(1, warmup)
    return max(0.0, (total - step) / max(1, total - warmup))


def step_seed(seed: int, step: int) -> int:
    """The Paddle seed used for optimizer step ``step``: dropout depends on (seed, step) only."""
    return (seed * 1_000_003 + step) % (2 ** 31 - 1)


def no_decay_parameter_names(model: nn.Layer) -> List[str]:
    """Structured names of biases and LayerNorm weights (no weight decay for them)."""
    names = set()
    for prefix, layer in model.named_sublayers(include_self=True):
        if isinstance(layer, nn.LayerNorm):
            names.update(f"{prefix}.{n}" if prefix else n for n, _ in layer.named_parameters(include_sublayers=False))
    names.update(n for n, _ in model.named_parameters() if n.endswith("bias"))
    return sorted(names)


def _to_numpy(value):
    if isinstance(value, paddle.Tensor):
        return value.numpy()
    if isinstance(value, (tuple, list)):
        return tuple(_to_numpy(v) for v in value)
    return value


def _split_outputs(outputs, has_labels: bool):
    """(loss or None, tuple of the other outputs) from a tuple, a tensor or a record."""
    if hasattr(outputs, "to_tuple") and hasattr(outputs, "loss"):
        loss = outputs.loss
        rest = tuple(v for k, v in vars(outputs).items() if k != "loss" and v is not None)
        return loss, rest
    if isinstance(outputs, paddle.Tensor):
        return (outputs, ()) if has_labels else (None, (outputs,))
    outputs = tuple(outputs)
    return (outputs[0], outputs[1:]) if has_labels else (None, outputs)


def list_checkpoints(output_dir: str) -> List[Tuple[int, str]]:
    """(step, path) of the complete checkpoints in ``output_dir``, oldest first; staging dirs are skipped."""
    found = []
    if not os.path.isdir(output_dir):
        return found
    for name in os.listdir(output_dir):
        match = _CHECKPOINT_RE.match(name)
        path = os.path.join(output_dir, name)
        if match and os.path.isfile(os.path.join(path, TRAINER_STATE_NAME)):
            found.append((int(match.group(1)), path))
    return sorted(found)


def latest_checkpoint(output_dir: str) -> Optional[str]:
    found = list_checkpoints(output_dir)
    return found[-1][1] if found else None


def remove_stale_staging(output_dir: str) -> List[str]:
    """Remove ``checkpoint-<step>.tmp-<pid>`` / ``.old-<pid>`` directories left by killed saves (or by this process)."""
    removed = []
    if not os.path.isdir(output_dir):
        return removed
    for name in os.listdir(output_dir):
        match = _STAGING_RE.match(name)
        if match and (int(match.group(2)) == os.getpid() or not pid_alive(int(match.group(2)))):
            shutil.rmtree(os.path.join(output_dir, name), ignore_errors=True)
            removed.append(name)
    return removed


def _write_json(path: str, value) -> None:
    atomic_write_text(path, json.dumps(value, indent=2, sort_keys=True) + "\n")


# ---------------------------------------------------------------------------- the trainer


class Trainer:
    """Trains ``model`` on ``train_dataset`` (a sequence of feature dicts) by ``config``.

    ``collate_fn(list of features) -> dict of numpy arrays``; only the keys ``model.forward``
    accepts are passed to the model, the others stay in the batch for ``compute_metrics``.
    ``compute_metrics(EvalPrediction) -> dict of floats``.
    """

    def __init__(self, model: nn.Layer, config: TrainingConfig, train_dataset: Optional[Sequence] = None,
                 eval_dataset: Optional[Sequence] = None,
                 collate_fn: Callable[[List[Mapping]], Dict[str, np.ndarray]] = default_collate,
                 compute_metrics: Optional[Callable[[EvalPrediction], Dict[str, float]]] = None):
        if not isinstance(config, TrainingConfig):
            raise TypeError(f"Trainer: config must be a TrainingConfig, got {type(config).__name__}")
        if config.early_stopping_patience is not None and eval_dataset is None:
            raise ValueError("Trainer: early_stopping_patience needs an eval_dataset")
        self.model = model
        self.config = config
        self.train_dataset = train_dataset
        self.eval_dataset = eval_dataset
        self.collate_fn = collate_fn
        self.compute_metrics = compute_metrics
        self.output_dir = os.fspath(config.output_dir)
        self._check_amp()
        params = inspect.signature(model.forward).parameters
        self._accepts_any = any(p.kind == p.VAR_KEYWORD for p in params.values())
        self._model_keys = set(params)
        self.world_size = paddle.distributed.get_world_size()
        self.rank = paddle.distributed.get_rank() if self.world_size > 1 else 0
        self.is_main = self.rank == 0
        self._wrapped = None  # paddle.DataParallel around model, when world_size > 1
        self.optimizer = None
        self.scheduler = None
        self.state: Dict[str, Any] = {}

    # ------------------------------------------------------------------ devices
    def _check_amp(self) -> None:
        amp = self.config.amp
        if amp == "no":
            return
        on_gpu = paddle.is_compiled_with_cuda() and "gpu" in paddle.get_device()
        if not on_gpu:
            # Paddle's auto_cast on CPU leaves float16 unsupported and bfloat16 a silent no-op
            # (the ops stay float32), so both are refused rather than pretending.
            raise ValueError(f"TrainingConfig.amp={amp!r} needs a GPU (the device is {paddle.get_device()!r}); "
                             'use amp="no" on CPU')
        if amp == "bf16" and not paddle.amp.is_bfloat16_supported():
            raise ValueError('TrainingConfig.amp="bf16": this GPU does not support bfloat16; use amp="fp16"')

    def _autocast(self):
        if self.config.amp == "no":
            return paddle.amp.auto_cast(enable=False)
        return paddle.amp.auto_cast(dtype="float16" if self.config.amp == "fp16" else "bfloat16")

    # ------------------------------------------------------------------ batches
    def _epoch_batches(self, n: int, epoch: int) -> List[np.ndarray]:
        """This rank's index batches of epoch ``epoch``: a permutation from RandomState(seed + epoch)."""
        order = np.random.RandomState(self.config.seed + epoch).permutation(n)
        if self.world_size > 1:  # pad by wrapping so that every rank gets as many examples
            extra = (-n) % self.world_size
            order = np.concatenate([order, order[:extra]])[self.rank::self.world_size]
        bs = self.config.per_device_train_batch_size
        return [order[i:i + bs] for i in range(0, len(order), bs)]

    def _model_inputs(self, batch: Mapping[str, np.ndarray]) -> Dict[str, Any]:
        inputs = {k: paddle.to_tensor(np.asarray(v)) for k, v in batch.items()
                  if (k in self._model_keys or self._accepts_any) and k != "return_dict"}
        if "return_dict" in self._model_keys:
            inputs["return_dict"] = False  # tuples: what DataParallel can trace
        return inputs

    # ------------------------------------------------------------------ optimizer
    def _build_optimizer(self, total_steps: int) -> None:
        c = self.config
        warmup = c.warmup_steps or int(math.ceil(c.warmup_ratio * total_steps))
        self.warmup = warmup
        self.scheduler = paddle.optimizer.lr.LambdaDecay(
            c.learning_rate, lambda step: linear_schedule(step, warmup, total_steps))
        no_decay = set(no_decay_parameter_names(self.model))
        decay_ids = {p.name for n, p in self.model.named_parameters() if n not in no_decay}
        clip = nn.ClipGradByGlobalNorm(c.max_grad_norm) if c.max_grad_norm else None
        self.optimizer = paddle.optimizer.AdamW(
            learning_rate=self.scheduler, parameters=self.model.parameters(), beta1=c.adam_beta1,
            beta2=c.adam_beta2, epsilon=c.adam_epsilon, weight_decay=c.weight_decay, grad_clip=clip,
            apply_decay_param_fun=lambda name: name in decay_ids)
        self.scaler = paddle.amp.GradScaler() if c.amp == "fp16" else None

    def _create_all_accumulators(self) -> None:
        """Accumulators for every trainable parameter, as a first step would make them. Paddle makes
        them only for parameters that received a gradient, so a parameter no loss reaches (an unused
        pooler) would otherwise be missing from one checkpoint and expected by the next."""
        params = [p for p in self.model.parameters() if not p.stop_gradient]
        block = paddle.static.default_main_program().global_block()
        self.optimizer._create_accumulators(block, params)

    def _optimizer_arrays(self) -> Dict[str, np.ndarray]:
        """The AdamW accumulators keyed ``<structured parameter name>/<accumulator>`` (stable across processes)."""
        self._create_all_accumulators()
        structured = {p.name: n for n, p in self.model.named_parameters()}
        arrays = {}
        for acc, per_param in self.optimizer._accumulators.items():
            for pname, tensor in per_param.items():
                if pname in structured:
                    arrays[f"{structured[pname]}/{acc}"] = tensor.numpy()
        return arrays

    def _load_optimizer_arrays(self, arrays: Mapping[str, np.ndarray]) -> None:
        self._create_all_accumulators()
        by_name = dict(self.model.named_parameters())
        expected = {f"{n}/{acc}" for acc, d in self.optimizer._accumulators.items()
                    for n, p in by_name.items() if p.name in d}
        if set(arrays) != expected:
            missing, extra = sorted(expected - set(arrays)), sorted(set(arrays) - expected)
            raise ValueError(f"optimizer state does not match the model: missing {missing[:5]}, unexpected {extra[:5]}")
        for key, array in arrays.items():
            name, acc = key.rsplit("/", 1)
            self.optimizer._accumulators[acc][by_name[name].name].set_value(np.asarray(array))

    # ------------------------------------------------------------------ checkpoints
    def _save_model(self, directory: str) -> None:
        if hasattr(self.model, "save_pretrained"):
            self.model.save_pretrained(directory)
        else:
            os.makedirs(directory, exist_ok=True)
            write_safetensors(self.model.state_dict(), os.path.join(directory, SAFE_WEIGHTS_NAME))

    def _load_model_weights(self, directory: str) -> None:
        for name in (SAFE_WEIGHTS_NAME, WEIGHTS_NAME):
            path = os.path.join(directory, name)
            if os.path.isfile(path):
                state = load_state_dict(path)
                own = self.model.state_dict()
                missing = sorted(set(own) - set(state))
                unexpected = sorted(set(state) - set(own))
                if missing or unexpected:  # a checkpoint of this very run holds exactly the model's keys
                    raise ValueError(f"{path} does not fit the model: missing {missing[:5]}, "
                                     f"unexpected {unexpected[:5]}")
                for key, array in state.items():
                    if tuple(own[key].shape) != array.shape:
                        raise ValueError(f"{path}: {key!r} has shape {array.shape}, the model's is "
                                         f"{tuple(own[key].shape)}")
                    own[key].set_value(paddle.to_tensor(array).astype(own[key].dtype))
                return
        raise FileNotFoundError(f"{directory}: no {SAFE_WEIGHTS_NAME} or {WEIGHTS_NAME} to resume from")

    def _write_trainer_state(self, path: str) -> None:
        _write_json(path, {**self.state, "config": self.config.to_dict()})

    def save_checkpoint(self) -> str:
        """Write ``checkpoint-<step>`` as one unit (staged, then renamed) and prune old ones; rank 0 only."""
        step = self.state["global_step"]
        final = os.path.join(self.output_dir, f"{CHECKPOINT_PREFIX}{step}")
        if not self.is_main:
            return final
        remove_stale_staging(self.output_dir)
        staging = f"{final}.tmp-{os.getpid()}"
        os.makedirs(staging)
        try:
            self._save_model(staging)
            write_safetensors(self._optimizer_arrays(), os.path.join(staging, OPTIMIZER_NAME))
            _write_json(os.path.join(staging, OPTIMIZER_SCALARS_NAME),
                        {"scheduler": self.scheduler.state_dict(), "warmup_steps": self.warmup,
                         "total_steps": self.state["max_steps"]})
            self._write_trainer_state(os.path.join(staging, TRAINER_STATE_NAME))
            if os.path.exists(final):  # the same step saved again (a resumed run): move the old one aside
                aside = f"{final}.old-{os.getpid()}"
                os.rename(final, aside)
                os.rename(staging, final)
                shutil.rmtree(aside, ignore_errors=True)
            else:
                os.rename(staging, final)
            fsync_directory(self.output_dir)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self._prune_checkpoints()
        return final

    def _prune_checkpoints(self) -> None:
        limit = self.config.save_total_limit
        if limit is None:
            return
        found = list_checkpoints(self.output_dir)
        best = self.state.get("best_step")
        removable = [(s, p) for s, p in found if s != best]
        excess = len(found) - limit
        for _, path in removable[:max(0, excess)]:
            shutil.rmtree(path, ignore_errors=True)

    def _resolve_resume(self) -> Optional[str]:
        r = self.config.resume_from_checkpoint
        if r is None or r is False:
            return None
        if r is True:
            path = latest_checkpoint(self.output_dir)
            if path is None:
                raise FileNotFoundError(f"resume_from_checkpoint=True: no checkpoint in {self.output_dir}")
            return path
        path = os.fspath(r)
        if not os.path.isfile(os.path.join(path, TRAINER_STATE_NAME)):
            raise FileNotFoundError(f"resume_from_checkpoint={path!r}: no {TRAINER_STATE_NAME} there")
        return path

    def _load_checkpoint(self, path: str) -> None:
        with open(os.path.join(path, TRAINER_STATE_NAME), encoding="utf-8") as f:
            state = json.load(f)
        state.pop("config", None)
        if state.get("max_steps") != self.state["max_steps"]:
            raise ValueError(f"{path}: it was saved by a run of {state.get('max_steps')} steps, this run has "
                             f"{self.state['max_steps']}; resuming would change the schedule")
        self._load_model_weights(path)
        self._load_optimizer_arrays(read_safetensors(os.path.join(path, OPTIMIZER_NAME)))
        with open(os.path.join(path, OPTIMIZER_SCALARS_NAME), encoding="utf-8") as f:
            self.scheduler.set_state_dict(json.load(f)["scheduler"])
        self.state.update(state)
        logger.info("resumed from %s at step %d (epoch %d, batch %d)", path, state["global_step"],
                    state["epoch"], state["batch_in_epoch"])

    # ------------------------------------------------------------------ evaluation
    def _prediction_loop(self, dataset: Sequence) -> Tuple[EvalPrediction, Optional[float]]:
        model = self.model
        was_training = model.training
        model.eval()
        predictions, batches, loss_sum, loss_count = [], [], 0.0, 0
        bs = self.config.per_device_eval_batch_size
        try:
            with paddle.no_grad():
                for start in range(0, len(dataset), bs):
                    batch = self.collate_fn([dataset[i] for i in range(start, min(start + bs, len(dataset)))])
                    has_labels = any(k in batch and k in self._model_keys for k in LABEL_KEYS)
                    with self._autocast():
                        outputs = model(**self._model_inputs(batch))
                    loss, rest = _split_outputs(outputs, has_labels)
                    if loss is not None:
                        n = len(next(iter(batch.values())))
                        loss_sum += float(loss.astype("float32")) * n
                        loss_count += n
                    predictions.append(tuple(_to_numpy(r) for r in rest))
                    batches.append(dict(batch))
        finally:
            if was_training:
                model.train()
        return EvalPrediction(predictions, batches), (loss_sum / loss_count if loss_count else None)

    def evaluate(self, eval_dataset: Optional[Sequence] = None) -> Dict[str, float]:
        """Loss (when the batches carry labels) and ``compute_metrics`` on the evaluation set.

        Every process evaluates the whole set, so the metrics (and early stopping) agree across ranks.
        """
        dataset = self.eval_dataset if eval_dataset is None else eval_dataset
        if dataset is None:
            raise ValueError("Trainer.evaluate: no eval_dataset given")
        prediction, loss = self._prediction_loop(dataset)
        metrics: Dict[str, float] = {}
        if loss is not None:
            metrics["loss"] = loss
        if self.compute_metrics is not None:
            metrics.update({k: float(v) for k, v in self.compute_metrics(prediction).items()})
        return metrics

    def predict(self, dataset: Sequence) -> EvalPrediction:
        """The model's non-loss outputs on ``dataset``, batch by batch, with the collated batches."""
        return self._prediction_loop(dataset)[0]

    # ------------------------------------------------------------------ training
    def _steps_per_epoch(self, n: int) -> int:
        return math.ceil(len(self._epoch_batches(n, 0)) / self.config.gradient_accumulation_steps)

    def _open_visualdl(self):
        if not self.is_main:
            return None
        try:
            from visualdl import LogWriter
        except Exception:  # not installed (or broken): logging to VisualDL is optional
            return None
        try:
            return LogWriter(logdir=os.path.join(self.output_dir, "vdl"))
        except Exception as err:
            logger.warning("VisualDL logging disabled: %s", err)
            return None

    def _is_better(self, value: float, best: Optional[float]) -> bool:
        if best is None:
            return True
        return value > best if self.config.higher_is_better else value < best

    def _evaluate_and_select(self, vdl) -> bool:
        """Evaluate, keep the best model, count evaluations without improvement; True = stop early."""
        c = self.config
        metrics = self.evaluate()
        step = self.state["global_step"]
        self.state["last_eval"] = metrics
        self.state["log_history"].append({"step": step, **{f"eval_{k}": v for k, v in metrics.items()}})
        if c.metric_for_best_model not in metrics:
            raise KeyError(f"TrainingConfig.metric_for_best_model={c.metric_for_best_model!r} is not among the "
                           f"evaluation metrics {sorted(metrics)}")
        value = metrics[c.metric_for_best_model]
        if self.is_main:
            logger.info("step %d eval: %s", step, ", ".join(f"{k}={v:.6g}" for k, v in metrics.items()))
            if vdl is not None:
                for k, v in metrics.items():
                    vdl.add_scalar(tag=f"eval/{k}", step=step, value=v)
        if self._is_better(value, self.state["best_metric"]):
            self.state.update(best_metric=value, best_step=step, best_eval=metrics, evals_without_improvement=0)
            if self.is_main:
                self._save_model(os.path.join(self.output_dir, "best"))
        else:
            self.state["evals_without_improvement"] += 1
        patience = c.early_stopping_patience
        return patience is not None and self.state["evals_without_improvement"] >= patience

    def _setup_parallel(self) -> nn.Layer:
        if self.world_size <= 1:
            return self.model
        if self._wrapped is None:
            paddle.distributed.init_parallel_env()
            self._wrapped = paddle.DataParallel(self.model)
        return self._wrapped

    def train(self) -> TrainResult:
        c = self.config
        if self.train_dataset is None or len(self.train_dataset) == 0:
            raise ValueError("Trainer.train: train_dataset is empty or missing")
        if self.is_main:
            os.makedirs(self.output_dir, exist_ok=True)
            remove_stale_staging(self.output_dir)
        n = len(self.train_dataset)
        steps_per_epoch = self._steps_per_epoch(n)
        max_steps = c.max_steps or int(math.ceil(c.num_train_epochs * steps_per_epoch))
        self._build_optimizer(max_steps)
        self.state = {"global_step": 0, "epoch": 0, "batch_in_epoch": 0, "max_steps": max_steps,
                      "steps_per_epoch": steps_per_epoch, "loss_sum": 0.0, "best_metric": None,
                      "best_step": None, "best_eval": None, "last_eval": None, "evals_without_improvement": 0,
                      "log_history": [], "stopped_early": False}
        resume = self._resolve_resume()
        if resume is not None:
            self._load_checkpoint(resume)
        model = self._setup_parallel()
        model.train()
        vdl = self._open_visualdl()
        bar = None
        if self.is_main and not c.disable_progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=max_steps, initial=self.state["global_step"], desc="train", dynamic_ncols=True)
        accum = c.gradient_accumulation_steps
        start_time, samples, window_loss, window_steps = time.time(), 0, 0.0, 0
        stop = self.state["global_step"] >= max_steps
        try:
            while not stop:
                epoch = self.state["epoch"]
                batches = self._epoch_batches(n, epoch)
                position = self.state["batch_in_epoch"]
                while position < len(batches) and not stop:
                    group = batches[position:position + accum]
                    step = self.state["global_step"]
                    paddle.seed(step_seed(c.seed, step))
                    step_loss = 0.0
                    for indices in group:
                        batch = self.collate_fn([self.train_dataset[int(i)] for i in indices])
                        with self._autocast():
                            loss, _ = _split_outputs(model(**self._model_inputs(batch)), True)
                        if loss is None:
                            raise ValueError("the model returned no loss: do the training batches carry labels?")
                        loss = loss.astype("float32") / len(group)
                        (self.scaler.scale(loss) if self.scaler else loss).backward()
                        step_loss += float(loss)
                        samples += len(indices) * self.world_size
                    if self.world_size > 1:  # report the loss of the global batch, not this rank's share
                        total = paddle.to_tensor([step_loss], dtype="float32")
                        paddle.distributed.all_reduce(total)
                        step_loss = float(total.item()) / self.world_size
                    lr = self.optimizer.get_lr()
                    if self.scaler:
                        self.scaler.step(self.optimizer)
                        self.scaler.update()
                    else:
                        self.optimizer.step()
                    self.optimizer.clear_grad()
                    self.scheduler.step()
                    position += len(group)
                    if position >= len(batches):
                        self.state.update(epoch=epoch + 1, batch_in_epoch=0)
                    else:
                        self.state["batch_in_epoch"] = position
                    self.state["global_step"] = step = step + 1
                    self.state["loss_sum"] += step_loss
                    window_loss += step_loss
                    window_steps += 1
                    speed = samples / max(time.time() - start_time, 1e-9)
                    if bar is not None:
                        bar.update(1)
                        bar.set_postfix(loss=f"{step_loss:.4f}", lr=f"{lr:.3g}", samples_s=f"{speed:.1f}")
                    if step % c.logging_steps == 0:
                        record = {"step": step, "epoch": round(step / steps_per_epoch, 4),
                                  "loss": window_loss / window_steps, "learning_rate": lr}
                        self.state["log_history"].append(record)
                        if self.is_main:
                            logger.info("step %d/%d loss %.4f lr %.3g %.1f samples/s", step, max_steps,
                                        record["loss"], lr, speed)
                            if vdl is not None:
                                vdl.add_scalar(tag="train/loss", step=step, value=record["loss"])
                                vdl.add_scalar(tag="train/lr", step=step, value=lr)
                        window_loss, window_steps = 0.0, 0
                    epoch_end = self.state["batch_in_epoch"] == 0
                    done = step >= max_steps
                    if self.eval_dataset is not None and (
                            epoch_end or done or (c.eval_steps and step % c.eval_steps == 0)):
                        if self._evaluate_and_select(vdl):
                            self.state["stopped_early"] = True
                            logger.info("early stopping at step %d: %d evaluations without improvement",
                                        step, self.state["evals_without_improvement"])
                            done = True
                    if (c.save_steps and step % c.save_steps == 0) or (done and c.save_steps):
                        self.save_checkpoint()
                    stop = done
        finally:
            if bar is not None:
                bar.close()
            if vdl is not None:
                vdl.close()
        train_time = time.time() - start_time
        return self._finish(train_time, samples)

    def _finish(self, train_time: float, samples: int) -> TrainResult:
        s = self.state
        steps = s["global_step"]
        training_loss = s["loss_sum"] / steps if steps else float("nan")
        metrics = {
            "train_loss": training_loss, "global_step": steps, "epoch": round(steps / s["steps_per_epoch"], 4),
            "train_runtime": round(train_time, 4), "train_samples": samples,
            "train_samples_per_second": round(samples / max(train_time, 1e-9), 3),
            "eval": s["last_eval"], "best_eval": s["best_eval"], "best_step": s["best_step"],
            "best_metric": s["best_metric"], "metric_for_best_model": self.config.metric_for_best_model,
            "stopped_early": s["stopped_early"],
        }
        if self.is_main:
            self._save_model(os.path.join(self.output_dir, "final"))
            _write_json(os.path.join(self.output_dir, METRICS_NAME), metrics)
            logger.info("done: %s", ", ".join(f"{k}={v}" for k, v in metrics.items()
                                              if not isinstance(v, dict) and v is not None))
        return TrainResult(global_step=steps, training_loss=training_loss, metrics=metrics)
