"""Model speed: paddle_roformer against PaddleNLP 2.8.1 and Hugging Face transformers (torch), on CPU.

    python benchmarks/model_speed.py [--threads 2] [--config roformer-chinese-base]
        [--sizes 1x32,8x128,2x512,1x2048] [--train-sizes 8x128] [--long-size 1x4096]
        [--repeat 5] [--warmup 1] [--rows ours-eager,paddlenlp-eager] [--no-isolate] [--json PATH]
    python benchmarks/model_speed.py --quick      # tiny config, every row kind, well under a minute

Every row computes the same function: one set of random weights (our RoFormerModel, whose
parameter names are PaddleNLP's) is loaded into PaddleNLP's RoFormerModel as is and into
transformers' RoFormerModel through the converter's name map; outputs on a check batch are compared
against ours before anything is timed. All rows get the same inputs (random ids, token types 0,
attention mask 1) and the same thread count. Each figure is the median of --repeat runs after
--warmup runs. With --isolate (the default outside --quick) every row and size runs in its own
process, so its peak memory is its own: "peak MB" is the process's peak resident memory over its
baseline after imports (weights included), "run MB" the peak while timing over the memory held
just before it (activations and workspaces).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from typing import Callable, Dict, List, Optional

import numpy as np

CHECK_TOLERANCE = 1e-3  # fp32 rows against ours eager
CHECK_SHAPE = (2, 32)  # the check batch; its second row ends in padding
QUICK_CONFIG = dict(vocab_size=1000, embedding_size=64, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                    intermediate_size=128, max_position_embeddings=64)
INPUT_NAMES = ("input_ids", "token_type_ids", "attention_mask")


# ---------------------------------------------------------------------------- rows


@dataclass(frozen=True)
class Row:
    name: str
    kind: str  # "forward" | "train" | "long"
    label: str
    build: str  # name of the builder function below
    options: tuple = ()
    peer: Optional[str] = None  # the row this one is compared with (speed-up = peer time / this time)
    target: Optional[float] = None  # the speed-up issue 10 asks for
    checked: bool = True  # fp32 rows must agree with ours eager within CHECK_TOLERANCE
    # Extra environment of the row's process. MKL_DEBUG_CPU_TYPE="" keeps MKL's own kernel choice:
    # a peer as it runs without paddle_roformer, which sets the variable on AMD CPUs.
    env: tuple = ()


ROWS = [
    Row("ours-eager", "forward", "paddle_roformer eager", "ours_eager", peer="paddlenlp-eager", target=2.0),
    Row("ours-predictor-fp32", "forward", "paddle_roformer Predictor fp32", "ours_predictor",
        (("precision", "fp32"), ("backend", "paddle")), peer="torch-fp32", target=1.0),
    Row("ours-predictor-bf16", "forward", "paddle_roformer Predictor bf16", "ours_predictor",
        (("precision", "bf16"), ("backend", "paddle")), peer="torch-bf16", target=1.0, checked=False),
    Row("ours-predictor-int8", "forward", "paddle_roformer Predictor int8", "ours_predictor",
        (("precision", "int8"), ("backend", "paddle")), peer="ours-predictor-fp32", checked=False),
    Row("ours-onnxruntime", "forward", "paddle_roformer Predictor ONNX Runtime fp32", "ours_predictor",
        (("precision", "fp32"), ("backend", "onnxruntime")), peer="torch-fp32"),
    Row("ours-onnxruntime-int8", "forward", "paddle_roformer Predictor ONNX Runtime int8", "ours_predictor",
        (("precision", "int8"), ("backend", "onnxruntime")), peer="ours-onnxruntime", checked=False),
    Row("paddlenlp-eager", "forward", "PaddleNLP eager", "paddlenlp_eager"),
    Row("paddlenlp-eager-stock", "forward", "PaddleNLP eager, MKL's own kernel choice", "paddlenlp_eager",
        env=(("MKL_DEBUG_CPU_TYPE", ""),)),
    Row("paddlenlp-exported", "forward", "PaddleNLP to_static + Paddle Inference (oneDNN)", "paddlenlp_exported"),
    Row("torch-fp32", "forward", "transformers torch fp32", "torch_forward", (("bf16", False),)),
    Row("torch-bf16", "forward", "transformers torch bf16 autocast", "torch_forward", (("bf16", True),),
        checked=False),
    Row("ours-train", "train", "paddle_roformer train step", "ours_train", peer="paddlenlp-train", target=1.5),
    Row("paddlenlp-train", "train", "PaddleNLP train step", "paddlenlp_train"),
    Row("paddlenlp-train-stock", "train", "PaddleNLP train step, MKL's own kernel choice", "paddlenlp_train",
        env=(("MKL_DEBUG_CPU_TYPE", ""),)),
    Row("torch-train", "train", "transformers torch train step", "torch_train"),
    Row("ours-eager-long", "long", "paddle_roformer eager, long input", "ours_eager"),
]
ROWS_BY_NAME = {row.name: row for row in ROWS}


class NotAvailable(Exception):
    """A row that cannot run here (a package or precision missing); the message says why."""


# ---------------------------------------------------------------------------- inputs and weights


def parse_size(text: str):
    try:
        batch, seq = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a size is BATCHxSEQ, like 8x128; got {text!r}") from None
    if batch < 1 or seq < 1:
        raise argparse.ArgumentTypeError(f"batch and sequence length must be >= 1, got {text!r}")
    return batch, seq


def parse_sizes(text: str):
    return [parse_size(part) for part in text.split(",") if part.strip()]


def make_inputs(config_values: Dict, batch: int, seq: int, seed: int = 0) -> Dict[str, np.ndarray]:
    rng = np.random.default_rng(seed + 1000 * batch + seq)
    ids = rng.integers(1, config_values["vocab_size"], size=(batch, seq), dtype="int64")
    return dict(input_ids=ids, token_type_ids=np.zeros_like(ids), attention_mask=np.ones_like(ids))


def check_inputs(config_values: Dict) -> Dict[str, np.ndarray]:
    inputs = make_inputs(config_values, *CHECK_SHAPE, seed=7)
    inputs["attention_mask"][1, -8:] = 0  # padding must be masked the same way everywhere
    inputs["input_ids"][1, -8:] = config_values["pad_token_id"]
    return inputs


def hf_state_from_ours(state: Dict[str, np.ndarray], config) -> Dict[str, np.ndarray]:
    """Our (PaddleNLP-named) bare-model weights under transformers' names, Linear weights transposed."""
    from paddle_roformer.convert import mapping_rules

    rules, _ = mapping_rules(config, "RoFormerModel")
    return {r.source: np.ascontiguousarray(state[r.target].T if r.transpose else state[r.target]) for r in rules}


