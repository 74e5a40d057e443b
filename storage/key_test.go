package storage_test

import (
	"errors"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/builtfast/vectord/storage"
)

func TestBackupKey(t *testing.T) {
	started := time.Date(2024, 1, 2, 3, 4, 5, 999, time.FixedZone("CET", 3600))
	tests := []struct {
		name                string
		site, env, exportID string
		ext                 string
		want                string
	}{
		{"zstd", "acme", "production", "42", ".zst", "acme/production/acme_production_20240102T020405Z_42.sql.zst"},
		{"gzip", "acme", "development", "exp_01H-x", ".gz", "acme/development/acme_development_20240102T020405Z_exp_01H-x.sql.gz"},
		{"plain", "acme", "staging", "7", "", "acme/staging/acme_staging_20240102T020405Z_7.sql"},
		{"traversal export id", "acme", "production", "../../../etc/passwd", "", "acme/production/acme_production_20240102T020405Z__________etc_passwd.sql"},
		{"slashes and dots", "acme", "production", "a/b.c", ".zst", "acme/production/acme_production_20240102T020405Z_a_b_c.sql.zst"},
		{"empty export id", "acme", "production", "", "", "acme/production/acme_production_20240102T020405Z__.sql"},
		{"unicode and spaces", "acme", "production", "é x\x00", "", "acme/production/acme_production_20240102T020405Z___x_.sql"},
		{"hostile site and env", "..", "/", "1", "", "__/_/_____20240102T020405Z_1.sql"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := storage.BackupKey(tt.site, tt.env, started, tt.exportID, tt.ext)
			if got != tt.want {
				t.Errorf("BackupKey(%q, %q, %v, %q, %q) = %q, want %q", tt.site, tt.env, started, tt.exportID, tt.ext, got, tt.want)
			}
			if err := storage.ValidateKey(got); err != nil {
				t.Errorf("ValidateKey(BackupKey(...)) = %v, want nil", err)
			}
			if err := storage.ValidateKey(storage.ManifestKey(got)); err != nil {
				t.Errorf("ValidateKey(ManifestKey(...)) = %v, want nil", err)
			}
		})
	}
}

func TestManifestKey(t *testing.T) {
	const key = "acme/production/acme_production_20240102T030405Z_42.sql.zst"
	if got, want := storage.ManifestKey(key), key+".json"; got != want {
		t.Errorf("ManifestKey(%q) = %q, want %q", key, got, want)
	}
}

func TestValidateKey(t *testing.T) {
	tests := []struct {
		key   string
		valid bool
	}{
		{"acme/production/acme_production_20240102T030405Z_42.sql.zst", true},
		{"a", true},
		{"a/b/c.json", true},
		{".hidden/x", true},
		{"a..b/c...", true},
		{"dir.partial/x", true},
		{strings.Repeat("a", 255), true},
		{strings.Repeat("a/", 511) + "aa", true},
		{"", false},
		{"/abs", false},
		{"/", false},
		{"a/", false},
		{"a//b", false},
		{"../x", false},
		{"a/../b", false},
		{"a/..", false},
		{"..", false},
		{".", false},
		{"./a", false},
		{"a/./b", false},
		{`a\b`, false},
		{"a\x00b", false},
		{"a\nb", false},
		{"a\x7fb", false},
		{"\xff", false},
		{"x.sql.partial", false},
		{strings.Repeat("a", 256), false},
		{strings.Repeat("a/", 512) + "a", false},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			err := storage.ValidateKey(tt.key)
			if (err == nil) != tt.valid {
				t.Fatalf("ValidateKey(%q) = %v, want valid %v", tt.key, err, tt.valid)
			}
			if err != nil && !errors.Is(err, storage.ErrInvalidKey) {
				t.Errorf("ValidateKey(%q) = %v, want an error matching ErrInvalidKey", tt.key, err)
			}
		})
	}
}

func TestValidatePrefix(t *testing.T) {
	tests := []struct {
		prefix string
		valid  bool
	}{
		{"", true},
		{"acme", true},
		{"acme/", true},
		{"acme/production/acme_prod", true},
		{"acme/production/", true},
		{"/", false},
		{"acme//", false},
		{"../", false},
		{"acme/../", false},
		{"/acme/", false},
		{"acme/./", false},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			err := storage.ValidatePrefix(tt.prefix)
			if (err == nil) != tt.valid {
				t.Fatalf("ValidatePrefix(%q) = %v, want valid %v", tt.prefix, err, tt.valid)
			}
			if err != nil && !errors.Is(err, storage.ErrInvalidKey) {
				t.Errorf("ValidatePrefix(%q) = %v, want an error matching ErrInvalidKey", tt.prefix, err)
			}
		})
	}
}

// FuzzValidateKey checks that every key ValidateKey accepts stays inside the
// directory it is joined to, whatever the key.
func FuzzValidateKey(f *testing.F) {
	for _, s := range []string{"a/b", "../x", "a/../../b", "a//b", "/abs", ".", "a/.", "x.partial", "a\\..\\b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if storage.ValidateKey(key) != nil {
			return
		}
		if path.Clean(key) != key {
			t.Errorf("ValidateKey(%q) = nil, but the key is not clean", key)
		}
		joined := path.Join("/root", key)
		if !strings.HasPrefix(joined, "/root/") {
			t.Errorf("ValidateKey(%q) = nil, but the key escapes its root: %q", key, joined)
		}
		if strings.HasSuffix(key, storage.PartialSuffix) {
			t.Errorf("ValidateKey(%q) = nil for a key ending with %s", key, storage.PartialSuffix)
		}
	})
}

// FuzzBackupKey checks that whatever the API answers as an export id, a
// backup key stays in its site's and environment's directory and is valid
// (unless too long).
func FuzzBackupKey(f *testing.F) {
	f.Add("acme", "production", "42", int64(1704164645), uint8(0))
	f.Add("acme", "production", "../../etc/passwd", int64(0), uint8(1))
	f.Add("..", ".", "a/b\\c", int64(-62135596800), uint8(2))
	f.Fuzz(func(t *testing.T, site, env, exportID string, unix int64, extIndex uint8) {
		ext := []string{"", ".zst", ".gz"}[int(extIndex)%3]
		key := storage.BackupKey(site, env, time.Unix(unix, 0), exportID, ext)
		segs := strings.Split(key, "/")
		if len(segs) != 3 {
			t.Fatalf("BackupKey(%q, %q, _, %q, %q) = %q, want 3 segments", site, env, exportID, ext, key)
		}
		if site != "" && isPlain(site) && segs[0] != site {
			t.Errorf("BackupKey changed the plain site name %q to %q", site, segs[0])
		}
		if !strings.HasSuffix(key, ".sql"+ext) {
			t.Errorf("BackupKey(...) = %q, want suffix %q", key, ".sql"+ext)
		}
		err := storage.ValidateKey(key)
		if err != nil && len(key) <= 1024 && len(segs[0]) <= 255 && len(segs[1]) <= 255 && len(segs[2]) <= 255 {
			t.Errorf("ValidateKey(BackupKey(...) = %q) = %v, want nil", key, err)
		}
	})
}

func isPlain(s string) bool {
	for _, r := range s {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}
