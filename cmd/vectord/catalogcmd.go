package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/builtfast/vectord/catalog"
	"github.com/builtfast/vectord/integrity"
)

// runCatalog: vectord catalog rebuild — the catalog reconstructed from the
// manifests stored beside every backup.
func runCatalog(ctx context.Context, m *Main, args []string) error {
	f := m.flags("catalog")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] != "rebuild" {
		return usageErrorf("usage: vectord catalog rebuild [--config PATH]")
	}
	cfg, err := loadConfig(f.configPath())
	if err != nil {
		return err
	}
	log := newLogger(m.Stderr, slog.LevelWarn)
	dbPath := filepath.Join(cfg.StateDir, "catalog.db")
	a, err := openAppUnchecked(ctx, cfg, true, log)
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("%w; a permission problem is not damage, so the catalog is left as it is: run vectord as the user that owns %s (for example sudo -u vectord vectord catalog rebuild)", err, dbPath)
	}
	if err != nil && damaged(err) && fileExists(dbPath) {
		// The catalog cannot be opened: keep it aside for inspection and
		// rebuild a fresh one.
		aside := fmt.Sprintf("%s.unreadable-%s", dbPath, time.Now().UTC().Format("20060102T150405Z"))
		if rerr := os.Rename(dbPath, aside); rerr != nil {
			return fmt.Errorf("%w; moving it aside failed too: %v", err, rerr)
		}
		fmt.Fprintf(m.Stdout, "catalog %s could not be opened (%v); moved it to %s\n", dbPath, err, aside)
		a, err = openAppUnchecked(ctx, cfg, true, log)
	}
	if err != nil {
		return err
	}
	defer a.Close()
	added, present, skipped, err := a.rebuild(ctx, m.Stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "catalog rebuilt from manifests: %d added, %d already present, %d skipped\n", added, present, skipped)
	if skipped > 0 {
		return silentError{fmt.Errorf("%d manifests skipped", skipped)}
	}
	return nil
}

// damaged reports whether opening the catalog failed because the file is
// not a readable catalog (corrupt, truncated or foreign), as opposed to a
// lock, a permission or a newer schema, which rebuilding must not paper
// over.
func damaged(err error) bool {
	return errors.Is(err, bolterrors.ErrInvalid) || errors.Is(err, bolterrors.ErrVersionMismatch) ||
		errors.Is(err, bolterrors.ErrChecksum) || errors.Is(err, bolterrors.ErrInvalidMapping) ||
		errors.Is(err, catalog.ErrNotCatalog)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// rebuild adds to the catalog every backup whose manifest and file are in
// storage. A backup stored on several targets gets every location.
func (a *app) rebuild(ctx context.Context, warn io.Writer) (added, present, skipped int, err error) {
	found := map[string]catalog.Record{}
	var order []string
	for _, t := range a.targets {
		objs, err := t.List(ctx, "")
		if err != nil {
			return 0, 0, 0, fmt.Errorf("%s: list: %w", t.Name(), err)
		}
		for _, o := range objs {
			if !strings.HasSuffix(o.Key, ".json") {
				continue
			}
			rec, err := integrity.ReadManifest(ctx, t, o.Key)
			if err != nil {
				fmt.Fprintf(warn, "skipping %s %s: %v\n", t.Name(), o.Key, err)
				skipped++
				continue
			}
			if prev, ok := found[rec.ID]; ok {
				for _, l := range rec.Locations {
					if !slices.Contains(prev.Locations, l) {
						prev.Locations = append(prev.Locations, l)
					}
				}
				found[rec.ID] = prev
				continue
			}
			found[rec.ID] = rec
			order = append(order, rec.ID)
		}
	}
	for chunk := range slices.Chunk(order, catalog.MaxBatch) {
		recs := make([]catalog.Record, len(chunk))
		for i, id := range chunk {
			recs[i] = found[id]
		}
		// One transaction per chunk; a chunk refused is added one by one.
		if err := a.cat.AddBatch(ctx, recs); err == nil {
			added += len(recs)
			continue
		}
		for _, id := range chunk {
			switch err := a.cat.Add(ctx, found[id]); {
			case err == nil:
				added++
			case errors.Is(err, catalog.ErrExists):
				present++
			default:
				fmt.Fprintf(warn, "skipping backup %s: %v\n", id, err)
				skipped++
			}
		}
	}
	return added, present, skipped, nil
}
