package vectorsim

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestPresignedURLLooksLikeS3(t *testing.T) {
	e := newEnv(t, Options{URLTTL: 90 * time.Minute})
	id, d := e.exportDone("/sites/12345")
	u, err := url.Parse(d["download_url"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if u.Path != "/s3/vector-db-transfers/exports/"+id+".sql" {
		t.Errorf("path = %q", u.Path)
	}
	q := u.Query()
	want := map[string]string{
		"X-Amz-Algorithm":     "AWS4-HMAC-SHA256",
		"X-Amz-Credential":    "AKIAVECTORSIMULATOR0/20260124/us-east-1/s3/aws4_request",
		"X-Amz-Date":          "20260124T120000Z",
		"X-Amz-Expires":       "5400",
		"X-Amz-SignedHeaders": "host",
	}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, q.Get(k), v)
		}
	}
	if sig := q.Get("X-Amz-Signature"); len(sig) != 64 || strings.Trim(sig, "0123456789abcdef") != "" {
		t.Errorf("X-Amz-Signature = %q, want 64 hex digits", sig)
	}
}

func TestPresignedURLRefusals(t *testing.T) {
	e := newEnv(t, Options{})
	_, d := e.exportDone("/sites/12345")
	good := d["download_url"].(string)
	tamper := func(key, value string) string {
		u, _ := url.Parse(good)
		q := u.Query()
		if value == "" {
			q.Del(key)
		} else {
			q.Set(key, value)
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	otherPath := strings.Replace(good, "/exports/", "/exports/x", 1)
	tests := []struct {
		name    string
		url     string
		headers map[string]string
		status  int
		code    string
		message string
	}{
		{"tampered signature", tamper("X-Amz-Signature", strings.Repeat("ab", 32)), nil, 403, "SignatureDoesNotMatch", "The request signature we calculated"},
		{"longer validity", tamper("X-Amz-Expires", "604800"), nil, 403, "SignatureDoesNotMatch", ""},
		{"later date", tamper("X-Amz-Date", "20260124T130000Z"), nil, 403, "SignatureDoesNotMatch", ""},
		{"other object", otherPath, nil, 403, "SignatureDoesNotMatch", ""},
		{"no signature", tamper("X-Amz-Signature", ""), nil, 403, "SignatureDoesNotMatch", ""},
		{"not presigned", redact(good), nil, 403, "AccessDenied", "Access Denied"},
		{"bearer token too", good, map[string]string{"Authorization": "Bearer " + testToken}, 400, "InvalidArgument", "Only one auth mechanism allowed"},
		{"other bucket", strings.Replace(good, "/vector-db-transfers/", "/other/", 1), nil, 404, "NoSuchBucket", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.mustGet(tt.url, tt.headers)
			if resp.StatusCode != tt.status || !bytes.Contains(body, []byte("<Code>"+tt.code+"</Code>")) ||
				!bytes.Contains(body, []byte("<Message>"+tt.message)) {
				t.Fatalf("GET = %d %s, want %d %s %q", resp.StatusCode, body, tt.status, tt.code, tt.message)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/xml" {
				t.Errorf("Content-Type = %q, want application/xml", ct)
			}
			if !bytes.HasPrefix(body, []byte(`<?xml version="1.0" encoding="UTF-8"?>`)) {
				t.Errorf("body = %s, want an XML document", body)
			}
		})
	}
	if got := e.sim.Stats().AuthOnPresigned; got != 1 {
		t.Errorf("AuthOnPresigned = %d, want 1", got)
	}
	if got := e.sim.Stats().Downloads; got != 0 {
		t.Errorf("Downloads = %d, want 0 (every request was refused)", got)
	}
}

func TestPresignedURLExpires(t *testing.T) {
	e := newEnv(t, Options{})
	_, d := e.exportDone("/sites/12345")
	u := d["download_url"].(string)
	e.clock.Advance(time.Hour)
	if resp, _ := e.mustGet(u, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET at the expiry second = %d, want 200", resp.StatusCode)
	}
	e.clock.Advance(time.Second)
	resp, body := e.mustGet(u, nil)
	if resp.StatusCode != http.StatusForbidden || !bytes.Contains(body, []byte("<Code>AccessDenied</Code><Message>Request has expired</Message>")) {
		t.Fatalf("GET after expiry = %d %s, want 403 AccessDenied Request has expired", resp.StatusCode, body)
	}
	if !bytes.Contains(body, []byte("<Expires>2026-01-24T13:00:00Z</Expires>")) {
		t.Errorf("body %s lacks the expiry", body)
	}
}

func TestDownloadRangesAndHead(t *testing.T) {
	const size = 10000
	e := newEnv(t, Options{DumpSize: size})
	_, d := e.exportDone("/sites/12345")
	u := d["download_url"].(string)
	resp, full := e.mustGet(u, nil)
	etag, lastModified := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	if resp.StatusCode != 200 || len(full) != size || resp.Header.Get("Content-Length") != strconv.Itoa(size) ||
		resp.Header.Get("Content-Type") != "application/octet-stream" || len(etag) < 3 || etag[0] != '"' ||
		resp.Header.Get("Accept-Ranges") != "bytes" || resp.Header.Get("Content-Encoding") != "" {
		t.Fatalf("GET = %d, %d bytes, headers %v", resp.StatusCode, len(full), resp.Header)
	}
	tests := []struct {
		name         string
		headers      map[string]string
		status       int
		contentRange string
		want         []byte
	}{
		{"from offset", map[string]string{"Range": "bytes=9000-"}, 206, "bytes 9000-9999/10000", full[9000:]},
		{"closed range", map[string]string{"Range": "bytes=100-199"}, 206, "bytes 100-199/10000", full[100:200]},
		{"suffix", map[string]string{"Range": "bytes=-50"}, 206, "bytes 9950-9999/10000", full[9950:]},
		{"past the end clamps", map[string]string{"Range": "bytes=9990-20000"}, 206, "bytes 9990-9999/10000", full[9990:]},
		{"several ranges: whole object", map[string]string{"Range": "bytes=0-1,5-6"}, 200, "", full},
		{"matching If-Range", map[string]string{"Range": "bytes=5-", "If-Range": etag}, 206, "bytes 5-9999/10000", full[5:]},
		{"stale If-Range: whole object", map[string]string{"Range": "bytes=5-", "If-Range": `"other"`}, 200, "", full},
		{"weak If-Range: whole object", map[string]string{"Range": "bytes=5-", "If-Range": "W/" + etag}, 200, "", full},
		{"If-Range date of the object", map[string]string{"Range": "bytes=5-", "If-Range": lastModified}, 206, "bytes 5-9999/10000", full[5:]},
		{"stale If-Range date: whole object", map[string]string{"Range": "bytes=5-", "If-Range": "Mon, 02 Jan 2006 15:04:05 GMT"}, 200, "", full},
		{"stale If-Range beyond the end: whole object", map[string]string{"Range": "bytes=10000-", "If-Range": `"other"`}, 200, "", full},
		{"unsatisfiable", map[string]string{"Range": "bytes=10000-"}, 416, "bytes */10000", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.mustGet(u, tt.headers)
			if resp.StatusCode != tt.status || resp.Header.Get("Content-Range") != tt.contentRange {
				t.Fatalf("GET = %d Content-Range %q, want %d %q", resp.StatusCode, resp.Header.Get("Content-Range"), tt.status, tt.contentRange)
			}
			if tt.status == 416 {
				if !bytes.Contains(body, []byte("<Code>InvalidRange</Code>")) {
					t.Errorf("416 body = %s, want InvalidRange", body)
				}
				return
			}
			if !bytes.Equal(body, tt.want) || resp.Header.Get("Content-Length") != strconv.Itoa(len(tt.want)) {
				t.Errorf("body: %d bytes (Content-Length %s), want %d bytes of the dump", len(body), resp.Header.Get("Content-Length"), len(tt.want))
			}
		})
	}
	req, _ := http.NewRequest(http.MethodHead, u, nil)
	hresp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	hb, _ := io.ReadAll(hresp.Body)
	hresp.Body.Close()
	if hresp.StatusCode != 200 || hresp.ContentLength != size || len(hb) != 0 || hresp.Header.Get("ETag") != etag {
		t.Errorf("HEAD = %d, length %d, %d body bytes, ETag %q", hresp.StatusCode, hresp.ContentLength, len(hb), hresp.Header.Get("ETag"))
	}
	st := e.sim.Stats()
	if st.Downloads != 12 || st.RangeRequests != 12 {
		t.Errorf("Downloads, RangeRequests = %d, %d; want 12, 12 (HEAD and 416 start no body)", st.Downloads, st.RangeRequests)
	}
}

func TestObjectMethods(t *testing.T) {
	e := newEnv(t, Options{})
	_, d := e.exportDone("/sites/12345")
	req, _ := http.NewRequest(http.MethodDelete, d["download_url"].(string), nil)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("DELETE of an export = %d, want 405", resp.StatusCode)
	}
	if resp := e.put(d["download_url"].(string), []byte("x"), nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("PUT to a download URL = %d, want 405", resp.StatusCode)
	}
}

// BenchmarkDownload serves a 256 MiB dump over loopback per iteration.
func BenchmarkDownload(b *testing.B) {
	const size = 256 << 20
	e := newEnv(b, Options{DumpSize: size})
	_, d := e.exportDone("/sites/12345")
	u := d["download_url"].(string)
	buf := make([]byte, 256<<10)
	b.SetBytes(size)
	for b.Loop() {
		resp, err := e.srv.Client().Get(u)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.CopyBuffer(io.Discard, resp.Body, buf)
		resp.Body.Close()
		if err != nil || n != size {
			b.Fatalf("read %d bytes: %v", n, err)
		}
	}
}
