package scim

import (
	"context"
	"net/http"
	"reflect"
	"strings"

	"github.com/rollcall/rollcall/identity"
	filter "github.com/scim2/filter-parser/v2"
)

// patchOp is one operation of a PATCH request, its op lower-cased and its
// path parsed (nil for none).
type patchOp struct {
	op    string
	path  *filter.Path
	value any
	raw   string
}

// maxOps caps the operations of one PATCH.
const maxOps = 10000

func (q *request) readPatch() ([]patchOp, error) {
	raw, err := q.readBody()
	if err != nil {
		return nil, err
	}
	v, _ := rawKey(raw, "Operations")
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return nil, badRequest(ScimInvalidValue, "a PATCH needs a list of Operations")
	}
	if len(list) > maxOps {
		return nil, errorf(http.StatusRequestEntityTooLarge, ScimTooMany, "more than %d operations", maxOps)
	}
	ops := make([]patchOp, 0, len(list))
	for i, e := range list {
		m, ok := e.(doc)
		if !ok {
			return nil, badRequest(ScimInvalidValue, "operation %d is not an object", i)
		}
		opv, _ := rawKey(m, "op")
		op, _ := opv.(string)
		op = strings.ToLower(strings.TrimSpace(op))
		if op != "add" && op != "replace" && op != "remove" {
			return nil, badRequest(ScimInvalidValue, "operation %d: op must be add, replace or remove", i)
		}
		po := patchOp{op: op}
		po.value, _ = rawKey(m, "value")
		if pv, _ := rawKey(m, "path"); pv != nil {
			s, ok := pv.(string)
			if !ok {
				return nil, badRequest(ScimInvalidPath, "operation %d: path must be a string", i)
			}
			if s = strings.TrimSpace(s); s != "" {
				p, err := q.h.filters.path(s)
				if err != nil {
					return nil, err
				}
				po.path, po.raw = &p, s
			}
		}
		if po.path == nil {
			if op == "remove" {
				return nil, badRequest(ScimNoTarget, "operation %d: remove needs a path", i)
			}
			if _, ok := po.value.(doc); !ok {
				return nil, badRequest(ScimInvalidValue, "operation %d: without a path, value must be an object", i)
			}
		}
		ops = append(ops, po)
	}
	return ops, nil
}

func (q *request) patch(rt *resourceType, id string) error {
	ifVersion, err := ifMatch(q.r)
	if err != nil {
		return err
	}
	ops, err := q.readPatch()
	if err != nil {
		return err
	}
	if rt == groupType {
		return q.patchGroup(id, ifVersion, ops)
	}
	attrs, excluded := q.projection()
	var updated identity.User
	var gs []identity.Group
	err = q.dir.Do(q.r.Context(), identity.SourceSCIM, func(ctx context.Context, tx *identity.Tx) error {
		var err error
		updated, err = tx.UpdateUser(ctx, id, ifVersion, func(u *identity.User) error {
			if isDeleted(*u) {
				return identity.ErrNotFound
			}
			d := userDoc(*u, "", nil)
			for _, op := range ops {
				if err := applyOp(userType, d, op, &q.h.filters); err != nil {
					return err
				}
			}
			if err := applyUserDoc(d, u); err != nil { // a new email is verified by the core's policy
				return err
			}
			if getString(d, "userName") == "" {
				return badRequest(ScimInvalidValue, "userName is required")
			}
			return nil
		})
		if err != nil || q.h.cfg.PatchNoContent || !wants(userType, attrs, excluded, "groups") {
			return err
		}
		// The answer's groups are read in the same transaction: no second
		// snapshot after the commit.
		gs, err = scimGroups(ctx, tx.Reader(), id)
		return err
	})
	if err != nil {
		return err
	}
	if q.h.cfg.PatchNoContent {
		return q.noContent(updated.Version)
	}
	q.writeResource(http.StatusOK, userType, userDoc(updated, q.base, gs), updated.Version)
	return nil
}

