// Package codec compresses and decompresses stored backups with zstd, gzip
// or nothing, in streams whose memory does not grow with their size.
package codec

import (
	"errors"
	"fmt"
	"io"
	"runtime"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Codec names a compression format, as in the storage.compression setting
// and the catalog's compression field.
type Codec string

// The codecs vectord stores backups with.
const (
	None Codec = "none"
	Zstd Codec = "zstd"
	Gzip Codec = "gzip"
)

const (
	// zstdLevel and zstdWindow are the writer's settings, measured with
	// BenchmarkZstdSettings on generated mysqldump text (2 cores):
	// SpeedDefault stores 7% less than SpeedFastest for about a third more
	// CPU time, and still compresses faster (about 270 MB/s) than a download
	// arrives; windows above 4 MiB gain nothing on SQL dumps but memory.
	zstdLevel  = zstd.SpeedDefault
	zstdWindow = 4 << 20

	// zstdMaxWindow caps the window a stream may make the reader keep:
	// vectord writes 4 MiB windows and the zstd tool up to 8 MiB below
	// --ultra and --long, while a hostile header may ask for gigabytes.
	zstdMaxWindow = 32 << 20
)

// Parse returns the Codec named s: "zstd", "gzip" or "none".
func Parse(s string) (Codec, error) {
	switch c := Codec(s); c {
	case None, Zstd, Gzip:
		return c, nil
	}
	return "", fmt.Errorf("unknown compression %q (want zstd, gzip or none)", s)
}

// Ext returns the file name extension of the codec's streams: "" for None,
// ".zst" for Zstd, ".gz" for Gzip and "" for an unknown codec.
func (c Codec) Ext() string {
	switch c {
	case Zstd:
		return ".zst"
	case Gzip:
		return ".gz"
	}
	return ""
}

// NewWriter returns a writer compressing into w. Close flushes the stream's
// end into w but does not close w; it must be called, also after an error,
// to release the compressor. An error writing to w surfaces from a later
// Write or from Close. NewWriter fails only for an unknown codec.
//
// Zstd runs at its default level with a 4 MiB window; with GOMAXPROCS > 1
// one block is matched while the previous one is entropy-coded and written
// on a second goroutine. It holds about 12 MiB, whatever the stream's
// length or the number of CPUs. Gzip runs at BestSpeed.
func NewWriter(w io.Writer, c Codec) (io.WriteCloser, error) {
	switch c {
	case None:
		return nopWriteCloser{w}, nil
	case Zstd:
		enc, err := zstd.NewWriter(w,
			zstd.WithEncoderLevel(zstdLevel),
			zstd.WithWindowSize(zstdWindow),
			zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)),
		)
		if err != nil {
			return nil, fmt.Errorf("create zstd writer: %w", err)
		}
		return enc, nil
	case Gzip:
		gz, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
		if err != nil {
			return nil, fmt.Errorf("create gzip writer: %w", err)
		}
		return gz, nil
	}
	return nil, fmt.Errorf("create writer: unknown compression %q", c)
}

// NewReader returns a reader decompressing r. Close releases the
// decompressor (it does not close r). A corrupt, truncated or empty stream,
// or a zstd stream asking for a window above 32 MiB, is reported by Read
// with an error that is not io.EOF; a stream's checksum is checked at its
// end. NewReader fails only for an unknown codec. Decompression runs on the
// calling goroutine.
func NewReader(r io.Reader, c Codec) (io.ReadCloser, error) {
	switch c {
	case None:
		return io.NopCloser(r), nil
	case Zstd:
		cr := &countingReader{r: r}
		dec, err := zstd.NewReader(cr,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxWindow(zstdMaxWindow),
			zstd.WithDecoderMaxMemory(zstdMaxWindow),
			zstd.WithDecoderLowmem(true),
		)
		if err != nil {
			return nil, fmt.Errorf("create zstd reader: %w", err)
		}
		return &zstdReader{dec: dec, in: cr}, nil
	case Gzip:
		return &gzipReader{r: r}, nil
	}
	return nil, fmt.Errorf("create reader: unknown compression %q", c)
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// zstdReader reports an empty input as truncated: a zstd stream is never
// empty.
type zstdReader struct {
	dec *zstd.Decoder
	in  *countingReader
}

func (z *zstdReader) Read(p []byte) (int, error) {
	n, err := z.dec.Read(p)
	if err == io.EOF && z.in.n == 0 {
		return n, fmt.Errorf("read zstd stream: empty: %w", io.ErrUnexpectedEOF)
	}
	if err != nil && err != io.EOF {
		err = fmt.Errorf("read zstd stream: %w", err)
	}
	return n, err
}

func (z *zstdReader) Close() error {
	z.dec.Close()
	return nil
}

// gzipReader reads the gzip header on the first Read, so that NewReader
// does no I/O and every stream error comes from Read.
type gzipReader struct {
	r   io.Reader
	gz  *gzip.Reader
	err error
}

func (g *gzipReader) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	if g.gz == nil {
		gz, err := gzip.NewReader(g.r)
		if err != nil {
			if err == io.EOF {
				err = fmt.Errorf("read gzip stream: empty: %w", io.ErrUnexpectedEOF)
			} else {
				err = fmt.Errorf("read gzip stream: %w", err)
			}
			g.err = err
			return 0, err
		}
		g.gz = gz
	}
	n, err := g.gz.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("read gzip stream: %w", err)
	}
	return n, err
}

func (g *gzipReader) Close() error {
	if g.gz == nil {
		g.err = errors.New("read gzip stream: reader closed")
		return nil
	}
	return g.gz.Close()
}
