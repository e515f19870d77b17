"""What this CPU offers inference: its name and the vector/matrix flags that decide which
precisions pay (VNNI and AMX for int8, AMX-BF16 and AVX-512-FP16 for half precision)."""

from __future__ import annotations

import platform
from dataclasses import dataclass


@dataclass(frozen=True)
class CpuFeatures:
    machine: str
    name: str
    flags: tuple[str, ...]  # the avx*/amx* flags only, sorted

    @property
    def int8_dot_product(self) -> bool:
        """VNNI (AVX-512 or AVX) or AMX: int8 multiply-accumulate in one instruction."""
        return any(f in self.flags for f in ("avx512_vnni", "avx_vnni", "amx_int8"))

    @property
    def bf16(self) -> bool:
        return "amx_bf16" in self.flags or "avx512_bf16" in self.flags

    @property
    def fp16(self) -> bool:
        return "avx512_fp16" in self.flags or "amx_fp16" in self.flags

    def summary(self) -> str:
        """One line for every speed figure: the CPU and what it lacks."""
        lacking = [what for what, has in (("VNNI", self.int8_dot_product), ("AMX", any(f.startswith("amx") for f in self.flags)),
                                          ("AVX-512-FP16", self.fp16)) if not has]
        flags = " ".join(self.flags) or "none reported"
        return f"{self.name or self.machine}, flags {flags}" + (f" (no {', no '.join(lacking)})" if lacking else "")


def cpu_features() -> CpuFeatures:
    name, flags = platform.processor(), ""
    try:  # platform.processor() is empty on most Linux builds; Windows has no /proc
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError:
        lines = []
    for line in lines:
        key, _, value = line.partition(":")
        if key.strip() == "model name" and not flags:
            name = value.strip()
        elif key.strip() == "flags":
            flags = value
            break
    chosen = tuple(sorted(f for f in flags.split() if f.startswith(("avx", "amx"))))
    return CpuFeatures(platform.machine(), name, chosen)
