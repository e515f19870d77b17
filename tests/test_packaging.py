"""The frozen build and the Windows installer, end to end (slow: minutes).

    .venv/bin/pytest -m slow tests/test_packaging.py

1. Build the one-folder app with PyInstaller (packaging/build.py) into tmp, once per session;
   it records whether this environment is the release lock (build-info.json).
2. Run the frozen binary: the camera emulator must be found inside it (pylon's
   transport layers are bundled and found), the detector must give the same
   detections as the source tree, `run --headless --demo` the same verdicts; a second
   station on the camera is refused until the first is killed; 0.1's data is migrated.
3. Compile installer.nsi (uncompressed, makensis -WX, signed with osslsigncode and a
   certificate made here) around that build, and a "previous version" installer from the
   same payload with a lower version.
4. Under wine (64-bit): the previous version, a running station (refused with /NOSTOP,
   stopped without), the upgrade with every option (service, kiosk, autostart, firewall),
   a refused downgrade, the silent uninstall (data kept), then a custom folder and
   /REMOVEUSERDATA (data gone): files, shortcuts, registry, service.

The build here is Linux code; the installer logic (files, shortcuts, registry, service,
uninstall) is the same for a Windows build, and .github/workflows/windows.yml runs the
same steps on Windows. Needs the dev extra (PyInstaller) and the system packages nsis,
wine64, osslsigncode and openssl (Debian); in CI, where .ci/run installs them, a missing
one fails the test, elsewhere it skips.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from inspection_station import __version__
from inspection_station.deploy import release_lock, windows_service

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
APP = "InspectionStation"
EXE_SUFFIX = ".exe" if sys.platform == "win32" else ""
UNINST_KEY = r"HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall\InspectionStation"
VERSION_KEY = r"HKLM\Software\InspectionStation"
SERVICE_KEY = r"HKLM\System\CurrentControlSet\Services\InspectionStation"
PREVIOUS = "0.1.0"  # the "previous version" installer: the same script, a lower VERSION
OLD_ONLY = "only-in-the-small-payload.txt"
V01 = REPO / "tests" / "data" / "v0.1-user-data"
CYCLE_LINE = re.compile(r"^#(\d+)\s+\S+\s+(OK|NOK|ERROR)\b")


def _missing(what: str) -> None:
    """Skip on a developer's machine without the tool; in CI (which installs it) fail."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} — .ci/run installs it, so CI must have it")
    pytest.skip(what)


def _run(command: list[str], timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)


def _version() -> str:
    return __version__


# ---- the frozen app ----------------------------------------------------------------------


@pytest.fixture(scope="session")
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


def test_the_frozen_build_records_whether_it_came_from_the_lock(frozen_app: Path):
    info = json.loads((frozen_app / "build-info.json").read_text(encoding="utf-8"))
    lock = release_lock.lock_path(release_lock.current_platform())
    assert info["version"] == _version()
    assert info["lock"] == lock.relative_to(REPO).as_posix()
    text = lock.read_text(encoding="utf-8")
    assert info["lock_sha256"] == hashlib.sha256(text.encode()).hexdigest()
    assert info["differences"] == release_lock.environment_differences(text)  # the truth, not a claim
    assert info["locked"] == (not info["differences"] and not info["stale"])
    if os.environ.get("CI"):  # .ci/run installs the test venv from the lock
        assert info["locked"], info["differences"] + info["stale"]


