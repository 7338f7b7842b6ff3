"""Runs examples/notebooks/roformer_quickstart.ipynb end to end, offline, on tiny settings.

The parameters cell (tagged ``parameters``) is replaced by tiny settings, as papermill would inject
them; every cell must run without error in a fresh kernel within a bounded time.
"""
import json
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "notebooks" / "roformer_quickstart.ipynb"
TINY_PARAMETERS = """
INSTALL = False
USE_GPU = False
ROFORMER_SOURCE = "../.."
OFFLINE_TINY = True
MODEL_NAME = "roformer-chinese-char-small"
MAX_STEPS = 4
MAX_EVAL = 64
OUTPUT_DIR = "roformer_sentiment"
"""


def _text(cell):
    """The stdout / result text a code cell printed."""
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream" and output.get("name") == "stdout":
            parts.append(output["text"])
        elif output.get("output_type") in ("execute_result", "display_data"):
            parts.append(output.get("data", {}).get("text/plain", ""))
    return "".join(parts)


def test_committed_notebook_is_clean():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert all(not cell.outputs and cell.execution_count is None for cell in code), "commit the notebook without outputs"
    assert "parameters" in code[0].metadata.get("tags", []), "the first code cell holds the parameters"
    for knob in ("INSTALL", "OFFLINE_TINY", "MAX_STEPS", "MODEL_NAME"):
        assert f"{knob} = " in code[0].source
    # the install cells run only when asked, and the GPU build comes from Paddle's own index
    install = "\n".join(cell.source for cell in code if "pip install" in cell.source)
    assert "if INSTALL" in install and "paddlepaddle.org.cn/packages/stable/" in install


def test_notebook_runs_offline_on_tiny_settings(tmp_path, monkeypatch):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    parameters = next(cell for cell in nb.cells if "parameters" in cell.metadata.get("tags", []))
    parameters.source = TINY_PARAMETERS.strip()
    # The kernel inherits the environment: offline, so any download attempt is an error, and an empty cache.
    monkeypatch.setenv("PADDLE_ROFORMER_OFFLINE", "1")
    monkeypatch.setenv("PADDLE_ROFORMER_HOME", str(tmp_path / "cache"))
    # A kernel of this interpreter (not whatever "python3" a user-level kernelspec names).
    spec = tmp_path / "jupyter" / "kernels" / "paddle-roformer-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "paddle_roformer tests", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    work = tmp_path / "work"
    work.mkdir()
    client = nbclient.NotebookClient(nb, timeout=180, kernel_name="paddle-roformer-test",
                                     resources={"metadata": {"path": str(work)}})
    client.execute()  # raises CellExecutionError, with the cell and its traceback, when a cell fails

    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert all(cell.execution_count is not None for cell in code), "every code cell ran"
    printed = "\n".join(_text(cell) for cell in code)
    assert "INSTALL = False" in printed  # the install cell was skipped
    assert "RoFormerForSequenceClassification:" in printed
    assert "dev accuracy: " in printed and "macro F1: " in printed
    accuracy = float(printed.split("dev accuracy: ")[1].split(",")[0])
    assert 0.0 <= accuracy <= 1.0
    predictions = [line for line in printed.splitlines() if " -> " in line]
    assert len(predictions) == 3 and all(("negative" in p) or ("positive" in p) for p in predictions)
    filled = [line for line in _text(code[-1]).splitlines() if "这个手机很好" in line]
    assert len(filled) == 5 and not any("[MASK]" in line for line in filled)  # top_k=5 fillers
    for name in ("final", "best", "metrics.json"):
        assert (work / "roformer_sentiment" / name).exists(), name
