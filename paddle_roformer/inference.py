"""Deployment: export a model to a static graph (and ONNX), and run it with :class:`Predictor`.

An export directory holds ``inference.json`` + ``inference.pdiparams`` (Paddle 3.x saves the PIR
program as JSON, not ``inference.pdmodel``), the model's ``config.json``, ``export.json`` (class,
input and output names in order, versions, precision notes) and, with ``format="onnx"``,
``model.onnx``. Batch size and sequence length stay dynamic.

Precisions of :class:`Predictor`:

- ``fp32``: Paddle Inference with oneDNN on CPU, or onnxruntime.
- ``bf16``: oneDNN bfloat16, only on a CPU with AVX512-BF16 or AMX (Paddle's ``supports_bfloat16``).
- ``int8``: onnxruntime dynamic quantization (int8 weights, activations quantized per call, no
  calibration data). Paddle Inference's oneDNN int8 path runs int8 kernels only for a model that
  carries quantize/dequantize ops from calibration (PTQ/QAT); on a plain fp32 export
  ``enable_mkldnn_int8()`` gave outputs identical to fp32 on Paddle 3.3.1, so the paddle backend
  refuses int8 rather than report fp32 as int8.
- ``fp16``: GPU only.
"""
from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import os
import shutil
import sys
import tempfile
import weakref
from typing import Optional, Sequence, Tuple

import numpy as np
import paddle

from .runtime import cpu_vendor_and_flags, default_num_threads
from .utils import atomic_write_text, fsync_directory

PREFIX = "inference"
EXPORT_NAME = "export.json"
ONNX_NAME = "model.onnx"
DEFAULT_INPUT_NAMES = ("input_ids", "token_type_ids", "attention_mask")
FORMATS = ("paddle", "onnx")
BACKENDS = ("paddle", "onnxruntime")
PRECISIONS = ("fp32", "bf16", "int8", "fp16")
DEFAULT_OPSET = 11  # paddle2onnx raises it where an operator needs a newer one

PRECISION_NOTES = {
    "fp32": "Paddle Inference with oneDNN on CPU, or onnxruntime",
    "bf16": "oneDNN bfloat16 on CPUs with AVX512-BF16 or AMX only",
    "int8": "onnxruntime dynamic quantization (backend='onnxruntime'); needs format='onnx'",
    "fp16": "GPU only",
}


# ---------------------------------------------------------------------------- export


def _input_rank(model) -> int:
    return 3 if type(model).__name__ == "RoFormerForMultipleChoice" else 2  # [batch, choices, seq]


class _Exported(paddle.nn.Layer):
    """The forward that is traced: plain tuple outputs, no caches, hidden states or attentions."""

    def __init__(self, model, input_names):
        super().__init__()
        self.model = model
        self.input_names = tuple(input_names)
        params = inspect.signature(model.forward).parameters
        self.options = {"return_dict": False, "output_hidden_states": False, "output_attentions": False}
        if "use_cache" in params:
            self.options["use_cache"] = False

    def output_names(self):
        """Names of the outputs in tuple order, read from a return_dict run on a one-token input."""
        shape = [1] * _input_rank(self.model)
        inputs = {name: paddle.ones(shape, dtype="int64") for name in self.input_names}
        with paddle.no_grad():
            record = self.model(**inputs, **dict(self.options, return_dict=True))
        return [k for k, v in vars(record).items() if k != "loss" and v is not None]

    def forward(self, input_ids, token_type_ids=None, attention_mask=None):
        outputs = self.model(input_ids, token_type_ids=token_type_ids, attention_mask=attention_mask, **self.options)
        return tuple(outputs) if isinstance(outputs, (tuple, list)) else (outputs,)


def _trace_and_save(exported: _Exported, staging: str) -> None:
    shape = [None] * _input_rank(exported.model)
    spec = [paddle.static.InputSpec(shape, "int64", name) for name in exported.input_names]
    static = paddle.jit.to_static(exported, input_spec=spec, full_graph=True)
    paddle.jit.save(static, os.path.join(staging, PREFIX))


def _program_file(directory: str) -> Optional[str]:
    """The saved program: inference.json (PIR, Paddle 3.x default), else inference.pdmodel (old IR)."""
    for ext in (".json", ".pdmodel"):
        path = os.path.join(directory, PREFIX + ext)
        if os.path.isfile(path):
            return path
    return None


