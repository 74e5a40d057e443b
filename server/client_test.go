package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/builtfast/vectord/catalog"
)

// startDaemon serves the real handler on a loopback httptest server.
func startDaemon(tb testing.TB, o Options) *httptest.Server {
	tb.Helper()
	ts := httptest.NewServer(mustNew(tb, o).Handler())
	tb.Cleanup(ts.Close)
	return ts
}

func TestClientBackups(t *testing.T) {
	dev := record("acme", "development", t0)
	prod := record("acme", "production", t0.Add(time.Hour))
	o := testOptions(t)
	o.Backups = openCatalog(t, dev, prod)
	ts := startDaemon(t, o)
	c := NewClient(ts.URL, testToken, ts.Client())

	tests := []struct {
		site, env string
		want      []catalog.Record
	}{
		{"", "", []catalog.Record{prod, dev}},
		{"acme", "production", []catalog.Record{prod}},
		{"acme", "staging", []catalog.Record{}},
	}
	for _, tt := range tests {
		t.Run(tt.site+"/"+tt.env, func(t *testing.T) {
			got, err := c.Backups(context.Background(), tt.site, tt.env)
			if err != nil {
				t.Fatalf("Backups(%q, %q): %v", tt.site, tt.env, err)
			}
			if diff := cmp.Diff(normalized(tt.want...), got, equateEmpty); diff != "" {
				t.Errorf("Backups(%q, %q) (-want +got):\n%s", tt.site, tt.env, diff)
			}
		})
	}
	t.Run("malformed name", func(t *testing.T) {
		_, err := c.Backups(context.Background(), "Acme", "")
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("Backups(Acme) = %v, want ErrInvalid", err)
		}
	})
}

func TestClientStartBackupAndWait(t *testing.T) {
	jobs := &fakeJobs{sequences: map[string][]JobStatus{
		"job-1": {
			{JobID: "job-1", State: catalog.JobQueued},
			{JobID: "job-1", State: catalog.JobExporting},
			{JobID: "job-1", State: catalog.JobDownloading},
			{JobID: "job-1", State: catalog.JobStoring},
			{JobID: "job-1", State: catalog.JobSucceeded, BackupID: "01jq5x0n6v8k3w2c9m7f4h1r0e"},
		},
	}}
	o := testOptions(t)
	o.Jobs = jobs
	ts := startDaemon(t, o)
	c := NewClient(ts.URL, testToken, ts.Client())
	ctx := context.Background()

	id, err := c.StartBackup(ctx, "acme", "production", "pre-import", "restore of 01jq")
	if err != nil {
		t.Fatalf("StartBackup: %v", err)
	}
	if id != "job-1" {
		t.Errorf("StartBackup = %q, want job-1", id)
	}
	if diff := cmp.Diff([]submission{{"acme", "production", "pre-import", "restore of 01jq"}}, jobs.submissions()); diff != "" {
		t.Errorf("Submit calls (-want +got):\n%s", diff)
	}

	st, err := c.Job(ctx, id)
	if err != nil || st.State != catalog.JobQueued {
		t.Fatalf("Job(%s) = %+v, %v; want queued", id, st, err)
	}
	st, err = c.WaitJob(ctx, id, time.Millisecond)
	if err != nil {
		t.Fatalf("WaitJob: %v", err)
	}
	want := JobStatus{JobID: "job-1", State: catalog.JobSucceeded, BackupID: "01jq5x0n6v8k3w2c9m7f4h1r0e"}
	if st != want {
		t.Errorf("WaitJob = %+v, want %+v", st, want)
	}
}

func TestClientWaitJobFailedIsNotAnError(t *testing.T) {
	jobs := &fakeJobs{statuses: map[string]JobStatus{
		"job-7": {JobID: "job-7", State: catalog.JobFailed, Error: "export failed"},
	}}
	o := testOptions(t)
	o.Jobs = jobs
	ts := startDaemon(t, o)
	c := NewClient(ts.URL, testToken, ts.Client())
	st, err := c.WaitJob(context.Background(), "job-7", time.Millisecond)
	if err != nil || st.State != catalog.JobFailed || st.Error != "export failed" {
		t.Fatalf("WaitJob(failed job) = %+v, %v; want the failed status and no error", st, err)
	}
}

