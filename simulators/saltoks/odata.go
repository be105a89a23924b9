package saltoks

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The OData subset the client uses: comparisons joined by "and", string and DateTime literals.

type literalKind int

const (
	litString literalKind = iota
	litDateTime
)

type clause struct {
	field string
	op    string
	kind  literalKind
	str   string
	time  time.Time
}

// fieldSpec says which operators a filterable field accepts.
type fieldSpec struct {
	kind literalKind
	ops  []string
}

var (
	stringEq   = fieldSpec{kind: litString, ops: []string{"eq"}}
	timeCompar = fieldSpec{kind: litDateTime, ops: []string{"eq", "ge", "gt", "le", "lt"}}
)

type token struct {
	kind int // 0 word, 1 string literal, 2 DateTime literal
	text string
}

func isWordChar(c byte) bool {
	return c == '_' || c == '/' || c == '.' || c == '-' || c == ':' ||
		(c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// readQuoted reads a single-quoted literal at s[0], where a doubled quote stands for one quote; it returns the
// value and the number of bytes read.
func readQuoted(s string) (string, int, error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		if s[i] != '\'' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '\'' {
			b.WriteByte('\'')
			i++
			continue
		}
		return b.String(), i + 1, nil
	}
	return "", 0, errors.New("unterminated string literal")
}

func tokenize(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '\'':
			v, n, err := readQuoted(s[i:])
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: 1, text: v})
			i += n
		case isWordChar(c):
			j := i
			for j < len(s) && isWordChar(s[j]) {
				j++
			}
			word := s[i:j]
			if j < len(s) && s[j] == '\'' {
				if !strings.EqualFold(word, "datetime") && !strings.EqualFold(word, "datetimeoffset") {
					return nil, fmt.Errorf("unsupported literal prefix %q", word)
				}
				v, n, err := readQuoted(s[j:])
				if err != nil {
					return nil, err
				}
				toks = append(toks, token{kind: 2, text: v})
				i = j + n
				continue
			}
			toks = append(toks, token{kind: 0, text: word})
			i = j
		default:
			return nil, fmt.Errorf("unexpected character %q", c)
		}
	}
	return toks, nil
}

var dateTimeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04", "2006-01-02"}

