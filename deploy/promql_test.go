package deploy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"gopkg.in/yaml.v3"
)

// metricNames returns the metric names an expression selects. It is a lexer, not a parser: Prometheus' own
// parser lives in github.com/prometheus/prometheus, a module that would bring most of Prometheus into go.mod
// for this one check. The syntax is checked by the real parser instead, through promtool (see
// promtoolCheckExprs), and what this needs from PromQL is small: skip strings, label matchers {…}, ranges
// […], numbers and durations, and the label lists after by/without/on/ignoring/group_left/group_right; an
// identifier followed by "(" must be a known function, any other identifier that is not a keyword is a metric
// name. A selector without a name ({__name__=…} or {job=…}) is refused, so that none slips past the check.
func metricNames(expr string) ([]string, error) {
	var names []string
	s := expr
	i := 0
	peek := func(j int) (byte, int) { // next non-space character at or after j
		for j < len(s) && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r') {
			j++
		}
		if j < len(s) {
			return s[j], j
		}
		return 0, j
	}
	prevIdent := false // whether the last token was a metric name (a "{" after it is its matchers)
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
			continue
		case c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
			continue
		case c == '"' || c == '\'' || c == '`':
			end, err := skipString(s, i)
			if err != nil {
				return nil, err
			}
			i = end
		case c == '{':
			end, err := skipUntil(s, i, '}')
			if err != nil {
				return nil, err
			}
			if !prevIdent {
				return nil, fmt.Errorf("selector without a metric name at %q", s[i:end])
			}
			if strings.Contains(s[i:end], "__name__") {
				return nil, fmt.Errorf("__name__ matcher at %q: name the metric instead", s[i:end])
			}
			i = end
		case c == '[':
			end, err := skipUntil(s, i, ']')
			if err != nil {
				return nil, err
			}
			if strings.Contains(s[i:end], "$") {
				return nil, fmt.Errorf("unsubstituted variable in %q", s[i:end])
			}
			i = end
		case isDigit(c) || (c == '.' && i+1 < len(s) && isDigit(s[i+1])):
			// Numbers, durations (5m, 1h30m) and exponents (1e+3).
			for i < len(s) && (isIdentChar(s[i]) || s[i] == '.' ||
				((s[i] == '+' || s[i] == '-') && (s[i-1] == 'e' || s[i-1] == 'E'))) {
				i++
			}
		case isIdentStart(c):
			j := i
			for j < len(s) && isIdentChar(s[j]) {
				j++
			}
			word := s[i:j]
			next, at := peek(j)
			i = j
			switch {
			case labelListKeywords[word]:
				if next == '(' {
					end, err := skipUntil(s, at, ')')
					if err != nil {
						return nil, err
					}
					i = end
				}
			case keywords[strings.ToLower(word)]:
			case next == '(' || (functions[word] && aggregationModifier(s[at:])):
				if !functions[word] {
					return nil, fmt.Errorf("unknown function %q", word)
				}
			default:
				names = append(names, word)
				prevIdent = true
				continue
			}
		case c == '$':
			return nil, fmt.Errorf("unsubstituted variable at %q", s[i:])
		default:
			i++
		}
		prevIdent = false
	}
	return names, nil
}

// aggregationModifier says whether s starts with by or without as a word: "sum by (le) (…)".
func aggregationModifier(s string) bool {
	for _, w := range []string{"by", "without"} {
		if rest, ok := strings.CutPrefix(s, w); ok && (rest == "" || !isIdentChar(rest[0])) {
			return true
		}
	}
	return false
}