// noContent answers 204 with the resource's ETag.
func (q *request) noContent(version int64) error {
	q.w.Header().Set("ETag", etag(version))
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

// applyOp applies one operation to a document (not to a group's members,
// which patchGroup handles).
func applyOp(rt *resourceType, d doc, op patchOp, paths *filterCache) error {
	if op.path != nil {
		return applyPath(rt, d, op.op, *op.path, op.value)
	}
	// No path: the value's keys are attributes, dotted or URN-qualified
	// paths, or a schema URI whose object holds its attributes.
	for k, v := range op.value.(doc) {
		if s := rt.isSchemaURI(k); s != nil {
			m, ok := v.(doc)
			if !ok {
				return badRequest(ScimInvalidValue, "%s must be an object", k)
			}
			for k2, v2 := range m {
				if err := applyKey(rt, d, op.op, s.ID+":"+k2, v2, paths); err != nil {
					return err
				}
			}
			continue
		}
		if err := applyKey(rt, d, op.op, k, v, paths); err != nil {
			return err
		}
	}
	return nil
}

func applyKey(rt *resourceType, d doc, op, key string, v any, paths *filterCache) error {
	switch strings.ToLower(key) {
	case "schemas", "meta":
		return nil
	case "id":
		if v != nil && v != d["id"] {
			return badRequest(ScimMutability, "id is read-only")
		}
		return nil
	}
	p, err := paths.path(key)
	if err != nil {
		return err
	}
	return applyPath(rt, d, op, p, v)
}

// applyPath applies op at path p of d (RFC 7644, section 3.5.2), with the
// tolerance clients need: a value filter that matches nothing on add or
// replace creates the element it describes (Entra's
// emails[type eq "work"].value), and remove with a value list on a
// multi-valued attribute removes only the listed values.
func applyPath(rt *resourceType, d doc, op string, p filter.Path, v any) error {
	name := p.AttributePath.AttributeName
	a, s := rt.resolve(pathURI(p.AttributePath), name)
	if a == nil {
		if op == "remove" {
			return nil // nothing kept, nothing to remove
		}
		return notKept(pathURI(p.AttributePath), name, v)
	}
	if a.Mutability == "writeOnly" {
		return nil
	}
	if a.readOnly() {
		if a.Name == "id" && v == d["id"] {
			return nil
		}
		return badRequest(ScimMutability, "%s is read-only", a.Name)
	}
	c := container(d, rt, s, op != "remove")
	if c == nil {
		return nil
	}
	var sub *attr
	if p.AttributePath.SubAttribute != nil {
		if sub = a.sub(*p.AttributePath.SubAttribute); sub == nil {
			return badRequest(ScimInvalidPath, "%s has no sub-attribute %s", a.Name, *p.AttributePath.SubAttribute)
		}
	}
	if p.ValueExpression == nil && p.SubAttribute != nil {
		// A path like attr.sub parsed as a sub-attribute after no filter.
		if sub = a.sub(*p.SubAttribute); sub == nil {
			return badRequest(ScimInvalidPath, "%s has no sub-attribute %s", a.Name, *p.SubAttribute)
		}
	}
	if p.ValueExpression != nil {
		return applyFiltered(a, c, op, p, v)
	}
	if sub != nil {
		return applySub(a, sub, c, op, v)
	}
	switch op {
	case "remove":
		if v != nil && a.Multi {
			return removeValues(a, c, v)
		}
		delete(c, a.Name)
		return nil
	case "add":
		nv, err := coerce(a, v, a.Name)
		if err != nil || nv == nil {
			return err
		}
		if a.Multi {
			c[a.Name] = mergeList(c[a.Name], nv.([]any))
			return nil
		}
		return mergeSet(a, c, nv)
	default: // replace
		nv, err := coerce(a, v, a.Name)
		if err != nil {
			return err
		}
		if nv == nil {
			delete(c, a.Name)
			return nil
		}
		if a.Multi {
			c[a.Name] = nv
			return nil
		}
		return mergeSet(a, c, nv)
	}
}

// mergeSet sets a single-valued attribute; a complex one keeps the
// sub-attributes the value does not name.
func mergeSet(a *attr, c doc, nv any) error {
	if m, ok := nv.(doc); ok && a.Type == tComplex {
		if old, ok := c[a.Name].(doc); ok {
			for k, v := range m {
				old[k] = v
			}
			return nil
		}
	}
	c[a.Name] = nv
	return nil
}

// sameValue reports whether two elements of a multi-valued attribute are the
// same value.
func sameValue(a, b doc) bool {
	av, bv := a["value"], b["value"]
	if av != nil || bv != nil {
		return reflect.DeepEqual(av, bv) || isString(av) && isString(bv) && strings.EqualFold(av.(string), bv.(string))
	}
	return reflect.DeepEqual(a, b)
}

func isString(v any) bool { _, ok := v.(string); return ok }

// mergeList adds elements to a list, merging those with a value already
// there.
func mergeList(old any, add []any) []any {
	list, _ := old.([]any)
	list = append([]any(nil), list...)
	for _, e := range add {
		m, _ := e.(doc)
		found := false
		for _, o := range list {
			if om, ok := o.(doc); ok && m != nil && sameValue(om, m) {
				for k, v := range m {
					om[k] = v
				}
				found = true
				break
			}
		}
		if !found {
			list = append(list, e)
		}
	}
	clearOtherPrimaries(list)
	return list
}

// clearOtherPrimaries keeps at most one element primary: the last one set.
func clearOtherPrimaries(list []any) {
	last := -1
	for i, e := range list {
		if m, ok := e.(doc); ok && m["primary"] == true {
			last = i
		}
	}
	for i, e := range list {
		if m, ok := e.(doc); ok && i != last && m["primary"] == true {
			m["primary"] = false
		}
	}
}

func removeValues(a *attr, c doc, v any) error {
	nv, err := coerce(a, v, a.Name)
	if err != nil {
		return err
	}
	rm, _ := nv.([]any)
	list, _ := c[a.Name].([]any)
	out := list[:0:0]
	for _, e := range list {
		m, _ := e.(doc)
		keep := true
		for _, r := range rm {
			if rmm, ok := r.(doc); ok && m != nil && sameValue(m, rmm) {
				keep = false
				break
			}
		}
		if keep {
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		delete(c, a.Name)
	} else {
		c[a.Name] = out
	}
	return nil
}

// applySub applies op to attr.sub: on a single-valued complex attribute the
// sub-attribute, on a multi-valued one the sub-attribute of every element
// (one is created on add or replace if there is none).
func applySub(a, sub *attr, c doc, op string, v any) error {
	var nv any
	if op != "remove" {
		var err error
		if nv, err = coerce(sub, v, a.Name+"."+sub.Name); err != nil {
			return err
		}
	}
	if !a.Multi {
		m, _ := c[a.Name].(doc)
		if op == "remove" || nv == nil {
			if m != nil {
				delete(m, sub.Name)
				if len(m) == 0 {
					delete(c, a.Name)
				}
			}
			return nil
		}
		if m == nil {
			m = doc{}
			c[a.Name] = m
		}
		m[sub.Name] = nv
		return nil
	}
	els := elements(c[a.Name])
	if len(els) == 0 && op != "remove" && nv != nil {
		c[a.Name] = []any{doc{sub.Name: nv}}
		return nil
	}
	for _, el := range els {
		if op == "remove" || nv == nil {
			delete(el, sub.Name)
		} else {
			el[sub.Name] = nv
		}
	}
	return nil
}

// applyFiltered applies op to the elements of a complex attribute that
// match the path's value filter (attr[filter] or attr[filter].sub).
func applyFiltered(a *attr, c doc, op string, p filter.Path, v any) error {
	if a.Type != tComplex {
		return badRequest(ScimInvalidPath, "%s is not complex: it has no value filter", a.Name)
	}
	var sub *attr
	if p.SubAttribute != nil {
		if sub = a.sub(*p.SubAttribute); sub == nil {
			return badRequest(ScimInvalidPath, "%s has no sub-attribute %s", a.Name, *p.SubAttribute)
		}
	}
	els := elements(c[a.Name])
	var matched []doc
	for _, el := range els {
		if matchSub(a, el, p.ValueExpression) {
			matched = append(matched, el)
		}
	}
	if op == "remove" {
		if sub != nil {
			for _, el := range matched {
				delete(el, sub.Name)
			}
			return nil
		}
		if len(matched) == 0 {
			return nil
		}
		if !a.Multi {
			delete(c, a.Name)
			return nil
		}
		list, _ := c[a.Name].([]any)
		out := list[:0:0]
		for _, e := range list {
			m, _ := e.(doc)
			if !containsDoc(matched, m) {
				out = append(out, e)
			}
		}
		if len(out) == 0 {
			delete(c, a.Name)
		} else {
			c[a.Name] = out
		}
		return nil
	}
	var nv any
	var err error
	if sub != nil {
		nv, err = coerce(sub, v, a.Name+"."+sub.Name)
	} else {
		nv, err = coerceOne(a, single(v), a.Name)
	}
	if err != nil {
		return err
	}
	if len(matched) == 0 {
		el, ok := eqFields(a, p.ValueExpression)
		if !ok {
			return badRequest(ScimNoTarget, "no value of %s matches the filter", a.Name)
		}
		if a.Multi {
			list, _ := c[a.Name].([]any)
			c[a.Name] = append(append([]any(nil), list...), el)
		} else {
			c[a.Name] = el
		}
		matched = []doc{el}
	}
	for _, el := range matched {
		if sub != nil {
			if nv == nil {
				delete(el, sub.Name)
			} else {
				el[sub.Name] = nv
			}
			continue
		}
		if m, ok := nv.(doc); ok {
			for k, x := range m {
				el[k] = x
			}
		}
	}
	return nil
}

func single(v any) any {
	if l, ok := v.([]any); ok && len(l) == 1 {
		return l[0]
	}
	return v
}

func containsDoc(list []doc, m doc) bool {
	for _, x := range list {
		if reflect.ValueOf(x).Pointer() == reflect.ValueOf(m).Pointer() {
			return true
		}
	}
	return false
}

// eqFields returns the element a filter of equalities joined by and
// describes (type eq "work" gives {"type": "work"}), or false.
func eqFields(a *attr, e filter.Expression) (doc, bool) {
	out := doc{}
	for _, c := range conjuncts(e) {
		ae, ok := c.(*filter.AttributeExpression)
		if !ok || ae.Operator != filter.EQ || ae.AttributePath.SubAttribute != nil {
			return nil, false
		}
		sa := a.sub(ae.AttributePath.AttributeName)
		if sa == nil {
			return nil, false
		}
		v, err := coerceOne(sa, compareValue(ae.CompareValue), a.Name)
		if err != nil || v == nil {
			return nil, false
		}
		out[sa.Name] = v
	}
	return out, true
}

// patchGroup applies a PATCH to a group in one transaction: member changes
// one membership at a time (adding a member to a group of any size writes
// one membership), displayName and externalId through UpdateGroup.
func (q *request) patchGroup(id string, ifVersion int64, ops []patchOp) error {
	var updated identity.Group
	err := q.dir.Do(q.r.Context(), identity.SourceSCIM, func(ctx context.Context, tx *identity.Tx) error {
		g, err := tx.Reader().Group(ctx, id)
		if err != nil {
			return err
		}
		if !managed(g) {
			return identity.ErrNotFound
		}
		if ifVersion != 0 && g.Version != ifVersion {
			return identity.ErrVersionMismatch
		}
		d := groupDoc(g, "", nil)
		for _, op := range ops {
			if op.path != nil && isMembers(op.path.AttributePath) {
				if err := q.memberOp(ctx, tx, id, op.op, op.path, op.value); err != nil {
					return err
				}
				continue
			}
			if op.path == nil {
				rest := doc{}
				for k, v := range op.value.(doc) {
					if strings.EqualFold(k, "members") || strings.EqualFold(k, URIGroup+":members") {
						if err := q.memberOp(ctx, tx, id, op.op, nil, v); err != nil {
							return err
						}
						continue
					}
					rest[k] = v
				}
				op.value = rest
			}
			if err := applyOp(groupType, d, op, &q.h.filters); err != nil {
				return err
			}
		}
		name, ext := strings.TrimSpace(getString(d, "displayName")), getString(d, "externalId")
		if name == "" {
			return badRequest(ScimInvalidValue, "displayName is required")
		}
		updated = g
		if name != g.Name || ext != g.ExternalID {
			updated, err = tx.UpdateGroup(ctx, id, 0, func(g *identity.Group) error {
				g.Name, g.ExternalID = name, ext
				return nil
			})
		}
		return err
	})
	if err != nil {
		return q.groupRefusal(err)
	}
	// 204 unless the request asks for attributes: answering with the
	// members would cost the group's size for every member added.
	if attrs, excluded := q.projection(); q.h.cfg.PatchNoContent || len(attrs) == 0 && len(excluded) == 0 {
		return q.noContent(updated.Version)
	}
	return q.respondGroup(http.StatusOK, updated)
}

func isMembers(p filter.AttributePath) bool {
	uri := pathURI(p)
	return strings.EqualFold(p.AttributeName, "members") && (uri == "" || strings.EqualFold(uri, URIGroup))
}

// memberOp applies one operation on a group's members.
func (q *request) memberOp(ctx context.Context, tx *identity.Tx, groupID, op string, p *filter.Path, v any) error {
	if p != nil && (p.AttributePath.SubAttribute != nil || p.SubAttribute != nil) {
		return badRequest(ScimMutability, "the sub-attributes of members cannot be changed")
	}
	var ids []string
	if v != nil {
		var err error
		if ids, err = memberIDs(v); err != nil {
			return err
		}
	}
	add := func() error {
		for _, uid := range ids {
			if err := q.addMember(ctx, tx, groupID, uid); err != nil {
				return err
			}
		}
		return nil
	}
	var filtered []string
	if p != nil && p.ValueExpression != nil {
		var err error
		if filtered, err = q.filteredMembers(ctx, tx, groupID, p.ValueExpression); err != nil {
			return err
		}
	}
	switch {
	case op == "add" && p != nil && p.ValueExpression != nil:
		return badRequest(ScimInvalidPath, "add takes no value filter on members")
	case op == "add":
		return add()
	case op == "remove" && p != nil && p.ValueExpression != nil:
		return removeMembers(ctx, tx, groupID, filtered)
	case op == "remove" && v != nil:
		// Entra: {"op":"Remove","path":"members","value":[{"value":"id"}]}
		// removes the listed members only.
		return removeMembers(ctx, tx, groupID, ids)
	case op == "remove":
		_, _, err := tx.SetMembers(ctx, groupID, nil)
		return err
	case p != nil && p.ValueExpression != nil: // replace members[filter]
		if err := removeMembers(ctx, tx, groupID, filtered); err != nil {
			return err
		}
		return add()
	default: // replace
		if err := checkUsers(ctx, tx, ids); err != nil {
			return err
		}
		_, _, err := tx.SetMembers(ctx, groupID, ids)
		return err
	}
}

func removeMembers(ctx context.Context, tx *identity.Tx, groupID string, ids []string) error {
	for _, uid := range ids {
		if _, err := tx.RemoveMember(ctx, groupID, uid); err != nil {
			return err
		}
	}
	return nil
}

// filteredMembers returns the ids of the members a value filter selects:
// `value eq "id"` (or ors of them) without reading the member list, any
// other filter by reading it.
func (q *request) filteredMembers(ctx context.Context, tx *identity.Tx, groupID string, e filter.Expression) ([]string, error) {
	if ids, ok := valueEqs(e); ok {
		return ids, nil
	}
	ms, err := members(ctx, tx.Reader(), groupID)
	if err != nil {
		return nil, err
	}
	membersAttr := groupSchema.Attrs[1]
	var ids []string
	for _, u := range ms {
		if matchSub(membersAttr, memberDoc(u, ""), e) {
			ids = append(ids, u.ID)
		}
	}
	return ids, nil
}

// valueEqs returns X, Y of `value eq X or value eq Y`.
func valueEqs(e filter.Expression) ([]string, bool) {
	switch e := e.(type) {
	case *filter.LogicalExpression:
		if e.Operator != filter.OR {
			return nil, false
		}
		l, ok1 := valueEqs(e.Left)
		r, ok2 := valueEqs(e.Right)
		return append(l, r...), ok1 && ok2
	case *filter.AttributeExpression:
		if e.Operator == filter.EQ && strings.EqualFold(e.AttributePath.AttributeName, "value") && e.AttributePath.SubAttribute == nil {
			if s, ok := compareValue(e.CompareValue).(string); ok {
				return []string{s}, true
			}
		}
	}
	return nil, false
}
