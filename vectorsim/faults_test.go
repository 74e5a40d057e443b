package vectorsim

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestFailExport(t *testing.T) {
	e := newEnv(t, Options{})
	e.sim.SetFaults("12345", Faults{FailExport: "mysqldump: Got error: 1045"})
	_, d := e.exportDone("/sites/12345")
	if d["status"] != statusFailed || d["error_message"] != "mysqldump: Got error: 1045" || d["download_url"] != nil {
		t.Errorf("status = %v, want failed with the error message", d)
	}
	if _, d := e.exportDone("/sites/23456"); d["status"] != statusCompleted {
		t.Errorf("other site's export = %v, want completed (faults are per site)", d)
	}
	o := e.api("POST", "/sites/12345/db/export", nil)
	e.api("GET", "/sites/12345/db/exports/"+o.str("id"), nil)
	f := e.api("GET", "/sites/12345/db/exports/"+o.str("id"), nil)
	if f.str("status") != "failed" || f.str("status_label") != "Failed" || f.str("error_message") != "mysqldump: Got error: 1045" {
		t.Errorf("OpenAPI failed status = %s", f.raw)
	}
	if _, ok := f.data()["download_url"]; ok {
		t.Errorf("failed export has a download_url key: %s", f.raw)
	}
	// A failed export stays failed when the fault is lifted.
	e.sim.SetFaults("12345", Faults{})
	if g := e.api("GET", "/sites/12345/db/exports/"+o.str("id"), nil); g.str("status") != "failed" {
		t.Errorf("failed export after lifting the fault = %s", g.raw)
	}
}

func TestBackendExportError(t *testing.T) {
	e := newEnv(t, Options{Backend: &recordingBackend{err: errors.New("disk full")}})
	if _, d := e.exportDone("/sites/12345"); d["status"] != statusFailed || d["error_message"] != "disk full" {
		t.Errorf("status = %v, want failed: disk full", d)
	}
}

func TestStuckProcessing(t *testing.T) {
	e := newEnv(t, Options{})
	e.sim.SetFaults("", Faults{StuckProcessing: true})
	a := e.api("POST", "/sites/12345/database/export", nil)
	path := "/sites/12345/database/export/" + a.str("export_id")
	for i := range 10 {
		e.clock.Advance(time.Hour)
		if s := e.api("GET", path, nil); s.str("status") != statusProcessing {
			t.Fatalf("query %d = %s, want processing", i, s.raw)
		}
	}
	e.sim.SetFaults("", Faults{})
	if s := e.api("GET", path, nil); s.str("status") != statusCompleted {
		t.Fatalf("query after lifting the fault = %s, want completed", s.raw)
	}
}

func TestServerErrors(t *testing.T) {
	e := newEnv(t, Options{DBOpsPerHour: 10})
	e.sim.SetFaults("12345", Faults{ServerErrors: 4})
	want := []struct {
		status int
		json   bool
	}{{500, true}, {502, false}, {500, true}, {503, false}}
	for i, w := range want {
		a := e.api("POST", "/sites/12345/database/export", nil)
		if a.status != w.status {
			t.Fatalf("request %d = %d, want %d", i, a.status, w.status)
		}
		if w.json && (a.body["message"] != "Server Error" || a.body["http_status"] != jsonNum(500)) {
			t.Errorf("request %d: body %s, want the JSON envelope", i, a.raw)
		}
		if !w.json && (a.body != nil || !bytes.Contains(a.raw, []byte("<html>")) || !strings.HasPrefix(a.header.Get("Content-Type"), "text/html")) {
			t.Errorf("request %d: body %s, want an HTML proxy page", i, a.raw)
		}
	}
	if a := e.api("POST", "/sites/12345/database/export", nil); a.status != http.StatusAccepted {
		t.Fatalf("request after the faults = %d, want 202", a.status)
	}
	st := e.sim.Stats()
	if st.ServerErrors != 4 || st.DBOperations != 1 || st.ExportRequests[EnvKey{"12345", ""}] != 1 {
		t.Errorf("ServerErrors, DBOperations, ExportRequests = %d, %d, %v; want 4, 1, 1", st.ServerErrors, st.DBOperations, st.ExportRequests)
	}
	if left := e.sim.Faults("12345").ServerErrors; left != 0 {
		t.Errorf("ServerErrors left = %d, want 0", left)
	}
}

func TestRateLimitedFault(t *testing.T) {
	e := newEnv(t, Options{})
	e.sim.SetFaults("", Faults{RateLimited: 2})
	for i := range 2 {
		a := e.api("GET", "/sites/23456/database/export/x", nil)
		if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") != "1" ||
			a.header.Get("X-RateLimit-Remaining") != "0" || a.header.Get("X-RateLimit-Reset") == "" {
			t.Fatalf("request %d = %d, headers %v; want 429 with Retry-After 1", i, a.status, a.header)
		}
	}
	if a := e.api("GET", "/sites/23456/database/export/x", nil); a.status != http.StatusNotFound {
		t.Fatalf("request after the faults = %d, want 404", a.status)
	}
	if got := e.sim.Stats().RateLimited; got != 2 {
		t.Errorf("RateLimited = %d, want 2", got)
	}
}

