"""Incremental scan state: per-file identity, offsets and parser resume state, plus the cost aggregate.

Everything here round-trips through plain JSON (`ScanState.to_json` / `ScanState.from_json`) so the store can persist
it. Token counters are lists in the `Counters` layout; aggregates are keyed by (UTC quarter-hour slot, long-context
band, normalised model), so they can be bucketed into days of any time zone and re-priced at report time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from codexbard.cost.pricing import PROVIDERS, Provider
from codexbard.errors import CodexbardError

STATE_VERSION: Final[int] = 1

# Counters layout: uncached input, cache read, cache write (5 min), cache write (1 h), output, reasoning (⊂ output).
N_COUNTERS: Final[int] = 6
BucketKey = tuple[int, int, str]  # (slot, band, model)
Contrib = dict[BucketKey, list[int]]


class CostStateError(CodexbardError):
    """Serialised scan state that cannot be read (wrong version or malformed)."""


def add_into(target: Contrib, key: BucketKey, counters: list[int], sign: int = 1) -> None:
    """Add (sign=1) or subtract (sign=-1) counters into a bucket map, dropping buckets that reach zero."""
    cur = target.get(key)
    if cur is None:
        if sign > 0:
            target[key] = list(counters)
        else:
            target[key] = [-c for c in counters]
        return
    for i in range(N_COUNTERS):
        cur[i] += sign * counters[i]
    if not any(cur):
        del target[key]


def add_pos(target: Contrib, key: BucketKey, counters: list[int]) -> None:
    """`add_into` with sign=1, unrolled for the scanner's hot path."""
    cur = target.get(key)
    if cur is None:
        target[key] = list(counters)
        return
    cur[0] += counters[0]
    cur[1] += counters[1]
    cur[2] += counters[2]
    cur[3] += counters[3]
    cur[4] += counters[4]
    cur[5] += counters[5]
    if not any(cur):
        del target[key]


@dataclass(slots=True)
class CodexCursor:
    """Codex parser resume state (providers/local-cost.md, "Codex (per file, in file order)")."""

    model: str | None = None
    watermark: list[int] | None = None  # component-wise max of raw cumulative totals: input, cached, output, reasoning
    counted: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    prev_total: list[int] | None = None
    seen: list[list[int]] = field(default_factory=list)  # last 64 distinct totals (input, cached, output)
    interleaved: bool = False
    divergent: bool = False
    meta_seen: bool = False
    session_id: str | None = None
    fork_epoch: float | None = None  # fork instant of a forked session: earlier token counts are copied history
    seen_keys: set[tuple[int, ...]] | None = field(default=None, compare=False, repr=False)  # mirror of `seen`

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "model": self.model,
            "watermark": self.watermark,
            "counted": self.counted,
            "prevTotal": self.prev_total,
            "seen": self.seen,
            "interleaved": self.interleaved,
            "divergent": self.divergent,
            "metaSeen": self.meta_seen,
            "sessionId": self.session_id,
            "forkEpoch": self.fork_epoch,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> CodexCursor:
        """Build from `to_json` output."""
        return cls(
            model=raw["model"],
            watermark=raw["watermark"],
            counted=list(raw["counted"]),
            prev_total=raw["prevTotal"],
            seen=[list(s) for s in raw["seen"]],
            interleaved=bool(raw["interleaved"]),
            divergent=bool(raw["divergent"]),
            meta_seen=bool(raw["metaSeen"]),
            session_id=raw["sessionId"],
            fork_epoch=raw["forkEpoch"],
        )


