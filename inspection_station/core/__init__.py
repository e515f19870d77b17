"""Qt-free core: camera, detector, patterns, matching, pipeline, results, settings.

Nothing under this package may import PySide6, pyqtgraph or inspection_station.gui
(checked by tests/test_architecture.py and the import-linter contract in pyproject.toml).
"""
