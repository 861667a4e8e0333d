-- compatible-with-previous-release: new tables only; older code never reads them.
CREATE TABLE core_taskschedule (
    pulp_id TEXT PRIMARY KEY,
    pulp_created TEXT NOT NULL,
    pulp_last_updated TEXT NOT NULL,
    name TEXT NOT NULL UNIQUE,
    task_name TEXT NOT NULL,
    args TEXT NOT NULL DEFAULT '{}',
    dispatch_interval_seconds BIGINT,
    next_dispatch TEXT,
    dispatch_count BIGINT NOT NULL DEFAULT 0,
    last_task TEXT,
    declared_by TEXT NOT NULL
);

CREATE TABLE core_webhook (
    pulp_id TEXT PRIMARY KEY,
    pulp_created TEXT NOT NULL,
    pulp_last_updated TEXT NOT NULL,
    name TEXT NOT NULL UNIQUE,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    events TEXT NOT NULL DEFAULT '[]',
    filters TEXT NOT NULL DEFAULT '{}',
    enabled BOOLEAN NOT NULL DEFAULT TRUE
);

CREATE TABLE core_webhookdelivery (
    pulp_id TEXT PRIMARY KEY,
    pulp_created TEXT NOT NULL,
    webhook TEXT NOT NULL REFERENCES core_webhook (pulp_id) ON DELETE CASCADE,
    event TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    claim BIGINT NOT NULL DEFAULT 0,
    claimed_until TEXT,
    last_status BIGINT,
    last_error TEXT,
    last_attempt_at TEXT,
    delivered_at TEXT
);
CREATE INDEX core_webhookdelivery_due ON core_webhookdelivery (next_attempt_at) WHERE state = 'pending';
CREATE INDEX core_webhookdelivery_webhook ON core_webhookdelivery (webhook, pulp_created);
