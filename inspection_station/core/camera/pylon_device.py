"""A Basler camera (or Basler's emulator) through pypylon.

The grab engine is started once at open and kept running: `GrabOne` would start and stop
it on every call (100+ ms on real cameras). Software mode waits for the camera to be
ready, executes a software trigger and retrieves that frame; hardware mode retrieves
line-triggered frames; continuous mode free-runs with GrabStrategy_LatestImageOnly.
Every RetrieveResult has a finite timeout and returns (never throws) on timeout; each
buffer is copied and given back at once. Not thread-safe: one thread (the CameraWorker)
owns the object.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import numpy as np

from inspection_station.core.camera.discovery import (
    DeviceInfo,
    pylon_errors,
    pylon_modules,
    select_device,
)
from inspection_station.core.camera.protocol import CameraState, FrameIncomplete, next_frame_id
from inspection_station.core.camera.transform import FrameTransform
from inspection_station.core.errors import CameraError, CameraTimeout
from inspection_station.core.frame import ColorOrder, Frame
from inspection_station.core.image_header import HEADER_BYTES, image_size
from inspection_station.core.images import IMAGE_SUFFIXES, list_images
from inspection_station.core.settings.model import CameraSettings, resolve_emulation_image_dir

BUFFER_COUNT = 4  # bounded buffer pool: frames are copied out at once, so a few suffice
EMULATOR_COLOUR_FORMAT = "RGB8Packed"  # the emulator serves files as Mono8 unless told otherwise
_OUTPUT_PIXEL_TYPES = {  # output_format -> pylon pixel type (pylon imported lazily)
    "RGB": lambda pylon: pylon.PixelType_RGB8packed,
    "BGR": lambda pylon: pylon.PixelType_BGR8packed,
    "Mono": lambda pylon: pylon.PixelType_Mono8,
}


class PylonCamera:
    def __init__(self, settings: CameraSettings) -> None:
        self._settings = settings
        self._transform = FrameTransform.from_settings(settings)
        self._cam: Any = None  # pylon.InstantCamera while open (pypylon has no type hints)
        self._info: DeviceInfo | None = None
        self._engine = ""  # running grab engine: "software" | "hardware" | "continuous" | ""
        self._converter: Any = None  # pylon.ImageFormatConverter
        self._pixel_format = ""
        self._warnings: list[str] = []
        self._state = CameraState.CLOSED
        self._emulator_files: list[Path] = []  # what the emulator serves; checked per grab

    # --- Camera protocol -------------------------------------------------------------

    @property
    def state(self) -> CameraState:
        return self._state

    @property
    def description(self) -> str:
        return self._info.label if self._info else "Basler camera (not open)"

    @property
    def warnings(self) -> list[str]:
        return list(self._warnings)

    @property
    def device(self) -> DeviceInfo | None:
        return self._info

    def _open_info(self) -> DeviceInfo:
        """The device of the open camera (grabbing and configuring happen only while open)."""
        if self._info is None:
            raise CameraError("the camera is not open")
        return self._info

    @property
    def instant_camera(self):
        """The pylon InstantCamera (diagnostics and tests; use it from the owning thread only)."""
        return self._cam

    def open(self) -> None:
        pylon, _ = pylon_modules()
        self._state = CameraState.CONNECTING
        self._warnings = []
        try:
            raw, self._info = select_device(self._settings)
            with pylon_errors(f"opening {self._info.label}"):
                self._cam = pylon.InstantCamera(pylon.TlFactory.GetInstance().CreateDevice(raw))
                self._cam.Open()
            with pylon_errors(f"configuring {self._info.label}"):
                self._configure()
                self._converter = pylon.ImageFormatConverter()
                self._converter.OutputPixelFormat = _OUTPUT_PIXEL_TYPES[
                    self._settings.output_format
                ](pylon)
            mode = self._settings.trigger_mode
            self._start_engine(mode)
        except BaseException:
            self.close()
            raise
        self._state = CameraState.EMULATED if self._info.emulated else CameraState.CONNECTED

    def close(self) -> None:
        cam, self._cam = self._cam, None
        self._engine = ""
        self._state = CameraState.CLOSED
        if cam is None:
            return
        _, genicam = pylon_modules()
        for step in ("StopGrabbing", "Close", "DestroyDevice"):
            # a removed device refuses all three; the handle is dropped anyway
            with contextlib.suppress(genicam.GenericException):
                getattr(cam, step)()

    def grab(self, timeout_ms: int | None = None) -> Frame:
        self._check_emulator_files()
        timeout_ms = self._timeout(timeout_ms)
        if self._engine == "hardware":
            return self.wait_hardware_trigger(timeout_ms)
        if self._engine == "continuous":
            return self._fresh_streamed_frame(timeout_ms)
        return self._software_triggered_frame(timeout_ms)

    def start_streaming(self) -> None:
        if self._engine != "continuous":
            self._start_engine("continuous")

    def stop_streaming(self) -> None:
        if self._engine == "continuous" and self._settings.trigger_mode != "continuous":
            self._start_engine(self._settings.trigger_mode)

    def latest_frame(self, timeout_ms: int | None = None) -> Frame:
        if self._engine != "continuous":
            raise CameraError(f"{self.description}: not streaming (call start_streaming first)")
        self._check_emulator_files()
        start = time.perf_counter()
        return self._retrieve(self._timeout(timeout_ms), start, "continuous", "no streamed frame")

    def wait_hardware_trigger(self, timeout_ms: int | None = None) -> Frame:
        if self._engine != "hardware":
            raise CameraError(
                f"{self.description}: not in hardware trigger mode ([camera] trigger_mode)"
            )
        self._check_emulator_files()
        start = time.perf_counter()
        s = self._settings
        return self._retrieve(
            self._timeout(timeout_ms),
            start,
            "hardware",
            f"no hardware trigger on {s.trigger_line} ({s.trigger_edge})",
        )

    def apply_image_settings(self, settings: CameraSettings) -> None:
        pylon, _ = pylon_modules()
        self._transform = FrameTransform.from_settings(settings)
        if self._converter is not None and settings.output_format != self._settings.output_format:
            self._converter.OutputPixelFormat = _OUTPUT_PIXEL_TYPES[settings.output_format](pylon)
        self._settings = settings

    def is_removed(self) -> bool:
        """Device unplugged (pylon's removal callback) or the handle no longer usable."""
        cam = self._cam
        if cam is None:
            return False
        _, genicam = pylon_modules()
        try:
            attached = cam.IsPylonDeviceAttached() and cam.IsOpen()
            return (
                bool(cam.IsCameraDeviceRemoved())
                or not attached
                or (bool(self._engine) and not cam.IsGrabbing())
            )
        except genicam.GenericException:
            return True

    # --- digital outputs (core/line/plc_signals.py; worker thread only) -----------------

    def configure_output(self, line: str, user_output: str) -> None:
        """Make `line` an output driven by `user_output` (LineMode Output, LineSource)."""
        with pylon_errors(f"configuring output {line} on {self.description}"):
            self._require_open()
            self._set_enum("LineSelector", line, "plc_outputs")
            self._set_enum("LineMode", "Output", "plc_outputs")
            self._set_enum("LineSource", user_output, "plc_outputs")

    def set_user_output(self, user_output: str, value: bool) -> None:
        with pylon_errors(f"setting {user_output} on {self.description}"):
            self._require_open()
            self._set_enum("UserOutputSelector", user_output, "plc_outputs")
            node = self._node("UserOutputValue")
            if node is None:
                raise CameraError(f"[line] plc_outputs: {self.description} has no UserOutputValue")
            node.SetValue(bool(value))

    def read_output(self, line: str, user_output: str) -> tuple[str, str, bool]:
        """(LineMode, LineSource, UserOutputValue) as the camera reports them (diagnostics, tests)."""
        with pylon_errors(f"reading output {line} on {self.description}"):
            self._require_open()
            self._set_enum("LineSelector", line, "plc_outputs")
            mode = str(self._node("LineMode").ToString())
            source = str(self._node("LineSource").ToString())
            self._set_enum("UserOutputSelector", user_output, "plc_outputs")
            return mode, source, bool(self._node("UserOutputValue").GetValue())

    # --- grabbing ---------------------------------------------------------------------

    def _timeout(self, timeout_ms: int | None) -> int:
        return int(self._settings.grab_timeout_ms if timeout_ms is None else max(0, timeout_ms))

    def _require_open(self):
        if self._cam is None:
            raise CameraError(f"{self.description}: the camera is not open")
        return self._cam

    def _software_triggered_frame(self, timeout_ms: int) -> Frame:
        pylon, _ = pylon_modules()
        cam = self._require_open()
        start = time.perf_counter()
        with pylon_errors(f"software trigger on {self.description}"):
            if not cam.WaitForFrameTriggerReady(timeout_ms, pylon.TimeoutHandling_Return):
                raise CameraTimeout(
                    f"{self.description} not ready for a software trigger within {timeout_ms} ms"
                )
            self._drain()  # a late frame of an earlier timed-out trigger is not this frame
            cam.ExecuteSoftwareTrigger()
        return self._retrieve(timeout_ms, start, "software", "no frame after the software trigger")

    def _fresh_streamed_frame(self, timeout_ms: int) -> Frame:
        """Skip what is ready and the frame already being exposed: the next one starts after us."""
        start = time.perf_counter()
        self._drain()
        pylon, _ = pylon_modules()
        with (  # the skipped frame is only given back: no conversion, no copy
            pylon_errors(f"grabbing from {self.description}"),
            self._require_open().RetrieveResult(timeout_ms, pylon.TimeoutHandling_Return) as result,
        ):
            if not result.IsValid():
                raise CameraTimeout(f"no streamed frame within {timeout_ms} ms ({self.description})")
        return self._retrieve(timeout_ms, start, "continuous", "no streamed frame")

    def _drain(self) -> None:
        pylon, _ = pylon_modules()
        cam = self._require_open()
        with pylon_errors(f"reading {self.description}"):
            while True:
                with cam.RetrieveResult(0, pylon.TimeoutHandling_Return) as result:
                    if not result.IsValid():
                        return

    def _retrieve(self, timeout_ms: int, start: float, mode: str, what: str) -> Frame:
        pylon, _ = pylon_modules()
        cam = self._require_open()
        with (
            pylon_errors(f"grabbing from {self.description}"),
            cam.RetrieveResult(timeout_ms, pylon.TimeoutHandling_Return) as result,
        ):
            if not result.IsValid():
                raise CameraTimeout(f"{what} within {timeout_ms} ms ({self.description})")
            if not result.GrabSucceeded():
                raise FrameIncomplete(
                    f"{self.description}: damaged frame: {result.GetErrorDescription()}"
                    f" (error 0x{result.GetErrorCode() & 0xFFFFFFFF:08X})"
                )
            image = self._to_output(result)
            block_id = int(result.BlockID) if hasattr(result, "BlockID") else -1
        image = self._transform.apply(image)  # C-contiguous; copies only when it changes the image
        return Frame(
            image=image,
            frame_id=next_frame_id(),
            timestamp=time.time(),
            source=f"pylon:{self._open_info().model} {self._open_info().serial}",
            grab_ms=(time.perf_counter() - start) * 1000,
            meta={
                "mode": mode,
                "pixel_format": self._pixel_format,
                "block_id": block_id,
                "emulated": self._open_info().emulated,
            },
            color=ColorOrder(self._settings.output_format),
        )

    def _to_output(self, result) -> np.ndarray:
        """Copy of the buffer in the output format (Bayer is demosaiced by the converter).

        pypylon's GetArray() already copies into memory of its own (GetArrayZeroCopy is
        the view), so the array outlives the buffer it came from; no second copy.
        """
        if self._converter.ImageHasDestinationFormat(result):
            return np.ascontiguousarray(result.GetArray())  # a no-op unless rows are padded
        converted = self._converter.Convert(result)
        try:
            return np.ascontiguousarray(converted.GetArray())
        finally:
            converted.Release()

    # --- configuration ----------------------------------------------------------------

    def _start_engine(self, mode: str) -> None:
        pylon, _ = pylon_modules()
        cam = self._require_open()
        s = self._settings
        with pylon_errors(f"starting {mode} acquisition on {self.description}"):
            if cam.IsGrabbing():
                cam.StopGrabbing()
            self._set_enum("TriggerSelector", "FrameStart", "trigger_mode", "silent")
            if mode == "continuous":
                self._set_enum("TriggerMode", "Off", "trigger_mode", "silent")
                self._set_enum("AcquisitionMode", "Continuous", "trigger_mode", "silent")
                strategy = pylon.GrabStrategy_LatestImageOnly  # live view: the newest frame wins
            else:
                self._set_enum("AcquisitionMode", "Continuous", "trigger_mode", "silent")
                self._set_enum("TriggerMode", "On", "trigger_mode")
                if mode == "software":
                    self._set_enum("TriggerSource", "Software", "trigger_mode")
                else:
                    self._set_enum("TriggerSource", s.trigger_line, "trigger_line")
                    self._set_enum("TriggerActivation", s.trigger_edge, "trigger_edge", "warn")
                strategy = pylon.GrabStrategy_OneByOne  # every trigger is one cycle, none dropped
            self._pixel_format = (
                str(cam.PixelFormat.Value) if self._node("PixelFormat") is not None else ""
            )
            cam.StartGrabbing(strategy)
        self._engine = mode

    def _configure(self) -> None:
        cam = self._require_open()
        s = self._settings
        cam.MaxNumBuffer.Value = BUFFER_COUNT
        pixel_format = s.pixel_format
        if self._open_info().emulated:
            pixel_format = self._configure_emulator() or pixel_format
        if pixel_format:
            self._set_enum("PixelFormat", pixel_format, "pixel_format")
        if s.exposure_us > 0:
            self._set_enum("ExposureAuto", "Off", "exposure_us", "silent")
            # SFNC 1 cameras (and the emulator) act on ExposureTimeAbs; ExposureTime may be a mere alias there
            self._set_number(("ExposureTimeAbs", "ExposureTime"), s.exposure_us, "exposure_us")
        if s.gain >= 0:
            self._set_enum("GainAuto", "Off", "gain", "silent")
            self._set_number(("Gain", "GainAbs"), s.gain, "gain")
        if s.frame_rate_limit > 0:  # the old adapter's FRAMES_PER_SECOND
            self._set_bool("AcquisitionFrameRateEnable", True, "frame_rate_limit")
            self._set_number(("AcquisitionFrameRateAbs", "AcquisitionFrameRate"), s.frame_rate_limit, "frame_rate_limit")
        if s.binning_mode == "camera" and s.binning > 1:
            # after the emulator's Width/Height: binning shrinks Width/Height with it
            self._set_number(("BinningHorizontal",), s.binning, "binning", integer=True)
            self._set_number(("BinningVertical",), s.binning, "binning", integer=True)
        if s.packet_size:
            self._set_number(("GevSCPSPacketSize",), s.packet_size, "packet_size", integer=True)
        stream = cam.GetStreamGrabberNodeMap()
        if s.transmission_type:
            self._set_enum(
                "TransmissionType", s.transmission_type, "transmission_type", "warn", stream
            )
        if s.destination_address:
            self._set_text(
                "DestinationAddr", s.destination_address, "destination_address", nodemap=stream
            )
        if s.destination_port:
            self._set_number(
                ("DestinationPort",),
                s.destination_port,
                "destination_port",
                integer=True,
                nodemap=stream,
            )

    def _check_emulator_files(self) -> None:
        """The emulator serves its built-in test pattern when its files vanish: never judge that.

        Raised as a lost camera: the worker reconnects with back-off, and the reopen
        succeeds once the folder is back.
        """
        files = self._emulator_files
        if files and not (files[0].parent.is_dir() and any(f.is_file() for f in files)):
            raise CameraError(
                f"emulator image folder {files[0].parent} is gone: not serving the test pattern instead"
            )

    def _configure_emulator(self) -> str:
        """Serve the configured image folder; returns the pixel format to use ("" = keep)."""
        folder = resolve_emulation_image_dir(self._settings)
        files = list_images(folder) if folder.is_dir() else []
        if not files:
            # The emulator would serve its test pattern instead: a station must not judge that.
            raise CameraError(
                f"[camera] emulation_image_dir: {folder} has no images "
                f"(expected {', '.join(IMAGE_SUFFIXES)}); not serving the emulator's test pattern instead"
            )
        self._emulator_files = files
        cam = self._cam
        cam.TestImageSelector.Value = "Off"  # else the test pattern wins over the files
        cam.ImageFileMode.Value = "On"
        cam.ImageFilename.Value = str(Path(folder).resolve())
        # The emulator crops files to its Width x Height (1024 x 1040 by default): size the
        # "sensor" to the first file, so demo images arrive whole (smaller ones come as they are).
        with open(files[0], "rb") as fh:  # the header only: the emulator decodes the files itself
            size = image_size(fh.read(HEADER_BYTES))
        if size is not None:
            self._set_number(
                ("Width",),
                min(size[0], cam.WidthMax.Value),
                "emulation_image_dir",
                integer=True,
            )
            self._set_number(
                ("Height",),
                min(size[1], cam.HeightMax.Value),
                "emulation_image_dir",
                integer=True,
            )
        return self._settings.pixel_format or EMULATOR_COLOUR_FORMAT

    def _node(self, name: str, nodemap=None):
        nodemap = nodemap if nodemap is not None else self._cam.GetNodeMap()
        try:
            return nodemap.GetNode(name)
        except Exception:  # noqa: BLE001 - absent node
            return None

    def _unavailable(self, key: str, node_name: str, missing: str) -> None:
        """`missing`: "error" (the mode cannot work), "warn" (a setting not applied) or "silent"."""
        message = f"[camera] {key}: {self.description} has no writable {node_name}; not applied"
        if missing == "error":
            raise CameraError(message)
        if missing == "warn":
            self._warnings.append(message)

    def _set_enum(
        self, name: str, value: str, key: str, missing: str = "error", nodemap=None
    ) -> None:
        _, genicam = pylon_modules()
        node = self._node(name, nodemap)
        if node is None or not genicam.IsWritable(node):
            self._unavailable(key, name, missing)
            return
        choices = [e.GetSymbolic() for e in node.GetEntries() if genicam.IsAvailable(e)]
        if value not in choices:
            raise CameraError(
                f"[camera] {key} = {value!r}: {self.description} offers {name} {', '.join(choices)}"
            )
        node.SetValue(value)

    def _set_number(
        self, names: tuple[str, ...], value: float, key: str, *, integer: bool = False, nodemap=None
    ) -> None:
        _, genicam = pylon_modules()
        for name in names:
            node = self._node(name, nodemap)
            if node is None or not genicam.IsWritable(node):
                continue
            lo, hi = node.GetMin(), node.GetMax()
            if not lo <= value <= hi:
                raise CameraError(
                    f"[camera] {key} = {value}: {self.description} accepts {name} {lo} .. {hi}"
                )
            if integer:
                inc = node.GetInc() if hasattr(node, "GetInc") else 1
                value = (
                    lo + round((value - lo) / inc) * inc
                )  # packet sizes step in fixed increments
                node.SetValue(int(value))
            else:
                node.SetValue(float(value))
            return
        self._unavailable(key, " / ".join(names), "warn")

    def _set_bool(self, name: str, value: bool, key: str) -> None:
        _, genicam = pylon_modules()
        node = self._node(name)
        if node is None or not genicam.IsWritable(node):
            self._unavailable(key, name, "warn")
            return
        node.SetValue(bool(value))

    def _set_text(self, name: str, value: str, key: str, *, nodemap=None) -> None:
        _, genicam = pylon_modules()
        node = self._node(name, nodemap)
        if node is None or not genicam.IsWritable(node):
            self._unavailable(key, name, "warn")
            return
        node.FromString(value)
