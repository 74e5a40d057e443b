package vectorapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var site = Target{SiteID: "12345"}

func TestNewValidatesOptions(t *testing.T) {
	ok := Options{Token: testToken}
	tests := []struct {
		name    string
		adjust  func(*Options)
		wantErr string // "" = valid
	}{
		{"defaults", func(*Options) {}, ""},
		{"openapi routes", func(o *Options) { o.Routes = RoutesOpenAPI }, ""},
		{"base URL with path and slash", func(o *Options) { o.BaseURL = "http://127.0.0.1:8080/api/v1/vector/" }, ""},
		{"no token", func(o *Options) { o.Token = "" }, "token is empty"},
		{"token with newline", func(o *Options) { o.Token = testToken + "\n" }, "token contains whitespace"},
		{"unknown routes", func(o *Options) { o.Routes = "v2" }, `routes "v2"`},
		{"base URL without scheme", func(o *Options) { o.BaseURL = "api.builtfast.com" }, `base URL "api.builtfast.com": want http(s)://host`},
		{"base URL with credentials", func(o *Options) { o.BaseURL = "https://u:" + testToken + "@api.builtfast.com/v" }, `base URL "https://api.builtfast.com/v"`},
		{"base URL with query", func(o *Options) { o.BaseURL = "https://api.builtfast.com/api?key=" + testToken }, "base URL"},
		{"negative timeout", func(o *Options) { o.Timeout = -time.Second }, "timeout -1s is negative"},
		{"negative budget", func(o *Options) { o.RequestsPerMinute = -1 }, "requests per minute"},
		{"negative delay", func(o *Options) { o.RetryBaseDelay = -1 }, "retry base delay"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.adjust(&o)
			c, err := New(o)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if c == nil {
					t.Fatal("New returned a nil client")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("New error = %v, want it to contain %q", err, tc.wantErr)
			}
			assertNoSecret(t, "New error", err.Error())
		})
	}
}

func TestSupports(t *testing.T) {
	for _, tc := range []struct {
		routes             string
		direct, environmts bool
	}{
		{RoutesDocumented, true, true},
		{"", true, true},
		{RoutesOpenAPI, false, false},
	} {
		c, err := New(Options{Token: testToken, Routes: tc.routes})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.SupportsDirectImport(); got != tc.direct {
			t.Errorf("routes %q: SupportsDirectImport() = %v, want %v", tc.routes, got, tc.direct)
		}
		if got := c.SupportsEnvironments(); got != tc.environmts {
			t.Errorf("routes %q: SupportsEnvironments() = %v, want %v", tc.routes, got, tc.environmts)
		}
	}
}

