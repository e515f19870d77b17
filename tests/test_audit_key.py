"""Issue 20: the audit chain is keyed (HMAC with the station's audit.key) and a torn tail is repaired."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import threading

import pytest

from inspection_station import cli
from inspection_station.core.settings.accounts import default_accounts_path
from inspection_station.core.settings.audit import (
    Actor,
    AuditError,
    AuditLog,
    line_hash,
    read_audit,
    verify_audit,
)
from inspection_station.core.settings.audit_key import AuditKey, default_key_path, load_key
from tests.refusals import read_only_folder


def _log(path, n=4):
    log = AuditLog(path, actor=Actor("ada", "admin", "st-1"))
    for i in range(n):
        log.record("settings", f"camera.gain_{i}", i, i + 1)
    return log


def _rows(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _write_rows(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _rechain(rows, key: AuditKey | None = None, keep_key_field=True):
    """What a forger does: recompute every line's hash and link, and the head, from scratch."""
    prev = "0" * 64
    out = []
    for row in rows:
        row = dict(row, prev=prev)
        if not keep_key_field:
            row.pop("key", None)
        row["hash"] = line_hash(row, key)
        prev = row["hash"]
        out.append(row)
    return out


def _verify_cli(capsys, *args):
    code = cli.main(["audit", "verify", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out + out.err


# --- the key ------------------------------------------------------------------------------


def test_the_key_is_made_at_first_use_beside_the_accounts_user_only(tmp_path):
    key_file = default_accounts_path().parent / "audit.key"
    assert default_key_path() == key_file and not key_file.exists()
    log = _log(tmp_path / "audit.jsonl", 1)
    assert log.key_path == key_file
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600  # readable by the station's user only
    text = key_file.read_text(encoding="ascii")
    assert len(text) == 65 and text.endswith("\n") and int(text, 16) >= 0
    [row] = _rows(log.path)
    key = load_key(key_file)
    assert row["key"] == key.key_id and row["hash"] == line_hash(row, key)
    assert row["hash"] != line_hash(row)  # not the plain SHA-256 any more
    assert key.secret.hex() not in repr(key)
    # a second log object, the same key (never a second one made over it)
    AuditLog(log.path).record("settings", "x", 1, 2)
    assert key_file.read_text(encoding="ascii") == text
    assert {r["key"] for r in _rows(log.path)} == {key.key_id}


def test_two_threads_making_the_first_key_at_once_agree_on_one(tmp_path):
    logs = [AuditLog(tmp_path / f"a{i}.jsonl") for i in range(4)]  # four files: four file locks
    barrier = threading.Barrier(len(logs))

    def first_line(log):
        barrier.wait()
        log.record("settings", "k", 0, 1)

    threads = [threading.Thread(target=first_line, args=(log,)) for log in logs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({_rows(log.path)[0]["key"] for log in logs}) == 1
    assert all(verify_audit(log.path).intact for log in logs)
    assert [p.name for p in default_key_path().parent.iterdir() if p.name.endswith(".tmp")] == []


def test_an_unusable_key_fails_closed_and_is_never_replaced(tmp_path):
    key_file = default_key_path()
    key_file.parent.mkdir(parents=True)
    key_file.write_text("not a key\n", encoding="ascii")
    log = AuditLog(tmp_path / "audit.jsonl")
    with pytest.raises(AuditError, match=r"audit.key: not an audit key"):
        log.record("settings", "k", 0, 1)
    assert key_file.read_text(encoding="ascii") == "not a key\n" and not log.path.exists()
    with pytest.raises(AuditError, match="not an audit key"):
        verify_audit(tmp_path / "audit.jsonl")


def test_a_fifo_in_place_of_the_key_is_refused_without_blocking(tmp_path):
    key_file = default_key_path()
    key_file.parent.mkdir(parents=True)
    os.mkfifo(key_file)
    with pytest.raises(AuditError, match="not a regular file"):
        AuditLog(tmp_path / "audit.jsonl").record("settings", "k", 0, 1)


# --- what the key detects ------------------------------------------------------------------


def test_an_edit_with_a_recomputed_plain_sha_chain_and_head_is_detected(tmp_path, capsys):
    path = tmp_path / "audit.jsonl"
    _log(path)
    rows = _rows(path)
    rows[1]["new"] = 99  # the forger's change
    forged = _rechain(rows)  # every hash recomputed, SHA-256 as the unkeyed chain had it
    _write_rows(path, forged)
    (tmp_path / "audit.jsonl.head").write_text(f"{forged[-1]['seq']} {forged[-1]['hash']}\n", encoding="utf-8")
    code, text = _verify_cli(capsys, path)
    assert code == 1 and "audit.jsonl:1:" in text and "key-protected hash" in text and "edited" in text


def test_a_rewrite_without_the_key_fields_is_detected_on_the_station(tmp_path, capsys):
    path = tmp_path / "audit.jsonl"
    _log(path)
    rows = _rows(path)
    rows[2]["who"] = "someone@else"
    forged = _rechain(rows, keep_key_field=False)  # a well-formed unkeyed log, as older versions wrote
    _write_rows(path, forged)
    (tmp_path / "audit.jsonl.head").write_text(f"{forged[-1]['seq']} {forged[-1]['hash']}\n", encoding="utf-8")
    code, text = _verify_cli(capsys, path)
    assert code == 1 and "no line is protected by this station's audit key" in text
    # --unkeyed is for older copies: it checks the plain chain, and says it is not key-protected
    code, text = _verify_cli(capsys, path, "--unkeyed")
    assert code == 0 and "not key-protected" in text


def test_a_chain_recomputed_with_another_key_is_detected(tmp_path, capsys):
    path = tmp_path / "audit.jsonl"
    _log(path)
    other = AuditKey(b"\x01" * 32)
    rows = [dict(r, key=other.key_id) for r in _rows(path)]
    _write_rows(path, _rechain(rows, other))
    code, text = _verify_cli(capsys, path)
    assert code == 1 and "audit.jsonl:1:" in text and "another audit key" in text


def test_a_head_rewritten_without_the_key_is_detected(tmp_path, capsys):
    path = tmp_path / "audit.jsonl"
    _log(path)
    head = tmp_path / "audit.jsonl.head"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:2]), encoding="utf-8")  # the last two lines cut off ...
    row = json.loads(lines[1])
    head.write_text(f"{row['seq']} {row['hash']}\n", encoding="utf-8")  # ... and the head made to agree
    code, text = _verify_cli(capsys, path)
    assert code == 1 and "head" in text and "without the key" in text
    head.write_text(f"{row['seq']} {row['hash']} {'0' * 64}\n", encoding="utf-8")  # a made-up HMAC
    code, text = _verify_cli(capsys, path)
    assert code == 1 and "the head was rewritten" in text


