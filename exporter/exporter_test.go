package exporter_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/builtfast/vectord/catalog"
	"github.com/builtfast/vectord/codec"
	"github.com/builtfast/vectord/exporter"
	"github.com/builtfast/vectord/storage"
	"github.com/builtfast/vectord/storage/local"
	"github.com/builtfast/vectord/vectorapi"
	"github.com/builtfast/vectord/vectorsim"
)

const token = "test-token-3f9a7c1e"

// harness is one real backup path: the simulator behind an HTTP server, the
// real client, a bbolt catalog and local storage in a temp dir.
type harness struct {
	t      testing.TB
	sim    *vectorsim.Server
	srv    *httptest.Server
	db     *catalog.DB
	store  *local.Target
	root   string
	logs   *syncBuffer
	client *vectorapi.Client
	ex     *exporter.Exporter
	body   vectorsim.Body // the SQL every export of this harness serves
	clock  *clock
}

type harnessOptions struct {
	size    int64
	codec   codec.Codec
	sim     vectorsim.Options
	targets func(h *harness) []storage.Target
}

func newHarness(t testing.TB, o harnessOptions) *harness {
	t.Helper()
	if o.size == 0 {
		o.size = 256 << 10
	}
	if o.codec == "" {
		o.codec = codec.Zstd
	}
	dir := t.TempDir()
	h := &harness{t: t, root: filepath.Join(dir, "backups"), logs: &syncBuffer{}, clock: &clock{}}
	body := vectorsim.Dump("harness", o.size, vectorsim.MySQL)
	h.body = body
	simOpts := o.sim
	simOpts.Token = token
	simOpts.Backend = fixedBackend{body}
	simOpts.Now = h.clock.now
	simOpts.TempDir = dir
	h.sim = vectorsim.New(simOpts)
	h.sim.AddSite("1001", "2001")
	h.srv = httptest.NewServer(h.sim)
	t.Cleanup(h.srv.Close)

	var err error
	h.db, err = catalog.Open(filepath.Join(dir, "state", "catalog.db"), catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.db.Close() })
	h.store, err = local.New(h.root)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.client, err = vectorapi.New(vectorapi.Options{
		BaseURL: h.srv.URL + "/api/v1/vector", Token: token, UserAgent: "vectord/test",
		Logger: log, RetryBaseDelay: 5 * time.Millisecond, RetryMaxDelay: 20 * time.Millisecond,
		RequestsPerMinute: 60000, // the client's own budget is tested in vectorapi
	})
	if err != nil {
		t.Fatal(err)
	}
	targets := []storage.Target{h.store}
	if o.targets != nil {
		targets = o.targets(h)
	}
	h.ex = &exporter.Exporter{
		API: h.client, Catalog: h.db, Targets: targets, Codec: o.codec,
		PollInterval: 5 * time.Millisecond, PollMaxInterval: 20 * time.Millisecond,
		Logger: log, Now: h.clock.now,
	}
	return h
}

func (h *harness) request() exporter.Request {
	return exporter.Request{
		Site: "acme", Environment: "production", SiteID: "1001", EnvironmentID: "2001",
		Trigger: catalog.TriggerSchedule, ExportTimeout: time.Hour,
	}
}

func (h *harness) run(ctx context.Context) (catalog.Record, error) {
	h.t.Helper()
	return h.ex.Run(ctx, h.request())
}

func (h *harness) wantSHA() string {
	return sha256Of(h.t, io.NewSectionReader(h.body, 0, h.body.Size()))
}

func sha256Of(t testing.TB, r io.Reader) string {
	t.Helper()
	hash := sha256.New()
	if _, err := io.Copy(hash, r); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(hash.Sum(nil))
}

