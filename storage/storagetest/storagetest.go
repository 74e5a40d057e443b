// Package storagetest is the conformance suite every storage.Target
// implementation runs, so that callers can rely on one set of semantics.
package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/builtfast/vectord/storage"
)

// Run checks that the Targets newTarget returns behave as storage.Target
// documents. newTarget is called once per subtest, which may run in
// parallel with the others; it must return an empty Target, independent of
// every other it returned (for a shared bucket: a fresh prefix), and
// register its own clean-up with t.Cleanup.
func Run(t *testing.T, newTarget func(t *testing.T) storage.Target) {
	tests := []struct {
		name string
		fn   func(t *testing.T, tg storage.Target)
	}{
		{"RoundTrip", testRoundTrip},
		{"EmptyObject", testEmptyObject},
		{"InvisibleUntilCommit", testInvisibleUntilCommit},
		{"Abort", testAbort},
		{"AbortAfterCommit", testAbortAfterCommit},
		{"Overwrite", testOverwrite},
		{"Delete", testDelete},
		{"List", testList},
		{"BackupKeys", testBackupKeys},
		{"InvalidKeys", testInvalidKeys},
		{"Missing", testMissing},
		{"CanceledContext", testCanceledContext},
		{"ConcurrentWriters", testConcurrentWriters},
		{"NameAndURI", testNameAndURI},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newTarget(t))
		})
	}
}

// testRoundTrip writes a 5 MiB object in odd-sized chunks and reads it back.
func testRoundTrip(t *testing.T, tg storage.Target) {
	ctx := t.Context()
	const key = "acme/production/roundtrip.sql.zst"
	data := randomBytes(5<<20+17, 1)

	before := time.Now()
	w, err := tg.Create(ctx, key)
	if err != nil {
		t.Fatalf("Create(%q) = %v", key, err)
	}
	defer w.Abort()
	sizes := []int{1, 3, 4093, 65521, 1<<20 + 7, 13, 333333}
	for off, i := 0, 0; off < len(data); i++ {
		n := min(sizes[i%len(sizes)], len(data)-off)
		got, err := w.Write(data[off : off+n])
		if err != nil || got != n {
			t.Fatalf("Write(%d bytes at %d) = %d, %v; want %d, nil", n, off, got, err, n)
		}
		off += n
	}
	info, err := w.Commit(ctx)
	if err != nil {
		t.Fatalf("Commit() = %v", err)
	}
	if info.Key != key || info.Size != int64(len(data)) {
		t.Errorf("Commit() = {Key: %q, Size: %d}, want {Key: %q, Size: %d}", info.Key, info.Size, key, len(data))
	}
	checkModTime(t, "Commit()", info.ModTime, before)

	if got := get(t, tg, key); !bytes.Equal(got, data) {
		t.Errorf("Open(%q) read %d bytes differing from the %d written (first difference at %d)", key, len(got), len(data), firstDiff(got, data))
	}
	st, err := tg.Stat(ctx, key)
	if err != nil {
		t.Fatalf("Stat(%q) = %v", key, err)
	}
	if st.Key != key || st.Size != int64(len(data)) {
		t.Errorf("Stat(%q) = {Key: %q, Size: %d}, want {Key: %q, Size: %d}", key, st.Key, st.Size, key, len(data))
	}
	checkModTime(t, "Stat()", st.ModTime, before)
}

func testEmptyObject(t *testing.T, tg storage.Target) {
	const key = "acme/production/empty.sql"
	put(t, tg, key, nil)
	if got := get(t, tg, key); len(got) != 0 {
		t.Errorf("Open(%q) read %d bytes, want 0", key, len(got))
	}
	st, err := tg.Stat(t.Context(), key)
	if err != nil || st.Size != 0 {
		t.Errorf("Stat(%q) = {Size: %d}, %v; want {Size: 0}, nil", key, st.Size, err)
	}
	checkKeys(t, tg, "", key)
}

