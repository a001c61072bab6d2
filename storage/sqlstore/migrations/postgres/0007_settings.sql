-- rollcall schema: tenant settings and SCIM tokens, for PostgreSQL (see the
-- SQLite file for the columns).

CREATE TABLE rollcall_settings (
	tenant   text COLLATE "C" NOT NULL,
	version  bigint NOT NULL,
	disabled boolean NOT NULL,
	data     text COLLATE "C" NOT NULL,
	updated  bigint NOT NULL,
	CONSTRAINT rollcall_settings_pkey PRIMARY KEY (tenant)
);

CREATE TABLE rollcall_scim_tokens (
	tenant    text COLLATE "C" NOT NULL,
	id        text COLLATE "C" NOT NULL,
	name      text COLLATE "C" NOT NULL,
	hash      bytea NOT NULL,
	created   bigint NOT NULL,
	last_used bigint NOT NULL,
	expires   bigint NOT NULL,
	CONSTRAINT rollcall_scim_tokens_pkey PRIMARY KEY (tenant, id)
);

CREATE UNIQUE INDEX rollcall_scim_tokens_hash ON rollcall_scim_tokens (hash);
