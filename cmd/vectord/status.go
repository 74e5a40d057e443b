package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/builtfast/vectord/catalog"
	"github.com/builtfast/vectord/scheduler"
)

// statusReport is what `vectord status --json` prints and GET
// /api/v1/status answers (CONTRACT §2, §7).
type statusReport struct {
	Time         time.Time    `json:"time"`
	Daemon       bool         `json:"daemon"` // a running daemon answered
	Budget       budgetStatus `json:"budget"`
	Environments []envStatus  `json:"environments"`
}

type budgetStatus struct {
	PerHour     int        `json:"db_operations_per_hour"`
	Remaining   int        `json:"remaining"`
	NextAt      time.Time  `json:"next_at"`
	PausedUntil *time.Time `json:"paused_until,omitempty"`
}

type envStatus struct {
	Site            string                  `json:"site"`
	Environment     string                  `json:"environment"`
	Schedule        string                  `json:"schedule"`
	IntervalSeconds float64                 `json:"expected_interval_seconds"`
	LastSuccess     *time.Time              `json:"last_success,omitempty"`
	AgeSeconds      *float64                `json:"last_success_age_seconds,omitempty"`
	Overdue         bool                    `json:"overdue"` // older than one schedule interval
	NextRun         *time.Time              `json:"next_run,omitempty"`
	Job             *jobStatus              `json:"job,omitempty"`
	Targets         map[string]targetStatus `json:"targets"`
	LastDrill       string                  `json:"last_drill"`
}

type jobStatus struct {
	ID             string     `json:"job_id"`
	State          string     `json:"state"`
	Position       int        `json:"position,omitempty"`
	EstimatedStart *time.Time `json:"estimated_start,omitempty"`
	Waiting        string     `json:"waiting,omitempty"`
}

type targetStatus struct {
	Backups int   `json:"backups"`
	Bytes   int64 `json:"bytes"`
}

// status builds the report from the catalog and, in a daemon, its
// scheduler (next runs, jobs and their places in the queue).
func (a *app) status(ctx context.Context, sched *scheduler.Scheduler, now time.Time) (statusReport, error) {
	cfg := a.config()
	rep := statusReport{Time: now.UTC(), Daemon: sched != nil, Environments: []envStatus{}}
	if sched == nil {
		var err error
		if sched, err = a.budget(ctx, "status"); err != nil {
			return rep, err
		}
	}
	b := sched.Budget(now)
	rep.Budget = budgetStatus{PerHour: cfg.API.DBOperationsPerHour, Remaining: b.Remaining, NextAt: b.NextAt.UTC()}
	if !b.PausedUntil.IsZero() {
		p := b.PausedUntil.UTC()
		rep.Budget.PausedUntil = &p
	}
	for _, e := range cfg.Environments() {
		es := envStatus{Site: e.Site, Environment: e.Name, Schedule: e.Schedule, Targets: map[string]targetStatus{}}
		for _, t := range a.targets {
			if !a.spool || t != a.local {
				es.Targets[t.Name()] = targetStatus{}
			}
		}
		off := scheduler.Offset(e.Site, e.Name, e.Jitter)
		if e.Cron != nil {
			es.IntervalSeconds = scheduler.Interval(e.Cron, e.Location, now).Seconds()
			next := scheduler.Next(e.Cron, e.Location, off, now)
			if rep.Daemon {
				if n := sched.NextRun(e.Site, e.Name); !n.IsZero() {
					next = n
				}
			}
			if !next.IsZero() {
				n := next.UTC()
				es.NextRun = &n
			}
		}
		recs, err := a.cat.List(ctx, catalog.Filter{Site: e.Site, Environment: e.Name})
		if err != nil {
			return rep, err
		}
		for i, r := range recs {
			if i == 0 {
				ls := r.CompletedAt.UTC()
				age := now.Sub(ls).Seconds()
				es.LastSuccess, es.AgeSeconds = &ls, &age
			}
			for _, l := range r.Locations {
				ts := es.Targets[l.Target]
				ts.Backups++
				ts.Bytes += r.StoredBytes
				es.Targets[l.Target] = ts
			}
			if r.VerifiedAt > es.LastDrill {
				es.LastDrill = r.VerifiedAt
			}
		}
		es.Overdue = es.IntervalSeconds > 0 && (es.AgeSeconds == nil || *es.AgeSeconds > es.IntervalSeconds)
		if rep.Daemon {
			if st, ok := sched.EnvJob(e.Site, e.Name); ok {
				js := &jobStatus{ID: st.ID, State: st.State, Position: st.Position}
				if !st.EstimatedStart.IsZero() {
					es := st.EstimatedStart.UTC()
					js.EstimatedStart = &es
				}
				if !st.WaitingUntil.IsZero() {
					js.Waiting = waitingText(st.WaitingUntil)
				}
				es.Job = js
			}
		}
		rep.Environments = append(rep.Environments, es)
	}
	return rep, nil
}

