package vectorapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Secrets the tests look for in every error and log line.
const (
	testToken = "tok-3f9a7c21e5b84d06-SECRET"
	testSig   = "sig-5b4a39c8d7e6f1a0-SECRET"
)

// fault is a canned misbehaviour, consumed by one request of an operation.
type fault struct {
	status int
	header map[string]string
	body   string
	// hangup reads the request, then closes the connection unanswered.
	hangup bool
	// block holds the request until the test ends (a timeout).
	block bool
}

// hit is one request the fake served.
type hit struct {
	op     string
	method string
	path   string // escaped
	header http.Header
	body   []byte
}

// fakeAPI is a small Vector API and S3 stand-in: both route sets, exports
// that complete after a few polls, import sessions, direct imports and
// presigned URLs that check their signature and can be expired, plus
// queued faults per operation.
type fakeAPI struct {
	t   testing.TB
	srv *httptest.Server

	mu         sync.Mutex
	faults     map[string][]fault
	hits       []hit
	dump       []byte
	polls      map[string]int // export id → status polls so far
	pollsToEnd int            // status polls before an export completes
	expired    bool           // presigned URLs answer 403
	noRange    bool           // S3 ignores Range
	uploaded   []byte
	direct     []byte // file of the last direct import
	directName string
	release    chan struct{} // closed at cleanup: frees blocked requests
}

func newFakeAPI(t testing.TB) *fakeAPI {
	t.Helper()
	f := &fakeAPI{
		t:          t,
		faults:     map[string][]fault{},
		polls:      map[string]int{},
		pollsToEnd: 1,
		dump:       []byte("-- MySQL dump\nCREATE TABLE t (id int);\n-- Dump completed\n"),
		release:    make(chan struct{}),
	}
	mux := http.NewServeMux()
	const base = "/api/v1/vector"
	for _, r := range []struct {
		op, pattern string
		h           func(http.ResponseWriter, *http.Request)
	}{
		{"export", "POST " + base + "/sites/{site}/database/export", f.startExport},
		{"export", "POST " + base + "/sites/{site}/environments/{env}/database/export", f.startExport},
		{"export", "POST " + base + "/sites/{site}/db/export", f.startExport},
		{"export_status", "GET " + base + "/sites/{site}/database/export/{id}", f.exportStatus},
		{"export_status", "GET " + base + "/sites/{site}/environments/{env}/database/export/{id}", f.exportStatus},
		{"export_status", "GET " + base + "/sites/{site}/db/exports/{id}", f.exportStatus},
		{"import_create", "POST " + base + "/sites/{site}/database/import", f.createImport},
		{"import_create", "POST " + base + "/sites/{site}/environments/{env}/database/import", f.createImport},
		{"import_create", "POST " + base + "/sites/{site}/imports", f.createImport},
		{"import_run", "POST " + base + "/sites/{site}/database/import/{id}/run", f.runImport},
		{"import_run", "POST " + base + "/sites/{site}/environments/{env}/database/import/{id}/run", f.runImport},
		{"import_run", "POST " + base + "/sites/{site}/imports/{id}/run", f.runImport},
		{"import_status", "GET " + base + "/sites/{site}/database/import/{id}", f.importStatus},
		{"import_status", "GET " + base + "/sites/{site}/environments/{env}/database/import/{id}", f.importStatus},
		{"import_status", "GET " + base + "/sites/{site}/imports/{id}", f.importStatus},
		{"import_direct", "POST " + base + "/sites/{site}/database/import-direct", f.importDirect},
		{"backup_create", "POST " + base + "/backups", f.createBackup},
		{"backup_list", "GET " + base + "/backups", f.listBackups},
		{"backup_status", "GET " + base + "/backups/{backup}", f.backupStatus},
		{"backup_download_create", "POST " + base + "/backups/{backup}/downloads", f.createBackupDownload},
		{"backup_download_status", "GET " + base + "/backups/{backup}/downloads/{download}", f.backupDownloadStatus},
		{"sites", "GET " + base + "/sites", f.listSites},
		{"environments", "GET " + base + "/environments", f.listEnvironments},
		{"download", "GET /s3/exports/{file}", f.s3Get},
		{"import_upload", "PUT /s3/imports/{file}", f.s3Put},
	} {
		mux.HandleFunc(r.pattern, f.wrap(r.op, r.h))
	}
	f.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		close(f.release)
		f.srv.Close()
	})
	return f
}

