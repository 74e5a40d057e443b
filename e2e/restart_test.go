package e2e

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// storedGauges are the gauges a restart must keep: they describe stored
// backups and come from the catalog. perTarget gauges carry a target label.
var storedGauges = []struct {
	name      string
	perTarget bool
}{
	{"vectord_backup_last_success_timestamp_seconds", false},
	{"vectord_backup_last_size_bytes", false},
	{"vectord_backups_stored", true},
	{"vectord_backup_stored_bytes", true},
}

// TestRestartKeepsStoredGauges: a restarted daemon serves the same
// last-success, size and stored-backup gauges as before it stopped, before
// it has run any job, so dashboards and "backup too old" alerts see no gap.
// The live /metrics also passes promtool's lint.
func TestRestartKeepsStoredGauges(t *testing.T) {
	promtool := tool(t, "promtool")
	if promtool == "" {
		t.Log("promtool not found on PATH: /metrics is not linted")
	}
	f := newFixture(t, options{schedule: "@every 1h"})
	// No environment has a backup: start-up catch-up backs each up once;
	// with @every 1h nothing else runs.
	p := f.start()
	var before families
	waitFor(t, "one stored backup of every environment and no job left", 20*time.Second, func() bool {
		before = f.scrape()
		for _, e := range allEnvs {
			if n, _ := before.value("vectord_backups_stored", "site", e[0], "environment", e[1], "target", "local"); n != 1 {
				return false
			}
		}
		running, _ := before.value("vectord_jobs_running")
		queued, _ := before.value("vectord_jobs_queued")
		return running == 0 && queued == 0
	})
	lintMetrics(t, promtool, f.metricsText())
	p.stopClean(t)
	exports := countExports(f)

	p = f.start()
	after := f.scrape()
	for _, e := range allEnvs {
		for _, g := range storedGauges {
			name, labels := g.name, []string{"site", e[0], "environment", e[1]}
			if g.perTarget {
				labels = append(labels, "target", "local")
			}
			want, ok := before.value(name, labels...)
			if !ok {
				t.Fatalf("%s%v missing before the restart", name, labels)
			}
			got, ok := after.value(name, labels...)
			if !ok || got != want {
				t.Errorf("%s%v after restart = %v (present %v), want %v as before", name, labels, got, ok, want)
			}
		}
	}
	lintMetrics(t, promtool, f.metricsText())
	p.stopClean(t)
	if got := countExports(f); got != exports {
		t.Errorf("export requests = %d after the restart, want %d: fresh backups must not be caught up", got, exports)
	}
	if strings.Contains(p.stderr.String(), "catch-up") {
		t.Errorf("the restarted daemon queued a catch-up backup although every backup is fresh:\n%s", p.stderr)
	}
	f.assertInvariants(t)
}

func countExports(f *fixture) int {
	n := 0
	for _, c := range f.sim.Stats().ExportRequests {
		n += c
	}
	return n
}

// lintMetrics runs promtool check metrics over a scrape, unless promtool
// is "": zero problems.
func lintMetrics(t *testing.T, promtool string, text []byte) {
	t.Helper()
	if promtool == "" {
		return
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(text)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
