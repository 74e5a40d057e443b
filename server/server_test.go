package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/builtfast/vectord/catalog"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestNewListenRules(t *testing.T) {
	tests := []struct {
		listen  string
		token   string
		wantErr string // substring; "" = accepted
	}{
		{"127.0.0.1:9469", "", ""},
		{"localhost:9469", "", ""},
		{"[::1]:9469", "", ""},
		{"127.0.0.2:9469", "", ""},
		{"0.0.0.0:9469", "", "control token is required"},
		{"[::]:9469", "", "control token is required"},
		{":9469", "", "control token is required"},
		{"192.168.1.20:9469", "", "control token is required"},
		{"vectord.example.com:9469", "", "control token is required"},
		{"0.0.0.0:9469", testToken, ""},
		{"[::]:9469", testToken, ""},
		{"192.168.1.20:9469", testToken, ""},
		{"127.0.0.1", "", "want host:port"},
		{"", testToken, "want host:port"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/token=%t", tt.listen, tt.token != ""), func(t *testing.T) {
			o := testOptions(t)
			o.Listen, o.Token = tt.listen, tt.token
			_, err := New(o)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("New(Listen %q) = %v, want success", tt.listen, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("New(Listen %q) = %v, want an error containing %q", tt.listen, err, tt.wantErr)
			}
		})
	}
}

func TestNewRequiresParts(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Options)
	}{
		{"no gatherer", func(o *Options) { o.Gatherer = nil }},
		{"no backups", func(o *Options) { o.Backups = nil }},
		{"no jobs", func(o *Options) { o.Jobs = nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := testOptions(t)
			tt.mod(&o)
			if _, err := New(o); err == nil {
				t.Fatal("New succeeded, want an error")
			}
		})
	}
}

func TestHealthAndReadiness(t *testing.T) {
	var ready atomic.Bool
	o := testOptions(t)
	o.Ready = ready.Load
	h := mustNew(t, o).Handler()

	// Never behind the token, even though one is configured.
	if a := call(t, h, "GET", "/healthz", "", ""); a.code != http.StatusOK {
		t.Errorf("GET /healthz = %d, want 200", a.code)
	}
	if a := call(t, h, "GET", "/readyz", "", ""); a.code != http.StatusServiceUnavailable {
		t.Errorf("GET /readyz before ready = %d, want 503", a.code)
	}
	ready.Store(true)
	if a := call(t, h, "GET", "/readyz", "", ""); a.code != http.StatusOK {
		t.Errorf("GET /readyz once ready = %d, want 200", a.code)
	}
	ready.Store(false)
	if a := call(t, h, "GET", "/readyz", "", ""); a.code != http.StatusServiceUnavailable {
		t.Errorf("GET /readyz after ready went false = %d, want 503", a.code)
	}
	if a := call(t, h, "HEAD", "/healthz", "", ""); a.code != http.StatusOK {
		t.Errorf("HEAD /healthz = %d, want 200", a.code)
	}
	if a := call(t, h, "POST", "/healthz", "", ""); a.code != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz = %d, want 405", a.code)
	}
}

func TestReadyNilMeansReady(t *testing.T) {
	h := mustNew(t, testOptions(t)).Handler()
	if a := call(t, h, "GET", "/readyz", "", ""); a.code != http.StatusOK {
		t.Errorf("GET /readyz with no Ready func = %d, want 200", a.code)
	}
}

func TestMetricsServesRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vectord_backup_runs_total", Help: "Backup jobs run.",
	}, []string{"site", "environment", "trigger", "outcome"})
	reg.MustRegister(c)
	c.WithLabelValues("acme", "production", "schedule", "success").Add(3)

	o := testOptions(t)
	o.Gatherer = reg
	h := mustNew(t, o).Handler()
	a := call(t, h, "GET", "/metrics", "", "")
	if a.code != http.StatusOK {
		t.Fatalf("GET /metrics without token = %d, want 200", a.code)
	}
	want := `vectord_backup_runs_total{environment="production",outcome="success",site="acme",trigger="schedule"} 3`
	if !strings.Contains(a.body, want) {
		t.Errorf("GET /metrics body lacks %q:\n%s", want, a.body)
	}
	if !strings.HasPrefix(a.header.Get("Content-Type"), "text/plain") {
		t.Errorf("GET /metrics Content-Type = %q, want Prometheus text format", a.header.Get("Content-Type"))
	}
	if strings.Contains(a.body, testToken) {
		t.Error("GET /metrics exposes the control token")
	}
	// Only the registry passed in: nothing from the default registry.
	if strings.Contains(a.body, "go_goroutines") {
		t.Error("GET /metrics serves the default registry's metrics")
	}
}

func TestControlAPIAuth(t *testing.T) {
	endpoints := []struct{ method, target, body string }{
		{"GET", "/api/v1/backups", ""},
		{"POST", "/api/v1/backups", `{"site":"acme"}`},
		{"GET", "/api/v1/jobs/job-1", ""},
	}
	tests := []struct {
		name      string
		header    string // Authorization; "" = none
		wantCode  int
		wantError string // in WWW-Authenticate
	}{
		{"missing", "", http.StatusUnauthorized, ""},
		{"wrong", "Bearer not-the-token", http.StatusUnauthorized, `error="invalid_token"`},
		{"prefix of the token", "Bearer " + testToken[:5], http.StatusUnauthorized, `error="invalid_token"`},
		{"token plus more", "Bearer " + testToken + "x", http.StatusUnauthorized, `error="invalid_token"`},
		{"basic scheme", "Basic " + testToken, http.StatusUnauthorized, ""},
		{"bare token", testToken, http.StatusUnauthorized, ""},
		{"empty bearer", "Bearer ", http.StatusUnauthorized, ""},
		{"right", "Bearer " + testToken, 0, ""},
		{"right, scheme in lower case", "bearer " + testToken, 0, ""},
	}
	for _, ep := range endpoints {
		for _, tt := range tests {
			t.Run(ep.method+" "+ep.target+"/"+tt.name, func(t *testing.T) {
				jobs := &fakeJobs{statuses: map[string]JobStatus{"job-1": {JobID: "job-1", State: catalog.JobQueued}}}
				o := testOptions(t)
				o.Jobs = jobs
				h := mustNew(t, o).Handler()
				a := call(t, h, ep.method, ep.target, "", ep.body, func(r *http.Request) {
					if tt.header != "" {
						r.Header.Set("Authorization", tt.header)
					}
				})
				if tt.wantCode == 0 {
					if a.code == http.StatusUnauthorized {
						t.Fatalf("%s %s with the right token = 401 %s", ep.method, ep.target, a.body)
					}
					return
				}
				if a.code != tt.wantCode {
					t.Fatalf("%s %s = %d %s, want %d", ep.method, ep.target, a.code, a.body, tt.wantCode)
				}
				wa := a.header.Get("WWW-Authenticate")
				if !strings.HasPrefix(wa, "Bearer ") || !strings.Contains(wa, tt.wantError) {
					t.Errorf("WWW-Authenticate = %q, want Bearer with %q", wa, tt.wantError)
				}
				checkErrorBody(t, a)
				if strings.Contains(a.body, testToken) {
					t.Errorf("401 body %s echoes the token", a.body)
				}
				if n := len(jobs.submissions()); n != 0 {
					t.Errorf("unauthorized request submitted %d jobs", n)
				}
			})
		}
	}
}

