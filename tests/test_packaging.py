"""The frozen build and the Windows installer, end to end (slow: minutes).

    .venv/bin/pytest -m slow tests/test_packaging.py

1. Build the one-folder app with PyInstaller (packaging/build.py) into tmp.
2. Run the frozen binary: the camera emulator must be found inside it (pylon's
   transport layers are bundled and found), the detector must give the same
   detections as the source tree, and `run --headless --demo` the same verdicts.
3. Compile installer.nsi (uncompressed) around that build with makensis.
4. Install it silently under wine (64-bit) and read what it did: files, shortcuts,
   the Apps & features registry key; uninstall silently and check all of it is
   gone while the user's data stays (or goes, with /REMOVEUSERDATA).

The build here is Linux code; the installer logic (files, shortcuts, registry,
uninstall) is the same for a Windows build. Needs the dev extra (PyInstaller) and
the system packages nsis + wine64 (Debian); without them those parts are skipped.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
APP = "InspectionStation"
EXE_SUFFIX = ".exe" if sys.platform == "win32" else ""
UNINST_KEY = r"HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall\InspectionStation"
CYCLE_LINE = re.compile(r"^#(\d+)\s+\S+\s+(OK|NOK|ERROR)\b")


def _missing(what: str) -> None:
    """Skip on a developer's machine without the tool; in CI (which installs it) fail."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} — .ci/run installs it, so CI must have it")
    pytest.skip(what)


def _run(command: list[str], timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)


def _version() -> str:
    import tomllib

    with (REPO / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)["project"]["version"]


