package restore_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/builtfast/vectord/restore"
	"github.com/builtfast/vectord/vectorapi"
	"github.com/builtfast/vectord/vectorsim"
	"github.com/google/go-cmp/cmp"
)

// partBreaker fails the first PUT of each listed part of a multipart
// upload after reading some of its body, as a storage node that gives up
// with a 500; everything else reaches the simulator.
type partBreaker struct {
	after int64
	mu    sync.Mutex
	fail  map[string]bool // part numbers still to fail
	puts  map[string]int  // PUTs per part number
}

func newPartBreaker(after int64, parts ...int) *partBreaker {
	b := &partBreaker{after: after, fail: map[string]bool{}, puts: map[string]int{}}
	for _, p := range parts {
		b.fail[fmt.Sprint(p)] = true
	}
	return b
}

func (b *partBreaker) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		part := r.URL.Query().Get("partNumber")
		if r.Method != http.MethodPut || part == "" {
			next.ServeHTTP(w, r)
			return
		}
		b.mu.Lock()
		b.puts[part]++
		fail := b.fail[part]
		delete(b.fail, part)
		b.mu.Unlock()
		if !fail {
			next.ServeHTTP(w, r)
			return
		}
		_, _ = io.CopyN(io.Discard, r.Body, b.after)
		w.Header().Set("Content-Type", "application/xml")
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>`)
	})
}

func (b *partBreaker) counts() map[string]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[string]int{}
	for k, v := range b.puts {
		out[k] = v
	}
	return out
}

// streamOnly hides every method but Read: a dump that cannot seek, as a
// decompressed, decrypted backup.
type streamOnly struct{ r io.Reader }

func (s streamOnly) Read(p []byte) (int, error) { return s.r.Read(p) }

// bodySource is a Source over a generated dump, read as a stream; it
// counts its opens, and change, if set, may alter the reader of an open.
type bodySource struct {
	body   vectorsim.Body
	opens  atomic.Int32
	change func(n int, r io.Reader) io.Reader
}

func (s *bodySource) Source(name string) restore.Source {
	return restore.Source{Name: name, Size: s.body.Size(), Open: func(context.Context) (io.ReadCloser, error) {
		n := int(s.opens.Add(1))
		var r io.Reader = streamOnly{io.NewSectionReader(s.body, 0, s.body.Size())}
		if s.change != nil {
			r = s.change(n, r)
		}
		return io.NopCloser(r), nil
	}}
}

func shaOf(t testing.TB, body vectorsim.Body) string {
	t.Helper()
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(body, 0, body.Size())); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// heapPeak samples the bytes of live and not yet collected heap objects
// until stop, which returns the highest value seen.
func heapPeak() (stop func() uint64) {
	var peak uint64
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(s)
			peak = max(peak, s[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-finished
		return peak
	}
}

// TestImportMultipart300MB restores a 300 MB dump under the openapi routes:
// the session asks for three parts of 100 MiB, the dump is a stream that
// cannot seek, part 2 fails once half-way and is sent again (the dump read
// again up to it), and the simulator's database receives exactly the dump,
// in constant memory.
func TestImportMultipart300MB(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 300 MB")
	}
	const size = 300_000_000
	body := vectorsim.Dump("restore-300mb", size, vectorsim.MySQL)
	want := shaOf(t, body)
	breaker := newPartBreaker(8<<20, 2)
	h := newHarness(t, vectorapi.RoutesOpenAPI, vectorsim.Options{}, breaker.wrap)
	var last atomic.Int64
	h.im.Progress = func(p restore.Progress) {
		if p.Phase == restore.PhaseUploading {
			last.Store(p.Bytes)
		}
	}
	src := &bodySource{body: body}
	source := src.Source("acme_development_01JBIG.sql")
	source.SHA256 = want

	runtime.GC()
	stop := heapPeak()
	start := time.Now()
	res, err := h.im.Import(t.Context(), target(""), source, restore.Options{})
	elapsed := time.Since(start)
	peak := stop()
	if err != nil {
		t.Fatalf("Import() = %v", err)
	}
	got := h.imported("")
	if got.Count != 1 || got.LastSize != size || got.LastSHA256 != want {
		t.Errorf("the database received %+v, want 1 import of %d bytes with SHA-256 %s", got, size, want)
	}
	if res.Bytes != size || res.SHA256 != want || res.Direct || res.SnapshotID != h.snap.id || last.Load() != size {
		t.Errorf("Import() = %+v, last progress %d; want %d bytes with SHA-256 %s through a session, after the snapshot", res, last.Load(), size, want)
	}
	st := h.sim.Stats()
	if st.DBOperations != 1 || st.Uploads != 3 || st.AuthOnPresigned != 0 {
		t.Errorf("simulator: %d database operations, %d parts stored, %d presigned requests with Authorization; want 1, 3, 0",
			st.DBOperations, st.Uploads, st.AuthOnPresigned)
	}
	if diff := cmp.Diff(map[string]int{"1": 1, "2": 2, "3": 1}, breaker.counts()); diff != "" {
		t.Errorf("PUTs per part (-want +got):\n%s", diff)
	}
	// Opened to check it before the snapshot, to send it, and again to
	// send part 2 a second time.
	if n := src.opens.Load(); n != 3 {
		t.Errorf("the dump was opened %d times, want 3", n)
	}
	if calls := h.snap.Calls(); len(calls) != 1 || calls[0].apiRequests != 0 {
		t.Errorf("snapshot calls = %+v, want one, before any API request", calls)
	}
	const limit = 64 << 20 // a part held in memory would take 100 MiB
	if peak > limit {
		t.Errorf("the heap peaked at %d MiB, want under %d MiB: a part was held in memory", peak>>20, limit>>20)
	}
	for _, secret := range []string{token, "X-Amz-Signature", "X-Amz-Credential"} {
		if strings.Contains(h.logs.String(), secret) {
			t.Errorf("%q appears in the logs", secret)
		}
	}
	t.Logf("300 MB in 3 parts (one sent twice) in %s (%.0f MB/s), heap peak %d MiB",
		elapsed.Round(time.Millisecond), float64(size)/1e6/elapsed.Seconds(), peak>>20)
}

// TestImportMultipartParts: small parts, from a file and from a stream,
// with a part that fails once; a dump that reads differently the second
// time is not imported.
func TestImportMultipartParts(t *testing.T) {
	const partSize = 256 << 10
	const size = 4*partSize + 123 // 5 parts
	tests := []struct {
		name      string
		file      bool
		fail      []int
		change    bool // the dump's third open differs in part 3
		wantOpens int
		wantPuts  map[string]int
		wantErr   string
	}{
		{name: "stream", wantOpens: 2, wantPuts: map[string]int{"1": 1, "2": 1, "3": 1, "4": 1, "5": 1}},
		{name: "stream, part 3 fails once", fail: []int{3}, wantOpens: 3, wantPuts: map[string]int{"1": 1, "2": 1, "3": 2, "4": 1, "5": 1}},
		{name: "stream, first and last parts fail once", fail: []int{1, 5}, wantOpens: 4, wantPuts: map[string]int{"1": 2, "2": 1, "3": 1, "4": 1, "5": 2}},
		{name: "file, part 3 fails once", file: true, fail: []int{3}, wantOpens: 2, wantPuts: map[string]int{"1": 1, "2": 1, "3": 2, "4": 1, "5": 1}},
		// Part 3's second PUT may or may not reach the server before the
		// difference shows: its PUTs are not counted.
		{name: "the dump changes before part 3 is sent again", fail: []int{3}, change: true, wantOpens: 3,
			wantErr: "the dump changed while it was being sent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := vectorsim.Dump(tt.name, size, vectorsim.MariaDB)
			want := shaOf(t, body)
			breaker := newPartBreaker(64<<10, tt.fail...)
			h := newHarness(t, vectorapi.RoutesOpenAPI, vectorsim.Options{PartSize: partSize}, breaker.wrap)
			api := &countingAPI{API: h.client}
			h.im.API = api
			src := &bodySource{body: body}
			if tt.change {
				src.change = func(n int, r io.Reader) io.Reader {
					if n != 3 {
						return r
					}
					// The session does not say its part size: the
					// client splits the dump evenly.
					return &flipByte{r: r, at: 2*((size+4)/5) + 10}
				}
			}
			source := src.Source("dump.sql")
			if tt.file {
				data := make([]byte, size)
				if _, err := body.ReadAt(data, 0); err != nil && !errors.Is(err, io.EOF) {
					t.Fatal(err)
				}
				source = fileSource(t, data)
				source.Open = countOpens(&src.opens, source.Open)
			}
			res, err := h.im.Import(t.Context(), target(""), source, restore.Options{})
			if got := breaker.counts(); tt.wantPuts != nil {
				if diff := cmp.Diff(tt.wantPuts, got); diff != "" {
					t.Errorf("PUTs per part (-want +got):\n%s", diff)
				}
			} else if got["4"] != 0 {
				t.Errorf("PUTs per part = %v, want none after part 3", got)
			}
			if n := src.opens.Load(); n != int32(tt.wantOpens) {
				t.Errorf("the dump was opened %d times, want %d", n, tt.wantOpens)
			}
			_, _, runs, _ := api.counts()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Import() = %v, want an error saying %q", err, tt.wantErr)
				}
				if runs != 0 || h.imported("").Count != 0 {
					t.Errorf("%d runs, %d imports after the dump changed; want none", runs, h.imported("").Count)
				}
				return
			}
			if err != nil {
				t.Fatalf("Import() = %v", err)
			}
			if got := h.imported(""); got.Count != 1 || got.LastSHA256 != want || res.SHA256 != want || runs != 1 {
				t.Errorf("the database received %+v, result %+v, %d runs; want the dump (SHA-256 %s) imported by one run", got, res, runs, want)
			}
		})
	}
}

// flipByte changes the byte at offset at of what r reads.
type flipByte struct {
	r   io.Reader
	at  int64
	pos int64
}

func (f *flipByte) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if f.at >= f.pos && f.at < f.pos+int64(n) {
		p[f.at-f.pos] ^= 0x20
	}
	f.pos += int64(n)
	return n, err
}

func countOpens(n *atomic.Int32, open func(context.Context) (io.ReadCloser, error)) func(context.Context) (io.ReadCloser, error) {
	return func(ctx context.Context) (io.ReadCloser, error) {
		n.Add(1)
		return open(ctx)
	}
}

// TestImportRefusedBeforeSpending: an import that can be known not to work
// without asking the API is refused before the snapshot and before any
// request: no database operation, no snapshot.
func TestImportRefusedBeforeSpending(t *testing.T) {
	small := sqlDump(t, "refuse", 200<<10)
	opener := func(r func() (io.Reader, error)) func(context.Context) (io.ReadCloser, error) {
		return func(context.Context) (io.ReadCloser, error) {
			rd, err := r()
			if err != nil {
				return nil, err
			}
			return io.NopCloser(rd), nil
		}
	}
	never := opener(func() (io.Reader, error) { panic("the dump was opened") })
	tests := []struct {
		name    string
		routes  string
		target  restore.Target
		src     restore.Source
		max     int64
		is      error
		wantErr string
	}{
		{name: "over the API's 50 GB", routes: vectorapi.RoutesOpenAPI, target: target(""),
			src: restore.Source{Name: "huge.sql", Size: vectorapi.MaxImportBytes + 1, Open: never},
			is:  restore.ErrTooLarge, wantErr: "53687091201 bytes, over the import session limit of 53687091200 bytes (50 GiB)"},
		{name: "over a configured limit", routes: vectorapi.RoutesDocumented, target: target(envID), max: 100 << 10,
			src: newMemSource(small).Source("d.sql"), is: restore.ErrTooLarge, wantErr: "(100 KiB)"},
		{name: "environment under openapi routes", routes: vectorapi.RoutesOpenAPI, target: target(envID),
			src: newMemSource(small).Source("d.sql"), is: vectorapi.ErrUnsupported},
		{name: "file missing", routes: vectorapi.RoutesOpenAPI, target: target(""),
			src: restore.Source{Name: "gone.sql", Size: 1 << 30, Open: func(context.Context) (io.ReadCloser, error) {
				return os.Open(filepath.Join(t.TempDir(), "gone.sql"))
			}},
			is: os.ErrNotExist, wantErr: "open the dump"},
		{name: "backup does not decrypt", routes: vectorapi.RoutesOpenAPI, target: target(""),
			src: restore.Source{Name: "backup 01JX", Size: 1 << 30, Open: opener(func() (io.Reader, error) {
				return errReader{errors.New("age: no identity matched any of the recipients")}, nil
			})},
			wantErr: "read the dump: age: no identity matched"},
		{name: "shorter than its size", routes: vectorapi.RoutesOpenAPI, target: target(""),
			src:     restore.Source{Name: "short.sql", Size: 1 << 20, Open: newMemSource(small[:10<<10]).open},
			wantErr: "the dump ended after 10240 of 1048576 bytes"},
		{name: "direct import with the wrong checksum", routes: vectorapi.RoutesDocumented, target: target(""),
			src:     restore.Source{Name: "d.sql", Size: int64(len(small)), SHA256: sha([]byte("other")), Open: newMemSource(small).open},
			wantErr: "SHA-256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.routes, vectorsim.Options{})
			h.im.MaxSessionBytes = tt.max
			_, err := h.im.Import(t.Context(), tt.target, tt.src, restore.Options{})
			if err == nil || (tt.is != nil && !errors.Is(err, tt.is)) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Import() = %v, want an error matching %v containing %q", err, tt.is, tt.wantErr)
			}
			if st := h.sim.Stats(); len(h.snap.Calls()) != 0 || st.APIRequests != 0 || st.DBOperations != 0 {
				t.Errorf("a refused import took %d snapshots and sent %d API requests (%d database operations); want none",
					len(h.snap.Calls()), st.APIRequests, st.DBOperations)
			}
		})
	}
}

// TestImportMultipartURLExpired: part URLs that expired before the upload
// cost one new session, and the dump is sent whole through it.
func TestImportMultipartURLExpired(t *testing.T) {
	const partSize = 256 << 10
	body := vectorsim.Dump("expired-parts", 3*partSize, vectorsim.MySQL)
	breaker := newPartBreaker(0)
	h := newHarness(t, vectorapi.RoutesOpenAPI, vectorsim.Options{PartSize: partSize, URLTTL: time.Minute}, breaker.wrap)
	src := &bodySource{body: body, change: func(n int, r io.Reader) io.Reader {
		if n == 2 { // the first upload, after the check before the snapshot
			h.clock.Advance(2 * time.Minute)
		}
		return r
	}}
	res, err := h.im.Import(t.Context(), target(""), src.Source("dump.sql"), restore.Options{})
	if err != nil {
		t.Fatalf("Import() = %v", err)
	}
	want := shaOf(t, body)
	if got := h.imported(""); got.Count != 1 || got.LastSHA256 != want || res.SHA256 != want {
		t.Errorf("database got %+v, result %+v; want the dump imported once", got, res)
	}
	st := h.sim.Stats()
	if st.DBOperations != 2 || st.Uploads != 3 || src.opens.Load() != 3 {
		t.Errorf("%d sessions, %d parts stored, dump opened %d times; want 2, 3, 3", st.DBOperations, st.Uploads, src.opens.Load())
	}
	if diff := cmp.Diff(map[string]int{"1": 2, "2": 1, "3": 1}, breaker.counts()); diff != "" {
		t.Errorf("PUTs per part (-want +got):\n%s", diff)
	}
	if !strings.Contains(h.logs.String(), "upload url expired") || strings.Contains(h.logs.String(), "X-Amz-Signature") {
		t.Errorf("want a warning about the expired URL, without a signature; logs:\n%s", h.logs)
	}
}
