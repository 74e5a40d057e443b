package exporter_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/builtfast/vectord/vectorapi"
	"github.com/builtfast/vectord/vectorsim"
)

// changingObject serves an export file through http.ServeContent (ETag,
// Range and If-Range as S3 answers them). Its first GET is cut after cutAt
// bytes, and the file is replaced by next before the cut reaches the
// client: the resumed request asks for a file that has changed.
type changingObject struct {
	cutAt         int
	next          []byte
	nextETag      string
	ignoreIfRange bool // a server that does not implement If-Range
	unchanged     bool // keep the file as it was (control case)

	mu      sync.Mutex
	data    []byte
	etag    string
	cut     bool
	headers []http.Header // of every GET, in order
}

func (o *changingObject) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.headers = append(o.headers, r.Header.Clone())
	data, etag, first := o.data, o.etag, !o.cut
	if first {
		o.cut = true
		if !o.unchanged {
			o.data, o.etag = o.next, o.nextETag
		}
	}
	o.mu.Unlock()
	w.Header().Set("ETag", etag)
	if first {
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(http.StatusOK)
		w.Write(data[:o.cutAt])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // close the connection mid-body
	}
	if o.ignoreIfRange {
		r.Header.Del("If-Range")
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

func (o *changingObject) gets() []http.Header {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]http.Header(nil), o.headers...)
}

// objectAPI is the real client for downloads (Download, DownloadFrom) with
// an export that completes at once with a URL of the test's server.
type objectAPI struct {
	*vectorapi.Client
	url string
	now func() time.Time
}

func (a objectAPI) StartExport(ctx context.Context, t vectorapi.Target) (vectorapi.Export, error) {
	return vectorapi.Export{ID: "e1", Status: "pending"}, nil
}

func (a objectAPI) ExportStatus(ctx context.Context, t vectorapi.Target, id string) (vectorapi.Export, error) {
	return vectorapi.Export{ID: id, Status: "completed", DownloadURL: a.url, ExpiresAt: a.now().Add(time.Hour)}, nil
}

// TestResumeOfChangedFileStartsOver cuts a download, changes the file on
// the server before the resume (same size, other bytes) and checks that
// the backup holds the new file whole, never the old file's head spliced
// onto the new one's tail.
func TestResumeOfChangedFileStartsOver(t *testing.T) {
	const size = 256 << 10
	old := readBody(t, vectorsim.Dump("old", size, vectorsim.MySQL))
	fresh := readBody(t, vectorsim.Dump("new", size, vectorsim.MySQL))
	tests := []struct {
		name string
		obj  *changingObject
		want []byte
		gets int
	}{
		{"server honours If-Range", &changingObject{}, fresh, 3},
		{"server ignores If-Range", &changingObject{ignoreIfRange: true}, fresh, 3},
		{"file unchanged: resumed", &changingObject{unchanged: true}, old, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.obj
			o.cutAt, o.data, o.etag, o.next, o.nextETag = 100<<10, old, `"v1"`, fresh, `"v2"`
			srv := httptest.NewServer(o)
			defer srv.Close()
			h := newHarness(t, harnessOptions{size: size})
			h.ex.API = objectAPI{Client: h.client, url: srv.URL + "/exports/e1.sql?X-Amz-Signature=0123456789abcdef", now: h.clock.now}

			rec, err := h.run(context.Background())
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if want := sha256Of(t, bytes.NewReader(tt.want)); rec.SHA256 != want || rec.SizeBytes != size {
				spliced := sha256Of(t, io.MultiReader(bytes.NewReader(old[:o.cutAt]), bytes.NewReader(fresh[o.cutAt:])))
				t.Errorf("backup holds %d bytes with sha256 %s, want %d bytes %s (a splice of old and new would be %s)",
					rec.SizeBytes, rec.SHA256, size, want, spliced)
			}
			gets := o.gets()
			if len(gets) != tt.gets {
				t.Fatalf("GETs = %d, want %d", len(gets), tt.gets)
			}
			resume := gets[1]
			if r, ir := resume.Get("Range"), resume.Get("If-Range"); r != "bytes="+strconv.Itoa(o.cutAt)+"-" || ir != `"v1"` {
				t.Errorf("resumed GET sent Range %q If-Range %q, want bytes=%d- and the first answer's ETag \"v1\"", r, ir, o.cutAt)
			}
			if len(gets) == 3 {
				if r, ir := gets[2].Get("Range"), gets[2].Get("If-Range"); r != "" || ir != "" {
					t.Errorf("GET starting over sent Range %q If-Range %q, want neither", r, ir)
				}
			}
		})
	}
}

func readBody(t testing.TB, b vectorsim.Body) []byte {
	t.Helper()
	p := make([]byte, b.Size())
	if _, err := b.ReadAt(p, 0); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	return p
}