// files lists every file under the storage root, relative to it.
func (h *harness) files() []string {
	h.t.Helper()
	var out []string
	filepath.WalkDir(h.root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(h.root, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

func (h *harness) records() []catalog.Record {
	h.t.Helper()
	recs, err := h.db.List(context.Background(), catalog.Filter{})
	if err != nil {
		h.t.Fatal(err)
	}
	return recs
}

// assertNothingStored checks the invariant of a failed job: no record, no
// file, no .partial.
func (h *harness) assertNothingStored() {
	h.t.Helper()
	if recs := h.records(); len(recs) != 0 {
		h.t.Errorf("catalog holds %d records after a failed job, want 0", len(recs))
	}
	if files := h.files(); len(files) != 0 {
		h.t.Errorf("storage holds %v after a failed job, want nothing", files)
	}
}

// assertStored checks one complete backup: record, file, manifest, checksum.
func (h *harness) assertStored(rec catalog.Record, c codec.Codec) {
	h.t.Helper()
	recs := h.records()
	if len(recs) != 1 || recs[0].ID != rec.ID {
		h.t.Fatalf("catalog = %v, want exactly the new record %s", recs, rec.ID)
	}
	if rec.SHA256 != h.wantSHA() || rec.SizeBytes != h.body.Size() {
		h.t.Errorf("record says %d bytes sha256 %s, want %d bytes %s", rec.SizeBytes, rec.SHA256, h.body.Size(), h.wantSHA())
	}
	key := storage.BackupKey(rec.Site, rec.Environment, rec.StartedAt, rec.ExportID, c.Ext())
	path := filepath.Join(h.root, filepath.FromSlash(key))
	st, err := os.Stat(path)
	if err != nil {
		h.t.Fatalf("stored file: %v", err)
	}
	if st.Mode().Perm() != 0o600 || st.Size() != rec.StoredBytes {
		h.t.Errorf("stored file mode %v size %d, want 0600 and %d", st.Mode().Perm(), st.Size(), rec.StoredBytes)
	}
	f, err := os.Open(path)
	if err != nil {
		h.t.Fatal(err)
	}
	defer f.Close()
	dec, err := codec.NewReader(f, c)
	if err != nil {
		h.t.Fatal(err)
	}
	defer dec.Close()
	if got := sha256Of(h.t, dec); got != h.wantSHA() {
		h.t.Errorf("stored file decompresses to SQL with sha256 %s, want the export's %s", got, h.wantSHA())
	}
	var manifest catalog.Record
	raw, err := os.ReadFile(path + ".json")
	if err != nil {
		h.t.Fatalf("manifest: %v", err)
	}
	if err := json.Unmarshal(raw, &manifest); err != nil {
		h.t.Fatalf("manifest: %v", err)
	}
	if manifest.ID != rec.ID || manifest.SHA256 != rec.SHA256 || manifest.StoredBytes != rec.StoredBytes {
		h.t.Errorf("manifest = %+v, want the record %+v", manifest, rec)
	}
	for _, f := range h.files() {
		if strings.HasSuffix(f, ".partial") {
			h.t.Errorf("a .partial file survived: %s", f)
		}
	}
}

func TestBackupStoresVerifiedFile(t *testing.T) {
	for _, c := range []codec.Codec{codec.Zstd, codec.Gzip, codec.None} {
		t.Run(string(c), func(t *testing.T) {
			h := newHarness(t, harnessOptions{codec: c})
			rec, err := h.run(context.Background())
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			h.assertStored(rec, c)
			if rec.Compression != string(c) || rec.Trigger != catalog.TriggerSchedule ||
				rec.SiteID != "1001" || rec.EnvironmentID != "2001" || rec.ExportID == "" ||
				len(rec.Locations) != 1 || rec.Locations[0].Target != "local" {
				t.Errorf("record = %+v", rec)
			}
			if st := h.sim.Stats(); st.ExportRequests[vectorsim.EnvKey{Site: "1001", Env: "2001"}] != 1 {
				t.Errorf("export requests = %v, want one", st.ExportRequests)
			}
		})
	}
}

func TestBackupRecordsJobStates(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	var mu sync.Mutex
	var states []string
	req := h.request()
	req.OnState = func(j catalog.Job) {
		mu.Lock()
		defer mu.Unlock()
		states = append(states, j.State)
	}
	rec, err := h.ex.Run(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"queued", "exporting", "downloading", "storing", "succeeded"}
	if strings.Join(states, ",") != strings.Join(want, ",") {
		t.Errorf("job states = %v, want %v", states, want)
	}
	jobs, err := h.db.Jobs(context.Background())
	if err != nil || len(jobs) != 1 || jobs[0].State != "succeeded" || jobs[0].BackupID != rec.ID {
		t.Errorf("persisted jobs = %+v (%v), want one succeeded job for %s", jobs, err, rec.ID)
	}
}

func TestGzipExportIsStoredAsPlainSQLChecksum(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.sim.SetFaults("", vectorsim.Faults{Gzip: true})
	rec, err := h.run(context.Background())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	h.assertStored(rec, codec.Zstd)
}

func TestFailures(t *testing.T) {
	for _, tc := range []struct {
		name       string
		faults     vectorsim.Faults
		timeout    time.Duration
		wantReason string
		wantErr    string
	}{
		{"export failed", vectorsim.Faults{FailExport: "mysqldump: Got error 1045"}, 0, exporter.ReasonExportFailed, "mysqldump: Got error 1045"},
		{"export stuck", vectorsim.Faults{StuckProcessing: true}, 200 * time.Millisecond, exporter.ReasonExportTimeout, "export_timeout"},
		{"no trailer", vectorsim.Faults{NoTrailer: true}, 0, exporter.ReasonVerify, "incomplete"},
		{"corrupt gzip", vectorsim.Faults{CorruptGzip: true}, 0, exporter.ReasonVerify, ""},
		{"body shorter than announced", vectorsim.Faults{WrongLength: 1000}, 0, exporter.ReasonDownload, ""},
		{"lost export answer", vectorsim.Faults{DropExportAnswer: true}, 0, exporter.ReasonAPI, "not re-sent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{})
			h.sim.SetFaults("", tc.faults)
			req := h.request()
			if tc.timeout > 0 {
				req.ExportTimeout = tc.timeout
			}
			_, err := h.ex.Run(context.Background(), req)
			if err == nil {
				t.Fatal("Run succeeded, want a failure")
			}
			if got := exporter.Reason(err); got != tc.wantReason {
				t.Errorf("Reason(%v) = %q, want %q", err, got, tc.wantReason)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not mention %q", err, tc.wantErr)
			}
			h.assertNothingStored()
			if n := h.sim.Stats().ExportRequests[vectorsim.EnvKey{Site: "1001", Env: "2001"}]; n != 1 {
				t.Errorf("export requests = %d, want 1 (a failure must not start another export)", n)
			}
			jobs, _ := h.db.Jobs(context.Background())
			if len(jobs) != 1 || jobs[0].State != "failed" || jobs[0].Error == "" {
				t.Errorf("persisted jobs = %+v, want one failed job with its error", jobs)
			}
		})
	}
}

// TestServerErrorsWhilePolling: a storm of 500/502/503 answers to status
// queries (idempotent) is retried through.
func TestServerErrorsWhilePolling(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	req := h.request()
	req.OnState = func(j catalog.Job) {
		if j.State == "exporting" {
			h.sim.SetFaults("", vectorsim.Faults{ServerErrors: 4})
		}
	}
	rec, err := h.ex.Run(context.Background(), req)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	h.assertStored(rec, codec.Zstd)
	if st := h.sim.Stats(); st.ServerErrors != 4 {
		t.Errorf("server errors served = %d, want 4", st.ServerErrors)
	}
}

// TestGatewayErrorOnExportIsNotResent: a 502 to the export request may hide
// a started export; it fails the job rather than spending budget on a
// second export.
func TestGatewayErrorOnExportIsNotResent(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.sim.SetFaults("", vectorsim.Faults{ServerErrors: 2}) // 500 (retried), then 502
	_, err := h.run(context.Background())
	if !errors.Is(err, vectorapi.ErrExportUncertain) {
		t.Fatalf("Run = %v, want ErrExportUncertain", err)
	}
	h.assertNothingStored()
}

func TestTransientErrorsStillSucceed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults vectorsim.Faults
	}{
		{"500 on the export request", vectorsim.Faults{ServerErrors: 1}},
		{"429", vectorsim.Faults{RateLimited: 1}},
		{"expired URL", vectorsim.Faults{ExpiredURLs: 1}},
		{"connection cut twice", vectorsim.Faults{CutAfter: 100 << 10, CutTimes: 2}},
		{"gzip cut", vectorsim.Faults{Gzip: true, CutAfter: 20 << 10, CutTimes: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{})
			h.sim.SetFaults("", tc.faults)
			rec, err := h.run(context.Background())
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			h.assertStored(rec, codec.Zstd)
			st := h.sim.Stats()
			if n := st.ExportRequests[vectorsim.EnvKey{Site: "1001", Env: "2001"}]; n != 1 {
				t.Errorf("export requests = %d, want 1", n)
			}
			if tc.faults.CutTimes > 0 && st.RangeRequests < tc.faults.CutTimes {
				t.Errorf("range requests = %d, want ≥ %d (a cut download resumes where it stopped)", st.RangeRequests, tc.faults.CutTimes)
			}
		})
	}
}

