"""Local token cost from Codex and Claude Code logs: incremental scanning, pricing and the `/cost` aggregation.

Use: `roots = discover_roots(env, home)`, `scanner = CostScanner(roots, tz)`, `state, changed = scanner.scan(state)`
(blocking; run it in a thread), persist `state.to_json()`, and answer `GET /cost` with
`cost_report(state, provider, pricing=Pricing(overrides), tz=tz, days=30)`.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from codexbard.cost.pricing import BAND_LIMITS, Pricing, PricingError, Provider, band_for, normalise_model
    from codexbard.cost.report import CostReportError, Period, corrupt_lines, cost_report
    from codexbard.cost.roots import CostRoots, discover_roots
    from codexbard.cost.scanner import ChangedDays, CostScanner
    from codexbard.cost.state import CostStateError, ScanState
    from codexbard.cost.timeutil import TimeZoneError

# Each name is imported on first use: the daemon needs pricing and reports at start, not the scanner and its
# process pool.
_HOME = {
    "BAND_LIMITS": "codexbard.cost.pricing",
    "Pricing": "codexbard.cost.pricing",
    "PricingError": "codexbard.cost.pricing",
    "Provider": "codexbard.cost.pricing",
    "band_for": "codexbard.cost.pricing",
    "normalise_model": "codexbard.cost.pricing",
    "CostReportError": "codexbard.cost.report",
    "Period": "codexbard.cost.report",
    "corrupt_lines": "codexbard.cost.report",
    "cost_report": "codexbard.cost.report",
    "CostRoots": "codexbard.cost.roots",
    "discover_roots": "codexbard.cost.roots",
    "ChangedDays": "codexbard.cost.scanner",
    "CostScanner": "codexbard.cost.scanner",
    "CostStateError": "codexbard.cost.state",
    "ScanState": "codexbard.cost.state",
    "TimeZoneError": "codexbard.cost.timeutil",
}


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use."""
    if name not in _HOME:
        raise AttributeError(f"module 'codexbard.cost' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOME[name]), name)


__all__ = [
    "BAND_LIMITS",
    "ChangedDays",
    "CostReportError",
    "CostRoots",
    "CostScanner",
    "CostStateError",
    "Period",
    "Pricing",
    "PricingError",
    "Provider",
    "ScanState",
    "TimeZoneError",
    "band_for",
    "corrupt_lines",
    "cost_report",
    "discover_roots",
    "normalise_model",
]
