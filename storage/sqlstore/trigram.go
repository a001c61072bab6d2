package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// trigramIndex is the Go step of the PostgreSQL migration user_search: a GIN
// index of pg_trgm on rollcall_users.search, from which PostgreSQL answers
// LIKE '%q%'. Without the extension (not available, or not allowed) it
// creates nothing, logs at Warn, and the migration goes on: Search then
// scans, with the same answers.
func trigramIndex(ctx context.Context, db *DB, c conn) error {
	return makeTrigramIndex(ctx, db, c, "pg_trgm")
}

// makeTrigramIndex is trigramIndex with the extension's name, which a test
// sets to one that does not exist.
func makeTrigramIndex(ctx context.Context, db *DB, c conn, ext string) error {
	schema, err := extensionSchema(ctx, c, ext)
	if err != nil {
		return err
	}
	if schema == "" {
		if schema, err = installExtension(ctx, c, ext); err != nil {
			db.log.WarnContext(ctx, "sqlstore: no trigram index for user search: searches scan the users",
				"extension", ext, "err", err)
			return nil
		}
	}
	_, err = c.q.ExecContext(ctx, "CREATE INDEX rollcall_users_search_trgm ON rollcall_users USING gin (search "+
		quoteIdent(schema)+".gin_trgm_ops)")
	return err
}

// extensionSchema returns the schema the extension is installed in, or ""
// if it is not installed.
func extensionSchema(ctx context.Context, c conn, ext string) (string, error) {
	var schema string
	err := c.q.QueryRowContext(ctx, "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "+
		"WHERE e.extname = $1", ext).Scan(&schema)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return schema, err
}

// installExtension installs ext, in a savepoint that is rolled back if it
// fails, and returns its schema: public if the database has that schema,
// else the current one. (Not a schema that a host or its tests drop with
// their data: dropping it would drop the extension with every index that
// uses it, in every schema.)
func installExtension(ctx context.Context, c conn, ext string) (string, error) {
	if _, err := c.q.ExecContext(ctx, "SAVEPOINT rollcall_extension"); err != nil {
		return "", err
	}
	var public bool
	err := c.q.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'public')").Scan(&public)
	if err == nil {
		stmt := "CREATE EXTENSION IF NOT EXISTS " + quoteIdent(ext)
		if public {
			stmt += " WITH SCHEMA public"
		}
		_, err = c.q.ExecContext(ctx, stmt)
	}
	if err != nil {
		if _, rerr := c.q.ExecContext(ctx, "ROLLBACK TO SAVEPOINT rollcall_extension"); rerr != nil {
			return "", errors.Join(err, rerr)
		}
		// Another database session may have installed it meanwhile.
		if schema, serr := extensionSchema(ctx, c, ext); serr == nil && schema != "" {
			return schema, nil
		}
		return "", fmt.Errorf("create extension %s: %w", ext, err)
	}
	if _, err := c.q.ExecContext(ctx, "RELEASE SAVEPOINT rollcall_extension"); err != nil {
		return "", err
	}
	return extensionSchema(ctx, c, ext)
}

// quoteIdent quotes an SQL identifier.
func quoteIdent(s string) string {
	b := make([]byte, 0, len(s)+2)
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, s[i])
	}
	return string(append(b, '"'))
}
