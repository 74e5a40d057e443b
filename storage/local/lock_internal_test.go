//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package local

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestClaimPartial plays CleanPartials (of another process) finding a new
// partial file before its writer locks it: holding its lock, or having
// removed it. The writer must learn that its file is taken, so that Create
// picks another name, rather than write a whole backup into a file that is
// gone.
func TestClaimPartial(t *testing.T) {
	newFile := func(t *testing.T) (*os.File, string) {
		name := filepath.Join(t.TempDir(), "x.sql.0123456789ab.partial")
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f, name
	}
	t.Run("free", func(t *testing.T) {
		f, name := newFile(t)
		if err := claimPartial(f, name); err != nil {
			t.Fatalf("claimPartial() = %v", err)
		}
		// Now CleanPartials must leave it alone.
		removed, err := removeUnlocked(name, os.Remove)
		if removed || err != nil {
			t.Errorf("removeUnlocked() of a claimed file = %v, %v; want false, nil", removed, err)
		}
	})
	t.Run("locked by a clean-up", func(t *testing.T) {
		f, name := newFile(t)
		other, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		if err := lock(other); err != nil {
			t.Fatal(err)
		}
		err = claimPartial(f, name)
		if !errors.Is(err, errPartialTaken) || !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("claimPartial() of a file locked elsewhere = %v, want errPartialTaken (matching fs.ErrNotExist)", err)
		}
	})
	t.Run("removed by a clean-up", func(t *testing.T) {
		f, name := newFile(t)
		if err := os.Remove(name); err != nil {
			t.Fatal(err)
		}
		if err := claimPartial(f, name); !errors.Is(err, errPartialTaken) {
			t.Errorf("claimPartial() of a removed file = %v, want errPartialTaken", err)
		}
	})
	t.Run("replaced under its name", func(t *testing.T) {
		f, name := newFile(t)
		if err := os.Remove(name); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, nil, fileMode); err != nil {
			t.Fatal(err)
		}
		if err := claimPartial(f, name); !errors.Is(err, errPartialTaken) {
			t.Errorf("claimPartial() of a file replaced under its name = %v, want errPartialTaken", err)
		}
	})
}
