"""encoding.py: options, special tokens, truncation, stride windows, padding and tensors, on ids alone."""
import dataclasses
import logging
import os
import subprocess
import sys

import numpy as np
import pytest

from paddle_roformer import encoding
from paddle_roformer.encoding import EncodingOptions, SpecialIds

SPECIALS = SpecialIds(cls=2, sep=3, pad=0, pad_token_type=0)
A, B = [10, 11, 12, 13, 14], [20, 21, 22]


# ---------------------------------------------------------------------------- options


def test_options_resolve_paddlenlp_rules():
    assert EncodingOptions.resolve(max_length=8).truncation == "longest_first"  # a length alone truncates
    assert EncodingOptions.resolve(max_length=8, pad_to_max_seq_len=True).padding == "max_length"
    assert EncodingOptions.resolve(pad_to_max_seq_len=True).padding == "longest"
    assert EncodingOptions.resolve(max_length=8, truncation_strategy="only_second").truncation == "only_second"
    assert EncodingOptions.resolve(padding=True, truncation=True).padding == "longest"
    # without a length: the model's, or nothing to pad / truncate to
    assert EncodingOptions.resolve(truncation=True, model_max_length=16).max_length == 16
    unknown = EncodingOptions.resolve(truncation=True, padding="max_length")
    assert (unknown.truncation, unknown.padding, unknown.max_length) == ("do_not_truncate", "do_not_pad", None)
    defaults = EncodingOptions.resolve()
    assert defaults.return_token_type_ids and not defaults.return_attention_mask and not defaults.return_position_ids


def test_options_are_frozen_and_checked():
    options = EncodingOptions()
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.max_length = 3
    for kwargs, message in (
        (dict(max_length=0), "max_length / max_seq_len must be a positive integer, got 0"),
        (dict(max_length=True), "must be a positive integer, got True"),
        (dict(padding="left"), "padding must be True, False or one of"),
        (dict(truncation="middle"), "truncation must be True, False or one of"),
        (dict(stride=-1), "stride must be a non-negative integer"),
        (dict(return_tensors="pt"), "return_tensors must be None, 'np' or 'pd'"),
        (dict(add_special_tokens=False, return_token_type_ids=True), "needs add_special_tokens=True"),
        (dict(max_length=10, padding="max_length", truncation=True, pad_to_multiple_of=4),
         "not a multiple of pad_to_multiple_of 4"),
        (dict(max_length=10, truncation="longest_first", return_overflowing_tokens=True, pair=True),
         "overflowing tokens cannot be returned for pairs"),
    ):
        with pytest.raises(ValueError, match=message):
            EncodingOptions.resolve(**kwargs)
    with pytest.raises(ValueError, match="padding must be one of"):
        EncodingOptions(padding=True)  # the record takes resolved names only


# ---------------------------------------------------------------------------- special tokens and assembly


def test_assemble_a_pair_with_every_field():
    options = EncodingOptions(return_special_tokens_mask=True, return_position_ids=True)
    out = encoding.assemble([7, 8], [9], SPECIALS, options, spans=[(0, 1), (1, 2)], pair_spans=[(0, 2)])
    assert out == {
        "input_ids": [2, 7, 8, 3, 9, 3],
        "token_type_ids": [0, 0, 0, 0, 1, 1],
        "special_tokens_mask": [1, 0, 0, 1, 0, 1],
        "offset_mapping": [(0, 0), (0, 1), (1, 2), (0, 0), (0, 2), (0, 0)],
        "position_ids": [0, 1, 2, 3, 4, 5],
    }
    bare = encoding.assemble([7, 8], [9], SPECIALS, EncodingOptions(add_special_tokens=False,
                                                                    return_token_type_ids=False))
    assert bare == {"input_ids": [7, 8, 9]}


# ---------------------------------------------------------------------------- truncation


def test_truncate_each_strategy():
    assert encoding.truncate(A, B, 3, "longest_first") == ([10, 11, 12], [20, 21], [])  # longer side first, then B
    assert encoding.truncate(A, B, 8, "longest_first") == ([], [], [])  # exactly everything: possible
    assert encoding.truncate(A, None, 2, "longest_first") == ([10, 11, 12], None, [13, 14])
    assert encoding.truncate(A, B, 2, "only_first", stride=1) == ([10, 11, 12], B, [12, 13, 14])
    assert encoding.truncate(A, B, 1, "only_second", stride=5) == (A, [20, 21], B)
    assert encoding.truncate(A, B, 0, "only_second") == (A, B, [])
    assert encoding.truncate(A, B, 4, "do_not_truncate") == (A, B, [])


