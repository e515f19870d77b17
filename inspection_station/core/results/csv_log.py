r"""The per-day CSV results log: one row per cycle, appended whole, never rewritten.

Contract (DESIGN.md, "Files a station writes"; issue 12): `<log_dir>/<station>_YYYY-MM-DD.csv`
(stations may share one network folder; a log without a station is `YYYY-MM-DD.csv`), header once,
one row per cycle, each row written whole and flushed. Here "whole" means: the row is
encoded first and handed to the OS in a single write() on an O_APPEND descriptor, then
fsync'ed before `write()` returns, so a crash (even kill -9) leaves complete lines only.
Field values never contain line breaks, so every record is exactly one physical line and
a reader can drop a damaged last line without losing anything else.

Every cell is safe to open in a spreadsheet (`safe_cell`): one that a spreadsheet would run
as a formula (starting with `=`, `+`, `-`, `@`, a tab or a CR: OWASP's CSV-injection list) is
prefixed with `'` (so is one that starts with `'`: `read_log` takes exactly one off again);
plain numbers such as `-1.5` stay numbers. Control and separator characters (C0, DEL, C1,
U+2028/U+2029) are written as `\n`, `\r`, `\t`, `\xNN` or `\uNNNN`, in every text cell,
part ids decoded from a code included: they are for reading, and never break a record.

File names come from the station id by `station_file_prefix`: Unicode letters and digits,
`-`, `.` and `_` are kept; an id that had to be changed to fit a file name (any other
character, upper case: Windows and macOS folders ignore case; over 40 characters) gets
`-` and 8 hex digits of its SHA-256 appended, so distinct ids never share a file.

A failing disk (read-only, full, folder gone) never loses a row: rows wait in memory, in
order, and go out on the next write or on `retry()`; every failure is reported, and the
caller learns that its row is not on disk (`write()` is False; `if_refused` may rewrite it).

A file that goes away under the writer does not take later rows with it: before and after
each row the open descriptor is compared with the file at the path (device, inode, link
count, size). A log deleted, moved, replaced or truncated, or its whole folder removed, is
reported as a warning, counted (`recreated`) and started again at its path (folder, BOM and
header first); the row in hand goes there.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import glob
import hashlib
import io
import json
import logging
import os
import re
import threading
import unicodedata
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path

from inspection_station.core.cycle import CycleResult
from inspection_station.core.detection import Detection
from inspection_station.core.errors import ResultsError

log = logging.getLogger(__name__)

LOG_COLUMNS: tuple[str, ...] = (
    "timestamp",  # ISO-8601, local time with UTC offset
    "cycle_id",
    "station",
    "pattern_set",
    "variant",
    "verdict",
    "filled",
    "expected",
    "missing_slots",  # per unfilled slot: its name, else "<slot index>:<class id>", ';'-joined
    "wrong_parts",  # per slot holding another class: "capacitor in slot chip_mcu", ';'-joined
    "n_detections",
    "detections",  # compact JSON [[class_id, score, x1, y1, x2, y2], ...]
    "cycle_ms",
    "grab_ms",
    "preprocess_ms",
    "inference_ms",
    "decode_ms",
    "match_ms",
    "model",
    "provider",
    "image_path",
    "error",
    "trigger",
    "overrules",  # an overrule row: the cycle id it corrects ("" for a normal cycle)
    "note",  # an overrule row: the operator's note
    "part_id",  # serial / DMC of the part, typed, scanned or decoded ("" = none)
    "model_sha256",  # short SHA-256 of the model file
    "pattern_hash",  # short content hash of the pattern set
    "recipe",  # the recipe in force (its pattern set's name; core/recipes/)
    "recipe_version",  # its version ("" = no recipe file: the station-wide settings)
)

# Excel reads UTF-8 CSV correctly only with a BOM; written once, before the header.
_BOM = b"\xef\xbb\xbf"

WriteFn = Callable[[int, bytes], int]
Report = Callable[[str], None]
IfRefused = Callable[[str], Mapping[str, object]]

_REWRITES = 3  # a row whose file vanished under it is written again at most this often per attempt


# --- building a row -------------------------------------------------------------------------


def cycle_date(timestamp: datetime) -> date:
    """The local calendar day a cycle belongs to (which file its row goes to)."""
    return timestamp.astimezone().date()


def format_timestamp(timestamp: datetime) -> str:
    # astimezone() gives naive datetimes the local offset, so the column always has one
    return timestamp.astimezone().isoformat(timespec="milliseconds")


def _ms(value: float) -> str:
    return f"{float(value):.2f}"


def detections_json(detections: Iterable[Detection]) -> str:
    """[[class_id, score, x1, y1, x2, y2], ...]: small enough for a CSV cell, still exact enough."""
    compact = [
        [int(d.class_id), round(float(d.score), 3), *(round(float(v), 1) for v in d.box)]
        for d in detections
    ]
    return json.dumps(compact, separators=(",", ":"))


def missing_slots(result: CycleResult) -> str:
    if result.match is None:
        return ""
    return ";".join(s.name or f"{s.index}:{s.class_id}" for s in result.match.slots if not s.matched)


def wrong_parts(result: CycleResult) -> str:
    if result.match is None:
        return ""
    return ";".join(result.match.wrong_part_texts(result.detections))


def cycle_row(result: CycleResult, station: str) -> dict[str, str]:
    """The log row for one cycle (all values as text)."""
    match = result.match
    times = result.times
    return {
        "timestamp": format_timestamp(result.timestamp),
        "cycle_id": result.cycle_id,
        "station": station,
        "pattern_set": result.pattern_set,
        "variant": (match.variant or "") if match is not None else "",
        "verdict": str(result.verdict),
        "filled": str(match.filled) if match is not None else "",
        "expected": str(match.expected) if match is not None else "",
        "missing_slots": missing_slots(result),
        "wrong_parts": wrong_parts(result),
        "n_detections": str(len(result.detections)),
        "detections": detections_json(result.detections),
        "cycle_ms": _ms(times.total_ms),
        "grab_ms": _ms(times.grab_ms),
        "preprocess_ms": _ms(times.preprocess_ms),
        "inference_ms": _ms(times.inference_ms),
        "decode_ms": _ms(times.decode_ms),
        "match_ms": _ms(times.match_ms),
        "model": result.model,
        "provider": result.provider,
        "image_path": result.image_path,
        "error": result.error,
        "trigger": result.trigger,
        "overrules": "",
        "note": "",
        "part_id": result.part_id,
        "model_sha256": result.model_sha256,
        "pattern_hash": result.pattern_hash,
        "recipe": result.recipe,
        "recipe_version": result.recipe_version,
    }


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet runs a cell starting so (OWASP)
_ESCAPE_MARK = "'"
_PLAIN_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(match: re.Match) -> str:
    c = match.group()
    return _SHORT.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")


def safe_cell(value: object) -> str:
    """A cell's text, safe for a spreadsheet and for the one-line-per-record rule (module doc)."""
    text = str(value)
    if text.startswith((*FORMULA_STARTS, _ESCAPE_MARK)) and not _PLAIN_NUMBER.fullmatch(text):
        text = _ESCAPE_MARK + text
    return _CONTROL.sub(_escaped, text)