// TestExportGoneLeadsToFreshExport: the export's file expires before the
// download starts and no fresh URL is offered, so one new export is taken.
func TestExportGoneLeadsToFreshExport(t *testing.T) {
	h := newHarness(t, harnessOptions{sim: vectorsim.Options{ArtifactTTL: 2 * time.Hour}})
	var once sync.Once
	h.ex.Gate = gateFunc(func() { once.Do(func() { h.clock.advance(3 * time.Hour) }) })
	rec, err := h.run(context.Background())
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	h.assertStored(rec, codec.Zstd)
	if n := h.sim.Stats().ExportRequests[vectorsim.EnvKey{Site: "1001", Env: "2001"}]; n != 2 {
		t.Errorf("export requests = %d, want 2 (one fresh export after the first one's file expired)", n)
	}
}

func TestResumeExportDoesNotRequestAnother(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	exp, err := h.client.StartExport(context.Background(), vectorapi.Target{SiteID: "1001", EnvironmentID: "2001"})
	if err != nil {
		t.Fatal(err)
	}
	req := h.request()
	req.ExportID, req.ExportRequestedAt = exp.ID, h.clock.now()
	rec, err := h.ex.Run(context.Background(), req)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	h.assertStored(rec, codec.Zstd)
	if rec.ExportID != exp.ID {
		t.Errorf("record export id = %s, want the resumed %s", rec.ExportID, exp.ID)
	}
	if n := h.sim.Stats().ExportRequests[vectorsim.EnvKey{Site: "1001", Env: "2001"}]; n != 1 {
		t.Errorf("export requests = %d, want 1", n)
	}
}

