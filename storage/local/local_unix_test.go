//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package local_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/builtfast/vectord/storage"
	"github.com/builtfast/vectord/storage/local"
)

// TestModes checks that backups are private (files 0600, directories 0700)
// whatever the umask. It changes the process's umask, so it must not run in
// parallel with other tests.
func TestModes(t *testing.T) {
	for _, umask := range []int{0, 0o022, 0o077, 0o277} {
		t.Run(fmt.Sprintf("umask %04o", umask), func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "backups")
			old := syscall.Umask(umask)
			defer syscall.Umask(old)

			tg := newTarget(t, root)
			key := storage.BackupKey("acme", "production", testTime, "42", ".zst")
			w, err := tg.Create(t.Context(), key)
			if err != nil {
				t.Fatalf("Create() = %v", err)
			}
			defer w.Abort()
			if _, err := w.Write([]byte("dump")); err != nil {
				t.Fatalf("Write() = %v", err)
			}
			p := partials(t, root)
			if len(p) != 1 {
				t.Fatalf("partial files while writing = %q, want 1", p)
			}
			checkMode(t, filepath.Join(root, p[0]), 0o600)
			if _, err := w.Commit(t.Context()); err != nil {
				t.Fatalf("Commit() = %v", err)
			}
			put(t, tg, storage.ManifestKey(key), []byte("{}"))

			checkMode(t, root, fs.ModeDir|0o700)
			checkMode(t, filepath.Join(root, "acme"), fs.ModeDir|0o700)
			checkMode(t, filepath.Join(root, "acme", "production"), fs.ModeDir|0o700)
			checkMode(t, filepath.Join(root, filepath.FromSlash(key)), 0o600)
			checkMode(t, filepath.Join(root, filepath.FromSlash(storage.ManifestKey(key))), 0o600)
		})
	}
}

const crashRootEnv = "VECTORD_LOCAL_TEST_CRASH_ROOT"

// TestCrashLeavesNoObject kills a process in the middle of a write (the
// test binary, re-run as a helper) and checks that a new Target on the same
// root shows no object and that CleanPartials removes the leftover.
func TestCrashLeavesNoObject(t *testing.T) {
	key := storage.BackupKey("acme", "production", testTime, "42", ".zst")
	if root := os.Getenv(crashRootEnv); root != "" {
		crashWhileWriting(root, key)
		return
	}
	root := t.TempDir()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestCrashLeavesNoObject$")
	cmd.Env = append(os.Environ(), crashRootEnv+"="+root)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || !exit.Sys().(syscall.WaitStatus).Signaled() {
		t.Fatalf("helper process = %v, want it killed by a signal; output:\n%s", err, out)
	}
	if got := partials(t, root); len(got) != 1 || !strings.HasPrefix(got[0], key+".") {
		t.Fatalf("partial files after the crash = %q, want the interrupted write's", got)
	}

	tg := newTarget(t, root)
	if infos, err := tg.List(t.Context(), ""); err != nil || len(infos) != 0 {
		t.Errorf("List() after the crash = %+v, %v; want no objects", infos, err)
	}
	if _, err := tg.Stat(t.Context(), key); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("Stat(%q) after the crash = %v, want ErrNotExist", key, err)
	}
	removed, err := tg.CleanPartials(t.Context())
	if err != nil || len(removed) != 1 {
		t.Errorf("CleanPartials() = %q, %v; want the one partial file removed", removed, err)
	}
	if got := partials(t, root); len(got) != 0 {
		t.Errorf("partial files after CleanPartials = %q, want none", got)
	}
	// The backup can be taken again.
	put(t, tg, key, []byte("complete dump"))
	if got := get(t, tg, key); string(got) != "complete dump" {
		t.Errorf("Open(%q) = %q, want %q", key, got, "complete dump")
	}
}

// crashWhileWriting runs in the helper process: it writes part of an
// object, then kills its own process.
func crashWhileWriting(root, key string) {
	tg, err := local.New(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	w, err := tg.Create(context.Background(), key)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if _, err := w.Write(make([]byte, 3<<20)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // not reached
}

// TestReadOnlyDirectory makes a directory read-only (chmod 0500) to make a
// Commit and a Delete fail. Root ignores directory permissions, so as root
// the same failures are covered by the stand-ins of the internal tests.
func TestReadOnlyDirectory(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores directory permissions; see TestWriteErrors and TestDeleteError")
	}
	ctx := t.Context()
	root := t.TempDir()
	tg := newTarget(t, root)
	dir := filepath.Join(root, "acme", "production")

	t.Run("Commit", func(t *testing.T) {
		const key = "acme/production/new.sql"
		w, err := tg.Create(ctx, key)
		if err != nil {
			t.Fatalf("Create() = %v", err)
		}
		if _, err := w.Write([]byte("dump")); err != nil {
			t.Fatalf("Write() = %v", err)
		}
		chmod(t, dir, 0o500)
		_, err = w.Commit(ctx)
		chmod(t, dir, 0o700)
		if err == nil {
			t.Fatalf("Commit() in a read-only directory = nil error, want an error")
		}
		if err := w.Abort(); err != nil {
			t.Errorf("Abort() = %v", err)
		}
		if got := partials(t, root); len(got) != 0 {
			t.Errorf("partial files left after Abort: %q", got)
		}
		if _, err := tg.Stat(ctx, key); !errors.Is(err, storage.ErrNotExist) {
			t.Errorf("Stat(%q) = %v, want ErrNotExist", key, err)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		const key = "acme/production/old.sql"
		put(t, tg, key, []byte("old"))
		chmod(t, dir, 0o500)
		err := tg.Delete(ctx, key)
		chmod(t, dir, 0o700)
		if !errors.Is(err, fs.ErrPermission) {
			t.Errorf("Delete() in a read-only directory = %v, want a permission error", err)
		}
		if got := get(t, tg, key); string(got) != "old" {
			t.Errorf("Open(%q) after a failed Delete = %q, want %q", key, got, "old")
		}
	})
}

func chmod(t testing.TB, name string, mode fs.FileMode) {
	t.Helper()
	if err := os.Chmod(name, mode); err != nil {
		t.Fatal(err)
	}
}
