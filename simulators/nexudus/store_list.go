package nexudussim

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// listQuery is a parsed list request.
type listQuery struct {
	page, size int
	preds      []func(record) bool
	order      *field
	desc       bool
}

func badRequest(format string, a ...any) error {
	return &writeError{status: 400, msg: fmt.Sprintf(format, a...)}
}

func (s *Server) parseList(k *kind, q url.Values) (listQuery, error) {
	lq := listQuery{page: 1, size: 25}
	for key, vals := range q {
		val := strings.TrimSpace(vals[len(vals)-1])
		switch strings.ToLower(key) {
		case "page":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 {
				return lq, badRequest("page must be a positive integer")
			}
			lq.page = n
			continue
		case "size":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 {
				return lq, badRequest("size must be a positive integer")
			}
			lq.size = min(n, s.opts.PageSizeMax)
			continue
		case "orderby":
			name := val
			if len(name) > len(k.name)+1 && strings.EqualFold(name[:len(k.name)+1], k.name+"_") {
				name = name[len(k.name)+1:]
			}
			f, ok := k.fields[strings.ToLower(name)]
			if !ok || f.cat == catOther || f.cat == catIDList {
				return lq, badRequest("cannot order %s by %q", k.name, val)
			}
			lq.order = &f
			continue
		case "dir":
			switch strings.ToLower(val) {
			case "", "asc", "ascending", "0":
			case "desc", "descending", "1":
				lq.desc = true
			default:
				return lq, badRequest("dir must be Ascending or Descending")
			}
			continue
		}
		mode, rest := "eq", key
		if l := strings.ToLower(key); strings.HasPrefix(l, "from_") {
			mode, rest = "from", key[5:]
		} else if strings.HasPrefix(l, "to_") {
			mode, rest = "to", key[3:]
		}
		if len(rest) <= len(k.name)+1 || !strings.EqualFold(rest[:len(k.name)+1], k.name+"_") {
			continue // not a filter on this entity
		}
		prop := rest[len(k.name)+1:]
		f, ok := k.fields[strings.ToLower(prop)]
		if !ok {
			return lq, badRequest("%s has no property %q to filter on", k.name, prop)
		}
		pred, err := predicate(f, mode, val)
		if err != nil {
			return lq, badRequest("filter %s: %v", key, err)
		}
		lq.preds = append(lq.preds, pred)
	}
	return lq, nil
}

func predicate(f field, mode, val string) (func(record) bool, error) {
	if mode != "eq" {
		if f.cat != catDate {
			return nil, fmt.Errorf("range filters apply to date fields only")
		}
		bound, err := parseInput(val)
		if err != nil {
			return nil, fmt.Errorf("expected YYYY-MM-DDTHH:mm")
		}
		return func(r record) bool {
			t := fieldValue(r, f).(time.Time)
			if t.IsZero() {
				return false
			}
			if mode == "from" {
				return !t.Before(bound)
			}
			return !t.After(bound)
		}, nil
	}
	isNull := strings.EqualFold(val, "null")
	switch f.cat {
	case catNumber:
		if isNull {
			return func(r record) bool { v := fieldValue(r, f); return v == nil || v.(int64) == 0 }, nil
		}
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("expected an integer")
		}
		return func(r record) bool { v := fieldValue(r, f); return v != nil && v.(int64) == n }, nil
	case catString:
		return func(r record) bool { return strings.EqualFold(fieldValue(r, f).(string), val) }, nil
	case catBool:
		b, err := strconv.ParseBool(val)
		if err != nil {
			return nil, fmt.Errorf("expected true or false")
		}
		return func(r record) bool { return fieldValue(r, f).(bool) == b }, nil
	case catDate:
		if isNull {
			return func(r record) bool { return fieldValue(r, f).(time.Time).IsZero() }, nil
		}
		t, err := parseInput(val)
		if err != nil {
			return nil, err
		}
		return func(r record) bool { return fieldValue(r, f).(time.Time).Equal(t) }, nil
	case catIDList:
		n, err := strconv.Atoi(val)
		if err != nil {
			return nil, fmt.Errorf("expected an id")
		}
		return func(r record) bool { return fieldValue(r, f).(IDList).has(n) }, nil
	}
	return nil, fmt.Errorf("%s cannot be filtered on", f.name)
}

func less(a, b any) int {
	switch x := a.(type) {
	case int64:
		y, _ := b.(int64)
		return cmpOrdered(x, y)
	case nil:
		if b == nil {
			return 0
		}
		return -1
	case string:
		return strings.Compare(strings.ToLower(x), strings.ToLower(b.(string)))
	case bool:
		y := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case time.Time:
		return x.Compare(b.(time.Time))
	}
	return 0
}

func cmpOrdered(x, y int64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// list answers a list request; the lock must be held.
func (s *Server) list(k *kind, q url.Values) (page, error) {
	lq, err := s.parseList(k, q)
	if err != nil {
		return page{}, err
	}
	var rows []record
	for _, r := range s.tables[k.name].sorted() {
		keep := true
		for _, p := range lq.preds {
			if !p(r) {
				keep = false
				break
			}
		}
		if keep {
			rows = append(rows, r)
		}
	}
	orderField := "Id"
	if lq.order != nil {
		f := *lq.order
		orderField = f.name
		sort.SliceStable(rows, func(i, j int) bool {
			c := less(fieldValue(rows[i], f), fieldValue(rows[j], f))
			if lq.desc {
				c = -c
			}
			return c < 0
		})
	} else if lq.desc {
		sort.SliceStable(rows, func(i, j int) bool { return rows[i].base().Id > rows[j].base().Id })
	}
	total := len(rows)
	pages := (total + lq.size - 1) / lq.size
	start := min((lq.page-1)*lq.size, total)
	end := min(start+lq.size, total)
	p := page{
		Records:           make([]json.RawMessage, 0, end-start),
		CurrentPage:       lq.page,
		CurrentPageSize:   lq.size,
		CurrentOrderField: orderField,
		TotalItems:        total,
		TotalPages:        pages,
		HasNextPage:       lq.page < pages,
		HasPreviousPage:   lq.page > 1,
	}
	if lq.desc {
		p.CurrentSortDirection = 1
	}
	if end > start {
		p.FirstItem, p.LastItem = start+1, end
	}
	for _, r := range rows[start:end] {
		b, err := partial(k, r)
		if err != nil {
			return page{}, err
		}
		p.Records = append(p.Records, b)
	}
	return p, nil
}

// partial marshals r without the fields lists leave out.
func partial(k *kind, r record) (json.RawMessage, error) {
	b, err := json.Marshal(r)
	if err != nil || len(k.omit) == 0 {
		return b, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for _, f := range k.omit {
		delete(m, f)
	}
	return json.Marshal(m)
}