def _convert_onnx(staging: str, opset: Optional[int]) -> int:
    """paddle2onnx: inference.json + .pdiparams -> model.onnx; returns the opset it used."""
    try:
        import onnx
        import paddle2onnx
    except ImportError as err:
        raise ImportError(f"format='onnx' needs paddle2onnx: pip install 'paddle_roformer[onnx]' ({err})") from err
    program = _program_file(staging)  # paddle2onnx 2.x reads both, translating .pdmodel to PIR itself
    if program is None:
        raise RuntimeError(f"format='onnx': paddle.jit.save wrote neither {PREFIX}.json nor {PREFIX}.pdmodel")
    target = os.path.join(staging, ONNX_NAME)
    try:
        paddle2onnx.export(program, os.path.join(staging, PREFIX + ".pdiparams"), target,
                           opset_version=DEFAULT_OPSET if opset is None else opset)
    except Exception as err:  # it logs the real error and then fails on an unset variable
        raise RuntimeError(f"paddle2onnx {paddle2onnx.__version__} could not convert the program "
                           f"(opset={opset}): {err}; see its log above") from err
    if not os.path.isfile(target):
        raise RuntimeError(f"paddle2onnx {paddle2onnx.__version__} wrote no {ONNX_NAME}; see its log above")
    return max(o.version for o in onnx.load(target, load_external_data=False).opset_import if o.domain in ("", "ai.onnx"))


def _export_record(model, input_names, output_names, fmt, opset, max_seq_len) -> dict:
    record = {
        "class": type(model).__name__,
        "input_names": list(input_names),
        "input_rank": _input_rank(model),
        "output_names": output_names,
        "format": fmt,
        "paddle_version": paddle.__version__,
        "dynamic_axes": "batch and sequence length" + (" and choices" if _input_rank(model) == 3 else ""),
        "precisions": PRECISION_NOTES,
    }
    if opset is not None:
        record["onnx_opset"] = opset
    if max_seq_len is not None:
        record["tested_max_seq_len"] = max_seq_len
    return record


def _check_export_args(output_dir, input_names, fmt, opset, overwrite, max_seq_len) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    names = tuple(input_names)
    if not 1 <= len(names) <= 3 or names != DEFAULT_INPUT_NAMES[: len(names)]:
        raise ValueError(f"input_names must be a prefix of {DEFAULT_INPUT_NAMES} (the forward's order), got {names!r}")
    if opset is not None and (isinstance(opset, bool) or not isinstance(opset, int) or opset < 7):
        raise ValueError(f"opset must be an integer >= 7, got {opset!r}")
    if max_seq_len is not None and (isinstance(max_seq_len, bool) or not isinstance(max_seq_len, int) or max_seq_len < 1):
        raise ValueError(f"max_seq_len must be an integer >= 1, got {max_seq_len!r}")
    if os.path.exists(output_dir):
        if not os.path.isdir(output_dir):
            raise ValueError(f"output_dir {output_dir!r} exists and is not a directory")
        if os.listdir(output_dir) and not overwrite:
            raise ValueError(f"output_dir {output_dir!r} is not empty; pass overwrite=True to replace it")


def _move_into_place(staging: str, output_dir: str, overwrite: bool) -> None:
    """Rename the finished staging dir onto output_dir; an old one (if overwrite) is moved aside first, then removed."""
    old = None
    if os.path.exists(output_dir) and not overwrite:  # made by someone else since the arguments were checked
        raise FileExistsError(f"{output_dir} was written by another export while this one ran; "
                              "this export was discarded (pass overwrite=True to replace it)")
    if os.path.exists(output_dir):
        old = tempfile.mkdtemp(prefix=f".{os.path.basename(output_dir)}.old-", dir=os.path.dirname(output_dir))
        os.rmdir(old)
        os.rename(output_dir, old)
    try:
        os.rename(staging, output_dir)
    except OSError as err:
        if not os.path.exists(output_dir):
            if old is not None:
                os.rename(old, output_dir)  # put the previous export back
            raise
        # Another export finished into output_dir meanwhile: its files stay whole, this one is dropped.
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        raise FileExistsError(
            f"{output_dir} was written by another export while this one ran; this export was discarded"
        ) from err
    fsync_directory(os.path.dirname(output_dir))
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def _eval_mode(model):
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        if was_training:
            model.train()


