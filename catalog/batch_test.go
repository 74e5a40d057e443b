package catalog

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.etcd.io/bbolt"
)

// batchSize spans three batch transactions, the last one partial.
const batchSize = 2*MaxBatch + MaxBatch/2

// openFile opens the catalog at path, closed at the end of the test unless
// reopened.
func openFile(tb testing.TB, path string) *DB {
	tb.Helper()
	db, err := Open(path, Options{})
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	return db
}

// reopen closes db and opens its file again, so that the test sees what
// was committed to disk.
func reopen(tb testing.TB, db *DB) *DB {
	tb.Helper()
	if err := db.Close(); err != nil {
		tb.Fatalf("Close: %v", err)
	}
	return openFile(tb, db.Path())
}

// series returns n valid records of site/env, one an hour from start,
// oldest first.
func series(site, env string, start time.Time, n int) []Record {
	rs := make([]Record, n)
	for i := range rs {
		rs[i] = rec(site, env, start.Add(time.Duration(i)*time.Hour))
	}
	return rs
}

// newestIDs returns the ids of rs, given oldest first, in List's order.
func newestIDs(rs []Record) []string {
	out := ids(rs)
	slices.Reverse(out)
	return out
}

func listIDs(tb testing.TB, db *DB, f Filter) []string {
	tb.Helper()
	got, err := db.List(context.Background(), f)
	if err != nil {
		tb.Fatalf("List(%+v): %v", f, err)
	}
	return ids(got)
}

func deletingIDs(tb testing.TB, db *DB) []string {
	tb.Helper()
	got, err := db.Deleting(context.Background())
	if err != nil {
		tb.Fatalf("Deleting: %v", err)
	}
	return ids(got)
}

var acmeProd = Filter{Site: "acme", Environment: "production"}

func TestAddBatch(t *testing.T) {
	db := openFile(t, filepath.Join(t.TempDir(), "catalog.db"))
	ctx := context.Background()
	rs := series("acme", "production", t0, batchSize)
	other := rec("beta", "staging", t0)
	// Times in another zone are stored as the same instants in UTC.
	in := append(slices.Clone(rs), other)
	ny := time.FixedZone("EST", -5*3600)
	in[0].StartedAt, in[0].CompletedAt = rs[0].StartedAt.In(ny), rs[0].CompletedAt.In(ny)

	if err := db.AddBatch(ctx, in); err != nil {
		t.Fatalf("AddBatch(%d records): %v", len(in), err)
	}
	if err := db.AddBatch(ctx, nil); err != nil {
		t.Errorf("AddBatch(none) = %v, want nil", err)
	}
	db = reopen(t, db)
	got, err := db.List(ctx, acmeProd)
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(rs)
	slices.Reverse(want)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("List after AddBatch (-want +got):\n%s", diff)
	}
	if g, err := db.Get(ctx, other.ID); err != nil || !cmp.Equal(g, other) {
		t.Errorf("Get(%s) = %+v, %v; want %+v", other.ID, g, err, other)
	}
	// Added backups are ordinary ones: Add refuses their ids.
	if err := db.Add(ctx, rs[MaxBatch+1]); !errors.Is(err, ErrExists) {
		t.Errorf("Add(id added by AddBatch) = %v, want ErrExists", err)
	}
}

