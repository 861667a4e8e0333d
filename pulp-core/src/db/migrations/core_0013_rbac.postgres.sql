-- RBAC as Pulp has it: groups of users, permissions (`<app>.<codename>` on a model),
-- roles (sets of permissions; `locked` ones are declared by core and plugins and refreshed
-- at each migration), and role assignments of users and groups, global (no object) or on
-- one object (`content_type` = `<app>.<model>`, `object_id` its id as text). `domain` is
-- kept for domain-level assignments (domains are not built yet). Tasks record who
-- dispatched them (creation hooks of objects a task creates assign roles to that user).
ALTER TABLE core_user ADD COLUMN first_name TEXT NOT NULL DEFAULT '';
ALTER TABLE core_user ADD COLUMN last_name TEXT NOT NULL DEFAULT '';
ALTER TABLE core_user ADD COLUMN email TEXT NOT NULL DEFAULT '';
ALTER TABLE core_user ADD COLUMN is_staff BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE core_task ADD COLUMN user_id UUID;

CREATE TABLE core_group (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

CREATE TABLE core_user_groups (
    user_id UUID NOT NULL REFERENCES core_user (pulp_id) ON DELETE CASCADE,
    group_id BIGINT NOT NULL REFERENCES core_group (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_id)
);
CREATE INDEX core_user_groups_group ON core_user_groups (group_id);

CREATE TABLE core_permission (
    id BIGSERIAL PRIMARY KEY,
    app_label TEXT NOT NULL,
    codename TEXT NOT NULL,
    model TEXT NOT NULL,
    name TEXT NOT NULL,
    UNIQUE (app_label, codename)
);

CREATE TABLE core_role (
    pulp_id UUID PRIMARY KEY,
    pulp_created TIMESTAMPTZ NOT NULL,
    pulp_last_updated TIMESTAMPTZ NOT NULL,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    locked BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE core_role_permissions (
    role_id UUID NOT NULL REFERENCES core_role (pulp_id) ON DELETE CASCADE,
    permission_id BIGINT NOT NULL REFERENCES core_permission (id) ON DELETE CASCADE,
    PRIMARY KEY (permission_id, role_id)
);
CREATE INDEX core_role_permissions_role ON core_role_permissions (role_id);

CREATE TABLE core_userrole (
    pulp_id UUID PRIMARY KEY,
    pulp_created TIMESTAMPTZ NOT NULL,
    pulp_last_updated TIMESTAMPTZ NOT NULL,
    user_id UUID NOT NULL REFERENCES core_user (pulp_id) ON DELETE CASCADE,
    role_id UUID NOT NULL REFERENCES core_role (pulp_id) ON DELETE CASCADE,
    content_type TEXT,
    object_id TEXT,
    domain TEXT
);
CREATE UNIQUE INDEX core_userrole_unique ON core_userrole (user_id, role_id, COALESCE(object_id, ''));
CREATE INDEX core_userrole_scope ON core_userrole (user_id, content_type, role_id, object_id);
CREATE INDEX core_userrole_object ON core_userrole (object_id);
CREATE INDEX core_userrole_role ON core_userrole (role_id);

CREATE TABLE core_grouprole (
    pulp_id UUID PRIMARY KEY,
    pulp_created TIMESTAMPTZ NOT NULL,
    pulp_last_updated TIMESTAMPTZ NOT NULL,
    group_id BIGINT NOT NULL REFERENCES core_group (id) ON DELETE CASCADE,
    role_id UUID NOT NULL REFERENCES core_role (pulp_id) ON DELETE CASCADE,
    content_type TEXT,
    object_id TEXT,
    domain TEXT
);
CREATE UNIQUE INDEX core_grouprole_unique ON core_grouprole (group_id, role_id, COALESCE(object_id, ''));
CREATE INDEX core_grouprole_scope ON core_grouprole (group_id, content_type, role_id, object_id);
CREATE INDEX core_grouprole_object ON core_grouprole (object_id);
CREATE INDEX core_grouprole_role ON core_grouprole (role_id);
