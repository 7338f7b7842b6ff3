"""Generation: the UniLM mask, greedy / sampling / beam search, the KV cache, padding, bad input."""
import json

import numpy as np
import paddle
import pytest

from paddle_roformer import RoFormerForCausalLM
from paddle_roformer.generation import _filter_top_k_top_p, unilm_attention_bias
from paddle_roformer.modeling import MASK_VALUE
from _helpers import tiny_config

EOS = 3


def _model(seed=0, eos=EOS, **overrides):
    """A tiny causal LM; eos=None: one that never stops early."""
    paddle.seed(seed)
    overrides.setdefault("initializer_range", 0.2)  # peaked distributions: the choices below are clear-cut
    model = RoFormerForCausalLM(tiny_config(eos_token_id=eos, **overrides))
    model.eval()
    return model


def _prompts():
    """Two prompts of 5 and 3 tokens, right-padded with 0."""
    ids = np.array([[5, 6, 7, 8, 9], [11, 12, 13, 0, 0]], dtype="int64")
    return ids, (ids != 0).astype("int64")


def _generate(model, ids, mask=None, **options):
    out_ids, scores = model.generate(paddle.to_tensor(ids), attention_mask=None if mask is None else paddle.to_tensor(mask),
                                     **options)
    return out_ids.numpy(), scores.numpy()


def _reference_unilm(types, mask):
    batch, length = types.shape
    allowed = np.zeros((batch, length, length), dtype=bool)
    for b in range(batch):
        for i in range(length):
            for j in range(length):
                if not mask[b, j]:
                    continue
                if types[b, j] == 0 and types[b, i] == 0:
                    allowed[b, i, j] = True  # source <-> source, both ways
                elif types[b, i] == 1:
                    allowed[b, i, j] = types[b, j] == 0 or j <= i  # target: the source, its past, itself
    return allowed


def test_unilm_mask_equals_hand_written_reference():
    rng = np.random.RandomState(0)
    source = rng.randint(1, 6, size=4)
    types = np.zeros((4, 9), dtype="int64")
    mask = np.ones((4, 9), dtype="int64")
    for b, n in enumerate(source):
        types[b, n:] = 1
        mask[b, 9 - b:] = 0  # some rows padded at the end
    bias = unilm_attention_bias(paddle.to_tensor(types), paddle.to_tensor(mask)).numpy()
    assert bias.shape == (4, 1, 9, 9)
    np.testing.assert_array_equal(bias[:, 0] == 0, _reference_unilm(types, mask))
    assert set(np.unique(bias)) <= {0.0, MASK_VALUE}


def _full_forward_logits(model, ids, types, positions, allowed):
    bias = np.where(allowed, 0.0, MASK_VALUE).astype("float32")[:, None]
    with paddle.no_grad():
        out = model(paddle.to_tensor(ids), token_type_ids=paddle.to_tensor(types), attention_mask=paddle.to_tensor(bias),
                    position_ids=paddle.to_tensor(positions), return_dict=True)
    return out.logits.numpy()


def test_greedy_seq2seq_equals_step_by_step_recomputation_with_the_reference_mask():
    """Independent of generate's own code: argmax of a full UniLM forward over prompt + chosen tokens."""
    model = _model(eos=None)
    prompt = np.array([[5, 6, 7, 8]], dtype="int64")
    got, scores = _generate(model, prompt, max_new_tokens=6)
    tokens, log_prob = [], 0.0
    for _ in range(6):
        ids = np.concatenate([prompt, np.array([tokens], dtype="int64").reshape(1, -1)], axis=1)
        types = np.array([[0] * 4 + [1] * len(tokens)])
        allowed = _reference_unilm(types, np.ones_like(ids))
        logits = _full_forward_logits(model, ids, types, np.arange(ids.shape[1])[None], allowed)[0, -1]
        logp = logits - logits.max() - np.log(np.exp(logits - logits.max()).sum())
        tokens.append(int(logits.argmax()))
        log_prob += float(logp[tokens[-1]])
    assert got.tolist() == [tokens]
    np.testing.assert_allclose(scores, [log_prob / 6], rtol=1e-5)


