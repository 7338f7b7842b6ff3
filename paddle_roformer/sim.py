"""RoFormer-Sim's commands and paraphrases: ``similar_sentences`` and the ``embed``, ``search`` and
``similar`` subcommands, over ``paddle_roformer.sentence`` (vectors, index) and
``paddle_roformer.generation`` (decoding).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from .sentence import POOLINGS, SemanticIndex, _check_positive_int, encode, similarity
from .utils import atomic_write


# ---------------------------------------------------------------------------- CLI: `embed` and `search`


def _load_model_and_tokenizer(model: str, tokenizer: Optional[str]):
    """(RoFormerModel, RoFormerTokenizer) through the feature-extraction pipeline's loader."""
    from .pipelines import pipeline

    pipe = pipeline("feature-extraction", model=model, tokenizer=tokenizer)
    return pipe.model, pipe.tokenizer


def _model_reference(model: str) -> str:
    """What the index records: an absolute path for a directory, else the registered name as given."""
    return os.path.abspath(model) if os.path.isdir(model) else model


def _read_input_texts(source: str) -> Tuple[List[str], int]:
    """(non-empty lines, number of empty lines skipped) of a file or stdin ("-")."""
    if source == "-":
        lines = sys.stdin.read().splitlines()
    else:
        if not os.path.isfile(source):
            raise FileNotFoundError(f"input file not found: {source}")
        with open(source, encoding="utf-8") as f:
            lines = f.read().splitlines()
    texts = [line for line in lines if line.strip()]
    return texts, len(lines) - len(texts)


def _set_threads(threads: Optional[int]) -> None:
    if threads is not None:
        from .runtime import set_num_threads

        set_num_threads(threads)


def add_embed_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="text file, one text per line (empty lines are skipped); - for stdin")
    parser.add_argument("--model", required=True, help="model directory or registered name")
    parser.add_argument("--tokenizer", help="tokenizer directory or name (default: --model)")
    parser.add_argument("--output", help="embeddings .npy file (default: INPUT with suffix .npy)")
    parser.add_argument("--index", help="also save a SemanticIndex (embeddings, texts, model) to this directory")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --index directory")
    parser.add_argument("--pooling", default="pooler", choices=POOLINGS, help="sentence vector (default: pooler)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-seq-len", type=int, help="truncate longer texts (default: the tokenizer's limit)")
    parser.add_argument("--no-normalize", action="store_true", help="keep the raw vectors (default: unit length)")
    parser.add_argument("--threads", type=int, help="CPU threads for Paddle (default: OMP_NUM_THREADS or every core)")
    parser.add_argument("--backend", default="eager", choices=("eager", "paddle", "onnxruntime"),
                        help="eager Paddle (default), or the exported model run by Paddle Inference or ONNX Runtime "
                             "(paddle_roformer.compile: faster for long files, a few seconds to start)")


def _embed(args: argparse.Namespace) -> Tuple[str, np.ndarray, int]:
    if args.input == "-" and not args.output:
        raise ValueError("--output is needed when the texts come from stdin")
    output = args.output or os.path.splitext(args.input)[0] + ".npy"
    texts, skipped = _read_input_texts(args.input)
    if not texts:
        raise ValueError(f"no text to embed in {'stdin' if args.input == '-' else args.input}")
    _set_threads(args.threads)
    model, tokenizer = _load_model_and_tokenizer(args.model, args.tokenizer)
    if args.backend != "eager":
        from .inference import compile

        model = compile(model, backend=args.backend, threads=args.threads)
    options = {"pooling": args.pooling, "max_seq_len": args.max_seq_len}
    embeddings = encode(model, texts, tokenizer=tokenizer, batch_size=args.batch_size,
                        normalize=not args.no_normalize, **options)
    atomic_write(output, lambda f: np.save(f, embeddings, allow_pickle=False))
    if args.index:
        meta = {"model": _model_reference(args.model), "encode": options}
        if args.tokenizer:
            meta["tokenizer"] = _model_reference(args.tokenizer)
        SemanticIndex(embeddings, texts=texts, metadata=meta).save(args.index, overwrite=args.overwrite)
    return output, embeddings, skipped


