package scim

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/rollcall/rollcall/groups"
	"github.com/rollcall/rollcall/identity"
	filter "github.com/scim2/filter-parser/v2"
)

// listQuery is a list or search request.
type listQuery struct {
	expr      filter.Expression
	sortBy    string
	desc      bool
	start     int // 1-based
	count     int
	attrs     []string
	excluded  []string
	hasFilter bool
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (q *request) newQuery(filterStr, sortBy, sortOrder string, start, count *int, attrs, excluded []string) (listQuery, error) {
	lq := listQuery{sortBy: sortBy, start: 1, count: q.h.cfg.MaxResults, attrs: attrs, excluded: excluded}
	if filterStr != "" {
		e, err := q.h.filters.parse(filterStr)
		if err != nil {
			return lq, err
		}
		lq.expr, lq.hasFilter = e, true
	}
	switch strings.ToLower(sortOrder) {
	case "", "ascending":
	case "descending":
		lq.desc = true
	default:
		return lq, badRequest(ScimInvalidValue, "sortOrder must be ascending or descending")
	}
	if start != nil && *start > 1 {
		lq.start = *start
	}
	if count != nil {
		lq.count = min(max(*count, 0), q.h.cfg.MaxResults)
	}
	return lq, nil
}

func intParam(v string, name string) (*int, error) {
	if v == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return nil, badRequest(ScimInvalidValue, "%s must be an integer", name)
	}
	return &n, nil
}

func (q *request) listParams() (listQuery, error) {
	v := q.r.URL.Query()
	get := func(name string) string {
		for k, vs := range v {
			if strings.EqualFold(k, name) && len(vs) > 0 {
				return vs[0]
			}
		}
		return ""
	}
	start, err := intParam(get("startIndex"), "startIndex")
	if err != nil {
		return listQuery{}, err
	}
	count, err := intParam(get("count"), "count")
	if err != nil {
		return listQuery{}, err
	}
	return q.newQuery(get("filter"), get("sortBy"), get("sortOrder"), start, count, splitList(get("attributes")), splitList(get("excludedAttributes")))
}

// searchRequest is the body of POST /.search.
type searchRequest struct {
	Filter             string   `json:"filter"`
	SortBy             string   `json:"sortBy"`
	SortOrder          string   `json:"sortOrder"`
	StartIndex         *int     `json:"startIndex"`
	Count              *int     `json:"count"`
	Attributes         []string `json:"attributes"`
	ExcludedAttributes []string `json:"excludedAttributes"`
}

func (q *request) searchParams() (listQuery, error) {
	var s searchRequest
	if err := q.readJSON(&s); err != nil {
		return listQuery{}, err
	}
	return q.newQuery(s.Filter, s.SortBy, s.SortOrder, s.StartIndex, s.Count, s.Attributes, s.ExcludedAttributes)
}

func listResponse(total, start int, resources []doc) doc {
	if resources == nil {
		resources = []doc{}
	}
	return doc{
		"schemas":      []string{URIListResp},
		"totalResults": total,
		"startIndex":   start,
		"itemsPerPage": len(resources),
		"Resources":    resources,
	}
}

func (q *request) list(rt *resourceType, params func() (listQuery, error)) error {
	lq, err := params()
	if err != nil {
		return err
	}
	docs, total, err := q.find(rt, lq, lq.start-1, lq.count)
	if err != nil {
		return err
	}
	q.writeJSON(http.StatusOK, listResponse(total, lq.start, docs))
	return nil
}

// rootSearch serves POST /.search: users, then groups.
func (q *request) rootSearch() error {
	lq, err := q.searchParams()
	if err != nil {
		return err
	}
	users, nu, err := q.find(userType, lq, lq.start-1, lq.count)
	if err != nil {
		return err
	}
	offset := max(lq.start-1-nu, 0)
	grps, ng, err := q.find(groupType, lq, offset, lq.count-len(users))
	if err != nil {
		return err
	}
	q.writeJSON(http.StatusOK, listResponse(nu+ng, lq.start, append(users, grps...)))
	return nil
}

