"""checkpoint.py: the restricted pickle reader, the safetensors parser, and the atomic directory save."""
import builtins
import json
import os
import pickle
import re
import signal
import socket
import stat
import struct
import subprocess
import sys
import textwrap

import numpy as np
import paddle
import pytest

from paddle_roformer import checkpoint
from paddle_roformer.checkpoint import (SAFE_WEIGHTS_NAME, SAVE_MARKER_NAME, WEIGHTS_NAME, InterruptedSaveError,
                                        UnsafeCheckpointError, check_saved_directory, load_state_dict,
                                        read_safetensors, save_pretrained_files, write_pdparams, write_safetensors)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _arrays(seed=0):
    rng = np.random.RandomState(seed)
    return {
        "embeddings.weight": rng.randn(7, 4).astype("float32"),
        "layer.bias": rng.randn(4).astype("float16"),
        "positions": np.arange(6, dtype="int64").reshape(2, 3),
        "flag": np.array([True, False]),
        "scalar": np.array(2.5, dtype="float64"),
        "empty": np.zeros((0, 3), "float32"),
    }


def _assert_same(got, expected):
    assert sorted(got) == sorted(expected)
    for key, value in expected.items():
        assert got[key].dtype == value.dtype and got[key].shape == value.shape, key
        np.testing.assert_array_equal(got[key], value)


def _dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_importing_it_does_not_import_paddle():
    code = "import sys, paddle_roformer.checkpoint; print('paddle' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------------------- .pdparams


def test_pdparams_round_trip_is_exact_and_byte_deterministic(tmp_path):
    arrays = _arrays()
    write_pdparams(arrays, str(tmp_path / "a.pdparams"))
    write_pdparams(dict(reversed(list(arrays.items()))), str(tmp_path / "b.pdparams"))
    write_pdparams(_arrays(), str(tmp_path / "c.pdparams"))
    _assert_same(load_state_dict(str(tmp_path / "a.pdparams")), arrays)
    # no generated parameter names in the file: the same weights give the same bytes
    assert (tmp_path / "a.pdparams").read_bytes() == (tmp_path / "c.pdparams").read_bytes()


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16", "int64"])
def test_our_pdparams_load_in_paddle_with_the_same_dtype(dtype, tmp_path):
    source = paddle.to_tensor(np.arange(-6, 6).reshape(3, 4).astype("float32") / 4).astype(dtype)
    path = str(tmp_path / WEIGHTS_NAME)
    write_pdparams({"w": source}, path)
    loaded = paddle.load(path)
    assert loaded["w"].dtype == source.dtype
    np.testing.assert_array_equal(loaded["w"].astype("float32").numpy(), source.astype("float32").numpy())
    # and ours: bfloat16 comes back as float32, exactly
    ours = load_state_dict(path)["w"]
    assert ours.dtype == (np.float32 if dtype == "bfloat16" else np.dtype(dtype))
    np.testing.assert_array_equal(ours.astype("float32"), source.astype("float32").numpy())


@pytest.mark.parametrize("protocol", [2, 3, 4])
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16", "int64"])
def test_reads_every_state_dict_paddle_save_writes(dtype, protocol, tmp_path):
    layer = paddle.nn.Linear(3, 5)
    if dtype != "int64":
        layer.to(dtype=dtype)
        state = layer.state_dict()
    else:
        state = {"ids": paddle.arange(10, dtype="int64").reshape([2, 5])}
    path = str(tmp_path / "saved.pdparams")
    paddle.save(state, path, protocol=protocol)  # adds the StructuredToParameterName@@ table
    assert b"StructuredToParameterName@@" in open(path, "rb").read()
    got = load_state_dict(path)
    assert sorted(got) == sorted(state)
    for key, tensor in state.items():
        expected = tensor.astype("float32").numpy() if dtype == "bfloat16" else tensor.numpy()
        assert got[key].dtype == expected.dtype
        np.testing.assert_array_equal(got[key], expected)


