package integrity

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/builtfast/vectord/storage"
	"github.com/builtfast/vectord/storage/local"
)

// partialTarget is the target name partial-file findings carry: they are
// files of the local disk, under Checker.LocalRoot.
const partialTarget = "local"

// partialFile is a ".partial" file under the local root.
type partialFile struct {
	key     string // slash-separated, relative to the root
	modTime time.Time
}

// findPartials lists the ".partial" files under root that no live writer
// holds (storage/local locks a partial file while it writes it). A missing
// root holds none.
func findPartials(ctx context.Context, root string) ([]partialFile, error) {
	if root == "" {
		return nil, nil
	}
	var out []partialFile
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				if p == root {
					return fs.SkipAll
				}
				return nil // removed meanwhile
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !d.Type().IsRegular() || !strings.HasSuffix(d.Name(), storage.PartialSuffix) {
			return nil
		}
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // committed or removed meanwhile
		}
		if err != nil {
			return err
		}
		busy, err := local.PartialInUse(p)
		if err != nil {
			return err
		}
		if busy {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		out = append(out, partialFile{key: filepath.ToSlash(rel), modTime: fi.ModTime()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("look for partial files under %s: %w", root, err)
	}
	return out, nil
}

// removePartial removes the partial file key under root unless a live
// writer holds it, and reports whether it did.
func removePartial(root, key string) (bool, error) {
	if !strings.HasSuffix(key, storage.PartialSuffix) || !filepath.IsLocal(filepath.FromSlash(key)) {
		return false, fmt.Errorf("%q is not a partial file under %s", key, root)
	}
	return local.RemovePartialIfUnused(filepath.Join(root, filepath.FromSlash(key)))
}
