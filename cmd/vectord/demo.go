package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/builtfast/vectord/catalog"
	"github.com/builtfast/vectord/config"
	"github.com/builtfast/vectord/scheduler"
	"github.com/builtfast/vectord/vectorsim"
)

// demoToken is the simulated API's token; it is not a real credential.
const demoToken = "demo-token-not-a-secret"

// runDemo: vectord demo — the whole job against a built-in simulated API.
func runDemo(ctx context.Context, m *Main, args []string) error {
	f := m.flags("demo")
	keep, size, verbose, duration := f.on("keep"), f.int64Value("dump-size"), f.on("v"), f.duration("duration")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("demo takes no arguments, got %q", pos)
	}
	dir, err := os.MkdirTemp("", "vectord-demo-")
	if err != nil {
		return err
	}
	if !*keep {
		defer os.RemoveAll(dir)
	}
	level := slog.LevelError
	if *verbose {
		level = slog.LevelInfo
	}
	log := newLogger(m.Stderr, level)

	sim := vectorsim.New(vectorsim.Options{Token: demoToken, DumpSize: *size})
	sim.AddSite("1001", "2001")
	sim.AddSite("1002")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("start simulated API: %w", err)
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	baseURL := "http://" + ln.Addr().String() + "/api/v1/vector"
	fmt.Fprintf(m.Stdout, "simulated Vector API at %s\nworking directory %s\n\n", baseURL, dir)

	cfg, err := config.Parse([]byte(demoConfig(baseURL, dir, freeLoopback())), filepath.Join(dir, "config.yaml"), func(string) (string, bool) { return "", false })
	if err != nil {
		return fmt.Errorf("demo configuration: %w", err)
	}
	fmt.Fprintf(m.Stdout, "running the daemon for %s: %d environments on @every schedules, keep_last 2\n\n", *duration, len(cfg.Environments()))
	d, err := newDaemon(ctx, filepath.Join(dir, "config.yaml"), cfg, log)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	d.onOutcome = func(j scheduler.Job, rec catalog.Record, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			fmt.Fprintf(m.Stdout, "%s  %-7s %-12s %-8s failed: %v\n", time.Now().Format("15:04:05"), j.Site, j.Environment, j.Trigger, err)
			return
		}
		fmt.Fprintf(m.Stdout, "%s  %-7s %-12s %-8s backup %s  export %s  %s SQL → %s zstd\n", time.Now().Format("15:04:05"),
			j.Site, j.Environment, j.Trigger, rec.ID, rec.ExportID, humanBytes(rec.SizeBytes), humanBytes(rec.StoredBytes))
	}
	runCtx, cancel := context.WithTimeout(ctx, *duration)
	defer cancel()
	metricsURL := "http://" + cfg.Server.Listen + "/metrics"
	scraped := make(chan string, 1)
	go func() {
		// Scrape the daemon's own /metrics just before it stops.
		select {
		case <-ctx.Done():
		case <-time.After(*duration - 500*time.Millisecond):
		}
		scraped <- scrape(metricsURL)
	}()
	if err := d.run(runCtx); err != nil {
		return err
	}

	a, err := openAppConfig(ctx, cfg, false, log)
	if err != nil {
		return err
	}
	defer a.Close()
	recs, err := a.records(ctx, catalog.Filter{})
	if err != nil {
		return err
	}
	var failed error
	for _, r := range recs {
		if err := a.verify(ctx, r); err != nil {
			failed = errors.Join(failed, fmt.Errorf("verify %s: %w", r.ID, err))
		}
	}
	if failed != nil {
		return failed
	}
	fmt.Fprintf(m.Stdout, "\nretention kept the 2 newest backups of each environment; catalog %s, every backup verified:\n",
		filepath.Join(dir, "state", "catalog.db"))
	if err := runList(ctx, &Main{Stdout: m.Stdout, Stderr: m.Stderr, Getenv: func(string) string { return "" }},
		[]string{"--config", writeDemoConfig(dir, baseURL, cfg.Server.Listen)}); err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "\nfrom %s:\n", metricsURL)
	for _, line := range strings.Split(<-scraped, "\n") {
		if (strings.HasPrefix(line, "vectord_backup_runs_total") || strings.HasPrefix(line, "vectord_backups_stored") ||
			strings.HasPrefix(line, "vectord_retention_deleted_total")) && !strings.HasSuffix(line, " 0") {
			fmt.Fprintln(m.Stdout, "  "+line)
		}
	}
	return nil
}

// scrape fetches a metrics page; an error is shown in its place.
func scrape(url string) string {
	resp, err := http.Get(url)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// freeLoopback picks a free loopback port for the demo daemon's HTTP server.
func freeLoopback() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:9469"
	}
	defer ln.Close()
	return ln.Addr().String()
}

func demoConfig(baseURL, dir, listen string) string {
	return fmt.Sprintf(`api:
  base_url: %s
  token: %s
  poll_interval: 100ms
  poll_max_interval: 500ms
  requests_per_minute: 1200     # the simulator's limits are generous
  db_operations_per_hour: 600
state_dir: %s
storage:
  compression: zstd
  local:
    path: %s
server:
  listen: %s
shutdown_timeout: 10s
defaults:
  schedule: "@every 2s"
  jitter: 0s
  retention: {keep_last: 2, keep_daily: 0, keep_weekly: 0, keep_monthly: 0}
sites:
  - name: acme
    id: "1001"
    environments:
      - name: development
      - name: production
        id: "2001"
  - name: globex
    id: "1002"
`, baseURL, demoToken, filepath.Join(dir, "state"), filepath.Join(dir, "backups"), listen)
}

// writeDemoConfig saves the demo's configuration so the printed commands
// (and the listing) read the same catalog a user could inspect with --keep.
func writeDemoConfig(dir, baseURL, listen string) string {
	p := filepath.Join(dir, "config.yaml")
	_ = os.WriteFile(p, []byte(demoConfig(baseURL, dir, listen)), 0o600)
	return p
}
