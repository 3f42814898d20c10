"""Compare codexbard's local cost scanner with ccusage on a generated corpus, and time both.

    python bench/cost_compare.py --install --generate-mb 200 [--corpus DIR] [--tz Europe/Berlin] [--repeat 3]

`--install` puts ccusage (npm `ccusage@20.0.24`, which ships a native linux-x64 binary) into a temporary directory;
`--ccusage PATH` uses a binary you already have. Checks: daily token totals per model equal (Claude: `ccusage claude
daily`, Codex: `ccusage codex daily`), costs within 1 % (per model and day for Claude; per day for Codex, whose
ccusage rows carry no per-model cost). Figures: cold scan (in-process and with its worker processes), warm rescan,
rescan after appending 1 MB, peak RSS of the scanning process and of its workers, the state's JSON size and the
report time, next to ccusage's wall time and peak RSS. Each run of ccusage is followed by a run of codexbard (the
machine may be shared: interleaving gives both the same conditions); figures are medians over `--repeat` runs, with
every sample and the load average before and after. Appended bytes are cut off again after each run, so every run
sees the same corpus. Output: one JSON document.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

CCUSAGE_VERSION = "20.0.24"


def install_ccusage(into: Path) -> Path:
    """npm-install ccusage into `into` and return its native binary."""
    subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(into), f"ccusage@{CCUSAGE_VERSION}"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    binary = into / "node_modules" / "@ccusage" / "ccusage-linux-x64" / "bin" / "ccusage"
    if not binary.exists():
        raise SystemExit(f"ccusage native binary not found at {binary}")
    binary.chmod(0o755)
    return binary


def run_measured(cmd: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Run a command; return (wall seconds, peak RSS in KiB, stdout)."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode()
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} exited {proc.returncode}")
    return wall, usage.ru_maxrss, text


def _sizes(corpus: Path) -> dict[Path, int]:
    return {p: p.stat().st_size for p in corpus.rglob("*.jsonl")}


def worker(corpus: Path, tz: str, append_mb: float, workers: int | None) -> dict[str, Any]:
    """Cold scan, warm rescans, append, rescan (its own peak RSS is the cold scan's), then undo the append."""
    import resource
    from datetime import UTC, datetime

    from gen_corpus import append_activity

    from codexbard.cost import CostRoots, CostScanner, Pricing, ScanState, cost_report

    roots = CostRoots(codex=(corpus / "codex" / "sessions", corpus / "codex" / "archived_sessions"),
                      claude=(corpus / "claude" / "projects",))
    scanner = CostScanner(roots, tz, workers=workers)
    t0 = time.perf_counter()
    state, _ = scanner.scan(None)
    cold = time.perf_counter() - t0
    used_workers = scanner.last_scan_workers
    rss_cold = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rss_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest worker process
    warm_samples = []
    changed_warm: dict[str, set[str]] = {}
    for _ in range(5):
        t0 = time.perf_counter()
        state, changed_warm = scanner.scan(state)
        warm_samples.append(time.perf_counter() - t0)
    pricing = Pricing()
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    far = datetime(2100, 1, 1, tzinfo=UTC)  # ccusage lists every day, also those after today
    reports = {p: cost_report(state, p, pricing=pricing, tz=tz, now=far, period="all") for p in ("codex", "claude")}
    report_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    month = cost_report(state, "claude", pricing=pricing, tz=tz, now=now, days=30)
    report30_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    blob = json.dumps(state.to_json())
    dump_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ScanState.from_json(json.loads(blob))
    load_s = time.perf_counter() - t0
    before = _sizes(corpus)
    try:
        appended = append_activity(corpus, int(append_mb * 1024 * 1024))
        t0 = time.perf_counter()
        state, changed = scanner.scan(state)
        after_append = time.perf_counter() - t0
    finally:
        for path, size in before.items():  # cut the appended bytes off again: the next run sees the same corpus
            if path.stat().st_size != size:
                os.truncate(path, size)
    return {
        "coldScanSeconds": cold,
        "coldScanWorkers": used_workers,
        "peakRssMiB": rss_cold / 1024,
        "workerPeakRssMiB": rss_children / 1024,
        "peakRssAllProcessesMiB": (rss_cold + used_workers * rss_children) / 1024,
        "warmRescanSeconds": statistics.median(warm_samples),
        "warmRescanSamples": warm_samples,
        "warmChangedDays": sum(len(v) for v in changed_warm.values()),
        "appendedBytes": appended,
        "rescanAfterAppendSeconds": after_append,
        "changedDaysAfterAppend": {k: sorted(v) for k, v in changed.items()},
        "reportAllSeconds": report_s,
        "report30DaysSeconds": report30_s,
        "stateJsonBytes": len(blob),
        "stateDumpSeconds": dump_s,
        "stateLoadSeconds": load_s,
        "files": len(state.files),
        "reports": reports,
        "month": month["totals"],
    }


def _norm(provider: str, model: str) -> str:
    from codexbard.cost import normalise_model

    return normalise_model("codex" if provider == "codex" else "claude", model)


def _close(a: float | None, b: float | None, rel: float = 0.01) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-9)


