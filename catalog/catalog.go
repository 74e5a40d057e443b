package catalog

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the catalog layout this package reads and writes.
const SchemaVersion = 1

// DefaultTimeout is how long Open waits for another process's lock on the
// catalog file when Options.Timeout is not set.
const DefaultTimeout = time.Second

// Errors callers tell apart with errors.Is.
var (
	// ErrLocked: another process (or another DB in this process) holds the
	// catalog file.
	ErrLocked = errors.New("catalog locked by another vectord")
	// ErrNotFound: no such backup (or it is being deleted), or no such job.
	ErrNotFound = errors.New("not found")
	// ErrExists: a backup with that id is already in the catalog.
	ErrExists = errors.New("already exists")
	// ErrInvalid: a record, job or filter is missing or has malformed fields.
	ErrInvalid = errors.New("invalid")
	// ErrReadOnly: a change was asked of a catalog opened read-only.
	ErrReadOnly = errors.New("catalog opened read-only")
	// ErrSchemaVersion: the catalog was written by a newer vectord, or its
	// schema version is unreadable.
	ErrSchemaVersion = errors.New("unsupported catalog schema version")
	// ErrNotCatalog: the file is a bbolt database but not a vectord catalog.
	ErrNotCatalog = errors.New("not a vectord catalog")
)

var (
	bucketMeta     = []byte("meta")
	bucketBackups  = []byte("backups")
	bucketIDs      = []byte("ids")
	bucketDeleting = []byte("deleting")
	bucketJobs     = []byte("jobs")

	keySchemaVersion = []byte("schema_version")
)

// Options configure Open.
type Options struct {
	// Timeout is how long to wait for another process's lock on the file
	// before failing with ErrLocked; zero or negative means DefaultTimeout.
	Timeout time.Duration
	// ReadOnly opens an existing catalog for reading only: the file and its
	// directory are never created, and changes fail with ErrReadOnly.
	// Read-only opens share the file with each other, not with a writer.
	ReadOnly bool
}

// DB is an open catalog. It is safe for concurrent use.
type DB struct {
	bolt     *bbolt.DB
	path     string
	readOnly bool
}

// Open opens the catalog at path. Unless o.ReadOnly, it creates the file
// (mode 0600) and its parent directory (0700) if missing, creates the
// buckets of a new catalog and migrates an older one.
//
// Errors: one matching ErrLocked, naming path, when another process holds
// the file for longer than o.Timeout; one matching ErrSchemaVersion when the
// catalog was written by a newer vectord; one matching fs.ErrNotExist when
// o.ReadOnly and the file is missing; otherwise an error naming path (for
// example a file that is not a vectord catalog).
func Open(path string, o Options) (*DB, error) {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if !o.ReadOnly {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("open catalog %s: %w", path, err)
		}
	}
	b, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: timeout, ReadOnly: o.ReadOnly})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open catalog %s: %w", path, ErrLocked)
	}
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) && pe.Path == path {
			err = pe.Err // avoid naming the path twice
		}
		return nil, fmt.Errorf("open catalog %s: %w", path, err)
	}
	db := &DB{bolt: b, path: path, readOnly: o.ReadOnly}
	if o.ReadOnly {
		err = b.View(checkSchema)
	} else {
		err = b.Update(migrate)
	}
	if err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("open catalog %s: %w", path, err)
	}
	return db, nil
}

// readSchema returns the stored schema version, or 0 when there is none.
func readSchema(tx *bbolt.Tx) (int, error) {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return 0, nil
	}
	raw := meta.Get(keySchemaVersion)
	if raw == nil {
		return 0, nil
	}
	v, err := strconv.Atoi(string(raw))
	if err != nil || v < 1 {
		return 0, fmt.Errorf("%w: schema_version %q is not a positive number", ErrSchemaVersion, raw)
	}
	return v, nil
}

func newerSchema(v int) error {
	return fmt.Errorf("%w: the catalog has schema version %d, this vectord supports up to %d; it was written by a newer vectord",
		ErrSchemaVersion, v, SchemaVersion)
}

