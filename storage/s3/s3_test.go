package s3_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/builtfast/vectord/storage"
	"github.com/builtfast/vectord/storage/s3"
	"github.com/builtfast/vectord/storage/storagetest"
)

// server describes the S3 server the tests run against, started by
// scripts/s3server.sh.
type server struct {
	endpoint, region, bucket, access, secret string
}

// needServer returns the server named by the VECTORD_S3_* variables. Without
// them the test is skipped, unless CI is set: in CI a silently skipped S3
// suite is a failure.
func needServer(t testing.TB) server {
	t.Helper()
	s := server{
		endpoint: os.Getenv("VECTORD_S3_ENDPOINT"),
		region:   os.Getenv("VECTORD_S3_REGION"),
		bucket:   os.Getenv("VECTORD_S3_BUCKET"),
		access:   os.Getenv("VECTORD_S3_ACCESS_KEY"),
		secret:   os.Getenv("VECTORD_S3_SECRET_KEY"),
	}
	if s.endpoint == "" || s.bucket == "" || s.access == "" || s.secret == "" {
		const msg = `no S3 server: run eval "$(scripts/s3server.sh start)" first`
		if os.Getenv("CI") != "" {
			t.Fatal(msg + " (CI is set, so the S3 tests may not be skipped)")
		}
		t.Skip(msg)
	}
	if s.region == "" {
		s.region = "us-east-1"
	}
	return s
}

// options returns Options for the server with a fresh prefix.
func (s server) options(t testing.TB) s3.Options {
	t.Helper()
	return s3.Options{
		Endpoint:        s.endpoint,
		Region:          s.region,
		Bucket:          s.bucket,
		Prefix:          "test-" + randomHex(t, 6) + "/",
		AccessKeyID:     s.access,
		SecretAccessKey: s.secret,
		ForcePathStyle:  true,
	}
}

// client returns a plain client of the server, to look behind a Target's
// back.
func (s server) client(t testing.TB) *minio.Client {
	t.Helper()
	u, err := url.Parse(s.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	c, err := minio.New(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(s.access, s.secret, ""),
		Secure:       u.Scheme == "https",
		Region:       s.region,
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newTarget returns a Target for opts and removes everything stored under
// its prefix at the end of the test.
func newTarget(t testing.TB, s server, opts s3.Options) *s3.Target {
	t.Helper()
	tg, err := s3.New(opts)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		c := s.client(t)
		for oi := range c.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Prefix: opts.Prefix, Recursive: true}) {
			if oi.Err == nil {
				_ = c.RemoveObject(ctx, s.bucket, oi.Key, minio.RemoveObjectOptions{})
			}
		}
		_, _ = tg.AbortIncomplete(ctx, time.Now().Add(time.Hour))
	})
	return tg
}

func TestConformance(t *testing.T) {
	s := needServer(t)
	storagetest.Run(t, func(t *testing.T) storage.Target {
		return newTarget(t, s, s.options(t))
	})
}

// TestConformanceSmallParts runs the suite with the smallest part size, so
// that its 5 MiB objects take several parts.
func TestConformanceSmallParts(t *testing.T) {
	s := needServer(t)
	storagetest.Run(t, func(t *testing.T) storage.Target {
		opts := s.options(t)
		opts.PartSize = s3.MinPartSize
		return newTarget(t, s, opts)
	})
}

func TestPrefix(t *testing.T) {
	s := needServer(t)
	ctx := t.Context()
	base := s.options(t).Prefix
	outer := s.options(t)
	outer.Prefix = strings.TrimSuffix(base, "/") // a "/" is added
	inner := s.options(t)
	inner.Prefix = base + "inner/"
	sibling := s.options(t)
	sibling.Prefix = strings.TrimSuffix(base, "/") + "-sibling/"
	to, ti, ts := newTarget(t, s, outer), newTarget(t, s, inner), newTarget(t, s, sibling)

	put(t, ti, "acme/production/a.sql", []byte("inner"))
	put(t, ts, "acme/production/a.sql", []byte("sibling"))
	put(t, to, "acme/production/b.sql", []byte("outer"))

	// Stored under prefix + key, where a plain client finds them.
	c := s.client(t)
	for key, want := range map[string]string{
		base + "inner/acme/production/a.sql":                             "inner",
		strings.TrimSuffix(base, "/") + "-sibling/acme/production/a.sql": "sibling",
		base + "acme/production/b.sql":                                   "outer",
	} {
		obj, err := c.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatalf("GetObject(%q) = %v", key, err)
		}
		got, err := io.ReadAll(obj)
		obj.Close()
		if err != nil || string(got) != want {
			t.Errorf("object %q = %q, %v; want %q", key, got, err, want)
		}
	}
	// Each Target lists its own prefix only, with keys relative to it.
	checkKeys(t, ti, "", "acme/production/a.sql")
	checkKeys(t, ts, "", "acme/production/a.sql")
	checkKeys(t, to, "", "acme/production/b.sql", "inner/acme/production/a.sql")

	if got, want := to.URI("acme/production/b.sql"), "s3://"+s.bucket+"/"+base+"acme/production/b.sql"; got != want {
		t.Errorf("URI() = %q, want %q", got, want)
	}
	// A key outside the prefix cannot be reached.
	if _, err := ti.Stat(ctx, "../acme/production/b.sql"); !errors.Is(err, storage.ErrInvalidKey) {
		t.Errorf("Stat(../...) = %v, want an error matching ErrInvalidKey", err)
	}
}

