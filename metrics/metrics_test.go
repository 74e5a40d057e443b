package metrics

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.prom from the current output")

// contractMetric is one row of CONTRACT §8.
type contractMetric struct {
	Type   string   // counter, gauge or histogram
	Labels []string // label names, in the contract's order
}

// wantMetrics is a copy of CONTRACT §8, so the registry is checked against
// it even where the contract file is not at hand.
var wantMetrics = map[string]contractMetric{
	"vectord_backup_runs_total":                        {"counter", []string{"site", "environment", "trigger", "outcome"}},
	"vectord_backup_failures_total":                    {"counter", []string{"site", "environment", "reason"}},
	"vectord_backup_last_success_timestamp_seconds":    {"gauge", []string{"site", "environment"}},
	"vectord_backup_last_failure_timestamp_seconds":    {"gauge", []string{"site", "environment"}},
	"vectord_backup_last_size_bytes":                   {"gauge", []string{"site", "environment"}},
	"vectord_backup_last_duration_seconds":             {"gauge", []string{"site", "environment"}},
	"vectord_backup_next_run_timestamp_seconds":        {"gauge", []string{"site", "environment"}},
	"vectord_backup_expected_interval_seconds":         {"gauge", []string{"site", "environment"}},
	"vectord_backup_phase_duration_seconds":            {"histogram", []string{"phase"}},
	"vectord_download_url_remaining_seconds":           {"histogram", nil},
	"vectord_backups_stored":                           {"gauge", []string{"site", "environment", "target"}},
	"vectord_backup_stored_bytes":                      {"gauge", []string{"site", "environment", "target"}},
	"vectord_retention_deleted_total":                  {"counter", []string{"site", "environment", "target"}},
	"vectord_retention_delete_errors_total":            {"counter", []string{"site", "environment", "target"}},
	"vectord_api_requests_total":                       {"counter", []string{"operation", "code"}},
	"vectord_jobs_running":                             {"gauge", nil},
	"vectord_jobs_queued":                              {"gauge", nil},
	"vectord_build_info":                               {"gauge", []string{"version", "goversion"}},
	"vectord_api_budget_remaining":                     {"gauge", nil},
	"vectord_api_rate_limited_until_timestamp_seconds": {"gauge", nil},
	"vectord_scheduled_runs_skipped_total":             {"counter", []string{"site", "environment"}},
	"vectord_config_reloads_total":                     {"counter", []string{"outcome"}},
	"vectord_archive_upload_failures_total":            {"counter", []string{"site", "environment", "target"}},
	"vectord_archive_pending_backups":                  {"gauge", []string{"site", "environment", "target"}},
	"vectord_notify_failures_total":                    {"counter", []string{"target"}},
	"vectord_drill_last_success_timestamp_seconds":     {"gauge", []string{"site", "environment"}},
	"vectord_drill_failures_total":                     {"counter", []string{"site", "environment"}},
	"vectord_leader":                                   {"gauge", nil},
}

// proposedMetrics are proposed additions to CONTRACT §8, not yet in it
// (none at present). They are the only vectord metrics allowed outside §8;
// TestContractMetrics checks their types and labels as it checks the
// contract's. Move an entry to wantMetrics once the contract has it.
var proposedMetrics = map[string]contractMetric{}

// contractPath is CONTRACT.md as seen from this package's directory, both
// in the development checkout and in CI.
const contractPath = "../../shared/CONTRACT.md"

var (
	t0 = time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	t1 = time.Date(2026, 3, 1, 2, 4, 5, 0, time.UTC)
	t2 = time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC)
)

func newMetrics(t testing.TB) (*Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	m, err := New(reg, "1.2.3")
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	return m, reg
}

// recordAll records at least one series of every metric.
func recordAll(m *Metrics) {
	m.SetSchedule("acme", "production", t2.Add(6*time.Hour), 6*time.Hour)
	m.SetJobs(1, 2)
	m.ObservePhase(PhaseExport, 95*time.Second)
	m.ObservePhase(PhaseDownload, 42*time.Second)
	m.ObservePhase(PhaseStore, 3*time.Second)
	m.ObserveURLRemaining(3300 * time.Second)
	m.ObserveURLRemaining(-30 * time.Second)
	m.APIRequest("export", "202")
	m.APIRequest("export_status", "200")
	m.APIRequest("export_status", "200")
	m.APIRequest("export", "429")
	m.APIRequest("export_status", "error")
	m.JobSucceeded("acme", "production", TriggerSchedule, t1, 1<<20, 4*time.Minute+5*time.Second)
	m.JobFailed("acme", "development", TriggerManual, ReasonURLExpired, t2)
	m.SetStored("acme", "production", "local", 3, 3000)
	m.SetStored("acme", "production", "s3", 3, 3000)
	m.RetentionDeleted("acme", "production", "local")
	m.RetentionDeleteFailed("acme", "production", "s3")
	m.SetArchivePending("acme", "production", "s3", 2)
	m.ArchiveFailed("acme", "production", "s3")
	m.SetBudget(7)
	m.SetRateLimitedUntil(t2)
	m.ScheduledRunSkipped("acme", "production")
	m.ConfigReloaded(true)
	m.NotifyFailed("oncall")
	m.DrillSucceeded("acme", "production", t0)
	m.DrillFailed("acme", "production")
	m.SetLeader(true)
}

