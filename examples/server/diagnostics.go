package main

import (
	"errors"
	"fmt"
	"net/http"
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

// mountDiagnostics mounts the admin API's log of attempts (the health of
// the tenant's connections is GET /api/v1/settings/health).
func (s *server) mountDiagnostics(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/diagnostics", s.admin(s.listAttempts))
}

// diagnosticJSON is one entry of the diagnostics log.
type diagnosticJSON struct {
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
	out := make([]*diagnosticJSON, 0, len(got))
	for i := range got {
		out = append(out, toAttemptJSON(&got[i]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"attempts": out})
	return nil
}

func toAttemptJSON(a *identity.Attempt) *diagnosticJSON {
	if a == nil {
		return nil
	}
	return &diagnosticJSON{Seq: a.Seq, Time: a.Time, Connection: a.Connection, Step: a.Step, Outcome: string(a.Outcome),
		Reason: a.Reason, Detail: a.Detail, Subject: a.Subject, Email: a.Email, UserID: a.UserID, Reference: a.Reference}
}
