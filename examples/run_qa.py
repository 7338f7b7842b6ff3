"""Fine-tune RoFormer for extractive question answering (SQuAD layout: DuReader-robust, CMRC2018).

    python examples/run_qa.py --train_file train.json --dev_file dev.json --output_dir output/qa
    python examples/run_qa.py --dataset dureader_robust   # PaddleNLP's load_dataset (downloads)

Data: SQuAD-layout JSON files (data -> paragraphs -> context, qas -> question, answers); there is no
built-in corpus, so --train_file (or --dataset) is required. Contexts longer than --max_seq_len are
cut into windows --doc_stride tokens apart. Where the model's files cannot be fetched (offline), the
architecture of --model_name_or_path is trained from random weights with a character vocabulary
built from the training texts. Metrics: exact match and F1 (CMRC2018's definitions, fractions).
Writes output_dir/best and output_dir/metrics.json.
"""
import argparse

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--model_name_or_path", default="roformer-chinese-char-small", help="a registered name or a directory")
parser.add_argument("--train_file", default=None, help="required unless --dataset")
parser.add_argument("--dev_file", default=None)
parser.add_argument("--test_file", default=None)
parser.add_argument("--dataset", default=None, help="a PaddleNLP dataset instead of files, e.g. dureader_robust")
parser.add_argument("--output_dir", default="output/qa")
parser.add_argument("--max_seq_len", type=int, default=384)
parser.add_argument("--doc_stride", type=int, default=128, help="tokens between the starts of two context windows")
parser.add_argument("--batch_size", type=int, default=16)
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
if not (args.dataset or args.train_file):
    parser.error("--train_file or --dataset is required")

import paddle_roformer  # noqa: E402

paddle_roformer.set_num_threads()  # every core, or OMP_NUM_THREADS: Paddle would use one otherwise

import paddle  # noqa: E402

from paddle_roformer.finetune import fine_tune  # noqa: E402
from paddle_roformer.tasks import get_task, load_paddlenlp  # noqa: E402
from paddle_roformer.trainer import TrainingConfig  # noqa: E402

paddle.seed(args.seed)
task = get_task("qa")

# Data: local files, or a PaddleNLP dataset with --dataset (train, dev and the test split if it
# has labels); this task has no built-in corpus.
files = {k: v for k, v in (("train", args.train_file), ("dev", args.dev_file), ("test", args.test_file)) if v}
splits = load_paddlenlp(task.name, dataset=args.dataset) if args.dataset else task.load(files)
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
result = fine_tune(task, splits, {"name_or_path": args.model_name_or_path}, config, max_seq_len=args.max_seq_len,
                   stride=args.doc_stride)
