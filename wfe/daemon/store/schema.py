"""The database schema, as an ordered list of migrations.

Each migration runs once, in order, inside one transaction; `PRAGMA user_version` records
how many have run. Append new migrations; never edit one that has shipped.
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: list[str] = [
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE users (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        is_admin INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL
    );
    CREATE TABLE tokens (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id),
        name TEXT NOT NULL DEFAULT '',
        hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        revoked_at TEXT
    );
    CREATE TABLE templates (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        status TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        spec TEXT NOT NULL,
        owner TEXT NOT NULL,
        created_at TEXT NOT NULL,
        published_at TEXT,
        UNIQUE (name, version)
    );
    CREATE INDEX templates_status ON templates (status, name, version);
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        template_id TEXT NOT NULL REFERENCES templates(id),
        status TEXT NOT NULL,
        paused_from TEXT,
        input TEXT NOT NULL,
        trigger_type TEXT NOT NULL,
        current_step INTEGER NOT NULL DEFAULT 0,
        reason TEXT,
        last_seq INTEGER NOT NULL DEFAULT 0,
        last_hash TEXT NOT NULL DEFAULT '',
        recoveries INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT,
        updated_at TEXT NOT NULL,
        heartbeat_at TEXT,
        wake_at REAL
    );
    CREATE INDEX runs_owner ON runs (owner, created_at DESC);
    CREATE INDEX runs_owner_status ON runs (owner, status, created_at DESC);
    CREATE INDEX runs_status ON runs (status, created_at);
    CREATE INDEX runs_wake ON runs (wake_at) WHERE wake_at IS NOT NULL;
    CREATE TABLE steps (
        run_id TEXT NOT NULL REFERENCES runs(id),
        idx INTEGER NOT NULL,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        attempt INTEGER NOT NULL DEFAULT 0,
        started_at TEXT,
        finished_at TEXT,
        output TEXT,
        error TEXT,
        exit_code INTEGER,
        log_tail TEXT,
        wake_at REAL,
        PRIMARY KEY (run_id, idx)
    ) WITHOUT ROWID;
    CREATE TABLE step_attempts (
        run_id TEXT NOT NULL,
        idx INTEGER NOT NULL,
        attempt INTEGER NOT NULL,
        status TEXT NOT NULL,
        epoch INTEGER NOT NULL,
        pgid INTEGER,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        exit_code INTEGER,
        error TEXT,
        log_path TEXT,
        log_tail TEXT,
        PRIMARY KEY (run_id, idx, attempt)
    ) WITHOUT ROWID;
    CREATE TABLE snapshots (
        id TEXT PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES runs(id),
        after_idx INTEGER NOT NULL,
        step TEXT NOT NULL,
        state TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX snapshots_run ON snapshots (run_id, created_at);
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        type TEXT NOT NULL,
        actor TEXT NOT NULL,
        at TEXT NOT NULL,
        data TEXT NOT NULL,
        hash TEXT NOT NULL,
        UNIQUE (run_id, seq)
    );
    -- The audit log is append-only: the database itself refuses to rewrite it.
    CREATE TRIGGER events_no_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
    CREATE TRIGGER events_no_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
    """,
    """
    CREATE TABLE approvals (
        id TEXT PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES runs(id),
        idx INTEGER NOT NULL,
        step TEXT NOT NULL,
        status TEXT NOT NULL,
        message TEXT NOT NULL DEFAULT '',
        approvers TEXT NOT NULL DEFAULT '[]',
        on_timeout TEXT NOT NULL DEFAULT 'reject',
        requested_at TEXT NOT NULL,
        expires_at REAL,
        decided_by TEXT,
        decided_at TEXT,
        comment TEXT,
        applied INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX approvals_run ON approvals (run_id, requested_at);
    CREATE INDEX approvals_status ON approvals (status, requested_at);
    """,
    """
    ALTER TABLE runs ADD COLUMN deadline REAL;
    CREATE INDEX runs_deadline ON runs (deadline) WHERE deadline IS NOT NULL;
    """,
    """
    CREATE TABLE callbacks (
        token_hash TEXT PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES runs(id),
        idx INTEGER NOT NULL,
        step TEXT NOT NULL,
        status TEXT NOT NULL,
        payload TEXT,
        created_at TEXT NOT NULL,
        received_at TEXT,
        UNIQUE (run_id, idx)
    );
    CREATE TABLE webhooks (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        url TEXT NOT NULL,
        events TEXT NOT NULL,
        secret TEXT NOT NULL,
        run_id TEXT,
        created_at TEXT NOT NULL
    );
    CREATE INDEX webhooks_owner ON webhooks (owner) WHERE run_id IS NULL;
    CREATE INDEX webhooks_run ON webhooks (run_id) WHERE run_id IS NOT NULL;
    CREATE TABLE deliveries (
        id TEXT PRIMARY KEY,
        webhook_id TEXT NOT NULL,
        event_id INTEGER NOT NULL,
        type TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL,
        last_status_code INTEGER,
        last_error TEXT,
        created_at TEXT NOT NULL,
        delivered_at TEXT
    );
    CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
    CREATE INDEX deliveries_webhook ON deliveries (webhook_id, created_at);
    ALTER TABLE runs ADD COLUMN has_webhooks INTEGER NOT NULL DEFAULT 0;
    """,
    # Lists are newest first with rowid as the tie-break: an ascending index read backwards
    # gives (created_at DESC, rowid DESC) as it is, with no sort of the page.
    """
    DROP INDEX runs_owner;
    CREATE INDEX runs_owner ON runs (owner, created_at);
    DROP INDEX runs_owner_status;
    CREATE INDEX runs_owner_status ON runs (owner, status, created_at);
    """,
    # A list's total without counting: COUNT(*) reads every index entry of the owner's runs
    # (3 ms at 100,000), on the event loop. Triggers keep the counts, so no write path can
    # forget one; a status change costs two updates of this small, always-cached table.
    """
    CREATE TABLE run_counts (
        owner TEXT NOT NULL,
        status TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (owner, status)
    ) WITHOUT ROWID;
    INSERT INTO run_counts (owner, status, n) SELECT owner, status, COUNT(*) FROM runs
        GROUP BY owner, status;
    CREATE TRIGGER runs_count_insert AFTER INSERT ON runs BEGIN
        INSERT INTO run_counts (owner, status, n) VALUES (NEW.owner, NEW.status, 1)
            ON CONFLICT (owner, status) DO UPDATE SET n = n + 1;
    END;
    CREATE TRIGGER runs_count_status AFTER UPDATE OF status ON runs
        WHEN OLD.status IS NOT NEW.status BEGIN
        UPDATE run_counts SET n = n - 1 WHERE owner = OLD.owner AND status = OLD.status;
        INSERT INTO run_counts (owner, status, n) VALUES (NEW.owner, NEW.status, 1)
            ON CONFLICT (owner, status) DO UPDATE SET n = n + 1;
    END;
    CREATE TRIGGER runs_count_delete AFTER DELETE ON runs BEGIN
        UPDATE run_counts SET n = n - 1 WHERE owner = OLD.owner AND status = OLD.status;
    END;
    """,
    # Roles replace the admin flag. Users from before roles could write templates, so they
    # keep that (author); a new user defaults to operator. A removed user's row stays, with
    # removed_at set: runs name their owner, and a new user of the same name must not
    # inherit them.
    """
    ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'operator';
    ALTER TABLE users ADD COLUMN removed_at TEXT;
    UPDATE users SET role = CASE WHEN is_admin = 1 THEN 'admin' ELSE 'author' END;
    ALTER TABLE users DROP COLUMN is_admin;
    """,
    # A manual retry gives a step a fresh retry budget (attempts counted since
    # budget_from); the processes a step left in the background, tracked while it runs.
    """
    ALTER TABLE steps ADD COLUMN budget_from INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE step_attempts ADD COLUMN procs TEXT;
    """,
    # Idempotency-Key on starting a run: written in the run's own transaction, so a key
    # never outlives or misses its run; the primary key decides between racing requests.
    # created_at is epoch seconds, compared with the window's cutoff and pruned by it.
    """
    CREATE TABLE idempotency_keys (
        owner TEXT NOT NULL,
        key TEXT NOT NULL,
        body_hash TEXT NOT NULL,
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        created_at REAL NOT NULL,
        PRIMARY KEY (owner, key)
    );
    CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
    """,
    # A run's steps form a graph: each step's needs, as its template said them when the run
    # was created (JSON list). NULL, in runs made before graphs: the step before it.
    """
    ALTER TABLE steps ADD COLUMN needs TEXT;
    """,
    # Sub-workflows: a child run names its parent run and the parent's step (by name), and
    # how deep it is nested (0 for a run started by a person); the parent's step names its
    # current child.
    """
    ALTER TABLE runs ADD COLUMN parent_run_id TEXT;
    ALTER TABLE runs ADD COLUMN parent_step TEXT;
    ALTER TABLE runs ADD COLUMN depth INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE steps ADD COLUMN child_run_id TEXT;
    CREATE INDEX runs_parent ON runs (parent_run_id) WHERE parent_run_id IS NOT NULL;
    """,
    # Stored secrets and variables: a user's own (scope = the user's name) or global
    # (scope = ''). A secret's value is sealed (AES-GCM, bound to its scope and name); a
    # variable's is plain text. global_events is the audit log of what belongs to no run
    # (secret.set, secret.removed, var.set, var.removed): names and actors, never values.
    """
    CREATE TABLE stored_values (
        kind TEXT NOT NULL,
        scope TEXT NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        set_by TEXT NOT NULL,
        set_at TEXT NOT NULL,
        PRIMARY KEY (kind, scope, name)
    ) WITHOUT ROWID;
    CREATE TABLE global_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        type TEXT NOT NULL,
        actor TEXT NOT NULL,
        data TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    """,
    # A foreach step's items (its list, stored once when the step first starts, so a restart
    # sees the same items), each with its own status and attempts.
    """
    CREATE TABLE step_items (
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        item INTEGER NOT NULL,
        value TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempt INTEGER NOT NULL DEFAULT 0,
        budget_from INTEGER NOT NULL DEFAULT 0,
        output TEXT,
        error TEXT,
        exit_code INTEGER,
        started_at TEXT,
        finished_at TEXT,
        PRIMARY KEY (run_id, idx, item)
    );
    CREATE TABLE item_attempts (
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        item INTEGER NOT NULL,
        attempt INTEGER NOT NULL,
        status TEXT NOT NULL,
        epoch INTEGER,
        pgid INTEGER,
        exit_code INTEGER,
        error TEXT,
        log_path TEXT,
        started_at TEXT,
        finished_at TEXT,
        PRIMARY KEY (run_id, idx, item, attempt)
    );
    CREATE INDEX item_attempts_running ON item_attempts (status) WHERE status = 'running';
    """,
    # Schedules start runs of a published template. next_fire_at is the nominal time of the
    # next fire; due_at adds the schedule's jitter (what the timer waits for). A fire moves
    # both in the transaction that creates its run, so a crash neither loses nor doubles
    # one. Skips belong to no run, so they are kept in schedule_events (the audit log's
    # events each belong to a run and its hash chain).
    """
    CREATE TABLE schedules (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        name TEXT NOT NULL,
        template TEXT NOT NULL,
        version INTEGER,
        input TEXT NOT NULL,
        spec TEXT NOT NULL,
        overlap TEXT NOT NULL,
        catchup TEXT NOT NULL,
        jitter REAL NOT NULL DEFAULT 0,
        paused_at REAL,
        next_fire_at REAL NOT NULL,
        due_at REAL NOT NULL,
        buffered_for REAL,
        last_fire_at REAL,
        last_run_id TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX schedules_owner ON schedules (owner, created_at);
    CREATE INDEX schedules_due ON schedules (due_at) WHERE paused_at IS NULL;
    CREATE INDEX schedules_buffered ON schedules (buffered_for) WHERE buffered_for IS NOT NULL;
    CREATE TABLE schedule_events (
        id INTEGER PRIMARY KEY,
        schedule_id TEXT NOT NULL REFERENCES schedules(id) ON DELETE CASCADE,
        type TEXT NOT NULL,
        at TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX schedule_events_schedule ON schedule_events (schedule_id, id);
    ALTER TABLE runs ADD COLUMN schedule_id TEXT;
    ALTER TABLE runs ADD COLUMN scheduled_for TEXT;
    CREATE INDEX runs_schedule ON runs (schedule_id, created_at) WHERE schedule_id IS NOT NULL;
    """,
    # Failure handlers (undo, on_failure, finally): one row per handler of the template,
    # written with the run. runs.handlers: NULL (none), 'waiting' (the run has not ended),
    # 'pending' -> 'running' -> 'done'. The trigger marks them due, and wakes the run, in the
    # very transaction that ends the run, whichever path ends it. pos: the order the engine
    # gave when they started (NULL: not selected yet).
    """
    CREATE TABLE handler_steps (
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        target TEXT,
        kind TEXT NOT NULL,
        pos INTEGER,
        status TEXT NOT NULL DEFAULT 'pending',
        attempt INTEGER NOT NULL DEFAULT 0,
        pgid INTEGER,
        started_at TEXT,
        finished_at TEXT,
        output TEXT,
        error TEXT,
        exit_code INTEGER,
        log_tail TEXT,
        PRIMARY KEY (run_id, name)
    ) WITHOUT ROWID;
    ALTER TABLE runs ADD COLUMN handlers TEXT;
    CREATE INDEX runs_handlers ON runs (handlers) WHERE handlers IN ('pending', 'running');
    CREATE TRIGGER runs_handlers_due AFTER UPDATE OF status ON runs
        WHEN NEW.handlers IS NOT NULL
        AND NEW.status IN ('completed', 'failed', 'cancelled')
        AND OLD.status NOT IN ('completed', 'failed', 'cancelled') BEGIN
        UPDATE handler_steps SET status = 'pending', pos = NULL, attempt = 0, started_at = NULL,
            finished_at = NULL, output = NULL, error = NULL, exit_code = NULL, log_tail = NULL
            WHERE run_id = NEW.id;
        UPDATE runs SET handlers = 'pending',
            wake_at = (julianday('now') - 2440587.5) * 86400.0 WHERE id = NEW.id;
    END;
    """,
    # A webhook's header from a stored secret: {name, secret, prefix} as JSON, the secret's
    # name only (its value is read at each delivery, never kept here).
    """
    ALTER TABLE webhooks ADD COLUMN secret_header TEXT;
    """,
    # Concurrency limits (wfe.engine.concurrency): a run of a template with `concurrency`
    # belongs to a group and either holds one of its slots (queued = 0, not ended) or waits
    # for one (queued = 1, pending), in seq order. The index covers only runs not ended, so
    # counting a group's slots never reads its history. The trigger frees the slot in the
    # transaction that ends the run, whichever path ends it, and admits the next runs (wake
    # them; freed_by names the run that made room).
    """
    ALTER TABLE runs ADD COLUMN concurrency_group TEXT;
    ALTER TABLE runs ADD COLUMN concurrency_key TEXT;
    ALTER TABLE runs ADD COLUMN concurrency_limit INTEGER;
    ALTER TABLE runs ADD COLUMN concurrency_seq INTEGER;
    ALTER TABLE runs ADD COLUMN concurrency_queued INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN concurrency_freed_by TEXT;
    CREATE INDEX runs_concurrency ON runs (concurrency_group, concurrency_queued,
        concurrency_seq) WHERE concurrency_group IS NOT NULL
        AND status NOT IN ('completed', 'failed', 'cancelled');
    CREATE TRIGGER runs_concurrency_free AFTER UPDATE OF status ON runs
        WHEN NEW.concurrency_group IS NOT NULL
        AND NEW.status IN ('completed', 'failed', 'cancelled')
        AND OLD.status NOT IN ('completed', 'failed', 'cancelled') BEGIN
        UPDATE runs SET concurrency_queued = 0, concurrency_freed_by = NEW.id,
            wake_at = (julianday('now') - 2440587.5) * 86400.0
            WHERE id IN (SELECT id FROM runs WHERE concurrency_group = NEW.concurrency_group
                AND concurrency_queued = 1 AND status = 'pending'
                AND status NOT IN ('completed', 'failed', 'cancelled')
                ORDER BY concurrency_seq
                LIMIT max(0, NEW.concurrency_limit - (SELECT COUNT(*) FROM runs
                    WHERE concurrency_group = NEW.concurrency_group AND concurrency_queued = 0
                    AND status NOT IN ('completed', 'failed', 'cancelled'))));
    END;
    """,
    # Deleting runs (wfe rm, retention). The record of each deletion is a global_events row
    # of type run.deleted naming the run (its own indexed column) with the head of its hash
    # chain; the database refuses a record whose head is not the run's, or a run that has
    # not ended, and never lets one be changed or removed. The events of a run may then be
    # deleted, and only then: once its row is gone and its record is there. Indexes: the
    # finished runs by end time and by template (retention); deliveries by event and
    # idempotency keys by run (a run's own go with it; the key's foreign key looks too).
    """
    ALTER TABLE global_events ADD COLUMN run_id TEXT;
    CREATE INDEX global_events_run ON global_events (run_id) WHERE run_id IS NOT NULL;
    CREATE TRIGGER global_events_run_deleted BEFORE INSERT ON global_events
        WHEN NEW.type = 'run.deleted' AND NOT EXISTS (SELECT 1 FROM runs
            WHERE id = NEW.run_id AND status IN ('completed', 'failed', 'cancelled')
            AND last_seq = json_extract(NEW.data, '$.events')
            AND last_hash = json_extract(NEW.data, '$.head')) BEGIN
        SELECT RAISE(ABORT, 'a run.deleted record must name an ended run and its head');
    END;
    CREATE TRIGGER global_events_no_update BEFORE UPDATE ON global_events
        WHEN OLD.type = 'run.deleted' OR NEW.type = 'run.deleted'
        BEGIN SELECT RAISE(ABORT, 'run.deleted records are append-only'); END;
    CREATE TRIGGER global_events_no_delete BEFORE DELETE ON global_events
        WHEN OLD.type = 'run.deleted'
        BEGIN SELECT RAISE(ABORT, 'run.deleted records are append-only'); END;
    DROP TRIGGER events_no_delete;
    CREATE TRIGGER events_no_delete BEFORE DELETE ON events
        WHEN EXISTS (SELECT 1 FROM runs WHERE id = OLD.run_id)
        OR NOT EXISTS (SELECT 1 FROM global_events WHERE run_id = OLD.run_id
            AND type = 'run.deleted')
        BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
    CREATE INDEX runs_finished ON runs (finished_at, template_id)
        WHERE finished_at IS NOT NULL AND parent_run_id IS NULL;
    CREATE INDEX runs_template_finished ON runs (template_id, finished_at)
        WHERE finished_at IS NOT NULL AND parent_run_id IS NULL;
    CREATE INDEX deliveries_event ON deliveries (event_id);
    CREATE INDEX idempotency_keys_run ON idempotency_keys (run_id);
    """,
    # The web UI's sign-in: one-time codes (kind 'code') and browser sessions (kind
    # 'session'), each stored as a SHA-256 of its secret and tied to the API token it came
    # from, so revoking that token (or removing its user) ends them.
    """
    CREATE TABLE ui_sessions (
        hash TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('code', 'session')),
        token_id TEXT NOT NULL REFERENCES tokens(id),
        created_at TEXT NOT NULL,
        expires_at REAL NOT NULL
    );
    CREATE INDEX ui_sessions_expires ON ui_sessions (expires_at);
    CREATE INDEX ui_sessions_token ON ui_sessions (token_id);
    """,
]


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema up to date; returns the version reached."""
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(script):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return len(MIGRATIONS)


def _statements(script: str) -> list[str]:
    """Split a script on complete statements (triggers hold `;` inside BEGIN..END)."""
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        if line.strip().startswith("--"):
            continue
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out
