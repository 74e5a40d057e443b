package local_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/builtfast/vectord/storage"
	"github.com/builtfast/vectord/storage/local"
	"github.com/builtfast/vectord/storage/storagetest"
)

var testTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Target { return newTarget(t, t.TempDir()) })
}

func newTarget(t testing.TB, root string) *local.Target {
	t.Helper()
	tg, err := local.New(root)
	if err != nil {
		t.Fatalf("New(%q) = %v", root, err)
	}
	return tg
}

func TestNewCreatesRoot(t *testing.T) {
	root := filepath.Join(t.TempDir(), "var", "lib", "vectord", "backups")
	newTarget(t, root)
	for dir := root; dir != filepath.Dir(filepath.Dir(filepath.Dir(root))); dir = filepath.Dir(dir) {
		checkMode(t, dir, fs.ModeDir|0o700)
	}
}

func TestNewRefusesFile(t *testing.T) {
	root := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(root, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := local.New(root); err == nil {
		t.Errorf("New(%q) on a regular file = nil error, want an error", root)
	}
	if _, err := local.New(""); err == nil {
		t.Errorf(`New("") = nil error, want an error`)
	}
}

func TestURI(t *testing.T) {
	root := t.TempDir()
	tg := newTarget(t, root)
	const key = "acme/production/acme_production_20240102T030405Z_4 2.sql.zst"
	uri := tg.URI(key)
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatalf("url.Parse(URI(%q) = %q) = %v", key, uri, err)
	}
	resolved, err := filepath.EvalSymlinks(root)
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(resolved, filepath.FromSlash(key))
	if u.Scheme != "file" || u.Path != want || !filepath.IsAbs(u.Path) {
		t.Errorf("URI(%q) = %q, want a file:// URI of %q", key, uri, want)
	}
}

// TestObjectsAreFilesUnderRoot checks the layout users rely on to fetch a
// backup with plain tools: the object is the file <root>/<key>.
func TestObjectsAreFilesUnderRoot(t *testing.T) {
	root := t.TempDir()
	tg := newTarget(t, root)
	key := storage.BackupKey("acme", "production", testTime, "42", ".zst")
	put(t, tg, key, []byte("dump"))
	got, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(key)))
	if err != nil || string(got) != "dump" {
		t.Errorf("ReadFile(<root>/%s) = %q, %v; want %q, nil", key, got, err, "dump")
	}
}

func TestCleanPartials(t *testing.T) {
	ctx := t.Context()
	root := t.TempDir()
	tg := newTarget(t, root)
	put(t, tg, "acme/production/done.sql", []byte("committed"))

	// Leftovers of interrupted writes, as a crash leaves them.
	stale := []string{
		"acme/production/done.sql.0123456789ab.partial",
		"acme/staging/x.sql.zst.a1b2c3d4e5f6.partial",
		"beta/development/deep/y.partial",
	}
	for _, rel := range stale {
		writeFile(t, filepath.Join(root, rel), "half a dump")
	}
	// A directory named like a partial file is not one.
	if err := os.MkdirAll(filepath.Join(root, "odd.partial", "d"), 0o700); err != nil {
		t.Fatal(err)
	}
	// A live writer's partial file stays.
	live, err := tg.Create(ctx, "acme/production/live.sql")
	if err != nil {
		t.Fatalf("Create() = %v", err)
	}
	defer live.Abort()
	if _, err := live.Write(bytes.Repeat([]byte("x"), 3<<20)); err != nil {
		t.Fatalf("Write() = %v", err)
	}

	removed, err := tg.CleanPartials(ctx)
	if err != nil {
		t.Fatalf("CleanPartials() = %v", err)
	}
	sort.Strings(removed)
	if diff := cmp.Diff(stale, removed); diff != "" {
		t.Errorf("CleanPartials() removed (-want +got):\n%s", diff)
	}
	for _, rel := range stale {
		if _, err := os.Lstat(filepath.Join(root, rel)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still exists after CleanPartials (Lstat = %v)", rel, err)
		}
	}
	if got := partials(t, root); len(got) != 1 || !strings.HasPrefix(got[0], "acme/production/live.sql.") {
		t.Errorf("partial files after CleanPartials = %q, want only the live writer's", got)
	}
	if _, err := os.Stat(filepath.Join(root, "odd.partial", "d")); err != nil {
		t.Errorf("CleanPartials removed a directory: %v", err)
	}

	// The live writer is undisturbed.
	if _, err := live.Commit(ctx); err != nil {
		t.Fatalf("Commit() after CleanPartials = %v", err)
	}
	if got := get(t, tg, "acme/production/live.sql"); len(got) != 3<<20 {
		t.Errorf("Open(live.sql) read %d bytes, want %d", len(got), 3<<20)
	}
	if got := get(t, tg, "acme/production/done.sql"); string(got) != "committed" {
		t.Errorf("Open(done.sql) = %q, want %q", got, "committed")
	}
	if removed, err := tg.CleanPartials(ctx); err != nil || len(removed) != 0 {
		t.Errorf("second CleanPartials() = %q, %v; want nothing removed", removed, err)
	}
}

