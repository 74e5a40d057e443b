package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/builtfast/vectord/catalog"
	"github.com/builtfast/vectord/codec"
	"github.com/builtfast/vectord/config"
	"github.com/builtfast/vectord/exporter"
	"github.com/builtfast/vectord/integrity"
	"github.com/builtfast/vectord/logging"
	"github.com/builtfast/vectord/scheduler"
	"github.com/builtfast/vectord/server"
	"github.com/builtfast/vectord/storage"
	"github.com/builtfast/vectord/storage/local"
	"github.com/builtfast/vectord/storage/s3"
	"github.com/builtfast/vectord/vectorapi"
)

// app is what a command works with: the configuration, the open catalog, the
// storage targets and, for commands that talk to the API, the client.
type app struct {
	mu      sync.RWMutex // guards cfg and codec, replaced by a daemon's reload
	cfg     *config.Config
	cat     *catalog.DB      // nil when a running daemon holds the catalog
	remote  *server.Client   // that daemon's control API, when cat is nil
	targets []storage.Target // every configured target, by location name
	local   *local.Target    // storage.local, or the spool when only S3 is set
	root    string           // local's directory
	spool   bool             // local is a spool for S3, not a storage target
	s3      storage.Target
	codec   codec.Codec
	log     *slog.Logger
}

// config is the configuration in force.
func (a *app) config() *config.Config {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.cfg
}

// setConfig puts a reloaded configuration in force, with its compression.
func (a *app) setConfig(cfg *config.Config, c codec.Codec) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cfg, a.codec = cfg, c
}

// loadConfig loads the configuration; any problem is a usage error (exit 2).
func loadConfig(path string) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, &usageError{err: err}
	}
	return cfg, nil
}

// openApp loads the configuration and opens the catalog and storage. A
// writable app owns the catalog: it also removes stray .partial files left
// by an interrupted download.
func openApp(ctx context.Context, path string, writable bool, log *slog.Logger) (*app, error) {
	cfg, err := loadConfig(path)
	if err != nil {
		return nil, err
	}
	return openAppConfig(ctx, cfg, writable, log)
}

// openAppBeside opens the app for a command that works beside a running
// daemon (CONTRACT §2): when a daemon holds the catalog, even a command that
// changes it gets an app without a catalog whose remote reaches the daemon's
// control API.
func openAppBeside(ctx context.Context, path string, writable bool, log *slog.Logger) (*app, error) {
	a, err := openApp(ctx, path, writable, log)
	if writable && errors.Is(err, catalog.ErrLocked) {
		return openApp(ctx, path, false, log)
	}
	return a, err
}

