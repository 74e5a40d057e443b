package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"reflect"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/builtfast/vectord/catalog"
	"github.com/builtfast/vectord/codec"
	"github.com/builtfast/vectord/config"
	"github.com/builtfast/vectord/exporter"
	"github.com/builtfast/vectord/logging"
	"github.com/builtfast/vectord/metrics"
	"github.com/builtfast/vectord/scheduler"
	"github.com/builtfast/vectord/sdnotify"
	"github.com/builtfast/vectord/server"
	"github.com/builtfast/vectord/storage/s3"
	"github.com/builtfast/vectord/vectorapi"
)

// runDaemon: vectord run — scheduled backups and the HTTP endpoints until
// SIGTERM/SIGINT; SIGHUP reloads the configuration.
func runDaemon(ctx context.Context, m *Main, args []string) error {
	f := m.flags("run")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("run takes no arguments, got %q", pos)
	}
	cfg, err := loadConfig(f.configPath())
	if err != nil {
		return err
	}
	// log.format and log.level (journald, when it is the output, wins
	// over the format).
	level := new(slog.LevelVar)
	log, err := logging.New(m.Stderr, logging.Options{Format: cfg.Log.Format, Level: cfg.Log.Level, LevelVar: level}, m.Getenv)
	if err != nil {
		return &usageError{err: fmt.Errorf("log: %w", err)}
	}
	d, err := newDaemon(ctx, f.configPath(), cfg, log)
	if err != nil {
		return err
	}
	d.logLevel = level
	return d.run(ctx)
}

// daemon is one running vectord: the catalog it owns, the scheduler, the
// HTTP server and the metrics, wired together.
type daemon struct {
	path  string
	log   *slog.Logger
	app   *app
	reg   *prometheus.Registry
	met   *metrics.Metrics
	sched *scheduler.Scheduler
	srv   *server.Server
	ex    *exporter.Exporter

	logLevel *slog.LevelVar // log.level, changed by a reload; nil: fixed

	mu  sync.RWMutex // guards ex and api, replaced on reload
	api *vectorapi.Client

	// envMu serialises changes to one environment's stored backups:
	// retention, forget and archive copies (see lockEnv).
	envMu    sync.Mutex
	envLocks map[[2]string]*sync.Mutex

	// onOutcome, when set, hears every job's outcome (vectord demo prints
	// them).
	onOutcome func(j scheduler.Job, rec catalog.Record, err error)
}

func newDaemon(ctx context.Context, path string, cfg *config.Config, log *slog.Logger) (*daemon, error) {
	a, err := openAppConfig(ctx, cfg, true, log)
	if err != nil {
		return nil, err
	}
	d := &daemon{path: path, log: log, app: a, reg: prometheus.NewRegistry()}
	if d.met, err = metrics.New(d.reg, version); err != nil {
		a.Close()
		return nil, err
	}
	d.met.SetLeader(true) // one instance without ha schedules alone
	if err := d.rebuildMetrics(ctx); err != nil {
		a.Close()
		return nil, err
	}
	recent, paused, err := ledgerState(ctx, a.cat)
	if err != nil {
		a.Close()
		return nil, err
	}
	beat, beatEvery := watchdog(log)
	d.sched, err = scheduler.New(scheduler.Options{
		Heartbeat:        beat,
		HeartbeatEvery:   beatEvery,
		Envs:             schedEnvs(cfg),
		RecentOperations: recent,
		PausedUntil:      paused,
		Ledger:           a.cat,
		By:               "daemon",
		DBOpsPerHour:     cfg.API.DBOperationsPerHour,
		Exports:          cfg.Concurrency.Exports,
		Downloads:        cfg.Concurrency.Downloads,
		Runner:           d.runJob,
		LastSuccess:      d.lastSuccess,
		Observer:         d.met,
		Logger:           log,
		NewID:            catalog.NewID,
	})
	if err != nil {
		a.Close()
		return nil, &usageError{err: err}
	}
	client, err := a.client(d.met.APIRequest, d.sched)
	if err != nil {
		a.Close()
		return nil, err
	}
	d.ex, d.api = a.exporter(client, d.met, d.sched), client
	d.srv, err = server.New(server.Options{
		Listen:   cfg.Server.Listen,
		Token:    cfg.Server.Token,
		Gatherer: d.reg,
		Backups:  a.cat,
		Jobs:     jobs{d},
		Admin:    admin{d},
		Status: func(ctx context.Context) (json.RawMessage, error) {
			rep, err := d.app.status(ctx, d.sched, time.Now())
			if err != nil {
				return nil, err
			}
			return json.Marshal(rep)
		},
		Logger: log,
	})
	if err != nil {
		a.Close()
		return nil, &usageError{err: fmt.Errorf("server: %w", err)}
	}
	return d, nil
}

