// Package metrics defines every Prometheus metric vectord exposes and the
// methods that record them.
//
// The metric names, types and labels are part of the user-facing contract:
// dashboards and alert rules depend on them. Label values are bounded: a
// value outside a label's documented set is mapped or dropped as each method
// describes, never passed through.
package metrics

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Failure reasons, the values of the reason label of
// vectord_backup_failures_total.
const (
	ReasonExportFailed  = "export_failed"  // the Vector API reported the export as failed
	ReasonExportTimeout = "export_timeout" // the export did not complete within export_timeout
	ReasonDownload      = "download"       // fetching the dump failed
	ReasonURLExpired    = "url_expired"    // the download URL expired and no fresh one could be had
	ReasonVerify        = "verify"         // the dump was incomplete or did not match its checksum
	ReasonStorage       = "storage"        // writing to a storage target or the catalog failed
	ReasonAPI           = "api"            // a Vector API request failed
	ReasonCanceled      = "canceled"       // the job was canceled, for example at shutdown
)

// Phases of a job, the values of the phase label of
// vectord_backup_phase_duration_seconds.
const (
	PhaseExport   = "export"   // from the export request to its completion
	PhaseDownload = "download" // fetching the dump from the download URL
	PhaseStore    = "store"    // writing to every storage target and the catalog
)

// Triggers of a job, the values of the trigger label of
// vectord_backup_runs_total: the triggers of a catalog record (CONTRACT §4).
const (
	TriggerSchedule  = "schedule"
	TriggerManual    = "manual"
	TriggerPreImport = "pre-import"
	TriggerMigrate   = "migrate"
)

var (
	reasons  = []string{ReasonExportFailed, ReasonExportTimeout, ReasonDownload, ReasonURLExpired, ReasonVerify, ReasonStorage, ReasonAPI, ReasonCanceled}
	phases   = []string{PhaseExport, PhaseDownload, PhaseStore}
	triggers = []string{TriggerSchedule, TriggerManual, TriggerPreImport, TriggerMigrate}
	outcomes = []string{"success", "failure"}
)

// Metrics holds every vectord metric. Create it with New. All methods are
// safe for concurrent use, and every method is a no-op on a nil *Metrics.
type Metrics struct {
	runs          *prometheus.CounterVec
	failures      *prometheus.CounterVec
	lastSuccess   *prometheus.GaugeVec
	lastFailure   *prometheus.GaugeVec
	lastSize      *prometheus.GaugeVec
	lastDuration  *prometheus.GaugeVec
	nextRun       *prometheus.GaugeVec
	interval      *prometheus.GaugeVec
	phase         *prometheus.HistogramVec
	urlRemaining  prometheus.Histogram
	stored        *prometheus.GaugeVec
	storedBytes   *prometheus.GaugeVec
	deleted       *prometheus.CounterVec
	deleteErrors  *prometheus.CounterVec
	apiRequests   *prometheus.CounterVec
	archiveFails  *prometheus.CounterVec
	archivePend   *prometheus.GaugeVec
	jobsRunning   prometheus.Gauge
	jobsQueued    prometheus.Gauge
	budget        *prometheus.GaugeVec // no labels: absent until SetBudget
	rateLimited   prometheus.Gauge
	skipped       *prometheus.CounterVec
	reloads       *prometheus.CounterVec
	notifyFails   *prometheus.CounterVec
	drillSuccess  *prometheus.GaugeVec
	drillFails    *prometheus.CounterVec
	leader        prometheus.Gauge
	buildInfo     *prometheus.GaugeVec
	perEnvVectors []*prometheus.MetricVec

	mu sync.Mutex
	// successAt is the completion time behind each environment's
	// last-success gauge, so that Rebuild never moves it backwards.
	successAt map[envKey]time.Time
	// storedSeries lists the stored-state series Rebuild or SetStored has
	// set, so that Rebuild can zero the ones the catalog no longer backs.
	storedSeries map[targetKey]struct{}
	// drillAt is the time behind each environment's drill last-success
	// gauge, so that DrillSucceeded never moves it backwards.
	drillAt map[envKey]time.Time
}

