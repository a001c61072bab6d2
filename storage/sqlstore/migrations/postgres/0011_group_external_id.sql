-- rollcall schema version 9 for PostgreSQL: a group's externalID is not unique
-- (RFC 7643 §3.1: the client keeps it unique, or not), as a user's is not
-- since version 8. The unique index becomes a plain one that also holds the
-- ID, so that GroupsByExternalID reads its groups in ID order from it.

DROP INDEX rollcall_groups_external_id;
CREATE INDEX rollcall_groups_external_id ON rollcall_groups (tenant, external_id, id) WHERE external_id <> '';
