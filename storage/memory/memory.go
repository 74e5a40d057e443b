// Package memory is a storage.Target that keeps objects in memory, for tests.
package memory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/builtfast/vectord/storage"
)

// Target is an in-memory storage.Target, safe for concurrent use, with the
// same semantics as the others: an object is invisible until its Writer
// commits. The zero value is not usable; call New.
type Target struct {
	now func() time.Time

	mu      sync.Mutex
	objects map[string]object
}

type object struct {
	data    []byte // never modified once stored
	modTime time.Time
}

var _ storage.Target = (*Target)(nil)

// New returns an empty Target.
func New() *Target {
	return &Target{now: time.Now, objects: make(map[string]object)}
}

// Name returns "memory".
func (t *Target) Name() string { return "memory" }

// URI returns "memory:///" followed by key.
func (t *Target) URI(key string) string { return "memory:///" + key }

// Create starts an object under key; see storage.Target.
func (t *Target) Create(ctx context.Context, key string) (storage.Writer, error) {
	if err := check(ctx, key); err != nil {
		return nil, fmt.Errorf("memory: create %s: %w", key, err)
	}
	return &writer{t: t, key: key}, nil
}

// Open returns the object's content; the error matches storage.ErrNotExist
// if key holds none.
func (t *Target) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	o, err := t.get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("memory: open %s: %w", key, err)
	}
	return io.NopCloser(bytes.NewReader(o.data)), nil
}

// Stat describes the object; the error matches storage.ErrNotExist if key
// holds none.
func (t *Target) Stat(ctx context.Context, key string) (storage.Info, error) {
	o, err := t.get(ctx, key)
	if err != nil {
		return storage.Info{}, fmt.Errorf("memory: stat %s: %w", key, err)
	}
	return storage.Info{Key: key, Size: int64(len(o.data)), ModTime: o.modTime}, nil
}

// Delete removes the object under key, if any.
func (t *Target) Delete(ctx context.Context, key string) error {
	if err := check(ctx, key); err != nil {
		return fmt.Errorf("memory: delete %s: %w", key, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.objects, key)
	return nil
}

// List returns the committed objects whose keys start with prefix, sorted by
// key.
func (t *Target) List(ctx context.Context, prefix string) ([]storage.Info, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: list %s: %w", prefix, err)
	}
	if err := storage.ValidatePrefix(prefix); err != nil {
		return nil, fmt.Errorf("memory: list: %w", err)
	}
	t.mu.Lock()
	infos := make([]storage.Info, 0, len(t.objects))
	for k, o := range t.objects {
		if strings.HasPrefix(k, prefix) {
			infos = append(infos, storage.Info{Key: k, Size: int64(len(o.data)), ModTime: o.modTime})
		}
	}
	t.mu.Unlock()
	sort.Slice(infos, func(i, j int) bool { return infos[i].Key < infos[j].Key })
	return infos, nil
}

func (t *Target) get(ctx context.Context, key string) (object, error) {
	if err := check(ctx, key); err != nil {
		return object{}, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	o, ok := t.objects[key]
	if !ok {
		return object{}, storage.ErrNotExist
	}
	return o, nil
}

func check(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return storage.ValidateKey(key)
}

// writer buffers an object until Commit stores it.
type writer struct {
	t    *Target
	key  string
	buf  bytes.Buffer
	done bool // committed or aborted
}

var errFinished = errors.New("writer already committed or aborted")

func (w *writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, fmt.Errorf("memory: write %s: %w", w.key, errFinished)
	}
	return w.buf.Write(p)
}

func (w *writer) Commit(ctx context.Context) (storage.Info, error) {
	if w.done {
		return storage.Info{}, fmt.Errorf("memory: commit %s: %w", w.key, errFinished)
	}
	w.done = true
	data := w.buf.Bytes()
	w.buf = bytes.Buffer{}
	if err := ctx.Err(); err != nil {
		return storage.Info{}, fmt.Errorf("memory: commit %s: %w", w.key, err)
	}
	o := object{data: data, modTime: w.t.now()}
	w.t.mu.Lock()
	w.t.objects[w.key] = o
	w.t.mu.Unlock()
	return storage.Info{Key: w.key, Size: int64(len(data)), ModTime: o.modTime}, nil
}

func (w *writer) Abort() error {
	w.done = true
	w.buf = bytes.Buffer{}
	return nil
}
