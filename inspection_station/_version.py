"""The one place the version is written: pyproject.toml reads it (setuptools dynamic
version), the app reports it, packaging/build.py passes it to the installer."""

__version__ = "0.2.0"
