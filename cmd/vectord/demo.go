package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/builtfast/vectord/catalog"
	"github.com/builtfast/vectord/config"
	"github.com/builtfast/vectord/exporter"
	"github.com/builtfast/vectord/vectorsim"
)

// demoToken is the simulated API's token; it is not a real credential.
const demoToken = "demo-token-not-a-secret"

// runDemo: vectord demo — the whole job against a built-in simulated API.
func runDemo(ctx context.Context, m *Main, args []string) error {
	f := m.flags("demo")
	keep := f.Bool("keep", false, "keep the temporary directory instead of removing it")
	size := f.Int64("dump-size", 8<<20, "size of each simulated SQL dump in bytes")
	verbose := f.Bool("v", false, "log each step to stderr")
	if _, err := f.parse(args); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "vectord-demo-")
	if err != nil {
		return err
	}
	if !*keep {
		defer os.RemoveAll(dir)
	}
	level := slog.LevelWarn
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

	cfg, err := config.Parse([]byte(demoConfig(baseURL, dir)), filepath.Join(dir, "config.yaml"), func(string) (string, bool) { return "", false })
	if err != nil {
		return fmt.Errorf("demo configuration: %w", err)
	}
	a, err := openAppConfig(ctx, cfg, true, log)
	if err != nil {
		return err
	}
	defer a.Close()
	client, err := a.client(nil)
	if err != nil {
		return err
	}
	ex := a.exporter(client, nil, nil)
	for _, e := range cfg.Environments() {
		start := time.Now()
		rec, err := ex.Run(ctx, exporter.Request{
			Site: e.Site, Environment: e.Name, SiteID: e.SiteID, EnvironmentID: e.EnvironmentID,
			Trigger: catalog.TriggerSchedule, ExportTimeout: e.ExportTimeout,
		})
		if err != nil {
			return fmt.Errorf("backup %s/%s: %w", e.Site, e.Name, err)
		}
		fmt.Fprintf(m.Stdout, "backed up %-7s %-12s export %s  %s of SQL → %s zstd in %s\n", e.Site, e.Name, rec.ExportID,
			humanBytes(rec.SizeBytes), humanBytes(rec.StoredBytes), time.Since(start).Round(time.Millisecond))
	}
	fmt.Fprintln(m.Stdout)
	recs, err := a.cat.List(ctx, catalog.Filter{})
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
	fmt.Fprintf(m.Stdout, "catalog (%s), every backup verified:\n", filepath.Join(dir, "catalog.db"))
	a.Close()
	return runList(ctx, &Main{Stdout: m.Stdout, Stderr: m.Stderr, Getenv: func(string) string { return "" }},
		[]string{"--config", writeDemoConfig(dir, baseURL)})
}

func demoConfig(baseURL, dir string) string {
	return fmt.Sprintf(`api:
  base_url: %s
  token: %s
  poll_interval: 100ms
  poll_max_interval: 500ms
state_dir: %s
storage:
  compression: zstd
  local:
    path: %s
defaults:
  schedule: "@every 10s"
  jitter: 0s
sites:
  - name: acme
    id: "1001"
    environments:
      - name: development
      - name: production
        id: "2001"
  - name: globex
    id: "1002"
`, baseURL, demoToken, dir, filepath.Join(dir, "backups"))
}

// writeDemoConfig saves the demo's configuration so the printed commands
// (and the listing) read the same catalog a user could inspect with --keep.
func writeDemoConfig(dir, baseURL string) string {
	p := filepath.Join(dir, "config.yaml")
	_ = os.WriteFile(p, []byte(demoConfig(baseURL, dir)), 0o600)
	return p
}
