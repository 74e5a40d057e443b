package catalog

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.etcd.io/bbolt"
)

func TestOpenCreatesPrivateFileAndDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "vectord")
	path := filepath.Join(dir, "catalog.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if db.Path() != path {
		t.Errorf("Path() = %q, want %q", db.Path(), path)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		want fs.FileMode
	}{{dir, 0o700 | fs.ModeDir}, {path, 0o600}} {
		fi, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != c.want {
			t.Errorf("mode of %s = %v, want %v", c.path, fi.Mode(), c.want)
		}
	}

	// The layout doc.go draws.
	b, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_ = b.View(func(tx *bbolt.Tx) error {
		for _, name := range []string{"meta", "backups", "ids", "deleting", "jobs"} {
			if tx.Bucket([]byte(name)) == nil {
				t.Errorf("bucket %s missing", name)
			}
		}
		if v := string(tx.Bucket([]byte("meta")).Get([]byte("schema_version"))); v != "1" {
			t.Errorf("meta/schema_version = %q, want \"1\"", v)
		}
		return nil
	})
}

func TestAddGet(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	r := rec("acme", "production", t0.Add(123*time.Nanosecond))
	// Times in another zone are stored as the same instants in UTC.
	in := r
	ny := time.FixedZone("EST", -5*3600)
	in.StartedAt, in.CompletedAt = r.StartedAt.In(ny), r.CompletedAt.In(ny)
	mustAdd(t, db, in)

	for _, id := range []string{r.ID, strings.ToUpper(r.ID)} {
		got, err := db.Get(ctx, id)
		if err != nil {
			t.Fatalf("Get(%s): %v", id, err)
		}
		if diff := cmp.Diff(r, got); diff != "" {
			t.Errorf("Get(%s) (-want +got):\n%s", id, diff)
		}
		if got.StartedAt.Location() != time.UTC {
			t.Errorf("Get(%s).StartedAt in %v, want UTC", id, got.StartedAt.Location())
		}
	}

	if _, err := db.Get(ctx, NewID(t0)); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(unknown id) = %v, want ErrNotFound", err)
	}
	if _, err := db.Get(ctx, "nonsense"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(malformed id) = %v, want ErrNotFound", err)
	}
}

func TestAddRefusesInvalidRecord(t *testing.T) {
	db := openTest(t)
	r := rec("acme", "production", t0)
	r.SHA256 = "abc"
	err := db.Add(context.Background(), r)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "sha256") {
		t.Fatalf("Add(bad sha256) = %v, want ErrInvalid naming sha256", err)
	}
	if got, err := db.List(context.Background(), Filter{}); err != nil || len(got) != 0 {
		t.Errorf("List after refused Add = %d records, %v; want none", len(got), err)
	}
}

