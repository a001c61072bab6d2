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

// maxStatements is the most statements a stmtCache prepares besides the
// registered ones: a query built for a list of a new length is prepared too,
// but not without end.
const maxStatements = 256

// stmtCache holds the statements prepared on one pool, by query text.
type stmtCache struct {
	pool *sql.DB
	m    sync.Map // string → *sql.Stmt

	mu sync.Mutex
	// added counts the statements prepared besides the registered ones.
	added int
	// pending holds the queries a transaction ran unprepared, for
	// prepareWanted.
	pending map[string]struct{}
}

// get returns the statement of query prepared on the pool. It prepares it
// when it may: only when the caller holds none of the pool's connections,
// since preparing takes one, and a SQLite write pool has one only. A query
// met in a transaction is prepared once the transaction has ended (see
// prepareWanted); until then it runs unprepared.
func (c *stmtCache) get(ctx context.Context, query string, mayPrepare bool) *sql.Stmt {
	if c == nil {
		return nil
	}
	if st, ok := c.m.Load(query); ok {
		return st.(*sql.Stmt)
	}
	c.mu.Lock()
	full := c.added+len(c.pending) >= maxStatements
	if !full && !mayPrepare {
		if c.pending == nil {
			c.pending = make(map[string]struct{})
		}
		c.pending[query] = struct{}{}
	}
	c.mu.Unlock()
	if full || !mayPrepare {
		return nil
	}
	return c.prepare(ctx, query)
}

// prepare prepares query on the pool and keeps it, or returns nil if it
// fails (the unprepared statement will report why). c.mu is not held: the
// prepare waits for a connection, which a transaction that wants c.mu may
// hold.
func (c *stmtCache) prepare(ctx context.Context, query string) *sql.Stmt {
	st, err := c.pool.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	if prev, loaded := c.m.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt)
	}
	c.mu.Lock()
	c.added++
	c.mu.Unlock()
	return st
}

// prepareWanted prepares the queries that transactions ran unprepared. The
// caller holds none of the pool's connections: a transaction has just ended.
func (c *stmtCache) prepareWanted(ctx context.Context) {
	c.mu.Lock()
	queries := make([]string, 0, len(c.pending))
	for q := range c.pending {
		queries = append(queries, q)
	}
	clear(c.pending)
	c.mu.Unlock()
	for _, q := range queries {
		c.prepare(ctx, q)
	}
}

// wanted reports whether transactions left queries to prepare.
func (c *stmtCache) wanted() bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending) > 0
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
