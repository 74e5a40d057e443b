package restore

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
)

// streamOf hides every method but Read.
type streamOf struct{ r io.Reader }

func (s streamOf) Read(p []byte) (int, error) { return s.r.Read(p) }

// opener returns an open function for data read as a stream, counting its
// opens; change may alter the bytes of an open (from 1).
func opener(data []byte, opens *int, change func(n int, b []byte)) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) {
		*opens++
		b := bytes.Clone(data)
		if change != nil {
			change(*opens, b)
		}
		return io.NopCloser(streamOf{bytes.NewReader(b)}), nil
	}
}

func sumOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestMeterParts: the meter as UploadParts drives it, marking each part's
// start and going back to a part's start to send it again.
func TestMeterParts(t *testing.T) {
	data := []byte(strings.Repeat("INSERT INTO t VALUES (1);\n", 400) + "-- Dump completed on 2026-01-24\n")
	size := int64(len(data))
	const part = 4000
	type step struct {
		seek int64 // -1: none
		read int64
	}
	tests := []struct {
		name    string
		steps   []step
		change  func(n int, b []byte)
		wantErr string
		opens   int
	}{
		{name: "straight through", steps: []step{{0, part}, {part, part}, {2 * part, size - 2*part}}, opens: 1},
		{name: "a part sent again", steps: []step{{0, part}, {part, 1500}, {part, part}, {2 * part, size - 2*part}}, opens: 2},
		{name: "the first part sent again", steps: []step{{0, 1000}, {0, part}, {part, size - part}}, opens: 2},
		{name: "a part sent again after all of it was read", steps: []step{{0, part}, {part, part}, {part, part}, {2 * part, size - 2*part}}, opens: 2},
		{name: "the part reads differently", steps: []step{{0, part}, {part, part}, {part, part}, {2 * part, size - 2*part}},
			change: func(n int, b []byte) {
				if n == 2 {
					b[part+part-1] ^= 1 // the part's last byte
				}
			}, wantErr: "the dump changed while it was being sent: bytes 4000 to 8000", opens: 2},
		{name: "back to the middle of a part", steps: []step{{0, part}, {part, part}, {part + 10, part - 10}, {2 * part, size - 2*part}},
			wantErr: "rewound to the middle", opens: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opens := 0
			r, err := openReopener(opener(data, &opens, tt.change))
			if err != nil {
				t.Fatal(err)
			}
			m := newMeter(r, size, nil)
			rd := m.reader().(io.ReadSeeker)
			var stepErr error
			for _, s := range tt.steps {
				if _, err := rd.Seek(s.seek, io.SeekStart); err != nil {
					t.Fatal(err)
				}
				// As the client reads a part: io.CopyN, which drops an
				// error that comes with the last bytes asked for.
				if _, err := io.CopyN(io.Discard, rd, s.read); err != nil {
					stepErr = err
					break
				}
			}
			got, err := m.finish(Source{Size: size})
			if stepErr != nil {
				err = stepErr
			}
			if opens != tt.opens {
				t.Errorf("opened %d times, want %d", opens, tt.opens)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("meter = %+v, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.bytes != size || got.sha256 != sumOf(data) {
				t.Errorf("meter = %+v, want %d bytes with SHA-256 %s", got, size, sumOf(data))
			}
		})
	}
}

// seekFile is a reader that can seek, as an *os.File.
type seekFile struct {
	*bytes.Reader
	closed bool
}

func (s *seekFile) Close() error { s.closed = true; return nil }

func TestReopener(t *testing.T) {
	data := []byte("0123456789abcdefghij")
	t.Run("stream", func(t *testing.T) {
		opens := 0
		r, err := openReopener(opener(data, &opens, nil))
		if err != nil {
			t.Fatal(err)
		}
		read := func(n int) string {
			b := make([]byte, n)
			if _, err := io.ReadFull(r, b); err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
		for _, c := range []struct {
			offset int64
			whence int
			read   int
			want   string
			opens  int
		}{
			{5, io.SeekStart, 3, "567", 1},
			{2, io.SeekCurrent, 2, "ab", 1},
			{3, io.SeekStart, 2, "34", 2},
			{0, io.SeekCurrent, 1, "5", 2},
		} {
			pos, err := r.Seek(c.offset, c.whence)
			if err != nil {
				t.Fatal(err)
			}
			if got := read(c.read); got != c.want || opens != c.opens {
				t.Errorf("Seek(%d, %d) = %d, then %q with %d opens; want %q, %d opens", c.offset, c.whence, pos, got, opens, c.want, c.opens)
			}
		}
		if _, err := r.Seek(0, io.SeekEnd); err == nil {
			t.Error("Seek from the end succeeded")
		}
		if _, err := r.Seek(-1, io.SeekStart); err == nil {
			t.Error("Seek to -1 succeeded")
		}
		if _, err := r.Seek(30, io.SeekStart); err == nil || !strings.Contains(err.Error(), "the dump ended after 20 bytes, before byte 30") {
			t.Errorf("Seek past the end = %v", err)
		}
	})
	t.Run("seeker", func(t *testing.T) {
		opens := 0
		f := &seekFile{Reader: bytes.NewReader(data)}
		r, err := openReopener(func() (io.ReadCloser, error) { opens++; return f, nil })
		if err != nil {
			t.Fatal(err)
		}
		io.CopyN(io.Discard, r, 10)
		if pos, err := r.Seek(2, io.SeekStart); pos != 2 || err != nil || opens != 1 {
			t.Errorf("Seek(2) = %d, %v with %d opens; want 2 by seeking the reader", pos, err, opens)
		}
		if err := r.Close(); err != nil || !f.closed {
			t.Errorf("Close() = %v, closed %v", err, f.closed)
		}
	})
	t.Run("open fails again", func(t *testing.T) {
		opens := 0
		gone := errors.New("backup deleted")
		r, err := openReopener(func() (io.ReadCloser, error) {
			opens++
			if opens > 1 {
				return nil, gone
			}
			return io.NopCloser(streamOf{bytes.NewReader(data)}), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		io.CopyN(io.Discard, r, 10)
		if _, err := r.Seek(0, io.SeekStart); !errors.Is(err, gone) {
			t.Errorf("Seek back = %v, want the open's error", err)
		}
		if _, err := r.Read(make([]byte, 1)); !errors.Is(err, gone) {
			t.Errorf("Read after a failed reopen = %v, want the open's error", err)
		}
	})
}
