package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/builtfast/vectord/catalog"
	"github.com/builtfast/vectord/codec"
	"github.com/builtfast/vectord/storage"
)

// Catalog is the part of the backup catalog the Enforcer uses; *catalog.DB
// satisfies it.
type Catalog interface {
	// List returns the backups f selects, newest first, leaving out those
	// marked deleting.
	List(ctx context.Context, f catalog.Filter) ([]catalog.Record, error)
	// MarkDeleting marks a backup as being deleted: from then on List does
	// not return it and Deleting does. The error matches catalog.ErrNotFound
	// if there is no such backup.
	MarkDeleting(ctx context.Context, id string) error
	// Deleting returns the backups marked deleting.
	Deleting(ctx context.Context) ([]catalog.Record, error)
	// Remove deletes a backup's record and mark. The error matches
	// catalog.ErrNotFound if there is no such backup.
	Remove(ctx context.Context, id string) error
}

// Target is the part of a storage target the Enforcer uses; storage.Target
// satisfies it.
type Target interface {
	// Name is the target's name in catalog locations: "local" or "s3".
	Name() string
	// Delete removes the object under key. Deleting a missing object is not
	// an error.
	Delete(ctx context.Context, key string) error
}

// Observer is told the outcome of every delete from a target, for metrics.
type Observer interface {
	// Deleted: a backup's file and manifest were removed from target.
	Deleted(site, env, target string)
	// DeleteFailed: removing a backup's file or manifest from target
	// failed, or target is not configured.
	DeleteFailed(site, env, target string)
}

// Enforcer applies retention policies to the catalog and the storage
// targets. Its fields are set before first use and not changed after; an
// Enforcer is then safe for concurrent use.
type Enforcer struct {
	Catalog Catalog
	// Targets by name, the name a record's catalog.Location.Target holds.
	Targets  map[string]Target
	Observer Observer     // nil: none
	Logger   *slog.Logger // nil: discard
	Now      func() time.Time
}

// Result is what Apply decided and did.
type Result struct {
	// Decisions are Select's, one per backup of the environment that was
	// not already marked deleting, newest first.
	Decisions []Decision
	// Deleted holds the IDs of the backups whose files and records were
	// removed, including earlier unfinished deletes finished now.
	Deleted []string
	// Failed holds the IDs of the backups whose delete did not finish: they
	// stay marked deleting (hidden from listing) and are retried by the
	// next Apply or RetryPending, or, when a location's target is not
	// configured, are left untouched and listed.
	Failed []string
}