// TestNoPrefix stores at the top of a bucket of its own.
func TestNoPrefix(t *testing.T) {
	s := needServer(t)
	ctx := t.Context()
	c := s.client(t)
	s.bucket = "vectord-" + randomHex(t, 6)
	if err := c.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: s.region}); err != nil {
		t.Fatalf("MakeBucket() = %v", err)
	}
	// Cleanups run last first: this one after newTarget's emptied the bucket.
	t.Cleanup(func() {
		if err := c.RemoveBucket(context.Background(), s.bucket); err != nil {
			t.Errorf("RemoveBucket() = %v", err)
		}
	})
	opts := s.options(t)
	opts.Prefix = ""
	tg := newTarget(t, s, opts)

	put(t, tg, "acme/production/a.sql", []byte("x"))
	checkKeys(t, tg, "", "acme/production/a.sql")
	checkKeys(t, tg, "acme/", "acme/production/a.sql")
	if got, want := tg.URI("acme/production/a.sql"), "s3://"+s.bucket+"/acme/production/a.sql"; got != want {
		t.Errorf("URI() = %q, want %q", got, want)
	}
	if _, err := c.StatObject(ctx, s.bucket, "acme/production/a.sql", minio.StatObjectOptions{}); err != nil {
		t.Errorf("StatObject(acme/production/a.sql) = %v", err)
	}
}

func TestCheck(t *testing.T) {
	s := needServer(t)
	if err := newTarget(t, s, s.options(t)).Check(t.Context()); err != nil {
		t.Errorf("Check() = %v", err)
	}
	opts := s.options(t)
	opts.Bucket = "vectord-missing-" + randomHex(t, 4)
	tg, err := s3.New(opts)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	err = tg.Check(t.Context())
	if err == nil || !strings.Contains(err.Error(), "no such bucket") {
		t.Errorf("Check() of a missing bucket = %v, want an error saying no such bucket", err)
	}
}

// TestWrongCredentials checks that refused credentials give a clear error
// that never shows the secret, and store nothing.
func TestWrongCredentials(t *testing.T) {
	s := needServer(t)
	ctx := t.Context()
	good := s.options(t)
	tests := []struct {
		name   string
		modify func(*s3.Options)
		// versitygw answers HEAD requests with an unknown access key with a
		// bodiless 404, which cannot be told from a missing object.
		headAmbiguous bool
	}{
		{"wrong secret", func(o *s3.Options) { o.SecretAccessKey = "wrong-" + randomHex(t, 16) }, false},
		{"unknown access key", func(o *s3.Options) { o.AccessKeyID = "nobody" + randomHex(t, 4) }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := good
			tt.modify(&opts)
			tg := newTarget(t, s, opts)
			checkErr := func(what string, err error) {
				t.Helper()
				if err == nil {
					t.Errorf("%s with %s = nil error, want an error", what, tt.name)
					return
				}
				msg := err.Error()
				if !strings.HasPrefix(msg, "s3: ") || !strings.Contains(msg, "check the") || !strings.Contains(msg, "credentials") && !strings.Contains(msg, "secret access key") {
					t.Errorf("%s with %s = %q, want an error starting %q telling to check the credentials", what, tt.name, msg, "s3: ")
				}
				if strings.Contains(msg, opts.SecretAccessKey) || strings.Contains(msg, s.secret) {
					t.Errorf("%s error %q contains a secret key", what, msg)
				}
			}
			checkErr("Check()", tg.Check(ctx))
			if !tt.headAmbiguous {
				_, err := tg.Stat(ctx, "acme/production/a.sql")
				if errors.Is(err, storage.ErrNotExist) {
					t.Errorf("Stat() with %s = %v, must not match ErrNotExist", tt.name, err)
				}
				checkErr("Stat()", err)
			}
			_, err := tg.List(ctx, "")
			checkErr("List()", err)

			w, err := tg.Create(ctx, "acme/production/a.sql")
			if err != nil {
				t.Fatalf("Create() = %v", err)
			}
			defer w.Abort()
			_, err = w.Write([]byte("data"))
			if err == nil {
				_, err = w.Commit(ctx)
			}
			checkErr("Write() or Commit()", err)
			if err := w.Abort(); err != nil {
				t.Errorf("Abort() = %v", err)
			}
			checkKeys(t, newTarget(t, s, good), "")
		})
	}
}