// migrate brings the catalog to SchemaVersion, creating a new one's buckets.
func migrate(tx *bbolt.Tx) error {
	v, err := readSchema(tx)
	if err != nil {
		return err
	}
	if v > SchemaVersion {
		return newerSchema(v)
	}
	if v == 0 {
		// A new file has no buckets; anything else is not ours to change.
		var foreign []string
		_ = tx.ForEach(func(name []byte, _ *bbolt.Bucket) error {
			foreign = append(foreign, string(name))
			return nil
		})
		if len(foreign) > 0 {
			return fmt.Errorf("%w: no schema version, buckets %s", ErrNotCatalog, strings.Join(foreign, ", "))
		}
	}
	// Version 1 is the first layout: there is nothing older to migrate.
	for _, name := range [][]byte{bucketMeta, bucketBackups, bucketIDs, bucketDeleting, bucketJobs} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	if v != SchemaVersion {
		if err := tx.Bucket(bucketMeta).Put(keySchemaVersion, []byte(strconv.Itoa(SchemaVersion))); err != nil {
			return fmt.Errorf("write schema version: %w", err)
		}
	}
	return nil
}

// checkSchema accepts only a catalog at SchemaVersion: a read-only open
// cannot create or migrate.
func checkSchema(tx *bbolt.Tx) error {
	v, err := readSchema(tx)
	switch {
	case err != nil:
		return err
	case v == 0:
		return fmt.Errorf("%w: not initialized, no schema version", ErrNotCatalog)
	case v > SchemaVersion:
		return newerSchema(v)
	case v < SchemaVersion:
		return fmt.Errorf("%w: schema version %d needs a migration, which a read-only open cannot do", ErrSchemaVersion, v)
	}
	return nil
}

// Close closes the catalog, waiting for running transactions.
func (db *DB) Close() error {
	if err := db.bolt.Close(); err != nil {
		return fmt.Errorf("close catalog %s: %w", db.path, err)
	}
	return nil
}

// Path returns the catalog file's path as given to Open.
func (db *DB) Path() string { return db.path }

// recordKey is a record's key in its environment bucket: StartedAt as
// big-endian uint64 Unix nanoseconds, then the id.
func recordKey(r Record) []byte {
	k := make([]byte, 8, 8+len(r.ID))
	binary.BigEndian.PutUint64(k, uint64(r.StartedAt.UnixNano()))
	return append(k, r.ID...)
}

// indexValue is the ids bucket's value for a record:
// <site> 0x00 <environment> 0x00 <key>.
func indexValue(site, env string, key []byte) []byte {
	v := make([]byte, 0, len(site)+len(env)+2+len(key))
	v = append(v, site...)
	v = append(v, 0)
	v = append(v, env...)
	v = append(v, 0)
	return append(v, key...)
}

// parseIndex splits an ids bucket value. The key it returns is a copy.
func parseIndex(v []byte) (site, env string, key []byte, err error) {
	s, rest, ok1 := bytes.Cut(v, []byte{0})
	e, k, ok2 := bytes.Cut(rest, []byte{0})
	if !ok1 || !ok2 || !nameRE.Match(s) || !nameRE.Match(e) || len(k) != 8+26 || !idRE.Match(k[8:]) {
		return "", "", nil, fmt.Errorf("malformed index entry %q", v)
	}
	return string(s), string(e), bytes.Clone(k), nil
}

// bucket returns a top-level bucket that Open created.
func bucket(tx *bbolt.Tx, name []byte) (*bbolt.Bucket, error) {
	b := tx.Bucket(name)
	if b == nil {
		return nil, fmt.Errorf("catalog bucket %s is missing", name)
	}
	return b, nil
}

// Add inserts r and its id index entry in one transaction; its times are
// stored in UTC. Errors: one matching ErrInvalid when r.Validate fails,
// ErrExists when a backup with r.ID is in the catalog (also one being
// deleted), ErrReadOnly, or ctx's error.
func (db *DB) Add(ctx context.Context, r Record) error {
	if err := db.writable(ctx); err != nil {
		return fmt.Errorf("add backup %s: %w", r.ID, err)
	}
	if err := r.Validate(); err != nil {
		return fmt.Errorf("add backup %s: %w", r.ID, err)
	}
	r = r.utc()
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("add backup %s: encode: %w", r.ID, err)
	}
	if err := db.bolt.Update(func(tx *bbolt.Tx) error { return putRecord(tx, r, data) }); err != nil {
		return fmt.Errorf("add backup %s: %w", r.ID, err)
	}
	return nil
}

