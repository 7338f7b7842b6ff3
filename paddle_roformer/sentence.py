"""Sentence embeddings (``encode``), cosine ``similarity`` and ``SemanticIndex`` (exact nearest neighbours).

RoFormer-Sim models embed a sentence with their pooler output (a linear pooler over [CLS]);
``encode`` also offers the [CLS] vector and the mean over the real tokens. Texts are sorted by
length and run in batches, so padding stays small; rows come back in the input order and equal
one-by-one encoding. ``SemanticIndex`` keeps unit-norm float32 rows and answers with the ids,
scores (cosine similarity) and texts of the nearest rows, by a numpy matrix product or, for big
indexes, faiss. It saves to a directory of safe formats (``.npy`` without pickle, JSON), written
atomically. The CLI's ``embed`` and ``search`` subcommands are defined at the end.
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import sys
from types import SimpleNamespace
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .utils import atomic_write, atomic_write_text, closest_match, fsync_directory

__all__ = ["encode", "similarity", "SemanticIndex", "POOLINGS"]

POOLINGS = ("pooler", "cls", "mean")
BACKENDS = ("auto", "exact", "faiss")
FAISS_MIN_ROWS = 100_000  # "auto" uses faiss above this many rows; below, numpy is as fast
PROGRESS_MIN_TEXTS = 1000  # show_progress=None shows a bar from this many texts on (on a terminal)
SCORE_BLOCK = 1 << 23  # exact search: scores per chunk of queries (32 MB of float32, and as much for np.partition)
FORMAT_VERSION = 1
EMBEDDINGS_NAME, TEXTS_NAME, INDEX_NAME = "embeddings.npy", "texts.json", "index.json"
ENCODE_KEYS = ("pooling", "max_seq_len")  # encode options kept in the metadata, so queries are embedded alike


# ---------------------------------------------------------------------------- encode


def _is_backbone(layer) -> bool:
    # By its parts rather than its class: modeling imports this module (RoFormerModel.encode).
    return all(hasattr(layer, part) for part in ("embeddings", "encoder", "pooler"))


def _is_compiled_backbone(model) -> bool:
    # paddle_roformer.compile(RoFormerModel): the same call, run by Paddle Inference or ONNX Runtime
    return getattr(model, "model_class", None) == "RoFormerModel" and hasattr(model, "predictor")


def _backbone(model):
    """The ``RoFormerModel`` of ``model``: itself, a head's ``.roformer``, or a compiled RoFormerModel."""
    if _is_backbone(model) or _is_compiled_backbone(model):
        return model
    backbone = getattr(model, "roformer", None)
    if backbone is not None and _is_backbone(backbone):
        return backbone
    raise TypeError("model must be a RoFormerModel, a head with a .roformer backbone or "
                    f"paddle_roformer.compile(RoFormerModel), got {type(model).__name__}")


def _check_texts(texts) -> List[str]:
    """``texts`` as a list of non-empty strings; a bare str is one text."""
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, (list, tuple)):
        raise TypeError(f"texts must be a str or a list of str, got {type(texts).__name__}")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}] must be a str, got {type(text).__name__}")
        if not text.strip():
            raise ValueError(f"texts[{i}] is empty or only whitespace: {text!r}")
    return list(texts)


