package main

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"regexp"
	"strings"
)

// explain adds to a command's error what to do about it, when the error
// is one an operator meets setting vectord up: a configuration file that
// is not there, a file or directory that belongs to another user, a
// damaged catalog. args is the command line after "vectord".
func (m *Main) explain(args []string, err error) error {
	if err == nil {
		return nil
	}
	if hint := m.configHint(err); hint != "" {
		return fmt.Errorf("%w; %s", err, hint)
	}
	if hint := fileHint(err, args); hint != "" {
		return fmt.Errorf("%w; %s", err, hint)
	}
	return err
}

// configHint says how to name the configuration file when err is the one
// of reading a configuration file that does not exist.
func (m *Main) configHint(err error) string {
	var pe *fs.PathError
	if m.configPath == "" || !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &pe) || !samePath(pe.Path, m.configPath) {
		return ""
	}
	return "give the configuration file with --config PATH or in $VECTORD_CONFIG (default /etc/vectord/config.yaml)"
}

// fileHint says what to do about a permission problem or a damaged
// catalog, or "" for other errors.
func fileHint(err error, args []string) string {
	cmd := ""
	if len(args) > 0 {
		cmd = args[0]
	}
	// A configuration that cannot be read (a usage error) says itself
	// whom to run as.
	var ue *usageError
	switch {
	case errors.Is(err, fs.ErrPermission) && !errors.As(err, &ue) && !strings.Contains(err.Error(), "sudo -u"):
		owner := "the files"
		var pe *fs.PathError
		if errors.As(err, &pe) {
			owner = pe.Path
		}
		return fmt.Sprintf("run vectord as the user that owns %s, for example: sudo -u vectord %s", owner, commandLine(args))
	case damaged(err) && cmd != "catalog":
		return "the catalog is damaged: vectord catalog rebuild (with the same --config) moves it aside and rebuilds it from the stored manifests"
	}
	return ""
}

// catalogHint is fileHint for an error opening the catalog, as config
// check --online reports it.
func catalogHint(err error) string {
	switch {
	case errors.Is(err, fs.ErrPermission):
		return "run vectord as the user that owns it, for example: sudo -u vectord vectord config check --online"
	case damaged(err):
		return "run vectord catalog rebuild to move it aside and rebuild it from the stored manifests"
	}
	return ""
}

func samePath(a, b string) bool {
	if a == b {
		return true
	}
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}

// commandLine is vectord and args as a shell command line.
func commandLine(args []string) string {
	words := []string{"vectord"}
	for _, a := range args {
		words = append(words, shellQuote(a))
	}
	return strings.Join(words, " ")
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