func TestAddDuplicate(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	r := rec("acme", "production", t0)
	mustAdd(t, db, r)

	again := rec("acme", "staging", t0.Add(time.Hour))
	again.ID = r.ID
	if err := db.Add(ctx, again); !errors.Is(err, ErrExists) {
		t.Errorf("Add(same id) = %v, want ErrExists", err)
	}
	if err := db.MarkDeleting(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.Add(ctx, r); !errors.Is(err, ErrExists) {
		t.Errorf("Add(id being deleted) = %v, want ErrExists", err)
	}
	if got, _ := db.List(ctx, Filter{Site: "acme", Environment: "staging"}); len(got) != 0 {
		t.Errorf("refused duplicate was listed: %v", ids(got))
	}
}

func TestListOrder(t *testing.T) {
	db := openTest(t)
	// Same second, different nanoseconds; and two records started at the
	// same instant, ordered by id.
	a := rec("acme", "production", t0)
	b := rec("acme", "production", t0.Add(1))
	c := rec("acme", "production", t0.Add(999_999_999))
	d1 := rec("acme", "production", t0.Add(500))
	d2 := rec("acme", "production", t0.Add(500))
	if d1.ID >= d2.ID {
		t.Fatalf("NewID not increasing: %s, %s", d1.ID, d2.ID)
	}
	// Another environment, interleaved in time.
	s := rec("acme", "staging", t0.Add(700))
	older := rec("acme", "staging", t0.Add(-24*time.Hour))
	// Added out of order.
	mustAdd(t, db, c, older, d2, a, s, d1, b)

	tests := []struct {
		filter Filter
		want   []Record
	}{
		{Filter{Site: "acme", Environment: "production"}, []Record{c, d2, d1, b, a}},
		{Filter{Site: "acme"}, []Record{c, s, d2, d1, b, a, older}},
		{Filter{}, []Record{c, s, d2, d1, b, a, older}},
	}
	for _, tt := range tests {
		got, err := db.List(context.Background(), tt.filter)
		if err != nil {
			t.Fatalf("List(%+v): %v", tt.filter, err)
		}
		if diff := cmp.Diff(ids(tt.want), ids(got)); diff != "" {
			t.Errorf("List(%+v) order (-want +got):\n%s", tt.filter, diff)
		}
	}
}

func TestListFilter(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	ap := rec("acme", "production", t0)
	as := rec("acme", "staging", t0.Add(time.Minute))
	am := rec("acme", "production", t0.Add(2*time.Minute))
	am.Trigger = TriggerManual
	api := rec("acme", "production", t0.Add(3*time.Minute))
	api.Trigger = TriggerPreImport
	bp := rec("beta", "production", t0.Add(4*time.Minute))
	bd := rec("beta", "development", t0.Add(5*time.Minute))
	mustAdd(t, db, ap, as, am, api, bp, bd)

	tests := []struct {
		name   string
		filter Filter
		want   []Record
	}{
		{"all", Filter{}, []Record{bd, bp, api, am, as, ap}},
		{"site", Filter{Site: "beta"}, []Record{bd, bp}},
		{"site and environment", Filter{Site: "acme", Environment: "staging"}, []Record{as}},
		{"environment in every site", Filter{Environment: "production"}, []Record{bp, api, am, ap}},
		{"trigger", Filter{Trigger: TriggerSchedule}, []Record{bd, bp, as, ap}},
		{"site, environment and trigger", Filter{Site: "acme", Environment: "production", Trigger: TriggerManual}, []Record{am}},
		{"pre-import", Filter{Trigger: TriggerPreImport}, []Record{api}},
		{"unknown site", Filter{Site: "gamma"}, nil},
		{"unknown environment", Filter{Site: "acme", Environment: "qa"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.List(ctx, tt.filter)
			if err != nil {
				t.Fatalf("List(%+v): %v", tt.filter, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("List(%+v) (-want +got):\n%s", tt.filter, diff)
			}
		})
	}

	if _, err := db.List(ctx, Filter{Trigger: "scheduled"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("List(unknown trigger) = %v, want ErrInvalid", err)
	}
}

func TestDeleteLifecycle(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	keep := rec("acme", "production", t0)
	gone := rec("acme", "production", t0.Add(time.Hour))
	only := rec("beta", "production", t0.Add(2*time.Hour))
	mustAdd(t, db, keep, gone, only)

	// Marking hides a backup at once.
	for _, r := range []Record{gone, only} {
		if err := db.MarkDeleting(ctx, r.ID); err != nil {
			t.Fatalf("MarkDeleting(%s): %v", r.ID, err)
		}
	}
	if err := db.MarkDeleting(ctx, strings.ToUpper(gone.ID)); err != nil {
		t.Errorf("MarkDeleting(already marked) = %v, want nil", err)
	}
	if _, err := db.Get(ctx, gone.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get(marked) = %v, want ErrNotFound", err)
	}
	got, err := db.List(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{keep.ID}, ids(got)); diff != "" {
		t.Errorf("List after MarkDeleting (-want +got):\n%s", diff)
	}
	envs, err := db.Environments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][2]string{{"acme", "production"}}, envs); diff != "" {
		t.Errorf("Environments with beta's only backup marked (-want +got):\n%s", diff)
	}

	// Deleting lists the marked ones, oldest first, for retry.
	del, err := db.Deleting(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Record{gone, only}, del); diff != "" {
		t.Errorf("Deleting (-want +got):\n%s", diff)
	}

	// Remove takes record, index and mark.
	if err := db.Remove(ctx, gone.ID); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if err := db.Remove(ctx, gone.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Remove(removed) = %v, want ErrNotFound", err)
	}
	if err := db.MarkDeleting(ctx, gone.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("MarkDeleting(removed) = %v, want ErrNotFound", err)
	}
	del, err = db.Deleting(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{only.ID}, ids(del)); diff != "" {
		t.Errorf("Deleting after Remove (-want +got):\n%s", diff)
	}
	// A removed id can be added again (a catalog rebuilt from manifests).
	mustAdd(t, db, gone)
	if _, err := db.Get(ctx, gone.ID); err != nil {
		t.Errorf("Get(re-added) = %v", err)
	}

	// Removing the last backup of an environment drops its buckets.
	if err := db.Remove(ctx, only.ID); err != nil {
		t.Fatal(err)
	}
	_ = db.bolt.View(func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketBackups).Bucket([]byte("beta")) != nil {
			t.Errorf("backups/beta still exists after its last backup was removed")
		}
		return nil
	})
	// Remove also works on an unmarked backup.
	if err := db.Remove(ctx, keep.ID); err != nil {
		t.Errorf("Remove(unmarked) = %v", err)
	}
	if err := db.MarkDeleting(ctx, NewID(t0)); !errors.Is(err, ErrNotFound) {
		t.Errorf("MarkDeleting(unknown) = %v, want ErrNotFound", err)
	}
}