func openAppConfig(ctx context.Context, cfg *config.Config, writable bool, log *slog.Logger) (*app, error) {
	a, err := openAppUnchecked(ctx, cfg, writable, log)
	if err != nil || a.cat == nil {
		return a, err
	}
	if err := a.checkNotLost(ctx); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// checkNotLost refuses a catalog that holds no backup while storage holds
// backup manifests: the catalog was lost or replaced, and starting fresh
// over it would drop every old backup out of retention and catch-up.
func (a *app) checkNotLost(ctx context.Context) error {
	empty, err := a.cat.Empty(ctx)
	if err != nil || !empty {
		return err
	}
	for _, t := range a.targets {
		objs, err := t.List(ctx, "")
		if err != nil {
			// An unreachable archive must not stop vectord; the other
			// targets still tell.
			a.log.Warn("cannot look for manifests of a lost catalog", "target", t.Name(), "error", err)
			continue
		}
		for _, o := range objs {
			if strings.HasSuffix(o.Key, ".json") && strings.Contains(o.Key, ".sql") {
				return fmt.Errorf("the catalog %s holds no backups but %s storage holds backup manifests (%s): the catalog was lost or replaced; run vectord catalog rebuild (with the same --config) to rebuild it from them",
					a.cat.Path(), t.Name(), o.Key)
			}
		}
	}
	return nil
}

// openAppUnchecked is openAppConfig without the lost-catalog check: for
// catalog rebuild, which is the cure.
func openAppUnchecked(ctx context.Context, cfg *config.Config, writable bool, log *slog.Logger) (*app, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &app{cfg: cfg, log: log}
	c, err := codec.Parse(cfg.Storage.Compression)
	if err != nil {
		return nil, &usageError{err: fmt.Errorf("storage.compression: %w", err)}
	}
	a.codec = c
	if cfg.Storage.Local != nil {
		lt, err := local.New(cfg.Storage.Local.Path)
		if err != nil {
			return nil, fmt.Errorf("open storage.local.path: %w", err)
		}
		a.local, a.root = lt, cfg.Storage.Local.Path
		a.targets = append(a.targets, lt)
	}
	if c := cfg.Storage.S3; c != nil {
		st, err := s3.New(s3.Options{
			Endpoint: c.Endpoint, Region: c.Region, Bucket: c.Bucket, Prefix: c.Prefix,
			AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey,
			StorageClass: c.StorageClass, ForcePathStyle: c.ForcePathStyle,
		})
		if err != nil {
			return nil, &usageError{err: fmt.Errorf("storage.s3: %w", err)}
		}
		a.s3 = st
		a.targets = append(a.targets, st)
		if a.local == nil {
			// S3 only: downloads are staged under state_dir and removed
			// once uploaded.
			spool, err := local.New(filepath.Join(cfg.StateDir, "spool"))
			if err != nil {
				return nil, fmt.Errorf("open the S3 spool under state_dir: %w", err)
			}
			a.local, a.spool, a.root = spool, true, filepath.Join(cfg.StateDir, "spool")
		}
	}
	if len(a.targets) == 0 {
		return nil, usageErrorf("storage: no storage target configured (set storage.local.path or storage.s3)")
	}
	dbPath := filepath.Join(cfg.StateDir, "catalog.db")
	if !writable && !fileExists(dbPath) {
		// No backup taken yet: create the empty catalog so that reading
		// it shows nothing rather than an error.
		db, err := catalog.Open(dbPath, catalog.Options{Timeout: time.Second})
		if err != nil && !errors.Is(err, catalog.ErrLocked) {
			return nil, err
		}
		if err == nil {
			db.Close()
		}
	}
	db, err := catalog.Open(dbPath, catalog.Options{Timeout: time.Second, ReadOnly: !writable})
	if errors.Is(err, catalog.ErrLocked) && !writable {
		// A daemon holds the catalog: read it through the daemon instead.
		if a.remote, err = daemonClient(ctx, cfg); err != nil {
			return nil, err
		}
		return a, nil
	}
	if err != nil {
		return nil, err
	}
	a.cat = db
	if writable && a.local != nil {
		removed, err := a.local.CleanPartials(ctx)
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("remove stray partial downloads: %w", err)
		}
		for _, p := range removed {
			log.Info("removed partial download", "path", p)
		}
	}
	return a, nil
}

// daemonClient reaches the daemon that holds the catalog through its control
// API on server.listen.
func daemonClient(ctx context.Context, cfg *config.Config) (*server.Client, error) {
	base, err := server.LocalURL(cfg.Server.Listen)
	if err != nil {
		return nil, &usageError{err: fmt.Errorf("server.listen: %w", err)}
	}
	c := server.NewClient(base, cfg.Server.Token, nil)
	if err := c.Ping(ctx); err != nil {
		return nil, fmt.Errorf("%w, and no vectord answers on server.listen %s: %v", catalog.ErrLocked, cfg.Server.Listen, err)
	}
	return c, nil
}

// records lists catalog records, from the catalog or the daemon.
func (a *app) records(ctx context.Context, f catalog.Filter) ([]catalog.Record, error) {
	if a.cat != nil {
		return a.cat.List(ctx, f)
	}
	return a.remote.Backups(ctx, f.Site, f.Environment)
}

