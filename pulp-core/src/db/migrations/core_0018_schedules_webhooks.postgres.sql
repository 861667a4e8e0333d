-- compatible-with-previous-release: new tables only; older code never reads them.
CREATE TABLE core_taskschedule (
    pulp_id UUID PRIMARY KEY,
    pulp_created TIMESTAMPTZ NOT NULL,
    pulp_last_updated TIMESTAMPTZ NOT NULL,
    name TEXT NOT NULL UNIQUE,
    task_name TEXT NOT NULL,
    args JSONB NOT NULL DEFAULT '{}',
    dispatch_interval_seconds BIGINT,
    next_dispatch TIMESTAMPTZ,
    dispatch_count BIGINT NOT NULL DEFAULT 0,
    last_task UUID,
    declared_by TEXT NOT NULL
);

CREATE TABLE core_webhook (
    pulp_id UUID PRIMARY KEY,
    pulp_created TIMESTAMPTZ NOT NULL,
    pulp_last_updated TIMESTAMPTZ NOT NULL,
    name TEXT NOT NULL UNIQUE,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    events JSONB NOT NULL DEFAULT '[]',
    filters JSONB NOT NULL DEFAULT '{}',
    enabled BOOLEAN NOT NULL DEFAULT TRUE
);

CREATE TABLE core_webhookdelivery (
    pulp_id UUID PRIMARY KEY,
    pulp_created TIMESTAMPTZ NOT NULL,
    webhook UUID NOT NULL REFERENCES core_webhook (pulp_id) ON DELETE CASCADE,
    event TEXT NOT NULL,
    payload JSONB NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ,
    claim BIGINT NOT NULL DEFAULT 0,
    claimed_until TIMESTAMPTZ,
    last_status BIGINT,
    last_error TEXT,
    last_attempt_at TIMESTAMPTZ,
    delivered_at TIMESTAMPTZ
);
CREATE INDEX core_webhookdelivery_due ON core_webhookdelivery (next_attempt_at) WHERE state = 'pending';
CREATE INDEX core_webhookdelivery_webhook ON core_webhookdelivery (webhook, pulp_created);
