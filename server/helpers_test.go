package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

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

// backupsFunc adapts a function to Backups.
type backupsFunc func(ctx context.Context, f catalog.Filter) ([]catalog.Record, error)

func (b backupsFunc) List(ctx context.Context, f catalog.Filter) ([]catalog.Record, error) {
	return b(ctx, f)
}

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