// TestAbortLeavesNothing checks that an aborted upload, with parts already
// sent, leaves no object and no pending multipart upload.
func TestAbortLeavesNothing(t *testing.T) {
	s := needServer(t)
	opts := s.options(t)
	opts.PartSize = s3.MinPartSize
	tg := newTarget(t, s, opts)
	const key = "acme/production/aborted.sql.zst"

	tests := []struct {
		name string
		end  func(t *testing.T, w storage.Writer)
	}{
		{"abort", func(t *testing.T, w storage.Writer) {
			if err := w.Abort(); err != nil {
				t.Fatalf("Abort() = %v", err)
			}
		}},
		{"commit canceled", func(t *testing.T, w storage.Writer) {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			if _, err := w.Commit(ctx); !errors.Is(err, context.Canceled) {
				t.Errorf("Commit() with a canceled context = %v, want an error matching context.Canceled", err)
			}
			if err := w.Abort(); err != nil {
				t.Fatalf("Abort() = %v", err)
			}
		}},
		{"create canceled", func(t *testing.T, w storage.Writer) {
			// The writer was created under a context canceled below.
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			w, err := tg.Create(ctx, key)
			if err != nil {
				t.Fatalf("Create() = %v", err)
			}
			defer w.Abort()
			for range 3 { // two full parts sent, one buffered
				if _, err := w.Write(pattern(4<<20, 1)); err != nil {
					t.Fatalf("Write() = %v", err)
				}
			}
			// A part still in flight when the upload is aborted may be
			// stored after the abort (S3 allows that, and versitygw does
			// it): wait until the parts have arrived.
			waitForParts(t, s, opts.Prefix+key, 2*s3.MinPartSize)
			if tt.name == "create canceled" {
				cancel()
				var err error
				for err == nil { // fails once the cancellation reached the upload
					_, err = w.Write(pattern(1<<20, 2))
				}
				if !errors.Is(err, context.Canceled) {
					t.Errorf("Write() after the context ended = %v, want an error matching context.Canceled", err)
				}
				if _, err := w.Commit(t.Context()); err == nil {
					t.Errorf("Commit() after the context ended = nil error, want an error")
				}
				if err := w.Abort(); err != nil {
					t.Fatalf("Abort() = %v", err)
				}
			}
			tt.end(t, w)
			checkMissing(t, tg, key)
			checkKeys(t, tg, "")
			checkUploads(t, s, opts.Prefix, 0)
		})
	}
}

func TestAbortIncomplete(t *testing.T) {
	s := needServer(t)
	ctx := t.Context()
	opts := s.options(t)
	opts.PartSize = s3.MinPartSize
	tg := newTarget(t, s, opts)
	const key = "acme/production/crashed.sql.zst"

	// A writer that is never finished stands for one a crash interrupted.
	w, err := tg.Create(ctx, key)
	if err != nil {
		t.Fatalf("Create() = %v", err)
	}
	defer w.Abort()
	if _, err := w.Write(pattern(6<<20, 3)); err != nil {
		t.Fatalf("Write() = %v", err)
	}
	// A part still in flight may survive an abort: wait until it arrived.
	waitForParts(t, s, opts.Prefix+key, s3.MinPartSize)

	aborted, err := tg.AbortIncomplete(ctx, time.Now().Add(-time.Hour))
	if err != nil || len(aborted) != 0 {
		t.Errorf("AbortIncomplete(an hour ago) = %q, %v; want nothing aborted", aborted, err)
	}
	checkUploads(t, s, opts.Prefix, 1)

	aborted, err = tg.AbortIncomplete(ctx, time.Now().Add(time.Minute))
	if err != nil || !cmp.Equal(aborted, []string{key}) {
		t.Errorf("AbortIncomplete(now) = %q, %v; want [%q]", aborted, err, key)
	}
	checkUploads(t, s, opts.Prefix, 0)
	if _, err := w.Commit(ctx); err == nil {
		t.Errorf("Commit() of an aborted upload = nil error, want an error")
	}
	checkMissing(t, tg, key)
	if err := w.Abort(); err != nil {
		t.Errorf("Abort() = %v", err)
	}
}

// TestStorageClass checks that the configured storage class reaches the
// server with the upload.
func TestStorageClass(t *testing.T) {
	s := needServer(t)
	rec := &recorder{}
	opts := s.options(t)
	opts.StorageClass = "STANDARD_IA"
	opts.Transport = rec
	tg := newTarget(t, s, opts)
	const key = "acme/production/a.sql.zst"
	put(t, tg, key, []byte("backup"))

	if got := rec.header(http.MethodPost, "uploads", "X-Amz-Storage-Class"); got != "STANDARD_IA" {
		t.Errorf("upload sent x-amz-storage-class %q, want %q", got, "STANDARD_IA")
	}
	oi, err := s.client(t).StatObject(t.Context(), s.bucket, opts.Prefix+key, minio.StatObjectOptions{})
	if err != nil {
		t.Fatalf("StatObject() = %v", err)
	}
	// Servers without storage classes (versitygw) report none.
	if oi.StorageClass != "STANDARD_IA" && oi.StorageClass != "" {
		t.Errorf("stored object's storage class = %q, want %q", oi.StorageClass, "STANDARD_IA")
	}
}

// TestSSE checks that "sse: s3" asks the server to encrypt the upload.
func TestSSE(t *testing.T) {
	s := needServer(t)
	rec := &recorder{}
	opts := s.options(t)
	opts.SSE = "s3"
	opts.Transport = rec
	tg := newTarget(t, s, opts)
	put(t, tg, "acme/production/a.sql.zst", []byte("backup"))
	if got := rec.header(http.MethodPost, "uploads", "X-Amz-Server-Side-Encryption"); got != "AES256" {
		t.Errorf("upload sent x-amz-server-side-encryption %q, want %q", got, "AES256")
	}
}