// Apply applies p to the backups of one site environment (CONTRACT §5).
// It first retries the environment's unfinished deletes, then decides with
// Select and deletes every backup Select does not keep, oldest first: mark
// the record deleting, remove the file and manifest from every target the
// record lists, then remove the record. When a target's delete fails, the
// backup stays marked, Observer.DeleteFailed is called, the failure is
// logged and the ID is reported in Result.Failed; Apply goes on with the
// next backup. A backup that cannot be deleted completely (a location names
// a target missing from Targets, or its compression is unknown) is not
// touched at all: it stays listed, is reported in Failed, and a missing
// target is reported to Observer.DeleteFailed.
//
// With dryRun, Apply only decides: nothing is marked or deleted and
// unfinished deletes are not retried.
//
// Apply returns an error, with the Result so far, only when the catalog
// cannot be read or changed or ctx ends.
func (e *Enforcer) Apply(ctx context.Context, site, env string, p Policy, dryRun bool) (Result, error) {
	var res Result
	if !dryRun {
		pending, err := e.Catalog.Deleting(ctx)
		if err != nil {
			return res, fmt.Errorf("list unfinished deletes: %w", err)
		}
		for _, r := range pending {
			if r.Site != site || r.Environment != env {
				continue
			}
			if err := e.finish(ctx, r, &res); err != nil {
				return res, err
			}
		}
	}

	recs, err := e.Catalog.List(ctx, catalog.Filter{Site: site, Environment: env})
	if err != nil {
		return res, fmt.Errorf("list backups of %s/%s: %w", site, env, err)
	}
	backups := make([]Backup, len(recs))
	byID := make(map[string]catalog.Record, len(recs))
	for i, r := range recs {
		backups[i] = Backup{ID: r.ID, Time: r.StartedAt, PreImport: r.Trigger == catalog.TriggerPreImport}
		byID[r.ID] = r
	}
	res.Decisions = Select(e.now(), backups, p)
	if dryRun {
		return res, nil
	}

	for _, d := range slices.Backward(res.Decisions) {
		if d.Keep {
			continue
		}
		if err := ctx.Err(); err != nil {
			return res, err
		}
		r := byID[d.Backup.ID]
		if err := e.check(r); err != nil {
			e.logger().WarnContext(ctx, "retention delete failed",
				"site", r.Site, "environment", r.Environment, "backup_id", r.ID, "error", err)
			res.Failed = append(res.Failed, r.ID)
			continue
		}
		if err := e.Catalog.MarkDeleting(ctx, r.ID); err != nil {
			if errors.Is(err, catalog.ErrNotFound) {
				continue // deleted meanwhile by someone else
			}
			return res, fmt.Errorf("mark backup %s deleting: %w", r.ID, err)
		}
		if err := e.finish(ctx, r, &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

// RetryPending finishes the deletes of every site and environment that an
// earlier run left unfinished, by a crash or a failed target delete. It
// returns nil when all of them finished; otherwise an error counting the
// unfinished ones, joined with their causes (each is also logged and
// reported to the Observer), or the catalog's or ctx's error.
func (e *Enforcer) RetryPending(ctx context.Context) error {
	pending, err := e.Catalog.Deleting(ctx)
	if err != nil {
		return fmt.Errorf("list unfinished deletes: %w", err)
	}
	var res Result
	for _, r := range pending {
		if err := e.finish(ctx, r, &res); err != nil {
			return err
		}
	}
	if len(res.Failed) > 0 {
		return fmt.Errorf("retry unfinished deletes: %d of %d still unfinished (first: backup %s)",
			len(res.Failed), len(pending), res.Failed[0])
	}
	return nil
}

// finish removes the files of r, a backup already marked deleting, from
// every target its record lists, and then the record. A failed target
// delete leaves the mark and records r.ID in res.Failed; only a catalog
// failure or ctx's end is returned.
func (e *Enforcer) finish(ctx context.Context, r catalog.Record, res *Result) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ext, err := extension(r.Compression)
	if err != nil {
		e.logger().WarnContext(ctx, "retention delete failed",
			"site", r.Site, "environment", r.Environment, "backup_id", r.ID, "error", err)
		res.Failed = append(res.Failed, r.ID)
		return nil
	}
	key := storage.BackupKey(r.Site, r.Environment, r.StartedAt, r.ExportID, ext)
	ok := true
	for _, loc := range r.Locations {
		if err := e.deleteFrom(ctx, loc.Target, key); err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return ctxErr
			}
			ok = false
			e.observeFailed(r, loc.Target)
			e.logger().WarnContext(ctx, "retention delete failed",
				"site", r.Site, "environment", r.Environment, "backup_id", r.ID,
				"target", loc.Target, "error", err)
			continue
		}
		if e.Observer != nil {
			e.Observer.Deleted(r.Site, r.Environment, loc.Target)
		}
	}
	if !ok {
		res.Failed = append(res.Failed, r.ID)
		return nil
	}
	if err := e.Catalog.Remove(ctx, r.ID); err != nil && !errors.Is(err, catalog.ErrNotFound) {
		return fmt.Errorf("remove backup %s from catalog: %w", r.ID, err)
	}
	e.logger().InfoContext(ctx, "retention deleted backup",
		"site", r.Site, "environment", r.Environment, "backup_id", r.ID)
	res.Deleted = append(res.Deleted, r.ID)
	return nil
}

// deleteFrom removes a backup's manifest and file from the named target.
// The manifest goes first: should the file's delete then fail or be
// interrupted, no manifest is left that could describe a backup whose file
// is gone.
func (e *Enforcer) deleteFrom(ctx context.Context, name, key string) error {
	t, ok := e.Targets[name]
	if !ok || t == nil {
		return fmt.Errorf("storage target %q not configured", name)
	}
	if err := t.Delete(ctx, storage.ManifestKey(key)); err != nil {
		return fmt.Errorf("delete manifest %s from %s: %w", storage.ManifestKey(key), name, err)
	}
	if err := t.Delete(ctx, key); err != nil {
		return fmt.Errorf("delete %s from %s: %w", key, name, err)
	}
	return nil
}

// check reports why r's files could not all be deleted, before anything
// is touched: an unknown compression, or a location whose target is not
// configured (reported to the Observer).
func (e *Enforcer) check(r catalog.Record) error {
	if _, err := extension(r.Compression); err != nil {
		return err
	}
	var errs []error
	for _, loc := range r.Locations {
		if t, ok := e.Targets[loc.Target]; !ok || t == nil {
			e.observeFailed(r, loc.Target)
			errs = append(errs, fmt.Errorf("storage target %q not configured", loc.Target))
		}
	}
	return errors.Join(errs...)
}

func (e *Enforcer) observeFailed(r catalog.Record, target string) {
	if e.Observer != nil {
		e.Observer.DeleteFailed(r.Site, r.Environment, target)
	}
}

func (e *Enforcer) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Enforcer) logger() *slog.Logger {
	if e.Logger != nil {
		return e.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// extension returns the file-name extension of a stored file compressed
// with the catalog compression c.
func extension(c string) (string, error) {
	cc, err := codec.Parse(c)
	if err != nil {
		return "", err
	}
	return cc.Ext(), nil
}
