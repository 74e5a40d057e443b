package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.etcd.io/bbolt"
)

// ErrAmbiguous: an id prefix matches more than one backup.
var ErrAmbiguous = errors.New("ambiguous id prefix")

// CommitBackup records a finished backup and its job's final state in one
// transaction, so that no crash can leave a job unfinished whose backup is
// recorded (which a restart would resume into a second record). The job is
// saved as PutJob saves it, with BackupID set to r.ID and State
// JobSucceeded.
//
// It is idempotent: when a backup with r.ID is already recorded for the
// same file (Record.SameFile), nothing about the record changes and the
// job is still saved. A record with r.ID for another file fails with
// ErrExists. Errors also: ErrInvalid for an invalid record or job,
// ErrReadOnly, ctx's error.
func (db *DB) CommitBackup(ctx context.Context, r Record, j Job) error {
	if err := db.writable(ctx); err != nil {
		return fmt.Errorf("commit backup %s: %w", r.ID, err)
	}
	if err := r.Validate(); err != nil {
		return fmt.Errorf("commit backup %s: %w", r.ID, err)
	}
	j.BackupID, j.State = r.ID, JobSucceeded
	if err := j.validate(); err != nil {
		return fmt.Errorf("commit backup %s: %w", r.ID, err)
	}
	r = r.utc()
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("commit backup %s: encode: %w", r.ID, err)
	}
	jdata, err := encodeJob(j)
	if err != nil {
		return fmt.Errorf("commit backup %s: %w", r.ID, err)
	}
	err = db.bolt.Update(func(tx *bbolt.Tx) error {
		switch loc, err := locate(tx, r.ID); {
		case errors.Is(err, ErrNotFound):
			if err := putRecord(tx, r, data); err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			prev, err := decodeRecord(loc.bucket.Get(loc.key))
			if err != nil {
				return err
			}
			if !prev.SameFile(r) {
				return fmt.Errorf("%w for another file", ErrExists)
			}
		}
		jobs, err := bucket(tx, bucketJobs)
		if err != nil {
			return err
		}
		return jobs.Put([]byte(j.ID), jdata)
	})
	if err != nil {
		return fmt.Errorf("commit backup %s: %w", r.ID, err)
	}
	return nil
}

// Resolve returns the id of the one backup whose id starts with prefix
// (matched case-insensitively), as git resolves abbreviated commits; a
// full id is its own resolution. Backups marked deleting do not count.
// Errors: ErrNotFound when none matches, one matching ErrAmbiguous naming
// the candidates (up to ten) when several do, ErrInvalid for an empty
// prefix, ctx's error.
func (db *DB) Resolve(ctx context.Context, prefix string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("resolve backup %s: %w", prefix, err)
	}
	prefix = strings.ToLower(strings.TrimSpace(prefix))
	if prefix == "" {
		return "", fmt.Errorf("resolve backup: %w: empty id", ErrInvalid)
	}
	const shown = 10
	var matches []string
	more := false
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		ids, err := bucket(tx, bucketIDs)
		if err != nil {
			return err
		}
		if ids.Get([]byte(prefix)) != nil && !isDeleting(tx, []byte(prefix)) {
			matches = []string{prefix}
			return nil
		}
		c := ids.Cursor()
		for k, _ := c.Seek([]byte(prefix)); k != nil && bytes.HasPrefix(k, []byte(prefix)); k, _ = c.Next() {
			if isDeleting(tx, k) {
				continue
			}
			if len(matches) == shown {
				more = true
				break
			}
			matches = append(matches, string(k))
		}
		return nil
	})
	switch {
	case err != nil:
		return "", fmt.Errorf("resolve backup %s: %w", prefix, err)
	case len(matches) == 0:
		return "", fmt.Errorf("backup %s: %w", prefix, ErrNotFound)
	case len(matches) > 1:
		list := strings.Join(matches, ", ")
		if more {
			list += ", …"
		}
		return "", fmt.Errorf("backup id %s: %w: it matches %s", prefix, ErrAmbiguous, list)
	}
	return matches[0], nil
}

// SetPinned pins or unpins the backup with the given id (matched
// case-insensitively): retention keeps a pinned backup. Errors:
// ErrNotFound (also for a backup marked deleting), ErrReadOnly, ctx's
// error.
func (db *DB) SetPinned(ctx context.Context, id string, pinned bool) error {
	return db.update(ctx, id, "pin backup", func(r *Record) { r.Pinned = pinned })
}

// SetVerified records t as the backup's last successful restore drill.
// Errors as SetPinned.
func (db *DB) SetVerified(ctx context.Context, id string, t time.Time) error {
	return db.update(ctx, id, "record drill of backup", func(r *Record) { r.VerifiedAt = t.UTC().Format(time.RFC3339) })
}

// update changes one live record in one transaction.
func (db *DB) update(ctx context.Context, id, what string, change func(*Record)) error {
	if err := db.writable(ctx); err != nil {
		return fmt.Errorf("%s %s: %w", what, id, err)
	}
	id = strings.ToLower(id)
	err := db.bolt.Update(func(tx *bbolt.Tx) error {
		if isDeleting(tx, []byte(id)) {
			return ErrNotFound
		}
		loc, err := locate(tx, id)
		if err != nil {
			return err
		}
		r, err := decodeRecord(loc.bucket.Get(loc.key))
		if err != nil {
			return err
		}
		change(&r)
		data, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encode: %w", err)
		}
		return loc.bucket.Put(loc.key, data)
	})
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, id, err)
	}
	return nil
}

