package oauth_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/identity/identitytest"
	"github.com/rollcall/rollcall/oauth"
	"github.com/rollcall/rollcall/storage/memory"
)

// groupTenant is a tenant whose group source is source, with a connection
// "corp" to the fake.
func groupTenant(t *testing.T, source string, cfg oauth.Config, deps ...identity.Deps) (*tenant, *fakeOP) {
	t.Helper()
	f := newFakeOP(t, identitytest.NewClock())
	cfg.Provider = oauth.Discover("corp", f.URL)
	tn := newTenant(t, f, cfg, deps...)
	db := memory.New()
	dir, err := identity.New(db.Tenant("acme"), identity.Config{Tenant: "acme", Clock: f.clock, GroupSource: source})
	if err != nil {
		t.Fatal(err)
	}
	tn.dir, tn.keys = dir, db.Keys("acme", f.clock)
	return tn, f
}

func userGroups(t *testing.T, tn *tenant, id string) []string {
	t.Helper()
	gs, err := tn.dir.Reader().UserGroups(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range gs {
		names = append(names, g.Name)
	}
	slices.Sort(names)
	return names
}

func token(f *fakeOP, sub string, extra map[string]any) map[string]any {
	c := map[string]any{"iss": f.URL, "sub": sub, "email": sub + "@example.com", "email_verified": true}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

// An OAuth provider that is the tenant's group source syncs the groups claim
// of the ID token like SAML's memberOf: attached, then detached when no
// longer received; absent leaves them alone.
func TestGroupsFromIDToken(t *testing.T) {
	tn, f := groupTenant(t, groups.OAuthSource("corp"), oauth.Config{})
	res := mustSignIn(t, tn, token(f, "ann", map[string]any{"groups": []string{"Staff", "Desk Admins"}}))
	if got := userGroups(t, tn, res.User.ID); !slices.Equal(got, []string{"Desk Admins", "Staff"}) {
		t.Errorf("groups = %q", got)
	}
	mustSignIn(t, tn, token(f, "ann", map[string]any{"groups": []string{"Staff"}}))
	if got := userGroups(t, tn, res.User.ID); !slices.Equal(got, []string{"Staff"}) {
		t.Errorf("after the second sign-in: %q", got)
	}
	mustSignIn(t, tn, token(f, "ann", nil))
	if got := userGroups(t, tn, res.User.ID); !slices.Equal(got, []string{"Staff"}) {
		t.Errorf("an absent claim changed the groups: %q", got)
	}
	mustSignIn(t, tn, token(f, "ann", map[string]any{"groups": []string{}}))
	if got := userGroups(t, tn, res.User.ID); len(got) != 0 {
		t.Errorf("an empty claim left %q", got)
	}
}

// The claim formats of SAML apply: DNs, one comma-separated string.
func TestGroupsClaimFormats(t *testing.T) {
	tn, f := groupTenant(t, "oauth:corp", oauth.Config{GroupsClaim: "memberOf", GroupFormat: groups.FormatDN})
	res := mustSignIn(t, tn, token(f, "bob", map[string]any{"memberOf": []string{`CN=Smith\, John,OU=G,DC=x`, "CN=Staff,OU=G,DC=x"}, "groups": []string{"ignored"}}))
	if got := userGroups(t, tn, res.User.ID); !slices.Equal(got, []string{"Smith, John", "Staff"}) {
		t.Errorf("dn: %q", got)
	}

	tn, f = groupTenant(t, "oauth:corp", oauth.Config{GroupFormat: groups.FormatCSV})
	res = mustSignIn(t, tn, token(f, "cat", map[string]any{"groups": "Staff, Berlin"}))
	if got := userGroups(t, tn, res.User.ID); !slices.Equal(got, []string{"Berlin", "Staff"}) {
		t.Errorf("csv: %q", got)
	}
}

// Refusals: Entra's overage (never read as an empty list), more groups than
// the limit, a claim of the wrong type. Each refuses the sign-in with a typed
// reason and writes nothing.
func TestGroupsRefused(t *testing.T) {
	overage := map[string]any{
		"_claim_names":   map[string]any{"groups": "src1"},
		"_claim_sources": map[string]any{"src1": map[string]any{"endpoint": "https://graph.windows.net/t/users/u/getMemberObjects"}},
	}
	for _, tc := range []struct {
		name   string
		claims map[string]any
		target error
		reason string
	}{
		{"overage", overage, oauth.ErrGroupOverage, oauth.ReasonGroupOverage},
		{"overage beside a partial list", map[string]any{"groups": []string{"Staff"}, "_claim_names": overage["_claim_names"], "_claim_sources": overage["_claim_sources"]}, oauth.ErrGroupOverage, oauth.ReasonGroupOverage},
		{"hasgroups", map[string]any{"hasgroups": true}, oauth.ErrGroupOverage, oauth.ReasonGroupOverage},
		{"over the limit", map[string]any{"groups": []string{"a", "b", "c"}}, groups.ErrTooManyGroups, oauth.ReasonGroupLimit},
		{"not strings", map[string]any{"groups": []int{1, 2}}, oauth.ErrGroups, oauth.ReasonGroups},
		{"an object", map[string]any{"groups": map[string]any{"a": 1}}, oauth.ErrGroups, oauth.ReasonGroups},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tn, f := groupTenant(t, "oauth:corp", oauth.Config{GroupLimit: 2})
			// An existing member of a group: the refusal must not detach it.
			ann := mustSignIn(t, tn, token(f, "ann", map[string]any{"groups": []string{"Staff"}}))
			_, err := tn.signIn(token(f, "ann", tc.claims))
			if !errors.Is(err, tc.target) || !errors.Is(err, oauth.ErrGroups) {
				t.Fatalf("err = %v, want %v", err, tc.target)
			}
			if got := oauth.Reason(err); got != tc.reason {
				t.Errorf("Reason = %q, want %q", got, tc.reason)
			}
			if got := userGroups(t, tn, ann.User.ID); !slices.Equal(got, []string{"Staff"}) {
				t.Errorf("groups after a refusal: %q", got)
			}
			// A new person is not created either.
			if _, err := tn.signIn(token(f, "new", tc.claims)); err == nil {
				t.Fatal("a new person signed in")
			}
			users, _ := tn.dir.Reader().ListUsers(context.Background(), identity.UserQuery{})
			if users.Total != 1 {
				t.Errorf("%d users", users.Total)
			}
		})
	}
}

