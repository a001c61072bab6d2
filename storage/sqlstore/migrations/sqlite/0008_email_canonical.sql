-- rollcall schema version 8 for SQLite: an email is unique among active users
-- only, compared in its canonical form (identity.NormalizeEmail: trimmed,
-- NFKC, lower-cased, the domain through IDNA's lookup profile); an
-- externalID is not unique at all (RFC 7643 §3.1).
--
-- The line "-- go: canonical_emails" runs a step written in Go (migrate.go)
-- between the statements before it and those after: it recomputes every
-- email_key. Active users whose addresses now share a key are not refused:
-- of each such set, one user takes the canonical key (the one who had it
-- already, else the smallest ID) and the others keep their old key, each
-- recorded in rollcall_email_collisions (read with Store.EmailCollisions)
-- and logged at Warn, for an admin to resolve.

DROP INDEX rollcall_users_email;
DROP INDEX rollcall_users_external_id;
CREATE INDEX rollcall_users_external_id ON rollcall_users (tenant, external_id, id) WHERE external_id <> '';
CREATE INDEX rollcall_users_email_key ON rollcall_users (tenant, email_key, id) WHERE email_key <> '';

CREATE TABLE rollcall_email_collisions (
	tenant    TEXT    NOT NULL,
	user_id   TEXT    NOT NULL,
	holder_id TEXT    NOT NULL,
	email_key TEXT    NOT NULL,
	found     INTEGER NOT NULL,
	PRIMARY KEY (tenant, user_id)
) STRICT;

-- go: canonical_emails

CREATE UNIQUE INDEX rollcall_users_email ON rollcall_users (tenant, email_key) WHERE email_key <> '' AND active <> 0;