// find returns the page [offset, offset+limit) of the resources of rt that
// match lq, projected, and how many match in all.
func (q *request) find(rt *resourceType, lq listQuery, offset, limit int) ([]doc, int, error) {
	if rt == groupType {
		return q.findGroups(lq, offset, limit)
	}
	return q.findUsers(lq, offset, limit)
}

// storeSort maps a sortBy to an order the store knows.
func storeSort(sortBy string) (identity.UserSort, bool) {
	switch strings.ToLower(sortBy) {
	case "", "id":
		return identity.SortByID, true
	case "username", strings.ToLower(URIUser + ":userName"):
		return identity.SortByUserName, true
	case "emails", "emails.value":
		return identity.SortByEmail, true
	case "displayname":
		return identity.SortByDisplayName, true
	case "name.familyname":
		return identity.SortByFamilyName, true
	case "meta.created":
		return identity.SortByCreated, true
	case "meta.lastmodified":
		return identity.SortByUpdated, true
	}
	return "", false
}

// paged keeps the matches in [offset, offset+limit) while counting them all.
type paged struct {
	offset, limit, total int
	docs                 []doc
}

func (p *paged) add(d doc) {
	if p.total >= p.offset && len(p.docs) < p.limit {
		p.docs = append(p.docs, d)
	}
	p.total++
}

func (q *request) findUsers(lq listQuery, offset, limit int) ([]doc, int, error) {
	ctx := q.r.Context()
	rd := q.dir.Reader()
	withGroups := wants(userType, lq.attrs, lq.excluded, "groups")
	// A filter on groups reads each candidate's groups, whatever the
	// projection returns.
	filterGroups := mentions(userType, lq.expr, "groups")
	render := func(u identity.User, groups bool) (doc, error) {
		var gs []identity.Group
		if groups {
			var err error
			if gs, err = scimGroups(ctx, rd, u.ID); err != nil {
				return nil, err
			}
		}
		return userDoc(u, q.base, gs), nil
	}

	// An equality on id or userName: one lookup, never a scan.
	if lq.expr != nil {
		if u, ok, err := userByIndex(q, lq.expr); ok {
			if err != nil {
				return nil, 0, err
			}
			p := paged{offset: offset, limit: limit}
			if u != nil {
				d, err := render(*u, withGroups || filterGroups)
				if err != nil {
					return nil, 0, err
				}
				if match(userType, d, lq.expr) {
					p.add(d)
				}
			}
			return projectAll(userType, p.docs, lq), p.total, nil
		}
	}

	plan := planUsers(lq.expr)
	uq := identity.UserQuery{Active: plan.active, Match: plan.match}
	if q.h.cfg.KeepDeleted {
		uq.Match = append(uq.Match, identity.UserCond{Field: identity.FieldAttribute, Key: attrDeleted, Op: identity.OpPresent, Not: true})
	}
	// `groups.value eq "id"` reads only that group's members.
	if gid, ok := groupOperand(lq.expr); ok {
		g, err := rd.Group(ctx, gid)
		if errors.Is(err, identity.ErrNotFound) || err == nil && !managed(g) {
			return []doc{}, 0, nil
		}
		if err != nil {
			return nil, 0, err
		}
		uq.GroupID = gid
	}
	order, storeOrder := storeSort(lq.sortBy)
	if len(plan.rest) == 0 && storeOrder {
		// The store answers the whole filter: it pages and counts.
		uq.SortBy, uq.Descending, uq.Offset, uq.Limit = order, lq.desc, offset, max(limit, 1)
		page, err := rd.ListUsers(ctx, uq)
		if err != nil {
			return nil, 0, err
		}
		ds := make([]doc, 0, min(limit, len(page.Users)))
		for _, u := range page.Users[:min(limit, len(page.Users))] {
			d, err := render(u, withGroups)
			if err != nil {
				return nil, 0, err
			}
			ds = append(ds, d)
		}
		return projectAll(userType, ds, lq), page.Total, nil
	}
	return q.streamUsers(uq, plan, lq, offset, limit, render, withGroups, filterGroups)
}

