"""PySide6 + pyqtgraph: windows, dialogs, workers, triggers. No inspection logic here."""

# Windows: onnxruntime (DirectML) must initialise its DLLs before Qt loads its own. Every
# GUI module is imported through this package, so this one import orders them for all.
import onnxruntime  # noqa: F401
