-- rollcall schema version 6 for SQLite: each tenant's diagnostics log
-- (identity.DiagnosticsLog), the sign-in attempts and SCIM requests an admin
-- reads to find out why a user could not get in. email_key is the email in
-- identity.NormalizeEmail form, for the user filter. Bounded by
-- PruneAttempts: by time, then by count.

CREATE TABLE rollcall_attempts (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	tenant     TEXT    NOT NULL,
	time       INTEGER NOT NULL,
	connection TEXT    NOT NULL,
	step       TEXT    NOT NULL,
	outcome    TEXT    NOT NULL,
	reason     TEXT    NOT NULL,
	detail     TEXT    NOT NULL,
	subject    TEXT    NOT NULL,
	email      TEXT    NOT NULL,
	email_key  TEXT    NOT NULL,
	user_id    TEXT    NOT NULL,
	reference  TEXT    NOT NULL
) STRICT;

CREATE INDEX rollcall_attempts_tenant ON rollcall_attempts (tenant, seq);
CREATE INDEX rollcall_attempts_time ON rollcall_attempts (tenant, time);
-- The admin's lookups: the reference a user reports, and the user filter.
CREATE INDEX rollcall_attempts_reference ON rollcall_attempts (tenant, reference);
CREATE INDEX rollcall_attempts_user ON rollcall_attempts (tenant, user_id);
CREATE INDEX rollcall_attempts_subject ON rollcall_attempts (tenant, subject);
CREATE INDEX rollcall_attempts_email ON rollcall_attempts (tenant, email_key);