// runStatus: vectord status [--json]
func runStatus(ctx context.Context, m *Main, args []string) error {
	f := m.flags("status")
	asJSON := f.on("json")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("status takes no arguments, got %q", pos)
	}
	a, err := openApp(ctx, f.configPath(), false, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	var rep statusReport
	if a.cat != nil {
		if rep, err = a.status(ctx, nil, time.Now()); err != nil {
			return err
		}
	} else {
		raw, err := a.remote.Status(ctx)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(raw, &rep); err != nil {
			return fmt.Errorf("decode the daemon's status: %w", err)
		}
	}
	if *asJSON {
		enc := json.NewEncoder(m.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rep.print(m.Stdout)
}

func (rep statusReport) print(w io.Writer) error {
	b := rep.Budget
	line := fmt.Sprintf("API budget: %d of %d database operations an hour available now", b.Remaining, b.PerHour)
	if b.PausedUntil != nil {
		line += "; " + waitingText(*b.PausedUntil) + " (the API refused one: 429)"
	} else if b.Remaining == 0 {
		line += "; next at " + b.NextAt.Local().Format(time.DateTime)
	}
	fmt.Fprintln(w, line)
	if !rep.Daemon {
		fmt.Fprintln(w, "no daemon answers: next runs are the schedules', no jobs are queued")
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SITE/ENV\tLAST SUCCESS\tAGE\tNEXT RUN\tJOB\tBACKUPS\tLAST DRILL")
	for _, e := range rep.Environments {
		last, age := "never", "-"
		if e.LastSuccess != nil {
			last = backupTime(*e.LastSuccess, time.Local)
			age = humanAge(time.Duration(*e.AgeSeconds) * time.Second)
		}
		if e.Overdue {
			age += " (overdue)"
		}
		next := "-"
		if e.NextRun != nil {
			next = backupTime(*e.NextRun, time.Local)
		}
		job := "-"
		if e.Job != nil {
			job = e.Job.State
			if e.Job.Position > 0 {
				job += fmt.Sprintf(" #%d", e.Job.Position)
			}
			if e.Job.EstimatedStart != nil {
				job += ", starts ~" + e.Job.EstimatedStart.Local().Format("15:04")
			}
			if e.Job.Waiting != "" {
				job += ", " + e.Job.Waiting
			}
		}
		backups := ""
		for _, name := range slices.Sorted(maps.Keys(e.Targets)) {
			t := e.Targets[name]
			if backups != "" {
				backups += " "
			}
			backups += fmt.Sprintf("%s:%d/%s", name, t.Backups, humanBytes(t.Bytes))
		}
		drill := e.LastDrill
		if drill == "" {
			drill = "never"
		}
		fmt.Fprintf(tw, "%s/%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Site, e.Environment, last, age, next, job, backups, drill)
	}
	return tw.Flush()
}
