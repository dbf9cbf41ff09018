"""Run history: every result in one SQLite file, ``results_dir()/history.sqlite``.

Each record goes in with one transaction (WAL mode, synchronous=FULL), so a run killed
half-way leaves either the whole record or nothing. Each row carries a *job key*: a content
hash of what makes two runs "the same job" (model bytes, recipe, runtime, board, target,
memory limits, workload parameters, run counts, tool version and git revision). A resumed
sweep asks ``has(key)`` and skips what is already stored.

    add_result(record)                       # validates, stores, returns the job key
    has(job_key) -> bool
    query(model=..., runtime=..., since=...) # newest first
    get(id_or_prefix) -> record
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator

from mcubench.core.errors import UserError
from mcubench.core.fileio import check_writable
from mcubench.core.paths import results_dir
from mcubench.results.record import Record
from mcubench.results.schema import validate

DB_VERSION = 1

_DDL = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    id TEXT PRIMARY KEY,
    job_key TEXT NOT NULL,
    created TEXT NOT NULL,
    git_hash TEXT,
    tool_version TEXT NOT NULL,
    model TEXT NOT NULL,
    model_sha256 TEXT,
    variant TEXT,
    recipe TEXT,
    runtime TEXT NOT NULL,
    board TEXT NOT NULL,
    target TEXT NOT NULL,
    memory_of TEXT,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS results_job_key ON results (job_key);
CREATE INDEX IF NOT EXISTS results_created ON results (created);
CREATE INDEX IF NOT EXISTS results_git_hash ON results (git_hash);
"""


def default_path() -> Path:
    return results_dir() / "history.sqlite"


