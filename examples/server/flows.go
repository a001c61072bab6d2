package main

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/rollcall/rollcall/googlesync"
	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
)

// mountFlows mounts the admin API's flows beside the reads of api.go: a user
// updated, deleted or invited again; internal groups and their members; the
// Google sync; the settings' health. They serve the configured tenant and,
// through tenants.go, each runtime tenant.
func (s *server) mountFlows(mux *http.ServeMux) {
	mux.Handle("PATCH /api/v1/users/{id}", s.admin(updateUser))
	mux.Handle("DELETE /api/v1/users/{id}", s.admin(deleteUser))
	mux.Handle("POST /api/v1/users/{id}/invite", s.admin(inviteUser))
	mux.Handle("POST /api/v1/groups", s.admin(createGroup))
	mux.Handle("GET /api/v1/groups/{id}", s.admin(getGroup))
	mux.Handle("PATCH /api/v1/groups/{id}", s.admin(renameGroup))
	mux.Handle("DELETE /api/v1/groups/{id}", s.admin(deleteGroup))
	mux.Handle("GET /api/v1/groups/{id}/members", s.admin(listMembers))
	mux.Handle("PUT /api/v1/groups/{id}/members/{user}", s.admin(setMember(true)))
	mux.Handle("DELETE /api/v1/groups/{id}/members/{user}", s.admin(setMember(false)))
	mux.Handle("POST /api/v1/google/sync", s.admin(s.syncGoogle))
	mux.Handle("GET /api/v1/google/sync", s.admin(s.lastGoogleSync))
	mux.Handle("GET /api/v1/settings/health", s.admin(s.health))
}

// updateUserRequest is the body of PATCH /api/v1/users/{id}: a field left
// out keeps its value; attributes, when given, replace them all.
type updateUserRequest struct {
	Email       *string           `json:"email"`
	UserName    *string           `json:"userName"`
	GivenName   *string           `json:"givenName"`
	FamilyName  *string           `json:"familyName"`
	DisplayName *string           `json:"displayName"`
	ExternalID  *string           `json:"externalId"`
	Attributes  map[string]string `json:"attributes"`
}

// PATCH /api/v1/users/{id}, with an optional If-Match.
func updateUser(w http.ResponseWriter, r *http.Request, dir *identity.Directory) error {
	version, err := ifMatch(r)
	if err != nil {
		return err
	}
	var req updateUserRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	return updateAndAnswer(w, r, dir, version, func(u *identity.User) error {
		for _, f := range []struct {
			from *string
			to   *string
		}{{req.Email, &u.Email}, {req.UserName, &u.UserName}, {req.GivenName, &u.GivenName},
			{req.FamilyName, &u.FamilyName}, {req.DisplayName, &u.DisplayName}, {req.ExternalID, &u.ExternalID}} {
			if f.from != nil {
				*f.to = *f.from
			}
		}
		if req.Attributes != nil {
			u.Attributes = req.Attributes
		}
		return nil
	})
}

