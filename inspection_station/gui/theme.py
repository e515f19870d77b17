"""High-contrast dark theme, big fonts and touch-sized buttons: readable from a metre away."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

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
SLOT_FILLED = "#00e676"
SLOT_MISSING = "#ff1744"
# Detection box colours per class id; no pure green/red so boxes never look like slot states.
CLASS_PALETTE = (
    "#00b0ff", "#ffea00", "#e040fb", "#ff9100", "#18ffff", "#ff80ab",
    "#b388ff", "#c6ff00", "#84ffff", "#ffd180", "#8c9eff", "#f4ff81",
)

BUTTON_PT = 24
BANNER_PT = 80
TOUCH_HEIGHT = 88  # px: a gloved finger hits it

STYLESHEET = f"""
QWidget {{ background: {BACKGROUND}; color: {TEXT}; font-size: 16pt; }}
QMainWindow::separator {{ background: {PANEL}; }}
QPushButton {{
    background: #37474f; color: {TEXT}; border: 2px solid #607d8b; border-radius: 10px;
    font-size: {BUTTON_PT}pt; font-weight: bold; min-height: {TOUCH_HEIGHT}px; padding: 4px 24px;
}}
QPushButton:hover {{ background: #455a64; }}
QPushButton:pressed {{ background: #263238; }}
QPushButton:disabled {{ color: #6b6b6b; border-color: #3a3a3a; background: #222; }}
QPushButton:checked {{ background: #263238; border: 4px solid #4fc3f7; color: #4fc3f7; }}
QPushButton#inspect_button {{ background: #0277bd; border-color: #4fc3f7; font-size: {BUTTON_PT + 8}pt; }}
QPushButton#inspect_button:pressed {{ background: #01579b; }}
QPushButton#inspect_button:disabled {{ background: #263238; border-color: #37474f; }}
QPushButton#overrule_button {{ background: #4e342e; border-color: #a1887f; }}
QComboBox {{
    background: #37474f; border: 2px solid #607d8b; border-radius: 10px; padding: 4px 16px;
    font-size: {BUTTON_PT - 4}pt; min-height: {TOUCH_HEIGHT - 8}px;
}}
QComboBox QAbstractItemView {{ font-size: {BUTTON_PT - 4}pt; background: {PANEL}; selection-background-color: #0277bd; }}
QStatusBar {{ background: {PANEL}; border-top: 1px solid #333; }}
QStatusBar QLabel {{ background: transparent; font-size: 14pt; padding: 0 12px; }}
QStatusBar::item {{ border: none; }}
QMenuBar {{ background: {PANEL}; font-size: 14pt; }}
QMenuBar::item:selected, QMenu::item:selected {{ background: #0277bd; }}
QMenu {{ background: {PANEL}; font-size: 14pt; }}
QTabWidget::pane {{ border: 1px solid #333; }}
QTabBar::tab {{ background: {PANEL}; padding: 10px 24px; font-size: 16pt; min-width: 120px; }}
QTabBar::tab:selected {{ background: #37474f; }}
QListWidget, QTableWidget {{ background: {PANEL}; border: 1px solid #333; font-size: 15pt; }}
QListWidget::item {{ padding: 4px; }}
QListWidget::item:selected {{ background: #0277bd; }}
QHeaderView::section {{ background: #263238; color: {TEXT}; padding: 4px; border: none; font-size: 13pt; }}
QProgressBar {{ background: #263238; border: 1px solid #455a64; border-radius: 4px; max-height: 14px; min-width: 120px; }}
QProgressBar::chunk {{ background: #4fc3f7; }}
QMessageBox QLabel {{ font-size: 18pt; }}
QMessageBox QPushButton {{ min-width: 200px; }}
"""


def apply_theme(app: QApplication) -> None:
    """Fusion + a dark palette (for native bits the stylesheet misses) + our stylesheet."""
    app.setStyle("Fusion")
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
    app.setStyleSheet(STYLESHEET)


def class_color(class_id: int, custom: list[str] | tuple[str, ...] = ()) -> str:
    """The configured colour for a class (settings model.class_colors), else the palette's."""
    if 0 <= class_id < len(custom) and QColor.isValidColorName(custom[class_id]):
        return custom[class_id]
    return CLASS_PALETTE[class_id % len(CLASS_PALETTE)]