// A failed AddBatch leaves the records of its earlier transactions, and
// only those; a record that fails validation, or an id given twice, fails
// it before anything is written.
func TestAddBatchFailure(t *testing.T) {
	tests := []struct {
		name     string
		markOld  bool                                 // the record already in the catalog is being deleted
		spoil    func(rs []Record, old Record) string // changes the batch, returns the id the error names
		want     error
		wantText string
		added    int // records of the batch in the catalog afterwards
	}{
		{
			name: "invalid record in the second transaction",
			spoil: func(rs []Record, _ Record) string {
				rs[MaxBatch+3].SHA256 = "abc"
				return rs[MaxBatch+3].ID
			},
			want: ErrInvalid, wantText: "sha256",
		},
		{
			name: "id given twice",
			spoil: func(rs []Record, _ Record) string {
				rs[batchSize-1].ID = rs[5].ID
				return rs[5].ID
			},
			want: ErrExists, wantText: "given twice",
		},
		{
			name: "id in the catalog, second transaction",
			spoil: func(rs []Record, old Record) string {
				rs[MaxBatch+10].ID = old.ID
				return old.ID
			},
			want: ErrExists, wantText: fmt.Sprintf("first %d of %d were committed", MaxBatch, batchSize),
			added: MaxBatch,
		},
		{
			name:    "id being deleted, first transaction",
			markOld: true,
			spoil: func(rs []Record, old Record) string {
				rs[10].ID = old.ID
				return old.ID
			},
			want: ErrExists,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openFile(t, filepath.Join(t.TempDir(), "catalog.db"))
			ctx := context.Background()
			old := rec("beta", "production", t0)
			mustAdd(t, db, old)
			if tt.markOld {
				if err := db.MarkDeleting(ctx, old.ID); err != nil {
					t.Fatal(err)
				}
			}
			rs := series("acme", "production", t0, batchSize)
			id := tt.spoil(rs, old)

			err := db.AddBatch(ctx, rs)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), id) || !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("AddBatch = %v, want %v naming %s and %q", err, tt.want, id, tt.wantText)
			}
			db = reopen(t, db)
			if diff := cmp.Diff(newestIDs(rs[:tt.added]), listIDs(t, db, acmeProd)); diff != "" {
				t.Errorf("listed after the failed AddBatch (-want +got):\n%s", diff)
			}
			if tt.markOld {
				if got := deletingIDs(t, db); !slices.Equal(got, []string{old.ID}) {
					t.Errorf("Deleting = %v, want [%s]", got, old.ID)
				}
			} else if got := listIDs(t, db, Filter{Site: "beta"}); !slices.Equal(got, []string{old.ID}) {
				t.Errorf("the record already in the catalog: listed %v, want [%s]", got, old.ID)
			}
		})
	}
}

func TestMarkDeletingBatch(t *testing.T) {
	db := openFile(t, filepath.Join(t.TempDir(), "catalog.db"))
	ctx := context.Background()
	rs := series("acme", "production", t0, batchSize)
	other := rec("beta", "production", t0)
	if err := db.AddBatch(ctx, append(slices.Clone(rs), other)); err != nil {
		t.Fatal(err)
	}
	if err := db.MarkDeleting(ctx, rs[7].ID); err != nil {
		t.Fatal(err)
	}
	doomed := rs[:batchSize-1]
	marks := ids(doomed)
	marks[3] = strings.ToUpper(marks[3])       // matched case-insensitively
	marks = append(marks, doomed[MaxBatch].ID) // marked twice in one call; rs[7] was marked before

	if err := db.MarkDeletingBatch(ctx, marks); err != nil {
		t.Fatalf("MarkDeletingBatch: %v", err)
	}
	if err := db.MarkDeletingBatch(ctx, nil); err != nil {
		t.Errorf("MarkDeletingBatch(none) = %v, want nil", err)
	}
	db = reopen(t, db)
	if got, want := listIDs(t, db, Filter{}), []string{rs[batchSize-1].ID, other.ID}; !slices.Equal(got, want) {
		t.Errorf("listed after MarkDeletingBatch = %v, want %v", got, want)
	}
	if diff := cmp.Diff(ids(doomed), deletingIDs(t, db)); diff != "" {
		t.Errorf("Deleting after MarkDeletingBatch (-want +got):\n%s", diff)
	}
	if _, err := db.Get(ctx, doomed[MaxBatch+1].ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(marked) = %v, want ErrNotFound", err)
	}
}

// An unknown id fails its transaction: the backups of earlier transactions
// stay marked, those of its own and later ones stay listed.
func TestMarkDeletingBatchFailure(t *testing.T) {
	db := openFile(t, filepath.Join(t.TempDir(), "catalog.db"))
	ctx := context.Background()
	rs := series("acme", "production", t0, batchSize)
	if err := db.AddBatch(ctx, rs); err != nil {
		t.Fatal(err)
	}
	marks := ids(rs)
	unknown := NewID(t0.Add(-time.Hour))
	marks[MaxBatch+10] = unknown

	err := db.MarkDeletingBatch(ctx, marks)
	want := fmt.Sprintf("first %d of %d were committed", MaxBatch, batchSize)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), unknown) || !strings.Contains(err.Error(), want) {
		t.Errorf("MarkDeletingBatch(unknown id) = %v, want ErrNotFound naming %s and saying %q", err, unknown, want)
	}
	db = reopen(t, db)
	if diff := cmp.Diff(ids(rs[:MaxBatch]), deletingIDs(t, db)); diff != "" {
		t.Errorf("Deleting after the failed MarkDeletingBatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(newestIDs(rs[MaxBatch:]), listIDs(t, db, acmeProd)); diff != "" {
		t.Errorf("listed after the failed MarkDeletingBatch (-want +got):\n%s", diff)
	}
}

