package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/settings"
)

var _ settings.Store = (*SettingsStore)(nil)

// SettingsStore is the settings.Store of every tenant of a DB, from
// DB.Settings: one row of sealed JSON per tenant in rollcall_settings, SCIM
// token hashes in rollcall_scim_tokens. Its events go to the tenant's event
// log, in the transaction of the change.
type SettingsStore struct {
	db      *DB
	keyring *settings.Keyring
}

// Settings returns the settings store of the DB, sealing and opening secrets
// with keyring.
func (db *DB) Settings(keyring *settings.Keyring) *SettingsStore {
	return &SettingsStore{db: db, keyring: keyring}
}

const selectSettings = "SELECT version, disabled, data, updated FROM rollcall_settings WHERE tenant = ?"

var (
	selectSettingsVersion = prep("SELECT version FROM rollcall_settings WHERE tenant = ?")
	selectTokenByHash     = prep("SELECT tenant, id, name, hash, created, last_used, expires FROM rollcall_scim_tokens WHERE hash = ?")
)

// read reads a tenant's settings row and opens it.
func (s *SettingsStore) read(ctx context.Context, c conn, tenant string, lock bool) (settings.Settings, error) {
	q := selectSettings
	if lock {
		q += c.d.forUpdate()
	}
	var (
		version, updated int64
		disabled         bool
		data             string
	)
	err := c.row(ctx, q, tenant).Scan(&version, &disabled, &data, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return settings.Settings{}, notFound("settings")
	}
	if err != nil {
		return settings.Settings{}, c.d.mapErr(err, "read settings")
	}
	st, err := settings.Open(s.keyring, tenant, []byte(data))
	if err != nil {
		return settings.Settings{}, fmt.Errorf("sqlstore: tenant %s: %w", tenant, err)
	}
	st.Version, st.Disabled, st.Updated = version, disabled, fromMicros(updated)
	return st, nil
}

// Settings implements settings.Store.
func (s *SettingsStore) Settings(ctx context.Context, tenant string) (settings.Settings, error) {
	return s.read(ctx, s.db.on(s.db.rdb, nil), tenant, false)
}

// Version implements settings.Store.
func (s *SettingsStore) Version(ctx context.Context, tenant string) (int64, error) {
	c := s.db.on(s.db.rdb, nil)
	var v int64
	err := c.row(ctx, selectSettingsVersion, tenant).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, notFound("settings")
	}
	return v, c.d.mapErr(err, "read settings version")
}

// Tenants implements settings.Store.
func (s *SettingsStore) Tenants(ctx context.Context) ([]settings.Tenant, error) {
	c := s.db.on(s.db.rdb, nil)
	rows, err := c.query(ctx, "SELECT tenant, version, disabled, updated FROM rollcall_settings ORDER BY tenant")
	if err != nil {
		return nil, c.d.mapErr(err, "list tenants")
	}
	defer rows.Close()
	var out []settings.Tenant
	for rows.Next() {
		var (
			t       settings.Tenant
			updated int64
		)
		if err := rows.Scan(&t.ID, &t.Version, &t.Disabled, &updated); err != nil {
			return nil, c.d.mapErr(err, "list tenants")
		}
		t.Updated = fromMicros(updated)
		out = append(out, t)
	}
	return out, c.d.mapErr(rows.Err(), "list tenants")
}

// Create implements settings.Store.
func (s *SettingsStore) Create(ctx context.Context, tenant string, st settings.Settings) (settings.Settings, error) {
	if tenant == "" {
		return settings.Settings{}, invalid("tenant", "required")
	}
	st, changed, err := settings.Apply(settings.Settings{}, func(n *settings.Settings) error { *n = st; return nil })
	if err != nil {
		return settings.Settings{}, err
	}
	now := s.db.now()
	st.Version, st.Updated = 1, now
	data, err := settings.Seal(s.keyring, tenant, st)
	if err != nil {
		return settings.Settings{}, err
	}
	err = s.db.runTx(ctx, txWrite, func(c conn) error {
		taken, err := c.exists(ctx, "SELECT 1 FROM rollcall_settings WHERE tenant = ?", tenant)
		if err != nil {
			return c.d.mapErr(err, "create tenant")
		}
		if taken {
			return &identity.ConflictError{Resource: "tenant", Field: "id"}
		}
		if _, err := c.exec(ctx, "INSERT INTO rollcall_settings (tenant, version, disabled, data, updated) VALUES (?, ?, ?, ?, ?)",
			tenant, st.Version, st.Disabled, string(data), micros(now)); err != nil {
			if mapped := c.d.mapErr(err, "create tenant"); errors.Is(mapped, identity.ErrConflict) {
				return &identity.ConflictError{Resource: "tenant", Field: "id"}
			}
			return c.d.mapErr(err, "create tenant")
		}
		return s.event(ctx, c, settings.ChangeEvent(ctx, settings.TenantCreated, tenant, changed, now))
	})
	if err != nil {
		return settings.Settings{}, err
	}
	return st, nil
}

