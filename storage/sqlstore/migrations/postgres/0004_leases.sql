-- rollcall schema version 4 for PostgreSQL: leases on named jobs, so that a
-- background job runs on one replica at a time (identity.LeaseStore). A
-- released lease keeps its row, with owner '', so that epoch only grows.

CREATE TABLE rollcall_leases (
	job     text COLLATE "C" NOT NULL,
	owner   text COLLATE "C" NOT NULL,
	expires bigint NOT NULL,
	epoch   bigint NOT NULL,
	CONSTRAINT rollcall_leases_pkey PRIMARY KEY (job)
);
