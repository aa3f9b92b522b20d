package metrics

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

var (
	labelValuesCall = regexp.MustCompile(`label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)[^)]*\)`)
	// label_values({__name__=~"a|b"}, label): the dashboard's variable reads
	// whichever of Baton's and the cross-SDK names is there.
	labelValuesNames = regexp.MustCompile(`label_values\(\s*\{__name__=~"([^"]*)"\}\s*,[^)]*\)`)
	stringLiteral    = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	matcherBlock     = regexp.MustCompile(`\{[^}]*\}`)
	rangeBlock       = regexp.MustCompile(`\[[^\]]*\]`)
	groupingClause   = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	identifier       = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	functionCall     = regexp.MustCompile(`^\s*\(`)
)

// promqlKeywords are words that can stand alone in our queries without being
// metric names.
var promqlKeywords = []string{"and", "or", "unless", "bool", "offset", "inf", "nan"}

// metricNames extracts the metric names a PromQL expression (or a Grafana
// label_values() query) reads. It is a small scanner for the shapes used in
// dashboard.json, not a PromQL parser: label matchers, ranges and grouping
// clauses are removed, and what remains that is not a function call or a
// keyword is a metric name.
func metricNames(expr string) []string {
	var names []string
	for _, m := range labelValuesNames.FindAllStringSubmatch(expr, -1) {
		names = append(names, strings.Split(m[1], "|")...)
	}
	expr = labelValuesNames.ReplaceAllString(expr, " ")
	for _, m := range labelValuesCall.FindAllStringSubmatch(expr, -1) {
		names = append(names, m[1])
	}
	expr = labelValuesCall.ReplaceAllString(expr, " ")
	expr = matcherBlock.ReplaceAllString(expr, " ")
	expr = stringLiteral.ReplaceAllString(expr, " ") // label_replace arguments
	expr = rangeBlock.ReplaceAllString(expr, " ")
	expr = groupingClause.ReplaceAllString(expr, " ")
	for _, loc := range identifier.FindAllStringIndex(expr, -1) {
		word := expr[loc[0]:loc[1]]
		if functionCall.MatchString(expr[loc[1]:]) || slices.Contains(promqlKeywords, strings.ToLower(word)) {
			continue
		}
		if loc[0] > 0 && (expr[loc[0]-1] >= '0' && expr[loc[0]-1] <= '9' || expr[loc[0]-1] == '.') {
			continue // the exponent or suffix of a number such as 1e3
		}
		names = append(names, word)
	}
	return names
}

func TestMetricNamesScanner(t *testing.T) {
	cases := map[string][]string{
		`sum by (taskType, le) (rate(task_execute_time_bucket{taskType=~"$taskType"}[$__rate_interval]))`: {"task_execute_time_bucket"},
		`label_values(task_poll_counter, taskType)`:                                                       {"task_poll_counter"},
		`task_in_flight / (task_in_flight + task_free_slots)`:                                             {"task_in_flight", "task_in_flight", "task_free_slots"},
		`histogram_quantile(0.95, x_bucket) > 1e3`:                                                        {"x_bucket"},
		`label_values({__name__=~"a_total|b"}, taskType)`:                                                 {"a_total", "b"},
		`sum by (kind) (label_replace(rate(e_total[5m]), "kind", "$1", "exception", "(.*)"))`:             {"e_total"},
	}
	for expr, want := range cases {
		if got := metricNames(expr); !slices.Equal(got, want) {
			t.Errorf("metricNames(%q) = %v, want %v", expr, got, want)
		}
	}
}

// queries walks the dashboard JSON and returns every "expr" (panel targets)
// and "query"/"definition" string (template variables).
func queries(v any) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if s, ok := val.(string); ok && (k == "expr" || k == "query" || k == "definition") {
				out = append(out, s)
				continue
			}
			out = append(out, queries(val)...)
		}
	case []any:
		for _, e := range x {
			out = append(out, queries(e)...)
		}
	}
	return out
}

// TestDashboardQueriesExistingMetrics checks examples/metrics/dashboard.json
// against a registry that has seen one event of each kind: every metric the
// dashboard reads must exist, and every metric the recorder exports must be
// on the dashboard.
func TestDashboardQueriesExistingMetrics(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "examples", "metrics", "dashboard.json"))
	if err != nil {
		t.Fatalf("read dashboard: %v", err)
	}
	var dash map[string]any
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard.json is not valid JSON: %v", err)
	}

	reg := prometheus.NewRegistry()
	rec, err := NewPrometheus(reg, WithNames(NamesBoth)) // the dashboard reads either set
	if err != nil {
		t.Fatal(err)
	}
	recordOneOfEach(rec)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]dto.MetricType{}
	for _, mf := range mfs {
		types[mf.GetName()] = mf.GetType()
	}

	exists := func(name string) bool {
		if _, ok := types[name]; ok {
			return true
		}
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suffix); ok && types[base] == dto.MetricType_HISTOGRAM {
				return true
			}
		}
		return false
	}

	used := map[string]bool{}
	qs := queries(dash)
	if len(qs) < 10 {
		t.Fatalf("found only %d queries in the dashboard; the walker or the file is broken", len(qs))
	}
	for _, q := range qs {
		if q == "prometheus" { // the datasource variable's plugin type
			continue
		}
		names := metricNames(q)
		if len(names) == 0 {
			t.Errorf("query reads no metric: %s", q)
		}
		for _, n := range names {
			if !exists(n) {
				t.Errorf("dashboard queries %q, which the registry does not export (query: %s)", n, q)
				continue
			}
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if base, ok := strings.CutSuffix(n, suffix); ok && types[base] == dto.MetricType_HISTOGRAM {
					n = base
				}
			}
			used[n] = true
		}
	}
	for name := range types {
		if !used[name] {
			t.Errorf("metric %q is exported but not on the dashboard", name)
		}
	}
}
