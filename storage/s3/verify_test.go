package s3_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/builtfast/vectord/storage/s3"
)

// headProxy is a reverse proxy in front of the S3 server that answers a
// request itself when answer says so, and passes it through otherwise. It
// keeps the Host header, so signatures hold, and records the HEAD
// requests.
type headProxy struct {
	proxy  *httputil.ReverseProxy
	answer func(r *http.Request) int // status to answer with; 0 passes the request through

	mu    sync.Mutex
	heads []http.Header // the HEAD requests seen
}

func newHeadProxy(t *testing.T, s server, answer func(r *http.Request) int) (*headProxy, string) {
	t.Helper()
	u, err := url.Parse(s.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	p := &headProxy{proxy: httputil.NewSingleHostReverseProxy(u), answer: answer}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return p, srv.URL
}

func (p *headProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodHead {
		p.mu.Lock()
		p.heads = append(p.heads, r.Header.Clone())
		p.mu.Unlock()
	}
	if status := p.answer(r); status != 0 {
		w.Header().Set("x-amz-request-id", "proxy")
		w.WriteHeader(status)
		return
	}
	p.proxy.ServeHTTP(w, r)
}

func (p *headProxy) headRequests() []http.Header {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]http.Header(nil), p.heads...)
}

// TestCommitCheckAnswered404Or412 puts a proxy in front of the
// server that answers the HEAD request checking the completed upload with
// 404 or 412: the completion's answer alone must not make Commit succeed.
func TestCommitCheckAnswered404Or412(t *testing.T) {
	s := needServer(t)
	always := func(status int) func(*http.Request) int {
		return func(r *http.Request) int {
			if r.Method != http.MethodHead {
				return 0
			}
			return status
		}
	}
	// otherObject makes a plain HEAD request's answer describe another
	// object of the same size than the one written.
	otherObject := func(resp *http.Response) {
		if resp.Request.Method == http.MethodHead && resp.Request.Header.Get("If-Match") == "" && resp.StatusCode == http.StatusOK {
			dropChecksums(resp.Header)
			resp.Header.Set("ETag", `"0123456789abcdef0123456789abcdef-2"`)
		}
	}
	// noCompletionChecksum removes the server's checksum of the whole
	// upload from the completion's answer.
	noCompletionChecksum := func(resp *http.Response) {
		if resp.Request.Method != http.MethodPost || !resp.Request.URL.Query().Has("uploadId") || resp.StatusCode != http.StatusOK {
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = regexp.MustCompile(`<ChecksumCRC64NVME>[^<]*</ChecksumCRC64NVME>`).ReplaceAll(body, nil)
		if bytes.Contains(body, []byte("CRC64NVME")) {
			t.Errorf("completion still names a CRC-64/NVME checksum: %s", body)
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
	}
	ifMatch412 := func(r *http.Request) int {
		if r.Method == http.MethodHead && r.Header.Get("If-Match") != "" {
			return http.StatusPreconditionFailed
		}
		return 0
	}
	tests := []struct {
		name    string
		answer  func(*http.Request) int
		modify  func(*http.Response)
		wantErr string // "" wants success
		heads   int    // HEAD requests Commit sends
		stored  bool   // the object stays under the key
	}{
		{"404: not stored", always(http.StatusNotFound), nil, "finds no object under the key", 1, false},
		{"412 every time: not stored, left in place", always(http.StatusPreconditionFailed), nil, "does not have the upload's ETag", 2, true},
		{"412 then 404: not stored", func(r *http.Request) int {
			if r.Method != http.MethodHead {
				return 0
			}
			if r.Header.Get("If-Match") != "" {
				return http.StatusPreconditionFailed
			}
			return http.StatusNotFound
		}, nil, "finds no object under the key", 2, false},
		// A server whose HEAD answers spell the ETag otherwise than the
		// completion did: a plain HEAD request proves the object is the
		// one written.
		{"412, the object is the upload", ifMatch412, nil, "", 2, true},
		// Another writer replaced the object since the completion, whose
		// checksum proves the upload was stored: as the first of two
		// writers of a key, Commit succeeds.
		{"412, another object, the completion proves the upload", ifMatch412, otherObject, "", 2, true},
		// Without that proof the object found may be an older one: the
		// upload may never have landed.
		{"412, another object, nothing proves the upload: not stored, left in place", ifMatch412, func(resp *http.Response) {
			otherObject(resp)
			noCompletionChecksum(resp)
		}, "gave no checksum proving that the upload was stored", 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proxy, endpoint := newHeadProxy(t, s, tt.answer)
			if tt.modify != nil {
				proxy.proxy.ModifyResponse = func(resp *http.Response) error {
					tt.modify(resp)
					return nil
				}
			}
			opts := s.options(t)
			opts.Endpoint = endpoint
			opts.PartSize = s3.MinPartSize
			tg := newTarget(t, s, opts)
			const key = "acme/production/a.sql.zst"
			data := pattern(6<<20+5, 9)
			w, err := tg.Create(t.Context(), key)
			if err != nil {
				t.Fatalf("Create() = %v", err)
			}
			defer w.Abort()
			if _, err := w.Write(data); err != nil {
				t.Fatalf("Write() = %v", err)
			}
			info, err := w.Commit(t.Context())
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Commit() = %v, want success", err)
			case tt.wantErr == "" && info.Size != int64(len(data)):
				t.Errorf("Commit() = %+v, want %d bytes", info, len(data))
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Commit() = %+v, %v; want an error mentioning %q", info, err, tt.wantErr)
			}
			if err := w.Abort(); err != nil {
				t.Errorf("Abort() = %v", err)
			}
			heads := proxy.headRequests()
			if len(heads) != tt.heads {
				t.Errorf("HEAD requests = %d, want %d", len(heads), tt.heads)
			}
			if len(heads) > 0 && heads[0].Get("If-Match") == "" {
				t.Errorf("first HEAD request has no If-Match naming the upload's ETag")
			}
			plain := s.options(t)
			plain.Prefix = opts.Prefix
			direct := newTarget(t, s, plain)
			if tt.stored {
				r, err := direct.Open(t.Context(), key)
				if err != nil {
					t.Fatalf("Open(%q) = %v, want the object written", key, err)
				}
				defer r.Close()
				if n, err := equalReaders(r, bytes.NewReader(data)); err != nil {
					t.Errorf("object under the key differs from the one written at byte %d: %v", n, err)
				}
			} else {
				checkMissing(t, direct, key)
			}
			checkUploads(t, s, opts.Prefix, 0)
		})
	}
}

