package httpobs

import (
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/nexsalto/nexsalto/nexudus"
)

func TestOperationHidesIDs(t *testing.T) {
	for _, c := range []struct {
		api    API
		method string
		rawURL string
		want   string
	}{
		{Salto, "GET", "https://api.example/v1.2/sites", "GET /v1.2/sites"},
		{Salto, "GET", "https://api.example/v1.2/sites/0b5e0000-0000-4000-8000-000000000001/users?$filter=" +
			url.QueryEscape("email eq 'ana@example.com'"), "GET /v1.2/sites/{id}/users"},
		{Salto, "PATCH", "https://api.example/v1.2/sites/0b5e0000-0000-4000-8000-000000000001/users/" +
			"9f1c2d3e-4b5a-4c6d-8e7f-001122334455/subscription", "PATCH /v1.2/sites/{id}/users/{id}/subscription"},
		{Salto, "DELETE", "https://api.example/v1.2/sites/lobby/access_groups/front-door/users/42",
			"DELETE /v1.2/sites/{id}/access_groups/{id}/users/{id}"},
		// An e-mail address or a name in a path is a segment like any other.
		{Salto, "PUT", "https://api.example/v1.2/sites/s/users/ana%40example.com/pin", "PUT /v1.2/sites/{id}/users/{id}/pin"},
		{Salto, "GET", "https://api.example/v1.2/sites/Ana%20Lopez", "GET /v1.2/sites/{id}"},
		{Salto, "POST", "https://identity.example/connect/token", "POST /connect/token"},
		// A tenant prefix in the configured base URL is not a word of the API.
		{Salto, "GET", "https://api.example/acme-coworking/v1.1/sites/x/entries?$top=100", "GET /{id}/v1.1/sites/{id}/entries"},
		{Nexudus, "GET", "https://spaces.nexudus.com/api/spaces/coworkers/1234567", "GET /api/spaces/coworkers/{id}"},
		{Nexudus, "GET", "https://spaces.nexudus.com/api/spaces/coworkers?Coworker_Email=ana%40example.com&page=2",
			"GET /api/spaces/coworkers"},
		{Nexudus, "POST", "https://spaces.nexudus.com/api/token", "POST /api/token"},
		{Nexudus, "DELETE", "https://spaces.nexudus.com/API/Sys/Webhooks/9/", "DELETE /api/sys/webhooks/{id}"},
		{Nexudus, "GET", "https://spaces.nexudus.com", "GET /"},
		{Nexudus, "BREW", "https://spaces.nexudus.com/api", "OTHER /api"},
		// Depth is bounded.
		{Nexudus, "GET", "https://x/api/1/2/3/4/5/6/7/8/9/10/11", "GET /api/{id}/{id}/{id}/{id}/{id}/{id}/{id}/{id}"},
	} {
		u, err := url.Parse(c.rawURL)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.api.Operation(c.method, u.Path); got != c.want {
			t.Errorf("%s %s: operation %q, want %q", c.method, c.rawURL, got, c.want)
		}
	}
}

// Whatever the path, a template holds only the API's words and IDSegment: no id, e-mail or query can get
// through. The seeds run with every go test; go test -fuzz=FuzzTemplate searches further.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"/v1.2/sites/abc/users/ana@example.com", "/api/spaces/coworkers/12?x=1", "//",
		"/connect/token/../../etc", "/v1.2/sites/%7Bid%7D", "/{id}/users", "/v1.2/SITES/Users"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		for _, api := range []API{Salto, Nexudus} {
			tmpl := api.Template(path)
			if !strings.HasPrefix(tmpl, "/") {
				t.Fatalf("template %q of %q does not start with /", tmpl, path)
			}
			segs := strings.Split(strings.TrimPrefix(tmpl, "/"), "/")
			if len(segs) > maxSegments+1 {
				t.Fatalf("template %q of %q has %d segments", tmpl, path, len(segs))
			}
			for _, s := range segs {
				if s != IDSegment && !api.words[s] && tmpl != "/" {
					t.Fatalf("template %q of %q keeps segment %q", tmpl, path, s)
				}
			}
		}
	})
}

// Every path the Salto client builds has a template of known words with {id} exactly where it puts an id: a
// new endpoint with a new word fails here until the word is added.
func TestSaltoWordsCoverTheClient(t *testing.T) {
	src, err := os.ReadFile("../../salto/api.go")
	if err != nil {
		t.Fatal(err)
	}
	formats := regexp.MustCompile(`"(/v1\.[0-9]/[^"]*)"`).FindAllStringSubmatch(string(src), -1)
	if len(formats) < 10 {
		t.Fatalf("found %d paths in salto/api.go: has the client moved?", len(formats))
	}
	for _, m := range formats {
		want := strings.ReplaceAll(m[1], "%s", IDSegment)
		path := strings.ReplaceAll(m[1], "%s", "0b5e0000-0000-4000-8000-000000000001")
		if got := Salto.Template(path); got != want {
			t.Errorf("salto path %s: template %q, want %q", m[1], got, want)
		}
	}
}

func TestNexudusWordsCoverTheClient(t *testing.T) {
	for _, p := range []string{nexudus.TokenPath, nexudus.PathCoworkers, nexudus.PathBookings, nexudus.PathResources,
		nexudus.PathCoworkerTimePasses, nexudus.PathTimePasses, nexudus.PathCoworkerContracts,
		nexudus.PathFloorPlanDesks, nexudus.PathVisitors, nexudus.PathCheckins, nexudus.PathAccessControlAudits,
		nexudus.PathBusinesses, nexudus.PathWebhooks} {
		if got := Nexudus.Template(p); got != p {
			t.Errorf("nexudus path %s: template %q", p, got)
		}
		if got := Nexudus.Template(p + "/1234"); got != p+"/"+IDSegment {
			t.Errorf("nexudus path %s/1234: template %q", p, got)
		}
	}
	// The constants are all there is: a path literal elsewhere in the client would escape the check above.
	src, err := os.ReadFile("../../nexudus/endpoints.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`"(/api/[^"]*)"`).FindAllStringSubmatch(string(src), -1) {
		if got := Nexudus.Template(m[1]); got != m[1] {
			t.Errorf("nexudus path %s: template %q", m[1], got)
		}
	}
}