// streamUsers reads the store's candidates by pages (keyset pages in ID
// order, else pages in the store's order), keeps those that pass the rest
// of the filter, and returns the page [offset, offset+limit) of them and
// their count; only a sort the store cannot do keeps every match.
func (q *request) streamUsers(uq identity.UserQuery, plan userPlan, lq listQuery, offset, limit int,
	render func(identity.User, bool) (doc, error), withGroups, filterGroups bool) ([]doc, int, error) {
	ctx := q.r.Context()
	sorted := lq.sortBy != "" && !strings.EqualFold(lq.sortBy, "id") || lq.desc
	byOffset := false
	if order, ok := storeSort(lq.sortBy); ok && sorted {
		uq.SortBy, uq.Descending = order, lq.desc
		sorted, byOffset = false, true
	}
	p := paged{offset: offset, limit: limit}
	var all []doc
	uq.Limit, uq.NoTotal = 1000, true
	for {
		page, err := q.dir.Reader().ListUsers(ctx, uq)
		if err != nil {
			return nil, 0, err
		}
		for _, u := range page.Users {
			if isDeleted(u) {
				continue
			}
			d, err := render(u, filterGroups)
			if err != nil {
				return nil, 0, err
			}
			if !plan.restMatches(d) {
				continue
			}
			if sorted {
				all = append(all, d)
			} else {
				p.add(d)
			}
		}
		if len(page.Users) < uq.Limit {
			break
		}
		if byOffset {
			uq.Offset += len(page.Users)
		} else {
			uq.After = page.Users[len(page.Users)-1].ID
		}
	}
	if sorted {
		sortDocs(userType, all, lq.sortBy, lq.desc)
		p.total = len(all)
		if offset < len(all) {
			p.docs = all[offset:min(offset+limit, len(all))]
		}
	}
	if withGroups && !filterGroups {
		for i, d := range p.docs {
			gs, err := scimGroups(ctx, q.dir.Reader(), d["id"].(string))
			if err != nil {
				return nil, 0, err
			}
			p.docs[i] = userDocWithGroups(d, gs, q.base)
		}
	}
	return projectAll(userType, p.docs, lq), p.total, nil
}

func userDocWithGroups(d doc, gs []identity.Group, base string) doc {
	list := make([]any, 0, len(gs))
	for _, g := range gs {
		list = append(list, doc{"value": g.ID, "display": g.Name, "type": "direct", "$ref": base + "/Groups/" + g.ID})
	}
	d["groups"] = list
	return d
}

// scimGroups returns the SCIM-managed groups of a user.
func scimGroups(ctx context.Context, rd identity.Reader, userID string) ([]identity.Group, error) {
	gs, err := rd.UserGroups(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]identity.Group, 0, len(gs))
	for _, g := range gs {
		if managed(g) {
			out = append(out, g)
		}
	}
	return out, nil
}

// members returns the members of a group, in ID order.
func members(ctx context.Context, rd identity.Reader, groupID string) ([]identity.User, error) {
	out := []identity.User{}
	uq := identity.UserQuery{GroupID: groupID, Limit: 10000}
	for {
		page, err := rd.ListUsers(ctx, uq)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Users...)
		if len(page.Users) < uq.Limit {
			return out, nil
		}
		uq.After = page.Users[len(page.Users)-1].ID
	}
}

