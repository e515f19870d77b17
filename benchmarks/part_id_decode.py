"""What decoding a part id from the frame costs per cycle: zxing-cpp on the whole frame vs
on a configured region, for a DataMatrix / QR / Code 128 printed on a 2448x2048 frame.

    python benchmarks/part_id_decode.py [--repeat 30]

Prints the median milliseconds per read and the ratio whole-frame / region.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import zxingcpp

from inspection_station.core.trace.codes import CodeReader

H, W = 2048, 2448


def frame_with(fmt: str) -> np.ndarray:
    rng = np.random.default_rng(0)
    frame = rng.integers(60, 120, (H, W, 3), dtype=np.uint8)  # textured, like a board
    scale = 3 if fmt == "Code128" else 8
    symbol = np.asarray(zxingcpp.create_barcode("SN-2026-000123", zxingcpp.barcode_format_from_str(fmt))
                        .to_image(scale=scale))
    y, x, pad = 100, 100, 24
    frame[y:y + symbol.shape[0] + 2 * pad, x:x + symbol.shape[1] + 2 * pad] = 255
    frame[y + pad:y + pad + symbol.shape[0], x + pad:x + pad + symbol.shape[1]] = symbol[..., None]
    return frame


def median_ms(reader: CodeReader, image: np.ndarray, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        reader.read(image)
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    for fmt in ("DataMatrix", "QRCode", "Code128"):
        image = frame_with(fmt)
        whole, region = CodeReader([fmt]), CodeReader([fmt], (0.0, 0.0, 0.3, 0.3))
        assert [c.text for c in region.read(image)] == ["SN-2026-000123"], fmt
        found_whole = [c.text for c in whole.read(image)]
        a, b = median_ms(whole, image, args.repeat), median_ms(region, image, args.repeat)
        print(f"{fmt:<10} whole frame {a:7.2f} ms  region 30%x30% {b:6.2f} ms  ratio {a / b:5.1f}"
              f"  (whole frame found: {found_whole})")


if __name__ == "__main__":
    main()
