package sqlstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// migrations holds one folder per dialect, migrations/<dialect>/NNNN_name.sql.
// Both folders hold the same versions. A migration is never edited once
// released: a change of schema is a new file with the next number.
//
//go:embed migrations
var migrations embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations returns the dialect's migrations in version order.
func loadMigrations(d Dialect) ([]migration, error) {
	dir := path.Join("migrations", d.String())
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("migration %s: want NNNN_name.sql", e.Name())
		}
		b, err := fs.ReadFile(migrations, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: name, sql: string(b)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migrations: version %d where %d belongs", m.version, i+1)
		}
	}
	return ms, nil
}

// migrate brings the schema to the newest version this code knows, in one
// transaction that holds the database's migration lock: SQLite's write lock
// (BEGIN IMMEDIATE), PostgreSQL's transaction advisory lock for the current
// schema. A second process opening the database at the same time waits, then
// finds nothing to do. A database newer than the code is a
// *SchemaVersionError, and is left as it is.
func (db *DB) migrate(ctx context.Context) error {
	ms, err := loadMigrations(db.dialect)
	if err != nil {
		return fmt.Errorf("sqlstore: %w", err)
	}
	known := len(ms)
	return db.runTx(ctx, txWrite, func(c conn) error {
		if db.dialect == Postgres {
			if _, err := c.exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended('rollcall.migrate:' || current_schema(), 0))"); err != nil {
				return fmt.Errorf("sqlstore: migration lock: %w", err)
			}
		}
		if _, err := c.exec(ctx, `CREATE TABLE IF NOT EXISTS rollcall_schema (
	version INTEGER NOT NULL PRIMARY KEY,
	name    TEXT    NOT NULL,
	applied BIGINT  NOT NULL
)`); err != nil {
			return fmt.Errorf("sqlstore: create rollcall_schema: %w", err)
		}
		var have int
		if err := c.row(ctx, "SELECT COALESCE(MAX(version), 0) FROM rollcall_schema").Scan(&have); err != nil {
			return fmt.Errorf("sqlstore: read schema version: %w", err)
		}
		if have > known {
			return &SchemaVersionError{Database: have, Code: known}
		}
		for _, m := range ms[have:] {
			if err := db.runMigration(ctx, c, m); err != nil {
				return fmt.Errorf("sqlstore: migration %d (%s): %w", m.version, m.name, err)
			}
			if _, err := c.exec(ctx, "INSERT INTO rollcall_schema (version, name, applied) VALUES (?, ?, ?)",
				m.version, m.name, db.now().UnixMicro()); err != nil {
				return fmt.Errorf("sqlstore: record migration %d: %w", m.version, err)
			}
			db.log.InfoContext(ctx, "sqlstore: migrated", "dialect", db.dialect.String(), "version", m.version, "name", m.name)
		}
		return nil
	})
}

// goStepPrefix starts a line of a migration that runs a step written in Go,
// by name, between the statements before the line and those after it: for
// what SQL cannot compute alike in both dialects (identity.NormalizeEmail).
const goStepPrefix = "-- go: "

// goSteps are the Go steps migrations may name.
var goSteps = map[string]func(ctx context.Context, db *DB, c conn) error{
	"canonical_emails": canonicalEmails,
	"trigram_index":    trigramIndex,
}

// runMigration runs m's statements and the Go steps its lines name, in
// order.
func (db *DB) runMigration(ctx context.Context, c conn, m migration) error {
	var part strings.Builder
	flush := func() error {
		if strings.TrimSpace(part.String()) == "" {
			return nil
		}
		_, err := c.q.ExecContext(ctx, part.String())
		part.Reset()
		return err
	}
	for line := range strings.Lines(m.sql) {
		name, ok := strings.CutPrefix(strings.TrimSpace(line), goStepPrefix)
		if !ok {
			part.WriteString(line)
			continue
		}
		step := goSteps[name]
		if step == nil {
			return fmt.Errorf("unknown Go step %q", name)
		}
		if err := flush(); err != nil {
			return err
		}
		if err := step(ctx, db, c); err != nil {
			return fmt.Errorf("step %s: %w", name, err)
		}
	}
	return flush()
}
