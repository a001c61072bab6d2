package sqlstore

import (
	"context"
	"sync"
	"testing"
)

// OpenPostgres keeps the connections of concurrent transactions open for the
// next ones (database/sql alone keeps 2 idle, and opens a connection, a new
// server process, for each request beyond them), up to Options.MaxConns.
func TestPostgresKeepsConnections(t *testing.T) {
	for _, c := range []struct{ max, want int }{{0, DefaultMaxConns}, {3, 3}} {
		db := openPostgres(t, Options{MaxConns: c.max})
		ctx := context.Background()
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range 8 {
			wg.Go(func() {
				<-start
				err := db.runTx(ctx, txWrite, func(cn conn) error {
					_, err := cn.exec(ctx, "SELECT pg_sleep(0.05)")
					return err
				})
				if err != nil {
					t.Errorf("transaction %d: %v", i, err)
				}
			})
		}
		close(start)
		wg.Wait()
		st := db.wdb.Stats()
		if st.MaxOpenConnections != c.want {
			t.Errorf("MaxConns %d: at most %d connections, want %d", c.max, st.MaxOpenConnections, c.want)
		}
		if open := min(8, c.want); st.Idle != open || st.MaxIdleClosed != 0 {
			t.Errorf("MaxConns %d: %d connections kept, %d closed as idle; want %d kept, none closed", c.max, st.Idle, st.MaxIdleClosed, open)
		}
	}
}
