"""Local token cost from Codex and Claude Code logs: incremental scanning, pricing and the `/cost` aggregation.

Use: `roots = discover_roots(env, home)`, `scanner = CostScanner(roots, tz)`, `state, changed = scanner.scan(state)`
(blocking; run it in a thread), persist `state.to_json()`, and answer `GET /cost` with
`cost_report(state, provider, pricing=Pricing(overrides), tz=tz, days=30)`.
"""

from codexbard.cost.pricing import BAND_LIMITS, Pricing, PricingError, Provider, band_for, normalise_model
from codexbard.cost.report import CostReportError, Period, corrupt_lines, cost_report
from codexbard.cost.roots import CostRoots, discover_roots
from codexbard.cost.scanner import ChangedDays, CostScanner
from codexbard.cost.state import CostStateError, ScanState
from codexbard.cost.timeutil import TimeZoneError

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
