package catalog

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// TestCommitBackupIsOneStep: the record and its job's final state land
// together, and committing the same backup again (a job resumed after a
// crash) adds no second record.
func TestCommitBackupIsOneStep(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	r := rec("acme", "production", time.Date(2025, 3, 14, 2, 0, 0, 0, time.UTC))
	j := Job{ID: NewID(r.StartedAt), Site: "acme", Environment: "production", Trigger: TriggerSchedule, State: JobStoring, ExportID: r.ExportID}
	if err := db.CommitBackup(ctx, r, j); err != nil {
		t.Fatalf("CommitBackup: %v", err)
	}
	got, err := db.Job(ctx, j.ID)
	if err != nil || got.State != JobSucceeded || got.BackupID != r.ID {
		t.Fatalf("job after CommitBackup = %+v, %v; want succeeded with backup %s", got, err, r.ID)
	}
	// The same backup again: idempotent.
	r2 := r
	r2.CompletedAt = r.CompletedAt.Add(time.Minute)
	if err := db.CommitBackup(ctx, r2, j); err != nil {
		t.Fatalf("CommitBackup again: %v", err)
	}
	recs, err := db.List(ctx, Filter{})
	if err != nil || len(recs) != 1 || !recs[0].CompletedAt.Equal(r.CompletedAt) {
		t.Fatalf("List = %v, %v; want the one first record", recs, err)
	}
	// The same id for another file is refused and changes nothing.
	other := r
	other.ExportID = "exp-other"
	j2 := j
	j2.ID = NewID(r.StartedAt)
	if err := db.CommitBackup(ctx, other, j2); !errors.Is(err, ErrExists) {
		t.Fatalf("CommitBackup(same id, other file) = %v, want ErrExists", err)
	}
	if _, err := db.Job(ctx, j2.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("refused commit saved its job: %v", err)
	}
}

func TestCommitBackupReadOnlyAndInvalid(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	r := rec("acme", "production", time.Now())
	bad := r
	bad.SHA256 = "nope"
	j := Job{ID: "job-1", Site: "acme", Environment: "production", Trigger: TriggerSchedule, State: JobStoring}
	if err := db.CommitBackup(ctx, bad, j); !errors.Is(err, ErrInvalid) {
		t.Fatalf("CommitBackup(invalid) = %v, want ErrInvalid", err)
	}
	if _, err := db.Job(ctx, "job-1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("invalid commit saved its job: %v", err)
	}
}

func TestResolvePrefix(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	base := time.Date(2025, 3, 14, 2, 0, 0, 0, time.UTC)
	a := rec("acme", "production", base)
	b := rec("acme", "production", base) // same millisecond: shares a long prefix with a
	c := rec("acme", "production", base.Add(365*24*time.Hour))
	mustAdd(t, db, a, b, c)
	for _, tc := range []struct {
		prefix string
		want   string
		err    error
	}{
		{a.ID, a.ID, nil},
		{strings.ToUpper(c.ID[:12]), c.ID, nil},
		{a.ID[:10], "", ErrAmbiguous},
		{"zzzz", "", ErrNotFound},
		{"", "", ErrInvalid},
	} {
		got, err := db.Resolve(ctx, tc.prefix)
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("Resolve(%q) = %q, %v; want %q, %v", tc.prefix, got, err, tc.want, tc.err)
		}
		if errors.Is(err, ErrAmbiguous) && (!strings.Contains(err.Error(), a.ID) || !strings.Contains(err.Error(), b.ID)) {
			t.Errorf("ambiguous error %q does not name both candidates", err)
		}
	}
	// A backup being deleted is no candidate.
	if err := db.MarkDeleting(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := db.Resolve(ctx, a.ID[:10]); got != a.ID || err != nil {
		t.Errorf("Resolve after marking b = %q, %v; want %s", got, err, a.ID)
	}
}

func TestSetPinnedAndVerified(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	r := rec("acme", "production", time.Now())
	mustAdd(t, db, r)
	if err := db.SetPinned(ctx, r.ID, true); err != nil {
		t.Fatal(err)
	}
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := db.SetVerified(ctx, r.ID, when); err != nil {
		t.Fatal(err)
	}
	got, err := db.Get(ctx, r.ID)
	if err != nil || !got.Pinned || got.VerifiedAt != "2026-01-02T03:04:05Z" {
		t.Fatalf("Get = %+v, %v; want pinned and verified", got, err)
	}
	if err := db.SetPinned(ctx, "01jp9m2x3c8v4k7n6q5r0s1t2w", true); !errors.Is(err, ErrNotFound) {
		t.Fatalf("SetPinned(unknown) = %v, want ErrNotFound", err)
	}
}