// TestPathStyle addresses the server by host name, as path style needs.
func TestPathStyle(t *testing.T) {
	s := needServer(t)
	u, err := url.Parse(s.endpoint)
	if err != nil {
		t.Fatal(err)
	}
	if u.Hostname() != "127.0.0.1" {
		t.Skipf("endpoint %s is not on 127.0.0.1", s.endpoint)
	}
	rec := &recorder{}
	opts := s.options(t)
	opts.Endpoint = u.Scheme + "://localhost:" + u.Port()
	opts.Transport = rec
	tg := newTarget(t, s, opts)
	put(t, tg, "acme/production/a.sql", []byte("x"))
	checkKeys(t, tg, "", "acme/production/a.sql")
	for _, r := range rec.all() {
		if r.host != "localhost:"+u.Port() || !strings.HasPrefix(r.path, "/"+s.bucket+"/") {
			t.Errorf("%s request to host %q path %q, want host %q and a path starting /%s/", r.method, r.host, r.path, "localhost:"+u.Port(), s.bucket)
		}
	}
}

// TestBucketAddressing checks, without a server, how the bucket is
// addressed at AWS with and without force_path_style.
func TestBucketAddressing(t *testing.T) {
	tests := []struct {
		forcePathStyle bool
		host, path     string
	}{
		{false, "acme-backups.s3.us-east-1.amazonaws.com", "/vectord/acme/production/a.sql"},
		{true, "s3.us-east-1.amazonaws.com", "/acme-backups/vectord/acme/production/a.sql"},
	}
	for _, tt := range tests {
		rec := &recorder{respond: func(*http.Request) *http.Response {
			return &http.Response{StatusCode: http.StatusNotFound, Header: http.Header{}, Body: http.NoBody}
		}}
		tg, err := s3.New(s3.Options{
			Endpoint:        "https://s3.us-east-1.amazonaws.com",
			Region:          "us-east-1",
			Bucket:          "acme-backups",
			Prefix:          "vectord/",
			AccessKeyID:     "AKIAEXAMPLE",
			SecretAccessKey: "secret",
			ForcePathStyle:  tt.forcePathStyle,
			Transport:       rec,
		})
		if err != nil {
			t.Fatalf("New() = %v", err)
		}
		if _, err := tg.Stat(t.Context(), "acme/production/a.sql"); !errors.Is(err, storage.ErrNotExist) {
			t.Errorf("Stat() answered 404 = %v, want an error matching ErrNotExist", err)
		}
		reqs := rec.all()
		if len(reqs) != 1 || reqs[0].host != tt.host || reqs[0].path != tt.path {
			t.Errorf("ForcePathStyle %v: requests %+v, want one to host %q path %q", tt.forcePathStyle, reqs, tt.host, tt.path)
		}
	}
}

// TestCommitChecksStoredObject makes the server seem to have stored other
// bytes than were written, and checks that Commit fails and removes the
// object.
func TestCommitChecksStoredObject(t *testing.T) {
	s := needServer(t)
	head := func(tamper func(h http.Header)) func(*http.Request, *http.Response) {
		return func(req *http.Request, resp *http.Response) {
			if req.Method == http.MethodHead && resp.StatusCode == http.StatusOK {
				tamper(resp.Header)
			}
		}
	}
	tests := []struct {
		name    string
		size    int
		modify  func(*http.Request, *http.Response)
		wantErr string
	}{
		{"stored crc64nvme", 1 << 20, head(func(h http.Header) {
			h.Set("X-Amz-Checksum-Crc64nvme", "AAAAAAAAAAA=")
		}), "check uploaded object: its CRC-64/NVME checksum is AAAAAAAAAAA="},
		{"stored multipart etag", 11 << 20, head(func(h http.Header) {
			dropChecksums(h)
			h.Set("Etag", `"0123456789abcdef0123456789abcdef-3"`)
		}), "check uploaded object: its ETag is 0123456789abcdef0123456789abcdef-3"},
		{"stored size", 3 << 20, func(req *http.Request, resp *http.Response) {
			if req.Method == http.MethodHead && resp.StatusCode == http.StatusOK {
				resp.Header.Set("Content-Length", "17")
				resp.ContentLength = 17
			}
		}, "holds 17 bytes"},
		{"completion crc64nvme", 6 << 20, func(req *http.Request, resp *http.Response) {
			if req.Method != http.MethodPost || !req.URL.Query().Has("uploadId") || resp.StatusCode != http.StatusOK {
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = regexp.MustCompile(`<ChecksumCRC64NVME>[^<]*</ChecksumCRC64NVME>`).
				ReplaceAll(body, []byte("<ChecksumCRC64NVME>AAAAAAAAAAA=</ChecksumCRC64NVME>"))
			resp.Body = io.NopCloser(bytes.NewReader(body))
			resp.ContentLength = int64(len(body))
			resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
		}, "check completed upload: its CRC-64/NVME checksum is AAAAAAAAAAA="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := s.options(t)
			opts.PartSize = s3.MinPartSize
			opts.Transport = &recorder{modify: tt.modify}
			tg := newTarget(t, s, opts)
			const key = "acme/production/a.sql.zst"
			w, err := tg.Create(t.Context(), key)
			if err != nil {
				t.Fatalf("Create() = %v", err)
			}
			defer w.Abort()
			if _, err := w.Write(pattern(tt.size, 4)); err != nil {
				t.Fatalf("Write() = %v", err)
			}
			_, err = w.Commit(t.Context())
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Commit() of a mismatching object = %v, want an error mentioning %q", err, tt.wantErr)
			}
			if err := w.Abort(); err != nil {
				t.Errorf("Abort() = %v", err)
			}
			plain := opts
			plain.Transport = nil
			checkMissing(t, newTarget(t, s, plain), key)
			checkUploads(t, s, opts.Prefix, 0)
		})
	}
}