// TestCommitReportsFailedCleanup makes Commit's check fail (404) and the
// removal of the uploaded object fail too (403 to DELETE): Commit's error
// must say that something is left, Abort must fail while the removal does
// and remove the object once it can.
func TestCommitReportsFailedCleanup(t *testing.T) {
	s := needServer(t)
	var refuseDelete atomic.Bool
	refuseDelete.Store(true)
	_, endpoint := newHeadProxy(t, s, func(r *http.Request) int {
		switch {
		case r.Method == http.MethodHead:
			return http.StatusNotFound
		case r.Method == http.MethodDelete && r.URL.Query().Get("uploadId") == "" && refuseDelete.Load():
			return http.StatusForbidden
		}
		return 0
	})
	opts := s.options(t)
	opts.Endpoint = endpoint
	tg := newTarget(t, s, opts)
	const key = "acme/production/a.sql.zst"
	w, err := tg.Create(t.Context(), key)
	if err != nil {
		t.Fatalf("Create() = %v", err)
	}
	defer w.Abort()
	if _, err := w.Write(pattern(1<<20, 3)); err != nil {
		t.Fatalf("Write() = %v", err)
	}
	_, err = w.Commit(t.Context())
	if err == nil || !strings.Contains(err.Error(), "finds no object") || !strings.Contains(err.Error(), "clean-up failed") {
		t.Fatalf("Commit() = %v, want an error saying the check failed and so did the clean-up", err)
	}
	if err := w.Abort(); err == nil || !strings.Contains(err.Error(), "remove uploaded object") {
		t.Errorf("Abort() while the removal fails = %v, want an error", err)
	}
	plain := s.options(t)
	plain.Prefix = opts.Prefix
	direct := newTarget(t, s, plain)
	if _, err := direct.Stat(t.Context(), key); err != nil {
		t.Fatalf("Stat(%q) = %v, want the object not yet removed", key, err)
	}
	refuseDelete.Store(false)
	if err := w.Abort(); err != nil {
		t.Errorf("Abort() once the removal works = %v, want nil", err)
	}
	checkMissing(t, direct, key)
	checkUploads(t, s, opts.Prefix, 0)
}