type envKey struct{ site, env string }

type targetKey struct{ site, env, target string }

// phaseBuckets returns the upper bounds, in seconds, of the phase duration
// histogram: 1 s doubling up to 16384 s (about 4.5 h).
func phaseBuckets() []float64 { return prometheus.ExponentialBuckets(1, 2, 15) }

// urlRemainingBuckets returns the upper bounds, in seconds, of the histogram
// of validity left on a download URL when its download finished: from
// -600 s (expired ten minutes before) to 3600 s (a full hour left), dense
// below 10 minutes, where a shrinking margin needs attention, and with 600
// exactly so that alerts can count downloads that finished with less than
// 10 minutes left.
func urlRemainingBuckets() []float64 {
	return []float64{-600, -300, -60, 0, 60, 120, 300, 600, 900, 1200, 1800, 2400, 3000, 3600}
}

// New creates the metrics and registers them on reg, together with the Go
// runtime and process collectors and vectord_build_info, whose version label
// is version ("unknown" if empty) and goversion label the Go version the
// binary was built with. It returns an error if reg is nil or if any metric
// cannot be registered (for example because reg already holds it).
func New(reg prometheus.Registerer, version string) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("create metrics: nil registerer")
	}
	env := []string{"site", "environment"}
	target := []string{"site", "environment", "target"}
	m := &Metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vectord_backup_runs_total",
			Help: "Backup jobs finished, by trigger (schedule, manual, pre-import) and outcome (success, failure).",
		}, []string{"site", "environment", "trigger", "outcome"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vectord_backup_failures_total",
			Help: "Failed backup jobs, by reason (export_failed, export_timeout, download, url_expired, verify, storage, api, canceled).",
		}, []string{"site", "environment", "reason"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vectord_backup_last_success_timestamp_seconds",
			Help: "Unix time at which the newest stored backup of the environment completed; filled from the catalog at start-up.",
		}, env),
		lastFailure: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vectord_backup_last_failure_timestamp_seconds",
			Help: "Unix time of the environment's most recent failed backup job since the daemon started.",
		}, env),
		lastSize: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vectord_backup_last_size_bytes",
			Help: "Size of the plain SQL dump of the environment's newest stored backup.",
		}, env),
		lastDuration: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vectord_backup_last_duration_seconds",
			Help: "Time from start to completion of the environment's newest stored backup.",
		}, env),
		nextRun: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vectord_backup_next_run_timestamp_seconds",
			Help: "Unix time of the environment's next scheduled backup.",
		}, env),
		interval: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vectord_backup_expected_interval_seconds",
			Help: "Interval between the environment's scheduled backups, for alerts on backups that are too old.",
		}, env),
		phase: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "vectord_backup_phase_duration_seconds",
			Help:    "Duration of each phase of a backup job: export (request to completed export), download, store.",
			Buckets: phaseBuckets(),
		}, []string{"phase"}),
		urlRemaining: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vectord_download_url_remaining_seconds",
			Help:    "Validity left on the presigned download URL when its download finished; negative if it had expired.",
			Buckets: urlRemainingBuckets(),
		}),
		stored: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vectord_backups_stored",
			Help: "Backups of the environment held in the catalog, per storage target.",
		}, target),
		storedBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vectord_backup_stored_bytes",
			Help: "Bytes of stored (compressed) backup files of the environment, per storage target.",
		}, target),
		deleted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vectord_retention_deleted_total",
			Help: "Backups deleted from a storage target by retention.",
		}, target),
		deleteErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vectord_retention_delete_errors_total",
			Help: "Failed attempts to delete a backup from a storage target; the delete is retried on the next retention run.",
		}, target),
		apiRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vectord_api_requests_total",
			Help: "Requests sent to the Vector API, by operation and HTTP status code (\"error\" when no response arrived).",
		}, []string{"operation", "code"}),
		archiveFails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vectord_archive_upload_failures_total",
			Help: "Failed copies of a stored backup to an archive target; the backup stays where it is stored and the copy is retried.",
		}, target),
		archivePend: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vectord_archive_pending_backups",
			Help: "Backups of the environment in the catalog that an archive target does not hold yet, as of the last archive attempt.",
		}, target),
		jobsRunning: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vectord_jobs_running",
			Help: "Backup jobs currently exporting, downloading or storing.",
		}),
		jobsQueued: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vectord_jobs_queued",
			Help: "Backup jobs waiting for admission (database-operation budget or concurrency limits).",
		}),
		budget: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vectord_api_budget_remaining",
			Help: "Database operations (export, import, backup creation) the budget ledger allows now.",
		}, nil),
		rateLimited: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vectord_api_rate_limited_until_timestamp_seconds",
			Help: "Unix time until which a 429 from the Vector API pauses every database operation; 0 when not paused.",
		}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vectord_scheduled_runs_skipped_total",
			Help: "Scheduled runs of the environment skipped because they fell due while its previous job still waited or ran.",
		}, env),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vectord_config_reloads_total",
			Help: "Configuration reloads (SIGHUP), by outcome (success, failure: the new configuration was refused and the old one kept).",
		}, []string{"outcome"}),
		notifyFails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vectord_notify_failures_total",
			Help: "Failed deliveries of a notification, by target (the notify entry's name); deliveries are retried.",
		}, []string{"target"}),
		drillSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vectord_drill_last_success_timestamp_seconds",
			Help: "Unix time of the environment's most recent successful restore drill.",
		}, env),
		drillFails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vectord_drill_failures_total",
			Help: "Failed restore drills of the environment.",
		}, env),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vectord_leader",
			Help: "1 on the instance that schedules and runs jobs, 0 on one standing by.",
		}),
		buildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vectord_build_info",
			Help: "Always 1; labels carry the vectord version and the Go version it was built with.",
		}, []string{"version", "goversion"}),
		successAt:    make(map[envKey]time.Time),
		storedSeries: make(map[targetKey]struct{}),
		drillAt:      make(map[envKey]time.Time),
	}
	m.perEnvVectors = []*prometheus.MetricVec{
		m.runs.MetricVec, m.failures.MetricVec,
		m.lastSuccess.MetricVec, m.lastFailure.MetricVec, m.lastSize.MetricVec, m.lastDuration.MetricVec,
		m.nextRun.MetricVec, m.interval.MetricVec,
		m.stored.MetricVec, m.storedBytes.MetricVec, m.deleted.MetricVec, m.deleteErrors.MetricVec,
		m.archiveFails.MetricVec, m.archivePend.MetricVec,
		m.skipped.MetricVec, m.drillSuccess.MetricVec, m.drillFails.MetricVec,
	}

	if version == "" {
		version = "unknown"
	}
	m.buildInfo.WithLabelValues(version, runtime.Version()).Set(1)
	for _, p := range phases {
		m.phase.WithLabelValues(p)
	}
	for _, o := range outcomes {
		m.reloads.WithLabelValues(o)
	}

	cs := []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.runs, m.failures, m.lastSuccess, m.lastFailure, m.lastSize, m.lastDuration,
		m.nextRun, m.interval, m.phase, m.urlRemaining, m.stored, m.storedBytes,
		m.deleted, m.deleteErrors, m.archiveFails, m.archivePend, m.apiRequests,
		m.jobsRunning, m.jobsQueued, m.budget, m.rateLimited, m.skipped,
		m.reloads, m.notifyFails, m.drillSuccess, m.drillFails, m.leader,
		m.buildInfo,
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}

