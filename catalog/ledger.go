package catalog

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

var (
	bucketLedger   = []byte("ledger")
	keyPausedUntil = []byte("budget_paused_until")
)

// Operation is one database operation (an export, import or backup
// creation request) spent from the account's budget, as the ledger holds
// it (CONTRACT §6).
type Operation struct {
	At   time.Time `json:"at"`
	Op   string    `json:"op"`            // "export", "import", "backup", or "retry" of one
	Ref  string    `json:"ref,omitempty"` // the job or site it was spent for
	By   string    `json:"by,omitempty"`  // "daemon" or the command
	Note string    `json:"note,omitempty"`
}

// SpendBudget writes one database operation to the ledger. Callers write
// it before the request is sent, so an operation whose answer is lost, or
// whose process dies before the answer, is still counted after a restart.
// Errors: ErrReadOnly, ctx's error.
func (db *DB) SpendBudget(ctx context.Context, op Operation) error {
	if err := db.writable(ctx); err != nil {
		return fmt.Errorf("spend budget: %w", err)
	}
	op.At = op.At.UTC()
	data, err := json.Marshal(op)
	if err != nil {
		return fmt.Errorf("spend budget: encode: %w", err)
	}
	key := make([]byte, 16)
	binary.BigEndian.PutUint64(key, uint64(op.At.UnixNano()))
	_, _ = rand.Read(key[8:]) // never fails
	err = db.bolt.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketLedger)
		if err != nil {
			return err
		}
		// Entries older than a day are of no use to any budget window.
		c := b.Cursor()
		cutoff := uint64(op.At.Add(-24 * time.Hour).UnixNano())
		for k, _ := c.First(); k != nil && len(k) >= 8 && binary.BigEndian.Uint64(k) < cutoff; k, _ = c.First() {
			if err := c.Delete(); err != nil {
				return err
			}
		}
		return b.Put(key, data)
	})
	if err != nil {
		return fmt.Errorf("spend budget: %w", err)
	}
	return nil
}

// BudgetSpent returns the operations in the ledger at or after since,
// oldest first. Errors: ctx's error, an unreadable entry.
func (db *DB) BudgetSpent(ctx context.Context, since time.Time) ([]Operation, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read budget ledger: %w", err)
	}
	var out []Operation
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketLedger)
		if b == nil {
			return nil
		}
		start := make([]byte, 8)
		if !since.Before(time.Unix(0, 0)) {
			binary.BigEndian.PutUint64(start, uint64(since.UnixNano()))
		}
		c := b.Cursor()
		for k, v := c.Seek(start); k != nil; k, v = c.Next() {
			var op Operation
			if err := json.Unmarshal(v, &op); err != nil {
				return fmt.Errorf("ledger entry %x: %w", k, err)
			}
			out = append(out, op)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read budget ledger: %w", err)
	}
	return out, nil
}

// SetBudgetPausedUntil records that the API refused a database operation
// (429) and asked to wait until t: every process on this catalog waits
// too. A time before the one recorded is ignored. Errors: ErrReadOnly,
// ctx's error.
func (db *DB) SetBudgetPausedUntil(ctx context.Context, t time.Time) error {
	if err := db.writable(ctx); err != nil {
		return fmt.Errorf("pause budget: %w", err)
	}
	err := db.bolt.Update(func(tx *bbolt.Tx) error {
		meta, err := bucket(tx, bucketMeta)
		if err != nil {
			return err
		}
		if cur, err := time.Parse(time.RFC3339Nano, string(meta.Get(keyPausedUntil))); err == nil && !t.After(cur) {
			return nil
		}
		return meta.Put(keyPausedUntil, []byte(t.UTC().Format(time.RFC3339Nano)))
	})
	if err != nil {
		return fmt.Errorf("pause budget: %w", err)
	}
	return nil
}

// BudgetPausedUntil returns until when database operations are paused by
// a 429, or the zero time. Errors: ctx's error.
func (db *DB) BudgetPausedUntil(ctx context.Context) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, err
	}
	var t time.Time
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		if meta := tx.Bucket(bucketMeta); meta != nil {
			if v := meta.Get(keyPausedUntil); v != nil {
				t, _ = time.Parse(time.RFC3339Nano, string(v))
			}
		}
		return nil
	})
	return t, err
}
