package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/builtfast/vectord/config"
	"github.com/builtfast/vectord/metrics"
	"github.com/builtfast/vectord/retention"
)

// runPrune: vectord prune [--dry-run] [--json]
func runPrune(ctx context.Context, m *Main, args []string) error {
	f := m.flags("prune")
	dryRun := f.Bool("dry-run", false, "only print what retention would keep and delete")
	asJSON := f.Bool("json", false, "print the decisions as JSON")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("prune takes no arguments, got %q", pos)
	}
	a, err := openApp(ctx, f.configPath(), !*dryRun, newLogger(m.Stderr, slog.LevelWarn))
	if err != nil {
		return err
	}
	defer a.Close()
	enf := a.enforcer(nil)
	if !*dryRun {
		if err := enf.RetryPending(ctx); err != nil {
			a.log.Warn("unfinished deletes remain", "error", err)
		}
	}
	type decision struct {
		ID          string    `json:"id"`
		Site        string    `json:"site"`
		Environment string    `json:"environment"`
		StartedAt   time.Time `json:"started_at"`
		Keep        bool      `json:"keep"`
		Reasons     []string  `json:"reasons"`
		Deleted     bool      `json:"deleted"`
	}
	var all []decision
	failed := 0
	for _, e := range a.cfg.Environments() {
		res, err := enf.Apply(ctx, e.Site, e.Name, policyFor(e), *dryRun)
		if err != nil {
			return fmt.Errorf("retention for %s/%s: %w", e.Site, e.Name, err)
		}
		deleted := map[string]bool{}
		for _, id := range res.Deleted {
			deleted[id] = true
		}
		failed += len(res.Failed)
		for _, d := range res.Decisions {
			all = append(all, decision{ID: d.Backup.ID, Site: e.Site, Environment: e.Name, StartedAt: d.Backup.Time.UTC(),
				Keep: d.Keep, Reasons: d.Reasons, Deleted: deleted[d.Backup.ID]})
		}
	}
	if *asJSON {
		if all == nil {
			all = []decision{}
		}
		enc := json.NewEncoder(m.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(all); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
		for _, d := range all {
			action := "keep"
			switch {
			case !d.Keep && *dryRun:
				action = "would delete"
			case !d.Keep && d.Deleted:
				action = "deleted"
			case !d.Keep:
				action = "delete failed"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s/%s\t%s\t%s\n", action, d.ID, d.Site, d.Environment,
				d.StartedAt.Format(time.RFC3339), strings.Join(d.Reasons, ", "))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d backups could not be deleted; they stay marked and are retried on the next retention run", failed)
	}
	return nil
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