// DefaultPageSize is the page Page returns when asked for none.
const DefaultPageSize = 1000

// Page returns up to limit backups that f selects, newest first by id (ids
// sort by start time), starting after the backup with id after ("" starts
// at the newest), and the id to pass as after for the next page ("" when
// there is none). Backups marked deleting are left out. It reads only the
// page it returns (and, for a filter, the index entries it skips), so its
// memory does not grow with the catalog. A limit of 0 or less means
// DefaultPageSize. Errors: ErrInvalid for an unknown trigger, ctx's error,
// an error naming an unreadable record.
func (db *DB) Page(ctx context.Context, f Filter, after string, limit int) ([]Record, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", fmt.Errorf("list backups: %w", err)
	}
	if f.Trigger != "" && !validTrigger(f.Trigger) {
		return nil, "", fmt.Errorf("list backups: %w trigger %q", ErrInvalid, f.Trigger)
	}
	if limit <= 0 {
		limit = DefaultPageSize
	}
	after = strings.ToLower(after)
	var out []Record
	next := ""
	n := 0
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		ids, err := bucket(tx, bucketIDs)
		if err != nil {
			return err
		}
		c := ids.Cursor()
		var k, v []byte
		if after == "" {
			k, v = c.Last()
		} else {
			// The newest id below after: Seek lands on after or the first
			// id above it.
			k, v = c.Seek([]byte(after))
			if k == nil {
				k, v = c.Last()
			}
			if k != nil && bytes.Compare(k, []byte(after)) >= 0 {
				k, v = c.Prev()
			}
		}
		for ; k != nil; k, v = c.Prev() {
			if n++; n%ctxCheckEvery == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			site, env, _, ok := splitIndex(v)
			if !ok || (f.Site != "" && string(site) != f.Site) || (f.Environment != "" && string(env) != f.Environment) || isDeleting(tx, k) {
				continue
			}
			loc, err := locate(tx, string(k))
			if err != nil {
				return fmt.Errorf("backup %s: %w", k, err)
			}
			r, err := decodeRecord(loc.bucket.Get(loc.key))
			if err != nil {
				return fmt.Errorf("backup %s: %w", k, err)
			}
			if f.Trigger != "" && r.Trigger != f.Trigger {
				continue
			}
			if len(out) == limit {
				next = out[len(out)-1].ID
				return nil
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("list backups: %w", err)
	}
	return out, next, nil
}

// splitIndex splits an ids bucket value without copying or validating:
// the slices point into the transaction's memory.
func splitIndex(v []byte) (site, env, key []byte, ok bool) {
	s, rest, ok1 := bytes.Cut(v, []byte{0})
	e, k, ok2 := bytes.Cut(rest, []byte{0})
	return s, e, k, ok1 && ok2
}

// PruneJobs bounds the jobs table: it keeps the newest keep jobs (by id,
// which sorts by creation time) and every job not yet finished, and
// deletes the older finished ones (succeeded or failed) — except those
// whose export was requested at or after since, which the budget still
// counts. It reads only the jobs it keeps plus those it deletes, and
// returns how many it deleted. Errors: ErrReadOnly, ctx's error.
func (db *DB) PruneJobs(ctx context.Context, keep int, since time.Time) (int, error) {
	if err := db.writable(ctx); err != nil {
		return 0, fmt.Errorf("prune jobs: %w", err)
	}
	deleted := 0
	err := db.bolt.Update(func(tx *bbolt.Tx) error {
		jobs, err := bucket(tx, bucketJobs)
		if err != nil {
			return err
		}
		var doomed [][]byte
		c := jobs.Cursor()
		seen := 0
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			if seen++; seen <= keep {
				continue
			}
			j, err := decodeJob(v)
			if err != nil {
				doomed = append(doomed, bytes.Clone(k)) // unreadable: nothing to resume
				continue
			}
			if (j.State == JobSucceeded || j.State == JobFailed) && j.ExportRequestedAt.Before(since) {
				doomed = append(doomed, bytes.Clone(k))
			}
		}
		for _, k := range doomed {
			if err := jobs.Delete(k); err != nil {
				return err
			}
		}
		deleted = len(doomed)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune jobs: %w", err)
	}
	return deleted, nil
}

// Empty reports whether the catalog holds no backup at all, not even one
// being deleted. Errors: ctx's error.
func (db *DB) Empty(ctx context.Context) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	empty := true
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketIDs, bucketDeleting} {
			if b := tx.Bucket(name); b != nil {
				if k, _ := b.Cursor().First(); k != nil {
					empty = false
				}
			}
		}
		return nil
	})
	return empty, err
}

// Latest returns the newest backup of one environment that is not marked
// deleting, reading its bucket from the end: it costs the same whatever
// the number of backups. The boolean is false when there is none. Errors:
// ctx's error, an unreadable record.
func (db *DB) Latest(ctx context.Context, site, env string) (Record, bool, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, false, err
	}
	var r Record
	found := false
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		return forEachEnv(tx, site, env, func(_, _ []byte, b *bbolt.Bucket) error {
			c := b.Cursor()
			for k, v := c.Last(); k != nil; k, v = c.Prev() {
				if v == nil || len(k) <= 8 || isDeleting(tx, k[8:]) {
					continue
				}
				var err error
				r, err = decodeRecord(v)
				found = err == nil
				return err
			}
			return nil
		})
	})
	if err != nil {
		return Record{}, false, fmt.Errorf("newest backup of %s/%s: %w", site, env, err)
	}
	return r, found, nil
}
