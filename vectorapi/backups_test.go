package vectorapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var envTarget = Target{SiteID: "12345", EnvironmentID: "67890"}

// TestAccountRoutes checks the Backups, sites and environments routes in
// both route sets: same paths, escaped ids, list queries.
func TestAccountRoutes(t *testing.T) {
	tests := []struct {
		op   string
		call func(context.Context, *Client) error
		want []string // "METHOD path?query", in order
	}{
		{"backup_create", func(ctx context.Context, c *Client) error {
			_, err := c.CreateBackup(ctx, envTarget, "x")
			return err
		}, []string{"POST /api/v1/vector/backups"}},
		{"backup_status", func(ctx context.Context, c *Client) error {
			_, err := c.Backup(ctx, "bkp/1")
			return err
		}, []string{"GET /api/v1/vector/backups/bkp%2F1"}},
		{"backup_list", func(ctx context.Context, c *Client) error {
			_, err := c.ListBackups(ctx, envTarget)
			return err
		}, []string{"GET /api/v1/vector/backups?environment_id=67890&page=1&per_page=100"}},
		{"backup_list", func(ctx context.Context, c *Client) error {
			_, err := c.ListBackups(ctx, Target{SiteID: "a b"})
			return err
		}, []string{"GET /api/v1/vector/backups?page=1&per_page=100&site_id=a+b"}},
		{"backup_download_create", func(ctx context.Context, c *Client) error {
			_, err := c.CreateBackupDownload(ctx, "b1")
			return err
		}, []string{"POST /api/v1/vector/backups/b1/downloads"}},
		{"backup_download_status", func(ctx context.Context, c *Client) error {
			_, err := c.BackupDownload(ctx, "b1", "d?1")
			return err
		}, []string{"GET /api/v1/vector/backups/b1/downloads/d%3F1"}},
		{"sites", func(ctx context.Context, c *Client) error {
			_, err := c.Sites(ctx)
			return err
		}, []string{"GET /api/v1/vector/sites?page=1&per_page=100", "GET /api/v1/vector/environments?page=1&per_page=100"}},
	}
	for _, routes := range []string{RoutesDocumented, RoutesOpenAPI} {
		for _, tc := range tests {
			t.Run(routes+"/"+tc.op, func(t *testing.T) {
				var got []string
				api := newFakeAPI(t)
				c := api.client(t, func(o *Options) { o.Routes = routes })
				if err := tc.call(t.Context(), c); err != nil {
					t.Fatal(err)
				}
				for _, h := range api.served("") {
					got = append(got, h.method+" "+h.path)
				}
				// served records the escaped path only: the queries are
				// checked below.
				for i := range got {
					if i < len(tc.want) {
						wantPath, _, _ := strings.Cut(tc.want[i], "?")
						if got[i] != wantPath {
							t.Errorf("request %d = %q, want %q", i, got[i], wantPath)
						}
					}
				}
				if len(got) != len(tc.want) {
					t.Errorf("requests = %q, want %q", got, tc.want)
				}
			})
		}
	}
	// The queries, through a client that records whole request URIs.
	for _, tc := range tests {
		var uris []string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			uris = append(uris, r.Method+" "+r.URL.RequestURI())
			switch {
			case r.Method == http.MethodPost:
				writeJSON(w, http.StatusAccepted, `{"data":{"id":"x","status":"pending"}}`)
			case strings.HasSuffix(r.URL.Path, "/sites"):
				writeJSON(w, http.StatusOK, `{"data":[{"id":"s1"}]}`)
			case strings.HasSuffix(r.URL.Path, "/backups"), strings.HasSuffix(r.URL.Path, "/environments"):
				writeJSON(w, http.StatusOK, `{"data":[]}`)
			default:
				writeJSON(w, http.StatusOK, `{"data":{"id":"x","status":"completed"}}`)
			}
		}))
		c, err := New(Options{BaseURL: srv.URL + "/api/v1/vector", Token: testToken, HTTPClient: srv.Client()})
		if err != nil {
			t.Fatal(err)
		}
		if err := tc.call(t.Context(), c); err != nil {
			t.Errorf("%s: %v", tc.op, err)
		}
		srv.Close()
		if diff := cmp.Diff(tc.want, uris); diff != "" {
			t.Errorf("%s requests (-want +got):\n%s", tc.op, diff)
		}
	}
}

