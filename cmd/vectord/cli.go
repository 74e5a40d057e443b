package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// Exit statuses (CONTRACT §2).
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

// Main is the vectord command line: its streams and environment, so tests
// run it in-process.
type Main struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, m *Main, args []string) error
}

func commands() []command {
	return []command{
		{"run", "run the daemon: scheduled backups, HTTP endpoints", runDaemon},
		{"backup", "take one backup now and print its catalog id", runBackup},
		{"list", "list catalog entries, newest first", runList},
		{"cat", "write the SQL of one backup to stdout", runCat},
		{"verify", "re-read stored backups and check them", runVerify},
		{"prune", "apply retention now", runPrune},
		{"forget", "forget ID...: delete these backups now, whatever retention says", runForget},
		{"pin", "pin ID [--unpin]: keep a backup whatever retention says", runPin},
		{"check", "check the catalog against storage [--repair]", runCheck},
		{"status", "per environment: last success, next run, queue, budget, stored backups", runStatus},
		{"restore", "restore ID --site S: import a stored backup (after a safety snapshot)", runRestore},
		{"import", "import FILE --site S: import an SQL file (after a safety snapshot)", runImport},
		{"config", "config check: validate the configuration", runConfig},
		{"catalog", "catalog rebuild: rebuild the catalog from the stored manifests", runCatalog},
		{"demo", "run the whole job against a simulated Vector API", runDemo},
		{"version", "print version information", runVersion},
	}
}

// Run executes one command line and returns its exit status.
func (m *Main) Run(ctx context.Context, args []string) int {
	if m.Getenv == nil {
		m.Getenv = os.Getenv
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		m.usage(m.Stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return m.exit(c.run(ctx, m, args[1:]))
		}
	}
	fmt.Fprintf(m.Stderr, "vectord: unknown command %q (see vectord --help)\n", args[0])
	return exitUsage
}

func (m *Main) usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: vectord COMMAND [--config PATH] [options]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "--config defaults to $VECTORD_CONFIG, else /etc/vectord/config.yaml.")
}

// exit prints err as one line and maps it to an exit status.
func (m *Main) exit(err error) int {
	if err == nil {
		return exitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	code := exitFailed
	var ue *usageError
	if errors.As(err, &ue) {
		code = exitUsage
	}
	var se silentError
	if !errors.As(err, &se) {
		fmt.Fprintf(m.Stderr, "vectord: %s\n", strings.TrimSpace(err.Error()))
	}
	return code
}

// usageError is bad usage or bad configuration: exit status 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

// silentError is a failure already reported line by line (verify, cat).
type silentError struct{ error }

// flags is a subcommand's flag set with the options every command takes.
type flags struct {
	*flag.FlagSet
	config string
	m      *Main
}

func (m *Main) flags(name string) *flags {
	fs := flag.NewFlagSet("vectord "+name, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	f := &flags{FlagSet: fs, m: m}
	fs.StringVar(&f.config, "config", "", "configuration file (default $VECTORD_CONFIG, else /etc/vectord/config.yaml)")
	return f
}

// parse parses flags and positional arguments in any order.
func (f *flags) parse(args []string) ([]string, error) {
	var pos []string
	for {
		if err := f.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &usageError{err: err}
		}
		args = f.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func (f *flags) configPath() string {
	if f.config != "" {
		return f.config
	}
	if p := f.m.Getenv("VECTORD_CONFIG"); p != "" {
		return p
	}
	return "/etc/vectord/config.yaml"
}

// isTerminal reports whether a stream (stdin, stdout, stderr) is an
// interactive terminal.
func isTerminal(stream any) bool {
	f, ok := stream.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
