package vectorsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAuthentication(t *testing.T) {
	e := newEnv(t, Options{})
	tests := []struct {
		name   string
		header string
		want   int
	}{
		{"no header", "", http.StatusUnauthorized},
		{"wrong token", "Bearer nope", http.StatusUnauthorized},
		{"token without scheme", testToken, http.StatusUnauthorized},
		{"basic scheme", "Basic " + testToken, http.StatusUnauthorized},
		{"right token", "Bearer " + testToken, http.StatusAccepted},
		{"lowercase scheme", "bearer " + testToken, http.StatusAccepted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{}
			if tt.header != "" {
				h["Authorization"] = tt.header
			}
			a := e.apiWith("POST", "/sites/12345/database/export", nil, h)
			if a.status != tt.want {
				t.Fatalf("status = %d %s, want %d", a.status, a.raw, tt.want)
			}
			if tt.want == http.StatusUnauthorized {
				if want := `{"data":{},"message":"Unauthenticated","http_status":401}`; string(a.raw) != want {
					t.Errorf("body = %s, want %s", a.raw, want)
				}
				assertShape(t, a, "openapi/export_create_401.json")
			}
		})
	}
	if got := e.sim.Stats().ExportRequests[EnvKey{"12345", ""}]; got != 2 {
		t.Errorf("ExportRequests = %d, want 2 (only authorized requests)", got)
	}
}

func TestNotFoundAnswers(t *testing.T) {
	e := newEnv(t, Options{})
	exportID, _ := e.exportDone("/sites/12345")
	importID := e.api("POST", "/sites/12345/database/import", nil).str("import_id")
	tests := []struct {
		method, path string
		status       int
		message      string
	}{
		{"POST", "/sites/99999/database/export", 404, "Site not found"},
		{"POST", "/sites/99999/db/export", 404, "Site not found"},
		{"POST", "/sites/12345/environments/11111/database/export", 404, "Environment not found"},
		{"POST", "/sites/23456/environments/67890/database/export", 404, "Environment not found"},
		{"GET", "/sites/12345/database/export/exp_nope", 404, "Export not found"},
		{"GET", "/sites/12345/db/exports/01nope", 404, "Export not found"},
		{"GET", "/sites/23456/database/export/" + exportID, 404, "Export not found"},
		{"GET", "/sites/12345/environments/67890/database/export/" + exportID, 404, "Export not found"},
		{"GET", "/sites/12345/database/import/imp_nope", 404, "Import not found"},
		{"GET", "/sites/12345/imports/01nope", 404, "Import not found"},
		{"POST", "/sites/12345/imports/01nope/run", 404, "Import not found"},
		{"POST", "/sites/23456/environments/67890/database/import", 404, "Environment not found"},
		{"GET", "/sites/23456/database/import/" + importID, 404, "Import not found"},
		{"GET", "/sites/12345/environments/67890/database/import/" + importID, 404, "Import not found"},
		{"GET", "/sites/12345/nothing", 404, "Not found"},
		{"GET", "/sites/12345/database/export", 405, "The GET method is not supported for this route."},
		{"DELETE", "/sites/12345/db/exports/" + exportID, 405, "The DELETE method is not supported for this route."},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			a := e.api(tt.method, tt.path, nil)
			if a.status != tt.status || a.body["message"] != tt.message {
				t.Fatalf("%s %s = %d %s, want %d %q", tt.method, tt.path, a.status, a.raw, tt.status, tt.message)
			}
			if hs, _ := a.body["http_status"].(json.Number); string(hs) != strconv.Itoa(tt.status) {
				t.Errorf("http_status = %v, want %d", a.body["http_status"], tt.status)
			}
			if d, ok := a.body["data"].(map[string]any); !ok || len(d) != 0 {
				t.Errorf("data = %v, want {}", a.body["data"])
			}
			if example := map[string]string{
				"Site not found":   "openapi/export_create_404.json",
				"Export not found": "openapi/export_status_404.json",
				"Import not found": "openapi/import_status_404.json",
			}[tt.message]; example != "" {
				assertShape(t, a, example)
			}
		})
	}
}