// event appends e to its tenant's event log in c's transaction.
func (s *SettingsStore) event(ctx context.Context, c conn, e identity.Event) error {
	return (&Store{db: s.db, tenant: e.Tenant, tx: &c}).AppendEvents(ctx, []identity.Event{e})
}

// Update implements settings.Store.
func (s *SettingsStore) Update(ctx context.Context, tenant string, version int64, fn func(*settings.Settings) error) (settings.Settings, error) {
	var out settings.Settings
	err := s.db.runTx(ctx, txWrite, func(c conn) error {
		old, err := s.read(ctx, c, tenant, true)
		if err != nil {
			return err
		}
		if version != 0 && version != old.Version {
			return fmt.Errorf("sqlstore: settings of %s: version %d, stored %d: %w", tenant, version, old.Version, identity.ErrVersionMismatch)
		}
		st, changed, err := settings.Apply(old, fn)
		if err != nil {
			return err
		}
		if len(changed) == 0 {
			out = old
			return nil
		}
		now := s.db.now()
		st.Version, st.Updated = old.Version+1, now
		data, err := settings.Seal(s.keyring, tenant, st)
		if err != nil {
			return err
		}
		if _, err := c.exec(ctx, "UPDATE rollcall_settings SET version = ?, disabled = ?, data = ?, updated = ? WHERE tenant = ?",
			st.Version, st.Disabled, string(data), micros(now), tenant); err != nil {
			return c.d.mapErr(err, "update settings")
		}
		out = st
		return s.event(ctx, c, settings.ChangeEvent(ctx, settings.SettingsChanged, tenant, changed, now))
	})
	if err != nil {
		return settings.Settings{}, err
	}
	return out, nil
}

// searchKeys is the table of the SQLite user search index's row keys.
const searchKeys = "rollcall_user_search_keys"

// tenantTables lists the tables of the schema that have a tenant column:
// every table of rollcall's, the ones later migrations add included.
func tenantTables(ctx context.Context, c conn) ([]string, error) {
	q := "SELECT table_name FROM information_schema.columns WHERE table_schema = current_schema() AND column_name = 'tenant' " +
		"AND table_name LIKE 'rollcall%' ORDER BY table_name"
	if c.d == SQLite {
		q = "SELECT m.name FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table' AND p.name = 'tenant' " +
			"AND m.name LIKE 'rollcall%' ORDER BY m.name"
	}
	rows, err := c.query(ctx, q)
	if err != nil {
		return nil, c.d.mapErr(err, "list tables")
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, c.d.mapErr(err, "list tables")
		}
		out = append(out, t)
	}
	return out, c.d.mapErr(rows.Err(), "list tables")
}