func TestClientWaitJobStopsWithContext(t *testing.T) {
	jobs := &fakeJobs{sequences: map[string][]JobStatus{"job-q": {{JobID: "job-q", State: catalog.JobQueued}}}}
	o := testOptions(t)
	o.Jobs = jobs
	ts := startDaemon(t, o)
	c := NewClient(ts.URL, testToken, ts.Client())
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		st  JobStatus
		err error
	}
	done := make(chan result, 1)
	go func() {
		st, err := c.WaitJob(ctx, "job-q", time.Millisecond)
		done <- result{st, err}
	}()
	// Cancel once a first answer has reached the client: it asked again.
	deadline := time.Now().Add(5 * time.Second)
	for jobs.statusCalls("job-q") < 2 {
		if time.Now().After(deadline) {
			t.Fatal("WaitJob did not ask for the job's status within 5s")
		}
		runtime.Gosched()
	}
	cancel()
	r := <-done
	if !errors.Is(r.err, context.Canceled) {
		t.Fatalf("WaitJob after cancel = %v, want context.Canceled", r.err)
	}
	if r.st.State != catalog.JobQueued {
		t.Errorf("WaitJob after cancel returned %+v, want the last status seen (queued)", r.st)
	}
}

func TestClientErrors(t *testing.T) {
	o := testOptions(t)
	o.Jobs = &fakeJobs{err: fmt.Errorf("%w: unknown site %q (configured: acme)", ErrNotFound, "nope")}
	ts := startDaemon(t, o)
	ctx := context.Background()

	t.Run("unknown site", func(t *testing.T) {
		c := NewClient(ts.URL, testToken, ts.Client())
		_, err := c.StartBackup(ctx, "nope", "", "", "")
		if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "configured: acme") {
			t.Fatalf("StartBackup(unknown site) = %v, want ErrNotFound naming the configured sites", err)
		}
	})
	t.Run("refused trigger", func(t *testing.T) {
		c := NewClient(ts.URL, testToken, ts.Client())
		_, err := c.StartBackup(ctx, "acme", "", "schedule", "")
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("StartBackup(trigger schedule) = %v, want ErrInvalid", err)
		}
	})
	t.Run("unknown job", func(t *testing.T) {
		c := NewClient(ts.URL, testToken, ts.Client())
		_, err := c.Job(ctx, "job-404")
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("Job(unknown) = %v, want ErrNotFound", err)
		}
		if _, err := c.WaitJob(ctx, "job-404", time.Millisecond); !errors.Is(err, ErrNotFound) {
			t.Fatalf("WaitJob(unknown) = %v, want ErrNotFound", err)
		}
	})
	for _, token := range []string{"", "wrong-token"} {
		t.Run(fmt.Sprintf("token %q", token), func(t *testing.T) {
			c := NewClient(ts.URL, token, ts.Client())
			_, err := c.Backups(ctx, "", "")
			if !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("Backups with token %q = %v, want ErrUnauthorized", token, err)
			}
			if token != "" && strings.Contains(err.Error(), token) {
				t.Errorf("error %q holds the token", err)
			}
		})
	}
}