# ---------------------------------------------------------------------------- builders
#
# A builder takes the context and the row's options and returns make(inputs) -> step, where step()
# runs once and returns the sequence output as numpy (forward) or the loss (train).


class Context:
    """What every row shares: the config, the thread count, the prepared files."""

    def __init__(self, workdir: str, settings: Dict):
        self.workdir = workdir
        self.settings = settings
        self.threads = settings["threads"]
        self.config_values = settings["config"]
        self._cache = {}

    def path(self, *parts) -> str:
        return os.path.join(self.workdir, *parts)

    def our_config(self):
        import paddle_roformer as pr

        return pr.RoFormerConfig.from_dict(self.config_values)

    def our_model(self):
        import paddle_roformer as pr

        return pr.RoFormerModel.from_pretrained(self.path("weights"))

    def prepared(self, key: str) -> str:
        """A path prepared by the parent, or NotAvailable with the reason it could not be made."""
        status = self.settings["prepared"].get(key, "not prepared")
        if status != "ok":
            raise NotAvailable(status)
        return self.path(key)


def _paddle_tensors(inputs):
    import paddle

    return [paddle.to_tensor(inputs[name]) for name in INPUT_NAMES]


def _paddle_forward(model):
    import paddle

    model.eval()

    def make(inputs):
        tensors = _paddle_tensors(inputs)

        def step():
            with paddle.no_grad():
                return model(*tensors)[0].numpy()

        return step

    return make


def _paddle_train(model):
    import paddle

    model.train()
    optimizer = paddle.optimizer.AdamW(learning_rate=1e-5, parameters=model.parameters())

    def make(inputs):
        tensors = _paddle_tensors(inputs)

        def step():
            sequence, pooled = model(*tensors)[:2]
            loss = sequence.mean() + pooled.mean()
            loss.backward()
            optimizer.step()
            optimizer.clear_grad()
            return float(loss)

        return step

    return make