func skipString(s string, i int) (int, error) {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		if s[j] == '\\' && q != '`' {
			j++
			continue
		}
		if s[j] == q {
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("unterminated string at %q", s[i:])
}

// skipUntil returns the index after the closing byte, skipping strings in between.
func skipUntil(s string, i int, closing byte) (int, error) {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '"', '\'', '`':
			end, err := skipString(s, j)
			if err != nil {
				return 0, err
			}
			j = end - 1
		case closing:
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("unclosed %q at %q", s[i], s[i:])
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool { return c == '_' || c == ':' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isIdentChar(c byte) bool  { return isIdentStart(c) || isDigit(c) }

var labelListKeywords = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true,
	"group_left": true, "group_right": true}

var keywords = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true,
	"atan2": true, "inf": true, "nan": true}

// functions are PromQL's functions and aggregation operators (Prometheus 2.x and 3.x).
var functions = setOf(`abs absent absent_over_time acos acosh asin asinh atan atanh avg avg_over_time bottomk
	ceil changes clamp clamp_max clamp_min cos cosh count count_over_time count_values day_of_month day_of_week
	day_of_year days_in_month deg delta deriv double_exponential_smoothing end exp floor group histogram_avg
	histogram_count histogram_fraction histogram_quantile histogram_stddev histogram_stdvar histogram_sum
	holt_winters hour idelta increase info irate label_join label_replace last_over_time limit_ratio limitk ln
	log10 log2 mad_over_time max max_over_time min min_over_time minute month pi predict_linear
	present_over_time quantile quantile_over_time rad rate resets round scalar sgn sin sinh sort sort_by_label
	sort_by_label_desc sort_desc sqrt start stddev stddev_over_time stdvar stdvar_over_time sum sum_over_time
	tan tanh time timestamp topk vector year`)

func setOf(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

func TestMetricNames(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`up{job="nexsalto-worker"} == 0`, []string{"up"}},
		{`histogram_quantile(0.99, sum by (le, vendor) (rate(a_seconds_bucket{x=~"5..|error"}[5m])))`,
			[]string{"a_seconds_bucket"}},
		{`sum(rate(a_total[5m])) by (le) / on (instance) group_left (kind) b offset 1h`, []string{"a_total", "b"}},
		{`label_replace(x, "dst", "$1 and y", "src", "(.*)") unless z[5m:1m] > 1e+3`, []string{"x", "z"}},
		{`max_over_time(g{l="}"}[5m]) # comment c`, []string{"g"}},
		{`absent(up{job="w"}) or vector(0) and bool_metric`, []string{"up", "bool_metric"}},
		{`ns:recorded:rate5m > .5`, []string{"ns:recorded:rate5m"}},
		{`sum without (instance) (sum_metric) + count by(x)(by_metric)`, []string{"sum_metric", "by_metric"}},
	} {
		got, err := metricNames(tc.expr)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("metricNames(%q) = %q, %v; want %q", tc.expr, got, err, tc.want)
		}
	}
	for _, bad := range []string{`{__name__="x"}`, `sum({job="a"})`, `x{__name__="y"}`, `rat(x[5m])`,
		`rate(x[$__rate_interval])`, `x{a="b}`} {
		if got, err := metricNames(bad); err == nil {
			t.Errorf("metricNames(%q) = %q; want an error", bad, got)
		}
	}
}

// synthesized are the series Prometheus itself writes for every target; no exporter exports them.
var synthesized = map[string]bool{"up": true}

// checkExported reports every metric an expression names that the worker does not export. A histogram's
// _bucket, _sum and _count series count as its family's; for our own families that no code path observed
// yet, whose type Describe does not tell, they are accepted on any family but a counter (named _total).
func checkExported(expr string, fams map[string]family) []string {
	names, err := metricNames(expr)
	if err != nil {
		return []string{err.Error()}
	}
	var problems []string
	for _, n := range names {
		if synthesized[n] {
			continue
		}
		if f, ok := fams[n]; ok {
			if f.typed && (f.typ == dto.MetricType_HISTOGRAM || f.typ == dto.MetricType_SUMMARY) {
				problems = append(problems, n+" is a histogram: select its _bucket, _sum or _count series")
			}
			continue
		}
		ok := false
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			base, found := strings.CutSuffix(n, suffix)
			f, known := fams[base]
			if !found || !known {
				continue
			}
			switch {
			case f.typed:
				ok = f.typ == dto.MetricType_HISTOGRAM || (f.typ == dto.MetricType_SUMMARY && suffix != "_bucket")
			default:
				ok = !strings.HasSuffix(base, "_total")
			}
		}
		if !ok {
			problems = append(problems, n+" is not a metric the worker exports")
		}
	}
	return problems
}

// promtool finds the binary (Debian's prometheus package has it). Without it the checks that need
// Prometheus' own parser skip, unless NEXSALTO_REQUIRE_PROMTOOL=1 (CI) makes that a failure.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("NEXSALTO_REQUIRE_PROMTOOL") == "1" {
			t.Fatal("promtool not found (apt-get install prometheus) and NEXSALTO_REQUIRE_PROMTOOL=1")
		}
		t.Skip("promtool not found: install Debian's prometheus package to check with Prometheus' parser")
	}
	return p
}

func runPromtool(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(promtool(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// promtoolCheckExprs has Prometheus' parser check expressions, as recording rules of a throwaway file.
func promtoolCheckExprs(t *testing.T, exprs map[string]string) {
	t.Helper()
	keys := make([]string, 0, len(exprs))
	for k := range exprs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	type rule struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	var rules []rule
	invalid := regexp.MustCompile(`[^a-zA-Z0-9_:]`)
	for _, k := range keys {
		rules = append(rules, rule{Record: "check:" + invalid.ReplaceAllString(k, "_"), Expr: exprs[k]})
	}
	raw, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "check", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "exprs.yml")
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	runPromtool(t, "check", "rules", file)
}
