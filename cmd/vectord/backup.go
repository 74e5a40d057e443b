package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/builtfast/vectord/catalog"
	"github.com/builtfast/vectord/config"
	"github.com/builtfast/vectord/exporter"
	"github.com/builtfast/vectord/scheduler"
	"github.com/builtfast/vectord/server"
)

// runBackup: vectord backup --site S [--env E] [--reason TEXT]
func runBackup(ctx context.Context, m *Main, args []string) error {
	f := m.flags("backup")
	site, env, reason, verbose := f.str("site"), f.str("env"), f.str("reason"), f.on("v")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("backup takes no arguments, got %q", pos)
	}
	if *site == "" {
		return usageErrorf("backup: --site is required")
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	log := newLogger(m.Stderr, level)
	a, err := openApp(ctx, f.configPath(), true, log)
	if errors.Is(err, catalog.ErrLocked) {
		return backupViaDaemon(ctx, m, f.configPath(), *site, *env, *reason)
	}
	if err != nil {
		return err
	}
	defer a.Close()
	e, err := a.config().Environment(*site, *env)
	if err != nil {
		return &usageError{err: err}
	}
	budget, err := a.budget(ctx, "backup")
	if err != nil {
		return err
	}
	client, err := a.client(nil, budget)
	if err != nil {
		return err
	}
	req := exporter.Request{
		Site: e.Site, Environment: e.Name, SiteID: e.SiteID, EnvironmentID: e.EnvironmentID,
		Trigger: catalog.TriggerManual, Reason: *reason, ExportTimeout: e.ExportTimeout, Source: e.Source,
	}
	var bar *progressBar
	if isTerminal(m.Stderr) {
		bar = &progressBar{w: m.Stderr, start: time.Now()}
		req.Progress = bar.update
	} else {
		var phase atomic.Value
		phase.Store("")
		req.Progress = func(p exporter.Progress) { phase.Store(p.Phase) }
		stop := reportBudgetWait(ctx, budget, m.Stderr, func() bool {
			p := phase.Load().(string)
			return p == "exporting" || strings.HasPrefix(p, "waiting for API budget")
		})
		defer stop()
	}
	ex := a.exporter(client, nil, budget)
	var rec catalog.Record
	if e.Source == config.SourceMirror {
		// A mirror stores the platform's backups not yet in the catalog.
		rec, err = mirrorNew(ctx, a.cat, client, e, func(ctx context.Context, platformBackupID string) (catalog.Record, error) {
			r := req
			r.PlatformBackupID = platformBackupID
			return ex.Run(ctx, r)
		})
		if err == nil && rec.ID == "" {
			bar.done()
			fmt.Fprintf(m.Stderr, "vectord: %s/%s: no platform backup that is not stored already\n", e.Site, e.Name)
			return nil
		}
	} else {
		rec, err = ex.Run(ctx, req)
	}
	bar.done()
	if err != nil {
		return fmt.Errorf("backup of %s/%s failed: %w", e.Site, e.Name, err)
	}
	fmt.Fprintln(m.Stdout, rec.ID)
	a.applyRetention(ctx, e, nil)
	return nil
}

// progressBar draws a job's progress on one terminal line.
type progressBar struct {
	w      io.Writer
	start  time.Time
	phase  string
	dlFrom time.Time
	drawn  bool
}

func (p *progressBar) update(pr exporter.Progress) {
	now := time.Now()
	if pr.Phase != p.phase {
		p.phase = pr.Phase
		if pr.Phase == "downloading" {
			p.dlFrom = now
		}
	}
	line := fmt.Sprintf("%s  %s", pr.Phase, now.Sub(p.start).Round(time.Second))
	if pr.Phase == "downloading" || pr.Phase == "storing" {
		secs := now.Sub(p.dlFrom).Seconds()
		rate := 0.0
		if secs > 0 {
			rate = float64(pr.Bytes) / secs
		}
		line = fmt.Sprintf("%s  %s", pr.Phase, humanBytes(pr.Bytes))
		if pr.Total > 0 {
			line += fmt.Sprintf(" / %s (%d%%)", humanBytes(pr.Total), pr.Bytes*100/pr.Total)
		}
		line += fmt.Sprintf("  %s/s", humanBytes(int64(rate)))
		if pr.Total > 0 && rate > 0 && pr.Bytes < pr.Total {
			eta := time.Duration(float64(pr.Total-pr.Bytes) / rate * float64(time.Second))
			line += fmt.Sprintf("  ETA %s", eta.Round(time.Second))
		}
	}
	fmt.Fprintf(p.w, "\r\033[K%s", line)
	p.drawn = true
}

