package tenant

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/settings"
)

// Create makes a tenant with its first settings: each SAML connection
// without a key gets a generated one (settings.EnsureKeys), and each source
// must build (see Update). It returns a
// *identity.ValidationError for an invalid ID ("tenant") or settings, and a
// *identity.ConflictError if the tenant exists.
func (r *Runtime) Create(ctx context.Context, id string, st settings.Settings) (settings.Settings, error) {
	if !ValidID(id) {
		return settings.Settings{}, &identity.ValidationError{Fields: []identity.FieldError{{Field: "tenant",
			Message: "want 1 to 63 lower-case letters, digits and inner '-'"}}}
	}
	st.Disabled = false
	if _, err := st.EnsureKeys(r.clock.Now()); err != nil {
		return settings.Settings{}, err
	}
	if st.Validate() == nil {
		if err := r.check(id, settings.Settings{}, st); err != nil {
			return settings.Settings{}, err
		}
	}
	out, err := r.cfg.Settings.Create(ctx, id, st)
	r.Invalidate(id)
	if err == nil {
		r.emit(ctx, settings.TenantCreated, id, settings.Diff(settings.Settings{}, out))
	}
	return out, err
}

// emit hands an event of a change the store has committed (and recorded in
// the tenant's log) to Config.Events.
func (r *Runtime) emit(ctx context.Context, typ identity.EventType, id string, fields []string) {
	if r.cfg.Events != nil {
		r.cfg.Events.Emit(ctx, []identity.Event{settings.ChangeEvent(ctx, typ, id, fields, r.clock.Now())})
	}
}

// errNeedKeys stops an update that needs SP keys not generated yet.
var errNeedKeys = errors.New("tenant: SP keys to generate")

// Update changes a tenant's settings (settings.Store.Update), gives a new
// SAML connection without a key a generated one, and refuses a change that
// leaves a source that does not build (see check), naming it. Keys are generated outside
// the store's transaction (an RSA key takes a while, and SQLite has one
// writer): an update that finds a connection without one stops, generates
// it, and runs again. The change is in force at the next Resolve in this
// process, within PollInterval in others.
func (r *Runtime) Update(ctx context.Context, id string, version int64, fn func(*settings.Settings) error) (settings.Settings, error) {
	defer r.Invalidate(id)
	made := map[string]settings.SPKey{} // by connection name
	for {
		var (
			missing []settings.SAML
			base    settings.Settings
		)
		out, err := r.cfg.Settings.Update(ctx, id, version, func(s *settings.Settings) error {
			base = s.Clone()
			if err := fn(s); err != nil {
				return err
			}
			missing = missing[:0]
			for i := range s.SAML {
				c := &s.SAML[i]
				if len(c.Keys) > 0 {
					continue
				}
				if k, ok := made[c.Name]; ok {
					c.Keys = []settings.SPKey{k}
				} else {
					missing = append(missing, *c)
				}
			}
			if len(missing) > 0 {
				return errNeedKeys
			}
			cand := s.Clone()
			if cand.KeepSecrets(base) != nil || cand.Validate() != nil {
				return nil // the store names what is wrong
			}
			return r.check(id, base, cand)
		})
		if !errors.Is(err, errNeedKeys) {
			if err == nil && out.Version != base.Version {
				r.emit(ctx, settings.SettingsChanged, id, settings.Diff(base, out))
			}
			return out, err
		}
		for _, c := range missing {
			k, err := settings.GenerateSPKey(c.EntityID, settings.KeyActive, r.clock.Now(), 0)
			if err != nil {
				return settings.Settings{}, err
			}
			made[c.Name] = k
		}
	}
}

// Replace replaces the tenant's settings with st, as a tenant's admin does
// with If-Match: version is the one read (0: whatever is stored). Secrets
// sent as {"set":true} keep their stored values; the operator's Disabled
// switch is kept as it is.
func (r *Runtime) Replace(ctx context.Context, id string, version int64, st settings.Settings) (settings.Settings, error) {
	return r.Update(ctx, id, version, func(s *settings.Settings) error {
		disabled := s.Disabled
		*s = st.Clone()
		s.Disabled = disabled
		return nil
	})
}

// SetDisabled disables a tenant (every route answers as if it did not
// exist; its data stays) or enables it again.
func (r *Runtime) SetDisabled(ctx context.Context, id string, disabled bool) error {
	_, err := r.Update(ctx, id, 0, func(s *settings.Settings) error { s.Disabled = disabled; return nil })
	return err
}

// Delete removes the tenant and every row of its data
// (settings.Store.DeleteTenant), then hands a settings.TenantDeleted event to
// Config.Events: the tenant's own event log is gone with it.
func (r *Runtime) Delete(ctx context.Context, id string) error {
	err := r.cfg.Settings.DeleteTenant(ctx, id)
	r.Invalidate(id)
	if err == nil {
		r.emit(ctx, settings.TenantDeleted, id, nil)
	}
	return err
}

