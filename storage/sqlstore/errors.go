package sqlstore

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"

	"github.com/rollcall/rollcall/identity"
)

// SchemaVersionError is returned by the Open functions and New when the
// database's schema is newer than this code knows: it was migrated by a later
// release of rollcall. Nothing is changed; run that release, or a later one.
type SchemaVersionError struct {
	// Database is the schema version recorded in the database; Code is the
	// newest this code knows.
	Database, Code int
}

func (e *SchemaVersionError) Error() string {
	return fmt.Sprintf("sqlstore: database schema version %d is newer than this code knows (%d): upgrade rollcall", e.Database, e.Code)
}

// SQLite result codes, primary and extended.
const (
	sqliteBusy          = 5
	sqliteLocked        = 6
	sqliteConstraintFK  = 787  // SQLITE_CONSTRAINT_FOREIGNKEY
	sqliteConstraintPK  = 1555 // SQLITE_CONSTRAINT_PRIMARYKEY
	sqliteConstraintUni = 2067 // SQLITE_CONSTRAINT_UNIQUE
)

// retryable reports whether err is a failure that running the transaction
// again may cure: a serialization failure or deadlock in PostgreSQL, a busy or
// locked database in SQLite.
func (d Dialect) retryable(err error) bool {
	switch d {
	case Postgres:
		var pe *pgconn.PgError
		return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
	case SQLite:
		var se *sqlite.Error
		if errors.As(err, &se) {
			c := se.Code() & 0xff
			return c == sqliteBusy || c == sqliteLocked
		}
	}
	return false
}

// conflict describes what a unique index of the schema protects.
type conflict struct {
	// index is the PostgreSQL constraint or index name; columns is the text
	// SQLite's error names the index by.
	index, columns string
	err            *identity.ConflictError
}

// conflicts is searched in order: the SQLite text of the links' primary key
// names rollcall_links.source too, so it comes before the (user, source)
// index.
var conflicts = []conflict{
	{"rollcall_users_email", "rollcall_users.email_key", &identity.ConflictError{Resource: "user", Field: "email"}},
	{"rollcall_users_user_name", "rollcall_users.user_name_key", &identity.ConflictError{Resource: "user", Field: "userName"}},
	{"rollcall_users_pkey", "rollcall_users.id", &identity.ConflictError{Resource: "user", Field: "id"}},
	{"rollcall_groups_name", "rollcall_groups.name_key", &identity.ConflictError{Resource: "group", Field: "name"}},
	{"rollcall_groups_pkey", "rollcall_groups.id", &identity.ConflictError{Resource: "group", Field: "id"}},
	{"rollcall_links_pkey", "rollcall_links.subject", &identity.ConflictError{Resource: "link", Field: "subject"}},
	{"rollcall_links_user_source", "rollcall_links.source", &identity.ConflictError{Resource: "link", Field: "source"}},
	{"rollcall_invitations_pkey", "rollcall_invitations.hash", &identity.ConflictError{Resource: "invitation", Field: "hash"}},
}

// mapErr turns a constraint violation into the identity error it stands for:
// a unique violation into a *identity.ConflictError, a foreign key violation
// (the user or group is gone) into identity.ErrNotFound. Other errors are
// wrapped with what, so that the caller sees which operation failed; a nil
// err stays nil.
//
// The store checks uniqueness itself before it writes, so that the field it
// reports does not depend on the order a database checks its indexes in; this
// is the fallback for a concurrent writer that takes a value in between.
func (d Dialect) mapErr(err error, what string) error {
	if err == nil {
		return nil
	}
	var (
		pe *pgconn.PgError
		se *sqlite.Error
	)
	switch {
	case errors.As(err, &pe):
		switch pe.Code {
		case "23505":
			for _, c := range conflicts {
				if c.index == pe.ConstraintName {
					e := *c.err
					return &e
				}
			}
		case "23503":
			return fmt.Errorf("sqlstore: %s: %w", what, identity.ErrNotFound)
		}
	case errors.As(err, &se):
		switch se.Code() {
		case sqliteConstraintUni, sqliteConstraintPK:
			msg := se.Error()
			for _, c := range conflicts {
				if strings.Contains(msg, c.columns) {
					e := *c.err
					return &e
				}
			}
		case sqliteConstraintFK:
			return fmt.Errorf("sqlstore: %s: %w", what, identity.ErrNotFound)
		}
	}
	return fmt.Errorf("sqlstore: %s: %w", what, err)
}