// record finds one record by its id or a unique prefix of it, from the
// catalog or the daemon. An ambiguous prefix is a usage error naming the
// candidates; an unknown one says where to look.
func (a *app) record(ctx context.Context, id string) (catalog.Record, error) {
	var r catalog.Record
	var err error
	if a.cat != nil {
		var full string
		if full, err = a.cat.Resolve(ctx, id); err == nil {
			r, err = a.cat.Get(ctx, full)
		}
	} else {
		r, err = a.remote.Backup(ctx, id)
	}
	switch {
	case errors.Is(err, catalog.ErrAmbiguous) || errors.Is(err, server.ErrAmbiguous):
		return catalog.Record{}, &usageError{err: err}
	case errors.Is(err, catalog.ErrNotFound) || errors.Is(err, server.ErrNotFound):
		return catalog.Record{}, fmt.Errorf("no backup with id %s (see vectord list): %w", id, catalog.ErrNotFound)
	}
	return r, err
}

func (a *app) Close() error {
	if a.cat != nil {
		return a.cat.Close()
	}
	return nil
}

// client builds the Vector API client from the configuration. With a
// budget, every resend of a database operation is written to its ledger
// first, what the API says of its remaining budget bounds the plan, and an
// accepted database operation ends a 429's probing.
func (a *app) client(observe func(op, code string), budget *scheduler.Scheduler) (*vectorapi.Client, error) {
	api := a.config().API
	o := vectorapi.Options{
		BaseURL:           api.BaseURL,
		Token:             api.Token,
		Routes:            api.Routes,
		Timeout:           api.Timeout,
		RequestsPerMinute: api.RequestsPerMinute,
		UserAgent:         "vectord/" + version,
		Logger:            a.log,
		Observe:           observe,
	}
	if budget != nil {
		o.BeforeRetry = budget.Retried
		o.RateLimit = budget.LimitTo
		o.Observe = func(op, code string) {
			if observe != nil {
				observe(op, code)
			}
			if dbOperations[op] && strings.HasPrefix(code, "2") {
				budget.Settled()
			}
		}
	}
	c, err := vectorapi.New(o)
	if err != nil {
		return nil, &usageError{err: fmt.Errorf("api: %w", err)}
	}
	return c, nil
}

// dbOperations are the client's operations that spend the account's
// database-operation budget.
var dbOperations = map[string]bool{"export": true, "import_create": true, "import_direct": true, "backup_create": true}

// budget is the database-operation budget of a command that runs without
// a daemon: a scheduler used only as a gate, seeded from the catalog's
// ledger and writing to it, so that the command spends from the same
// budget as the daemon and every other command on this state_dir.
func (a *app) budget(ctx context.Context, by string) (*scheduler.Scheduler, error) {
	recent, paused, err := ledgerState(ctx, a.cat)
	if err != nil {
		return nil, err
	}
	return scheduler.New(scheduler.Options{
		DBOpsPerHour: a.config().API.DBOperationsPerHour, Exports: a.config().Concurrency.Exports, Downloads: a.config().Concurrency.Downloads,
		RecentOperations: recent, PausedUntil: paused, Ledger: a.cat, By: by, Logger: a.log,
		Runner: func(context.Context, scheduler.Job, func(string)) (string, error) {
			return "", errors.New("a command's budget runs no jobs")
		},
	})
}

// ledgerState reads the budget spent in the last window and a 429's pause
// from the catalog's ledger. A catalog written before the ledger existed
// counts its jobs' export requests instead.
func ledgerState(ctx context.Context, cat *catalog.DB) (recent []time.Time, paused time.Time, err error) {
	ops, err := cat.BudgetSpent(ctx, time.Now().Add(-scheduler.BudgetWindow))
	if err != nil {
		return nil, time.Time{}, err
	}
	for _, op := range ops {
		recent = append(recent, op.At)
	}
	if len(recent) == 0 {
		if recent, err = recentExports(ctx, cat); err != nil {
			return nil, time.Time{}, err
		}
	}
	paused, err = cat.BudgetPausedUntil(ctx)
	return recent, paused, err
}

