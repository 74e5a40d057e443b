package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"go.etcd.io/bbolt"
)

// MaxBatch is the most records or ids AddBatch, MarkDeletingBatch and
// RemoveBatch change in one transaction. They commit a longer list in
// consecutive transactions of MaxBatch items, in order, so a call with at
// most MaxBatch items is all-or-nothing.
const MaxBatch = 1000

// AddBatch adds rs as Add adds each one, committing up to MaxBatch records
// (with their index entries) per transaction, in order.
//
// Before anything is written, every record is validated and the ids are
// checked for repeats: a call with an invalid record (an error matching
// ErrInvalid naming its id and position) or an id given twice (ErrExists
// naming it) adds nothing. A record whose id is already in the catalog,
// also one being deleted, fails its transaction with an error matching
// ErrExists naming the id: none of that transaction's records are added,
// those of earlier transactions stay added (the error says how many), the
// later ones are not tried. ctx is checked before each transaction.
// Other errors: ErrReadOnly, or ctx's error.
func (db *DB) AddBatch(ctx context.Context, rs []Record) error {
	if err := db.writable(ctx); err != nil {
		return fmt.Errorf("add backups: %w", err)
	}
	seen := make(map[string]struct{}, len(rs))
	for i, r := range rs {
		if err := r.Validate(); err != nil {
			return fmt.Errorf("add backups: backup %s (%d of %d): %w", r.ID, i+1, len(rs), err)
		}
		if _, ok := seen[r.ID]; ok {
			return fmt.Errorf("add backups: backup %s given twice: %w", r.ID, ErrExists)
		}
		seen[r.ID] = struct{}{}
	}
	err := inChunks(ctx, db.bolt, rs, func(tx *bbolt.Tx, chunk []Record) error {
		for _, r := range chunk {
			r = r.utc()
			data, err := json.Marshal(r)
			if err != nil {
				return fmt.Errorf("backup %s: encode: %w", r.ID, err)
			}
			if err := putRecord(tx, r, data); err != nil {
				return fmt.Errorf("backup %s: %w", r.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("add backups: %w", err)
	}
	return nil
}

// MarkDeletingBatch marks the backups with the given ids (matched
// case-insensitively) as being deleted, as MarkDeleting marks each one,
// committing up to MaxBatch marks per transaction, in order. Marking a
// marked backup again succeeds.
//
// An id that is not in the catalog fails its transaction with an error
// matching ErrNotFound naming the id: none of that transaction's backups
// are marked, those of earlier transactions stay marked (the error says how
// many), the later ones are not tried. ctx is checked before each
// transaction. Other errors: ErrReadOnly, or ctx's error.
func (db *DB) MarkDeletingBatch(ctx context.Context, ids []string) error {
	if err := db.writable(ctx); err != nil {
		return fmt.Errorf("mark backups deleting: %w", err)
	}
	err := inChunks(ctx, db.bolt, ids, func(tx *bbolt.Tx, chunk []string) error {
		for _, id := range chunk {
			id = strings.ToLower(id)
			if err := markDeleting(tx, id); err != nil {
				return fmt.Errorf("backup %s: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mark backups deleting: %w", err)
	}
	return nil
}

// RemoveBatch deletes the backups with the given ids (matched
// case-insensitively) from the catalog, as Remove deletes each one (record,
// index entry and mark), committing up to MaxBatch removals per
// transaction, in order. An id given more than once is removed once.
// Callers delete a backup's files between MarkDeletingBatch and
// RemoveBatch.
//
// An id that is not in the catalog fails its transaction with an error
// matching ErrNotFound naming the id: none of that transaction's backups
// are removed, those of earlier transactions stay removed (the error says
// how many), the later ones are not tried. ctx is checked before each
// transaction. Other errors: ErrReadOnly, or ctx's error.
func (db *DB) RemoveBatch(ctx context.Context, ids []string) error {
	if err := db.writable(ctx); err != nil {
		return fmt.Errorf("remove backups: %w", err)
	}
	uniq := make([]string, 0, len(ids))
	seen := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		id = strings.ToLower(id)
		if _, ok := seen[id]; !ok {
			seen[id] = struct{}{}
			uniq = append(uniq, id)
		}
	}
	err := inChunks(ctx, db.bolt, uniq, func(tx *bbolt.Tx, chunk []string) error {
		var envs [][2]string // the environments touched, to prune when emptied
		for _, id := range chunk {
			loc, err := removeRecord(tx, id)
			if err != nil {
				return fmt.Errorf("backup %s: %w", id, err)
			}
			if env := [2]string{loc.site, loc.env}; !slices.Contains(envs, env) {
				envs = append(envs, env)
			}
		}
		for _, env := range envs {
			if err := pruneEmpty(tx, env[0], env[1]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("remove backups: %w", err)
	}
	return nil
}

// inChunks calls fn in one write transaction per consecutive chunk of at
// most MaxBatch items, in order, checking ctx before each. It stops at the
// first error, which it returns saying how many items earlier transactions
// committed.
func inChunks[T any](ctx context.Context, b *bbolt.DB, items []T, fn func(tx *bbolt.Tx, chunk []T) error) error {
	done := 0
	for chunk := range slices.Chunk(items, MaxBatch) {
		err := ctx.Err()
		if err == nil {
			err = b.Update(func(tx *bbolt.Tx) error { return fn(tx, chunk) })
		}
		if err != nil {
			if done > 0 {
				return fmt.Errorf("%w (the first %d of %d were committed)", err, done, len(items))
			}
			return err
		}
		done += len(chunk)
	}
	return nil
}
