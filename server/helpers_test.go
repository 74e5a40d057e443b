package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/builtfast/vectord/catalog"
)

const testToken = "s3cret-control-token"

var t0 = time.Date(2026, 3, 14, 2, 0, 0, 0, time.UTC)

// submission is one recorded call of Jobs.Submit.
type submission struct{ Site, Env, Trigger, Reason string }

// fakeJobs is a recording Jobs. Submit returns err when set, else a new job
// id; Status answers from statuses, or, for ids in sequences, the next
// status of the sequence on each call (repeating the last).
type fakeJobs struct {
	mu        sync.Mutex
	err       error
	submitted []submission
	statuses  map[string]JobStatus
	sequences map[string][]JobStatus
	canceled  []string
	admitted  []string
	admitErr  error
	calls     map[string]int
}

func (f *fakeJobs) Submit(site, env, trigger, reason string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.submitted = append(f.submitted, submission{site, env, trigger, reason})
	if f.err != nil {
		return "", f.err
	}
	return fmt.Sprintf("job-%d", len(f.submitted)), nil
}

func (f *fakeJobs) Status(id string) (JobStatus, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if seq, ok := f.sequences[id]; ok {
		if f.calls == nil {
			f.calls = map[string]int{}
		}
		i := min(f.calls[id], len(seq)-1)
		f.calls[id]++
		return seq[i], true
	}
	st, ok := f.statuses[id]
	return st, ok
}

// statusCalls returns how often Status was asked about a sequenced job.
// Cancel ends a known job that is not done.
func (f *fakeJobs) Cancel(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.statuses[id]
	if !ok || st.Done() {
		return false
	}
	st.State, st.Error = "failed", "job canceled"
	f.statuses[id] = st
	f.canceled = append(f.canceled, id)
	return true
}

// Admit admits at once unless admitErr is set.
func (f *fakeJobs) Admit(ctx context.Context, op, ref string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.admitted = append(f.admitted, op+" "+ref)
	return f.admitErr
}

func (f *fakeJobs) statusCalls(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[id]
}

func (f *fakeJobs) submissions() []submission {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]submission(nil), f.submitted...)
}

// *catalog.DB is what the daemon passes as Options.Backups.
var _ Backups = (*catalog.DB)(nil)

// pageHook is a real catalog whose Page is replaced by page: for failures
// and requests that block.
type pageHook struct {
	*catalog.DB
	page func(ctx context.Context, f catalog.Filter, after string, limit int) ([]catalog.Record, string, error)
}

func (p pageHook) Page(ctx context.Context, f catalog.Filter, after string, limit int) ([]catalog.Record, string, error) {
	return p.page(ctx, f, after, limit)
}

// testAdmin is an Admin over a real catalog, as the daemon's would be
// without storage: Forget refuses a pinned backup, marks and removes the
// record; Pin sets the pin; Prune and Check report the catalog's size.
// err, when set, is what every method returns instead.
type testAdmin struct {
	db  *catalog.DB
	mu  sync.Mutex
	err error
	// calls records each call: "forget ID", "pin ID true", "prune true",
	// "check true false".
	calls []string
}

func (a *testAdmin) record(call string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, call)
	return a.err
}

func (a *testAdmin) called() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.calls...)
}

func (a *testAdmin) Forget(ctx context.Context, id string) error {
	if err := a.record("forget " + id); err != nil {
		return err
	}
	r, err := a.db.Get(ctx, id)
	if err != nil {
		return err
	}
	if r.Pinned {
		return fmt.Errorf("forget backup %s: %w: it is pinned (unpin it first)", id, ErrInvalid)
	}
	if err := a.db.MarkDeleting(ctx, id); err != nil {
		return err
	}
	return a.db.Remove(ctx, id)
}

func (a *testAdmin) Pin(ctx context.Context, id string, pinned bool) error {
	if err := a.record(fmt.Sprintf("pin %s %t", id, pinned)); err != nil {
		return err
	}
	return a.db.SetPinned(ctx, id, pinned)
}

func (a *testAdmin) count(ctx context.Context) (int, error) {
	n, after := 0, ""
	for {
		recs, next, err := a.db.Page(ctx, catalog.Filter{}, after, 0)
		if err != nil {
			return 0, err
		}
		n += len(recs)
		if next == "" {
			return n, nil
		}
		after = next
	}
}

func (a *testAdmin) Prune(ctx context.Context, dryRun bool) (json.RawMessage, error) {
	if err := a.record(fmt.Sprintf("prune %t", dryRun)); err != nil {
		return nil, err
	}
	n, err := a.count(ctx)
	if err != nil {
		return nil, err
	}
	return json.RawMessage(fmt.Sprintf(`{"dry_run":%t,"kept":%d,"deleted":[]}`, dryRun, n)), nil
}

