"""Loading by name and by URL through a server on 127.0.0.1 serving generated files.

No test here touches any address but 127.0.0.1.
"""
import dataclasses
import hashlib
import http.server
import os
import socket
import subprocess
import sys
import threading
import time
import warnings

import numpy as np
import paddle
import pytest

import paddle_roformer as pr
from paddle_roformer import hub, pretrained, registry

NAME = "roformer-english-small-generator"  # the smallest registered architecture (5M parameters)
WEIGHTS = f"/mirror/{NAME}/model_state.pdparams"


class Server:
    """Serves ``files`` (path -> bytes) with Range support; behaviours simulate a bad network."""

    def __init__(self, files, fail_first=0, cut_first=0, chunk_delay=0.0):
        self.files, self.requests = files, []
        self.fail_first, self.cut_first, self.chunk_delay = fail_first, cut_first, chunk_delay
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                outer.requests.append((self.path, self.headers.get("Range")))
                body = outer.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                if outer.fail_first > 0:
                    outer.fail_first -= 1
                    self.send_error(503)
                    return
                start = 0
                if self.headers.get("Range"):
                    start = int(self.headers["Range"].split("=")[1].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                payload = body[start:]
                if outer.cut_first > 0:  # send half, then drop the connection
                    outer.cut_first -= 1
                    self.wfile.write(payload[: len(payload) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                step = 1 << 16
                for i in range(0, len(payload), step):
                    self.wfile.write(payload[i : i + step])
                    if outer.chunk_delay:
                        time.sleep(outer.chunk_delay)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.root = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.url = self.root + "/mirror"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def gets(self, path):
        return [r for r in self.requests if r[0] == path]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """A checkpoint of the registered architecture, as the publisher's bare-model file."""
    directory = tmp_path_factory.mktemp("published")
    model = pr.RoFormerModel(pr.RoFormerConfig.from_pretrained(NAME))
    model.eval()
    model.save_pretrained(directory)
    return model, (directory / "model_state.pdparams").read_bytes()


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("PADDLE_ROFORMER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PADDLE_ROFORMER_OFFLINE", raising=False)
    monkeypatch.setenv("PADDLE_ROFORMER_DISABLE_PROGRESS", "1")
    monkeypatch.setattr(hub, "BACKOFF", 0.01)
    return tmp_path


def _cached(env):
    return env / "home" / "models" / NAME / "model_state.pdparams"


def _same_outputs(a, b):
    ids = paddle.to_tensor(np.arange(1, 9).reshape(1, 8))
    with paddle.no_grad():
        np.testing.assert_array_equal(a(ids)[0].numpy(), b(ids)[0].numpy())


@pytest.fixture
def with_sha256(monkeypatch):
    """Give the registered file a sha256, as a user or mirror can."""

    def apply(digest):
        entries = registry._registry()
        entry = entries[NAME]
        files = dict(entry.files)
        files["model_state.pdparams"] = dataclasses.replace(files["model_state.pdparams"], sha256=digest)
        monkeypatch.setitem(entries, NAME, dataclasses.replace(entry, files=files))

    return apply


# ---------------------------------------------------------------------------- by name


def test_first_call_downloads_with_progress_then_uses_the_cache(published, env, monkeypatch, capsys):
    model, blob = published
    monkeypatch.delenv("PADDLE_ROFORMER_DISABLE_PROGRESS")
    with Server({WEIGHTS: blob}) as server:
        monkeypatch.setenv("PADDLE_ROFORMER_ENDPOINT", server.url)
        first = pr.RoFormerForMaskedLM.from_pretrained(NAME)
        assert "model_state.pdparams" in capsys.readouterr().err  # the progress bar
        second = pr.RoFormerModel.from_pretrained(NAME)
        assert server.requests == [(WEIGHTS, None)]  # the second call made no request
    assert _cached(env).read_bytes() == blob
    assert not os.path.exists(str(_cached(env)) + ".part")
    _same_outputs(second, model)
    _same_outputs(first.roformer, model)


def test_corrupted_cache_with_sha256_is_rejected_and_downloaded_again(published, env, monkeypatch, with_sha256):
    model, blob = published
    with_sha256(hashlib.sha256(blob).hexdigest())
    with Server({WEIGHTS: blob}) as server:
        monkeypatch.setenv("PADDLE_ROFORMER_ENDPOINT", server.url)
        pr.RoFormerModel.from_pretrained(NAME)
        corrupted = bytearray(_cached(env).read_bytes())
        corrupted[1000] ^= 0xFF
        _cached(env).write_bytes(bytes(corrupted))
        again = pr.RoFormerModel.from_pretrained(NAME)
        assert len(server.gets(WEIGHTS)) == 2
    assert _cached(env).read_bytes() == blob
    _same_outputs(again, model)


def test_download_with_wrong_sha256_is_deleted(published, env, monkeypatch, with_sha256):
    _, blob = published
    with_sha256("0" * 64)
    with Server({WEIGHTS: blob}) as server:
        monkeypatch.setenv("PADDLE_ROFORMER_ENDPOINT", server.url)
        with pytest.raises(ValueError, match=f"sha256 of {server.url}/{NAME}/model_state.pdparams is .*expected 0000"):
            pr.RoFormerModel.from_pretrained(NAME)
    assert not _cached(env).exists() and not os.path.exists(str(_cached(env)) + ".part")


def test_dropped_connection_is_resumed_with_range(published, env, monkeypatch):
    model, blob = published
    with Server({WEIGHTS: blob}, cut_first=1) as server:
        monkeypatch.setenv("PADDLE_ROFORMER_ENDPOINT", server.url)
        loaded = pr.RoFormerModel.from_pretrained(NAME)
        first, second = server.gets(WEIGHTS)
    assert first[1] is None and second[1] == f"bytes={len(blob) // 2}-"
    assert _cached(env).read_bytes() == blob
    _same_outputs(loaded, model)


def test_server_errors_are_retried(published, env, monkeypatch):
    _, blob = published
    with Server({WEIGHTS: blob}, fail_first=2) as server:
        monkeypatch.setenv("PADDLE_ROFORMER_ENDPOINT", server.url)
        pr.RoFormerModel.from_pretrained(NAME)
        assert len(server.gets(WEIGHTS)) == 3
    with Server({WEIGHTS: blob}, fail_first=100) as server:
        monkeypatch.setenv("PADDLE_ROFORMER_ENDPOINT", server.url)
        monkeypatch.setenv("PADDLE_ROFORMER_HOME", str(env / "other"))
        with pytest.raises(ConnectionError, match="after 5 attempts .*PADDLE_ROFORMER_ENDPOINT"):
            pr.RoFormerModel.from_pretrained(NAME)


def test_two_processes_download_once(published, env, monkeypatch):
    _, blob = published
    with Server({WEIGHTS: blob}, chunk_delay=0.02) as server:
        process_env = dict(os.environ, PADDLE_ROFORMER_ENDPOINT=server.url, OMP_NUM_THREADS="1")
        code = ("import paddle_roformer as pr; m = pr.RoFormerModel.from_pretrained(%r); "
                "print(m.config.hidden_size)" % NAME)
        procs = [subprocess.Popen([sys.executable, "-c", code], env=process_env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outputs = [p.communicate(timeout=240) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outputs
        assert [o[0].strip() for o in outputs] == ["64", "64"]
        assert len(server.gets(WEIGHTS)) == 1
    assert _cached(env).read_bytes() == blob


def test_http_404_names_the_url(env, monkeypatch):
    with Server({}) as server:
        monkeypatch.setenv("PADDLE_ROFORMER_ENDPOINT", server.url)
        with pytest.raises(FileNotFoundError, match=rf"HTTP 404 for {server.url}/{NAME}/model_state.pdparams"):
            pr.RoFormerModel.from_pretrained(NAME)
    assert not _cached(env).exists()


def test_refused_connection_explains_mirror_and_offline(env, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    monkeypatch.setenv("PADDLE_ROFORMER_ENDPOINT", f"http://127.0.0.1:{port}")
    with pytest.raises(ConnectionError, match="could not be reached: set PADDLE_ROFORMER_ENDPOINT.*PADDLE_ROFORMER_OFFLINE"):
        pr.RoFormerModel.from_pretrained(NAME)


def test_offline_mode_with_empty_cache(env, monkeypatch):
    monkeypatch.setenv("PADDLE_ROFORMER_OFFLINE", "1")
    monkeypatch.setenv("PADDLE_ROFORMER_ENDPOINT", "http://127.0.0.1:9")
    with pytest.raises(FileNotFoundError, match=rf"OFFLINE is set and .*{NAME}.*not cached .*127.0.0.1:9/{NAME}"):
        pr.RoFormerModel.from_pretrained(NAME)


def test_offline_mode_uses_the_cache(published, env, monkeypatch):
    model, blob = published
    _cached(env).parent.mkdir(parents=True)
    _cached(env).write_bytes(blob)
    monkeypatch.setenv("PADDLE_ROFORMER_OFFLINE", "1")
    _same_outputs(pr.RoFormerModel.from_pretrained(NAME), model)


def test_unknown_name_before_any_network(env, monkeypatch):
    monkeypatch.setenv("PADDLE_ROFORMER_ENDPOINT", "http://127.0.0.1:9")
    with pytest.raises(pr.UnknownModelError, match="Did you mean 'roformer-english-small-generator'"):
        pr.RoFormerModel.from_pretrained("roformer-english-small-generater")


def test_tokenizer_vocab_by_name_through_the_mirror(env, monkeypatch):
    vocab = "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "##s"]) + "\n"
    with Server({f"/mirror/{NAME}/vocab.txt": vocab.encode()}) as server:
        monkeypatch.setenv("PADDLE_ROFORMER_ENDPOINT", server.url)
        tokenizer = pr.RoFormerTokenizer.from_pretrained(NAME)
        again = pr.RoFormerTokenizer.from_pretrained(NAME)
        assert server.requests == [(f"/mirror/{NAME}/vocab.txt", None)]
    assert tokenizer.tokenize("Hello worlds") == ["hello", "world", "##s"]
    assert tokenizer.model_max_length == 128 and not tokenizer.use_jieba  # from the name's YAML
    assert again.vocab == tokenizer.vocab


# ---------------------------------------------------------------------------- by URL, safe formats


def test_url_of_a_directory(env, monkeypatch, tmp_path):
    model = pr.RoFormerForSequenceClassification(pr.RoFormerConfig(
        vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=20,
        num_labels=3))
    model.eval()
    model.save_pretrained(tmp_path / "pub", safe_serialization=True)
    vocab = "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "好"]) + "\n"
    files = {f"/models/cls/{f}": (tmp_path / "pub" / f).read_bytes() for f in os.listdir(tmp_path / "pub")}
    files["/models/cls/vocab.txt"] = vocab.encode()
    with Server(files) as server:
        url = server.root + "/models/cls"
        loaded = pr.RoFormerForSequenceClassification.from_pretrained(url)
        tokenizer = pr.RoFormerTokenizer.from_pretrained(url)
        assert pr.RoFormerConfig.from_pretrained(url).num_labels == 3
        count = len(server.requests)
        pr.RoFormerForSequenceClassification.from_pretrained(url)
        pr.RoFormerTokenizer.from_pretrained(url)
        assert len(server.requests) == count  # all from the cache now
    ids = paddle.to_tensor([[2, 5, 3]])
    with paddle.no_grad():
        np.testing.assert_array_equal(loaded(ids).numpy(), model(ids).numpy())
    assert tokenizer("好")["input_ids"] == [2, 5, 3]


def test_safetensors_round_trip_and_preference(tmp_path):
    model = pr.RoFormerForMaskedLM(pr.RoFormerConfig(vocab_size=40, hidden_size=16, embedding_size=8,
                                                     num_hidden_layers=1, num_attention_heads=2,
                                                     intermediate_size=20))
    model.eval()
    model.save_pretrained(tmp_path, safe_serialization=True)
    assert sorted(os.listdir(tmp_path)) == ["config.json", "model.safetensors"]
    from safetensors.numpy import load_file

    assert "cls.predictions.decoder_weight" not in load_file(str(tmp_path / "model.safetensors"))  # tied: once
    # a stale pickle beside it is not read: safetensors wins
    paddle.save({"garbage": paddle.zeros([1])}, str(tmp_path / "model_state.pdparams"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no pickle warning
        loaded = pr.RoFormerForMaskedLM.from_pretrained(tmp_path)
    ids = paddle.to_tensor([[1, 2, 3]])
    with paddle.no_grad():
        np.testing.assert_array_equal(loaded(ids).numpy(), model(ids).numpy())


def test_untrusted_pickle_warns_once(tmp_path, monkeypatch):
    monkeypatch.setattr(pretrained, "_warned_about_pickles", False)
    model = pr.RoFormerModel(pr.RoFormerConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1,
                                               num_attention_heads=2, intermediate_size=20))
    model.save_pretrained(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pr.RoFormerModel.from_pretrained(tmp_path)  # written by this process: no warning
    (tmp_path / "model_state.pdparams").write_bytes((tmp_path / "model_state.pdparams").read_bytes())  # "another" file
    with pytest.warns(UserWarning, match="is a pickle: loading it can run code"):
        pr.RoFormerModel.from_pretrained(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pr.RoFormerModel.from_pretrained(tmp_path)  # once per process
