package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
)

// TestGroupExternalIDIndexed checks that the lookups of groups by externalID,
// whose unique index became a plain one, read it: the plan of each names
// rollcall_groups_external_id, and SQLite's needs no sort for ORDER BY id
// (the index holds the ID). PostgreSQL is told not to scan the table, as it
// would for the few rows a test has.
func TestGroupExternalIDIndexed(t *testing.T) {
	queries := map[string]string{"GroupByExternalID": groupByExternalID, "GroupsByExternalID": groupsByExternalID}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			db := b.open(t, Options{})
			s := db.Tenant("t")
			for _, name := range []string{"A", "B", "C"} {
				if _, err := s.CreateGroup(ctx, identity.Group{Name: name, Kind: groups.External, Source: "scim", ExternalID: "dup"}); err != nil {
					t.Fatalf("CreateGroup %s with a shared externalID: %v", name, err)
				}
			}
			conn, explain := explainOn(t, db)
			for what, q := range queries {
				plan := queryPlan(t, conn, explain+strings.NewReplacer("tenant = ?", "tenant = 't'", "external_id = ?", "external_id = 'dup'").Replace(q))
				if !strings.Contains(plan, "rollcall_groups_external_id") {
					t.Errorf("%s: the plan does not use rollcall_groups_external_id:\n%s", what, plan)
				}
				if db.dialect == SQLite && strings.Contains(plan, "TEMP B-TREE") {
					t.Errorf("%s: the plan sorts instead of reading the index in ID order:\n%s", what, plan)
				}
			}
		})
	}
}

// explainOn returns a connection of db's writer and the statement that
// explains a query on it; on PostgreSQL the connection is told not to scan
// tables, as it would for the few rows a test has, until the test ends and
// the connection is closed.
func explainOn(t *testing.T, db *DB) (*sql.Conn, string) {
	t.Helper()
	conn, err := db.wdb.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if db.dialect != Postgres {
		t.Cleanup(func() { conn.Close() })
		return conn, "EXPLAIN QUERY PLAN "
	}
	t.Cleanup(func() {
		// The connection goes back to the pool: as it was.
		conn.ExecContext(context.Background(), "RESET enable_seqscan")
		conn.Close()
	})
	if _, err := conn.ExecContext(t.Context(), "SET enable_seqscan = off"); err != nil {
		t.Fatal(err)
	}
	return conn, "EXPLAIN "
}

// queryPlan returns the text of an EXPLAIN: every column of every row.
func queryPlan(t *testing.T, conn *sql.Conn, query string) string {
	t.Helper()
	if strings.Contains(query, "?") {
		t.Fatalf("a placeholder is left in %s", query)
	}
	rows, err := conn.QueryContext(t.Context(), query)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			b.WriteString(v.String)
			b.WriteByte(' ')
		}
		b.WriteByte('\n')
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// A search of the events of one type reads the index of types, newest
// first, rather than every event of the tenant.
func TestEventTypeIndexed(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			db := b.open(t, Options{})
			conn, explain := explainOn(t, db)
			for _, q := range []string{
				"SELECT seq FROM rollcall_events WHERE tenant = 't' AND type = 'sync.completed' ORDER BY seq DESC LIMIT 1",
				"SELECT seq FROM rollcall_events WHERE tenant = 't' AND type = 'sync.completed' AND source = 'google' AND seq < 100 ORDER BY seq DESC LIMIT 50",
			} {
				plan := queryPlan(t, conn, explain+q)
				if !strings.Contains(plan, "rollcall_events_type") {
					t.Errorf("%s: the plan does not use rollcall_events_type:\n%s", q, plan)
				}
				if db.dialect == SQLite && strings.Contains(plan, "TEMP B-TREE") {
					t.Errorf("%s: the plan sorts instead of reading the index backwards:\n%s", q, plan)
				}
			}
		})
	}
}
