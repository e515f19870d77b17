"""PyInstaller runtime hook: make pylon find its transport layers inside the frozen app.

pylon looks for its transport-layer libraries (libpylon_TL_*.so / PylonTL_*.dll,
including the camemu emulator) in the folder its base library was loaded from.
PyInstaller places a symlink to that library at the top of the bundle, and the
dynamic linker resolves `_pylon` through it, so pylon searches the bundle's top
folder and finds no camera. Loading the base library from the pypylon folder first
(globally, so the later `_pylon` import reuses it by soname) points pylon at the
folder that really holds the transport layers.
"""

from __future__ import annotations

import ctypes
import os
import sys


def _preload_pylon_base() -> None:
    root = getattr(sys, "_MEIPASS", None)
    if not root:
        return
    folder = os.path.join(root, "pypylon")
    if not os.path.isdir(folder):
        return
    if sys.platform == "win32":
        # The DLLs sit beside pypylon's extension modules; let the loader search there.
        os.add_dll_directory(folder)
        return
    names = sorted(n for n in os.listdir(folder) if n.startswith("libpylonbase.so"))
    for name in names:
        try:
            ctypes.CDLL(os.path.join(folder, name), mode=ctypes.RTLD_GLOBAL)
        except OSError:
            continue  # leave the error to the real import, with its own message
        return


_preload_pylon_base()
