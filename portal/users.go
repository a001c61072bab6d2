package portal

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rollcall/rollcall/identity"
)

// pageSize is the number of rows of a listing page.
const pageSize = 50

type usersData struct {
	Query string
	Users []identity.User
	Total int
	// Counted tells whether Total is known: a search's is only when its
	// first page is its last.
	Counted bool
	Next    string // the After of the next page; "" on the last
	Form    userForm
	Invite  *inviteData
}

type userForm struct {
	Email, GivenName, FamilyName string
	Invite                       bool
}

type inviteData struct {
	Email   string
	Link    string
	Expires time.Time
}

// query reads a search or cursor parameter: at most 200 bytes of valid
// UTF-8 with no control, bidi-override or invisible character
// (identity.TextProblem), else errBadRequest.
func query(r *http.Request, name string) (string, error) {
	v := strings.TrimSpace(r.URL.Query().Get(name))
	if msg := identity.TextProblem(v, 200); msg != "" {
		return "", fmt.Errorf("%w: the parameter %s %s", errBadRequest, name, msg)
	}
	return v, nil
}

// queries reads several parameters with query: the values in the order of
// the names.
func queries(r *http.Request, names ...string) ([]string, error) {
	out := make([]string, len(names))
	for i, name := range names {
		v, err := query(r, name)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (h *Handler) users(c *call) error {
	v, err := queries(c.r, "q", "after")
	if err != nil {
		return err
	}
	data, err := h.listUsers(c, v[0], v[1])
	if err != nil {
		return err
	}
	p := c.page("Users", data)
	p.Notice = c.notice()
	h.render(c.w, c.r, http.StatusOK, "users", p)
	return nil
}

func (h *Handler) listUsers(c *call, q, after string) (*usersData, error) {
	// A search is not counted: a term that most users match would cost a
	// count of them all. Its first page counts itself when it is the last.
	res, err := c.dir().Reader().ListUsers(c.ctx, identity.UserQuery{Search: q, After: after, Limit: pageSize + 1, NoTotal: q != ""})
	if err != nil {
		return nil, err
	}
	d := &usersData{Query: q, Users: res.Users, Total: res.Total, Counted: q == ""}
	if len(d.Users) > pageSize {
		d.Users = d.Users[:pageSize]
		d.Next = d.Users[pageSize-1].ID
	} else if after == "" {
		d.Total, d.Counted = len(d.Users), true
	}
	return d, nil
}

// createUser adds a manual user and, if asked, invites them: the invitation
// link is shown this once, and only its hash is kept.
func (h *Handler) createUser(c *call) error {
	f := userForm{
		Email:      strings.TrimSpace(c.r.PostFormValue("email")),
		GivenName:  strings.TrimSpace(c.r.PostFormValue("givenName")),
		FamilyName: strings.TrimSpace(c.r.PostFormValue("familyName")),
		Invite:     c.r.PostFormValue("invite") != "",
	}
	u, err := c.dir().CreateUser(c.ctx, identity.SourceManual,
		identity.User{Email: f.Email, GivenName: f.GivenName, FamilyName: f.FamilyName}, identity.CreateOptions{})
	if err != nil {
		return h.userFormError(c, f, err)
	}
	data, err := h.listUsers(c, "", "")
	if err != nil {
		return err
	}
	p := c.page("Users", data)
	p.Notice = "Created " + u.Email + "."
	if f.Invite {
		token, expires, err := c.dir().Invite(c.ctx, identity.SourceManual, u.ID)
		if err != nil {
			return err
		}
		data.Invite = &inviteData{Email: u.Email, Link: h.inviteLink(c.r, token), Expires: expires}
	}
	h.render(c.w, c.r, http.StatusOK, "users", p)
	return nil
}

// userFormError shows the add-user form again with the admin's values and
// what is wrong with them.
func (h *Handler) userFormError(c *call, f userForm, err error) error {
	var ve *identity.ValidationError
	status := http.StatusUnprocessableEntity
	msg := "Some values are not valid."
	switch {
	case asValidation(err, &ve):
	case isConflict(err):
		status, msg = http.StatusConflict, message(err)
	default:
		return err
	}
	data, lerr := h.listUsers(c, "", "")
	if lerr != nil {
		return lerr
	}
	data.Form = f
	p := c.page("Users", data)
	p.Error = msg
	if ve != nil {
		p.Fields = ve.Fields
	}
	h.render(c.w, c.r, status, "users", p)
	return nil
}

func (h *Handler) inviteLink(r *http.Request, token string) string {
	if h.cfg.InviteURL != nil {
		return h.cfg.InviteURL(r, token)
	}
	return token
}

type userData struct {
	User   identity.User
	Groups []identity.Group
	Links  []identity.Link
	Events []identity.Event
	Invite *inviteData
}

func (h *Handler) user(c *call) error {
	d, err := h.userData(c)
	if err != nil {
		return err
	}
	p := c.page(d.User.Name(), d)
	p.Notice = c.notice()
	h.render(c.w, c.r, http.StatusOK, "user", p)
	return nil
}

func (h *Handler) userData(c *call) (*userData, error) {
	rd := c.dir().Reader()
	u, err := rd.User(c.ctx, c.r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	gs, err := rd.UserGroups(c.ctx, u.ID)
	if err != nil {
		return nil, err
	}
	links, err := rd.Links(c.ctx, u.ID)
	if err != nil {
		return nil, err
	}
	evs, err := c.dir().SearchEvents(c.ctx, identity.EventFilter{UserID: u.ID}, 0, 20)
	if err != nil {
		return nil, err
	}
	return &userData{User: u, Groups: gs, Links: links, Events: evs}, nil
}

// editUser saves the names of a user, on the condition that the user is at
// the version the form was made from.
func (h *Handler) editUser(c *call) error {
	version, err := strconv.ParseInt(c.r.PostFormValue("version"), 10, 64)
	if err != nil || version < 1 {
		return fmt.Errorf("%w: the form has no version: reload the page", errBadRequest)
	}
	given, family, display := c.r.PostFormValue("givenName"), c.r.PostFormValue("familyName"), c.r.PostFormValue("displayName")
	_, err = c.dir().UpdateUser(c.ctx, identity.SourceManual, c.r.PathValue("id"), version, func(u *identity.User) error {
		u.GivenName, u.FamilyName, u.DisplayName = strings.TrimSpace(given), strings.TrimSpace(family), strings.TrimSpace(display)
		return nil
	})
	if err != nil {
		return err
	}
	return c.see("/users/"+c.r.PathValue("id"), "updated")
}

// userAction deactivates, restores, deletes or invites a user again.
func (h *Handler) userAction(c *call) error {
	id, dir := c.r.PathValue("id"), c.dir()
	var err error
	switch c.r.PathValue("action") {
	case "deactivate":
		_, err = dir.Deactivate(c.ctx, identity.SourceManual, id)
		if err == nil {
			return c.see("/users/"+id, "deactivated")
		}
	case "restore":
		_, err = dir.Restore(c.ctx, identity.SourceManual, id)
		if err == nil {
			return c.see("/users/"+id, "restored")
		}
	case "delete":
		if err = dir.DeleteUser(c.ctx, identity.SourceManual, id); err == nil {
			return c.see("/users", "deleted")
		}
	case "invite":
		return h.reinvite(c, id)
	default:
		return identity.ErrNotFound
	}
	return err
}

// reinvite makes a new invitation link; the user may accept any one of
// their links that has not expired, once.
func (h *Handler) reinvite(c *call, id string) error {
	token, expires, err := c.dir().Invite(c.ctx, identity.SourceManual, id)
	if err != nil {
		return err
	}
	d, err := h.userData(c)
	if err != nil {
		return err
	}
	d.Invite = &inviteData{Email: d.User.Email, Link: h.inviteLink(c.r, token), Expires: expires}
	p := c.page(d.User.Name(), d)
	p.Notice = "A new invitation is ready: send this link to the user. It is shown only now."
	h.render(c.w, c.r, http.StatusOK, "user", p)
	return nil
}
