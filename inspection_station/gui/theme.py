"""High-contrast dark theme, big fonts and touch-sized buttons: readable from a metre away."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QProxyStyle, QStyle

BACKGROUND = "#121212"
PANEL = "#1e1e1e"
TEXT = "#f2f2f2"
MUTED = "#a0a0a0"

# Verdict colours (banner, history, statistics). ERROR is amber with dark text.
VERDICT_COLORS = {
    "READY": ("#263238", TEXT),
    "BUSY": ("#0d47a1", TEXT),
    "OK": ("#1b873f", "#ffffff"),
    "NOK": ("#c62828", "#ffffff"),
    "ERROR": ("#ffb300", "#111111"),
}
# The same verdicts as text on the dark background (history list, counters).
VERDICT_TEXT = {"OK": "#69f0ae", "NOK": "#ff5252", "ERROR": "#ffca28"}
# Message styles of the engineer's dialogs (light widgets there): one place for both.
ERROR_STYLE = "color: #c62828;"
OK_STYLE = "color: #2e7d32;"
WARN_STYLE = "color: #e65100;"  # said plainly, not refused (a pattern taught from one frame)
SLOT_FILLED = "#00e676"
SLOT_MISSING = "#ff1744"
# A slot not judged yet (the pattern editor before "Try"). One drawing convention for the
# live overlay and the editor: inner box SOLID, outer box DASHED.
SLOT_PENDING = "#ffd740"
SLOT_SELECTED = "#4fc3f7"
# Detection box colours per class id; no pure green/red so boxes never look like slot states.
CLASS_PALETTE = (
    "#00b0ff", "#ffea00", "#e040fb", "#ff9100", "#18ffff", "#ff80ab",
    "#b388ff", "#c6ff00", "#84ffff", "#ffd180", "#8c9eff", "#f4ff81",
)

BUTTON_PT = 24
BANNER_PT = 80
TOUCH_HEIGHT = 88  # px: a gloved finger hits it

REFERENCE_SCREEN = (1920, 1080)  # the sizes above are for this screen; others scale
MIN_SCALE, MAX_SCALE = 0.6, 2.0
_scale = 1.0  # the scale apply_theme last used (windows built later read it)


def screen_scale(width: int, height: int) -> float:
    """How big fonts and controls are on a screen of this size, 1.0 at 1920x1080.

    The smaller ratio wins: a 1366x768 panel is limited by its height, a 1280x1024 one by
    its width. Clamped so 4K stays sane and a tiny screen stays legible.
    """
    ratio = min(width / REFERENCE_SCREEN[0], height / REFERENCE_SCREEN[1])
    return max(MIN_SCALE, min(MAX_SCALE, ratio))


def current_scale() -> float:
    return _scale


def pt(points: float, scale: float | None = None) -> int:
    """`points` at the reference screen, scaled (never below 7 pt)."""
    return max(7, round(points * (_scale if scale is None else scale)))


def px(pixels: float, scale: float | None = None) -> int:
    return max(1, round(pixels * (_scale if scale is None else scale)))


def stylesheet(scale: float = 1.0) -> str:
    """The application style sheet for a screen scale (see `screen_scale`)."""
    p = lambda v: pt(v, scale)  # noqa: E731
    x = lambda v: px(v, scale)  # noqa: E731
    return f"""
