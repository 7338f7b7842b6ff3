"""CPU runtime settings: the thread count and MKL's kernel choice on AMD CPUs."""
import os
import subprocess
import sys

import pytest

from paddle_roformer import runtime

AMD = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx avx2 avx512f\n\nprocessor\t: 1\n"
INTEL = "processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu sse2 avx avx2 amx_tile\n"
OLD_AMD = "processor\t: 0\nvendor_id\t: AuthenticAMD\nflags\t\t: fpu sse2 avx\n"


@pytest.mark.parametrize("cpuinfo, expected", [(AMD, "5"), (INTEL, None), (OLD_AMD, None)])
def test_mkl_avx2_kernels_only_on_amd_with_avx2(tmp_path, cpuinfo, expected):
    path = tmp_path / "cpuinfo"
    path.write_text(cpuinfo)
    environ = {}
    assert runtime.prefer_avx2_mkl_kernels(environ, str(path)) is (expected is not None)
    assert environ.get("MKL_DEBUG_CPU_TYPE") == expected


def test_mkl_setting_of_the_user_is_kept(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text(AMD)
    for value in ("", "4"):
        environ = {"MKL_DEBUG_CPU_TYPE": value}
        assert runtime.prefer_avx2_mkl_kernels(environ, str(path)) is False
        assert environ == {"MKL_DEBUG_CPU_TYPE": value}


def test_mkl_setting_without_cpuinfo(tmp_path):
    environ = {}
    assert runtime.prefer_avx2_mkl_kernels(environ, str(tmp_path / "missing")) is False
    assert environ == {}


def test_package_import_applies_the_mkl_setting_before_paddle():
    env = {k: v for k, v in os.environ.items() if k != "MKL_DEBUG_CPU_TYPE"}
    code = ("import os, sys, paddle_roformer\n"
            "from paddle_roformer.runtime import cpu_vendor_and_flags\n"
            "vendor, flags = cpu_vendor_and_flags('/proc/cpuinfo')\n"
            "amd = vendor == 'AuthenticAMD' and 'avx2' in flags\n"
            "assert os.environ.get('MKL_DEBUG_CPU_TYPE') == ('5' if amd else None), os.environ.get('MKL_DEBUG_CPU_TYPE')\n"
            "assert 'paddle' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_set_num_threads(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # so that the variable is restored after the test
    assert runtime.set_num_threads(2) == 2 and os.environ["OMP_NUM_THREADS"] == "2"
    assert runtime.set_num_threads(None) == 2  # the environment's value is the default
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert runtime.set_num_threads(None) == (os.cpu_count() or 1)
    for bad in (-1, 0, True, 1.5, "2"):
        with pytest.raises(ValueError, match="threads must be an integer >= 1"):
            runtime.set_num_threads(bad)


def test_set_num_threads_reaches_paddle_after_import(monkeypatch):
    import paddle
    import paddle_roformer

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    calls = []
    core = paddle.base.core
    monkeypatch.setattr(core, "set_num_threads", calls.append, raising=False)
    assert paddle_roformer.set_num_threads(2) == 2
    assert calls == [2] or getattr(paddle, "set_num_threads", None) is not None
