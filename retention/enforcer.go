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
	"github.com/builtfast/vectord/internal/failpoint"
	"github.com/builtfast/vectord/storage"
)

// Catalog is the part of the backup catalog the Enforcer uses; *catalog.DB
// satisfies it.
type Catalog interface {
	// List returns the backups f selects, newest first, leaving out those
	// marked deleting.
	List(ctx context.Context, f catalog.Filter) ([]catalog.Record, error)
	// MarkDeletingBatch marks backups as being deleted: from then on List
	// does not return them and Deleting does. It commits in chunks of
	// catalog.MaxBatch, each all or nothing. The error matches
	// catalog.ErrNotFound if one of them is not in the catalog; its chunk
	// is then left unmarked, earlier chunks stay marked.
	MarkDeletingBatch(ctx context.Context, ids []string) error
	// Deleting returns the backups marked deleting.
	Deleting(ctx context.Context) ([]catalog.Record, error)
	// RemoveBatch deletes backups' records and marks, in chunks as
	// MarkDeletingBatch. The error matches catalog.ErrNotFound if one of
	// them is not in the catalog; its chunk is then left whole, earlier
	// chunks stay removed.
	RemoveBatch(ctx context.Context, ids []string) error
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
// It decides with Select and deletes every backup Select does not keep, in
// three steps whatever their number: mark them all deleting (one catalog
// batch), remove each one's file and manifest from every target its record
// lists, oldest first, then remove the records of those whose files are
// all gone (one catalog batch). The environment's unfinished deletes from
// earlier runs are finished with them.
//
// When a target's delete fails, the backup stays marked,
// Observer.DeleteFailed is called, the failure is logged and the ID is
// reported in Result.Failed; Apply goes on with the next backup. A backup
// that cannot be deleted completely (a location names a target missing
// from Targets, or its compression is unknown) is not touched at all: it
// stays listed, is reported in Failed, and a missing target is reported to
// Observer.DeleteFailed.
//
// With dryRun, Apply only decides: nothing is marked or deleted and
// unfinished deletes are not retried.
//
// Apply returns an error, with the Result so far, only when the catalog
// cannot be read or changed or ctx ends. Backups marked by then stay
// marked, hidden from listing, and are finished by the next Apply or
// RetryPending.
func (e *Enforcer) Apply(ctx context.Context, site, env string, p Policy, dryRun bool) (Result, error) {
	var res Result
	var pending []catalog.Record
	if !dryRun {
		all, err := e.Catalog.Deleting(ctx)
		if err != nil {
			return res, fmt.Errorf("list unfinished deletes: %w", err)
		}
		for _, r := range all {
			if r.Site == site && r.Environment == env {
				pending = append(pending, r)
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
		backups[i] = Backup{ID: r.ID, Time: r.StartedAt, PreImport: r.Trigger == catalog.TriggerPreImport, Pinned: r.Pinned}
		byID[r.ID] = r
	}
	res.Decisions = Select(e.now(), backups, p)
	if dryRun {
		return res, nil
	}

	var doomed []catalog.Record // oldest first
	for _, d := range slices.Backward(res.Decisions) {
		if d.Keep {
			continue
		}
		r := byID[d.Backup.ID]
		if err := e.check(r); err != nil {
			e.logger().WarnContext(ctx, "retention delete failed",
				"site", r.Site, "environment", r.Environment, "backup_id", r.ID, "error", err)
			res.Failed = append(res.Failed, r.ID)
			continue
		}
		doomed = append(doomed, r)
	}
	marked, err := e.mark(ctx, doomed)
	if err != nil {
		return res, err
	}
	return res, e.finish(ctx, append(pending, marked...), &res)
}

// Forget deletes rs now, whatever the policy says (vectord forget), in the
// same three steps as Apply: mark them all, remove their files and
// manifests from every target, then their records. A pinned backup is
// refused before anything is touched: the error names it and nothing is
// deleted. A backup whose delete does not finish stays marked and is
// reported in Result.Failed, as in Apply.
func (e *Enforcer) Forget(ctx context.Context, rs []catalog.Record) (Result, error) {
	var res Result
	var errs []error
	for _, r := range rs {
		if r.Pinned {
			errs = append(errs, fmt.Errorf("backup %s is pinned (vectord pin %s --unpin first)", r.ID, r.ID))
			continue
		}
		if err := e.check(r); err != nil {
			errs = append(errs, fmt.Errorf("backup %s: %w", r.ID, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return res, fmt.Errorf("%w: %w", ErrRefused, err)
	}
	marked, err := e.mark(ctx, rs)
	if err != nil {
		return res, err
	}
	return res, e.finish(ctx, marked, &res)
}

// ErrRefused is matched by Forget's error when it deletes nothing because
// a backup is pinned or cannot be deleted completely.
var ErrRefused = errors.New("refused")

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
	if err := e.finish(ctx, pending, &res); err != nil {
		return err
	}
	if len(res.Failed) > 0 {
		return fmt.Errorf("retry unfinished deletes: %d of %d still unfinished (first: backup %s)",
			len(res.Failed), len(pending), res.Failed[0])
	}
	return nil
}

// mark marks rs deleting in one catalog batch and returns those marked:
// should one have been removed meanwhile by someone else, it is left out
// and the others are marked one by one.
func (e *Enforcer) mark(ctx context.Context, rs []catalog.Record) ([]catalog.Record, error) {
	if len(rs) == 0 {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	err := e.Catalog.MarkDeletingBatch(ctx, recordIDs(rs))
	if err == nil {
		failpoint.Hit("retention.mark")
		return rs, nil
	}
	if !errors.Is(err, catalog.ErrNotFound) {
		return nil, fmt.Errorf("mark %d backups deleting: %w", len(rs), err)
	}
	var marked []catalog.Record
	for _, r := range rs {
		switch err := e.Catalog.MarkDeletingBatch(ctx, []string{r.ID}); {
		case err == nil:
			marked = append(marked, r)
		case errors.Is(err, catalog.ErrNotFound):
			// deleted meanwhile by someone else
		default:
			return nil, fmt.Errorf("mark backup %s deleting: %w", r.ID, err)
		}
	}
	return marked, nil
}

// finish removes the files of rs, backups already marked deleting, from
// every target each record lists, and then, in one catalog batch, the
// records of those whose files are all gone. A failed target delete leaves
// the mark and records the ID in res.Failed; only a catalog failure or
// ctx's end is returned, leaving the marks of the backups not yet removed.
func (e *Enforcer) finish(ctx context.Context, rs []catalog.Record, res *Result) error {
	var done []catalog.Record
	for _, r := range rs {
		if err := ctx.Err(); err != nil {
			return err
		}
		ok, err := e.deleteFiles(ctx, r)
		if err != nil {
			return err
		}
		if !ok {
			res.Failed = append(res.Failed, r.ID)
			continue
		}
		done = append(done, r)
	}
	if err := e.remove(ctx, done); err != nil {
		return err
	}
	for _, r := range done {
		e.logger().InfoContext(ctx, "retention deleted backup",
			"site", r.Site, "environment", r.Environment, "backup_id", r.ID)
		res.Deleted = append(res.Deleted, r.ID)
	}
	return nil
}

// deleteFiles removes the file and manifest of r from every target its
// record lists, telling the Observer of each outcome. It reports whether
// all of them are gone; the only error it returns is ctx's.
func (e *Enforcer) deleteFiles(ctx context.Context, r catalog.Record) (bool, error) {
	ext, err := extension(r.Compression)
	if err != nil {
		e.logger().WarnContext(ctx, "retention delete failed",
			"site", r.Site, "environment", r.Environment, "backup_id", r.ID, "error", err)
		return false, nil
	}
	key := storage.BackupKey(r.Site, r.Environment, r.StartedAt, r.ExportID, ext)
	ok := true
	for _, loc := range r.Locations {
		if err := e.deleteFrom(ctx, loc.Target, key); err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return false, ctxErr
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
	return ok, nil
}

// remove removes the records of rs from the catalog in one batch; should
// one have been removed meanwhile by someone else, the others are removed
// one by one.
func (e *Enforcer) remove(ctx context.Context, rs []catalog.Record) error {
	if len(rs) == 0 {
		return nil
	}
	err := e.Catalog.RemoveBatch(ctx, recordIDs(rs))
	if err == nil {
		failpoint.Hit("retention.remove")
		return nil
	}
	if !errors.Is(err, catalog.ErrNotFound) {
		return fmt.Errorf("remove %d backups from catalog: %w", len(rs), err)
	}
	for _, r := range rs {
		if err := e.Catalog.RemoveBatch(ctx, []string{r.ID}); err != nil && !errors.Is(err, catalog.ErrNotFound) {
			return fmt.Errorf("remove backup %s from catalog: %w", r.ID, err)
		}
	}
	return nil
}

func recordIDs(rs []catalog.Record) []string {
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	return ids
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
	failpoint.Hit("retention.delete_manifest." + name)
	if err := t.Delete(ctx, key); err != nil {
		return fmt.Errorf("delete %s from %s: %w", key, name, err)
	}
	failpoint.Hit("retention.delete_file." + name)
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
