-- rollcall schema version 9 for SQLite: an index for ListUsers' Search.
--
-- rollcall_user_search is an FTS5 index of each user's search column (the
-- lower-cased fields, computed in Go) by the trigram tokenizer, kept in step
-- by triggers: a Search of three characters or more is a phrase of trigrams,
-- answered from the index with the same users as search LIKE '%q%'. It is
-- case-sensitive over text lower-cased already, so it matches exactly what
-- strings.ToLower matched. The column is indexed followed by two U+001F, so
-- that every place a term of one or two characters occurs starts a trigram:
-- such a term is the OR of the trigrams that start with it, which
-- rollcall_user_search_terms (fts5vocab) lists. A userName equal to the
-- email (as the core makes it by default) is left out of the indexed text,
-- its separator kept: what it holds the email holds. Indexing costs a
-- trigram a character, so that saves a third of it.
--
-- An FTS5 row is found by its rowid, and the rowid of rollcall_users (which
-- has no INTEGER PRIMARY KEY) may change on VACUUM: so the index's rowid is
-- n of rollcall_user_search_keys, an INTEGER PRIMARY KEY that never changes.

CREATE TABLE rollcall_user_search_keys (
	n      INTEGER PRIMARY KEY,
	tenant TEXT    NOT NULL,
	id     TEXT    NOT NULL
) STRICT;

CREATE UNIQUE INDEX rollcall_user_search_keys_user ON rollcall_user_search_keys (tenant, id);

CREATE VIRTUAL TABLE rollcall_user_search USING fts5(
	search,
	content = '',
	contentless_delete = 1,
	tokenize = 'trigram case_sensitive 1'
);

-- FTS5 writes what it was given as a new segment of the index at each
-- commit, and within a transaction at each statement after one that wrote
-- it (each insert of users, by the triggers); automerge merges a level's
-- segments once it holds that many. 8 (FTS5's default is 4) merges each
-- entry fewer times: a bulk create of users costs a tenth less, one user's
-- create and a search the same (docs/benchmarks.md).
INSERT INTO rollcall_user_search (rollcall_user_search, rank) VALUES ('automerge', 8);

CREATE VIRTUAL TABLE rollcall_user_search_terms USING fts5vocab(rollcall_user_search, 'row');

INSERT INTO rollcall_user_search_keys (tenant, id) SELECT tenant, id FROM rollcall_users ORDER BY tenant, id;

INSERT INTO rollcall_user_search (rowid, search)
SELECT k.n, CASE WHEN u.user_name = u.email AND substr(u.search, length(u.email) + 1, 1) = char(31) AND substr(u.search, 2 * length(u.email) + 2, 1) = char(31)
		THEN substr(u.search, 1, length(u.email) + 1) || substr(u.search, 2 * length(u.email) + 2)
		ELSE u.search END || char(31, 31)
FROM rollcall_user_search_keys k JOIN rollcall_users u ON u.tenant = k.tenant AND u.id = k.id;

CREATE TRIGGER rollcall_users_search_insert AFTER INSERT ON rollcall_users BEGIN
	INSERT INTO rollcall_user_search_keys (tenant, id) VALUES (new.tenant, new.id);
	INSERT INTO rollcall_user_search (rowid, search)
	SELECT n, CASE WHEN new.user_name = new.email AND substr(new.search, length(new.email) + 1, 1) = char(31) AND substr(new.search, 2 * length(new.email) + 2, 1) = char(31)
		THEN substr(new.search, 1, length(new.email) + 1) || substr(new.search, 2 * length(new.email) + 2)
		ELSE new.search END || char(31, 31)
	FROM rollcall_user_search_keys WHERE tenant = new.tenant AND id = new.id;
END;

CREATE TRIGGER rollcall_users_search_update AFTER UPDATE OF search ON rollcall_users
WHEN new.search IS NOT old.search OR new.user_name IS NOT old.user_name OR new.email IS NOT old.email BEGIN
	UPDATE rollcall_user_search SET search = CASE WHEN new.user_name = new.email AND substr(new.search, length(new.email) + 1, 1) = char(31) AND substr(new.search, 2 * length(new.email) + 2, 1) = char(31)
		THEN substr(new.search, 1, length(new.email) + 1) || substr(new.search, 2 * length(new.email) + 2)
		ELSE new.search END || char(31, 31)
	WHERE rowid = (SELECT n FROM rollcall_user_search_keys WHERE tenant = old.tenant AND id = old.id);
END;

CREATE TRIGGER rollcall_users_search_delete AFTER DELETE ON rollcall_users BEGIN
	DELETE FROM rollcall_user_search
	WHERE rowid = (SELECT n FROM rollcall_user_search_keys WHERE tenant = old.tenant AND id = old.id);
	DELETE FROM rollcall_user_search_keys WHERE tenant = old.tenant AND id = old.id;
END;