// TestMultipartETag checks the Writer's idea of the multipart ETag against
// the server's, for objects around the part boundaries, with the server's
// checksums hidden so that the ETag decides.
func TestMultipartETag(t *testing.T) {
	s := needServer(t)
	opts := s.options(t)
	opts.PartSize = s3.MinPartSize
	opts.Transport = &recorder{modify: func(req *http.Request, resp *http.Response) {
		if req.Method == http.MethodHead {
			dropChecksums(resp.Header)
		}
	}}
	tg := newTarget(t, s, opts)
	for _, size := range []int{0, 1, s3.MinPartSize - 1, s3.MinPartSize, s3.MinPartSize + 1, 2*s3.MinPartSize + 3} {
		put(t, tg, "acme/production/a.sql", pattern(size, uint64(size)))
	}
}

// TestLargeObjectBoundedMemory streams 200 MiB and checks that the live
// heap stays within a few parts, then reads the object back.
func TestLargeObjectBoundedMemory(t *testing.T) {
	s := needServer(t)
	if testing.Short() {
		t.Skip("streams 200 MiB")
	}
	ctx := t.Context()
	tg := newTarget(t, s, s.options(t))
	const (
		key   = "acme/production/large.sql.zst"
		size  = 200 << 20
		chunk = 1 << 20
	)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak uint64

	w, err := tg.Create(ctx, key)
	if err != nil {
		t.Fatalf("Create() = %v", err)
	}
	defer w.Abort()
	src := newPatternReader(size, 5)
	buf := make([]byte, chunk)
	start := time.Now()
	for i := 1; ; i++ {
		n, err := src.Read(buf)
		if _, err := w.Write(buf[:n]); err != nil {
			t.Fatalf("Write() = %v", err)
		}
		if err == io.EOF {
			break
		}
		if i%24 == 0 { // the live heap, now and then
			runtime.GC()
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
	}
	info, err := w.Commit(ctx)
	if err != nil {
		t.Fatalf("Commit() = %v", err)
	}
	elapsed := time.Since(start)
	if info.Size != size {
		t.Errorf("Commit() = {Size: %d}, want %d", info.Size, size)
	}
	growth := int64(peak) - int64(base)
	t.Logf("200 MiB in %v; live heap grew by at most %.1f MiB", elapsed.Round(time.Millisecond), float64(growth)/(1<<20))
	if limit := int64(3 * s3.DefaultPartSize); growth > limit {
		t.Errorf("live heap grew by %d bytes while streaming, want at most %d (the parts held, and a little)", growth, limit)
	}

	r, err := tg.Open(ctx, key)
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	defer r.Close()
	if n, err := equalReaders(r, newPatternReader(size, 5)); err != nil {
		t.Errorf("reading back the object: %v (after %d equal bytes)", err, n)
	}
}

// TestOpenEndsWithContext checks that reading an opened object stops when
// its context ends.
func TestOpenEndsWithContext(t *testing.T) {
	s := needServer(t)
	tg := newTarget(t, s, s.options(t))
	const key = "acme/production/a.sql"
	put(t, tg, key, pattern(8<<20, 6))
	ctx, cancel := context.WithCancel(t.Context())
	r, err := tg.Open(ctx, key)
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	defer r.Close()
	if _, err := io.ReadFull(r, make([]byte, 1024)); err != nil {
		t.Fatalf("Read() = %v", err)
	}
	cancel()
	if _, err := io.Copy(io.Discard, r); err == nil {
		t.Errorf("reading after the context ended = nil error, want an error")
	}
}

// BenchmarkUpload streams objects through a Target: copies of the file
// named by VECTORD_S3_BENCH_FILE (see scripts/bench-s3.sh), else of 256 MiB
// of generated bytes, in parts of VECTORD_S3_BENCH_PART_MIB MiB if set. It
// reports the peak heap in use above the start.
func BenchmarkUpload(b *testing.B) {
	s := needServer(b)
	opts := s.options(b)
	if mib := os.Getenv("VECTORD_S3_BENCH_PART_MIB"); mib != "" {
		n, err := strconv.Atoi(mib)
		if err != nil {
			b.Fatalf("VECTORD_S3_BENCH_PART_MIB: %v", err)
		}
		opts.PartSize = int64(n) << 20
	}
	tg := newTarget(b, s, opts)
	name := os.Getenv("VECTORD_S3_BENCH_FILE")
	size := int64(256 << 20)
	if name != "" {
		fi, err := os.Stat(name)
		if err != nil {
			b.Fatal(err)
		}
		size = fi.Size()
	}
	buf := make([]byte, 1<<20)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapInuse, ms.HeapInuse
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		var src io.Reader = newPatternReader(size, 7)
		if name != "" {
			f, err := os.Open(name)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			src = f
		}
		w, err := tg.Create(b.Context(), "bench/object")
		if err != nil {
			b.Fatal(err)
		}
		for n := 0; ; n++ {
			k, rerr := src.Read(buf)
			if _, err := w.Write(buf[:k]); err != nil {
				b.Fatal(err)
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				b.Fatal(rerr)
			}
			if n%16 == 0 {
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
			}
		}
		if _, err := w.Commit(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(peak-base)/(1<<20), "peak-heap-MiB")
}

func TestNewRefusesBadOptions(t *testing.T) {
	good := s3.Options{
		Endpoint: "https://s3.us-east-1.amazonaws.com", Region: "us-east-1", Bucket: "acme-backups",
		AccessKeyID: "AKIAEXAMPLE", SecretAccessKey: "very-secret-key",
	}
	tests := []struct {
		name   string
		modify func(*s3.Options)
		want   string
	}{
		{"no endpoint", func(o *s3.Options) { o.Endpoint = "" }, "endpoint: not set"},
		{"no scheme", func(o *s3.Options) { o.Endpoint = "s3.amazonaws.com" }, "http:// or https://"},
		{"ftp", func(o *s3.Options) { o.Endpoint = "ftp://s3.amazonaws.com" }, "http:// or https://"},
		{"credentials in URL", func(o *s3.Options) { o.Endpoint = "https://AKIA:very-secret-key@s3.amazonaws.com" }, "must not contain credentials"},
		{"path", func(o *s3.Options) { o.Endpoint = "https://s3.amazonaws.com/bucket" }, "want no path"},
		{"query", func(o *s3.Options) { o.Endpoint = "https://s3.amazonaws.com/?x=1" }, "want no path"},
		{"no host", func(o *s3.Options) { o.Endpoint = "https://" }, "no host"},
		{"no bucket", func(o *s3.Options) { o.Bucket = "" }, "bucket not set"},
		{"bad bucket", func(o *s3.Options) { o.Bucket = "Acme_Backups" }, "bucket"},
		{"no access key", func(o *s3.Options) { o.AccessKeyID = "" }, "access key"},
		{"no secret", func(o *s3.Options) { o.SecretAccessKey = "" }, "secret access key"},
		{"bad prefix", func(o *s3.Options) { o.Prefix = "../up" }, "prefix"},
		{"absolute prefix", func(o *s3.Options) { o.Prefix = "/vectord" }, "prefix"},
		{"small parts", func(o *s3.Options) { o.PartSize = 1 << 20 }, "part size"},
		{"huge parts", func(o *s3.Options) { o.PartSize = 6 << 30 }, "part size"},
		{"kms", func(o *s3.Options) { o.SSE = "aws:kms" }, "server-side encryption"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := good
			tt.modify(&opts)
			_, err := s3.New(opts)
			if err == nil || !strings.HasPrefix(err.Error(), "s3: ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New() = %v, want an error starting %q mentioning %q", err, "s3: ", tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "very-secret-key") {
				t.Errorf("New() error %q contains the secret key", err)
			}
		})
	}
	for _, prefix := range []string{"", "vectord", "vectord/", "a/b/c/"} {
		opts := good
		opts.Prefix = prefix
		if _, err := s3.New(opts); err != nil {
			t.Errorf("New() with prefix %q = %v", prefix, err)
		}
	}
}