def _one_line(value: object) -> str:
    # One record = one physical line: that is what makes a torn last line detectable.
    return safe_cell(value)


def read_cell(text: str) -> str:
    """A cell as written back to its value: the formula guard's `'` taken off (escapes stay)."""
    return text[1:] if text.startswith(_ESCAPE_MARK) else text


def encode_row(row: Mapping[str, object] | Sequence[object], columns: Sequence[str] = LOG_COLUMNS) -> bytes:
    """One CSV line (csv-module quoting, '\\n'-terminated), UTF-8; unknown columns are ''."""
    values = [row.get(c, "") for c in columns] if isinstance(row, Mapping) else list(row)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([_one_line(v) for v in values])
    return buf.getvalue().encode("utf-8")


# --- reading --------------------------------------------------------------------------------


def _parse_line(raw: bytes) -> list[str] | None:
    text = raw.decode("utf-8", errors="replace").rstrip("\r")
    if not text:
        return None
    try:
        return next(csv.reader([text], strict=True))
    except (csv.Error, StopIteration):
        return None


def read_log(path: str | Path) -> list[dict[str, str]]:
    """Rows of a results log as dicts keyed by its own header.

    Tolerant by design (start-up statistics, tests, a file from a crashed run): a missing
    file is empty, an unterminated last line is ignored, and a line that does not parse or
    has the wrong number of fields is skipped.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise ResultsError(f"{path}: cannot read the results log: {exc.strerror or exc}") from None
    if data.startswith(_BOM):
        data = data[len(_BOM):]
    lines = data.split(b"\n")
    lines.pop()  # b"" after the final newline, or a torn last line: either way not a row
    if not lines:
        return []
    header = _parse_line(lines[0])
    if not header:
        return []
    rows = []
    for raw in lines[1:]:
        fields = _parse_line(raw)
        if fields is not None and len(fields) == len(header):
            rows.append(dict(zip(header, map(read_cell, fields), strict=True)))
    return rows


STATION_NAME_CHARS = 40  # of the id kept readable in a file name


def station_file_name(station: str) -> str:
    """The station id as a file name part, distinct for distinct ids (module doc); "" -> ""."""
    if not station:
        return ""
    text = unicodedata.normalize("NFC", station)
    kept = "".join(c if c.isalnum() or c in "-._" else "_" for c in text)
    kept = re.sub(r"_{2,}", "_", kept).strip("._-")[:STATION_NAME_CHARS].rstrip("._-")
    if kept == station and station == station.lower() and kept:
        return kept
    digest = hashlib.sha256(station.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{kept}-{digest}" if kept else digest


def station_file_prefix(station: str) -> str:
    """The station id as it starts a file name: `station-1` -> `station-1_`, `Line 3/a` ->
    `Line_3_a-<8 hex>_`, `検査ライン` -> `検査ライン_`; "" -> ""."""
    name = station_file_name(station)
    return f"{name}_" if name else ""


def log_path(log_dir: Path, day: date, version: int = 1, station: str = "") -> Path:
    suffix = "" if version == 1 else f"_v{version}"
    return Path(log_dir) / f"{station_file_prefix(station)}{day.isoformat()}{suffix}.csv"


def log_files_for_day(log_dir: str | Path, day: date, station: str = "") -> list[Path]:
    """The day's log file of `station` and its `_vN` successors that exist, oldest first.

    Only that station's own files: another station's log in a shared folder is not ours.
    """
    stem = station_file_prefix(station) + day.isoformat()
    found = []
    for path in Path(log_dir).glob(f"{glob.escape(stem)}*.csv"):
        rest = path.stem[len(stem):]
        if rest == "":
            found.append((1, path))
        elif rest.startswith("_v") and rest[2:].isdigit():
            found.append((int(rest[2:]), path))
    return [path for _, path in sorted(found)]


# --- writing --------------------------------------------------------------------------------


class ResultsLog:
    """Appends encoded rows to the per-day CSV file; keeps and retries rows the disk refused.

    Thread-safe: the worker records cycles while the GUI thread may write an overrule.
    `write_fn` is the one system call that puts bytes on disk (os.write); tests replace it
    to simulate a full disk.
    """

    def __init__(
        self,
        log_dir: str | Path,
        *,
        columns: Sequence[str] = LOG_COLUMNS,
        on_error: Report | None = None,
        on_notice: Report | None = None,
        on_warning: Report | None = None,
        write_fn: WriteFn = os.write,
        station: str = "",
    ) -> None:
        self.log_dir = Path(log_dir)
        self.station = station  # names the files (`<station>_YYYY-MM-DD.csv`)
        self.columns = tuple(columns)
        self._header = encode_row(self.columns, self.columns)
        self._on_error = on_error
        self._on_notice = on_notice
        # a log file that went away and was started again: the operator must see it
        self._on_warning = on_warning or on_error
        self._write_fn = write_fn
        self._lock = threading.Lock()
        # reports wait here until the lock is released: a callback may ask for `pending`
        self._outbox: list[tuple[Report | None, str]] = []
        self._noticed: set[Path] = set()
        self._pending: deque[tuple[date, bytes]] = deque()
        self._fd: int | None = None
        self._fd_day: date | None = None
        self._fd_path: Path | None = None
        # (path, device, inode) of the file our last row went to, kept while the descriptor is
        # closed after a failure; and where in the open file our last row ended
        self._identity: tuple[Path, int, int] | None = None
        self._end = 0
        self._target: Path | None = None  # the file the row in hand is meant for
        self._failing = False
        self.last_error = ""
        self.last_failure = ""  # "<file>: cannot write the results log: <reason>", of the last failure
        self.rows_written = 0
        self.write_failures = 0  # failed attempts (each reported), for the plant's metrics
        self.recreated = 0  # log files started again after being deleted/moved/replaced/truncated

    # public ---------------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Rows waiting in memory because the disk refused them."""
        with self._lock:
            return len(self._pending)

    @property
    def current_path(self) -> Path | None:
        """The file the last row went to (None before the first successful write)."""
        return self._fd_path

    def write(self, row: Mapping[str, object], day: date, *, if_refused: IfRefused | None = None) -> bool:
        """Append one row to `day`'s file (after any rows still waiting); never raises for I/O.

        True when everything, this row included, is on disk (fsync'ed); False when rows
        wait in memory for the next attempt (the failure was reported). `if_refused(reason)`,
        called under the log's lock when this row could not be written now, gives the row
        to keep for the retry instead (the recorder's ERROR version of the cycle); `reason`
        is `last_failure`. It must not call back into the log.
        """
        line = encode_row(row, self.columns)
        with self._lock:
            self._pending.append((day, line))
            done = self._drain()
            if not done and if_refused is not None:
                # still last: a row appended after ours would need this lock
                self._pending[-1] = (day, encode_row(if_refused(self.last_failure), self.columns))
        self._deliver()
        return done

    def retry(self) -> bool:
        """Try the waiting rows again; True when none are left."""
        with self._lock:
            done = self._drain()
        self._deliver()
        return done

    def close(self) -> int:
        """Last retry, then release the file; returns how many rows could not be written."""
        with self._lock:
            self._drain()
            self._close_fd()
            left = len(self._pending)
        self._deliver()
        return left

    def unwritten_rows(self) -> list[bytes]:
        """The encoded rows still waiting (for a last-resort report)."""
        with self._lock:
            return [line for _, line in self._pending]

    # internals ------------------------------------------------------------------------------

    def _drain(self) -> bool:
        rewrites = 0
        while self._pending:
            day, line = self._pending[0]
            start = -1
            try:
                prefix = self._ensure_open(day)
                fd, path = self._fd, self._fd_path
                assert fd is not None and path is not None  # _ensure_open opened it or raised
                start = os.lseek(fd, 0, os.SEEK_END)  # O_APPEND: the row starts here
                self._write_all(prefix + line)
                os.fsync(fd)
                self._end = start + len(prefix) + len(line)
                held = os.fstat(fd)
                self._identity = (path, held.st_dev, held.st_ino)  # our rows are in it
                # Deleted or moved between the check and the write: the row went with the old
                # file; write it again into the file started at the path.
                if self._file_went_away():
                    rewrites += 1
                    if rewrites > _REWRITES:
                        raise OSError(errno.EIO, "the file keeps being removed while rows are written",
                                      str(self._fd_path))
                    continue
            except OSError as exc:
                # A full disk may have taken part of the row: cut it off, so the file holds
                # whole rows only and the retry does not follow a fragment.
                if start >= 0 and self._fd is not None:
                    with contextlib.suppress(OSError):  # failing too: the reopen cuts the torn tail
                        os.ftruncate(self._fd, start)
                self._close_fd()  # reopen (and re-check header / torn tail) next time
                self._fail(exc)
                return False
            self._pending.popleft()
            self.rows_written += 1
            rewrites = 0
        if self._failing:
            self._failing = False
            self._notice(f"results log writable again: waiting rows written to {self._fd_path}")
        return True

    def _write_all(self, data: bytes) -> None:
        fd = self._fd
        if fd is None:
            raise OSError(9, "the results log is not open")
        while data:
            # one call for the whole row; a short write (disk full) is finished or raises
            written = self._write_fn(fd, data)
            if written <= 0:
                raise OSError(28, "no bytes written")
            data = data[written:]  # copies only after a short write

    def _ensure_open(self, day: date) -> bytes:
        """Open `day`'s file if needed; returns what must precede the next row."""
        if self._fd is not None and self._fd_day == day and not self._file_went_away():
            return b""
        self._close_fd()
        self._target = log_path(self.log_dir, day, 1, self.station)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        version = 1
        while True:
            path = log_path(self.log_dir, day, version, self.station)
            self._target = path
            state = self._inspect(path)
            if state != "other-header":
                break
            version += 1
        before = self._identity
        if version > 1 and path not in self._noticed:
            self._noticed.add(path)
            self._notice(
                f"{log_path(self.log_dir, day, 1, self.station)}: written by another version (different columns); "
                f"kept unchanged, new rows go to {path.name}"
            )
        if state == "torn-tail" and self._cut_torn_tail(path):
            state = "ours"
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0)
        fd = os.open(path, flags, 0o644)
        self._fd, self._fd_day, self._fd_path = fd, day, path
        opened = os.fstat(fd)
        self._end, self._identity = opened.st_size, None  # set again once a row is in it
        if before is not None and before[0] == path and (
            state == "new" or (opened.st_ino and before[2] and before[1:] != (opened.st_dev, opened.st_ino))
        ):
            # gone while the descriptor was closed after a failed write (an inode number may
            # be reused by then, hence "new" too: our rows were in it, so it was not empty)
            self._went_away(path, "was deleted, moved or replaced while rows were waiting for the disk")
        if state == "new":
            return _BOM + self._header
        if state == "torn-tail":
            return b"\n"  # could not cut it: end the torn line so our row starts on its own line
        return b""

    def _cut_torn_tail(self, path: Path) -> bool:
        """Truncate an unfinished last line (a crash or a full disk mid-row); True when done.

        Only bytes after the last newline go: they are no record, and a reader (Excel,
        csv.reader over the whole file) would merge them with the next row.
        """
        try:
            with path.open("r+b") as fh:
                end = fh.seek(0, os.SEEK_END)
                pos = end
                while pos > 0:
                    step = min(1 << 16, pos)
                    fh.seek(pos - step)
                    chunk = fh.read(step)
                    newline = chunk.rfind(b"\n")
                    if newline >= 0:
                        cut = pos - step + newline + 1
                        fh.truncate(cut)
                        self._notice(f"{path}: {end - cut} byte(s) of an unfinished row at the end removed")
                        return True
                    pos -= step
        except OSError:
            return False
        return False

    def _inspect(self, path: Path) -> str:
        """'new' (absent/empty), 'ours', 'torn-tail' (ours, last line unterminated), 'other-header'."""
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return "new"
        if size == 0:
            return "new"
        with path.open("rb") as fh:
            first = fh.readline(1 << 16)
            fh.seek(-1, os.SEEK_END)
            last_byte = fh.read(1)
        if first.startswith(_BOM):
            first = first[len(_BOM):]
        if first.rstrip(b"\r\n") != self._header.rstrip(b"\n"):
            return "other-header"
        return "ours" if last_byte == b"\n" else "torn-tail"

    def _file_went_away(self) -> bool:
        """Is the open file no longer the day's log at its path? Reported and counted if so.

        Compares the descriptor (fstat) with the path (stat): device and inode (0 = the file
        system does not say: not compared), link count (0 = deleted) and size (below our last
        row's end = truncated). The caller closes and reopens; the open starts a new file.
        """
        path = self._fd_path
        if self._fd is None or path is None:
            return False
        try:
            held = os.fstat(self._fd)
        except OSError:  # a dead network share: reopening says what is wrong
            self._close_fd()
            return True
        try:
            there = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            there = None
        except OSError:
            return False  # the path cannot be checked now; the write itself will tell
        if there is None:
            if not self.log_dir.is_dir():
                what = f"was removed with its folder {self.log_dir} (deleted or moved)"
            elif held.st_nlink == 0:
                what = "was deleted"
            else:
                what = "was moved or renamed (the rows so far are in the moved file)"
        elif held.st_ino and there.st_ino and (held.st_dev, held.st_ino) != (there.st_dev, there.st_ino):
            what = "was replaced by another file (rows go on in the file now at that path)"
        elif held.st_size < self._end:
            what = f"was truncated ({self._end - held.st_size} byte(s) of earlier rows gone)"
        else:
            return False
        self._close_fd()
        self._went_away(path, what)
        return True

    def _went_away(self, path: Path, what: str) -> None:
        self.recreated += 1
        self._identity = None
        self._warn(
            f"{path}: the results log {what} while the station was writing it; "
            f"a new file is started at its path (header first) and later rows go there "
            f"({self.recreated} time(s) since start)"
        )

    def _close_fd(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):  # closing a file on a dead disk may fail too
                os.close(self._fd)
        self._fd = None
        self._fd_day = None

    def _fail(self, exc: OSError) -> None:
        self._failing = True
        self.write_failures += 1
        target = self._target or self._fd_path or self.log_dir
        where = str(target)
        if exc.filename and Path(exc.filename) != target:  # e.g. the folder that cannot be made
            where += f" ({exc.filename})"
        self.last_failure = f"{where}: cannot write the results log: {exc.strerror or exc}"
        self.last_error = (
            f"{self.last_failure}; {len(self._pending)} row(s) kept in memory and retried on the next cycle"
        )
        log.error(self.last_error)
        self._outbox.append((self._on_error, self.last_error))

    def _notice(self, message: str) -> None:
        log.warning(message)
        self._outbox.append((self._on_notice, message))

    def _warn(self, message: str) -> None:
        log.warning(message)
        self._outbox.append((self._on_warning, message))

    def _deliver(self) -> None:
        with self._lock:
            outbox, self._outbox = self._outbox, []
        for callback, message in outbox:
            if callback is not None:
                callback(message)
