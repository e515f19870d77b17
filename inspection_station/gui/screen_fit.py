"""Windows sized from the screen they are on, never bigger than it.

A dialog asks for a share of the available screen (minus taskbars), with a ceiling for
big screens where a full-width dialog would be silly; it is centred on that screen.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize
from PySide6.QtGui import QGuiApplication, QScreen
from PySide6.QtWidgets import QWidget


def screen_of(widget: QWidget) -> QScreen | None:
    return widget.screen() or QGuiApplication.primaryScreen()


def fit_to_screen(
    widget: QWidget,
    fraction: float = 0.92,
    most: QSize | None = None,
    screen: QScreen | None = None,
) -> QRect:
    """Resize `widget` to `fraction` of its screen's available area (at most `most`),
    centred there; returns the geometry given."""
    screen = screen or screen_of(widget)
    if screen is None:
        return widget.geometry()
    if widget.screen() is not screen:
        widget.setScreen(screen)
    area = screen.availableGeometry()
    width, height = int(area.width() * fraction), int(area.height() * fraction)
    if most is not None:
        width, height = min(width, most.width()), min(height, most.height())
    rect = QRect(0, 0, width, height)
    rect.moveCenter(area.center())
    widget.setGeometry(rect)
    return rect