// TestServerErrors checks, against canned answers, how the server's errors
// come out: a missing object matches storage.ErrNotExist, and nothing else
// does.
func TestServerErrors(t *testing.T) {
	xmlError := func(status int, code string) func(w http.ResponseWriter) {
		return func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(status)
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>`+code+`</Code><Message>message for `+code+`</Message></Error>`)
		}
	}
	tests := []struct {
		name     string
		answer   func(w http.ResponseWriter)
		op       func(ctx context.Context, tg *s3.Target) error
		notExist bool
		want     string // in the error; "" for no error
	}{
		{"open missing", xmlError(404, "NoSuchKey"), open, true, "object does not exist"},
		{"stat missing", func(w http.ResponseWriter) { w.WriteHeader(404) }, stat, true, "object does not exist"},
		{"delete missing", xmlError(404, "NoSuchKey"), remove, false, ""},
		{"open, bad key id", xmlError(403, "InvalidAccessKeyId"), open, false, "credentials refused"},
		{"open, bad signature", xmlError(403, "SignatureDoesNotMatch"), open, false, "credentials refused"},
		{"stat, forbidden", func(w http.ResponseWriter) { w.WriteHeader(403) }, stat, false, "access denied"},
		{"delete, forbidden", xmlError(403, "AccessDenied"), remove, false, "access denied"},
		{"open, no bucket", xmlError(404, "NoSuchBucket"), open, false, "no such bucket"},
		{"list, no bucket", xmlError(404, "NoSuchBucket"), list, false, "no such bucket"},
		{"upload, proxy refuses", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			io.WriteString(w, "<html>413 Request Entity Too Large</html>")
		}, upload, false, "413"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { tt.answer(w) }))
			defer srv.Close()
			tg, err := s3.New(s3.Options{
				Endpoint: srv.URL, Region: "us-east-1", Bucket: "acme-backups", Prefix: "vectord/",
				AccessKeyID: "AKIAEXAMPLE", SecretAccessKey: "very-secret-key", ForcePathStyle: true,
			})
			if err != nil {
				t.Fatalf("New() = %v", err)
			}
			err = tt.op(t.Context(), tg)
			if tt.want == "" {
				if err != nil {
					t.Errorf("error = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), "s3: ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want one starting %q mentioning %q", err, "s3: ", tt.want)
			}
			if errors.Is(err, storage.ErrNotExist) != tt.notExist {
				t.Errorf("errors.Is(%v, storage.ErrNotExist) = %v, want %v", err, !tt.notExist, tt.notExist)
			}
			if err != nil && strings.Contains(err.Error(), "very-secret-key") {
				t.Errorf("error %q contains the secret key", err)
			}
		})
	}
}

func open(ctx context.Context, tg *s3.Target) error {
	r, err := tg.Open(ctx, "acme/production/a.sql")
	if err == nil {
		r.Close()
	}
	return err
}

func stat(ctx context.Context, tg *s3.Target) error {
	_, err := tg.Stat(ctx, "acme/production/a.sql")
	return err
}

func remove(ctx context.Context, tg *s3.Target) error {
	return tg.Delete(ctx, "acme/production/a.sql")
}

func upload(ctx context.Context, tg *s3.Target) error {
	w, err := tg.Create(ctx, "acme/production/a.sql")
	if err != nil {
		return err
	}
	defer w.Abort()
	if _, err := w.Write([]byte("data")); err != nil {
		return err
	}
	_, err = w.Commit(ctx)
	return err
}

func list(ctx context.Context, tg *s3.Target) error {
	_, err := tg.List(ctx, "acme/")
	return err
}

// FuzzNew checks that New accepts only endpoints and prefixes it can use,
// that the prefix comes out as a directory, and that no error repeats the
// secret key or a password in the endpoint.
func FuzzNew(f *testing.F) {
	for _, seed := range []struct{ endpoint, prefix string }{
		{"https://s3.us-east-1.amazonaws.com", "vectord/"},
		{"http://127.0.0.1:9000", ""},
		{"http://[::1]:9000/", "a/b"},
		{"https://user:hunter2@s3.example.com", "x"},
		{"https://s3.example.com/path?q=1#f", "../x"},
		{"s3.example.com", "/abs"},
		{"https://", "a//b"},
		{"http://h:99999", "a/./b"},
		{"https://%zz", "x.partial"},
	} {
		f.Add(seed.endpoint, seed.prefix)
	}
	f.Fuzz(func(t *testing.T, endpoint, prefix string) {
		tg, err := s3.New(s3.Options{
			Endpoint: endpoint, Bucket: "bucket", Prefix: prefix,
			AccessKeyID: "AKIAEXAMPLE", SecretAccessKey: "hunter2-secret",
		})
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, "s3: ") || strings.Contains(msg, "hunter2") {
				t.Errorf("New(%q, %q) = %q: want an error starting %q without secrets", endpoint, prefix, msg, "s3: ")
			}
			return
		}
		u, err := url.Parse(endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			t.Errorf("New() accepted endpoint %q", endpoint)
		}
		uri := tg.URI("acme/production/a.sql")
		rest, ok := strings.CutPrefix(uri, "s3://bucket/")
		if !ok || !strings.HasSuffix(rest, "acme/production/a.sql") {
			t.Fatalf("URI() = %q, want s3://bucket/<prefix>acme/production/a.sql", uri)
		}
		if p := strings.TrimSuffix(rest, "acme/production/a.sql"); p != "" && (!strings.HasSuffix(p, "/") || storage.ValidatePrefix(p) != nil) {
			t.Errorf("New() with prefix %q stores under %q, want a valid directory prefix", prefix, p)
		}
	})
}

// put stores data under key through tg.
func put(t testing.TB, tg storage.Target, key string, data []byte) {
	t.Helper()
	w, err := tg.Create(t.Context(), key)
	if err != nil {
		t.Fatalf("Create(%q) = %v", key, err)
	}
	defer w.Abort()
	if _, err := w.Write(data); err != nil {
		t.Fatalf("Write() to %q = %v", key, err)
	}
	info, err := w.Commit(t.Context())
	if err != nil {
		t.Fatalf("Commit() of %q (%d bytes) = %v", key, len(data), err)
	}
	if info.Key != key || info.Size != int64(len(data)) {
		t.Errorf("Commit() = {Key: %q, Size: %d}, want {Key: %q, Size: %d}", info.Key, info.Size, key, len(data))
	}
}

func checkKeys(t testing.TB, tg storage.Target, prefix string, want ...string) {
	t.Helper()
	infos, err := tg.List(t.Context(), prefix)
	if err != nil {
		t.Fatalf("List(%q) = %v", prefix, err)
	}
	var got []string
	for _, info := range infos {
		got = append(got, info.Key)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("List(%q) keys differ (-want +got):\n%s", prefix, diff)
	}
}

func checkMissing(t testing.TB, tg storage.Target, key string) {
	t.Helper()
	if _, err := tg.Stat(t.Context(), key); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("Stat(%q) = %v, want an error matching ErrNotExist", key, err)
	}
}

// checkUploads checks the number of pending multipart uploads under prefix.
func checkUploads(t testing.TB, s server, prefix string, want int) {
	t.Helper()
	var keys []string
	for up := range s.client(t).ListIncompleteUploads(t.Context(), s.bucket, prefix, true) {
		if up.Err != nil {
			t.Fatalf("ListIncompleteUploads() = %v", up.Err)
		}
		keys = append(keys, up.Key)
	}
	if len(keys) != want {
		t.Errorf("pending multipart uploads under %s: %q, want %d", prefix, keys, want)
	}
}

// waitForParts waits until the one pending upload of object holds size
// bytes in parts.
func waitForParts(t testing.TB, s server, object string, size int64) {
	t.Helper()
	ctx := t.Context()
	core := minio.Core{Client: s.client(t)}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got int64
		res, err := core.ListMultipartUploads(ctx, s.bucket, object, "", "", "", 10)
		if err != nil {
			t.Fatalf("ListMultipartUploads() = %v", err)
		}
		if len(res.Uploads) == 1 {
			parts, err := core.ListObjectParts(ctx, s.bucket, object, res.Uploads[0].UploadID, 0, 100)
			if err != nil {
				t.Fatalf("ListObjectParts() = %v", err)
			}
			for _, p := range parts.ObjectParts {
				got += p.Size
			}
		}
		if got == size {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pending uploads of %s: %d, holding %d bytes; want one holding %d", object, len(res.Uploads), got, size)
		}
		runtime.Gosched()
	}
}

func dropChecksums(h http.Header) {
	for k := range h {
		if strings.HasPrefix(strings.ToLower(k), "x-amz-checksum-") {
			h.Del(k)
		}
	}
}

// recorder is an http.RoundTripper to the real network that records the
// requests and may change the responses, or answers itself.
type recorder struct {
	modify  func(*http.Request, *http.Response)
	respond func(*http.Request) *http.Response

	mu   sync.Mutex
	reqs []request
}

type request struct {
	method, host, path, query string
	header                    http.Header
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, request{req.Method, req.URL.Host, req.URL.Path, req.URL.RawQuery, req.Header.Clone()})
	r.mu.Unlock()
	if r.respond != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		resp := r.respond(req)
		resp.Request = req
		return resp, nil
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil && r.modify != nil {
		r.modify(req, resp)
	}
	return resp, err
}

func (r *recorder) all() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.reqs...)
}

// header returns a header of the first request with method whose query
// contains param.
func (r *recorder) header(method, param, name string) string {
	for _, req := range r.all() {
		if q, _ := url.ParseQuery(req.query); req.method == method && q.Has(param) {
			return req.header.Get(name)
		}
	}
	return ""
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// pattern returns n reproducible bytes.
func pattern(n int, seed uint64) []byte {
	b := make([]byte, n)
	_, _ = io.ReadFull(newPatternReader(int64(n), seed), b)
	return b
}

// patternReader yields size reproducible bytes cheaply: a fixed block whose
// first bytes number each repetition, so that no two blocks are equal.
type patternReader struct {
	block      []byte
	size, off  int64
	blockIndex int64
}

const patternBlock = 64 << 10

func newPatternReader(size int64, seed uint64) *patternReader {
	block := make([]byte, patternBlock)
	x := seed*0x9E3779B97F4A7C15 + 1
	for i := range block {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		block[i] = byte(x)
	}
	return &patternReader{block: block, size: size, blockIndex: -1}
}

func (r *patternReader) Read(p []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && r.off < r.size {
		bi, bo := r.off/patternBlock, r.off%patternBlock
		if bi != r.blockIndex {
			r.blockIndex = bi
			for i := range 8 {
				r.block[i] = byte(bi >> (8 * i))
			}
		}
		k := copy(p[n:], r.block[bo:min(int64(patternBlock), bo+r.size-r.off)])
		n += k
		r.off += int64(k)
	}
	return n, nil
}

// equalReaders compares two streams, returning how many bytes were equal.
func equalReaders(a, b io.Reader) (int64, error) {
	bufA, bufB := make([]byte, 1<<20), make([]byte, 1<<20)
	var total int64
	for {
		na, errA := io.ReadFull(a, bufA)
		nb, errB := io.ReadFull(b, bufB)
		if na != nb || !bytes.Equal(bufA[:na], bufB[:nb]) {
			return total, errors.New("contents differ")
		}
		total += int64(na)
		if errA != errB {
			return total, errors.New("lengths differ")
		}
		if errA == io.EOF || errA == io.ErrUnexpectedEOF {
			return total, nil
		}
		if errA != nil {
			return total, errA
		}
	}
}
