package main

import (
	"html/template"
	"net/http"
	"slices"
	"strings"

	"github.com/rollcall/rollcall/identity"
	"github.com/rollcall/rollcall/oauth"
	"github.com/rollcall/rollcall/saml"
)

// testReport is the report of a test sign-in as the page shows it.
type testReport struct {
	Source, Reason, Refusal, Hint, NameID string
	identity.SignInTest
	Attributes [][2]string // name, values joined
}

var testReportTmpl = template.Must(template.New("report").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Test sign-in of {{.Source}}</title></head><body><main id="test-report">
<h1>Test sign-in of {{.Source}}</h1>
<p>Nothing was written but one <code>connection.tested</code> event: nobody is signed in.</p>
{{if .Reason}}<p role="alert" id="test-refused">The sign-in would be refused (<strong id="test-reason">{{.Reason}}</strong>): {{.Refusal}}</p>
{{with .Hint}}<p id="test-hint">{{.}}</p>{{end}}
{{else}}<p role="status" id="test-ok">The sign-in would succeed.</p>{{end}}
{{if .Resolved}}<h2>The user</h2>
<p id="test-resolved">{{if eq .Resolved "new"}}A new user would be created (just in time){{else if eq .Resolved "email"}}An existing user would be found by email and linked{{else}}The user is found by their link{{end}}: <strong id="test-user">{{.User.Email}}</strong>{{with .User.GivenName}}, {{.}}{{end}}{{with .User.FamilyName}} {{.}}{{end}}.</p>
{{with .Changed}}<p id="test-changed">Fields that would change: {{range $i, $f := .}}{{if $i}}, {{end}}{{$f}}{{end}}.</p>{{end}}{{end}}
<h2>Groups</h2>
{{if .Groups.Empty}}<p id="test-groups">No group would change.</p>{{else}}<dl id="test-groups">
{{with .Groups.Create}}<dt>Created and joined</dt><dd>{{range $i, $g := .}}{{if $i}}; {{end}}{{$g}}{{end}}</dd>{{end}}
{{with .Groups.Convert}}<dt>Made external</dt><dd>{{range $i, $g := .}}{{if $i}}; {{end}}{{$g}}{{end}}</dd>{{end}}
{{with .Groups.Attach}}<dt>Joined</dt><dd>{{range $i, $g := .}}{{if $i}}; {{end}}{{$g}}{{end}}</dd>{{end}}
{{with .Groups.Detach}}<dt>Left</dt><dd>{{range $i, $g := .}}{{if $i}}; {{end}}{{$g}}{{end}}</dd>{{end}}
</dl>{{end}}
<h2>Received</h2>
<table id="test-attributes"><thead><tr><th scope="col">Attribute</th><th scope="col">Values</th></tr></thead><tbody>
{{with .NameID}}<tr><td>NameID (subject)</td><td>{{.}}</td></tr>{{end}}
<tr><td>subject</td><td>{{.Claims.Subject}}</td></tr><tr><td>email</td><td>{{.Claims.Email}}</td></tr>
{{range .Attributes}}<tr><td>{{index . 0}}</td><td>{{index . 1}}</td></tr>{{end}}
</tbody></table>
<p>Back in the portal's single sign-on page, activate the connection when the report is what you expect.</p>
</main></body></html>`))

// wantsHTML reports whether the request's Accept names text/html (a
// browser): the report is then a page, else JSON as before.
func wantsHTML(r *http.Request) bool { return strings.Contains(r.Header.Get("Accept"), "text/html") }

// writeTestReport answers the report of a test sign-in: a page for a
// browser, the JSON of the report for any other client.
func writeTestReport(w http.ResponseWriter, r *http.Request, rep testReport, asJSON any) {
	w.Header().Set("Cache-Control", "no-store")
	if !wantsHTML(r) {
		writeJSON(w, http.StatusOK, asJSON)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	w.Header().Set("Referrer-Policy", "no-referrer")
	_ = testReportTmpl.Execute(w, rep)
}

func samlTested(w http.ResponseWriter, r *http.Request, res saml.Result) {
	t := res.Test
	rep := testReport{Source: "saml:" + r.PathValue("connection"), Reason: t.Reason, Refusal: t.Refusal, Hint: t.Hint,
		NameID: t.NameID, SignInTest: t.SignInTest}
	for name, vals := range t.Attributes {
		rep.Attributes = append(rep.Attributes, [2]string{name, strings.Join(vals, "; ")})
	}
	slices.SortFunc(rep.Attributes, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	writeTestReport(w, r, rep, t)
}

func oauthTested(w http.ResponseWriter, r *http.Request, res oauth.Result) {
	t := res.Test
	writeTestReport(w, r, testReport{Source: "oauth:" + r.PathValue("provider"), Reason: t.Reason, Refusal: t.Refusal, SignInTest: t.SignInTest}, t)
}