func TestEnvironments(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	if envs, err := db.Environments(ctx); err != nil || len(envs) != 0 {
		t.Errorf("Environments(empty catalog) = %v, %v; want none", envs, err)
	}
	mustAdd(t, db,
		rec("zeta", "production", t0),
		rec("acme", "staging", t0),
		rec("acme", "development", t0),
		rec("acme", "staging", t0.Add(time.Hour)),
	)
	envs, err := db.Environments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]string{{"acme", "development"}, {"acme", "staging"}, {"zeta", "production"}}
	if diff := cmp.Diff(want, envs); diff != "" {
		t.Errorf("Environments (-want +got):\n%s", diff)
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.db")
	ctx := context.Background()
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	live := rec("acme", "production", t0)
	marked := rec("acme", "production", t0.Add(time.Hour))
	mustAdd(t, db, live, marked)
	if err := db.MarkDeleting(ctx, marked.ID); err != nil {
		t.Fatal(err)
	}
	j := testJob("job-1", JobExporting)
	if err := db.PutJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = Open(path, Options{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	got, err := db.List(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Record{live}, got); diff != "" {
		t.Errorf("List after reopen (-want +got):\n%s", diff)
	}
	if del, err := db.Deleting(ctx); err != nil || len(del) != 1 || del[0].ID != marked.ID {
		t.Errorf("Deleting after reopen = %v, %v; want [%s]", ids(del), err, marked.ID)
	}
	gotJob, err := db.Job(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(j, gotJob); diff != "" {
		t.Errorf("Job after reopen (-want +got):\n%s", diff)
	}
}

func TestCanceledContext(t *testing.T) {
	db := openTest(t)
	r := rec("acme", "production", t0)
	mustAdd(t, db, r)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	fresh := rec("acme", "production", t0.Add(time.Hour))
	ops := []struct {
		name string
		op   func() error
	}{
		{"Add", func() error { return db.Add(ctx, fresh) }},
		{"Get", func() error { _, err := db.Get(ctx, r.ID); return err }},
		{"List", func() error { _, err := db.List(ctx, Filter{}); return err }},
		{"Environments", func() error { _, err := db.Environments(ctx); return err }},
		{"MarkDeleting", func() error { return db.MarkDeleting(ctx, r.ID) }},
		{"Deleting", func() error { _, err := db.Deleting(ctx); return err }},
		{"Remove", func() error { return db.Remove(ctx, r.ID) }},
		{"SetLocations", func() error { return db.SetLocations(ctx, r.ID, r.Locations) }},
		{"AddBatch", func() error { return db.AddBatch(ctx, []Record{fresh}) }},
		{"MarkDeletingBatch", func() error { return db.MarkDeletingBatch(ctx, []string{r.ID}) }},
		{"RemoveBatch", func() error { return db.RemoveBatch(ctx, []string{r.ID}) }},
		{"PutJob", func() error { return db.PutJob(ctx, testJob("j", JobQueued)) }},
		{"Job", func() error { _, err := db.Job(ctx, "j"); return err }},
		{"Jobs", func() error { _, err := db.Jobs(ctx); return err }},
		{"DeleteJob", func() error { return db.DeleteJob(ctx, "j") }},
	}
	for _, o := range ops {
		t.Run(o.name, func(t *testing.T) {
			if err := o.op(); !errors.Is(err, context.Canceled) {
				t.Errorf("%s(canceled ctx) = %v, want context.Canceled", o.name, err)
			}
		})
	}
	// Nothing changed.
	got, err := db.List(context.Background(), Filter{})
	if err != nil || len(got) != 1 || got[0].ID != r.ID {
		t.Errorf("List = %v, %v; want only %s", ids(got), err, r.ID)
	}
}

func TestReadOnly(t *testing.T) {
	ctx := context.Background()
	t.Run("missing file is not created", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "state")
		path := filepath.Join(dir, "catalog.db")
		_, err := Open(path, Options{ReadOnly: true})
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
			t.Errorf("Open(missing, ReadOnly) = %v, want fs.ErrNotExist naming %s", err, path)
		}
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("read-only Open created %s", dir)
		}
	})

	t.Run("reads, refuses changes, shares with readers", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "catalog.db")
		rw, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		r := rec("acme", "production", t0)
		mustAdd(t, rw, r)
		if err := rw.PutJob(ctx, testJob("job-1", JobQueued)); err != nil {
			t.Fatal(err)
		}
		// A reader waits for the writer and then fails.
		if _, err := Open(path, Options{ReadOnly: true, Timeout: 20 * time.Millisecond}); !errors.Is(err, ErrLocked) {
			t.Errorf("Open(ReadOnly) while a writer holds the file = %v, want ErrLocked", err)
		}
		if err := rw.Close(); err != nil {
			t.Fatal(err)
		}

		ro1, err := Open(path, Options{ReadOnly: true})
		if err != nil {
			t.Fatalf("Open(ReadOnly): %v", err)
		}
		defer ro1.Close()
		ro2, err := Open(path, Options{ReadOnly: true, Timeout: 20 * time.Millisecond})
		if err != nil {
			t.Fatalf("second Open(ReadOnly) = %v, want readers to share", err)
		}
		defer ro2.Close()
		if got, err := ro2.Get(ctx, r.ID); err != nil || got.ID != r.ID {
			t.Errorf("Get(read-only) = %v, %v", got.ID, err)
		}
		if got, err := ro1.List(ctx, Filter{}); err != nil || len(got) != 1 {
			t.Errorf("List(read-only) = %d records, %v; want 1", len(got), err)
		}
		if got, err := ro1.Jobs(ctx); err != nil || len(got) != 1 {
			t.Errorf("Jobs(read-only) = %d jobs, %v; want 1", len(got), err)
		}
		writes := []struct {
			name string
			op   func() error
		}{
			{"Add", func() error { return ro1.Add(ctx, rec("acme", "production", t0.Add(time.Hour))) }},
			{"MarkDeleting", func() error { return ro1.MarkDeleting(ctx, r.ID) }},
			{"Remove", func() error { return ro1.Remove(ctx, r.ID) }},
			{"SetLocations", func() error { return ro1.SetLocations(ctx, r.ID, r.Locations) }},
			{"AddBatch", func() error { return ro1.AddBatch(ctx, []Record{rec("acme", "production", t0.Add(time.Hour))}) }},
			{"MarkDeletingBatch", func() error { return ro1.MarkDeletingBatch(ctx, []string{r.ID}) }},
			{"RemoveBatch", func() error { return ro1.RemoveBatch(ctx, []string{r.ID}) }},
			{"PutJob", func() error { return ro1.PutJob(ctx, testJob("job-2", JobQueued)) }},
			{"DeleteJob", func() error { return ro1.DeleteJob(ctx, "job-1") }},
		}
		for _, w := range writes {
			if err := w.op(); !errors.Is(err, ErrReadOnly) {
				t.Errorf("%s(read-only) = %v, want ErrReadOnly", w.name, err)
			}
		}
	})
}