func TestClientPing(t *testing.T) {
	ts := startDaemon(t, testOptions(t))
	// Ping needs no token.
	if err := NewClient(ts.URL, "", ts.Client()).Ping(context.Background()); err != nil {
		t.Fatalf("Ping(serving daemon) = %v, want nil", err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if err := NewClient(addr, "", nil).Ping(context.Background()); err == nil {
		t.Fatal("Ping(no daemon) = nil, want an error")
	}

	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	if err := NewClient(other.URL, "", other.Client()).Ping(context.Background()); err == nil {
		t.Fatal("Ping(a server without /healthz) = nil, want an error")
	}
}

func TestClientBaseURLWithoutScheme(t *testing.T) {
	ts := startDaemon(t, testOptions(t))
	c := NewClient(strings.TrimPrefix(ts.URL, "http://")+"/", testToken, ts.Client())
	if _, err := c.Backups(context.Background(), "", ""); err != nil {
		t.Fatalf("Backups via %q: %v", strings.TrimPrefix(ts.URL, "http://"), err)
	}
}

func TestLocalURL(t *testing.T) {
	tests := []struct{ listen, want string }{
		{"127.0.0.1:9469", "http://127.0.0.1:9469"},
		{"localhost:9469", "http://localhost:9469"},
		{"[::1]:9469", "http://[::1]:9469"},
		{"0.0.0.0:9469", "http://127.0.0.1:9469"},
		{":9469", "http://127.0.0.1:9469"},
		{"[::]:9469", "http://[::1]:9469"},
		{"192.168.1.20:9469", "http://192.168.1.20:9469"},
	}
	for _, tt := range tests {
		t.Run(tt.listen, func(t *testing.T) {
			got, err := LocalURL(tt.listen)
			if err != nil || got != tt.want {
				t.Errorf("LocalURL(%q) = %q, %v; want %q", tt.listen, got, err, tt.want)
			}
		})
	}
	if _, err := LocalURL("9469"); err == nil {
		t.Error("LocalURL(9469) = nil error, want one")
	}
}

func TestClientCancelJobAndAdmit(t *testing.T) {
	jobs := &fakeJobs{statuses: map[string]JobStatus{
		"job-3": {JobID: "job-3", State: catalog.JobQueued, Waiting: "waiting for API budget until 2026-12-04T22:00:00Z", Position: 2},
		"job-4": {JobID: "job-4", State: catalog.JobSucceeded},
	}}
	o := testOptions(t)
	o.Jobs = jobs
	ts := startDaemon(t, o)
	c := NewClient(ts.URL, testToken, ts.Client())
	ctx := context.Background()
	st, err := c.Job(ctx, "job-3")
	if err != nil || st.Waiting == "" || st.Position != 2 {
		t.Fatalf("Job(job-3) = %+v, %v; want its wait and position", st, err)
	}
	if err := c.CancelJob(ctx, "job-3"); err != nil {
		t.Fatalf("CancelJob: %v", err)
	}
	if err := c.CancelJob(ctx, "job-4"); !errors.Is(err, ErrNotFound) {
		t.Errorf("CancelJob(finished) = %v, want ErrNotFound", err)
	}
	if err := c.Admit(ctx, "import", "acme/production"); err != nil {
		t.Fatalf("Admit: %v", err)
	}
	jobs.mu.Lock()
	defer jobs.mu.Unlock()
	if len(jobs.canceled) != 1 || jobs.canceled[0] != "job-3" || len(jobs.admitted) != 1 || jobs.admitted[0] != "import acme/production" {
		t.Errorf("canceled %v, admitted %v", jobs.canceled, jobs.admitted)
	}
}

func TestStatusRoute(t *testing.T) {
	o := testOptions(t)
	h := mustNew(t, o).Handler()
	if a := call(t, h, "GET", "/api/v1/status", testToken, ""); a.code != http.StatusNotImplemented {
		t.Errorf("GET /api/v1/status without a status source = %d, want 501", a.code)
	}
	o.Status = func(ctx context.Context) (json.RawMessage, error) { return json.RawMessage(`{"daemon":true}`), nil }
	ts := startDaemon(t, o)
	c := NewClient(ts.URL, testToken, ts.Client())
	raw, err := c.Status(context.Background())
	if err != nil || string(raw) != `{"daemon":true}` {
		t.Errorf("Status = %s, %v", raw, err)
	}
	if a := call(t, mustNew(t, o).Handler(), "GET", "/api/v1/status", "", ""); a.code != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/status without the token = %d, want 401", a.code)
	}
}