func testInvisibleUntilCommit(t *testing.T, tg storage.Target) {
	ctx := t.Context()
	const key = "acme/production/pending.sql"
	w, err := tg.Create(ctx, key)
	if err != nil {
		t.Fatalf("Create(%q) = %v", key, err)
	}
	defer w.Abort()
	if _, err := w.Write(randomBytes(3<<20, 2)); err != nil {
		t.Fatalf("Write() = %v", err)
	}
	checkMissing(t, tg, key)
	checkKeys(t, tg, "")
	checkKeys(t, tg, "acme/production/")

	if _, err := w.Commit(ctx); err != nil {
		t.Fatalf("Commit() = %v", err)
	}
	checkKeys(t, tg, "", key)
}

func testAbort(t *testing.T, tg storage.Target) {
	ctx := t.Context()
	const key = "acme/production/aborted.sql"
	w, err := tg.Create(ctx, key)
	if err != nil {
		t.Fatalf("Create(%q) = %v", key, err)
	}
	if _, err := w.Write(randomBytes(2<<20+5, 3)); err != nil {
		t.Fatalf("Write() = %v", err)
	}
	if err := w.Abort(); err != nil {
		t.Fatalf("Abort() = %v", err)
	}
	checkMissing(t, tg, key)
	checkKeys(t, tg, "")
	if err := w.Abort(); err != nil {
		t.Errorf("second Abort() = %v, want nil", err)
	}
	if _, err := w.Write([]byte("more")); err == nil {
		t.Errorf("Write() after Abort = nil error, want an error")
	}
	if _, err := w.Commit(ctx); err == nil {
		t.Errorf("Commit() after Abort = nil error, want an error")
	}
	checkMissing(t, tg, key)
	checkKeys(t, tg, "")
}