func TestDocumentedExport(t *testing.T) {
	for _, prefix := range []string{"/sites/12345", "/sites/12345/environments/67890"} {
		t.Run(prefix, func(t *testing.T) {
			e := newEnv(t, Options{DumpSize: 100 << 10})
			a := e.api("POST", prefix+"/database/export", nil)
			if a.status != http.StatusAccepted || a.str("status") != statusPending || !strings.HasPrefix(a.str("export_id"), "exp_") {
				t.Fatalf("POST export = %d %s", a.status, a.raw)
			}
			assertShape(t, a, "documented/export_create_202.json")
			id := a.str("export_id")
			path := prefix + "/database/export/" + id

			if s := e.api("GET", path, nil); s.str("status") != statusProcessing || s.data()["download_url"] != nil {
				t.Fatalf("first status query = %s, want processing without URL", s.raw)
			}
			s := e.api("GET", path, nil)
			if s.str("status") != statusCompleted {
				t.Fatalf("second status query = %s, want completed", s.raw)
			}
			assertShape(t, s, "documented/export_status_completed.json")
			expires, err := time.Parse(time.RFC3339, s.str("expires_at"))
			if err != nil || !expires.Equal(e.clock.Now().Add(time.Hour)) {
				t.Errorf("expires_at = %q, want now+1h in RFC 3339", s.str("expires_at"))
			}
			u, err := url.Parse(s.str("download_url"))
			if err != nil || u.Host != strings.TrimPrefix(e.srv.URL, "http://") || !strings.HasSuffix(u.Path, "/exports/"+id+".sql") {
				t.Fatalf("download_url = %q, want one on the API's host for exports/%s.sql", redact(s.str("download_url")), id)
			}
			resp, body := e.mustGet(s.str("download_url"), nil)
			if resp.StatusCode != http.StatusOK || len(body) != 100<<10 || !bytes.HasSuffix(body, []byte(Trailer)) {
				t.Fatalf("download = %d, %d bytes, want 200 with the whole dump", resp.StatusCode, len(body))
			}
			if got := e.sim.Stats().Downloads; got != 1 {
				t.Errorf("Downloads = %d, want 1", got)
			}
		})
	}
}

// The default backend numbers each environment's exports, so two exports
// differ like two real dumps taken at different times.
func TestDefaultBackendDumps(t *testing.T) {
	e := newEnv(t, Options{Flavor: MariaDB, DumpSize: 20 << 10})
	var bodies [][]byte
	for range 2 {
		_, d := e.exportDone("/sites/23456")
		_, b := e.mustGet(d["download_url"].(string), nil)
		bodies = append(bodies, b)
	}
	if bytes.Equal(bodies[0], bodies[1]) {
		t.Error("two exports of one site have the same dump")
	}
	want := readAll(t, Dump("23456//2", 20<<10, MariaDB))
	if !bytes.Equal(bodies[1], want) {
		t.Error(`second export is not Dump("23456//2", DumpSize, Flavor)`)
	}
}