func TestRemoveBatch(t *testing.T) {
	db := openFile(t, filepath.Join(t.TempDir(), "catalog.db"))
	ctx := context.Background()
	rs := series("acme", "production", t0, batchSize)
	staging := rec("acme", "staging", t0)
	other := rec("beta", "production", t0)
	if err := db.AddBatch(ctx, append(slices.Clone(rs), staging, other)); err != nil {
		t.Fatal(err)
	}
	// All but the newest are marked; Remove also takes an unmarked one.
	if err := db.MarkDeletingBatch(ctx, ids(rs[:batchSize-1])); err != nil {
		t.Fatal(err)
	}
	removes := append(ids(rs), staging.ID)
	removes[3] = strings.ToUpper(removes[3])     // matched case-insensitively
	removes = append(removes, rs[MaxBatch+2].ID) // given twice: removed once

	if err := db.RemoveBatch(ctx, removes); err != nil {
		t.Fatalf("RemoveBatch: %v", err)
	}
	if err := db.RemoveBatch(ctx, nil); err != nil {
		t.Errorf("RemoveBatch(none) = %v, want nil", err)
	}
	db = reopen(t, db)
	if got := listIDs(t, db, Filter{}); !slices.Equal(got, []string{other.ID}) {
		t.Errorf("listed after RemoveBatch = %v, want [%s]", got, other.ID)
	}
	if got := deletingIDs(t, db); len(got) != 0 {
		t.Errorf("still marked after RemoveBatch: %d backups", len(got))
	}
	if err := db.Remove(ctx, rs[0].ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Remove(removed by RemoveBatch) = %v, want ErrNotFound", err)
	}
	_ = db.bolt.View(func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketBackups).Bucket([]byte("acme")) != nil {
			t.Errorf("backups/acme still exists after all its backups were removed")
		}
		if n := tx.Bucket(bucketIDs).Stats().KeyN; n != 1 {
			t.Errorf("ids bucket holds %d entries, want 1", n)
		}
		return nil
	})
	// Removed ids can be added again (a catalog rebuilt from manifests).
	if err := db.AddBatch(ctx, rs); err != nil {
		t.Errorf("AddBatch(removed records) = %v", err)
	}
}

// An unknown id fails its transaction: the backups of earlier transactions
// stay removed, those of its own and later ones stay, still marked.
func TestRemoveBatchFailure(t *testing.T) {
	db := openFile(t, filepath.Join(t.TempDir(), "catalog.db"))
	ctx := context.Background()
	rs := series("acme", "production", t0, batchSize)
	if err := db.AddBatch(ctx, rs); err != nil {
		t.Fatal(err)
	}
	if err := db.MarkDeletingBatch(ctx, ids(rs)); err != nil {
		t.Fatal(err)
	}
	removes := ids(rs)
	unknown := NewID(t0.Add(-time.Hour))
	removes[MaxBatch+10] = unknown

	err := db.RemoveBatch(ctx, removes)
	want := fmt.Sprintf("first %d of %d were committed", MaxBatch, batchSize)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), unknown) || !strings.Contains(err.Error(), want) {
		t.Errorf("RemoveBatch(unknown id) = %v, want ErrNotFound naming %s and saying %q", err, unknown, want)
	}
	db = reopen(t, db)
	if diff := cmp.Diff(ids(rs[MaxBatch:]), deletingIDs(t, db)); diff != "" {
		t.Errorf("Deleting after the failed RemoveBatch (-want +got):\n%s", diff)
	}
	if err := db.Remove(ctx, rs[0].ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Remove(removed in the first transaction) = %v, want ErrNotFound", err)
	}
	// What is left is whole: it can be finished.
	if err := db.RemoveBatch(ctx, ids(rs[MaxBatch:])); err != nil {
		t.Errorf("RemoveBatch(the rest) = %v", err)
	}
	if got := deletingIDs(t, db); len(got) != 0 {
		t.Errorf("still marked: %d backups", len(got))
	}
}
