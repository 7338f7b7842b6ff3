"""CPU runtime settings: how many threads Paddle uses, and which MKL kernels it gets on AMD CPUs.

Imported by the package itself, without importing Paddle.

- Threads: Paddle runs its CPU math on one thread unless ``OMP_NUM_THREADS`` says otherwise when
  Paddle is imported; ``paddle.base.core.set_num_threads`` changes it later (Paddle 3.x has no
  ``paddle.set_num_threads``). :func:`set_num_threads` does both.
- MKL on AMD: the MKL inside Paddle's CPU wheels picks a slow generic code path on CPUs that are
  not Intel's. ``MKL_DEBUG_CPU_TYPE=5`` makes it use its AVX2 kernels, which measured about 3x
  faster for fp32 matmul on an AMD EPYC (2 threads). MKL reads the variable at its first call, so
  :func:`prefer_avx2_mkl_kernels` (run when ``paddle_roformer`` is imported) sets it if the CPU is
  an AMD one with AVX2 and the variable is not set already. Set ``MKL_DEBUG_CPU_TYPE`` yourself
  (any value, even empty) to keep MKL's own choice.
"""
from __future__ import annotations

import os
import sys
from typing import MutableMapping, Optional


def cpu_name(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The CPU's model name as /proc/cpuinfo gives it (benchmarks print it next to every figure)."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or "unknown CPU"


def cpu_vendor_and_flags(cpuinfo: str):
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            text = f.read(1 << 16)  # the first processor's block is enough
    except OSError:
        return None, set()
    vendor, flags = None, set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "vendor_id" and vendor is None:
            vendor = value.strip()
        elif key == "flags" and not flags:
            flags = set(value.split())
        if vendor is not None and flags:
            break
    return vendor, flags


def prefer_avx2_mkl_kernels(environ: Optional[MutableMapping[str, str]] = None, cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Set ``MKL_DEBUG_CPU_TYPE=5`` on an AMD CPU with AVX2 unless it is set; True when it was set here."""
    environ = os.environ if environ is None else environ
    if "MKL_DEBUG_CPU_TYPE" in environ:
        return False
    vendor, flags = cpu_vendor_and_flags(cpuinfo)
    if vendor != "AuthenticAMD" or "avx2" not in flags:
        return False
    environ["MKL_DEBUG_CPU_TYPE"] = "5"
    return True


def default_num_threads() -> int:
    """``OMP_NUM_THREADS`` when the environment sets it to a positive integer, else every core."""
    given = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(given) if given.isdigit() and int(given) > 0 else (os.cpu_count() or 1)


def set_num_threads(threads: Optional[int] = None) -> int:
    """Use ``threads`` CPU threads for Paddle's math; returns the number set.

    The default is ``OMP_NUM_THREADS`` when the environment sets it, else every core. Works before
    and after Paddle is imported.
    """
    n = default_num_threads() if threads is None else threads
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"threads must be an integer >= 1, got {threads!r}")
    os.environ["OMP_NUM_THREADS"] = str(n)
    paddle = sys.modules.get("paddle")
    if paddle is not None:
        setter = getattr(paddle, "set_num_threads", None)
        if setter is None:
            setter = getattr(getattr(getattr(paddle, "base", None), "core", None), "set_num_threads", None)
        if setter is not None:
            setter(n)
    return n
