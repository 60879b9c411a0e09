"""The state database's tables (state/store.py runs this on every open, in one transaction).

Every statement is idempotent (IF NOT EXISTS): a table added by a later version appears in an
older database the next time it opens, which is this store's migration. A change to an
existing table's shape would need an explicit step keyed on `PRAGMA user_version`.
"""

SCHEMA = """
CREATE TABLE IF NOT EXISTS paired_devices (
  device_id TEXT PRIMARY KEY,
  data TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS pairing_requests (
  request_id TEXT PRIMARY KEY,
  device_id TEXT NOT NULL,
  data TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS pairing_requests_device ON pairing_requests(device_id);
CREATE INDEX IF NOT EXISTS pairing_requests_seen ON pairing_requests(
  coalesce(nullif(json_extract(data, '$.refreshedAtMs'), 0), json_extract(data, '$.ts'))
);
CREATE TABLE IF NOT EXISTS cron_jobs (
  id TEXT PRIMARY KEY,
  declaration_key TEXT UNIQUE,
  job_json TEXT NOT NULL,
  state_json TEXT NOT NULL DEFAULT '{}',
  updated_at INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS cron_runs (
  run_id TEXT PRIMARY KEY,
  job_id TEXT NOT NULL,
  status TEXT NOT NULL
    CHECK (status IN ('running', 'ok', 'error', 'skipped', 'interrupted')),
  started_at_ms INTEGER NOT NULL,
  finished_at_ms INTEGER,
  entry_json TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS cron_runs_job ON cron_runs(job_id, started_at_ms);
CREATE INDEX IF NOT EXISTS cron_runs_status ON cron_runs(status);
CREATE TABLE IF NOT EXISTS device_tokens (
  device_id TEXT NOT NULL REFERENCES paired_devices(device_id) ON DELETE CASCADE,
  role TEXT NOT NULL,
  data TEXT NOT NULL,
  PRIMARY KEY (device_id, role)
) STRICT;
CREATE TABLE IF NOT EXISTS sessions (
  key TEXT PRIMARY KEY,
  agent_id TEXT NOT NULL,
  session_id TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  data TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS sessions_updated ON sessions(updated_at);
CREATE TABLE IF NOT EXISTS transcript (
  session_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  run_id TEXT,
  data TEXT NOT NULL,
  PRIMARY KEY (session_id, seq)
) STRICT;
CREATE TABLE IF NOT EXISTS chat_runs (
  run_id TEXT PRIMARY KEY,
  session_key TEXT NOT NULL,
  status TEXT NOT NULL
    CHECK (status IN ('queued', 'running', 'ok', 'error', 'aborted', 'timeout')),
  updated_at INTEGER NOT NULL,
  data TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS chat_runs_status ON chat_runs(status);
-- Pruning finished runs by age runs on every begin_run: a range scan, not a table scan.
CREATE INDEX IF NOT EXISTS chat_runs_updated ON chat_runs(updated_at);
-- Outgoing channel messages (server/channels/outbox.py): pending until the owning bridge
-- confirmed a channel.send, then delivered or failed (kept for the record, newest first).
CREATE TABLE IF NOT EXISTS deliveries (
  id TEXT PRIMARY KEY,
  channel TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
  next_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  data TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries(status, next_at);
"""