// JobSucceeded records a backup job that stored a backup: it counts the run
// with outcome "success" and makes the backup the environment's last success
// (completion time, plain SQL size, duration). A trigger outside
// schedule, manual and pre-import is recorded as manual.
func (m *Metrics) JobSucceeded(site, env, trigger string, completedAt time.Time, sizeBytes int64, d time.Duration) {
	if m == nil {
		return
	}
	m.runs.WithLabelValues(site, env, boundTrigger(trigger), "success").Inc()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.setLastSuccess(envKey{site, env}, completedAt, sizeBytes, d)
}

// JobFailed records a backup job that failed at time at: it counts the run
// with outcome "failure" and the failure under reason, and sets the
// environment's last-failure time. reason should be one of the Reason
// constants; any other value is recorded as ReasonAPI, so the label keeps its
// documented set. A trigger outside schedule, manual and pre-import is
// recorded as manual.
func (m *Metrics) JobFailed(site, env, trigger, reason string, at time.Time) {
	if m == nil {
		return
	}
	if !slices.Contains(reasons, reason) {
		reason = ReasonAPI
	}
	m.runs.WithLabelValues(site, env, boundTrigger(trigger), "failure").Inc()
	m.failures.WithLabelValues(site, env, reason).Inc()
	m.lastFailure.WithLabelValues(site, env).Set(unixSeconds(at))
}

