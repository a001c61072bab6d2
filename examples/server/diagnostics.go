package main

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/rollcall/rollcall/identity"
)

// diagnostics returns the tenant's diagnostics log: every SAML and OAuth
// sign-in attempt and every SCIM request, with its typed reason. nil where
// the store keeps none.
func (s *server) diagnostics(tenant string) identity.DiagnosticsLog {
	if s.stores.db == nil {
		return nil
	}
	return s.stores.db.Diagnostics(tenant)
}

// mountDiagnostics mounts the admin API's diagnostics routes: the log of
// attempts, and the health of the tenant's connections.
func (s *server) mountDiagnostics(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/diagnostics", s.admin(s.listAttempts))
	mux.Handle("GET /api/v1/connections", s.admin(s.connectionsHealth))
}

// attemptJSON is one entry of the diagnostics log.
type attemptJSON struct {
	Seq        int64     `json:"seq"`
	Time       time.Time `json:"time"`
	Connection string    `json:"connection"`
	Step       string    `json:"step"`
	Outcome    string    `json:"outcome"`
	Reason     string    `json:"reason,omitempty"`
	Detail     string    `json:"detail,omitempty"`
	Subject    string    `json:"subject,omitempty"`
	Email      string    `json:"email,omitempty"`
	UserID     string    `json:"userId,omitempty"`
	Reference  string    `json:"reference,omitempty"`
}

// listAttempts answers GET /api/v1/diagnostics: the newest entries first,
// filtered by connection, outcome, user (ID, subject or email) and
// reference, paged by before (the seq of the last entry read).
func (s *server) listAttempts(w http.ResponseWriter, r *http.Request, dir *identity.Directory) error {
	log := s.diagnostics(dir.Tenant())
	if log == nil {
		return fmt.Errorf("no diagnostics log: %w", errors.ErrUnsupported)
	}
	q := r.URL.Query()
	aq := identity.AttemptQuery{Connection: q.Get("connection"), User: q.Get("user"), Reference: q.Get("reference")}
	switch o := identity.AttemptOutcome(q.Get("outcome")); o {
	case "", identity.OutcomeSuccess, identity.OutcomeFailure:
		aq.Outcome = o
	default:
		return badRequest("bad query parameter", fieldJSON{Field: "outcome", Message: "must be success or failure"})
	}
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return badRequest("bad query parameter", fieldJSON{Field: "before", Message: "must be the seq of an entry"})
		}
		aq.Before = n
	}
	var err error
	if aq.Limit, err = intParam(q, "limit", identity.DefaultLimit, 1, identity.MaxAttemptsPage); err != nil {
		return err
	}
	got, err := log.Attempts(r.Context(), aq)
	if err != nil {
		return err
	}
	out := make([]*attemptJSON, 0, len(got))
	for i := range got {
		out = append(out, toAttemptJSON(&got[i]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"attempts": out})
	return nil
}

// certificateJSON is a certificate of a connection: the IdP's ("idp") or
// this SP's ("sp").
type certificateJSON struct {
	Owner    string    `json:"owner"`
	Subject  string    `json:"subject"`
	NotAfter time.Time `json:"notAfter"`
}

// connectionJSON is the health of one connection.
type connectionJSON struct {
	Source         string            `json:"source"`
	MetadataLoaded *time.Time        `json:"metadataLoaded,omitempty"`
	RefreshFailed  *time.Time        `json:"refreshFailed,omitempty"`
	RefreshError   string            `json:"refreshError,omitempty"`
	Certificates   []certificateJSON `json:"certificates,omitempty"`
	LastSuccess    *attemptJSON      `json:"lastSuccess,omitempty"`
	LastFailure    *attemptJSON      `json:"lastFailure,omitempty"`
}

// connectionsHealth answers GET /api/v1/connections: for each SAML and
// OAuth connection and for SCIM, the last success and failure from the
// diagnostics log; for SAML also the metadata's state and the
// certificates with their expiry.
func (s *server) connectionsHealth(w http.ResponseWriter, r *http.Request, dir *identity.Directory) error {
	log := s.diagnostics(dir.Tenant())
	var out []connectionJSON
	add := func(c connectionJSON) error {
		if log != nil {
			ok, fail, err := identity.LastAttempts(r.Context(), log, c.Source)
			if err != nil {
				return err
			}
			c.LastSuccess, c.LastFailure = toAttemptJSON(ok), toAttemptJSON(fail)
		}
		out = append(out, c)
		return nil
	}
	for _, name := range slices.Sorted(maps.Keys(s.saml)) {
		h := s.saml[name].Health()
		c := connectionJSON{Source: s.saml[name].Source(), RefreshError: h.RefreshError}
		for _, cert := range h.Certificates {
			c.Certificates = append(c.Certificates, certificateJSON{Owner: cert.Owner, Subject: cert.Subject, NotAfter: cert.NotAfter})
		}
		c.MetadataLoaded, c.RefreshFailed = timeOrNil(h.MetadataLoaded), timeOrNil(h.RefreshFailed)
		if err := add(c); err != nil {
			return err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(s.oauth)) {
		if err := add(connectionJSON{Source: s.oauth[name].Source()}); err != nil {
			return err
		}
	}
	if s.scim != nil {
		if err := add(connectionJSON{Source: string(identity.SCIM)}); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"connections": out})
	return nil
}

func toAttemptJSON(a *identity.Attempt) *attemptJSON {
	if a == nil {
		return nil
	}
	return &attemptJSON{Seq: a.Seq, Time: a.Time, Connection: a.Connection, Step: a.Step, Outcome: string(a.Outcome),
		Reason: a.Reason, Detail: a.Detail, Subject: a.Subject, Email: a.Email, UserID: a.UserID, Reference: a.Reference}
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