@dataclass(frozen=True)
class JobIdentity:
    """What makes two runs the same job. A sweep builds this before running to skip done jobs."""

    model_sha256: str  # the model's bytes (for built-in workloads: the workload name)
    recipe: str | None
    runtime: str
    board: str
    target: str
    memory_of: str | None
    workload_params: dict[str, Any]
    tool_version: str
    git_hash: str | None
    warmup: int | None = None
    runs: int | None = None
    variant: str | None = None

    def key(self) -> str:
        canonical = json.dumps(self.__dict__, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def job_identity_of(record: Record) -> JobIdentity:
    ident = record["identity"]
    return JobIdentity(
        model_sha256=ident["model"]["sha256"] or f"builtin:{ident['workload']['name']}",
        recipe=ident.get("recipe"),
        runtime=ident["runtime"],
        board=ident["board"],
        target=ident["target"],
        memory_of=ident.get("memory_of"),
        workload_params=dict(ident["workload"]["params"]),
        tool_version=ident["tool_version"],
        git_hash=ident.get("git_hash"),
        warmup=record["latency"]["warmup"],
        runs=len(record["latency"]["runs"]),
        variant=ident.get("variant"),
    )


def job_key(record: Record) -> str:
    return job_identity_of(record).key()


class History:
    """One SQLite history file. Opens a connection per operation, so threads and processes
    (parallel sweep workers) can share the file; SQLite serialises the writers."""

    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path is not None else default_path()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
        except sqlite3.Error as exc:
            raise UserError(f"{self.path}: cannot open the history database ({exc})", "check the path and its permissions (MCUBENCH_RESULTS)") from None
        with closing(conn):
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
                conn.executescript(_DDL)
                row = conn.execute("SELECT value FROM meta WHERE key='db_version'").fetchone()
                if row is None:
                    conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('db_version', ?)", (str(DB_VERSION),))
                elif int(row[0]) > DB_VERSION:
                    raise UserError(f"{self.path}: history version {row[0]} is newer than this mcubench understands ({DB_VERSION})",
                                    "upgrade mcubench, or point MCUBENCH_RESULTS at another directory")
            except sqlite3.DatabaseError as exc:
                raise UserError(f"{self.path}: not a usable history database ({exc})", "move it aside; a new one is created on the next run") from None
            yield conn

    def check_usable(self) -> None:
        """Opens the history once, so a damaged or unwritable one is refused before a run's work,
        not after it (a finished measurement must not be lost to it)."""
        check_writable(self.path, "the history")
        with self._connect():
            pass

    def add(self, record: Record, key: str | None = None) -> str:
        """Validate and store ``record`` in one transaction; return its job key.

        ``key`` overrides the job key computed from the record (a sweep passes the key of its
        job spec so it can find the job again before running it).
        """
        validate(record, where=f"result {record.get('id', '?') if isinstance(record, dict) else '?'}")
        key = key or job_key(record)
        ident = record["identity"]
        row = (
            record["id"], key, parse_since(record["created"]), ident.get("git_hash"), ident["tool_version"],
            ident["model"]["name"], ident["model"]["sha256"], ident.get("variant"), ident.get("recipe"),
            ident["runtime"], ident["board"], ident["target"], ident.get("memory_of"),
            json.dumps(record, sort_keys=False, separators=(",", ":")),
        )
        with self._connect() as conn:
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("INSERT INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", row)
                conn.execute("COMMIT")
            except sqlite3.IntegrityError:
                conn.execute("ROLLBACK")
                raise UserError(f"result {record['id']} is already in the history ({self.path})", "each result is stored once") from None
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        return key

    def has(self, key: str) -> bool:
        with self._connect() as conn:
            return conn.execute("SELECT 1 FROM results WHERE job_key=? LIMIT 1", (key,)).fetchone() is not None

    def keys(self) -> set[str]:
        with self._connect() as conn:
            return {k for (k,) in conn.execute("SELECT DISTINCT job_key FROM results")}

    def count(self) -> int:
        with self._connect() as conn:
            return conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]

    def query(
        self,
        model: str | None = None,
        runtime: str | None = None,
        board: str | None = None,
        recipe: str | None = None,
        target: str | None = None,
        since: str | datetime | None = None,
        git_hash: str | None = None,
        job_key: str | None = None,
        limit: int | None = None,
    ) -> list[Record]:
        """Records matching every given filter, newest first. ``model`` matches the name or a
        sha256 prefix; ``since`` is an ISO date/time or an age such as ``7d``/``12h``."""
        where, params = [], []
        if model:
            where.append("(model = ? OR model_sha256 LIKE ?)")
            params += [model, model.lower() + "%"]
        for column, value in (("runtime", runtime), ("board", board), ("recipe", recipe), ("target", target), ("job_key", job_key)):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        if git_hash:
            where.append("git_hash LIKE ?")
            params.append(git_hash + "%")
        if since:
            where.append("created >= ?")
            params.append(parse_since(since))
        sql = "SELECT record FROM results"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created DESC, rowid DESC"
        if limit:
            sql += " LIMIT ?"
            params.append(int(limit))
        with self._connect() as conn:
            return [json.loads(text) for (text,) in conn.execute(sql, params)]

    def get(self, ident: str) -> Record:
        """A record by its id, or a unique prefix of it (at least 4 characters)."""
        record = self.find(ident)
        if record is None:
            raise UserError(f"no result with id `{ident.strip().lower()}` in {self.path}", "list them with `mcubench history`")
        return record

    def find(self, ident: str) -> Record | None:
        """Like ``get``, but None when no result has that id. A damaged history, an ambiguous
        prefix or a malformed id are still errors: they must not read as "no such result"."""
        ident = ident.strip().lower()
        if len(ident) < 4 or not re.fullmatch(r"[0-9a-f-]+", ident):
            raise UserError(f"`{ident}` is not a result id", "give at least 4 characters of an id from `mcubench history`")
        with self._connect() as conn:
            rows = conn.execute("SELECT id, record FROM results WHERE id LIKE ? LIMIT 3", (ident + "%",)).fetchall()
        if len(rows) > 1:
            raise UserError(f"`{ident}` matches several results ({', '.join(r[0] for r in rows)})", "give more characters of the id")
        return json.loads(rows[0][1]) if rows else None


_AGE = re.compile(r"^(\d+)\s*([smhdw])$")


def parse_since(since: str | datetime) -> str:
    """An ISO timestamp (UTC) from ``2026-01-31``, ``2026-01-31T12:00``, ``7d``, ``12h``..."""
    if isinstance(since, datetime):
        moment = since
    else:
        text = since.strip()
        age = _AGE.match(text)
        if age:
            seconds = int(age.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[age.group(2)]
            moment = datetime.now(timezone.utc) - timedelta(seconds=seconds)
        else:
            try:
                moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                raise UserError(f"--since {since!r} is neither a date nor an age", "e.g. --since 2026-01-31, --since 7d or --since 12h") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def add_result(record: Record, key: str | None = None, path: Path | str | None = None) -> str:
    """Store a result in the default history (what `mcubench bench` calls)."""
    return History(path).add(record, key)


def has(key: str, path: Path | str | None = None) -> bool:
    return History(path).has(key)