func (d *daemon) config() *config.Config {
	return d.app.config()
}

// run serves until ctx ends, then drains running jobs for shutdown_timeout.
func (d *daemon) run(ctx context.Context) error {
	defer d.app.Close()
	ln, err := net.Listen("tcp", d.config().Server.Listen)
	if err != nil {
		return fmt.Errorf("listen on server.listen %s: %w", d.config().Server.Listen, err)
	}
	if err := d.resumeJobs(ctx); err != nil {
		ln.Close()
		return err
	}
	d.pruneJobs(ctx)
	// Deletes a stopped process left unfinished are finished now, not at
	// the environment's next backup: a marked backup is no backup.
	if err := d.app.enforcer(d.met).RetryPending(ctx); err != nil {
		d.log.Warn("unfinished deletes remain; retried at the next retention run", "error", err)
	}
	d.checkArchive(ctx)
	d.log.Info("vectord started", "version", version, "listen", ln.Addr().String(),
		"environments", len(d.config().Environments()), "catalog", d.app.cat.Path())

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	// The scheduler's loop stops with ctx; its jobs run on a context of
	// their own so that shutdown can drain them.
	g, gctx := errgroup.WithContext(context.WithoutCancel(ctx))
	loopCtx, stopLoop := context.WithCancel(gctx)
	defer stopLoop()
	srvCtx, stopSrv := context.WithCancel(gctx)
	defer stopSrv()
	g.Go(func() error { return d.sched.Run(loopCtx) })
	g.Go(func() error {
		// Archive copies that failed before the last stop.
		d.archivePending(loopCtx, catalog.Filter{})
		return nil
	})
	g.Go(func() error { return d.srv.Serve(srvCtx, ln) })
	g.Go(func() error {
		for {
			select {
			case <-loopCtx.Done():
				return nil
			case <-hup:
				notify(d.log, sdnotify.Reloading)
				d.reload()
				notify(d.log, sdnotify.Ready)
			}
		}
	})
	// The catalog is open and the listener accepts: ready.
	notify(d.log, sdnotify.Ready)

	select {
	case <-ctx.Done():
	case <-gctx.Done():
	}
	timeout := d.config().ShutdownTimeout
	notify(d.log, sdnotify.Stopping)
	d.log.Info("shutting down", "shutdown_timeout", timeout)
	d.srv.SetDraining()
	stopLoop()
	drainCtx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	shutErr := d.sched.Shutdown(drainCtx)
	stopSrv()
	err = g.Wait()
	if shutErr != nil && !errors.Is(shutErr, context.DeadlineExceeded) && !errors.Is(shutErr, context.Canceled) {
		err = errors.Join(err, shutErr)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	d.log.Info("vectord stopped")
	return nil
}

// runJob is the scheduler's runner: one backup through the exporter, then
// metrics and retention.
func (d *daemon) runJob(ctx context.Context, j scheduler.Job, setState func(string)) (string, error) {
	cfg := d.config()
	e, err := cfg.Environment(j.Site, j.Environment)
	if err != nil {
		return "", err
	}
	start := time.Now()
	var rec catalog.Record
	if j.Trigger == catalog.TriggerPreImport {
		e.Source = snapshotSource(e.Source) // a snapshot is of now
	}
	if e.Source == config.SourceMirror {
		rec, err = d.mirror(ctx, j, e, setState)
		if err == nil && rec.ID == "" {
			d.log.Info("mirror: no new platform backup", "site", e.Site, "environment", e.Name, "job_id", j.ID)
			return "", nil
		}
	} else {
		rec, err = d.backup(ctx, j, e, setState, exporter.Request{})
	}
	if d.onOutcome != nil {
		d.onOutcome(j, rec, err)
	}
	if err != nil {
		if ctx.Err() == nil {
			d.met.JobFailed(e.Site, e.Name, j.Trigger, exporter.Reason(err), time.Now())
			d.log.Error("backup failed", "site", e.Site, "environment", e.Name, "job_id", j.ID,
				"reason", exporter.Reason(err), "error", err)
		}
		return "", err
	}
	d.met.JobSucceeded(e.Site, e.Name, j.Trigger, rec.CompletedAt, rec.SizeBytes, time.Since(start))
	d.log.Info("backup succeeded", "site", e.Site, "environment", e.Name, "job_id", j.ID,
		"backup_id", rec.ID, "bytes", rec.SizeBytes, "duration", time.Since(start).Round(time.Millisecond))
	unlock := d.lockEnv(e.Site, e.Name)
	d.app.applyRetention(ctx, e, d.met)
	unlock()
	d.archivePending(ctx, catalog.Filter{Site: e.Site, Environment: e.Name})
	d.pruneJobs(ctx)
	if err := d.refreshStored(ctx, e.Site, e.Name); err != nil {
		d.log.Warn("refresh stored-backup metrics", "error", err)
	}
	return rec.ID, nil
}

// backup runs one exporter job for j, resuming what the catalog says it
// had requested; over sets a mirror job's platform backup.
func (d *daemon) backup(ctx context.Context, j scheduler.Job, e config.Environment, setState func(string), over exporter.Request) (catalog.Record, error) {
	req := exporter.Request{
		JobID: j.ID, Site: e.Site, Environment: e.Name, SiteID: e.SiteID, EnvironmentID: e.EnvironmentID,
		Trigger: j.Trigger, Reason: j.Reason, ExportTimeout: e.ExportTimeout, Source: e.Source,
		ExportID: j.ExportID, PlatformBackupID: j.PlatformBackupID, ExportRequestedAt: j.ExportRequestedAt,
		OnState: func(cj catalog.Job) { setState(cj.State) },
	}
	if over.PlatformBackupID != "" {
		req.JobID, req.PlatformBackupID = over.JobID, over.PlatformBackupID
	}
	if j.ExportID != "" || j.PlatformBackupID != "" {
		// A resumed job keeps its first start time, and so its file name,
		// the backup id it chose and its source.
		if cj, err := d.app.cat.Job(ctx, j.ID); err == nil {
			req.StartedAt, req.BackupID = cj.CreatedAt, cj.BackupID
			if cj.Source != "" {
				req.Source = cj.Source
			}
		}
	}
	return d.exporter().Run(ctx, req)
}

// mirror stores the environment's completed platform backups of scope
// database or full that the catalog does not hold yet, newest first, one
// exporter job each (CONTRACT §9). It spends no database operation. A
// resumed mirror job finishes the download it had started. It returns the
// newest record stored, or an empty one when nothing was new.
func (d *daemon) mirror(ctx context.Context, j scheduler.Job, e config.Environment, setState func(string)) (catalog.Record, error) {
	if j.ExportID != "" || j.PlatformBackupID != "" {
		return d.backup(ctx, j, e, setState, exporter.Request{})
	}
	jobID := j.ID
	return mirrorNew(ctx, d.app.cat, d.apiClient(), e, func(ctx context.Context, platformBackupID string) (catalog.Record, error) {
		rec, err := d.backup(ctx, j, e, setState, exporter.Request{JobID: jobID, PlatformBackupID: platformBackupID})
		jobID = catalog.NewID(time.Now())
		return rec, err
	})
}

// resumeJobs hands the jobs a stopped daemon left in flight to the
// scheduler: an export already requested is polled, not requested again.
func (d *daemon) resumeJobs(ctx context.Context) error {
	jobs, err := d.app.cat.Jobs(ctx)
	if err != nil {
		return fmt.Errorf("read in-flight jobs: %w", err)
	}
	cfg := d.config()
	for _, j := range jobs {
		switch j.State {
		case exporter.StateSucceeded, exporter.StateFailed:
			continue
		}
		if _, err := cfg.Environment(j.Site, j.Environment); err != nil || (j.ExportID == "" && j.PlatformBackupID == "") {
			// Not yet exported, or no longer configured: nothing to resume.
			d.log.Info("dropping unfinished job", "job_id", j.ID, "site", j.Site, "environment", j.Environment, "state", j.State)
			if err := d.app.cat.DeleteJob(ctx, j.ID); err != nil {
				return fmt.Errorf("drop unfinished job %s: %w", j.ID, err)
			}
			continue
		}
		d.log.Info("resuming job", "job_id", j.ID, "site", j.Site, "environment", j.Environment, "export_id", j.ExportID, "state", j.State)
		if err := d.sched.Resume(scheduler.Job{
			ID: j.ID, Site: j.Site, Environment: j.Environment, Trigger: j.Trigger, Reason: j.Reason,
			ExportID: j.ExportID, ExportRequestedAt: j.ExportRequestedAt, PlatformBackupID: j.PlatformBackupID,
		}); err != nil {
			d.log.Warn("cannot resume job", "job_id", j.ID, "error", err)
		}
	}
	return nil
}

// reload re-reads the configuration (SIGHUP, CONTRACT §2). An invalid one
// is refused and the running one kept. Otherwise every key applies to the
// jobs that start from now on: the API client is rebuilt (a token rotated
// in token_file included), with the budget, concurrency, compression,
// poll intervals, schedules, retention and the control token; running jobs
// finish with what they started with. Keys only a restart can change
// (state_dir, server.listen, storage targets) keep their running value and
// are named in the log; the reload then counts as a failure.
func (d *daemon) reload() {
	cfg, err := config.Load(d.path)
	if err != nil {
		d.met.ConfigReloaded(false)
		d.log.Error("configuration reload refused; keeping the running configuration", "error", err)
		return
	}
	old := d.config()
	needRestart := restartKeys(old, cfg)
	for _, k := range needRestart {
		d.log.Error("configuration reload: this key changes only at a restart; the running value stays in force", "key", k)
	}
	// What a restart must change stays as it runs.
	cfg.StateDir, cfg.Server.Listen, cfg.Storage.Local, cfg.Storage.S3 = old.StateDir, old.Server.Listen, old.Storage.Local, old.Storage.S3
	cfg.Log.Format = old.Log.Format
	c, err := codec.Parse(cfg.Storage.Compression)
	if err == nil {
		err = d.sched.Reload(schedEnvs(cfg))
	}
	if err == nil {
		err = d.sched.SetLimits(cfg.API.DBOperationsPerHour, cfg.Concurrency.Exports, cfg.Concurrency.Downloads)
	}
	if err == nil {
		err = d.srv.SetToken(cfg.Server.Token)
	}
	if err != nil {
		d.met.ConfigReloaded(false)
		d.log.Error("configuration reload refused; keeping the running configuration", "error", err)
		// Schedules may have been replaced before the refusal: put the
		// running ones back.
		_ = d.sched.Reload(schedEnvs(old))
		return
	}
	if d.logLevel != nil {
		if l, err := logging.ParseLevel(cfg.Log.Level); err == nil {
			d.logLevel.Set(l)
		}
	}
	d.app.setConfig(cfg, c)
	client, err := d.app.client(d.met.APIRequest, d.sched)
	if err != nil {
		d.met.ConfigReloaded(false)
		d.log.Error("configuration reload: the API client could not be rebuilt; keeping the running one", "error", err)
		return
	}
	ex := d.app.exporter(client, d.met, d.sched)
	d.mu.Lock()
	d.ex, d.api = ex, client
	d.mu.Unlock()
	kept := map[[2]string]bool{}
	for _, e := range cfg.Environments() {
		kept[[2]string{e.Site, e.Name}] = true
	}
	for _, e := range old.Environments() {
		if !kept[[2]string{e.Site, e.Name}] {
			d.met.Forget(e.Site, e.Name)
		}
	}
	d.met.ConfigReloaded(len(needRestart) == 0)
	d.log.Info("configuration reloaded", "environments", len(cfg.Environments()), "restart_needed", len(needRestart) > 0)
}

// restartKeys names the keys whose change needs a restart.
func restartKeys(old, cfg *config.Config) []string {
	var keys []string
	if old.StateDir != cfg.StateDir {
		keys = append(keys, "state_dir")
	}
	if old.Server.Listen != cfg.Server.Listen {
		keys = append(keys, "server.listen")
	}
	if !reflect.DeepEqual(old.Storage.Local, cfg.Storage.Local) {
		keys = append(keys, "storage.local")
	}
	if !reflect.DeepEqual(old.Storage.S3, cfg.Storage.S3) {
		keys = append(keys, "storage.s3")
	}
	if old.Log.Format != cfg.Log.Format {
		keys = append(keys, "log.format")
	}
	return keys
}

// apiClient is the API client in force (replaced by a reload).
func (d *daemon) apiClient() *vectorapi.Client {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.api
}

// exporter is the backup runner in force (replaced by a reload).
func (d *daemon) exporter() *exporter.Exporter {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.ex
}

// lastSuccess is the completion time of an environment's newest backup.
func (d *daemon) lastSuccess(site, env string) time.Time {
	r, ok, err := d.app.cat.Latest(context.Background(), site, env)
	if err != nil || !ok {
		return time.Time{}
	}
	return r.CompletedAt
}

// refreshStored sets one environment's stored count and bytes per target
// after a job and its retention run: reading that environment, not the whole
// catalog, keeps the cost of a job independent of the catalog's size.
func (d *daemon) refreshStored(ctx context.Context, site, env string) error {
	recs, err := d.app.cat.List(ctx, catalog.Filter{Site: site, Environment: env})
	if err != nil {
		return err
	}
	count := map[string]int{}
	bytes := map[string]int64{}
	for _, t := range d.app.targets {
		count[t.Name()] = 0
	}
	for _, r := range recs {
		for _, l := range r.Locations {
			count[l.Target]++
			bytes[l.Target] += r.StoredBytes
		}
	}
	for target, n := range count {
		d.met.SetStored(site, env, target, n, bytes[target])
	}
	return nil
}

// rebuildMetrics refills the stored-state gauges from the whole catalog, at
// start-up.
func (d *daemon) rebuildMetrics(ctx context.Context) error {
	recs, err := d.app.cat.List(ctx, catalog.Filter{})
	if err != nil {
		return err
	}
	stored := make([]metrics.StoredBackup, 0, len(recs))
	for _, r := range recs {
		sb := metrics.StoredBackup{Site: r.Site, Environment: r.Environment, StartedAt: r.StartedAt,
			CompletedAt: r.CompletedAt, SizeBytes: r.SizeBytes, StoredBytes: r.StoredBytes}
		for _, l := range r.Locations {
			sb.Targets = append(sb.Targets, l.Target)
		}
		stored = append(stored, sb)
	}
	d.met.Rebuild(stored)
	return nil
}

func schedEnvs(cfg *config.Config) []scheduler.Env {
	var envs []scheduler.Env
	for _, e := range cfg.Environments() {
		envs = append(envs, scheduler.Env{Site: e.Site, Name: e.Name, Schedule: e.Cron, Location: e.Location, Jitter: e.Jitter,
			Free: e.Source == config.SourceMirror})
	}
	return envs
}

// jobs is the control API's view of the scheduler.
type jobs struct{ d *daemon }

func (j jobs) Submit(site, env, trigger, reason string) (string, error) {
	cfg := j.d.config()
	e, err := cfg.Environment(site, env)
	if err != nil {
		if env == "" && siteExists(cfg, site) {
			return "", fmt.Errorf("%w: %w", server.ErrInvalid, err)
		}
		return "", fmt.Errorf("%w: %w", server.ErrNotFound, err)
	}
	id, err := j.d.sched.Submit(e.Site, e.Name, trigger, reason)
	if errors.Is(err, scheduler.ErrShuttingDown) {
		return "", fmt.Errorf("%w: %w", server.ErrUnavailable, err)
	}
	return id, err
}

func (j jobs) Status(id string) (server.JobStatus, bool) {
	st, ok := j.d.sched.Status(id)
	if !ok {
		return server.JobStatus{}, false
	}
	js := server.JobStatus{JobID: st.ID, State: st.State, BackupID: st.BackupID, Error: st.Error, Position: st.Position}
	if !st.WaitingUntil.IsZero() && st.FinishedAt.IsZero() {
		js.Waiting = waitingText(st.WaitingUntil)
	}
	if !st.EstimatedStart.IsZero() {
		js.EstimatedStart = &st.EstimatedStart
	}
	return js, true
}

func (j jobs) Cancel(id string) bool { return j.d.sched.Cancel(id) }

func (j jobs) Admit(ctx context.Context, op, ref string) error {
	release, err := j.d.sched.Export(scheduler.WithOperation(ctx, op, ref), catalog.TriggerManual)
	if err != nil {
		return err
	}
	release()
	return nil
}

// waitingText is how status and the job API say a job waits for budget.
func waitingText(until time.Time) string {
	return "waiting for API budget until " + until.UTC().Format(time.RFC3339)
}

func siteExists(cfg *config.Config, site string) bool {
	for _, s := range cfg.Sites {
		if s.Name == site {
			return true
		}
	}
	return false
}

// notify tells systemd about a state change, when it listens.
func notify(log *slog.Logger, f func() (bool, error)) {
	if _, err := f(); err != nil {
		log.Warn("notify systemd", "error", err)
	}
}

// watchdog returns the scheduler loop's heartbeat, a systemd watchdog ping,
// and how often to call it: three times per WatchdogSec, so a hung
// scheduler gets the service restarted while a busy one never misses.
// Without a watchdog it returns nil.
func watchdog(log *slog.Logger) (func(), time.Duration) {
	interval, ok := sdnotify.WatchdogInterval()
	if !ok {
		return nil, 0
	}
	return func() { notify(log, sdnotify.Watchdog) }, interval / 3
}

// recentExports are the export requests of the last budget window, from the
// catalog's jobs, so a restart does not spend the budget a second time.
func recentExports(ctx context.Context, cat *catalog.DB) ([]time.Time, error) {
	jobs, err := cat.Jobs(ctx)
	if err != nil {
		return nil, fmt.Errorf("read jobs: %w", err)
	}
	var recent []time.Time
	for _, j := range jobs {
		if !j.ExportRequestedAt.IsZero() && time.Since(j.ExportRequestedAt) < scheduler.BudgetWindow {
			recent = append(recent, j.ExportRequestedAt)
		}
	}
	return recent, nil
}

// archivePending copies the backups that f selects to the archive targets
// that lack them (an upload that failed earlier), and sets the pending gauge
// of every environment it looked at.
func (d *daemon) archivePending(ctx context.Context, f catalog.Filter) {
	ex := d.exporter()
	if len(ex.Archives) == 0 || ex.Spool {
		return
	}
	recs, err := d.app.cat.List(ctx, f)
	if err != nil {
		d.log.Warn("list backups to archive", "error", err)
		return
	}
	pending := map[[3]string]int{}
	for _, e := range d.config().Environments() {
		if (f.Site == "" || f.Site == e.Site) && (f.Environment == "" || f.Environment == e.Name) {
			for _, t := range ex.Archives {
				pending[[3]string{e.Site, e.Name, t.Name()}] = 0
			}
		}
	}
	for _, r := range recs {
		if len(ex.Missing(r)) == 0 {
			continue
		}
		updated, err := d.archiveOne(ctx, r)
		if err != nil {
			d.log.Warn("archive copy failed; will retry", "backup_id", r.ID, "site", r.Site, "environment", r.Environment, "error", err)
		} else {
			d.log.Info("backup archived", "backup_id", r.ID, "site", r.Site, "environment", r.Environment)
		}
		for _, t := range ex.Missing(updated) {
			pending[[3]string{r.Site, r.Environment, t.Name()}]++
		}
	}
	for k, n := range pending {
		d.met.SetArchivePending(k[0], k[1], k[2], n)
	}
}

// archiveOne copies one backup to the archive targets that lack it while
// holding its environment's lock, so that retention or forget cannot delete
// it between the copy and the record update; a backup deleted before the
// lock was taken is skipped.
func (d *daemon) archiveOne(ctx context.Context, r catalog.Record) (catalog.Record, error) {
	defer d.lockEnv(r.Site, r.Environment)()
	cur, err := d.app.cat.Get(ctx, r.ID)
	if err != nil {
		return r, fmt.Errorf("backup %s no longer archivable: %w", r.ID, err)
	}
	return d.exporter().Archive(ctx, cur, d.app.cat)
}

// lockEnv takes the lock of one environment's stored backups and returns
// its unlock.
func (d *daemon) lockEnv(site, env string) func() {
	d.envMu.Lock()
	if d.envLocks == nil {
		d.envLocks = map[[2]string]*sync.Mutex{}
	}
	mu, ok := d.envLocks[[2]string{site, env}]
	if !ok {
		mu = &sync.Mutex{}
		d.envLocks[[2]string{site, env}] = mu
	}
	d.envMu.Unlock()
	mu.Lock()
	return mu.Unlock
}

// Jobs kept in the catalog: the newest keptJobs, every unfinished one, and
// those whose export request the budget still counts.
const keptJobs = 1000

// pruneJobs bounds the catalog's jobs table after each job.
func (d *daemon) pruneJobs(ctx context.Context) {
	if _, err := d.app.cat.PruneJobs(ctx, keptJobs, time.Now().Add(-scheduler.BudgetWindow)); err != nil {
		d.log.Warn("prune finished jobs", "error", err)
	}
}

// checkArchive reports an unreachable S3 archive at start-up (backups still
// go to local storage and are copied later) and aborts multipart uploads an
// earlier process left unfinished: S3's counterpart of removing .partial
// files.
func (d *daemon) checkArchive(ctx context.Context) {
	st, ok := d.app.s3.(*s3.Target)
	if !ok {
		return
	}
	if err := st.Check(ctx); err != nil {
		d.log.Error("S3 archive unreachable; backups are copied once it answers", "error", err)
		return
	}
	aborted, err := st.AbortIncomplete(ctx, time.Now().Add(-time.Hour))
	if err != nil {
		d.log.Warn("abort unfinished S3 uploads", "error", err)
	}
	for _, key := range aborted {
		d.log.Info("aborted unfinished S3 upload", "key", key)
	}
}