func testAbortAfterCommit(t *testing.T, tg storage.Target) {
	ctx := t.Context()
	const key = "acme/production/kept.sql"
	data := []byte("-- MySQL dump\nINSERT INTO t VALUES (1);\n-- Dump completed\n")
	w, err := tg.Create(ctx, key)
	if err != nil {
		t.Fatalf("Create(%q) = %v", key, err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatalf("Write() = %v", err)
	}
	if _, err := w.Commit(ctx); err != nil {
		t.Fatalf("Commit() = %v", err)
	}
	if err := w.Abort(); err != nil {
		t.Errorf("Abort() after Commit = %v, want nil", err)
	}
	if _, err := w.Commit(ctx); err == nil {
		t.Errorf("second Commit() = nil error, want an error")
	}
	if _, err := w.Write(data); err == nil {
		t.Errorf("Write() after Commit = nil error, want an error")
	}
	if got := get(t, tg, key); !bytes.Equal(got, data) {
		t.Errorf("Open(%q) after Abort = %q, want %q", key, got, data)
	}
}

func testOverwrite(t *testing.T, tg storage.Target) {
	ctx := t.Context()
	const key = "acme/production/acme_production_20240102T030405Z_42.sql.json"
	v1 := []byte(`{"version": 1}`)
	v2 := randomBytes(1<<20+1, 4)
	v3 := []byte(`{"v": 3}`)
	put(t, tg, key, v1)

	w, err := tg.Create(ctx, key)
	if err != nil {
		t.Fatalf("Create(%q) over an object = %v", key, err)
	}
	defer w.Abort()
	if _, err := w.Write(v2); err != nil {
		t.Fatalf("Write() = %v", err)
	}
	if got := get(t, tg, key); !bytes.Equal(got, v1) {
		t.Errorf("Open(%q) before Commit read %d bytes, want the previous object (%d bytes)", key, len(got), len(v1))
	}
	if _, err := w.Commit(ctx); err != nil {
		t.Fatalf("Commit() = %v", err)
	}
	if got := get(t, tg, key); !bytes.Equal(got, v2) {
		t.Errorf("Open(%q) after overwrite read %d bytes, want the new object (%d bytes)", key, len(got), len(v2))
	}

	// An aborted overwrite keeps the object.
	w, err = tg.Create(ctx, key)
	if err != nil {
		t.Fatalf("Create(%q) = %v", key, err)
	}
	if _, err := w.Write(v3); err != nil {
		t.Fatalf("Write() = %v", err)
	}
	if err := w.Abort(); err != nil {
		t.Fatalf("Abort() = %v", err)
	}
	if got := get(t, tg, key); !bytes.Equal(got, v2) {
		t.Errorf("Open(%q) after an aborted overwrite read %d bytes, want the kept object (%d bytes)", key, len(got), len(v2))
	}

	// A shorter object replaces a longer one entirely.
	put(t, tg, key, v3)
	if got := get(t, tg, key); !bytes.Equal(got, v3) {
		t.Errorf("Open(%q) after a shorter overwrite = %q, want %q", key, got, v3)
	}
	st, err := tg.Stat(ctx, key)
	if err != nil || st.Size != int64(len(v3)) {
		t.Errorf("Stat(%q) = {Size: %d}, %v; want {Size: %d}, nil", key, st.Size, err, len(v3))
	}
	checkKeys(t, tg, "", key)
}

func testDelete(t *testing.T, tg storage.Target) {
	ctx := t.Context()
	const (
		key   = "acme/production/old.sql.zst"
		other = "acme/staging/keep.sql.zst"
	)
	put(t, tg, key, []byte("old backup"))
	put(t, tg, other, []byte("other backup"))

	if err := tg.Delete(ctx, key); err != nil {
		t.Fatalf("Delete(%q) = %v", key, err)
	}
	checkMissing(t, tg, key)
	checkKeys(t, tg, "", other)
	if err := tg.Delete(ctx, key); err != nil {
		t.Errorf("Delete(%q) again = %v, want nil", key, err)
	}
	if err := tg.Delete(ctx, "never/stored/here.sql"); err != nil {
		t.Errorf("Delete of a never stored key = %v, want nil", err)
	}
	// A key prefix holding objects is not an object.
	for _, k := range []string{"acme", "acme/staging"} {
		if err := tg.Delete(ctx, k); err != nil {
			t.Errorf("Delete(%q) = %v, want nil", k, err)
		}
	}
	checkKeys(t, tg, "", other)
	if got := get(t, tg, other); string(got) != "other backup" {
		t.Errorf("Open(%q) = %q, want %q", other, got, "other backup")
	}
	// The deleted key's place can be written again.
	put(t, tg, key, []byte("new backup"))
	if got := get(t, tg, key); string(got) != "new backup" {
		t.Errorf("Open(%q) after re-creating = %q, want %q", key, got, "new backup")
	}
}

func testList(t *testing.T, tg storage.Target) {
	ctx := t.Context()
	keys := []string{
		"acme/production/b.sql",
		"acme/production/a.sql",
		"acme/production/a.sql.json",
		"acme/production/sub/deep.sql",
		"acme/production-eu/e.sql",
		"acme/development/c.sql",
		"acme-2/production/d.sql",
		"beta/x/y.sql",
	}
	sizes := map[string]int64{}
	for i, k := range keys {
		sizes[k] = int64(10 + i)
		put(t, tg, k, randomBytes(10+i, uint64(i)))
	}
	// Writers still open or aborted are never listed.
	open, err := tg.Create(ctx, "acme/production/z.sql")
	if err != nil {
		t.Fatalf("Create() = %v", err)
	}
	defer open.Abort()
	if _, err := open.Write([]byte("unfinished")); err != nil {
		t.Fatalf("Write() = %v", err)
	}
	aborted, err := tg.Create(ctx, "acme/production/aborted.sql")
	if err != nil {
		t.Fatalf("Create() = %v", err)
	}
	if _, err := aborted.Write([]byte("aborted")); err != nil {
		t.Fatalf("Write() = %v", err)
	}
	if err := aborted.Abort(); err != nil {
		t.Fatalf("Abort() = %v", err)
	}

	tests := []struct {
		prefix string
		want   []string
	}{
		{"", []string{
			"acme-2/production/d.sql",
			"acme/development/c.sql",
			"acme/production-eu/e.sql",
			"acme/production/a.sql",
			"acme/production/a.sql.json",
			"acme/production/b.sql",
			"acme/production/sub/deep.sql",
			"beta/x/y.sql",
		}},
		{"acme/", []string{
			"acme/development/c.sql",
			"acme/production-eu/e.sql",
			"acme/production/a.sql",
			"acme/production/a.sql.json",
			"acme/production/b.sql",
			"acme/production/sub/deep.sql",
		}},
		{"acme", []string{
			"acme-2/production/d.sql",
			"acme/development/c.sql",
			"acme/production-eu/e.sql",
			"acme/production/a.sql",
			"acme/production/a.sql.json",
			"acme/production/b.sql",
			"acme/production/sub/deep.sql",
		}},
		{"acme/production/", []string{
			"acme/production/a.sql",
			"acme/production/a.sql.json",
			"acme/production/b.sql",
			"acme/production/sub/deep.sql",
		}},
		{"acme/production", []string{
			"acme/production-eu/e.sql",
			"acme/production/a.sql",
			"acme/production/a.sql.json",
			"acme/production/b.sql",
			"acme/production/sub/deep.sql",
		}},
		{"acme/production/a", []string{"acme/production/a.sql", "acme/production/a.sql.json"}},
		{"acme/production/a.sql.json", []string{"acme/production/a.sql.json"}},
		{"acme/production/s", []string{"acme/production/sub/deep.sql"}},
		{"nomatch/", nil},
		{"acme/production/z", nil},
		{"beta/x/y.sql/", nil},
	}
	for _, tt := range tests {
		infos, err := tg.List(ctx, tt.prefix)
		if err != nil {
			t.Errorf("List(%q) = %v", tt.prefix, err)
			continue
		}
		if diff := cmp.Diff(tt.want, infoKeys(infos)); diff != "" {
			t.Errorf("List(%q) keys differ (-want +got):\n%s", tt.prefix, diff)
		}
		for _, info := range infos {
			if info.Size != sizes[info.Key] {
				t.Errorf("List(%q): %s has Size %d, want %d", tt.prefix, info.Key, info.Size, sizes[info.Key])
			}
			if info.ModTime.IsZero() {
				t.Errorf("List(%q): %s has a zero ModTime", tt.prefix, info.Key)
			}
		}
	}
	for _, prefix := range []string{"../", "/acme", "acme//", "acme/../"} {
		if _, err := tg.List(ctx, prefix); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("List(%q) = %v, want an error matching ErrInvalidKey", prefix, err)
		}
	}
}