func TestNoTokenLoopbackOnly(t *testing.T) {
	tests := []struct {
		host string
		want int
	}{
		{"127.0.0.1:9469", http.StatusOK},
		{"localhost:9469", http.StatusOK},
		{"[::1]:9469", http.StatusOK},
		{"localhost", http.StatusOK},
		{"attacker.example:9469", http.StatusForbidden}, // DNS rebinding
		{"192.168.1.20:9469", http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			o := testOptions(t)
			o.Token = ""
			h := mustNew(t, o).Handler()
			a := call(t, h, "GET", "/api/v1/backups", "", "", func(r *http.Request) { r.Host = tt.host })
			if a.code != tt.want {
				t.Fatalf("GET /api/v1/backups with Host %s and no token configured = %d %s, want %d", tt.host, a.code, a.body, tt.want)
			}
		})
	}
	t.Run("health is not restricted", func(t *testing.T) {
		o := testOptions(t)
		o.Token = ""
		h := mustNew(t, o).Handler()
		a := call(t, h, "GET", "/healthz", "", "", func(r *http.Request) { r.Host = "vectord.example:9469" })
		if a.code != http.StatusOK {
			t.Fatalf("GET /healthz = %d, want 200", a.code)
		}
	})
}

func TestCrossOriginPostRefused(t *testing.T) {
	for _, token := range []string{"", testToken} {
		t.Run(fmt.Sprintf("token=%t", token != ""), func(t *testing.T) {
			jobs := &fakeJobs{}
			o := testOptions(t)
			o.Token, o.Jobs = token, jobs
			h := mustNew(t, o).Handler()
			a := call(t, h, "POST", "/api/v1/backups", token, `{"site":"acme"}`, func(r *http.Request) {
				r.Header.Set("Sec-Fetch-Site", "cross-site")
				r.Header.Set("Origin", "https://attacker.example")
			})
			if a.code != http.StatusForbidden {
				t.Fatalf("cross-origin POST = %d %s, want 403", a.code, a.body)
			}
			checkErrorBody(t, a)
			if n := len(jobs.submissions()); n != 0 {
				t.Errorf("cross-origin POST submitted %d jobs", n)
			}
		})
	}
}

// recordFields are the keys of a catalog record (CONTRACT §4).
var recordFields = []string{
	"completed_at", "compression", "encrypted", "environment", "environment_id", "export_id", "id",
	"locations", "pinned", "platform_backup_id", "reason", "recipients", "sha256", "site", "site_id",
	"size_bytes", "source", "started_at", "stored_bytes", "trigger", "verified_at",
}

func TestListBackups(t *testing.T) {
	acmeDev1 := record("acme", "development", t0)
	acmeProd := record("acme", "production", t0.Add(time.Hour))
	acmeDev2 := record("acme", "development", t0.Add(2*time.Hour))
	acmeDev2.Trigger, acmeDev2.Reason = catalog.TriggerManual, "before the plugin update"
	otherDev := record("other", "development", t0.Add(30*time.Minute))
	o := testOptions(t)
	o.Backups = openCatalog(t, acmeDev1, acmeProd, acmeDev2, otherDev)
	h := mustNew(t, o).Handler()

	tests := []struct {
		query string
		want  []catalog.Record // newest first
	}{
		{"", []catalog.Record{acmeDev2, acmeProd, otherDev, acmeDev1}},
		{"?site=acme", []catalog.Record{acmeDev2, acmeProd, acmeDev1}},
		{"?site=acme&env=development", []catalog.Record{acmeDev2, acmeDev1}},
		{"?site=acme&env=", []catalog.Record{acmeDev2, acmeProd, acmeDev1}},
		{"?env=development", []catalog.Record{acmeDev2, otherDev, acmeDev1}},
		{"?site=unknown", []catalog.Record{}},
		{"?site=acme&env=staging", []catalog.Record{}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			a := call(t, h, "GET", "/api/v1/backups"+tt.query, testToken, "")
			if a.code != http.StatusOK {
				t.Fatalf("GET /api/v1/backups%s = %d %s, want 200", tt.query, a.code, a.body)
			}
			if ct := a.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			if len(tt.want) == 0 && strings.TrimSpace(a.body) != "[]" {
				t.Errorf("body = %s, want []", a.body)
			}
			var got []catalog.Record
			if err := json.Unmarshal([]byte(a.body), &got); err != nil {
				t.Fatalf("decode %s: %v", a.body, err)
			}
			if diff := cmp.Diff(normalized(tt.want...), got, equateEmpty); diff != "" {
				t.Errorf("GET /api/v1/backups%s records (-want +got):\n%s", tt.query, diff)
			}
			// Streamed, yet the bytes json.Encoder writes for the slice.
			var enc bytes.Buffer
			if err := json.NewEncoder(&enc).Encode(got); err != nil {
				t.Fatal(err)
			}
			if len(got) > 0 && a.body != enc.String() {
				t.Errorf("body = %q, want %q", a.body, enc.String())
			}
			if l := a.header.Get("Link"); l != "" {
				t.Errorf("a single page has Link %q", l)
			}
			// The exact JSON shape of every record.
			var raw []map[string]json.RawMessage
			if err := json.Unmarshal([]byte(a.body), &raw); err != nil {
				t.Fatal(err)
			}
			for _, r := range raw {
				keys := make([]string, 0, len(r))
				for k := range r {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				if diff := cmp.Diff(recordFields, keys); diff != "" {
					t.Errorf("record keys (-want +got):\n%s", diff)
				}
				var ts string
				if err := json.Unmarshal(r["started_at"], &ts); err != nil || !strings.HasSuffix(ts, "Z") {
					t.Errorf("started_at = %s, want an RFC 3339 UTC string", r["started_at"])
				}
			}
		})
	}
}