def test_seq2seq_prompt_is_bidirectional():
    """The first new token's logits come from a prompt that attends both ways (UniLM source)."""
    model = _model(eos=None)
    prompt = np.array([[5, 6, 7, 8]], dtype="int64")
    _, score = _generate(model, prompt, max_new_tokens=1)
    with paddle.no_grad():
        logits = model(paddle.to_tensor(prompt), return_dict=True).logits.numpy()[0, -1]
    logp = logits - logits.max() - np.log(np.exp(logits - logits.max()).sum())
    np.testing.assert_allclose(score, [logp.max()], rtol=1e-5)
    _, causal_score = _generate(model, prompt, max_new_tokens=1, seq2seq=False)
    assert abs(float(causal_score[0]) - float(score[0])) > 1e-4  # the causal prompt sees less


CACHE_CASES = {
    "seq2seq": dict(),
    "seq2seq_rotary_value": dict(rotary_value=True),
    "causal": dict(seq2seq=False),
}


@pytest.mark.parametrize("case", sorted(CACHE_CASES))
@pytest.mark.parametrize("strategy", ["greedy_search", "beam_search"])
def test_cached_generation_equals_recomputation(case, strategy):
    options = dict(CACHE_CASES[case])
    model = _model(rotary_value=options.pop("rotary_value", False))
    ids, mask = _prompts()
    if strategy == "beam_search":
        options.update(num_beams=3, num_return_sequences=3)
    cached = _generate(model, ids, mask, max_new_tokens=10, decode_strategy=strategy, **options)
    recomputed = _generate(model, ids, mask, max_new_tokens=10, decode_strategy=strategy, use_cache=False, **options)
    np.testing.assert_array_equal(cached[0], recomputed[0])
    np.testing.assert_allclose(cached[1], recomputed[1], atol=1e-5)


@pytest.mark.parametrize("rotary_value", [False, True])
@pytest.mark.parametrize("strategy", ["greedy_search", "beam_search"])
def test_padded_batch_equals_each_prompt_alone(rotary_value, strategy):
    """Right or left padding: every row decodes as it would unpadded (positions restart per row)."""
    model = _model(rotary_value=rotary_value)
    ids, mask = _prompts()
    options = dict(max_new_tokens=7, decode_strategy=strategy)
    if strategy == "beam_search":
        options.update(num_beams=2, num_return_sequences=2)
    batched = _generate(model, ids, mask, **options)
    left = np.array([[5, 6, 7, 8, 9], [0, 0, 11, 12, 13]], dtype="int64")
    left_batched = _generate(model, left, (left != 0).astype("int64"), **options)
    per = options.get("num_return_sequences", 1)
    for row, length in enumerate([5, 3]):
        alone_ids, alone_scores = _generate(model, ids[row : row + 1, :length], **options)
        for got_ids, got_scores in (batched, left_batched):
            rows = slice(row * per, (row + 1) * per)
            width = alone_ids.shape[1]
            np.testing.assert_array_equal(got_ids[rows, :width], alone_ids)
            assert (got_ids[rows, width:] == 0).all()
            np.testing.assert_allclose(got_scores[rows], alone_scores, atol=1e-5)


def _sequence_log_prob(model, prompt, tokens):
    """sum log p(tokens | prompt) under the UniLM mask, the way a beam is scored."""
    tokens = [t for t in tokens]
    ids = np.array([list(prompt) + tokens], dtype="int64")
    types = np.array([[0] * len(prompt) + [1] * len(tokens)])
    logits = _full_forward_logits(model, ids, types, np.arange(ids.shape[1])[None],
                                  _reference_unilm(types, np.ones_like(ids)))[0]
    total = 0.0
    for k, token in enumerate(tokens):
        row = logits[len(prompt) - 1 + k]
        total += float(row[token] - row.max() - np.log(np.exp(row - row.max()).sum()))
    return total


@pytest.mark.parametrize("length_penalty", [1.0, 0.0])
def test_beam_search_returns_sorted_sequences_with_their_scores(length_penalty):
    model = _model(seed=3)
    prompt = [5, 6, 7]
    ids, scores = _generate(model, np.array([prompt]), max_new_tokens=6, decode_strategy="beam_search", num_beams=4,
                            num_return_sequences=3, length_penalty=length_penalty)
    assert ids.shape[0] == 3 and len({tuple(r) for r in ids.tolist()}) == 3
    assert list(scores) == sorted(scores, reverse=True)
    for row, score in zip(ids, scores):
        tokens = list(row)
        if EOS in tokens:
            tokens = tokens[: tokens.index(EOS) + 1]
        expected = _sequence_log_prob(model, prompt, tokens) / len(tokens) ** length_penalty
        assert abs(expected - float(score)) < 1e-4
    greedy_ids, greedy_score = _generate(model, np.array([prompt]), max_new_tokens=6, length_penalty=length_penalty)
    assert scores[0] >= greedy_score[0] - 1e-6  # the beam's best is at least as good as greedy


