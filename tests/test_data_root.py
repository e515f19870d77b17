"""Machine-wide station data: one data root, every location under it, and the move of what
version 0.1 kept per user (tests/data/v0.1-user-data: written by 0.1 itself) into it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from inspection_station.core import data_root, paths
from inspection_station.core.detect import session_cache
from inspection_station.core.line.plant.service import outbox_path
from inspection_station.core.logging_setup import log_file
from inspection_station.core.settings.accounts import AccountStore, default_accounts_path
from inspection_station.core.settings.audit import default_audit_path, read_audit, verify_audit
from inspection_station.core.settings.demo import demo_folder
from inspection_station.core.settings.drafts import drafts_root
from inspection_station.core.settings.model import (
    PatternSettings,
    PlantSettings,
    ResultsSettings,
    load_settings,
    resolve_patterns_path,
    resolve_results_dirs,
    user_config_path,
)
from tests.refusals import read_only_folder

V01 = Path(__file__).parent / "data" / "v0.1-user-data"


def _v01_in_the_users_folders() -> dict[str, Path]:
    """The 0.1 fixture where 0.1 wrote it: this test's XDG folders (conftest isolates them)."""
    for xdg, var in (("config", "XDG_CONFIG_HOME"), ("data", "XDG_DATA_HOME"), ("state", "XDG_STATE_HOME")):
        shutil.copytree(V01 / xdg, Path(os.environ[var]), dirs_exist_ok=True)
    return paths.v01_user_dirs()


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_data_root_rule(monkeypatch, tmp_path):
    assert paths.data_root() == Path(os.environ[paths.DATA_ROOT_ENV])  # conftest's temp root
    monkeypatch.delenv(paths.DATA_ROOT_ENV)
    system = tmp_path / "var-lib"
    monkeypatch.setattr(paths, "LINUX_SYSTEM_ROOT", system)
    # no system folder: a developer's checkout, the user's data folder
    assert paths.data_root() == Path(os.environ["XDG_DATA_HOME"]) / "InspectionStation"
    assert "does not exist" in paths.data_root_rule()
    system.mkdir()
    assert paths.data_root() == system  # IT made it: every user of the machine shares it
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("PROGRAMDATA", r"C:\ProgramData")
    assert str(paths.data_root()) == str(Path(r"C:\ProgramData") / "InspectionStation")


def test_every_location_of_the_station_lies_under_the_data_root():
    root = paths.data_root()
    for location in (
        user_config_path(),
        default_accounts_path(),
        default_audit_path(),
        log_file(),
        *resolve_results_dirs(ResultsSettings()),
        session_cache.cache_dir(),
        demo_folder(),
        resolve_patterns_path(PatternSettings()),
        drafts_root(),
        outbox_path(PlantSettings(), "line-7"),
    ):
        assert location.is_relative_to(root), location
    assert not paths.user_layer_dir().is_relative_to(root)  # only the window geometry is per user


def test_an_empty_patterns_path_is_the_stations_own_copy_of_the_bundled_patterns():
    target = resolve_patterns_path(PatternSettings())
    assert target == paths.patterns_dir()
    bundled = paths.resources_dir() / "patterns"
    assert _files(target) == _files(bundled)  # seeded once: the editor saves here, not into the program
    (target / "demo_parts.yaml").write_text("# edited\n", encoding="utf-8")
    assert resolve_patterns_path(PatternSettings()).joinpath("demo_parts.yaml").read_text() == "# edited\n"


def test_the_first_start_moves_the_data_of_0_1_into_the_data_root_and_audits_it():
    sources = _v01_in_the_users_folders()
    before = {kind: _files(folder) for kind, folder in sources.items()}

    said = data_root.prepare_data_root()

    root = paths.data_root()
    assert said and "moved the data of version 0.1" in said[0], said
    for kind, folder in sources.items():
        assert not folder.exists(), f"0.1's {kind} folder still there: moved, not copied"
    moved = {**{f"logs/{k}": v for k, v in before["logs"].items()},
             **before["config"], **before["data"]}
    for relative, content in moved.items():
        if relative.startswith("logs/audit.jsonl"):  # the audit trail goes on (below)
            assert relative.endswith(".head") or (root / relative).read_bytes().startswith(content)
            continue
        assert (root / relative).read_bytes() == content, relative
    # the station reads the moved files from their new places
    loaded = load_settings()
    assert loaded.files[-1] == user_config_path() and loaded.settings.station.name == "line-7"
    assert [u.name for u in AccountStore().users()] == ["alice"]
    assert resolve_results_dirs(loaded.settings.results)[0].joinpath("line-7_2026-12-01.csv").is_file()
    # ...and the audit trail of 0.1 goes on: one more chained line says what moved, by whom
    result = verify_audit(default_audit_path())
    assert result.intact, result.problem
    entries = read_audit()
    last = entries[-1]
    assert (last.kind, last.action, last.target) == ("data", "migrate", str(root))
    assert sorted(last.old["from"]) == sorted(str(p) for p in sources.values())
    assert any("settings.toml" in line for line in last.new["moved"])
    assert len(entries) == len(read_audit(V01 / "state" / "InspectionStation" / "log" / "audit.jsonl")) + 1
    # a second start finds nothing to move and writes nothing
    assert data_root.prepare_data_root() == []
    assert len(read_audit()) == len(entries)