def _check_positive_int(name: str, value, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _check_pooling(pooling) -> None:
    if pooling not in POOLINGS:
        close = closest_match(str(pooling), POOLINGS)
        hint = f" Did you mean {close!r}?" if close else ""
        raise ValueError(f"pooling must be one of {list(POOLINGS)}, got {pooling!r}.{hint}")


def _resolve_max_seq_len(max_seq_len, tokenizer) -> Optional[int]:
    """The truncation length: ``max_seq_len``, else the tokenizer's ``model_max_length`` (None: no limit)."""
    from .encoding import NO_LIMIT

    if max_seq_len is None:
        limit = getattr(tokenizer, "model_max_length", NO_LIMIT)
        return None if limit >= NO_LIMIT else int(limit)
    _check_positive_int("max_seq_len", max_seq_len, minimum=3)  # [CLS], one token, [SEP]
    return int(max_seq_len)


def _show_progress(show_progress, count: int) -> bool:
    if show_progress is None:
        return count > PROGRESS_MIN_TEXTS and sys.stderr.isatty()
    return bool(show_progress)


@contextlib.contextmanager
def _eval_mode(layer):
    """Eval mode inside the block; every sublayer's own train/eval mode is restored after."""
    modes = [(sub, sub.training) for sub in layer.sublayers(include_self=True)]
    layer.eval()
    try:
        yield
    finally:
        for sub, training in modes:
            sub.training = training


def _pool(output, mask, pooling: str):
    """(B, hidden) sentence vectors from one forward's output; ``mask`` is (B, T) with 1 on real tokens."""
    if pooling == "pooler":
        return output.pooler_output
    hidden = output.last_hidden_state  # (B, T, C)
    if pooling == "cls":
        return hidden[:, 0]
    weights = mask.astype(hidden.dtype).unsqueeze(-1)  # (B, T, 1)
    return (hidden * weights).sum(axis=1) / weights.sum(axis=1).clip(min=1.0)


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length; zero rows stay zero (no NaN)."""
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms).astype(vectors.dtype)


def _encode_batch(backbone, tokenizer, ids: List[List[int]], types: List[List[int]], pooling: str) -> np.ndarray:
    """(B, hidden) float32 vectors of one batch of token ids, padded to its longest."""
    import paddle

    batch = tokenizer.pad([{"input_ids": i, "token_type_ids": t} for i, t in zip(ids, types)],
                          padding=True, return_attention_mask=True)
    tensors = {k: paddle.to_tensor(np.asarray(batch[k], dtype="int64"))
               for k in ("input_ids", "token_type_ids", "attention_mask")}
    if _is_compiled_backbone(backbone):
        sequence, pooled = backbone(tensors["input_ids"], tensors["token_type_ids"], tensors["attention_mask"])[:2]
        output = SimpleNamespace(last_hidden_state=sequence, pooler_output=pooled)
    else:
        output = backbone(**tensors, return_dict=True)
    return _pool(output, tensors["attention_mask"], pooling).astype("float32").numpy()


def encode(model, texts: Union[str, Sequence[str]], tokenizer=None, batch_size: int = 32, pooling: str = "pooler",
           normalize: bool = True, max_seq_len: Optional[int] = None,
           show_progress: Optional[bool] = None) -> np.ndarray:
    """Sentence embeddings of ``texts``: a float32 array (n, hidden), rows in the input order.

    ``pooling``: "pooler" (the pooler output, RoFormer-Sim's sentence vector), "cls" (the last
    layer's [CLS] vector) or "mean" (the mean of the last layer over the real tokens).
    ``max_seq_len`` (default: the tokenizer's ``model_max_length``) truncates longer texts.
    ``model`` may also be ``paddle_roformer.compile(RoFormerModel)``: the same vectors (within
    1e-4) from Paddle Inference or ONNX Runtime, faster on CPU for large lists.
    """
    import paddle

    if tokenizer is None:
        raise ValueError("encode needs tokenizer=... (a RoFormerTokenizer for the model's vocabulary)")
    if isinstance(tokenizer, (str, os.PathLike)):
        raise TypeError(f"tokenizer must be a tokenizer object, got the path {os.fspath(tokenizer)!r}; "
                        f"load it with RoFormerTokenizer.from_pretrained")
    backbone = _backbone(model)
    texts = _check_texts(texts)
    _check_positive_int("batch_size", batch_size)
    _check_pooling(pooling)
    compiled = _is_compiled_backbone(backbone)
    config = backbone.predictor.config if compiled else backbone.config
    if tokenizer.vocab_size > config.vocab_size:
        raise ValueError(f"the tokenizer's vocab_size ({tokenizer.vocab_size}) exceeds the model's config.vocab_size "
                         f"({config.vocab_size}): ids past the embedding table would fail; use the model's tokenizer")
    max_len = _resolve_max_seq_len(max_seq_len, tokenizer)
    out = np.zeros((len(texts), config.hidden_size), dtype="float32")
    if not texts:
        return out
    encoded = tokenizer(texts, max_length=max_len, truncation=max_len is not None)
    ids, types = encoded["input_ids"], encoded["token_type_ids"]
    order = sorted(range(len(texts)), key=lambda i: -len(ids[i]))  # longest first: the peak memory shows at once
    from tqdm.auto import tqdm

    with (contextlib.nullcontext() if compiled else _eval_mode(backbone)), paddle.no_grad(), \
            tqdm(total=len(texts), unit="text", disable=not _show_progress(show_progress, len(texts))) as bar:
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            out[rows] = _encode_batch(backbone, tokenizer, [ids[i] for i in rows], [types[i] for i in rows], pooling)
            bar.update(len(rows))
    return normalize_rows(out) if normalize else out


# ---------------------------------------------------------------------------- similarity


def _as_vectors(name: str, value) -> np.ndarray:
    array = np.asarray(value)
    if array.ndim not in (1, 2) or array.shape[-1] == 0:
        raise ValueError(f"{name} must be a vector (d,) or a matrix (n, d) with d >= 1, got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    return array.astype(np.promote_types(array.dtype, np.float32), copy=False)


def similarity(a, b) -> Union[float, np.ndarray]:
    """Cosine similarity: a float for two vectors, (n,) for a matrix and a vector, (n, m) for two matrices.

    A zero vector has similarity 0 with everything (not NaN).
    """
    a, b = _as_vectors("a", a), _as_vectors("b", b)
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"a and b must have the same last dimension, got shapes {a.shape} and {b.shape}")
    scores = normalize_rows(a) @ normalize_rows(b).T
    return float(scores) if scores.ndim == 0 else scores


# ---------------------------------------------------------------------------- SemanticIndex


def _check_embeddings(name: str, embeddings, dim: Optional[int] = None) -> np.ndarray:
    array = np.asarray(embeddings)
    if array.ndim != 2 or array.shape[1] == 0:
        raise ValueError(f"{name} must be a 2-D array (n, d) with d >= 1, got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.floating):
        raise TypeError(f"{name} must be a float array, got dtype {array.dtype}")
    if dim is not None and array.shape[1] != dim:
        raise ValueError(f"{name} has width {array.shape[1]}, but the index holds vectors of width {dim}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return np.ascontiguousarray(array, dtype="float32")


def _check_index_texts(texts, count: int) -> List[Optional[str]]:
    if texts is None:
        return [None] * count
    if isinstance(texts, str) or not isinstance(texts, (list, tuple)):
        raise TypeError(f"texts must be a list of str (one per row) or None, got {type(texts).__name__}")
    if len(texts) != count:
        raise ValueError(f"texts has {len(texts)} entries but embeddings has {count} rows")
    for i, text in enumerate(texts):
        if text is not None and not isinstance(text, str):
            raise TypeError(f"texts[{i}] must be a str or None, got {type(text).__name__}")
    return list(texts)


def _check_metadata(metadata) -> Dict[str, Any]:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise TypeError(f"metadata must be a dict, got {type(metadata).__name__}")
    try:
        return json.loads(json.dumps(metadata, ensure_ascii=False))  # a JSON-safe copy
    except (TypeError, ValueError) as err:
        raise TypeError(f"metadata must be JSON-serialisable (it is saved as JSON): {err}") from None


def _import_faiss():
    try:
        import faiss
    except ImportError:
        raise ImportError("backend='faiss' needs the faiss package: pip install faiss-cpu") from None
    return faiss


def _faiss_available() -> bool:
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def _top_k_exact(queries: np.ndarray, rows: np.ndarray, k: int) -> Tuple[np.ndarray, np.ndarray]:
    """(ids, scores), each (q, k): the k best rows per query, by inner product, in chunks of queries."""
    ids = np.empty((len(queries), k), dtype="int64")
    scores = np.empty((len(queries), k), dtype="float32")
    n = len(rows)
    chunk = max(1, SCORE_BLOCK // max(n, 1))
    for start in range(0, len(queries), chunk):
        block = queries[start:start + chunk] @ rows.T  # (c, n)
        # the k-th best score per query; np.partition copies floats, argpartition would need int64 ids
        thresholds = np.partition(block, n - k, axis=1)[:, n - k] if k < n else block.min(axis=1)
        for r, row in enumerate(block):
            ids[start + r], scores[start + r] = _ranked(row, thresholds[r], k)
    return ids, scores


def _ranked(row: np.ndarray, threshold: float, k: int) -> Tuple[np.ndarray, np.ndarray]:
    """The k best of ``row`` by score descending, ties by id (every row tied with the k-th is a candidate)."""
    candidates = np.flatnonzero(row >= threshold)
    order = np.lexsort((candidates, -row[candidates]))[:k]
    return candidates[order], row[candidates[order]]


class SemanticIndex:
    """Exact nearest-neighbour search by cosine similarity over unit-norm float32 rows.

    ``backend``: "exact" (numpy), "faiss" (``faiss.IndexFlatIP``, also exact) or "auto" (faiss
    when it is installed and the index has more than 100,000 rows, else numpy).
    """

    def __init__(self, embeddings, texts: Optional[Sequence[Optional[str]]] = None,
                 metadata: Optional[Dict[str, Any]] = None, backend: str = "auto"):
        rows = _check_embeddings("embeddings", embeddings)
        self._setup(normalize_rows(rows), _check_index_texts(texts, len(rows)), _check_metadata(metadata), backend)

    def _setup(self, rows: np.ndarray, texts: List[Optional[str]], metadata: Dict[str, Any], backend: str) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {list(BACKENDS)}, got {backend!r}")
        if backend == "faiss":
            _import_faiss()
        self._rows, self._texts, self.metadata, self.backend = rows, texts, metadata, backend
        self._faiss_index = None
        self._model = self._tokenizer = None

    @classmethod
    def build(cls, texts: Sequence[str], model, tokenizer, model_name: Optional[str] = None,
              metadata: Optional[Dict[str, Any]] = None, backend: str = "auto", **encode_options) -> "SemanticIndex":
        """Encode ``texts`` with ``model`` and index them; queries given as text are embedded the same way.

        ``encode_options`` go to ``encode``; ``pooling`` and ``max_seq_len`` are kept
        in ``metadata["encode"]``, and ``model_name`` (a directory or registered name) in
        ``metadata["model"]``, so a later process can embed queries with the same model.
        """
        texts = _check_texts(texts)
        embeddings = encode(model, texts, tokenizer=tokenizer, **encode_options)
        meta = _check_metadata(metadata)
        meta["encode"] = {key: encode_options[key] for key in ENCODE_KEYS if key in encode_options}
        if model_name is not None:
            meta["model"] = os.fspath(model_name)
        index = cls(embeddings, texts=texts, metadata=meta, backend=backend)
        index._model, index._tokenizer = model, tokenizer
        return index

    def __len__(self) -> int:
        return len(self._rows)

    def __repr__(self) -> str:
        return f"SemanticIndex(rows={len(self)}, dim={self.dim}, backend={self.backend!r})"

    @property
    def dim(self) -> int:
        return int(self._rows.shape[1])

    @property
    def embeddings(self) -> np.ndarray:
        """The unit-norm rows (a read-only view)."""
        view = self._rows.view()
        view.flags.writeable = False
        return view

    @property
    def texts(self) -> List[Optional[str]]:
        return list(self._texts)

    def add(self, embeddings, texts: Optional[Sequence[Optional[str]]] = None) -> None:
        """Append rows (normalised) and their texts; ids continue from ``len(self)``."""
        rows = _check_embeddings("embeddings", embeddings, self.dim)
        new_texts = _check_index_texts(texts, len(rows))
        self._rows = np.concatenate([self._rows, normalize_rows(rows)])
        self._texts += new_texts
        self._faiss_index = None

    # ------------------------------------------------------------------ search
    def _uses_faiss(self) -> bool:
        if self.backend == "auto":
            return len(self) > FAISS_MIN_ROWS and _faiss_available()
        return self.backend == "faiss"

    def _embed_queries(self, texts: List[str], model, tokenizer) -> np.ndarray:
        model = model if model is not None else self._model
        tokenizer = tokenizer if tokenizer is not None else self._tokenizer
        if model is None or tokenizer is None:
            recorded = self.metadata.get("model")
            hint = f" (the index was built with {recorded!r})" if recorded else ""
            raise ValueError(f"search needs model= and tokenizer= to embed text queries{hint}, or pass vectors")
        options = {k: v for k, v in self.metadata.get("encode", {}).items() if k in ENCODE_KEYS}
        return encode(model, texts, tokenizer=tokenizer, normalize=True, **options)

    def _queries(self, query, model, tokenizer) -> Tuple[np.ndarray, bool]:
        """(queries (q, d), single?) from a str, a list of str, or a vector / matrix."""
        if isinstance(query, str) or (isinstance(query, (list, tuple)) and any(isinstance(q, str) for q in query)):
            single = isinstance(query, str)
            return self._embed_queries(_check_texts(query), model, tokenizer), single
        if isinstance(query, (list, tuple)) and not query:
            return np.zeros((0, self.dim), dtype="float32"), False
        array = np.asarray(query)
        if array.ndim not in (1, 2) or array.shape[-1] != self.dim:
            raise ValueError(f"query must be a str, a list of str, a vector ({self.dim},) or a matrix (q, {self.dim}), "
                             f"got shape {array.shape}")
        single = array.ndim == 1
        return normalize_rows(_check_embeddings("query", array.reshape(-1, self.dim))), single

    def _search_vectors(self, queries: np.ndarray, k: int) -> Tuple[np.ndarray, np.ndarray]:
        if not self._uses_faiss():
            return _top_k_exact(queries, self._rows, k)
        if self._faiss_index is None:
            faiss = _import_faiss()
            self._faiss_index = faiss.IndexFlatIP(self.dim)
            self._faiss_index.add(self._rows)
        scores, ids = self._faiss_index.search(np.ascontiguousarray(queries, dtype="float32"), k)
        order = np.lexsort((ids, -scores), axis=1)  # ties by id, as the exact backend
        return np.take_along_axis(ids, order, 1).astype("int64"), np.take_along_axis(scores, order, 1)

    def search(self, query, top_k: int = 5, model=None, tokenizer=None):
        """The ``top_k`` nearest rows: ``[{"id", "score", "text"}]`` best first (ties by id).

        ``query``: a str (embedded with the model given here or at ``build``), a list of str, a
        vector (d,) or a matrix (q, d). One query gives one list, several a list of lists.
        """
        _check_positive_int("top_k", top_k)
        queries, single = self._queries(query, model, tokenizer)
        k = min(int(top_k), len(self))
        if k == 0 or len(queries) == 0:
            results: List[List[Dict[str, Any]]] = [[] for _ in range(len(queries))]
        else:
            ids, scores = self._search_vectors(queries, k)
            results = [[{"id": int(i), "score": float(s), "text": self._texts[i]} for i, s in zip(row_ids, row_scores)]
                       for row_ids, row_scores in zip(ids, scores)]
        return results[0] if single else results

    # ------------------------------------------------------------------ files
    def save(self, directory: Union[str, os.PathLike], overwrite: bool = False) -> str:
        """Write the index to ``directory`` as one change: staged beside it, then renamed into place.

        Files: ``embeddings.npy`` (float32, no pickle), ``texts.json``, ``index.json`` (format
        version, shape, metadata). An existing ``directory`` needs ``overwrite=True`` and must be
        an index itself.
        """
        target = os.path.abspath(os.fspath(directory))
        if os.path.lexists(target):
            if not overwrite:
                raise FileExistsError(f"{target} exists; pass overwrite=True to replace it")
            if not os.path.isfile(os.path.join(target, INDEX_NAME)):
                raise ValueError(f"{target} exists and is not a saved SemanticIndex (no {INDEX_NAME}); "
                                 f"refusing to replace it")
        parent, name = os.path.split(target)
        os.makedirs(parent, exist_ok=True)
        staging = os.path.join(parent, f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        os.mkdir(staging)
        try:
            self._write_files(staging)
            _replace_directory(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return target

    def _write_files(self, directory: str) -> None:
        rows = self._rows
        atomic_write(os.path.join(directory, EMBEDDINGS_NAME), lambda f: np.save(f, rows, allow_pickle=False))
        atomic_write_text(os.path.join(directory, TEXTS_NAME), json.dumps(self._texts, ensure_ascii=False))
        header = {"format_version": FORMAT_VERSION, "rows": len(rows), "dim": self.dim, "dtype": "float32",
                  "metadata": self.metadata}
        atomic_write_text(os.path.join(directory, INDEX_NAME), json.dumps(header, ensure_ascii=False, indent=2))

    @classmethod
    def load(cls, directory: Union[str, os.PathLike], backend: str = "auto") -> "SemanticIndex":
        """Read an index written by ``save``; every file is checked before anything is used."""
        directory = os.fspath(directory)
        if not os.path.isdir(directory):
            raise FileNotFoundError(f"index directory not found: {directory}")
        header = _read_header(os.path.join(directory, INDEX_NAME))
        rows = _read_rows(os.path.join(directory, EMBEDDINGS_NAME), header)
        texts = _read_texts(os.path.join(directory, TEXTS_NAME), len(rows))
        index = cls.__new__(cls)
        index._setup(rows, texts, _check_metadata(header.get("metadata")), backend)
        return index


def _replace_directory(staging: str, target: str) -> None:
    """Rename ``staging`` onto ``target``; an old ``target`` is moved aside first and removed after."""
    parent = os.path.dirname(target)
    old = None
    if os.path.lexists(target):
        old = f"{staging}.old"
        os.rename(target, old)
    try:
        os.rename(staging, target)
    except BaseException:
        if old is not None:
            os.rename(old, target)
        raise
    fsync_directory(parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _read_json(path: str):
    if not os.path.isfile(path):
        raise FileNotFoundError(f"index file not found: {path}")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not valid UTF-8 JSON (corrupt or truncated?): {err}") from None


def _read_header(path: str) -> Dict[str, Any]:
    header = _read_json(path)
    if not isinstance(header, dict):
        raise ValueError(f"{path} must hold a JSON object, got {type(header).__name__}")
    version = header.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(f"{path}: unknown format_version {version!r} (this version reads {FORMAT_VERSION})")
    for key in ("rows", "dim"):
        if isinstance(header.get(key), bool) or not isinstance(header.get(key), int) or header[key] < 0:
            raise ValueError(f"{path}: {key} must be an integer >= 0, got {header.get(key)!r}")
    if not isinstance(header.get("metadata", {}), dict):
        raise ValueError(f"{path}: metadata must be a JSON object, got {type(header['metadata']).__name__}")
    return header


def _read_rows(path: str, header: Dict[str, Any]) -> np.ndarray:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"index file not found: {path}")
    try:
        rows = np.load(path, allow_pickle=False)  # never unpickle: an index may come from anywhere
    except (ValueError, OSError, EOFError) as err:
        raise ValueError(f"{path} is not a readable .npy array (corrupt, truncated or pickled?): {err}") from None
    if not isinstance(rows, np.ndarray) or rows.ndim != 2 or rows.dtype != np.float32:
        shape, dtype = getattr(rows, "shape", None), getattr(rows, "dtype", type(rows).__name__)
        raise ValueError(f"{path} must hold a 2-D float32 array, got shape {shape} dtype {dtype}")
    expected = (header["rows"], header["dim"])
    if rows.shape != expected:
        raise ValueError(f"{path} has shape {rows.shape}, but index.json records {expected}")
    if not np.isfinite(rows).all():
        raise ValueError(f"{path} holds NaN or infinite values")
    return np.ascontiguousarray(rows)


def _read_texts(path: str, count: int) -> List[Optional[str]]:
    texts = _read_json(path)
    if not isinstance(texts, list) or not all(t is None or isinstance(t, str) for t in texts):
        raise ValueError(f"{path} must hold a JSON list of strings or nulls")
    if len(texts) != count:
        raise ValueError(f"{path} has {len(texts)} texts but the embeddings have {count} rows")
    return texts
