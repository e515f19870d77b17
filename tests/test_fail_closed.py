"""Security decisions fail closed: a missing or unreadable accounts store once accounts exist,
a failed-login count that cannot be stored, hand-edited counters and hash costs, and special
files (FIFO, device, socket, folder) wherever the station reads a file.

Real files throughout. Where a call could hang (a FIFO opened for reading, a loop bounded by
a stored number), it runs under `bounded`: a thread with a timeout in the harness that, on
expiry, unblocks the FIFO and fails the test; no test asserts how long anything took.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from inspection_station import cli
from inspection_station.core.detect.class_map import read_class_map
from inspection_station.core.detect.detector import Detector
from inspection_station.core.errors import ImageError, ModelError, PatternError, StationError
from inspection_station.core.images import load_image
from inspection_station.core.patterns.teaching import read_yolo_labels
from inspection_station.core.patterns.yaml_io import load_pattern_set, read_pattern_library
from inspection_station.core.regular_files import open_regular, read_bytes_limited
from inspection_station.core.settings import access
from inspection_station.core.settings.accounts import (
    MAX_COUNT,
    AccountError,
    AccountStore,
    AccountsUnavailable,
    LoginRefused,
)
from inspection_station.core.settings.audit import AuditLog, verify_audit
from inspection_station.core.settings.model import AccessSettings, load_settings
from inspection_station.core.settings.session import AccessControl, PermissionDenied
from inspection_station.core.text_files import read_text_limited
from tests.onnx_models import constant_model, v8_raw_output
from tests.test_accounts import Clock
from tests.test_station import PATTERN

BOUND_S = 60.0  # far above any answer here; only a hang reaches it


def bounded(fn, *fifos, timeout=BOUND_S):
    """fn()'s result (or its exception), or a test failure when it does not return in time
    (then a writer opens each FIFO and closes it, so the blocked reader gets EOF and ends)."""
    box: dict = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test below
            box["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        for pipe in fifos:
            with contextlib.suppress(OSError):  # no reader (any more): nothing to unblock
                os.close(os.open(pipe, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(5)
        pytest.fail(f"{fn} did not return within {timeout} s: it blocked (on {fifos or 'a loop'})")
    if "error" in box:
        raise box["error"]
    return box.get("value")


def fifo(path):
    os.mkfifo(path)
    return path


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def station(tmp_path, clock):
    """An AccessControl on a store in tmp_path/config and an audit log in tmp_path/log."""
    store = AccountStore(tmp_path / "config" / "accounts.json", clock=clock)
    audit = AuditLog(tmp_path / "log" / "audit.jsonl")
    return AccessControl(store, audit, AccessSettings(max_failed_logins=5, login_delay_s=1.0), "st-1", clock=clock)


def _audit(control):
    path = control.audit.path
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


# --- special files ----------------------------------------------------------------------------


def _special(kind, tmp_path):
    """A real special file of `kind` (its path, the words the refusal uses, FIFOs to unblock)."""
    if kind == "fifo":
        return fifo(tmp_path / "special"), "is a FIFO (named pipe)"
    if kind == "folder":
        (tmp_path / "special").mkdir()
        return tmp_path / "special", "is a folder"
    if kind == "chardev":
        return "/dev/zero", "is a character device"  # reading it never ends
    short = Path(tempfile.mkdtemp())  # a unix socket's path has ~100 characters at most
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(short / "sock"))  # the file stays after the close
    return short / "sock", "is a socket"


@pytest.mark.skipif(os.name != "posix", reason="FIFOs, devices and unix sockets are POSIX files")
@pytest.mark.parametrize("kind", ["fifo", "folder", "chardev", "socket"])
def test_special_files_are_refused_with_a_message_and_never_opened(tmp_path, kind):
    path, words = _special(kind, tmp_path)
    with pytest.raises(StationError, match=re.escape(words)) as err:
        bounded(lambda: read_text_limited(path, what="settings file"), path)
    assert str(err.value).startswith(str(path))
    with pytest.raises(StationError, match=re.escape(words)):
        bounded(lambda: read_bytes_limited(path, 1 << 20, "model file"), path)


@pytest.mark.skipif(os.name != "posix", reason="FIFOs are POSIX files")
def test_a_fifo_swapped_in_after_the_check_is_caught_by_fstat(tmp_path, monkeypatch):
    """The race itself cannot be timed here: the check that passed is skipped (the state a
    swap between stat and open leaves), so the open and fstat must refuse on their own."""
    from inspection_station.core import regular_files

    path = fifo(tmp_path / "swapped")
    monkeypatch.setattr(regular_files, "require_regular", lambda *a, **k: None)

    def read():
        with open_regular(path, "pattern file", PatternError) as fh:
            return fh.read()

    with pytest.raises(PatternError, match="is a FIFO .*refused without opening it"):
        bounded(read, path)


@pytest.mark.skipif(os.name != "posix", reason="FIFOs are POSIX files")
def test_a_fifo_as_settings_pattern_label_class_map_model_or_image_file_is_refused(tmp_path):
    pipe = fifo(tmp_path / "pipe")
    for name, call, error in [
        ("pattern", lambda: load_pattern_set(pipe), PatternError),
        ("pattern library", lambda: read_pattern_library(pipe), PatternError),
        ("labels", lambda: read_yolo_labels(pipe), PatternError),
        ("class map", lambda: read_class_map(pipe), ModelError),
        ("model", lambda: Detector.load(pipe), ModelError),
        ("image", lambda: load_image(pipe), ImageError),
    ]:
        with pytest.raises(error, match="is a FIFO") as err:
            bounded(call, pipe)
        assert str(pipe) in str(err.value), name
    # the settings file: the station runs on defaults, says why, and never saves over it
    loaded = bounded(lambda: load_settings(pipe, env={}), pipe)
    assert loaded.read_only and str(pipe) in loaded.warnings[0]


@pytest.mark.skipif(os.name != "posix", reason="FIFOs are POSIX files")
def test_inspect_with_a_fifo_model_pattern_or_image_exits_2_at_once(tmp_path):
    model = constant_model(tmp_path / "m.onnx", v8_raw_output([(320, 320, 100, 50, 1, 0.9)], 3))
    pattern = tmp_path / "p.yaml"
    pattern.write_text(PATTERN)
    image = tmp_path / "part.png"
    cv2.imwrite(str(image), np.full((480, 640, 3), 90, np.uint8))
    pipe = fifo(tmp_path / "pipe")
    for args in ([pipe, pattern, image], [model, pipe, image], [model, pattern, pipe]):
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "inspection_station", "inspect", "--model", str(args[0]),
                 "--patterns", str(args[1]), str(args[2])],
                capture_output=True, text=True, timeout=BOUND_S * 3,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"inspect {args} blocked on the FIFO")
        assert proc.returncode == 2, proc.stderr
        assert f"{pipe}: is a FIFO (named pipe)" in proc.stderr and "Traceback" not in proc.stderr


# --- the accounts store once accounts exist ---------------------------------------------------


def _with_admin(control):
    control.create_first_admin("ada", "adm-pw", "adm-pw")
    control.store.add("eddie", "engineer", "eng-pw")
    return control.store.path


def _assert_locked(control, *, signed_in_before=False):
    """Nobody signs in, no first admin, engineer actions refused naming the store; the
    operator's own actions (no login) go on."""
    path = str(control.store.path)
    with pytest.raises(AccountsUnavailable, match="user add NAME --role admin") as err:
        control.needs_first_admin()
    assert path in str(err.value)
    with pytest.raises(AccountError, match=path.replace("\\", "\\\\")):
        control.create_first_admin("mallory", "evil-pw", "evil-pw")
    if not signed_in_before:
        with pytest.raises(AccountError, match="accounts"):
            control.login("ada", "adm-pw")
    assert not control.allowed("settings") and not control.allowed("users")
    assert not control.is_signed_in_as("engineer")
    with pytest.raises(PermissionDenied, match="accounts") as denied:
        control.require("settings")
    assert path in str(denied.value)
    assert control.allowed("product_switch")  # anyone at the station, as before