// eqOperand returns the string operand of `attr eq "v"` on a top-level
// attribute of rt (attr and sub named case-insensitively), or false.
func eqOperand(rt *resourceType, e filter.Expression, name, sub string) (string, bool) {
	ae, ok := e.(*filter.AttributeExpression)
	if !ok || ae.Operator != filter.EQ {
		return "", false
	}
	p := ae.AttributePath
	if uri := pathURI(p); uri != "" && rt.schemaFor(uri) != rt.Schema {
		return "", false
	}
	if !strings.EqualFold(p.AttributeName, name) {
		return "", false
	}
	if (p.SubAttribute == nil) != (sub == "") || p.SubAttribute != nil && !strings.EqualFold(*p.SubAttribute, sub) {
		return "", false
	}
	s, ok := compareValue(ae.CompareValue).(string)
	return s, ok
}

// conjuncts returns the terms of a chain of ands.
func conjuncts(e filter.Expression) []filter.Expression {
	if l, ok := e.(*filter.LogicalExpression); ok && l.Operator == filter.AND {
		return append(conjuncts(l.Left), conjuncts(l.Right)...)
	}
	return []filter.Expression{e}
}

// valuePathEq returns X of `attr[... and value eq X ...]` (and of
// `attr[value eq X].value eq X` once repaired), or false.
func valuePathEq(rt *resourceType, e filter.Expression, name string) (string, bool) {
	vp, ok := e.(*filter.ValuePath)
	if !ok || !strings.EqualFold(vp.AttributePath.AttributeName, name) {
		return "", false
	}
	if uri := pathURI(vp.AttributePath); uri != "" && rt.schemaFor(uri) != rt.Schema {
		return "", false
	}
	for _, c := range conjuncts(vp.ValueFilter) {
		if ae, ok := c.(*filter.AttributeExpression); ok && ae.Operator == filter.EQ && strings.EqualFold(ae.AttributePath.AttributeName, "value") && ae.AttributePath.SubAttribute == nil {
			if s, ok := compareValue(ae.CompareValue).(string); ok {
				return s, true
			}
		}
	}
	return "", false
}

// userByIndex finds the one user an indexed equality in the filter's
// top-level conjunction can match: by id or userName (unique; externalId is
// not, and an email may be one of several a user keeps). It
// reports false if the filter has no such term; a nil user if none matches.
func userByIndex(q *request, e filter.Expression) (*identity.User, bool, error) {
	ctx := q.r.Context()
	rd := q.dir.Reader()
	for _, c := range conjuncts(e) {
		var u identity.User
		var err error
		if v, ok := eqOperand(userType, c, "id", ""); ok {
			u, err = rd.User(ctx, v)
		} else if v, ok := eqOperand(userType, c, "userName", ""); ok {
			u, err = rd.UserByUserName(ctx, v)
		} else {
			continue
		}
		if errors.Is(err, identity.ErrNotFound) || err == nil && isDeleted(u) {
			return nil, true, nil
		}
		if err != nil {
			return nil, true, err
		}
		return &u, true, nil
	}
	return nil, false, nil
}

// groupOperand returns X of a top-level `groups.value eq X`, `groups eq X`
// or `groups[value eq X]`.
func groupOperand(e filter.Expression) (string, bool) {
	if e == nil {
		return "", false
	}
	for _, c := range conjuncts(e) {
		if v, ok := eqOperand(userType, c, "groups", "value"); ok {
			return v, true
		}
		if v, ok := eqOperand(userType, c, "groups", ""); ok {
			return v, true
		}
		if v, ok := valuePathEq(userType, c, "groups"); ok {
			return v, true
		}
	}
	return "", false
}

// managed reports whether a group is one SCIM manages: SCIM sees only those.
func managed(g identity.Group) bool {
	return g.Kind == groups.External && g.Source == identity.SourceSCIM
}