def run_embed(args: argparse.Namespace) -> int:
    try:
        output, embeddings, skipped = _embed(args)
    except (ValueError, TypeError, FileNotFoundError, FileExistsError, ImportError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    rows, dim = embeddings.shape
    note = f" ({skipped} empty line{'s' if skipped != 1 else ''} skipped)" if skipped else ""
    print(f"embedded {rows} texts{note} -> {output} ({rows} x {dim} float32)", file=sys.stderr)
    if args.index:
        print(f"index saved to {args.index}", file=sys.stderr)
    return 0


def add_search_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("index", help="directory written by `embed --index` or SemanticIndex.save")
    parser.add_argument("query", help="the text to search for")
    parser.add_argument("-k", "--top-k", type=int, default=5, help="hits to print (default 5)")
    parser.add_argument("--model", help="model directory or name (default: the one recorded in the index)")
    parser.add_argument("--tokenizer", help="tokenizer directory or name (default: the index's, else --model)")
    parser.add_argument("--threads", type=int, help="CPU threads for Paddle (default: OMP_NUM_THREADS or every core)")


def _search(args: argparse.Namespace) -> List[Dict[str, Any]]:
    index = SemanticIndex.load(args.index)
    model_ref = args.model or index.metadata.get("model")
    if not model_ref:
        raise ValueError(f"the index {args.index} records no model; pass --model")
    tokenizer_ref = args.tokenizer or (None if args.model else index.metadata.get("tokenizer"))
    _set_threads(args.threads)
    model, tokenizer = _load_model_and_tokenizer(model_ref, tokenizer_ref)
    return index.search(args.query, top_k=args.top_k, model=model, tokenizer=tokenizer)


def run_search(args: argparse.Namespace) -> int:
    try:
        hits = _search(args)
    except (ValueError, TypeError, FileNotFoundError, ImportError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for rank, hit in enumerate(hits, 1):
        print(json.dumps({"rank": rank, "id": hit["id"], "score": round(hit["score"], 6), "text": hit["text"]},
                         ensure_ascii=False))
    return 0


# ---------------------------------------------------------------------------- RoFormer-Sim: similar sentences


def similar_sentences(model, tokenizer, text: str, n: int = 5, candidates: int = 20, top_p: float = 0.95,
                      top_k: int = 0, temperature: float = 1.0, max_new_tokens: Optional[int] = None,
                      pooling: str = "pooler") -> List[dict]:
    """Sentences similar to ``text``: sample ``candidates`` paraphrases, rank them by embedding similarity.

    The RoFormer-Sim recipe: the model generates from ``[CLS] text [SEP]`` (UniLM mask, stop at
    [SEP]) with nucleus sampling; the distinct candidates other than ``text`` are embedded with
    the same model's encoder (``pooling``, the sim models' linear pooler by default), and the
    ``n`` closest to ``text`` by cosine are returned as ``{"text", "score"}``, best first.
    """
    import paddle

    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"text must be a non-empty string, got {text!r}")
    _check_positive_int("n", n)
    _check_positive_int("candidates", candidates)
    if tokenizer.vocab_size > model.config.vocab_size:
        raise ValueError(f"the tokenizer's vocab_size ({tokenizer.vocab_size}) exceeds the model's "
                         f"config.vocab_size ({model.config.vocab_size}): they do not belong together")
    source = tokenizer(text)
    prompt = np.asarray([source["input_ids"]], dtype="int64")
    if max_new_tokens is None:
        max_new_tokens = min(max(16, 2 * prompt.shape[1]), 128)
    ids, _ = model.generate(
        paddle.to_tensor(prompt), token_type_ids=paddle.to_tensor(np.zeros_like(prompt)),
        decode_strategy="sampling", top_p=top_p, top_k=top_k, temperature=temperature,
        num_return_sequences=candidates, max_new_tokens=max_new_tokens, eos_token_id=tokenizer.sep_token_id,
        pad_token_id=tokenizer.pad_token_id, seq2seq=True, suppress_tokens=_never_generated(tokenizer, model),
    )
    texts = []
    for row in ids.numpy().tolist():
        decoded = tokenizer.decode(row, skip_special_tokens=True).strip()
        if decoded and decoded != text.strip() and decoded not in texts:
            texts.append(decoded)
    if not texts:
        return []
    vectors = encode(model, [text] + texts, tokenizer=tokenizer, pooling=pooling, normalize=True)
    scores = similarity(vectors[1:], vectors[0])
    order = np.argsort(-scores, kind="stable")[:n]
    return [{"text": texts[i], "score": float(scores[i])} for i in order]


def _never_generated(tokenizer, model) -> List[int]:
    """Special tokens other than [SEP] (which ends a sentence), and embedding rows with no token."""
    specials = [i for i in tokenizer.all_special_ids if i != tokenizer.sep_token_id]
    return sorted(set(specials) | set(range(tokenizer.vocab_size, model.config.vocab_size)))


def add_similar_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", help="the sentence to find paraphrases of")
    parser.add_argument("-n", type=int, default=5, help="sentences to print (default 5)")
    parser.add_argument("--model", required=True, help="a RoFormer-Sim model directory or registered name")
    parser.add_argument("--tokenizer", help="tokenizer directory or name (default: --model)")
    parser.add_argument("--candidates", type=int, default=20, help="sampled candidates to rank (default 20)")
    parser.add_argument("--top-p", type=float, default=0.95, help="nucleus sampling mass (default 0.95)")
    parser.add_argument("--top-k", type=int, default=0, help="also keep only the k likeliest tokens (0: off)")
    parser.add_argument("--max-new-tokens", type=int, help="longest candidate (default: twice the input, 16..128)")
    parser.add_argument("--pooling", default="pooler", choices=("pooler", "cls", "mean"))
    parser.add_argument("--seed", type=int, help="paddle.seed for reproducible sampling")
    parser.add_argument("--threads", type=int, help="CPU threads (default: OMP_NUM_THREADS, else every core)")


def run_similar(args: argparse.Namespace) -> int:
    import paddle

    from .heads import RoFormerForCausalLM
    from .runtime import set_num_threads
    from .tokenizer import RoFormerTokenizer

    if args.threads is not None:
        set_num_threads(args.threads)
    if args.seed is not None:
        paddle.seed(args.seed)
    try:
        model = RoFormerForCausalLM.from_pretrained(args.model)
        tokenizer = RoFormerTokenizer.from_pretrained(args.tokenizer or args.model)
        results = similar_sentences(model, tokenizer, args.text, n=args.n, candidates=args.candidates,
                                    top_p=args.top_p, top_k=args.top_k, max_new_tokens=args.max_new_tokens,
                                    pooling=args.pooling)
    except (ValueError, TypeError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for rank, item in enumerate(results, 1):
        print(json.dumps({"rank": rank, "score": round(item["score"], 6), "text": item["text"]}, ensure_ascii=False))
    return 0
