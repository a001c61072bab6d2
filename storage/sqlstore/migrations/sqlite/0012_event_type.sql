-- rollcall schema version 12 for SQLite: the events of one type, newest first
-- (identity.EventSearch with a Type): the last Google sync's report
-- (sync.completed), the audit log filtered by type. Without it such a search
-- reads the tenant's events backwards until it has found its page.

CREATE INDEX rollcall_events_type ON rollcall_events (tenant, type, seq);
