package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/builtfast/vectord/catalog"
	"github.com/builtfast/vectord/config"
	"github.com/builtfast/vectord/exporter"
	"github.com/builtfast/vectord/restore"
	"github.com/builtfast/vectord/scheduler"
	"github.com/builtfast/vectord/server"
)

// runRestore: vectord restore ID --site S [--env E] [--yes] [--no-snapshot]
func runRestore(ctx context.Context, m *Main, args []string) error {
	return runImportCommand(ctx, m, "restore", args)
}

// runImport: vectord import FILE --site S [--env E] [--yes] [--no-snapshot]
func runImport(ctx context.Context, m *Main, args []string) error {
	return runImportCommand(ctx, m, "import", args)
}

func runImportCommand(ctx context.Context, m *Main, name string, args []string) error {
	f := m.flags(name)
	site, env, yes, noSnapshot := f.str("site"), f.str("env"), f.on("yes"), f.on("no-snapshot")
	reason, verbose := f.str("reason"), f.on("v")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	what := "backup id"
	if name == "import" {
		what = "SQL file"
	}
	if len(pos) != 1 {
		return usageErrorf("%s takes exactly one %s", name, what)
	}
	if *site == "" {
		return usageErrorf("%s: --site is required", name)
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	log := newLogger(m.Stderr, level)
	a, err := openApp(ctx, f.configPath(), true, log)
	if errors.Is(err, catalog.ErrLocked) {
		// A daemon owns the catalog: read records and take the snapshot
		// through it.
		a, err = openApp(ctx, f.configPath(), false, log)
	}
	if err != nil {
		return err
	}
	defer a.Close()
	e, err := a.config().Environment(*site, *env)
	if err != nil {
		return &usageError{err: err}
	}
	t := restore.Target{Site: e.Site, Environment: e.Name, SiteID: e.SiteID, EnvironmentID: e.EnvironmentID}

	var src restore.Source
	var from restore.Origin
	if name == "restore" {
		rec, err := a.record(ctx, pos[0])
		if err != nil {
			return err
		}
		src = restore.Source{
			Name: fmt.Sprintf("%s_%s_%s.sql", rec.Site, rec.Environment, rec.ID), Size: rec.SizeBytes, SHA256: rec.SHA256,
			Open: func(ctx context.Context) (io.ReadCloser, error) { return a.open(ctx, rec, m.Stderr) },
		}
		from = restore.Origin{BackupID: rec.ID, Site: rec.Site, Environment: rec.Environment,
			CompletedAt: rec.CompletedAt.In(m.loc()), Size: rec.SizeBytes}
	} else {
		if src, err = fileSource(pos[0]); err != nil {
			return err
		}
		from = restore.Origin{File: pos[0], Size: src.Size}
		if abs, err := filepath.Abs(pos[0]); err == nil {
			from.File = abs
		}
	}

	if err := restore.Confirm(m.Stdin, m.Stderr, isTerminal(m.Stdin) && isTerminal(m.Stderr), *yes, t, from); err != nil {
		if errors.Is(err, restore.ErrNotConfirmed) && !isTerminal(m.Stdin) {
			return &usageError{err: err}
		}
		return err
	}
	// Without a daemon, this command spends from the ledger's budget
	// itself; beside one, the daemon admits its database operations.
	var budget *scheduler.Scheduler
	if a.cat != nil {
		if budget, err = a.budget(ctx, name); err != nil {
			return err
		}
	}
	client, err := a.client(nil, budget)
	if err != nil {
		return err
	}
	im := &restore.Importer{
		API:             client,
		Snapshot:        a.snapshotter(client, e, budget),
		PollInterval:    a.config().API.PollInterval,
		PollMaxInterval: a.config().API.PollMaxInterval,
		Logger:          log,
	}
	// The import's database operation spends from the same budget as
	// every backup: this command's ledger, or the daemon's.
	if budget != nil {
		im.Budget = func(ctx context.Context, op, ref string) error {
			release, err := budget.Export(scheduler.WithOperation(ctx, op, ref), catalog.TriggerManual)
			if err == nil {
				release()
			}
			return err
		}
		im.Pause = budget.Pause
	} else if a.remote != nil {
		im.Budget = a.remote.Admit
	}
	if isTerminal(m.Stderr) {
		bar := &progressBar{w: m.Stderr, start: time.Now()}
		im.Progress = func(p restore.Progress) {
			bar.update(exporter.Progress{Phase: p.Phase, Bytes: p.Bytes, Total: p.Total})
		}
		defer bar.done()
	}
	res, err := im.Import(ctx, t, src, restore.Options{NoSnapshot: *noSnapshot, Reason: *reason})
	if err != nil {
		if errors.Is(err, restore.ErrSnapshot) {
			return fmt.Errorf("%w (the import was not started; --no-snapshot skips the snapshot)", err)
		}
		return err
	}
	if res.SnapshotID != "" {
		fmt.Fprintf(m.Stdout, "pre-import snapshot %s\n", res.SnapshotID)
	}
	fmt.Fprintf(m.Stdout, "imported %d bytes into %s (import %s) in %s\n", res.Bytes, t, res.ImportID, res.Duration.Round(time.Millisecond))
	return nil
}

// fileSource is an SQL file on disk.
func fileSource(path string) (restore.Source, error) {
	st, err := os.Stat(path)
	if err != nil {
		return restore.Source{}, err
	}
	if !st.Mode().IsRegular() {
		return restore.Source{}, fmt.Errorf("%s is not a regular file", path)
	}
	return restore.Source{
		Name: filepath.Base(path), Size: st.Size(),
		Open: func(ctx context.Context) (io.ReadCloser, error) { return os.Open(path) },
	}, nil
}

// snapshotter takes pre-import snapshots: with the exporter when this
// process owns the catalog, else through the daemon that does.
func (a *app) snapshotter(client exporter.API, e config.Environment, budget *scheduler.Scheduler) restore.Snapshotter {
	if a.cat == nil {
		return daemonSnapshotter{a.remote}
	}
	return localSnapshotter{ex: a.exporter(client, nil, budget), env: e, app: a}
}

// snapshotSource is how a pre-import snapshot is taken: a mirror copies
// what the platform has, but a snapshot must be of now, so it makes a
// platform backup.
func snapshotSource(s string) string {
	if s == config.SourceMirror {
		return config.SourceBackup
	}
	return s
}

type localSnapshotter struct {
	ex  *exporter.Exporter
	env config.Environment
	app *app
}

func (s localSnapshotter) Snapshot(ctx context.Context, site, env, reason string) (string, error) {
	rec, err := s.ex.Run(ctx, exporter.Request{
		Site: s.env.Site, Environment: s.env.Name, SiteID: s.env.SiteID, EnvironmentID: s.env.EnvironmentID,
		Trigger: catalog.TriggerPreImport, Reason: reason, ExportTimeout: s.env.ExportTimeout,
		Source: snapshotSource(s.env.Source),
	})
	if err != nil {
		return "", err
	}
	s.app.applyRetention(ctx, s.env, nil)
	return rec.ID, nil
}

type daemonSnapshotter struct{ c *server.Client }

func (s daemonSnapshotter) Snapshot(ctx context.Context, site, env, reason string) (string, error) {
	id, err := s.c.StartBackup(ctx, site, env, catalog.TriggerPreImport, reason)
	if err != nil {
		return "", err
	}
	st, err := waitJob(ctx, s.c, id, nil)
	if err != nil {
		return "", err
	}
	if st.State != exporter.StateSucceeded {
		return "", errors.New(st.Error)
	}
	return st.BackupID, nil
}
