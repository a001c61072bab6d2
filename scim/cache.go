package scim

import (
	"strconv"
	"strings"
	"sync"

	filter "github.com/scim2/filter-parser/v2"
)

// filterCache keeps parsed filters by their shape: the filter with each
// quoted value replaced by a placeholder. Clients send a few shapes
// (`userName eq "..."`) with ever new values; the parser is slow next to a
// lookup, so each shape is parsed once and its values put back into a copy.
type filterCache struct {
	mu    sync.Mutex
	m     map[string]filter.Expression
	paths map[string]filter.Path
}

// maxCachedFilters bounds the cache; it is emptied when full.
const maxCachedFilters = 1024

// placeholder marks the i-th quoted value in a shape. Its raw text starts
// with a JSON escape that no value the cache puts in place can start with
// (every quoted value is replaced, and fixFilter's quoting doubles a
// backslash).
const placeholder = `\uE000`

// shape returns the filter with its quoted values replaced by placeholders,
// and the values.
func shape(s string) (string, []string) {
	toks := tokenize(s)
	var values []string
	var b strings.Builder
	for i, t := range toks {
		if t.space && i > 0 {
			b.WriteByte(' ')
		}
		if len(t.text) >= 2 && t.text[0] == '"' && t.text[len(t.text)-1] == '"' {
			b.WriteString(`"` + placeholder + strconv.Itoa(len(values)) + `"`)
			values = append(values, t.text[1:len(t.text)-1])
			continue
		}
		b.WriteString(t.text)
	}
	return b.String(), values
}

// parse parses a filter as parseFilter does, through the cache.
func (c *filterCache) parse(s string) (filter.Expression, error) {
	if len(s) > maxFilterLen {
		return parseFilter(s)
	}
	sh, values := shape(s)
	c.mu.Lock()
	e, ok := c.m[sh]
	c.mu.Unlock()
	if !ok {
		var err error
		if e, err = parseFilter(sh); err != nil {
			// Report the error against what the client sent.
			return parseFilter(s)
		}
		c.mu.Lock()
		if c.m == nil || len(c.m) >= maxCachedFilters {
			c.m = make(map[string]filter.Expression)
		}
		c.m[sh] = e
		c.mu.Unlock()
	}
	return fill(e, values), nil
}

// path parses a PATCH path as parsePath does, through the cache; a nil
// cache parses directly.
func (c *filterCache) path(s string) (filter.Path, error) {
	if c == nil || len(s) > maxFilterLen {
		return parsePath(s)
	}
	sh, values := shape(s)
	c.mu.Lock()
	p, ok := c.paths[sh]
	c.mu.Unlock()
	if !ok {
		var err error
		if p, err = parsePath(sh); err != nil {
			return parsePath(s)
		}
		c.mu.Lock()
		if c.paths == nil || len(c.paths) >= maxCachedFilters {
			c.paths = make(map[string]filter.Path)
		}
		c.paths[sh] = p
		c.mu.Unlock()
	}
	if p.ValueExpression != nil {
		p.ValueExpression = fill(p.ValueExpression, values)
	}
	return p, nil
}

// fill returns a copy of e with its placeholders replaced by values.
func fill(e filter.Expression, values []string) filter.Expression {
	switch e := e.(type) {
	case *filter.LogicalExpression:
		c := *e
		c.Left, c.Right = fill(e.Left, values), fill(e.Right, values)
		return &c
	case *filter.NotExpression:
		c := *e
		c.Expression = fill(e.Expression, values)
		return &c
	case *filter.ValuePath:
		c := *e
		c.ValueFilter = fill(e.ValueFilter, values)
		return &c
	case *filter.AttributeExpression:
		c := *e
		if s, ok := e.CompareValue.(string); ok && strings.HasPrefix(s, placeholder) {
			if i, err := strconv.Atoi(s[len(placeholder):]); err == nil && i < len(values) {
				c.CompareValue = values[i]
			}
		}
		return &c
	}
	return e
}