func TestCleanPartialsCanceled(t *testing.T) {
	root := t.TempDir()
	tg := newTarget(t, root)
	writeFile(t, filepath.Join(root, "a/b/c.partial"), "x")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := tg.CleanPartials(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("CleanPartials() with a canceled context = %v, want context.Canceled", err)
	}
}

// TestListSkipsForeignFiles checks that only committed objects are listed,
// whatever else lies in the tree.
func TestListSkipsForeignFiles(t *testing.T) {
	root := t.TempDir()
	tg := newTarget(t, root)
	put(t, tg, "acme/production/a.sql", []byte("a"))
	writeFile(t, filepath.Join(root, "acme/production/a.sql.0123456789ab.partial"), "partial")
	writeFile(t, filepath.Join(root, `acme/production/back\slash.sql`), "not a key")
	if err := os.Symlink("a.sql", filepath.Join(root, "acme/production/link.sql")); err != nil {
		t.Fatal(err)
	}
	infos, err := tg.List(t.Context(), "")
	if err != nil {
		t.Fatalf("List() = %v", err)
	}
	if len(infos) != 1 || infos[0].Key != "acme/production/a.sql" {
		t.Errorf("List() = %+v, want only acme/production/a.sql", infos)
	}
	// A symbolic link is not an object.
	if _, err := tg.Stat(t.Context(), "acme/production/link.sql"); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("Stat(link.sql) = %v, want ErrNotExist", err)
	}
}

func TestDeleteRemovesEmptyDirectories(t *testing.T) {
	ctx := t.Context()
	root := t.TempDir()
	tg := newTarget(t, root)
	put(t, tg, "acme/production/a.sql", []byte("a"))
	put(t, tg, "acme/staging/b.sql", []byte("b"))

	if err := tg.Delete(ctx, "acme/production/a.sql"); err != nil {
		t.Fatalf("Delete() = %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "acme", "production")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("empty directory acme/production still exists after Delete (Stat = %v)", err)
	}
	if _, err := os.Stat(filepath.Join(root, "acme", "staging", "b.sql")); err != nil {
		t.Errorf("Delete removed a sibling: %v", err)
	}
	if err := tg.Delete(ctx, "acme/staging/b.sql"); err != nil {
		t.Fatalf("Delete() = %v", err)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatalf("ReadDir(root) = %v; Delete must not remove the root", err)
	}
	if len(entries) != 0 {
		t.Errorf("root holds %d entries after deleting everything, want 0", len(entries))
	}
}

// TestCommitFailureLeavesNothing makes the rename fail by putting a
// directory where the final file goes (a read-only directory would not stop
// root).
func TestCommitFailureLeavesNothing(t *testing.T) {
	ctx := t.Context()
	root := t.TempDir()
	tg := newTarget(t, root)
	const key = "acme/production/x.sql"
	w, err := tg.Create(ctx, key)
	if err != nil {
		t.Fatalf("Create() = %v", err)
	}
	if _, err := w.Write([]byte("dump")); err != nil {
		t.Fatalf("Write() = %v", err)
	}
	writeFile(t, filepath.Join(root, "acme/production/x.sql/blocker"), "x")

	if _, err := w.Commit(ctx); err == nil {
		t.Fatalf("Commit() onto a directory = nil error, want an error")
	}
	if err := w.Abort(); err != nil {
		t.Errorf("Abort() after a failed Commit = %v", err)
	}
	if got := partials(t, root); len(got) != 0 {
		t.Errorf("partial files left after a failed Commit: %q", got)
	}
	if _, err := tg.Stat(ctx, key); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("Stat(%q) = %v, want ErrNotExist", key, err)
	}
}

func put(t testing.TB, tg storage.Target, key string, data []byte) {
	t.Helper()
	w, err := tg.Create(context.Background(), key)
	if err != nil {
		t.Fatalf("Create(%q) = %v", key, err)
	}
	defer w.Abort()
	if _, err := w.Write(data); err != nil {
		t.Fatalf("Write() = %v", err)
	}
	if _, err := w.Commit(context.Background()); err != nil {
		t.Fatalf("Commit(%q) = %v", key, err)
	}
}

func get(t testing.TB, tg storage.Target, key string) []byte {
	t.Helper()
	r, err := tg.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("Open(%q) = %v", key, err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	return data
}

func writeFile(t testing.TB, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// partials returns the partial files under root, relative and sorted.
func partials(t testing.TB, root string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, storage.PartialSuffix) {
			rel, _ := filepath.Rel(root, p)
			found = append(found, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	sort.Strings(found)
	return found
}

func checkMode(t testing.TB, name string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Lstat(name)
	if err != nil {
		t.Errorf("Lstat(%s) = %v", name, err)
		return
	}
	if got := fi.Mode() & (fs.ModeType | fs.ModePerm); got != want {
		t.Errorf("mode of %s = %v, want %v", name, got, want)
	}
}
