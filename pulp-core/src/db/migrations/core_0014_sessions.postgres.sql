-- Session logins (`POST /login/`): a session is known by the SHA-256 of its key (the key
-- itself lives only in the client's `sessionid` cookie), belongs to one user, and ends at
-- its expiry, at logout, or when the user's password changes (`auth_hash` is a digest of
-- the password hash it was opened with).
CREATE TABLE core_session (
    session_hash TEXT PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES core_user (pulp_id) ON DELETE CASCADE,
    auth_hash TEXT NOT NULL,
    expire_date TIMESTAMPTZ NOT NULL
);
CREATE INDEX core_session_user ON core_session (user_id);
CREATE INDEX core_session_expire ON core_session (expire_date);

-- A user's (or group's) assignments on one object, and their global ones, by index probe
-- (permission checks, scoped lists, my_permissions/) however many objects they hold roles on.
CREATE INDEX core_userrole_user_object ON core_userrole (user_id, object_id, role_id, content_type);
CREATE INDEX core_grouprole_group_object ON core_grouprole (group_id, object_id, role_id, content_type);
