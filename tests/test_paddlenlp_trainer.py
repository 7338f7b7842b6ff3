"""Our heads inside paddlenlp.trainer.Trainer, unchanged: training, checkpoints that reload, resuming.

PaddleNLP 2.8.1's Trainer saves a model that is not a ``paddlenlp.transformers.PretrainedModel`` as
its state dict only (``model_state.pdparams``, no ``config.json``), next to the tokenizer files,
``training_args.bin``, ``optimizer.pdopt``, ``scheduler.pdparams``, ``rng_state.pth`` and
``trainer_state.json``. ``from_pretrained`` reads such a ``checkpoint-N`` directory with the config
saved once in the Trainer's ``output_dir``.
"""
import os
import shutil

import numpy as np
import paddle
import pytest

from _helpers import tiny_config

pytest.importorskip("paddlenlp.trainer")
from paddlenlp.data import DataCollatorWithPadding  # noqa: E402
from paddlenlp.trainer import Trainer, TrainingArguments  # noqa: E402

from paddle_roformer import RoFormerConfig, RoFormerForSequenceClassification, RoFormerTokenizer  # noqa: E402

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = SPECIALS + list("这个电影很好差我喜欢讨厌真的太棒糟糕了")
EXAMPLES = [("这个电影很好", 1), ("这个电影很差", 0), ("我喜欢", 1), ("我讨厌", 0),
            ("真的太棒了", 1), ("真的太糟糕了", 0), ("电影很好", 1), ("电影很差", 0)]


@pytest.fixture
def setup(tmp_path):
    (tmp_path / "vocab.txt").write_text("\n".join(WORDS) + "\n", encoding="utf-8")
    tokenizer = RoFormerTokenizer(str(tmp_path / "vocab.txt"))
    features = [dict(tokenizer(text), labels=label) for text, label in EXAMPLES]
    config = tiny_config(vocab_size=len(WORDS), num_labels=2, hidden_dropout_prob=0.0,
                         attention_probs_dropout_prob=0.0)
    return tmp_path, tokenizer, features, config


def _trainer(model, tokenizer, features, output_dir, **overrides):
    values = dict(output_dir=str(output_dir), max_steps=8, per_device_train_batch_size=4, save_steps=4,
                  evaluation_strategy="steps", eval_steps=4, logging_steps=1, seed=11, learning_rate=5e-3,
                  disable_tqdm=True, report_to=[])
    values.update(overrides)
    return Trainer(model=model, args=TrainingArguments(**values), train_dataset=features, eval_dataset=features,
                   data_collator=DataCollatorWithPadding(tokenizer), tokenizer=tokenizer)


def _logits(model, tokenizer):
    batch = tokenizer([t for t, _ in EXAMPLES], padding=True, return_attention_mask=True)
    model.eval()
    with paddle.no_grad():
        return model(paddle.to_tensor(batch["input_ids"]), token_type_ids=paddle.to_tensor(batch["token_type_ids"]),
                     attention_mask=paddle.to_tensor(batch["attention_mask"])).numpy()


