"""Shared helpers: atomic writes that keep the old file on failure and follow the umask."""
import os
import stat

import pytest

from paddle_roformer.utils import (atomic_write, atomic_write_text, closest_match, current_umask,
                                   remove_stale_temp_files, sha256_of)


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_atomic_write_replaces_and_follows_the_umask(tmp_path, umask_022):
    path = tmp_path / "a.txt"
    atomic_write_text(str(path), "one")
    atomic_write_text(str(path), "two")
    assert path.read_text() == "two"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert os.listdir(tmp_path) == ["a.txt"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("old")

    def killed(f):
        f.write(b"half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        atomic_write(str(path), killed)
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["a.txt"]


def test_only_temp_files_of_dead_processes_are_removed(tmp_path):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    names = [f".a.txt.{dead_pid}.0123abcd.tmp", f".a.txt.{os.getpid()}.0123abcd.tmp", f".b.txt.{dead_pid}.0123abcd.tmp"]
    for name in names:
        (tmp_path / name).write_text("x")
    assert remove_stale_temp_files(str(tmp_path), ["a.txt"]) == [names[0]]
    assert sorted(os.listdir(tmp_path)) == sorted(names[1:])


def test_current_umask_does_not_change_it(umask_022):
    assert current_umask() == 0o022 and current_umask() == 0o022


def test_closest_match_and_sha256(tmp_path):
    assert closest_match("roformer-chinese-bass", ["roformer-chinese-base", "x"]) == "roformer-chinese-base"
    assert closest_match("zzz", ["roformer"]) is None
    (tmp_path / "f").write_bytes(b"abc")
    assert sha256_of(str(tmp_path / "f")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