# ---- the frozen app ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def frozen_app(tmp_path_factory) -> Path:
    if importlib.util.find_spec("PyInstaller") is None:
        _missing("PyInstaller is not installed (pip install -e .[test])")
    out = tmp_path_factory.mktemp("frozen")
    result = _run(
        [
            sys.executable,
            str(REPO / "packaging" / "build.py"),
            "--no-installer",
            "--dist",
            str(out / "dist"),
            "--work",
            str(out / "work"),
        ],
        timeout=900,
        cwd=REPO,
    )
    assert result.returncode == 0, (
        f"PyInstaller build failed:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    )
    app = out / "dist" / APP
    assert (app / f"inspection-station{EXE_SUFFIX}").is_file()
    assert (app / f"{APP}{EXE_SUFFIX}").is_file()
    return app


def _frozen(app: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return _run(
        [str(app / f"inspection-station{EXE_SUFFIX}"), *args], timeout=timeout, cwd=app.parent
    )


def _source(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return _run([sys.executable, "-m", "inspection_station", *args], timeout=timeout, cwd=REPO)


def test_bundle_holds_what_is_loaded_and_not_what_is_not(frozen_app: Path):
    internal = frozen_app / "_internal"
    # core/paths.py: resources/ and models/ at the bundle root (sys._MEIPASS).
    assert (internal / "resources" / "default_config.toml").is_file()
    assert (internal / "resources" / "icons" / "app.ico").is_file()
    # pylon: base library and transport layers side by side, the emulator included.
    pylon = internal / "pypylon"
    names = {p.name for p in pylon.iterdir()}
    if sys.platform.startswith("linux"):
        assert {
            "libpylonbase.so.12",
            "libpylon_TL_camemu.so",
            "libpylon_TL_usb.so",
            "libpylon_TL_gige.so",
        } <= names
        assert any(n.startswith("pylon-libusb") for n in names)
    assert not (pylon / "pylondataprocessingplugins").exists()
    assert not (pylon / "dataprocessingpluginsb").exists()
    assert not any(
        n.lower().startswith(("libpylondataprocessing", "pylondataprocessing")) for n in names
    )
    # onnxruntime's provider libraries.
    capi = internal / "onnxruntime" / "capi"
    assert any(p.name.startswith(("libonnxruntime", "onnxruntime")) for p in capi.iterdir())
    # Qt: the platform plugins we run on, and none of the unused modules.
    platforms = {p.name for p in internal.glob("PySide6/**/platforms/*")}
    wanted = (
        {"qwindows.dll", "qoffscreen.dll"}
        if sys.platform == "win32"
        else {"libqxcb.so", "libqoffscreen.so"}
    )
    assert wanted <= platforms, platforms
    assert not any("wayland" in name for name in platforms)
    modules = {p.name.split(".")[0] for p in (internal / "PySide6").glob("Qt*.*")}
    assert not modules & {"QtQuick", "QtQml", "QtWebEngineCore", "Qt3DCore", "QtDesigner"}, modules


def test_frozen_app_finds_the_emulated_camera(frozen_app: Path):
    """pylon inside the bundle finds its transport layers (the camemu TL) and the emulator."""
    result = _frozen(frozen_app, "cameras", "--json")
    assert result.returncode == 0, result.stderr
    devices = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert any(d["emulated"] and d["serial"] == "0815-0000" for d in devices), result.stdout


def test_frozen_app_reports_the_project_version(frozen_app: Path):
    for exe in (f"{APP}{EXE_SUFFIX}", f"inspection-station{EXE_SUFFIX}"):
        result = _run([str(frozen_app / exe), "--version"], timeout=120)
        assert result.returncode == 0, result.stderr
        assert _version() in result.stdout


def _demo_image() -> Path | None:
    images = sorted((REPO / "resources" / "demo_images").glob("*.png"))
    return images[0] if images else None


def test_frozen_detector_matches_the_source_tree(frozen_app: Path):
    model = REPO / "models" / "demo_parts.onnx"
    image = _demo_image()
    assert model.is_file() and image is not None, "the bundled demo model and images are part of the repo"
    bundled_model = frozen_app / "_internal" / "models" / model.name
    assert bundled_model.is_file()
    frozen = _frozen(frozen_app, "detect", "--model", str(bundled_model), "--json", str(image))
    source = _source("detect", "--model", str(model), "--json", str(image))
    assert frozen.returncode == 0, frozen.stderr
    assert source.returncode == 0, source.stderr
    got = json.loads(frozen.stdout.splitlines()[0])
    want = json.loads(source.stdout.splitlines()[0])
    assert [d["class_id"] for d in got["detections"]] == [d["class_id"] for d in want["detections"]]
    for g, w in zip(got["detections"], want["detections"], strict=True):
        assert g["box"] == pytest.approx(w["box"], abs=0.5)


def _verdicts(output: str) -> list[str]:
    return [m.group(2) for line in output.splitlines() if (m := CYCLE_LINE.match(line))]


def test_frozen_headless_demo_gives_the_demo_verdicts(frozen_app: Path):
    """The whole cycle in the frozen app: emulator -> model -> pattern -> verdict -> CSV."""
    args = ("run", "--headless", "--demo", "--cycles", "3")
    frozen = _frozen(frozen_app, *args, timeout=300)
    assert frozen.returncode == 0, f"{frozen.stdout}\n{frozen.stderr}"
    got = _verdicts(frozen.stdout)
    assert len(got) == 3, frozen.stdout
    assert "ERROR" not in got, frozen.stdout
    # The same demo from the source tree: the frozen app must judge every cycle alike.
    source = _source(*args, timeout=300)
    assert source.returncode == 0, f"{source.stdout}\n{source.stderr}"
    assert got == _verdicts(source.stdout), f"frozen:\n{frozen.stdout}\nsource:\n{source.stdout}"


# ---- the installer under wine ------------------------------------------------------------


def _tool(name: str, *fallbacks: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    return next((f for f in fallbacks if Path(f).is_file()), None)


@pytest.fixture(scope="module")
def installer(frozen_app: Path, tmp_path_factory) -> Path:
    makensis = _tool("makensis")
    if makensis is None:
        _missing("makensis not installed (apt-get install nsis)")
    out = tmp_path_factory.mktemp("installer") / f"{APP}-test-setup.exe"
    result = _run(
        [
            sys.executable,
            str(REPO / "packaging" / "build.py"),
            "--skip-freeze",
            "--fast",
            "--dist",
            str(frozen_app.parent),
        ],
        timeout=600,
        cwd=REPO,
    )
    assert result.returncode == 0, (
        f"makensis failed:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    )
    built = frozen_app.parent / f"{APP}-{_version()}-setup.exe"
    assert built.is_file(), result.stdout
    built.replace(out)
    return out


def test_installer_requires_a_version(frozen_app: Path, tmp_path: Path):
    makensis = _tool("makensis")
    if makensis is None:
        _missing("makensis not installed (apt-get install nsis)")
    result = _run(
        [
            makensis,
            f"-DDIST_DIR={frozen_app}",
            f"-DOUTFILE={tmp_path / 'x.exe'}",
            "-DCOMPRESS=off",
            str(REPO / "installer.nsi"),
        ],
        timeout=300,
    )
    assert result.returncode != 0
    assert "VERSION is not defined" in result.stdout + result.stderr


class Wine:
    """A throwaway 64-bit wine prefix: run Windows programs, wait for them, read the registry."""

    def __init__(self, prefix: Path, wine: str, wineserver: str):
        self.prefix = prefix
        self.wine = wine
        self.wineserver = wineserver
        self.env = {
            **os.environ,
            "WINEPREFIX": str(prefix),
            "WINEARCH": "win64",
            "WINEDEBUG": "-all",
            "WINEDLLOVERRIDES": "mscoree,mshtml=",  # no Mono/Gecko install prompts
        }
        self.env.pop("DISPLAY", None)  # headless: NSIS /S needs no window
        self.drive_c = prefix / "drive_c"

    def run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        result = _run([self.wine, *args], timeout=timeout, env=self.env)
        self.wait()
        return result

    def run_command_line(
        self, command_line: str, timeout: float = 600
    ) -> subprocess.CompletedProcess:
        """Run a Windows command line as typed in cmd.exe (NSIS wants `/D=` unquoted, last)."""
        return self.run("cmd", "/c", command_line, timeout=timeout)

    @staticmethod
    def windows_path(path: Path) -> str:
        """A Linux path as wine sees it (drive Z: is /)."""
        return "Z:" + str(path).replace("/", "\\")

    def wait(self) -> None:
        """Until every wine process ended (an NSIS uninstaller re-launches itself from TEMP)."""
        _run([self.wineserver, "-w"], timeout=600, env=self.env)

    def reg_values(self, key: str) -> dict[str, str] | None:
        result = _run([self.wine, "reg", "query", key, "/reg:64"], timeout=120, env=self.env)
        if result.returncode != 0:
            return None
        values = {}
        for line in result.stdout.splitlines():
            parts = re.split(r"\s{4,}", line.strip())
            if len(parts) == 3 and parts[1].startswith("REG_"):
                values[parts[0]] = parts[2]
        return values

    def path(self, windows_path: str) -> Path:
        drive, _, rest = windows_path.partition(":\\")
        assert drive.upper() == "C", windows_path
        return self.drive_c.joinpath(*rest.split("\\"))

    def user_local_appdata(self) -> Path:
        users = [p for p in (self.drive_c / "users").iterdir() if p.name != "Public"]
        assert len(users) == 1, users
        return users[0] / "AppData" / "Local"


@pytest.fixture(scope="module")
def wine(tmp_path_factory) -> Wine:
    wine64 = _tool("wine64", "/usr/lib/wine/wine64")
    wineserver = _tool("wineserver", "/usr/lib/wine/wineserver64", "/usr/lib/wine/wineserver")
    if wine64 is None or wineserver is None:
        _missing("wine64 not installed (apt-get install wine64)")
    w = Wine(tmp_path_factory.mktemp("wine") / "prefix", wine64, wineserver)
    w.run("wineboot", "--init", timeout=600)
    assert (w.drive_c / "windows").is_dir(), "wineboot created no prefix"
    return w


def _lnk_target(lnk: Path) -> str:
    data = lnk.read_bytes()
    return data.decode("utf-16-le", "ignore") + data.decode("latin-1")


def _tree_kib(folder: Path) -> int:
    return (
        sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
        // 1024
    )


def test_installer_installs_and_uninstalls_silently(installer: Path, wine: Wine):
    programs = wine.drive_c / "ProgramData" / "Microsoft" / "Windows" / "Start Menu" / "Programs"
    menu = programs / "Inspection Station"
    desktop = wine.drive_c / "users" / "Public" / "Desktop" / "Inspection Station.lnk"
    user_data = wine.user_local_appdata() / APP

    # 1. Default silent install: Program Files, Start menu + desktop shortcuts, Apps & features.
    wine.run(str(installer), "/S")
    values = wine.reg_values(UNINST_KEY)
    assert values is not None, "no uninstall key in HKLM (64-bit view)"
    install_dir = wine.path(values["InstallLocation"])
    assert values["InstallLocation"] == r"C:\Program Files\InspectionStation"
    assert (install_dir / f"{APP}{EXE_SUFFIX}").is_file()
    assert (install_dir / f"inspection-station{EXE_SUFFIX}").is_file()
    assert (install_dir / "_internal" / "resources" / "default_config.toml").is_file()
    assert (install_dir / "_internal" / "pypylon").is_dir()
    assert (install_dir / "uninstall.exe").is_file()
    assert values["DisplayName"] == "Inspection Station"
    assert values["DisplayVersion"] == _version()
    assert values["Publisher"]
    assert values["DisplayIcon"] == r"C:\Program Files\InspectionStation\InspectionStation.exe,0"
    assert values["UninstallString"] == r'"C:\Program Files\InspectionStation\uninstall.exe"'
    assert (
        values["QuietUninstallString"] == r'"C:\Program Files\InspectionStation\uninstall.exe" /S'
    )
    assert int(values["NoModify"], 16) == 1 and int(values["NoRepair"], 16) == 1
    estimated = int(values["EstimatedSize"], 16)
    assert estimated == pytest.approx(_tree_kib(install_dir), rel=0.02)
    assert (menu / "Inspection Station.lnk").is_file()
    assert (menu / "Uninstall Inspection Station.lnk").is_file()
    assert r"InspectionStation\InspectionStation.exe" in _lnk_target(
        menu / "Inspection Station.lnk"
    )
    assert desktop.is_file()
    # Nothing of the user's under Program Files: settings/logs/images live in the user's folders.
    (user_data / APP).mkdir(parents=True, exist_ok=True)
    (user_data / APP / "settings.toml").write_text("[station]\nname = 'kept'\n")

    # 2. Silent uninstall: program, shortcuts and key gone; the user's data stays.
    wine.run(str(install_dir / "uninstall.exe"), "/S")
    assert not install_dir.exists(), sorted(p.name for p in install_dir.iterdir())
    assert not menu.exists()
    assert not desktop.exists()
    assert wine.reg_values(UNINST_KEY) is None
    assert (user_data / APP / "settings.toml").is_file()

    # 3. Custom folder (with a space), no desktop shortcut; uninstall with /REMOVEUSERDATA.
    wine.run_command_line(
        f"{wine.windows_path(installer)} /S /NODESKTOPSHORTCUT /D=C:\\Apps\\Inspection Station"
    )
    values = wine.reg_values(UNINST_KEY)
    assert values is not None
    assert values["InstallLocation"] == r"C:\Apps\Inspection Station"
    custom = wine.path(values["InstallLocation"])
    assert (custom / f"{APP}{EXE_SUFFIX}").is_file()
    assert (menu / "Inspection Station.lnk").is_file()
    assert not desktop.exists()
    wine.run(str(custom / "uninstall.exe"), "/S", "/REMOVEUSERDATA")
    assert not custom.exists()
    assert (wine.drive_c / "Apps").is_dir()  # only the folder the installer made is removed
    assert not menu.exists()
    assert wine.reg_values(UNINST_KEY) is None
    assert not user_data.exists()
