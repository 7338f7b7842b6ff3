"""The one resolver and the download cache, against a server on 127.0.0.1 serving generated files.

No test here touches any address but 127.0.0.1, and every wait is bounded by small timeouts.
"""
import ast
import hashlib
import http.server
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import types
import warnings
from pathlib import Path

import numpy as np
import paddle
import pytest

import paddle_roformer as pr
from paddle_roformer import hub, registry

NAME = "roformer-english-small-generator"  # the smallest registered architecture (5M parameters)
WEIGHTS = f"/mirror/{NAME}/model_state.pdparams"
VOCAB = "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "##s"]) + "\n"
HTML = b"<!DOCTYPE html><html><body>Please log in to the hotel Wi-Fi</body></html>\n"
PACKAGE = Path(hub.__file__).resolve().parent


class Server:
    """Serves ``files`` (path -> bytes) with Range, ETag and If-Range; options simulate bad networks.

    fail_first: answer that many requests with ``fail_code``; cut_first: send half of that many
    bodies, then drop the connection (calling ``on_cut``); stall: send the headers, then nothing;
    validators: send an ETag; if_range: honour If-Range (else Range is served regardless);
    etag_on_206: send the ETag on partial answers too; redirects: path -> Location.
    """

    def __init__(self, files, fail_first=0, fail_code=503, cut_first=0, chunk_delay=0.0, stall=False,
                 validators=True, if_range=True, etag_on_206=True, redirects=None, on_cut=None):
        self.files, self.requests, self.headers = dict(files), [], []
        self.fail_first, self.fail_code, self.cut_first, self.chunk_delay = fail_first, fail_code, cut_first, chunk_delay
        self.stall, self.validators, self.if_range, self.etag_on_206 = stall, validators, if_range, etag_on_206
        self.redirects, self.on_cut = redirects or {}, on_cut
        self.release = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                outer.requests.append((self.path, self.headers.get("Range")))
                outer.headers.append(dict(self.headers))
                if self.path in outer.redirects:
                    self.send_response(302)
                    self.send_header("Location", outer.redirects[self.path])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = outer.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                if outer.fail_first > 0:
                    outer.fail_first -= 1
                    self.send_error(outer.fail_code)
                    return
                etag = '"%s"' % hashlib.sha256(body).hexdigest()[:16] if outer.validators else None
                wanted, condition = self.headers.get("Range"), self.headers.get("If-Range")
                start = 0
                if wanted and (not outer.if_range or condition is None or condition == etag):
                    start = int(wanted.split("=")[1].split("-")[0])
                    if start >= len(body):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                    if etag and outer.etag_on_206:
                        self.send_header("ETag", etag)
                else:
                    self.send_response(200)
                    if etag:
                        self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                payload = body[start:]
                if outer.stall:
                    self.wfile.flush()
                    outer.release.wait(10)
                    self.close_connection = True
                    return
                if outer.cut_first > 0:  # send half, then drop the connection
                    outer.cut_first -= 1
                    self.wfile.write(payload[: len(payload) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    if outer.on_cut:
                        outer.on_cut(outer)
                    return
                step = 1 << 16
                for i in range(0, len(payload), step):
                    self.wfile.write(payload[i : i + step])
                    if outer.chunk_delay:
                        time.sleep(outer.chunk_delay)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.root = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.url = self.root + "/mirror"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def gets(self, path):
        return [r for r in self.requests if r[0] == path]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.release.set()
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
    monkeypatch.delenv("PADDLE_ROFORMER_ENDPOINT", raising=False)
    monkeypatch.delenv("PADDLE_ROFORMER_MISSING_TTL", raising=False)
    monkeypatch.setenv("PADDLE_ROFORMER_DISABLE_PROGRESS", "1")
    monkeypatch.setenv("PADDLE_ROFORMER_TIMEOUT", "5")  # nothing here may wait long
    monkeypatch.setenv("PADDLE_ROFORMER_STALL_LIMIT", "10")
    monkeypatch.setenv("PADDLE_ROFORMER_LOCK_TIMEOUT", "10")
    monkeypatch.setattr(hub, "BACKOFF", 0.01)
    return tmp_path


def _cached(env, filename="model_state.pdparams"):
    return env / "home" / "models" / NAME / filename


def _same_outputs(a, b):
    ids = paddle.to_tensor(np.arange(1, 9).reshape(1, 8))
    with paddle.no_grad():
        np.testing.assert_array_equal(a(ids)[0].numpy(), b(ids)[0].numpy())


@pytest.fixture
def with_sha256(monkeypatch):
    """Give the registered file a sha256, as a user or mirror can."""

    def apply(digest):
        entries = dict(registry._registry())
        entry = entries[NAME]
        files = dict(entry.files)
        files["model_state.pdparams"] = registry.PretrainedFile(url=files["model_state.pdparams"].url, sha256=digest)
        entries[NAME] = registry.Pretrained(entry.name, entry.description, entry.model, entry.tokenizer,
                                            types.MappingProxyType(files))
        monkeypatch.setattr(registry, "_registry", lambda: types.MappingProxyType(entries))

    return apply


# ---------------------------------------------------------------------------- A: one resolver, no cycle


def _imports(module_file):
    """Every paddle_roformer module a source file imports, at module level or inside functions."""
    tree = ast.parse(Path(module_file).read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("paddle_roformer"):
            found.add((node.module.split(".") + [""])[1] or node.names[0].name)
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("paddle_roformer."))
    return found


def test_layering_has_no_import_cycle():
    assert _imports(PACKAGE / "registry.py") <= {"utils"}
    assert _imports(PACKAGE / "hub.py") <= {"registry", "utils"}
    config_tree = ast.parse((PACKAGE / "config.py").read_text(encoding="utf-8"))
    top_level = {a.name for n in config_tree.body if isinstance(n, ast.ImportFrom) and n.level == 1 for a in n.names}
    assert {"hub", "registry"} <= top_level  # config imports both at module level, neither imports it


def test_classify(tmp_path, env):
    assert hub.classify(tmp_path) == "directory" and hub.classify(str(tmp_path)) == "directory"
    assert hub.classify("https://example.invalid/models/x") == "url"  # no request: classify is offline
    assert hub.classify("HTTP://127.0.0.1/x") == "url"
    assert hub.classify(NAME) == "name"
    with pytest.raises(TypeError, match="name_or_path must be a str or os.PathLike .* got int"):
        hub.classify(3)
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ValueError, match="is a file; pass the directory that holds it"):
        hub.classify(tmp_path / "config.json")
    with pytest.raises(FileNotFoundError, match="No such directory: './nope'"):
        hub.classify("./nope")
    with pytest.raises(ValueError, match="only http:// and https://"):
        hub.classify("ftp://127.0.0.1/x")
    with pytest.raises(pr.UnknownModelError, match=f"Did you mean '{NAME}'"):
        hub.classify("roformer-english-small-generater")


def test_resolve_a_directory_in_order_of_preference(tmp_path, env):
    assert hub.resolve(tmp_path, "vocab.txt", optional=True) is None
    (tmp_path / "model_state.pdparams").write_bytes(b"x")
    assert hub.resolve(tmp_path, ["model.safetensors", "model_state.pdparams"]) == str(tmp_path / "model_state.pdparams")
    (tmp_path / "model.safetensors").write_bytes(b"x")
    assert hub.resolve(tmp_path, ["model.safetensors", "model_state.pdparams"]) == str(tmp_path / "model.safetensors")
    with pytest.raises(ValueError, match="plain file names"):
        hub.resolve(tmp_path, "../x")
    with pytest.raises(ValueError, match="filenames is empty"):
        hub.resolve(tmp_path, [])


def test_one_message_for_a_missing_file(tmp_path, env):
    """Config, tokenizer and model say the same thing: what was looked for, where, what to do."""
    expected = r"'{}' has no {}: not in the directory {}\. To fix: add the file there"
    where = str(tmp_path)
    with pytest.raises(FileNotFoundError, match=expected.format(where, "config.json or model_config.json", where)):
        pr.RoFormerConfig.from_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match=expected.format(where, "vocab.txt", where)):
        pr.RoFormerTokenizer.from_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match=expected.format(where, ".* or .*", where)):
        pr.RoFormerModel.from_pretrained(tmp_path)  # weights or config, whichever the loader asks for first
    with Server({}) as server:
        url = server.root + "/empty"
        with pytest.raises(FileNotFoundError, match=rf"'{url}' has no vocab.txt: HTTP 404 for {url}/vocab.txt\. "
                                                    "To fix: check that the URL is a directory"):
            pr.RoFormerTokenizer.from_pretrained(url)