// vectordNames lists every vectord metric whose values the golden file
// pins: all of CONTRACT §8 but build_info, whose goversion label depends on
// the toolchain (TestBuildInfo checks it), and the proposed additions.
func vectordNames() []string {
	var names []string
	for name := range wantMetrics {
		if name != "vectord_build_info" {
			names = append(names, name)
		}
	}
	for name := range proposedMetrics {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func TestGolden(t *testing.T) {
	m, reg := newMetrics(t)
	recordAll(m)

	const golden = "testdata/golden.prom"
	if *update {
		got, err := testutil.GatherAndFormat(reg, expfmt.TypeTextPlain, vectordNames()...)
		if err != nil {
			t.Fatalf("GatherAndFormat() error = %v", err)
		}
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if err := testutil.GatherAndCompare(reg, bytes.NewReader(want), vectordNames()...); err != nil {
		t.Errorf("metrics differ from %s (run go test -update to rewrite it after checking):\n%v", golden, err)
	}
}

func TestLint(t *testing.T) {
	m, reg := newMetrics(t)
	recordAll(m)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatalf("GatherAndLint() error = %v", err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func TestBuildInfo(t *testing.T) {
	tests := []struct {
		version, want string
	}{
		{"1.2.3", "1.2.3"},
		{"", "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			reg := prometheus.NewPedanticRegistry()
			if _, err := New(reg, tt.version); err != nil {
				t.Fatalf("New() error = %v", err)
			}
			labels := map[string]string{"version": tt.want, "goversion": runtime.Version()}
			if v, ok := value(t, reg, "vectord_build_info", labels); !ok || v != 1 {
				t.Errorf("vectord_build_info%v = %v (present %v), want 1", labels, v, ok)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(nil, "1"); err == nil {
		t.Error("New(nil) error = nil, want an error")
	}
	reg := prometheus.NewRegistry()
	if _, err := New(reg, "1"); err != nil {
		t.Fatalf("first New() error = %v", err)
	}
	_, err := New(reg, "1")
	var are prometheus.AlreadyRegisteredError
	if !errors.As(err, &are) {
		t.Errorf("second New() on one registry error = %v, want AlreadyRegisteredError", err)
	}
}

func TestNilReceiver(t *testing.T) {
	var m *Metrics
	// Each call must return without panicking.
	m.JobSucceeded("a", "b", TriggerSchedule, t1, 1, time.Second)
	m.JobFailed("a", "b", TriggerSchedule, ReasonAPI, t1)
	m.ObservePhase(PhaseExport, time.Second)
	m.ObserveURLRemaining(time.Minute)
	m.APIRequest("export", "200")
	m.SetJobs(1, 1)
	m.SetSchedule("a", "b", t1, time.Hour)
	m.SetStored("a", "b", "local", 1, 1)
	m.RetentionDeleted("a", "b", "local")
	m.RetentionDeleteFailed("a", "b", "local")
	m.ArchiveFailed("a", "b", "s3")
	m.SetArchivePending("a", "b", "s3", 1)
	m.SetBudget(1)
	m.SetRateLimitedUntil(t1)
	m.ScheduledRunSkipped("a", "b")
	m.ConfigReloaded(true)
	m.NotifyFailed("oncall")
	m.DrillSucceeded("a", "b", t1)
	m.DrillFailed("a", "b")
	m.SetLeader(true)
	m.Rebuild([]StoredBackup{{Site: "a", Environment: "b", CompletedAt: t1}})
	m.Forget("a", "b")
}

func TestBoundedLabels(t *testing.T) {
	tests := []struct {
		name   string
		record func(m *Metrics)
		metric string
		labels map[string]string
	}{
		{
			name:   "known reason kept",
			record: func(m *Metrics) { m.JobFailed("s", "e", TriggerSchedule, ReasonVerify, t1) },
			metric: "vectord_backup_failures_total",
			labels: map[string]string{"site": "s", "environment": "e", "reason": "verify"},
		},
		{
			name:   "unknown reason recorded as api",
			record: func(m *Metrics) { m.JobFailed("s", "e", TriggerSchedule, "connection reset by peer", t1) },
			metric: "vectord_backup_failures_total",
			labels: map[string]string{"site": "s", "environment": "e", "reason": "api"},
		},
		{
			name:   "unknown trigger recorded as manual",
			record: func(m *Metrics) { m.JobFailed("s", "e", "cli", ReasonAPI, t1) },
			metric: "vectord_backup_runs_total",
			labels: map[string]string{"site": "s", "environment": "e", "trigger": "manual", "outcome": "failure"},
		},
		{
			name:   "migrate trigger kept",
			record: func(m *Metrics) { m.JobSucceeded("s", "e", TriggerMigrate, t1, 1, time.Second) },
			metric: "vectord_backup_runs_total",
			labels: map[string]string{"site": "s", "environment": "e", "trigger": "migrate", "outcome": "success"},
		},
		{
			name:   "pre-import trigger kept",
			record: func(m *Metrics) { m.JobSucceeded("s", "e", TriggerPreImport, t1, 1, time.Second) },
			metric: "vectord_backup_runs_total",
			labels: map[string]string{"site": "s", "environment": "e", "trigger": "pre-import", "outcome": "success"},
		},
		{
			name:   "status code kept",
			record: func(m *Metrics) { m.APIRequest("export", "503") },
			metric: "vectord_api_requests_total",
			labels: map[string]string{"operation": "export", "code": "503"},
		},
		{
			name:   "non-status code recorded as error",
			record: func(m *Metrics) { m.APIRequest("export", "dial tcp: i/o timeout") },
			metric: "vectord_api_requests_total",
			labels: map[string]string{"operation": "export", "code": "error"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, reg := newMetrics(t)
			tt.record(m)
			if v, ok := value(t, reg, tt.metric, tt.labels); !ok || v != 1 {
				t.Errorf("%s%v = %v (present %v), want 1", tt.metric, tt.labels, v, ok)
			}
			if n := seriesCount(t, reg, tt.metric); n != 1 {
				t.Errorf("%s has %d series, want 1", tt.metric, n)
			}
		})
	}

	t.Run("unknown phase dropped", func(t *testing.T) {
		m, reg := newMetrics(t)
		m.ObservePhase("upload", time.Second)
		if n := seriesCount(t, reg, "vectord_backup_phase_duration_seconds"); n != 3 {
			t.Errorf("vectord_backup_phase_duration_seconds has %d series, want 3 (export, download, store)", n)
		}
	})
}

func TestSetSchedule(t *testing.T) {
	m, reg := newMetrics(t)
	env := map[string]string{"site": "acme", "environment": "production"}
	m.SetSchedule("acme", "production", t2, 6*time.Hour)
	if v, _ := value(t, reg, "vectord_backup_next_run_timestamp_seconds", env); v != float64(t2.Unix()) {
		t.Errorf("next run = %v, want %v", v, t2.Unix())
	}
	if v, _ := value(t, reg, "vectord_backup_expected_interval_seconds", env); v != 6*3600 {
		t.Errorf("expected interval = %v, want %v", v, 6*3600)
	}
	// Counters exist at zero before the first run, so increase() sees the
	// first failure.
	if n := seriesCount(t, reg, "vectord_backup_failures_total"); n != len(reasons) {
		t.Errorf("failure series = %d, want %d", n, len(reasons))
	}
	if n := seriesCount(t, reg, "vectord_backup_runs_total"); n != len(triggers)*len(outcomes) {
		t.Errorf("run series = %d, want %d", n, len(triggers)*len(outcomes))
	}
	if v, ok := value(t, reg, "vectord_scheduled_runs_skipped_total", env); !ok || v != 0 {
		t.Errorf("skipped runs = %v (present %v), want 0", v, ok)
	}

	m.SetSchedule("acme", "production", time.Time{}, 6*time.Hour)
	if _, ok := value(t, reg, "vectord_backup_next_run_timestamp_seconds", env); ok {
		t.Error("next run series present after SetSchedule with zero next, want removed")
	}
}

func TestArchive(t *testing.T) {
	l := map[string]string{"site": "acme", "environment": "production", "target": "s3"}
	tests := []struct {
		name                string
		record              func(m *Metrics)
		wantPending         float64
		wantPendingPresent  bool
		wantFailures        float64
		wantFailuresPresent bool
	}{
		{
			name:                "pending set creates the failure counter at zero",
			record:              func(m *Metrics) { m.SetArchivePending("acme", "production", "s3", 3) },
			wantPending:         3,
			wantPendingPresent:  true,
			wantFailuresPresent: true,
		},
		{
			name: "failures count, pending follows the last attempt",
			record: func(m *Metrics) {
				m.SetArchivePending("acme", "production", "s3", 1)
				m.ArchiveFailed("acme", "production", "s3")
				m.ArchiveFailed("acme", "production", "s3")
				m.SetArchivePending("acme", "production", "s3", 2)
			},
			wantPending:         2,
			wantPendingPresent:  true,
			wantFailures:        2,
			wantFailuresPresent: true,
		},
		{
			name: "caught up",
			record: func(m *Metrics) {
				m.SetArchivePending("acme", "production", "s3", 4)
				m.SetArchivePending("acme", "production", "s3", 0)
			},
			wantPendingPresent:  true,
			wantFailuresPresent: true,
		},
		{
			name:                "negative pending recorded as zero",
			record:              func(m *Metrics) { m.SetArchivePending("acme", "production", "s3", -1) },
			wantPendingPresent:  true,
			wantFailuresPresent: true,
		},
		{
			name:                "failure before any pending count",
			record:              func(m *Metrics) { m.ArchiveFailed("acme", "production", "s3") },
			wantFailures:        1,
			wantFailuresPresent: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, reg := newMetrics(t)
			tt.record(m)
			if v, ok := value(t, reg, "vectord_archive_pending_backups", l); ok != tt.wantPendingPresent || v != tt.wantPending {
				t.Errorf("vectord_archive_pending_backups = %v (present %v), want %v (present %v)", v, ok, tt.wantPending, tt.wantPendingPresent)
			}
			if v, ok := value(t, reg, "vectord_archive_upload_failures_total", l); ok != tt.wantFailuresPresent || v != tt.wantFailures {
				t.Errorf("vectord_archive_upload_failures_total = %v (present %v), want %v (present %v)", v, ok, tt.wantFailures, tt.wantFailuresPresent)
			}
		})
	}
}

func TestSetBudget(t *testing.T) {
	m, reg := newMetrics(t)
	if n := seriesCount(t, reg, "vectord_api_budget_remaining"); n != 0 {
		t.Errorf("vectord_api_budget_remaining has %d series before SetBudget, want 0", n)
	}
	tests := []struct {
		remaining int
		want      float64
	}{
		{10, 10},
		{3, 3},
		{0, 0},
		{-2, 0},
	}
	for _, tt := range tests {
		m.SetBudget(tt.remaining)
		if got := testutil.ToFloat64(m.budget); got != tt.want {
			t.Errorf("after SetBudget(%d), vectord_api_budget_remaining = %v, want %v", tt.remaining, got, tt.want)
		}
	}
}

func TestSetRateLimitedUntil(t *testing.T) {
	m, _ := newMetrics(t)
	if got := testutil.ToFloat64(m.rateLimited); got != 0 {
		t.Errorf("vectord_api_rate_limited_until_timestamp_seconds at start = %v, want 0", got)
	}
	m.SetRateLimitedUntil(t2)
	if got := testutil.ToFloat64(m.rateLimited); got != float64(t2.Unix()) {
		t.Errorf("after SetRateLimitedUntil(t2) = %v, want %v", got, t2.Unix())
	}
	m.SetRateLimitedUntil(time.Time{})
	if got := testutil.ToFloat64(m.rateLimited); got != 0 {
		t.Errorf("after SetRateLimitedUntil(zero) = %v, want 0", got)
	}
}

func TestScheduledRunSkipped(t *testing.T) {
	m, reg := newMetrics(t)
	m.ScheduledRunSkipped("acme", "production")
	m.ScheduledRunSkipped("acme", "production")
	m.ScheduledRunSkipped("acme", "staging")
	if got := testutil.ToFloat64(m.skipped.WithLabelValues("acme", "production")); got != 2 {
		t.Errorf("acme/production skipped runs = %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.skipped.WithLabelValues("acme", "staging")); got != 1 {
		t.Errorf("acme/staging skipped runs = %v, want 1", got)
	}
	if n := seriesCount(t, reg, "vectord_scheduled_runs_skipped_total"); n != 2 {
		t.Errorf("vectord_scheduled_runs_skipped_total has %d series, want 2", n)
	}
}

func TestConfigReloaded(t *testing.T) {
	m, reg := newMetrics(t)
	// Both outcomes exist at zero from the start, so increase() sees the
	// first failed reload.
	for _, o := range outcomes {
		if v, ok := value(t, reg, "vectord_config_reloads_total", map[string]string{"outcome": o}); !ok || v != 0 {
			t.Errorf("vectord_config_reloads_total{outcome=%q} at start = %v (present %v), want 0", o, v, ok)
		}
	}
	m.ConfigReloaded(true)
	m.ConfigReloaded(false)
	m.ConfigReloaded(false)
	if got := testutil.ToFloat64(m.reloads.WithLabelValues("success")); got != 1 {
		t.Errorf("successful reloads = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.reloads.WithLabelValues("failure")); got != 2 {
		t.Errorf("failed reloads = %v, want 2", got)
	}
	if n := seriesCount(t, reg, "vectord_config_reloads_total"); n != 2 {
		t.Errorf("vectord_config_reloads_total has %d series, want 2", n)
	}
}

func TestNotifyFailed(t *testing.T) {
	m, reg := newMetrics(t)
	m.NotifyFailed("oncall")
	m.NotifyFailed("oncall")
	m.NotifyFailed("slack")
	if v, ok := value(t, reg, "vectord_notify_failures_total", map[string]string{"target": "oncall"}); !ok || v != 2 {
		t.Errorf("oncall notify failures = %v (present %v), want 2", v, ok)
	}
	if v, ok := value(t, reg, "vectord_notify_failures_total", map[string]string{"target": "slack"}); !ok || v != 1 {
		t.Errorf("slack notify failures = %v (present %v), want 1", v, ok)
	}
}

func TestDrill(t *testing.T) {
	env := map[string]string{"site": "acme", "environment": "production"}
	tests := []struct {
		name                string
		record              func(m *Metrics)
		wantSuccess         float64
		wantSuccessPresent  bool
		wantFailures        float64
		wantFailuresPresent bool
	}{
		{
			name:                "success sets the time and creates the failure counter at zero",
			record:              func(m *Metrics) { m.DrillSucceeded("acme", "production", t1) },
			wantSuccess:         float64(t1.Unix()),
			wantSuccessPresent:  true,
			wantFailuresPresent: true,
		},
		{
			name: "newer success replaces an older one",
			record: func(m *Metrics) {
				m.DrillSucceeded("acme", "production", t0)
				m.DrillSucceeded("acme", "production", t2)
			},
			wantSuccess:         float64(t2.Unix()),
			wantSuccessPresent:  true,
			wantFailuresPresent: true,
		},
		{
			name: "older success does not move the time backwards",
			record: func(m *Metrics) {
				m.DrillSucceeded("acme", "production", t2)
				m.DrillSucceeded("acme", "production", t0)
			},
			wantSuccess:         float64(t2.Unix()),
			wantSuccessPresent:  true,
			wantFailuresPresent: true,
		},
		{
			name: "failures count and keep the last success",
			record: func(m *Metrics) {
				m.DrillSucceeded("acme", "production", t1)
				m.DrillFailed("acme", "production")
				m.DrillFailed("acme", "production")
			},
			wantSuccess:         float64(t1.Unix()),
			wantSuccessPresent:  true,
			wantFailures:        2,
			wantFailuresPresent: true,
		},
		{
			name:                "failure before any success",
			record:              func(m *Metrics) { m.DrillFailed("acme", "production") },
			wantFailures:        1,
			wantFailuresPresent: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, reg := newMetrics(t)
			tt.record(m)
			if v, ok := value(t, reg, "vectord_drill_last_success_timestamp_seconds", env); ok != tt.wantSuccessPresent || v != tt.wantSuccess {
				t.Errorf("vectord_drill_last_success_timestamp_seconds = %v (present %v), want %v (present %v)", v, ok, tt.wantSuccess, tt.wantSuccessPresent)
			}
			if v, ok := value(t, reg, "vectord_drill_failures_total", env); ok != tt.wantFailuresPresent || v != tt.wantFailures {
				t.Errorf("vectord_drill_failures_total = %v (present %v), want %v (present %v)", v, ok, tt.wantFailures, tt.wantFailuresPresent)
			}
		})
	}
}

func TestSetLeader(t *testing.T) {
	m, _ := newMetrics(t)
	if got := testutil.ToFloat64(m.leader); got != 0 {
		t.Errorf("vectord_leader at start = %v, want 0", got)
	}
	m.SetLeader(true)
	if got := testutil.ToFloat64(m.leader); got != 1 {
		t.Errorf("vectord_leader after SetLeader(true) = %v, want 1", got)
	}
	m.SetLeader(false)
	if got := testutil.ToFloat64(m.leader); got != 0 {
		t.Errorf("vectord_leader after SetLeader(false) = %v, want 0", got)
	}
}

func TestRebuildNeverLowersLastSuccess(t *testing.T) {
	catalog := []StoredBackup{
		{Site: "acme", Environment: "production", StartedAt: t0, CompletedAt: t0.Add(time.Minute), SizeBytes: 100, StoredBytes: 10, Targets: []string{"local"}},
		{Site: "acme", Environment: "production", StartedAt: t1, CompletedAt: t1.Add(2 * time.Minute), SizeBytes: 200, StoredBytes: 20, Targets: []string{"local"}},
	}
	newest := catalog[1]
	tests := []struct {
		name         string
		before       func(m *Metrics)
		rebuild      []StoredBackup
		wantAt       time.Time
		wantSize     float64
		wantDuration float64
	}{
		{
			name:         "fresh start takes the newest backup",
			before:       func(*Metrics) {},
			rebuild:      catalog,
			wantAt:       newest.CompletedAt,
			wantSize:     200,
			wantDuration: 120,
		},
		{
			name: "newer success is kept",
			before: func(m *Metrics) {
				m.JobSucceeded("acme", "production", TriggerManual, t2, 300, 30*time.Second)
			},
			rebuild:      catalog,
			wantAt:       t2,
			wantSize:     300,
			wantDuration: 30,
		},
		{
			name: "older success is replaced",
			before: func(m *Metrics) {
				m.JobSucceeded("acme", "production", TriggerManual, t0, 50, 5*time.Second)
			},
			rebuild:      catalog,
			wantAt:       newest.CompletedAt,
			wantSize:     200,
			wantDuration: 120,
		},
		{
			name:         "catalog without the newest backup keeps it",
			before:       func(m *Metrics) { m.Rebuild(catalog) },
			rebuild:      catalog[:1],
			wantAt:       newest.CompletedAt,
			wantSize:     200,
			wantDuration: 120,
		},
		{
			name:         "start time unknown leaves duration unchanged",
			before:       func(m *Metrics) { m.Rebuild(catalog[:1]) },
			rebuild:      []StoredBackup{{Site: "acme", Environment: "production", CompletedAt: t2, SizeBytes: 400}},
			wantAt:       t2,
			wantSize:     400,
			wantDuration: 60,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, reg := newMetrics(t)
			tt.before(m)
			m.Rebuild(tt.rebuild)
			env := map[string]string{"site": "acme", "environment": "production"}
			if v, _ := value(t, reg, "vectord_backup_last_success_timestamp_seconds", env); v != float64(tt.wantAt.Unix()) {
				t.Errorf("last success = %v, want %v", v, tt.wantAt.Unix())
			}
			if v, _ := value(t, reg, "vectord_backup_last_size_bytes", env); v != tt.wantSize {
				t.Errorf("last size = %v, want %v", v, tt.wantSize)
			}
			if v, _ := value(t, reg, "vectord_backup_last_duration_seconds", env); v != tt.wantDuration {
				t.Errorf("last duration = %v, want %v", v, tt.wantDuration)
			}
		})
	}
}

func TestRebuildStored(t *testing.T) {
	m, reg := newMetrics(t)
	m.SetStored("acme", "staging", "s3", 4, 400)
	m.Rebuild([]StoredBackup{
		{Site: "acme", Environment: "production", CompletedAt: t0, StoredBytes: 10, Targets: []string{"local", "s3"}},
		{Site: "acme", Environment: "production", CompletedAt: t1, StoredBytes: 20, Targets: []string{"local", "local"}},
		{Site: "beta", Environment: "development", CompletedAt: t1, StoredBytes: 7, Targets: []string{"s3"}},
	})
	tests := []struct {
		site, env, target string
		count, bytes      float64
	}{
		{"acme", "production", "local", 2, 30},
		{"acme", "production", "s3", 1, 10},
		{"beta", "development", "s3", 1, 7},
		{"acme", "staging", "s3", 0, 0}, // no longer in the catalog
	}
	for _, tt := range tests {
		t.Run(tt.site+"/"+tt.env+"/"+tt.target, func(t *testing.T) {
			l := map[string]string{"site": tt.site, "environment": tt.env, "target": tt.target}
			if v, ok := value(t, reg, "vectord_backups_stored", l); !ok || v != tt.count {
				t.Errorf("vectord_backups_stored = %v (present %v), want %v", v, ok, tt.count)
			}
			if v, ok := value(t, reg, "vectord_backup_stored_bytes", l); !ok || v != tt.bytes {
				t.Errorf("vectord_backup_stored_bytes = %v (present %v), want %v", v, ok, tt.bytes)
			}
			// Retention counters exist at zero, so the first delete error
			// shows in increase().
			if _, ok := value(t, reg, "vectord_retention_delete_errors_total", l); !ok {
				t.Error("vectord_retention_delete_errors_total series missing, want it at 0")
			}
		})
	}
	if v, _ := value(t, reg, "vectord_backup_last_success_timestamp_seconds", map[string]string{"site": "beta", "environment": "development"}); v != float64(t1.Unix()) {
		t.Errorf("beta/development last success = %v, want %v", v, t1.Unix())
	}
}

func TestForget(t *testing.T) {
	m, reg := newMetrics(t)
	recordAll(m)
	m.JobSucceeded("acme", "staging", TriggerSchedule, t1, 5, time.Second)
	m.Forget("acme", "production")

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, metric := range mf.GetMetric() {
			l := labelMap(metric.GetLabel())
			if l["site"] == "acme" && l["environment"] == "production" {
				t.Errorf("%s%v still present after Forget", mf.GetName(), l)
			}
		}
	}
	if _, ok := value(t, reg, "vectord_backup_last_success_timestamp_seconds", map[string]string{"site": "acme", "environment": "staging"}); !ok {
		t.Error("acme/staging last success removed by Forget of acme/production")
	}
	if _, ok := value(t, reg, "vectord_notify_failures_total", map[string]string{"target": "oncall"}); !ok {
		t.Error("vectord_notify_failures_total removed by Forget, want it kept (it has no environment)")
	}

	// A forgotten environment that comes back starts afresh: Rebuild may set
	// an older last success again.
	m.Rebuild([]StoredBackup{{Site: "acme", Environment: "production", CompletedAt: t0}})
	if v, _ := value(t, reg, "vectord_backup_last_success_timestamp_seconds", map[string]string{"site": "acme", "environment": "production"}); v != float64(t0.Unix()) {
		t.Errorf("last success after Forget and Rebuild = %v, want %v", v, t0.Unix())
	}
	// Likewise for the drill's last success.
	m.DrillSucceeded("acme", "production", t0.Add(-time.Hour))
	if v, _ := value(t, reg, "vectord_drill_last_success_timestamp_seconds", map[string]string{"site": "acme", "environment": "production"}); v != float64(t0.Add(-time.Hour).Unix()) {
		t.Errorf("drill last success after Forget = %v, want %v", v, t0.Add(-time.Hour).Unix())
	}
}

func TestConcurrentUse(t *testing.T) {
	m, reg := newMetrics(t)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 50 {
				at := t0.Add(time.Duration(i*100+j) * time.Second)
				m.JobSucceeded("acme", "production", TriggerSchedule, at, 1, time.Second)
				m.Rebuild([]StoredBackup{{Site: "acme", Environment: "production", CompletedAt: at, Targets: []string{"local"}}})
				m.SetStored("acme", "production", "local", j, int64(j))
				m.DrillSucceeded("acme", "staging", at)
				m.DrillFailed("acme", "staging")
				m.Forget("acme", "staging")
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			if _, err := reg.Gather(); err != nil {
				t.Errorf("Gather() error = %v", err)
			}
		}
	})
	wg.Wait()
}

func TestContractMetrics(t *testing.T) {
	m, reg := newMetrics(t)
	recordAll(m)
	got := registered(t, reg)

	for name, want := range wantMetrics {
		t.Run(name, func(t *testing.T) {
			g, ok := got[name]
			if !ok {
				t.Fatalf("%s not registered", name)
			}
			if diff := cmp.Diff(want, g); diff != "" {
				t.Errorf("%s (-want +got):\n%s", name, diff)
			}
		})
	}
	// The proposed additions are the only vectord metrics outside §8.
	for name, want := range proposedMetrics {
		t.Run(name, func(t *testing.T) {
			if _, ok := wantMetrics[name]; ok {
				t.Fatalf("%s is in CONTRACT §8 now; move it from proposedMetrics to wantMetrics", name)
			}
			g, ok := got[name]
			if !ok {
				t.Fatalf("%s not registered", name)
			}
			if diff := cmp.Diff(want, g); diff != "" {
				t.Errorf("%s (-want +got):\n%s", name, diff)
			}
		})
	}
	for name := range got {
		if strings.HasPrefix(name, "vectord_") && wantMetrics[name].Type == "" && proposedMetrics[name].Type == "" {
			t.Errorf("%s registered but neither in CONTRACT §8 nor a proposed addition", name)
		}
	}

	t.Run("CONTRACT.md", func(t *testing.T) {
		text, err := os.ReadFile(contractPath)
		if errors.Is(err, os.ErrNotExist) {
			t.Skipf("%s absent; checked against the copy in this test only", contractPath)
		}
		if err != nil {
			t.Fatal(err)
		}
		parsed := parseContract(t, string(text))
		if diff := cmp.Diff(wantMetrics, parsed); diff != "" {
			t.Errorf("CONTRACT §8 differs from the copy in this test (-copy +contract):\n%s", diff)
		}
	})
}

func TestParseContract(t *testing.T) {
	text := "## 7. HTTP\n\n| `x` | gauge | a |\n\n## 8. Metrics\n\n" +
		"| metric | type | labels |\n|---|---|---|\n" +
		"| `vectord_a_total` | counter | site, environment, outcome (`success`/`failure`) |\n" +
		"| `vectord_h_seconds` | histogram | (validity left, in seconds) |\n" +
		"| `vectord_b`, `vectord_c` | gauge | |\n" +
		"| `vectord_d` | gauge | site (the name, configured) |\n\n## 9. Next\n| `vectord_z` | gauge | |\n"
	want := map[string]contractMetric{
		"vectord_a_total":   {"counter", []string{"site", "environment", "outcome"}},
		"vectord_h_seconds": {"histogram", nil},
		"vectord_b":         {"gauge", nil},
		"vectord_c":         {"gauge", nil},
		"vectord_d":         {"gauge", []string{"site"}},
	}
	if diff := cmp.Diff(want, parseContract(t, text)); diff != "" {
		t.Errorf("parseContract() (-want +got):\n%s", diff)
	}
}

// parseContract reads the metrics table of CONTRACT §8.
func parseContract(t testing.TB, text string) map[string]contractMetric {
	t.Helper()
	var (
		in      bool
		out     = make(map[string]contractMetric)
		nameRE  = regexp.MustCompile("`([a-zA-Z_:][a-zA-Z0-9_:]*)`")
		parenRE = regexp.MustCompile(`\([^)]*\)`)
	)
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "## ") {
			in = strings.HasPrefix(line, "## 8. Metrics")
			continue
		}
		if !in || !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(line, "|")
		if len(cells) < 5 {
			t.Fatalf("CONTRACT §8 row %q: want 3 cells", line)
		}
		var labels []string
		for l := range strings.SplitSeq(parenRE.ReplaceAllString(cells[3], ""), ",") {
			if l = strings.TrimSpace(l); l != "" {
				labels = append(labels, l)
			}
		}
		for _, match := range nameRE.FindAllStringSubmatch(cells[1], -1) {
			out[match[1]] = contractMetric{Type: strings.TrimSpace(cells[2]), Labels: labels}
		}
	}
	if len(out) == 0 {
		t.Fatal("no metrics found in CONTRACT §8")
	}
	return out
}

// registered returns the type and label names of every gathered family.
func registered(t testing.TB, g prometheus.Gatherer) map[string]contractMetric {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("Gather() error = %v", err)
	}
	out := make(map[string]contractMetric)
	for _, mf := range mfs {
		var labels []string
		if ms := mf.GetMetric(); len(ms) > 0 {
			for _, lp := range ms[0].GetLabel() {
				labels = append(labels, lp.GetName())
			}
		}
		want, ok := wantMetrics[mf.GetName()]
		if !ok {
			want, ok = proposedMetrics[mf.GetName()]
		}
		if ok {
			// Gather sorts label names; compare in the contract's order.
			slices.SortFunc(labels, func(a, b string) int {
				return slices.Index(want.Labels, a) - slices.Index(want.Labels, b)
			})
		}
		out[mf.GetName()] = contractMetric{Type: strings.ToLower(mf.GetType().String()), Labels: labels}
	}
	return out
}

// value returns the value of the counter or gauge series name{labels}, and
// whether it exists.
func value(t testing.TB, g prometheus.Gatherer, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("Gather() error = %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if !cmp.Equal(labelMap(m.GetLabel()), labels) {
				continue
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue(), true
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue(), true
			}
			t.Fatalf("%s is neither a counter nor a gauge", name)
		}
	}
	return 0, false
}

func seriesCount(t testing.TB, g prometheus.Gatherer, name string) int {
	t.Helper()
	n, err := testutil.GatherAndCount(g, name)
	if err != nil {
		t.Fatalf("GatherAndCount(%s) error = %v", name, err)
	}
	return n
}

func labelMap[L interface {
	GetName() string
	GetValue() string
}](pairs []L) map[string]string {
	out := make(map[string]string, len(pairs))
	for _, p := range pairs {
		out[p.GetName()] = p.GetValue()
	}
	return out
}