@pytest.mark.parametrize("ids, pair_ids, remove, strategy, message", [
    (A, B, 9, "longest_first", "the two sequences have only 5 + 3"),
    ([], [], 1, "longest_first", "the two sequences have only 0 + 0"),
    (A, None, 5, "longest_first", "the first sequence has only 5"),
    (A, B, 5, "only_first", "the first sequence has only 5"),
    (A, B, 3, "only_second", "the second sequence has only 3"),
    (A, None, 1, "only_second", "the second sequence has only 0"),
])
def test_impossible_truncation_logs_and_cuts_nothing(ids, pair_ids, remove, strategy, message, caplog):
    with caplog.at_level(logging.ERROR, logger="paddle_roformer"):
        assert encoding.truncate(ids, pair_ids, remove, strategy) == (ids, pair_ids, [])
    assert f"cannot truncate: {remove} tokens must go but {message}" in caplog.text
    assert "left too long" in caplog.text


def test_encode_truncates_offsets_with_their_tokens():
    options = EncodingOptions(max_length=7, truncation="longest_first", return_offsets_mapping=True)
    spans = [(i, i + 1) for i in range(5)]
    out = encoding.encode(A, B, SPECIALS, options, spans=spans, pair_spans=[(0, 1), (1, 2), (2, 3)])
    assert out["input_ids"] == [2, 10, 11, 3, 20, 21, 3]
    assert out["offset_mapping"] == [(0, 0), (0, 1), (1, 2), (0, 0), (0, 1), (1, 2), (0, 0)]


def test_encode_reports_overflow():
    options = EncodingOptions(max_length=5, truncation="only_first", stride=1, return_overflowing_tokens=True)
    out = encoding.encode(A, None, SPECIALS, options)
    assert out["input_ids"] == [2, 10, 11, 12, 3]
    assert out["overflowing_tokens"] == [12, 13, 14] and out["num_truncated_tokens"] == 2


# ---------------------------------------------------------------------------- windows


def test_stride_windows_keep_the_question_and_step_by_stride():
    question, context = [50, 51], list(range(100, 110))
    spans = [(i, i + 1) for i in range(10)]
    options = EncodingOptions(max_length=9, stride=3)
    windows = encoding.stride_windows(question, context, [(0, 1), (1, 2)], spans, SPECIALS, options, example_id=4)
    assert [w["input_ids"][3:5] for w in windows] == [[3, 100], [3, 103], [3, 106]]
    assert all(w["input_ids"][:3] == [2, 50, 51] and len(w["input_ids"]) <= 9 for w in windows)
    assert windows[-1]["input_ids"][-2] == 109 and all(w["overflow_to_sample"] == 4 for w in windows)
    assert windows[1]["offset_mapping"][4] == (3, 4)
    with pytest.raises(ValueError, match="batch item 4: the first text has 7 tokens, leaving no room"):
        encoding.stride_windows([1] * 7, context, [(0, 0)] * 7, spans, SPECIALS, options, example_id=4)


# ---------------------------------------------------------------------------- padding


def test_padded_length():
    assert encoding.padded_length([3, 7], "longest", None, None) == 7
    assert encoding.padded_length([3, 7], "longest", None, 4) == 8
    assert encoding.padded_length([3, 7], "max_length", 10, None) == 10
    assert encoding.padded_length([3, 7], "do_not_pad", 10, None) is None


def test_pad_example_fills_every_known_key_and_leaves_others():
    example = {"input_ids": [2, 7, 3], "token_type_ids": [0, 0, 0], "special_tokens_mask": [1, 0, 1],
               "offset_mapping": [(0, 0), (0, 1), (0, 0)], "position_ids": [0, 1, 2], "labels": 1,
               "start_positions": 1}
    out = encoding.pad_example(example, 5, SpecialIds(2, 3, pad=0, pad_token_type=1), return_attention_mask=True)
    assert out == {"input_ids": [2, 7, 3, 0, 0], "token_type_ids": [0, 0, 0, 1, 1],
                   "special_tokens_mask": [1, 0, 1, 1, 1], "offset_mapping": [(0, 0), (0, 1), (0, 0), (0, 0), (0, 0)],
                   "position_ids": [0, 1, 2, 0, 0], "labels": 1, "start_positions": 1,
                   "attention_mask": [1, 1, 1, 0, 0]}


def _features():
    return [{"input_ids": [2, 7, 3], "token_type_ids": [0, 0, 0], "labels": 1},
            {"input_ids": [2, 7, 8, 9, 3], "token_type_ids": [0, 0, 0, 1, 1], "labels": 0}]


def test_pad_a_list_of_dicts_and_a_dict_of_lists_alike():
    from_list = encoding.pad(_features(), SPECIALS, return_attention_mask=True)
    from_dict = encoding.pad({k: [f[k] for f in _features()] for k in _features()[0]}, SPECIALS,
                             return_attention_mask=True)
    assert from_list == from_dict == {
        "input_ids": [[2, 7, 3, 0, 0], [2, 7, 8, 9, 3]], "token_type_ids": [[0, 0, 0, 0, 0], [0, 0, 0, 1, 1]],
        "labels": [1, 0], "attention_mask": [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]}
    assert "attention_mask" not in encoding.pad(_features(), SPECIALS)  # None: no mask is added ...
    masked = [dict(f, attention_mask=[1] * len(f["input_ids"])) for f in _features()]
    assert encoding.pad(masked, SPECIALS)["attention_mask"][0] == [1, 1, 1, 0, 0]  # ... one that is there is padded


