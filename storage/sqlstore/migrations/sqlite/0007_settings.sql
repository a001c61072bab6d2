-- rollcall schema: tenant settings and SCIM tokens, for SQLite.
--
-- data is the settings' JSON with every secret sealed (settings.Seal):
-- never a secret in clear. version counts the changes; disabled is the
-- operator's switch, kept apart so that listing tenants reads no JSON.

CREATE TABLE rollcall_settings (
	tenant   TEXT    NOT NULL,
	version  INTEGER NOT NULL,
	disabled INTEGER NOT NULL,
	data     TEXT    NOT NULL,
	updated  INTEGER NOT NULL,
	PRIMARY KEY (tenant)
) STRICT;

-- hash is the SHA-256 of the token; the token itself is never stored.
CREATE TABLE rollcall_scim_tokens (
	tenant    TEXT    NOT NULL,
	id        TEXT    NOT NULL,
	name      TEXT    NOT NULL,
	hash      BLOB    NOT NULL,
	created   INTEGER NOT NULL,
	last_used INTEGER NOT NULL,
	expires   INTEGER NOT NULL,
	PRIMARY KEY (tenant, id)
) STRICT;

CREATE UNIQUE INDEX rollcall_scim_tokens_hash ON rollcall_scim_tokens (hash);
