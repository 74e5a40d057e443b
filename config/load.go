package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

const (
	maxConfigSize = 4 << 20  // bytes of a configuration file
	maxSecretSize = 64 << 10 // bytes of a *_file secret
)

// Load reads the configuration file at path and parses it with [Parse],
// taking variables from the process environment. It then resolves the
// relative paths of state_dir, storage.local.path and the *_file keys
// against the directory of the configuration file, making them absolute,
// and reads the secrets the *_file keys name (api.token_file,
// storage.s3.access_key_id_file, storage.s3.secret_access_key_file,
// server.token_file), trimming trailing newlines.
//
// If the file cannot be read, the error names it and says what to do, and
// errors.Is(err, fs.ErrNotExist) and errors.Is(err, fs.ErrPermission) work:
// a missing file's error says how to name the file (--config PATH,
// $VECTORD_CONFIG); an unreadable one's, which user to run as. Otherwise
// every error is a join of [*Error] values as Parse returns them; an
// unreadable, empty or malformed secret file is one, naming the key and
// the file but never the secret.
func Load(path string) (*Config, error) {
	data, err := readFile(path, maxConfigSize)
	if err != nil {
		return nil, fileError(path, err)
	}
	c, st, err := parse(data, path, os.LookupEnv)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	rel := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	rel(&c.StateDir)
	if c.Storage.Local != nil {
		rel(&c.Storage.Local.Path)
	}

	var errs []*Error
	secret := func(key string, file *string, dst *string) {
		if *file == "" {
			return
		}
		rel(file)
		v, err := readSecret(*file)
		if err != nil {
			errs = append(errs, &Error{File: path, Path: key, Line: st.line(key), Msg: err.Error()})
			return
		}
		*dst = v
	}
	secret("api.token_file", &c.API.TokenFile, &c.API.Token)
	if s3 := c.Storage.S3; s3 != nil {
		secret("storage.s3.access_key_id_file", &s3.AccessKeyIDFile, &s3.AccessKeyID)
		secret("storage.s3.secret_access_key_file", &s3.SecretAccessKeyFile, &s3.SecretAccessKey)
	}
	secret("server.token_file", &c.Server.TokenFile, &c.Server.Token)
	if err := joinErrors(errs); err != nil {
		return nil, err
	}
	return c, nil
}

// defaultPath is where the commands look for the configuration file
// without --config and $VECTORD_CONFIG.
const defaultPath = "/etc/vectord/config.yaml"

// readError is an error reading the configuration file whose message says
// what to do. It wraps only the cause (an errno, not the *fs.PathError):
// errors.Is works, and the message already names the file.
type readError struct {
	msg   string
	cause error
}

func (e *readError) Error() string { return e.msg }
func (e *readError) Unwrap() error { return e.cause }

// fileError describes an error reading the configuration file at path.
func fileError(path string, err error) error {
	cause := err
	var pe *fs.PathError
	if errors.As(err, &pe) {
		cause = pe.Err
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &readError{fmt.Sprintf("config file %s does not exist: name the file with --config PATH or in $VECTORD_CONFIG (without either, vectord reads %s)",
			path, defaultPath), cause}
	case errors.Is(err, fs.ErrPermission):
		return &readError{fmt.Sprintf("cannot read config file %s: permission denied: %s", path, permissionHint(path)), cause}
	}
	return fmt.Errorf("load config: %w", err)
}

// permissionHint says which user to run as to read the file at path.
func permissionHint(path string) string {
	owner, uid, ok := fileOwner(path)
	switch {
	case ok && uid == os.Geteuid():
		return fmt.Sprintf("it belongs to you (%s) but its mode forbids reading it: chmod u+r %s", owner, path)
	case ok && uid != 0:
		return fmt.Sprintf("it belongs to user %s: run vectord as that user, for example with sudo -u %s", owner, owner)
	}
	return "run vectord as a user that may read it, such as the user the service runs as: sudo -u vectord"
}

// readSecret reads a secret from a file. Its errors name the file, never
// the secret.
func readSecret(path string) (string, error) {
	data, err := readFile(path, maxSecretSize)
	if err != nil {
		return "", err
	}
	s := strings.TrimRight(string(data), "\r\n")
	switch {
	case s == "":
		return "", fmt.Errorf("read %s: the file is empty", path)
	case !isToken(s):
		return "", fmt.Errorf("read %s: the secret contains whitespace or control characters", path)
	}
	return s, nil
}

// readFile reads a regular file of at most limit bytes.
func readFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err // an *fs.PathError naming the file
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("read %s: larger than %d bytes", path, limit)
	}
	return data, nil
}