// A connection that is not the group source ignores the claim, overage
// included.
func TestGroupsIgnoredUnlessSource(t *testing.T) {
	tn, f := groupTenant(t, "scim", oauth.Config{})
	res := mustSignIn(t, tn, token(f, "ann", map[string]any{"groups": []string{"Staff"}, "hasgroups": true,
		"_claim_names": map[string]any{"groups": "src1"}, "_claim_sources": map[string]any{"src1": map[string]any{"endpoint": "https://graph.example/x"}}}))
	if got := userGroups(t, tn, res.User.ID); len(got) != 0 {
		t.Errorf("groups = %q", got)
	}
}

func TestNewGroupOptions(t *testing.T) {
	for _, cfg := range []oauth.Config{{GroupFormat: "ldap"}, {GroupLimit: -1}, {GroupsClaim: "_claim_names"}} {
		cfg.Provider, cfg.ClientID, cfg.RedirectURL = oauth.Discover("corp", "https://op.example"), "c", "https://app.example/cb"
		if _, err := oauth.New(cfg, identity.Deps{}); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

// Reason names each failure by its most precise cause.
func TestReason(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{fmt.Errorf("%w: x", oauth.ErrState), oauth.ReasonState},
		{fmt.Errorf("%w: x", oauth.ErrDenied), oauth.ReasonDenied},
		{fmt.Errorf("%w: x", oauth.ErrExchange), oauth.ReasonExchange},
		{fmt.Errorf("%w: x", oauth.ErrToken), oauth.ReasonToken},
		{fmt.Errorf("%w: x", oauth.ErrProvider), oauth.ReasonProvider},
		{fmt.Errorf("%w: x", oauth.ErrReturnURL), oauth.ReasonReturnURL},
		{fmt.Errorf("%w: x", oauth.ErrRefused), oauth.ReasonRefused},
		{fmt.Errorf("sign in: %w", identity.ErrDeactivated), oauth.ReasonDeactivated},
		{fmt.Errorf("sign in: %w", identity.ErrNotAllowed), oauth.ReasonNotAllowed},
		{errors.New("disk full"), oauth.ReasonInternal},
	} {
		if got := oauth.Reason(tc.err); got != tc.want {
			t.Errorf("Reason(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
	// The refusals of the connection's rules, from a real sign-in.
	f := newFakeOP(t, identitytest.NewClock())
	tn := newTenant(t, f, oauth.Config{Provider: oauth.Discover("corp", f.URL), AllowedDomains: []string{"example.com"}})
	_, err := tn.signIn(map[string]any{"iss": f.URL, "sub": "x", "email": "x@other.org", "email_verified": true})
	if got := oauth.Reason(err); got != oauth.ReasonDomainNotAllowed {
		t.Errorf("other domain: %q (%v)", got, err)
	}
	_, err = tn.signIn(map[string]any{"iss": f.URL, "sub": "x", "email": "x@example.com"})
	if got := oauth.Reason(err); got != oauth.ReasonEmailUnverified {
		t.Errorf("unverified: %q (%v)", got, err)
	}
}
