"""The huge verdict: READY / OK (green) / NOK (red) / ERROR (amber, with the reason).

Below the word: variant and filled/expected slots ("variant_a 5/6"), cycle time and
what is missing or what failed. A refused trigger flashes a message line without
hiding the verdict it refers to.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QProgressBar, QSizePolicy, QVBoxLayout

from inspection_station.core.cycle import CycleResult, Verdict
from inspection_station.gui import theme

FLASH_MS = 2000  # a refusal stays readable (>= 1.5 s) even when the cycle's verdict lands
REPLAY_BORDER = "#b388ff"
BASE_PT = {"title": theme.BANNER_PT, "detail": 26, "reason": 22}  # at 1920x1080
REASON_LINES = 2  # a replayed history cycle: never mistaken for the live verdict


def _font(points: int, bold: bool = True) -> QFont:
    font = QFont()
    font.setPointSize(points)
    font.setBold(bold)
    return font


def describe(result: CycleResult, class_names: Sequence[str] = (), overruled: str = "") -> tuple[str, str]:
    """(detail line, reason line) for a cycle: 'variant_a 5/6 · 142 ms', 'missing: screw_left';
    an unnamed slot is named by its class (`class_names`: the model's); `overruled`: the
    verdict an operator corrected it to."""
    parts = []
    match = result.match
    if match is not None:
        parts.append(match.summary())
    if result.pattern_set:
        parts.insert(0, result.pattern_set)
    if result.times.total_ms:
        parts.append(f"{result.times.total_ms:.0f} ms")
    parts.append(result.timestamp.strftime("%H:%M:%S"))
    if overruled:
        parts.append(f"overruled: {overruled}")
    reason = ""
    if result.verdict == Verdict.ERROR:
        reason = result.error or "the cycle failed"
    elif result.verdict == Verdict.NOK and match is not None:
        reason = match.nok_reason(result.detections, class_names)
    return "  ·  ".join(parts), reason


class VerdictBanner(QFrame):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("verdict_banner")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.title = QLabel(objectName="verdict_title")
        self.title.setFont(_font(theme.BANNER_PT))
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.detail = QLabel(objectName="verdict_detail")
        self.detail.setFont(_font(26))
        self.detail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.reason = QLabel(objectName="verdict_reason")
        self.reason.setFont(_font(22, bold=False))
        self.reason.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.reason.setWordWrap(True)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)  # indeterminate: "working, not frozen"
        self.busy.setTextVisible(False)
        self.busy.setFixedWidth(260)
        self.busy.setVisible(False)
        for label in (self.title, self.detail, self.reason):
            label.setAttribute(Qt.WidgetAttribute.WA_TranslucentBackground)

        text = QVBoxLayout()
        text.setSpacing(0)
        text.addWidget(self.title)
        text.addWidget(self.detail)
        text.addWidget(self.reason)
        busy_row = QHBoxLayout()
        busy_row.addStretch(1)
        busy_row.addWidget(self.busy)
        busy_row.addStretch(1)
        text.addLayout(busy_row)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(16, 8, 16, 8)
        layout.addLayout(text)

        self.state = ""
        self.replay = False
        self.class_names: Sequence[str] = ()  # the model's: names unnamed slots in the reason
        self.overruled: dict[str, str] = {}  # cycle id -> the verdict it was corrected to
        self.shown: tuple[CycleResult, bool] | None = None  # the cycle on the banner, replayed
        self._steady_reason = ""
        self._flash_text = ""
        self._pt = dict(BASE_PT)
        self._border_px = 8
        self._flash_timer = QTimer(self)
        self._flash_timer.setSingleShot(True)
        self._flash_timer.timeout.connect(self.end_flash)
        self.show_ready()
        self.set_scale(1.0)

    # --- states ----------------------------------------------------------------------------

    def show_ready(self, detail: str = "Place the part and press INSPECT") -> None:
        self.shown = None
        self._set("READY", "READY", detail, "")

    def show_busy(self, title: str, detail: str = "") -> None:
        """Long work (starting, inspecting): a busy bar, the last verdict is not shown as current."""
        self.shown = None
        self._set("BUSY", title, detail, "", busy=True)

    def show_result(self, result: CycleResult, replay: bool = False) -> None:
        """A cycle's verdict; `replay` marks a history cycle shown again (its time, REPLAY)."""
        self.shown = (result, replay)
        detail, reason = describe(result, self.class_names, self.overruled.get(result.cycle_id, ""))
        if replay:  # the time moves to the front, once
            stamp = f"{result.timestamp:%H:%M:%S}"
            rest = detail.removesuffix(stamp).removesuffix("  ·  ")
            detail = f"REPLAY of {stamp}" + (f"  ·  {rest}" if rest else "")
        self._set(str(result.verdict), str(result.verdict), detail, reason, replay=replay)

    def mark_overruled(self, cycle_id: str, corrected: str) -> None:
        """An operator corrected `cycle_id`: said whenever it is on the banner (now or replayed)."""
        self.overruled[cycle_id] = str(corrected)
        if self.shown is not None and self.shown[0].cycle_id == cycle_id:
            self.show_result(*self.shown)

    def show_error(self, reason: str) -> None:
        self.shown = None
        self._set("ERROR", "ERROR", "", reason)

    def flash(self, message: str) -> None:
        """A short-lived message (e.g. a refused trigger) over the reason line, with a frame flash."""
        self._flash_text = message
        self._flash_timer.start(FLASH_MS)
        self._restyle(self._style(self.state, flash=True))
        self._fit_reason()

    def is_flashing(self) -> bool:
        return self._flash_timer.isActive()

    # --- internals ----------------------------------------------------------------------------

    def _set(self, state: str, title: str, detail: str, reason: str, busy: bool = False, replay: bool = False) -> None:
        self.state = state
        self.replay = replay
        self.title.setText(title)
        self.detail.setText(detail)
        self._steady_reason = reason
        self.busy.setVisible(busy)
        flashing = self.is_flashing()  # a refusal keeps its time on screen, then this reason shows
        self.reason.setToolTip(reason)
        self._restyle(self._style(state, flash=flashing, replay=replay))
        self._fit_reason()

    def end_flash(self) -> None:
        """The flash's time is up (the timer calls this): the steady reason shows again."""
        self._flash_timer.stop()
        self._restyle(self._style(self.state, replay=self.replay))
        self._fit_reason()

    def _restyle(self, sheet: str) -> None:
        """A style sheet re-polishes the banner and its labels (milliseconds): only on a change."""
        if sheet != self.styleSheet():
            self.setStyleSheet(sheet)

    def _style(self, state: str, flash: bool = False, replay: bool = False) -> str:
        background, foreground = theme.VERDICT_COLORS.get(state, theme.VERDICT_COLORS["READY"])
        edge = "#ffffff" if flash else REPLAY_BORDER if replay else background
        border = f"{self._border_px}px {'dashed' if replay and not flash else 'solid'} {edge}"
        return (
            f"QFrame#verdict_banner {{ background: {background}; border: {border}; border-radius: 12px; }}"
            f"QFrame#verdict_banner QLabel {{ color: {foreground}; background: transparent; }}"
            # the widget's own sheet wins over the application's 16 pt default
            f"QLabel#verdict_title {{ font-size: {self._pt['title']}pt; font-weight: bold; }}"
            f"QLabel#verdict_detail {{ font-size: {self._pt['detail']}pt; font-weight: bold; }}"
            f"QLabel#verdict_reason {{ font-size: {self._pt['reason']}pt; }}"
        )

    # --- size: fixed per screen, so the picture below never jumps between states ------------

    def set_scale(self, scale: float) -> None:
        """Fonts for a screen `scale` (1.0 = 1920x1080) and the fixed height they need."""
        self._pt = {k: max(6, round(v * scale)) for k, v in BASE_PT.items()}
        self._border_px = max(3, round(8 * scale))
        self.title.setFont(_font(self._pt["title"]))
        self.detail.setFont(_font(self._pt["detail"]))
        self.reason.setFont(_font(self._pt["reason"], bold=False))
        self.busy.setFixedWidth(max(120, round(260 * scale)))
        self.busy.setFixedHeight(max(6, round(12 * scale)))
        lines = {k: QFontMetrics(_font(pt, bold=k != "reason")).height() for k, pt in self._pt.items()}
        self.title.setFixedHeight(lines["title"])
        self.detail.setFixedHeight(lines["detail"])
        self.reason.setFixedHeight(REASON_LINES * lines["reason"])
        margins = self.layout().contentsMargins()
        self.setFixedHeight(
            lines["title"] + lines["detail"] + REASON_LINES * lines["reason"] + self.busy.height()
            + margins.top() + margins.bottom() + 2 * self._border_px + 4
        )
        self._restyle(self._style(self.state, flash=self.is_flashing(), replay=self.replay))
        self._fit_reason()

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt)
        super().resizeEvent(event)
        self._fit_reason()

    def _fit_reason(self) -> None:
        """Long reasons wrap to REASON_LINES lines and are elided there; the tooltip has it all."""
        text = self._flash_text if self.is_flashing() else self._steady_reason
        shown = text
        if self.reason.isVisible():  # laid out: its width is real (resizeEvent fits it again)
            metrics = QFontMetrics(self.reason.font())
            room = max(40, self.reason.width() - 8) * REASON_LINES - metrics.averageCharWidth() * 4
            shown = metrics.elidedText(text, Qt.TextElideMode.ElideRight, room)
        if self.reason.text() != shown:
            self.reason.setText(shown)