def compare(provider: str, ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
    """Compare one provider's daily rows: tokens per (day, model) exactly, costs within 1 %."""
    mine: dict[tuple[str, str], list[int]] = {}
    my_cost: dict[tuple[str, str], float | None] = {}
    my_day_cost: dict[str, float | None] = {}
    for row in ours["daily"]:
        my_day_cost[row["date"]] = row["totalCost"]
        for m in row["modelBreakdowns"]:
            key = (row["date"], m["modelName"])
            mine[key] = [m["inputTokens"], m["outputTokens"], m["cacheReadTokens"], m["cacheCreationTokens"]]
            my_cost[key] = m["cost"]
    peer: dict[tuple[str, str], list[int]] = {}
    peer_cost: dict[tuple[str, str], float] = {}
    peer_day_cost: dict[str, float] = {}
    for row in theirs["daily"]:
        day = row["date"]
        if provider == "codex":
            peer_day_cost[day] = row.get("costUSD", 0.0)
            items = [(name, m) for name, m in row["models"].items()]
        else:
            peer_day_cost[day] = row.get("totalCost", 0.0)
            items = [(m["modelName"], m) for m in row["modelBreakdowns"]]
        for name, m in items:
            key = (day, _norm(provider, name))
            acc = peer.setdefault(key, [0, 0, 0, 0])
            for i, field in enumerate(("inputTokens", "outputTokens", "cacheReadTokens", "cacheCreationTokens")):
                acc[i] += int(m.get(field, 0))
            if "cost" in m:
                peer_cost[key] = peer_cost.get(key, 0.0) + float(m["cost"])
    token_mismatch = [
        {"key": list(k), "ours": mine.get(k), "ccusage": peer.get(k)}
        for k in sorted(set(mine) | set(peer))
        if mine.get(k) != peer.get(k)
    ]
    cost_mismatch = []
    if provider == "claude":
        for k, c in peer_cost.items():
            if my_cost.get(k) is not None and not _close(my_cost[k], c):
                cost_mismatch.append({"key": list(k), "ours": my_cost[k], "ccusage": c})
    else:
        for day, c in peer_day_cost.items():
            if my_day_cost.get(day) is not None and not _close(my_day_cost[day], c):
                cost_mismatch.append({"day": day, "ours": my_day_cost[day], "ccusage": c})
    ours_total = ours["totals"]["totalCost"] or 0.0
    theirs_total = float(theirs["totals"].get("totalCost", theirs["totals"].get("costUSD", 0.0)))
    return {
        "days": len(my_day_cost),
        "modelDays": len(mine),
        "tokenMismatches": len(token_mismatch),
        "tokenMismatchSamples": token_mismatch[:5],
        "costMismatches": len(cost_mismatch),
        "costMismatchSamples": cost_mismatch[:5],
        "totalTokens": {"ours": ours["totals"]["totalTokens"], "ccusage": theirs["totals"]["totalTokens"]},
        "totalCost": {"ours": ours_total, "ccusage": theirs_total,
                      "relDiff": abs(ours_total - theirs_total) / max(theirs_total, 1e-9)},
    }


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _median_of(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, help="an existing corpus (default: a temporary generated one)")
    parser.add_argument("--generate-mb", type=float, default=0.0, help="generate a corpus of this size first")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tz", default="Europe/Berlin")
    parser.add_argument("--install", action="store_true", help="npm-install ccusage into a temporary directory")
    parser.add_argument("--ccusage", type=Path, help="path of a ccusage binary")
    parser.add_argument("--append-mb", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each program (medians are reported)")
    parser.add_argument("--workers", type=int, default=None, help="codexbard worker processes (default: automatic)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.corpus, args.tz, args.append_mb, args.workers)))
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="cost-compare-"))
    try:
        corpus = args.corpus or tmp / "corpus"
        if args.generate_mb:
            subprocess.run([sys.executable, str(ROOT / "bench" / "gen_corpus.py"), str(corpus),
                            "--size-mb", str(args.generate_mb), "--seed", str(args.seed)], check=True)
        size = sum(p.stat().st_size for p in corpus.rglob("*.jsonl"))
        binary = install_ccusage(tmp / "npm") if args.install else args.ccusage
        result: dict[str, Any] = {"corpusBytes": size, "tz": args.tz, "repeat": args.repeat,
                                  "loadAverageBefore": _load(), "cpus": os.cpu_count()}
        peer: dict[str, Any] = {}
        env = {}
        if binary is not None:
            home = tmp / "home"
            home.mkdir(exist_ok=True)
            env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "CODEX_HOME": str(corpus / "codex"),
                   "CLAUDE_CONFIG_DIR": str(corpus / "claude"), "NO_COLOR": "1"}
        cc_runs: dict[str, list[dict[str, float]]] = {"claude": [], "codex": [], "all": []}
        runs: list[dict[str, Any]] = []
        reports: dict[str, Any] = {}
        worker_cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--corpus", str(corpus), "--tz",
                      args.tz, "--append-mb", str(args.append_mb)]
        if args.workers is not None:
            worker_cmd += ["--workers", str(args.workers)]
        for _ in range(max(args.repeat, 1)):
            if binary is not None:
                for name, cmd in (("all", ["daily"]), ("claude", ["claude", "daily"]), ("codex", ["codex", "daily"])):
                    wall, rss, text = run_measured([str(binary), *cmd, "--json", "--offline", "-z", args.tz], env)
                    cc_runs[name].append({"seconds": wall, "peakRssMiB": rss / 1024})
                    if name != "all" and name not in peer:
                        peer[name] = json.loads(text)
            wall, rss, text = run_measured(worker_cmd, dict(os.environ))
            ours = json.loads(text)
            if not reports:
                reports = ours["reports"]
            ours.pop("reports")
            runs.append({**ours, "processSeconds": wall, "processPeakRssMiB": rss / 1024})
        result["loadAverageAfter"] = _load()
        if binary is not None:
            result["ccusage"] = {
                name: {"seconds": statistics.median(r["seconds"] for r in samples),
                       "peakRssMiB": max(r["peakRssMiB"] for r in samples),
                       "samples": [round(r["seconds"], 3) for r in samples]}
                for name, samples in cc_runs.items()
            }
        summary = {key: _median_of(runs, key) for key in (
            "coldScanSeconds", "warmRescanSeconds", "rescanAfterAppendSeconds", "reportAllSeconds",
            "report30DaysSeconds", "processSeconds")}
        summary.update({
            "coldScanSamples": [round(r["coldScanSeconds"], 3) for r in runs],
            "warmRescanRunMedians": [round(r["warmRescanSeconds"], 4) for r in runs],
            "rescanAfterAppendSamples": [round(r["rescanAfterAppendSeconds"], 4) for r in runs],
            "coldScanWorkers": runs[0]["coldScanWorkers"],
            "peakRssMiB": max(r["peakRssMiB"] for r in runs),
            "workerPeakRssMiB": max(r["workerPeakRssMiB"] for r in runs),
            "peakRssAllProcessesMiB": max(r["peakRssAllProcessesMiB"] for r in runs),
        })
        last = runs[-1]
        for key in ("warmChangedDays", "appendedBytes", "changedDaysAfterAppend", "stateJsonBytes",
                    "stateDumpSeconds", "stateLoadSeconds", "files", "month"):
            summary[key] = last[key]
        result["codexbard"] = summary
        if peer:
            result["compare"] = {p: compare(p, reports[p], peer[p]) for p in ("claude", "codex")}
            cold = summary["coldScanSeconds"]
            result["coldScanVsCcusage"] = {
                "vsDailyAll": cold / result["ccusage"]["all"]["seconds"],
                "vsClaudePlusCodex": cold / (result["ccusage"]["claude"]["seconds"]
                                             + result["ccusage"]["codex"]["seconds"]),
            }
        print(json.dumps(result, indent=2))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
