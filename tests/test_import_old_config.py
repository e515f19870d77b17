"""`import-old-config` on a sample of the old configuration: the old services' TOML files
(copied from the reference), a `.env` of the camera adapter's and backend's variables, and
the environment; the result loads as station settings and behaves like the old values."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from inspection_station.cli import main
from inspection_station.core.camera.transform import FrameTransform
from inspection_station.core.results.archive import ArchivePolicy
from inspection_station.core.settings.model import CameraSettings, load_settings
from inspection_station.core.settings.old_config import migrate, read_env_file, read_environment

REFERENCE = Path(__file__).resolve().parent / "data" / "old_config"  # the old services' default_config.toml

ENV = """\
# the camera adapter's container
SERIAL_NUMBER=40012345
EXPOSURE_TIME=6000
TIMEOUT_MS=5001
PIXEL_TYPE=Mono8
CONVERT_TO_FORMAT=RGB
IMAGE_ROI_LEFT=0.1
IMAGE_ROI_TOP=20
IMAGE_ROI_RIGHT=0.9
IMAGE_ROTATION_ANGLE=90
FRAMES_PER_SECOND=5
TEST_IMAGE=./test/*.png
TRANSMISSION_TYPE=Broadcast
LOG_LEVEL=DEBUG
# the backend's
BE_CAMERA_TIMEOUT=5.1
BE_MODEL_FOLDER_HEAD=./settings
BE_MODEL_MAPPING=class_map_CRU.csv
BE_PATTERN_FILE=./desired_coordinates.yml
BE_GENERAL_SAVE_IMAGES="every 10"  # and the failed ones (the default)
IF_MODEL_IMAGE_SIZE=(544, 640)
IF_MODEL_PRECISION=int8
FE_IMPRESS_PROJECT_NAME="Minimal Inference"
BE_SOMETHING_NEW=1
DESTINATION_PORT=70000
"""


@pytest.fixture
def old_files(tmp_path):
    tomls = []
    for service in ("Backend", "Inference", "Frontend"):
        target = tmp_path / service / "default_config.toml"
        target.parent.mkdir()
        shutil.copy(REFERENCE / f"{service}.toml", target)
        tomls.append(target)
    env = tmp_path / "camera.env"
    env.write_text(ENV)
    return [*tomls, env]


def test_the_sample_maps_to_station_settings_that_load(tmp_path, old_files, capsys):
    out = tmp_path / "station.toml"
    assert main(["import-old-config", *map(str, old_files), "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    loaded = load_settings(out, env={}, strict=True)  # no warning at all: every key is the station's
    s = loaded.settings
    assert (s.camera.serial, s.camera.exposure_us, s.camera.grab_timeout_ms) == ("40012345", 6000.0, 5001)
    assert (s.camera.pixel_format, s.camera.output_format, s.camera.transmission_type) == ("Mono8", "RGB", "LimitedBroadcast")
    assert (s.camera.roi_left, s.camera.roi_top, s.camera.roi_right, s.camera.roi_bottom) == (0.1, 20.0, 0.9, 0.0)
    assert s.camera.roi_before_rotation is True and s.camera.rotation_deg == 90.0
    assert s.camera.frame_rate_limit == 5.0
    assert (s.camera.source, s.camera.test_images) == ("folder", ["./test/*.png"])
    assert (s.results.archive, s.results.archive_every_n) == ("every_n_and_failed", 10)
    assert (s.results.image_format, s.results.image_quality) == ("jpg", 100)  # Backend.toml: .jpg, 100
    assert s.model.class_map == str(Path("settings") / "class_map_CRU.csv")
    assert s.model.path == str(Path("data") / "model.onnx")  # Inference.toml: folder_data + filename
    assert (s.model.input_height, s.model.input_width, s.model.confidence) == (544, 640, 0.5)
    assert s.model.providers == ["CPUExecutionProvider"]
    assert s.patterns.path == "./desired_coordinates.yml"
    assert s.station.project_name == "Minimal Inference"  # the env wins over Frontend.toml
    unmapped = "\n".join(report["unmapped"])
    for key, why in [("BE_CAMERA_TIMEOUT", "superseded by TIMEOUT_MS"), ("[camera] url", "no HTTP hop"),
                     ("IF_MODEL_PRECISION", "int8"), ("BE_SOMETHING_NEW", "unknown"),
                     ("DESTINATION_PORT", "at most 65535")]:
        assert any(key in line and why in line for line in report["unmapped"]), (key, unmapped)
    assert s.logging.level == "DEBUG"  # the adapter's LOG_LEVEL
    # the old frontend asked for BayerRG8 with every request; the adapter's own setting is Mono8
    assert any(line.startswith("[camera] pixel_format = 'Mono8'") and "old frontend's requests" in line
               for line in report["precedence"]), report["precedence"]
    env = str(old_files[-1])
    assert f"{env}:25: DESTINATION_PORT: could not map '70000'" in unmapped  # located: file and line
    text = out.read_text()
    assert text.startswith("# Station settings imported") and "# not mapped: " in text


def test_the_old_roi_after_migration_crops_as_the_old_adapter():
    # IMAGE_ROI_* in pixels and fractions, cropped before the 90 degree turn (the adapter's order)
    values = read_env_file_text("IMAGE_ROI_LEFT=8\nIMAGE_ROI_TOP=0.25\nIMAGE_ROI_RIGHT=40\nIMAGE_ROTATION_ANGLE=90\n")
    m = migrate(values)
    cam = CameraSettings(**m.changes["camera"])
    y, x = np.mgrid[0:48, 0:64]
    image = np.dstack([x, y, x]).astype(np.uint8)
    expected = np.rot90(image[12:48, 8:40], 1)  # PIL's rotate(90) turns counter-clockwise, as ours
    assert np.array_equal(FrameTransform.from_settings(cam).apply(image), expected)


def read_env_file_text(text: str):
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "x.env"
        p.write_text(text)
        return read_env_file(p)


@pytest.mark.parametrize(("save", "failed", "mode", "n"), [
    ("all", None, "all", None),
    ("every 5", "true", "every_n_and_failed", 5),
    ("every 5", "false", "every_n", 5),
    ("no", "true", "failed", None),
    ("no", "false", "none", None),
])
def test_archive_policy_of_the_old_backend(save, failed, mode, n):
    text = f"BE_GENERAL_SAVE_IMAGES={save}\n" + (f"BE_GENERAL_SAVE_IMAGES_WITH_FAILED_PATTERN_CHECK={failed}\n" if failed else "")
    m = migrate(read_env_file_text(text))
    assert m.changes["results"]["archive"] == mode
    if n:
        policy = ArchivePolicy(mode, n)
        # the old backend: save when counter % n == 0, or (with the flag) when the check failed
        assert [policy.wants(v, i) for i, v in enumerate(["OK", "NOK", "OK", "OK", "OK", "OK"])] == \
            [True, failed == "true", False, False, False, True]


def test_the_environment_and_bad_files(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BE_PATTERN_DEFAULT", "rotor_a")
    monkeypatch.setenv("EXPOSURE_TIME", "800")
    monkeypatch.setenv("HOME_OF_SOMETHING", "x")  # not the old system's: not even listed
    names = [v.where for v in read_environment()]
    assert "environment: BE_PATTERN_DEFAULT" in names and not any("HOME_OF" in n for n in names)
    out = tmp_path / "s.toml"
    assert main(["import-old-config", "--environment", "--out", str(out)]) == 0
    s = load_settings(out, env={}).settings
    assert (s.patterns.active, s.camera.exposure_us) == ("rotor_a", 800.0)
    capsys.readouterr()

    assert main(["import-old-config", "--environment", "--out", str(out)]) == 2  # never overwritten silently
    assert "exists" in capsys.readouterr().err
    before = out.read_text()
    bad = tmp_path / "bad.env"
    bad.write_text("GOOD=1\nthis is no assignment\n")
    assert main(["import-old-config", str(bad), "--out", str(out), "--force"]) == 2
    assert f"{bad}:2: expected NAME=VALUE" in capsys.readouterr().err
    assert out.read_text() == before  # the bad input wrote nothing


COMPOSE = """\
services:
  basler-camera-service:
    image: maxscw/basler-camera-adapter:v0.6.6
    environment:
      - TZ=Europe/Berlin
      - FASTAPI_ROOT_PATH="/camera"
      - PIXEL_TYPE=Mono8
      - EXPOSURE_TIME=6000
      - TEST_IMAGE=./test
  backend-service:
    environment:
      BE_GENERAL_SAVE_IMAGES: "every 3"
      BE_GENERAL_SAVE_IMAGES_WITH_FAILED_PATTERN_CHECK: "False"
"""


def test_a_docker_compose_file_of_the_old_system(tmp_path, capsys):
    compose = tmp_path / "docker-compose.yaml"
    compose.write_text(COMPOSE)
    out = tmp_path / "s.toml"
    assert main(["import-old-config", str(compose), "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    s = load_settings(out, env={}, strict=True).settings
    assert (s.camera.pixel_format, s.camera.exposure_us, s.camera.emulation_image_dir) == ("Mono8", 6000.0, "./test")
    assert (s.results.archive, s.results.archive_every_n) == ("every_n", 3)
    assert any(line.startswith(f"{compose}:6: basler-camera-service: FASTAPI_ROOT_PATH: not needed")
               for line in report["unmapped"])
    compose.write_text("version: '3'\n")
    assert main(["import-old-config", str(compose), "--out", str(out), "--force"]) == 2
    assert "no 'services:'" in capsys.readouterr().err


SERVICE_ENV = """\
LOGGING_LEVEL=WARN
SSL_CERTIFICATE=/etc/station/server.crt
SSL_KEYFILE=/etc/station/server.key
IF_ACCESS_TOKENS=fj48SL835sU#rdf, second-token
BE_ACCESS_TOKENS=third-token
FE_BACKEND_AUTH_TOKEN=4vrGhC7W
FE_BACKEND_MIN_CONFIDENCE=0.6
IF_MODEL_TH_SCORE=0.4
FE_BACKEND_PATTERN_KEY=rotor_b
BE_PATTERN_DEFAULT=rotor_a
FE_GENERAL_TITLE=Line 3 inspection
FE_GENERAL_DATA_FOLDER=./overruled
IF_MODEL_FILENAME=yolov7-tiny
IF_MODEL_FOLDER_DATA=./models
BE_CAMERA_IMAGE_ROI_LEFT=0.1
BE_CAMERA_IMAGE_ROTATION_EXPAND=true
"""


def test_logging_tls_tokens_and_the_frontends_settings_are_mapped(tmp_path, capsys):
    import hashlib

    env = tmp_path / "services.env"
    env.write_text(SERVICE_ENV)
    out = tmp_path / "s.toml"
    assert main(["import-old-config", str(env), "--out", str(out), "--json"]) == 0
    printed = capsys.readouterr().out
    report = json.loads(printed)
    s = load_settings(out, env={}, strict=True).settings
    digest = lambda t: hashlib.sha256(t.encode()).hexdigest()  # noqa: E731
    assert s.logging.level == "WARNING"
    assert (s.line.tls_certificate, s.line.tls_key) == ("/etc/station/server.crt", "/etc/station/server.key")
    assert s.line.api_token_sha256 == [digest("fj48SL835sU#rdf"), digest("second-token"), digest("third-token"),
                                       f"old-frontend={digest('4vrGhC7W')}"]
    for secret in ("fj48SL835sU", "second-token", "third-token", "4vrGhC7W"):
        assert secret not in printed and secret not in out.read_text()
    assert s.model.confidence == 0.6  # both thresholds applied in the old system: the higher decides
    assert any("the higher decides" in line for line in report["precedence"])
    assert s.patterns.active == "rotor_a"  # the later source; the report says what the old frontend asked for
    assert any(line.startswith("[patterns] active = 'rotor_a'") and "old frontend's requests" in line
               for line in report["precedence"]), report["precedence"]
    assert (s.station.project_name, s.results.review_dir) == ("Line 3 inspection", "./overruled")
    assert s.model.path == str(Path("models") / "yolov7-tiny.onnx")  # the old server added .onnx
    assert (s.camera.roi_left, s.camera.roi_before_rotation, s.camera.rotation_expand) == (0.1, True, True)
    assert not any("unknown" in line for line in report["unmapped"]), report["unmapped"]


COMPOSE_WITH_VARIABLES = """\
services:
  camera:
    environment:
      - EXPOSURE_TIME=${EXPOSURE}
      - PIXEL_TYPE=$PIXEL
      - TEST_IMAGE=${UNSET_ONE}
      - SUBNET_MASK=255.255.$$.0
  inference:
    environment:
      IF_MODEL_FILENAME: ${MODEL_NAME:-model}
"""


def test_variables_are_expanded_from_the_env_files_or_named(tmp_path, capsys):
    env = tmp_path / ".env"
    env.write_text("EXPOSURE=7000\nPIXEL=Mono12\n")
    compose = tmp_path / "docker-compose.yaml"
    compose.write_text(COMPOSE_WITH_VARIABLES)
    out = tmp_path / "s.toml"
    assert main(["import-old-config", str(env), str(compose), "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    s = load_settings(out, env={}, strict=True).settings
    assert (s.camera.exposure_us, s.camera.pixel_format, s.model.path) == (7000.0, "Mono12", "model.onnx")
    assert s.camera.subnet_mask == "255.255.$.0"
    assert any("TEST_IMAGE" in line and "${UNSET_ONE} is not set in the given .env files" in line
               for line in report["unmapped"])
    assert s.camera.source == "pylon"  # the unresolved TEST_IMAGE set nothing