def test_reads_tensors_pickled_as_name_array_pairs(tmp_path):
    """A dict that is not all tensors is pickled with each tensor as a (name, array) tuple."""
    tensor = paddle.to_tensor(np.arange(6, dtype="float32").reshape(2, 3))
    path = str(tmp_path / "mixed.pdparams")
    paddle.save({"w": tensor, "b": np.ones(3, "float32")}, path)
    assert b"builtins" in open(path, "rb").read()  # the tuple global of the (name, array) form
    got = load_state_dict(path)
    np.testing.assert_array_equal(got["w"], tensor.numpy())
    np.testing.assert_array_equal(got["b"], np.ones(3, "float32"))


def test_reassembles_arrays_paddle_split_into_pieces(tmp_path):
    """Protocol 2/3 saves split arrays over 1 GiB into pieces plus a table; built small here by hand."""
    whole = np.arange(12, dtype="float32").reshape(3, 4)
    flat = whole.reshape(-1)
    obj = {"w@@.0": flat[:5], "w@@.1": flat[5:], "b": np.ones(2, "float32"),
           "UnpackBigParamInfor@@": {"w": {"OriginShape": (3, 4), "slices": ["w@@.0", "w@@.1"]}}}
    path = str(tmp_path / "split.pdparams")
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)
    got = load_state_dict(path)
    assert sorted(got) == ["b", "w"]
    np.testing.assert_array_equal(got["w"], whole)
    np.testing.assert_array_equal(paddle.load(path)["w"].numpy(), whole)  # as paddle reads it


def test_not_a_state_dict_or_not_a_pickle(tmp_path):
    path = tmp_path / WEIGHTS_NAME
    path.write_bytes(b"this is not a pickle")
    with pytest.raises(ValueError, match=f"{re.escape(str(path))} is not a readable Paddle state dict"):
        load_state_dict(str(path))
    path.write_bytes(pickle.dumps({"w": np.zeros(3)})[:-10])  # truncated
    with pytest.raises(ValueError, match="is not a readable Paddle state dict"):
        load_state_dict(str(path))
    path.write_bytes(pickle.dumps([np.zeros(3)]))
    with pytest.raises(ValueError, match="does not hold a state dict"):
        load_state_dict(str(path))
    path.write_bytes(pickle.dumps({"w": "text"}))
    with pytest.raises(ValueError, match="'w' is a str, not an array"):
        load_state_dict(str(path))
    with pytest.raises(FileNotFoundError, match="weights file not found"):
        load_state_dict(str(tmp_path / "missing.pdparams"))


# ---------------------------------------------------------------------------- malicious pickles

MARKER = {"path": None}


class _System:
    def __reduce__(self):
        return os.system, (f"touch {MARKER['path']}",)


class _Exec:
    def __reduce__(self):
        return builtins.exec, (f"open({MARKER['path']!r}, 'w').close()",)


class _Eval:
    def __reduce__(self):
        return builtins.eval, (f"open({MARKER['path']!r}, 'w')",)


class _Popen:
    def __reduce__(self):
        return subprocess.Popen, (["touch", MARKER["path"]],)


class _GetattrChain:
    """getattr is how naive filters are bypassed (getattr(allowed_thing, "__globals__") ...)."""

    def __reduce__(self):
        return getattr, ("", "join")


PAYLOADS = {
    "os.system": (lambda: {"w": np.zeros(2), "x": _System()}, "system"),
    "builtins.exec": (lambda: {"x": _Exec()}, "builtins.exec"),
    "builtins.eval": (lambda: {"w": [np.zeros(1), {"deep": _Eval()}]}, "builtins.eval"),
    "subprocess.Popen": (lambda: {"x": _Popen()}, "subprocess.Popen"),
    "builtins.getattr": (lambda: {"x": _GetattrChain()}, "builtins.getattr"),
}


def _write_payload(path, obj, protocol):
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=protocol)


def test_the_payloads_are_live_under_plain_pickle(tmp_path):
    """Control: plain unpickling of the os.system payload does create the marker file."""
    MARKER["path"] = str(tmp_path / "pwned")
    pickle.loads(pickle.dumps({"x": _System()}))
    assert os.path.exists(MARKER["path"])