@dataclass(slots=True)
class FileState:
    """One log file: identity, how far it has been read, parser state and its contribution to the aggregate."""

    fid: int
    provider: Provider
    path: str
    dev: int
    ino: int
    size: int = 0
    mtime_ns: int = 0
    offset: int = 0  # byte offset just after the last complete line consumed
    head_crc: int = 0  # crc32 of the first head_len bytes: detects a file replaced in place
    head_len: int = 0
    gone: bool = False  # no longer on disk; its contribution stays
    corrupt_lines: int = 0
    contrib: Contrib = field(default_factory=dict)  # Codex rows, Claude rows without ids
    codex: CodexCursor | None = None
    # Claude rows with a message id + request id: key -> [slot, band, model, rank, *Counters]
    claude_rows: dict[str, list[Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "fid": self.fid,
            "provider": self.provider,
            "path": self.path,
            "dev": self.dev,
            "ino": self.ino,
            "size": self.size,
            "mtimeNs": self.mtime_ns,
            "offset": self.offset,
            "headCrc": self.head_crc,
            "headLen": self.head_len,
            "gone": self.gone,
            "corruptLines": self.corrupt_lines,
            "contrib": [[k[0], k[1], k[2], *v] for k, v in self.contrib.items()],
            "codex": self.codex.to_json() if self.codex is not None else None,
            "claudeRows": self.claude_rows,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> FileState:
        """Build from `to_json` output."""
        provider = raw["provider"]
        if provider not in PROVIDERS:
            raise CostStateError(f"unknown provider {provider!r} in scan state")
        return cls(
            fid=int(raw["fid"]),
            provider=provider,
            path=str(raw["path"]),
            dev=int(raw["dev"]),
            ino=int(raw["ino"]),
            size=int(raw["size"]),
            mtime_ns=int(raw["mtimeNs"]),
            offset=int(raw["offset"]),
            head_crc=int(raw["headCrc"]),
            head_len=int(raw["headLen"]),
            gone=bool(raw["gone"]),
            corrupt_lines=int(raw["corruptLines"]),
            contrib={(int(r[0]), int(r[1]), str(r[2])): [int(x) for x in r[3:]] for r in raw["contrib"]},
            codex=CodexCursor.from_json(raw["codex"]) if raw["codex"] is not None else None,
            claude_rows={str(k): list(v) for k, v in raw["claudeRows"].items()},
        )


@dataclass(slots=True)
class ScanState:
    """All incremental state of the cost scanner (files and the aggregate, which outlives deleted files)."""

    version: int = STATE_VERSION
    next_fid: int = 1
    files: dict[int, FileState] = field(default_factory=dict)
    totals: dict[str, Contrib] = field(default_factory=lambda: {p: {} for p in PROVIDERS})
    claude_index: dict[str, list[int]] = field(default_factory=dict)  # de-dup key -> candidate fids, winner first
    last_scan_epoch: float | None = None

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict (no secrets: paths, counters and model ids only)."""
        return {
            "version": self.version,
            "nextFid": self.next_fid,
            "files": [f.to_json() for f in self.files.values()],
            "totals": {p: [[k[0], k[1], k[2], *v] for k, v in t.items()] for p, t in self.totals.items()},
            "claudeIndex": self.claude_index,
            "lastScanEpoch": self.last_scan_epoch,
        }

    @classmethod
    def from_json(cls, raw: Any) -> ScanState:
        """Build from `to_json` output; raise CostStateError when it is from another version or malformed."""
        if not isinstance(raw, dict):
            raise CostStateError("scan state is not a JSON object")
        if raw.get("version") != STATE_VERSION:
            raise CostStateError(f"scan state version {raw.get('version')!r} is not {STATE_VERSION}")
        try:
            files = [FileState.from_json(f) for f in raw["files"]]
            totals: dict[str, Contrib] = {p: {} for p in PROVIDERS}
            for provider, rows in raw["totals"].items():
                if provider not in PROVIDERS:
                    raise CostStateError(f"unknown provider {provider!r} in scan state")
                totals[provider] = {(int(r[0]), int(r[1]), str(r[2])): [int(x) for x in r[3:]] for r in rows}
            return cls(
                version=STATE_VERSION,
                next_fid=int(raw["nextFid"]),
                files={f.fid: f for f in files},
                totals=totals,
                claude_index={str(k): [int(x) for x in v] for k, v in raw["claudeIndex"].items()},
                last_scan_epoch=raw.get("lastScanEpoch"),
            )
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise CostStateError(f"malformed scan state: {type(exc).__name__}") from exc