// ObservePhase records how long one phase of a job took. phase is one of
// PhaseExport, PhaseDownload and PhaseStore; other values are dropped.
// Negative durations are recorded as 0.
func (m *Metrics) ObservePhase(phase string, d time.Duration) {
	if m == nil || !slices.Contains(phases, phase) {
		return
	}
	m.phase.WithLabelValues(phase).Observe(max(d, 0).Seconds())
}

// ObserveURLRemaining records the validity left on a download URL when its
// download finished; d is negative if the URL had already expired.
func (m *Metrics) ObserveURLRemaining(d time.Duration) {
	if m == nil {
		return
	}
	m.urlRemaining.Observe(d.Seconds())
}

// APIRequest counts one request to the Vector API. op names the operation
// and must come from a fixed set (the client's route names, such as
// "export" or "export_status"). code is the three-digit HTTP status of the
// answer, or "error" when no answer arrived; any other value is recorded as
// "error".
func (m *Metrics) APIRequest(op, code string) {
	if m == nil {
		return
	}
	if !isStatusCode(code) {
		code = "error"
	}
	m.apiRequests.WithLabelValues(op, code).Inc()
}

// SetJobs sets the number of running and queued backup jobs.
func (m *Metrics) SetJobs(running, queued int) {
	if m == nil {
		return
	}
	m.jobsRunning.Set(float64(running))
	m.jobsQueued.Set(float64(queued))
}

// SetSchedule records an environment's schedule: the time of its next run
// (a zero next removes the next-run series) and the interval between its
// runs. It also creates the environment's run, failure and skipped-run
// counters at zero, so that increase() and rate() see its first failure.
func (m *Metrics) SetSchedule(site, env string, next time.Time, expectedInterval time.Duration) {
	if m == nil {
		return
	}
	if next.IsZero() {
		m.nextRun.DeleteLabelValues(site, env)
	} else {
		m.nextRun.WithLabelValues(site, env).Set(unixSeconds(next))
	}
	m.interval.WithLabelValues(site, env).Set(expectedInterval.Seconds())
	for _, t := range triggers {
		for _, o := range outcomes {
			m.runs.WithLabelValues(site, env, t, o)
		}
	}
	for _, r := range reasons {
		m.failures.WithLabelValues(site, env, r)
	}
	m.skipped.WithLabelValues(site, env)
}

// SetStored sets the number of backups of an environment held on a storage
// target and their stored size in bytes. It also creates the target's
// retention counters at zero.
func (m *Metrics) SetStored(site, env, target string, count int, bytes int64) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.setStored(targetKey{site, env, target}, count, bytes)
}

// RetentionDeleted counts one backup deleted from a storage target by
// retention.
func (m *Metrics) RetentionDeleted(site, env, target string) {
	if m == nil {
		return
	}
	m.deleted.WithLabelValues(site, env, target).Inc()
}

// RetentionDeleteFailed counts one failed attempt to delete a backup from a
// storage target.
func (m *Metrics) RetentionDeleteFailed(site, env, target string) {
	if m == nil {
		return
	}
	m.deleteErrors.WithLabelValues(site, env, target).Inc()
}