func TestBackupIDsAreChecked(t *testing.T) {
	api := newFakeAPI(t)
	c := api.client(t, nil)
	for _, tc := range []struct {
		name string
		call func() error
		want string
	}{
		{"empty backup id", func() error { _, err := c.Backup(t.Context(), ""); return err }, "backup status: backup id is empty"},
		{"dot-dot backup id", func() error { _, err := c.CreateBackupDownload(t.Context(), ".."); return err }, `backup id ".." is not a valid id`},
		{"empty download id", func() error { _, err := c.BackupDownload(t.Context(), "b1", ""); return err }, "download id is empty"},
		{"no target", func() error { _, err := c.CreateBackup(t.Context(), Target{}, ""); return err }, "create backup: site id is empty"},
		{"no site to list", func() error { _, err := c.ListBackups(t.Context(), Target{}); return err }, "list backups: site id is empty"},
	} {
		if err := tc.call(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error = %v, want it to contain %q", tc.name, err, tc.want)
		}
	}
	if n := len(api.served("")); n != 0 {
		t.Errorf("sent %d requests with invalid ids, want none", n)
	}
}

// TestCreateBackupRequest: the body CONTRACT §9 names, environment_id or
// site_id, the description cut to the API's 500 characters.
func TestCreateBackupRequest(t *testing.T) {
	long := strings.Repeat("é", 600)
	tests := []struct {
		name   string
		target Target
		desc   string
		want   map[string]string
		wantB  Backup
	}{
		{"environment", envTarget, "vectord schedule",
			map[string]string{"environment_id": "67890", "type": "manual", "scope": "database", "description": "vectord schedule"},
			Backup{ID: "bkp_1", Status: "pending", Scope: "database", Type: "manual", SiteID: "12345", EnvironmentID: "67890",
				Description: "vectord schedule", SizeBytes: -1, CreatedAt: utc("2026-01-24T12:00:00Z")}},
		{"development database", site, "vectord manual",
			map[string]string{"site_id": "12345", "type": "manual", "scope": "database", "description": "vectord manual"},
			Backup{ID: "bkp_1", Status: "pending", Scope: "database", Type: "manual", SiteID: "12345",
				Description: "vectord manual", SizeBytes: -1, CreatedAt: utc("2026-01-24T12:00:00Z")}},
		{"no description", site, "",
			map[string]string{"site_id": "12345", "type": "manual", "scope": "database"},
			Backup{ID: "bkp_1", Status: "pending", Scope: "database", Type: "manual", SiteID: "12345",
				SizeBytes: -1, CreatedAt: utc("2026-01-24T12:00:00Z")}},
		{"long description", site, long,
			map[string]string{"site_id": "12345", "type": "manual", "scope": "database", "description": long[:1000]},
			Backup{ID: "bkp_1", Status: "pending", Scope: "database", Type: "manual", SiteID: "12345",
				Description: long[:1000], SizeBytes: -1, CreatedAt: utc("2026-01-24T12:00:00Z")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI(t)
			b, err := api.client(t, nil).CreateBackup(t.Context(), tc.target, tc.desc)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantB, b); diff != "" {
				t.Errorf("CreateBackup (-want +got):\n%s", diff)
			}
			hits := api.served("backup_create")
			if len(hits) != 1 {
				t.Fatalf("requests = %d, want 1", len(hits))
			}
			if ct := hits[0].header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			var got map[string]string
			if err := json.Unmarshal(hits[0].body, &got); err != nil {
				t.Fatalf("body %s: %v", hits[0].body, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCreateBackupIsADatabaseOperation: a 429 is handed back at once with
// its Retry-After, the API's remaining budget is reported, and every
// resend is announced first.
func TestCreateBackupIsADatabaseOperation(t *testing.T) {
	t.Run("429 at once", func(t *testing.T) {
		api := newFakeAPI(t)
		api.queue("backup_create", fault{status: 429, body: `{"data":{},"message":"Too Many Attempts.","http_status":429}`,
			header: map[string]string{"Retry-After": "120", "X-RateLimit-Remaining": "0"}})
		var announced []string
		remaining := -1
		c := api.client(t, func(o *Options) {
			o.BeforeRetry = func(_ context.Context, op string) error { announced = append(announced, op); return nil }
			o.RateLimit = func(n int, _ time.Time) { remaining = n }
		})
		start := time.Now()
		_, err := c.CreateBackup(t.Context(), envTarget, "vectord schedule")
		if !errors.Is(err, ErrRateLimited) {
			t.Fatalf("error = %v, want ErrRateLimited", err)
		}
		var apiErr *Error
		if !errors.As(err, &apiErr) || apiErr.RetryAfter != 120*time.Second {
			t.Errorf("error %v: want an *Error with RetryAfter 2m", err)
		}
		if errors.Is(err, ErrExportUncertain) {
			t.Errorf("a 429 is not uncertain: %v", err)
		}
		if n := len(api.served("backup_create")); n != 1 {
			t.Errorf("requests = %d, want 1", n)
		}
		if time.Since(start) > 5*time.Second {
			t.Errorf("CreateBackup waited %v, want it to return at once", time.Since(start))
		}
		if len(announced) != 0 || remaining != 0 {
			t.Errorf("announced %v, remaining %d; want no announcement and remaining 0", announced, remaining)
		}
	})
	t.Run("resends announced", func(t *testing.T) {
		api := newFakeAPI(t)
		api.queue("backup_create", fault{status: 503}, fault{status: 500})
		api.queue("backup_download_create", fault{status: 503})
		var announced []string
		c := api.client(t, func(o *Options) {
			o.BeforeRetry = func(_ context.Context, op string) error { announced = append(announced, op); return nil }
		})
		if _, err := c.CreateBackup(t.Context(), envTarget, "x"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CreateBackupDownload(t.Context(), "bkp_1"); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"backup_create", "backup_create"}, announced); diff != "" {
			t.Errorf("announced (-want +got):\n%s", diff)
		}
	})
	t.Run("refused announcement", func(t *testing.T) {
		api := newFakeAPI(t)
		api.queue("backup_create", fault{status: 503})
		c := api.client(t, func(o *Options) {
			o.BeforeRetry = func(context.Context, string) error { return errors.New("ledger full") }
		})
		if _, err := c.CreateBackup(t.Context(), envTarget, "x"); err == nil || len(api.served("backup_create")) != 1 {
			t.Errorf("error %v after %d requests, want an error after 1", err, len(api.served("backup_create")))
		}
	})
}

// TestCreateBackupLostAnswer: a 502 may have started the backup: not
// re-sent, ErrExportUncertain, and the message says so.
func TestCreateBackupLostAnswer(t *testing.T) {
	api := newFakeAPI(t)
	api.queue("backup_create", fault{status: 502, body: "<html>bad gateway</html>"})
	api.queue("backup_download_create", fault{status: 504})
	c := api.client(t, nil)
	_, err := c.CreateBackup(t.Context(), envTarget, "x")
	want := "create backup: HTTP 502: Bad Gateway (the backup may have been started; not re-sent to avoid a second backup)"
	if !errors.Is(err, ErrExportUncertain) || err.Error() != want {
		t.Errorf("error = %v, want %q matching ErrExportUncertain", err, want)
	}
	if n := len(api.served("backup_create")); n != 1 {
		t.Errorf("requests = %d, want 1", n)
	}
	_, err = c.CreateBackupDownload(t.Context(), "bkp_1")
	want = "create backup download: HTTP 504: Gateway Timeout (the download may have been requested; not re-sent to avoid a second download)"
	if !errors.Is(err, ErrExportUncertain) || err.Error() != want {
		t.Errorf("error = %v, want %q matching ErrExportUncertain", err, want)
	}
	// An unreadable 2xx is as uncertain.
	for _, body := range []string{"<html>ok</html>", `{"data":{"status":"pending"}}`, `{"data":{"id":"b","created_at":"soon"}}`} {
		api.queue("backup_create", fault{status: 202, body: body})
		if _, err := c.CreateBackup(t.Context(), envTarget, "x"); !errors.Is(err, ErrExportUncertain) {
			t.Errorf("answer %s: error = %v, want ErrExportUncertain", body, err)
		}
	}
}

func TestBackupsNotFound(t *testing.T) {
	api := newFakeAPI(t)
	api.queue("backup_status", fault{status: 404, body: `{"data":{},"message":"Backup not found","http_status":404}`})
	api.queue("backup_download_status", fault{status: 404, body: `{"data":{},"message":"Backup download not found","http_status":404}`})
	api.queue("backup_download_create", fault{status: 404, body: `{"data":{},"message":"Backup not found","http_status":404}`})
	c := api.client(t, nil)
	if _, err := c.Backup(t.Context(), "b1"); !errors.Is(err, ErrNotFound) || err.Error() != "backup status: HTTP 404: Backup not found" {
		t.Errorf("Backup error = %v, want ErrNotFound", err)
	}
	if _, err := c.BackupDownload(t.Context(), "b1", "d1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("BackupDownload error = %v, want ErrNotFound", err)
	}
	if _, err := c.CreateBackupDownload(t.Context(), "b1"); !errors.Is(err, ErrNotFound) || errors.Is(err, ErrExportUncertain) {
		t.Errorf("CreateBackupDownload error = %v, want ErrNotFound only", err)
	}
	if n := len(api.served("")); n != 3 {
		t.Errorf("requests = %d, want 3 (a 404 is not retried)", n)
	}
}

func TestBackupStatusQueries(t *testing.T) {
	api := newFakeAPI(t)
	api.queue("backup_status", fault{status: 503}, fault{status: 200, body: `{"data":{"status":"Running","size_bytes":"1234","completed_at":null}}`})
	api.queue("backup_download_status", fault{status: 200, body: `{"data":{"status":"failed","message":"archive failed"}}`})
	c := api.client(t, nil)
	b, err := c.Backup(t.Context(), "b9")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Backup{ID: "b9", Status: StatusProcessing, SizeBytes: 1234}, b); diff != "" {
		t.Errorf("Backup (-want +got):\n%s", diff)
	}
	d, err := c.BackupDownload(t.Context(), "b9", "d9")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(BackupDownload{ID: "d9", BackupID: "b9", Status: StatusFailed, SizeBytes: -1, ErrorMessage: "archive failed"}, d); diff != "" {
		t.Errorf("BackupDownload (-want +got):\n%s", diff)
	}
	d, err = c.BackupDownload(t.Context(), "b9", "d10")
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != StatusCompleted || !strings.HasPrefix(d.DownloadURL, api.srv.URL) || d.SizeBytes != int64(len(api.dump)) || !d.ExpiresAt.Equal(utc("2026-01-24T13:00:00Z")) {
		t.Errorf("BackupDownload = %+v", d)
	}
	api.queue("backup_status", fault{status: 200, body: `{"data":{"id":"b9"}}`})
	if _, err := c.Backup(t.Context(), "b9"); err == nil || err.Error() != "backup status b9: the answer has no status" {
		t.Errorf("Backup without status: error = %v", err)
	}
}

// backupPages serves the pages of a backup listing from a list of items,
// with what page_info adds to each answer.
type backupPages struct {
	mu      sync.Mutex
	items   []string // JSON objects
	size    int
	info    func(page, last int) string // extra top-level fields
	queries []string
	ignore  bool // serve page 1 whatever is asked
}

func (p *backupPages) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+testToken {
		writeJSON(w, http.StatusUnauthorized, `{"data":{},"message":"Unauthenticated","http_status":401}`)
		return
	}
	p.queries = append(p.queries, r.URL.RawQuery)
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	if p.ignore {
		page = 1
	}
	last := (len(p.items) + p.size - 1) / p.size
	var chunk []string
	if lo := (page - 1) * p.size; lo < len(p.items) {
		chunk = p.items[lo:min(lo+p.size, len(p.items))]
	}
	extra := ""
	if p.info != nil {
		extra = "," + p.info(page, last)
	}
	writeJSON(w, http.StatusOK, fmt.Sprintf(`{"data":[%s]%s,"message":"Backups retrieved successfully","http_status":200}`, strings.Join(chunk, ","), extra))
}

func backupItem(id, kind, owner, created string) string {
	return fmt.Sprintf(`{"id":%q,"archivable_type":%q,"archivable_id":%q,"type":"scheduled","scope":"database","status":"completed","created_at":%q,"completed_at":%q}`,
		id, kind, owner, created, created)
}

// pagesClient returns a client of a test server serving h; adjust o first.
func pagesClient(t *testing.T, h http.Handler, adjust ...func(*Options)) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	o := Options{BaseURL: srv.URL + "/api/v1/vector", Token: testToken, HTTPClient: srv.Client(), RequestsPerMinute: 60_000}
	for _, f := range adjust {
		f(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestListBackupsPages: every page is read, however the answer says
// whether more follow, and the backups come out newest first.
func TestListBackupsPages(t *testing.T) {
	var items []string
	var wantIDs []string
	// 250 backups, oldest first, so that the order must be restored.
	for i := range 250 {
		id := fmt.Sprintf("b%03d", i)
		items = append(items, backupItem(id, "vector_environment", "67890",
			time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Hour).Format(time.RFC3339)))
		wantIDs = append([]string{id}, wantIDs...)
	}
	tests := []struct {
		name string
		info func(page, last int) string
	}{
		{"meta.last_page", func(page, last int) string {
			return fmt.Sprintf(`"links":{},"meta":{"current_page":%d,"last_page":"%d","per_page":100,"total":250}`, page, last)
		}},
		{"links.next", func(page, last int) string {
			next := "null"
			if page < last {
				next = fmt.Sprintf(`"https://api.example/api/v1/vector/backups?page=%d"`, page+1)
			}
			return `"meta":{},"links":{"next":` + next + `}`
		}},
		{"meta.total", func(page, last int) string { return `"links":{},"meta":{"total":250}` }},
		{"nothing said", func(page, last int) string { return `"links":{},"meta":{}` }},
		{"laravel paginator", func(page, last int) string {
			return fmt.Sprintf(`"current_page":%d,"last_page":%d,"next_page_url":null`, page, last)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := &backupPages{items: items, size: 100, info: tc.info}
			got, err := pagesClient(t, p).ListBackups(t.Context(), envTarget)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, b := range got {
				ids = append(ids, b.ID)
				if b.SiteID != "12345" || b.EnvironmentID != "67890" || b.Scope != "database" || b.Type != "scheduled" || b.SizeBytes != -1 {
					t.Errorf("backup %+v: want the target's ids, scope and type", b)
				}
			}
			if diff := cmp.Diff(wantIDs, ids); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
			want := []string{
				"environment_id=67890&page=1&per_page=100",
				"environment_id=67890&page=2&per_page=100",
				"environment_id=67890&page=3&per_page=100",
			}
			if diff := cmp.Diff(want, p.queries); diff != "" {
				t.Errorf("queries (-want +got):\n%s", diff)
			}
		})
	}
}

// TestListBackupsShiftedPage: a backup created between two pages pushes
// one onto the next page: it is listed once.
func TestListBackupsShiftedPage(t *testing.T) {
	var items []string
	for i := range 150 {
		items = append(items, backupItem(fmt.Sprintf("b%03d", 149-i), "vector_environment", "67890",
			time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(149-i)*time.Hour).Format(time.RFC3339)))
	}
	p := &backupPages{items: items, size: 100, info: func(page, last int) string { return fmt.Sprintf(`"meta":{"last_page":%d}`, last) }}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("page") == "2" {
			p.mu.Lock()
			p.items = append([]string{backupItem("b150", "vector_environment", "67890", "2025-02-01T00:00:00Z")}, p.items...)
			p.mu.Unlock()
		}
		p.ServeHTTP(w, r)
	})
	got, err := pagesClient(t, h).ListBackups(t.Context(), envTarget)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 150 || got[0].ID != "b149" || got[149].ID != "b000" {
		t.Errorf("got %d backups from %s to %s, want 150 from b149 to b000", len(got), got[0].ID, got[len(got)-1].ID)
	}
}