def test_trainer_trains_saves_and_checkpoints_reload(setup):
    tmp_path, tokenizer, features, config = setup
    output_dir = tmp_path / "out"
    paddle.seed(3)
    model = RoFormerForSequenceClassification(config)
    model.save_pretrained(str(output_dir))  # the config the Trainer's checkpoints are read with
    modes = []
    model.register_forward_pre_hook(lambda layer, inputs: modes.append(layer.training))
    trainer = _trainer(model, tokenizer, features, output_dir)
    trainer.train()

    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert len(losses) == 8 and np.mean(losses[-2:]) < np.mean(losses[:2])  # labels in, loss first out
    assert True in modes and False in modes  # Trainer: model.train() for steps, model.eval() for evaluation
    eval_losses = [h["eval_loss"] for h in trainer.state.log_history if "eval_loss" in h]
    assert len(eval_losses) == 2 and eval_losses[1] < eval_losses[0]

    final = output_dir / "checkpoint-8"
    assert {"model_state.pdparams", "trainer_state.json", "vocab.txt"} <= set(os.listdir(final))
    assert "config.json" not in os.listdir(final)  # what the Trainer writes for a non-PaddleNLP model
    reloaded = RoFormerForSequenceClassification.from_pretrained(str(final))
    trained = _logits(model, tokenizer)
    np.testing.assert_array_equal(_logits(reloaded, tokenizer), trained)
    earlier = RoFormerForSequenceClassification.from_pretrained(str(output_dir / "checkpoint-4"))
    assert not np.allclose(_logits(earlier, tokenizer), trained)
    assert RoFormerTokenizer.from_pretrained(str(final)).get_vocab() == tokenizer.get_vocab()

    from paddle_roformer import pipeline  # a checkpoint directory serves a pipeline as it is

    predicted = pipeline("text-classification", model=str(final))([t for t, _ in EXAMPLES], top_k=None)
    probs = np.exp(trained) / np.exp(trained).sum(axis=1, keepdims=True)
    for row, result in zip(probs, predicted):
        np.testing.assert_allclose([r["score"] for r in sorted(result, key=lambda r: r["label"])], row, atol=1e-5)

    trainer.save_model()  # weights into output_dir, beside the config saved before training
    np.testing.assert_array_equal(
        _logits(RoFormerForSequenceClassification.from_pretrained(str(output_dir)), tokenizer), trained)


def test_resume_from_checkpoint_matches_the_uninterrupted_run(setup):
    tmp_path, tokenizer, features, config = setup
    # Optimizer states are keyed by Paddle's generated parameter names; a fresh name scope per run
    # gives both runs the names a new process would give them. One batch of every example per step:
    # the Trainer's shuffling after a resume is its own business, the weights are ours.
    with paddle.utils.unique_name.guard():
        paddle.seed(3)
        model = RoFormerForSequenceClassification(config)
        model.save_pretrained(str(tmp_path / "a"))
        _trainer(model, tokenizer, features, tmp_path / "a", per_device_train_batch_size=8).train()
    uninterrupted = _logits(model, tokenizer)

    shutil.copytree(tmp_path / "a" / "checkpoint-4", tmp_path / "b" / "checkpoint-4")
    with paddle.utils.unique_name.guard():
        paddle.seed(99)  # different initial weights: resuming must load the checkpoint's
        fresh = RoFormerForSequenceClassification(config)
        steps = []
        fresh.register_forward_pre_hook(lambda layer, inputs: steps.append(1) if layer.training else None)
        resumed = _trainer(fresh, tokenizer, features, tmp_path / "b", per_device_train_batch_size=8)
        # a path: PaddleNLP 2.8.1's resume_from_checkpoint=True fails inside its own optimizer loading
        resumed.train(resume_from_checkpoint=str(tmp_path / "b" / "checkpoint-4"))
    assert resumed.state.global_step == 8
    assert len(steps) == 4  # only steps 5..8 ran
    np.testing.assert_allclose(_logits(fresh, tokenizer), uninterrupted, atol=1e-5)


def test_checkpoint_without_any_config_is_a_clear_error(setup):
    tmp_path, tokenizer, features, config = setup
    model = RoFormerForSequenceClassification(config)
    _trainer(model, tokenizer, features, tmp_path / "out", max_steps=2, save_steps=2, eval_steps=2).train()
    checkpoint = str(tmp_path / "out" / "checkpoint-2")
    with pytest.raises(FileNotFoundError, match=r"save_pretrained\(output_dir\)"):
        RoFormerForSequenceClassification.from_pretrained(checkpoint)
    reloaded = RoFormerForSequenceClassification.from_pretrained(checkpoint, config=config)  # PaddleNLP's keyword
    np.testing.assert_array_equal(_logits(reloaded, tokenizer), _logits(model, tokenizer))
    with pytest.raises(TypeError, match="config must be a RoFormerConfig"):
        RoFormerForSequenceClassification.from_pretrained(checkpoint, config=config.to_dict())


