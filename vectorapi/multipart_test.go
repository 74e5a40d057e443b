package vectorapi

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
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

// s3Parts is an S3 stand-in for the part URLs of multipart sessions: it
// checks each PUT's signature and headers, records the part and answers
// its MD5 as a quoted ETag, as S3 does; queued faults make parts fail.
type s3Parts struct {
	srv *httptest.Server

	mu      sync.Mutex
	parts   map[int][]byte
	puts    map[int]int // PUTs per part number, failed ones included
	headers []http.Header
	faults  map[int][]partFault
}

// partFault is one failure of a part's PUT.
type partFault struct {
	readFirst int64 // body bytes read before failing
	status    int   // answer this status...
	hangup    bool  // ...or close the connection unanswered
	noETag    bool  // answer 200 without an ETag
	body      string
}

func newS3Parts(t testing.TB) *s3Parts {
	t.Helper()
	s := &s3Parts{parts: map[int][]byte{}, puts: map[int]int{}, faults: map[int][]partFault{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *s3Parts) serve(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n, err := strconv.Atoi(q.Get("partNumber"))
	switch {
	case r.Method != http.MethodPut || err != nil || q.Get("uploadId") != "up1":
		s3Error(w, http.StatusNotFound, "NoSuchUpload", "The specified upload does not exist")
		return
	case r.Header.Get("Authorization") != "":
		s3Error(w, http.StatusBadRequest, "InvalidArgument", "Only one auth mechanism allowed")
		return
	case q.Get("X-Amz-Signature") != testSig:
		s3Error(w, http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match")
		return
	}
	s.mu.Lock()
	s.puts[n]++
	s.headers = append(s.headers, r.Header.Clone())
	var f *partFault
	if q := s.faults[n]; len(q) > 0 {
		f = &q[0]
		s.faults[n] = q[1:]
	}
	s.mu.Unlock()
	if f != nil && !f.noETag {
		_, _ = io.CopyN(io.Discard, r.Body, f.readFirst)
		if f.hangup {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		w.Header().Set("Connection", "close")
		w.WriteHeader(f.status)
		io.WriteString(w, f.body)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil || int64(len(body)) != r.ContentLength {
		s3Error(w, http.StatusBadRequest, "IncompleteBody", "You did not provide the number of bytes specified by the Content-Length HTTP header")
		return
	}
	sum := md5.Sum(body)
	s.mu.Lock()
	s.parts[n] = body
	s.mu.Unlock()
	if f == nil {
		w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
	}
	w.WriteHeader(http.StatusOK)
}

func (s *s3Parts) url(n int) string {
	return fmt.Sprintf("%s/s3/imports/imp_1.sql?partNumber=%d&uploadId=up1&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=%s", s.srv.URL, n, testSig)
}

// session is a multipart session of count parts of partSize bytes.
func (s *s3Parts) session(count int, size, partSize int64) ImportSession {
	sess := ImportSession{ID: "imp_1", Multipart: true, UploadID: "up1", PartCount: count, ContentLength: size, PartSize: partSize}
	for n := 1; n <= count; n++ {
		sess.Parts = append(sess.Parts, UploadPart{Number: n, URL: s.url(n)})
	}
	return sess
}

func (s *s3Parts) queue(part int, fs ...partFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[part] = append(s.faults[part], fs...)
}

// assembled returns the stored parts 1..n joined.
func (s *s3Parts) assembled(n int) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b []byte
	for i := 1; i <= n; i++ {
		b = append(b, s.parts[i]...)
	}
	return b
}

func (s *s3Parts) putCounts(n int) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]int, n)
	for i := range out {
		out[i] = s.puts[i+1]
	}
	return out
}

func partsClient(t testing.TB, logs *logBuffer) *Client {
	t.Helper()
	c, err := New(Options{Token: testToken, RetryBaseDelay: time.Millisecond, RetryMaxDelay: 5 * time.Millisecond,
		Timeout: 5 * time.Second, Logger: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// multipartDump is size bytes of SQL-looking text that differs along its
// length, so that a part sent in the wrong place shows.
func multipartDump(size int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "INSERT INTO t VALUES (%d);\n", i)
	}
	return b.Bytes()[:size]
}

func etagOf(b []byte) string {
	sum := md5.Sum(b)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

func TestUploadParts(t *testing.T) {
	const partSize = 64 << 10
	data := multipartDump(2*partSize + 1000)
	s3 := newS3Parts(t)
	logs := &logBuffer{}
	c := partsClient(t, logs)
	parts, err := c.UploadParts(t.Context(), s3.session(3, int64(len(data)), partSize), bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	want := []CompletedPart{
		{1, etagOf(data[:partSize])},
		{2, etagOf(data[partSize : 2*partSize])},
		{3, etagOf(data[2*partSize:])},
	}
	if diff := cmp.Diff(want, parts); diff != "" {
		t.Errorf("UploadParts (-want +got):\n%s", diff)
	}
	if got := s3.assembled(3); !bytes.Equal(got, data) {
		t.Errorf("the parts hold %d bytes that differ from the %d bytes of the dump", len(got), len(data))
	}
	for i, h := range s3.headers {
		wantLen := strconv.Itoa(partSize)
		if i == 2 {
			wantLen = "1000"
		}
		if h.Get("Authorization") != "" || h.Get("Content-Length") != wantLen || h.Get("Content-Type") != "application/sql" {
			t.Errorf("PUT %d: Authorization %q, Content-Length %q, Content-Type %q; want none, %s, application/sql",
				i+1, h.Get("Authorization"), h.Get("Content-Length"), h.Get("Content-Type"), wantLen)
		}
	}
	assertNoSecret(t, "logs", logs.String())
}

// TestUploadPartsRetries: a part that fails is sent again from its start
// when the body can seek back, and the dump arrives whole.
func TestUploadPartsRetries(t *testing.T) {
	const partSize = 64 << 10
	data := multipartDump(2*partSize + 1000)
	expired := partFault{status: 403, body: "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"}
	tests := []struct {
		name     string
		stream   bool // the body cannot seek
		faults   map[int][]partFault
		wantPuts []int
		wantErr  string
		wantIs   error
	}{
		{name: "500 before the body", faults: map[int][]partFault{2: {{status: 500}}}, wantPuts: []int{1, 2, 1}},
		{name: "500 after half the part", faults: map[int][]partFault{2: {{status: 500, readFirst: partSize / 2}}}, wantPuts: []int{1, 2, 1}},
		{name: "connection lost in the part", faults: map[int][]partFault{1: {{hangup: true, readFirst: 20 << 10}}}, wantPuts: []int{2, 1, 1}},
		{name: "503 twice in the last part", faults: map[int][]partFault{3: {{status: 503}, {status: 503, readFirst: 500}}}, wantPuts: []int{1, 1, 3}},
		{name: "stream is not replayed", stream: true, faults: map[int][]partFault{2: {{status: 500, readFirst: partSize / 2}}},
			wantPuts: []int{1, 1, 0}, wantErr: "upload part 2 of 3 of import imp_1 to http://"},
		{name: "expired part URL", faults: map[int][]partFault{2: {expired}},
			wantPuts: []int{1, 1, 0}, wantErr: "Request has expired", wantIs: ErrURLExpired},
		{name: "no ETag", faults: map[int][]partFault{1: {{noETag: true}}}, wantPuts: []int{1, 0, 0}, wantErr: "without an ETag"},
		{name: "retries run out", faults: map[int][]partFault{1: {{status: 500}, {status: 500}, {status: 500}, {status: 500}, {status: 500}}},
			wantPuts: []int{1 + DefaultMaxRetries, 0, 0}, wantErr: "HTTP 500"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s3 := newS3Parts(t)
			for part, fs := range tc.faults {
				s3.queue(part, fs...)
			}
			logs := &logBuffer{}
			c := partsClient(t, logs)
			var body io.Reader = bytes.NewReader(data)
			if tc.stream {
				body = onlyReader{body}
			}
			parts, err := c.UploadParts(t.Context(), s3.session(3, int64(len(data)), partSize), body, int64(len(data)))
			if diff := cmp.Diff(tc.wantPuts, s3.putCounts(3)); diff != "" {
				t.Errorf("PUTs per part (-want +got):\n%s", diff)
			}
			assertNoSecret(t, "logs", logs.String())
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got := s3.assembled(3); !bytes.Equal(got, data) || len(parts) != 3 {
					t.Errorf("%d parts reported; the stored parts differ from the dump", len(parts))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("UploadParts error = %v, want it to contain %q", err, tc.wantErr)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("error %v does not match %v", err, tc.wantIs)
			}
			assertNoSecret(t, "error", err.Error())
		})
	}
}

// seekLog records the seeks of a body.
type seekLog struct {
	*bytes.Reader
	seeks []int64
}

func (s *seekLog) Seek(offset int64, whence int) (int64, error) {
	pos, err := s.Reader.Seek(offset, whence)
	s.seeks = append(s.seeks, pos)
	return pos, err
}

// TestUploadPartsSeeksToEachPart: each part starts with a seek to its
// start, a retried part with another, relative to where the body stood.
func TestUploadPartsSeeksToEachPart(t *testing.T) {
	const partSize = 1000
	data := multipartDump(10 + 2*partSize + 10)
	s3 := newS3Parts(t)
	s3.queue(2, partFault{status: 500, readFirst: 100})
	body := &seekLog{Reader: bytes.NewReader(data)}
	if _, err := body.Reader.Seek(10, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	size := int64(len(data) - 10)
	if _, err := partsClient(t, &logBuffer{}).UploadParts(t.Context(), s3.session(3, size, partSize), body, size); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int64{10, 10, 1010, 1010, 2010}, body.seeks); diff != "" {
		t.Errorf("seek positions (-want +got):\n%s", diff)
	}
	if got := s3.assembled(3); !bytes.Equal(got, data[10:]) {
		t.Errorf("the parts differ from the dump after its first 10 bytes")
	}
}

// TestUploadPartsLayout: how a dump is split into a session's parts, and
// sessions whose parts cannot hold it, refused before anything is sent.
func TestUploadPartsLayout(t *testing.T) {
	urls := func(n int) []UploadPart {
		var ps []UploadPart
		for i := 1; i <= n; i++ {
			ps = append(ps, UploadPart{Number: i, URL: fmt.Sprintf("https://s3.example/k?partNumber=%d", i)})
		}
		return ps
	}
	sized := func(sizes ...int64) []UploadPart {
		ps := urls(len(sizes))
		for i := range ps {
			ps[i].Size = sizes[i]
		}
		return ps
	}
	const mib = 1 << 20
	tests := []struct {
		name    string
		s       ImportSession
		size    int64
		want    []int64 // part lengths
		wantErr string
	}{
		{name: "100 MiB parts", s: ImportSession{PartCount: 3, Parts: urls(3)}, size: 300_000_000,
			want: []int64{100 * mib, 100 * mib, 300_000_000 - 200*mib}},
		{name: "exactly two parts", s: ImportSession{PartCount: 2, Parts: urls(2)}, size: 200 * mib, want: []int64{100 * mib, 100 * mib}},
		{name: "part size given", s: ImportSession{PartCount: 3, PartSize: 1000, Parts: urls(3)}, size: 2001, want: []int64{1000, 1000, 1}},
		{name: "part sizes given", s: ImportSession{PartCount: 2, Parts: sized(7, 3)}, size: 10, want: []int64{7, 3}},
		{name: "even split when 100 MiB does not fit the count", s: ImportSession{PartCount: 30, Parts: urls(30)}, size: 150 << 30,
			want: func() []int64 {
				l := make([]int64, 30)
				for i := range l {
					l[i] = 5 << 30
				}
				return l
			}()},
		{name: "count from the list", s: ImportSession{Parts: urls(2)}, size: 101 * mib, want: []int64{100 * mib, mib}},
		{name: "parts listed out of order", s: ImportSession{PartCount: 2, Parts: []UploadPart{urls(2)[1], urls(2)[0]}}, size: 150 * mib,
			want: []int64{100 * mib, 50 * mib}},
		{name: "the OpenAPI example: one URL for 30 parts", s: ImportSession{PartCount: 30, Parts: urls(1)}, size: 3000 * mib,
			wantErr: "the session lists upload URLs for 1 of its 30 parts (none for part 2, 3, 4, 5, 6, …)"},
		{name: "other content length", s: ImportSession{PartCount: 2, Parts: urls(2), ContentLength: 5}, size: 6,
			wantErr: "the session was created for 5 bytes, the dump has 6"},
		{name: "part number out of range", s: ImportSession{PartCount: 1, Parts: urls(2)}, size: 10, wantErr: "a URL for part 2 of 1 parts"},
		{name: "part listed twice", s: ImportSession{PartCount: 2, Parts: []UploadPart{urls(1)[0], urls(1)[0]}}, size: 10, wantErr: "two URLs for part 1"},
		{name: "part sizes do not add up", s: ImportSession{PartCount: 2, Parts: sized(7, 4)}, size: 10, wantErr: "parts hold 11 bytes, the dump has 10"},
		{name: "part size too small for the count", s: ImportSession{PartCount: 2, PartSize: 4, Parts: urls(2)}, size: 10, wantErr: "10 bytes do not split into 2 parts of 4 bytes"},
		{name: "too few bytes for the parts", s: ImportSession{PartCount: 4, Parts: urls(4)}, size: 3, wantErr: "3 bytes do not split into 4 parts"},
		{name: "part over 5 GiB", s: ImportSession{PartCount: 2, Parts: urls(2)}, size: 12 << 30, wantErr: "more than storage takes in one part"},
		{name: "no parts", s: ImportSession{}, size: 10, wantErr: "lists no parts"},
		{name: "bad URL", s: ImportSession{PartCount: 1, Parts: []UploadPart{{Number: 1, URL: "/relative?X-Amz-Signature=" + testSig}}}, size: 10,
			wantErr: "the URL of part 1: not an absolute http(s) URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.s.ID, tc.s.Multipart = "imp_1", true
			spans, err := tc.s.layout(tc.size)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("layout = %v, %v; want an error containing %q", spans, err, tc.wantErr)
				}
				assertNoSecret(t, "error", err.Error())
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var lengths []int64
			var next int64
			for i, sp := range spans {
				if sp.number != i+1 || sp.offset != next || sp.url != urls(len(spans))[i].URL {
					t.Errorf("span %d = %+v, want part %d at %d", i, sp, i+1, next)
				}
				next += sp.length
				lengths = append(lengths, sp.length)
			}
			if diff := cmp.Diff(tc.want, lengths); diff != "" {
				t.Errorf("part lengths (-want +got):\n%s", diff)
			}
		})
	}
}

// TestUploadPartsRefusesExampleSession: the OpenAPI example's session (30
// parts, one URL) is refused without a request, naming what is missing.
func TestUploadPartsRefusesExampleSession(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("testdata", "openapi", "import_create_201_created_multipart_upload.json"))
	if err != nil {
		t.Fatal(err)
	}
	env, err := decodeEnvelope(body)
	if err != nil {
		t.Fatal(err)
	}
	s, err := decodeImportSession(env.data)
	if err != nil {
		t.Fatal(err)
	}
	var requests int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { requests++ }))
	defer srv.Close()
	c := partsClient(t, &logBuffer{})
	_, err = c.UploadParts(t.Context(), s, strings.NewReader("x"), s.ContentLength)
	if err == nil || !strings.Contains(err.Error(), "upload import 01jfgxk4nqrst5vwx9yz0abcdh in parts: the session lists upload URLs for 1 of its 30 parts") {
		t.Errorf("UploadParts = %v, want a refusal naming the missing part URLs", err)
	}
	if _, err := c.UploadParts(t.Context(), ImportSession{ID: "imp_1", UploadURL: srv.URL}, strings.NewReader("x"), 1); err == nil || !strings.Contains(err.Error(), "single upload") {
		t.Errorf("UploadParts of a single-upload session = %v, want a refusal", err)
	}
	if requests != 0 {
		t.Errorf("%d requests sent, want none", requests)
	}
}