def test_generate_matches_hugging_face_greedy_decoder():
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from _helpers import random_hf_model, transfer_from_hf

    config = tiny_config(is_decoder=True, rotary_value=True, eos_token_id=None)
    hf_model = random_hf_model(transformers.RoFormerForCausalLM, config, is_decoder=True)
    ours = transfer_from_hf(hf_model, RoFormerForCausalLM(config), "RoFormerForCausalLM")
    prompt = np.array([[5, 6, 7, 8, 9], [21, 22, 23, 24, 25]], dtype="int64")
    with torch.no_grad():
        ref = hf_model.generate(torch.tensor(prompt), attention_mask=torch.ones(2, 5, dtype=torch.long),
                                max_new_tokens=8, do_sample=False, eos_token_id=None, pad_token_id=0)
    got, _ = _generate(ours, prompt, max_new_tokens=8)
    np.testing.assert_array_equal(got, ref.numpy()[:, 5:])


def test_sampling_is_reproducible_under_paddle_seed():
    model = _model()
    ids, mask = _prompts()
    options = dict(decode_strategy="sampling", top_k=20, top_p=0.9, num_return_sequences=3, max_new_tokens=8)
    paddle.seed(7)
    first = _generate(model, ids, mask, **options)
    paddle.seed(7)
    second = _generate(model, ids, mask, **options)
    paddle.seed(8)
    third = _generate(model, ids, mask, **options)
    np.testing.assert_array_equal(first[0], second[0])
    assert first[0].shape[0] == 6
    assert not np.array_equal(first[0], third[0])


def test_sampling_with_top_k_one_is_greedy():
    model = _model()
    ids, mask = _prompts()
    greedy = _generate(model, ids, mask, max_new_tokens=6)
    sampled = _generate(model, ids, mask, max_new_tokens=6, decode_strategy="sampling", top_k=1)
    np.testing.assert_array_equal(greedy[0], sampled[0])
    nucleus = _generate(model, ids, mask, max_new_tokens=6, decode_strategy="sampling", top_p=1e-6)
    np.testing.assert_array_equal(greedy[0], nucleus[0])


def test_top_k_top_p_filter():
    logits = np.log(np.array([[0.5, 0.2, 0.15, 0.1, 0.05]]))
    kept = lambda out: np.isfinite(out[0]).tolist()  # noqa: E731
    assert kept(_filter_top_k_top_p(logits, 2, 1.0)) == [True, True, False, False, False]
    assert kept(_filter_top_k_top_p(logits, 0, 0.6)) == [True, True, False, False, False]
    assert kept(_filter_top_k_top_p(logits, 0, 0.45)) == [True, False, False, False, False]
    assert kept(_filter_top_k_top_p(logits, 0, 0.86)) == [True, True, True, True, False]
    assert kept(_filter_top_k_top_p(logits, 3, 0.95)) == [True, True, True, False, False]


def test_eos_ends_a_row_and_min_new_tokens_holds_it_back():
    model = _model(eos=None)
    prompt = np.array([[5, 6, 7]])
    free, _ = _generate(model, prompt, max_new_tokens=12)
    eos = int(free[0, 2])  # make the third greedy token the end token
    ended, _ = _generate(model, prompt, max_new_tokens=12, eos_token_id=eos)
    assert ended[0].tolist() == free[0, :3].tolist()
    held, _ = _generate(model, prompt, max_new_tokens=12, eos_token_id=eos, min_new_tokens=5)
    assert eos not in held[0, :5].tolist()
    held_total, _ = _generate(model, prompt, max_new_tokens=12, eos_token_id=eos, min_length=8)
    np.testing.assert_array_equal(held, held_total)


def test_finished_rows_are_padded_and_lengths_count_the_prompt():
    model = _model(eos=None)
    ids, mask = _prompts()
    free, _ = _generate(model, ids, mask, max_new_tokens=6)
    eos = int(free[1, 1])
    out, _ = _generate(model, ids, mask, max_length=11, eos_token_id=eos, pad_token_id=0)
    assert out.shape[1] <= 6  # max_length counts the padded prompt width (5)
    row = out[1].tolist()
    stop = row.index(eos)
    assert all(t == 0 for t in row[stop + 1:])