func TestListBackupsBadQuery(t *testing.T) {
	h := mustNew(t, testOptions(t)).Handler()
	for _, q := range []string{"?environment=production", "?site=acme&site=other", "?site=Acme", "?env=prod%20x", "?trigger=manual"} {
		t.Run(q, func(t *testing.T) {
			a := call(t, h, "GET", "/api/v1/backups"+q, testToken, "")
			if a.code != http.StatusBadRequest {
				t.Fatalf("GET /api/v1/backups%s = %d %s, want 400", q, a.code, a.body)
			}
			checkErrorBody(t, a)
		})
	}
}

func TestListBackupsFailure(t *testing.T) {
	o := testOptions(t)
	o.Backups = pageHook{openCatalog(t), func(context.Context, catalog.Filter, string, int) ([]catalog.Record, string, error) {
		return nil, "", errors.New("read catalog: disk on fire")
	}}
	h := mustNew(t, o).Handler()
	a := call(t, h, "GET", "/api/v1/backups", testToken, "")
	if a.code != http.StatusInternalServerError {
		t.Fatalf("GET /api/v1/backups with a failing catalog = %d, want 500", a.code)
	}
	if msg := checkErrorBody(t, a); !strings.Contains(msg, "disk on fire") {
		t.Errorf("error %q does not say what failed", msg)
	}
}

