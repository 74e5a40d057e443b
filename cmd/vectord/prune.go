package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/builtfast/vectord/catalog"
	"github.com/builtfast/vectord/config"
	"github.com/builtfast/vectord/metrics"
	"github.com/builtfast/vectord/retention"
)

// runPrune: vectord prune [--dry-run] [--json]
func runPrune(ctx context.Context, m *Main, args []string) error {
	f := m.flags("prune")
	dryRun, asJSON := f.on("dry-run"), f.on("json")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("prune takes no arguments, got %q", pos)
	}
	a, err := openAppBeside(ctx, f.configPath(), !*dryRun, newLogger(m.Stderr, slog.LevelWarn))
	if err != nil {
		return err
	}
	defer a.Close()
	var rep pruneReport
	if a.cat != nil {
		rep, err = a.prune(ctx, *dryRun, nil, nil)
	} else {
		var raw json.RawMessage
		if raw, err = a.remote.Prune(ctx, *dryRun); err == nil {
			err = json.Unmarshal(raw, &rep)
		}
	}
	if err != nil {
		return err
	}
	if err := rep.print(m.Stdout, *asJSON, *dryRun, m.loc()); err != nil {
		return err
	}
	if rep.Failed > 0 {
		return fmt.Errorf("%d backups could not be deleted; they stay marked and are retried on the next retention run", rep.Failed)
	}
	return nil
}

// pruneDecision is retention's verdict on one backup, as prune prints it.
type pruneDecision struct {
	ID          string    `json:"id"`
	Site        string    `json:"site"`
	Environment string    `json:"environment"`
	StartedAt   time.Time `json:"started_at"`
	CompletedAt time.Time `json:"completed_at"`
	Keep        bool      `json:"keep"`
	Reasons     []string  `json:"reasons"`
	Deleted     bool      `json:"deleted"`
}

// pruneReport is one prune run: every decision, and how many deletes did
// not finish. The daemon's control API answers with it.
type pruneReport struct {
	Decisions []pruneDecision `json:"decisions"`
	Failed    int             `json:"failed"`
}

// reasonNotConfigured keeps the backups of a site or environment that left
// the configuration (CONTRACT §5): only vectord forget removes them.
const reasonNotConfigured = "not configured"

// envLocker serialises the changes to one environment's backups: retention,
// forget and archive copies of the same environment never overlap. nil
// locks nothing (a command that owns the catalog alone).
type envLocker func(site, env string) (unlock func())

func (l envLocker) lock(site, env string) func() {
	if l == nil {
		return func() {}
	}
	return l(site, env)
}

// prune applies retention to every configured environment and lists the
// backups of environments no longer configured as kept.
func (a *app) prune(ctx context.Context, dryRun bool, lock envLocker, m *metrics.Metrics) (pruneReport, error) {
	rep := pruneReport{Decisions: []pruneDecision{}}
	enf := a.enforcer(m)
	if !dryRun {
		if err := enf.RetryPending(ctx); err != nil {
			a.log.Warn("unfinished deletes remain", "error", err)
		}
	}
	configured := map[[2]string]bool{}
	for _, e := range a.config().Environments() {
		configured[[2]string{e.Site, e.Name}] = true
		unlock := lock.lock(e.Site, e.Name)
		// Retention decides on start times; prune shows completion
		// times, read before the records it deletes are gone.
		completed := map[string]time.Time{}
		recs, err := a.cat.List(ctx, catalog.Filter{Site: e.Site, Environment: e.Name})
		if err == nil {
			for _, r := range recs {
				completed[r.ID] = r.CompletedAt.UTC()
			}
		}
		var res retention.Result
		if err == nil {
			res, err = enf.Apply(ctx, e.Site, e.Name, policyFor(e), dryRun)
		}
		unlock()
		if err != nil {
			return rep, fmt.Errorf("retention for %s/%s: %w", e.Site, e.Name, err)
		}
		rep.Failed += len(res.Failed)
		for _, d := range res.Decisions {
			rep.Decisions = append(rep.Decisions, pruneDecision{ID: d.Backup.ID, Site: e.Site, Environment: e.Name,
				StartedAt: d.Backup.Time.UTC(), CompletedAt: completed[d.Backup.ID], Keep: d.Keep, Reasons: d.Reasons,
				Deleted: slices.Contains(res.Deleted, d.Backup.ID)})
		}
	}
	envs, err := a.cat.Environments(ctx)
	if err != nil {
		return rep, err
	}
	for _, se := range envs {
		if configured[se] {
			continue
		}
		recs, err := a.cat.List(ctx, catalog.Filter{Site: se[0], Environment: se[1]})
		if err != nil {
			return rep, err
		}
		for _, r := range recs {
			rep.Decisions = append(rep.Decisions, pruneDecision{ID: r.ID, Site: r.Site, Environment: r.Environment,
				StartedAt: r.StartedAt.UTC(), CompletedAt: r.CompletedAt.UTC(), Keep: true, Reasons: []string{reasonNotConfigured}})
		}
	}
	return rep, nil
}

// print prints the decisions, as JSON or one line per backup with its
// completion time in loc.
func (rep pruneReport) print(w io.Writer, asJSON, dryRun bool, loc *time.Location) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep.Decisions)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, d := range rep.Decisions {
		action := "keep"
		switch {
		case !d.Keep && dryRun:
			action = "would delete"
		case !d.Keep && d.Deleted:
			action = "deleted"
		case !d.Keep:
			action = "delete failed"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s/%s\t%s\t%s\n", action, d.ID, d.Site, d.Environment,
			backupTime(d.CompletedAt, loc), strings.Join(d.Reasons, ", "))
	}
	return tw.Flush()
}

// policyFor turns an environment's configured retention into a policy.
func policyFor(e config.Environment) retention.Policy {
	r := e.Retention
	return retention.Policy{
		Last: r.KeepLast, Hourly: r.KeepHourly, Daily: r.KeepDaily, Weekly: r.KeepWeekly,
		Monthly: r.KeepMonthly, Yearly: r.KeepYearly, Within: r.KeepWithin, PreImport: r.KeepPreImport,
		Location: e.Location,
	}
}

// enforcer builds the retention enforcer over the app's catalog and targets.
func (a *app) enforcer(m *metrics.Metrics) *retention.Enforcer {
	targets := map[string]retention.Target{}
	for _, t := range a.targets {
		targets[t.Name()] = t
	}
	var obs retention.Observer
	if m != nil {
		obs = retentionMetrics{m}
	}
	return &retention.Enforcer{Catalog: a.cat, Targets: targets, Observer: obs, Logger: a.log}
}

// retentionMetrics counts retention's deletes in the metrics.
type retentionMetrics struct{ m *metrics.Metrics }

func (r retentionMetrics) Deleted(site, env, target string) { r.m.RetentionDeleted(site, env, target) }
func (r retentionMetrics) DeleteFailed(site, env, target string) {
	r.m.RetentionDeleteFailed(site, env, target)
}

// applyRetention runs retention for one environment after a stored backup;
// a failure is logged, never the backup's failure.
func (a *app) applyRetention(ctx context.Context, e config.Environment, m *metrics.Metrics) {
	res, err := a.enforcer(m).Apply(ctx, e.Site, e.Name, policyFor(e), false)
	if err != nil {
		a.log.Warn("retention failed", "site", e.Site, "environment", e.Name, "error", err)
		return
	}
	if len(res.Deleted) > 0 || len(res.Failed) > 0 {
		a.log.Info("retention applied", "site", e.Site, "environment", e.Name, "deleted", len(res.Deleted), "failed", len(res.Failed))
	}
}