// putRecord writes a validated record and its index entry.
func putRecord(tx *bbolt.Tx, r Record, data []byte) error {
	ids, err := bucket(tx, bucketIDs)
	if err != nil {
		return err
	}
	if ids.Get([]byte(r.ID)) != nil {
		return ErrExists
	}
	backups, err := bucket(tx, bucketBackups)
	if err != nil {
		return err
	}
	site, err := backups.CreateBucketIfNotExists([]byte(r.Site))
	if err != nil {
		return fmt.Errorf("create site bucket: %w", err)
	}
	env, err := site.CreateBucketIfNotExists([]byte(r.Environment))
	if err != nil {
		return fmt.Errorf("create environment bucket: %w", err)
	}
	key := recordKey(r)
	if err := env.Put(key, data); err != nil {
		return fmt.Errorf("put record: %w", err)
	}
	if err := ids.Put([]byte(r.ID), indexValue(r.Site, r.Environment, key)); err != nil {
		return fmt.Errorf("put index: %w", err)
	}
	return nil
}

func (db *DB) writable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if db.readOnly {
		return ErrReadOnly
	}
	return nil
}

// located is where the ids index says a record is.
type located struct {
	site, env string
	key       []byte
	bucket    *bbolt.Bucket // the environment bucket
}

// locate follows the ids index to a record's environment bucket. It returns
// ErrNotFound when id is not indexed, and an error when the index points at
// nothing.
func locate(tx *bbolt.Tx, id string) (located, error) {
	ids, err := bucket(tx, bucketIDs)
	if err != nil {
		return located{}, err
	}
	v := ids.Get([]byte(id))
	if v == nil {
		return located{}, ErrNotFound
	}
	site, env, key, err := parseIndex(v)
	if err != nil {
		return located{}, err
	}
	backups, err := bucket(tx, bucketBackups)
	if err != nil {
		return located{}, err
	}
	var b *bbolt.Bucket
	if sb := backups.Bucket([]byte(site)); sb != nil {
		b = sb.Bucket([]byte(env))
	}
	if b == nil || b.Get(key) == nil {
		return located{}, fmt.Errorf("index entry points at a missing record in %s/%s", site, env)
	}
	return located{site: site, env: env, key: key, bucket: b}, nil
}

func isDeleting(tx *bbolt.Tx, id []byte) bool {
	del := tx.Bucket(bucketDeleting)
	return del != nil && del.Get(id) != nil
}

// Get returns the backup with the given id, matched case-insensitively.
// Errors: ErrNotFound when there is none or it is marked deleting, ctx's
// error, or an error when the stored record is unreadable.
func (db *DB) Get(ctx context.Context, id string) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, fmt.Errorf("get backup %s: %w", id, err)
	}
	id = strings.ToLower(id)
	var r Record
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		if isDeleting(tx, []byte(id)) {
			return ErrNotFound
		}
		loc, err := locate(tx, id)
		if err != nil {
			return err
		}
		r, err = decodeRecord(loc.bucket.Get(loc.key))
		return err
	})
	if err != nil {
		return Record{}, fmt.Errorf("get backup %s: %w", id, err)
	}
	return r, nil
}

// SetLocations replaces the locations of the backup with the given id
// (matched case-insensitively) in one transaction, for example once a copy
// that failed earlier has reached an archive target; the rest of the record
// is unchanged. locs must pass Record.Validate's checks of locations: at
// least one, each with a target name ([a-z0-9][a-z0-9_-]*) and a URI.
// Errors: one matching ErrInvalid naming every location at fault, before
// anything is read; ErrNotFound when there is no such backup or it is
// marked deleting; ErrReadOnly; ctx's error; or an error when the stored
// record is unreadable.
func (db *DB) SetLocations(ctx context.Context, id string, locs []Location) error {
	if bad := locationProblems(locs); len(bad) > 0 {
		return fmt.Errorf("set locations of backup %s: %w locations: %s", strings.ToLower(id), ErrInvalid, strings.Join(bad, "; "))
	}
	return db.update(ctx, id, "set locations of backup", func(r *Record) { r.Locations = locs })
}