func (p *progressBar) done() {
	if p != nil && p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for v := n / unit; v >= unit; v /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// backupViaDaemon asks the running daemon, which holds the catalog, to take
// the backup, and waits for it.
func backupViaDaemon(ctx context.Context, m *Main, cfgPath, site, env, reason string) error {
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return err
	}
	c, err := daemonClient(ctx, cfg)
	if err != nil {
		return err
	}
	id, err := c.StartBackup(ctx, site, env, catalog.TriggerManual, reason)
	if errors.Is(err, server.ErrNotFound) || errors.Is(err, server.ErrInvalid) {
		return &usageError{err: err}
	}
	if err != nil {
		return fmt.Errorf("ask the daemon for a backup: %w", err)
	}
	var bar *progressBar
	if isTerminal(m.Stderr) {
		bar = &progressBar{w: m.Stderr, start: time.Now()}
	}
	st, err := waitJobReporting(ctx, c, id, bar, m.Stderr)
	bar.done()
	if err != nil {
		return fmt.Errorf("wait for job %s: %w", id, err)
	}
	if st.State != exporter.StateSucceeded {
		return fmt.Errorf("backup of %s failed: %s", site, st.Error)
	}
	fmt.Fprintln(m.Stdout, st.BackupID)
	return nil
}

// reportBudgetWait says every minute, while the budget admits nothing,
// until when it waits: a backup without a terminal never waits in silence.
// The returned stop ends the reports.
func reportBudgetWait(ctx context.Context, budget *scheduler.Scheduler, w io.Writer, atGate func() bool) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTimer(time.Second) // a backup admitted at once says nothing
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			now := time.Now()
			if st := budget.Budget(now); atGate() && st.NextAt.After(now) {
				why := "the hour's database operations are spent"
				if !st.PausedUntil.IsZero() {
					why = "the API refused a database operation (429)"
				}
				fmt.Fprintf(w, "vectord: %s (%s)\n", waitingText(st.NextAt), why)
			}
			t.Reset(waitReportEvery)
		}
	}()
	return func() { cancel(); <-done }
}

// waitReportEvery is how often a command without a terminal says why its
// job still waits in the daemon's queue.
const waitReportEvery = time.Minute

// waitJobReporting is waitJob for a person waiting on a daemon's job:
// without a terminal it prints the job's queue position, the reason and
// the estimated start on report every minute while the job waits; when ctx
// ends (Ctrl-C, SIGTERM) the job is canceled in the daemon, so nothing
// runs that nobody waits for.
func waitJobReporting(ctx context.Context, c *server.Client, id string, bar *progressBar, report io.Writer) (server.JobStatus, error) {
	var last time.Time
	st, err := waitJobEach(ctx, c, id, bar, func(st server.JobStatus) {
		if bar != nil || (st.Position == 0 && st.Waiting == "") || time.Since(last) < waitReportEvery {
			return
		}
		last = time.Now()
		fmt.Fprintln(report, "vectord: "+queueLine(id, st))
	})
	if err != nil && ctx.Err() != nil && !st.Done() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if cerr := c.CancelJob(cctx, id); cerr == nil {
			fmt.Fprintf(report, "vectord: job %s canceled in the daemon\n", id)
		}
	}
	return st, err
}

// queueLine says where a waiting job stands.
func queueLine(id string, st server.JobStatus) string {
	line := fmt.Sprintf("job %s %s", id, st.State)
	if st.Position > 0 {
		line += fmt.Sprintf(", position %d in the queue", st.Position)
	}
	if st.Waiting != "" {
		line += ", " + st.Waiting
	} else if st.Position > 0 {
		line += ", waiting for API budget"
	}
	if st.EstimatedStart != nil {
		line += ", estimated start " + st.EstimatedStart.Local().Format("15:04:05 MST")
	}
	return line
}

// waitJob polls a daemon job until it ends, showing its state on bar.
func waitJob(ctx context.Context, c *server.Client, id string, bar *progressBar) (server.JobStatus, error) {
	return waitJobEach(ctx, c, id, bar, nil)
}

// waitJobEach is waitJob calling each (if set) with every status seen.
func waitJobEach(ctx context.Context, c *server.Client, id string, bar *progressBar, each func(server.JobStatus)) (server.JobStatus, error) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := c.Job(ctx, id)
		if err != nil {
			return st, err
		}
		if st.Done() {
			return st, nil
		}
		if each != nil {
			each(st)
		}
		if bar != nil {
			phase := st.State
			if st.Position > 0 || st.Waiting != "" {
				phase = queueLine(id, st)
			}
			bar.update(exporter.Progress{Phase: phase, Total: -1})
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-tick.C:
		}
	}
}