// TestPagePagesNewestFirst walks every page and gets each live record once,
// newest first, with filters applied.
func TestPagePagesNewestFirst(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var all []Record
	for i := range 25 {
		env := "production"
		if i%3 == 0 {
			env = "staging"
		}
		all = append(all, rec("acme", env, base.Add(time.Duration(i)*time.Hour)))
	}
	mustAdd(t, db, all...)
	if err := db.MarkDeleting(ctx, all[5].ID); err != nil {
		t.Fatal(err)
	}
	for _, f := range []Filter{{}, {Site: "acme", Environment: "staging"}, {Site: "other"}} {
		var want []string
		for i := len(all) - 1; i >= 0; i-- {
			if i != 5 && (f.Environment == "" || all[i].Environment == f.Environment) && (f.Site == "" || f.Site == "acme") {
				want = append(want, all[i].ID)
			}
		}
		var got []string
		after := ""
		for pages := 0; ; pages++ {
			if pages > 30 {
				t.Fatal("Page does not end")
			}
			recs, next, err := db.Page(ctx, f, after, 4)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) > 4 {
				t.Fatalf("page of %d records, limit 4", len(recs))
			}
			for _, r := range recs {
				got = append(got, r.ID)
			}
			if next == "" {
				break
			}
			after = next
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("Page(%+v) pages = %v, want %v", f, got, want)
		}
	}
}

// TestPruneJobsBoundsTheTable: old finished jobs go, unfinished ones and
// those the budget still counts stay.
func TestPruneJobsBoundsTheTable(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	now := time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 50 {
		created := now.Add(time.Duration(i-50) * time.Hour)
		j := Job{ID: NewID(created), Site: "acme", Environment: "production", Trigger: TriggerSchedule, State: JobSucceeded, CreatedAt: created}
		switch i {
		case 3:
			j.State = JobExporting // unfinished: resumed after a restart
		case 4:
			j.ExportRequestedAt = now.Add(-30 * time.Minute) // still in the budget window
		}
		if err := db.PutJob(ctx, j); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
	}
	n, err := db.PruneJobs(ctx, 10, now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if n != 38 {
		t.Errorf("PruneJobs deleted %d, want 38", n)
	}
	jobs, err := db.Jobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 12 || jobs[0].ID != ids[3] || jobs[1].ID != ids[4] {
		t.Errorf("jobs after prune = %d, first %s %s; want 12 starting with %s %s", len(jobs), jobs[0].ID, jobs[1].ID, ids[3], ids[4])
	}
}

// TestPruneJobsAfterHundredThousandJobs: a daemon that has run 100,000
// jobs keeps 1,000 finished ones, and pruning reads only what it keeps and
// deletes.
func TestPruneJobsAfterHundredThousandJobs(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 100_000
	err := db.bolt.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketJobs)
		for i := range n {
			created := start.Add(time.Duration(i) * time.Second)
			data, err := encodeJob(Job{ID: NewID(created), Site: "acme", Environment: "production", Trigger: TriggerSchedule,
				State: JobSucceeded, CreatedAt: created, ExportRequestedAt: created})
			if err != nil {
				return err
			}
			if err := b.Put([]byte(NewID(created)), data); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	deleted, err := db.PruneJobs(ctx, 1000, start.Add(n*time.Second).Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := db.Jobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The newest 1,000 stay, and so do all of the last hour's 3,600: the
	// budget still counts their export requests.
	if deleted != n-3600 || len(jobs) != 3600 {
		t.Errorf("PruneJobs deleted %d, %d left; want %d deleted and the last hour's 3600 kept for the budget", deleted, len(jobs), n-3600)
	}
	if deleted, err = db.PruneJobs(ctx, 1000, start.Add(2*n*time.Second)); err != nil || deleted != 2600 {
		t.Errorf("second PruneJobs = %d, %v; want the 2600 beyond the newest 1000", deleted, err)
	}
}

func TestLatest(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	if _, ok, err := db.Latest(ctx, "acme", "production"); ok || err != nil {
		t.Fatalf("Latest on an empty catalog = %v, %v", ok, err)
	}
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	a, b := rec("acme", "production", base), rec("acme", "production", base.Add(time.Hour))
	mustAdd(t, db, a, b, rec("acme", "staging", base.Add(2*time.Hour)))
	if r, ok, err := db.Latest(ctx, "acme", "production"); !ok || err != nil || r.ID != b.ID {
		t.Fatalf("Latest = %s %v %v, want %s", r.ID, ok, err, b.ID)
	}
	if err := db.MarkDeleting(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if r, ok, _ := db.Latest(ctx, "acme", "production"); !ok || r.ID != a.ID {
		t.Fatalf("Latest with the newest marked = %s, want %s", r.ID, a.ID)
	}
}