func TestDecodeMultipartSession(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    ImportSession
		wantErr string
	}{
		{name: "numbers as strings", body: `{"data":{"id":"imp_1","is_multipart":"true","part_count":"2","content_length":"150","upload_id":"u1",
			"upload_parts":[{"part_number":"1","url":"https://s3.example/k?partNumber=1"},{"part_number":"2","url":"https://s3.example/k?partNumber=2"}],
			"upload_expires_at":"2025-01-16T12:00:00+00:00"}}`,
			want: ImportSession{ID: "imp_1", Multipart: true, UploadID: "u1", PartCount: 2, ContentLength: 150, ExpiresAt: utc("2025-01-16T12:00:00Z"),
				Parts: []UploadPart{{1, "https://s3.example/k?partNumber=1", 0}, {2, "https://s3.example/k?partNumber=2", 0}}}},
		{name: "documented spelling, sizes and bare URLs", body: `{"data":{"import_id":7,"is_multipart":1,"part_count":null,"part_size":100,"upload_id":9,"expires_at":"2026-01-24T12:00:00Z",
			"upload_parts":["https://s3.example/a",{"number":2,"upload_url":"https://s3.example/b","size":"50"}]}}`,
			want: ImportSession{ID: "7", Multipart: true, UploadID: "9", PartCount: 2, PartSize: 100, ExpiresAt: utc("2026-01-24T12:00:00Z"),
				Parts: []UploadPart{{1, "https://s3.example/a", 0}, {2, "https://s3.example/b", 50}}}},
		{name: "part number zero", body: `{"data":{"id":"i","is_multipart":true,"upload_parts":[{"part_number":0,"url":"https://s3.example/a"}]}}`,
			wantErr: "upload_parts[0]: part_number 0 is outside 1..10000"},
		{name: "part without url", body: `{"data":{"id":"i","is_multipart":true,"upload_parts":[{"part_number":1,"url":null}]}}`,
			wantErr: "field upload_parts[0]: no url"},
		{name: "null part", body: `{"data":{"id":"i","is_multipart":true,"upload_parts":[null]}}`, wantErr: "field upload_parts[0]: want an object, got null"},
		{name: "part url relative", body: `{"data":{"id":"i","is_multipart":true,"upload_parts":["/k?X-Amz-Signature=` + testSig + `"]}}`,
			wantErr: "field upload_parts[0]: want an absolute http(s) URL"},
		{name: "too many parts", body: `{"data":{"id":"i","is_multipart":true,"part_count":10001,"upload_parts":["https://s3.example/a"]}}`,
			wantErr: "field part_count: 10001 parts"},
		{name: "part count negative", body: `{"data":{"id":"i","is_multipart":true,"part_count":-1,"upload_parts":["https://s3.example/a"]}}`,
			wantErr: "field part_count: want a non-negative integer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env, err := decodeEnvelope([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeImportSession(env.data)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("decode = %+v, %v; want an error containing %q", got, err, tc.wantErr)
				}
				assertNoSecret(t, "error", err.Error())
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("decode (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRunImportParts: the parts go in Run Import's body, in part order.
func TestRunImportParts(t *testing.T) {
	api := newFakeAPI(t)
	c := api.client(t, func(o *Options) { o.Routes = RoutesOpenAPI })
	parts := []CompletedPart{{2, `"b2"`}, {1, `"a1"`}, {3, "c3"}}
	if err := c.RunImport(t.Context(), site, "imp_1", parts...); err != nil {
		t.Fatal(err)
	}
	h := api.served("import_run")[0]
	if got, want := string(h.body), `{"parts":[{"part_number":1,"etag":"\"a1\""},{"part_number":2,"etag":"\"b2\""},{"part_number":3,"etag":"c3"}]}`; got != want {
		t.Errorf("run body = %s, want %s", got, want)
	}
	if ct := h.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if err := c.RunImport(t.Context(), site, "imp_1"); err != nil {
		t.Fatal(err)
	}
	if b := api.served("import_run")[1].body; len(b) != 0 {
		t.Errorf("run without parts sent body %q, want none", b)
	}
	for _, bad := range [][]CompletedPart{
		{{0, `"a"`}},
		{{1, `"a"`}, {1, `"b"`}},
		{{1, " "}},
	} {
		if err := c.RunImport(t.Context(), site, "imp_1", bad...); err == nil {
			t.Errorf("RunImport(%v) succeeded, want a refusal", bad)
		}
	}
	if n := len(api.served("import_run")); n != 2 {
		t.Errorf("%d run requests, want 2 (refused parts send nothing)", n)
	}
}

// TestMultipartImportLifecycle: create a session that asks for parts,
// upload them, run the import with their ETags.
func TestMultipartImportLifecycle(t *testing.T) {
	const partSize = 32 << 10
	data := multipartDump(3*partSize - 7)
	s3 := newS3Parts(t)
	s3.queue(2, partFault{status: 503, readFirst: 1000})
	api := newFakeAPI(t)
	var urls []string
	for n := 1; n <= 3; n++ {
		urls = append(urls, fmt.Sprintf(`{"part_number":%d,"url":%q}`, n, s3.url(n)))
	}
	api.queue("import_create", fault{status: 201, header: map[string]string{"Content-Type": "application/json"},
		body: fmt.Sprintf(`{"data":{"id":"imp_1","status":"pending","content_length":%d,"is_multipart":true,"part_count":3,"upload_id":"up1","upload_parts":[%s],"upload_expires_at":"2025-01-16T12:00:00+00:00"},"http_status":201}`,
			len(data), strings.Join(urls, ","))})
	logs := &logBuffer{}
	c := api.client(t, func(o *Options) { o.Routes = RoutesOpenAPI; o.Logger = logs.logger() })
	s, err := c.CreateImportFile(t.Context(), site, "big.sql", int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if !s.Multipart || s.PartCount != 3 || len(s.Parts) != 3 {
		t.Fatalf("session = %+v, want 3 parts", s)
	}
	s.PartSize = partSize // the test's parts are small; the API's are 100 MiB
	parts, err := c.UploadParts(t.Context(), s, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.RunImport(t.Context(), site, s.ID, parts...); err != nil {
		t.Fatal(err)
	}
	if got := s3.assembled(3); !bytes.Equal(got, data) {
		t.Error("the stored parts differ from the dump")
	}
	wantBody := fmt.Sprintf(`{"parts":[{"part_number":1,"etag":%q},{"part_number":2,"etag":%q},{"part_number":3,"etag":%q}]}`,
		etagOf(data[:partSize]), etagOf(data[partSize:2*partSize]), etagOf(data[2*partSize:]))
	if got := string(api.served("import_run")[0].body); got != wantBody {
		t.Errorf("run body = %s, want %s", got, wantBody)
	}
	if !strings.Contains(logs.String(), "retrying vector api request") {
		t.Errorf("the retried part was not logged; logs:\n%s", logs)
	}
	assertNoSecret(t, "logs", logs.String())
}
