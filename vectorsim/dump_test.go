package vectorsim

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func fixedLen(seed string, f Flavor) int64 {
	return int64(len(newGen(seed).header(f)) + len(footer(f)))
}

func TestDumpExactSizeAndDeterministic(t *testing.T) {
	minFill := int64(len(fillerLine(0, 0)))
	for _, flavor := range []Flavor{MySQL, MariaDB} {
		fixed := fixedLen("s", flavor)
		sizes := []int64{0, 1, 10, int64(len(Trailer)) - 1, int64(len(Trailer)), int64(len(Trailer)) + 1,
			500, fixed - 1, fixed, fixed + 1, fixed + 3, fixed + 4, fixed + minFill - 1, fixed + minFill,
			fixed + minFill + 1, 64 << 10, 3<<20 + 17}
		for _, size := range sizes {
			t.Run(fmt.Sprintf("%s/%d", flavor, size), func(t *testing.T) {
				d := Dump("s", size, flavor)
				if d.Size() != size {
					t.Fatalf("Size() = %d, want %d", d.Size(), size)
				}
				got := readAll(t, d)
				if int64(len(got)) != size {
					t.Fatalf("read %d bytes, want %d", len(got), size)
				}
				if again := readAll(t, Dump("s", size, flavor)); !bytes.Equal(got, again) {
					t.Fatal("two dumps with the same seed differ")
				}
				if size >= int64(len(Trailer)) && !bytes.HasSuffix(got, []byte(Trailer)) {
					t.Errorf("dump of %d bytes does not end with the trailer: %q", size, tail(got))
				}
				if size > int64(len(Trailer)) && !bytes.HasSuffix(got, []byte("\n"+Trailer)) && !bytes.Equal(got, []byte(Trailer)) {
					t.Errorf("trailer does not start a line: %q", tail(got))
				}
				first := "-- MySQL dump 10.13  Distrib 8.0.36, for Linux (x86_64)\n"
				if flavor == MariaDB {
					first = "/*M!999999\\- enable the sandbox mode */\n-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB"
				}
				if size > int64(len(first))+int64(len(Trailer)) && !bytes.HasPrefix(got, []byte(first)) {
					t.Errorf("dump starts %q, want %q", got[:len(first)], first)
				}
				if size >= fixed && !utf8.Valid(got) {
					t.Error("dump is not valid UTF-8")
				}
				if size >= fixed+minFill {
					if other := readAll(t, Dump("t", size, flavor)); bytes.Equal(got, other) {
						t.Error("dumps with different seeds are equal")
					}
				}
			})
		}
	}
}

func tail(b []byte) []byte {
	return b[max(0, len(b)-80):]
}

var idRE = regexp.MustCompile(`(?:VALUES |\),)\((\d{10}),`)

func TestDumpIsRealisticMysqldump(t *testing.T) {
	// A small block forces many block copies, so the id stamping shows.
	for _, flavor := range []Flavor{MySQL, MariaDB} {
		t.Run(flavor.String(), func(t *testing.T) {
			d := newDump("site/12345", 700<<10+321, flavor, 20<<10)
			if d.nblocks < 10 {
				t.Fatalf("test needs many block copies, got %d", d.nblocks)
			}
			text := string(readAll(t, d))
			for _, want := range []string{
				"/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;\n",
				"/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;\n",
				"CREATE TABLE `wp_options` (", "CREATE TABLE `wp_posts` (", "CREATE TABLE `wp_users` (",
				"DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;",
				"LOCK TABLES `wp_posts` WRITE;", "UNLOCK TABLES;",
				"/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;\n",
				"😀", "東京", "Zürich", "it\\'s",
			} {
				if !strings.Contains(text, want) {
					t.Errorf("dump lacks %q", want)
				}
			}
			// Between the wp_posts data start and its end, every line is an
			// INSERT into wp_posts, and the row ids run 1, 2, 3, ...
			marker := "LOCK TABLES `wp_posts` WRITE;\n/*!40000 ALTER TABLE `wp_posts` DISABLE KEYS */;\n"
			start := strings.Index(text, marker) + len(marker)
			end := strings.Index(text, "/*!40000 ALTER TABLE `wp_posts` ENABLE KEYS */;")
			lines := strings.Split(strings.TrimSuffix(text[start:end], "\n"), "\n")
			next := int64(1)
			for i, line := range lines {
				if !strings.HasPrefix(line, "INSERT INTO `wp_posts` VALUES (") || !strings.HasSuffix(line, ");") {
					t.Fatalf("line %d of the wp_posts data is not an INSERT: %.80q", i, line)
				}
				for _, m := range idRE.FindAllStringSubmatch(line, -1) {
					id, _ := strconv.ParseInt(m[1], 10, 64)
					if id != next {
						t.Fatalf("line %d: row id %d, want %d", i, id, next)
					}
					next++
				}
			}
			if next < 100 {
				t.Errorf("only %d rows", next-1)
			}
		})
	}
}

