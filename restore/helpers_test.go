package restore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/builtfast/vectord/restore"
	"github.com/builtfast/vectord/vectorapi"
	"github.com/builtfast/vectord/vectorsim"
)

const (
	token  = "test-token-5b1d9e0c77"
	siteID = "1001"
	envID  = "2001"
)

// harness is the real client against the simulated API, with a settable
// clock, a recording snapshotter and every log line captured.
type harness struct {
	t      *testing.T
	sim    *vectorsim.Server
	srv    *httptest.Server
	clock  *fakeClock
	logs   *syncBuffer
	client *vectorapi.Client
	snap   *recordingSnapshotter
	im     *restore.Importer
}

// newHarness starts the simulator; wrap, if given, stands between it and
// the client (to break requests on their way).
func newHarness(t *testing.T, routes string, o vectorsim.Options, wrap ...func(http.Handler) http.Handler) *harness {
	t.Helper()
	h := &harness{t: t, clock: newClock(), logs: &syncBuffer{}}
	o.Token = token
	o.Now = h.clock.Now
	o.TempDir = t.TempDir()
	h.sim = vectorsim.New(o)
	h.sim.AddSite(siteID, envID)
	var handler http.Handler = h.sim
	for _, w := range wrap {
		handler = w(handler)
	}
	h.srv = httptest.NewServer(handler)
	t.Cleanup(func() {
		h.srv.Close()
		if err := h.sim.Close(); err != nil {
			t.Errorf("simulator Close() = %v", err)
		}
	})
	log := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var err error
	h.client, err = vectorapi.New(vectorapi.Options{
		BaseURL: h.srv.URL + "/api/v1/vector", Token: token, Routes: routes, Logger: log,
		RequestsPerMinute: 60000, RetryBaseDelay: time.Millisecond, RetryMaxDelay: 5 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.snap = &recordingSnapshotter{sim: h.sim, id: "01JSNAPSHOT0000000000000000"}
	h.im = &restore.Importer{
		API: h.client, Snapshot: h.snap, Logger: log,
		PollInterval: time.Millisecond, PollMaxInterval: 5 * time.Millisecond,
	}
	return h
}

func target(env string) restore.Target {
	t := restore.Target{Site: "acme", Environment: "development", SiteID: siteID}
	if env != "" {
		t.Environment, t.EnvironmentID = "production", env
	}
	return t
}

// imported returns what the simulator's database env of the site received.
func (h *harness) imported(env string) vectorsim.ImportStats {
	return h.sim.Stats().Imports[vectorsim.EnvKey{Site: siteID, Env: env}]
}

// fakeClock is the simulator's settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// recordingSnapshotter records its calls and what the API had seen at each.
type recordingSnapshotter struct {
	sim *vectorsim.Server
	id  string
	err error

	mu    sync.Mutex
	calls []snapCall
}

type snapCall struct {
	site, env, reason string
	apiRequests       int // API requests the simulator had served when the snapshot was asked for
}

func (s *recordingSnapshotter) Snapshot(ctx context.Context, site, env, reason string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, snapCall{site, env, reason, s.sim.Stats().APIRequests})
	if s.err != nil {
		return "", s.err
	}
	return s.id, nil
}

func (s *recordingSnapshotter) Calls() []snapCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]snapCall(nil), s.calls...)
}

// memSource is a dump in memory that counts how often it is opened.
type memSource struct {
	data   []byte
	opens  atomic.Int32
	onOpen func(n int) // called with the number of the open, from 1
}

func newMemSource(data []byte) *memSource { return &memSource{data: data} }

func (s *memSource) Source(name string) restore.Source {
	return restore.Source{Name: name, Size: int64(len(s.data)), Open: s.open}
}

func (s *memSource) open(ctx context.Context) (io.ReadCloser, error) {
	n := int(s.opens.Add(1))
	if s.onOpen != nil {
		s.onOpen(n)
	}
	// io.NopCloser hides bytes.Reader's Seek: a stream, like a decompressed
	// backup.
	return io.NopCloser(bytes.NewReader(s.data)), nil
}

// sqlDump returns a generated mysqldump of size bytes.
func sqlDump(t testing.TB, seed string, size int64) []byte {
	t.Helper()
	b := make([]byte, size)
	if _, err := vectorsim.Dump(seed, size, vectorsim.MySQL).ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	return b
}

func sha(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
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

// countingAPI counts the calls that start or feed an import.
type countingAPI struct {
	restore.API
	mu                              sync.Mutex
	creates, uploads, runs, directs int
	runErr                          error // returned by RunImport after the real call
	skipRun                         bool  // RunImport returns runErr without calling the API
}

func (a *countingAPI) CreateImportFile(ctx context.Context, t vectorapi.Target, name string, size int64) (vectorapi.ImportSession, error) {
	a.mu.Lock()
	a.creates++
	a.mu.Unlock()
	return a.API.CreateImportFile(ctx, t, name, size)
}

func (a *countingAPI) Upload(ctx context.Context, url string, body io.Reader, size int64) error {
	a.mu.Lock()
	a.uploads++
	a.mu.Unlock()
	return a.API.Upload(ctx, url, body, size)
}

func (a *countingAPI) UploadParts(ctx context.Context, s vectorapi.ImportSession, body io.Reader, size int64) ([]vectorapi.CompletedPart, error) {
	a.mu.Lock()
	a.uploads++
	a.mu.Unlock()
	return a.API.UploadParts(ctx, s, body, size)
}

func (a *countingAPI) RunImport(ctx context.Context, t vectorapi.Target, id string, parts ...vectorapi.CompletedPart) error {
	a.mu.Lock()
	a.runs++
	runErr, skip := a.runErr, a.skipRun
	a.mu.Unlock()
	if skip {
		return runErr
	}
	if err := a.API.RunImport(ctx, t, id, parts...); err != nil {
		return err
	}
	return runErr
}

func (a *countingAPI) ImportDirect(ctx context.Context, t vectorapi.Target, name string, body io.Reader, size int64) (vectorapi.Import, error) {
	a.mu.Lock()
	a.directs++
	a.mu.Unlock()
	return a.API.ImportDirect(ctx, t, name, body, size)
}

func (a *countingAPI) counts() (creates, uploads, runs, directs int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.creates, a.uploads, a.runs, a.directs
}
