package codec_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"

	"go.uber.org/goleak"

	"github.com/builtfast/vectord/codec"
)

// TestMain fails the package if a compressor's goroutines outlive Close.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var codecs = []codec.Codec{codec.None, codec.Zstd, codec.Gzip}

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    codec.Codec
		wantErr bool
	}{
		{"zstd", codec.Zstd, false},
		{"gzip", codec.Gzip, false},
		{"none", codec.None, false},
		{"", "", true},
		{"ZSTD", "", true},
		{"gz", "", true},
		{"lz4", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := codec.Parse(tt.in)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("Parse(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestExt(t *testing.T) {
	tests := []struct {
		c    codec.Codec
		want string
	}{
		{codec.None, ""},
		{codec.Zstd, ".zst"},
		{codec.Gzip, ".gz"},
		{"lz4", ""},
	}
	for _, tt := range tests {
		if got := tt.c.Ext(); got != tt.want {
			t.Errorf("Codec(%q).Ext() = %q, want %q", tt.c, got, tt.want)
		}
	}
}

func TestUnknownCodec(t *testing.T) {
	if _, err := codec.NewWriter(io.Discard, "lz4"); err == nil {
		t.Errorf(`NewWriter(_, "lz4") = nil error, want an error`)
	}
	if _, err := codec.NewReader(bytes.NewReader(nil), ""); err == nil {
		t.Errorf(`NewReader(_, "") = nil error, want an error`)
	}
}

// closeRecorder is a buffer that records whether it was closed.
type closeRecorder struct {
	bytes.Buffer
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

func TestRoundTrip(t *testing.T) {
	inputs := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"one byte", []byte{'\n'}},
		{"1 MiB + 3 of SQL", readAll(t, newSQLDump(1<<20+3, 7))},
		{"1 MiB + 3 random", randomBytes(1<<20 + 3)},
		{"5 MiB of SQL", readAll(t, newSQLDump(5<<20, 8))},
	}
	for _, c := range codecs {
		for _, in := range inputs {
			t.Run(fmt.Sprintf("%s/%s", c, in.name), func(t *testing.T) {
				var out closeRecorder
				w, err := codec.NewWriter(&out, c)
				if err != nil {
					t.Fatalf("NewWriter(%q) = %v", c, err)
				}
				// Odd-sized writes, as a download arrives.
				for p, i := in.data, 0; len(p) > 0; i++ {
					n := min(len(p), []int{1, 4093, 65537, 7}[i%4])
					if k, err := w.Write(p[:n]); k != n || err != nil {
						t.Fatalf("Write(%d bytes) = %d, %v", n, k, err)
					}
					p = p[n:]
				}
				if err := w.Close(); err != nil {
					t.Fatalf("Close() = %v", err)
				}
				if out.closed {
					t.Errorf("Close() closed the underlying writer")
				}
				stored := out.Bytes()
				checkFormat(t, c, stored, in.data)

				r, err := codec.NewReader(bytes.NewReader(stored), c)
				if err != nil {
					t.Fatalf("NewReader(%q) = %v", c, err)
				}
				got, err := io.ReadAll(r)
				if err != nil {
					t.Fatalf("read %s stream: %v", c, err)
				}
				if err := r.Close(); err != nil {
					t.Errorf("reader Close() = %v", err)
				}
				if !bytes.Equal(got, in.data) {
					t.Errorf("round trip through %s gave %d bytes differing from the %d written", c, len(got), len(in.data))
				}
			})
		}
	}
}

// checkFormat checks that a stream is in its codec's standard format (so
// the zstd and gzip tools read stored backups) and that SQL shrinks.
func checkFormat(t *testing.T, c codec.Codec, stored, plain []byte) {
	t.Helper()
	magic := map[codec.Codec][]byte{codec.Zstd: {0x28, 0xb5, 0x2f, 0xfd}, codec.Gzip: {0x1f, 0x8b}}[c]
	if c == codec.None {
		if !bytes.Equal(stored, plain) {
			t.Errorf("none: stored %d bytes differing from the %d written", len(stored), len(plain))
		}
		return
	}
	if !bytes.HasPrefix(stored, magic) {
		t.Errorf("%s stream starts with % x, want % x", c, stored[:min(len(stored), 4)], magic)
	}
	if len(plain) > 1<<20 && bytes.HasPrefix(plain, []byte("-- MySQL dump")) && len(stored) > len(plain)/2 {
		t.Errorf("%s compressed %d bytes of SQL to %d, want at most half", c, len(plain), len(stored))
	}
}

func TestCorruptInput(t *testing.T) {
	plain := readAll(t, newSQLDump(256<<10, 3))
	for _, c := range []codec.Codec{codec.Zstd, codec.Gzip} {
		valid := compress(t, c, plain)
		flipped := bytes.Clone(valid)
		flipped[len(flipped)/2] ^= 0x5a
		inputs := []struct {
			name string
			data []byte
		}{
			{"byte flipped", flipped},
			{"truncated by half", valid[:len(valid)/2]},
			{"last byte missing", valid[:len(valid)-1]},
			{"header only", valid[:10]},
			{"empty", nil},
			{"plain SQL", plain},
			{"trailing garbage", append(bytes.Clone(valid), "garbage after the end"...)},
		}
		for _, in := range inputs {
			t.Run(fmt.Sprintf("%s/%s", c, in.name), func(t *testing.T) {
				r, err := codec.NewReader(bytes.NewReader(in.data), c)
				if err != nil {
					t.Fatalf("NewReader() = %v; stream errors must come from Read", err)
				}
				defer r.Close()
				_, err = io.ReadAll(r)
				if err == nil {
					t.Errorf("reading a %s stream (%s) = nil error, want an error", c, in.name)
				}
				t.Logf("%v", err)
			})
		}
	}
}

// TestZstdRefusesHugeWindow feeds a frame whose header asks for a 1 GiB
// window: the reader must refuse it without allocating anything like that.
func TestZstdRefusesHugeWindow(t *testing.T) {
	frame := []byte{
		0x28, 0xb5, 0x2f, 0xfd, // magic
		0x00,       // descriptor: no content size, window descriptor follows
		20 << 3,    // window: 2^(10+20) bytes = 1 GiB
		0x01, 0, 0, // last raw block of 0 bytes
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r, err := codec.NewReader(bytes.NewReader(frame), codec.Zstd)
	if err != nil {
		t.Fatalf("NewReader() = %v", err)
	}
	_, err = io.ReadAll(r)
	r.Close()
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Errorf("reading a frame asking for a 1 GiB window = nil error, want an error")
	}
	t.Logf("%v", err)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Errorf("reading a frame asking for a 1 GiB window allocated %d bytes, want under 8 MiB", alloc)
	}
}

