package exporter

import (
	"context"
	"fmt"
	"slices"

	"github.com/builtfast/vectord/catalog"
	"github.com/builtfast/vectord/codec"
	"github.com/builtfast/vectord/internal/failpoint"
	"github.com/builtfast/vectord/storage"
)

// Locations updates where a recorded backup is stored. *catalog.DB
// satisfies it.
type Locations interface {
	SetLocations(ctx context.Context, id string, locs []catalog.Location) error
}

// Missing lists the archive targets that do not hold rec yet.
func (e *Exporter) Missing(rec catalog.Record) []storage.Target {
	var missing []storage.Target
	for _, t := range e.Archives {
		if !slices.ContainsFunc(rec.Locations, func(l catalog.Location) bool { return l.Target == t.Name() }) {
			missing = append(missing, t)
		}
	}
	return missing
}

// Archive copies a recorded backup to the archive targets that lack it,
// from Targets[0], which must hold it (a spool never does: its copies are
// gone once archived). It rewrites the manifest on every holder and records
// the new locations; it returns the updated record. A target that fails is
// reported to the Observer and left for a later call.
func (e *Exporter) Archive(ctx context.Context, rec catalog.Record, cat Locations) (catalog.Record, error) {
	missing := e.Missing(rec)
	if len(missing) == 0 || e.Spool || len(e.Targets) == 0 {
		return rec, nil
	}
	c, err := codec.Parse(rec.Compression)
	if err != nil {
		return rec, err
	}
	key := storage.BackupKey(rec.Site, rec.Environment, rec.StartedAt, rec.ExportID, c.Ext())
	var firstErr error
	added := false
	for _, t := range missing {
		if err := e.copyTo(ctx, t, key, rec.StoredBytes); err != nil {
			if o := e.Observer; o != nil {
				o.ArchiveFailed(rec.Site, rec.Environment, t.Name())
			}
			if firstErr == nil {
				firstErr = fmt.Errorf("%s: archive backup %s: %w", t.Name(), rec.ID, err)
			}
			continue
		}
		rec.Locations = append(rec.Locations, catalog.Location{Target: t.Name(), URI: t.URI(key)})
		added = true
	}
	if !added {
		return rec, firstErr
	}
	var holders []storage.Target
	for _, t := range append(append([]storage.Target{}, e.Targets...), e.Archives...) {
		if slices.ContainsFunc(rec.Locations, func(l catalog.Location) bool { return l.Target == t.Name() }) {
			holders = append(holders, t)
		}
	}
	if err := writeManifests(ctx, holders, key, rec); err != nil {
		return rec, err
	}
	if err := cat.SetLocations(ctx, rec.ID, rec.Locations); err != nil {
		return rec, fmt.Errorf("record locations of %s: %w", rec.ID, err)
	}
	failpoint.Hit("archive.record")
	return rec, firstErr
}