// TestRoutes checks every operation's method and path in both route sets,
// with escaping, and that unsupported ones are refused before sending.
func TestRoutes(t *testing.T) {
	env := Target{SiteID: "12345", EnvironmentID: "67890"}
	odd := Target{SiteID: "a/b c", EnvironmentID: "é?#"}
	calls := map[string]func(context.Context, *Client, Target) error{
		"export": func(ctx context.Context, c *Client, t Target) error { _, err := c.StartExport(ctx, t); return err },
		"export_status": func(ctx context.Context, c *Client, t Target) error {
			_, err := c.ExportStatus(ctx, t, "exp/1")
			return err
		},
		"import_create": func(ctx context.Context, c *Client, t Target) error {
			_, err := c.CreateImportFile(ctx, t, "db.sql", 10)
			return err
		},
		"import_run": func(ctx context.Context, c *Client, t Target) error { return c.RunImport(ctx, t, "imp_1") },
		"import_status": func(ctx context.Context, c *Client, t Target) error {
			_, err := c.ImportStatus(ctx, t, "imp_1")
			return err
		},
		"import_direct": func(ctx context.Context, c *Client, t Target) error {
			_, err := c.ImportDirect(ctx, t, "db.sql", strings.NewReader("SELECT 1;"), 9)
			return err
		},
	}
	tests := []struct {
		routes, op string
		target     Target
		want       string // "METHOD path", or "" for ErrUnsupported
	}{
		{RoutesDocumented, "export", site, "POST /api/v1/vector/sites/12345/database/export"},
		{RoutesDocumented, "export", env, "POST /api/v1/vector/sites/12345/environments/67890/database/export"},
		{RoutesDocumented, "export", odd, "POST /api/v1/vector/sites/a%2Fb%20c/environments/%C3%A9%3F%23/database/export"},
		{RoutesDocumented, "export_status", site, "GET /api/v1/vector/sites/12345/database/export/exp%2F1"},
		{RoutesDocumented, "export_status", env, "GET /api/v1/vector/sites/12345/environments/67890/database/export/exp%2F1"},
		{RoutesDocumented, "import_create", site, "POST /api/v1/vector/sites/12345/database/import"},
		{RoutesDocumented, "import_create", env, "POST /api/v1/vector/sites/12345/environments/67890/database/import"},
		{RoutesDocumented, "import_run", site, "POST /api/v1/vector/sites/12345/database/import/imp_1/run"},
		{RoutesDocumented, "import_run", env, "POST /api/v1/vector/sites/12345/environments/67890/database/import/imp_1/run"},
		{RoutesDocumented, "import_status", site, "GET /api/v1/vector/sites/12345/database/import/imp_1"},
		{RoutesDocumented, "import_status", env, "GET /api/v1/vector/sites/12345/environments/67890/database/import/imp_1"},
		{RoutesDocumented, "import_direct", site, "POST /api/v1/vector/sites/12345/database/import-direct"},
		{RoutesDocumented, "import_direct", env, ""},
		{RoutesOpenAPI, "export", site, "POST /api/v1/vector/sites/12345/db/export"},
		{RoutesOpenAPI, "export_status", site, "GET /api/v1/vector/sites/12345/db/exports/exp%2F1"},
		{RoutesOpenAPI, "import_create", site, "POST /api/v1/vector/sites/12345/imports"},
		{RoutesOpenAPI, "import_run", site, "POST /api/v1/vector/sites/12345/imports/imp_1/run"},
		{RoutesOpenAPI, "import_status", site, "GET /api/v1/vector/sites/12345/imports/imp_1"},
		{RoutesOpenAPI, "import_direct", site, ""},
		{RoutesOpenAPI, "export", env, ""},
		{RoutesOpenAPI, "export_status", env, ""},
		{RoutesOpenAPI, "import_create", env, ""},
		{RoutesOpenAPI, "import_run", env, ""},
		{RoutesOpenAPI, "import_status", env, ""},
	}
	for _, tc := range tests {
		t.Run(tc.routes+"/"+tc.op+"/"+tc.target.EnvironmentID, func(t *testing.T) {
			api := newFakeAPI(t)
			// Any 2xx will do: this test is about where requests go.
			api.queue(tc.op, fault{status: http.StatusOK, body: `{"data":{"id":"x","status":"completed","upload_url":"https://s3.example/u"}}`})
			c := api.client(t, func(o *Options) { o.Routes = tc.routes })
			err := calls[tc.op](t.Context(), c, tc.target)
			hits := api.served("")
			if tc.want == "" {
				if !errors.Is(err, ErrUnsupported) {
					t.Errorf("error = %v, want one matching ErrUnsupported", err)
				}
				if len(hits) != 0 {
					t.Errorf("sent %d requests for an unsupported route, want none", len(hits))
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", tc.op, err)
			}
			if len(hits) != 1 {
				t.Fatalf("sent %d requests, want 1", len(hits))
			}
			if got := hits[0].method + " " + hits[0].path; got != tc.want {
				t.Errorf("request = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestBadIDsAreRefused(t *testing.T) {
	api := newFakeAPI(t)
	c := api.client(t, nil)
	for _, tc := range []struct {
		name string
		call func() error
		want string
	}{
		{"empty site", func() error { _, err := c.StartExport(t.Context(), Target{}); return err }, "site id is empty"},
		{"dot-dot site", func() error { _, err := c.StartExport(t.Context(), Target{SiteID: ".."}); return err }, `site id ".." is not a valid id`},
		{"dot environment", func() error {
			_, err := c.StartExport(t.Context(), Target{SiteID: "1", EnvironmentID: "."})
			return err
		}, "environment id"},
		{"empty export id", func() error { _, err := c.ExportStatus(t.Context(), site, ""); return err }, "export id is empty"},
		{"dot-dot import id", func() error { return c.RunImport(t.Context(), site, "..") }, "import id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	if n := len(api.served("")); n != 0 {
		t.Errorf("sent %d requests with invalid ids, want none", n)
	}
}

func TestAPIRequestHeaders(t *testing.T) {
	api := newFakeAPI(t)
	c := api.client(t, nil)
	if _, err := c.StartExport(t.Context(), site); err != nil {
		t.Fatal(err)
	}
	h := api.served("export")[0].header
	for k, want := range map[string]string{
		"Authorization": "Bearer " + testToken,
		"Accept":        "application/json",
		"User-Agent":    "vectord/test",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
}

func TestCreateImportOpenAPIBody(t *testing.T) {
	api := newFakeAPI(t)
	c := api.client(t, func(o *Options) { o.Routes = RoutesOpenAPI })
	if _, err := c.CreateImportFile(t.Context(), site, "acme.sql", 4096); err != nil {
		t.Fatal(err)
	}
	h := api.served("import_create")[0]
	if got, want := string(h.body), `{"scope":"database","filename":"acme.sql","content_length":4096}`; got != want {
		t.Errorf("request body = %s, want %s", got, want)
	}
	if ct := h.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	// Without the size the openapi route cannot be called at all.
	if _, err := c.CreateImport(t.Context(), site); !errors.Is(err, ErrUnsupported) {
		t.Errorf("CreateImport under openapi: error = %v, want ErrUnsupported", err)
	}
	if n := len(api.served("import_create")); n != 1 {
		t.Errorf("import_create requests = %d, want 1", n)
	}

	// The documented route sends no body.
	doc := newFakeAPI(t)
	if _, err := doc.client(t, nil).CreateImport(t.Context(), site); err != nil {
		t.Fatal(err)
	}
	if b := doc.served("import_create")[0].body; len(b) != 0 {
		t.Errorf("documented create-import body = %q, want none", b)
	}
}

// TestExportLifecycle runs export → poll → download and import session →
// upload → run → poll against the fake in both route sets.
func TestExportLifecycle(t *testing.T) {
	for _, routes := range []string{RoutesDocumented, RoutesOpenAPI} {
		t.Run(routes, func(t *testing.T) {
			api := newFakeAPI(t)
			api.pollsToEnd = 2
			c := api.client(t, func(o *Options) { o.Routes = routes })
			ctx := t.Context()

			e, err := c.StartExport(ctx, site)
			if err != nil {
				t.Fatal(err)
			}
			if e.ID != "exp_1" || e.Status != StatusPending {
				t.Fatalf("StartExport = %+v, want exp_1 pending", e)
			}
			for e.Status != StatusCompleted {
				if e, err = c.ExportStatus(ctx, site, e.ID); err != nil {
					t.Fatal(err)
				}
			}
			if want := utc("2025-01-15T13:00:00Z"); !e.ExpiresAt.Equal(want) || e.ExpiresAt.Location() != time.UTC {
				t.Errorf("ExpiresAt = %v, want %v in UTC", e.ExpiresAt, want)
			}
			if e.SizeBytes != int64(len(api.dump)) {
				t.Errorf("SizeBytes = %d, want %d", e.SizeBytes, len(api.dump))
			}
			d, err := c.Download(ctx, e.DownloadURL, 0)
			if err != nil {
				t.Fatal(err)
			}
			got := readAll(t, d)
			if string(got) != string(api.dump) {
				t.Errorf("downloaded %q, want %q", got, api.dump)
			}

			s, err := c.CreateImportFile(ctx, site, "dump.sql", int64(len(got)))
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Upload(ctx, s.UploadURL, strings.NewReader(string(got)), int64(len(got))); err != nil {
				t.Fatal(err)
			}
			if string(api.uploaded) != string(api.dump) {
				t.Errorf("uploaded %q, want %q", api.uploaded, api.dump)
			}
			if err := c.RunImport(ctx, site, s.ID); err != nil {
				t.Fatal(err)
			}
			im, err := c.ImportStatus(ctx, site, s.ID)
			if err != nil {
				t.Fatal(err)
			}
			want := Import{ID: "imp_1", Status: StatusCompleted, StartedAt: utc("2026-01-24T11:45:00Z"), CompletedAt: utc("2026-01-24T11:46:30Z")}
			if diff := cmp.Diff(want, im); diff != "" {
				t.Errorf("ImportStatus (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUnauthorizedIsNotRetried(t *testing.T) {
	for _, code := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			api := newFakeAPI(t)
			api.queue("export_status", fault{status: code, body: `{"data":{},"message":"Unauthenticated"}`})
			c := api.client(t, nil)
			_, err := c.ExportStatus(t.Context(), site, "exp_1")
			if !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("error = %v, want ErrUnauthorized", err)
			}
			if !strings.Contains(err.Error(), "check api.token") {
				t.Errorf("error %q does not tell the user what to check", err)
			}
			if n := len(api.served("export_status")); n != 1 {
				t.Errorf("requests = %d, want 1 (no retry)", n)
			}
		})
	}
}

func TestWrongTokenIsReported(t *testing.T) {
	api := newFakeAPI(t)
	c := api.client(t, func(o *Options) { o.Token = "not-the-token" })
	_, err := c.StartExport(t.Context(), site)
	if !errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrExportUncertain) {
		t.Fatalf("error = %v, want ErrUnauthorized and not uncertain", err)
	}
}

// TestStatusQueriesAreRetried: idempotent requests survive any 5xx and
// network error.
func TestStatusQueriesAreRetried(t *testing.T) {
	tests := []struct {
		name   string
		faults []fault
	}{
		{"500", []fault{{status: 500}}},
		{"502 HTML", []fault{{status: 502, body: "<html><body>Bad Gateway</body></html>"}}},
		{"503 twice", []fault{{status: 503}, {status: 503}}},
		{"504", []fault{{status: 504}}},
		{"connection closed", []fault{{hangup: true}}},
		{"429", []fault{{status: 429, header: map[string]string{"Retry-After": "0"}}}},
		{"garbled 200 then fine", []fault{{status: 200, body: "<html>"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI(t)
			api.pollsToEnd = 0
			c := api.client(t, func(o *Options) {
				// Fresh connections, so that the retry seen is the client's
				// own and not the transport's.
				o.HTTPClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			})
			api.queue("export_status", tc.faults...)
			e, err := c.ExportStatus(t.Context(), site, "exp_1")
			if tc.name == "garbled 200 then fine" {
				// A 2xx that cannot be read is not retried: it is an error
				// naming the problem.
				if err == nil || !strings.Contains(err.Error(), "decode answer") {
					t.Fatalf("error = %v, want a decode error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ExportStatus: %v", err)
			}
			if e.Status != StatusCompleted {
				t.Errorf("Status = %q, want completed", e.Status)
			}
			if got, want := len(api.served("export_status")), len(tc.faults)+1; got != want {
				t.Errorf("requests = %d, want %d", got, want)
			}
		})
	}
}

func TestRetriesRunOut(t *testing.T) {
	api := newFakeAPI(t)
	for range 10 {
		api.queue("export_status", fault{status: 502, body: "<!DOCTYPE html><html><head><title>502</title></head></html>"})
	}
	c := api.client(t, func(o *Options) { o.MaxRetries = 2 })
	_, err := c.ExportStatus(t.Context(), site, "exp_1")
	if got, want := err.Error(), "export status: HTTP 502: Bad Gateway"; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
	if n := len(api.served("export_status")); n != 3 {
		t.Errorf("requests = %d, want 3 (MaxRetries 2)", n)
	}
}

// nonIdempotent are the calls that start work at the API.
var nonIdempotent = []struct {
	op   string
	call func(context.Context, *Client) error
}{
	{"export", func(ctx context.Context, c *Client) error { _, err := c.StartExport(ctx, site); return err }},
	{"import_create", func(ctx context.Context, c *Client) error { _, err := c.CreateImport(ctx, site); return err }},
	{"import_run", func(ctx context.Context, c *Client) error { return c.RunImport(ctx, site, "imp_1") }},
	{"import_direct", func(ctx context.Context, c *Client) error {
		_, err := c.ImportDirect(ctx, site, "db.sql", strings.NewReader("SELECT 1;"), 9)
		return err
	}},
	{"backup_create", func(ctx context.Context, c *Client) error {
		_, err := c.CreateBackup(ctx, Target{SiteID: "12345", EnvironmentID: "67890"}, "vectord schedule")
		return err
	}},
	{"backup_download_create", func(ctx context.Context, c *Client) error {
		_, err := c.CreateBackupDownload(ctx, "bkp_1")
		return err
	}},
}

// TestWorkIsNotStartedTwice: a request that starts an export or import is
// re-sent only when the failure proves the API did not act on it.
func TestWorkIsNotStartedTwice(t *testing.T) {
	tests := []struct {
		name          string
		faults        []fault
		refusedDials  int
		timeout       time.Duration
		wantUncertain bool
		wantRequests  int
	}{
		{name: "502 from a proxy", faults: []fault{{status: 502, body: "<html>bad gateway</html>"}}, wantUncertain: true, wantRequests: 1},
		{name: "504 from a proxy", faults: []fault{{status: 504}}, wantUncertain: true, wantRequests: 1},
		{name: "connection closed after the request", faults: []fault{{hangup: true}}, wantUncertain: true, wantRequests: 1},
		{name: "no answer in time", faults: []fault{{block: true}}, timeout: 100 * time.Millisecond, wantUncertain: true, wantRequests: 1},
		{name: "500 is retried", faults: []fault{{status: 500}}, wantRequests: 2},
		{name: "503 is retried", faults: []fault{{status: 503}}, wantRequests: 2},
		{name: "429 is retried unless a database operation", faults: []fault{{status: 429, header: map[string]string{"Retry-After": "0"}}}, wantRequests: 2},
		{name: "connection refused is retried", refusedDials: 2, wantRequests: 1},
	}
	for _, call := range nonIdempotent {
		for _, tc := range tests {
			t.Run(call.op+"/"+tc.name, func(t *testing.T) {
				api := newFakeAPI(t)
				api.queue(call.op, tc.faults...)
				c := api.client(t, func(o *Options) {
					if tc.timeout > 0 {
						o.Timeout = tc.timeout
					}
					if tc.refusedDials > 0 {
						tr := http.DefaultTransport.(*http.Transport).Clone()
						tr.DialContext = refusingDialer(t, tc.refusedDials)
						o.HTTPClient = &http.Client{Transport: tr}
					}
				})
				err := call.call(t.Context(), c)
				if tc.faults != nil && tc.faults[0].status == 429 && operation(call.op).dbOperation() {
					// CONTRACT §6: a 429 on a database operation pauses
					// them all; the client hands it back at once.
					if got := len(api.served(call.op)); got != 1 || !errors.Is(err, ErrRateLimited) {
						t.Errorf("429 on %s: requests = %d, error %v; want 1 request and ErrRateLimited", call.op, got, err)
					}
					return
				}
				if got := len(api.served(call.op)); got != tc.wantRequests {
					t.Errorf("requests = %d, want %d", got, tc.wantRequests)
				}
				if !tc.wantUncertain {
					if err != nil {
						t.Errorf("error = %v, want success after retry", err)
					}
					return
				}
				if !errors.Is(err, ErrExportUncertain) {
					t.Fatalf("error = %v, want one matching ErrExportUncertain", err)
				}
				if !strings.Contains(err.Error(), "not re-sent") {
					t.Errorf("error %q does not say it was not re-sent", err)
				}
			})
		}
	}
}

func TestUncertainExportMessage(t *testing.T) {
	api := newFakeAPI(t)
	api.queue("export", fault{status: 504})
	_, err := api.client(t, nil).StartExport(t.Context(), site)
	want := "start export: HTTP 504: Gateway Timeout (the export may have been started; not re-sent to avoid a second export)"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 504 {
		t.Errorf("error %v does not carry the *Error with status 504", err)
	}
}

func TestUnreadableExportAnswerIsUncertain(t *testing.T) {
	for _, body := range []string{"<html>ok</html>", `{"data":{"status":"pending"}}`, `{"data":{"export_id":"e","expires_at":"soon"}}`} {
		api := newFakeAPI(t)
		api.queue("export", fault{status: 202, body: body})
		_, err := api.client(t, nil).StartExport(t.Context(), site)
		if !errors.Is(err, ErrExportUncertain) {
			t.Errorf("answer %s: error = %v, want ErrExportUncertain", body, err)
		}
	}
}

func TestCanceledAfterSendingIsUncertain(t *testing.T) {
	api := newFakeAPI(t)
	api.queue("export", fault{block: true})
	c := api.client(t, nil)
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := c.StartExport(ctx, site)
		errc <- err
	}()
	waitFor(t, func() bool { return len(api.served("export")) == 1 })
	cancel()
	err := <-errc
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrExportUncertain) {
		t.Errorf("error = %v, want it to match context.Canceled and ErrExportUncertain", err)
	}
}

func TestErrorAnswers(t *testing.T) {
	tests := []struct {
		name string
		f    fault
		want string
	}{
		{"422 with fields", fault{status: 422, body: `{"message":"Validation failed","errors":{"b":["second"],"a":["one","two"]}}`},
			"export status: HTTP 422: Validation failed (a: one two; b: second)"},
		{"422 with a string field", fault{status: 422, body: `{"message":"Bad","errors":{"id":"must be a ULID"}}`},
			"export status: HTTP 422: Bad (id: must be a ULID)"},
		{"plain text", fault{status: 400, body: "  upstream said\n\tno  "}, "export status: HTTP 400: upstream said no"},
		{"HTML", fault{status: 400, body: "<html><script>alert(1)</script></html>"}, "export status: HTTP 400: Bad Request"},
		{"empty", fault{status: 409}, "export status: HTTP 409: Conflict"},
		{"JSON without message", fault{status: 418, body: `{"data":[]}`}, "export status: HTTP 418: I'm a teapot"},
		{"token echoed back", fault{status: 400, body: `{"message":"bad header Bearer ` + testToken + `"}`}, "export status: HTTP 400: bad header Bearer [redacted]"},
		{"odd status", fault{status: 499}, "export status: HTTP 499: unexpected answer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI(t)
			api.queue("export_status", tc.f)
			_, err := api.client(t, nil).ExportStatus(t.Context(), site, "exp_1")
			if err == nil || err.Error() != tc.want {
				t.Errorf("error = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestObserveCountsEveryAttempt(t *testing.T) {
	api := newFakeAPI(t)
	api.pollsToEnd = 0
	api.queue("export_status", fault{status: 503}, fault{hangup: true})
	api.queue("download", fault{status: 500})
	var mu sync.Mutex
	var got []string
	c := api.client(t, func(o *Options) {
		// Fresh connections: the transport itself silently retries a GET
		// whose reused connection was closed.
		o.HTTPClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		o.Observe = func(op, code string) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, op+" "+code)
		}
	})
	e, err := c.ExportStatus(t.Context(), site, "exp_1")
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.Download(t.Context(), e.DownloadURL, 0)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, d)
	if err := c.Upload(t.Context(), api.presigned("imports/i.sql"), strings.NewReader("x"), 1); err != nil {
		t.Fatal(err)
	}
	want := []string{"export_status 503", "export_status error", "export_status 200", "download 500", "download 200", "import_upload 200"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("observed (-want +got):\n%s", diff)
	}
}

func TestRetriesAreLoggedWithoutSecrets(t *testing.T) {
	api := newFakeAPI(t)
	api.pollsToEnd = 0
	api.queue("export_status", fault{status: 503, body: `{"message":"down for ` + testToken + `"}`})
	api.queue("download", fault{status: 503}, fault{hangup: true})
	var logs logBuffer
	c := api.client(t, func(o *Options) {
		o.HTTPClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		o.Logger = logs.logger()
	})
	e, err := c.ExportStatus(t.Context(), site, "exp_1")
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.Download(t.Context(), e.DownloadURL, 0)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, d)
	out := logs.String()
	if n := strings.Count(out, "retrying vector api request"); n != 3 {
		t.Errorf("log has %d retry lines, want 3:\n%s", n, out)
	}
	for _, key := range []string{"op=export_status", "op=download", "attempt=1", "duration="} {
		if !strings.Contains(out, key) {
			t.Errorf("log lacks %q:\n%s", key, out)
		}
	}
	assertNoSecret(t, "log", out)
}

// waitFor polls cond until it holds or the test's deadline nears.
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestStatusAnswersNeedAStatus(t *testing.T) {
	api := newFakeAPI(t)
	api.queue("export_status", fault{status: 200, body: `{"data":{"id":"e1"}}`})
	api.queue("import_status", fault{status: 200, body: `{"data":{"id":"i1","status":""}}`})
	c := api.client(t, nil)
	if _, err := c.ExportStatus(t.Context(), site, "e1"); err == nil || err.Error() != "export status e1: the answer has no status" {
		t.Errorf("ExportStatus error = %v", err)
	}
	if _, err := c.ImportStatus(t.Context(), site, "i1"); err == nil || err.Error() != "import status i1: the answer has no status" {
		t.Errorf("ImportStatus error = %v", err)
	}
}

func TestStatusKeepsTheAskedID(t *testing.T) {
	api := newFakeAPI(t)
	api.queue("export_status", fault{status: 200, body: `{"data":{"status":"completed"}}`})
	e, err := api.client(t, nil).ExportStatus(t.Context(), site, "exp_9")
	if err != nil {
		t.Fatal(err)
	}
	// A completed export whose URL is no longer handed out: no error, no URL.
	if e.ID != "exp_9" || e.Status != StatusCompleted || e.DownloadURL != "" {
		t.Errorf("ExportStatus = %+v, want exp_9 completed without a URL", e)
	}
}
