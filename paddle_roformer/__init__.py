"""RoFormer (Su et al., 2021) for PaddlePaddle: rotary-position BERT-style encoders and their heads.

The names below are imported on first use, so ``import paddle_roformer.tokenizer`` and
``paddle-roformer list`` do not pay for importing Paddle.
"""
import importlib

from .runtime import prefer_avx2_mkl_kernels

__version__ = "0.1.0"

# Before Paddle's first matmul: MKL's fast kernels on AMD CPUs too (see paddle_roformer.runtime).
prefer_avx2_mkl_kernels()

# public name -> the module that defines it
_EXPORTS = {
    "RoFormerConfig": "config",
    "RoFormerModel": "modeling",
    "RoFormerPretrainedModel": "pretrained",
    "LoadReport": "pretrained",
    "RoFormerForSequenceClassification": "heads",
    "RoFormerForTokenClassification": "heads",
    "RoFormerForQuestionAnswering": "heads",
    "RoFormerForMultipleChoice": "heads",
    "RoFormerForMaskedLM": "heads",
    "RoFormerForCausalLM": "heads",
    "RoFormerForReplacedTokenDetection": "heads",
    "RoFormerForElectraPretraining": "pretraining",
    "MLMCollator": "pretraining",
    "mask_tokens": "pretraining",
    "MODEL_CLASSES": "heads",
    "get_model_class": "heads",
    "RoFormerTokenizer": "tokenizer",
    "BatchEncoding": "tokenizer",
    "build_vocab": "vocab",
    "UnknownModelError": "registry",
    "get_pretrained": "registry",
    "list_pretrained": "registry",
    "pipeline": "pipelines",
    "Trainer": "trainer",
    "TrainingConfig": "trainer",
    "TASKS": "tasks",
    "get_task": "tasks",
    "set_num_threads": "runtime",
    "export_model": "inference",
    "compile": "inference",
    "CompiledModel": "inference",
    "Predictor": "inference",
    "unilm_attention_bias": "generation",
    "similar_sentences": "sim",
    "similarity": "sentence",
    "SemanticIndex": "sentence",
}

__all__ = list(_EXPORTS)


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'paddle_roformer' has no attribute {name!r}")
    try:
        value = getattr(importlib.import_module(f".{module}", __name__), name)
    except ModuleNotFoundError as err:
        if err.name != "paddle":
            raise
        raise ImportError(
            f"paddle_roformer.{name} needs PaddlePaddle, which is not installed. Install it with the "
            "package: pip install 'paddle_roformer[cpu]' (or '[gpu]'; for a current GPU build see "
            "docs/install.md), or install paddlepaddle / paddlepaddle-gpu yourself."
        ) from err
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