def test_repetition_penalty_discourages_repeats():
    model = _model(seed=5, eos=None)
    prompt = np.array([[5, 6, 7]])
    plain, _ = _generate(model, prompt, max_new_tokens=12)
    penalised, _ = _generate(model, prompt, max_new_tokens=12, eos_token_id=None, repetition_penalty=50.0)
    seen = lambda row: len(row) - len(set(row))  # noqa: E731
    assert seen(plain[0].tolist()) > 0, "the plain model should repeat itself for this test to mean anything"
    assert seen(penalised[0].tolist()) < seen(plain[0].tolist())
    assert not set(penalised[0].tolist()) & {5, 6, 7}


def test_suppressed_tokens_are_never_generated():
    model = _model(eos=None)
    ids, mask = _prompts()
    free, _ = _generate(model, ids, mask, max_new_tokens=10)
    banned = sorted(set(free.ravel().tolist()))[:4]
    for strategy, extra in (("greedy_search", {}), ("beam_search", dict(num_beams=3)),
                            ("sampling", dict(num_return_sequences=4))):
        out, _ = _generate(model, ids, mask, max_new_tokens=10, decode_strategy=strategy, suppress_tokens=banned,
                           **extra)
        assert not set(out.ravel().tolist()) & set(banned), strategy
    with pytest.raises(ValueError, match="suppress_tokens"):
        _generate(model, ids, mask, suppress_tokens=[500])
    with pytest.raises(ValueError, match="suppress_tokens"):
        _generate(_model(), ids, mask, suppress_tokens=[EOS])


def test_generate_restores_training_mode():
    model = _model()
    model.train()
    _generate(model, np.array([[5, 6]]), max_new_tokens=2)
    assert model.training


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(top_p=0.0, decode_strategy="sampling"), "top_p"),
        (dict(top_p=1.5, decode_strategy="sampling"), "top_p"),
        (dict(num_beams=2, num_return_sequences=3, decode_strategy="beam_search"), "num_return_sequences"),
        (dict(max_length=4), "max_length"),
        (dict(max_length=5, max_new_tokens=3), "max_new_tokens"),
        (dict(max_new_tokens=0), "max_new_tokens"),
        (dict(min_new_tokens=9, max_new_tokens=3), "minimum"),
        (dict(decode_strategy="nucleus"), "decode_strategy"),
        (dict(temperature=0.0, decode_strategy="sampling"), "temperature"),
        (dict(num_return_sequences=2), "num_return_sequences"),
        (dict(num_beams=3), "num_beams"),
        (dict(repetition_penalty=0), "repetition_penalty"),
        (dict(eos_token_id=1000), "eos_token_id"),
    ],
)
def test_bad_arguments_name_themselves(options, message):
    model = _model()
    with pytest.raises(ValueError, match=message):
        _generate(model, np.array([[5, 6, 7, 8]]), **options)


def test_bad_prompts():
    model = _model()
    with pytest.raises(ValueError, match="vocab_size"):
        _generate(model, np.array([[5, 200]]))  # ids from a tokenizer with a larger vocabulary
    with pytest.raises(ValueError, match="attention_mask"):
        _generate(model, np.array([[5, 6], [7, 8]]), np.array([[1, 1], [0, 0]]))
    with pytest.raises(ValueError, match="shape"):
        _generate(model, np.array([5, 6, 7]))
    with pytest.raises(ValueError, match="empty"):
        _generate(model, np.zeros((1, 0), dtype="int64"))
    with pytest.raises(TypeError, match="input_ids"):
        model.generate([[5, 6], [7]])
    with pytest.raises(ValueError, match="is_decoder"):
        _model(is_decoder=True).generate(paddle.to_tensor([[5, 6]]), seq2seq=True)


# ---------------------------------------------------------------------------- similar sentences (RoFormer-Sim)

SIM_WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list("今天天气不错很好真的明是晴朗阳光日子")


@pytest.fixture(scope="module")
def sim_dir(tmp_path_factory):
    """A tiny RoFormer-Sim-shaped model (linear pooler, eos = [SEP]) and its char tokenizer, saved."""
    from paddle_roformer import RoFormerTokenizer

    root = tmp_path_factory.mktemp("sim")
    (root / "vocab.txt").write_text("\n".join(dict.fromkeys(SIM_WORDS)) + "\n", encoding="utf-8")
    tokenizer = RoFormerTokenizer(str(root / "vocab.txt"))
    paddle.seed(11)
    model = RoFormerForCausalLM(tiny_config(vocab_size=tokenizer.vocab_size, pool_act="linear",
                                            eos_token_id=tokenizer.sep_token_id, initializer_range=0.2))
    model.save_pretrained(str(root / "model"))
    tokenizer.save_pretrained(str(root / "model"))
    return str(root / "model")


