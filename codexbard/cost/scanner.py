"""The incremental cost scanner: reads only new bytes of Codex and Claude logs into a `ScanState`.

`CostScanner.scan(state)` is blocking file I/O meant for a worker thread (`asyncio.to_thread`). It updates the state
in place and returns it with the local days whose totals changed. Rules (providers/local-cost.md):

- files are matched by device + inode first (a rename keeps its state), then a new Codex file by its first
  `session_meta` id (a session moved to another file system); a shrunk file, a file whose first bytes changed, or
  one with a new mtime at the same size is re-read from 0 and its earlier contribution replaced; a new inode at a
  known path replaces the old file; a file that disappears keeps what it contributed;
- offsets advance only past complete `\\n`-terminated lines, so a partial last line waits for the next scan;
- lines are pre-filtered with substring checks and JSON-parsed only when they can carry usage; lines longer than the
  caps (256 KiB Codex, 512 KiB Claude) are skipped; a line that should be JSON and is not is counted as corrupt.

How it is fast: files are read in chunks of up to 8 MiB (the first read sized to the file), and the marker bytes
(`"usage"` for Claude; `"token_count"`, `"turn_context"` and, until the first one, `"session_meta"` for Codex) are
searched in the whole chunk with `bytes.find`, so lines without them cost no Python work at all; only the lines around
a hit are cut out and parsed (orjson). When a scan meets many never-seen files (a cold scan: 48 MiB or more with
fork, 256 MiB with spawn), worker processes parse them (one per CPU, at most 4 with fork, 2 with spawn) and the
parent merges each file's result in file order, as the in-process parse would have (see `_merge`): the state has the
same contents and the same days change. "fork" is used on Linux when the process has a single Python thread, else
"spawn"; if no pool can start or a worker dies, the remaining files are parsed in-process.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import sys
import threading
import time
import warnings
import zlib
from collections.abc import Iterator
from concurrent.futures import BrokenExecutor, ProcessPoolExecutor
from typing import IO, Any, Final

import orjson

from codexbard.cost.pricing import BAND_LIMITS, Provider, normalise_model
from codexbard.cost.roots import CostRoots, FoundFile, enumerate_files
from codexbard.cost.state import BucketKey, CodexCursor, FileState, ScanState, add_into, add_pos
from codexbard.cost.timeutil import DayKeys, epoch_of, slot_of, zone

CODEX_LINE_CAP: Final[int] = 256 * 1024
CLAUDE_LINE_CAP: Final[int] = 512 * 1024
_HEAD_BYTES: Final[int] = 256
_SEEN_TOTALS: Final[int] = 64
_MAX_TOKENS: Final[int] = 1 << 53
_BAND0, _BAND1 = BAND_LIMITS
# Never-seen files below this total are parsed in this process. A spawned worker first imports the program's main
# module (the daemon's: ~0.4 s and ~40 MiB), so spawning pays only for larger batches, and with fewer workers.
PARALLEL_MIN_BYTES: Final[dict[str, int]] = {"fork": 48 << 20, "spawn": 256 << 20, "forkserver": 256 << 20}
MAX_WORKERS: Final[dict[str, int]] = {"fork": 4, "spawn": 2, "forkserver": 2}

log = logging.getLogger(__name__)

ChangedDays = dict[str, set[str]]

_VERTEX_HINTS: Final[tuple[bytes, ...]] = (b"vertex", b"Vertex", b"VERTEX", b"gcp", b"GCP", b"Gcp")
_VERTEX_VALUE_KEYS: Final[frozenset[str]] = frozenset(
    {"provider", "platform", "backend", "api_provider", "apiprovider", "api_type", "apitype", "source", "vendor",
     "client"}
)


def _int(value: Any) -> int:
    """Return a token count: non-numbers, overflow and non-finite values give 0, negatives clamp to 0."""
    if type(value) is int:
        return value if 0 <= value < _MAX_TOKENS else 0
    if isinstance(value, float) and math.isfinite(value) and 0 <= value < _MAX_TOKENS:
        return int(value)
    return 0


def _codex_usage(raw: Any) -> list[int] | None:
    """Return (input incl. cached, cached, output incl. reasoning, reasoning) of a Codex usage object."""
    if not isinstance(raw, dict):
        return None
    get = raw.get
    cached = get("cached_input_tokens")
    if cached is None:
        cached = get("cache_read_input_tokens")
    inp, out, reasoning = get("input_tokens"), get("output_tokens"), get("reasoning_output_tokens")
    # The checks of `_int`, inlined for plain in-range integers.
    inp = inp if type(inp) is int and 0 <= inp < _MAX_TOKENS else _int(inp)
    cached = cached if type(cached) is int and 0 <= cached < _MAX_TOKENS else _int(cached)
    out = out if type(out) is int and 0 <= out < _MAX_TOKENS else _int(out)
    reasoning = reasoning if type(reasoning) is int and 0 <= reasoning < _MAX_TOKENS else _int(reasoning)
    return [inp, cached, out, reasoning if reasoning < out else out]


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _has_vertex_key(obj: Any, depth: int = 0) -> bool:
    if not isinstance(obj, dict) or depth > 6:
        return False
    for key, value in obj.items():
        low = key.lower()
        if "vertex" in low or "gcp" in low:
            return True
        if low in _VERTEX_VALUE_KEYS and isinstance(value, str) and "vertex" in value.lower():
            return True
        if isinstance(value, dict) and _has_vertex_key(value, depth + 1):
            return True
    return False


_KEY_KIND: dict[str, int] = {}  # 0: says nothing, 1: the key names Vertex/GCP, 2: its string value may name Vertex


def _key_kind(key: str) -> int:
    low = key.lower()
    kind = 1 if "vertex" in low or "gcp" in low else 2 if low in _VERTEX_VALUE_KEYS else 0
    if len(_KEY_KIND) < 10_000:
        _KEY_KIND[key] = kind
    return kind


_PART_KEYS: Final[frozenset[str]] = frozenset({"metadata", "request", "context", "client"})
# Key tuple of a Claude line -> ((key, kind) of the keys whose kind is not 0, whether it has one of _PART_KEYS).
_SHAPES: dict[tuple[str, ...], tuple[tuple[tuple[str, int], ...], bool]] = {}


def _shape(keys: tuple[str, ...]) -> tuple[tuple[tuple[str, int], ...], bool]:
    kinds = _KEY_KIND
    relevant = []
    for key in keys:
        kind = kinds.get(key)
        if kind is None:
            kind = _key_kind(key)
        if kind:
            relevant.append((key, kind))
    shape = (tuple(relevant), not _PART_KEYS.isdisjoint(keys))
    if len(_SHAPES) >= 1024:
        _SHAPES.clear()
    _SHAPES[keys] = shape
    return shape


def _shallow_vertex(obj: dict[str, Any], relevant: tuple[tuple[str, int], ...]) -> bool:
    """Return `_has_vertex_key` of obj's entries whose values are not objects or arrays (only `relevant` keys)."""
    for key, kind in relevant:
        value = obj[key]
        if isinstance(value, dict | list):
            continue
        if kind == 1 or (isinstance(value, str) and "vertex" in value.lower()):
            return True
    return False