@pytest.mark.parametrize("protocol", [0, 2, 4])
@pytest.mark.parametrize("payload", sorted(PAYLOADS))
def test_malicious_pickle_is_refused_and_nothing_runs(payload, protocol, tmp_path):
    MARKER["path"] = str(tmp_path / "pwned")
    make, refused = PAYLOADS[payload]
    path = tmp_path / WEIGHTS_NAME
    _write_payload(path, make(), protocol)
    expected = rf"{re.escape(str(path))}: refused to unpickle the global .*{refused}"
    with pytest.raises(UnsafeCheckpointError, match=expected) as err:
        load_state_dict(str(path))
    assert isinstance(err.value, ValueError)
    assert not os.path.exists(MARKER["path"])


def test_object_and_structured_arrays_are_refused(tmp_path):
    path = tmp_path / WEIGHTS_NAME
    _write_payload(path, {"w": np.array([1, "a"], dtype=object)}, 4)
    with pytest.raises(UnsafeCheckpointError, match=rf"{re.escape(str(path))}: .*dtype object"):
        load_state_dict(str(path))
    _write_payload(path, {"w": np.zeros(2, dtype=[("a", "f4"), ("b", "i4")])}, 4)
    with pytest.raises(UnsafeCheckpointError, match="only numbers are loaded"):
        load_state_dict(str(path))


def test_codecs_encode_is_limited_to_latin1(tmp_path):
    """Protocol 2 spells bytes as _codecs.encode(text, 'latin1'); no other codec is let through."""
    path = tmp_path / WEIGHTS_NAME
    # { 'w': _codecs.encode('x', 'rot13') } in protocol 2 opcodes
    data = b"\x80\x02}X\x01\x00\x00\x00wc_codecs\nencode\nX\x01\x00\x00\x00xX\x05\x00\x00\x00rot13\x86Rs."
    path.write_bytes(data)
    with pytest.raises(UnsafeCheckpointError, match="encoding 'rot13' is refused"):
        load_state_dict(str(path))


# ---------------------------------------------------------------------------- safetensors


def test_safetensors_round_trip(tmp_path):
    arrays = _arrays()
    path = str(tmp_path / SAFE_WEIGHTS_NAME)
    write_safetensors(arrays, path)
    _assert_same(read_safetensors(path), arrays)
    _assert_same(load_state_dict(path), arrays)
    (header_len,) = struct.unpack("<Q", open(path, "rb").read(8))
    assert header_len % 8 == 0  # data starts aligned
    header = json.loads(open(path, "rb").read(8 + header_len)[8:])
    assert header["__metadata__"] == {"format": "np"}  # PaddleNLP's safetensors loader needs this tag


def test_safetensors_agrees_with_the_safetensors_package(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    arrays = _arrays()
    ours, theirs = str(tmp_path / "ours.safetensors"), str(tmp_path / "theirs.safetensors")
    write_safetensors(arrays, ours)
    _assert_same(safetensors_numpy.load_file(ours), arrays)
    safetensors_numpy.save_file(arrays, theirs)
    _assert_same(read_safetensors(theirs), arrays)


def test_bfloat16_is_read_as_float32_and_written_as_float32(tmp_path):
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    values = torch.tensor([[1.5, -2.25], [3.0e-3, 65504.0]]).to(torch.bfloat16)
    path = str(tmp_path / "bf16.safetensors")
    safetensors_torch.save_file({"w": values}, path)
    got = read_safetensors(path)["w"]
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, values.float().numpy())
    # a Paddle bfloat16 tensor is stored as float32 (numpy readers cannot read BF16)
    tensor = paddle.to_tensor(values.float().numpy()).astype("bfloat16")
    write_safetensors({"w": tensor}, str(tmp_path / "ours.safetensors"))
    again = read_safetensors(str(tmp_path / "ours.safetensors"))["w"]
    assert again.dtype == np.float32
    np.testing.assert_array_equal(again, values.float().numpy())


def _corrupt(data: bytes, header: dict) -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


