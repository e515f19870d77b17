"""Human labels and widget kinds for the settings keys, per tab, in display order.

A key added to a settings section later still appears (at the end, labelled from its
name), so the dialog never hides a setting; give it a proper label here.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from inspection_station.gui.engineer.settings_form import FieldSpec as F

PIXEL_FORMATS = ("", "Mono8", "Mono12", "BayerRG8", "BayerBG8", "BayerGB8", "BayerGR8", "RGB8", "BGR8", "YCbCr422_8")

CAMERA_FIELDS = [
    F("source", "Image source"),
    F("ip_address", "GigE IP address", tooltip="Pick a GigE camera by address instead of serial"),
    F("subnet_mask", "Subnet mask"),
    F("emulation", "Use the emulator when no camera is found"),
    F("emulation_image_dir", "Emulator image folder", kind="dir"),
    F("image_folder", "Replay folder (source = folder)", kind="dir"),
    F("pixel_format", "Pixel format", kind="editable_choice", choices=PIXEL_FORMATS,
      tooltip="Empty = the camera's current format"),
    F("output_format", "Convert frames to"),
    F("exposure_us", "Exposure", suffix=" µs", decimals=0, tooltip="0 = leave the camera's value",
      special=(0, "camera default")),
    F("gain", "Gain", suffix=" dB", tooltip="Negative = leave the camera's value", special=(-0.000001, "camera default")),
    F("trigger_mode", "Trigger mode"),
    F("trigger_line", "Trigger input line"),
    F("trigger_edge", "Trigger edge"),
    F("rotation_deg", "Rotation", suffix=" °", decimals=1),
    F("roi_unit", "Region of interest unit"),
    F("roi_x", "ROI x", decimals=3),
    F("roi_y", "ROI y", decimals=3),
    F("roi_width", "ROI width", decimals=3, tooltip="0 = to the right edge"),
    F("roi_height", "ROI height", decimals=3, tooltip="0 = to the bottom edge"),
    F("roi_left", "ROI left edge (old form)", decimals=3, tooltip="<= 1 a fraction, else pixels; or use ROI x/y/width/height"),
    F("roi_top", "ROI top edge (old form)", decimals=3, tooltip="<= 1 a fraction, else pixels"),
    F("roi_right", "ROI right edge (old form)", decimals=3, tooltip="<= 1 a fraction, else pixels; 0 = the edge"),
    F("roi_bottom", "ROI bottom edge (old form)", decimals=3, tooltip="<= 1 a fraction, else pixels; 0 = the edge"),
    F("roi_before_rotation", "Crop before rotating (the old adapter's order)"),
    F("rotation_expand", "Rotation keeps the corners (grow the frame)"),
    F("binning", "Binning (shrink frames by)", tooltip="1 = full resolution; 2 or 4 towards the model's input size"),
    F("binning_mode", "Binning done by",
      tooltip="camera: on the sensor (less data; 'not applied' if it cannot); software: averaged per frame"),
    F("frame_rate_limit", "Frame-rate limit", suffix=" fps", tooltip="0 = the camera's own rate",
      special=(0, "the camera's own rate")),
    F("test_images", "Replay images / globs (source = folder)", tooltip="Comma-separated files or globs, e.g. C:/test/*.png"),
    F("test_image_order", "Replay order"),
    F("grab_timeout_ms", "Grab timeout", suffix=" ms"),
    F("reconnect_min_s", "First reconnect delay", suffix=" s"),
    F("reconnect_max_s", "Longest reconnect delay", suffix=" s"),
    F("max_image_pixels", "Largest image file", suffix=" pixels",
      tooltip="Replayed or emulated image files declaring more pixels are refused before decoding"),
    F("transmission_type", "GigE transmission type"),
    F("destination_address", "GigE destination address"),
    F("destination_port", "GigE destination port"),
    F("packet_size", "GigE packet size", suffix=" B", tooltip="0 = leave the camera's value",
      special=(0, "camera default")),
]

MODEL_FIELDS = [
    F("path", "ONNX model file", kind="file", file_filter="ONNX models (*.onnx);;All files (*)",
      tooltip="Empty = the bundled demo model"),
    F("runtime", "Runtime",
      tooltip="onnxruntime (with the providers below) or Intel's OpenVINO runtime; \"inspection-station model optimize\" measures both"),
    F("openvino_precision", "OpenVINO precision",
      tooltip="f32 = as exported; bf16 / f16 only on CPUs with AMX / AVX-512-FP16 (model optimize checks the verdicts)"),
    F("input_width", "Fallback input width", suffix=" px", tooltip="Used only by models with a dynamic input size"),
    F("input_height", "Fallback input height", suffix=" px"),
    F("confidence", "Confidence threshold", decimals=3),
    F("iou", "IoU threshold (NMS)", decimals=3),
    F("max_detections", "Most detections per image"),
    F("intra_op_threads", "Inference threads", tooltip="0 = onnxruntime's default: one per physical core"),
    F("spinning", "Inference threads spin-wait",
      tooltip="auto = off while this window runs (the screen and the camera keep their CPU), on headless"),
    F("graph_optimization", "Graph optimisation", tooltip="onnxruntime's level; 'all' is the fastest to run"),
    F("cache_optimized", "Cache the optimised model", tooltip="Saves ~0.1 s per start; rebuilt when the model changes"),
    F("class_map", "Class map CSV (id,name,color)", kind="file", file_filter="CSV files (*.csv);;All files (*)",
      tooltip="The old backend's class map; the Classes table below wins over it"),
]

PATTERN_FIELDS = [
    F("path", "Pattern file or folder", kind="path", file_filter="Pattern files (*.yaml *.yml)",
      tooltip="Empty = the bundled demo patterns"),
    F("active", "Active pattern set", kind="editable_choice", tooltip="Empty = the first"),
]

RESULTS_FIELDS = [
    F("log_dir", "Results log folder", kind="dir", tooltip="Empty = results/ in the station's data root"),
    F("image_dir", "Image archive folder", kind="dir"),
    F("review_dir", "Review folder (overrules)", kind="dir"),
    F("archive", "Archive images"),
    F("archive_every_n", "… every N-th cycle"),
    F("image_format", "Image format"),
    F("image_quality", "Image quality", suffix=" %"),
    F("archive_queue_size", "Images waiting for the writer"),
    F("statistics_window", "Cycles in the timing statistics"),
]

STATION_NAME_FIELD = F("name", "Station name", tooltip="Written in every results row")

STATION_FIELDS = [
    F("pedal_key", "Foot pedal key", tooltip="The key a USB foot pedal types, e.g. F12"),
    F("kiosk", "Kiosk mode (full screen, no window controls)"),
    F("history_size", "Cycles kept in the history"),
    F("cycle", "Cycle", tooltip="overlapped: the next part's grab and the last part's row run while the model "
      "works (line rate); verdicts stay in order. Takes effect at the next start"),
    F("project_name", "About: project name"),
    F("author", "About: author"),
    F("status", "About: status"),
    F("link", "About: link"),
    F("info_text", "About: information", kind="multiline"),
]

LINE_FIELDS = [
    F("api_enabled", "HTTP API (trigger, results, images, /metrics)"),
    F("api_host", "API address", tooltip="127.0.0.1 = this PC only; any other address needs tokens"),
    F("api_port", "API port"),
    F("metrics_enabled", "Prometheus metrics on a port of their own"),
    F("metrics_host", "Metrics address"),
    F("metrics_port", "Metrics port"),
    F("max_upload_mb", "Largest uploaded image", suffix=" MB", decimals=1),
    F("max_json_mb", "Largest JSON request", suffix=" MB", decimals=2),
    F("max_connections", "Open connections at most"),
    F("max_requests_in_flight", "Requests answered at once at most"),
    F("header_timeout_s", "Time for a request's head", suffix=" s", decimals=1,
      tooltip="From connect (TLS handshake included) to a complete request head; slower clients are cut off"),
    F("body_timeout_s", "Time for a request's body", suffix=" s", decimals=1),
    F("keep_alive_s", "Idle connections closed after", suffix=" s", decimals=1),
    F("upload_queue", "Uploads inspected or waiting at most"),
    F("log_uploads", "Log uploaded images' verdicts to the CSV"),
    F("allowed_hosts", "Host names accepted",
      tooltip="Besides localhost, IP addresses and this PC's name, comma-separated (a DNS name the plant uses)"),
    F("cors_origins", "Browser origins allowed", tooltip="e.g. https://mes.plant.example; empty = no browser page may call"),
    F("tls_certificate", "TLS certificate (PEM)", kind="file"),
    F("tls_key", "TLS private key (PEM)", kind="file"),
    F("allow_plain_http", "Allow tokens over plain HTTP off this PC",
      tooltip="Only for a closed network without TLS: bearer tokens then cross it in clear"),
    F("legacy_api", "The old system's routes (/main/with-camera, /check-pattern, ...)"),
    F("plc_enabled", "PLC signals on the camera's outputs"),
    F("plc_outputs", "Output lines", tooltip="SIGNAL=LINE:USEROUTPUT[:pulse=MS][:inverted], comma-separated, "
      "e.g. READY=Line2:UserOutput1, OK=Line3:UserOutput2:pulse=200"),
    F("opcua_enabled", "OPC UA server (OPC 40100 Machine Vision)"),
    F("opcua_host", "OPC UA address", tooltip="127.0.0.1 = this PC only (the None security policy is "
      "offered there only); any other address: Sign / SignAndEncrypt with trusted client certificates"),
    F("opcua_port", "OPC UA port"),
    F("recipe_select_enabled", "Recipe selection by the PLC on input lines"),
    F("recipe_lines", "Recipe number lines", tooltip="bit 0 first, comma-separated, e.g. Line2, Line3"),
    F("recipe_strobe", "Strobe line", tooltip="latches the number on its rising edge; empty = at each trigger"),
    F("recipe_table", "Recipe table", tooltip="NUMBER=RECIPE, comma-separated, e.g. 1=housing_a, 2=housing_b"),
    F("opcua_pki_dir", "OPC UA certificates folder", tooltip="own/ (the station's certificate), trusted/ "
      "(client certificates to accept), rejected/; empty = the user data folder", kind="dir"),
]


def specs_for(section: Any, specs: list[F], exclude: set[str] = frozenset()) -> list[F]:
    """`specs` limited to the section's keys, plus any unlabelled key appended."""
    keys = [f.name for f in dataclasses.fields(section)]
    listed = [s for s in specs if s.key in keys and s.key not in exclude]
    named = {s.key for s in specs} | set(exclude)
    extra = [F(k, k.replace("_", " ").capitalize()) for k in keys if k not in named]
    return listed + extra