def _is_vertex(line: bytes, obj: dict[str, Any], msg: dict[str, Any], model: str, mid: Any, rid: Any) -> bool:
    """Return True for a Vertex AI entry (reported by the Vertex provider, not in the Claude totals).

    The parsed checks run first and the byte checks of the raw line only when they hold (the same answer as the
    other way round, without scanning every line for the hints).
    """
    if ((isinstance(mid, str) and "_vrtx_" in mid) or (isinstance(rid, str) and "_vrtx_" in rid)) and (
        b"_vrtx_" in line
    ):
        return True
    if model.startswith("claude-") and "@" in model:
        return True
    keys = tuple(obj)
    shape = _SHAPES.get(keys)
    if shape is None:
        shape = _shape(keys)
    relevant, has_parts = shape
    if not (relevant and _shallow_vertex(obj, relevant)):
        parts = (obj.get("metadata"), obj.get("request"), obj.get("context"), obj.get("client")) if has_parts else ()
        for part in (*parts, msg.get("metadata"), msg.get("request")):
            if part is not None and _has_vertex_key(part):
                break
        else:
            return False
    return any(h in line for h in _VERTEX_HINTS)


_CHUNK_BYTES: Final[int] = 8 << 20
_FAR: Final[int] = 1 << 62  # "no further hit" position for the multi-needle search


class _Blocks:
    """Reads a file from its current position in large chunks and yields runs of complete lines.

    Each item is (buf, end): `buf[:end]` holds whole `\\n`-terminated lines (a line may be longer than the cap; the
    caller skips it). A partial last line is carried into the next chunk; when it grows past the cap without a newline
    it is skipped up to its newline without being kept in memory. `consumed` counts the bytes of complete lines only,
    so a partial last line (of any length) waits for the next scan.
    """

    __slots__ = ("_cap", "_chunk", "_fh", "_first", "consumed")

    def __init__(self, fh: IO[bytes], cap: int, chunk: int, expect: int = -1) -> None:
        self._fh = fh
        self._cap = cap
        self._chunk = max(chunk, 1)
        # A first read sized to the bytes expected (stat size - offset) saves allocating a whole chunk per file.
        self._first = min(self._chunk, expect + 1) if expect >= 0 else self._chunk
        self.consumed = 0

    def __iter__(self) -> Iterator[tuple[bytes, int]]:
        read = self._fh.read
        cap, chunk = self._cap, self._chunk
        carry = b""
        skipping = 0  # > 0: bytes of an over-long line read so far, its newline not yet seen
        size = self._first
        while True:
            data = read(size)
            size = chunk
            if not data:
                return
            if skipping:
                nl = data.find(b"\n")
                if nl < 0:
                    skipping += len(data)
                    continue
                self.consumed += skipping + nl + 1
                skipping = 0
                buf = data[nl + 1 :]
            else:
                buf = carry + data if carry else data
            last = buf.rfind(b"\n")
            if last < 0:
                carry = b""
                if len(buf) > cap:
                    skipping = len(buf)
                else:
                    carry = buf
                continue
            end = last + 1
            yield buf, end
            self.consumed += end
            carry = buf[end:]
            if len(carry) > cap:
                skipping, carry = len(carry), b""


