"""Finding Basler devices: enumeration, choosing by serial / IP / first, emulator fallback.

Everything pylon raises is turned into a CameraError with a plain message here or in
pylon_camera.py, so callers above never see a genicam exception.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

from inspection_station.core.errors import CameraError
from inspection_station.core.settings.model import CameraSettings

EMULATOR_DEVICE_CLASS = "BaslerCamEmu"
GIGE_DEVICE_CLASS = "BaslerGigE"
EMULATOR_SERIAL_PREFIX = "0815-"  # every emulated camera's serial; no real Basler serial has it
_PYLON_TRAILER = re.compile(
    r"\s*:\s*\w+ thrown \(file .*\)\s*$"
)  # "... : RuntimeException thrown (file 'x.h', line 1)"


def ensure_emulator_env(count: int = 1) -> None:
    """Make the emulator transport layer offer devices; must run before pylon first enumerates."""
    os.environ.setdefault("PYLON_CAMEMU", str(count))


def pylon_modules():
    """(pylon, genicam), or a CameraError saying how to get them."""
    try:
        from pypylon import genicam, pylon
    except ImportError as exc:  # pragma: no cover - pypylon is a dependency
        raise CameraError(
            f"pypylon is not installed or cannot load ({exc}); install 'pypylon'"
        ) from None
    return pylon, genicam


def pylon_message(exc: BaseException) -> str:
    """A genicam exception's text without the C++ file/line trailer."""
    text = str(exc).strip()
    return _PYLON_TRAILER.sub("", text) or type(exc).__name__


@contextlib.contextmanager
def pylon_errors(what: str) -> Iterator[None]:
    """Turn genicam exceptions into CameraError("<what>: <message>") at the pylon edge."""
    _, genicam = pylon_modules()
    try:
        yield
    except genicam.GenericException as exc:
        raise CameraError(f"{what}: {pylon_message(exc)}") from None


@dataclass(frozen=True)
class DeviceInfo:
    model: str
    serial: str
    ip_address: str  # "" when not a GigE device
    device_class: str
    friendly_name: str

    @property
    def emulated(self) -> bool:
        return self.device_class == EMULATOR_DEVICE_CLASS

    @property
    def label(self) -> str:
        ip = f" ({self.ip_address})" if self.ip_address else ""
        return f"{self.model} {self.serial}{ip}{' [emulated]' if self.emulated else ''}"


def _text(raw, getter: str) -> str:
    try:
        value = str(getattr(raw, getter)())
    except Exception:  # noqa: BLE001 - a property the transport layer lacks
        return ""
    return "" if value in ("N/A", "") else value


def describe(raw) -> DeviceInfo:
    return DeviceInfo(
        model=_text(raw, "GetModelName"),
        serial=_text(raw, "GetSerialNumber"),
        ip_address=_text(raw, "GetIpAddress"),
        device_class=_text(raw, "GetDeviceClass"),
        friendly_name=_text(raw, "GetFriendlyName"),
    )


def enumerate_raw(*, emulation: bool = True, emulators_only: bool = False) -> list:
    """pylon DeviceInfo objects, real devices first (in pylon's order), then emulators.

    `emulators_only` asks the emulator's transport layer alone: a full enumeration waits
    ~250 ms for GigE discovery answers, the emulator answers in under 1 ms.
    """
    if emulation:
        ensure_emulator_env()
    pylon, _ = pylon_modules()
    with pylon_errors("listing cameras"):
        factory = pylon.TlFactory.GetInstance()
        if emulators_only:
            only = pylon.DeviceInfo()
            only.SetDeviceClass(EMULATOR_DEVICE_CLASS)
            raws = list(factory.EnumerateDevices([only]))
        else:
            raws = list(factory.EnumerateDevices())
    return sorted(raws, key=lambda r: _text(r, "GetDeviceClass") == EMULATOR_DEVICE_CLASS)


def list_devices(*, emulation: bool = True) -> list[DeviceInfo]:
    return [describe(r) for r in enumerate_raw(emulation=emulation)]


def _gige_by_ip(ip: str, subnet_mask: str):
    """A GigE device addressed directly by IP (unicast discovery, e.g. behind a router)."""
    pylon, genicam = pylon_modules()
    info = pylon.DeviceInfo()
    info.SetDeviceClass(GIGE_DEVICE_CLASS)
    info.SetIpAddress(ip)
    if subnet_mask:
        info.SetSubnetMask(subnet_mask)
    try:
        found = pylon.TlFactory.GetInstance().EnumerateDevices([info])
    except genicam.GenericException:
        return None
    return found[0] if len(found) else None


def select_device(settings: CameraSettings):
    """(pylon DeviceInfo, DeviceInfo) for the settings; CameraError saying what was searched.

    A configured serial or IP that is missing never falls back to the emulator: a station
    must not pass parts on emulated frames because its production camera is unplugged.
    """
    emulator_serial = settings.emulation and settings.serial.startswith(EMULATOR_SERIAL_PREFIX)
    raws = enumerate_raw(emulation=settings.emulation, emulators_only=emulator_serial)
    real = [r for r in raws if _text(r, "GetDeviceClass") != EMULATOR_DEVICE_CLASS]
    emulated = [r for r in raws if _text(r, "GetDeviceClass") == EMULATOR_DEVICE_CLASS]
    seen = ", ".join(describe(r).label for r in raws) or "none"
    if settings.serial:
        for raw in raws:
            if _text(raw, "GetSerialNumber") == settings.serial:
                return raw, describe(raw)
        raise CameraError(f"no camera with serial {settings.serial!r} (found: {seen})")
    if settings.ip_address:
        for raw in real:
            if _text(raw, "GetIpAddress") == settings.ip_address:
                return raw, describe(raw)
        raw = _gige_by_ip(settings.ip_address, settings.subnet_mask)
        if raw is not None:
            return raw, describe(raw)
        mask = f" / {settings.subnet_mask}" if settings.subnet_mask else ""
        raise CameraError(f"no GigE camera answers at {settings.ip_address}{mask} (found: {seen})")
    if real:
        return real[0], describe(real[0])
    if settings.emulation and emulated:
        return emulated[0], describe(emulated[0])
    if settings.emulation:
        raise CameraError(
            "no camera found and the pylon camera emulator offers no device (is PYLON_CAMEMU=0?)"
        )
    raise CameraError(
        "no camera found (emulation is off: set [camera] emulation = true to use the emulator)"
    )
