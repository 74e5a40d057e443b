package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFiles creates files under dir; names may contain slashes.
func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

const loadConfig = `api:
  token_file: secrets/api-token
state_dir: state
storage:
  local: {}
  s3:
    bucket: b
    access_key_id_file: secrets/key-id
    secret_access_key_file: secrets/secret
server:
  listen: 0.0.0.0:9469
  token_file: %CONTROL%
sites:
  - name: acme
    id: "${VECTORD_TEST_SITE_ID}"
`

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	other := t.TempDir()
	control := filepath.Join(other, "control-token")
	writeFiles(t, dir, map[string]string{
		"etc/config.yaml":       strings.Replace(loadConfig, "%CONTROL%", control, 1),
		"etc/secrets/api-token": "vec_api_token\n",
		"etc/secrets/key-id":    "AKIAEXAMPLE\r\n",
		"etc/secrets/secret":    "c2VjcmV0/+", // no newline
		"other/unrelated-file":  "",
	})
	writeFiles(t, other, map[string]string{"control-token": "ctl_token\n\n"})
	t.Setenv("VECTORD_TEST_SITE_ID", "4242")
	t.Chdir(filepath.Join(dir, "other")) // relative paths follow the config file, not the working directory

	c, err := Load(filepath.Join("..", "etc", "config.yaml"))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	etc := filepath.Join(dir, "etc")
	checks := []struct{ name, got, want string }{
		{"API.Token", c.API.Token, "vec_api_token"},
		{"API.TokenFile", c.API.TokenFile, filepath.Join(etc, "secrets", "api-token")},
		{"S3.AccessKeyID", c.Storage.S3.AccessKeyID, "AKIAEXAMPLE"},
		{"S3.SecretAccessKey", c.Storage.S3.SecretAccessKey, "c2VjcmV0/+"},
		{"S3.SecretAccessKeyFile", c.Storage.S3.SecretAccessKeyFile, filepath.Join(etc, "secrets", "secret")},
		{"Server.Token", c.Server.Token, "ctl_token"},
		{"Server.TokenFile", c.Server.TokenFile, control},
		{"StateDir", c.StateDir, filepath.Join(etc, "state")},
		{"Storage.Local.Path", c.Storage.Local.Path, filepath.Join(etc, "state", "backups")},
		{"Sites[0].ID", c.Sites[0].ID, "4242"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %q, want %q", ch.name, ch.got, ch.want)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		want    string // the error, with DIR for the directory
		secrets []string
	}{
		{
			name:  "missing secret file",
			files: map[string]string{},
			want:  "DIR/config.yaml: api.token_file: line 2: open DIR/api-token: no such file or directory",
		},
		{
			name:  "empty secret file",
			files: map[string]string{"api-token": "\n"},
			want:  "DIR/config.yaml: api.token_file: line 2: read DIR/api-token: the file is empty",
		},
		{
			name:    "secret with a space",
			files:   map[string]string{"api-token": "vec api token\n"},
			want:    "DIR/config.yaml: api.token_file: line 2: read DIR/api-token: the secret contains whitespace or control characters",
			secrets: []string{"vec api token"},
		},
		{
			name:  "secret file is a directory",
			files: map[string]string{"api-token/x": ""},
			want:  "DIR/config.yaml: api.token_file: line 2: read DIR/api-token: is a directory",
		},
		{
			name:  "secret file too large",
			files: map[string]string{"api-token": strings.Repeat("x", maxSecretSize+1)},
			want:  "DIR/config.yaml: api.token_file: line 2: read DIR/api-token: larger than 65536 bytes",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.files["config.yaml"] = "api:\n  token_file: api-token\nsites: [{name: a, id: '1'}]\n"
			writeFiles(t, dir, tt.files)
			c, err := Load(filepath.Join(dir, "config.yaml"))
			if err == nil {
				t.Fatalf("Load = %+v, want an error", c)
			}
			want := strings.ReplaceAll(tt.want, "DIR", dir)
			if err.Error() != want {
				t.Errorf("Load error:\n%s\nwant:\n%s", err, want)
			}
			for _, s := range tt.secrets {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error quotes the secret %q", s)
				}
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "config.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing file = %v, want fs.ErrNotExist", err)
	}
	var e *Error
	if errors.As(err, &e) {
		t.Errorf("Load of a missing file returned a config *Error: %v", e)
	}
}

func TestLoadInvalid(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"config.yaml": "api:\n  token: t\n  timeout: soon\nsites: [{name: a, id: '1'}]\n"})
	p := filepath.Join(dir, "config.yaml")
	_, err := Load(p)
	want := p + `: api.timeout: line 3: invalid duration "soon": use a Go duration such as 30s, 90m or 720h, or days such as 7d`
	if err == nil || err.Error() != want {
		t.Errorf("Load = %v, want %s", err, want)
	}
}