class _RunsCode:
    """Unpickling this would create ``path``: the test passes only if it never does."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def test_a_malicious_pickle_from_a_mirror_runs_nothing(env, monkeypatch):
    import pickle

    from paddle_roformer.checkpoint import UnsafeCheckpointError

    marker = env / "code-ran"
    blob = pickle.dumps({"embeddings.word_embeddings.weight": _RunsCode(marker)}, protocol=4)
    with Server({WEIGHTS: blob}) as server:
        monkeypatch.setenv("PADDLE_ROFORMER_ENDPOINT", server.url)
        for _ in range(2):  # the first call downloads it, the second reads the cached copy
            with pytest.raises(UnsafeCheckpointError, match="model_state.pdparams.*posix.system|os.system"):
                pr.RoFormerModel.from_pretrained(NAME)
    assert not marker.exists()


def test_a_name_provides_only_the_files_it_publishes(env, monkeypatch):
    with Server({f"/mirror/{NAME}/vocab.txt": VOCAB.encode(),
                 f"/mirror/{NAME}/tokenizer_config.json": b"{}"}) as server:
        monkeypatch.setenv("PADDLE_ROFORMER_ENDPOINT", server.url)
        assert hub.resolve(NAME, "tokenizer_config.json", optional=True) is None
        assert hub.resolve(NAME, ["vocab.json", "vocab.txt"]) == str(_cached(env, "vocab.txt"))
        with pytest.raises(FileNotFoundError, match=rf"'{NAME}' has no model.safetensors: model.safetensors is not "
                                                    rf"published by {NAME} .*To fix: set PADDLE_ROFORMER_ENDPOINT"):
            hub.resolve(NAME, "model.safetensors")
        assert server.requests == [(f"/mirror/{NAME}/vocab.txt", None)]


def test_registry_records_are_read_only_and_each_config_is_fresh():
    entry = registry.get_pretrained(NAME)
    assert not hasattr(entry, "config")  # no shared, mutable config object
    with pytest.raises(TypeError):
        entry.model["hidden_size"] = 1
    with pytest.raises(TypeError):
        entry.files["model_state.pdparams"] = None
    first = pr.RoFormerConfig.from_pretrained(NAME)
    first.hidden_size = 1  # a caller changing its own copy
    values = entry.model_values()
    values["num_hidden_layers"] = 1
    again = pr.RoFormerConfig.from_pretrained(NAME)
    assert (again.hidden_size, again.num_hidden_layers) == (64, 12) and again is not first
    assert pr.RoFormerConfig.from_pretrained(NAME, num_labels=3).num_labels == 3
    assert pr.RoFormerConfig.from_pretrained(NAME).num_labels == again.num_labels


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


def test_corrupted_cache_with_sha256_is_moved_aside_and_downloaded_again(published, env, monkeypatch, with_sha256,
                                                                         caplog):
    model, blob = published
    with_sha256(hashlib.sha256(blob).hexdigest())
    with Server({WEIGHTS: blob}) as server:
        monkeypatch.setenv("PADDLE_ROFORMER_ENDPOINT", server.url)
        pr.RoFormerModel.from_pretrained(NAME)
        corrupted = bytearray(_cached(env).read_bytes())
        corrupted[1000] ^= 0xFF
        _cached(env).write_bytes(bytes(corrupted))
        with caplog.at_level(logging.WARNING, logger="paddle_roformer.hub"):
            again = pr.RoFormerModel.from_pretrained(NAME)
        assert len(server.gets(WEIGHTS)) == 2
    aside = str(_cached(env)) + ".invalid"
    assert Path(aside).read_bytes() == bytes(corrupted)  # renamed, not deleted
    assert f"moved to {aside}" in caplog.text and "sha256 is" in caplog.text
    assert _cached(env).read_bytes() == blob
    _same_outputs(again, model)


def test_download_with_wrong_sha256_is_not_cached(published, env, monkeypatch, with_sha256):
    _, blob = published
    with_sha256("0" * 64)
    with Server({WEIGHTS: blob}) as server:
        monkeypatch.setenv("PADDLE_ROFORMER_ENDPOINT", server.url)
        with pytest.raises(ValueError, match=f"sha256 of {server.url}/{NAME}/model_state.pdparams is .*expected 0000"):
            pr.RoFormerModel.from_pretrained(NAME)
    assert not _cached(env).exists() and not os.path.exists(str(_cached(env)) + ".part")
    assert Path(str(_cached(env)) + ".rejected").read_bytes() == blob


def test_dropped_connection_is_resumed_with_range_and_if_range(published, env, monkeypatch):
    model, blob = published
    with Server({WEIGHTS: blob}, cut_first=1) as server:
        monkeypatch.setenv("PADDLE_ROFORMER_ENDPOINT", server.url)
        loaded = pr.RoFormerModel.from_pretrained(NAME)
        first, second = server.gets(WEIGHTS)
        etag = '"%s"' % hashlib.sha256(blob).hexdigest()[:16]
        assert server.headers[1]["If-Range"] == etag
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
        process_env = dict(os.environ, PADDLE_ROFORMER_ENDPOINT=server.url, OMP_NUM_THREADS="1",
                           PADDLE_ROFORMER_LOCK_TIMEOUT="60", PADDLE_ROFORMER_TIMEOUT="60")
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
    with pytest.raises(FileNotFoundError, match=rf"OFFLINE is set and .*{NAME}.*not cached .*127.0.0.1:9/{NAME}.*"
                                                "To fix: unset PADDLE_ROFORMER_OFFLINE"):
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
    with Server({f"/mirror/{NAME}/vocab.txt": VOCAB.encode()}) as server:
        monkeypatch.setenv("PADDLE_ROFORMER_ENDPOINT", server.url)
        tokenizer = pr.RoFormerTokenizer.from_pretrained(NAME)
        again = pr.RoFormerTokenizer.from_pretrained(NAME)
        assert server.requests == [(f"/mirror/{NAME}/vocab.txt", None)]
    assert tokenizer.tokenize("Hello worlds") == ["hello", "world", "##s"]
    assert tokenizer.model_max_length == 128 and not tokenizer.use_jieba  # from the name's YAML
    assert again.vocab == tokenizer.vocab


# ---------------------------------------------------------------------------- B: verify before caching


def test_a_captive_portal_page_is_never_cached(published, env, monkeypatch):
    model, blob = published
    with Server({WEIGHTS: HTML, f"/mirror/{NAME}/vocab.txt": HTML}) as portal:
        monkeypatch.setenv("PADDLE_ROFORMER_ENDPOINT", portal.url)
        with pytest.raises(ValueError, match=rf"download of {portal.url}/{NAME}/model_state.pdparams failed its "
                                             r"check: .*HTML page.*moved to .*model_state.pdparams.rejected"):
            pr.RoFormerModel.from_pretrained(NAME)
        with pytest.raises(ValueError, match=rf"{portal.url}/{NAME}/vocab.txt failed its check: .*HTML page"):
            pr.RoFormerTokenizer.from_pretrained(NAME)
    assert not _cached(env).exists() and not _cached(env, "vocab.txt").exists()
    with Server({WEIGHTS: blob}) as healthy:  # the next run against a healthy server just works
        monkeypatch.setenv("PADDLE_ROFORMER_ENDPOINT", healthy.url)
        _same_outputs(pr.RoFormerModel.from_pretrained(NAME), model)


def test_a_cut_body_is_never_cached(published, env, monkeypatch):
    _, blob = published
    with Server({WEIGHTS: blob}, cut_first=100) as server:
        monkeypatch.setenv("PADDLE_ROFORMER_ENDPOINT", server.url)
        with pytest.raises(ConnectionError, match=r"after 5 attempts \(connection closed after \d+ of "):
            pr.RoFormerModel.from_pretrained(NAME)
        assert not _cached(env).exists()
        server.cut_first = 0
        pr.RoFormerModel.from_pretrained(NAME)
        assert server.requests[-1][1] is not None  # the partial file is resumed, not restarted
    assert _cached(env).read_bytes() == blob


def test_a_bad_cache_hit_is_moved_aside_and_fetched_once(published, env, monkeypatch, caplog):
    model, blob = published
    with Server({WEIGHTS: blob}) as server:
        monkeypatch.setenv("PADDLE_ROFORMER_ENDPOINT", server.url)
        pr.RoFormerModel.from_pretrained(NAME)
        _cached(env).write_bytes(blob[: len(blob) // 2])  # a cut copy (disk full, a copy by hand, ...)
        with caplog.at_level(logging.WARNING, logger="paddle_roformer.hub"):
            _same_outputs(pr.RoFormerModel.from_pretrained(NAME), model)
        assert len(server.gets(WEIGHTS)) == 2
    assert f"moved to {_cached(env)}.invalid" in caplog.text
    # no sidecar (a file put there by hand) and not a pickle at all: same rule, and a failing
    # second fetch names both the file and the URL
    _cached(env).write_bytes(HTML)
    os.remove(_cached(env).parent / ".model_state.pdparams.meta.json")
    with Server({WEIGHTS: HTML}) as server:
        monkeypatch.setenv("PADDLE_ROFORMER_ENDPOINT", server.url)
        with pytest.raises(ValueError, match=rf"{server.url}/{NAME}/model_state.pdparams failed its check.*"
                                             rf"moved to {_cached(env)}.rejected"):
            pr.RoFormerModel.from_pretrained(NAME)
        assert len(server.gets(WEIGHTS)) == 1
    assert Path(f"{_cached(env)}.invalid").read_bytes() == HTML


def _safetensors_bytes(tmp_path):
    from safetensors.numpy import save_file

    save_file({"w": np.arange(12, dtype="float32").reshape(3, 4)}, str(tmp_path / "t.safetensors"))
    return (tmp_path / "t.safetensors").read_bytes()


def test_format_checks(tmp_path, published):
    _, pickle_blob = published
    safe = _safetensors_bytes(tmp_path)
    cases = {
        "model_state.pdparams": [(pickle_blob, None), (HTML, "HTML page"), (pickle_blob[:-10], "cut off"),
                                 (b"", "empty")],
        "model.safetensors": [(safe, None), (HTML, "not a safetensors file"), (safe[:-4], "need"),
                              (b"\x02\x00\x00\x00\x00\x00\x00\x00[]", "not a JSON object")],
        "config.json": [(b'{"a": 1}', None), (b"[1]", "JSON list"), (HTML, "not JSON")],
        "vocab.txt": [(VOCAB.encode(), None), (HTML, "HTML page"), (b"\xff\xfe[PAD]\n", "not UTF-8"),
                      (b"\n \n", "no non-empty line")],
        "data.bin": [(b"anything", None)],
    }
    for filename, examples in cases.items():
        for content, problem in examples:
            path = tmp_path / filename
            path.write_bytes(content)
            found = hub.format_problem(str(path))
            assert (found is None) if problem is None else (problem in (found or "")), (filename, content[:20], found)


# ---------------------------------------------------------------------------- C: resume only the same file


@pytest.mark.parametrize("mode", ["honours If-Range", "ignores If-Range, new ETag", "no validator",
                                  "ignores If-Range, no ETag, new length"])
def test_resume_never_splices_two_versions(env, mode):
    old = bytes(range(256)) * 400
    new = bytes(reversed(range(256))) * (400 if "new length" not in mode else 300)
    options = {"honours If-Range": {}, "ignores If-Range, new ETag": dict(if_range=False),
               "no validator": dict(validators=False, if_range=False),
               "ignores If-Range, no ETag, new length": dict(if_range=False, etag_on_206=False)}[mode]

    def publish_new_version(server):
        server.files["/f/data.bin"] = new

    with Server({"/f/data.bin": old}, cut_first=1, on_cut=publish_new_version, **options) as server:
        target = str(env / "data.bin")
        hub.download(server.root + "/f/data.bin", target, progress=False)
        assert len(server.requests) >= 2
    assert Path(target).read_bytes() == new


def test_a_complete_part_file_from_an_earlier_run_is_not_fetched_again(env):
    body = b"x" * 5000
    with Server({"/f/data.bin": body}, cut_first=1) as server:
        target = str(env / "data.bin")
        with pytest.raises(ConnectionError):
            hub.download(server.root + "/f/data.bin", target, retries=0, progress=False)
        with open(target + ".part", "ab") as f:  # the rest arrived, then the process was killed
            f.write(body[2500:])
        hub.download(server.root + "/f/data.bin", target, progress=False)
        assert len(server.requests) == 1
    assert Path(target).read_bytes() == body


# ---------------------------------------------------------------------------- D: stalls, locks, redirects, 404s


def test_a_stalled_server_fails_within_the_bound(env, monkeypatch):
    monkeypatch.setenv("PADDLE_ROFORMER_TIMEOUT", "0.3")
    monkeypatch.setenv("PADDLE_ROFORMER_STALL_LIMIT", "1")
    monkeypatch.setattr(hub, "DEFAULT_TIMEOUT", 0.3)
    with Server({"/f/data.bin": b"x" * 1000}, stall=True) as server:
        start = time.monotonic()
        with pytest.raises(TimeoutError, match=rf"Download of {server.root}/f/data.bin stalled: no data for .* "
                                               "PADDLE_ROFORMER_TIMEOUT=0.3 s per read, "
                                               "PADDLE_ROFORMER_STALL_LIMIT=1 s"):
            hub.download(server.root + "/f/data.bin", str(env / "data.bin"), progress=False)
        assert time.monotonic() - start < 3


def _hold_lock(target):
    lock = hub._FileLock(os.path.join(os.path.dirname(target), "." + os.path.basename(target) + ".lock"), "test")
    lock.__enter__()
    return lock


def test_a_waiting_process_says_so_and_gives_up(env, monkeypatch, caplog):
    monkeypatch.setenv("PADDLE_ROFORMER_LOCK_TIMEOUT", "0.5")
    target = str(env / "data.bin")
    holder = _hold_lock(target)  # another process, stuck
    outcome = []

    def wait():
        try:
            outcome.append(hub.download("http://127.0.0.1:9/data.bin", target, progress=False))
        except Exception as err:  # noqa: BLE001 - handed to the test thread
            outcome.append(err)

    waiter = threading.Thread(target=wait)
    with caplog.at_level(logging.WARNING, logger="paddle_roformer.hub"):
        waiter.start()
        waiter.join(timeout=5)
    holder.__exit__(None, None, None)
    waiter.join(timeout=5)
    assert isinstance(outcome[0], TimeoutError), outcome
    assert f"Gave up waiting for the lock {env}/.data.bin.lock" in str(outcome[0])
    assert "PADDLE_ROFORMER_LOCK_TIMEOUT" in str(outcome[0])
    waiting = [r.getMessage() for r in caplog.records if "Waiting for another process" in r.getMessage()]
    assert len(waiting) == 1 and target in waiting[0] and ".data.bin.lock" in waiting[0]


def test_a_waiting_process_keeps_waiting_while_the_download_progresses(env, monkeypatch):
    monkeypatch.setenv("PADDLE_ROFORMER_LOCK_TIMEOUT", "0.5")
    target = str(env / "data.bin")
    holder = _hold_lock(target)

    def download_slowly():  # 1.5 s in all, three times the lock timeout, but never idle for long
        with open(target + ".part", "wb") as f:
            for _ in range(15):
                f.write(b"x" * 10)
                f.flush()
                time.sleep(0.1)
        os.replace(target + ".part", target)
        holder.__exit__(None, None, None)

    other = threading.Thread(target=download_slowly)
    other.start()
    assert hub.download("http://127.0.0.1:9/data.bin", target, progress=False) == target  # no request made
    other.join(timeout=5)
    assert Path(target).read_bytes() == b"x" * 150


def test_redirects_only_to_http(env):
    with Server({"/f/real.bin": b"payload"}) as server:
        port = server.httpd.server_address[1]
        server.redirects = {"/f/moved.bin": "/f/real.bin", "/f/file.bin": "file:///etc/hostname",
                            "/f/ftp.bin": f"ftp://127.0.0.1:{port}/f/real.bin"}
        assert Path(hub.download(server.root + "/f/moved.bin", str(env / "a"), progress=False)).read_bytes() == b"payload"
        for path, scheme in (("/f/file.bin", "file"), ("/f/ftp.bin", "ftp")):
            with pytest.raises(ValueError, match=rf"{server.root}{path} redirected \(HTTP 302\) to {scheme}://.*only "
                                                 "redirects to http:// or https:// are followed"):
                hub.download(server.root + path, str(env / "b"), progress=False)
        assert not (env / "b").exists()


def test_a_404_is_remembered_only_briefly(env, monkeypatch):
    """An optional file seen missing is asked for again after PADDLE_ROFORMER_MISSING_TTL."""
    files = {"/t/vocab.txt": VOCAB.encode()}
    with Server(files) as server:
        url = server.root + "/t"
        assert pr.RoFormerTokenizer.from_pretrained(url).do_lower_case  # no tokenizer_config.json yet
        server.files["/t/tokenizer_config.json"] = json.dumps({"do_lower_case": False}).encode()
        assert pr.RoFormerTokenizer.from_pretrained(url).do_lower_case  # within the TTL: not asked again
        assert len(server.gets("/t/tokenizer_config.json")) == 1
        monkeypatch.setenv("PADDLE_ROFORMER_MISSING_TTL", "0.2")
        time.sleep(0.3)
        assert not pr.RoFormerTokenizer.from_pretrained(url).do_lower_case  # the server has it now
        assert len(server.gets("/t/tokenizer_config.json")) == 2


@pytest.mark.parametrize("code", [503, 429, 408])
def test_a_transient_error_never_marks_a_file_missing(env, code):
    files = {"/t/vocab.txt": VOCAB.encode(), "/t/tokenizer_config.json": json.dumps({"do_lower_case": False}).encode()}
    with Server(files) as server:
        url = server.root + "/t"
        pr.RoFormerTokenizer.from_pretrained(url)  # caches vocab.txt
        os.remove(hub.resolve(url, "tokenizer_config.json"))
        server.fail_first, server.fail_code = 5, code
        with pytest.raises(ConnectionError, match=rf"tokenizer_config.json after 5 attempts \(HTTP {code}\)"):
            pr.RoFormerTokenizer.from_pretrained(url)  # an error, not a silent default
        assert not pr.RoFormerTokenizer.from_pretrained(url).do_lower_case  # recovered: fetched at once


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

