-- rollcall schema version 6 for PostgreSQL: each tenant's diagnostics log
-- (identity.DiagnosticsLog), the sign-in attempts and SCIM requests an admin
-- reads to find out why a user could not get in. email_key is the email in
-- identity.NormalizeEmail form, for the user filter. Bounded by
-- PruneAttempts: by time, then by count.

CREATE TABLE rollcall_attempts (
	seq        bigint GENERATED ALWAYS AS IDENTITY,
	tenant     text COLLATE "C" NOT NULL,
	time       bigint NOT NULL,
	connection text COLLATE "C" NOT NULL,
	step       text COLLATE "C" NOT NULL,
	outcome    text COLLATE "C" NOT NULL,
	reason     text COLLATE "C" NOT NULL,
	detail     text COLLATE "C" NOT NULL,
	subject    text COLLATE "C" NOT NULL,
	email      text COLLATE "C" NOT NULL,
	email_key  text COLLATE "C" NOT NULL,
	user_id    text COLLATE "C" NOT NULL,
	reference  text COLLATE "C" NOT NULL,
	CONSTRAINT rollcall_attempts_pkey PRIMARY KEY (seq)
);

CREATE INDEX rollcall_attempts_tenant ON rollcall_attempts (tenant, seq);
CREATE INDEX rollcall_attempts_time ON rollcall_attempts (tenant, time);
-- The admin's lookups: the reference a user reports, and the user filter.
CREATE INDEX rollcall_attempts_reference ON rollcall_attempts (tenant, reference);
CREATE INDEX rollcall_attempts_user ON rollcall_attempts (tenant, user_id);
CREATE INDEX rollcall_attempts_subject ON rollcall_attempts (tenant, subject);
CREATE INDEX rollcall_attempts_email ON rollcall_attempts (tenant, email_key);