func TestOpenAPIExport(t *testing.T) {
	e := newEnv(t, Options{DumpSize: 5000})
	a := e.api("POST", "/sites/12345/db/export", map[string]any{"format": "sql"})
	if a.status != http.StatusAccepted {
		t.Fatalf("POST /db/export = %d %s", a.status, a.raw)
	}
	assertShape(t, a, "openapi/export_create_202.json")
	d := a.data()
	if d["status"] != "pending" || d["status_label"] != "Pending" || d["format"] != "sql" || d["vector_site_id"] != "12345" ||
		d["size_bytes"] != nil || d["download_expires_at"] != nil || d["started_at"] != nil || len(a.str("id")) != 26 {
		t.Errorf("POST /db/export data = %s", a.raw)
	}
	created, err := time.Parse(time.RFC3339, a.str("created_at"))
	if err != nil || !created.Equal(e.clock.Now()) || !strings.HasSuffix(a.str("created_at"), "+00:00") {
		t.Errorf("created_at = %q, want now as 2006-01-02T15:04:05+00:00", a.str("created_at"))
	}
	path := "/sites/12345/db/exports/" + a.str("id")
	p := e.api("GET", path, nil)
	assertShape(t, p, "openapi/export_status_processing.json")
	if p.str("status") != "processing" || p.data()["started_at"] == nil || p.data()["size_bytes"] != nil {
		t.Errorf("processing status = %s", p.raw)
	}
	e.clock.Advance(3 * time.Second)
	c := e.api("GET", path, nil)
	assertShape(t, c, "openapi/export_status_completed.json")
	if c.str("status") != "completed" || c.str("status_label") != "Completed" {
		t.Fatalf("completed status = %s", c.raw)
	}
	if c.data()["size_bytes"] != json.Number("5000") || c.data()["duration_ms"] != json.Number("3000") {
		t.Errorf("size_bytes, duration_ms = %v, %v; want 5000, 3000", c.data()["size_bytes"], c.data()["duration_ms"])
	}
	if exp, err := time.Parse(time.RFC3339, c.str("download_expires_at")); err != nil || !exp.Equal(e.clock.Now().Add(time.Hour)) {
		t.Errorf("download_expires_at = %q, want now+1h", c.str("download_expires_at"))
	}
	if _, body := e.mustGet(c.str("download_url"), nil); len(body) != 5000 {
		t.Errorf("downloaded %d bytes, want 5000", len(body))
	}

	bad := e.api("POST", "/sites/12345/db/export", map[string]any{"format": "csv"})
	if bad.status != http.StatusUnprocessableEntity {
		t.Fatalf("format csv = %d %s, want 422", bad.status, bad.raw)
	}
	assertShape(t, bad, "openapi/export_create_422.json")
	if got := e.sim.Stats().DBOperations; got != 1 {
		t.Errorf("DBOperations = %d, want 1 (a refused request spends nothing)", got)
	}
}

func TestNumericStrings(t *testing.T) {
	e := newEnv(t, Options{DumpSize: 4096, PartSize: 1000})
	e.sim.SetFaults("", Faults{NumericStrings: true})
	a := e.api("POST", "/sites/12345/db/export", nil)
	path := "/sites/12345/db/exports/" + a.str("id")
	e.api("GET", path, nil)
	c := e.api("GET", path, nil)
	if c.data()["size_bytes"] != "4096" || c.data()["duration_ms"] != "0" {
		t.Errorf("size_bytes, duration_ms = %#v, %#v; want numeric strings", c.data()["size_bytes"], c.data()["duration_ms"])
	}
	imp := e.api("POST", "/sites/12345/imports", map[string]any{"content_length": 2500})
	if imp.data()["content_length"] != "2500" || imp.data()["part_count"] != "3" {
		t.Errorf("content_length, part_count = %#v, %#v; want numeric strings", imp.data()["content_length"], imp.data()["part_count"])
	}
	if hs := c.body["http_status"]; hs != json.Number("200") {
		t.Errorf("http_status = %#v, want the number 200", hs)
	}
}

func TestProcessingTime(t *testing.T) {
	e := newEnv(t, Options{ProcessingTime: 30 * time.Second})
	a := e.api("POST", "/sites/12345/db/export", nil)
	path := "/sites/12345/db/exports/" + a.str("id")
	for _, step := range []time.Duration{0, 10 * time.Second, 19 * time.Second} {
		e.clock.Advance(step)
		if s := e.api("GET", path, nil); s.str("status") != "processing" {
			t.Fatalf("status %v after request = %s, want processing", e.clock.Now().Sub(newClock().Now()), s.raw)
		}
	}
	e.clock.Advance(time.Second)
	s := e.api("GET", path, nil)
	if s.str("status") != "completed" || s.data()["duration_ms"] != json.Number("30000") {
		t.Fatalf("status at 30s = %s, want completed after 30000 ms", s.raw)
	}
	if s.str("completed_at") != "2026-01-24T12:00:30+00:00" {
		t.Errorf("completed_at = %q, want request time + 30s", s.str("completed_at"))
	}
}