// ArchiveFailed counts one failed copy of a stored backup of an environment
// to an archive target (such as "s3").
func (m *Metrics) ArchiveFailed(site, env, target string) {
	if m == nil {
		return
	}
	m.archiveFails.WithLabelValues(site, env, target).Inc()
}

// SetArchivePending sets the number of backups of an environment that the
// archive target does not hold yet; n below 0 is recorded as 0. It also
// creates the target's archive failure counter at zero, so that increase()
// sees its first failure.
func (m *Metrics) SetArchivePending(site, env, target string, n int) {
	if m == nil {
		return
	}
	m.archivePend.WithLabelValues(site, env, target).Set(float64(max(n, 0)))
	m.archiveFails.WithLabelValues(site, env, target)
}

// SetBudget sets the number of database operations the budget ledger allows
// now; remaining below 0 is recorded as 0. The gauge is absent until the
// first call, so a daemon that has not read its ledger yet does not report
// an exhausted budget.
func (m *Metrics) SetBudget(remaining int) {
	if m == nil {
		return
	}
	m.budget.WithLabelValues().Set(float64(max(remaining, 0)))
}

// SetRateLimitedUntil records that a 429 pauses every database operation
// until t. A zero t records that no pause is in force (the gauge is 0).
func (m *Metrics) SetRateLimitedUntil(t time.Time) {
	if m == nil {
		return
	}
	if t.IsZero() {
		m.rateLimited.Set(0)
		return
	}
	m.rateLimited.Set(unixSeconds(t))
}

// ScheduledRunSkipped counts one scheduled run of an environment that fell
// due while the environment's previous job still waited or ran.
func (m *Metrics) ScheduledRunSkipped(site, env string) {
	if m == nil {
		return
	}
	m.skipped.WithLabelValues(site, env).Inc()
}

// ConfigReloaded counts one configuration reload: outcome "success" if ok,
// "failure" if the new configuration was refused and the old one kept.
// Both outcomes exist at zero from New on.
func (m *Metrics) ConfigReloaded(ok bool) {
	if m == nil {
		return
	}
	outcome := "failure"
	if ok {
		outcome = "success"
	}
	m.reloads.WithLabelValues(outcome).Inc()
}

// NotifyFailed counts one failed delivery of a notification to target, the
// name of a configured notify entry.
func (m *Metrics) NotifyFailed(target string) {
	if m == nil {
		return
	}
	m.notifyFails.WithLabelValues(target).Inc()
}

// DrillSucceeded records a restore drill of an environment that succeeded
// at time at: it sets the environment's drill last-success time, unless
// the one already recorded is newer (so the gauge may be filled from the
// catalog's verified_at times in any order), and creates its drill failure
// counter at zero, so that increase() sees its first failure.
func (m *Metrics) DrillSucceeded(site, env string, at time.Time) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.drillFails.WithLabelValues(site, env)
	k := envKey{site, env}
	if prev, ok := m.drillAt[k]; ok && at.Before(prev) {
		return
	}
	m.drillAt[k] = at
	m.drillSuccess.WithLabelValues(site, env).Set(unixSeconds(at))
}

// DrillFailed counts one failed restore drill of an environment.
func (m *Metrics) DrillFailed(site, env string) {
	if m == nil {
		return
	}
	m.drillFails.WithLabelValues(site, env).Inc()
}

// SetLeader records whether this instance is the one that schedules and
// runs jobs (1) or stands by (0). The gauge is 0 until the first call; a
// daemon without ha schedules, and sets it to true.
func (m *Metrics) SetLeader(leader bool) {
	if m == nil {
		return
	}
	v := 0.0
	if leader {
		v = 1
	}
	m.leader.Set(v)
}

// StoredBackup is what Rebuild needs to know of one live catalog record.
type StoredBackup struct {
	Site, Environment string
	StartedAt         time.Time
	CompletedAt       time.Time
	SizeBytes         int64    // plain SQL size
	StoredBytes       int64    // size of the stored file on each target
	Targets           []string // storage targets holding it, such as "local" and "s3"
}