func TestDumpReadAtMatchesSequentialRead(t *testing.T) {
	d := newDump("x", 300<<10+7, MySQL, 16<<10)
	full := readAll(t, d)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 500 {
		off := rng.Int64N(d.Size() + 10)
		n := rng.IntN(70 << 10)
		buf := make([]byte, n)
		got, err := d.ReadAt(buf, off)
		wantN := int(max(0, min(int64(n), d.Size()-off)))
		if got != wantN {
			t.Fatalf("case %d: ReadAt(%d bytes, %d) = %d, want %d", i, n, off, got, wantN)
		}
		if wantN < n && err != io.EOF {
			t.Fatalf("case %d: short ReadAt returned %v, want io.EOF", i, err)
		}
		if wantN == n && err != nil {
			t.Fatalf("case %d: full ReadAt returned %v", i, err)
		}
		if wantN > 0 && !bytes.Equal(buf[:got], full[off:off+int64(got)]) {
			t.Fatalf("case %d: ReadAt(%d bytes, %d) differs from the sequential read", i, n, off)
		}
	}
	if _, err := d.ReadAt(make([]byte, 1), -1); err == nil {
		t.Error("ReadAt at a negative offset succeeded")
	}
}

func TestDumpHugeSizeConstantMemory(t *testing.T) {
	const size = 10 << 30
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	d := Dump("huge", size, MariaDB)
	buf := make([]byte, 1<<20)
	for _, off := range []int64{0, size / 3, size - 5<<20, size - int64(len(buf))} {
		if _, err := d.ReadAt(buf, off); err != nil {
			t.Fatalf("ReadAt(%d): %v", off, err)
		}
	}
	if !bytes.HasSuffix(buf, []byte("\n"+Trailer)) {
		t.Errorf("10 GiB dump ends %q", tail(buf))
	}
	// The rows near the end carry ids far beyond the first block's.
	ids := idRE.FindAllSubmatch(buf, -1)
	if len(ids) == 0 {
		t.Fatal("no rows near the end of the dump")
	}
	if id, _ := strconv.ParseInt(string(ids[len(ids)-1][1]), 10, 64); id < 1_000_000 {
		t.Errorf("last row id %d, want millions", id)
	}
	n, err := d.ReadAt(buf, size-100)
	if n != 100 || err != io.EOF {
		t.Errorf("ReadAt across the end = %d, %v; want 100, io.EOF", n, err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 8<<20 {
		t.Errorf("heap grew by %d bytes for a 10 GiB dump", grew)
	}
	runtime.KeepAlive(d)
}

func FuzzDumpReadAt(f *testing.F) {
	f.Add(int64(0), int64(0), 10)
	f.Add(int64(100), int64(50), 100)
	f.Add(int64(9000), int64(8900), 200)
	f.Add(int64(40<<10), int64(20<<10), 9000)
	f.Fuzz(func(t *testing.T, size, off int64, n int) {
		size, off, n = size%(64<<10), off%(70<<10), n%(80<<10)
		if size < 0 || off < 0 || n < 0 {
			return
		}
		d := newDump("fuzz", size, MySQL, 4<<10)
		full := readAll(t, d)
		if int64(len(full)) != size {
			t.Fatalf("read %d bytes, want %d", len(full), size)
		}
		buf := make([]byte, n)
		got, _ := d.ReadAt(buf, off)
		if off >= size {
			if got != 0 {
				t.Fatalf("ReadAt past the end read %d bytes", got)
			}
			return
		}
		if !bytes.Equal(buf[:got], full[off:off+int64(got)]) {
			t.Fatalf("ReadAt(%d, %d) differs from the sequential read", n, off)
		}
	})
}

// BenchmarkDumpReadAt reads a 1 GiB dump sequentially in 256 KiB calls.
func BenchmarkDumpReadAt(b *testing.B) {
	d := Dump("bench", 1<<30, MySQL)
	buf := make([]byte, 256<<10)
	b.SetBytes(int64(len(buf)))
	var off int64
	for b.Loop() {
		if off+int64(len(buf)) > d.Size() {
			off = 0
		}
		if _, err := d.ReadAt(buf, off); err != nil {
			b.Fatal(err)
		}
		off += int64(len(buf))
	}
}