func TestArtifactTTL(t *testing.T) {
	e := newEnv(t, Options{ArtifactTTL: 30 * time.Minute})
	id, d := e.exportDone("/sites/12345")
	oldURL := d["download_url"].(string)
	e.clock.Advance(29 * time.Minute)
	s := e.api("GET", "/sites/12345/database/export/"+id, nil)
	if s.str("download_url") == "" {
		t.Fatalf("status within the artifact TTL = %s, want a download_url", s.raw)
	}
	e.clock.Advance(time.Minute)
	s = e.api("GET", "/sites/12345/database/export/"+id, nil)
	if s.str("status") != statusCompleted || s.data()["download_url"] != nil || s.data()["expires_at"] != nil {
		t.Fatalf("status after the artifact TTL = %s, want completed with null download_url", s.raw)
	}
	if v, ok := s.data()["download_url"]; !ok || v != nil {
		t.Errorf("download_url = %v (present %v), want null", v, ok)
	}
	resp, body := e.mustGet(oldURL, nil)
	if resp.StatusCode != http.StatusNotFound || !bytes.Contains(body, []byte("<Code>NoSuchKey</Code>")) {
		t.Errorf("GET of a still-signed URL after the artifact TTL = %d %s, want 404 NoSuchKey", resp.StatusCode, body)
	}
	o := e.api("POST", "/sites/12345/db/export", nil)
	path := "/sites/12345/db/exports/" + o.str("id")
	e.api("GET", path, nil)
	e.api("GET", path, nil)
	e.clock.Advance(time.Hour)
	if c := e.api("GET", path, nil); c.data()["download_url"] != nil || c.data()["download_expires_at"] != nil || c.data()["size_bytes"] == nil {
		t.Errorf("OpenAPI status after the artifact TTL = %s, want null download_url and download_expires_at", c.raw)
	}
}

func TestEachStatusQueryMintsAFreshURL(t *testing.T) {
	e := newEnv(t, Options{URLTTL: 10 * time.Minute})
	id, d := e.exportDone("/sites/12345")
	first := d["download_url"].(string)
	e.clock.Advance(8 * time.Minute)
	s := e.api("GET", "/sites/12345/database/export/"+id, nil)
	second := s.str("download_url")
	if first == second {
		t.Fatal("two status queries minutes apart gave the same URL")
	}
	if s.str("expires_at") != "2026-01-24T12:18:00Z" {
		t.Errorf("expires_at = %q, want the second query's time + URLTTL", s.str("expires_at"))
	}
	e.clock.Advance(3 * time.Minute) // the first URL has expired, the second has not
	if resp, _ := e.mustGet(first, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("first URL after its expiry = %d, want 403", resp.StatusCode)
	}
	if resp, _ := e.mustGet(second, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("second URL = %d, want 200", resp.StatusCode)
	}
	if got := e.sim.Stats().StatusQueries; got != 3 {
		t.Errorf("StatusQueries = %d, want 3", got)
	}
}