QWidget {{ background: {BACKGROUND}; color: {TEXT}; font-size: {p(16)}pt; }}
QMainWindow::separator {{ background: {PANEL}; }}
QPushButton {{
    background: #37474f; color: {TEXT}; border: 2px solid #607d8b; border-radius: {x(10)}px;
    font-size: {p(BUTTON_PT)}pt; font-weight: bold; min-height: {x(TOUCH_HEIGHT)}px; padding: {x(4)}px {x(24)}px;
}}
QPushButton:hover {{ background: #455a64; }}
QPushButton:pressed {{ background: #263238; }}
QPushButton:disabled {{ color: #6b6b6b; border-color: #3a3a3a; background: #222; }}
QPushButton:checked {{ background: #263238; border: 4px solid #4fc3f7; color: #4fc3f7; }}
QPushButton#inspect_button {{ background: #0277bd; border-color: #4fc3f7; font-size: {p(BUTTON_PT + 8)}pt; }}
QPushButton#inspect_button:pressed {{ background: #01579b; }}
QPushButton#inspect_button:disabled {{ background: #263238; border-color: #37474f; }}
QPushButton#overrule_button {{ background: #4e342e; border-color: #a1887f; }}
QPushButton#reset_shift {{ font-size: {p(14)}pt; min-height: {x(40)}px; padding: {x(2)}px {x(14)}px; }}
QComboBox {{
    background: #37474f; border: 2px solid #607d8b; border-radius: {x(10)}px; padding: {x(4)}px {x(16)}px;
    font-size: {p(BUTTON_PT - 4)}pt; min-height: {x(TOUCH_HEIGHT - 8)}px;
}}
QComboBox QAbstractItemView {{ font-size: {p(BUTTON_PT - 4)}pt; background: {PANEL}; selection-background-color: #0277bd; }}
QStatusBar {{ background: {PANEL}; border-top: 1px solid #333; }}
QStatusBar QLabel {{ background: transparent; font-size: {p(14)}pt; padding: 0 {x(12)}px; }}
QStatusBar QToolButton {{ background: #4e342e; border: 1px solid #a1887f; border-radius: 4px;
    font-size: {p(13)}pt; padding: 0 {x(10)}px; }}
QStatusBar::item {{ border: none; }}
QMenuBar {{ background: {PANEL}; font-size: {p(14)}pt; }}
QMenuBar::item:selected, QMenu::item:selected {{ background: #0277bd; }}
QMenu {{ background: {PANEL}; font-size: {p(14)}pt; }}
QTabWidget::pane {{ border: 1px solid #333; }}
QTabBar::tab {{ background: {PANEL}; padding: {x(10)}px {x(24)}px; font-size: {p(16)}pt; min-width: {x(120)}px; }}
QTabBar::tab:selected {{ background: #37474f; }}
QListWidget, QTableWidget {{ background: {PANEL}; border: 1px solid #333; font-size: {p(15)}pt; }}
QListWidget::item {{ padding: {x(4)}px; }}
QListWidget::item:selected {{ background: #0277bd; }}
QHeaderView::section {{ background: #263238; color: {TEXT}; padding: {x(4)}px; border: none; font-size: {p(13)}pt; }}
QProgressBar {{ background: #263238; border: 1px solid #455a64; border-radius: 4px; max-height: {x(14)}px; min-width: {x(120)}px; }}
QProgressBar::chunk {{ background: #4fc3f7; }}
QMessageBox QLabel {{ font-size: {p(18)}pt; }}
QMessageBox QPushButton {{ padding: {x(4)}px {x(40)}px; }}  /* no min-width: a short question squeezed the buttons to it, cutting "Quit the station" */
/* Fields that look like fields: a frame, a lighter well, a lit edge with the focus. */
QLineEdit, QSpinBox, QDoubleSpinBox, QPlainTextEdit, QComboBox[editable="true"] {{
    background: #263238; border: 1px solid #90a4ae; border-radius: 4px; padding: {x(3)}px {x(6)}px;
    selection-background-color: #0277bd;
}}
QLineEdit:focus, QSpinBox:focus, QDoubleSpinBox:focus, QPlainTextEdit:focus {{ border: 2px solid #4fc3f7; }}
/* Locked (disabled) fields must not look editable: no well, dim text, a dashed edge. */
QLineEdit:disabled, QSpinBox:disabled, QDoubleSpinBox:disabled, QPlainTextEdit:disabled, QComboBox:disabled {{
    background: {BACKGROUND}; color: #6b6b6b; border: 1px dashed #455a64;
}}
QCheckBox:disabled {{ color: #6b6b6b; }}
QCheckBox::indicator:disabled {{ background: {BACKGROUND}; border: 1px dashed #455a64; }}
QLabel:disabled {{ color: #6b6b6b; }}
QLineEdit[invalid="true"], QSpinBox[invalid="true"], QDoubleSpinBox[invalid="true"] {{ border: 2px solid #ff5252; }}
QCheckBox::indicator {{ width: {x(24)}px; height: {x(24)}px; border: 2px solid #90a4ae; border-radius: 4px; background: #263238; }}
QCheckBox::indicator:checked {{ background: #4fc3f7; border-color: #4fc3f7; }}
QGroupBox {{ border: 1px solid #455a64; border-radius: 6px; margin-top: {x(18)}px; padding-top: {x(6)}px; }}
QGroupBox::title {{ subcontrol-origin: margin; left: {x(10)}px; color: {MUTED}; }}
/* Engineer dialogs: a desk, a mouse and a keyboard: compact controls, more on screen. */
QDialog#engineer_dialog QWidget, QWidget#pattern_editor_window QWidget {{ font-size: {p(12)}pt; }}
QDialog#engineer_dialog QPushButton, QWidget#pattern_editor_window QPushButton {{
    font-size: {p(12)}pt; font-weight: normal; min-height: {x(30)}px; padding: {x(2)}px {x(12)}px; border-radius: 4px;
}}
QDialog#engineer_dialog QComboBox, QWidget#pattern_editor_window QComboBox {{
    font-size: {p(12)}pt; min-height: {x(26)}px; padding: {x(2)}px {x(8)}px; border-radius: 4px; border-width: 1px;
}}
QToolButton {{ background: #37474f; border: 1px solid #607d8b; border-radius: 4px; padding: {x(2)}px {x(8)}px; }}
QToolButton:checked {{ background: #0277bd; border: 2px solid #4fc3f7; font-weight: bold; }}
QDialog#engineer_dialog QTabBar::tab {{ font-size: {p(13)}pt; padding: {x(6)}px {x(16)}px; min-width: {x(80)}px; }}
QDialog#engineer_dialog QListWidget, QDialog#engineer_dialog QTableWidget,
QWidget#pattern_editor_window QListWidget, QWidget#pattern_editor_window QTableWidget {{ font-size: {p(12)}pt; }}
"""


STYLESHEET = stylesheet(1.0)


# Icon sizes the style hands out (message-box icons, tool buttons, menus, lists): scaled with
# the screen like the fonts, or a 4K panel shows 16 px icons beside 40 pt text.
_ICON_METRICS = {
    QStyle.PixelMetric.PM_SmallIconSize: 16,
    QStyle.PixelMetric.PM_LargeIconSize: 32,
    QStyle.PixelMetric.PM_MessageBoxIconSize: 32,
    QStyle.PixelMetric.PM_ButtonIconSize: 16,
    QStyle.PixelMetric.PM_ToolBarIconSize: 24,
    QStyle.PixelMetric.PM_TabBarIconSize: 16,
    QStyle.PixelMetric.PM_ListViewIconSize: 16,
    QStyle.PixelMetric.PM_IconViewIconSize: 32,
}


class ScaledIcons(QProxyStyle):
    """Fusion with its icon sizes scaled to the screen (`scale` as the fonts use it)."""

    def __init__(self, scale: float) -> None:
        super().__init__("Fusion")
        self.scale = scale

    def pixelMetric(self, metric, option=None, widget=None) -> int:  # noqa: N802 (Qt)
        base = _ICON_METRICS.get(metric)
        if base is not None:
            return max(base, round(base * self.scale))  # as at 1920x1080, never smaller
        return super().pixelMetric(metric, option, widget)


def apply_theme(app: QApplication, scale: float | None = None) -> float:
    """Fusion + a dark palette (for native bits the stylesheet misses) + our stylesheet,
    sized for `scale` (default: the primary screen's). Returns the scale used."""
    global _scale
    if scale is None:
        screen = app.primaryScreen()
        size = screen.availableGeometry().size() if screen is not None else None
        scale = screen_scale(size.width(), size.height()) if size is not None else 1.0
    _scale = scale
    app.setStyle(ScaledIcons(scale))
    palette = QPalette()
    for role, color in (
        (QPalette.ColorRole.Window, BACKGROUND),
        (QPalette.ColorRole.WindowText, TEXT),
        (QPalette.ColorRole.Base, PANEL),
        (QPalette.ColorRole.AlternateBase, "#262626"),
        (QPalette.ColorRole.Text, TEXT),
        (QPalette.ColorRole.Button, "#37474f"),
        (QPalette.ColorRole.ButtonText, TEXT),
        (QPalette.ColorRole.Highlight, "#0277bd"),
        (QPalette.ColorRole.HighlightedText, "#ffffff"),
        (QPalette.ColorRole.ToolTipBase, PANEL),
        (QPalette.ColorRole.ToolTipText, TEXT),
    ):
        palette.setColor(role, QColor(color))
    app.setPalette(palette)
    app.setStyleSheet(stylesheet(scale))
    return scale


def class_color(class_id: int, custom: list[str] | tuple[str, ...] = ()) -> str:
    """The configured colour for a class (settings model.class_colors), else the palette's."""
    if 0 <= class_id < len(custom) and QColor.isValidColorName(custom[class_id]):
        return custom[class_id]
    return CLASS_PALETTE[class_id % len(CLASS_PALETTE)]