// mentions reports whether a filter names the attribute name of rt, in any
// term, value path or sub-attribute path.
func mentions(rt *resourceType, e filter.Expression, name string) bool {
	switch e := e.(type) {
	case *filter.LogicalExpression:
		return mentions(rt, e.Left, name) || mentions(rt, e.Right, name)
	case *filter.NotExpression:
		return mentions(rt, e.Expression, name)
	case *filter.ValuePath:
		a, _ := rt.resolve(pathURI(e.AttributePath), e.AttributePath.AttributeName)
		return a != nil && a.Name == name
	case *filter.AttributeExpression:
		a, _ := rt.resolve(pathURI(e.AttributePath), e.AttributePath.AttributeName)
		return a != nil && a.Name == name
	}
	return false
}

func (q *request) findGroups(lq listQuery, offset, limit int) ([]doc, int, error) {
	ctx := q.r.Context()
	rd := q.dir.Reader()
	withMembers := wants(groupType, lq.attrs, lq.excluded, "members")
	filterMembers := mentions(groupType, lq.expr, "members")
	render := func(g identity.Group, withM bool) (doc, error) {
		var ms []identity.User
		if withM {
			var err error
			if ms, err = members(ctx, rd, g.ID); err != nil {
				return nil, err
			}
		}
		return groupDoc(g, q.base, ms), nil
	}
	p := paged{offset: offset, limit: limit}
	var all []doc
	sorted := lq.sortBy != "" && !strings.EqualFold(lq.sortBy, "id") || lq.desc
	consider := func(g identity.Group) error {
		if !managed(g) {
			return nil
		}
		d, err := render(g, filterMembers)
		if err != nil {
			return err
		}
		if lq.expr != nil && !match(groupType, d, lq.expr) {
			return nil
		}
		if sorted {
			all = append(all, d)
		} else {
			p.add(d)
		}
		return nil
	}
	if cands, ok, err := groupsByIndex(q, lq.expr); ok {
		if err != nil {
			return nil, 0, err
		}
		for _, g := range cands {
			if err := consider(g); err != nil {
				return nil, 0, err
			}
		}
	} else {
		gq := identity.GroupQuery{Kind: groups.External, Source: identity.SourceSCIM, Limit: 1000}
		if lq.expr == nil && !sorted {
			return q.groupPage(lq, offset, limit, withMembers)
		}
		for {
			page, err := rd.ListGroups(ctx, gq)
			if err != nil {
				return nil, 0, err
			}
			for _, g := range page.Groups {
				if err := consider(g); err != nil {
					return nil, 0, err
				}
			}
			if len(page.Groups) < gq.Limit {
				break
			}
			gq.After = page.Groups[len(page.Groups)-1].ID
		}
	}
	if sorted {
		sortDocs(groupType, all, lq.sortBy, lq.desc)
		p.total = len(all)
		if offset < len(all) {
			p.docs = all[offset:min(offset+limit, len(all))]
		}
	}
	if withMembers && !filterMembers {
		if err := q.fillMembers(ctx, rd, p.docs); err != nil {
			return nil, 0, err
		}
	}
	return projectAll(groupType, p.docs, lq), p.total, nil
}

// groupPage answers a list of groups with neither a filter nor a sort: one
// page of the store's, and its total.
func (q *request) groupPage(lq listQuery, offset, limit int, withMembers bool) ([]doc, int, error) {
	ctx := q.r.Context()
	rd := q.dir.Reader()
	page, err := rd.ListGroups(ctx, identity.GroupQuery{Kind: groups.External, Source: identity.SourceSCIM, Offset: offset, Limit: max(limit, 1)})
	if err != nil {
		return nil, 0, err
	}
	var docs []doc
	for _, g := range page.Groups[:min(limit, len(page.Groups))] {
		var ms []identity.User
		if withMembers {
			if ms, err = members(ctx, rd, g.ID); err != nil {
				return nil, 0, err
			}
		}
		docs = append(docs, groupDoc(g, q.base, ms))
	}
	return projectAll(groupType, docs, lq), page.Total, nil
}