// setSchema writes a raw schema_version into a closed catalog.
func setSchema(tb testing.TB, path string, v string) {
	tb.Helper()
	b, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	defer b.Close()
	if err := b.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchemaVersion, []byte(v))
	}); err != nil {
		tb.Fatal(err)
	}
}

func TestSchemaVersion(t *testing.T) {
	newCatalog := func(t *testing.T) string {
		path := filepath.Join(t.TempDir(), "catalog.db")
		db, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		mustAdd(t, db, rec("acme", "production", t0))
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tests := []struct {
		name     string
		prepare  func(t *testing.T) string
		readOnly bool
		is       error    // nil: any error
		says     []string // in the message
	}{
		{"newer version", func(t *testing.T) string {
			p := newCatalog(t)
			setSchema(t, p, "2")
			return p
		}, false, ErrSchemaVersion, []string{"schema version 2", "supports up to 1", "newer vectord"}},
		{"newer version read-only", func(t *testing.T) string {
			p := newCatalog(t)
			setSchema(t, p, "7")
			return p
		}, true, ErrSchemaVersion, []string{"schema version 7"}},
		{"unreadable version", func(t *testing.T) string {
			p := newCatalog(t)
			setSchema(t, p, "one")
			return p
		}, false, ErrSchemaVersion, []string{`"one"`}},
		{"zero version", func(t *testing.T) string {
			p := newCatalog(t)
			setSchema(t, p, "0")
			return p
		}, false, ErrSchemaVersion, nil},
		{"foreign bbolt file", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "other.db")
			b, err := bbolt.Open(p, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			_ = b.Update(func(tx *bbolt.Tx) error { _, err := tx.CreateBucket([]byte("widgets")); return err })
			_ = b.Close()
			return p
		}, false, nil, []string{"not a vectord catalog", "widgets"}},
		{"not a bbolt file", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "catalog.db")
			if err := os.WriteFile(p, []byte(strings.Repeat("-- MySQL dump\n", 1000)), 0o600); err != nil {
				t.Fatal(err)
			}
			return p
		}, false, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.prepare(t)
			db, err := Open(path, Options{ReadOnly: tt.readOnly, Timeout: 50 * time.Millisecond})
			if err == nil {
				db.Close()
				t.Fatalf("Open = nil error, want one")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("Open = %v, want an error matching %v", err, tt.is)
			}
			for _, s := range append(tt.says, path) {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Open = %q, want it to say %q", err, s)
				}
			}
		})
	}

	// The refused catalog is left as it was and opens again once fixed.
	path := newCatalog(t)
	setSchema(t, path, "2")
	if _, err := Open(path, Options{}); !errors.Is(err, ErrSchemaVersion) {
		t.Fatalf("Open = %v, want ErrSchemaVersion", err)
	}
	setSchema(t, path, "1")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open after fixing the version: %v", err)
	}
	defer db.Close()
	if got, err := db.List(context.Background(), Filter{}); err != nil || len(got) != 1 {
		t.Errorf("List = %d records, %v; want the 1 record kept", len(got), err)
	}
}

func TestUnreadableRecordIsReported(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	r := rec("acme", "production", t0)
	other := rec("acme", "staging", t0)
	mustAdd(t, db, r, other)
	if err := db.bolt.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketBackups).Bucket([]byte("acme")).Bucket([]byte("production")).Put(recordKey(r), []byte(`{"id":`))
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.List(ctx, Filter{}); err == nil || !strings.Contains(err.Error(), "acme/production") {
		t.Errorf("List over a damaged record = %v, want an error naming acme/production", err)
	}
	if _, err := db.Get(ctx, r.ID); err == nil || errors.Is(err, ErrNotFound) {
		t.Errorf("Get(damaged) = %v, want a decode error", err)
	}
	// Listing another environment does not read the damaged one.
	if got, err := db.List(ctx, Filter{Site: "acme", Environment: "staging"}); err != nil || len(got) != 1 {
		t.Errorf("List(acme/staging) = %d records, %v; want its 1 record", len(got), err)
	}
}