def build_ours_eager(ctx: Context, options):
    return _paddle_forward(ctx.our_model())


def build_ours_train(ctx: Context, options):
    return _paddle_train(ctx.our_model())


def build_ours_predictor(ctx: Context, options):
    try:
        from paddle_roformer import inference
    except ImportError as err:
        raise NotAvailable(f"paddle_roformer.inference is not available ({err})") from None
    model_dir = ctx.prepared("ours-" + options["backend"])
    try:
        predictor = inference.Predictor(model_dir, precision=options["precision"], threads=ctx.threads,
                                        backend=options["backend"])
    except Exception as err:  # an unsupported precision or backend on this machine is a result, not a crash
        raise NotAvailable(_reason(err)) from None

    def make(inputs):
        arrays = [inputs[name] for name in INPUT_NAMES]

        def step():
            return np.asarray(predictor.predict(*arrays)[0], dtype="float32")

        return step

    return make


def _paddlenlp_model(ctx: Context):
    import paddle

    try:
        from paddlenlp.transformers import RoFormerConfig, RoFormerModel
    except ImportError as err:
        raise NotAvailable(f"PaddleNLP: {err}") from None
    model = RoFormerModel(RoFormerConfig(**paddlenlp_config_values(ctx.config_values, ctx.settings["max_len"])))
    model.set_state_dict(paddle.load(ctx.path("weights", "model_state.pdparams")))
    return model


def paddlenlp_config_values(values: Dict, max_len: int) -> Dict:
    """PaddleNLP's config from ours; its rotary table is precomputed, so it must cover the longest input."""
    out = {k: v for k, v in values.items() if k not in ("architectures", "model_type", "is_decoder", "return_dict",
                                                         "output_hidden_states", "output_attentions")}
    out["max_position_embeddings"] = max(values["max_position_embeddings"], max_len)
    return out


def build_paddlenlp_eager(ctx: Context, options):
    return _paddle_forward(_paddlenlp_model(ctx))


def build_paddlenlp_train(ctx: Context, options):
    return _paddle_train(_paddlenlp_model(ctx))


def build_paddlenlp_exported(ctx: Context, options):
    import paddle.inference as paddle_infer

    prefix = os.path.join(ctx.prepared("paddlenlp-static"), "inference")
    model_file = prefix + (".json" if os.path.exists(prefix + ".json") else ".pdmodel")
    config = paddle_infer.Config(model_file, prefix + ".pdiparams")
    config.disable_gpu()
    config.disable_glog_info()
    if hasattr(config, "enable_onednn"):  # the newer name of enable_mkldnn
        config.enable_onednn()
    else:
        config.enable_mkldnn()
    config.set_cpu_math_library_num_threads(ctx.threads)
    config.switch_ir_optim(True)
    predictor = paddle_infer.create_predictor(config)
    handles = [predictor.get_input_handle(name) for name in predictor.get_input_names()]
    output = predictor.get_output_handle(predictor.get_output_names()[0])

    def make(inputs):
        arrays = [inputs[name] for name in predictor.get_input_names()]

        def step():
            for handle, array in zip(handles, arrays):
                handle.reshape(array.shape)
                handle.copy_from_cpu(array)
            predictor.run()
            return output.copy_to_cpu()

        return step

    return make


def _torch_model(ctx: Context):
    try:
        import torch
        import transformers
    except ImportError as err:
        raise NotAvailable(f"torch / transformers: {err}") from None
    torch.set_num_threads(ctx.threads)
    v = ctx.config_values
    hf_config = transformers.RoFormerConfig(
        vocab_size=v["vocab_size"], embedding_size=v["embedding_size"] or v["hidden_size"],
        hidden_size=v["hidden_size"], num_hidden_layers=v["num_hidden_layers"],
        num_attention_heads=v["num_attention_heads"], intermediate_size=v["intermediate_size"],
        hidden_act=v["hidden_act"], hidden_dropout_prob=v["hidden_dropout_prob"],
        attention_probs_dropout_prob=v["attention_probs_dropout_prob"],
        # transformers keeps a sinusoid table of this many rows: it must cover the longest input
        max_position_embeddings=max(v["max_position_embeddings"], ctx.settings["max_len"]),
        type_vocab_size=v["type_vocab_size"], layer_norm_eps=v["layer_norm_eps"], pad_token_id=v["pad_token_id"],
        rotary_value=v["rotary_value"],
    )
    model = transformers.RoFormerModel(hf_config, add_pooling_layer=False) if _takes_pooling_flag(transformers) \
        else transformers.RoFormerModel(hf_config)
    state = {k: torch.from_numpy(a) for k, a in np.load(ctx.path("hf_weights.npz")).items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    left = [k for k in missing if "embed_positions" not in k]  # the sinusoid table is computed, not loaded
    if left or unexpected:
        raise RuntimeError(f"transformers RoFormerModel: missing {left}, unexpected {unexpected}")
    return torch, model


def _takes_pooling_flag(transformers) -> bool:
    import inspect

    return "add_pooling_layer" in inspect.signature(transformers.RoFormerModel.__init__).parameters


def build_torch_forward(ctx: Context, options):
    torch, model = _torch_model(ctx)
    model.eval()

    def make(inputs):
        tensors = {name: torch.from_numpy(inputs[name]) for name in INPUT_NAMES}

        def step():
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=options["bf16"]):
                return model(**tensors).last_hidden_state.float().numpy()

        return step

    return make