def test_a_keyed_log_cannot_be_verified_without_its_key_but_can_with_key_given(tmp_path, capsys):
    path = tmp_path / "audit.jsonl"
    _log(path)
    moved = tmp_path / "station-1.key"
    default_key_path().rename(moved)
    code, text = _verify_cli(capsys, path)
    assert code == 1 and "this station does not have" in text and "--key" in text
    code, text = _verify_cli(capsys, path, "--key", moved)
    assert code == 0 and "4 protected by audit key" in text


def test_older_unkeyed_chains_stay_verifiable_and_are_said_to_be_unkeyed(tmp_path, capsys):
    path = tmp_path / "audit.jsonl"
    base = {"who": "ada@st", "kind": "settings", "action": "change", "user": "ada", "role": "admin", "station": "st"}
    older = _rechain([dict(base, time=f"2026-01-0{i}T10:00:00+01:00", target=f"k{i}", old=i, new=i + 1, seq=i)
                      for i in (1, 2, 3)], keep_key_field=False)  # as the previous version wrote them
    _write_rows(path, older)
    (tmp_path / "audit.jsonl.head").write_text(f"3 {older[-1]['hash']}\n", encoding="utf-8")
    result = verify_audit(path)  # no key on this station yet: the plain chain is all there is
    assert result.intact and result.chained == 3 and result.keyed == 0
    assert "not key-protected: no line carries an audit key" in result.summary()

    AuditLog(path).record("settings", "k4", 4, 5)  # first line with the key: made now
    result = verify_audit(path)
    assert result.intact and (result.chained, result.keyed) == (4, 1)
    assert "3 line(s) from before the audit key: not key-protected" in result.summary()
    assert [e.seq for e in read_audit(path)] == [1, 2, 3, 4]
    # an older line rewritten with its plain chain recomputed: the first keyed line's link breaks
    rows = _rows(path)
    rows[0]["new"] = 42
    _write_rows(path, _rechain(rows[:3], keep_key_field=False) + rows[3:])
    result = verify_audit(path)
    assert not result.intact and "audit.jsonl:4: breaks the chain" in result.problem