def _frozen_popen(app: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([str(app / f"inspection-station{EXE_SUFFIX}"), *args], cwd=app.parent,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_the_frozen_app_refuses_a_second_station_until_the_first_is_killed(frozen_app: Path):
    serve = _frozen_popen(frozen_app, "serve", "--demo")
    try:
        deadline = time.monotonic() + 120
        for line in serve.stderr:
            if "serving station" in line or time.monotonic() > deadline:
                break
        second = _frozen(frozen_app, "run", "--headless", "--demo", "--cycles", "1")
        assert second.returncode == 2, second.stdout + second.stderr
        assert f"process {serve.pid} (serve, started" in second.stderr, second.stderr
        serve.send_signal(signal.SIGKILL)
        serve.wait(30)
        third = _frozen(frozen_app, "run", "--headless", "--demo", "--cycles", "1")
        assert third.returncode == 0, third.stdout + third.stderr
    finally:
        serve.kill()
        serve.wait(30)


def test_the_frozen_app_moves_the_data_of_0_1_into_the_data_root(frozen_app: Path):
    for xdg, var in (("config", "XDG_CONFIG_HOME"), ("data", "XDG_DATA_HOME"), ("state", "XDG_STATE_HOME")):
        shutil.copytree(V01 / xdg, Path(os.environ[var]), dirs_exist_ok=True)
    listed = _frozen(frozen_app, "user", "list")
    assert listed.returncode == 0, listed.stderr
    assert "alice" in listed.stdout and "moved the data of version 0.1" in listed.stderr
    assert not (Path(os.environ["XDG_CONFIG_HOME"]) / APP / "settings.toml").exists()
    root = Path(os.environ["INSPECTION_STATION_DATA_ROOT"])
    assert (root / "results" / "line-7_2026-12-01.csv").is_file()
    verified = _frozen(frozen_app, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


# ---- the installer under wine ------------------------------------------------------------


def _tool(name: str, *fallbacks: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    return next((f for f in fallbacks if Path(f).is_file()), None)


def _need(name: str, package: str, *fallbacks: str) -> str:
    found = _tool(name, *fallbacks)
    if found is None:
        _missing(f"{name} not installed (apt-get install {package})")
    return found


@pytest.fixture(scope="session")
def signing(tmp_path_factory) -> dict[str, str]:
    """A self-signed code-signing certificate (openssl) and the environment build.py reads."""
    openssl = _need("openssl", "openssl")
    _need("osslsigncode", "osslsigncode")
    folder = tmp_path_factory.mktemp("signing")
    key, cert, pfx = folder / "key.pem", folder / "cert.pem", folder / "cert.pfx"
    made = _run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                 "-days", "2", "-subj", "/CN=Inspection Station test signing",
                 "-addext", "extendedKeyUsage=codeSigning"])
    assert made.returncode == 0, made.stderr
    exported = _run([openssl, "pkcs12", "-export", "-out", str(pfx), "-inkey", str(key), "-in", str(cert),
                     "-passout", "pass:test-only"])
    assert exported.returncode == 0, exported.stderr
    return {"SIGN_CERT_PFX": str(pfx), "SIGN_CERT_PASSWORD": "test-only", "CA_FILE": str(cert)}


def _build_installer(app: Path, out: Path, *args: str, env: dict | None = None) -> Path:
    _need("makensis", "nsis")
    result = _run([sys.executable, str(REPO / "packaging" / "build.py"), "--skip-freeze", "--fast",
                   "--dist", str(app.parent), "--work", str(out.parent / "work"), *args],
                  timeout=600, cwd=REPO, env={**os.environ, **(env or {})})
    assert result.returncode == 0, f"makensis failed:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
    version = args[args.index("--installer-version") + 1] if "--installer-version" in args else _version()
    built = app.parent / f"{APP}-{version}-setup.exe"
    assert built.is_file(), result.stdout
    built.replace(out)
    return out


@pytest.fixture(scope="session")
def installer(frozen_app: Path, signing: dict, tmp_path_factory) -> Path:
    """The installer of this version, signed (the release build's signing step, for real)."""
    env = {k: v for k, v in signing.items() if k.startswith("SIGN_")}
    return _build_installer(frozen_app, tmp_path_factory.mktemp("installer") / f"{APP}-test-setup.exe", env=env)


@pytest.fixture(scope="session")
def small_app(tmp_path_factory) -> Path:
    """A small payload in the frozen app's layout: for installer checks whose subject is the
    installer script, not the files it carries (cheap to build and install under wine)."""
    app = tmp_path_factory.mktemp("small") / "dist" / APP
    (app / "_internal").mkdir(parents=True)
    (app / "_internal" / OLD_ONLY).write_text("a library file of the small payload only\n")
    for program in (f"{APP}{EXE_SUFFIX}", f"inspection-station{EXE_SUFFIX}"):
        (app / program).write_text("a program of the small payload\n")
    return app


@pytest.fixture(scope="session")
def previous_installer(small_app: Path, tmp_path_factory) -> Path:
    """An installer of "the previous version": the same script with a lower version (its one
    library file of its own must not outlive the upgrade)."""
    return _build_installer(small_app, tmp_path_factory.mktemp("previous") / f"{APP}-{PREVIOUS}-setup.exe",
                            "--installer-version", PREVIOUS)


@pytest.fixture(scope="session")
def small_installer(small_app: Path, tmp_path_factory) -> Path:
    """This version's installer script around the small payload."""
    return _build_installer(small_app, tmp_path_factory.mktemp("small-installer") / f"{APP}-small-setup.exe")


def _signature_ok(path: Path, signing: dict) -> str:
    result = _run(["osslsigncode", "verify", "-CAfile", signing["CA_FILE"], "-in", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_installer_is_signed(installer: Path, signing: dict):
    assert "Signature verification: ok" in _signature_ok(installer, signing)


def _load_build_script():
    spec = importlib.util.spec_from_file_location("build_script", REPO / "packaging" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_makensis_warning_fails_the_installer_build(tmp_path: Path, monkeypatch):
    _need("makensis", "nsis")
    build = _load_build_script()
    app = tmp_path / "dist" / APP  # a tiny payload: the script is what is checked here
    (app / "_internal").mkdir(parents=True)
    (app / "_internal" / "payload.txt").write_text("x\n")
    build.make_installer(app, tmp_path / "ok.exe", _version(), "off", tmp_path / "work")
    assert (tmp_path / "ok.exe").is_file()  # the script itself compiles without a warning
    include = build.nsis.render_include()
    monkeypatch.setattr(build.nsis, "render_include", lambda: include + '\n!warning "a deliberate warning"\n')
    with pytest.raises(subprocess.CalledProcessError):
        build.make_installer(app, tmp_path / "warned.exe", _version(), "off", tmp_path / "work")
    assert not (tmp_path / "warned.exe").exists()


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

    def run(self, *args: str, timeout: float = 600, wait: bool = True) -> subprocess.CompletedProcess:
        """Run a program to its end; `wait` also waits for every other wine process (not while
        a process of the test's own, such as the holder below, is meant to run on)."""
        result = _run([self.wine, *args], timeout=timeout, env=self.env)
        if wait:
            self.wait()
        return result

    def start(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen([self.wine, *args], env=self.env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)

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


@pytest.fixture(scope="session")
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


PROGRAMS_MENU = Path("ProgramData", "Microsoft", "Windows", "Start Menu", "Programs")
HOLDER_NSI = r"""
Target amd64-unicode
Unicode true
OutFile "InspectionStation.exe"
RequestExecutionLevel user
SilentInstall silent
Section
  ; What a running station does: keep its lock file open (the kernel's lock goes with it).
  CreateDirectory "C:\ProgramData\InspectionStation\locks"
  FileOpen $0 "C:\ProgramData\InspectionStation\locks\camera-test.lock" a
  Sleep 300000
SectionEnd
"""


@pytest.fixture(scope="session")
def running_station_exe(tmp_path_factory) -> Path:
    """A Windows program named as the station that holds the station's lock file open, as the
    real one does (the frozen app here is a Linux build, which wine cannot run)."""
    folder = tmp_path_factory.mktemp("holder")
    (folder / "holder.nsi").write_text(HOLDER_NSI, encoding="utf-8")
    made = _run([_need("makensis", "nsis"), "-V1", "-WX", str(folder / "holder.nsi")], cwd=folder)
    assert made.returncode == 0, made.stdout + made.stderr
    return folder / "InspectionStation.exe"


def _v01_windows_layout(local_appdata: Path) -> dict[str, bytes]:
    """What 0.1 kept in a Windows user's folders (the fixture, in Windows' layout)."""
    old = local_appdata / APP / APP
    shutil.copytree(V01 / "config" / APP, old, dirs_exist_ok=True)
    shutil.copytree(V01 / "data" / APP, old, dirs_exist_ok=True)
    shutil.copytree(V01 / "state" / APP / "log", old / "Logs", dirs_exist_ok=True)
    return {p.relative_to(local_appdata).as_posix(): p.read_bytes() for p in old.rglob("*") if p.is_file()}


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_upgrade_from_the_previous_version_refusals_service_and_uninstall(
    installer: Path, previous_installer: Path, running_station_exe: Path, signing: dict, wine: Wine
):
    menu = wine.drive_c / PROGRAMS_MENU / "Inspection Station"
    startup = wine.drive_c / PROGRAMS_MENU / "StartUp" / "Inspection Station.lnk"
    desktop = wine.drive_c / "users" / "Public" / "Desktop" / "Inspection Station.lnk"
    data_root = wine.drive_c / "ProgramData" / APP
    local = wine.user_local_appdata()
    assert wine.reg_values(UNINST_KEY) is None, "the wine prefix is not clean"

    # 1. The previous version, and data written by it: 0.1's per-user folders, and the data
    #    root that a station of the previous installer wrote.
    assert wine.run(str(previous_installer), "/S").returncode == 0
    assert wine.reg_values(VERSION_KEY)["Version"] == PREVIOUS
    assert (wine.drive_c / "Program Files" / APP / "_internal" / OLD_ONLY).is_file()
    kept_v01 = _v01_windows_layout(local)
    (data_root / "results").mkdir(parents=True)
    (data_root / "results" / "line-7_2026-12-01.csv").write_bytes(b"timestamp,cycle_id\n2026-12-01,1\n")
    kept_root = _files(data_root)

    # 2. A station running: /NOSTOP changes nothing (exit 4); a plain silent upgrade stops it.
    holder = wine.start(str(running_station_exe))
    try:
        lock = data_root / "locks" / "camera-test.lock"
        deadline = time.monotonic() + 60
        while not lock.exists():
            assert holder.poll() is None and time.monotonic() < deadline, "the running station did not start"
            time.sleep(0.2)
        time.sleep(1)
        refused = wine.run(str(installer), "/S", "/NOSTOP", wait=False)
        assert refused.returncode == 4, refused.stdout + refused.stderr
        assert holder.poll() is None
        assert wine.reg_values(VERSION_KEY)["Version"] == PREVIOUS
        upgraded = wine.run(str(installer), "/S", "/SERVICE", "/KIOSK", "/AUTOSTART", "/FIREWALL", wait=False)
        assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
        holder.wait(60)  # stopped by the installer (asked to close, then ended)
    finally:
        holder.kill()
        holder.wait(30)
    wine.wait()

    # 3. What the upgrade did: the version recorded, every option, the data kept.
    version = wine.reg_values(VERSION_KEY)
    assert version["Version"] == _version() and version["DataRoot"] == r"C:\ProgramData\InspectionStation"
    values = wine.reg_values(UNINST_KEY)
    assert values["InstallLocation"] == r"C:\Program Files\InspectionStation"
    install_dir = wine.path(values["InstallLocation"])
    assert (install_dir / f"{APP}{EXE_SUFFIX}").is_file()
    assert (install_dir / f"inspection-station{EXE_SUFFIX}").is_file()
    assert (install_dir / "_internal" / "resources" / "default_config.toml").is_file()
    assert (install_dir / "_internal" / "pypylon").is_dir()
    assert not (install_dir / "_internal" / OLD_ONLY).exists()  # the libraries replaced as a whole
    assert json.loads((install_dir / "build-info.json").read_text())["version"] == _version()
    assert values["DisplayName"] == "Inspection Station" and values["DisplayVersion"] == _version()
    assert values["Publisher"]
    assert values["DisplayIcon"] == r"C:\Program Files\InspectionStation\InspectionStation.exe,0"
    assert values["UninstallString"] == r'"C:\Program Files\InspectionStation\uninstall.exe"'
    assert values["QuietUninstallString"] == r'"C:\Program Files\InspectionStation\uninstall.exe" /S'
    assert int(values["NoModify"], 16) == 1 and int(values["NoRepair"], 16) == 1
    assert int(values["EstimatedSize"], 16) == pytest.approx(_tree_kib(install_dir), rel=0.02)
    assert "Signature verification: ok" in _signature_ok(install_dir / "uninstall.exe", signing)
    assert r"InspectionStation\InspectionStation.exe" in _lnk_target(menu / "Inspection Station.lnk")
    assert (menu / "Uninstall Inspection Station.lnk").is_file() and desktop.is_file()
    assert "gui --kiosk" in _lnk_target(menu / "Inspection Station (kiosk).lnk")
    assert "gui --kiosk" in _lnk_target(startup)  # autostart in kiosk mode: both were chosen
    service = wine.reg_values(SERVICE_KEY)
    exe = r"C:\Program Files\InspectionStation\inspection-station.exe"
    assert service["ImagePath"] == windows_service.image_path(exe)  # the generated command, registered
    assert service["DisplayName"] == windows_service.DISPLAY_NAME
    assert service["Description"] == windows_service.DESCRIPTION
    assert int(service["Start"], 16) == 2  # automatic
    assert {k: v for k, v in _files(data_root).items() if k in kept_root} == kept_root  # data kept
    assert (data_root / "locks").is_dir()
    assert {k: (local / k).read_bytes() for k in kept_v01} == kept_v01  # 0.1's: moved by the app, not here

    # 4. No downgrade: exit 3, nothing changed.
    downgrade = wine.run(str(previous_installer), "/S")
    assert downgrade.returncode == 3, downgrade.stdout + downgrade.stderr
    assert wine.reg_values(VERSION_KEY)["Version"] == _version()

    # 5. Silent uninstall: program, shortcuts, keys and the service gone; the data stays.
    wine.run(str(install_dir / "uninstall.exe"), "/S")
    assert not install_dir.exists(), sorted(p.name for p in install_dir.iterdir())
    assert not menu.exists() and not desktop.exists() and not startup.exists()
    for key in (UNINST_KEY, VERSION_KEY, SERVICE_KEY):
        assert wine.reg_values(key) is None, key
    assert {k: v for k, v in _files(data_root).items() if k in kept_root} == kept_root
    assert {k: (local / k).read_bytes() for k in kept_v01} == kept_v01


def test_install_to_a_custom_folder_and_remove_the_stations_data(small_installer: Path, wine: Wine):
    menu = wine.drive_c / PROGRAMS_MENU / "Inspection Station"
    desktop = wine.drive_c / "users" / "Public" / "Desktop" / "Inspection Station.lnk"
    data_root = wine.drive_c / "ProgramData" / APP
    layer = wine.user_local_appdata() / APP
    assert wine.reg_values(UNINST_KEY) is None, "the wine prefix is not clean"
    wine.run_command_line(
        f"{wine.windows_path(small_installer)} /S /NODESKTOPSHORTCUT /D=C:\\Apps\\Inspection Station"
    )
    values = wine.reg_values(UNINST_KEY)
    assert values is not None
    assert values["InstallLocation"] == r"C:\Apps\Inspection Station"
    custom = wine.path(values["InstallLocation"])
    assert (custom / f"{APP}{EXE_SUFFIX}").is_file()
    assert (menu / "Inspection Station.lnk").is_file()
    assert not desktop.exists()
    assert wine.reg_values(SERVICE_KEY) is None  # no service unless asked for
    assert data_root.is_dir()  # the installer made the data root
    (data_root / "settings.toml").write_text("[station]\nname = 'gone'\n")
    layer.mkdir(parents=True, exist_ok=True)
    (layer / "window.ini").write_text("[main_window]\n")
    wine.run(str(custom / "uninstall.exe"), "/S", "/REMOVEUSERDATA")
    assert not custom.exists()
    assert (wine.drive_c / "Apps").is_dir()  # only the folder the installer made is removed
    assert not menu.exists()
    assert wine.reg_values(UNINST_KEY) is None
    assert not data_root.exists()  # the station's data, for every user
    assert not layer.exists()  # and this user's window geometry