// testBackupKeys stores backups under keys made from hostile export ids and
// checks that they stay in their environment's directory.
func testBackupKeys(t *testing.T, tg storage.Target) {
	started := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	want := []string{}
	for i, exportID := range []string{"42", "../../../etc/passwd", "exp 1/2", "", "01HXYZ-abc_def"} {
		key := storage.BackupKey("acme", "production", started.Add(time.Duration(i)*time.Hour), exportID, ".zst")
		data := []byte(fmt.Sprintf("backup %d", i))
		put(t, tg, key, data)
		put(t, tg, storage.ManifestKey(key), []byte(fmt.Sprintf(`{"export_id": %q}`, exportID)))
		if got := get(t, tg, key); !bytes.Equal(got, data) {
			t.Errorf("Open(%q) = %q, want %q", key, got, data)
		}
		want = append(want, key, storage.ManifestKey(key))
	}
	infos, err := tg.List(t.Context(), "")
	if err != nil {
		t.Fatalf("List() = %v", err)
	}
	got := infoKeys(infos)
	for _, k := range got {
		if !strings.HasPrefix(k, "acme/production/acme_production_2024") {
			t.Errorf("List() holds %q, outside the environment's directory", k)
		}
	}
	if len(got) != len(want) {
		t.Errorf("List() = %q, want the %d keys stored: %q", got, len(want), want)
	}
}

var invalidKeys = []string{"", "../x", "/abs", "a//b", "a/../b", "./a", "a/", ".", "..", `a\b`, "a\x00b", "x.sql.partial"}