// exporter builds the backup runner around a client.
func (a *app) exporter(api exporter.API, obs exporter.Observer, gate exporter.Gate) *exporter.Exporter {
	var archives []storage.Target
	if a.s3 != nil {
		archives = []storage.Target{a.s3}
	}
	ex := &exporter.Exporter{
		API:             api,
		Catalog:         a.cat,
		Targets:         []storage.Target{a.local},
		Archives:        archives,
		Spool:           a.spool,
		Codec:           a.currentCodec(),
		PollInterval:    a.config().API.PollInterval,
		PollMaxInterval: a.config().API.PollMaxInterval,
		Gate:            gate,
		SpaceCheck:      a.checkSpace,
		Observer:        obs,
		Logger:          a.log,
	}
	if b, ok := api.(exporter.BackupAPI); ok {
		ex.Backups = b
	}
	return ex
}

func (a *app) currentCodec() codec.Codec {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.codec
}

// target finds the storage target a location names.
func (a *app) target(name string) storage.Target {
	for _, t := range a.targets {
		if t.Name() == name {
			return t
		}
	}
	return nil
}

// open opens the stored SQL of a record from the first of its copies that
// checks out (stored size, SHA-256, complete dump): a copy that fails is
// reported on warn and the next target's copy is used (CONTRACT §2). Each
// copy tried is read once to check it before it is opened for the caller,
// so a corrupt copy never reaches the caller's output.
func (a *app) open(ctx context.Context, r catalog.Record, warn io.Writer) (io.ReadCloser, error) {
	c, err := codec.Parse(r.Compression)
	if err != nil {
		return nil, fmt.Errorf("backup %s: %w", r.ID, err)
	}
	key := storage.BackupKey(r.Site, r.Environment, r.StartedAt, r.ExportID, c.Ext())
	var errs []error
	for _, loc := range r.Locations {
		t := a.target(loc.Target)
		if t == nil {
			errs = append(errs, fmt.Errorf("target %s is not configured", loc.Target))
			continue
		}
		if err := integrity.VerifyCopy(ctx, t, key, r); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			fmt.Fprintf(warn, "vectord: backup %s: the %s copy fails its check (%v); trying the next copy\n", r.ID, t.Name(), err)
			errs = append(errs, fmt.Errorf("%s: %w", t.Name(), err))
			continue
		}
		rc, err := t.Open(ctx, key)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", t.Name(), err))
			continue
		}
		dec, err := codec.NewReader(rc, c)
		if err != nil {
			rc.Close()
			errs = append(errs, err)
			continue
		}
		return &stackedCloser{Reader: dec, closers: []io.Closer{dec, rc}}, nil
	}
	return nil, fmt.Errorf("backup %s has no intact copy (corrupt or missing on every target that holds it): %w", r.ID, errors.Join(errs...))
}

type stackedCloser struct {
	io.Reader
	closers []io.Closer
}

func (s *stackedCloser) Close() error {
	var errs []error
	for _, c := range s.closers {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// newLogger builds the process's logger: journald's format under systemd,
// text on a terminal, JSON otherwise.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return logging.NewLogger(w, level, os.Getenv)
}

// spaceMargin is how much larger than the environment's last stored backup
// the free space must be before a new export is requested.
const spaceMargin = 1.25

// checkSpace refuses a backup that local storage (or the S3 spool) cannot
// hold: less free space than the environment's last stored backup plus a
// margin. An environment without a backup yet is not checked.
func (a *app) checkSpace(ctx context.Context, site, env string) error {
	if a.local == nil || a.cat == nil {
		return nil
	}
	last, ok, err := a.cat.Latest(ctx, site, env)
	if err != nil || !ok {
		return err
	}
	free, err := freeBytes(a.root)
	if err != nil {
		return nil // unknown: let the write itself tell
	}
	need := int64(float64(last.StoredBytes) * spaceMargin)
	if free < need {
		return fmt.Errorf("not enough free space under %s: %s free, the last backup of %s/%s took %s; no export requested",
			a.root, humanBytes(free), site, env, humanBytes(last.StoredBytes))
	}
	return nil
}