def export_model(model, output_dir, *, input_names: Sequence[str] = DEFAULT_INPUT_NAMES, format: str = "paddle",
                 opset: Optional[int] = None, overwrite: bool = False, max_seq_len: Optional[int] = None) -> str:
    """Trace ``model`` with dynamic batch and length and save it for :class:`Predictor`; returns the dir.

    Everything is written into a staging dir beside ``output_dir`` and renamed into place, so a
    failed export leaves nothing behind. A non-empty ``output_dir`` is refused unless
    ``overwrite=True``. ``format="onnx"`` also writes ``model.onnx`` (paddle2onnx; ``opset`` defaults
    to 11). ``max_seq_len`` is only recorded in export.json as the length tested.
    """
    output_dir = os.path.abspath(os.fspath(output_dir))
    _check_export_args(output_dir, input_names, format, opset, overwrite, max_seq_len)
    parent = os.path.dirname(output_dir)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(output_dir)}.export-", dir=parent)
    try:
        with _eval_mode(model):
            exported = _Exported(model, input_names)
            exported.eval()
            output_names = exported.output_names()
            _trace_and_save(exported, staging)
        used_opset = _convert_onnx(staging, opset) if format == "onnx" else None
        model.config.save_pretrained(staging)
        record = _export_record(model, input_names, output_names, format, used_opset, max_seq_len)
        atomic_write_text(os.path.join(staging, EXPORT_NAME), json.dumps(record, indent=2) + "\n")
        _move_into_place(staging, output_dir, overwrite)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return output_dir


# ---------------------------------------------------------------------------- Predictor


def cpu_supports_bf16() -> bool:
    """Paddle's own check (its oneDNN needs AVX512-BF16 or AMX); /proc/cpuinfo where Paddle has none."""
    from paddle.base import core

    check = getattr(core, "supports_bfloat16", None)
    if check is not None:
        return bool(check())
    return bool(cpu_vendor_and_flags("/proc/cpuinfo")[1] & {"avx512_bf16", "amx_bf16"})


def _gpu_available() -> bool:
    return paddle.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0


def _read_export(model_dir: str) -> dict:
    path = os.path.join(model_dir, EXPORT_NAME)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"model_dir {model_dir!r} has no {EXPORT_NAME}; make it with export_model")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _check_precision(precision: str, backend: str, use_gpu: bool) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "fp16" and not use_gpu:
        raise ValueError("precision='fp16' needs a GPU (Paddle compiled with CUDA and a visible device); "
                         "on CPU use 'fp32', 'bf16' or 'int8'")
    if backend == "onnxruntime" and precision not in ("fp32", "int8"):
        raise ValueError(f"backend='onnxruntime' supports precision 'fp32' or 'int8', got {precision!r}")
    if backend == "paddle" and precision == "int8":
        raise ValueError(
            "precision='int8' with backend='paddle': Paddle Inference's oneDNN int8 runs int8 kernels only "
            "for a model quantized with calibration (PTQ/QAT); on this fp32 export it computes in fp32. "
            "Use backend='onnxruntime' (dynamic int8 quantization of an export made with format='onnx')"
        )
    if precision == "bf16" and not use_gpu and not cpu_supports_bf16():
        raise ValueError("precision='bf16': this CPU lacks bfloat16 support (oneDNN needs AVX512-BF16 or AMX; "
                         "/proc/cpuinfo lists neither avx512_bf16 nor amx_bf16); use 'fp32' or 'int8'")