func TestStartBackup(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		submitErr error
		wantCode  int
		wantSub   *submission // nil: Submit not called
		wantInErr string      // in the error message
	}{
		{"site only", `{"site":"acme"}`, nil, http.StatusAccepted,
			&submission{"acme", "", "manual", ""}, ""},
		{"every field", `{"site":"acme","environment":"production","reason":"before plugin update","trigger":"manual"}`, nil, http.StatusAccepted,
			&submission{"acme", "production", "manual", "before plugin update"}, ""},
		{"pre-import", `{"site":"acme","environment":"staging","trigger":"pre-import"}`, nil, http.StatusAccepted,
			&submission{"acme", "staging", "pre-import", ""}, ""},
		{"whitespace around", " \n{\"site\":\"acme\"}\n ", nil, http.StatusAccepted,
			&submission{"acme", "", "manual", ""}, ""},
		{"schedule trigger refused", `{"site":"acme","trigger":"schedule"}`, nil, http.StatusBadRequest, nil, "trigger"},
		{"unknown trigger", `{"site":"acme","trigger":"hourly"}`, nil, http.StatusBadRequest, nil, "trigger"},
		{"unknown field", `{"site":"acme","env":"production"}`, nil, http.StatusBadRequest, nil, "unknown field"},
		{"bad JSON", `{"site":"acme"`, nil, http.StatusBadRequest, nil, "decode"},
		{"not an object", `["acme"]`, nil, http.StatusBadRequest, nil, "decode"},
		{"wrong type", `{"site":12345}`, nil, http.StatusBadRequest, nil, "decode"},
		{"empty body", ``, nil, http.StatusBadRequest, nil, "empty"},
		{"two objects", `{"site":"acme"}{"site":"other"}`, nil, http.StatusBadRequest, nil, "after"},
		{"trailing garbage", `{"site":"acme"} x`, nil, http.StatusBadRequest, nil, "after"},
		{"no site", `{"environment":"production"}`, nil, http.StatusBadRequest, nil, "site"},
		{"null", `null`, nil, http.StatusBadRequest, nil, "site"},
		{"control character in reason", `{"site":"acme","reason":"a\u001b[31mred"}`, nil, http.StatusBadRequest, nil, "reason"},
		{"unknown site", `{"site":"nope"}`, fmt.Errorf("%w: unknown site %q (configured: acme)", ErrNotFound, "nope"),
			http.StatusNotFound, &submission{"nope", "", "manual", ""}, "configured: acme"},
		{"unknown environment", `{"site":"acme","environment":"qa"}`, fmt.Errorf("%w: site acme has no environment %q", ErrNotFound, "qa"),
			http.StatusNotFound, &submission{"acme", "qa", "manual", ""}, "no environment"},
		{"no environment to choose", `{"site":"acme"}`, fmt.Errorf("%w: choose one of production, staging", ErrInvalid),
			http.StatusBadRequest, &submission{"acme", "", "manual", ""}, "choose one of"},
		{"shutting down", `{"site":"acme"}`, fmt.Errorf("%w: shutting down", ErrUnavailable),
			http.StatusServiceUnavailable, &submission{"acme", "", "manual", ""}, "shutting down"},
		{"other failure", `{"site":"acme"}`, errors.New("save job: disk full"),
			http.StatusInternalServerError, &submission{"acme", "", "manual", ""}, "disk full"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jobs := &fakeJobs{err: tt.submitErr}
			o := testOptions(t)
			o.Jobs = jobs
			h := mustNew(t, o).Handler()
			a := call(t, h, "POST", "/api/v1/backups", testToken, tt.body, func(r *http.Request) {
				r.Header.Set("Content-Type", "application/json")
			})
			if a.code != tt.wantCode {
				t.Fatalf("POST %s = %d %s, want %d", tt.body, a.code, a.body, tt.wantCode)
			}
			var wantSubs []submission
			if tt.wantSub != nil {
				wantSubs = []submission{*tt.wantSub}
			}
			if diff := cmp.Diff(wantSubs, jobs.submissions()); diff != "" {
				t.Errorf("Submit calls (-want +got):\n%s", diff)
			}
			if a.code != http.StatusAccepted {
				if msg := checkErrorBody(t, a); !strings.Contains(msg, tt.wantInErr) {
					t.Errorf("error %q does not contain %q", msg, tt.wantInErr)
				}
				return
			}
			if strings.TrimSpace(a.body) != `{"job_id":"job-1"}` {
				t.Errorf("202 body = %s, want {\"job_id\":\"job-1\"}", a.body)
			}
			if loc := a.header.Get("Location"); loc != "/api/v1/jobs/job-1" {
				t.Errorf("Location = %q, want /api/v1/jobs/job-1", loc)
			}
		})
	}
}

