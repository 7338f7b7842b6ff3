"""benchmarks/model_speed.py --quick runs every row kind and writes finite, positive times (no speed assertions)."""
import json
import math
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "benchmarks", "model_speed.py")


def test_model_speed_quick_writes_every_row(tmp_path):
    out = tmp_path / "tmp.json"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, SCRIPT, "--quick", "--threads", "1", "--json", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["header"]["threads"] == 1
    results = report["results"]
    assert {r["kind"] for r in results} == {"forward", "train", "long"}
    rows = {r["row"] for r in results}
    assert {"ours-eager", "ours-predictor-fp32", "ours-predictor-bf16", "ours-predictor-int8", "ours-onnxruntime",
            "ours-onnxruntime-int8",
            "paddlenlp-eager", "paddlenlp-exported", "torch-fp32", "torch-bf16", "ours-train", "paddlenlp-train",
            "torch-train", "ours-eager-long"} <= rows
    for r in results:
        assert r["status"] in ("ok", "n/a")
        if r["status"] == "ok":
            assert all(math.isfinite(t) and t > 0 for t in r["times_ms"])
            assert math.isfinite(r["median_ms"]) and r["median_ms"] > 0 and r["tokens_per_s"] > 0
        else:
            assert r["reason"]
    ours = [r for r in results if r["row"] in ("ours-eager", "ours-train", "ours-eager-long")]
    assert ours and all(r["status"] == "ok" for r in ours)
    assert report["check"]["failed"] == []
    assert "| ours-eager |" in proc.stdout


def test_generation_speed_quick_checks_cache_against_recomputation(tmp_path):
    out = tmp_path / "gen.json"
    script = os.path.join(ROOT, "benchmarks", "generation_speed.py")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, script, "--quick", "--threads", "1", "--json", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["header"]["threads"] == 1
    for row in report["results"]:
        assert row["same_ids"] is True
        assert math.isfinite(row["cache_ms"]) and row["cache_ms"] > 0 and row["recompute_ms"] > 0
    assert "| tiny | 2 | 8 + 8 |" in proc.stdout


def test_sentence_speed_quick_reports_encode_and_every_index(tmp_path):
    out = tmp_path / "sentence.json"
    script = os.path.join(ROOT, "benchmarks", "sentence_speed.py")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, script, "--quick", "--threads", "1", "--json", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["encode"]["sentences_per_s"] > 0
    assert report["encode"]["compiled"]["paddle"]["max_diff_to_eager"] < 1e-4
    assert {r["rows"] for r in report["index"]} >= {1000, 2000}
    for row in report["index"]:
        assert math.isfinite(row["query_ms"]) and row["query_ms"] > 0 and row["batch_queries_per_s"] > 0
