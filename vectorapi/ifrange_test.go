package vectorapi

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// storedObject serves one object through http.ServeContent, which answers
// Range and If-Range (by ETag or by modification time) as RFC 9110 says.
// The first GET after cutNext is cut after that many bytes. set replaces
// the object.
type storedObject struct {
	mu      sync.Mutex
	data    []byte
	etag    string    // "" sends none
	modTime time.Time // zero sends no Last-Modified
	cutNext int       // > 0: the next GET is cut after this many bytes
	// ignoreIfRange drops If-Range before answering: a server that does
	// not implement it.
	ignoreIfRange bool
	headers       []http.Header
}

func (o *storedObject) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.headers = append(o.headers, r.Header.Clone())
	data, etag, modTime, cut, ignore := o.data, o.etag, o.modTime, o.cutNext, o.ignoreIfRange
	o.cutNext = 0
	o.mu.Unlock()
	if etag != "" {
		w.Header().Set("ETag", etag)
	}
	if cut > 0 {
		if !modTime.IsZero() {
			w.Header().Set("Last-Modified", modTime.UTC().Format(http.TimeFormat))
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(http.StatusOK)
		w.Write(data[:cut])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // close the connection mid-body
	}
	if ignore {
		r.Header.Del("If-Range")
	}
	http.ServeContent(w, r, "", modTime, bytes.NewReader(data))
}

func (o *storedObject) set(data []byte, etag string, modTime time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.data, o.etag, o.modTime = data, etag, modTime
}

func (o *storedObject) requests() []http.Header {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]http.Header(nil), o.headers...)
}

func newStoredObjectServer(t *testing.T, o *storedObject) (*Client, string) {
	t.Helper()
	srv := httptest.NewServer(o)
	t.Cleanup(srv.Close)
	c, err := New(Options{Token: testToken, RetryBaseDelay: time.Millisecond, RetryMaxDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c, srv.URL + "/exports/e1.sql?X-Amz-Signature=" + testSig
}

// readCut reads a download until its body breaks and returns what came.
func readCut(t *testing.T, d *Download) []byte {
	t.Helper()
	defer d.Body.Close()
	got, err := io.ReadAll(d.Body)
	if err == nil {
		t.Fatalf("body of %d bytes read without error, want a cut", len(got))
	}
	return got
}

func TestDownloadValidator(t *testing.T) {
	lm := time.Date(2026, 1, 24, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		header map[string]string
		want   string
	}{
		{"strong ETag", map[string]string{"ETag": `"abc-2"`, "Last-Modified": lm.Format(http.TimeFormat)}, `"abc-2"`},
		{"weak ETag: Last-Modified", map[string]string{"ETag": `W/"abc"`, "Last-Modified": lm.Format(http.TimeFormat),
			"Date": lm.Add(time.Minute).Format(http.TimeFormat)}, lm.Format(http.TimeFormat)},
		{"no ETag: Last-Modified", map[string]string{"Last-Modified": lm.Format(http.TimeFormat),
			"Date": lm.Add(time.Second).Format(http.TimeFormat)}, lm.Format(http.TimeFormat)},
		{"Last-Modified as old as Date is weak", map[string]string{"Last-Modified": lm.Format(http.TimeFormat),
			"Date": lm.Format(http.TimeFormat)}, ""},
		{"unquoted ETag, no Last-Modified", map[string]string{"ETag": "abc"}, ""},
		{"nothing", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				io.WriteString(w, "-- dump\n")
			}))
			defer srv.Close()
			c, err := New(Options{Token: testToken})
			if err != nil {
				t.Fatal(err)
			}
			d, err := c.Download(t.Context(), srv.URL+"/e.sql?X-Amz-Signature="+testSig, 0)
			if err != nil {
				t.Fatal(err)
			}
			readAll(t, d)
			if d.Validator != tc.want {
				t.Errorf("Validator = %q, want %q", d.Validator, tc.want)
			}
		})
	}
}