func testInvalidKeys(t *testing.T, tg storage.Target) {
	ctx := t.Context()
	for _, key := range invalidKeys {
		if w, err := tg.Create(ctx, key); !errors.Is(err, storage.ErrInvalidKey) {
			if err == nil {
				w.Abort()
			}
			t.Errorf("Create(%q) = %v, want an error matching ErrInvalidKey", key, err)
		}
		if _, err := tg.Open(ctx, key); !errors.Is(err, storage.ErrInvalidKey) || errors.Is(err, storage.ErrNotExist) {
			t.Errorf("Open(%q) = %v, want an error matching ErrInvalidKey only", key, err)
		}
		if _, err := tg.Stat(ctx, key); !errors.Is(err, storage.ErrInvalidKey) || errors.Is(err, storage.ErrNotExist) {
			t.Errorf("Stat(%q) = %v, want an error matching ErrInvalidKey only", key, err)
		}
		if err := tg.Delete(ctx, key); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Delete(%q) = %v, want an error matching ErrInvalidKey", key, err)
		}
	}
	checkKeys(t, tg, "")
}

func testMissing(t *testing.T, tg storage.Target) {
	checkMissing(t, tg, "acme/production/missing.sql.zst")
	put(t, tg, "acme/production/present.sql", []byte("x"))
	// Prefixes of an object's key are not objects.
	for _, k := range []string{"acme", "acme/production", "acme/production/present"} {
		checkMissing(t, tg, k)
	}
	checkMissing(t, tg, "acme/production/present.sql/below")
}

func testCanceledContext(t *testing.T, tg storage.Target) {
	const key = "acme/production/kept.sql"
	put(t, tg, key, []byte("kept"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	if w, err := tg.Create(ctx, "acme/production/new.sql"); !errors.Is(err, context.Canceled) {
		if err == nil {
			w.Abort()
		}
		t.Errorf("Create() with a canceled context = %v, want an error matching context.Canceled", err)
	}
	if _, err := tg.Open(ctx, key); err == nil {
		t.Errorf("Open() with a canceled context = nil error, want an error")
	}
	if _, err := tg.Stat(ctx, key); err == nil {
		t.Errorf("Stat() with a canceled context = nil error, want an error")
	}
	if _, err := tg.List(ctx, ""); err == nil {
		t.Errorf("List() with a canceled context = nil error, want an error")
	}
	if err := tg.Delete(ctx, key); err == nil {
		t.Errorf("Delete() with a canceled context = nil error, want an error")
	}
	if got := get(t, tg, key); string(got) != "kept" {
		t.Errorf("Open(%q) after a canceled Delete = %q, want %q", key, got, "kept")
	}

	// A Commit whose context ends stores nothing.
	const uncommitted = "acme/production/canceled.sql"
	w, err := tg.Create(t.Context(), uncommitted)
	if err != nil {
		t.Fatalf("Create() = %v", err)
	}
	if _, err := w.Write([]byte("data")); err != nil {
		t.Fatalf("Write() = %v", err)
	}
	if _, err := w.Commit(ctx); err == nil {
		t.Errorf("Commit() with a canceled context = nil error, want an error")
	}
	if err := w.Abort(); err != nil {
		t.Errorf("Abort() after a failed Commit = %v, want nil", err)
	}
	checkMissing(t, tg, uncommitted)
	checkKeys(t, tg, "", key)
}

func testConcurrentWriters(t *testing.T, tg storage.Target) {
	ctx := t.Context()
	const shared = "acme/production/shared.sql"
	payloads := make([][]byte, 8)
	for i := range payloads {
		payloads[i] = randomBytes(64<<10+i, uint64(100+i))
	}
	var wg sync.WaitGroup
	for i, p := range payloads {
		for _, key := range []string{fmt.Sprintf("acme/env%d/own%d.sql", i%3, i), shared} {
			wg.Go(func() {
				w, err := tg.Create(ctx, key)
				if err != nil {
					t.Errorf("Create(%q) = %v", key, err)
					return
				}
				defer w.Abort()
				for chunk := range chunks(p, 4096) {
					if _, err := w.Write(chunk); err != nil {
						t.Errorf("Write() to %q = %v", key, err)
						return
					}
				}
				if _, err := w.Commit(ctx); err != nil {
					t.Errorf("Commit() of %q = %v", key, err)
				}
			})
		}
	}
	wg.Wait()
	for i, p := range payloads {
		key := fmt.Sprintf("acme/env%d/own%d.sql", i%3, i)
		if got := get(t, tg, key); !bytes.Equal(got, p) {
			t.Errorf("Open(%q) read %d bytes differing from the %d written", key, len(got), len(p))
		}
	}
	got := get(t, tg, shared)
	found := false
	for _, p := range payloads {
		found = found || bytes.Equal(got, p)
	}
	if !found {
		t.Errorf("Open(%q) after concurrent writers read %d bytes equal to none of the objects written", shared, len(got))
	}
	infos, err := tg.List(ctx, "")
	if err != nil {
		t.Fatalf("List() = %v", err)
	}
	if len(infos) != len(payloads)+1 {
		t.Errorf("List() = %q, want %d objects", infoKeys(infos), len(payloads)+1)
	}
}

func testNameAndURI(t *testing.T, tg storage.Target) {
	if name := tg.Name(); name == "" || strings.ToLower(name) != name {
		t.Errorf("Name() = %q, want a non-empty lower-case name", name)
	}
	a, b := tg.URI("acme/production/a.sql"), tg.URI("acme/production/b.sql")
	if a == "" || a == b {
		t.Errorf("URI() = %q and %q for two keys, want two distinct URIs", a, b)
	}
	if !strings.Contains(a, "acme/production/a.sql") {
		t.Errorf("URI(%q) = %q, want it to contain the key", "acme/production/a.sql", a)
	}
}

// put stores data under key.
func put(t *testing.T, tg storage.Target, key string, data []byte) {
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
		t.Fatalf("Commit() of %q = %v", key, err)
	}
	if info.Key != key || info.Size != int64(len(data)) {
		t.Fatalf("Commit() of %q = {Key: %q, Size: %d}, want {Key: %q, Size: %d}", key, info.Key, info.Size, key, len(data))
	}
}

// get reads the object under key.
func get(t *testing.T, tg storage.Target, key string) []byte {
	t.Helper()
	r, err := tg.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("Open(%q) = %v", key, err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("Close() of %q = %v", key, err)
	}
	return data
}

// checkMissing checks that no object is visible under key.
func checkMissing(t *testing.T, tg storage.Target, key string) {
	t.Helper()
	ctx := t.Context()
	if r, err := tg.Open(ctx, key); !errors.Is(err, storage.ErrNotExist) {
		if err == nil {
			r.Close()
		}
		t.Errorf("Open(%q) = %v, want an error matching ErrNotExist", key, err)
	}
	if _, err := tg.Stat(ctx, key); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("Stat(%q) = %v, want an error matching ErrNotExist", key, err)
	}
}

