// Package storage defines Target, the interface through which vectord stores
// backups and their manifests, and the key scheme they are stored under.
//
// A key is a relative, slash-separated path such as
// "acme/production/acme_production_20240102T030405Z_42.sql.zst" (see
// BackupKey). Every backend (local files, S3, memory) implements the same
// semantics, checked by the storagetest conformance suite:
//
//   - an object becomes visible only when its Writer's Commit returns nil,
//     complete and durable; a failed or aborted write leaves nothing;
//   - a missing object is reported with an error matching ErrNotExist;
//   - every method refuses a key that ValidateKey refuses.
package storage

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrNotExist is matched (with errors.Is) by the error a Target returns when
// the object under a key does not exist.
var ErrNotExist = errors.New("object does not exist")

// Info describes a stored object.
type Info struct {
	Key     string    // the object's key
	Size    int64     // size in bytes, as stored
	ModTime time.Time // when the object was last committed
}

// Writer receives one object's bytes. Nothing is visible under the key until
// Commit returns nil. A Writer is not safe for concurrent use.
//
// Callers defer Abort right after Create: it is a no-op once Commit has
// succeeded.
type Writer interface {
	// Write appends p to the object. A write error (for example a full disk)
	// is returned here or from Commit; either way the object is not stored.
	io.Writer

	// Commit makes the object complete, durable and visible under its key,
	// replacing any object stored there before, and returns its Info. If
	// Commit returns an error the new object is not visible (a previous
	// object under the key may have been replaced or removed) and the
	// Writer is finished. Commit after Commit or Abort returns an error.
	Commit(ctx context.Context) (Info, error)

	// Abort discards everything written. It returns nil after a successful
	// Commit (the object stays) and when called again; it returns an error
	// only if leftovers of the write could not be removed.
	Abort() error
}

// Target is a place backups are stored: a local directory, an S3 bucket
// prefix or memory. Its methods are safe for concurrent use. Every method
// that takes a key returns an error, without any I/O, if ValidateKey refuses
// the key or ctx is already done.
type Target interface {
	// Name is the target's kind as it appears in catalog locations and
	// metrics: "local", "s3" or "memory".
	Name() string

	// Create starts writing the object under key. The object replaces any
	// existing one when the returned Writer's Commit succeeds.
	Create(ctx context.Context, key string) (Writer, error)

	// Open returns the stored object's content. The error matches
	// ErrNotExist if no object is stored under key.
	Open(ctx context.Context, key string) (io.ReadCloser, error)

	// Stat describes the stored object. The error matches ErrNotExist if no
	// object is stored under key.
	Stat(ctx context.Context, key string) (Info, error)

	// Delete removes the object under key. Deleting a missing object is not
	// an error; any other failure to remove it is returned.
	Delete(ctx context.Context, key string) error

	// List returns the committed objects whose keys start with prefix (a
	// plain string prefix, as in S3), sorted by key. Objects still being
	// written are never listed. A prefix matching nothing gives an empty
	// list and a nil error. The prefix must be empty or pass ValidatePrefix.
	List(ctx context.Context, prefix string) ([]Info, error)

	// URI names the object under key for people and catalog records: a
	// file:// URI of its absolute path for local storage,
	// s3://bucket/prefix+key for S3. It does not check that the object
	// exists and never contains credentials.
	URI(key string) string
}
