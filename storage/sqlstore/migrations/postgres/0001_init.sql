-- rollcall schema version 1 for PostgreSQL: the SQLite schema with
-- PostgreSQL's types. Text is COLLATE "C" so that ordering is bytewise, as in
-- SQLite; times are bigint microseconds since the Unix epoch, UTC.

CREATE TABLE rollcall_users (
	tenant         text COLLATE "C" NOT NULL,
	id             text COLLATE "C" NOT NULL,
	user_name      text COLLATE "C" NOT NULL,
	user_name_key  text COLLATE "C" NOT NULL,
	email          text COLLATE "C" NOT NULL,
	email_key      text COLLATE "C" NOT NULL,
	email_verified boolean NOT NULL,
	given_name     text COLLATE "C" NOT NULL,
	family_name    text COLLATE "C" NOT NULL,
	display_name   text COLLATE "C" NOT NULL,
	active         boolean NOT NULL,
	external_id    text COLLATE "C" NOT NULL,
	attributes     text COLLATE "C" NOT NULL,
	search         text COLLATE "C" NOT NULL,
	created        bigint NOT NULL,
	updated        bigint NOT NULL,
	version        bigint NOT NULL,
	CONSTRAINT rollcall_users_pkey PRIMARY KEY (tenant, id)
);

CREATE UNIQUE INDEX rollcall_users_email ON rollcall_users (tenant, email_key) WHERE email_key <> '';
CREATE UNIQUE INDEX rollcall_users_user_name ON rollcall_users (tenant, user_name_key) WHERE user_name_key <> '';
CREATE UNIQUE INDEX rollcall_users_external_id ON rollcall_users (tenant, external_id) WHERE external_id <> '';

CREATE TABLE rollcall_groups (
	tenant      text COLLATE "C" NOT NULL,
	id          text COLLATE "C" NOT NULL,
	name        text COLLATE "C" NOT NULL,
	name_key    text COLLATE "C" NOT NULL,
	search      text COLLATE "C" NOT NULL,
	kind        text COLLATE "C" NOT NULL,
	source      text COLLATE "C" NOT NULL,
	external_id text COLLATE "C" NOT NULL,
	created     bigint NOT NULL,
	updated     bigint NOT NULL,
	version     bigint NOT NULL,
	CONSTRAINT rollcall_groups_pkey PRIMARY KEY (tenant, id)
);

CREATE UNIQUE INDEX rollcall_groups_name ON rollcall_groups (tenant, name_key) WHERE name_key <> '';
CREATE UNIQUE INDEX rollcall_groups_external_id ON rollcall_groups (tenant, external_id) WHERE external_id <> '';

CREATE TABLE rollcall_members (
	tenant   text COLLATE "C" NOT NULL,
	group_id text COLLATE "C" NOT NULL,
	user_id  text COLLATE "C" NOT NULL,
	CONSTRAINT rollcall_members_pkey PRIMARY KEY (tenant, group_id, user_id),
	CONSTRAINT rollcall_members_group FOREIGN KEY (tenant, group_id) REFERENCES rollcall_groups (tenant, id) ON DELETE CASCADE,
	CONSTRAINT rollcall_members_user_fk FOREIGN KEY (tenant, user_id) REFERENCES rollcall_users (tenant, id) ON DELETE CASCADE
);

CREATE INDEX rollcall_members_user ON rollcall_members (tenant, user_id, group_id);

CREATE TABLE rollcall_links (
	tenant  text COLLATE "C" NOT NULL,
	source  text COLLATE "C" NOT NULL,
	subject text COLLATE "C" NOT NULL,
	user_id text COLLATE "C" NOT NULL,
	created bigint NOT NULL,
	CONSTRAINT rollcall_links_pkey PRIMARY KEY (tenant, source, subject),
	CONSTRAINT rollcall_links_user FOREIGN KEY (tenant, user_id) REFERENCES rollcall_users (tenant, id) ON DELETE CASCADE
);

CREATE UNIQUE INDEX rollcall_links_user_source ON rollcall_links (tenant, user_id, source);

CREATE TABLE rollcall_invitations (
	tenant  text COLLATE "C" NOT NULL,
	hash    bytea NOT NULL,
	user_id text COLLATE "C" NOT NULL,
	expires bigint NOT NULL,
	created bigint NOT NULL,
	CONSTRAINT rollcall_invitations_pkey PRIMARY KEY (tenant, hash),
	CONSTRAINT rollcall_invitations_user_fk FOREIGN KEY (tenant, user_id) REFERENCES rollcall_users (tenant, id) ON DELETE CASCADE
);

CREATE INDEX rollcall_invitations_user ON rollcall_invitations (tenant, user_id);

-- seq is the global cursor. A sequence value is taken when a row is
-- inserted, not when it commits, so AppendEvents first takes a transaction
-- advisory lock on the tenant: the appends of one tenant serialize, and their
-- seq values become visible in increasing order.
CREATE TABLE rollcall_events (
	seq      bigint GENERATED ALWAYS AS IDENTITY,
	tenant   text COLLATE "C" NOT NULL,
	type     text COLLATE "C" NOT NULL,
	source   text COLLATE "C" NOT NULL,
	user_id  text COLLATE "C" NOT NULL,
	group_id text COLLATE "C" NOT NULL,
	fields   text COLLATE "C" NOT NULL,
	time     bigint NOT NULL,
	CONSTRAINT rollcall_events_pkey PRIMARY KEY (seq)
);

CREATE INDEX rollcall_events_tenant ON rollcall_events (tenant, seq);

CREATE TABLE rollcall_keys (
	tenant  text COLLATE "C" NOT NULL,
	name    text COLLATE "C" NOT NULL,
	value   bytea NOT NULL,
	expires bigint NOT NULL,
	CONSTRAINT rollcall_keys_pkey PRIMARY KEY (tenant, name)
);

CREATE INDEX rollcall_keys_expires ON rollcall_keys (tenant, expires);
