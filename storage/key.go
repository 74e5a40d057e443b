package storage

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrInvalidKey is matched (with errors.Is) by the error ValidateKey and
// ValidatePrefix return, and so by every Target method given such a key.
// Retrying cannot help.
var ErrInvalidKey = errors.New("invalid key")

// PartialSuffix ends the names of objects still being written. Keys ending
// with it are refused, so a committed object can never be mistaken for an
// unfinished one.
const PartialSuffix = ".partial"

const (
	maxKeyLen     = 1024 // S3's limit on object keys
	maxSegmentLen = 255  // the usual limit on a file name
)

// BackupKey returns the key of a backup file (CONTRACT §4):
//
//	<site>/<env>/<site>_<env>_<UTC YYYYMMDDTHHMMSSZ>_<exportID>.sql<ext>
//
// ext is a codec extension: "", ".zst" or ".gz". In site, env and exportID
// every byte outside [A-Za-z0-9_-] is replaced by "_" (an empty one becomes
// "_"), so an export id chosen by the API can never move a key out of its
// directory. The key is not validated: an over-long name makes Create fail
// with ErrInvalidKey.
func BackupKey(site, env string, startedAt time.Time, exportID, ext string) string {
	site, env, exportID = sanitize(site), sanitize(env), sanitize(exportID)
	var b strings.Builder
	b.Grow(2*len(site) + 2*len(env) + len(exportID) + len(ext) + 32)
	b.WriteString(site)
	b.WriteByte('/')
	b.WriteString(env)
	b.WriteByte('/')
	b.WriteString(site)
	b.WriteByte('_')
	b.WriteString(env)
	b.WriteByte('_')
	b.WriteString(startedAt.UTC().Format("20060102T150405Z"))
	b.WriteByte('_')
	b.WriteString(exportID)
	b.WriteString(".sql")
	b.WriteString(sanitizeExt(ext))
	return b.String()
}

// ManifestKey returns the key of the manifest stored beside a backup: the
// backup's key with ".json" appended.
func ManifestKey(backupKey string) string {
	return backupKey + ".json"
}

// ValidateKey reports whether key can name an object: a relative,
// slash-separated, clean path of valid UTF-8 without control characters or
// backslashes, with no empty, "." or ".." segment, at most 1024 bytes long
// with segments of at most 255 bytes, not ending with PartialSuffix. The
// error matches ErrInvalidKey.
func ValidateKey(key string) error {
	if err := validatePath(key); err != nil {
		return fmt.Errorf("%w %q: %s", ErrInvalidKey, key, err)
	}
	if strings.HasSuffix(key, PartialSuffix) {
		return fmt.Errorf("%w %q: ends with %s, reserved for unfinished writes", ErrInvalidKey, key, PartialSuffix)
	}
	return nil
}

// ValidatePrefix reports whether prefix can be given to Target.List: the
// empty string, or a valid key optionally followed by "/". The error
// matches ErrInvalidKey.
func ValidatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if err := validatePath(strings.TrimSuffix(prefix, "/")); err != nil {
		return fmt.Errorf("%w prefix %q: %s", ErrInvalidKey, prefix, err)
	}
	return nil
}

// validatePath checks everything ValidateKey requires but the suffix, and
// returns the reason a path is refused.
func validatePath(p string) error {
	switch {
	case p == "":
		return errors.New("empty")
	case len(p) > maxKeyLen:
		return fmt.Errorf("longer than %d bytes", maxKeyLen)
	case !utf8.ValidString(p):
		return errors.New("not valid UTF-8")
	case p[0] == '/':
		return errors.New("absolute")
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return fmt.Errorf("contains %q", r)
		}
	}
	for seg := range strings.SplitSeq(p, "/") {
		switch {
		case seg == "":
			return errors.New("empty path segment")
		case seg == "." || seg == "..":
			return fmt.Errorf("path segment %q", seg)
		case len(seg) > maxSegmentLen:
			return fmt.Errorf("path segment longer than %d bytes", maxSegmentLen)
		}
	}
	return nil
}

// sanitize maps s to a non-empty string of [A-Za-z0-9_-].
func sanitize(s string) string {
	if s == "" {
		return "_"
	}
	return strings.Map(func(r rune) rune {
		if isAlnum(r) || r == '_' || r == '-' {
			return r
		}
		return '_'
	}, s)
}

// sanitizeExt maps ext to a string of [A-Za-z0-9._-], which cannot add a
// path segment.
func sanitizeExt(ext string) string {
	return strings.Map(func(r rune) rune {
		if isAlnum(r) || r == '.' || r == '_' || r == '-' {
			return r
		}
		return '_'
	}, ext)
}

func isAlnum(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
}