// failingWriter accepts limit bytes, then fails like a full disk.
type failingWriter struct{ limit int }

var errDiskFull = errors.New("no space left on device")

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.limit {
		n := f.limit
		f.limit = 0
		return n, errDiskFull
	}
	f.limit -= len(p)
	return len(p), nil
}

// TestWriteErrorSurfaces checks that an error writing the compressed stream
// is reported by Write or Close, never lost.
func TestWriteErrorSurfaces(t *testing.T) {
	plain := readAll(t, newSQLDump(4<<20, 4))
	for _, c := range codecs {
		t.Run(string(c), func(t *testing.T) {
			w, err := codec.NewWriter(&failingWriter{limit: 100 << 10}, c)
			if err != nil {
				t.Fatal(err)
			}
			var werr error
			for p := plain; len(p) > 0 && werr == nil; p = p[min(len(p), 32<<10):] {
				_, werr = w.Write(p[:min(len(p), 32<<10)])
			}
			cerr := w.Close()
			if !errors.Is(werr, errDiskFull) && !errors.Is(cerr, errDiskFull) {
				t.Errorf("Write() = %v, Close() = %v; want the writer's error from one of them", werr, cerr)
			}
		})
	}
}

// TestZstdMemoryBounded streams dumps of two sizes through the zstd writer
// and reader and checks that the memory allocated does not grow with the
// size (BenchmarkZstdWriterMemory does the same up to 256 MiB). Both sizes
// are larger than the window, beyond which nothing should be allocated.
func TestZstdMemoryBounded(t *testing.T) {
	small, large := int64(4<<20), int64(32<<20)
	if raceEnabled {
		small, large = 5<<20, 10<<20
	}
	write := func(size int64) {
		w, err := codec.NewWriter(io.Discard, codec.Zstd)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.CopyBuffer(writerOnly{w}, newSQLDump(size, 5), make([]byte, 32<<10)); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	compressed := map[int64][]byte{}
	for _, size := range []int64{small, large} {
		compressed[size] = compress(t, codec.Zstd, readAll(t, newSQLDump(size, 6)))
	}
	read := func(size int64) {
		r, err := codec.NewReader(readerOnly{bytes.NewReader(compressed[size])}, codec.Zstd)
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.CopyBuffer(io.Discard, r, make([]byte, 32<<10))
		r.Close()
		if err != nil || n != size {
			t.Fatalf("read %d bytes, %v; want %d, nil", n, err, size)
		}
	}
	for _, tt := range []struct {
		name  string
		run   func(int64)
		bound uint64
	}{
		{"writer", write, 24 << 20},
		{"reader", read, 16 << 20},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, l := allocated(func() { tt.run(small) }), allocated(func() { tt.run(large) })
			t.Logf("%s allocated %d bytes for %d MiB, %d bytes for %d MiB", tt.name, s, small>>20, l, large>>20)
			if l > tt.bound || l > s+s/4+(1<<20) {
				t.Errorf("%s allocated %d bytes for %d MiB and %d bytes for %d MiB, want at most %d and no growth with size", tt.name, s, small>>20, l, large>>20, tt.bound)
			}
		})
	}
}

