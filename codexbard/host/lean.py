"""Keep `codexbard serve` small: leave out the command-line front ends of httpx and uvicorn.

Both packages import their own CLI from their package `__init__`. httpx's `httpx._main` pulls in click (and
rich and pygments when they are installed); uvicorn's `uvicorn.main` pulls in click, the auto-reloaders with
watchfiles (a native extension), and multiprocessing. The daemon runs neither CLI, and together they cost about
2 MB of its resident memory (bench/idle_memory.py). `trim_imports` is called by `codexbard serve` before
anything imports either package; in a process that already imported them it does nothing.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any

# What uvicorn's `__init__` exports that the daemon uses, and the submodule that really defines it.
_UVICORN_LIGHT: dict[str, str] = {"Config": "uvicorn.config", "Server": "uvicorn.server"}


class _LazyUvicorn(types.ModuleType):
    """The `uvicorn` package before its `__init__` ran: `Config` and `Server` come from their own submodules;
    any other attribute (`run`, `main`, `__version__`, ...) runs the real `__init__` first, so nothing breaks."""

    def __getattr__(self, name: str) -> Any:
        home = _UVICORN_LIGHT.get(name)
        if home is not None:
            value = getattr(importlib.import_module(home), name)
            setattr(self, name, value)
            return value
        if name.startswith("__") and name != "__version__":
            raise AttributeError(name)  # probes such as __all__ or __wrapped__ need no full import
        spec = self.__spec__
        assert spec is not None and spec.loader is not None
        self.__class__ = types.ModuleType  # type: ignore[assignment]  # an ordinary, fully initialised module now
        spec.loader.exec_module(self)
        return getattr(self, name)


def trim_imports() -> None:
    """Make later imports of httpx and uvicorn skip their CLI modules (no-op for a package already imported)."""
    if "httpx" not in sys.modules:
        # httpx catches this ImportError and defines a `main` that explains its CLI extras are missing.
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    if "uvicorn" not in sys.modules:
        spec = importlib.util.find_spec("uvicorn")
        if spec is None or spec.loader is None or spec.submodule_search_locations is None:
            return
        module = importlib.util.module_from_spec(spec)
        module.__class__ = _LazyUvicorn
        sys.modules["uvicorn"] = module