func (a *testAdmin) Check(ctx context.Context, repair, readData bool) (json.RawMessage, bool, error) {
	if err := a.record(fmt.Sprintf("check %t %t", repair, readData)); err != nil {
		return nil, false, err
	}
	n, err := a.count(ctx)
	if err != nil {
		return nil, false, err
	}
	// An empty catalog counts as a problem, so that tests see ok false.
	return json.RawMessage(fmt.Sprintf(`{"records":%d,"problems":[]}`, n)), n > 0, nil
}

// fillCatalog adds n records of site acme (environments production and
// staging, alternately), one a minute before t0, with AddBatch, and returns
// the ids newest first.
func fillCatalog(tb testing.TB, db *catalog.DB, n int) []string {
	tb.Helper()
	ids := make([]string, n)
	batch := make([]catalog.Record, 0, catalog.MaxBatch)
	for i := range n {
		env := "production"
		if i%2 == 1 {
			env = "staging"
		}
		r := record("acme", env, t0.Add(-time.Duration(i+1)*time.Minute))
		ids[i] = r.ID
		batch = append(batch, r)
		if len(batch) == cap(batch) || i == n-1 {
			if err := db.AddBatch(context.Background(), batch); err != nil {
				tb.Fatalf("AddBatch: %v", err)
			}
			batch = batch[:0]
		}
	}
	return ids
}

// normalized returns rs as the catalog returns them.
func normalized(rs ...catalog.Record) []catalog.Record {
	out := make([]catalog.Record, len(rs))
	for i, r := range rs {
		out[i] = r.Normalized()
	}
	return out
}

// equateEmpty makes a nil slice equal an empty one: a decoded record's
// recipients are [], a stored one's nil.
var equateEmpty = cmpopts.EquateEmpty()

// openCatalog opens a real catalog in a temporary directory holding rs.
func openCatalog(tb testing.TB, rs ...catalog.Record) *catalog.DB {
	tb.Helper()
	db, err := catalog.Open(filepath.Join(tb.TempDir(), "catalog.db"), catalog.Options{})
	if err != nil {
		tb.Fatalf("catalog.Open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	for _, r := range rs {
		if err := db.Add(context.Background(), r); err != nil {
			tb.Fatalf("catalog Add(%s): %v", r.ID, err)
		}
	}
	return db
}

// record returns a valid catalog record of site/env started at started.
func record(site, env string, started time.Time) catalog.Record {
	sum := sha256.Sum256([]byte(site + env + started.String()))
	return catalog.Record{
		ID:            catalog.NewID(started),
		Site:          site,
		Environment:   env,
		SiteID:        "12345",
		EnvironmentID: "67890",
		ExportID:      fmt.Sprintf("exp-%d", started.Unix()),
		Trigger:       catalog.TriggerSchedule,
		StartedAt:     started.UTC(),
		CompletedAt:   started.Add(90 * time.Second).UTC(),
		SizeBytes:     1 << 20,
		SHA256:        hex.EncodeToString(sum[:]),
		StoredBytes:   200 << 10,
		Compression:   catalog.CompressionZstd,
		Locations: []catalog.Location{{
			Target: catalog.TargetLocal,
			URI:    "file:///var/lib/vectord/backups/" + site + "/" + env + "/dump.sql.zst",
		}},
	}
}

// testOptions returns options for a loopback server with testToken, an
// empty registry, an empty catalog and a fresh fakeJobs.
func testOptions(tb testing.TB) Options {
	tb.Helper()
	return Options{
		Listen:   "127.0.0.1:9469",
		Token:    testToken,
		Gatherer: prometheus.NewRegistry(),
		Backups:  openCatalog(tb),
		Jobs:     &fakeJobs{},
	}
}

func mustNew(tb testing.TB, o Options) *Server {
	tb.Helper()
	s, err := New(o)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return s
}

// answer is a recorded response.
type answer struct {
	code   int
	header http.Header
	body   string
}

// call sends one request to h. A non-empty token is sent as a bearer
// token; the request's Host is 127.0.0.1:9469 unless set by mod.
func call(tb testing.TB, h http.Handler, method, target, token, body string, mod ...func(*http.Request)) answer {
	tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	req.Host = "127.0.0.1:9469"
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for _, m := range mod {
		m(req)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return answer{rec.Code, rec.Result().Header, rec.Body.String()}
}