// allocated returns the bytes f allocates on the heap.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// readerOnly hides a reader's WriteTo and other methods, as an HTTP body
// or a file from storage would.
type readerOnly struct{ io.Reader }

func FuzzNewReader(f *testing.F) {
	sample := []byte("INSERT INTO `wp_options` VALUES (1,'siteurl','https://example.com','yes');\n")
	for i, c := range codecs {
		f.Add(uint8(i), compressSeed(c, sample))
		f.Add(uint8(i), compressSeed(c, nil))
	}
	f.Add(uint8(1), []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xa0, 0x01, 0x00, 0x00})
	f.Add(uint8(2), []byte{0x1f, 0x8b, 0x08, 0x00})
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		c := codecs[int(which)%len(codecs)]
		r, err := codec.NewReader(bytes.NewReader(data), c)
		if err != nil {
			t.Fatalf("NewReader(%q) = %v", c, err)
		}
		defer r.Close()
		// Whatever the input, reading ends with an error or EOF, and a
		// stream that decodes re-encodes to the same content.
		plain, err := io.ReadAll(io.LimitReader(r, 16<<20))
		if err != nil {
			return
		}
		if got := readAll(t, mustReader(t, c, compress(t, c, plain))); !bytes.Equal(got, plain) {
			t.Errorf("%s round trip of %d decoded bytes differs", c, len(plain))
		}
	})
}

func mustReader(t testing.TB, c codec.Codec, data []byte) io.Reader {
	t.Helper()
	r, err := codec.NewReader(bytes.NewReader(data), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func compress(t testing.TB, c codec.Codec, plain []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := codec.NewWriter(&buf, c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func compressSeed(c codec.Codec, plain []byte) []byte {
	var buf bytes.Buffer
	w, err := codec.NewWriter(&buf, c)
	if err != nil {
		panic(err)
	}
	w.Write(plain)
	w.Close()
	return buf.Bytes()
}

func readAll(t testing.TB, r io.Reader) []byte {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.NewChaCha8([32]byte{9}).Read(b)
	return b
}
