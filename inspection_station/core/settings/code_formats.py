"""The `[part_id] formats` setting: names of the code formats zxing-cpp reads.

Written once here (the settings checks and the decoder, core/trace/codes.py, both use it).
"""

from __future__ import annotations

from collections.abc import Sequence

from inspection_station.core.errors import ConfigError

_ALIASES = {"dmc": "DataMatrix", "qr": "QRCode", "code128": "Code128"}


def _zxing():
    import zxingcpp  # lazy: only stations that decode codes pay for the import

    return zxingcpp


def parse_formats(names: Sequence[str]):
    """zxing-cpp formats for names like "DataMatrix", "QRCode", "Code128" (ConfigError otherwise)."""
    zx = _zxing()
    formats = []
    for name in names:
        wanted = _ALIASES.get(name.strip().lower(), name.strip())
        try:
            formats.append(zx.barcode_format_from_str(wanted))
        except (ValueError, TypeError, RuntimeError):
            raise ConfigError(
                f"[part_id] formats: {name!r} is not a code format (expected e.g. DataMatrix, QRCode, Code128)"
            ) from None
    return formats
