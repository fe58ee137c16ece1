"""The gateway's on-disk spool: a snapshot is on local disk before it is sent, and leaves the
disk only after the server answered 2xx.

Each entry is one file ``<sequence>-<key hash>.snap``: a JSON header line (turbine, content
type, Idempotency-Key, query parameters) followed by the request body, written to a temporary
name, fsynced, renamed and its directory fsynced, so a crash leaves either the whole entry or
none (stray temporary files are removed on open). Entries are sent oldest first with the key
they were spooled with, so a retry after a restart is a replay on the server, never a second
copy.

A full spool (``max_bytes`` or ``max_files``) **refuses new snapshots**: ``put`` logs an error
and raises ``SpoolFull``, and nothing already spooled is dropped. Condition monitoring needs
the old snapshots as much as the new ones (trends, baselines), and the caller (the acquisition
loop) is the one that can decide to pause, alert or discard; a spool that silently dropped the
oldest would hide an outage. A snapshot the server refuses for good (a 4xx other than 408/429)
is moved to ``rejected/`` with a logged error, not retried forever and not deleted.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from simulation.gateway import GatewayClient, PreparedPost

log = logging.getLogger(__name__)
RETRYABLE_4XX = (408, 429)


class SpoolFull(RuntimeError):
    """The spool holds ``max_bytes`` or ``max_files`` already; the snapshot was not taken."""


@dataclass(frozen=True)
class Entry:
    """One spooled snapshot: its file and its header (size is the file's, in bytes)."""

    path: Path
    post: PreparedPost
    size: int


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    """A FIFO of prepared posts under ``directory`` (created), bounded in bytes and files."""

    def __init__(self, directory: Path | str, max_bytes: int = 1 << 30, max_files: int = 10_000):
        self.dir = Path(directory)
        self.rejected_dir = self.dir / "rejected"
        self.rejected_dir.mkdir(parents=True, exist_ok=True)
        self.max_bytes, self.max_files = max_bytes, max_files
        for stray in self.dir.glob("*.tmp"):  # a put that crashed before its rename
            stray.unlink(missing_ok=True)
        seqs = [int(p.name.split("-", 1)[0]) for p in self.dir.glob("*.snap")]
        self._seq = itertools.count(max(seqs, default=0) + 1)

    def entries(self) -> list[Entry]:
        """Every spooled snapshot, oldest first."""
        return [self._load(p) for p in sorted(self.dir.glob("*.snap"))]

    def usage(self) -> tuple[int, int]:
        """(bytes, files) held."""
        sizes = [p.stat().st_size for p in self.dir.glob("*.snap")]
        return sum(sizes), len(sizes)

    def put(self, post: PreparedPost) -> Entry:
        """Spool one post durably; the same Idempotency-Key twice is one entry. ``SpoolFull``
        (logged) when it does not fit: nothing is dropped to make room."""
        tag = hashlib.sha256(post.idempotency_key.encode()).hexdigest()[:24]
        for existing in self.dir.glob(f"*-{tag}.snap"):
            return self._load(existing)
        header = json.dumps({"turbine_id": post.turbine_id, "content_type": post.content_type,
                             "idempotency_key": post.idempotency_key, "params": post.params})
        data = header.encode() + b"\n" + post.body
        used, files = self.usage()
        if files + 1 > self.max_files or used + len(data) > self.max_bytes:
            log.error("spool full (%d files, %d bytes; limits %d, %d): snapshot %s of %s "
                      "refused", files, used, self.max_files, self.max_bytes,
                      post.idempotency_key, post.turbine_id)
            raise SpoolFull(f"spool {self.dir} is full ({files} files, {used} bytes)")
        path = self.dir / f"{next(self._seq):012d}-{tag}.snap"
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(self.dir)
        return Entry(path, post, len(data))

    def remove(self, entry: Entry) -> None:
        """Forget an entry the server acknowledged."""
        entry.path.unlink(missing_ok=True)
        _fsync_dir(self.dir)

    def reject(self, entry: Entry, status: int, detail: str) -> None:
        """Set aside an entry the server refused for good (kept under ``rejected/``)."""
        log.error("snapshot %s of %s refused with %d, moved to %s: %s",
                  entry.post.idempotency_key, entry.post.turbine_id, status, self.rejected_dir,
                  detail[:300])
        os.replace(entry.path, self.rejected_dir / entry.path.name)

    def _load(self, path: Path) -> Entry:
        raw = path.read_bytes()
        header, body = raw.split(b"\n", 1)
        h = json.loads(header)
        return Entry(path, PreparedPost(h["turbine_id"], body, h["content_type"],
                                        h["idempotency_key"], h["params"]), len(raw))


@dataclass
class FlushResult:
    """What one ``flush`` did: acknowledged, set aside as rejected, still spooled."""

    sent: int = 0
    rejected: int = 0
    remaining: int = 0


def flush(client: GatewayClient, spool: Spool, max_wait_s: float = 60.0,
          sleep: Callable[[float], None] = time.sleep) -> FlushResult:
    """Send the spooled snapshots oldest first until the spool is empty or ``max_wait_s`` of
    backoff has been spent on one snapshot: exponential backoff on connection errors, 5xx, 408
    and 429, at least the server's ``Retry-After``. An entry leaves the spool only after a 2xx
    (or a definitive 4xx, which sets it aside)."""
    result = FlushResult()
    for entry in spool.entries():
        waited, attempt = 0.0, 0
        while True:
            response = None
            try:
                response = client.send_once(entry.post)
            except httpx.TransportError as exc:
                log.warning("spool: %s not sent: %r", entry.path.name, exc)
            if response is not None and response.is_success:
                spool.remove(entry)
                result.sent += 1
                break
            if response is not None and response.status_code < 500 \
                    and response.status_code not in RETRYABLE_4XX:
                spool.reject(entry, response.status_code, response.text)
                result.rejected += 1
                break
            delay = client.delay_s(attempt, response)
            if waited + delay > max_wait_s:
                result.remaining = len(spool.entries())
                return result
            sleep(delay)
            waited, attempt = waited + delay, attempt + 1
    result.remaining = len(spool.entries())
    return result