// client returns a client for the fake with fast retries; adjust o first.
func (f *fakeAPI) client(t testing.TB, adjust func(*Options)) *Client {
	t.Helper()
	o := Options{
		BaseURL:           f.srv.URL + "/api/v1/vector",
		Token:             testToken,
		UserAgent:         "vectord/test",
		RequestsPerMinute: 60_000,
		RetryBaseDelay:    time.Millisecond,
		RetryMaxDelay:     5 * time.Millisecond,
		Timeout:           5 * time.Second,
	}
	if adjust != nil {
		adjust(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// queue adds faults for op, served before its normal answers.
func (f *fakeAPI) queue(op string, fs ...fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults[op] = append(f.faults[op], fs...)
}

// served returns the requests served for op ("" for all).
func (f *fakeAPI) served(op string) []hit {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []hit
	for _, h := range f.hits {
		if op == "" || h.op == op {
			out = append(out, h)
		}
	}
	return out
}

func (f *fakeAPI) presigned(file string) string {
	return f.srv.URL + "/s3/" + file + "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=3600&X-Amz-Signature=" + testSig
}

func (f *fakeAPI) wrap(op string, h func(http.ResponseWriter, *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		f.mu.Lock()
		f.hits = append(f.hits, hit{op: op, method: r.Method, path: r.URL.EscapedPath(), header: r.Header.Clone(), body: body})
		var ft *fault
		if q := f.faults[op]; len(q) > 0 {
			ft = &q[0]
			f.faults[op] = q[1:]
		}
		f.mu.Unlock()

		isS3 := strings.HasPrefix(r.URL.Path, "/s3/")
		switch {
		case ft != nil && ft.block:
			select {
			case <-f.release:
			case <-r.Context().Done():
			}
			return
		case ft != nil && ft.hangup:
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		case ft != nil:
			for k, v := range ft.header {
				w.Header().Set(k, v)
			}
			w.WriteHeader(ft.status)
			io.WriteString(w, ft.body)
			return
		case isS3 && r.Header.Get("Authorization") != "":
			s3Error(w, http.StatusBadRequest, "InvalidArgument", "Only one auth mechanism allowed")
			return
		case isS3 && r.URL.Query().Get("X-Amz-Signature") != testSig:
			s3Error(w, http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match")
			return
		case isS3 && f.isExpired():
			s3Error(w, http.StatusForbidden, "AccessDenied", "Request has expired")
			return
		case !isS3 && r.Header.Get("Authorization") != "Bearer "+testToken:
			writeJSON(w, http.StatusUnauthorized, `{"data":{},"message":"Unauthenticated","http_status":401}`)
			return
		}
		h(w, r)
	}
}

func (f *fakeAPI) isExpired() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.expired
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func s3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>%s</Code><Message>%s</Message><X-Amz-Expires>3600</X-Amz-Expires><SignatureProvided>%s</SignatureProvided><RequestId>4442587FB7D0A2F9</RequestId></Error>`,
		code, msg, testSig)
}

func (f *fakeAPI) startExport(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusAccepted, `{"data":{"export_id":"exp_1","status":"pending"},"message":"Database export started","http_status":202}`)
}

func (f *fakeAPI) exportStatus(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	f.mu.Lock()
	f.polls[id]++
	done := f.polls[id] > f.pollsToEnd
	f.mu.Unlock()
	if !done {
		writeJSON(w, http.StatusOK, fmt.Sprintf(`{"data":{"id":%q,"status":"processing","download_url":null,"size_bytes":null},"http_status":200}`, id))
		return
	}
	writeJSON(w, http.StatusOK, fmt.Sprintf(`{"data":{"id":%q,"status":"completed","download_url":%q,"download_expires_at":"2025-01-15T14:00:00+01:00","size_bytes":"%d"},"http_status":200}`,
		id, f.presigned("exports/"+id+".sql"), len(f.dump)))
}

func (f *fakeAPI) createImport(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusCreated, fmt.Sprintf(`{"data":{"import_id":"imp_1","upload_url":%q,"expires_at":"2026-01-24T12:00:00Z"},"http_status":201}`,
		f.presigned("imports/imp_1.sql")))
}

func (f *fakeAPI) runImport(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusAccepted, `{"data":{"id":"imp_1","status":"uploaded"},"message":"Archive import started","http_status":202}`)
}

func (f *fakeAPI) importStatus(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, fmt.Sprintf(`{"data":{"import_id":%q,"status":"completed","started_at":"2026-01-24T11:45:00Z","completed_at":"2026-01-24T11:46:30Z"}}`, r.PathValue("id")))
}

func (f *fakeAPI) importDirect(w http.ResponseWriter, r *http.Request) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		writeJSON(w, http.StatusUnprocessableEntity, `{"data":{},"errors":{"file":["The file field is required."]},"message":"Validation failed","http_status":422}`)
		return
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			writeJSON(w, http.StatusUnprocessableEntity, `{"data":{},"errors":{"file":["The file field is required."]},"message":"Validation failed","http_status":422}`)
			return
		}
		if p.FormName() == "file" {
			b, _ := io.ReadAll(p)
			f.mu.Lock()
			f.direct, f.directName = b, p.FileName()
			f.mu.Unlock()
			break
		}
	}
	writeJSON(w, http.StatusAccepted, `{"data":{"import_id":"imp_d","status":"processing"}}`)
}

func (f *fakeAPI) createBackup(w http.ResponseWriter, r *http.Request) {
	var req struct {
		SiteID        string `json:"site_id"`
		EnvironmentID string `json:"environment_id"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || (req.SiteID == "") == (req.EnvironmentID == "") {
		writeJSON(w, http.StatusUnprocessableEntity, `{"data":{},"errors":{"site_id":["Either a site ID or environment ID is required."]},"message":"Validation failed","http_status":422}`)
		return
	}
	kind, id := "vector_site", req.SiteID
	if req.EnvironmentID != "" {
		kind, id = "vector_environment", req.EnvironmentID
	}
	writeJSON(w, http.StatusAccepted, fmt.Sprintf(`{"data":{"id":"bkp_1","archivable_type":%q,"archivable_id":%q,"type":"manual","scope":"database","status":"pending","created_at":"2026-01-24T12:00:00+00:00"},"message":"Backup initiated successfully","http_status":202}`, kind, id))
}

func (f *fakeAPI) listBackups(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, `{"data":[],"links":{},"meta":{},"message":"Backups retrieved successfully","http_status":200}`)
}

func (f *fakeAPI) backupStatus(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, fmt.Sprintf(`{"data":{"id":%q,"archivable_type":"vector_site","archivable_id":"12345","scope":"database","status":"completed"},"http_status":200}`, r.PathValue("backup")))
}

func (f *fakeAPI) createBackupDownload(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusAccepted, fmt.Sprintf(`{"data":{"id":"dl_1","vector_backup_id":%q,"status":"pending","download_url":null},"http_status":202}`, r.PathValue("backup")))
}