// DELETE /api/v1/users/{id}: the user, their links, memberships and
// invitations. With If-Match, only at that version.
func deleteUser(w http.ResponseWriter, r *http.Request, dir *identity.Directory) error {
	version, err := ifMatch(r)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	err = dir.Do(r.Context(), identity.SourceManual, func(ctx context.Context, tx *identity.Tx) error {
		if version != 0 {
			u, err := tx.Reader().User(ctx, id)
			if err != nil {
				return err
			}
			if u.Version != version {
				return identity.ErrVersionMismatch
			}
		}
		return tx.DeleteUser(ctx, id)
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// POST /api/v1/users/{id}/invite: a new invitation, the token in this
// answer only. The invitations sent before stay valid until used or expired.
func inviteUser(w http.ResponseWriter, r *http.Request, dir *identity.Directory) error {
	token, expires, err := dir.Invite(r.Context(), identity.SourceManual, r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		InvitationToken   string    `json:"invitationToken"`
		InvitationExpires time.Time `json:"invitationExpires"`
	}{token, expires})
	return nil
}

func toGroupJSON(g identity.Group) groupJSON {
	return groupJSON{
		ID: g.ID, Name: g.Name, Kind: g.Kind, Source: g.Source, ExternalID: g.ExternalID,
		Created: g.Created, Updated: g.Updated, Version: g.Version,
	}
}

func setGroupETag(w http.ResponseWriter, g identity.Group) {
	w.Header().Set("ETag", `"`+strconv.FormatInt(g.Version, 10)+`"`)
}

// POST /api/v1/groups {"name"}: an internal group, managed here.
func createGroup(w http.ResponseWriter, r *http.Request, dir *identity.Directory) error {
	var req struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	g, err := dir.CreateGroup(r.Context(), identity.SourceManual, req.Name, "")
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/groups/"+url.PathEscape(g.ID))
	setGroupETag(w, g)
	writeJSON(w, http.StatusCreated, toGroupJSON(g))
	return nil
}

// GET /api/v1/groups/{id}
func getGroup(w http.ResponseWriter, r *http.Request, dir *identity.Directory) error {
	g, err := dir.Reader().Group(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	setGroupETag(w, g)
	writeJSON(w, http.StatusOK, toGroupJSON(g))
	return nil
}

// internalGroup returns the group if it is internal. An external group
// belongs to the tenant's group source: a change is refused (403) with a
// message that names the source.
func internalGroup(ctx context.Context, dir *identity.Directory, id string) (identity.Group, error) {
	g, err := dir.Reader().Group(ctx, id)
	if err != nil {
		return identity.Group{}, err
	}
	if g.Kind != groups.Internal {
		return identity.Group{}, &requestError{status: http.StatusForbidden,
			message: "the group " + strconv.Quote(g.Name) + " is managed by " + g.Source + ": change it and its members there"}
	}
	return g, nil
}

// PATCH /api/v1/groups/{id} {"name"}, with an optional If-Match: rename an
// internal group.
func renameGroup(w http.ResponseWriter, r *http.Request, dir *identity.Directory) error {
	version, err := ifMatch(r)
	if err != nil {
		return err
	}
	var req struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if _, err := internalGroup(r.Context(), dir, r.PathValue("id")); err != nil {
		return err
	}
	var g identity.Group
	err = dir.Do(r.Context(), identity.SourceManual, func(ctx context.Context, tx *identity.Tx) error {
		g, err = tx.UpdateGroup(ctx, r.PathValue("id"), version, func(g *identity.Group) error {
			g.Name = req.Name
			return nil
		})
		return err
	})
	if errors.Is(err, identity.ErrVersionMismatch) {
		return &requestError{status: http.StatusPreconditionFailed, message: "the group has changed: read it again"}
	}
	if err != nil {
		return err
	}
	setGroupETag(w, g)
	writeJSON(w, http.StatusOK, toGroupJSON(g))
	return nil
}

// DELETE /api/v1/groups/{id}: an internal group and its memberships.
func deleteGroup(w http.ResponseWriter, r *http.Request, dir *identity.Directory) error {
	g, err := internalGroup(r.Context(), dir, r.PathValue("id"))
	if err != nil {
		return err
	}
	err = dir.Do(r.Context(), identity.SourceManual, func(ctx context.Context, tx *identity.Tx) error {
		return tx.DeleteGroup(ctx, g.ID)
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// GET /api/v1/groups/{id}/members?limit=&offset=&after=
func listMembers(w http.ResponseWriter, r *http.Request, dir *identity.Directory) error {
	g, err := dir.Reader().Group(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	q := identity.UserQuery{GroupID: g.ID}
	if q.Limit, q.Offset, q.After, err = paging(r.URL.Query()); err != nil {
		return err
	}
	return writeUsers(w, r, dir, q)
}

// PUT and DELETE /api/v1/groups/{id}/members/{user}: add or remove a member
// of an internal group. Either is idempotent: 204 whether it changed
// anything or not.
func setMember(add bool) apiFunc {
	return func(w http.ResponseWriter, r *http.Request, dir *identity.Directory) error {
		g, err := internalGroup(r.Context(), dir, r.PathValue("id"))
		if err != nil {
			return err
		}
		userID := r.PathValue("user")
		if add {
			_, err = dir.AddMember(r.Context(), identity.SourceManual, g.ID, userID)
		} else {
			_, err = dir.RemoveMember(r.Context(), identity.SourceManual, g.ID, userID)
		}
		if err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// errNoGoogle answers a Google sync route of a tenant without the sync.
var errNoGoogle = &requestError{status: http.StatusNotFound, message: "Google sync is not configured for this tenant"}

// POST /api/v1/google/sync {"dryRun", "force"}: run a sync now and answer its
// report; a dry run changes nothing and lists its plan. It waits for a sync
// already running. The report is kept as the tenant's sync.completed event.
func (s *server) syncGoogle(w http.ResponseWriter, r *http.Request, dir *identity.Directory) error {
	syncer := s.googleOf(r)
	if syncer == nil {
		return errNoGoogle
	}
	var req struct {
		DryRun bool `json:"dryRun"`
		Force  bool `json:"force"`
	}
	if r.ContentLength != 0 {
		if err := decodeJSON(w, r, &req); err != nil {
			return err
		}
	}
	var opts []googlesync.Option
	if req.DryRun {
		opts = append(opts, googlesync.WithDryRun())
	}
	if req.Force {
		opts = append(opts, googlesync.WithForce())
	}
	report, err := syncer.Sync(r.Context(), dir, opts...)
	s.recordSync(r.Context(), dir, report, err)
	if err != nil {
		s.logger.WarnContext(r.Context(), "google sync", "tenant", s.tenantName(r), "err", err)
	}
	writeJSON(w, http.StatusOK, toSyncJSON(lastSync{report: report, errText: errText(err), at: time.Now()}))
	return nil
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// recordSync keeps a sync's report as a sync.completed event of the tenant's
// log (identity.Directory.RecordSync), where every replica, and a process
// started later, reads it.
func (s *server) recordSync(ctx context.Context, dir *identity.Directory, report googlesync.Report, err error) {
	if rerr := dir.RecordSync(ctx, identity.Google, googlesync.ReportFields(report, err)); rerr != nil && ctx.Err() == nil {
		s.logger.WarnContext(ctx, "google sync: keep the report", "tenant", dir.Tenant(), "err", rerr)
	}
}

// readLastSync returns the tenant's last Google sync from its event log, and
// false if none has run.
func readLastSync(ctx context.Context, dir *identity.Directory) (lastSync, bool, error) {
	ev, ok, err := dir.LastSync(ctx, identity.Google)
	if err != nil || !ok {
		return lastSync{}, false, err
	}
	rep, text, omitted, err := googlesync.ReadReportFields(ev.Fields)
	if err != nil {
		return lastSync{}, false, err
	}
	return lastSync{report: rep, errText: text, at: ev.Time, omitted: omitted}, true, nil
}

// GET /api/v1/google/sync: the tenant's last sync, by its schedule or on
// demand, run by any replica.
func (s *server) lastGoogleSync(w http.ResponseWriter, r *http.Request, dir *identity.Directory) error {
	if s.googleOf(r) == nil {
		return errNoGoogle
	}
	last, ok, err := readLastSync(r.Context(), dir)
	if err != nil {
		return err
	}
	if !ok {
		return &requestError{status: http.StatusNotFound, message: "no Google sync of this tenant has run yet"}
	}
	writeJSON(w, http.StatusOK, toSyncJSON(last))
	return nil
}

// syncJSON is a Google sync's report as the API shows it.
type syncJSON struct {
	Finished         time.Time        `json:"finished"`
	Error            string           `json:"error,omitempty"`
	DryRun           bool             `json:"dryRun"`
	Forced           bool             `json:"forced"`
	Start            time.Time        `json:"start"`
	DurationMS       int64            `json:"durationMs"`
	Groups           int              `json:"groups"`
	Users            int              `json:"users"`
	Memberships      int              `json:"memberships"`
	GroupsCreated    int              `json:"groupsCreated"`
	GroupsConverted  int              `json:"groupsConverted"`
	GroupsUpdated    int              `json:"groupsUpdated"`
	GroupsEmptied    int              `json:"groupsEmptied"`
	MembersAdded     int              `json:"membersAdded"`
	MembersRemoved   int              `json:"membersRemoved"`
	UsersCreated     int              `json:"usersCreated"`
	UsersUpdated     int              `json:"usersUpdated"`
	UsersRestored    int              `json:"usersRestored"`
	UsersDeactivated int              `json:"usersDeactivated"`
	Skipped          map[string]int   `json:"skipped"`
	APICalls         int              `json:"apiCalls"`
	Retries          int              `json:"retries"`
	Changes          []syncChangeJSON `json:"changes"`
	// ChangesOmitted counts the changes of a dry run that the kept report
	// leaves out (it keeps the first 100); the POST's answer has them all.
	ChangesOmitted int `json:"changesOmitted,omitempty"`
}

type syncChangeJSON struct {
	Action string `json:"action"`
	Group  string `json:"group,omitempty"`
	User   string `json:"user,omitempty"`
}

func toSyncJSON(l lastSync) syncJSON {
	rp := l.report
	out := syncJSON{
		Finished: l.at, DryRun: rp.DryRun, Forced: rp.Forced, Start: rp.Start, DurationMS: rp.Duration.Milliseconds(),
		Groups: rp.Groups, Users: rp.Users, Memberships: rp.Memberships,
		GroupsCreated: rp.GroupsCreated, GroupsConverted: rp.GroupsConverted, GroupsUpdated: rp.GroupsUpdated,
		GroupsEmptied: rp.GroupsEmptied, MembersAdded: rp.MembersAdded, MembersRemoved: rp.MembersRemoved,
		UsersCreated: rp.UsersCreated, UsersUpdated: rp.UsersUpdated, UsersRestored: rp.UsersRestored,
		UsersDeactivated: rp.UsersDeactivated, APICalls: rp.APICalls, Retries: rp.Retries,
		Skipped: map[string]int{
			"customer": rp.Skipped.Customer, "external": rp.Skipped.External, "groups": rp.Skipped.Groups,
			"suspended": rp.Skipped.Suspended, "unknown": rp.Skipped.Unknown, "conflicts": rp.Skipped.Conflicts,
		},
		Changes: make([]syncChangeJSON, len(rp.Changes)),
	}
	out.Error, out.ChangesOmitted = l.errText, l.omitted
	for i, c := range rp.Changes {
		out.Changes[i] = syncChangeJSON{Action: c.Action, Group: c.Group, User: c.User}
	}
	return out
}
