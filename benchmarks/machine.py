"""One line about the machine a speed figure was measured on: CPU, cores, the SIMD flags
that matter for inference (AVX2 / AVX-512 / VNNI / AMX) and the load average."""

from __future__ import annotations

import os
import platform
from pathlib import Path

FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "amx_tile")


def cpu_line() -> str:
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and model in ("", platform.machine(), platform.processor()):
                model = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    have = [f for f in FLAGS if f in flags]
    lacking = [f for f in FLAGS if f not in flags]
    load = "/".join(f"{v:.1f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return (f"CPU: {model}, {os.cpu_count()} cores; flags {' '.join(have) or 'none of ' + ' '.join(FLAGS)}"
            + (f" (no {' '.join(lacking)})" if lacking else "") + f"; load average {load}")
