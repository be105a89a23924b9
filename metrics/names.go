package metrics

import (
	"sort"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Names lists the fully-qualified name of every metric family that Registry's collectors describe: ours
// (nexsalto_*), the Go runtime's (go_*) and the process's (process_*), whether or not a series has been
// observed yet. The Temporal SDK's families are not among them: OTel's exporter describes nothing up front and
// creates them as the SDK records. The dashboard and alert tests in deploy/ check their queries against this.
func Names() []string {
	ch := make(chan *prometheus.Desc)
	go func() {
		Registry.Describe(ch)
		close(ch)
	}()
	seen := map[string]bool{}
	for d := range ch {
		if name, ok := fqName(d); ok {
			seen[name] = true
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// fqName reads the name out of the descriptor's String form, Desc{fqName: "…", …}: the client library offers
// no accessor, and this form has been stable across its releases.
func fqName(d *prometheus.Desc) (string, bool) {
	rest, ok := strings.CutPrefix(d.String(), "Desc{fqName: ")
	if !ok {
		return "", false
	}
	quoted, err := strconv.QuotedPrefix(rest)
	if err != nil {
		return "", false
	}
	name, err := strconv.Unquote(quoted)
	return name, err == nil && name != ""
}