def build_torch_train(ctx: Context, options):
    torch, model = _torch_model(ctx)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)

    def make(inputs):
        tensors = {name: torch.from_numpy(inputs[name]) for name in INPUT_NAMES}

        def step():
            loss = model(**tensors).last_hidden_state.mean()  # transformers' RoFormerModel has no pooler
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            return loss.detach().item()

        return step

    return make


BUILDERS: Dict[str, Callable] = {name[len("build_"):]: fn for name, fn in globals().items() if name.startswith("build_")}


def _reason(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"[:200]


# ---------------------------------------------------------------------------- memory


def _status_mb(field: str) -> Optional[float]:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Linux (>= 4.0) resets the peak RSS to the current RSS on writing 5 to clear_refs."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _maxrss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class MemoryProbe:
    """Peak resident memory of this process since construction, and while timing."""

    def __init__(self):
        self.base = _status_mb("VmRSS") or _maxrss_mb()

    def before_timing(self):
        self.setup_peak = _status_mb("VmHWM") or _maxrss_mb()
        self.held = _status_mb("VmRSS") or self.setup_peak
        self.resettable = _reset_peak()

    def after_timing(self) -> Dict:
        peak = _status_mb("VmHWM") or _maxrss_mb()
        run_mb = peak - self.held if self.resettable else None
        return dict(peak_mb=round(max(peak, self.setup_peak) - self.base, 1),
                    run_mb=None if run_mb is None else round(max(run_mb, 0.0), 1))


# ---------------------------------------------------------------------------- measuring


def time_step(step: Callable, warmup: int, repeat: int) -> List[float]:
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1000)
    return times


def measure(ctx: Context, row: Row, sizes, warmup: int, repeat: int, check: bool, cache=None) -> List[Dict]:
    """Results of one row at each size; a row that cannot run gives one "n/a" result per size."""
    probe = MemoryProbe()
    cache = {} if cache is None else cache
    try:
        key = row.build + repr(row.options)
        if key not in cache:
            cache[key] = BUILDERS[row.build](ctx, dict(row.options))
        make = cache[key]
        max_diff = None
        if check and row.kind == "forward":
            output = make(check_inputs(ctx.config_values))()
            max_diff = float(np.abs(output - np.load(ctx.path("reference.npy"))).max())
    except NotAvailable as err:
        return [_result(row, size, status="n/a", reason=str(err)) for size in sizes]
    except Exception as err:
        return [_result(row, size, status="n/a", reason=_reason(err)) for size in sizes]
    results = []
    for batch, seq in sizes:
        inputs = make_inputs(ctx.config_values, batch, seq)
        try:
            step = make(inputs)
            probe.before_timing()
            times = time_step(step, warmup, repeat)
            memory = probe.after_timing()
        except Exception as err:  # e.g. out of memory at the longest size
            results.append(_result(row, (batch, seq), status="n/a", reason=_reason(err)))
            continue
        median = statistics.median(times)
        results.append(_result(row, (batch, seq), status="ok", median_ms=round(median, 3),
                               times_ms=[round(t, 3) for t in times],
                               tokens_per_s=round(batch * seq / (median / 1000), 1), max_diff=max_diff, **memory))
    return results


