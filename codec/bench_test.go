package codec_test

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/builtfast/vectord/codec"
)

var (
	benchDumpOnce sync.Once
	benchDump     []byte
)

// dump64 returns 64 MiB of generated mysqldump text.
func dump64(b *testing.B) []byte {
	b.Helper()
	benchDumpOnce.Do(func() {
		var buf bytes.Buffer
		if _, err := io.Copy(&buf, newSQLDump(64<<20, 1)); err != nil {
			b.Fatal(err)
		}
		benchDump = buf.Bytes()
	})
	return benchDump
}

// countingWriter discards what it is given and counts it.
type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// BenchmarkZstdSettings compares the zstd levels and windows codec could use
// on a SQL dump: MB/s of input and the compression ratio. (Job-based
// parallel compression, zstd.WithConcurrentBlocks, was measured too: over
// 130 MB per stream for no gain on two cores.)
func BenchmarkZstdSettings(b *testing.B) {
	data := dump64(b)
	levels := []struct {
		name  string
		level zstd.EncoderLevel
	}{{"fastest", zstd.SpeedFastest}, {"default", zstd.SpeedDefault}}
	for _, lv := range levels {
		for _, window := range []int{1 << 20, 2 << 20, 4 << 20, 8 << 20} {
			b.Run(fmt.Sprintf("%s/window=%dMiB", lv.name, window>>20), func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				var out countingWriter
				for b.Loop() {
					out.n = 0
					enc, err := zstd.NewWriter(&out,
						zstd.WithEncoderLevel(lv.level),
						zstd.WithWindowSize(window),
						zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)),
					)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := enc.Write(data); err != nil {
						b.Fatal(err)
					}
					if err := enc.Close(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(data))/float64(out.n), "ratio")
			})
		}
	}
}

// BenchmarkWriter measures each codec's compression of a SQL dump written
// in 32 KiB pieces, as a download arrives.
func BenchmarkWriter(b *testing.B) {
	data := dump64(b)
	for _, c := range []codec.Codec{codec.Zstd, codec.Gzip} {
		b.Run(string(c), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			var out countingWriter
			for b.Loop() {
				out.n = 0
				w, err := codec.NewWriter(&out, c)
				if err != nil {
					b.Fatal(err)
				}
				for p := data; len(p) > 0; p = p[min(len(p), 32<<10):] {
					if _, err := w.Write(p[:min(len(p), 32<<10)]); err != nil {
						b.Fatal(err)
					}
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(data))/float64(out.n), "ratio")
		})
	}
}

// BenchmarkReader measures each codec's decompression of a SQL dump.
func BenchmarkReader(b *testing.B) {
	data := dump64(b)
	for _, c := range []codec.Codec{codec.Zstd, codec.Gzip} {
		b.Run(string(c), func(b *testing.B) {
			var compressed bytes.Buffer
			w, err := codec.NewWriter(&compressed, c)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := w.Write(data); err != nil {
				b.Fatal(err)
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			buf := make([]byte, 32<<10)
			for b.Loop() {
				r, err := codec.NewReader(bytes.NewReader(compressed.Bytes()), c)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.CopyBuffer(io.Discard, r, buf); err != nil {
					b.Fatal(err)
				}
				r.Close()
			}
		})
	}
}

// BenchmarkZstdWriterMemory streams generated dumps of two sizes through
// the zstd writer: B/op must not grow with the size.
func BenchmarkZstdWriterMemory(b *testing.B) {
	for _, size := range []int64{16 << 20, 256 << 20} {
		b.Run(fmt.Sprintf("size=%dMiB", size>>20), func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			buf := make([]byte, 32<<10)
			for b.Loop() {
				w, err := codec.NewWriter(io.Discard, codec.Zstd)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.CopyBuffer(writerOnly{w}, newSQLDump(size, 2), buf); err != nil {
					b.Fatal(err)
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// writerOnly hides a writer's ReadFrom, so that io.Copy writes through
// Write as a download does.
type writerOnly struct{ io.Writer }