// Filter selects backups for List. An empty field matches any value.
type Filter struct {
	Site        string
	Environment string
	Trigger     string // TriggerSchedule, TriggerManual, TriggerPreImport or ""
}

// ctxCheckEvery is how many records List reads between checks of its
// context.
const ctxCheckEvery = 4096

// List returns the backups f selects, newest first (by StartedAt, then id),
// leaving out those marked deleting. It reads only the buckets of the
// selected site and environment. Errors: one matching ErrInvalid for an
// unknown f.Trigger, ctx's error, or an error naming a record that is
// unreadable.
func (db *DB) List(ctx context.Context, f Filter) ([]Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list backups: %w", err)
	}
	if f.Trigger != "" && !validTrigger(f.Trigger) {
		return nil, fmt.Errorf("list backups: %w trigger %q: want schedule, manual, pre-import or migrate", ErrInvalid, f.Trigger)
	}
	var out []Record
	n := 0
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		return forEachEnv(tx, f.Site, f.Environment, func(site, env []byte, b *bbolt.Bucket) error {
			c := b.Cursor()
			for k, v := c.Last(); k != nil; k, v = c.Prev() {
				if n++; n%ctxCheckEvery == 0 {
					if err := ctx.Err(); err != nil {
						return err
					}
				}
				if v == nil || len(k) <= 8 || isDeleting(tx, k[8:]) {
					continue
				}
				r, err := decodeRecord(v)
				if err != nil {
					return fmt.Errorf("%s/%s/%x: %w", site, env, k, err)
				}
				if f.Trigger == "" || r.Trigger == f.Trigger {
					out = append(out, r)
				}
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list backups: %w", err)
	}
	slices.SortFunc(out, newestFirst)
	return out, nil
}

func newestFirst(a, b Record) int {
	return cmp.Or(b.StartedAt.Compare(a.StartedAt), strings.Compare(b.ID, a.ID))
}

// forEachEnv calls fn for every environment bucket under backups that
// matches site and env ("" matches any), in name order.
func forEachEnv(tx *bbolt.Tx, site, env string, fn func(site, env []byte, b *bbolt.Bucket) error) error {
	backups := tx.Bucket(bucketBackups)
	if backups == nil {
		return nil
	}
	inSite := func(sname []byte, sb *bbolt.Bucket) error {
		if env != "" {
			if eb := sb.Bucket([]byte(env)); eb != nil {
				return fn(sname, []byte(env), eb)
			}
			return nil
		}
		return sb.ForEachBucket(func(ename []byte) error {
			return fn(sname, ename, sb.Bucket(ename))
		})
	}
	if site != "" {
		if sb := backups.Bucket([]byte(site)); sb != nil {
			return inSite([]byte(site), sb)
		}
		return nil
	}
	return backups.ForEachBucket(func(sname []byte) error {
		return inSite(sname, backups.Bucket(sname))
	})
}

// Environments returns the (site, environment) pairs that have at least one
// backup not marked deleting, sorted by site, then environment. Errors:
// ctx's error.
func (db *DB) Environments(ctx context.Context) ([][2]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list environments: %w", err)
	}
	var out [][2]string
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		return forEachEnv(tx, "", "", func(site, env []byte, b *bbolt.Bucket) error {
			c := b.Cursor()
			for k, v := c.Last(); k != nil; k, v = c.Prev() {
				if v != nil && len(k) > 8 && !isDeleting(tx, k[8:]) {
					out = append(out, [2]string{string(site), string(env)})
					return nil
				}
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list environments: %w", err)
	}
	return out, nil
}

// MarkDeleting marks the backup with the given id (matched
// case-insensitively) as being deleted: from then on Get and List do not
// return it and Deleting does, until Remove. Marking a marked backup again
// succeeds. Errors: ErrNotFound, ErrReadOnly, or ctx's error.
func (db *DB) MarkDeleting(ctx context.Context, id string) error {
	if err := db.writable(ctx); err != nil {
		return fmt.Errorf("mark backup %s deleting: %w", id, err)
	}
	id = strings.ToLower(id)
	if err := db.bolt.Update(func(tx *bbolt.Tx) error { return markDeleting(tx, id) }); err != nil {
		return fmt.Errorf("mark backup %s deleting: %w", id, err)
	}
	return nil
}

// markDeleting marks the backup with the lowercase id: ErrNotFound when
// there is none.
func markDeleting(tx *bbolt.Tx, id string) error {
	if _, err := locate(tx, id); err != nil {
		return err
	}
	del, err := bucket(tx, bucketDeleting)
	if err != nil {
		return err
	}
	return del.Put([]byte(id), []byte{})
}

// Deleting returns the backups marked deleting, oldest first (by
// StartedAt, then id), so an unfinished delete can be retried. Errors:
// ctx's error, or an error naming a marked backup that is unreadable.
func (db *DB) Deleting(ctx context.Context) ([]Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list deleting backups: %w", err)
	}
	var out []Record
	err := db.bolt.View(func(tx *bbolt.Tx) error {
		del := tx.Bucket(bucketDeleting)
		if del == nil {
			return nil
		}
		return del.ForEach(func(id, _ []byte) error {
			loc, err := locate(tx, string(id))
			if err != nil {
				return fmt.Errorf("backup %s: %w", id, err)
			}
			r, err := decodeRecord(loc.bucket.Get(loc.key))
			if err != nil {
				return fmt.Errorf("backup %s: %w", id, err)
			}
			out = append(out, r)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list deleting backups: %w", err)
	}
	slices.SortFunc(out, func(a, b Record) int { return newestFirst(b, a) })
	return out, nil
}

// Remove deletes the backup with the given id (matched case-insensitively)
// from the catalog: record, index entry and deleting mark, in one
// transaction. Callers delete a backup's files between MarkDeleting and
// Remove. Errors: ErrNotFound, ErrReadOnly, or ctx's error.
func (db *DB) Remove(ctx context.Context, id string) error {
	if err := db.writable(ctx); err != nil {
		return fmt.Errorf("remove backup %s: %w", id, err)
	}
	id = strings.ToLower(id)
	err := db.bolt.Update(func(tx *bbolt.Tx) error {
		loc, err := removeRecord(tx, id)
		if err != nil {
			return err
		}
		return pruneEmpty(tx, loc.site, loc.env)
	})
	if err != nil {
		return fmt.Errorf("remove backup %s: %w", id, err)
	}
	return nil
}

// removeRecord deletes the record with the lowercase id, its index entry
// and its mark, and returns where it was; ErrNotFound when there is none.
// The caller prunes the environment's bucket if it is left empty.
func removeRecord(tx *bbolt.Tx, id string) (located, error) {
	loc, err := locate(tx, id)
	if err != nil {
		return located{}, err
	}
	if err := loc.bucket.Delete(loc.key); err != nil {
		return located{}, fmt.Errorf("delete record: %w", err)
	}
	if err := tx.Bucket(bucketIDs).Delete([]byte(id)); err != nil {
		return located{}, fmt.Errorf("delete index: %w", err)
	}
	if err := tx.Bucket(bucketDeleting).Delete([]byte(id)); err != nil {
		return located{}, fmt.Errorf("delete mark: %w", err)
	}
	return loc, nil
}

// pruneEmpty deletes an environment bucket left empty, then its site
// bucket if that is empty too.
func pruneEmpty(tx *bbolt.Tx, site, env string) error {
	backups := tx.Bucket(bucketBackups)
	sb := backups.Bucket([]byte(site))
	if k, _ := sb.Bucket([]byte(env)).Cursor().First(); k != nil {
		return nil
	}
	if err := sb.DeleteBucket([]byte(env)); err != nil {
		return fmt.Errorf("delete empty bucket %s/%s: %w", site, env, err)
	}
	if k, _ := sb.Cursor().First(); k != nil {
		return nil
	}
	if err := backups.DeleteBucket([]byte(site)); err != nil {
		return fmt.Errorf("delete empty bucket %s: %w", site, err)
	}
	return nil
}