def _result(row: Row, size, **fields) -> Dict:
    return dict(row=row.name, kind=row.kind, label=row.label, batch=size[0], seq=size[1], **fields)


def run_isolated(row: Row, size, args, workdir: str, check: bool) -> Dict:
    out = os.path.join(workdir, f"result-{row.name}-{size[0]}x{size[1]}.json")
    command = [sys.executable, os.path.abspath(__file__), "--child", row.name, "--child-size", f"{size[0]}x{size[1]}",
               "--workdir", workdir, "--child-out", out, "--warmup", str(args.warmup), "--repeat", str(args.repeat)]
    if check:
        command.append("--child-check")
    proc = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ, **dict(row.env)))
    if proc.returncode != 0 or not os.path.exists(out):
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return _result(row, size, status="n/a", reason=f"subprocess exited {proc.returncode}: {tail[0][:200]}")
    with open(out) as f:
        return json.load(f)


def import_row_packages(row: Row, threads: int) -> None:
    """Import what the row uses before its memory baseline, so imports are not counted as its memory."""
    import importlib

    import paddle  # noqa: F401
    import paddle_roformer.modeling  # noqa: F401

    modules = {"ours-predictor": ["paddle_roformer.inference"], "ours-onnxruntime": ["paddle_roformer.inference",
               "onnxruntime"], "paddlenlp": ["paddlenlp.transformers"], "torch": ["torch", "transformers"]}
    for prefix, names in modules.items():
        if row.name.startswith(prefix):
            for name in names:
                try:
                    importlib.import_module(name)
                except ImportError:
                    pass  # the row reports it as n/a
    if row.name.startswith("torch"):
        import torch

        torch.set_num_threads(threads)


def child_main(args) -> int:
    with open(os.path.join(args.workdir, "settings.json")) as f:
        settings = json.load(f)
    import paddle_roformer

    paddle_roformer.set_num_threads(settings["threads"])
    row = ROWS_BY_NAME[args.child]
    import_row_packages(row, settings["threads"])
    ctx = Context(args.workdir, settings)
    result = measure(ctx, row, [parse_size(args.child_size)], args.warmup, args.repeat, args.child_check)[0]
    result["isolated"] = True
    with open(args.child_out, "w") as f:
        json.dump(result, f)
    return 0


# ---------------------------------------------------------------------------- preparing


def prepare(args, workdir: str, config, rows: List[Row]) -> Dict:
    """Write the weights, the check reference and the exported models the rows need; return settings."""
    import paddle

    import paddle_roformer as pr

    paddle.seed(0)
    model = pr.RoFormerModel(config)
    model.eval()
    model.save_pretrained(os.path.join(workdir, "weights"))
    state = {k: v.numpy() for k, v in model.state_dict().items()}
    np.savez(os.path.join(workdir, "hf_weights.npz"), **hf_state_from_ours(state, config))
    values = config.to_dict()
    inputs = check_inputs(values)
    with paddle.no_grad():
        reference = model(*[paddle.to_tensor(inputs[name]) for name in INPUT_NAMES])[0].numpy()
    np.save(os.path.join(workdir, "reference.npy"), reference)
    max_len = max(seq for _, seq in args.sizes + args.train_sizes + [args.long_size])
    needs = {opt for row in rows if row.build == "ours_predictor" for key, opt in row.options if key == "backend"}
    prepared = {}
    for backend in sorted(needs):
        fmt = "onnx" if backend == "onnxruntime" else "paddle"
        prepared["ours-" + backend] = _try(lambda: _export_ours(model, os.path.join(workdir, "ours-" + backend), fmt))
    if any(row.build == "paddlenlp_exported" for row in rows):
        settings = dict(threads=args.threads, config=values, max_len=max_len, prepared={})
        prepared["paddlenlp-static"] = _try(lambda: _export_paddlenlp(Context(workdir, settings)))
    settings = dict(threads=args.threads, config=values, max_len=max_len, prepared=prepared)
    with open(os.path.join(workdir, "settings.json"), "w") as f:
        json.dump(settings, f)
    return settings


def _try(action: Callable) -> str:
    try:
        action()
        return "ok"
    except NotAvailable as err:
        return str(err)
    except Exception as err:
        return _reason(err)


