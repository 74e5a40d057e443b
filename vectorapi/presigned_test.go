package vectorapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

func readAll(t testing.TB, d *Download) []byte {
	t.Helper()
	defer d.Body.Close()
	b, err := io.ReadAll(d.Body)
	if err != nil {
		t.Fatalf("read download: %v", err)
	}
	return b
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://bucket.s3.amazonaws.com/exports/e1.sql?X-Amz-Signature=abc&X-Amz-Expires=3600", "https://bucket.s3.amazonaws.com/exports/e1.sql"},
		{"https://user:pass@host:8443/a%20b/c?x=1#frag", "https://host:8443/a%20b/c"},
		{"http://host", "http://host"},
		{"  https://host/p?q  ", "https://host/p"},
		{"/relative/path?sig=1", "(invalid URL)"},
		{"https://host/%zz?sig=1", "(invalid URL)"},
		{"", "(invalid URL)"},
	}
	for _, tc := range tests {
		if got := RedactURL(tc.in); got != tc.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDownload(t *testing.T) {
	api := newFakeAPI(t)
	c := api.client(t, nil)
	u := api.presigned("exports/e1.sql")
	d, err := c.Download(t.Context(), u, 0)
	if err != nil {
		t.Fatal(err)
	}
	if d.Offset != 0 || d.ContentLength != int64(len(api.dump)) || d.TotalSize != int64(len(api.dump)) {
		t.Errorf("Download = {Offset %d, ContentLength %d, TotalSize %d}, want 0, %d, %d", d.Offset, d.ContentLength, d.TotalSize, len(api.dump), len(api.dump))
	}
	if got := readAll(t, d); !bytes.Equal(got, api.dump) {
		t.Errorf("body = %q, want %q", got, api.dump)
	}
	h := api.served("download")[0].header
	if a := h.Get("Authorization"); a != "" {
		t.Errorf("download sent Authorization %q, want none", a)
	}
	if r := h.Get("Range"); r != "" {
		t.Errorf("download from 0 sent Range %q", r)
	}
}

func TestDownloadResumes(t *testing.T) {
	api := newFakeAPI(t)
	c := api.client(t, nil)
	u := api.presigned("exports/e1.sql")
	d, err := c.Download(t.Context(), u, 10)
	if err != nil {
		t.Fatal(err)
	}
	n := int64(len(api.dump))
	if d.Offset != 10 || d.ContentLength != n-10 || d.TotalSize != n {
		t.Errorf("Download = {Offset %d, ContentLength %d, TotalSize %d}, want 10, %d, %d", d.Offset, d.ContentLength, d.TotalSize, n-10, n)
	}
	if got := readAll(t, d); !bytes.Equal(got, api.dump[10:]) {
		t.Errorf("body = %q, want %q", got, api.dump[10:])
	}
	if r := api.served("download")[0].header.Get("Range"); r != "bytes=10-" {
		t.Errorf("Range = %q, want bytes=10-", r)
	}
}

func TestDownloadRangeProblems(t *testing.T) {
	tests := []struct {
		name   string
		status int
		header map[string]string
	}{
		{"whole object", 200, nil},
		{"other start", 206, map[string]string{"Content-Range": "bytes 0-99/100"}},
		{"no Content-Range", 206, nil},
		{"garbled Content-Range", 206, map[string]string{"Content-Range": "bytes=10-"}},
		{"length mismatch", 206, map[string]string{"Content-Range": "bytes 10-99/100", "Content-Length": "5"}},
		{"not satisfiable", 416, map[string]string{"Content-Range": "bytes */5"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI(t)
			api.queue("download", fault{status: tc.status, header: tc.header, body: "hello"})
			_, err := api.client(t, nil).Download(t.Context(), api.presigned("exports/e1.sql"), 10)
			if !errors.Is(err, ErrRangeIgnored) {
				t.Fatalf("error = %v, want ErrRangeIgnored", err)
			}
			assertNoSecret(t, "error", err.Error())
			if n := len(api.served("download")); n != 1 {
				t.Errorf("requests = %d, want 1", n)
			}
		})
	}
}

func TestDownloadErrors(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(*fakeAPI)
		url       func(*fakeAPI) string
		wantIs    error
		wantNotIs error
		wantText  string
		requests  int
	}{
		{
			name:      "expired",
			setup:     func(f *fakeAPI) { f.expired = true },
			wantIs:    ErrURLExpired,
			wantNotIs: ErrUnauthorized,
			wantText:  "/s3/exports/e1.sql: the presigned URL has expired or was refused (HTTP 403: AccessDenied: Request has expired)",
			requests:  1,
		},
		{
			name:      "bad signature",
			url:       func(f *fakeAPI) string { return f.srv.URL + "/s3/exports/e1.sql?X-Amz-Signature=wrong-" + testSig },
			wantIs:    ErrURLExpired,
			wantNotIs: ErrUnauthorized,
			wantText:  "SignatureDoesNotMatch",
			requests:  1,
		},
		{
			name: "not found",
			setup: func(f *fakeAPI) {
				f.queue("download", fault{status: 404, body: "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>"})
			},
			wantIs:   ErrNotFound,
			wantText: "HTTP 404: NoSuchKey: The specified key does not exist.",
			requests: 1,
		},
		{
			name: "expired temporary credentials",
			setup: func(f *fakeAPI) {
				f.queue("download", fault{status: 400, body: "<Error><Code>ExpiredToken</Code><Message>The provided token has expired.</Message></Error>"})
			},
			wantIs:   ErrURLExpired,
			requests: 1,
		},
		{
			name: "server errors outlast the retries",
			setup: func(f *fakeAPI) {
				for range 5 {
					f.queue("download", fault{status: 503, body: "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"})
				}
			},
			wantText: "HTTP 503: SlowDown: Please reduce your request rate.",
			requests: 5,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI(t)
			if tc.setup != nil {
				tc.setup(api)
			}
			u := api.presigned("exports/e1.sql")
			if tc.url != nil {
				u = tc.url(api)
			}
			var logs logBuffer
			c := api.client(t, func(o *Options) { o.Logger = logs.logger() })
			_, err := c.Download(t.Context(), u, 0)
			if err == nil {
				t.Fatal("Download succeeded, want an error")
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("error %q does not match %v", err, tc.wantIs)
			}
			if tc.wantNotIs != nil && errors.Is(err, tc.wantNotIs) {
				t.Errorf("error %q matches %v", err, tc.wantNotIs)
			}
			if !strings.Contains(err.Error(), tc.wantText) {
				t.Errorf("error = %q, want it to contain %q", err, tc.wantText)
			}
			if !strings.HasPrefix(err.Error(), "download "+api.srv.URL+"/s3/exports/e1.sql:") {
				t.Errorf("error %q does not name the redacted URL", err)
			}
			assertNoSecret(t, "error", err.Error())
			assertNoSecret(t, "log", logs.String())
			if n := len(api.served("download")); n != tc.requests {
				t.Errorf("requests = %d, want %d", n, tc.requests)
			}
		})
	}
}