func TestStartBackupBodyTooLarge(t *testing.T) {
	jobs := &fakeJobs{}
	o := testOptions(t)
	o.Jobs = jobs
	h := mustNew(t, o).Handler()
	body := `{"site":"acme","reason":"` + strings.Repeat("x", maxBodyBytes) + `"}`
	a := call(t, h, "POST", "/api/v1/backups", testToken, body)
	if a.code != http.StatusRequestEntityTooLarge {
		t.Fatalf("POST of %d bytes = %d %s, want 413", len(body), a.code, a.body)
	}
	checkErrorBody(t, a)
	if n := len(jobs.submissions()); n != 0 {
		t.Errorf("oversized POST submitted %d jobs", n)
	}
}

func TestJobStatus(t *testing.T) {
	jobs := &fakeJobs{statuses: map[string]JobStatus{
		"job-ok":   {JobID: "job-ok", State: catalog.JobSucceeded, BackupID: "01jq5x0n6v8k3w2c9m7f4h1r0e"},
		"job-fail": {JobID: "job-fail", State: catalog.JobFailed, Error: "export failed: disk quota"},
		"job-q":    {JobID: "job-q", State: catalog.JobQueued},
	}}
	o := testOptions(t)
	o.Jobs = jobs
	h := mustNew(t, o).Handler()
	tests := []struct {
		id       string
		wantCode int
		wantBody string
	}{
		{"job-ok", 200, `{"job_id":"job-ok","state":"succeeded","backup_id":"01jq5x0n6v8k3w2c9m7f4h1r0e","error":""}`},
		{"job-fail", 200, `{"job_id":"job-fail","state":"failed","backup_id":"","error":"export failed: disk quota"}`},
		{"job-q", 200, `{"job_id":"job-q","state":"queued","backup_id":"","error":""}`},
		{"job-none", 404, `{"error":"unknown job \"job-none\""}`},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			a := call(t, h, "GET", "/api/v1/jobs/"+tt.id, testToken, "")
			if a.code != tt.wantCode || strings.TrimSpace(a.body) != tt.wantBody {
				t.Errorf("GET /api/v1/jobs/%s = %d %s, want %d %s", tt.id, a.code, a.body, tt.wantCode, tt.wantBody)
			}
		})
	}
}

func TestMethodsAndPaths(t *testing.T) {
	h := mustNew(t, testOptions(t)).Handler()
	tests := []struct {
		method, target string
		wantCode       int
		wantAllow      string
	}{
		{"DELETE", "/api/v1/backups", 405, "GET, HEAD, POST"},
		{"PUT", "/api/v1/backups", 405, "GET, HEAD, POST"},
		{"POST", "/api/v1/jobs/job-1", 405, "GET, HEAD, DELETE"},
		{"PUT", "/api/v1/jobs/job-1", 405, "GET, HEAD, DELETE"},
		{"GET", "/api/v1/nothing", 404, ""},
		{"GET", "/api/v1/jobs/", 404, ""},
		{"GET", "/api/v2/backups", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			a := call(t, h, tt.method, tt.target, testToken, "")
			if a.code != tt.wantCode {
				t.Fatalf("%s %s = %d, want %d", tt.method, tt.target, a.code, tt.wantCode)
			}
			if got := a.header.Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow = %q, want %q", got, tt.wantAllow)
			}
			if strings.HasPrefix(tt.target, "/api/v1/") {
				checkErrorBody(t, a)
			}
		})
	}
}

func TestRequestLogNeverHoldsToken(t *testing.T) {
	var buf bytes.Buffer
	o := testOptions(t)
	o.Logger = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := mustNew(t, o).Handler()
	call(t, h, "GET", "/api/v1/backups?site=acme", testToken, "")
	call(t, h, "GET", "/api/v1/backups", "wrong-"+testToken, "")

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("logged %d lines, want one per request:\n%s", len(lines), buf.String())
	}
	if strings.Contains(buf.String(), testToken) || strings.Contains(buf.String(), "Authorization") {
		t.Errorf("request log holds the token or the Authorization header:\n%s", buf.String())
	}
	var first map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"level": "DEBUG", "msg": "http request", "method": "GET", "path": "/api/v1/backups", "status": 200.0}
	for k, v := range want {
		if first[k] != v {
			t.Errorf("log line %s = %v, want %v", k, first[k], v)
		}
	}
	for _, k := range []string{"bytes", "duration"} {
		if _, ok := first[k]; !ok {
			t.Errorf("log line lacks %s: %s", k, lines[0])
		}
	}
	var second map[string]any
	if err := json.Unmarshal([]byte(lines[1]), &second); err != nil {
		t.Fatal(err)
	}
	if second["status"] != 401.0 {
		t.Errorf("log of a wrong-token request: status %v, want 401", second["status"])
	}
}

