"""The model's detections on every image of a folder, for teaching and checking in the editor.

The images go one after another through the station's inference thread
(`station.detect_file`); each result comes back to the GUI thread by a queued signal, so
the editor stays responsive and shows the progress. Only the frame size and the
detections are kept (not the pixels).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from inspection_station.core.errors import StationError

Found = tuple[str, tuple[int, int], list]  # image name, (width, height), detections


class FolderDetections(QObject):
    progress = Signal(int, int)  # done, total
    _one_done = Signal(object, object)  # path, future (from the inference thread)

    def __init__(self, station, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.station = station
        self._one_done.connect(self._collect)
        self._queue: list[Path] = []
        self._found: list[Found] = []
        self._problems: list[str] = []
        self._total = 0
        self._then: Callable[[list[Found], list[str]], None] | None = None

    @property
    def running(self) -> bool:
        return self._then is not None

    def run(self, paths: Sequence[Path], then: Callable[[list[Found], list[str]], None]) -> None:
        """Detect on `paths`; `then(found, problems)` on the GUI thread when all are done."""
        self._queue, self._found, self._problems = list(paths), [], []
        self._total, self._then = len(self._queue), then
        self._next()

    def _next(self) -> None:
        if not self._queue:
            then, self._then = self._then, None
            if then is not None:
                then(self._found, self._problems)
            return
        path = self._queue.pop(0)
        try:
            future = self.station.detect_file(path)
        except Exception as exc:  # a stopped station: the rest cannot run either
            self._problems.append(f"{path.name}: {exc}")
            self._queue.clear()
            self._next()
            return
        future.add_done_callback(lambda f, p=path: self._one_done.emit(p, f))

    def _collect(self, path: Path, future) -> None:
        try:
            image, detections = future.result()
            self._found.append((path.name, (int(image.shape[1]), int(image.shape[0])), list(detections)))
        except Exception as exc:  # one bad file: said, the others go on
            self._problems.append(str(exc) if isinstance(exc, StationError) else f"{path.name}: {exc}")
        self.progress.emit(self._total - len(self._queue), self._total)
        self._next()
