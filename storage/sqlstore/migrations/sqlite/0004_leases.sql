-- rollcall schema version 4 for SQLite: leases on named jobs, so that a
-- background job runs on one replica at a time (identity.LeaseStore). A
-- released lease keeps its row, with owner '', so that epoch only grows.

CREATE TABLE rollcall_leases (
	job     TEXT    NOT NULL PRIMARY KEY,
	owner   TEXT    NOT NULL,
	expires INTEGER NOT NULL,
	epoch   INTEGER NOT NULL
) STRICT;