@pytest.mark.parametrize("evidence", ["marker", "audit", "backup"])
def test_a_missing_store_once_accounts_existed_locks_and_is_never_a_first_run(station, evidence):
    path = _with_admin(station)
    marker, backup = path.with_name("accounts.json.created"), path.with_name("accounts.json.bak")
    assert marker.exists() and backup.exists()
    path.unlink()  # the share went away
    if evidence != "marker":
        marker.unlink()
    if evidence != "backup":
        backup.unlink()
    if evidence != "audit":
        station.audit.path.unlink()
    problem = station.store.problem()
    assert "missing, but accounts exist on this station" in problem
    assert {"marker": "the marker", "audit": "audit.jsonl:1 records create", "backup": "its backup"}[evidence] in problem
    _assert_locked(station)
    assert not path.exists()  # nothing was created in its place


def test_an_engineer_signed_in_before_the_store_went_away_is_locked_too(station):
    path = _with_admin(station)
    station.login("eddie", "eng-pw")
    assert station.allowed("settings")
    path.unlink()
    _assert_locked(station, signed_in_before=True)


def test_a_station_where_no_account_was_ever_made_still_has_its_first_run(station):
    assert station.store.problem() == "" and station.needs_first_admin()
    station.create_first_admin("ada", "adm-pw", "adm-pw")
    assert station.login("ada", "adm-pw").role == "admin"


