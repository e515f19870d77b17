"""Audit trail: who (user, role, station) did what, when, from what to what.

One JSON object per line (JSON-lines) so any value — a number, a list of class
names, a slot's boxes — is stored without a CSV quoting scheme. Each row is written
whole, flushed and synced; the file is only ever appended to, never rewritten.

Tamper evidence (21 CFR Part 11 style): each line carries `seq`, `prev` (the previous
line's hash) and `hash` (of the line's own content including `prev`), and the head (last
seq + hash) is kept beside the file in `audit.jsonl.head`. An edited line fails its own
hash, an inserted or deleted one breaks the chain, a cut-off tail disagrees with the
head: `verify_audit` (`inspection-station audit verify`) says which line.

The hash is keyed: HMAC-SHA256 with the station's secret `audit.key` (audit_key.py, made at
the first line), named by the line's `key` field; the head carries an HMAC too. So whoever
rewrites the file and recomputes the chain without the key is found out on this station.
Older lines stay verifiable: lines before the chain existed are accepted at the start only,
plain SHA-256 lines (before the key existed) only before the first keyed line.

A torn last line (a full disk or a crash mid-write) is repaired before the next entry: its
bytes move to `audit.jsonl.torn-<time>` beside the log, a chained `repair` entry says so,
and the chain goes on from the last whole line.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from inspection_station.core import paths
from inspection_station.core.errors import StationError
from inspection_station.core.settings.audit_key import (
    AuditKey,
    AuditKeyError,
    default_key_path,
    load_key,
    load_or_create_key,
)
from inspection_station.core.settings.model import Settings

AUDIT_FILE_NAME = "audit.jsonl"
HEAD_SUFFIX = ".head"
TORN_SUFFIX = ".torn-"  # audit.jsonl.torn-20261201T101112: the bytes of an unfinished last line
GENESIS = "0" * 64  # `prev` of the first chained line
SECRET_KEYS = frozenset({"engineer_password_hash"})  # logged as changed, never the value
HIDDEN = "<hidden>"


class AuditError(StationError):
    """The audit log cannot be written or read."""


@dataclass(frozen=True)
class AuditEntry:
    time: str  # ISO 8601, local time with UTC offset
    who: str  # e.g. "engineer@station-1"
    kind: str  # "settings" or "pattern"
    target: str  # "camera.exposure_us" or "demo.yaml / variant_a / slot 2"
    action: str  # "change", "create", "delete", "rename", ...
    old: Any = None
    new: Any = None
    user: str = ""
    role: str = ""
    station: str = ""
    seq: int = 0
    prev: str = ""
    key: str = ""  # id of the audit key whose HMAC `hash` is ("" = plain SHA-256, older lines)
    hash: str = ""

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Actor:
    """Who an audit line names: a signed-in user, or the station's unnamed operator."""

    user: str
    role: str
    station: str
    # how they reached the station: "gui" (a person at the screen), "api" (a token), "cli"
    # (the OS account); not written to the line — the user name says it ("api:mes", "os:root")
    route: str = field(default="", compare=False)

    @property
    def who(self) -> str:
        return f"{self.user}@{self.station}"


def line_hash(fields: dict, key: AuditKey | None = None) -> str:
    """One entry's content (without its own `hash`) as canonical JSON, hashed: HMAC-SHA256
    with `key`, else (older lines) plain SHA-256."""
    content = {k: v for k, v in fields.items() if k != "hash"}
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    if key is not None:
        return key.mac(text)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def head_mac(key: AuditKey, seq: int, digest: str) -> str:
    return key.mac(f"audit-head {seq} {digest}")


def head_path(path: Path) -> Path:
    return path.with_name(path.name + HEAD_SUFFIX)


def default_audit_path() -> Path:
    return paths.logs_dir() / AUDIT_FILE_NAME


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