def test_pad_lengths_and_tensors():
    assert len(encoding.pad(_features(), SPECIALS, pad_to_multiple_of=4)["input_ids"][0]) == 8
    assert len(encoding.pad(_features(), SPECIALS, padding="max_length", max_length=6)["input_ids"][1]) == 6
    assert len(encoding.pad(_features(), SPECIALS, padding="max_length", model_max_length=7)["input_ids"][0]) == 7
    assert encoding.pad(_features(), SPECIALS, padding=False)["input_ids"][0] == [2, 7, 3]
    arrays = encoding.pad(_features(), SPECIALS, return_tensors="np")
    assert arrays["input_ids"].shape == (2, 5) and arrays["input_ids"].dtype == np.int64
    floats = encoding.pad([dict(f, labels=0.5) for f in _features()], SPECIALS, return_tensors="np")
    assert floats["labels"].dtype == np.float64  # labels keep their own type
    single = encoding.pad({"input_ids": [2, 7, 3]}, SPECIALS, padding="max_length", max_length=4)
    assert single == {"input_ids": [2, 7, 3, 0]}
    from_arrays = encoding.pad([{"input_ids": np.array([2, 3])}, {"input_ids": np.array([2, 7, 3])}], SPECIALS)
    assert from_arrays["input_ids"] == [[2, 3, 0], [2, 7, 3]]


def test_pad_errors():
    with pytest.raises(ValueError, match="needs 'input_ids'"):
        encoding.pad([{"labels": 1}], SPECIALS)
    with pytest.raises(ValueError, match="example 1 has keys"):
        encoding.pad([{"input_ids": [1]}, {"input_ids": [1], "labels": 0}], SPECIALS)
    with pytest.raises(ValueError, match="padding='max_length' needs max_length"):
        encoding.pad(_features(), SPECIALS, padding="max_length")
    with pytest.raises(ValueError, match="different numbers of examples"):
        encoding.pad({"input_ids": [[1], [2]], "labels": [0]}, SPECIALS)
    with pytest.raises(TypeError, match="list of dicts or a dict of lists"):
        encoding.pad("text", SPECIALS)
    with pytest.raises(ValueError, match="empty list"):
        encoding.pad([], SPECIALS)


# ---------------------------------------------------------------------------- collate and tensors


def test_collate_batch_single_and_list():
    options = EncodingOptions(padding="longest", return_attention_mask=True, return_length=True)
    examples = [encoding.encode(ids, None, SPECIALS, options) for ids in ([7], [7, 8, 9])]
    batch = encoding.collate(examples, SPECIALS, options)
    assert batch.input_ids == [[2, 7, 3, 0, 0], [2, 7, 8, 9, 3]] and batch["length"] == [3, 5]
    as_list = encoding.collate([encoding.encode([7], None, SPECIALS, options)], SPECIALS,
                               dataclasses.replace(options, return_dict=False, return_tensors="np"))
    assert isinstance(as_list, list) and as_list[0]["input_ids"].shape == (1, 3)


def test_ragged_tensors_are_refused():
    with pytest.raises(ValueError, match="different lengths; pass padding=True"):
        encoding.to_tensors(encoding.BatchEncoding(input_ids=[[1], [1, 2]]), "np")


def test_text_modules_import_no_paddle():
    """tokenizer / encoding / text / vocab import without Paddle, whatever the package __init__ does;
    return_tensors='np' needs none, and 'pd' imports it then."""
    package = os.path.dirname(encoding.__file__)
    code = f"""
import importlib, sys, types, tempfile, os
package = types.ModuleType("paddle_roformer")
package.__path__ = [{package!r}]
sys.modules["paddle_roformer"] = package  # the submodules alone, without the package __init__
for name in ("encoding", "text", "vocab", "tokenizer"):
    importlib.import_module("paddle_roformer." + name)
assert "paddle" not in sys.modules, "imported paddle"
from paddle_roformer.tokenizer import RoFormerTokenizer
path = os.path.join(tempfile.mkdtemp(), "vocab.txt")
open(path, "w").write("\\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "好"]) + "\\n")
tokenizer = RoFormerTokenizer(path)
assert tokenizer(["好", "好好"], padding=True, return_tensors="np")["input_ids"].shape == (2, 4)
assert "paddle" not in sys.modules, "return_tensors='np' imported paddle"
tokenizer("好", return_tensors="pd")
assert "paddle" in sys.modules
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert result.returncode == 0, result.stderr[-2000:]
