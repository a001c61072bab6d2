package main

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/saml"
)

// healthJSON is GET /api/v1/settings/health: what the tenant has configured
// and how each part is doing, as far as this server knows.
type healthJSON struct {
	Tenant string `json:"tenant"`
	// Version is the runtime tenant's settings version; 0 for the tenant
	// of the configuration file.
	Version     int64             `json:"version"`
	GroupSource string            `json:"groupSource"`
	SCIM        scimHealthJSON    `json:"scim"`
	SAML        []samlHealthJSON  `json:"saml"`
	OAuth       []oauthHealthJSON `json:"oauth"`
	Google      googleHealthJSON  `json:"google"`
	// Errors holds, by source, why a configured source could not be built.
	Errors map[string]string `json:"errors"`
}

type scimHealthJSON struct {
	Enabled bool `json:"enabled"`
	// Tokens counts a runtime tenant's SCIM tokens; the configuration
	// file's tenant has one token when enabled.
	Tokens   int          `json:"tokens"`
	LastUsed time.Time    `json:"lastUsed,omitzero"`
	Last     attemptsJSON `json:"attempts"`
}

type samlHealthJSON struct {
	Name           string            `json:"name"`
	MetadataLoaded time.Time         `json:"metadataLoaded,omitzero"`
	RefreshFailed  time.Time         `json:"refreshFailed,omitzero"`
	RefreshError   string            `json:"refreshError,omitempty"`
	Certificates   []certificateJSON `json:"certificates"`
	Last           attemptsJSON      `json:"attempts"`
}

type certificateJSON struct {
	Owner    string    `json:"owner"`
	Subject  string    `json:"subject"`
	NotAfter time.Time `json:"notAfter"`
	// ExpiresInDays is negative once expired.
	ExpiresInDays int `json:"expiresInDays"`
}

type oauthHealthJSON struct {
	Name string       `json:"name"`
	Last attemptsJSON `json:"attempts"`
}

type googleHealthJSON struct {
	Enabled  bool      `json:"enabled"`
	LastSync time.Time `json:"lastSync,omitzero"`
	// LastError is the last sync's error, empty after a success.
	LastError string `json:"lastError,omitempty"`
}

// attemptsJSON is a connection's newest successful and failed sign-in (or
// SCIM request), from the diagnostics log where the store keeps one.
type attemptsJSON struct {
	LastSuccess *attemptJSON `json:"lastSuccess,omitempty"`
	LastFailure *attemptJSON `json:"lastFailure,omitempty"`
}

type attemptJSON struct {
	Time   time.Time `json:"time"`
	Step   string    `json:"step"`
	Reason string    `json:"reason,omitempty"`
	Detail string    `json:"detail,omitempty"`
}

// GET /api/v1/settings/health
func (s *server) health(w http.ResponseWriter, r *http.Request, dir *identity.Directory) error {
	ctx := r.Context()
	name := s.tenantName(r)
	h := healthJSON{Tenant: name, GroupSource: dir.GroupSource(), SAML: []samlHealthJSON{}, OAuth: []oauthHealthJSON{}, Errors: map[string]string{}}
	var conns map[string]*saml.Connection
	var providers []string
	if v := viewOf(r); v != nil {
		h.Version = v.src.Version
		conns = v.src.SAML
		for p := range v.src.OAuth {
			providers = append(providers, p)
		}
		for src, err := range v.src.Errors {
			h.Errors[src] = err.Error()
		}
		h.SCIM.Enabled = v.src.SCIM != nil
		if s.flows.settings != nil {
			if err := s.runtimeTokens(ctx, name, &h.SCIM); err != nil {
				return err
			}
		}
	} else {
		conns = s.saml
		for p := range s.oauth {
			providers = append(providers, p)
		}
		h.SCIM.Enabled = s.scim != nil
		if h.SCIM.Enabled {
			h.SCIM.Tokens = 1
		}
	}
	now := time.Now()
	for _, cn := range slices.Sorted(maps.Keys(conns)) {
		sh := conns[cn].Health()
		e := samlHealthJSON{Name: cn, MetadataLoaded: sh.MetadataLoaded, RefreshFailed: sh.RefreshFailed,
			RefreshError: sh.RefreshError, Certificates: []certificateJSON{}, Last: s.attempts(ctx, name, "saml:"+cn)}
		for _, c := range sh.Certificates {
			e.Certificates = append(e.Certificates, certificateJSON{Owner: c.Owner, Subject: c.Subject, NotAfter: c.NotAfter,
				ExpiresInDays: int(c.NotAfter.Sub(now).Hours() / 24)})
		}
		h.SAML = append(h.SAML, e)
	}
	slices.Sort(providers)
	for _, p := range providers {
		h.OAuth = append(h.OAuth, oauthHealthJSON{Name: p, Last: s.attempts(ctx, name, "oauth:"+p)})
	}
	h.SCIM.Last = s.attempts(ctx, name, "scim")
	h.Google.Enabled = s.googleOf(r) != nil
	if h.Google.Enabled {
		last, ok, err := readLastSync(ctx, dir)
		if err != nil {
			return err
		}
		if ok {
			h.Google.LastSync, h.Google.LastError = last.at, last.errText
		}
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

// runtimeTokens counts a runtime tenant's SCIM tokens and their last use.
func (s *server) runtimeTokens(ctx context.Context, tenant string, h *scimHealthJSON) error {
	ts, err := s.flows.settings.Tokens(ctx, tenant)
	if err != nil {
		return err
	}
	h.Tokens = len(ts)
	for _, t := range ts {
		if t.LastUsed.After(h.LastUsed) {
			h.LastUsed = t.LastUsed
		}
	}
	return nil
}

// attempts reads a connection's newest success and failure from the
// diagnostics log; nothing when the store keeps none or it cannot be read.
func (s *server) attempts(ctx context.Context, tenant, connection string) attemptsJSON {
	if s.stores.db == nil {
		return attemptsJSON{}
	}
	ok, bad, err := identity.LastAttempts(ctx, s.stores.db.Diagnostics(tenant), connection)
	if err != nil {
		s.logger.WarnContext(ctx, "read the diagnostics log", "tenant", tenant, "err", err)
		return attemptsJSON{}
	}
	conv := func(a *identity.Attempt) *attemptJSON {
		if a == nil {
			return nil
		}
		return &attemptJSON{Time: a.Time, Step: a.Step, Reason: a.Reason, Detail: a.Detail}
	}
	return attemptsJSON{LastSuccess: conv(ok), LastFailure: conv(bad)}
}