// fillMembers sets the members of each group document of a page, read after
// the filter and the page chose the groups.
func (q *request) fillMembers(ctx context.Context, rd identity.Reader, docs []doc) error {
	for i, d := range docs {
		ms, err := members(ctx, rd, d["id"].(string))
		if err != nil {
			return err
		}
		list := make([]any, 0, len(ms))
		for _, u := range ms {
			list = append(list, memberDoc(u, q.base))
		}
		docs[i]["members"] = list
	}
	return nil
}

func projectAll(rt *resourceType, ds []doc, lq listQuery) []doc {
	for i, d := range ds {
		ds[i] = project(rt, d, lq.attrs, lq.excluded)
	}
	return ds
}

// groupsByIndex finds the groups an indexed equality can match: by id,
// displayName, externalId, or a member's id.
func groupsByIndex(q *request, e filter.Expression) ([]identity.Group, bool, error) {
	if e == nil {
		return nil, false, nil
	}
	ctx := q.r.Context()
	rd := q.dir.Reader()
	one := func(g identity.Group, err error) ([]identity.Group, bool, error) {
		if errors.Is(err, identity.ErrNotFound) {
			return nil, true, nil
		}
		if err != nil {
			return nil, true, err
		}
		return []identity.Group{g}, true, nil
	}
	for _, c := range conjuncts(e) {
		if v, ok := eqOperand(groupType, c, "id", ""); ok {
			return one(rd.Group(ctx, v))
		}
		if v, ok := eqOperand(groupType, c, "displayName", ""); ok {
			return one(rd.GroupByName(ctx, v))
		}
		if v, ok := eqOperand(groupType, c, "externalId", ""); ok {
			gs, err := rd.GroupsByExternalID(ctx, v)
			return gs, true, err
		}
		v, ok := eqOperand(groupType, c, "members", "value")
		if !ok {
			v, ok = eqOperand(groupType, c, "members", "")
		}
		if !ok {
			v, ok = valuePathEq(groupType, c, "members")
		}
		if ok {
			gs, err := rd.UserGroups(ctx, v)
			return gs, true, err
		}
	}
	return nil, false, nil
}

// sortDocs sorts documents by the attribute path sortBy, stably, ties
// broken by id; documents without the attribute go last.
func sortDocs(rt *resourceType, ds []doc, sortBy string, desc bool) {
	key := func(d doc) (string, bool) {
		v := valueAt(rt, d, sortBy)
		switch v := v.(type) {
		case string:
			return strings.ToLower(v), true
		case bool:
			return strconv.FormatBool(v), true
		}
		return "", false
	}
	slices.SortStableFunc(ds, func(a, b doc) int {
		ka, oka := key(a)
		kb, okb := key(b)
		c := 0
		switch {
		case oka && !okb:
			return -1
		case !oka && okb:
			return 1
		default:
			c = strings.Compare(ka, kb)
		}
		if c == 0 {
			c = cmp.Compare(getString(a, "id"), getString(b, "id"))
		}
		if desc {
			c = -c
		}
		return c
	})
}

// valueAt returns the value of "attr" or "attr.sub" (URN-qualified or not)
// in d: for a multi-valued attribute, the primary element's, else the
// first's.
func valueAt(rt *resourceType, d doc, path string) any {
	uri, rest, _ := rt.splitURN(path)
	name, sub, _ := strings.Cut(rest, ".")
	a, s := rt.resolve(uri, name)
	if a == nil {
		return nil
	}
	v := container(d, rt, s, false)[a.Name]
	if a.Multi {
		el := pick(v)
		if el == nil {
			return nil
		}
		if sub == "" {
			sub = "value"
		}
		if sa := a.sub(sub); sa != nil {
			return el[sa.Name]
		}
		return nil
	}
	if sub != "" {
		m, _ := v.(doc)
		if sa := a.sub(sub); sa != nil && m != nil {
			return m[sa.Name]
		}
		return nil
	}
	return v
}
