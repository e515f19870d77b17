"""The huge verdict: READY / OK (green) / NOK (red) / ERROR (amber, with the reason).

Below the word: variant and filled/expected slots ("variant_a 5/6"), cycle time and
what is missing or what failed. A refused trigger flashes a message line without
hiding the verdict it refers to.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QProgressBar, QSizePolicy, QVBoxLayout

from inspection_station.core.cycle import CycleResult, Verdict
from inspection_station.gui import theme

FLASH_MS = 1500


def _font(points: int, bold: bool = True) -> QFont:
    font = QFont()
    font.setPointSize(points)
    font.setBold(bold)
    return font


def describe(result: CycleResult) -> tuple[str, str]:
    """(detail line, reason line) for a cycle: 'variant_a 5/6 · 142 ms', 'missing: screw_left'."""
    parts = []
    match = result.match
    if match is not None:
        parts.append(match.summary())
    if result.pattern_set:
        parts.insert(0, result.pattern_set)
    if result.times.total_ms:
        parts.append(f"{result.times.total_ms:.0f} ms")
    parts.append(result.timestamp.strftime("%H:%M:%S"))
    reason = ""
    if result.verdict == Verdict.ERROR:
        reason = result.error or "the cycle failed"
    elif result.verdict == Verdict.NOK and match is not None:
        missing = match.missing()
        reason = "missing: " + ", ".join(missing) if missing else ""
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
        self._steady_reason = ""
        self._flash_timer = QTimer(self)
        self._flash_timer.setSingleShot(True)
        self._flash_timer.timeout.connect(self._end_flash)
        self.show_ready()

    # --- states ----------------------------------------------------------------------------

    def show_ready(self, detail: str = "Place the part and press INSPECT") -> None:
        self._set("READY", "READY", detail, "")

    def show_busy(self, title: str, detail: str = "") -> None:
        """Long work (starting, inspecting): a busy bar, the last verdict is not shown as current."""
        self._set("BUSY", title, detail, "", busy=True)

    def show_result(self, result: CycleResult) -> None:
        detail, reason = describe(result)
        self._set(str(result.verdict), str(result.verdict), detail, reason)

    def show_error(self, reason: str) -> None:
        self._set("ERROR", "ERROR", "", reason)

    def flash(self, message: str) -> None:
        """A short-lived message (e.g. a refused trigger) over the reason line, with a frame flash."""
        self.reason.setText(message)
        self.setStyleSheet(self._style(self.state, flash=True))
        self._flash_timer.start(FLASH_MS)

    def is_flashing(self) -> bool:
        return self._flash_timer.isActive()

    # --- internals ----------------------------------------------------------------------------

    def _set(self, state: str, title: str, detail: str, reason: str, busy: bool = False) -> None:
        self._flash_timer.stop()
        self.state = state
        self.title.setText(title)
        self.detail.setText(detail)
        self.detail.setVisible(bool(detail))
        self._steady_reason = reason
        self.reason.setText(reason)
        self.busy.setVisible(busy)
        self.setStyleSheet(self._style(state))

    def _end_flash(self) -> None:
        self.reason.setText(self._steady_reason)
        self.setStyleSheet(self._style(self.state))

    @staticmethod
    def _style(state: str, flash: bool = False) -> str:
        background, foreground = theme.VERDICT_COLORS.get(state, theme.VERDICT_COLORS["READY"])
        border = "8px solid #ffffff" if flash else f"8px solid {background}"
        return (
            f"QFrame#verdict_banner {{ background: {background}; border: {border}; border-radius: 12px; }}"
            f"QFrame#verdict_banner QLabel {{ color: {foreground}; background: transparent; }}"
            # the widget's own sheet wins over the application's 16 pt default
            f"QLabel#verdict_title {{ font-size: {theme.BANNER_PT}pt; font-weight: bold; }}"
            "QLabel#verdict_detail { font-size: 26pt; font-weight: bold; }"
            "QLabel#verdict_reason { font-size: 22pt; }"
        )
