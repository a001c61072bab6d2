package tenant

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/saml"
	"github.com/rollcall/rollcall/settings"
)

// liveWarnings returns the warnings due for the IdP certificates of the
// tenant's SAML connections whose metadata comes from a URL: the settings do
// not hold them, the live connection does (saml.Connection.Health). Each
// such connection's metadata is fetched again first, so that a certificate
// the IdP rolled over since is the one judged; if the fetch fails, the
// metadata loaded before is judged, and the failure is the connection's
// health (and logged). A certificate is named "idp:<index in the metadata>",
// as for static metadata.
func (r *Runtime) liveWarnings(ctx context.Context, id string, st settings.Settings, now time.Time) []settings.CertificateWarning {
	var urls bool
	for _, c := range st.SAML {
		urls = urls || c.IdPMetadataURL != ""
	}
	if !urls {
		return nil
	}
	src, err := r.Resolve(ctx, id)
	if err != nil {
		r.logger.WarnContext(ctx, "tenant: certificate sweep: resolve", "tenant", id, "error", err)
		return nil
	}
	var out []settings.CertificateWarning
	for _, c := range st.SAML {
		conn := src.SAML[c.Name]
		if c.IdPMetadataURL == "" || conn == nil {
			continue
		}
		// The SP's are the settings' keys, swept as such.
		out = append(out, r.connectionWarnings(ctx, id, conn, false, now)...)
	}
	return out
}

// connectionWarnings returns the warnings due for the certificates of a live
// SAML connection (saml.Connection.Health), its metadata fetched again first
// if it comes from a URL (a failure is logged: the metadata loaded before is
// judged). The IdP's certificates are named "idp:<index in the metadata>";
// the SP's own, with sp, "sp:<index>".
func (r *Runtime) connectionWarnings(ctx context.Context, id string, conn *saml.Connection, sp bool, now time.Time) []settings.CertificateWarning {
	if err := conn.Refresh(ctx); err != nil {
		r.logger.WarnContext(ctx, "tenant: certificate sweep: IdP metadata", "tenant", id, "source", conn.Source(), "error", err)
	}
	var out []settings.CertificateWarning
	n := map[string]int{}
	for _, cert := range conn.Health().Certificates {
		if cert.Owner != saml.OwnerIdP && (!sp || cert.Owner != saml.OwnerSP) {
			continue
		}
		which := fmt.Sprintf("%s:%d", cert.Owner, n[cert.Owner])
		n[cert.Owner]++
		if w, ok := settings.WarningAt(conn.Source(), which, cert.NotAfter, now); ok {
			out = append(out, w)
		}
	}
	return out
}

// SweepConnections is SweepCertificates for SAML connections a host built
// outside the runtime for the tenant id (from its own configuration file,
// say): a settings.CertificateExpiring event for each certificate of theirs
// that expires within 30 days, and again within 7, with the same fields,
// the same once-only record in the tenant's KeyStore and the same events'
// destinations. Their IdP certificates are named "idp:<index in the
// metadata>" (metadata from a URL is fetched again first), the SP's own
// "sp:<index>" ("sp:0": a connection has one). It returns how many events
// it recorded. A host runs it with SweepCertificates, under the same lease.
func (r *Runtime) SweepConnections(ctx context.Context, id string, conns []*saml.Connection) (int, error) {
	now := r.clock.Now()
	n := 0
	var errs []error
	for _, conn := range conns {
		for _, w := range r.connectionWarnings(ctx, id, conn, true, now) {
			sent, err := r.warn(ctx, id, w, now)
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

// PruneDiagnostics trims the diagnostics log (Config.Diagnostics) of every
// tenant, disabled ones included, to the bounds of its settings
// (settings.Diagnostics: 7 days and 10,000 entries unless set), and returns
// how many entries it deleted. A host runs it from its background sweep,
// under a lease so that one replica does it; without Config.Diagnostics it
// does nothing.
func (r *Runtime) PruneDiagnostics(ctx context.Context) (int, error) {
	if r.cfg.Diagnostics == nil {
		return 0, nil
	}
	tenants, err := r.cfg.Settings.Tenants(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, t := range tenants {
		st, err := r.cfg.Settings.Settings(ctx, t.ID)
		if errors.Is(err, identity.ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		log := r.cfg.Diagnostics(t.ID)
		if log == nil {
			continue
		}
		d := st.Diagnostics
		pruned, err := identity.PruneDiagnostics(ctx, log, r.clock, d.MaxAge.D(), d.MaxEntries)
		n += pruned
		if err != nil {
			errs = append(errs, err)
		}
		if ctx.Err() != nil {
			break
		}
	}
	return n, errors.Join(errs...)
}
