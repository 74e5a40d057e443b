package integrity

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/builtfast/vectord/catalog"
	"github.com/builtfast/vectord/storage"
)

// RepairResult is what Repair did. It is JSON-serialisable (`vectord check
// --repair --json` prints it).
type RepairResult struct {
	Before  Report   `json:"before"`  // the report Repair was given
	Actions []string `json:"actions"` // what it did, one line each
	Left    []string `json:"left"`    // what it could not or would not fix, and why
	After   Report   `json:"after"`   // a new check, after the repairs
}

// Repair fixes what the findings of rep report, where that loses no good
// backup, then checks again. Every change is checked against the current
// state first (a finding may have resolved itself since), and follows the
// deleting order of CONTRACT §5 (mark, manifest, file, record):
//
//   - partial: the file is deleted, unless a writer holds it again.
//   - pending_delete: the delete is finished: manifest then file on every
//     target of the record (except a file a live record also names), then
//     the record.
//   - duplicate_file: the record the manifest names is kept (else the oldest
//     id) and gets the other records' copies; the others' records are
//     removed, never the file.
//   - missing_file, size_mismatch, corrupt: while another copy is good, the
//     bad copies leave the record (and a bad file, with its manifest, the
//     target) and the manifests of the good copies are rewritten. Without a
//     good copy, a record whose every copy is gone is removed (there is
//     nothing to lose), and a copy of the wrong size or corrupt stays with
//     its record for a person to look at.
//   - manifest_missing, manifest_mismatch: the manifest is rewritten from
//     the record, if the file matches the record (its size; for a mismatch
//     its content, read in full).
//   - orphan_file: with a manifest (beside it or beside another copy) that
//     the file matches, it is adopted: recorded from the manifest with
//     every target holding it (a crash left it unrecorded). Without any
//     manifest its job never recorded it: it is deleted. Otherwise it stays.
//   - orphan_manifest: deleted (it holds no data).
//   - unknown_target: left.
//
// Repair needs a Catalog that is a RepairCatalog, and no daemon changing
// the same catalog meanwhile. A repair that fails is reported in Left and
// the others go on; the error is for ctx ending or the final check failing.
func (c *Checker) Repair(ctx context.Context, rep Report) (RepairResult, error) {
	if err := c.validate(); err != nil {
		return RepairResult{}, err
	}
	cat, ok := c.Catalog.(RepairCatalog)
	if !ok {
		return RepairResult{}, errors.New("integrity: repair needs a catalog it can change")
	}
	rp := &repairer{c: c, cat: cat, readData: rep.ReadData, wrote: map[tk]bool{},
		res: RepairResult{Before: rep, Actions: []string{}, Left: []string{}}}
	by := map[Kind][]Finding{}
	for _, f := range rep.Findings {
		by[f.Kind] = append(by[f.Kind], f)
	}
	steps := []struct {
		kinds []Kind
		fn    func(context.Context, []Finding) error
	}{
		{[]Kind{KindPartial}, rp.partials},
		{[]Kind{KindPendingDelete}, rp.pendingDeletes},
		{[]Kind{KindDuplicateFile}, rp.duplicates},
		{[]Kind{KindMissingFile, KindSizeMismatch, KindCorrupt}, rp.badCopies},
		{[]Kind{KindManifestMissing, KindManifestMismatch}, rp.manifests},
		{[]Kind{KindOrphanFile}, rp.orphanFiles},
		{[]Kind{KindOrphanManifest}, rp.orphanManifests},
		{[]Kind{KindUnknownTarget}, rp.unknownTargets},
	}
	for _, s := range steps {
		var fs []Finding
		for _, k := range s.kinds {
			fs = append(fs, by[k]...)
		}
		if len(fs) == 0 {
			continue
		}
		if err := s.fn(ctx, fs); err != nil {
			return rp.res, err
		}
	}
	after, err := c.Check(ctx)
	if err != nil {
		return rp.res, fmt.Errorf("check after repair: %w", err)
	}
	rp.res.After = after
	return rp.res, nil
}