@pytest.mark.parametrize("case, make", [
    ("truncated", lambda ok: ok[:-3]),
    ("tiny", lambda ok: b"\x01\x02"),
    ("header too long", lambda ok: struct.pack("<Q", 10**6) + ok[8:]),
    ("not json", lambda ok: struct.pack("<Q", 4) + b"{{{{"),
    ("overlap", lambda ok: _corrupt(b"\0" * 8, {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                                "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})),
    ("wrong size", lambda ok: _corrupt(b"\0" * 8, {"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})),
    ("bad dtype", lambda ok: _corrupt(b"\0" * 8, {"a": {"dtype": "F8_E4M3", "shape": [8], "data_offsets": [0, 8]}})),
    ("trailing bytes", lambda ok: ok + b"\0" * 4),
])
def test_corrupt_safetensors_is_a_value_error_naming_the_file(case, make, tmp_path):
    good = str(tmp_path / "good.safetensors")
    write_safetensors({"a": np.ones(2, "float32")}, good)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(make(open(good, "rb").read()))
    with pytest.raises(ValueError, match=f"{re.escape(str(bad))} is not a readable safetensors file"):
        load_state_dict(str(bad))


# ---------------------------------------------------------------------------- the directory save


@pytest.mark.parametrize("first, second", [(True, False), (False, True)])
def test_a_save_removes_the_other_formats_weights(first, second, tmp_path):
    """Stale-format shadowing: the earlier file must not survive to be preferred by loading."""
    save_pretrained_files(tmp_path, _arrays(0), "{}", safe_serialization=first)
    newer = _arrays(1)
    path = save_pretrained_files(tmp_path, newer, "{}", safe_serialization=second)
    expected = SAFE_WEIGHTS_NAME if second else WEIGHTS_NAME
    assert path == os.path.join(tmp_path, expected)
    assert sorted(os.listdir(tmp_path)) == sorted(["config.json", expected])
    _assert_same(load_state_dict(path), newer)


def test_failure_in_the_weights_write_leaves_the_directory_as_it_was(tmp_path, monkeypatch):
    save_pretrained_files(tmp_path, _arrays(0), '{"v": 0}')
    before = {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)}

    def broken(state, f):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint, "_write_pdparams", broken)
    with pytest.raises(OSError, match="disk full"):
        save_pretrained_files(tmp_path, _arrays(1), '{"v": 1}')
    assert {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)} == before  # no marker, no temp
    check_saved_directory(tmp_path)


def _fail_on_config(monkeypatch, exc=OSError("killed")):
    real = checkpoint.atomic_write

    def atomic_write(path, write):
        if path.endswith("config.json"):
            raise exc
        return real(path, write)

    monkeypatch.setattr(checkpoint, "atomic_write", atomic_write)


def test_interrupted_between_weights_and_config_is_refused_until_saved_again(tmp_path, monkeypatch):
    save_pretrained_files(tmp_path, _arrays(0), '{"v": 0}')
    with monkeypatch.context() as patch:
        _fail_on_config(patch)
        with pytest.raises(OSError, match="killed"):
            save_pretrained_files(tmp_path, _arrays(1), '{"v": 1}')
    # new weights, old config: never loaded silently
    assert (tmp_path / "config.json").read_text() == '{"v": 0}'
    expected = (rf"{re.escape(str(tmp_path))}: a save into this directory did not finish.*"
                rf"Save the model into it again.*delete .*{SAVE_MARKER_NAME}")
    with pytest.raises(InterruptedSaveError, match=expected):
        check_saved_directory(tmp_path)
    # the next complete save repairs it
    save_pretrained_files(tmp_path, _arrays(2), '{"v": 2}')
    check_saved_directory(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["config.json", WEIGHTS_NAME]
    _assert_same(load_state_dict(str(tmp_path / WEIGHTS_NAME)), _arrays(2))


def test_a_process_killed_mid_save_leaves_a_refused_directory_and_its_temp_is_cleaned(tmp_path):
    """A real SIGKILL while the config is half-written; numpy only, so the child starts fast."""
    save_pretrained_files(tmp_path, _arrays(0), '{"v": 0}')
    script = textwrap.dedent(f"""
        import os, signal
        import numpy as np
        from paddle_roformer import checkpoint
        real = checkpoint.atomic_write
        def atomic_write(path, write):
            if path.endswith("config.json"):
                def half(f):
                    f.write(b'{{"v": ')
                    f.flush()
                    os.kill(os.getpid(), signal.SIGKILL)
                return real(path, half)
            return real(path, write)
        checkpoint.atomic_write = atomic_write
        checkpoint.save_pretrained_files({str(tmp_path)!r}, {{"w": np.ones(3, "float32")}}, '{{"v": 1}}')
    """)
    child = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True)
    assert child.returncode == -signal.SIGKILL, child.stderr
    leftovers = sorted(n for n in os.listdir(tmp_path) if n.endswith(".tmp"))
    assert leftovers and all(n.startswith(".config.json.") for n in leftovers)
    with pytest.raises(InterruptedSaveError, match="did not finish"):
        check_saved_directory(tmp_path)
    save_pretrained_files(tmp_path, {"w": np.full(3, 7, "float32")}, '{"v": 2}')
    assert sorted(os.listdir(tmp_path)) == ["config.json", WEIGHTS_NAME]  # temp of the dead pid removed
    np.testing.assert_array_equal(load_state_dict(str(tmp_path / WEIGHTS_NAME))["w"], np.full(3, 7, "float32"))


def test_only_temp_files_of_dead_processes_are_removed(tmp_path):
    dead, alive = _dead_pid(), os.getppid()
    names = [f".{WEIGHTS_NAME}.{dead}.0123abcd.tmp", f".config.json.{dead}.deadbeef.tmp",
             f".{WEIGHTS_NAME}.{alive}.0123abcd.tmp", f".notes.txt.{dead}.0123abcd.tmp", "notes.txt"]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    save_pretrained_files(tmp_path, _arrays(), "{}")
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["config.json", WEIGHTS_NAME, f".{WEIGHTS_NAME}.{alive}.0123abcd.tmp", f".notes.txt.{dead}.0123abcd.tmp",
         "notes.txt"])


def test_a_save_in_progress_in_a_live_process_is_not_overwritten(tmp_path):
    marker = tmp_path / SAVE_MARKER_NAME
    marker.write_text(json.dumps({"pid": os.getppid(), "host": socket.gethostname(), "started": "now"}))
    with pytest.raises(RuntimeError, match=rf"another process \(pid {os.getppid()}\) is saving"):
        save_pretrained_files(tmp_path, _arrays(), "{}")
    marker.write_text(json.dumps({"pid": _dead_pid(), "host": socket.gethostname(), "started": "then"}))
    save_pretrained_files(tmp_path, _arrays(), "{}")  # a killed save's marker is taken over
    check_saved_directory(tmp_path)
    assert not marker.exists()


@pytest.mark.parametrize("umask, file_mode, dir_mode", [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)])
def test_files_and_directories_follow_the_umask(umask, file_mode, dir_mode, tmp_path):
    old = os.umask(umask)
    try:
        target = tmp_path / "new" / "model"
        save_pretrained_files(target, _arrays(), "{}")
        save_pretrained_files(tmp_path / "safe", _arrays(), "{}", safe_serialization=True)
    finally:
        os.umask(old)
    for directory in (tmp_path / "new", target, tmp_path / "safe"):
        assert stat.S_IMODE(os.stat(directory).st_mode) == dir_mode
    for path in (target / WEIGHTS_NAME, target / "config.json", tmp_path / "safe" / SAFE_WEIGHTS_NAME):
        assert stat.S_IMODE(os.stat(path).st_mode) == file_mode, path


def test_a_directory_without_a_marker_is_accepted(tmp_path):
    check_saved_directory(tmp_path)  # PaddleNLP's directories and older ones have no marker
    with pytest.raises(ValueError, match="is a file"):
        (tmp_path / "file").write_text("x")
        save_pretrained_files(tmp_path / "file", _arrays(), "{}")