// IssueToken makes a SCIM token for the tenant and returns it, to be shown
// once, with its record; a zero expires never expires.
func (r *Runtime) IssueToken(ctx context.Context, id, name string, expires time.Time) (string, settings.Token, error) {
	tok, t, err := settings.IssueToken(ctx, r.cfg.Settings, id, name, r.clock.Now(), expires)
	if err == nil {
		r.emit(ctx, settings.TokenIssued, id, []string{"id=" + t.ID, "name=" + t.Name})
	}
	return tok, t, err
}

// RevokeToken revokes one of the tenant's SCIM tokens: the next request
// with it is refused.
func (r *Runtime) RevokeToken(ctx context.Context, id, tokenID string) error {
	err := r.cfg.Settings.DeleteToken(ctx, id, tokenID)
	if err == nil {
		r.emit(ctx, settings.TokenRevoked, id, []string{"id=" + tokenID})
	}
	return err
}

// StartKeyRollover gives a SAML connection a next key, the uploaded one or a
// generated one (made before the store's transaction), published in its
// metadata from now on beside the active key. Once the IdPs know it,
// CompleteKeyRollover makes it sign.
func (r *Runtime) StartKeyRollover(ctx context.Context, id, connection string, upload *settings.SPKey) (settings.Settings, error) {
	noConnection := fmt.Errorf("tenant %s: no SAML connection %q: %w", id, connection, identity.ErrNotFound)
	if upload == nil {
		cur, err := r.cfg.Settings.Settings(ctx, id)
		if err != nil {
			return settings.Settings{}, err
		}
		c := cur.SAMLConnection(connection)
		if c == nil {
			return settings.Settings{}, noConnection
		}
		k, err := settings.GenerateSPKey(c.EntityID, settings.KeyNext, r.clock.Now(), 0)
		if err != nil {
			return settings.Settings{}, err
		}
		upload = &k
	}
	return r.Update(ctx, id, 0, func(s *settings.Settings) error {
		c := s.SAMLConnection(connection)
		if c == nil {
			return noConnection
		}
		k := *upload
		return c.StartRollover(r.clock.Now(), &k)
	})
}

// CompleteKeyRollover makes the connection's next key active and retires
// the active one (kept, unpublished, until the next rollover).
func (r *Runtime) CompleteKeyRollover(ctx context.Context, id, connection string) (settings.Settings, error) {
	return r.Update(ctx, id, 0, func(s *settings.Settings) error {
		c := s.SAMLConnection(connection)
		if c == nil {
			return fmt.Errorf("tenant %s: no SAML connection %q: %w", id, connection, identity.ErrNotFound)
		}
		return c.CompleteRollover()
	})
}

// SweepCertificates records a settings.CertificateExpiring event for each SP
// or IdP certificate of an enabled tenant that expires within 30 days, and
// again within 7 (settings.CertificateWarnings), once per certificate and
// threshold on any number of processes (a key in the tenant's KeyStore
// remembers it). The IdP certificates of metadata fetched from a URL are
// those of the live connection, its metadata fetched again first (see
// liveWarnings). It returns how many events it recorded. A host runs it
// daily, under a lease so that one replica does.
func (r *Runtime) SweepCertificates(ctx context.Context) (int, error) {
	tenants, err := r.cfg.Settings.Tenants(ctx)
	if err != nil {
		return 0, err
	}
	now := r.clock.Now()
	n := 0
	var errs []error
	for _, t := range tenants {
		if t.Disabled {
			continue
		}
		st, err := r.cfg.Settings.Settings(ctx, t.ID)
		if errors.Is(err, identity.ErrNotFound) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		warnings := st.CertificateWarnings(now)
		warnings = append(warnings, r.liveWarnings(ctx, t.ID, st, now)...)
		for _, w := range warnings {
			sent, err := r.warn(ctx, t.ID, w, now)
			if err != nil {
				errs = append(errs, err)
			}
			if sent {
				n++
			}
		}
	}
	return n, errors.Join(errs...)
}

// warn records the warning's event unless it was recorded before.
func (r *Runtime) warn(ctx context.Context, id string, w settings.CertificateWarning, now time.Time) (bool, error) {
	key := fmt.Sprintf("tenant:certwarn:%s:%s:%s:%d", w.Source, w.Certificate, w.NotAfter.UTC().Format(time.RFC3339), w.Within/time.Hour)
	// Kept as long as the certificate is warned of at all: else an expired
	// one would be warned of again at each sweep.
	first, err := r.cfg.Keys(id).SetIfAbsent(ctx, key, nil, w.NotAfter.Add(settings.WarnAfterExpiry+24*time.Hour))
	if err != nil || !first {
		return false, err
	}
	ev := []identity.Event{w.Event(id, now)}
	if log, ok := r.cfg.Stores(id).(identity.EventLog); ok {
		if err := log.AppendEvents(ctx, ev); err != nil {
			return false, err
		}
	}
	if r.cfg.Events != nil {
		r.cfg.Events.Emit(ctx, ev)
	}
	return true, nil
}