def _load_sim(path):
    from paddle_roformer import RoFormerTokenizer

    return RoFormerForCausalLM.from_pretrained(path), RoFormerTokenizer.from_pretrained(path)


def test_similar_sentences_are_ranked_by_cosine_to_the_input(sim_dir, monkeypatch):
    from paddle_roformer.sim import similar_sentences
    from paddle_roformer.sentence import encode

    model, tokenizer = _load_sim(sim_dir)
    text = "今天天气不错"
    candidates = ["今天天气很好", "明天是晴朗日子", "阳光真好", "今天天气不错", "阳光真好"]  # one copy of the input, one repeat
    rows = [tokenizer(c)["input_ids"][1:] for c in candidates]  # without [CLS]: what generate returns
    width = max(len(r) for r in rows)
    fake = np.array([r + [0] * (width - len(r)) for r in rows], dtype="int64")
    seen = {}

    def fake_generate(input_ids, **options):
        seen.update(options, prompt=input_ids.numpy().tolist())
        return paddle.to_tensor(fake), paddle.zeros([len(fake)])

    monkeypatch.setattr(model, "generate", fake_generate)
    results = similar_sentences(model, tokenizer, text, n=2, candidates=5)
    assert seen["prompt"] == [tokenizer(text)["input_ids"]] and seen["num_return_sequences"] == 5
    assert seen["eos_token_id"] == tokenizer.sep_token_id and seen["decode_strategy"] == "sampling"
    never = {tokenizer.pad_token_id, tokenizer.cls_token_id, tokenizer.mask_token_id, tokenizer.unk_token_id}
    assert set(seen["suppress_tokens"]) == never | set(range(tokenizer.vocab_size, model.config.vocab_size))
    distinct = ["今天天气很好", "明天是晴朗日子", "阳光真好"]
    vectors = encode(model, [text] + distinct, tokenizer=tokenizer)
    cosines = vectors[1:] @ vectors[0]
    expected = [distinct[i] for i in np.argsort(-cosines)[:2]]
    assert [r["text"] for r in results] == expected
    np.testing.assert_allclose([r["score"] for r in results], np.sort(cosines)[::-1][:2], atol=1e-5)


def test_similar_sentences_end_to_end_is_reproducible(sim_dir):
    from paddle_roformer.sim import similar_sentences

    model, tokenizer = _load_sim(sim_dir)
    paddle.seed(3)
    first = similar_sentences(model, tokenizer, "今天天气不错", n=3, candidates=8, max_new_tokens=8)
    paddle.seed(3)
    second = similar_sentences(model, tokenizer, "今天天气不错", n=3, candidates=8, max_new_tokens=8)
    assert first == second and 1 <= len(first) <= 3
    assert [r["score"] for r in first] == sorted((r["score"] for r in first), reverse=True)
    assert all(r["text"] and r["text"] != "今天天气不错" for r in first)
    with pytest.raises(ValueError, match="text"):
        similar_sentences(model, tokenizer, "  ")
    with pytest.raises(ValueError, match="candidates"):
        similar_sentences(model, tokenizer, "今天", candidates=0)


def test_similar_refuses_a_tokenizer_of_another_model(sim_dir, tmp_path):
    from paddle_roformer import RoFormerTokenizer
    from paddle_roformer.sim import similar_sentences

    model, _ = _load_sim(sim_dir)
    (tmp_path / "vocab.txt").write_text("\n".join(SIM_WORDS + [f"w{i}" for i in range(100)]) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="vocab_size"):
        similar_sentences(model, RoFormerTokenizer(str(tmp_path / "vocab.txt")), "今天天气")


def test_cli_similar(sim_dir, capsys):
    from paddle_roformer import cli

    assert cli.main(["similar", "今天天气不错", "-n", "2", "--model", sim_dir, "--candidates", "6", "--seed", "1",
                     "--max-new-tokens", "6", "--threads", "1"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert 1 <= len(lines) <= 2 and [line["rank"] for line in lines] == list(range(1, len(lines) + 1))
    assert cli.main(["similar", "今天", "--model", sim_dir + "-missing"]) == 2
    assert "error:" in capsys.readouterr().err
