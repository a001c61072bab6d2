-- rollcall schema version 1 for SQLite.
--
-- Every row carries its tenant, every key starts with it. Times are int64
-- microseconds since the Unix epoch, UTC. The *_key columns hold the
-- normalised forms the unique indexes and lookups use; search holds the
-- lower-cased text that ListUsers and ListGroups match. Both are computed in
-- Go, so that both dialects compare alike; text sorts bytewise in both.

CREATE TABLE rollcall_users (
	tenant         TEXT    NOT NULL,
	id             TEXT    NOT NULL,
	user_name      TEXT    NOT NULL,
	user_name_key  TEXT    NOT NULL,
	email          TEXT    NOT NULL,
	email_key      TEXT    NOT NULL,
	email_verified INTEGER NOT NULL,
	given_name     TEXT    NOT NULL,
	family_name    TEXT    NOT NULL,
	display_name   TEXT    NOT NULL,
	active         INTEGER NOT NULL,
	external_id    TEXT    NOT NULL,
	attributes     TEXT    NOT NULL,
	search         TEXT    NOT NULL,
	created        INTEGER NOT NULL,
	updated        INTEGER NOT NULL,
	version        INTEGER NOT NULL,
	PRIMARY KEY (tenant, id)
) STRICT;

CREATE UNIQUE INDEX rollcall_users_email ON rollcall_users (tenant, email_key) WHERE email_key <> '';
CREATE UNIQUE INDEX rollcall_users_user_name ON rollcall_users (tenant, user_name_key) WHERE user_name_key <> '';
CREATE UNIQUE INDEX rollcall_users_external_id ON rollcall_users (tenant, external_id) WHERE external_id <> '';

CREATE TABLE rollcall_groups (
	tenant      TEXT    NOT NULL,
	id          TEXT    NOT NULL,
	name        TEXT    NOT NULL,
	name_key    TEXT    NOT NULL,
	search      TEXT    NOT NULL,
	kind        TEXT    NOT NULL,
	source      TEXT    NOT NULL,
	external_id TEXT    NOT NULL,
	created     INTEGER NOT NULL,
	updated     INTEGER NOT NULL,
	version     INTEGER NOT NULL,
	PRIMARY KEY (tenant, id)
) STRICT;

CREATE UNIQUE INDEX rollcall_groups_name ON rollcall_groups (tenant, name_key) WHERE name_key <> '';
CREATE UNIQUE INDEX rollcall_groups_external_id ON rollcall_groups (tenant, external_id) WHERE external_id <> '';

CREATE TABLE rollcall_members (
	tenant   TEXT NOT NULL,
	group_id TEXT NOT NULL,
	user_id  TEXT NOT NULL,
	PRIMARY KEY (tenant, group_id, user_id),
	FOREIGN KEY (tenant, group_id) REFERENCES rollcall_groups (tenant, id) ON DELETE CASCADE,
	FOREIGN KEY (tenant, user_id) REFERENCES rollcall_users (tenant, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE INDEX rollcall_members_user ON rollcall_members (tenant, user_id, group_id);

CREATE TABLE rollcall_links (
	tenant  TEXT    NOT NULL,
	source  TEXT    NOT NULL,
	subject TEXT    NOT NULL,
	user_id TEXT    NOT NULL,
	created INTEGER NOT NULL,
	PRIMARY KEY (tenant, source, subject),
	FOREIGN KEY (tenant, user_id) REFERENCES rollcall_users (tenant, id) ON DELETE CASCADE
) STRICT;

CREATE UNIQUE INDEX rollcall_links_user_source ON rollcall_links (tenant, user_id, source);

CREATE TABLE rollcall_invitations (
	tenant  TEXT    NOT NULL,
	hash    BLOB    NOT NULL,
	user_id TEXT    NOT NULL,
	expires INTEGER NOT NULL,
	created INTEGER NOT NULL,
	PRIMARY KEY (tenant, hash),
	FOREIGN KEY (tenant, user_id) REFERENCES rollcall_users (tenant, id) ON DELETE CASCADE
) STRICT;

CREATE INDEX rollcall_invitations_user ON rollcall_invitations (tenant, user_id);

-- seq is the global cursor: AUTOINCREMENT never reuses a value, and SQLite
-- has one writer at a time, so values are assigned in commit order.
CREATE TABLE rollcall_events (
	seq      INTEGER PRIMARY KEY AUTOINCREMENT,
	tenant   TEXT    NOT NULL,
	type     TEXT    NOT NULL,
	source   TEXT    NOT NULL,
	user_id  TEXT    NOT NULL,
	group_id TEXT    NOT NULL,
	fields   TEXT    NOT NULL,
	time     INTEGER NOT NULL
) STRICT;

CREATE INDEX rollcall_events_tenant ON rollcall_events (tenant, seq);

CREATE TABLE rollcall_keys (
	tenant  TEXT    NOT NULL,
	name    TEXT    NOT NULL,
	value   BLOB    NOT NULL,
	expires INTEGER NOT NULL,
	PRIMARY KEY (tenant, name)
) STRICT;

CREATE INDEX rollcall_keys_expires ON rollcall_keys (tenant, expires);