class CostScanner:
    """Scans the Codex and Claude log roots into a `ScanState` (see the module docstring for the rules)."""

    def __init__(
        self,
        roots: CostRoots,
        tz: Any = "UTC",
        *,
        clock: Any = time.time,
        chunk_bytes: int = _CHUNK_BYTES,
        workers: int | None = None,
        parallel_min_bytes: int | None = None,
        start_method: str | None = None,
    ) -> None:
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
            raise ValueError(f"workers must be a positive integer or None, got {workers!r}")
        if start_method not in (None, "fork", "spawn", "forkserver"):
            raise ValueError(f"start_method must be fork, spawn, forkserver or None, got {start_method!r}")
        self.roots = roots
        self.days = DayKeys(zone(tz))
        self._clock = clock
        self._chunk = chunk_bytes
        self._workers = workers
        self._parallel_min = parallel_min_bytes
        self._start_method = start_method
        self._changed: set[tuple[str, int]] = set()
        self._claude_models: dict[str, str] = {}  # raw model id -> normalised (memos of normalise_model)
        self._codex_models: dict[str, str] = {}
        self.last_scan_workers = 0  # worker processes the last scan used (0: it parsed in this process only)

    # ---------------------------------------------------------------- public

    def scan(self, state: ScanState | None = None) -> tuple[ScanState, ChangedDays]:
        """Read what is new since `state` (None: a fresh state); return the updated state and the changed days."""
        if state is None:
            state = ScanState()
        self._changed = set()
        found = enumerate_files(self.roots)
        by_ident: dict[tuple[str, int, int], FileState] = {}
        for st in sorted(state.files.values(), key=lambda s: not s.gone):  # live states win over gone ones
            by_ident[(st.provider, st.dev, st.ino)] = st
        matched: set[int] = set()
        fresh: list[FoundFile] = []
        for fd in found:
            known = by_ident.get((fd.provider, fd.dev, fd.ino))
            if known is None or known.fid in matched:
                fresh.append(fd)
                continue
            matched.add(known.fid)
            self._update(state, known, fd)
        if fresh:
            fresh = self._match_moved_codex(state, fresh, matched)
        present = {fd.path for fd in found}
        for st in list(state.files.values()):
            if st.fid in matched or st.gone:
                continue
            if st.path in present:  # replaced by another file at the same path
                self._reset(state, st)
                del state.files[st.fid]
            else:
                st.gone = True
        new: list[tuple[FileState, FoundFile]] = []
        for fd in fresh:
            st = FileState(fid=state.next_fid, provider=fd.provider, path=fd.path, dev=fd.dev, ino=fd.ino)
            state.next_fid += 1
            state.files[st.fid] = st
            new.append((st, fd))
        self._parse_new(state, new)
        state.last_scan_epoch = float(self._clock())
        changed: ChangedDays = {}
        for provider, slot in self._changed:
            changed.setdefault(provider, set()).add(self.days.day(slot))
        self._changed = set()
        return state, changed

    # ---------------------------------------------------------------- file bookkeeping

    def _match_moved_codex(self, state: ScanState, fresh: list[FoundFile], matched: set[int]) -> list[FoundFile]:
        by_session: dict[str, FileState] = {}
        for st in state.files.values():
            if st.provider == "codex" and st.fid not in matched and st.codex is not None and st.codex.session_id:
                by_session.setdefault(st.codex.session_id, st)
        if not by_session:
            return fresh
        rest: list[FoundFile] = []
        for fd in fresh:
            sid = _codex_head_session(fd.path) if fd.provider == "codex" else None
            moved = by_session.pop(sid, None) if sid is not None else None
            if moved is None:
                rest.append(fd)
                continue
            matched.add(moved.fid)
            moved.dev, moved.ino = fd.dev, fd.ino
            moved.size, moved.mtime_ns = -1, -1  # force a look at the bytes: resume when the head matches
            self._update(state, moved, fd)
        return rest

    def _update(self, state: ScanState, st: FileState, fd: FoundFile) -> None:
        st.path = fd.path
        st.gone = False
        if fd.size == st.size and fd.mtime_ns == st.mtime_ns:
            return
        if fd.size < st.offset or (fd.size == st.size and st.offset >= fd.size) or not _head_matches(st, fd.path):
            self._reset(state, st)
        self._parse(state, st, fd)

    def _reset(self, state: ScanState, st: FileState) -> None:
        """Withdraw a file's contribution and forget how far it was read."""
        provider = st.provider
        totals = state.totals[provider]
        for bucket, counters in st.contrib.items():
            add_into(totals, bucket, counters, -1)
            self._changed.add((provider, bucket[0]))
        for key in list(st.claude_rows):
            self._claude_drop(state, st, key)
        st.contrib = {}
        st.claude_rows = {}
        st.codex = None
        st.offset = 0
        st.size = 0
        st.mtime_ns = 0
        st.head_len = 0
        st.head_crc = 0
        st.corrupt_lines = 0

    def _parse(self, state: ScanState, st: FileState, fd: FoundFile) -> None:
        try:
            fh = open(fd.path, "rb", buffering=0)  # noqa: SIM115 - closed below
        except OSError:
            return
        with fh:
            start = st.offset
            if start:
                fh.seek(start)
            cap = CODEX_LINE_CAP if st.provider == "codex" else CLAUDE_LINE_CAP
            blocks = _Blocks(fh, cap, self._chunk, max(fd.size - start, 0))
            if st.provider == "codex":
                self._parse_codex(state, st, blocks)
            else:
                self._parse_claude(state, st, blocks)
            st.offset = start + blocks.consumed
            if st.head_len < _HEAD_BYTES and st.offset > st.head_len:
                fh.seek(0)
                head = fh.read(min(_HEAD_BYTES, st.offset))
                st.head_len, st.head_crc = len(head), zlib.crc32(head)
        st.size, st.mtime_ns = fd.size, fd.mtime_ns

    # ---------------------------------------------------------------- new files, in parallel when it pays

    def _pool_size(self, new: list[tuple[FileState, FoundFile]], method: str) -> int:
        """Return how many worker processes to parse these never-seen files with (0: parse them here)."""
        least = self._parallel_min if self._parallel_min is not None else PARALLEL_MIN_BYTES[method]
        if len(new) < 2 or sum(fd.size for _, fd in new) < least:
            return 0
        workers = self._workers if self._workers is not None else min(_cpus(), MAX_WORKERS[method])
        return min(workers, len(new)) if workers > 1 else 0

    def _parse_new(self, state: ScanState, new: list[tuple[FileState, FoundFile]]) -> None:
        """Parse never-seen files in order; a large batch is parsed by worker processes and merged in file order.

        Worker processes parse files on their own (a file's parse does not depend on other files); the merge applies
        each file to the shared aggregate and the Claude de-duplication index as `_parse` would, so the state has
        the same contents and the same days change (dict orders may differ).
        """
        self.last_scan_workers = 0
        method = self._start_method or _default_start_method()
        workers = self._pool_size(new, method)
        done = 0
        if workers:
            done = self._parse_parallel(state, new, workers, method)
        for st, fd in new[done:]:
            self._parse(state, st, fd)

    def _parse_parallel(
        self, state: ScanState, new: list[tuple[FileState, FoundFile]], workers: int, method: str
    ) -> int:
        """Parse `new` with a process pool; return how many files (from the start) were merged."""
        total = sum(fd.size for _, fd in new)
        target = min(max(total // (workers * 8), 1 << 20), 32 << 20)  # bytes per task: balance vs. overhead
        tasks: list[list[_Task]] = [[]]
        size = 0
        for st, fd in new:
            if size >= target:
                tasks.append([])
                size = 0
            tasks[-1].append((st.provider, fd.path, fd.size, fd.mtime_ns))
            size += fd.size
        done = 0
        pool: ProcessPoolExecutor | None = None
        try:
            with warnings.catch_warnings():
                # Python 3.12+ warns about fork() when other (non-Python) threads may exist; "fork" is only picked
                # automatically when this process has a single Python thread.
                warnings.simplefilter("ignore", DeprecationWarning)
                pool = ProcessPoolExecutor(workers, multiprocessing.get_context(method), initializer=_worker_init,
                                           initargs=(self._chunk,))
                results = pool.map(_worker_parse, tasks)  # starts the processes
            self.last_scan_workers = workers
            for batch in results:
                for result in batch:
                    st, _ = new[done]
                    self._merge(state, st, result)
                    done += 1
        except (OSError, BrokenExecutor) as exc:
            # No usable pool (resource limits, a sandbox, a killed worker): the rest is parsed in this process.
            log.warning("cost scan: worker processes failed (%s); parsing in-process", type(exc).__name__)
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
        return done

    def _merge(self, state: ScanState, st: FileState, result: _Result) -> None:
        """Apply one file's worker result to the state as `_parse` would have (the same contents and changed days).

        A file's per-bucket sums (Codex rows, Claude rows without ids) are added as sums. A Claude key no earlier file
        holds takes its last row, and every row it had marks its day; a key another file holds replays its rows.
        """
        offset, head_len, head_crc, corrupt, size, mtime_ns, contrib, cursor, rows, multi = result
        st.offset, st.head_len, st.head_crc, st.corrupt_lines = offset, head_len, head_crc, corrupt
        st.size, st.mtime_ns = size, mtime_ns
        provider = st.provider
        if cursor is not None:
            st.codex = CodexCursor.from_json(cursor)
        totals = state.totals[provider]
        changed = self._changed
        for bucket, counters in contrib:
            add_pos(st.contrib, bucket, counters)
            add_pos(totals, bucket, counters)
            changed.add((provider, bucket[0]))
        if not rows:
            return
        index = state.claude_index
        mine = st.claude_rows
        fid = st.fid
        for key, row in rows:
            seq = multi.get(key)
            if key in index:
                for each in seq or (row,):
                    self._claude_put(state, st, key, each)
                continue
            index[key] = [fid]
            mine[key] = row
            add_into(totals, (row[0], row[1], row[2]), row[4:])
            changed.add(("claude", row[0]))
            if seq:
                for each in seq:
                    changed.add(("claude", each[0]))

    def _add(self, state: ScanState, st: FileState, slot: int, band: int, model: str, counters: list[int]) -> None:
        key = (slot, band, model)
        add_pos(st.contrib, key, counters)
        add_pos(state.totals[st.provider], key, counters)
        self._changed.add((st.provider, slot))

    # ---------------------------------------------------------------- Claude

    def _claude_put(self, state: ScanState, st: FileState, key: str, row: list[Any]) -> None:
        """Insert or overwrite a keyed row; the aggregate follows the key's winner (non-sidechain, parent, path)."""
        totals = state.totals["claude"]
        cands = state.claude_index.get(key)
        if cands is None:
            state.claude_index[key] = [st.fid]
            st.claude_rows[key] = row
            add_into(totals, (row[0], row[1], row[2]), row[4:])
            self._changed.add(("claude", row[0]))
            return
        files = state.files
        old = files[cands[0]].claude_rows[key]
        st.claude_rows[key] = row
        if st.fid not in cands:
            cands.append(st.fid)
        if len(cands) > 1:
            cands.sort(key=lambda fid: (files[fid].claude_rows[key][3], files[fid].path, fid))
        new = files[cands[0]].claude_rows[key]
        if new is not old:
            add_into(totals, (old[0], old[1], old[2]), old[4:], -1)
            add_into(totals, (new[0], new[1], new[2]), new[4:])
            self._changed.add(("claude", old[0]))
            self._changed.add(("claude", new[0]))

    def _claude_drop(self, state: ScanState, st: FileState, key: str) -> None:
        cands = state.claude_index.get(key)
        row = st.claude_rows.pop(key)
        if not cands or st.fid not in cands:
            return
        was_winner = cands[0] == st.fid
        cands.remove(st.fid)
        if was_winner:
            totals = state.totals["claude"]
            add_into(totals, (row[0], row[1], row[2]), row[4:], -1)
            self._changed.add(("claude", row[0]))
            if cands:
                new = state.files[cands[0]].claude_rows[key]
                add_into(totals, (new[0], new[1], new[2]), new[4:])
                self._changed.add(("claude", new[0]))
        if not cands:
            del state.claude_index[key]

    def _parse_claude(self, state: ScanState, st: FileState, blocks: _Blocks) -> None:
        subagent = 1 if "/subagents/" in st.path.replace("\\", "/") else 0
        loads = orjson.loads
        cap = CLAUDE_LINE_CAP
        for buf, end in blocks:
            find = buf.find
            hit = find(b'"usage"', 0, end)
            while hit >= 0:
                s = buf.rfind(b"\n", 0, hit) + 1
                e = find(b"\n", hit, end)
                hit = find(b'"usage"', e + 1, end)
                if e - s > cap:
                    continue
                if find(b'"type":"assistant"', s, e) < 0 and find(b'"type": "assistant"', s, e) < 0:
                    continue
                line = buf[s:e]
                try:
                    obj = loads(line)
                except orjson.JSONDecodeError:
                    st.corrupt_lines += 1
                    continue
                if not isinstance(obj, dict):
                    st.corrupt_lines += 1
                    continue
                self._claude_line(state, st, line, obj, subagent)

    def _claude_line(self, state: ScanState, st: FileState, line: bytes, obj: dict[str, Any], subagent: int) -> None:
        if obj.get("type") != "assistant":
            return
        msg = obj.get("message")
        if not isinstance(msg, dict):
            return
        usage = msg.get("usage")
        model = msg.get("model")
        ts = obj.get("timestamp")
        if not isinstance(usage, dict) or not isinstance(model, str) or not model or not isinstance(ts, str):
            return
        slot = slot_of(ts)
        if slot is None:
            return
        get = usage.get
        # `_int` inlined for plain in-range integers
        inp = get("input_tokens")
        inp = inp if type(inp) is int and 0 <= inp < _MAX_TOKENS else _int(inp)
        cread = get("cache_read_input_tokens")
        cread = cread if type(cread) is int and 0 <= cread < _MAX_TOKENS else _int(cread)
        cwrite = get("cache_creation_input_tokens")
        cwrite = cwrite if type(cwrite) is int and 0 <= cwrite < _MAX_TOKENS else _int(cwrite)
        out = get("output_tokens")
        out = out if type(out) is int and 0 <= out < _MAX_TOKENS else _int(out)
        if not (inp or cread or cwrite or out):
            return
        mid, rid = msg.get("id"), obj.get("requestId")
        if _is_vertex(line, obj, msg, model, mid, rid):
            return
        detail = get("cache_creation")
        one_hour = min(_int(detail.get("ephemeral_1h_input_tokens")), cwrite) if isinstance(detail, dict) else 0
        whole = inp + cread + cwrite
        band = 0 if whole <= _BAND0 else 1 if whole <= _BAND1 else 2  # band_for, inlined
        norm = self._claude_models.get(model)
        if norm is None:
            norm = normalise_model("claude", model)
            if len(self._claude_models) < 4096:
                self._claude_models[model] = norm
        if not (isinstance(mid, str) and mid and isinstance(rid, str) and rid):
            self._add(state, st, slot, band, norm, [inp, cread, cwrite - one_hour, one_hour, out, 0])
            return
        side = obj.get("isSidechain")
        rank = (2 if side is True or (type(side) in (int, float) and side != 0) else 0) + subagent
        self._claude_put(state, st, f"{mid}:{rid}", [slot, band, norm, rank, inp, cread, cwrite - one_hour, one_hour,
                                                     out, 0])

    # ---------------------------------------------------------------- Codex

    def _parse_codex(self, state: ScanState, st: FileState, blocks: _Blocks) -> None:
        cur = st.codex
        if cur is None:
            cur = st.codex = CodexCursor()
        loads = orjson.loads
        cap = CODEX_LINE_CAP
        far = _FAR
        for buf, end in blocks:
            # The next line holding each marker; a line with several is the first kind in this order.
            find = buf.find
            p_tc = find(b'"token_count"', 0, end)
            p_tc = far if p_tc < 0 else p_tc
            p_ctx = find(b'"turn_context"', 0, end)
            p_ctx = far if p_ctx < 0 else p_ctx
            p_sm = far if cur.meta_seen else find(b'"session_meta"', 0, end)
            p_sm = far if p_sm < 0 else p_sm
            while True:
                hit = min(p_tc, p_ctx, p_sm)
                if hit == far:
                    break
                s = buf.rfind(b"\n", 0, hit) + 1
                e = find(b"\n", hit, end)
                kind = 0 if p_tc < e else 1 if p_ctx < e else 2
                nxt = e + 1
                if p_tc < nxt:
                    p_tc = find(b'"token_count"', nxt, end)
                    p_tc = far if p_tc < 0 else p_tc
                if p_ctx < nxt:
                    p_ctx = find(b'"turn_context"', nxt, end)
                    p_ctx = far if p_ctx < 0 else p_ctx
                if p_sm < nxt:
                    p_sm = find(b'"session_meta"', nxt, end)
                    p_sm = far if p_sm < 0 else p_sm
                if e - s > cap:
                    continue
                try:
                    obj = loads(buf[s:e])
                except orjson.JSONDecodeError:
                    st.corrupt_lines += 1
                    continue
                if not isinstance(obj, dict):
                    st.corrupt_lines += 1
                    continue
                payload = obj.get("payload")
                if not isinstance(payload, dict):
                    continue
                root_type = obj.get("type")
                if kind == 0:
                    if root_type == "event_msg" and payload.get("type") == "token_count":
                        self._codex_tokens(state, st, cur, obj, payload)
                elif kind == 1:
                    if root_type == "turn_context":
                        _codex_turn_context(cur, payload)
                elif root_type == "session_meta":
                    _codex_session_meta(cur, obj, payload)
                    p_sm = far  # only the first session_meta counts

    def _codex_tokens(
        self, state: ScanState, st: FileState, cur: CodexCursor, obj: dict[str, Any], payload: dict[str, Any]
    ) -> None:
        info = payload.get("info")
        if not isinstance(info, dict):
            return
        ts = obj.get("timestamp")
        slot = slot_of(ts) if isinstance(ts, str) else None
        if slot is None:
            return
        total = _codex_usage(info.get("total_token_usage"))
        last = _codex_usage(info.get("last_token_usage"))
        if total is None and last is None:
            return
        if cur.fork_epoch is not None and isinstance(ts, str):
            when = epoch_of(ts)
            if when is not None and when <= cur.fork_epoch:
                _codex_baseline(cur, total, last)  # history copied from the parent session
                return
        delta = _codex_delta(cur, total, last)
        if delta is None or not (delta[0] or delta[1] or delta[2]):
            return
        model = cur.model
        if model is None:
            for candidate in (info.get("model"), info.get("model_name"), payload.get("model"), obj.get("model")):
                if isinstance(candidate, str) and candidate:
                    model = candidate
                    break
        if model:
            norm = self._codex_models.get(model)
            if norm is None:
                norm = normalise_model("codex", model)
                if len(self._codex_models) < 4096:
                    self._codex_models[model] = norm
        else:
            norm = "unknown"
        if "/" in norm:
            return  # another provider's model routed through Codex
        inp, cached, out, reasoning = delta
        if cached > inp:
            cached = inp
        band = 0 if inp <= _BAND0 else 1 if inp <= _BAND1 else 2  # band_for, inlined
        self._add(state, st, slot, band, norm, [inp - cached, cached, 0, 0, out, reasoning if reasoning < out else out])


# ---------------------------------------------------------------- worker processes

# A task is a run of never-seen files: (provider, path, size, mtime_ns). A result per file is (offset, head_len,
# head_crc, corrupt_lines, size, mtime_ns, per-bucket sums of unkeyed rows, Codex cursor JSON, Claude keys with their
# last rows, Claude keys seen more than once with all their rows).
_Task = tuple[Provider, str, int, int]
_Result = tuple[int, int, int, int, int, int, list[tuple[BucketKey, list[int]]], dict[str, Any] | None,
                list[tuple[str, list[Any]]], dict[str, list[list[Any]]]]


class _Recorder(CostScanner):
    """The parser of a worker process: sums a file's unkeyed rows and keeps each Claude key's rows, for `_merge`."""

    def __init__(self, chunk_bytes: int) -> None:
        super().__init__(CostRoots(), "UTC", chunk_bytes=chunk_bytes)
        self.rows: dict[str, list[Any]] = {}  # Claude key -> its last row (keys in first-seen order)
        self.multi: dict[str, list[list[Any]]] = {}  # Claude key seen more than once -> all its rows in order

    def _add(self, state: ScanState, st: FileState, slot: int, band: int, model: str, counters: list[int]) -> None:
        add_pos(st.contrib, (slot, band, model), counters)

    def _claude_put(self, state: ScanState, st: FileState, key: str, row: list[Any]) -> None:
        prev = self.rows.get(key)
        if prev is not None:
            seq = self.multi.get(key)
            if seq is None:
                self.multi[key] = [prev, row]
            else:
                seq.append(row)
        self.rows[key] = row


_RECORDER: _Recorder | None = None


def _worker_init(chunk_bytes: int) -> None:
    global _RECORDER
    _RECORDER = _Recorder(chunk_bytes)


def _worker_parse(task: list[_Task]) -> list[_Result]:
    """Parse a run of never-seen files from their start (in a worker process)."""
    rec = _RECORDER if _RECORDER is not None else _Recorder(_CHUNK_BYTES)
    scratch = ScanState()
    out: list[_Result] = []
    for provider, path, size, mtime_ns in task:
        st = FileState(fid=0, provider=provider, path=path, dev=0, ino=0)
        rec.rows, rec.multi = {}, {}
        rec._parse(scratch, st, FoundFile(provider, path, 0, 0, size, mtime_ns))
        cursor = st.codex.to_json() if st.codex is not None else None
        out.append((st.offset, st.head_len, st.head_crc, st.corrupt_lines, st.size, st.mtime_ns,
                    list(st.contrib.items()), cursor, list(rec.rows.items()), rec.multi))
    return out


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _default_start_method() -> str:
    """fork on Linux when this process runs a single Python thread (cheap start), else spawn (always safe)."""
    if sys.platform.startswith("linux") and threading.active_count() == 1:
        return "fork"
    return "spawn"


def _codex_head_session(path: str) -> str | None:
    """Return the session id of a Codex file's first `session_meta` line (read from its first 64 KiB)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
    except OSError:
        return None
    for line in head.split(b"\n")[:-1]:
        if b'"session_meta"' not in line:
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(obj, dict) and obj.get("type") == "session_meta" and isinstance(obj.get("payload"), dict):
            cur = CodexCursor()
            _codex_session_meta(cur, obj, obj["payload"])
            return cur.session_id
    return None


def _head_matches(st: FileState, path: str) -> bool:
    if st.head_len == 0:
        return True
    try:
        with open(path, "rb") as fh:
            head = fh.read(st.head_len)
    except OSError:
        return False
    return len(head) == st.head_len and zlib.crc32(head) == st.head_crc


def _codex_session_meta(cur: CodexCursor, obj: dict[str, Any], payload: dict[str, Any]) -> None:
    cur.meta_seen = True
    for source in (payload, obj):
        for name in ("id", "session_id", "sessionId"):
            sid = _str(source.get(name))
            if sid is not None:
                cur.session_id = sid
                break
        if cur.session_id is not None:
            break
    parent = None
    for name in ("forked_from_id", "forkedFromId", "parent_session_id", "parentSessionId"):
        parent = _str(payload.get(name))
        if parent is not None:
            break
    if parent is not None:
        stamp = _str(payload.get("timestamp")) or _str(obj.get("timestamp"))
        cur.fork_epoch = epoch_of(stamp) if stamp is not None else None


def _codex_turn_context(cur: CodexCursor, payload: dict[str, Any]) -> None:
    info = payload.get("info")
    info = info if isinstance(info, dict) else {}
    for source, name in ((payload, "model"), (payload, "model_name"), (info, "model"), (info, "model_name")):
        if name in source:
            value = source[name]
            if isinstance(value, str):
                cur.model = value.strip() or None
                return


def _seen_keys(cur: CodexCursor) -> set[tuple[int, ...]]:
    """Return the set mirror of `cur.seen` (rebuilt when it is missing or out of step)."""
    keys = cur.seen_keys
    if keys is None or len(keys) != len(cur.seen):
        keys = cur.seen_keys = {tuple(s) for s in cur.seen}
    return keys


def _codex_remember(cur: CodexCursor, total: list[int]) -> None:
    wm = cur.watermark
    t0, t1, t2, t3 = total
    if wm is None:
        cur.watermark = [t0, t1, t2, t3]
    else:
        w0, w1, w2, w3 = wm
        cur.watermark = [w0 if w0 >= t0 else t0, w1 if w1 >= t1 else t1, w2 if w2 >= t2 else t2,
                         w3 if w3 >= t3 else t3]
    cur.prev_total = [t0, t1, t2, t3]
    key = (t0, t1, t2)
    keys = _seen_keys(cur)
    if key not in keys:
        seen = cur.seen
        seen.append([t0, t1, t2])
        keys.add(key)
        if len(seen) > _SEEN_TOTALS:
            keys.discard(tuple(seen.pop(0)))


def _codex_baseline(cur: CodexCursor, total: list[int] | None, last: list[int] | None) -> None:
    """Take a copied (pre-fork) event as already counted."""
    if total is not None:
        cur.counted = [max(a, b) for a, b in zip(cur.counted, total, strict=True)]
        _codex_remember(cur, total)
    elif last is not None:
        cur.counted = [a + b for a, b in zip(cur.counted, last, strict=True)]
        cur.watermark = list(cur.counted)


def _codex_delta(cur: CodexCursor, total: list[int] | None, last: list[int] | None) -> list[int] | None:
    """Return the tokens one `token_count` event adds, updating the cursor (None: a repeat to skip)."""
    wm = cur.watermark
    if total is not None:
        if (total[0], total[1], total[2]) in _seen_keys(cur):
            return None
        if wm is not None and (total[0] < wm[0] or total[1] < wm[1] or total[2] < wm[2]):
            cur.interleaved = True
    counted = cur.counted
    if total is None:
        assert last is not None
        delta = list(last)
        cur.counted = [a + b for a, b in zip(counted, delta, strict=True)]
        cur.watermark = cur.counted if wm is None else [max(a, b) for a, b in zip(wm, cur.counted, strict=True)]
        return delta
    if cur.interleaved:
        base = wm or [0, 0, 0, 0]
        delta = [
            max(0, t - max(w, c)) if t >= w else max(0, t - c) for t, w, c in zip(total, base, counted, strict=True)
        ]
        if last is not None:
            delta = [min(d, x) for d, x in zip(delta, last, strict=True)]
    elif last is not None:
        # The difference to the watermark when it is consistent with `last_token_usage`, else `last` itself.
        delta = list(last)
        if wm is not None and not cur.divergent:
            t0, t1, t2, t3 = total
            w0, w1, w2, w3 = wm
            if t0 >= w0 and t1 >= w1 and t2 >= w2 and t3 >= w3:
                d0, d1, d2, d3 = t0 - w0, t1 - w1, t2 - w2, t3 - w3
                if d0 <= last[0] and d1 <= last[1] and d2 <= last[2] and d3 <= last[3]:
                    delta = [d0, d1, d2, d3]
    elif not cur.divergent:
        delta = [max(0, t - w) for t, w in zip(total, wm or [0, 0, 0, 0], strict=True)]
    else:
        prev = cur.prev_total or [0, 0, 0, 0]
        delta = [t - p if t >= p else max(0, t - c) for t, p, c in zip(total, prev, counted, strict=True)]
    new = [counted[0] + delta[0], counted[1] + delta[1], counted[2] + delta[2], counted[3] + delta[3]]
    cur.counted = new
    if new[0] != total[0] or new[1] != total[1] or new[2] != total[2]:
        cur.divergent = True
    _codex_remember(cur, total)
    return delta
