"""PySide6 + pyqtgraph: windows, dialogs, workers, triggers. No inspection logic here."""
