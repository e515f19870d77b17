"""What a start pays for: --help and --version load no heavy library, the cycle no scipy.optimize.

Import sets, not durations: the speed itself is measured by benchmarks/startup.py.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("numpy", "cv2", "scipy", "onnxruntime", "pypylon", "PySide6", "pyqtgraph", "yaml")


def loaded_after(code: str) -> set[str]:
    """Top-level packages in sys.modules after `code` ran in a fresh interpreter."""
    probe = (
        "import sys\n"
        f"{code}\n"
        "import json\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout.splitlines()[-1]))


@pytest.mark.parametrize("argv", [["--help"], ["--version"]])
def test_help_and_version_import_no_heavy_library(argv):
    code = (
        "from inspection_station.cli import main\n"
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    try:\n"
        f"        main({argv!r})\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code in (0, None), exc.code\n"
        "assert 'inspection-station' in out.getvalue()\n"
    )
    assert loaded_after(code).isdisjoint(HEAVY)


def test_help_still_lists_every_command_and_a_command_still_gets_its_own_options():
    from inspection_station.cli import COMMANDS, SUMMARIES, build_parser

    assert set(SUMMARIES) <= set(COMMANDS)
    # the summaries say what the modules themselves register
    full = build_parser()
    registered = {a.dest: a.help for a in full._subparsers._group_actions[0]._choices_actions}  # noqa: SLF001
    assert {cli_name: summary for cli_name, summary in SUMMARIES.values()} == registered
    listed = build_parser("gui").format_help()
    for cli_name, summary in SUMMARIES.values():
        assert cli_name in listed and summary.split()[0] in listed
    detect = build_parser("detect")
    args = detect.parse_args(["detect", "--model", "m.onnx", "a.png"])
    assert args.model == "m.onnx" and args.images == ["a.png"]


def test_matching_a_pattern_loads_the_assignment_solver_without_scipy_optimize():
    code = (
        "from inspection_station.core.detection import Detection\n"
        "from inspection_station.core.patterns.matching import match_pattern\n"
        "from inspection_station.core.patterns.model import PatternSet, Slot\n"
        "slot = Slot(class_id=0, inner=(0.2, 0.2, 0.3, 0.3), outer=(0.1, 0.1, 0.4, 0.4))\n"
        "ps = PatternSet('p', {'v': (slot, slot)}, None)\n"
        "dets = [Detection(0, 'a', 0.9, (15.0, 15.0, 35.0, 35.0)), Detection(0, 'a', 0.8, (16.0, 16.0, 34.0, 34.0))]\n"
        "m = match_pattern(ps, dets, 100, 100)\n"
        "assert m.ok and sorted(s.detection for s in m.slots) == [0, 1], m\n"
        "assert 'scipy.optimize' not in sys.modules and 'scipy.linalg' not in sys.modules\n"
    )
    assert "scipy" in loaded_after(code)  # the solver itself is scipy's


# --- what runs beside what: the station starts before the window is built ----------------------


def test_events_held_until_the_reader_takes_them_over_then_passed_straight_on():
    import threading

    from inspection_station.core import events as ev
    from inspection_station.core.event_replay import EventReplay

    bus = ev.EventBus()
    replay = EventReplay(bus)
    bus.publish(ev.ComponentChanged("camera", "connecting", ""))
    bus.publish(ev.ErrorReported("model not loaded: x"))
    got = []
    assert replay.hand_over(got.append) == 2
    assert [type(e).__name__ for e in got] == ["ComponentChanged", "ErrorReported"]
    worker = threading.Thread(target=bus.publish, args=(ev.Notice("later"),))
    worker.start()
    worker.join()
    assert got[-1] == ev.Notice("later") and len(got) == 3  # once, in order
    replay.close()
    bus.publish(ev.Notice("after close"))
    assert len(got) == 3


def test_preloads_run_once_on_their_own_threads():
    import threading

    from inspection_station.core import preload

    preload.start("json", "json")
    thread = preload._started["json"]
    preload.wait("json", timeout=30)
    assert not thread.is_alive() and thread is not threading.current_thread()
    preload.wait("never started")  # a no-op
    preload.start("no_such_module_here")  # its real import reports it, not the preload
    preload.wait("no_such_module_here", timeout=30)


def test_numpy_and_our_modules_are_imported_before_a_preload_thread_starts():
    """In a fresh interpreter: when the first preload thread starts, numpy and the matcher (with
    core.cycle) are already whole, so no thread ever initialises them beside the main thread
    (that race failed serve and run starts: "cannot load module more than once per process")."""
    probe = (
        "import sys, threading\n"
        "seen = []\n"
        "start = threading.Thread.start\n"
        "def spy(self):\n"
        "    seen.append([m in sys.modules for m in ('numpy', 'inspection_station.core.cycle',\n"
        "                 'inspection_station.core.patterns.matching')])\n"
        "    start(self)\n"
        "threading.Thread.start = spy\n"
        "from inspection_station.core import preload\n"
        "assert 'numpy' not in sys.modules\n"
        "preload.start_for_station('folder')\n"
        "print(seen)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    seen = json.loads(out.stdout.strip().replace("True", "true").replace("False", "false"))
    assert seen and all(all(flags) for flags in seen), seen


def test_a_command_that_ends_at_once_waits_for_its_preloads_before_the_interpreter_goes(tmp_path):
    """A preload thread still importing when a command ends (a bad option: exit 2 at once) is
    waited for at exit, never cut off mid-initialisation (that aborted a process in CI)."""
    (tmp_path / "slow_import_probe.py").write_text(
        "import pathlib, time\ntime.sleep(0.5)\npathlib.Path(__file__).with_suffix('.done').write_text('ok')\n")
    probe = (
        f"import sys\nsys.path.insert(0, {str(tmp_path)!r})\n"
        "from inspection_station.core import preload\n"
        "preload.start('slow_import_probe')\n"
        "raise SystemExit(2)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stderr
    assert (tmp_path / "slow_import_probe.done").read_text() == "ok"


@pytest.mark.qt
def test_the_gui_starts_the_station_before_the_window_and_replays_what_it_missed(qtbot, tmp_path):
    from inspection_station.commands.gui import start_station_early
    from inspection_station.gui.operator.main_window import MainWindow
    from inspection_station.gui.operator.station_bridge import StationBridge
    from tests.known_station import station_settings

    settings = station_settings(tmp_path)
    station, replay, launched = start_station_early(settings)
    try:
        launched.result(timeout=60)
        assert station.wait_ready(60)  # model loaded and camera opening with no window yet
        bridge = StationBridge()
        bridge.start_from(replay)
        window = MainWindow(station, bridge, settings)  # attaches the bridge: the replay hands over
        qtbot.addWidget(window)
        assert window.banner.state == "BUSY"  # STARTING until the event loop delivers the replay
        qtbot.waitUntil(lambda: window.banner.state == "READY" and "emulated" in window.camera_label.text(),
                        timeout=30_000)
        assert window.model_label.text() == f"Model: {station.detector.model_path.name} · CPU"  # replayed too
        assert station.trigger("button")  # and the events after the replay come straight through
        qtbot.waitUntil(lambda: window.last_result is not None, timeout=30_000)
    finally:
        station.stop()