func (f *fakeAPI) backupDownloadStatus(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("download")
	writeJSON(w, http.StatusOK, fmt.Sprintf(`{"data":{"id":%q,"vector_backup_id":%q,"status":"completed","download_url":%q,"download_expires_at":"2026-01-24T13:00:00+00:00","size_bytes":%d},"http_status":200}`,
		id, r.PathValue("backup"), f.presigned("exports/"+id+".tar.gz"), len(f.dump)))
}

// listSites answers one site whose object does not embed its
// environments, so that Sites asks /environments.
func (f *fakeAPI) listSites(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, `{"data":[{"id":"01jfgxk4nqrst5vwx9yz0abcde","your_customer_id":"cust_12345"}],"links":{},"meta":{},"http_status":200}`)
}

func (f *fakeAPI) listEnvironments(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, `{"data":[],"links":{},"meta":{},"http_status":200}`)
}

func (f *fakeAPI) s3Get(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	dump, noRange := f.dump, f.noRange
	f.mu.Unlock()
	if rng := r.Header.Get("Range"); rng != "" && !noRange {
		start, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(rng, "bytes="), "-"), 10, 64)
		if err != nil || start >= int64(len(dump)) {
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, len(dump)-1, len(dump)))
		w.Header().Set("Content-Length", strconv.Itoa(len(dump)-int(start)))
		w.WriteHeader(http.StatusPartialContent)
		w.Write(dump[start:])
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(dump)))
	w.Write(dump)
}

func (f *fakeAPI) s3Put(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if int64(len(body)) != r.ContentLength {
		s3Error(w, http.StatusBadRequest, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header")
		return
	}
	f.mu.Lock()
	f.uploaded = body
	f.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// logBuffer captures a client's log output.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// assertNoSecret fails if s holds the token or the URL signature.
func assertNoSecret(t testing.TB, what, s string) {
	t.Helper()
	for _, secret := range []string{testToken, testSig} {
		if strings.Contains(s, secret) {
			t.Errorf("%s leaks a secret: %s", what, s)
		}
	}
}

// refusingDialer fails its first n dials with a real "connection refused"
// (a closed port), then dials normally.
func refusingDialer(t testing.TB, n int) func(ctx context.Context, network, addr string) (net.Conn, error) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	var mu sync.Mutex
	var d net.Dialer
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		refuse := n > 0
		n--
		mu.Unlock()
		if refuse {
			return d.DialContext(ctx, network, closed)
		}
		return d.DialContext(ctx, network, addr)
	}
}

// handlerTransport serves requests in memory, in the caller's goroutine,
// so that tests under testing/synctest see only durable waits.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, req)
	if req.Body != nil {
		req.Body.Close()
	}
	if err := req.Context().Err(); err != nil {
		return nil, err // the handler gave up with the request
	}
	resp := rec.Result()
	resp.Request = req
	resp.Body = ctxBody{req.Context(), resp.Body}
	return resp, nil
}

// ctxBody fails reads once the request's context ends, as the real
// transport's bodies do.
type ctxBody struct {
	ctx context.Context
	io.ReadCloser
}

func (b ctxBody) Read(p []byte) (int, error) {
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	return b.ReadCloser.Read(p)
}