def test_nothing_is_overwritten_what_collides_is_kept_aside_and_named(tmp_path):
    root = paths.data_root()
    root.mkdir(parents=True)
    (root / "settings.toml").write_text("[station]\nname = 'already-here'\n", encoding="utf-8")
    sources = _v01_in_the_users_folders()
    old_settings = (sources["config"] / "settings.toml").read_bytes()

    data_root.prepare_data_root()

    assert (root / "settings.toml").read_text(encoding="utf-8") == "[station]\nname = 'already-here'\n"
    aside = list((root / data_root.ASIDE_FOLDER).rglob("settings.toml"))
    assert [p.read_bytes() for p in aside] == [old_settings]
    assert aside[0].parent.name == "config"
    entry = read_audit()[-1]
    assert any(str(aside[0]) in line for line in entry.new["kept_aside"])
    assert not (sources["config"] / "settings.toml").exists()


def test_a_data_root_of_0_2_is_never_taken_for_0_1_data(monkeypatch, tmp_path):
    """Linux without a system root uses the user's data folder; pointing the root elsewhere
    later must not move that (0.2) root's content as if it were 0.1's."""
    old_root = paths.data_root()
    data_root.prepare_data_root()
    (old_root / "results").mkdir()
    (old_root / "results" / "s_2026-01-01.csv").write_text("x\n", encoding="utf-8")
    monkeypatch.setenv(paths.DATA_ROOT_ENV, str(tmp_path / "new-root"))
    assert data_root.migrate_v01({"data": old_root}).moved == []
    assert (old_root / "results" / "s_2026-01-01.csv").is_file()


def test_the_command_line_migrates_before_it_reads_the_settings(tmp_path):
    _v01_in_the_users_folders()
    env = dict(os.environ)
    listed = subprocess.run([sys.executable, "-m", "inspection_station", "user", "list"],
                            capture_output=True, text=True, timeout=120, env=env)
    assert listed.returncode == 0, listed.stderr
    assert "alice" in listed.stdout and "admin" in listed.stdout
    assert "moved the data of version 0.1" in listed.stderr
    verified = subprocess.run([sys.executable, "-m", "inspection_station", "audit", "verify"],
                              capture_output=True, text=True, timeout=120, env=env)
    assert verified.returncode == 0, verified.stderr
    assert json.loads((paths.data_root() / data_root.MARK_FILE).read_text())["layout"] == data_root.LAYOUT


def test_a_folder_that_cannot_be_moved_stays_and_is_tried_again():
    sources = _v01_in_the_users_folders()
    results = sources["data"] / "results"
    with read_only_folder(results):  # as a file in use on Windows: it cannot leave
        first = data_root.prepare_data_root()
        assert any("not moved" in line and str(results) in line for line in first), first
        assert (results / "line-7_2026-12-01.csv").is_file()  # left where it was, nothing lost
        assert not (paths.data_root() / "results").exists()  # and no copy of it either
        assert (paths.data_root() / "settings.toml").is_file()  # the rest moved
    second = data_root.prepare_data_root()
    assert not any("not moved" in line for line in second), second
    assert (paths.data_root() / "results" / "line-7_2026-12-01.csv").is_file()
    assert not results.exists()


def test_a_data_root_on_another_volume_gets_every_file_moved_not_copied(monkeypatch):
    """IT's D:\\StationData: a rename cannot cross volumes; each file is copied, then removed."""
    shm = Path("/dev/shm")
    assert shm.is_dir() and os.stat(shm).st_dev != os.stat(tempfile.gettempdir()).st_dev
    root = Path(tempfile.mkdtemp(prefix="inspection-root-", dir=shm))
    try:
        monkeypatch.setenv(paths.DATA_ROOT_ENV, str(root))
        sources = _v01_in_the_users_folders()
        before = _files(sources["data"])
        data_root.prepare_data_root()
        assert not sources["data"].exists()
        assert {k: v for k, v in _files(root).items() if k in before} == before
        assert verify_audit(default_audit_path()).intact
    finally:
        shutil.rmtree(root, ignore_errors=True)