// TestListBackupsIgnoredPage: an API that ignores page does not loop.
func TestListBackupsIgnoredPage(t *testing.T) {
	var items []string
	for i := range 100 {
		items = append(items, backupItem(fmt.Sprintf("b%03d", i), "vector_environment", "67890", "2025-01-01T00:00:00Z"))
	}
	// Saying nothing of pages: the repeated page ends the list.
	p := &backupPages{items: items, size: 100, ignore: true}
	got, err := pagesClient(t, p).ListBackups(t.Context(), envTarget)
	if err != nil || len(got) != 100 || len(p.queries) != 2 {
		t.Errorf("got %d backups after %d requests, error %v; want 100 after 2", len(got), len(p.queries), err)
	}
	// Claiming more pages it never serves: an error.
	p = &backupPages{items: items, size: 100, ignore: true, info: func(int, int) string { return `"meta":{"last_page":5}` }}
	_, err = pagesClient(t, p).ListBackups(t.Context(), envTarget)
	if err == nil || !strings.Contains(err.Error(), "page 2 repeats items") {
		t.Errorf("error = %v, want one saying page 2 repeats items", err)
	}
}

// TestListBackupsDevelopmentDatabase: the site_id filter also returns the
// site's environments' backups: only the site's own are kept.
func TestListBackupsDevelopmentDatabase(t *testing.T) {
	p := &backupPages{size: 100, items: []string{
		backupItem("own-1", "vector_site", "12345", "2025-01-02T00:00:00Z"),
		backupItem("env-1", "vector_environment", "67890", "2025-01-03T00:00:00Z"),
		backupItem("own-2", `App\Models\VectorSite`, "12345", "2025-01-04T00:00:00Z"),
		backupItem("other", "vector_site", "99999", "2025-01-05T00:00:00Z"),
		`{"id":"unknown","status":"completed","created_at":"2025-01-06T00:00:00Z"}`,
		`{"id":"own-3","site_id":12345,"status":"pending","created_at":"2025-01-01T00:00:00Z"}`,
	}}
	c := pagesClient(t, p)
	got, err := c.ListBackups(t.Context(), site)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, b := range got {
		ids = append(ids, b.ID)
		if b.SiteID != "12345" || b.EnvironmentID != "" {
			t.Errorf("backup %s: SiteID %q EnvironmentID %q, want the site's", b.ID, b.SiteID, b.EnvironmentID)
		}
	}
	if diff := cmp.Diff([]string{"own-2", "own-1", "own-3"}, ids); diff != "" {
		t.Errorf("development database backups (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"page=1&per_page=100&site_id=12345"}, p.queries); diff != "" {
		t.Errorf("queries (-want +got):\n%s", diff)
	}
	// An environment's listing keeps what the API filtered, unless an item
	// says it is another's.
	got, err = c.ListBackups(t.Context(), envTarget)
	if err != nil {
		t.Fatal(err)
	}
	ids = nil
	for _, b := range got {
		ids = append(ids, b.ID)
	}
	if diff := cmp.Diff([]string{"unknown", "env-1"}, ids); diff != "" {
		t.Errorf("environment backups (-want +got):\n%s", diff)
	}
}

func TestListBackupsErrors(t *testing.T) {
	t.Run("401 not retried", func(t *testing.T) {
		api := newFakeAPI(t)
		c := api.client(t, func(o *Options) { o.Token = "wrong-token" })
		_, err := c.ListBackups(t.Context(), envTarget)
		if !errors.Is(err, ErrUnauthorized) || len(api.served("backup_list")) != 1 {
			t.Errorf("error = %v after %d requests, want ErrUnauthorized after 1", err, len(api.served("backup_list")))
		}
	})
	t.Run("bad item", func(t *testing.T) {
		p := &backupPages{size: 100, items: []string{`{"id":"b1","created_at":"yesterday"}`}}
		_, err := pagesClient(t, p).ListBackups(t.Context(), envTarget)
		want := "list backups, page 1, item 1: field created_at: want an RFC 3339 time"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error = %v, want %q", err, want)
		}
	})
	t.Run("data not a list", func(t *testing.T) {
		api := newFakeAPI(t)
		api.queue("backup_list", fault{status: 200, body: `{"data":{"id":"b1"}}`})
		_, err := api.client(t, nil).ListBackups(t.Context(), envTarget)
		if err == nil || !strings.Contains(err.Error(), "want an array") {
			t.Errorf("error = %v", err)
		}
	})
	t.Run("5xx retried", func(t *testing.T) {
		api := newFakeAPI(t)
		api.queue("backup_list", fault{status: 502}, fault{status: 200, body: `{"data":null}`})
		got, err := api.client(t, nil).ListBackups(t.Context(), envTarget)
		if err != nil || got == nil || len(got) != 0 {
			t.Errorf("ListBackups = %v, %v; want an empty list", got, err)
		}
	})
}