class AuditLog:
    """Appends entries to one JSON-lines file (thread-safe within the process)."""

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        who: str = "engineer",
        actor: Actor | None = None,
        key_path: str | Path | None = None,
    ) -> None:
        self.path = Path(path) if path else default_audit_path()
        self.key_path = Path(key_path) if key_path else default_key_path()  # made at the first line
        self.actor = actor
        self.who = actor.who if actor is not None else who
        self._lock = _path_lock(self.path)

    def as_actor(self, actor: Actor) -> AuditLog:
        """The same file, lines naming `actor` (the signed-in user)."""
        return AuditLog(self.path, actor=actor, key_path=self.key_path)

    def record(
        self,
        kind: str,
        target: str,
        old: Any = None,
        new: Any = None,
        *,
        action: str = "change",
        actor: Actor | None = None,
    ) -> AuditEntry:
        actor = actor or self.actor
        fields = {
            "time": datetime.now().astimezone().isoformat(timespec="milliseconds"),
            "who": actor.who if actor is not None else self.who,
            "kind": kind,
            "target": target,
            "action": action,
            "old": _jsonable(old),
            "new": _jsonable(new),
            "user": actor.user if actor is not None else self.who.partition("@")[0],
            "role": actor.role if actor is not None else "",
            "station": actor.station if actor is not None else self.who.partition("@")[2],
        }
        with self._lock, _file_lock(self.path):
            try:
                key = load_or_create_key(self.key_path)  # fail closed: no unkeyed line once keyed
            except AuditKeyError as exc:
                raise AuditError(f"{self.path}: not written: {exc}") from None
            try:
                repaired = _repair_torn_tail(self.path)
                if repaired is not None:
                    _append(self.path, _repair_fields(fields, repaired), key)
                _append(self.path, fields, key)
            except OSError as exc:
                raise AuditError(f"{self.path}: cannot write the audit log: {exc.strerror or exc}") from None
        return AuditEntry(**fields)

    def record_settings(self, old: Settings, new: Settings) -> list[AuditEntry]:
        """One entry per changed key; returns them (empty when nothing changed)."""
        return [
            self.record("settings", key, before, after)
            for key, before, after in settings_changes(old, new)
        ]

    def read(self) -> list[AuditEntry]:
        return read_audit(self.path)


def settings_changes(old: Settings, new: Settings) -> list[tuple[str, Any, Any]]:
    """(section.key, old, new) for every key that differs; secrets are masked."""
    changes = []
    for section in dataclasses.fields(Settings):
        before = getattr(old, section.name)
        after = getattr(new, section.name)
        for f in dataclasses.fields(before):
            a, b = getattr(before, f.name), getattr(after, f.name)
            if a != b:
                if f.name in SECRET_KEYS:
                    a, b = (HIDDEN if a else ""), HIDDEN
                changes.append((f"{section.name}.{f.name}", a, b))
    return changes


def read_audit(path: str | Path | None = None) -> list[AuditEntry]:
    """All entries of an audit file, oldest first (a missing file is an empty log; an
    unfinished last line, an interrupted write, is no entry)."""
    p = Path(path) if path else default_audit_path()
    if not p.exists():
        return []
    entries = []
    with p.open(encoding="utf-8", errors="replace", newline="") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip() or not line.endswith("\n"):
                continue
            try:
                entries.append(AuditEntry(**json.loads(line)))
            except (ValueError, TypeError) as exc:
                raise AuditError(f"{p}:{number}: not an audit entry: {exc}") from None
    return entries


# --- the chain ----------------------------------------------------------------------------

_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


def _path_lock(path: Path) -> threading.Lock:
    """One lock per file in this process: two AuditLog objects on one file share it."""
    key = Path(os.path.abspath(path))
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


class _file_lock:
    """Across processes (the GUI and a `user add` at once): an exclusive lock on a side file."""

    def __init__(self, path: Path) -> None:
        self.lock_path = path.with_name(path.name + ".lock")
        self.fh: BinaryIO | None = None

    def __enter__(self) -> None:
        try:
            self.lock_path.parent.mkdir(parents=True, exist_ok=True)
            fh = self.fh = self.lock_path.open("a+b")
        except OSError as exc:
            raise AuditError(f"{self.lock_path}: cannot lock the audit log: {exc.strerror or exc}") from None
        try:
            if sys.platform == "win32":
                import msvcrt

                fh.seek(0)
                msvcrt.locking(fh.fileno(), msvcrt.LK_LOCK, 1)  # retries for ~10 s, then fails
            else:
                import fcntl

                fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        except OSError as exc:
            fh.close()
            self.fh = None
            raise AuditError(f"{self.lock_path}: cannot lock the audit log: {exc.strerror or exc}") from None

    def __exit__(self, *exc) -> None:
        fh = self.fh
        if fh is None:
            return
        if sys.platform == "win32":
            import msvcrt

            fh.seek(0)
            msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)
        fh.close()  # closing releases an flock


def _raw_hash(line: bytes) -> str:
    return hashlib.sha256(line.rstrip(b"\r\n")).hexdigest()


def _last_link(path: Path) -> tuple[int, str]:
    """(seq, hash) of the file's last line: what the next line chains to."""
    if not path.exists():
        return 0, GENESIS
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        block = 4096
        data = b""
        while size > 0:  # read backwards until the last complete line is in hand
            step = min(block, size)
            size -= step
            fh.seek(size)
            data = fh.read(step) + data
            if data.rstrip(b"\n").count(b"\n") >= 1:
                break
    lines = [line for line in data.split(b"\n") if line.strip()]
    if not lines:
        return 0, GENESIS
    last = lines[-1]
    try:
        fields = json.loads(last)
        return int(fields["seq"]), str(fields["hash"])
    except (ValueError, KeyError, TypeError):
        return 0, _raw_hash(last)  # a line from before the chain: chain to its bytes


