CREATE TABLE core_taskgroup (
    pulp_id UUID PRIMARY KEY,
    pulp_created TIMESTAMPTZ NOT NULL,
    pulp_last_updated TIMESTAMPTZ NOT NULL,
    description TEXT NOT NULL,
    all_tasks_dispatched BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE core_task (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pulp_id UUID NOT NULL UNIQUE,
    pulp_created TIMESTAMPTZ NOT NULL,
    pulp_last_updated TIMESTAMPTZ NOT NULL,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    args JSONB NOT NULL DEFAULT '{}',
    logging_cid TEXT NOT NULL DEFAULT '',
    unblocked_at TIMESTAMPTZ,
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    error JSONB,
    result JSONB,
    worker TEXT,
    parent_task UUID,
    task_group UUID REFERENCES core_taskgroup (pulp_id) ON DELETE SET NULL,
    reserved_resources_record JSONB NOT NULL DEFAULT '[]',
    created_resources JSONB NOT NULL DEFAULT '[]',
    immediate BOOLEAN NOT NULL DEFAULT FALSE,
    deferred BOOLEAN NOT NULL DEFAULT TRUE
);
CREATE INDEX core_task_runnable ON core_task (seq) WHERE state = 'waiting' AND unblocked_at IS NOT NULL;
CREATE INDEX core_task_state ON core_task (state, seq);
CREATE INDEX core_task_worker ON core_task (worker) WHERE state IN ('running', 'canceling');
CREATE INDEX core_task_group ON core_task (task_group);
CREATE INDEX core_task_parent ON core_task (parent_task);
CREATE INDEX core_task_created ON core_task (pulp_created);

CREATE TABLE core_taskresource (
    task_seq BIGINT NOT NULL REFERENCES core_task (seq) ON DELETE CASCADE,
    resource TEXT NOT NULL,
    exclusive BOOLEAN NOT NULL,
    PRIMARY KEY (task_seq, resource)
);
CREATE INDEX core_taskresource_resource ON core_taskresource (resource, task_seq);
CREATE INDEX core_taskresource_exclusive ON core_taskresource (resource, task_seq) WHERE exclusive;

CREATE TABLE core_progressreport (
    pulp_id UUID PRIMARY KEY,
    task UUID NOT NULL REFERENCES core_task (pulp_id) ON DELETE CASCADE,
    pulp_created TIMESTAMPTZ NOT NULL,
    message TEXT NOT NULL,
    code TEXT NOT NULL,
    state TEXT NOT NULL,
    total BIGINT,
    done BIGINT NOT NULL DEFAULT 0,
    suffix TEXT
);
CREATE INDEX core_progressreport_task ON core_progressreport (task);

CREATE TABLE core_groupprogressreport (
    pulp_id UUID PRIMARY KEY,
    task_group UUID NOT NULL REFERENCES core_taskgroup (pulp_id) ON DELETE CASCADE,
    message TEXT NOT NULL,
    code TEXT NOT NULL,
    total BIGINT,
    done BIGINT NOT NULL DEFAULT 0,
    suffix TEXT,
    UNIQUE (task_group, code)
);
