-- The diagnostics log's lookups by reference, user ID, subject and email
-- index only the entries that have one. Most entries have none of the four
-- (a SCIM request's has at most a user ID), and each index entry of an empty
-- value was a page more to write with every entry recorded. Attempts asks
-- for the same condition (col <> '') with each lookup, so that the planner
-- may use these indexes.

DROP INDEX rollcall_attempts_reference;
DROP INDEX rollcall_attempts_user;
DROP INDEX rollcall_attempts_subject;
DROP INDEX rollcall_attempts_email;
CREATE INDEX rollcall_attempts_reference ON rollcall_attempts (tenant, reference) WHERE reference <> '';
CREATE INDEX rollcall_attempts_user ON rollcall_attempts (tenant, user_id) WHERE user_id <> '';
CREATE INDEX rollcall_attempts_subject ON rollcall_attempts (tenant, subject) WHERE subject <> '';
CREATE INDEX rollcall_attempts_email ON rollcall_attempts (tenant, email_key) WHERE email_key <> '';
