package vectorsim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const testToken = "test-token-0123"

// fakeClock is a settable clock for Options.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 24, 12, 0, 0, 0, time.UTC)}
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

// env is a simulator behind a real HTTP server, with a fake clock and the
// sites 12345 (environment 67890) and 23456.
type env struct {
	t     testing.TB
	sim   *Server
	srv   *httptest.Server
	clock *fakeClock
}

func newEnv(t testing.TB, o Options) *env {
	t.Helper()
	clock := newClock()
	if o.Token == "" {
		o.Token = testToken
	}
	if o.Now == nil {
		o.Now = clock.Now
	}
	if o.TempDir == "" {
		o.TempDir = t.TempDir()
	}
	sim := New(o)
	sim.AddSite("12345", "67890")
	sim.AddSite("23456")
	srv := httptest.NewServer(sim)
	t.Cleanup(func() {
		srv.Close()
		if err := sim.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	return &env{t: t, sim: sim, srv: srv, clock: clock}
}

// answer is a decoded API response.
type answer struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any // the envelope, numbers as json.Number
}

func (a answer) data() map[string]any {
	d, _ := a.body["data"].(map[string]any)
	return d
}

func (a answer) str(key string) string {
	s, _ := a.data()[key].(string)
	return s
}

// api sends an authorized API request; path is relative to /api/v1/vector.
func (e *env) api(method, path string, body any) answer {
	e.t.Helper()
	return e.apiWith(method, path, body, map[string]string{"Authorization": "Bearer " + testToken})
}

func (e *env) apiWith(method, path string, body any, headers map[string]string) answer {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.srv.URL+"/api/v1/vector"+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return e.send(req)
}

func (e *env) send(req *http.Request) answer {
	e.t.Helper()
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", req.Method, req.URL.Path, err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header, raw: raw}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&a.body); err != nil {
			e.t.Fatalf("%s %s: decode %q: %v", req.Method, req.URL.Path, raw, err)
		}
	}
	return a
}

// get fetches a URL without credentials.
func (e *env) get(url string, headers map[string]string) (*http.Response, []byte, error) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// mustGet fetches a URL that must answer completely.
func (e *env) mustGet(url string, headers map[string]string) (*http.Response, []byte) {
	e.t.Helper()
	resp, b, err := e.get(url, headers)
	if err != nil {
		e.t.Fatalf("GET %s: %v", redact(url), err)
	}
	return resp, b
}

func (e *env) put(url string, body []byte, headers map[string]string) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPut, url, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/sql")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("PUT %s: %v", redact(url), err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// exportDone requests an export over the documented routes and polls it
// to completion; it returns the export id and the final status data.
func (e *env) exportDone(prefix string) (string, map[string]any) {
	e.t.Helper()
	a := e.api("POST", prefix+"/database/export", nil)
	if a.status != http.StatusAccepted {
		e.t.Fatalf("POST export = %d %s, want 202", a.status, a.raw)
	}
	id := a.str("export_id")
	for range 5 {
		s := e.api("GET", prefix+"/database/export/"+id, nil)
		if s.status != http.StatusOK {
			e.t.Fatalf("GET export status = %d %s", s.status, s.raw)
		}
		if st := s.str("status"); st == statusCompleted || st == statusFailed {
			return id, s.data()
		}
	}
	e.t.Fatalf("export %s did not finish", id)
	return "", nil
}

func redact(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

// readExample loads an example response from testdata.
func readExample(t testing.TB, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return v
}

// shapeDiff lists where got differs in shape from want: missing or extra
// keys, and JSON kinds that differ where neither side is null.
func shapeDiff(got, want any, path string) []string {
	if got == nil || want == nil {
		return nil
	}
	if kind(got) != kind(want) {
		return []string{path + ": " + kind(got) + ", want " + kind(want)}
	}
	var diffs []string
	switch w := want.(type) {
	case map[string]any:
		g := got.(map[string]any)
		for k := range w {
			if _, ok := g[k]; !ok {
				diffs = append(diffs, path+"."+k+": missing")
			}
		}
		for k, v := range g {
			if wv, ok := w[k]; ok {
				diffs = append(diffs, shapeDiff(v, wv, path+"."+k)...)
			} else {
				diffs = append(diffs, path+"."+k+": unexpected")
			}
		}
	case []any:
		g := got.([]any)
		if len(w) > 0 && len(g) > 0 {
			diffs = append(diffs, shapeDiff(g[0], w[0], path+"[0]")...)
		}
	}
	sort.Strings(diffs)
	return diffs
}

func kind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "bool"
	}
	return "null"
}

// assertShape fails unless the answer has the shape of the example.
func assertShape(t testing.TB, a answer, example string) {
	t.Helper()
	var got, want any = a.body, readExample(t, example)
	if _, whole := want.(map[string]any)["message"]; !whole {
		// The documentation shows data only; the envelope is checked
		// elsewhere.
		got, want = a.body["data"], want.(map[string]any)["data"]
	}
	if d := shapeDiff(got, want, "$"); len(d) > 0 {
		t.Errorf("answer %s differs in shape from %s:\n%s", a.raw, example, strings.Join(d, "\n"))
	}
}

// recordingBackend serves fixed dumps and records imports.
type recordingBackend struct {
	mu      sync.Mutex
	body    Body
	err     error
	imports map[EnvKey][]byte
	exports int
}

func (b *recordingBackend) Export(ctx context.Context, site, env string) (Body, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.exports++
	return b.body, b.err
}

func (b *recordingBackend) Import(ctx context.Context, site, env string, sql io.Reader) error {
	data, err := io.ReadAll(sql)
	if err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.imports == nil {
		b.imports = map[EnvKey][]byte{}
	}
	b.imports[EnvKey{site, env}] = data
	return b.err
}

func readAll(t testing.TB, b Body) []byte {
	t.Helper()
	out, err := io.ReadAll(io.NewSectionReader(b, 0, b.Size()))
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return out
}

func jsonNum(n int) json.Number { return json.Number(strconv.Itoa(n)) }