func TestCanceledDownloadLeavesNothingAndKeepsExport(t *testing.T) {
	h := newHarness(t, harnessOptions{size: 4 << 20})
	h.sim.SetFaults("", vectorsim.Faults{SlowBody: 1 << 20})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req := h.request()
	req.Progress = func(p exporter.Progress) {
		if p.Phase == "downloading" && p.Bytes > 256<<10 {
			cancel()
		}
	}
	_, err := h.ex.Run(ctx, req)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	if exporter.Reason(err) != exporter.ReasonCanceled {
		t.Errorf("Reason = %q, want canceled", exporter.Reason(err))
	}
	h.assertNothingStored()
	jobs, err := h.db.Jobs(context.Background())
	if err != nil || len(jobs) != 1 || jobs[0].State != "downloading" || jobs[0].ExportID == "" {
		t.Fatalf("persisted jobs = %+v (%v), want the job left in downloading with its export id for resumption", jobs, err)
	}
}

func TestStorageFailureLeavesNothing(t *testing.T) {
	h := newHarness(t, harnessOptions{targets: func(h *harness) []storage.Target {
		return []storage.Target{&fullDisk{Target: h.store, limit: 16 << 10}}
	}})
	_, err := h.run(context.Background())
	if exporter.Reason(err) != exporter.ReasonStorage || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("Run = %v (reason %q), want a storage failure naming the full disk", err, exporter.Reason(err))
	}
	h.assertNothingStored()
}

// TestSecretsNeverLogged runs the paths that log and fail most (cuts,
// expired URLs, failed exports) and checks that neither the API token nor a
// presigned URL's signature reaches a log line or an error.
func TestSecretsNeverLogged(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	var errs []string
	for _, f := range []vectorsim.Faults{
		{CutAfter: 50 << 10, CutTimes: 3, ExpiredURLs: 2},
		{WrongLength: 10},
		{FailExport: "boom"},
		{ServerErrors: 2, RateLimited: 1},
	} {
		h.sim.SetFaults("", f)
		if _, err := h.run(context.Background()); err != nil {
			errs = append(errs, err.Error())
		}
	}
	out := h.logs.String() + strings.Join(errs, "\n")
	if !strings.Contains(out, "download") {
		t.Fatalf("captured output has no download lines; the test is not looking at anything:\n%s", out)
	}
	for _, secret := range []string{token, "X-Amz-Signature", "X-Amz-Credential"} {
		if strings.Contains(out, secret) {
			t.Errorf("captured logs and errors contain %q", secret)
		}
	}
}

type fixedBackend struct{ body vectorsim.Body }

func (b fixedBackend) Export(ctx context.Context, siteID, envID string) (vectorsim.Body, error) {
	return b.body, nil
}

