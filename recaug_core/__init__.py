"""recaug core: hook specs, base classes, data layer, splits, pipeline and CLI.

Importing this package must stay cheap (no torch, no pyarrow): `recaug --help` loads every
plugin module, and plugin modules import `hookimpl` from here.
"""

from recaug_core.hookspecs import hookimpl

__version__ = "0.1.0"
__all__ = ["__version__", "hookimpl"]
