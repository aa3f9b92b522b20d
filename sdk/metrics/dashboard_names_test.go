package metrics

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestDashboardWorksWithEachNameSet checks that every panel of
// examples/metrics/dashboard.json has data with each WithNames setting: for
// each query, one of its "or" alternatives reads only metrics that setting
// exports. With NamesCrossSDK the panels of Baton-only metrics (which have
// no cross-SDK twin) are allowed to be empty, and only those.
func TestDashboardWorksWithEachNameSet(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "examples", "metrics", "dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash map[string]any
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	batonOnly := []string{"task_poll_result_total", "task_free_slots", "task_paused", "task_update_give_up_total",
		"task_lease_extension_total", "conductor_token_refresh_total"}
	for _, names := range []NameSet{NamesBaton, NamesCrossSDK, NamesBoth} {
		t.Run(names.String(), func(t *testing.T) {
			reg := prometheus.NewRegistry()
			rec, err := NewPrometheus(reg, WithNames(names))
			if err != nil {
				t.Fatal(err)
			}
			recordOneOfEach(rec)
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			have := map[string]bool{}
			for _, mf := range mfs {
				have[mf.GetName()] = true
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					have[mf.GetName()+s] = true
				}
			}
			for _, q := range queries(dash) {
				if q == "prometheus" {
					continue
				}
				var ok bool
				if strings.HasPrefix(q, "label_values(") {
					ok = slices.ContainsFunc(metricNames(q), func(n string) bool { return have[n] })
				} else {
					for _, alt := range strings.Split(q, " or ") {
						// "B unless on() A" has B's data when A is absent.
						alt, _, _ = strings.Cut(alt, " unless ")
						ns := metricNames(alt)
						if len(ns) > 0 && !slices.ContainsFunc(ns, func(n string) bool { return !have[n] }) {
							ok = true
						}
					}
				}
				if ok {
					continue
				}
				if names == NamesCrossSDK && !slices.ContainsFunc(metricNames(q), func(n string) bool { return !slices.Contains(batonOnly, n) }) {
					continue // a Baton-only panel
				}
				t.Errorf("with %v, no alternative of this query has data: %s", names, q)
			}
		})
	}
}