// checkKeys checks that List(prefix) returns exactly want.
func checkKeys(t *testing.T, tg storage.Target, prefix string, want ...string) {
	t.Helper()
	infos, err := tg.List(t.Context(), prefix)
	if err != nil {
		t.Fatalf("List(%q) = %v", prefix, err)
	}
	if diff := cmp.Diff(want, infoKeys(infos)); diff != "" {
		t.Errorf("List(%q) keys differ (-want +got):\n%s", prefix, diff)
	}
}

func checkModTime(t *testing.T, what string, mt, before time.Time) {
	t.Helper()
	const slack = 5 * time.Minute // file systems round, servers' clocks drift
	if mt.Before(before.Add(-slack)) || mt.After(time.Now().Add(slack)) {
		t.Errorf("%s ModTime = %v, want about now (%v)", what, mt, before)
	}
}

func infoKeys(infos []storage.Info) []string {
	var keys []string
	for _, info := range infos {
		keys = append(keys, info.Key)
	}
	return keys
}

// randomBytes returns n reproducible pseudo-random bytes.
func randomBytes(n int, seed uint64) []byte {
	var s [32]byte
	s[0] = byte(seed)
	s[1] = byte(seed >> 8)
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(s).Read(b)
	return b
}

// chunks yields p in chunks of at most n bytes.
func chunks(p []byte, n int) func(yield func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(p) > 0 {
			k := min(n, len(p))
			if !yield(p[:k]) {
				return
			}
			p = p[k:]
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
