package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/builtfast/vectord/scheduler"
)

// runConfig: vectord config check
func runConfig(ctx context.Context, m *Main, args []string) error {
	f := m.flags("config")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] != "check" {
		return usageErrorf("usage: vectord config check [--config PATH]")
	}
	cfg, err := loadConfig(f.configPath())
	if err != nil {
		return err
	}
	now := time.Now()
	fmt.Fprintf(m.Stdout, "%s: configuration is valid\n\n", f.configPath())
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SITE\tENVIRONMENT\tSCHEDULE\tTIMEZONE\tNEXT RUNS")
	for _, e := range cfg.Environments() {
		offset := scheduler.Offset(e.Site, e.Name, e.Jitter)
		runs := scheduler.NextN(e.Cron, e.Location, offset, now, 3)
		next := ""
		for i, r := range runs {
			if i > 0 {
				next += ", "
			}
			next += r.In(e.Location).Format("2006-01-02 15:04:05 MST")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Site, e.Name, e.Schedule, e.Location, next)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	budget := cfg.API.DBOperationsPerHour
	pressure := scheduler.BudgetReport(schedEnvs(cfg), budget, now)
	if len(pressure) == 0 {
		fmt.Fprintf(m.Stdout, "\nbudget: the schedules fit in %d database operations an hour\n", budget)
		return nil
	}
	fmt.Fprintf(m.Stdout, "\nwarning: the schedules ask for more exports than db_operations_per_hour (%d) serves; they queue:\n", budget)
	for _, p := range pressure {
		line := fmt.Sprintf("  %s–%s UTC: %d exports due, the last one starts at %s",
			p.Start.UTC().Format("2006-01-02 15:04"), p.End.UTC().Format("15:04"), p.Due, p.LastStart.UTC().Format("2006-01-02 15:04"))
		if p.Skipped > 0 {
			line += fmt.Sprintf(" (%d runs skipped: their previous run still waits)", p.Skipped)
		}
		fmt.Fprintln(m.Stdout, line)
	}
	return nil
}
