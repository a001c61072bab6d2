-- rollcall schema version 3 for PostgreSQL: the events of one user, newest
-- first (identity.EventSearch), for the audit log of a user.

CREATE INDEX rollcall_events_user ON rollcall_events (tenant, user_id, seq) WHERE user_id <> '';