func TestTLSRequestsGetHTTPSURLs(t *testing.T) {
	sim := New(Options{Token: testToken, TempDir: t.TempDir()})
	sim.AddSite("1")
	srv := httptest.NewTLSServer(sim)
	defer srv.Close()
	do := func(method, path string) *http.Response {
		req, _ := http.NewRequest(method, srv.URL+"/api/v1/vector"+path, nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := do("POST", "/sites/1/database/import")
	defer resp.Body.Close()
	var body struct {
		Data struct {
			UploadURL string `json:"upload_url"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(body.Data.UploadURL, srv.URL+"/s3/") {
		t.Errorf("upload_url = %q, want one under %s/s3/", redact(body.Data.UploadURL), srv.URL)
	}
}

func TestRateLimitHeadersOnEveryAnswer(t *testing.T) {
	e := newEnv(t, Options{RequestsPerMinute: 100, DBOpsPerHour: 10})
	id, _ := e.exportDone("/sites/12345")
	tests := []struct {
		name      string
		method    string
		path      string
		auth      bool
		status    int
		limit     string
		remaining string
	}{
		{"401", "GET", "/sites/12345/database/export/" + id, false, 401, "100", "97"},
		{"404 route", "GET", "/nowhere", true, 404, "100", "97"},
		{"status query", "GET", "/sites/12345/database/export/" + id, true, 200, "100", "96"},
		{"404 site", "GET", "/sites/1/database/export/" + id, true, 404, "100", "95"},
		{"export request", "POST", "/sites/12345/database/export", true, 202, "10", "8"},
		{"import session", "POST", "/sites/12345/database/import", true, 201, "10", "7"},
		{"422", "POST", "/sites/12345/imports", true, 422, "100", "92"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{}
			if tt.auth {
				h["Authorization"] = "Bearer " + testToken
			}
			a := e.apiWith(tt.method, tt.path, nil, h)
			if a.status != tt.status {
				t.Fatalf("status = %d %s, want %d", a.status, a.raw, tt.status)
			}
			if got := a.header.Get("X-RateLimit-Limit"); got != tt.limit {
				t.Errorf("X-RateLimit-Limit = %q, want %s", got, tt.limit)
			}
			if got := a.header.Get("X-RateLimit-Remaining"); got != tt.remaining {
				t.Errorf("X-RateLimit-Remaining = %q, want %s", got, tt.remaining)
			}
			if reset, err := strconv.ParseInt(a.header.Get("X-RateLimit-Reset"), 10, 64); err != nil || reset < e.clock.Now().Unix() {
				t.Errorf("X-RateLimit-Reset = %q, want a unix time not before now", a.header.Get("X-RateLimit-Reset"))
			}
		})
	}
}

func TestDBOperationBudget(t *testing.T) {
	e := newEnv(t, Options{DBOpsPerHour: 3})
	t0 := e.clock.Now()
	spend := []string{"/sites/12345/database/export", "/sites/23456/db/export", "/sites/12345/database/import"}
	for i, p := range spend {
		if a := e.api("POST", p, nil); a.status/100 != 2 {
			t.Fatalf("operation %d = %d %s, want success", i, a.status, a.raw)
		}
		e.clock.Advance(10 * time.Minute)
	}
	// t0+30m: the budget is spent until t0+1h.
	for _, p := range []string{"/sites/12345/environments/67890/database/export", "/sites/12345/imports", "/sites/23456/db/export"} {
		a := e.api("POST", p, map[string]any{"content_length": 10})
		if a.status != http.StatusTooManyRequests {
			t.Fatalf("POST %s over the budget = %d %s, want 429", p, a.status, a.raw)
		}
		if got := a.header.Get("Retry-After"); got != "1800" {
			t.Errorf("Retry-After = %q, want 1800", got)
		}
		if got := a.header.Get("X-RateLimit-Remaining"); got != "0" {
			t.Errorf("X-RateLimit-Remaining = %q, want 0", got)
		}
		if got := a.header.Get("X-RateLimit-Reset"); got != strconv.FormatInt(t0.Add(time.Hour).Unix(), 10) {
			t.Errorf("X-RateLimit-Reset = %q, want %d", got, t0.Add(time.Hour).Unix())
		}
		if a.body["message"] != "Too Many Attempts." {
			t.Errorf("message = %v", a.body["message"])
		}
	}
	// Status queries are not database operations.
	if a := e.api("GET", "/sites/12345/database/export/nope", nil); a.status != http.StatusNotFound {
		t.Errorf("status query over the budget = %d, want 404 (not 429)", a.status)
	}
	// Sliding hour: at t0+1h the first operation leaves the window, the
	// others stay.
	e.clock.Advance(30 * time.Minute)
	if a := e.api("POST", "/sites/12345/database/export", nil); a.status != http.StatusAccepted {
		t.Fatalf("export at t0+1h = %d %s, want 202", a.status, a.raw)
	}
	if a := e.api("POST", "/sites/12345/database/export", nil); a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") != "600" {
		t.Fatalf("second export at t0+1h = %d Retry-After %q, want 429 after 600 s", a.status, a.header.Get("Retry-After"))
	}
	st := e.sim.Stats()
	if st.DBOperations != 4 || st.RateLimited != 4 {
		t.Errorf("DBOperations, RateLimited = %d, %d; want 4, 4", st.DBOperations, st.RateLimited)
	}
}

func TestRequestsPerMinute(t *testing.T) {
	e := newEnv(t, Options{RequestsPerMinute: 3})
	for i := range 3 {
		if a := e.api("GET", "/sites/12345/database/export/x", nil); a.status != http.StatusNotFound {
			t.Fatalf("request %d = %d, want 404", i, a.status)
		}
		e.clock.Advance(10 * time.Second)
	}
	a := e.api("GET", "/sites/12345/database/export/x", nil)
	if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") != "30" || a.header.Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("fourth request = %d Retry-After %q Remaining %q, want 429, 30, 0",
			a.status, a.header.Get("Retry-After"), a.header.Get("X-RateLimit-Remaining"))
	}
	e.clock.Advance(30 * time.Second)
	if a := e.api("GET", "/sites/12345/database/export/x", nil); a.status != http.StatusNotFound {
		t.Fatalf("request after the window slid = %d, want 404", a.status)
	}
}

func TestUnlimitedHeaders(t *testing.T) {
	e := newEnv(t, Options{})
	a := e.api("POST", "/sites/12345/database/export", nil)
	if a.header.Get("X-RateLimit-Limit") != "1000000" || a.header.Get("X-RateLimit-Remaining") != "1000000" {
		t.Errorf("unlimited headers = %q/%q, want 1000000/1000000",
			a.header.Get("X-RateLimit-Limit"), a.header.Get("X-RateLimit-Remaining"))
	}
}

func TestStatsIsASnapshot(t *testing.T) {
	e := newEnv(t, Options{})
	e.api("POST", "/sites/12345/database/export", nil)
	st := e.sim.Stats()
	st.ExportRequests[EnvKey{"12345", ""}] = 99
	if got := e.sim.Stats().ExportRequests[EnvKey{"12345", ""}]; got != 1 {
		t.Errorf("ExportRequests after editing a snapshot = %d, want 1", got)
	}
	e.sim.ResetStats()
	if got := e.sim.Stats(); got.APIRequests != 0 || len(got.ExportRequests) != 0 {
		t.Errorf("Stats after ResetStats = %+v", got)
	}
}

func TestNewRequiresToken(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New without a token did not panic")
		}
	}()
	New(Options{})
}

// Exports, status queries, downloads and fault changes at once: run with
// -race.
func TestConcurrentUse(t *testing.T) {
	e := newEnv(t, Options{DumpSize: 8 << 10})
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			site := []string{"12345", "23456"}[i%2]
			for range 3 {
				a := e.api("POST", "/sites/"+site+"/database/export", nil)
				id := a.str("export_id")
				for range 3 {
					s := e.api("GET", "/sites/"+site+"/database/export/"+id, nil)
					if u := s.str("download_url"); u != "" {
						_, _, _ = e.get(u, nil)
					}
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 20 {
			e.sim.SetFaults("", Faults{Gzip: i%2 == 0, NoTrailer: i%3 == 0})
			_ = e.sim.Stats()
		}
	})
	wg.Wait()
	if got := e.sim.Stats().ExportRequests; got[EnvKey{"12345", ""}]+got[EnvKey{"23456", ""}] != 18 {
		t.Errorf("ExportRequests = %v, want 18 in all", got)
	}
}

func TestRangeParsing(t *testing.T) {
	tests := []struct {
		header      string
		first, last int64
		kind        int
	}{
		{"bytes=0-", 0, 99, rangeSatisfiable},
		{"bytes=10-", 10, 99, rangeSatisfiable},
		{"bytes=10-19", 10, 19, rangeSatisfiable},
		{"bytes=90-500", 90, 99, rangeSatisfiable},
		{"bytes=-10", 90, 99, rangeSatisfiable},
		{"bytes=-500", 0, 99, rangeSatisfiable},
		{"bytes=99-99", 99, 99, rangeSatisfiable},
		{"bytes=100-", 0, 0, rangeUnsatisfiable},
		{"bytes=100-200", 0, 0, rangeUnsatisfiable},
		{"bytes=-0", 0, 0, rangeUnsatisfiable},
		{"bytes=20-10", 0, 0, rangeIgnored},
		{"bytes=0-1,5-6", 0, 0, rangeIgnored},
		{"items=0-1", 0, 0, rangeIgnored},
		{"bytes=a-", 0, 0, rangeIgnored},
		{"bytes=+1-", 0, 0, rangeIgnored},
		{"bytes=", 0, 0, rangeIgnored},
	}
	for _, tt := range tests {
		first, last, kind := parseRange(tt.header, 100)
		if kind != tt.kind || first != tt.first || last != tt.last {
			t.Errorf("parseRange(%q, 100) = %d, %d, %d; want %d, %d, %d", tt.header, first, last, kind, tt.first, tt.last, tt.kind)
		}
	}
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-", "bytes=5-9", "bytes=-3", "bytes=9-1", "bytes=0-1,2-3", "bytes= 1 - 2 ", "bytes=-0"} {
		f.Add(s, int64(10))
	}
	f.Fuzz(func(t *testing.T, h string, size int64) {
		if size < 0 {
			return
		}
		first, last, kind := parseRange(h, size)
		if kind == rangeSatisfiable && (first < 0 || first > last || last >= size) {
			t.Fatalf("parseRange(%q, %d) = %d-%d, outside the object", h, size, first, last)
		}
	})
}

// Neither the token nor a presigned URL's query string reaches the log.
func TestLogsHoldNoSecrets(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	e := newEnv(t, Options{Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	e.sim.SetFaults("", Faults{FailExport: "boom"})
	e.exportDone("/sites/23456")
	e.sim.SetFaults("", Faults{CutAfter: 10, CutTimes: 1})
	_, d := e.exportDone("/sites/12345")
	_, _, _ = e.get(d["download_url"].(string), nil)
	a := e.api("POST", "/sites/12345/database/import", nil)
	e.put(a.str("upload_url"), []byte("SELECT 1;\n"), nil)
	e.api("POST", "/sites/12345/database/import/"+a.str("import_id")+"/run", nil)
	mu.Lock()
	defer mu.Unlock()
	out := logs.String()
	if !strings.Contains(out, "export_id=") || !strings.Contains(out, "site=12345") {
		t.Fatalf("logs lack the expected keys:\n%s", out)
	}
	for _, secret := range []string{testToken, "X-Amz-Signature", "X-Amz-Credential"} {
		if strings.Contains(out, secret) {
			t.Errorf("logs contain %q:\n%s", secret, out)
		}
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestUnknownPathsOutsideTheAPI(t *testing.T) {
	e := newEnv(t, Options{})
	resp, _ := e.mustGet(e.srv.URL+"/elsewhere", nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /elsewhere = %d, want 404", resp.StatusCode)
	}
}

func ExampleNew() {
	sim := New(Options{Token: "secret", DumpSize: 1 << 20})
	sim.AddSite("12345", "67890")
	sim.SetFaults("12345", Faults{CutAfter: 4096, CutTimes: 1})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	defer sim.Close()
	fmt.Println(strings.HasPrefix(srv.URL, "http://"))
	// Output: true
}