// TestDownloadFromChangedObject cuts a download, changes the object, and
// resumes with the first answer's validator: the server's whole-object
// answer to If-Range (or a range of the new version, from a server that
// ignores If-Range) must give ErrRangeIgnored, never the new object's tail.
func TestDownloadFromChangedObject(t *testing.T) {
	oldBody := bytes.Repeat([]byte("INSERT INTO t VALUES (1);\n"), 400)
	newBody := bytes.Repeat([]byte("INSERT INTO t VALUES (2);\n"), 400)
	t0 := time.Date(2026, 1, 24, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name          string
		etag, newETag string // "" validates by modification time
		ignoreIfRange bool
		wantIfRange   string
	}{
		{"ETag", `"v1"`, `"v2"`, false, `"v1"`},
		{"Last-Modified", "", "", false, t0.Format(http.TimeFormat)},
		{"ETag, server ignores If-Range", `"v1"`, `"v2"`, true, `"v1"`},
		{"Last-Modified, server ignores If-Range", "", "", true, t0.Format(http.TimeFormat)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := &storedObject{data: oldBody, etag: tc.etag, modTime: t0, cutNext: 1000, ignoreIfRange: tc.ignoreIfRange}
			c, u := newStoredObjectServer(t, o)
			d, err := c.Download(t.Context(), u, 0)
			if err != nil {
				t.Fatal(err)
			}
			got := readCut(t, d)
			if d.Validator != tc.wantIfRange {
				t.Fatalf("Validator = %q, want %q", d.Validator, tc.wantIfRange)
			}
			o.set(newBody, tc.newETag, t0.Add(time.Hour))

			_, err = c.DownloadFrom(t.Context(), u, int64(len(got)), d.Validator)
			if !errors.Is(err, ErrRangeIgnored) {
				t.Fatalf("DownloadFrom of a changed object = %v, want ErrRangeIgnored", err)
			}
			assertNoSecret(t, "error", err.Error())
			reqs := o.requests()
			if len(reqs) != 2 {
				t.Fatalf("requests = %d, want 2 (not retried)", len(reqs))
			}
			if r, ir := reqs[1].Get("Range"), reqs[1].Get("If-Range"); r != "bytes="+strconv.Itoa(len(got))+"-" || ir != tc.wantIfRange {
				t.Errorf("resume sent Range %q If-Range %q, want bytes=%d- and %q", r, ir, len(got), tc.wantIfRange)
			}

			// Starting over gives the new object whole.
			d, err = c.DownloadFrom(t.Context(), u, 0, d.Validator)
			if err != nil {
				t.Fatal(err)
			}
			if body := readAll(t, d); !bytes.Equal(body, newBody) {
				t.Errorf("download from 0 read %d bytes, want the new object", len(body))
			}
			if h := o.requests()[2]; h.Get("Range") != "" || h.Get("If-Range") != "" {
				t.Errorf("download from 0 sent Range %q If-Range %q, want neither", h.Get("Range"), h.Get("If-Range"))
			}
		})
	}
}

func TestDownloadFromUnchangedObjectResumes(t *testing.T) {
	body := bytes.Repeat([]byte("INSERT INTO t VALUES (1);\n"), 400)
	o := &storedObject{data: body, etag: `"v1"`, cutNext: 1000}
	c, u := newStoredObjectServer(t, o)
	d, err := c.Download(t.Context(), u, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := readCut(t, d)
	d2, err := c.DownloadFrom(t.Context(), u, int64(len(got)), d.Validator)
	if err != nil {
		t.Fatalf("DownloadFrom of the unchanged object = %v", err)
	}
	if d2.Offset != int64(len(got)) || d2.TotalSize != int64(len(body)) || d2.Validator != `"v1"` {
		t.Errorf("DownloadFrom = {Offset %d, TotalSize %d, Validator %q}, want %d, %d, \"v1\"", d2.Offset, d2.TotalSize, d2.Validator, len(got), len(body))
	}
	if all := append(got, readAll(t, d2)...); !bytes.Equal(all, body) {
		t.Errorf("cut and resumed bodies make %d bytes differing from the object", len(all))
	}
	if ir := o.requests()[1].Get("If-Range"); ir != `"v1"` {
		t.Errorf("If-Range = %q, want \"v1\"", ir)
	}
}

func TestDownloadFromRefusesBadValidator(t *testing.T) {
	o := &storedObject{data: []byte("-- dump\n"), etag: `"v1"`}
	c, u := newStoredObjectServer(t, o)
	for _, v := range []string{`W/"v1"`, "v1", `"v"1"`, "yesterday", "\"v1\"\r\nX-Evil: 1"} {
		_, err := c.DownloadFrom(t.Context(), u, 3, v)
		if err == nil || !strings.Contains(err.Error(), "validator") {
			t.Errorf("DownloadFrom with validator %q = %v, want an error naming the validator", v, err)
		}
	}
	if n := len(o.requests()); n != 0 {
		t.Errorf("requests = %d, want none", n)
	}
}