func TestExpiredURLs(t *testing.T) {
	e := newEnv(t, Options{})
	id, d := e.exportDone("/sites/12345")
	e.sim.SetFaults("12345", Faults{ExpiredURLs: 1})
	s := e.api("GET", "/sites/12345/database/export/"+id, nil)
	if s.str("expires_at") != "2026-01-24T13:00:00Z" {
		t.Errorf("expires_at = %q, want it to look valid", s.str("expires_at"))
	}
	resp, body := e.mustGet(s.str("download_url"), nil)
	if resp.StatusCode != http.StatusForbidden || !bytes.Contains(body, []byte("Request has expired")) {
		t.Fatalf("download of an expired URL = %d %s, want 403 Request has expired", resp.StatusCode, body)
	}
	s = e.api("GET", "/sites/12345/database/export/"+id, nil)
	if resp, _ := e.mustGet(s.str("download_url"), nil); resp.StatusCode != http.StatusOK {
		t.Errorf("download of the next URL = %d, want 200", resp.StatusCode)
	}
	if resp, _ := e.mustGet(d["download_url"].(string), nil); resp.StatusCode != http.StatusOK {
		t.Errorf("URL minted before the fault = %d, want 200", resp.StatusCode)
	}
}

// A cut download ends with an unexpected EOF, and Range requests resume it.
func TestCutDownloadsResume(t *testing.T) {
	const size = 200 << 10
	e := newEnv(t, Options{DumpSize: size})
	_, d := e.exportDone("/sites/12345")
	u := d["download_url"].(string)
	_, want := e.mustGet(u, nil)
	e.sim.SetFaults("12345", Faults{CutAfter: 70000, CutTimes: 2})

	var got []byte
	for i := range 3 {
		var h map[string]string
		if len(got) > 0 {
			h = map[string]string{"Range": "bytes=" + itoa(len(got)) + "-"}
		}
		resp, body, err := e.get(u, h)
		if resp == nil {
			t.Fatalf("attempt %d: %v", i, err)
		}
		got = append(got, body...)
		if i < 2 {
			if !errors.Is(err, io.ErrUnexpectedEOF) || len(body) != 70000 {
				t.Fatalf("attempt %d: %d bytes, error %v; want 70000 bytes and an unexpected EOF", i, len(body), err)
			}
			continue
		}
		if err != nil || resp.StatusCode != http.StatusPartialContent {
			t.Fatalf("attempt %d = %d, %v; want a complete 206", i, resp.StatusCode, err)
		}
	}
	if !bytes.Equal(got, want) {
		t.Errorf("resumed download: %d bytes differing from the %d-byte dump", len(got), len(want))
	}
	st := e.sim.Stats()
	if st.Downloads != 4 || st.RangeRequests != 2 {
		t.Errorf("Downloads, RangeRequests = %d, %d; want 4, 2", st.Downloads, st.RangeRequests)
	}
}

func itoa(n int) string { return jsonNum(n).String() }

func TestGzipExports(t *testing.T) {
	tests := []struct {
		name    string
		faults  Faults
		corrupt bool
	}{
		{"gzip", Faults{Gzip: true}, false},
		{"corrupt gzip", Faults{CorruptGzip: true}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := Dump("gz", 300<<10, MySQL)
			e := newEnv(t, Options{Backend: &recordingBackend{body: body}})
			e.sim.SetFaults("12345", tt.faults)
			id, d := e.exportDone("/sites/12345")
			u := d["download_url"].(string)
			if !strings.Contains(u, "/exports/"+id+".sql.gz?") {
				t.Errorf("download URL %s, want a .sql.gz object", redact(u))
			}
			resp, gz := e.mustGet(u, nil)
			if resp.Header.Get("Content-Encoding") != "" || len(gz) < 2 || gz[0] != 0x1f || gz[1] != 0x8b {
				t.Fatalf("download: Content-Encoding %q, first bytes % x; want raw gzip bytes", resp.Header.Get("Content-Encoding"), gz[:2])
			}
			zr, err := gzip.NewReader(bytes.NewReader(gz))
			var plain []byte
			if err == nil {
				plain, err = io.ReadAll(zr)
			}
			if tt.corrupt {
				if err == nil {
					t.Fatal("corrupt gzip decompressed without error")
				}
				return
			}
			if err != nil || !bytes.Equal(plain, readAll(t, body)) {
				t.Fatalf("gunzip: %v; plain SQL equal: %v", err, bytes.Equal(plain, readAll(t, body)))
			}
			_, part := e.mustGet(u, map[string]string{"Range": "bytes=10-"})
			if !bytes.Equal(part, gz[10:]) {
				t.Error("Range does not apply to the gzip bytes")
			}
		})
	}
}