func TestServeGracefulShutdown(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	o := testOptions(t)
	o.Backups = pageHook{openCatalog(t), func(context.Context, catalog.Filter, string, int) ([]catalog.Record, string, error) {
		close(entered)
		<-release
		return []catalog.Record{record("acme", "development", t0)}, "", nil
	}}
	s := mustNew(t, o)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()

	hc := &http.Client{}
	base := "http://" + ln.Addr().String()
	type result struct {
		code int
		body string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest("GET", base+"/api/v1/backups", nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := hc.Do(req)
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		got <- result{resp.StatusCode, string(b), err}
	}()
	<-entered
	cancel()

	// Shutdown has begun once the listener refuses new connections.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("listener still accepting 5s after ctx ended")
		}
		runtime.Gosched()
	}
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v while a request was in flight", err)
	default:
	}
	close(release)
	r := <-got
	if r.err != nil || r.code != http.StatusOK || !strings.Contains(r.body, `"site":"acme"`) {
		t.Fatalf("in-flight request = %d %q %v, want 200 with the record", r.code, r.body, r.err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve after ctx ended = %v, want nil", err)
	}
	hc.CloseIdleConnections()
}

func TestServeGraceExpires(t *testing.T) {
	entered, sawCancel := make(chan struct{}), make(chan struct{})
	o := testOptions(t)
	o.ShutdownGrace = 20 * time.Millisecond
	o.Backups = pageHook{openCatalog(t), func(ctx context.Context, _ catalog.Filter, _ string, _ int) ([]catalog.Record, string, error) {
		close(entered)
		<-ctx.Done() // a request that never finishes by itself
		close(sawCancel)
		return nil, "", ctx.Err()
	}}
	s := mustNew(t, o)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	hc := &http.Client{}
	reqErr := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/api/v1/backups", nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		reqErr <- err
	}()
	<-entered
	cancel()
	if err := <-served; err != nil {
		t.Fatalf("Serve = %v, want nil after the grace expired", err)
	}
	<-sawCancel
	if err := <-reqErr; err == nil {
		t.Error("the hung request got an answer, want its connection closed")
	}
	hc.CloseIdleConnections()
}

func TestServeFailsOnClosedListener(t *testing.T) {
	s := mustNew(t, testOptions(t))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	if err := s.Serve(context.Background(), ln); err == nil {
		t.Fatal("Serve on a closed listener = nil, want an error")
	}
}

func TestListenAndServeAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	o := testOptions(t)
	o.Listen = ln.Addr().String()
	s := mustNew(t, o)
	err = s.ListenAndServe(context.Background())
	if err == nil || !strings.Contains(err.Error(), "listen on "+o.Listen) {
		t.Fatalf("ListenAndServe on a taken address = %v, want a listen error naming it", err)
	}
}

// checkErrorBody asserts that a is a JSON {"error": "..."} answer with a
// non-empty message, and returns the message.
func checkErrorBody(tb testing.TB, a answer) string {
	tb.Helper()
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		tb.Errorf("error answer Content-Type = %q, want application/json", ct)
	}
	var e map[string]string
	if err := json.Unmarshal([]byte(a.body), &e); err != nil {
		tb.Fatalf("error answer %q is not a JSON object of strings: %v", a.body, err)
	}
	if len(e) != 1 || e["error"] == "" {
		tb.Errorf("error answer = %s, want {\"error\":\"...\"}", a.body)
	}
	return e["error"]
}