class Predictor:
    """Run an exported model: ``Predictor(dir).predict(input_ids, ...)`` -> tuple of numpy arrays.

    ``threads``: CPU threads (default: ``OMP_NUM_THREADS``, else every core). ``device``: "cpu" or
    "gpu" (default: the GPU where Paddle has CUDA and one is visible). Outputs come in the eager
    model's tuple order (see export.json's ``output_names``).
    """

    def __init__(self, model_dir, precision: str = "fp32", threads: Optional[int] = None,
                 backend: str = "paddle", device: Optional[str] = None):
        self.model_dir = os.path.abspath(os.fspath(model_dir))
        self.export = _read_export(self.model_dir)
        if device not in (None, "cpu", "gpu"):
            raise ValueError(f"device must be None, 'cpu' or 'gpu', got {device!r}")
        self.device = device or ("gpu" if backend == "paddle" and _gpu_available() else "cpu")
        _check_precision(precision, backend, self.device == "gpu")
        if threads is None:
            threads = default_num_threads()
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be an integer >= 1, got {threads!r}")
        self.precision, self.threads, self.backend = precision, threads, backend
        from .config import RoFormerConfig

        self.config = RoFormerConfig.from_pretrained(self.model_dir)
        self.input_names = list(self.export["input_names"])
        self.output_names = list(self.export["output_names"])
        self._run = self._paddle_runner() if backend == "paddle" else self._onnx_runner()

    def __repr__(self) -> str:
        return (f"Predictor(model_dir={self.model_dir!r}, precision={self.precision!r}, threads={self.threads}, "
                f"backend={self.backend!r}, device={self.device!r})")

    # -------------------------------------------------------------- backends

    def _paddle_runner(self):
        import paddle.inference as pi

        program = _program_file(self.model_dir)
        if program is None:
            raise FileNotFoundError(f"model_dir {self.model_dir!r} has no {PREFIX}.json or {PREFIX}.pdmodel "
                                    "(the exported program)")
        config = pi.Config(program, os.path.join(self.model_dir, PREFIX + ".pdiparams"))
        if self.device == "gpu":
            config.enable_use_gpu(256, 0, pi.PrecisionType.Half if self.precision == "fp16" else pi.PrecisionType.Float32)
        else:
            config.disable_gpu()
            config.enable_mkldnn()
            config.set_cpu_math_library_num_threads(self.threads)
            if self.precision == "bf16":
                config.enable_mkldnn_bfloat16()
        config.disable_glog_info()
        predictor = pi.create_predictor(config)
        fetch = predictor.get_output_names()

        def run(feeds):
            for name, array in feeds.items():
                predictor.get_input_handle(name).copy_from_cpu(array)
            predictor.run()
            return tuple(predictor.get_output_handle(name).copy_to_cpu() for name in fetch)

        return run

    def _onnx_model_bytes(self) -> bytes:
        path = os.path.join(self.model_dir, ONNX_NAME)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"backend='onnxruntime': model_dir {self.model_dir!r} has no {ONNX_NAME}; "
                                    "export with format='onnx'")
        if self.precision != "int8":
            with open(path, "rb") as f:
                return f.read()
        from onnxruntime.quantization import QuantType, quantize_dynamic

        with tempfile.TemporaryDirectory() as tmp:
            target = os.path.join(tmp, "model.int8.onnx")
            quantize_dynamic(path, target, weight_type=QuantType.QInt8, per_channel=True)
            with open(target, "rb") as f:
                return f.read()

    def _onnx_runner(self):
        try:
            import onnxruntime as ort
        except ImportError as err:
            raise ImportError("backend='onnxruntime' needs onnxruntime: pip install 'paddle_roformer[onnx]'") from err
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(self._onnx_model_bytes(), options, providers=["CPUExecutionProvider"])
        accepted = {i.name for i in session.get_inputs()}

        def run(feeds):
            return tuple(session.run(None, {k: v for k, v in feeds.items() if k in accepted}))

        return run

    # -------------------------------------------------------------- inputs

    def _as_ids(self, name: str, value) -> np.ndarray:
        array = np.asarray(value)
        if array.dtype == object or not (np.issubdtype(array.dtype, np.integer) or array.dtype == np.bool_):
            raise TypeError(f"{name} must hold integers, got dtype {array.dtype}")
        rank = self.export["input_rank"]
        if array.ndim != rank:
            layout = "[batch, choices, seq_len]" if rank == 3 else "[batch, seq_len]"
            raise ValueError(f"{name} must have rank {rank} {layout}, got shape {list(array.shape)}")
        return array.astype("int64")

    def _check_range(self, name: str, array: np.ndarray, bound: int) -> None:
        if array.size and (array.min() < 0 or array.max() >= bound):
            raise ValueError(f"{name} must lie in [0, {bound}), got values from {array.min()} to {array.max()}")

    def _feeds(self, input_ids, token_type_ids, attention_mask) -> dict:
        ids = self._as_ids("input_ids", input_ids)
        if 0 in ids.shape:
            raise ValueError(f"input_ids must hold at least one token per row, got shape {list(ids.shape)}")
        self._check_range("input_ids", ids, self.config.vocab_size)
        types = np.zeros_like(ids) if token_type_ids is None else self._as_ids("token_type_ids", token_type_ids)
        self._check_range("token_type_ids", types, self.config.type_vocab_size)
        # The eager model's default: mask exactly the positions holding pad_token_id.
        mask = (ids != self.config.pad_token_id).astype("int64") if attention_mask is None \
            else self._as_ids("attention_mask", attention_mask)
        for name, array in (("token_type_ids", types), ("attention_mask", mask)):
            if array.shape != ids.shape:
                raise ValueError(f"{name} must have the shape of input_ids {list(ids.shape)}, got {list(array.shape)}")
        given = {"input_ids": ids, "token_type_ids": types, "attention_mask": mask}
        return {name: given[name] for name in self.input_names}

    def predict(self, input_ids, token_type_ids=None, attention_mask=None) -> Tuple[np.ndarray, ...]:
        """Outputs (numpy) in the eager model's tuple order; missing inputs default as in the eager model."""
        return self._run(self._feeds(input_ids, token_type_ids, attention_mask))