func TestNoTrailer(t *testing.T) {
	body := Dump("nt", 50<<10, MariaDB)
	e := newEnv(t, Options{Backend: &recordingBackend{body: body}})
	e.sim.SetFaults("", Faults{NoTrailer: true})
	_, d := e.exportDone("/sites/12345")
	_, got := e.mustGet(d["download_url"].(string), nil)
	full := readAll(t, body)
	if want := full[:len(full)-len(Trailer)]; !bytes.Equal(got, want) {
		t.Errorf("download ends %q, want the dump without its last line", tail(got))
	}
}

func TestSlowBody(t *testing.T) {
	e := newEnv(t, Options{DumpSize: 24 << 10})
	e.sim.SetFaults("", Faults{SlowBody: 96 << 10})
	_, d := e.exportDone("/sites/12345")
	start := time.Now()
	_, body := e.mustGet(d["download_url"].(string), nil)
	if el := time.Since(start); el < 200*time.Millisecond || len(body) != 24<<10 {
		t.Errorf("24 KiB at 96 KiB/s took %v (%d bytes), want about 250ms", el, len(body))
	}
}

func TestWrongLength(t *testing.T) {
	e := newEnv(t, Options{DumpSize: 10000})
	e.sim.SetFaults("", Faults{WrongLength: 500})
	_, d := e.exportDone("/sites/12345")
	resp, body, err := e.get(d["download_url"].(string), nil)
	if resp == nil || resp.ContentLength != 10500 || len(body) != 10000 || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("download: Content-Length %d, %d bytes, error %v; want 10500, 10000, unexpected EOF", resp.ContentLength, len(body), err)
	}
}

func TestDropExportAnswer(t *testing.T) {
	e := newEnv(t, Options{DBOpsPerHour: 5})
	e.sim.SetFaults("12345", Faults{DropExportAnswer: true})
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/vector/sites/12345/database/export", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := e.srv.Client().Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("export request answered %d, want no answer", resp.StatusCode)
	}
	st := e.sim.Stats()
	if st.ExportRequests[EnvKey{"12345", ""}] != 1 || st.DBOperations != 1 {
		t.Errorf("ExportRequests, DBOperations = %v, %d; want 1, 1", st.ExportRequests, st.DBOperations)
	}
	e.sim.mu.Lock()
	n := len(e.sim.exports)
	e.sim.mu.Unlock()
	if n != 1 {
		t.Errorf("%d exports exist, want 1", n)
	}
}

func TestImportFail(t *testing.T) {
	backend := &recordingBackend{}
	e := newEnv(t, Options{Backend: backend})
	e.sim.SetFaults("12345", Faults{ImportFail: "ERROR 1064 (42000) at line 12"})
	a := e.api("POST", "/sites/12345/database/import", nil)
	e.put(a.str("upload_url"), []byte("garbage"), nil)
	e.api("POST", "/sites/12345/database/import/"+a.str("import_id")+"/run", nil)
	e.api("GET", "/sites/12345/database/import/"+a.str("import_id"), nil)
	s := e.api("GET", "/sites/12345/database/import/"+a.str("import_id"), nil)
	if s.str("status") != statusFailed || s.str("error_message") != "ERROR 1064 (42000) at line 12" {
		t.Errorf("status = %s, want failed with the message", s.raw)
	}
	if len(backend.imports) != 0 || e.sim.Stats().Imports[EnvKey{"12345", ""}].Count != 0 {
		t.Error("a failed import reached the backend")
	}
}

func TestGlobalAndSiteFaults(t *testing.T) {
	e := newEnv(t, Options{})
	e.sim.SetFaults("", Faults{RateLimited: 1})
	e.sim.SetFaults("12345", Faults{RateLimited: 1})
	// Site 12345 spends its own fault first, then the global one.
	for i, want := range []int{429, 429, 404} {
		if a := e.api("GET", "/sites/12345/database/export/x", nil); a.status != want {
			t.Errorf("request %d for 12345 = %d, want %d", i, a.status, want)
		}
	}
	e.sim.SetFaults("", Faults{RateLimited: 1})
	if a := e.api("GET", "/sites/23456/database/export/x", nil); a.status != 429 {
		t.Errorf("global fault on 23456 = %d, want 429", a.status)
	}
	if a := e.api("GET", "/sites/12345/database/export/x", nil); a.status != 404 {
		t.Errorf("12345 after the global fault was spent = %d, want 404", a.status)
	}
}