def _append(path: Path, fields: dict, key: AuditKey) -> None:
    """Chain `fields` to the file's last whole line (seq, prev, key, hash), append, sync, head."""
    seq, prev = _last_link(path)
    fields.update(seq=seq + 1, prev=prev, key=key.key_id)
    fields["hash"] = line_hash(fields, key)
    line = json.dumps(fields, ensure_ascii=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8", newline="\n") as fh:
        fh.write(line)  # one write call per row: rows are never interleaved
        fh.flush()
        os.fsync(fh.fileno())
    _write_head(path, fields["seq"], fields["hash"], key)


def _write_head(path: Path, seq: int, digest: str, key: AuditKey) -> None:
    head = head_path(path)
    tmp = head.with_name(head.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(f"{seq} {digest} {head_mac(key, seq, digest)}\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, head)


def _repair_torn_tail(path: Path) -> dict | None:
    """Move an unfinished last line (a full disk or a crash mid-write) to a side file.

    As the CSV log does, only the bytes after the last newline go: they are no entry, and the
    next entry glued to them would make both unreadable. Returns what was moved (bytes,
    SHA-256, side file name), None when the file ends whole. OSError when it cannot be done:
    then no entry is written either (a fragment is never left in front of one).
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return None
    if size == 0:
        return None
    with path.open("r+b") as fh:
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return None
        cut, pos = 0, size
        while pos > 0:  # backwards to the last newline
            step = min(1 << 16, pos)
            fh.seek(pos - step)
            newline = fh.read(step).rfind(b"\n")
            if newline >= 0:
                cut = pos - step + newline + 1
                break
            pos -= step
        side = _torn_side_path(path)
        digest = hashlib.sha256()
        fh.seek(cut)
        with side.open("xb") as out:
            while chunk := fh.read(1 << 16):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        fh.truncate(cut)
        fh.flush()
        os.fsync(fh.fileno())
    return {"bytes": size - cut, "sha256": digest.hexdigest(), "moved_to": side.name}


def _torn_side_path(path: Path) -> Path:
    stamp = datetime.now().astimezone().strftime("%Y%m%dT%H%M%S")
    side = path.with_name(f"{path.name}{TORN_SUFFIX}{stamp}")
    n = 2
    while side.exists():
        side = path.with_name(f"{path.name}{TORN_SUFFIX}{stamp}-{n}")
        n += 1
    return side


def _repair_fields(entry: dict, repaired: dict) -> dict:
    """The chained line that says a torn tail was moved away (by the station, not a person)."""
    station = entry.get("station", "")
    return {
        "time": entry["time"],
        "who": f"system@{station}" if station else "system",
        "kind": "audit",
        "target": repaired["moved_to"],
        "action": "repair",
        "old": {"bytes": repaired["bytes"], "sha256": repaired["sha256"]},
        "new": None,
        "user": "system",
        "role": "",
        "station": station,
    }


STATION_KEY = object()  # verify_audit's default: this station's audit.key, if there is one


@dataclass(frozen=True)
class VerifyResult:
    intact: bool
    lines: int  # lines read
    chained: int  # of them, lines in the hash chain
    problem: str = ""  # "<file>:<line>: what is wrong", for a tampered file
    keyed: int = 0  # of the chained lines, those protected by the audit key
    key_id: str = ""  # the key they were checked with ("" = none)
    repairs: tuple[str, ...] = ()  # torn tails the writer moved away, one text each
    notes: tuple[str, ...] = ()  # what else a reader should know (an unfinished last line)

    def summary(self) -> str:
        if not self.intact:
            return self.problem
        text = f"intact: {self.chained} chained line(s)"
        if self.keyed:
            text += f", {self.keyed} protected by audit key {self.key_id}"
        legacy = self.lines - self.chained
        if legacy:
            text += f" ({legacy} older line(s) before the chain started, not protected)"
        plain = self.chained - self.keyed
        if plain and self.keyed:
            text += f" ({plain} line(s) from before the audit key: not key-protected)"
        elif plain:
            text += " (not key-protected: no line carries an audit key)"
        extra = [f"repaired: {r}" for r in self.repairs] + list(self.notes)
        return "\n".join([text, *extra])


def verify_audit(
    path: str | Path | None = None, *, key: AuditKey | None | object = STATION_KEY, allow_unkeyed: bool = False
) -> VerifyResult:
    """Check every line's hash and link, and the head; AuditError when the file is unreadable.

    `key`: the audit key to check keyed lines with (default: this station's, never made
    here). With a key, a log without any keyed line fails unless `allow_unkeyed` (an older
    copy, or a log from a station without a key): a rewrite without the key drops them.
    """
    p = Path(path) if path else default_audit_path()
    if key is STATION_KEY:
        try:
            key = load_key(default_key_path())
        except AuditKeyError as exc:
            raise AuditError(str(exc)) from None
    assert key is None or isinstance(key, AuditKey)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise AuditError(f"{p}: cannot read the audit log: {exc.strerror or exc}") from None
    whole, _, torn = data.rpartition(b"\n")  # bytes after the last newline: an unfinished line
    prev, seq, lines, chained, keyed = GENESIS, 0, 0, 0, 0
    hashes: dict[int, str] = {}  # seq -> hash, to find the head's line
    repairs: list[str] = []
    key_id = key.key_id if key is not None else ""

    def bad(number: int, what: str) -> VerifyResult:
        return VerifyResult(False, lines, chained, f"{p}:{number}: {what}", keyed, key_id)

    for number, raw in enumerate(whole.split(b"\n"), 1):
        if not raw.strip():
            continue
        lines += 1
        try:
            fields = json.loads(raw)
            if not isinstance(fields, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            return bad(number, f"not a JSON audit line ({exc}); the file was edited")
        if "hash" not in fields:
            if chained:
                return bad(number, "a line without a chain hash after the chain started: inserted or edited")
            prev = _raw_hash(raw)  # an older, unchained line: the chain starts after it
            continue
        if fields.get("prev") != prev:
            before = "the line(s) before it were deleted" if lines == 1 else "a line before it was deleted"
            return bad(number, f"breaks the chain: {before}, or this line was inserted or edited")
        if "key" in fields:
            if key is None:
                return bad(number, f"protected by audit key {fields['key']}, which this station does not have "
                                   f"({default_key_path()} is missing): it cannot be verified here; give --key FILE")
            if fields["key"] != key.key_id:
                return bad(number, f"protected by another audit key ({fields['key']}; this one is {key.key_id}): "
                                   "a log from another station (give its --key), or a forged line")
            if line_hash(fields, key) != fields["hash"]:
                return bad(number, "its content does not match its key-protected hash: the line was edited")
            keyed += 1
        else:
            if keyed:
                return bad(number, "a line without the audit key after key-protected lines: "
                                   "rewritten or inserted without the key")
            if line_hash(fields) != fields["hash"]:
                return bad(number, "its content does not match its hash: the line was edited")
        if fields.get("seq") != seq + 1:
            return bad(number, f"sequence {fields.get('seq')} after {seq}: a line was deleted or inserted")
        seq, prev, chained = int(fields["seq"]), fields["hash"], chained + 1
        hashes[seq] = prev
        if fields.get("kind") == "audit" and fields.get("action") == "repair" and isinstance(fields.get("old"), dict):
            repairs.append(f"line {number}: {fields['old'].get('bytes')} byte(s) of an interrupted write "
                           f"moved to {fields.get('target')} ({fields.get('time')})")

    def failed(problem: str) -> VerifyResult:
        return VerifyResult(False, lines, chained, problem, keyed, key_id)

    head = head_path(p)
    if head.exists():
        try:
            parts = head.read_text(encoding="utf-8").split()
            if len(parts) not in (2, 3):
                raise ValueError(parts)
            head_seq, head_hash = int(parts[0]), parts[1]
        except (OSError, ValueError):
            return failed(f"{head}: unreadable head record")
        if len(parts) == 3:
            if key is None:
                return failed(f"{head}: protected by an audit key this station does not have; give --key FILE")
            if parts[2] != head_mac(key, head_seq, head_hash):
                return failed(f"{head}: its key-protected record does not match: the head was rewritten")
        elif keyed:
            return failed(f"{head}: not key-protected although the log is: the head was rewritten without the key")
        if head_seq > seq:
            return failed(f"{p}: ends at sequence {seq} but the head says {head_seq}: lines at the end were deleted")
        if hashes.get(head_seq) != head_hash:
            return failed(
                f"{p}: the line with sequence {head_seq} is not the one the head recorded: "
                "lines were replaced (or the head was)"
            )
        # a head behind the end: a crash between a line and its head; the chain covers the rest
    elif chained:
        return failed(f"{head}: missing; the end of the log cannot be checked")
    if key is not None and not keyed and not allow_unkeyed:
        return failed(
            f"{p}: no line is protected by this station's audit key ({key.path or key.key_id}): "
            "rewritten without the key, or an older copy or another station's log (check those with --unkeyed)"
        )
    notes: tuple[str, ...] = ()
    if torn.strip():
        notes = (f"the last {len(torn)} byte(s) are an unfinished line (an interrupted write), not part of the "
                 f"chain; the next entry moves them to {p.name}{TORN_SUFFIX}<time>",)
    return VerifyResult(True, lines, chained, "", keyed, key_id, tuple(repairs), notes)