func (b fixedBackend) Import(ctx context.Context, siteID, envID string, sql io.Reader) error {
	_, err := io.Copy(io.Discard, sql)
	return err
}

// clock is the simulator's and exporter's clock: real time plus an offset
// a test can advance.
type clock struct{ offset atomic.Int64 }

func (c *clock) now() time.Time            { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) advance(d time.Duration)   { c.offset.Add(int64(d)) }
func (c *clock) String() string            { return c.now().String() }
func (c *clock) Since(t time.Time) float64 { return c.now().Sub(t).Seconds() }

// gateFunc admits everything and calls f when a download is admitted.
type gateFunc func()

func (g gateFunc) Export(ctx context.Context, trigger string) (func(), error) { return func() {}, nil }
func (g gateFunc) Pause(time.Time)                                            {}
func (g gateFunc) Download(ctx context.Context, expiresAt time.Time) (func(), error) {
	g()
	return func() {}, nil
}

// fullDisk is a target whose writes fail with ENOSPC after limit bytes.
type fullDisk struct {
	storage.Target
	limit int64
}

func (f *fullDisk) Create(ctx context.Context, key string) (storage.Writer, error) {
	w, err := f.Target.Create(ctx, key)
	if err != nil {
		return nil, err
	}
	return &limitedWriter{Writer: w, left: f.limit}, nil
}

type limitedWriter struct {
	storage.Writer
	left int64
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.left {
		return 0, errors.New("write: no space left on device")
	}
	l.left -= int64(len(p))
	return l.Writer.Write(p)
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestLongServerErrorStormWhilePolling: more 5xx answers than the client
// retries one query for still end in success while export_timeout allows.
func TestLongServerErrorStormWhilePolling(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	req := h.request()
	req.OnState = func(j catalog.Job) {
		if j.State == "exporting" {
			h.sim.SetFaults("", vectorsim.Faults{ServerErrors: 12})
		}
	}
	rec, err := h.ex.Run(context.Background(), req)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	h.assertStored(rec, codec.Zstd)
}

// TestFullDiskSpendsNoExport: when storage cannot take the backup, the job
// fails as a storage failure before any export is requested.
func TestFullDiskSpendsNoExport(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.ex.SpaceCheck = func(ctx context.Context, site, env string) error {
		return errors.New("not enough free space under /backups: 1 MiB free, the last backup of acme/production took 4 MiB")
	}
	_, err := h.run(context.Background())
	if exporter.Reason(err) != exporter.ReasonStorage || !strings.Contains(err.Error(), "not enough free space") {
		t.Fatalf("Run = %v (reason %q), want a storage failure naming the free space", err, exporter.Reason(err))
	}
	if n := h.sim.Stats().ExportRequests[vectorsim.EnvKey{Site: "1001", Env: "2001"}]; n != 0 {
		t.Errorf("export requests = %d, want 0: a full disk must not spend the budget", n)
	}
	h.assertNothingStored()
}

// TestResumedJobRecordsItsFileOnce: a process that stopped after
// committing the file and manifest but before recording it (job left in
// storing, backup id chosen) is resumed into exactly one record with the
// id it chose, on the same file.
func TestResumedJobRecordsItsFileOnce(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	first, err := h.run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := h.db.Jobs(context.Background())
	if err != nil || len(jobs) != 1 || jobs[0].BackupID != first.ID || jobs[0].State != "succeeded" {
		t.Fatalf("jobs = %+v, %v; want one succeeded job naming backup %s", jobs, err, first.ID)
	}
	// Resume the same job as a restarted daemon would: same job id, start
	// time, export and backup id.
	req := h.request()
	req.JobID, req.StartedAt, req.BackupID = jobs[0].ID, first.StartedAt, first.ID
	req.ExportID, req.ExportRequestedAt = first.ExportID, jobs[0].ExportRequestedAt
	again, err := h.ex.Run(context.Background(), req)
	if err != nil {
		t.Fatalf("resumed Run: %v", err)
	}
	if again.ID != first.ID {
		t.Errorf("resumed job recorded %s, want the id it chose first, %s", again.ID, first.ID)
	}
	h.assertStored(first, codec.Zstd) // exactly one record, one file, one manifest
	if files := h.files(); len(files) != 2 {
		t.Errorf("storage holds %v, want one backup and its manifest", files)
	}
}