class CompiledModel:
    """An eval-only stand-in for a model: the same call and outputs, run by a :class:`Predictor`
    over the traced program (Paddle Inference with oneDNN on CPU), which runs faster than Paddle's
    eager kernels. Made by :func:`compile`.

    ``compiled(input_ids, token_type_ids=None, attention_mask=None)`` takes paddle Tensors (or
    numpy arrays / lists) and returns what the eager model returns with ``return_dict=False``:
    paddle Tensors, a single one unwrapped. Integer masks only (1 = attend). No gradients flow
    through it, and the weights are those of the moment it was made: call :func:`compile` again
    after changing them.
    """

    def __init__(self, model, precision: str = "fp32", threads: Optional[int] = None, backend: str = "paddle",
                 device: Optional[str] = None):
        self._workdir = tempfile.mkdtemp(prefix="paddle_roformer_compiled_")
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._workdir, True)
        try:
            model_dir = export_model(model, os.path.join(self._workdir, "model"),
                                     format="onnx" if backend == "onnxruntime" else "paddle")
            self.predictor = Predictor(model_dir, precision=precision, threads=threads, backend=backend,
                                       device=device)
        except BaseException:
            self._cleanup()
            raise
        self.model_class = type(model).__name__

    def __repr__(self) -> str:
        p = self.predictor
        return (f"CompiledModel({self.model_class}, precision={p.precision!r}, threads={p.threads}, "
                f"backend={p.backend!r}, device={p.device!r})")

    @staticmethod
    def _host(value):
        return value.numpy() if isinstance(value, paddle.Tensor) else value

    def __call__(self, input_ids, token_type_ids=None, attention_mask=None):
        outputs = self.predictor.predict(self._host(input_ids), self._host(token_type_ids),
                                         self._host(attention_mask))
        tensors = tuple(paddle.to_tensor(array) for array in outputs)
        return tensors[0] if len(tensors) == 1 else tensors

    def close(self) -> None:
        """Remove the traced program's files now (they are also removed when the object goes away)."""
        self._cleanup()


def compile(model, precision: str = "fp32", threads: Optional[int] = None, backend: str = "paddle",
            device: Optional[str] = None) -> CompiledModel:
    """Trace ``model`` and run it through Paddle Inference behind the model's own call signature.

    For evaluation and serving in Python: same inputs, same outputs (within 1e-4 in fp32), faster
    than eager on CPU. ``precision``, ``threads``, ``backend`` and ``device`` are those of
    :class:`Predictor`. The model itself is left as it was (its train / eval mode included).
    """
    return CompiledModel(model, precision=precision, threads=threads, backend=backend, device=device)


# ---------------------------------------------------------------------------- CLI: `export`


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="a registered name or a from_pretrained directory")
    parser.add_argument("output", help="the directory to write (must be new or empty unless --overwrite)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--task", help="export the head of this fine-tuning task (see paddle_roformer.tasks)")
    which.add_argument("--class", dest="class_name", help="a class of paddle_roformer.heads.MODEL_CLASSES "
                       "(default: the one config.json names, else RoFormerModel)")
    parser.add_argument("--format", choices=FORMATS, default="paddle", help="'onnx' also writes model.onnx")
    parser.add_argument("--opset", type=int, help=f"ONNX opset (default {DEFAULT_OPSET})")
    parser.add_argument("--max-seq-len", type=int, help="recorded in export.json as the length tested; "
                        "shapes stay dynamic")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty output directory")


def _model_class(args: argparse.Namespace):
    from .heads import MODEL_CLASSES, get_model_class

    if args.class_name:
        return get_model_class(args.class_name)
    if args.task:
        from .tasks import get_task

        return MODEL_CLASSES[get_task(args.task).head]
    from .config import RoFormerConfig

    named = (RoFormerConfig.from_pretrained(args.model).architectures or ["RoFormerModel"])[0]
    return get_model_class(named)


def run(args: argparse.Namespace) -> int:
    try:
        model = _model_class(args).from_pretrained(args.model)
        out = export_model(model, args.output, format=args.format, opset=args.opset, overwrite=args.overwrite,
                           max_seq_len=args.max_seq_len)
    except (ValueError, TypeError, FileNotFoundError, ImportError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(out)
    return 0
