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
	"time"

	"github.com/builtfast/vectord/catalog"
	"github.com/builtfast/vectord/codec"
	"github.com/builtfast/vectord/config"
	"github.com/builtfast/vectord/exporter"
	"github.com/builtfast/vectord/logging"
	"github.com/builtfast/vectord/server"
	"github.com/builtfast/vectord/storage"
	"github.com/builtfast/vectord/storage/local"
	"github.com/builtfast/vectord/storage/s3"
	"github.com/builtfast/vectord/vectorapi"
)

// app is what a command works with: the configuration, the open catalog, the
// storage targets and, for commands that talk to the API, the client.
type app struct {
	cfg     *config.Config
	cat     *catalog.DB      // nil when a running daemon holds the catalog
	remote  *server.Client   // that daemon's control API, when cat is nil
	targets []storage.Target // every configured target, by location name
	local   *local.Target    // storage.local, or the spool when only S3 is set
	spool   bool             // local is a spool for S3, not a storage target
	s3      storage.Target
	codec   codec.Codec
	log     *slog.Logger
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

func openAppConfig(ctx context.Context, cfg *config.Config, writable bool, log *slog.Logger) (*app, error) {
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
		a.local = lt
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
			a.local, a.spool = spool, true
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

// record finds one record by id, from the catalog or the daemon.
func (a *app) record(ctx context.Context, id string) (catalog.Record, error) {
	if a.cat != nil {
		return a.cat.Get(ctx, id)
	}
	recs, err := a.remote.Backups(ctx, "", "")
	if err != nil {
		return catalog.Record{}, err
	}
	for _, r := range recs {
		if strings.EqualFold(r.ID, id) {
			return r, nil
		}
	}
	return catalog.Record{}, fmt.Errorf("backup %s: %w", id, catalog.ErrNotFound)
}

func (a *app) Close() error {
	if a.cat != nil {
		return a.cat.Close()
	}
	return nil
}

// client builds the Vector API client from the configuration.
func (a *app) client(observe func(op, code string)) (*vectorapi.Client, error) {
	api := a.cfg.API
	c, err := vectorapi.New(vectorapi.Options{
		BaseURL:           api.BaseURL,
		Token:             api.Token,
		Routes:            api.Routes,
		Timeout:           api.Timeout,
		RequestsPerMinute: api.RequestsPerMinute,
		UserAgent:         "vectord/" + version,
		Logger:            a.log,
		Observe:           observe,
	})
	if err != nil {
		return nil, &usageError{err: fmt.Errorf("api: %w", err)}
	}
	return c, nil
}

// exporter builds the backup runner around a client.
func (a *app) exporter(api exporter.API, obs exporter.Observer, gate exporter.Gate) *exporter.Exporter {
	var archives []storage.Target
	if a.s3 != nil {
		archives = []storage.Target{a.s3}
	}
	return &exporter.Exporter{
		API:             api,
		Catalog:         a.cat,
		Targets:         []storage.Target{a.local},
		Archives:        archives,
		Spool:           a.spool,
		Codec:           a.codec,
		PollInterval:    a.cfg.API.PollInterval,
		PollMaxInterval: a.cfg.API.PollMaxInterval,
		Gate:            gate,
		Observer:        obs,
		Logger:          a.log,
	}
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

// open opens the stored file of a record from the first target that has it.
func (a *app) open(ctx context.Context, r catalog.Record) (io.ReadCloser, error) {
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
	return nil, fmt.Errorf("open backup %s: %w", r.ID, errors.Join(errs...))
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
