"""Rebuild tests/data/wfe-v1.db: a database written by wfe's first release (schema version 1).

Run from the repository root: ``python tests/data/make_v1_db.py [PATH]``. The script needs
nothing of today's wfe. MIGRATION_1 is migration 1 exactly as it shipped (``git show
10762f1:wfe/daemon/store/schema.py``); ROWS are every row that release's daemon wrote when
driven through its own API, dumped from its database:

- the local admin "root", made at first start (ROOT_TOKEN was its token file), and a user
  "ada" (POST /users; ADA_TOKEN is the token it answered; only SHA-256s are stored);
- templates "deploy" v1 published and v2 draft, "nightly", and "gate": an approval step,
  which that release accepted in a template but could not run yet;
- a "deploy" run, completed, whose "push" step failed once (exit 3) and passed on its
  retry, with its attempts, snapshots and hash-chained events;
- a "nightly" run paused while its sleep step waited.

Only the log_path prefix was changed, to a home directory's. That release had no
approvals, webhooks, deliveries or sealed secrets: their tables come with later migrations.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path

ROOT_TOKEN = "wfe_F_Jm9VBnn2I_3J1weoTU-Yoetv07HRjqISFoMpL8wzE"  # the token file it wrote
ADA_TOKEN = "wfe_WID_InQDblHsu8HGSBqNnX7kpGThWMoRIX2AH1ad2ys"
COMPLETED_RUN = "827c71d9-2163-4436-9a5e-3dffeb1a7c0c"
PAUSED_RUN = "c4d5ff3c-dc6e-4ba0-9319-0c4814a5479e"

MIGRATION_1 = """
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
    """

ROWS = [
    ('meta',
     ('key', 'value'),
     [
        ('epoch', '1'),
     ]),
    ('users',
     ('id', 'name', 'is_admin', 'created_at'),
     [
        ('ed4c6717-f327-40ed-a29d-61f066ca311d', 'root', 1, '2026-12-01T10:56:04.774132Z'),
        ('b108ae54-c88d-43c5-a9ec-5d49e86eebf1', 'ada', 0, '2026-12-01T10:56:17.805805Z'),
     ]),
    ('tokens',
     ('id', 'user_id', 'name', 'hash', 'created_at', 'revoked_at'),
     [
        ('6a4122d3-6528-4099-82e1-5b7d31e9d261', 'ed4c6717-f327-40ed-a29d-61f066ca311d', 'default',
         'f55014624fbfa2e9265bbc59c4802e511a329f9040030d01248cf077eead5acb',
         '2026-12-01T10:56:04.774254Z', None),
        ('7521f71a-453e-4c57-82bc-9dc9f7fdff3d', 'b108ae54-c88d-43c5-a9ec-5d49e86eebf1', 'default',
         'f6b547a2552edd6bb821b12497253760c61f99bbde9fdba0e17e45af7d05cf2c',
         '2026-12-01T10:56:17.805886Z', None),
     ]),
    ('templates',
     ('id', 'name', 'version', 'status', 'description', 'spec', 'owner', 'created_at',
      'published_at'),
     [
        ('a6412b6e-1d9d-4ec2-b946-dcab20797eb4', 'deploy', 1, 'published',
         'Build, retry once, then report.',
         '{"name":"deploy","description":"Build, retry once, then report.","variables":{"env":{"'
         'type":"enum","default":"staging","values":["staging","prod"],"secret":false},"replicas'
         '":{"type":"integer","default":2,"secret":false}},"steps":[{"name":"build","run":"echo '
         '\\"artifact=app-${{ input.env }}.tar\\" >> \\"$WFE_OUTPUT\\""},{"name":"push","run":"['
         ' \\"$WFE_ATTEMPT\\" -ge 2 ] || exit 3; echo pushed; echo \'ok=1\' >> \\"$WFE_OUTPUT\\"'
         '","retry":{"max_attempts":2,"initial_delay":"1s"}},{"name":"report","set":{"summary":"'
         '${{ steps.build.output.artifact }} x${{ input.replicas }}"}}]}', 'ada',
         '2026-12-01T10:56:17.811191Z', '2026-12-01T10:56:17.812817Z'),
        ('8a40ffdd-12b5-4c5a-a442-b5cbc95446fd', 'gate', 1, 'published', '',
         '{"name":"gate","variables":{},"steps":[{"name":"ok","approval":{"message":"go?","on_ti'
         'meout":"reject"}}]}', 'ada', '2026-12-01T10:56:29.500809Z',
         '2026-12-01T10:56:36.416947Z'),
        ('863b5850-20c1-469d-90f0-18f35a13c21e', 'nightly', 1, 'published',
         'Wait for the night, then clean up.',
         '{"name":"nightly","description":"Wait for the night, then clean up.","variables":{},"s'
         'teps":[{"name":"wait","sleep":"6h"},{"name":"clean","run":["echo","cleaned"]}]}', 'ada',
         '2026-12-01T10:56:29.503394Z', '2026-12-01T10:56:29.505083Z'),
        ('b5cebd91-1bb5-4b17-b518-c20816e02185', 'deploy', 2, 'draft', 'v2 draft',
         '{"name":"deploy","description":"v2 draft","variables":{},"steps":[{"name":"x","run":"t'
         'rue"}]}', 'ada', '2026-12-01T10:56:29.513542Z', None),
     ]),
    ('runs',
     ('id', 'owner', 'template_id', 'status', 'paused_from', 'input', 'trigger_type',
      'current_step', 'reason', 'last_seq', 'last_hash', 'recoveries', 'created_at', 'started_at',
      'finished_at', 'updated_at', 'heartbeat_at', 'wake_at'),
     [
        ('827c71d9-2163-4436-9a5e-3dffeb1a7c0c', 'ada', 'a6412b6e-1d9d-4ec2-b946-dcab20797eb4',
         'completed', None, '{"env":"prod","replicas":2}', 'cli', 3, None, 12,
         'e81d39514a63067192f29ae888eb452f551a3477f7b014a343d9ee5e60af1927', 0,
         '2026-12-01T10:56:17.814352Z', '2026-12-01T10:56:17.815232Z',
         '2026-12-01T10:56:18.830970Z', '2026-12-01T10:56:18.830970Z',
         '2026-12-01T10:56:18.824867Z', None),
        ('c4d5ff3c-dc6e-4ba0-9319-0c4814a5479e', 'ada', '863b5850-20c1-469d-90f0-18f35a13c21e',
         'paused', 'running', '{}', 'api', 0, None, 4,
         'ba213a371938abbf2fa95036109e6c8300705b5847da07f3aebb1b48d5f21663', 0,
         '2026-12-01T10:56:29.508006Z', '2026-12-01T10:56:29.508759Z', None,
         '2026-12-01T10:56:29.511703Z', '2026-12-01T10:56:29.508759Z', None),
     ]),
    ('steps',
     ('run_id', 'idx', 'name', 'kind', 'status', 'attempt', 'started_at', 'finished_at', 'output',
      'error', 'exit_code', 'log_tail', 'wake_at'),
     [
        ('827c71d9-2163-4436-9a5e-3dffeb1a7c0c', 0, 'build', 'run', 'succeeded', 1,
         '2026-12-01T10:56:17.816329Z', '2026-12-01T10:56:17.820468Z',
         '{"artifact":"app-prod.tar"}', None, 0, '', None),
        ('827c71d9-2163-4436-9a5e-3dffeb1a7c0c', 1, 'push', 'run', 'succeeded', 2,
         '2026-12-01T10:56:18.825113Z', '2026-12-01T10:56:18.827951Z', '{"ok":"1"}', None, 0,
         'pushed\n', None),
        ('827c71d9-2163-4436-9a5e-3dffeb1a7c0c', 2, 'report', 'set', 'succeeded', 1,
         '2026-12-01T10:56:18.828371Z', '2026-12-01T10:56:18.828528Z',
         '{"summary":"app-prod.tar x2"}', None, None, None, None),
        ('c4d5ff3c-dc6e-4ba0-9319-0c4814a5479e', 0, 'wait', 'sleep', 'waiting', 1,
         '2026-12-01T10:56:29.509727Z', None, None, None, None, None, 1796144189.5091538),
        ('c4d5ff3c-dc6e-4ba0-9319-0c4814a5479e', 1, 'clean', 'run', 'pending', 0, None, None, None,
         None, None, None, None),
     ]),
    ('step_attempts',
     ('run_id', 'idx', 'attempt', 'status', 'epoch', 'pgid', 'started_at', 'finished_at',
      'exit_code', 'error', 'log_path', 'log_tail'),
     [
        ('827c71d9-2163-4436-9a5e-3dffeb1a7c0c', 0, 1, 'succeeded', 1, 11750,
         '2026-12-01T10:56:17.816329Z', '2026-12-01T10:56:17.820468Z', 0, None,
         '/home/ada/.local/share/wfe/logs/827c71d9-2163-4436-9a5e-3dffeb1a7c0c/000-build.1.log',
         ''),
        ('827c71d9-2163-4436-9a5e-3dffeb1a7c0c', 1, 1, 'failed', 1, 11752,
         '2026-12-01T10:56:17.821065Z', '2026-12-01T10:56:17.823783Z', 3, 'exited with 3',
         '/home/ada/.local/share/wfe/logs/827c71d9-2163-4436-9a5e-3dffeb1a7c0c/001-push.1.log', ''),
        ('827c71d9-2163-4436-9a5e-3dffeb1a7c0c', 1, 2, 'succeeded', 1, 11754,
         '2026-12-01T10:56:18.825113Z', '2026-12-01T10:56:18.827951Z', 0, None,
         '/home/ada/.local/share/wfe/logs/827c71d9-2163-4436-9a5e-3dffeb1a7c0c/001-push.2.log',
         'pushed\n'),
        ('827c71d9-2163-4436-9a5e-3dffeb1a7c0c', 2, 1, 'succeeded', 1, None,
         '2026-12-01T10:56:18.828371Z', '2026-12-01T10:56:18.828528Z', None, None, None, None),
        ('c4d5ff3c-dc6e-4ba0-9319-0c4814a5479e', 0, 1, 'waiting', 1, None,
         '2026-12-01T10:56:29.509727Z', None, None, None, None, None),
     ]),
    ('snapshots',
     ('id', 'run_id', 'after_idx', 'step', 'state', 'created_at'),
     [
        ('020d6960-62f4-4c95-be76-7d4153b02356', '827c71d9-2163-4436-9a5e-3dffeb1a7c0c', 0,
         'build',
         '{"input":{"env":"prod","replicas":2},"outputs":{"build":{"artifact":"app-prod.tar"}},"'
         'position":1}', '2026-12-01T10:56:17.820751Z'),
        ('0128b0dc-7f92-4424-be2e-e0ab28f45c23', '827c71d9-2163-4436-9a5e-3dffeb1a7c0c', 1, 'push',
         '{"input":{"env":"prod","replicas":2},"outputs":{"build":{"artifact":"app-prod.tar"},"p'
         'ush":{"ok":"1"}},"position":2}', '2026-12-01T10:56:18.828134Z'),
        ('9c101653-2a27-4a86-95cc-3bb3157e9c02', '827c71d9-2163-4436-9a5e-3dffeb1a7c0c', 2,
         'report',
         '{"input":{"env":"prod","replicas":2},"outputs":{"build":{"artifact":"app-prod.tar"},"p'
         'ush":{"ok":"1"},"report":{"summary":"app-prod.tar x2"}},"position":null}',
         '2026-12-01T10:56:18.828616Z'),
     ]),
    ('events',
     ('id', 'run_id', 'seq', 'type', 'actor', 'at', 'data', 'hash'),
     [
        (1, '827c71d9-2163-4436-9a5e-3dffeb1a7c0c', 1, 'run.created', 'ada',
         '2026-12-01T10:56:17.814559Z',
         '{"template":"deploy","version":1,"template_id":"a6412b6e-1d9d-4ec2-b946-dcab20797eb4",'
         '"trigger_type":"cli"}',
         'b81eeb800a7c98c0a487878cf2f3b339899252f9e9c5428b73e74bb7b2640138'),
        (2, '827c71d9-2163-4436-9a5e-3dffeb1a7c0c', 2, 'run.started', 'system',
         '2026-12-01T10:56:17.815342Z', '{}',
         'eabc35d5483417223f8b65a7fafccf5264af69d4fc4154819d346728076a0ba7'),
        (3, '827c71d9-2163-4436-9a5e-3dffeb1a7c0c', 3, 'step.started', 'system',
         '2026-12-01T10:56:17.816469Z', '{"step":"build","attempt":1}',
         '2bd487e396d8f366925393a984022bd1736ecdf868e6c7ef95bcca4419de0063'),
        (4, '827c71d9-2163-4436-9a5e-3dffeb1a7c0c', 4, 'step.succeeded', 'system',
         '2026-12-01T10:56:17.820607Z', '{"step":"build","attempt":1}',
         '15619bbdb2a26acaa33cd84d5d1844b18ab2877088591a7054a2c2ad6bc108b7'),
        (5, '827c71d9-2163-4436-9a5e-3dffeb1a7c0c', 5, 'step.started', 'system',
         '2026-12-01T10:56:17.821135Z', '{"step":"push","attempt":1}',
         '4af295dc76a78fb249685ddcc62408aab78a663ceb9f4ff9ad3b6b2754c45cbc'),
        (6, '827c71d9-2163-4436-9a5e-3dffeb1a7c0c', 6, 'step.attempt_failed', 'system',
         '2026-12-01T10:56:17.823909Z',
         '{"step":"push","attempt":1,"error":"exited with 3","exit_code":3,"status":"failed"}',
         'c7df06b2a985d8e355977c9e2c1d9c6c563d3103e18620f4c06d892ae66436ae'),
        (7, '827c71d9-2163-4436-9a5e-3dffeb1a7c0c', 7, 'step.retry_scheduled', 'system',
         '2026-12-01T10:56:17.824012Z',
         '{"step":"push","next_attempt":2,"delay":1.0,"at":"2026-12-01T10:56:18.823669Z"}',
         '360d0260934e399112ecc0cc9c7df09c34f1cbdba6a11aa2c7937b616d464cf6'),
        (8, '827c71d9-2163-4436-9a5e-3dffeb1a7c0c', 8, 'step.started', 'system',
         '2026-12-01T10:56:18.825195Z', '{"step":"push","attempt":2}',
         '7e95cf772aa31c064b82ef47e16c8310dd41f108215a07955a00a43200f690da'),
        (9, '827c71d9-2163-4436-9a5e-3dffeb1a7c0c', 9, 'step.succeeded', 'system',
         '2026-12-01T10:56:18.828054Z', '{"step":"push","attempt":2}',
         'baf669f0ea91f7aa46880f830e85d738a939c3fcfe2c20169a6838d85fa79b75'),
        (10, '827c71d9-2163-4436-9a5e-3dffeb1a7c0c', 10, 'step.started', 'system',
         '2026-12-01T10:56:18.828417Z', '{"step":"report","attempt":1}',
         'b02bc7786dce38a30553548b71c8a1814291ae80ac1b8dda48b152ebd6482b0a'),
        (11, '827c71d9-2163-4436-9a5e-3dffeb1a7c0c', 11, 'step.succeeded', 'system',
         '2026-12-01T10:56:18.828573Z', '{"step":"report","attempt":1}',
         'd5cae7b59f129e8cc697b43048002396d5a4a3e58a2175effb10e7099be08a70'),
        (12, '827c71d9-2163-4436-9a5e-3dffeb1a7c0c', 12, 'run.completed', 'system',
         '2026-12-01T10:56:18.831097Z', '{}',
         'e81d39514a63067192f29ae888eb452f551a3477f7b014a343d9ee5e60af1927'),
        (13, 'c4d5ff3c-dc6e-4ba0-9319-0c4814a5479e', 1, 'run.created', 'ada',
         '2026-12-01T10:56:29.508135Z',
         '{"template":"nightly","version":1,"template_id":"863b5850-20c1-469d-90f0-18f35a13c21e"'
         ',"trigger_type":"api"}',
         '5db6a77fdf5194dab8824e481a2cf1e31e76835b54f7fda41b8df25b4f004bbd'),
        (14, 'c4d5ff3c-dc6e-4ba0-9319-0c4814a5479e', 2, 'run.started', 'system',
         '2026-12-01T10:56:29.508828Z', '{}',
         '883e53f510fa01d38528014dc0d99b83caccf09a1acb981b7fd0ea0700e0f310'),
        (15, 'c4d5ff3c-dc6e-4ba0-9319-0c4814a5479e', 3, 'step.started', 'system',
         '2026-12-01T10:56:29.509811Z',
         '{"step":"wait","attempt":1,"until":"2026-12-01T16:56:29.509154Z"}',
         'da53a584b86bdec9557f7411608e7894d9b7c71e9a92f62ba6de9a95a30daf1a'),
        (16, 'c4d5ff3c-dc6e-4ba0-9319-0c4814a5479e', 4, 'run.paused', 'ada',
         '2026-12-01T10:56:29.511825Z', '{"from":"running"}',
         'ba213a371938abbf2fa95036109e6c8300705b5847da07f3aebb1b48d5f21663'),
     ]),
]


def statements(script: str) -> list[str]:
    """Split on complete statements, as that release did (triggers hold `;` inside)."""
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        if line.strip().startswith("--"):
            continue
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    return out


def build(path: Path) -> None:
    if path.exists():
        path.unlink()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")  # as that release left every database
    conn.execute("BEGIN IMMEDIATE")
    for statement in statements(MIGRATION_1):
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    for table, columns, rows in ROWS:
        marks = ",".join("?" * len(columns))
        conn.executemany(f"INSERT INTO {table} ({','.join(columns)}) VALUES ({marks})", rows)
    conn.execute("COMMIT")
    conn.execute("VACUUM")
    conn.close()
    os.chmod(path, 0o600)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("wfe-v1.db")
    build(target)
    print(f"wrote {target} ({target.stat().st_size} bytes)")
