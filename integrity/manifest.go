package integrity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/builtfast/vectord/catalog"
	"github.com/builtfast/vectord/codec"
	"github.com/builtfast/vectord/storage"
)

// ErrBadManifest is matched (with errors.Is) by the error DecodeManifest and
// ReadManifest return for a manifest that is stored but does not describe
// its backup: it does not decode, its record is invalid, or its record's
// file is not the one stored beside it.
var ErrBadManifest = errors.New("bad manifest")

// encryptedExt ends the names of age-encrypted backups (CONTRACT §10):
// "….sql.zst.age".
const encryptedExt = ".age"

// maxManifest is the most bytes of a manifest that are read.
const maxManifest = 1 << 20

// backupKeyRE matches the keys of backup files (storage.BackupKey, plus the
// encryption suffix): <site>/<env>/<name>.sql[.zst|.gz][.age].
var backupKeyRE = regexp.MustCompile(`^[^/]+/[^/]+/[^/]+\.sql(\.zst|\.gz)?(\.age)?$`)

// isBackupKey reports whether key names a backup file.
func isBackupKey(key string) bool { return backupKeyRE.MatchString(key) }

// manifestOf returns the backup key whose manifest key is key, and whether
// key is a manifest key at all.
func manifestOf(key string) (string, bool) {
	b, ok := strings.CutSuffix(key, ".json")
	return b, ok && isBackupKey(b)
}

// KeyOf returns the storage key of r's backup file: storage.BackupKey with
// the extension of r's compression, and ".age" when r is encrypted. The
// error names an unknown compression.
func KeyOf(r catalog.Record) (string, error) {
	c, err := codec.Parse(r.Compression)
	if err != nil {
		return "", fmt.Errorf("backup %s: %w", r.ID, err)
	}
	ext := c.Ext()
	if r.Encrypted {
		ext += encryptedExt
	}
	return storage.BackupKey(r.Site, r.Environment, r.StartedAt, r.ExportID, ext), nil
}

// DecodeManifest reads the manifest stored under manifestKey on t and
// returns the record it holds, normalized (catalog.Record.Normalized), with
// the locations the manifest lists. It does not look at the backup file.
//
// Errors: the target's, matching storage.ErrNotExist when there is no such
// manifest; one matching ErrBadManifest when it does not decode, its record
// does not validate, or manifestKey is not the manifest key of the backup
// it describes.
func DecodeManifest(ctx context.Context, t storage.Target, manifestKey string) (catalog.Record, error) {
	rc, err := t.Open(ctx, manifestKey)
	if err != nil {
		return catalog.Record{}, err
	}
	defer rc.Close()
	var rec catalog.Record
	if err := json.NewDecoder(io.LimitReader(rc, maxManifest)).Decode(&rec); err != nil {
		if ctx.Err() != nil {
			return catalog.Record{}, ctx.Err()
		}
		return catalog.Record{}, fmt.Errorf("%w %s on %s: decode: %v", ErrBadManifest, manifestKey, t.Name(), err)
	}
	if err := rec.Validate(); err != nil {
		return catalog.Record{}, fmt.Errorf("%w %s on %s: %v", ErrBadManifest, manifestKey, t.Name(), err)
	}
	key, err := KeyOf(rec)
	if err != nil {
		return catalog.Record{}, fmt.Errorf("%w %s on %s: %v", ErrBadManifest, manifestKey, t.Name(), err)
	}
	if storage.ManifestKey(key) != manifestKey {
		return catalog.Record{}, fmt.Errorf("%w %s on %s: it describes backup %s, whose file is %s", ErrBadManifest, manifestKey, t.Name(), rec.ID, key)
	}
	return rec.Normalized(), nil
}

// ReadManifest reads the manifest stored under manifestKey on t and checks
// that it describes the complete backup stored beside it: the file exists
// with the size the manifest records. It returns the manifest's record with
// one location, t's copy; a backup stored on several targets gets the
// others from their manifests. This is what `vectord catalog rebuild` adds
// to the catalog.
//
// Errors: those of DecodeManifest; the target's, matching
// storage.ErrNotExist, when the backup file is missing; one matching
// ErrBadManifest when the file's size is not the manifest's stored_bytes.
func ReadManifest(ctx context.Context, t storage.Target, manifestKey string) (catalog.Record, error) {
	rec, err := DecodeManifest(ctx, t, manifestKey)
	if err != nil {
		return catalog.Record{}, err
	}
	key, _ := KeyOf(rec) // DecodeManifest checked it
	info, err := t.Stat(ctx, key)
	if err != nil {
		return catalog.Record{}, fmt.Errorf("backup file: %w", err)
	}
	if info.Size != rec.StoredBytes {
		return catalog.Record{}, fmt.Errorf("%w %s on %s: the backup file has %d bytes, the manifest records %d",
			ErrBadManifest, manifestKey, t.Name(), info.Size, rec.StoredBytes)
	}
	rec.Locations = []catalog.Location{{Target: t.Name(), URI: t.URI(key)}}
	return rec, nil
}

// WriteManifest stores r, normalized, as the manifest beside the backup
// file backupKey on t, replacing any manifest there; it is indented JSON
// ending with a newline, as the exporter writes it.
func WriteManifest(ctx context.Context, t storage.Target, backupKey string, r catalog.Record) error {
	data, err := json.MarshalIndent(r.Normalized(), "", "  ")
	if err != nil {
		return fmt.Errorf("encode manifest of backup %s: %w", r.ID, err)
	}
	data = append(data, '\n')
	mkey := storage.ManifestKey(backupKey)
	w, err := t.Create(ctx, mkey)
	if err != nil {
		return fmt.Errorf("%s: write manifest %s: %w", t.Name(), mkey, err)
	}
	defer w.Abort()
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("%s: write manifest %s: %w", t.Name(), mkey, err)
	}
	if _, err := w.Commit(ctx); err != nil {
		return fmt.Errorf("%s: write manifest %s: %w", t.Name(), mkey, err)
	}
	return nil
}
