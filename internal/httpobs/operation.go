package httpobs

import (
	"net/http"
	"strings"

	"github.com/nexsalto/nexsalto/metrics"
)

// API is one vendor's HTTP API as the instrumentation sees it: the vendor label of its metrics and spans, and
// the words its paths are made of.
//
// A path segment that is one of the words is kept; any other becomes "{id}". Keeping only known words, rather
// than replacing what looks like an id, is what makes the guarantee hold for values no pattern anticipates: a
// site id chosen by an installer, a name, an e-mail address put in a path. A word the clients start using
// without adding it here shows as "{id}": a duller label, never a leak. Tests check that the words cover every
// path the clients build.
type API struct {
	Vendor string
	words  map[string]bool
}

// NewAPI is an API of the vendor whose paths are made of words (compared without case).
func NewAPI(vendor string, words ...string) API {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[strings.ToLower(w)] = true
	}
	return API{Vendor: vendor, words: m}
}

// Salto is the Salto KS Connect API and its identity server's OAuth endpoints.
var Salto = NewAPI(metrics.VendorSalto,
	"v1.1", "v1.2", "sites", "users", "subscription", "guests", "pin", "access_groups", "time_schedules", "locks",
	"entries",
	// The identity server (salto.token_url, salto.authorize_url).
	"connect", "token", "authorize")

// Nexudus is the Nexudus REST API, its token endpoint included.
var Nexudus = NewAPI(metrics.VendorNexudus,
	"api", "token", "spaces", "billing", "sys",
	"coworkers", "bookings", "resources", "coworkertimepasses", "timepasses", "coworkercontracts",
	"floorplandesks", "visitors", "checkins", "coworkeraccesscontrolaudits", "businesses", "webhooks")

// IDSegment stands for every path segment that is not one of the API's words.
const IDSegment = "{id}"

// maxSegments bounds a template's length: a path deeper than any the clients build cannot make new labels
// without end.
const maxSegments = 8

// methods are the methods a label may name; any other is "OTHER".
var methods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
}

// Template is the path with every segment that is not one of the API's words replaced by IDSegment, e.g.
// "/v1.2/sites/{id}/users/{id}". Empty segments are dropped; the query is not part of a path.
func (a API) Template(path string) string {
	var b strings.Builder
	n := 0
	for seg := range strings.SplitSeq(path, "/") {
		if seg == "" {
			continue
		}
		if n == maxSegments {
			b.WriteString("/" + IDSegment)
			break
		}
		n++
		b.WriteByte('/')
		if w := strings.ToLower(seg); a.words[w] {
			b.WriteString(w)
		} else {
			b.WriteString(IDSegment)
		}
	}
	if n == 0 {
		return "/"
	}
	return b.String()
}

// Operation is the method and path template of a request, e.g. "GET /api/spaces/coworkers/{id}": the
// operation label of the vendor metrics and the name of the request's span.
func (a API) Operation(method, path string) string {
	if !methods[method] {
		method = "OTHER"
	}
	return method + " " + a.Template(path)
}
