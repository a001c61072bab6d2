package portal

import (
	"context"
	"net/http"
	"strings"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
)

type groupRow struct {
	identity.Group
	Members int
}

type groupsData struct {
	Query  string
	Kind   string
	Groups []groupRow
	Total  int
	Next   string
	Name   string // the create form's value, after an error
}

func (h *Handler) groups(c *call) error {
	v, err := queries(c.r, "q", "after", "kind")
	if err != nil {
		return err
	}
	d, err := h.listGroups(c, v[0], v[2], v[1])
	if err != nil {
		return err
	}
	p := c.page("Groups", d)
	p.Notice = c.notice()
	h.render(c.w, c.r, http.StatusOK, "groups", p)
	return nil
}

func (h *Handler) listGroups(c *call, q, kind, after string) (*groupsData, error) {
	gq := identity.GroupQuery{Search: q, After: after, Limit: pageSize + 1}
	switch kind {
	case "":
	case string(groups.Internal), string(groups.External):
		gq.Kind = groups.Kind(kind)
	default:
		return nil, errBadRequestf("the kind %q is neither internal nor external", kind)
	}
	rd := c.dir().Reader()
	res, err := rd.ListGroups(c.ctx, gq)
	if err != nil {
		return nil, err
	}
	d := &groupsData{Query: q, Kind: kind, Total: res.Total}
	list := res.Groups
	if len(list) > pageSize {
		list = list[:pageSize]
		d.Next = list[pageSize-1].ID
	}
	for _, g := range list {
		n, err := memberCount(c.ctx, rd, g.ID)
		if err != nil {
			return nil, err
		}
		d.Groups = append(d.Groups, groupRow{Group: g, Members: n})
	}
	return d, nil
}

func memberCount(ctx context.Context, rd identity.Reader, groupID string) (int, error) {
	res, err := rd.ListUsers(ctx, identity.UserQuery{GroupID: groupID, Limit: 1})
	return res.Total, err
}

// createGroup creates an internal group: a group the tenant's group source
// does not manage.
func (h *Handler) createGroup(c *call) error {
	name := strings.TrimSpace(c.r.PostFormValue("name"))
	g, err := c.dir().CreateGroup(c.ctx, identity.SourceManual, name, "")
	if err != nil {
		if !asValidation(err, nil) && !isConflict(err) {
			return err
		}
		d, lerr := h.listGroups(c, "", "", "")
		if lerr != nil {
			return lerr
		}
		d.Name = name
		p := c.page("Groups", d)
		p.Error = message(err)
		h.render(c.w, c.r, http.StatusUnprocessableEntity, "groups", p)
		return nil
	}
	return c.see("/groups/"+g.ID, "created")
}

type groupData struct {
	Group    identity.Group
	Internal bool
	Members  []identity.User
	Total    int
	Next     string
}

func (h *Handler) group(c *call) error {
	after, err := query(c.r, "after")
	if err != nil {
		return err
	}
	rd := c.dir().Reader()
	g, err := rd.Group(c.ctx, c.r.PathValue("id"))
	if err != nil {
		return err
	}
	res, err := rd.ListUsers(c.ctx, identity.UserQuery{GroupID: g.ID, After: after, Limit: pageSize + 1})
	if err != nil {
		return err
	}
	d := &groupData{Group: g, Internal: g.Kind == groups.Internal, Members: res.Users, Total: res.Total}
	if len(d.Members) > pageSize {
		d.Members = d.Members[:pageSize]
		d.Next = d.Members[pageSize-1].ID
	}
	p := c.page(g.Name, d)
	p.Notice = c.notice()
	h.render(c.w, c.r, http.StatusOK, "group", p)
	return nil
}

func (h *Handler) renameGroup(c *call) error {
	id, name := c.r.PathValue("id"), strings.TrimSpace(c.r.PostFormValue("name"))
	err := c.dir().Do(c.ctx, identity.SourceManual, func(ctx context.Context, tx *identity.Tx) error {
		_, err := tx.UpdateGroup(ctx, id, 0, func(g *identity.Group) error {
			g.Name = name
			return nil
		})
		return err
	})
	if err != nil {
		return err
	}
	return c.see("/groups/"+id, "renamed")
}

func (h *Handler) deleteGroup(c *call) error {
	id := c.r.PathValue("id")
	err := c.dir().Do(c.ctx, identity.SourceManual, func(ctx context.Context, tx *identity.Tx) error {
		return tx.DeleteGroup(ctx, id)
	})
	if err != nil {
		return err
	}
	return c.see("/groups", "deleted")
}

// addMember adds the user with the email to an internal group. An external
// group's members belong to the group source, and the core refuses.
func (h *Handler) addMember(c *call) error {
	id := c.r.PathValue("id")
	email := strings.TrimSpace(c.r.PostFormValue("email"))
	if email == "" {
		return errBadRequestf("give the email of the user to add")
	}
	if err := h.internal(c, id); err != nil {
		return err
	}
	u, err := c.dir().Reader().UserByEmail(c.ctx, email)
	if err != nil {
		return errBadRequestf("no user has the email %s", email)
	}
	if _, err := c.dir().AddMember(c.ctx, identity.SourceManual, id, u.ID); err != nil {
		return err
	}
	return c.see("/groups/"+id, "added")
}

func (h *Handler) removeMember(c *call) error {
	id := c.r.PathValue("id")
	if err := h.internal(c, id); err != nil {
		return err
	}
	if _, err := c.dir().RemoveMember(c.ctx, identity.SourceManual, id, c.r.PathValue("user")); err != nil {
		return err
	}
	return c.see("/groups/"+id, "removed")
}

// internal refuses a change of members of an external group, naming the
// source that manages it. The core refuses it too; this says it in words.
func (h *Handler) internal(c *call, groupID string) error {
	g, err := c.dir().Reader().Group(c.ctx, groupID)
	if err != nil {
		return err
	}
	if g.Kind != groups.Internal {
		return errBadRequestf("the group %s is managed by %s: its members change there, not here", g.Name, g.Source)
	}
	return nil
}
