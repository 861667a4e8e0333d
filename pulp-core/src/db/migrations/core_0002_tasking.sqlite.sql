CREATE TABLE core_taskgroup (
    pulp_id TEXT PRIMARY KEY,
    pulp_created TEXT NOT NULL,
    pulp_last_updated TEXT NOT NULL,
    description TEXT NOT NULL,
    all_tasks_dispatched BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE core_task (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    pulp_id TEXT NOT NULL UNIQUE,
    pulp_created TEXT NOT NULL,
    pulp_last_updated TEXT NOT NULL,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    args TEXT NOT NULL DEFAULT '{}',
    logging_cid TEXT NOT NULL DEFAULT '',
    unblocked_at TEXT,
    started_at TEXT,
    finished_at TEXT,
    error TEXT,
    result TEXT,
    worker TEXT,
    parent_task TEXT,
    task_group TEXT REFERENCES core_taskgroup (pulp_id) ON DELETE SET NULL,
    reserved_resources_record TEXT NOT NULL DEFAULT '[]',
    created_resources TEXT NOT NULL DEFAULT '[]',
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
    task_seq INTEGER NOT NULL REFERENCES core_task (seq) ON DELETE CASCADE,
    resource TEXT NOT NULL,
    exclusive BOOLEAN NOT NULL,
    PRIMARY KEY (task_seq, resource)
);
CREATE INDEX core_taskresource_resource ON core_taskresource (resource, task_seq);
CREATE INDEX core_taskresource_exclusive ON core_taskresource (resource, task_seq) WHERE exclusive;

CREATE TABLE core_progressreport (
    pulp_id TEXT PRIMARY KEY,
    task TEXT NOT NULL REFERENCES core_task (pulp_id) ON DELETE CASCADE,
    pulp_created TEXT NOT NULL,
    message TEXT NOT NULL,
    code TEXT NOT NULL,
    state TEXT NOT NULL,
    total BIGINT,
    done BIGINT NOT NULL DEFAULT 0,
    suffix TEXT
);
CREATE INDEX core_progressreport_task ON core_progressreport (task);

CREATE TABLE core_groupprogressreport (
    pulp_id TEXT PRIMARY KEY,
    task_group TEXT NOT NULL REFERENCES core_taskgroup (pulp_id) ON DELETE CASCADE,
    message TEXT NOT NULL,
    code TEXT NOT NULL,
    total BIGINT,
    done BIGINT NOT NULL DEFAULT 0,
    suffix TEXT,
    UNIQUE (task_group, code)
);
