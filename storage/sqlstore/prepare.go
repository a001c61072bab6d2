package sqlstore

import (
	"context"
	"database/sql"
	"strings"
	"sync"
)

// SQLite parses a statement each time database/sql runs one, and for the
// store's short statements parsing is most of the work. So on SQLite the store
// prepares its statements once per pool and keeps them. A transaction uses
// them through Tx.StmtContext, which reuses the statement already prepared on
// the transaction's connection. PostgreSQL needs none of this: pgx keeps a
// statement cache per connection.

// statements are the queries the package registers with prep: prepared when
// a SQLite DB opens.
var statements []string

// prep registers query for preparing and returns it.
func prep(query string) string {
	statements = append(statements, query)
	return query
}

// stmtCache holds the statements prepared on one pool, by query text.
type stmtCache struct {
	pool *sql.DB
	m    sync.Map // string → *sql.Stmt
}

// get returns the statement of query prepared on the pool. It prepares it
// when it must: only when the caller holds none of the pool's connections,
// since preparing takes one, and a SQLite write pool has one only.
func (c *stmtCache) get(ctx context.Context, query string, mayPrepare bool) *sql.Stmt {
	if c == nil {
		return nil
	}
	if st, ok := c.m.Load(query); ok {
		return st.(*sql.Stmt)
	}
	if !mayPrepare {
		return nil
	}
	st, err := c.pool.PrepareContext(ctx, query)
	if err != nil {
		return nil // the unprepared statement will report it
	}
	if prev, loaded := c.m.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt)
	}
	return st
}

// warm prepares the registered statements; with reads set, only those that
// read (for the read-only pool).
func (c *stmtCache) warm(ctx context.Context, reads bool) error {
	for _, q := range statements {
		if reads && !strings.HasPrefix(q, "SELECT") {
			continue
		}
		st, err := c.pool.PrepareContext(ctx, q)
		if err != nil {
			return err
		}
		if _, loaded := c.m.LoadOrStore(q, st); loaded {
			st.Close()
		}
	}
	return nil
}

func (c *stmtCache) close() {
	if c == nil {
		return
	}
	c.m.Range(func(k, v any) bool {
		v.(*sql.Stmt).Close()
		c.m.Delete(k)
		return true
	})
}