// repairer is one run of Repair.
type repairer struct {
	c        *Checker
	cat      RepairCatalog
	readData bool
	wrote    map[tk]bool // manifests rewritten
	res      RepairResult
}

func (rp *repairer) did(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	rp.res.Actions = append(rp.res.Actions, s)
	rp.c.logger().Info("repaired", "action", s)
}

func (rp *repairer) left(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	rp.res.Left = append(rp.res.Left, s)
	rp.c.logger().Warn("not repaired", "reason", s)
}

// failed reports a repair that failed: ctx's end stops Repair, anything
// else is left.
func (rp *repairer) failed(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	rp.left("%s: %v", what, err)
	return nil
}

// sameFile returns the live records of key's site and environment that name
// the file key, and those marked deleting that do.
func (rp *repairer) sameFile(ctx context.Context, key string) (live, deleting []catalog.Record, err error) {
	site, rest, _ := strings.Cut(key, "/")
	env, _, _ := strings.Cut(rest, "/")
	all, err := rp.cat.List(ctx, catalog.Filter{Site: site, Environment: env})
	if err != nil {
		return nil, nil, err
	}
	del, err := rp.cat.Deleting(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, r := range all {
		if k, err := KeyOf(r); err == nil && k == key {
			live = append(live, r)
		}
	}
	for _, r := range del {
		if k, err := KeyOf(r); err == nil && k == key {
			deleting = append(deleting, r)
		}
	}
	return live, deleting, nil
}

// deleteCopy deletes a backup's manifest, then its file, from t.
func deleteCopy(ctx context.Context, t storage.Target, key string) error {
	if err := t.Delete(ctx, storage.ManifestKey(key)); err != nil {
		return fmt.Errorf("delete manifest %s from %s: %w", storage.ManifestKey(key), t.Name(), err)
	}
	if err := t.Delete(ctx, key); err != nil {
		return fmt.Errorf("delete %s from %s: %w", key, t.Name(), err)
	}
	return nil
}

// syncManifests rewrites the manifest beside each good copy of r that does
// not describe r or lists other targets.
func (rp *repairer) syncManifests(ctx context.Context, r catalog.Record, key string) error {
	for _, name := range targetNames(r) {
		t := rp.c.target(name)
		if t == nil {
			continue
		}
		st, err := statCopy(ctx, t, key, r)
		if err != nil {
			return err
		}
		if st != copyGood {
			continue
		}
		m, err := DecodeManifest(ctx, t, storage.ManifestKey(key))
		if err == nil && manifestDiff(m, r) == "" && slices.Equal(targetNames(m), targetNames(r)) {
			continue
		}
		if err != nil && !errors.Is(err, storage.ErrNotExist) && !errors.Is(err, ErrBadManifest) {
			return err
		}
		if err := WriteManifest(ctx, t, key, r); err != nil {
			return err
		}
		rp.wrote[tk{name, key}] = true
		rp.did("backup %s: wrote its manifest on %s", r.ID, name)
	}
	return nil
}

func (rp *repairer) partials(ctx context.Context, fs []Finding) error {
	for _, f := range fs {
		if rp.c.LocalRoot == "" {
			rp.left("partial file %s: no local directory configured to delete it from", f.Key)
			continue
		}
		removed, err := removePartial(rp.c.LocalRoot, f.Key)
		if err != nil {
			if err := rp.failed(ctx, "partial file "+f.Key, err); err != nil {
				return err
			}
			continue
		}
		if removed {
			rp.did("deleted partial file %s", f.Key)
		} else {
			rp.left("partial file %s: not deleted: it is gone or a writer holds it again", f.Key)
		}
	}
	return nil
}

func (rp *repairer) pendingDeletes(ctx context.Context, fs []Finding) error {
	deleting, err := rp.cat.Deleting(ctx)
	if err != nil {
		return rp.failed(ctx, "finish pending deletes", err)
	}
	for _, f := range fs {
		i := slices.IndexFunc(deleting, func(r catalog.Record) bool { return r.ID == f.BackupID })
		if i < 0 {
			continue // finished meanwhile
		}
		if err := rp.finishDelete(ctx, deleting[i]); err != nil {
			return err
		}
	}
	return nil
}

// finishDelete finishes the delete of a record marked deleting.
func (rp *repairer) finishDelete(ctx context.Context, r catalog.Record) error {
	key, err := KeyOf(r)
	if err != nil {
		rp.left("backup %s: %v", r.ID, err)
		return nil
	}
	live, _, err := rp.sameFile(ctx, key)
	if err != nil {
		return rp.failed(ctx, "backup "+r.ID, err)
	}
	var removed, kept []string
	ok := true
	for _, name := range targetNames(r) {
		t := rp.c.target(name)
		if t == nil {
			rp.left("backup %s: its delete cannot be finished: its copy is on target %q, which is not configured", r.ID, name)
			ok = false
			continue
		}
		if anyLocatedOn(live, name) {
			kept = append(kept, name)
			continue
		}
		if err := deleteCopy(ctx, t, key); err != nil {
			if err := rp.failed(ctx, "backup "+r.ID+": finish its delete", err); err != nil {
				return err
			}
			ok = false
			continue
		}
		removed = append(removed, name)
	}
	if !ok {
		return nil // the mark stays; retention retries it too
	}
	if err := rp.cat.RemoveBatch(ctx, []string{r.ID}); err != nil && !errors.Is(err, catalog.ErrNotFound) {
		return rp.failed(ctx, "backup "+r.ID+": remove its record", err)
	}
	msg := fmt.Sprintf("backup %s (%s/%s): finished its delete", r.ID, r.Site, r.Environment)
	if len(removed) > 0 {
		msg += ": removed manifest and file from " + strings.Join(removed, ", ") + ", then the record"
	} else {
		msg += ": removed the record"
	}
	if len(kept) > 0 {
		msg += fmt.Sprintf("; the file on %s stays for live backup %s", strings.Join(kept, ", "), live[0].ID)
	}
	rp.did("%s", msg)
	return nil
}

func (rp *repairer) duplicates(ctx context.Context, fs []Finding) error {
	keys := map[string]bool{}
	for _, f := range fs {
		keys[f.Key] = true
	}
	for _, key := range slices.Sorted(maps.Keys(keys)) {
		live, _, err := rp.sameFile(ctx, key)
		if err != nil {
			if err := rp.failed(ctx, "file "+key, err); err != nil {
				return err
			}
			continue
		}
		if len(live) < 2 {
			continue // resolved meanwhile
		}
		keep, why, err := rp.c.keeper(ctx, live, key)
		if err != nil {
			if err := rp.failed(ctx, "file "+key, err); err != nil {
				return err
			}
			continue
		}
		// The kept record gets the others' good copies.
		locs := slices.Clone(keep.Locations)
		var drop []string
		for _, r := range live {
			if r.ID == keep.ID {
				continue
			}
			drop = append(drop, r.ID)
			for _, l := range r.Locations {
				t := rp.c.target(l.Target)
				if t == nil || slices.ContainsFunc(locs, func(o catalog.Location) bool { return o.Target == l.Target }) {
					continue
				}
				if st, err := statCopy(ctx, t, key, keep); err == nil && st == copyGood {
					locs = append(locs, catalog.Location{Target: l.Target, URI: t.URI(key)})
				}
			}
		}
		if err := rp.cat.RemoveBatch(ctx, drop); err != nil {
			if err := rp.failed(ctx, "file "+key+": remove duplicate records", err); err != nil {
				return err
			}
			continue
		}
		msg := fmt.Sprintf("file %s: removed the duplicate record %s, kept backup %s (%s); the file stays", key, strings.Join(drop, ", "), keep.ID, why)
		if len(locs) != len(keep.Locations) {
			if err := rp.cat.SetLocations(ctx, keep.ID, locs); err != nil {
				if err := rp.failed(ctx, "backup "+keep.ID+": add copies", err); err != nil {
					return err
				}
			} else {
				keep.Locations = locs
				msg += "; backup " + keep.ID + " now lists every copy"
			}
		}
		rp.did("%s", msg)
		if err := rp.syncManifests(ctx, keep, key); err != nil {
			if err := rp.failed(ctx, "backup "+keep.ID+": rewrite manifests", err); err != nil {
				return err
			}
		}
	}
	return nil
}

func (rp *repairer) badCopies(ctx context.Context, fs []Finding) error {
	corrupt := map[tk]string{} // copies the check read and found corrupt
	ids := map[string]bool{}
	for _, f := range fs {
		ids[f.BackupID] = true
		if f.Kind == KindCorrupt {
			corrupt[tk{f.Target, f.Key}] = f.Detail
		}
	}
	for _, id := range slices.Sorted(maps.Keys(ids)) {
		if err := rp.badCopiesOf(ctx, id, corrupt); err != nil {
			return err
		}
	}
	return nil
}

// badCopiesOf repairs the record id whose copies the check found missing,
// of the wrong size or corrupt.
func (rp *repairer) badCopiesOf(ctx context.Context, id string, corrupt map[tk]string) error {
	r, err := rp.cat.Get(ctx, id)
	if errors.Is(err, catalog.ErrNotFound) {
		return nil // removed meanwhile (a duplicate, retention)
	}
	if err != nil {
		return rp.failed(ctx, "backup "+id, err)
	}
	key, err := KeyOf(r)
	if err != nil {
		rp.left("backup %s: %v", id, err)
		return nil
	}
	var good, unknown, missing, broken []catalog.Location
	var why []string // of the broken copies
	for _, l := range r.Locations {
		t := rp.c.target(l.Target)
		if t == nil {
			unknown = append(unknown, l)
			continue
		}
		st, err := statCopy(ctx, t, key, r)
		if err != nil {
			return rp.failed(ctx, "backup "+id, err)
		}
		detail, isCorrupt := corrupt[tk{l.Target, key}]
		switch {
		case st == copyMissing:
			missing = append(missing, l)
		case st == copyBad:
			broken = append(broken, l)
			why = append(why, l.Target+": wrong size")
		case isCorrupt:
			broken = append(broken, l)
			why = append(why, l.Target+": "+detail)
		default:
			good = append(good, l)
		}
	}
	names := func(ls []catalog.Location) string {
		var s []string
		for _, l := range ls {
			s = append(s, l.Target)
		}
		return strings.Join(s, ", ")
	}
	// dropLocations sets the record's locations to keep and deletes the
	// manifests (and, for broken copies, the files) of the dropped ones.
	dropLocations := func(keep []catalog.Location, deleteFiles []catalog.Location) bool {
		if err := rp.cat.SetLocations(ctx, id, keep); err != nil {
			rp.left("backup %s: drop its bad copies from the record: %v", id, err)
			return false
		}
		for _, l := range missing {
			if err := rp.c.target(l.Target).Delete(ctx, storage.ManifestKey(key)); err != nil {
				rp.left("backup %s: delete the manifest left beside its missing copy on %s: %v", id, l.Target, err)
			}
		}
		for _, l := range deleteFiles {
			if err := deleteCopy(ctx, rp.c.target(l.Target), key); err != nil {
				rp.left("backup %s: delete its bad copy: %v", id, err)
			}
		}
		r.Locations = keep
		return true
	}
	switch {
	case len(missing)+len(broken) == 0:
		return nil // every copy is fine now
	case len(good) > 0:
		if !dropLocations(append(slices.Clone(good), unknown...), broken) {
			return ctx.Err()
		}
		var parts []string
		if len(missing) > 0 {
			parts = append(parts, "dropped its missing copy on "+names(missing))
		}
		if len(broken) > 0 {
			parts = append(parts, "dropped and deleted its bad copy ("+strings.Join(why, "; ")+")")
		}
		rp.did("backup %s: %s; kept the good copy on %s", id, strings.Join(parts, ", "), names(good))
		if err := rp.syncManifests(ctx, r, key); err != nil {
			return rp.failed(ctx, "backup "+id+": rewrite manifests", err)
		}
	case len(broken) > 0:
		if len(missing) > 0 {
			if !dropLocations(append(slices.Clone(broken), unknown...), nil) {
				return ctx.Err()
			}
			rp.did("backup %s: dropped its missing copy on %s", id, names(missing))
		}
		rp.left("backup %s: no good copy is left; its copy (%s) is kept, with its record, for a person to look at",
			id, strings.Join(why, "; "))
	case len(unknown) > 0:
		if !dropLocations(unknown, nil) {
			return ctx.Err()
		}
		rp.did("backup %s: dropped its missing copy on %s", id, names(missing))
		rp.left("backup %s: only its copies on targets that are not configured (%s) remain; they were not checked", id, names(unknown))
	default:
		// Every copy is gone: there is no backup to lose. Delete in
		// retention's order: mark, leftover manifests, record.
		if err := rp.cat.MarkDeletingBatch(ctx, []string{id}); err != nil {
			return rp.failed(ctx, "backup "+id+": mark it deleting", err)
		}
		for _, l := range missing {
			if err := rp.c.target(l.Target).Delete(ctx, storage.ManifestKey(key)); err != nil {
				return rp.failed(ctx, "backup "+id+": delete the manifest left on "+l.Target+" (it stays marked deleting)", err)
			}
		}
		if err := rp.cat.RemoveBatch(ctx, []string{id}); err != nil {
			return rp.failed(ctx, "backup "+id+": remove its record (it stays marked deleting)", err)
		}
		rp.did("backup %s (%s/%s, started %s): removed its record: no copy of it is left (%s)",
			id, r.Site, r.Environment, r.StartedAt.Format(time.RFC3339), names(missing))
	}
	return nil
}

func (rp *repairer) manifests(ctx context.Context, fs []Finding) error {
	for _, f := range fs {
		if rp.wrote[tk{f.Target, f.Key}] {
			continue
		}
		r, err := rp.cat.Get(ctx, f.BackupID)
		if errors.Is(err, catalog.ErrNotFound) {
			continue
		}
		if err != nil {
			if err := rp.failed(ctx, "backup "+f.BackupID, err); err != nil {
				return err
			}
			continue
		}
		t := rp.c.target(f.Target)
		key, err := KeyOf(r)
		if t == nil || err != nil || key != f.Key || !locatedOn(r, f.Target) {
			continue // the record changed since
		}
		if f.Kind == KindManifestMismatch {
			// The record is the truth only if the file is its backup.
			switch err := VerifyCopy(ctx, t, key, r); {
			case err == nil, errors.Is(err, ErrNotDecrypted):
			case errors.Is(err, storage.ErrNotExist):
				continue
			case errors.Is(err, ErrCorrupt):
				rp.left("backup %s: its manifest on %s is not rewritten: the file does not match the record either (%v)", r.ID, f.Target, err)
				continue
			default:
				if err := rp.failed(ctx, "backup "+r.ID+": read its copy on "+f.Target, err); err != nil {
					return err
				}
				continue
			}
		} else {
			st, err := statCopy(ctx, t, key, r)
			if err != nil {
				if err := rp.failed(ctx, "backup "+r.ID, err); err != nil {
					return err
				}
				continue
			}
			if st != copyGood {
				continue // a missing or bad copy: not this step's to fix
			}
		}
		if err := WriteManifest(ctx, t, key, r); err != nil {
			if err := rp.failed(ctx, "backup "+r.ID, err); err != nil {
				return err
			}
			continue
		}
		rp.wrote[tk{f.Target, key}] = true
		rp.did("backup %s: wrote its manifest on %s", r.ID, f.Target)
	}
	return nil
}

func (rp *repairer) orphanFiles(ctx context.Context, fs []Finding) error {
	for _, f := range fs {
		if err := rp.orphanFile(ctx, f); err != nil {
			return err
		}
	}
	return nil
}

func (rp *repairer) orphanFile(ctx context.Context, f Finding) error {
	t := rp.c.target(f.Target)
	if t == nil {
		return nil
	}
	key := f.Key
	what := "file " + key + " on " + f.Target
	// Still there, still nobody's?
	if _, err := t.Stat(ctx, key); errors.Is(err, storage.ErrNotExist) {
		return nil
	} else if err != nil {
		return rp.failed(ctx, what, err)
	}
	live, deleting, err := rp.sameFile(ctx, key)
	if err != nil {
		return rp.failed(ctx, what, err)
	}
	if anyLocatedOn(live, f.Target) || anyLocatedOn(deleting, f.Target) {
		return nil
	}
	o, err := rp.c.orphan(ctx, f.Target, key, rp.readData)
	if err != nil {
		return rp.failed(ctx, what, err)
	}
	switch o.action {
	case orphanLeave:
		rp.left("%s: %s", what, o.detail)
		return nil
	case orphanDelete:
		if err := t.Delete(ctx, key); err != nil {
			return rp.failed(ctx, what, err)
		}
		rp.did("deleted %s: no record and no manifest name it, so its job never recorded it", what)
		return nil
	}
	// Adopt: record it with every target holding it.
	m := o.manifest
	var holders []catalog.Location
	for _, u := range rp.c.Targets {
		if st, err := statCopy(ctx, u, key, m); err != nil {
			return rp.failed(ctx, what, err)
		} else if st == copyGood {
			holders = append(holders, catalog.Location{Target: u.Name(), URI: u.URI(key)})
		}
	}
	rec, err := rp.cat.Get(ctx, m.ID)
	switch {
	case err == nil:
		locs := slices.Clone(rec.Locations)
		var added []string
		for _, h := range holders {
			if !locatedOn(rec, h.Target) {
				locs = append(locs, h)
				added = append(added, h.Target)
			}
		}
		if len(added) == 0 {
			return nil
		}
		if err := rp.cat.SetLocations(ctx, rec.ID, locs); err != nil {
			return rp.failed(ctx, what, err)
		}
		rec.Locations = locs
		rp.did("backup %s: added its unlisted copy on %s to its record", rec.ID, strings.Join(added, ", "))
	case errors.Is(err, catalog.ErrNotFound):
		rec = m
		rec.Locations = holders
		if err := rp.cat.Add(ctx, rec); err != nil {
			return rp.failed(ctx, what+": adopt backup "+m.ID, err)
		}
		var on []string
		for _, h := range holders {
			on = append(on, h.Target)
		}
		rp.did("adopted backup %s (%s/%s, started %s) from its manifest: a crash left it unrecorded; recorded with its copies on %s",
			m.ID, m.Site, m.Environment, m.StartedAt.Format(time.RFC3339), strings.Join(on, ", "))
	default:
		return rp.failed(ctx, what, err)
	}
	if err := rp.syncManifests(ctx, rec, key); err != nil {
		return rp.failed(ctx, "backup "+rec.ID+": write manifests", err)
	}
	return nil
}

func (rp *repairer) orphanManifests(ctx context.Context, fs []Finding) error {
	for _, f := range fs {
		t := rp.c.target(f.Target)
		key, ok := manifestOf(f.Key)
		if t == nil || !ok {
			continue
		}
		what := "manifest " + f.Key + " on " + f.Target
		if _, err := t.Stat(ctx, f.Key); errors.Is(err, storage.ErrNotExist) {
			continue
		} else if err != nil {
			if err := rp.failed(ctx, what, err); err != nil {
				return err
			}
			continue
		}
		if _, err := t.Stat(ctx, key); err == nil {
			continue // its file is there now
		} else if !errors.Is(err, storage.ErrNotExist) {
			if err := rp.failed(ctx, what, err); err != nil {
				return err
			}
			continue
		}
		live, deleting, err := rp.sameFile(ctx, key)
		if err != nil {
			if err := rp.failed(ctx, what, err); err != nil {
				return err
			}
			continue
		}
		if anyLocatedOn(live, f.Target) || anyLocatedOn(deleting, f.Target) {
			continue
		}
		if err := t.Delete(ctx, f.Key); err != nil {
			if err := rp.failed(ctx, what, err); err != nil {
				return err
			}
			continue
		}
		rp.did("deleted %s: no backup file is beside it", what)
	}
	return nil
}

func (rp *repairer) unknownTargets(_ context.Context, fs []Finding) error {
	for _, f := range fs {
		rp.left("backup %s: its copy on target %q cannot be checked or repaired: that target is not configured", f.BackupID, f.Target)
	}
	return nil
}
