"""Print how the windows come out on each panel size (the figures in the issue #11 report).

    QT_QPA_PLATFORM="offscreen:configfile=tests/screens.json" python docs/screen_fit_figures.py

For every screen of the Qt platform: the theme scale, the main window's minimum size, the
banner's fixed height, the settings dialog's size and the pattern editor's canvas (its
own window, maximised). Uses the GUI tests' station settings (a tiny ONNX model, two
pattern files) in a temporary folder; nothing of the user's is read or written.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv[:1])
    from inspection_station.core.station import Station
    from inspection_station.gui import theme
    from inspection_station.gui.engineer.settings_dialog import SettingsDialog
    from inspection_station.gui.operator.main_window import MainWindow
    from inspection_station.gui.operator.station_bridge import StationBridge
    from tests.gui_station import station_settings

    for screen in app.screens():
        size = screen.size()
        scale = theme.apply_theme(app, theme.screen_scale(size.width(), size.height()))
        folder = Path(tempfile.mkdtemp(prefix="screen-fit-"))
        settings = station_settings(folder)
        station = Station(settings)
        window = MainWindow(station, StationBridge(), settings)
        window.setScreen(screen)
        window.setGeometry(screen.availableGeometry())
        window.showMaximized()
        dialog = SettingsDialog(settings, None, window, settings_path=folder / "settings.toml")
        dialog.show()
        dialog.pattern_window.open()
        for _ in range(20):
            app.processEvents()
        hint, canvas = window.minimumSizeHint(), dialog.pattern_editor.graphics
        print(f"{size.width()}x{size.height()}: scale {scale:.2f}; main window min {hint.width()}x{hint.height()}; "
              f"banner {window.banner.height()} px; settings dialog {dialog.width()}x{dialog.height()}; "
              f"pattern editor canvas {canvas.width()}x{canvas.height()} px")
        dialog.pattern_window.close()
        dialog.close()
        window.close()
        station.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
