"""Build glue that pyproject.toml cannot express: resources/ and models/ stay at the top
level of the repository but are installed INSIDE the package, as inspection_station/bundle/
(found through importlib.resources, see core/paths.py). Everything else is in pyproject.toml.

Packages are still discovered (a new subpackage needs no edit here); the two data folders
are mapped with package_dir. models/training/ (how the demo model was made) stays out.
"""

from setuptools import find_packages, setup

BUNDLED = {
    "inspection_station.bundle.resources": "resources",
    "inspection_station.bundle.models": "models",
}

setup(
    packages=find_packages(include=["inspection_station", "inspection_station.*"]) + list(BUNDLED),
    py_modules=[],  # no top-level modules (and no flat-layout auto-discovery)
    package_dir=BUNDLED,
    package_data={
        "inspection_station": ["py.typed"],
        "inspection_station.bundle.resources": ["**/*"],
        "inspection_station.bundle.models": ["*.onnx", "*.md", "*.txt", "*.json", "*.yaml"],
    },
    exclude_package_data={"inspection_station.bundle.resources": ["**/__pycache__/*"]},
)