// TestSingleObjectExamples decodes the site and environment objects of
// the OpenAPI examples of GET /sites/{site} and GET /environments/{env}.
func TestSingleObjectExamples(t *testing.T) {
	read := func(name string) fields {
		t.Helper()
		b, err := os.ReadFile(filepath.Join("testdata", "openapi", "single", name))
		if err != nil {
			t.Fatal(err)
		}
		env, err := decodeEnvelope(b)
		if err != nil {
			t.Fatal(err)
		}
		return env.data
	}
	s, embedded, err := decodeSite(read("site_200.json"))
	if err != nil || !embedded {
		t.Fatalf("decodeSite: embedded %v, %v", embedded, err)
	}
	want := Site{ID: "01jfgxk4nqrst5vwx9yz0abcde", Name: "cust_12345", Domain: "dev.wispy-dust.vectorpages.com",
		Environments: []Environment{{ID: "01jfgxk4nqrst5vwx9yz0abcdg", Name: "production", SiteID: "01jfgxk4nqrst5vwx9yz0abcde"}}}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("site (-want +got):\n%s", diff)
	}
	e, err := decodeEnvironment(read("environment_200.json"), "")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Environment{ID: "01jfgxk4nqrst5vwx9yz0abcdg", Name: "production", SiteID: "01jfgxk4nqrst5vwx9yz0abcde"}, e); diff != "" {
		t.Errorf("environment (-want +got):\n%s", diff)
	}
}