func TestDownloadNetworkErrorHidesSignature(t *testing.T) {
	api := newFakeAPI(t)
	c := api.client(t, func(o *Options) { o.MaxRetries = -1 })
	u := api.presigned("exports/e1.sql")
	api.srv.Close() // nothing listens any more
	_, err := c.Download(t.Context(), u, 0)
	if err == nil {
		t.Fatal("Download succeeded against a closed server")
	}
	assertNoSecret(t, "error", err.Error())
	if !strings.Contains(err.Error(), "/s3/exports/e1.sql") {
		t.Errorf("error %q does not name the URL", err)
	}
}

func TestDownloadRedirectHidesSignature(t *testing.T) {
	api := newFakeAPI(t)
	// A redirect to a URL that cannot be fetched: the error must not quote
	// its query either.
	api.queue("download", fault{status: 307, header: map[string]string{"Location": "http://127.0.0.1:1/x.sql?X-Amz-Signature=" + testSig}})
	_, err := api.client(t, func(o *Options) { o.MaxRetries = -1 }).Download(t.Context(), api.presigned("exports/e1.sql"), 0)
	if err == nil {
		t.Fatal("Download succeeded, want an error")
	}
	assertNoSecret(t, "error", err.Error())
}

func TestDownloadKeepsStoredEncoding(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("CREATE TABLE t (id int);\n"))
	zw.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Length", strconv.Itoa(gz.Len()))
		w.Write(gz.Bytes())
	}))
	defer srv.Close()
	c, err := New(Options{Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.Download(t.Context(), srv.URL+"/e.sql.gz?sig=x", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, d); !bytes.Equal(got, gz.Bytes()) {
		t.Errorf("body was transformed: got %d bytes, want the %d stored gzip bytes", len(got), gz.Len())
	}
	if d.TotalSize != int64(gz.Len()) {
		t.Errorf("TotalSize = %d, want %d", d.TotalSize, gz.Len())
	}
}

func TestDownloadStallIsATimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.Write([]byte("-- half of it"))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c, err := New(Options{Token: testToken, Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.Download(t.Context(), srv.URL+"/e.sql?X-Amz-Signature="+testSig, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Body.Close()
	b, err := io.ReadAll(d.Body)
	if string(b) != "-- half of it" {
		t.Errorf("read %q before the stall, want %q", b, "-- half of it")
	}
	if err == nil || !strings.Contains(err.Error(), "no data within 100ms") {
		t.Fatalf("error = %v, want a stall timeout", err)
	}
	var timeout interface{ Timeout() bool }
	if !errors.As(err, &timeout) || !timeout.Timeout() {
		t.Errorf("error %v does not report a timeout", err)
	}
	assertNoSecret(t, "error", err.Error())
}

func TestDownloadCanceledByCaller(t *testing.T) {
	api := newFakeAPI(t)
	c := api.client(t, nil)
	ctx, cancel := context.WithCancel(t.Context())
	d, err := c.Download(ctx, api.presigned("exports/e1.sql"), 0)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	// Read until the cancellation shows; some bytes may be buffered.
	_, err = io.ReadAll(d.Body)
	d.Body.Close()
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}
}

func TestUpload(t *testing.T) {
	api := newFakeAPI(t)
	c := api.client(t, nil)
	body := strings.Repeat("INSERT INTO t VALUES (1);\n", 1000)
	if err := c.Upload(t.Context(), api.presigned("imports/i.sql"), strings.NewReader(body), int64(len(body))); err != nil {
		t.Fatal(err)
	}
	if string(api.uploaded) != body {
		t.Errorf("uploaded %d bytes, want %d", len(api.uploaded), len(body))
	}
	h := api.served("import_upload")[0].header
	for k, want := range map[string]string{
		"Authorization":  "",
		"Content-Type":   "application/sql",
		"Content-Length": strconv.Itoa(len(body)),
	} {
		if got := h.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
}

func TestUploadEmpty(t *testing.T) {
	api := newFakeAPI(t)
	if err := api.client(t, nil).Upload(t.Context(), api.presigned("imports/i.sql"), strings.NewReader(""), 0); err != nil {
		t.Fatal(err)
	}
	if got := api.served("import_upload")[0].header.Get("Content-Length"); got != "0" {
		t.Errorf("Content-Length = %q, want 0", got)
	}
}

// onlyReader hides every method but Read (no seeking, no WriterTo).
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func TestUploadRetries(t *testing.T) {
	const body = "INSERT INTO t VALUES (1);\n"
	tests := []struct {
		name     string
		body     func() io.Reader
		size     int64
		faults   []fault
		wantErr  string
		wantIs   error
		requests int
	}{
		{name: "seekable body is replayed", body: func() io.Reader { return strings.NewReader(body) }, size: int64(len(body)),
			faults: []fault{{status: 503}, {status: 500}}, requests: 3},
		{name: "consumed stream is not replayed", body: func() io.Reader { return onlyReader{strings.NewReader(body)} }, size: int64(len(body)),
			faults: []fault{{status: 503}}, wantErr: "HTTP 503", requests: 1},
		{name: "expired URL", body: func() io.Reader { return strings.NewReader(body) }, size: int64(len(body)),
			faults: []fault{{status: 403, body: "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"}},
			wantIs: ErrURLExpired, wantErr: "Request has expired", requests: 1},
		{name: "short body", body: func() io.Reader { return strings.NewReader(body) }, size: int64(len(body)) + 10,
			wantErr: fmt.Sprintf("the dump ended after %d of %d bytes", len(body), len(body)+10), requests: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI(t)
			api.queue("import_upload", tc.faults...)
			c := api.client(t, nil)
			err := c.Upload(t.Context(), api.presigned("imports/i.sql"), tc.body(), tc.size)
			if got := len(api.served("import_upload")); got > tc.requests || (tc.wantErr == "" && got != tc.requests) {
				t.Errorf("requests = %d, want %d", got, tc.requests)
			}
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if string(api.uploaded) != body {
					t.Errorf("uploaded %q, want %q", api.uploaded, body)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("error %v does not match %v", err, tc.wantIs)
			}
			assertNoSecret(t, "error", err.Error())
		})
	}
}

// gatedReader blocks until gate closes, then reads r: a body whose second
// half exists only once the server has the first.
type gatedReader struct {
	gate <-chan struct{}
	r    io.Reader
}

func (g gatedReader) Read(p []byte) (int, error) {
	<-g.gate
	return g.r.Read(p)
}

// TestUploadStreams proves the body is not buffered: the server receives
// the first part before the second can even be read.
func TestUploadStreams(t *testing.T) {
	first := bytes.Repeat([]byte("a"), 256<<10)
	second := bytes.Repeat([]byte("b"), 256<<10)
	gotFirst := make(chan struct{})
	var received int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, len(first))
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			w.WriteHeader(400)
			return
		}
		close(gotFirst)
		rest, _ := io.ReadAll(r.Body)
		received = len(buf) + len(rest)
	}))
	defer srv.Close()
	c, err := New(Options{Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	body := io.MultiReader(bytes.NewReader(first), gatedReader{gotFirst, bytes.NewReader(second)})
	if err := c.Upload(ctx, srv.URL+"/u.sql?sig=1", body, int64(len(first)+len(second))); err != nil {
		t.Fatal(err)
	}
	if received != len(first)+len(second) {
		t.Errorf("server received %d bytes, want %d", received, len(first)+len(second))
	}
}

func TestImportDirect(t *testing.T) {
	api := newFakeAPI(t)
	c := api.client(t, nil)
	dump := "CREATE TABLE t (id int);\n"
	im, err := c.ImportDirect(t.Context(), site, `we"ird.sql`, strings.NewReader(dump), int64(len(dump)))
	if err != nil {
		t.Fatal(err)
	}
	if im.ID != "imp_d" || im.Status != StatusProcessing {
		t.Errorf("ImportDirect = %+v, want imp_d processing", im)
	}
	if string(api.direct) != dump || api.directName != `we"ird.sql` {
		t.Errorf("server got file %q named %q, want %q named %q", api.direct, api.directName, dump, `we"ird.sql`)
	}
	h := api.served("import_direct")[0]
	if got := h.header.Get("Content-Length"); got != strconv.Itoa(len(h.body)) {
		t.Errorf("Content-Length = %s, body has %d bytes", got, len(h.body))
	}
	if h.header.Get("Authorization") != "Bearer "+testToken {
		t.Error("direct import lacks the bearer token")
	}
}

func TestImportDirectLimits(t *testing.T) {
	api := newFakeAPI(t)
	c := api.client(t, nil)
	_, err := c.ImportDirect(t.Context(), site, "big.sql", strings.NewReader(""), DirectImportMaxBytes+1)
	if err == nil || !strings.Contains(err.Error(), "use an import session") {
		t.Errorf("error = %v, want a refusal pointing at import sessions", err)
	}
	_, err = c.ImportDirect(t.Context(), site, "short.sql", strings.NewReader("abc"), 10)
	if err == nil || !strings.Contains(err.Error(), "the dump ended after 3 of 10 bytes") {
		t.Errorf("error = %v, want a short-body error", err)
	}
	if errors.Is(err, ErrExportUncertain) {
		t.Errorf("a body the client could not read is not an uncertain import: %v", err)
	}
}

func TestImportDirectStreams(t *testing.T) {
	first := bytes.Repeat([]byte("a"), 256<<10)
	second := bytes.Repeat([]byte("b"), 256<<10)
	gotFirst := make(chan struct{})
	var received int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		p, err := multipart.NewReader(r.Body, params["boundary"]).NextPart()
		if err != nil || p.FormName() != "file" {
			w.WriteHeader(422)
			return
		}
		buf := make([]byte, len(first))
		if _, err := io.ReadFull(p, buf); err != nil {
			w.WriteHeader(422)
			return
		}
		close(gotFirst)
		rest, _ := io.ReadAll(p)
		received = len(buf) + len(rest)
		writeJSON(w, 202, `{"data":{"import_id":"imp_s","status":"pending"}}`)
	}))
	defer srv.Close()
	c, err := New(Options{Token: testToken, BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	body := io.MultiReader(bytes.NewReader(first), gatedReader{gotFirst, bytes.NewReader(second)})
	if _, err := c.ImportDirect(ctx, site, "db.sql", body, int64(len(first)+len(second))); err != nil {
		t.Fatal(err)
	}
	if received != len(first)+len(second) {
		t.Errorf("server received %d bytes, want %d", received, len(first)+len(second))
	}
}

// TestImportDirectReplay: a body that cannot seek is re-sent only if none
// of it was read.
func TestImportDirectReplay(t *testing.T) {
	const dump = "SELECT 1;"
	t.Run("refused connection: nothing read, re-sent", func(t *testing.T) {
		api := newFakeAPI(t)
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.DialContext = refusingDialer(t, 1)
		c := api.client(t, func(o *Options) { o.HTTPClient = &http.Client{Transport: tr} })
		if _, err := c.ImportDirect(t.Context(), site, "d.sql", onlyReader{strings.NewReader(dump)}, int64(len(dump))); err != nil {
			t.Fatal(err)
		}
		if string(api.direct) != dump {
			t.Errorf("server got %q, want %q", api.direct, dump)
		}
	})
	t.Run("503 after reading: not re-sent", func(t *testing.T) {
		api := newFakeAPI(t)
		api.queue("import_direct", fault{status: 503})
		c := api.client(t, nil)
		_, err := c.ImportDirect(t.Context(), site, "d.sql", onlyReader{strings.NewReader(dump)}, int64(len(dump)))
		var apiErr *Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 503 || errors.Is(err, ErrExportUncertain) {
			t.Errorf("error = %v, want the 503 (not uncertain)", err)
		}
		if n := len(api.served("import_direct")); n != 1 {
			t.Errorf("requests = %d, want 1", n)
		}
	})
}