def _export_ours(model, output_dir: str, fmt: str) -> None:
    try:
        from paddle_roformer import inference
    except ImportError as err:
        raise NotAvailable(f"paddle_roformer.inference is not available ({err})") from None
    produced = inference.export_model(model, output_dir, format=fmt)
    if produced and os.path.abspath(produced) != os.path.abspath(output_dir):
        # the rows find the model by its directory
        if os.path.isdir(produced):
            shutil.rmtree(output_dir, ignore_errors=True)
            shutil.copytree(produced, output_dir)


def _export_paddlenlp(ctx: Context) -> None:
    import paddle

    model = _paddlenlp_model(ctx)
    model.eval()
    spec = [paddle.static.InputSpec([None, None], "int64", name) for name in INPUT_NAMES]
    static = paddle.jit.to_static(model, input_spec=spec, full_graph=True)
    paddle.jit.save(static, os.path.join(ctx.path("paddlenlp-static"), "inference"))


# ---------------------------------------------------------------------------- reporting




def versions() -> Dict[str, str]:
    out = {"python": platform.python_version()}
    for package in ("paddlepaddle", "paddlenlp", "torch", "transformers", "onnxruntime"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "not installed"
    return out


def add_comparisons(results: List[Dict]) -> None:
    by_key = {(r["row"], r["batch"], r["seq"]): r for r in results}
    for result in results:
        row = ROWS_BY_NAME[result["row"]]
        peer = by_key.get((row.peer, result["batch"], result["seq"])) if row.peer else None
        result["peer"], result["target"] = row.peer, row.target
        ok = result["status"] == "ok" and peer is not None and peer["status"] == "ok"
        result["speedup"] = round(peer["median_ms"] / result["median_ms"], 3) if ok else None
        result["target_met"] = (result["speedup"] >= row.target) if ok and row.target else None


def check_summary(results: List[Dict]) -> Dict:
    diffs = {}
    for result in results:
        if result.get("max_diff") is not None and result["row"] not in diffs:
            diffs[result["row"]] = result["max_diff"]
    failed = [name for name, diff in diffs.items() if ROWS_BY_NAME[name].checked and diff > CHECK_TOLERANCE]
    return dict(shape=list(CHECK_SHAPE), tolerance=CHECK_TOLERANCE, max_diff=diffs, failed=failed)


def _fmt(value, spec: str, none: str = "") -> str:
    return none if value is None else format(value, spec)


def table(results: List[Dict]) -> List[str]:
    lines = ["| kind | row | batch x seq | median ms | tokens/s | speed-up vs peer | target | peak MB | run MB |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        size = f"{r['batch']}x{r['seq']}"
        if r["status"] != "ok":
            lines.append(f"| {r['kind']} | {r['row']} | {size} | n/a: {r['reason']} | | | | | |")
            continue
        versus = f"{r['speedup']:.2f}x {r['peer']}" if r.get("speedup") is not None else ""
        target = ""
        if r.get("target"):
            met = {True: "met", False: "missed", None: "no peer"}[r["target_met"]]
            target = f">= {r['target']:.1f}x: {met}"
        lines.append(f"| {r['kind']} | {r['row']} | {size} | {r['median_ms']:.1f} | {r['tokens_per_s']:,.0f} | "
                     f"{versus} | {target} | {_fmt(r.get('peak_mb'), '.0f')} | {_fmt(r.get('run_mb'), '.0f')} |")
    return lines


def check_line(check: Dict) -> str:
    parts = [f"{name} {diff:.1e}" for name, diff in check["max_diff"].items() if name != "ours-eager"]
    verdict = "all fp32 rows agree" if not check["failed"] else f"DISAGREE: {', '.join(check['failed'])}"
    return (f"Outputs on a {check['shape'][0]}x{check['shape'][1]} check batch (one padded row), max |diff| "
            f"against ours eager: {', '.join(parts) or 'none'}; {verdict} within {check['tolerance']:g} "
            "(bf16 and int8 rows are shown, not checked).")


# ---------------------------------------------------------------------------- main


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--config", default="roformer-chinese-base", help="a registered pretrained name")
    parser.add_argument("--sizes", type=parse_sizes, default=parse_sizes("1x32,8x128,2x512,1x2048"))
    parser.add_argument("--train-sizes", type=parse_sizes, default=parse_sizes("8x128"))
    parser.add_argument("--long-size", type=parse_size, default=parse_size("1x4096"))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--long-repeat", type=int, default=3)
    parser.add_argument("--rows", default=",".join(ROWS_BY_NAME), help="comma-separated row names")
    parser.add_argument("--isolate", action=argparse.BooleanOptionalAction, default=None,
                        help="one process per row and size (default: on, off with --quick)")
    parser.add_argument("--json", help="write every number to this file")
    parser.add_argument("--quick", action="store_true",
                        help="tiny config (hidden 64, 2 layers), sizes 1x16,2x32, one run each, no isolation")
    for hidden in ("--child", "--child-size", "--workdir", "--child-out"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    parser.add_argument("--child-check", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.train_sizes, args.long_size = parse_sizes("1x16,2x32"), parse_sizes("2x16"), (1, 64)
        args.repeat, args.warmup, args.long_repeat = 1, 0, 1
        args.isolate = False if args.isolate is None else args.isolate
    args.isolate = True if args.isolate is None else args.isolate
    unknown = [name for name in args.rows.split(",") if name not in ROWS_BY_NAME]
    if unknown:
        parser.error(f"unknown rows {unknown}; known: {', '.join(ROWS_BY_NAME)}")
    if args.threads < 1 or args.repeat < 1 or args.warmup < 0:
        parser.error("--threads and --repeat must be >= 1, --warmup >= 0")
    return args


def plan(args, rows: List[Row]):
    """(row, sizes, warmup, repeat) for every measurement, in table order."""
    out = []
    for kind, sizes, repeat in (("forward", args.sizes, args.repeat), ("train", args.train_sizes, args.repeat),
                                ("long", [args.long_size], args.long_repeat)):
        for size in sizes:
            out += [(row, size, repeat) for row in rows if row.kind == kind]
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        return child_main(args)
    import paddle_roformer as pr

    pr.set_num_threads(args.threads)  # before Paddle is imported
    config = pr.RoFormerConfig(**QUICK_CONFIG) if args.quick else pr.RoFormerConfig.from_pretrained(args.config)
    rows = [ROWS_BY_NAME[name] for name in args.rows.split(",")]
    header = dict(cpu=pr.runtime.cpu_name(), threads=args.threads, config="quick (hidden 64, 2 layers)" if args.quick
                  else args.config, isolated=args.isolate, warmup=args.warmup, repeat=args.repeat,
                  long_repeat=args.long_repeat, mkl_debug_cpu_type=os.environ.get("MKL_DEBUG_CPU_TYPE"),
                  torch_weights="ours, through paddle_roformer.convert's name map", versions=versions())
    print(f"# Model speed: {header['config']}; CPU: {header['cpu']}; threads: {args.threads}; "
          f"median of {args.repeat} after {args.warmup} warm-up; "
          f"{'one process per row and size' if args.isolate else 'one process'}; "
          f"MKL_DEBUG_CPU_TYPE={header['mkl_debug_cpu_type']}")
    print("# " + ", ".join(f"{k} {v}" for k, v in header["versions"].items()), flush=True)
    workdir = tempfile.mkdtemp(prefix="model_speed_")
    try:
        settings = prepare(args, workdir, config, rows)
        results = collect(args, workdir, settings, rows)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    add_comparisons(results)
    check = check_summary(results)
    print("\n".join(table(results)))
    print()
    print(check_line(check))
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(dict(header=header, check=check, results=results), f, indent=2)
    return 1 if check["failed"] else 0


def collect(args, workdir: str, settings: Dict, rows: List[Row]) -> List[Dict]:
    results, checked, cache = [], set(), {}
    ctx = None if args.isolate else Context(workdir, settings)
    if ctx is not None and any("torch" in row.name for row in rows):
        try:
            import torch

            torch.set_num_threads(args.threads)
        except ImportError:
            pass
    for row, size, repeat in plan(args, rows):
        check = row.name not in checked
        checked.add(row.name)
        if args.isolate:
            child_args = argparse.Namespace(**vars(args))
            child_args.repeat = repeat
            result = run_isolated(row, size, child_args, workdir, check)
        else:
            result = measure(ctx, row, [size], args.warmup, repeat, check, cache)[0]
            result["isolated"] = False
        results.append(result)
        print(f"  {row.name} {size[0]}x{size[1]}: "
              + (f"{result['median_ms']:.1f} ms" if result["status"] == "ok" else f"n/a: {result['reason']}"),
              file=sys.stderr, flush=True)
    return results


if __name__ == "__main__":
    sys.exit(main())