# --- torn tail -----------------------------------------------------------------------------


def test_a_torn_tail_is_moved_aside_the_chain_goes_on_and_verify_says_what_was_repaired(tmp_path, capsys):
    path = tmp_path / "audit.jsonl"
    log = _log(path, 3)
    fragment = b'{"time": "2026-12-01T10:00:00.000+01:00", "who": "ada@st-1", "kind": "sett'
    with path.open("ab") as fh:  # what a full disk leaves of a line
        fh.write(fragment)
    result = verify_audit(path)  # not yet repaired: the chain is whole, the fragment is named
    assert result.intact and f"the last {len(fragment)} byte(s) are an unfinished line" in result.summary()
    assert [e.seq for e in read_audit(path)] == [1, 2, 3]  # the fragment is no entry

    log.record("settings", "camera.gain_3", 3, 4)
    sides = sorted(tmp_path.glob("audit.jsonl.torn-*"))
    assert len(sides) == 1 and sides[0].read_bytes() == fragment
    rows = _rows(path)  # every line whole JSON again
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5]  # continues, never restarts at 1
    repair = rows[3]
    assert (repair["kind"], repair["action"], repair["target"], repair["who"]) == (
        "audit", "repair", sides[0].name, "system@st-1")
    assert repair["old"] == {"bytes": len(fragment), "sha256": hashlib.sha256(fragment).hexdigest()}
    assert rows[4]["target"] == "camera.gain_3" and rows[4]["prev"] == repair["hash"]
    code, text = _verify_cli(capsys, path)
    assert code == 0 and "intact: 5 chained line(s), 5 protected by audit key" in text
    assert f"repaired: line 4: {len(fragment)} byte(s) of an interrupted write moved to {sides[0].name}" in text


def test_a_log_that_is_one_fragment_only_starts_its_chain_after_moving_it(tmp_path):
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b'{"time": "2026-')
    AuditLog(path).record("settings", "k", 0, 1)
    assert [r["seq"] for r in _rows(path)] == [1, 2]
    assert verify_audit(path).intact and len(list(tmp_path.glob("audit.jsonl.torn-*"))) == 1


def test_a_fragment_that_cannot_be_moved_aside_blocks_the_entry_instead_of_gluing_to_it(tmp_path):
    folder = tmp_path / "logs"
    folder.mkdir()
    path = folder / "audit.jsonl"
    _log(path, 2)
    torn = path.read_bytes() + b'{"time": "20'
    path.write_bytes(torn)
    with read_only_folder(folder):  # no side file can be made (the log itself stays writable)
        with pytest.raises(AuditError, match="cannot write the audit log"):
            AuditLog(path).record("settings", "k", 0, 1)
        assert path.read_bytes() == torn  # nothing glued to the fragment, nothing lost
    AuditLog(path).record("settings", "k", 0, 1)  # repaired once the folder is writable again
    assert [r["seq"] for r in _rows(path)] == [1, 2, 3, 4] and verify_audit(path).intact
