package tenant

import (
	"context"
	"errors"

	"github.com/rollcall/rollcall/identity"
)

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
