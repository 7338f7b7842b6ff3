"""Loading a registered name through a mirror: a server on 127.0.0.1 serves generated files."""
import http.server
import os
import socket
import threading

import numpy as np
import paddle
import pytest

import paddle_roformer as pr

NAME = "roformer-english-small-generator"  # the smallest registered architecture (5M parameters)


class _Server:
    def __init__(self, files):
        self.files, self.requests = files, []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(self.path)
                body = outer.files.get(self.path)
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
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/mirror"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

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
    return tmp_path


def test_name_downloads_once_then_uses_the_cache(published, env, monkeypatch):
    model, blob = published
    with _Server({f"/mirror/{NAME}/model_state.pdparams": blob}) as server:
        monkeypatch.setenv("PADDLE_ROFORMER_ENDPOINT", server.url)
        first = pr.RoFormerForMaskedLM.from_pretrained(NAME)
        second = pr.RoFormerModel.from_pretrained(NAME)
        assert server.requests == [f"/mirror/{NAME}/model_state.pdparams"]  # the second call made none
    cached = env / "home" / "models" / NAME / "model_state.pdparams"
    assert cached.read_bytes() == blob
    ids = paddle.to_tensor(np.arange(1, 9).reshape(1, 8))
    with paddle.no_grad():
        np.testing.assert_array_equal(second(ids)[0].numpy(), model(ids)[0].numpy())
        np.testing.assert_array_equal(first.roformer(ids)[0].numpy(), model(ids)[0].numpy())


def test_http_404_names_the_url(env, monkeypatch):
    with _Server({}) as server:
        monkeypatch.setenv("PADDLE_ROFORMER_ENDPOINT", server.url)
        with pytest.raises(FileNotFoundError, match=rf"HTTP 404 for {server.url}/{NAME}/model_state.pdparams"):
            pr.RoFormerModel.from_pretrained(NAME)
    assert not (env / "home" / "models" / NAME / "model_state.pdparams").exists()


def test_refused_connection_explains_mirror_and_offline(env, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    monkeypatch.setenv("PADDLE_ROFORMER_ENDPOINT", f"http://127.0.0.1:{port}")
    with pytest.raises(ConnectionError, match="PADDLE_ROFORMER_ENDPOINT.*PADDLE_ROFORMER_OFFLINE"):
        pr.RoFormerModel.from_pretrained(NAME)


def test_offline_mode_with_empty_cache(env, monkeypatch):
    monkeypatch.setenv("PADDLE_ROFORMER_OFFLINE", "1")
    monkeypatch.setenv("PADDLE_ROFORMER_ENDPOINT", "http://127.0.0.1:9")
    with pytest.raises(FileNotFoundError, match=rf"OFFLINE is set and .*{NAME}.*not cached .*127.0.0.1:9/{NAME}"):
        pr.RoFormerModel.from_pretrained(NAME)


def test_unknown_name_before_any_network(env, monkeypatch):
    monkeypatch.setenv("PADDLE_ROFORMER_ENDPOINT", "http://127.0.0.1:9")
    with pytest.raises(pr.UnknownModelError, match="Did you mean 'roformer-english-small-generator'"):
        pr.RoFormerModel.from_pretrained("roformer-english-small-generater")


def test_tokenizer_vocab_by_name_through_the_mirror(env, monkeypatch):
    vocab = "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "##s"]) + "\n"
    with _Server({f"/mirror/{NAME}/vocab.txt": vocab.encode()}) as server:
        monkeypatch.setenv("PADDLE_ROFORMER_ENDPOINT", server.url)
        tokenizer = pr.RoFormerTokenizer.from_pretrained(NAME)
        again = pr.RoFormerTokenizer.from_pretrained(NAME)
        assert server.requests == [f"/mirror/{NAME}/vocab.txt"]
    assert tokenizer.tokenize("Hello worlds") == ["hello", "world", "##s"]
    assert tokenizer.model_max_length == 128 and not tokenizer.use_jieba  # from the name's YAML
    assert again.vocab == tokenizer.vocab