// DeleteTenant implements settings.Store: in one transaction it deletes the
// tenant's rows from every table of the schema with a tenant column (found in
// the catalog, so a table added later is covered), its settings last.
func (s *SettingsStore) DeleteTenant(ctx context.Context, tenant string) error {
	// The diagnostics entries queued before go with the tenant.
	if err := s.db.attempts.sync(ctx, s.db, 0); err != nil {
		return err
	}
	return s.db.runTx(ctx, txWrite, func(c conn) error {
		found, err := c.exists(ctx, "SELECT 1 FROM rollcall_settings WHERE tenant = ?"+c.d.forUpdate(), tenant)
		if err != nil {
			return c.d.mapErr(err, "delete tenant")
		}
		if !found {
			return notFound("tenant")
		}
		tables, err := tenantTables(ctx, c)
		if err != nil {
			return err
		}
		// Rows that others reference go after the rows that reference them;
		// the search index's keys after the users, whose delete trigger
		// takes the users out of the index through them.
		order := []string{"rollcall_members", "rollcall_links", "rollcall_invitations"}
		last := []string{searchKeys, "rollcall_settings"}
		for _, t := range tables {
			if !contains(last, t) && !contains(order, t) {
				order = append(order, t)
			}
		}
		for _, t := range append(order, last...) {
			if !contains(tables, t) {
				continue
			}
			if _, err := c.exec(ctx, "DELETE FROM "+t+" WHERE tenant = ?", tenant); err != nil {
				return c.d.mapErr(err, "delete tenant: "+t)
			}
		}
		return nil
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Reencrypt implements settings.Store. Each tenant's row is sealed again in
// a transaction of its own.
func (s *SettingsStore) Reencrypt(ctx context.Context) (int, error) {
	tenants, err := s.Tenants(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range tenants {
		err := s.db.runTx(ctx, txWrite, func(c conn) error {
			var data string
			err := c.row(ctx, "SELECT data FROM rollcall_settings WHERE tenant = ?"+c.d.forUpdate(), t.ID).Scan(&data)
			if errors.Is(err, sql.ErrNoRows) {
				return nil // deleted meanwhile
			}
			if err != nil {
				return c.d.mapErr(err, "reencrypt")
			}
			out, changed, err := settings.Reseal(s.keyring, t.ID, []byte(data))
			if err != nil || !changed || bytes.Equal(out, []byte(data)) {
				return err
			}
			if _, err := c.exec(ctx, "UPDATE rollcall_settings SET data = ? WHERE tenant = ?", string(out), t.ID); err != nil {
				return c.d.mapErr(err, "reencrypt")
			}
			n++
			return nil
		})
		if err != nil {
			return n, fmt.Errorf("sqlstore: reencrypt tenant %s: %w", t.ID, err)
		}
	}
	return n, nil
}

// CreateToken implements settings.TokenStore.
func (s *SettingsStore) CreateToken(ctx context.Context, t settings.Token) error {
	return s.db.runTx(ctx, txWrite, func(c conn) error {
		found, err := c.exists(ctx, "SELECT 1 FROM rollcall_settings WHERE tenant = ?", t.Tenant)
		if err != nil || !found {
			return errors.Join(c.d.mapErr(err, "create token"), notFoundIf(!found && err == nil, "tenant"))
		}
		for _, f := range []struct {
			field, q string
			args     []any
		}{
			{"id", "SELECT 1 FROM rollcall_scim_tokens WHERE tenant = ? AND id = ?", []any{t.Tenant, t.ID}},
			{"hash", "SELECT 1 FROM rollcall_scim_tokens WHERE hash = ?", []any{t.Hash}},
		} {
			taken, err := c.exists(ctx, f.q, f.args...)
			if err != nil {
				return c.d.mapErr(err, "create token")
			}
			if taken {
				return &identity.ConflictError{Resource: "token", Field: f.field}
			}
		}
		if _, err := c.exec(ctx, "INSERT INTO rollcall_scim_tokens (tenant, id, name, hash, created, last_used, expires) VALUES (?, ?, ?, ?, ?, ?, ?)",
			t.Tenant, t.ID, t.Name, t.Hash, micros(stamp(t.Created)), optMicros(t.LastUsed), optMicros(t.Expires)); err != nil {
			if mapped := c.d.mapErr(err, "create token"); !errors.Is(mapped, identity.ErrConflict) {
				return mapped
			}
			return &identity.ConflictError{Resource: "token", Field: "hash"}
		}
		return s.event(ctx, c, settings.ChangeEvent(ctx, settings.TokenIssued, t.Tenant, []string{"id=" + t.ID, "name=" + t.Name}, s.db.now()))
	})
}

func notFoundIf(cond bool, what string) error {
	if cond {
		return notFound(what)
	}
	return nil
}

// optMicros stores a zero time as 0.
func optMicros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return micros(t)
}

func optTime(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return fromMicros(v)
}

func scanToken(r scanner) (settings.Token, error) {
	var (
		t                         settings.Token
		created, lastUsed, expire int64
	)
	if err := r.Scan(&t.Tenant, &t.ID, &t.Name, &t.Hash, &created, &lastUsed, &expire); err != nil {
		return settings.Token{}, err
	}
	t.Created, t.LastUsed, t.Expires = fromMicros(created), optTime(lastUsed), optTime(expire)
	return t, nil
}

// Tokens implements settings.TokenStore.
func (s *SettingsStore) Tokens(ctx context.Context, tenant string) ([]settings.Token, error) {
	c := s.db.on(s.db.rdb, nil)
	rows, err := c.query(ctx, "SELECT tenant, id, name, hash, created, last_used, expires FROM rollcall_scim_tokens WHERE tenant = ? ORDER BY created, id", tenant)
	if err != nil {
		return nil, c.d.mapErr(err, "list tokens")
	}
	defer rows.Close()
	var out []settings.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, c.d.mapErr(err, "list tokens")
		}
		out = append(out, t)
	}
	return out, c.d.mapErr(rows.Err(), "list tokens")
}

// TokenByHash implements settings.TokenStore.
func (s *SettingsStore) TokenByHash(ctx context.Context, hash []byte) (settings.Token, error) {
	c := s.db.on(s.db.rdb, nil)
	t, err := scanToken(c.row(ctx, selectTokenByHash, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return settings.Token{}, notFound("token")
	}
	return t, c.d.mapErr(err, "read token")
}

// TouchToken implements settings.TokenStore.
func (s *SettingsStore) TouchToken(ctx context.Context, tenant, id string, at time.Time) error {
	return s.db.retryStmt(ctx, func(c conn) error {
		res, err := c.exec(ctx, "UPDATE rollcall_scim_tokens SET last_used = ? WHERE tenant = ? AND id = ?", micros(stamp(at)), tenant, id)
		return affected(c, res, err, "touch token")
	})
}

func affected(c conn, res sql.Result, err error, what string) error {
	if err != nil {
		return c.d.mapErr(err, what)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return c.d.mapErr(err, what)
	}
	if n == 0 {
		return notFound("token")
	}
	return nil
}

// DeleteToken implements settings.TokenStore.
func (s *SettingsStore) DeleteToken(ctx context.Context, tenant, id string) error {
	return s.db.runTx(ctx, txWrite, func(c conn) error {
		res, err := c.exec(ctx, "DELETE FROM rollcall_scim_tokens WHERE tenant = ? AND id = ?", tenant, id)
		if err := affected(c, res, err, "delete token"); err != nil {
			return err
		}
		return s.event(ctx, c, settings.ChangeEvent(ctx, settings.TokenRevoked, tenant, []string{"id=" + id}, s.db.now()))
	})
}