// Rebuild refills the gauges that describe stored state from the catalog,
// at start-up and after retention. backups must be every live backup in the
// catalog, in any order.
//
// For each environment, the newest backup (by CompletedAt) sets the last
// success time, last size and last duration (CompletedAt minus StartedAt;
// left unchanged if StartedAt is zero), unless the last success already
// recorded is newer: Rebuild never moves the last success time backwards.
// For each environment and target, it sets the number of backups and their
// stored bytes; a series set before that backups no longer mentions is set
// to 0 (Forget removes series).
func (m *Metrics) Rebuild(backups []StoredBackup) {
	if m == nil {
		return
	}
	type usage struct {
		count int
		bytes int64
	}
	newest := make(map[envKey]StoredBackup)
	stored := make(map[targetKey]usage)
	for _, b := range backups {
		k := envKey{b.Site, b.Environment}
		if n, ok := newest[k]; !ok || b.CompletedAt.After(n.CompletedAt) {
			newest[k] = b
		}
		seen := make(map[string]bool, len(b.Targets))
		for _, t := range b.Targets {
			if seen[t] {
				continue
			}
			seen[t] = true
			tk := targetKey{b.Site, b.Environment, t}
			u := stored[tk]
			u.count++
			u.bytes += b.StoredBytes
			stored[tk] = u
		}
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	for k, b := range newest {
		if prev, ok := m.successAt[k]; ok && b.CompletedAt.Before(prev) {
			continue
		}
		d := time.Duration(-1)
		if !b.StartedAt.IsZero() {
			d = max(b.CompletedAt.Sub(b.StartedAt), 0)
		}
		m.setLastSuccess(k, b.CompletedAt, b.SizeBytes, d)
	}
	for tk := range m.storedSeries {
		if _, ok := stored[tk]; !ok {
			m.setStored(tk, 0, 0)
		}
	}
	for tk, u := range stored {
		m.setStored(tk, u.count, u.bytes)
	}
}

// Forget removes every series of an environment, for one that was removed
// from the configuration.
func (m *Metrics) Forget(site, env string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	labels := prometheus.Labels{"site": site, "environment": env}
	for _, v := range m.perEnvVectors {
		v.DeletePartialMatch(labels)
	}
	delete(m.successAt, envKey{site, env})
	delete(m.drillAt, envKey{site, env})
	for tk := range m.storedSeries {
		if tk.site == site && tk.env == env {
			delete(m.storedSeries, tk)
		}
	}
}

// setLastSuccess sets the last-success gauges; a negative d leaves the
// duration unchanged. m.mu must be held.
func (m *Metrics) setLastSuccess(k envKey, completedAt time.Time, sizeBytes int64, d time.Duration) {
	m.successAt[k] = completedAt
	m.lastSuccess.WithLabelValues(k.site, k.env).Set(unixSeconds(completedAt))
	m.lastSize.WithLabelValues(k.site, k.env).Set(float64(sizeBytes))
	if d >= 0 {
		m.lastDuration.WithLabelValues(k.site, k.env).Set(d.Seconds())
	}
}

// setStored sets the stored-state gauges of a target and creates its
// retention counters. m.mu must be held.
func (m *Metrics) setStored(k targetKey, count int, bytes int64) {
	m.storedSeries[k] = struct{}{}
	m.stored.WithLabelValues(k.site, k.env, k.target).Set(float64(count))
	m.storedBytes.WithLabelValues(k.site, k.env, k.target).Set(float64(bytes))
	m.deleted.WithLabelValues(k.site, k.env, k.target)
	m.deleteErrors.WithLabelValues(k.site, k.env, k.target)
}

func boundTrigger(t string) string {
	if slices.Contains(triggers, t) {
		return t
	}
	return TriggerManual
}

func isStatusCode(code string) bool {
	if len(code) != 3 || code[0] < '1' || code[0] > '5' {
		return false
	}
	return '0' <= code[1] && code[1] <= '9' && '0' <= code[2] && code[2] <= '9'
}

func unixSeconds(t time.Time) float64 {
	return float64(t.UnixNano()) / 1e9
}
