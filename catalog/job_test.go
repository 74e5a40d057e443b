package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.etcd.io/bbolt"
)

func testJob(id, state string) Job {
	return Job{
		ID:                id,
		Site:              "acme",
		Environment:       "production",
		SiteID:            "12345",
		EnvironmentID:     "67890",
		Trigger:           TriggerSchedule,
		State:             state,
		ExportID:          "exp_1",
		ExportRequestedAt: t0.Add(time.Second),
		URLExpiresAt:      t0.Add(time.Hour),
		BytesDone:         4096,
		CreatedAt:         t0,
		UpdatedAt:         t0.Add(2 * time.Second),
	}
}

func TestJobLifecycle(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()

	if got, err := db.Jobs(ctx); err != nil || len(got) != 0 {
		t.Errorf("Jobs(empty) = %v, %v; want none", got, err)
	}
	if _, err := db.Job(ctx, "job-1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Job(missing) = %v, want ErrNotFound", err)
	}

	// Saved out of creation order; times in another zone come back in UTC.
	late := testJob("job-a", JobQueued)
	late.CreatedAt = t0.Add(time.Minute)
	early := testJob("job-b", JobQueued)
	sameA := testJob("job-c", JobQueued)
	sameA.CreatedAt = t0.Add(time.Minute)
	in := early
	in.CreatedAt = early.CreatedAt.In(time.FixedZone("CET", 3600))
	for _, j := range []Job{late, sameA, in} {
		if err := db.PutJob(ctx, j); err != nil {
			t.Fatalf("PutJob(%s): %v", j.ID, err)
		}
	}
	got, err := db.Jobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Job{early, late, sameA}, got); diff != "" {
		t.Errorf("Jobs, oldest first (-want +got):\n%s", diff)
	}

	// Each transition replaces the saved state.
	next := late
	next.State = JobDownloading
	next.BytesDone = 1 << 30
	next.UpdatedAt = t0.Add(time.Hour)
	if err := db.PutJob(ctx, next); err != nil {
		t.Fatal(err)
	}
	j, err := db.Job(ctx, late.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(next, j); diff != "" {
		t.Errorf("Job after update (-want +got):\n%s", diff)
	}

	if err := db.DeleteJob(ctx, late.ID); err != nil {
		t.Fatalf("DeleteJob: %v", err)
	}
	if err := db.DeleteJob(ctx, late.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeleteJob(deleted) = %v, want ErrNotFound", err)
	}
	if _, err := db.Job(ctx, late.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Job(deleted) = %v, want ErrNotFound", err)
	}
	if got, _ := db.Jobs(ctx); len(got) != 2 {
		t.Errorf("Jobs after delete = %d, want 2", len(got))
	}
}

func TestPutJobInvalid(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Job)
		want   string
	}{
		{"missing id", func(j *Job) { j.ID = "" }, "job_id"},
		{"id with newline", func(j *Job) { j.ID = "a\nb" }, "job_id"},
		{"missing site", func(j *Job) { j.Site = "" }, "site"},
		{"bad environment", func(j *Job) { j.Environment = "Prod" }, "environment"},
		{"unknown trigger", func(j *Job) { j.Trigger = "cron" }, "trigger"},
		{"missing state", func(j *Job) { j.State = "" }, "state"},
		{"unknown state", func(j *Job) { j.State = "done" }, "state"},
		{"negative bytes", func(j *Job) { j.BytesDone = -1 }, "bytes_done"},
	}
	db := openTest(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := testJob("job-1", JobQueued)
			tt.change(&j)
			err := db.PutJob(context.Background(), j)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("PutJob = %v, want ErrInvalid naming %s", err, tt.want)
			}
		})
	}
	if got, _ := db.Jobs(context.Background()); len(got) != 0 {
		t.Errorf("invalid jobs were saved: %v", got)
	}
	for _, s := range []string{JobQueued, JobExporting, JobDownloading, JobStoring, JobSucceeded, JobFailed} {
		if err := db.PutJob(context.Background(), testJob("job-"+s, s)); err != nil {
			t.Errorf("PutJob(state %s) = %v", s, err)
		}
	}
}

// TestPutJobKeepsSignaturesOffDisk: an error that quotes a presigned
// download URL is saved without the URL's query string.
func TestPutJobKeepsSignaturesOffDisk(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	const secret = "X-Amz-Signature=deadbeefcafe"
	j := testJob("job-1", JobFailed)
	j.Error = `download export exp_1: GET https://bucket.s3.amazonaws.com/exports/acme.sql.gz?X-Amz-Credential=AKIA%2F&` + secret + `: 403 Forbidden`
	j.Reason = "see https://example.com/ticket?token=" + secret
	if err := db.PutJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	got, err := db.Job(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := "download export exp_1: GET https://bucket.s3.amazonaws.com/exports/acme.sql.gz: 403 Forbidden"; got.Error != want {
		t.Errorf("saved Error = %q, want %q", got.Error, want)
	}
	if want := "see https://example.com/ticket"; got.Reason != want {
		t.Errorf("saved Reason = %q, want %q", got.Reason, want)
	}
	_ = db.bolt.View(func(tx *bbolt.Tx) error {
		raw := tx.Bucket(bucketJobs).Get([]byte(j.ID))
		if strings.Contains(string(raw), "deadbeefcafe") || strings.Contains(string(raw), "AKIA") {
			t.Errorf("stored job holds URL credentials: %s", raw)
		}
		return nil
	})
}

func TestRedactURLs(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"no urls here", "no urls here"},
		{"get http://h/p?a=1 failed", "get http://h/p failed"},
		{`"HTTPS://H/P?SIG=x"`, `"HTTPS://H/P"`},
		{"two: https://a/x?s=1, https://b/y#frag", "two: https://a/x, https://b/y"},
		{"url without query https://a/b stays", "url without query https://a/b stays"},
		{`Get "https://h/p.sql?X-Amz-Signature=ab%2F=": EOF`, `Get "https://h/p.sql": EOF`},
		{"ends a sentence: https://h/p?sig=abc.", "ends a sentence: https://h/p."},
		{"bare question https://h/p? ok", "bare question https://h/p ok"},
		{"s3://bucket/key?versionId=1 is not http", "s3://bucket/key?versionId=1 is not http"},
	}
	for _, tt := range tests {
		if got := redactURLs(tt.in); got != tt.want {
			t.Errorf("redactURLs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestJobJSONForm(t *testing.T) {
	data, err := json.Marshal(testJob("job-1", JobDownloading))
	if err != nil {
		t.Fatal(err)
	}
	keys := topLevelKeys(t, data)
	want := []string{
		"job_id", "site", "environment", "site_id", "environment_id", "trigger", "reason",
		"state", "export_id", "export_requested_at", "url_expires_at", "bytes_done",
		"backup_id", "error", "created_at", "updated_at",
	}
	if !slices.Equal(keys, want) {
		t.Errorf("job keys = %q, want %q", keys, want)
	}
	for _, k := range keys {
		if strings.Contains(strings.ToLower(k), "url") && k != "url_expires_at" {
			t.Errorf("job has a URL field %q: download URLs must not be persisted", k)
		}
	}
}