def test_save_pretrained_accepts_what_paddlenlp_passes(tmp_path):
    model = RoFormerForSequenceClassification(tiny_config(num_labels=2))
    # exactly the keywords Trainer._save passes to a PaddleNLP model
    model.save_pretrained(str(tmp_path / "a"), merge_tensor_parallel=False, variant=None, save_function=paddle.save,
                          is_main_process=True, max_shard_size="1024GB")
    model.save_pretrained(str(tmp_path / "b"), variant="", shard_format="naive", merge_tensor_parallel=True,
                          config_to_save=model.config.update(id2label={0: "neg", 1: "pos"}))
    assert RoFormerConfig.from_pretrained(str(tmp_path / "b")).id2label == {0: "neg", 1: "pos"}
    for path in ("a", "b"):
        again = RoFormerForSequenceClassification.from_pretrained(str(tmp_path / path))
        for key, value in model.state_dict().items():
            np.testing.assert_array_equal(again.state_dict()[key].numpy(), value.numpy())
    model.save_pretrained(str(tmp_path / "c"), is_main_process=False)
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize("kwargs, name", [
    (dict(variant="tp01"), "variant"),
    (dict(save_function=lambda obj, path: None), "save_function"),
    (dict(shard_format="pipeline"), "shard_format"),
    (dict(config_to_save={"hidden_size": 32}), "config_to_save"),
    (dict(push_to_hub=True), "push_to_hub"),
])
def test_save_pretrained_refuses_what_it_cannot_honour(tmp_path, kwargs, name):
    model = RoFormerForSequenceClassification(tiny_config(num_labels=2))
    with pytest.raises(ValueError, match=name):
        model.save_pretrained(str(tmp_path / "x"), **kwargs)
    assert not (tmp_path / "x").exists()


def test_from_pretrained_returns_eval_mode_where_paddlenlp_returns_train_mode(tmp_path):
    """The deliberate difference (docs/pipeline.md): ours is ready for inference; PaddleNLP's is not."""
    import paddlenlp.transformers as nlp

    ours = RoFormerForSequenceClassification(tiny_config(num_labels=2, type_vocab_size=2))
    ours.save_pretrained(str(tmp_path))
    assert not RoFormerForSequenceClassification.from_pretrained(str(tmp_path)).training
    theirs = nlp.RoFormerForSequenceClassification.from_pretrained(str(tmp_path))
    assert theirs.training


def test_token_classification_trains_and_its_checkpoint_tags_entities(tmp_path):
    """NER end to end: DataCollatorForTokenClassification, Trainer, then pipeline() on the checkpoint."""
    from paddlenlp.data import DataCollatorForTokenClassification

    from paddle_roformer import RoFormerForTokenClassification, pipeline

    (tmp_path / "vocab.txt").write_text("\n".join(SPECIALS + list("张三李四在北京上海工作")) + "\n", encoding="utf-8")
    tokenizer = RoFormerTokenizer(str(tmp_path / "vocab.txt"))
    label_ids = {"O": 0, "B-PER": 1, "I-PER": 2, "B-LOC": 3, "I-LOC": 4}
    tagged = [("张三在北京工作", "B-PER I-PER O B-LOC I-LOC O O"), ("李四在上海", "B-PER I-PER O B-LOC I-LOC")]
    features = [dict(tokenizer(text), labels=[-100] + [label_ids[t] for t in tags.split()] + [-100])
                for text, tags in tagged] * 4
    config = tiny_config(vocab_size=tokenizer.vocab_size, id2label={v: k for k, v in label_ids.items()},
                         hidden_dropout_prob=0.0)
    model = RoFormerForTokenClassification(config)
    model.save_pretrained(str(tmp_path / "out"))
    args = TrainingArguments(output_dir=str(tmp_path / "out"), max_steps=40, per_device_train_batch_size=8,
                             save_steps=40, logging_steps=10, learning_rate=1e-2, seed=5, disable_tqdm=True,
                             report_to=[])
    trainer = Trainer(model=model, args=args, train_dataset=features, tokenizer=tokenizer,
                      data_collator=DataCollatorForTokenClassification(tokenizer))  # pads labels with -100
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert losses[-1] < losses[0] / 10

    entities = pipeline("token-classification", model=str(tmp_path / "out" / "checkpoint-40"))(
        ["张三在北京工作", "李四在上海"])
    assert [[(e["entity_group"], e["word"], e["start"], e["end"]) for e in row] for row in entities] == [
        [("PER", "张三", 0, 2), ("LOC", "北京", 3, 5)], [("PER", "李四", 0, 2), ("LOC", "上海", 3, 5)]]