@pytest.mark.skipif(os.name != "posix", reason="FIFOs are POSIX files")
@pytest.mark.parametrize("kind", ["garbage", "empty", "fifo", "folder", "bad-field"])
def test_an_unreadable_store_locks_and_is_left_as_it_is(station, kind):
    path = _with_admin(station)
    path.unlink()
    if kind == "garbage":
        path.write_bytes(b"\x00\xffnot json")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "fifo":
        fifo(path)
    elif kind == "folder":
        path.mkdir()
    else:
        path.write_text(json.dumps({"users": {"ada": {"role": "admin", "password_hash": "x",
                                                      "failed_logins": "many"}}}))
    before = path.read_bytes() if path.is_file() else None
    bounded(lambda: _assert_locked(station), path)
    assert (path.read_bytes() if path.is_file() else None) == before


def _cli(argv, stdin, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = cli.main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.skipif(os.name != "posix", reason="FIFOs are POSIX files")
@pytest.mark.parametrize("kind", ["missing", "garbage", "fifo", "folder"])
def test_user_add_admin_refuses_and_recover_store_replaces_the_store_audited(capsys, monkeypatch, kind):
    store = AccountStore()  # the station's own store and audit log (isolated per test)
    add = ["user", "add", "ada", "--role", "admin", "--password-stdin"]
    assert _cli(add, "adm-pw\n", capsys, monkeypatch)[0] == 0
    path = store.path
    path.unlink()
    if kind == "garbage":
        path.write_text("{torn")
    elif kind == "fifo":
        fifo(path)
    elif kind == "folder":
        (path / "inside").mkdir(parents=True)
    code, _, err = bounded(lambda: _cli(["user", "add", "mallory", "--role", "admin", "--password-stdin"],
                                        "evil-pw\n", capsys, monkeypatch), path)
    assert code == 2 and str(path) in err and "--recover-store" in err
    code, _, err = bounded(lambda: _cli(["user", "list"], "", capsys, monkeypatch), path)
    assert code == 2 and str(path) in err
    # --recover-store: only for an admin, only when there is something to recover
    code, _, err = _cli(["user", "add", "bob", "--role", "engineer", "--password-stdin", "--recover-store"],
                        "bob-pw\n", capsys, monkeypatch)
    assert code == 2 and "--role admin" in err
    code, out, err = bounded(lambda: _cli([*add[:2], "root", *add[3:], "--recover-store"], "root-pw\n",
                                          capsys, monkeypatch), path)
    assert code == 0, err
    assert [(u.name, u.role) for u in store.users()] == [("root", "admin")]
    assert store.authenticate("root", "root-pw").name == "root"
    asides = sorted(path.parent.glob("accounts.json.unreadable-*"))
    if kind == "missing":
        assert asides == []
    else:
        [aside] = asides  # what was there is kept, renamed, never opened
        assert str(aside) in out
        if kind == "garbage":
            assert aside.read_text() == "{torn"
        elif kind == "folder":
            assert (aside / "inside").is_dir()
    entries = AuditLog().read()
    recover = entries[-1]
    assert (recover.kind, recover.action, recover.target, recover.role) == ("user", "recover", "root", "system")
    assert recover.user.startswith("os:") and str(path) in recover.old["store"]
    assert recover.new["moved_aside"] == (str(asides[0]) if asides else None)
    assert verify_audit(AuditLog().path).intact
    code, _, err = _cli([*add[:2], "x", *add[3:], "--recover-store"], "xx-pw\n", capsys, monkeypatch)
    assert code == 2 and "nothing to recover" in err  # the store is readable again


def test_a_recovery_the_audit_cannot_record_is_undone(tmp_path):
    store = AccountStore(tmp_path / "accounts.json", audit_path=tmp_path / "audit.jsonl")
    store.add("ada", "admin", "adm-pw")
    store.path.write_text("{torn")

    def audit_fails(problem, aside):
        raise OSError("the audit disk is full")

    with pytest.raises(OSError, match="audit disk"):
        store.recover("root", "root-pw", audit_fails)
    assert store.path.read_text() == "{torn" and not list(tmp_path.glob("accounts.json.unreadable-*"))


@pytest.mark.skipif(os.name != "posix", reason="FIFOs are POSIX files")
def test_user_list_on_a_fifo_store_exits_2_instead_of_blocking(tmp_path):
    pipe = fifo(tmp_path / "accounts.json")
    try:
        proc = subprocess.run([sys.executable, "-m", "inspection_station", "user", "--accounts", str(pipe), "list"],
                              capture_output=True, text=True, timeout=BOUND_S * 3)
    except subprocess.TimeoutExpired:
        pytest.fail("user list blocked on the FIFO")
    assert proc.returncode == 2 and f"{pipe}: is a FIFO (named pipe)" in proc.stderr


def test_an_unreadable_audit_log_counts_as_evidence(tmp_path):
    """Nothing can show that no account was made: a missing store is not a first run."""
    (tmp_path / "audit.jsonl").mkdir()
    store = AccountStore(tmp_path / "accounts.json", audit_path=tmp_path / "audit.jsonl")
    assert "cannot show that none were" in store.problem()
    with pytest.raises(AccountsUnavailable):
        store.add("mallory", "admin", "evil-pw")


# --- a failed-login count that cannot be stored ------------------------------------------------


def _block_the_store_writer(path):
    """The atomic writer keeps the previous version as `<store>.bak` (link + rename): a
    folder with something in it there makes every write of the store fail, for root too
    (who ignores permission bits), while the store itself stays readable."""
    bak = path.with_name(path.name + ".bak")
    bak.unlink(missing_ok=True)
    (bak / "keep").mkdir(parents=True)


def test_a_failure_count_that_cannot_be_stored_denies_the_sign_in(station, clock, caplog):
    _with_admin(station)
    _block_the_store_writer(station.store.path)
    stored = station.store.path.read_bytes()
    # even the right password is not checked while a failure could not be recorded
    with pytest.raises(LoginRefused, match="cannot be stored") as first:
        station.login("eddie", "eng-pw")
    assert station.session is None and first.value.retry_after_s == 1.0
    for _ in range(20):  # the probe: 20 guesses, each after its delay
        clock.now += 120
        with pytest.raises(LoginRefused) as refused:
            station.login("eddie", "guess")
        assert "cannot be stored" in str(refused.value) or refused.value.locked
    assert refused.value.locked  # locked in memory after max_failed
    clock.now += 3600
    with pytest.raises(LoginRefused, match="locked"):
        station.login("eddie", "eng-pw")  # the right password still does not sign in
    assert station.session is None
    assert station.store.path.read_bytes() == stored  # nothing half-written
    failed = [e for e in _audit(station) if e["action"] == "failed"]
    assert len(failed) == 22 and all(e["user"] == "eddie" for e in failed)
    assert "not stored" in caplog.text
    # the disk has room again: the lock memory held is stored; an admin must unlock
    (station.store.path.with_name("accounts.json.bak") / "keep").rmdir()
    station.store.path.with_name("accounts.json.bak").rmdir()
    with pytest.raises(LoginRefused, match="locked"):
        station.login("eddie", "eng-pw")
    assert AccountStore(station.store.path).get("eddie").locked


def test_a_refusal_the_audit_cannot_record_is_still_refused_and_logged(station, tmp_path, caplog):
    _with_admin(station)
    _block_the_store_writer(station.store.path)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    station.audit = AuditLog(blocker / "audit.jsonl")
    with caplog.at_level(logging.ERROR), pytest.raises(LoginRefused, match="cannot be stored"):
        station.login("eddie", "eng-pw")
    assert station.session is None
    assert "failed login of 'eddie' not audited" in caplog.text


# --- clamped counters and costs ----------------------------------------------------------------


def _edit_user(store, name, **fields):
    data = json.loads(store.path.read_text())
    data["users"][name].update(fields)
    store.path.write_text(json.dumps(data))  # json writes inf/nan as Infinity/NaN, as Python reads them


# A stored number that bounds a loop in C (a big-int power, scrypt's cost) holds the GIL: a
# thread could not be timed out, so those sign-ins run in a child process with a timeout.
_SIGN_IN = """
import json, sys
from inspection_station.core.settings.accounts import AccountStore, LoginPolicy, LoginRefused
store = AccountStore(sys.argv[1], policy=LoginPolicy(max_failed=int(sys.argv[4])))
out = {}
try:
    out["user"] = store.authenticate(sys.argv[2], sys.argv[3]).name
except LoginRefused as exc:
    out.update(refused=str(exc), retry_after_s=exc.retry_after_s)
out.update(retry_after=store.retry_after(sys.argv[2]), count=store.get(sys.argv[2]).failed_logins)
print(json.dumps(out))
"""


def sign_in_in_child(store, name, password, max_failed=5):
    try:
        proc = subprocess.run([sys.executable, "-c", _SIGN_IN, str(store.path), name, password, str(max_failed)],
                              capture_output=True, text=True, timeout=BOUND_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"signing in as {name!r} did not answer within {BOUND_S} s: it hung")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("count", [10**18, 1e18, 10**40, float("inf"), float("nan"), -5])
def test_a_huge_stored_failure_count_answers_at_once_with_a_clamped_delay(station, count):
    _with_admin(station)
    _edit_user(station.store, "eddie", failed_logins=count, last_failed_at=time.time() - 1)
    answer = sign_in_in_child(station.store, "eddie", "eng-pw", max_failed=10**7)  # not locked: the delay
    if count == -5:  # clamped to 0: no delay, the right password signs in
        assert answer["user"] == "eddie"
        return
    assert "wait" in answer["refused"]
    assert 0 < answer["retry_after_s"] <= 60.0 and 0 < answer["retry_after"] <= 60.0
    assert answer["count"] == MAX_COUNT


@pytest.mark.parametrize("when", [1e300, float("inf"), float("nan"), "future"])
def test_a_last_failure_in_the_future_or_absurd_delays_from_now_not_for_ever(station, clock, when):
    _with_admin(station)
    when = clock.now + 10**9 if when == "future" else when
    _edit_user(station.store, "eddie", failed_logins=2, last_failed_at=when)
    with pytest.raises(LoginRefused, match="wait") as refused:
        bounded(lambda: station.login("eddie", "eng-pw"))
    assert refused.value.retry_after_s == 2.0  # the delay of 2 failures, from the first look
    clock.now += 2.0
    assert station.login("eddie", "eng-pw").user == "eddie"


@pytest.mark.parametrize("cost", ["1048576$8$1", "16384$8$1000", "16384$8$16", "16384$100000$1",
                                  "99999999999999999999$1$1", "16385$8$1"])
def test_a_stored_hash_of_absurd_cost_is_refused_not_computed(station, cost):
    _with_admin(station)
    good = station.store.get("eddie").password_hash
    absurd = f"scrypt${cost}${good.split('$', 4)[4]}"  # the same salt and digest
    assert access.hash_problem(absurd) and access.hash_problem(good) == ""
    _edit_user(station.store, "eddie", password_hash=absurd)
    answer = sign_in_in_child(station.store, "eddie", "eng-pw")
    assert "cannot be checked" in answer["refused"] and "scrypt" in answer["refused"]
    assert answer["count"] == 0  # refused before anything was computed or counted