// parseDateTime reads an OData DateTime; values without an offset are UTC.
func parseDateTime(v string) (time.Time, error) {
	for _, l := range dateTimeLayouts {
		if t, err := time.Parse(l, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("bad DateTime %q", v)
}

// parseFilter parses $filter against the fields an endpoint supports.
func parseFilter(raw string, fields map[string]fieldSpec) ([]clause, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, nil
	}
	toks, err := tokenize(raw)
	if err != nil {
		return nil, err
	}
	var out []clause
	for i := 0; ; {
		if i+3 > len(toks) || toks[i].kind != 0 || toks[i+1].kind != 0 {
			return nil, errors.New("expected: field operator literal")
		}
		field, op, lit := toks[i].text, strings.ToLower(toks[i+1].text), toks[i+2]
		spec, ok := fields[field]
		if !ok {
			return nil, fmt.Errorf("filtering on %q is not supported", field)
		}
		opOK := false
		for _, o := range spec.ops {
			opOK = opOK || o == op
		}
		if !opOK {
			return nil, fmt.Errorf("operator %q is not supported on %q", op, field)
		}
		c := clause{field: field, op: op, kind: spec.kind}
		switch {
		case spec.kind == litString && lit.kind == 1:
			c.str = lit.text
		case spec.kind == litDateTime && lit.kind == 2:
			if c.time, err = parseDateTime(lit.text); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("wrong literal type for %q", field)
		}
		out = append(out, c)
		i += 3
		if i == len(toks) {
			return out, nil
		}
		if toks[i].kind != 0 || !strings.EqualFold(toks[i].text, "and") {
			return nil, errors.New("only 'and' may join comparisons")
		}
		i++
	}
}

// matchString compares case-insensitively, as the live API's database collation does for e-mail addresses.
func (c clause) matchString(v string) bool { return strings.EqualFold(v, c.str) }

func (c clause) matchTime(t time.Time) bool {
	switch c.op {
	case "eq":
		return t.Equal(c.time)
	case "ge":
		return !t.Before(c.time)
	case "gt":
		return t.After(c.time)
	case "le":
		return !t.After(c.time)
	case "lt":
		return t.Before(c.time)
	}
	return false
}

// listQuery holds the parsed paging options of a list request.
type listQuery struct {
	filter      []clause
	desc        bool
	top         int // -1: none
	skip        int
	skipGiven   bool
	inlineCount bool
}

// parseListQuery validates $filter, $orderby, $top, $skip and $inlinecount. orderable says whether the endpoint
// sorts by utc_date_time (entries); everything else rejects $orderby with 1102.
func parseListQuery(r *http.Request, fields map[string]fieldSpec, orderable bool) (listQuery, *reply) {
	q := r.URL.Query()
	lq := listQuery{top: -1, desc: true}
	bad := func(code, msg string) (listQuery, *reply) {
		rep := errReply(http.StatusBadRequest, code, msg)
		return listQuery{}, &rep
	}
	var err error
	if lq.filter, err = parseFilter(q.Get("$filter"), fields); err != nil {
		return bad(CodeBadParameter, "Invalid $filter: "+err.Error())
	}
	if ob := strings.Join(strings.Fields(q.Get("$orderby")), " "); ob != "" {
		switch {
		case orderable && ob == "utc_date_time desc":
			lq.desc = true
		case orderable && (ob == "utc_date_time asc" || ob == "utc_date_time"):
			lq.desc = false // OData's default direction is ascending
		default:
			return bad(CodeBadOrderBy, "Invalid $orderby")
		}
	}
	if v := q.Get("$top"); v != "" {
		if lq.top, err = strconv.Atoi(v); err != nil || lq.top < 0 {
			return bad(CodeBadParameter, "Invalid $top")
		}
	}
	if v := q.Get("$skip"); v != "" {
		if lq.skip, err = strconv.Atoi(v); err != nil || lq.skip < 0 {
			return bad(CodeBadParameter, "Invalid $skip")
		}
		lq.skipGiven = true
	}
	switch q.Get("$inlinecount") {
	case "":
	case "allpages":
		lq.inlineCount = true
	case "none":
	default:
		return bad(CodeBadParameter, "Invalid $inlinecount")
	}
	return lq, nil
}

type envelope[T any] struct {
	Items        []T     `json:"items"`
	NextPageLink *string `json:"next_page_link"`
	Count        *int    `json:"count"`
}

// pageReply cuts the filtered, ordered items into the requested page. bareWhenSmall lets the users list answer a
// bare array when the request has no $skip and everything fits in one page (see the package comment).
func pageReply[T any](s *Server, r *http.Request, lq listQuery, items []T, bareWhenSmall bool) reply {
	total := len(items)
	start := min(lq.skip, total)
	end := total
	if lq.top >= 0 {
		end = min(start+lq.top, total)
	}
	window := items[start:end]
	if window == nil {
		window = []T{}
	}
	if bareWhenSmall && !lq.skipGiven && len(window) <= s.opts.PageSize {
		return okReply(window)
	}
	page := window[:min(len(window), s.opts.PageSize)]
	env := envelope[T]{Items: page}
	if len(page) < len(window) {
		link := s.nextLink(r, lq, start+len(page), len(window)-len(page))
		env.NextPageLink = &link
	}
	if lq.inlineCount {
		env.Count = &total
	}
	return okReply(env)
}

// nextLink keeps the request's options and moves $skip on; when the caller limited the result with $top, the
// remaining budget travels in $top so the last page stops where the caller asked.
func (s *Server) nextLink(r *http.Request, lq listQuery, skip, remaining int) string {
	q := r.URL.Query()
	var parts []string
	for _, k := range []string{"$filter", "$orderby", "$inlinecount"} {
		if v := q.Get(k); v != "" {
			parts = append(parts, k+"="+escapeQueryValue(v))
		}
	}
	if lq.top >= 0 {
		parts = append(parts, "$top="+strconv.Itoa(remaining))
	}
	parts = append(parts, "$skip="+strconv.Itoa(skip))
	link := r.URL.EscapedPath() + "?" + strings.Join(parts, "&")
	if s.opts.RelativeNextLinks {
		return link
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + link
}

// escapeQueryValue escapes like OData servers do: spaces as %20, '$' in keys left alone by the caller.
func escapeQueryValue(v string) string {
	return strings.ReplaceAll(url.QueryEscape(v), "+", "%20")
}
