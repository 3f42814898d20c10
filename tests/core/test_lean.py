"""`host.lean.trim_imports`: the daemon's process never loads the httpx/uvicorn CLIs, yet both packages work."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("click", "watchfiles", "uvicorn.main", "uvicorn.supervisors", "html")


def _run(code: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_serve_imports_leave_out_the_cli_modules() -> None:
    result = _run(
        "import json, sys\n"
        "from codexbard.host.lean import trim_imports\n"
        "trim_imports()\n"
        "import codexbard.serve, uvicorn.lifespan.on\n"
        "from codexbard.providers.registry import default_registry\n"
        "default_registry()\n"
        f"print(json.dumps({{m: bool(sys.modules.get(m)) for m in {HEAVY!r}}}))\n"
    )
    assert result == {name: False for name in HEAVY}


def test_the_trimmed_packages_still_answer_every_attribute() -> None:
    result = _run(
        "import json, sys\n"
        "from codexbard.host.lean import trim_imports\n"
        "trim_imports()\n"
        "import httpx, uvicorn\n"
        "from uvicorn.config import Config\n"
        "from uvicorn.server import Server\n"
        "light = uvicorn.Config is Config and uvicorn.Server is Server and 'uvicorn.main' not in sys.modules\n"
        "print(json.dumps({'light': light, 'version': uvicorn.__version__, 'run': uvicorn.run.__module__,\n"
        "                  'main_loaded': 'uvicorn.main' in sys.modules, 'httpx_main': callable(httpx.main),\n"
        "                  'client': type(httpx.Client()).__name__}))\n"
    )
    import uvicorn

    assert result == {"light": True, "version": uvicorn.__version__, "run": "uvicorn.main", "main_loaded": True,
                      "httpx_main": True, "client": "Client"}


def test_trimming_after_the_packages_were_imported_changes_nothing() -> None:
    result = _run(
        "import json, sys, httpx, uvicorn\n"
        "before = (sys.modules['uvicorn'], sys.modules.get('httpx._main'))\n"
        "from codexbard.host.lean import trim_imports\n"
        "trim_imports()\n"
        "after = (sys.modules['uvicorn'], sys.modules.get('httpx._main'))\n"
        "print(json.dumps({'same': before == after, 'kind': type(sys.modules['uvicorn']).__name__}))\n"
    )
    assert result == {"same": True, "kind": "module"}
