package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

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
	// Location is the time zone backup times are shown in; nil is the
	// local one.
	Location *time.Location

	// configPath is the configuration file the command read (or tried
	// to), for the hints added to its error.
	configPath string
}

// loc is the time zone backup times are shown in.
func (m *Main) loc() *time.Location {
	if m.Location != nil {
		return m.Location
	}
	return time.Local
}

// command is one subcommand: the one definition its usage line, --help,
// the command list, the shell completions and the man page are built from.
type command struct {
	name string
	// args are the positional arguments as the usage line shows them:
	// "ID", "ID...", "[ID...]", "FILE", or a fixed word such as "check".
	args    string
	summary string // one line, lower case, for the command list
	// about is what --help and the man page say after the usage line;
	// empty: the summary.
	about string
	// config: the command reads the configuration and takes --config.
	config bool
	flags  []flagDef
	// words are the values the first argument takes (config check,
	// completion bash), for completion; fileArgs: the arguments are file
	// names.
	words    []string
	fileArgs bool
	run      func(ctx context.Context, m *Main, args []string) error
}

// flagDef is one flag of a command.
type flagDef struct {
	name  string // without dashes; one letter is shown as -v, longer as --name
	arg   string // placeholder of the value (S, FILE, D); "" for a boolean
	usage string
	// def is the default of a flag with a value: a string (also the
	// default of a flag without def), an int64 or a time.Duration.
	def      any
	required bool // shown without brackets in the usage line
	file     bool // the value is a path: completes file names
}

// dashed is the flag as it is typed: -v, --site.
func (d flagDef) dashed() string {
	if len(d.name) == 1 {
		return "-" + d.name
	}
	return "--" + d.name
}

// configFlag is the --config every command that reads the configuration
// takes.
var configFlag = flagDef{name: "config", arg: "PATH", file: true,
	usage: "configuration file (default $VECTORD_CONFIG, else /etc/vectord/config.yaml)"}

// helpFlag is the --help every command takes; the flag package handles it.
var helpFlag = flagDef{name: "help", usage: "print this help and exit (also -h)"}

// verboseFlag logs a command's steps.
var verboseFlag = flagDef{name: "v", usage: "log each step to stderr"}

// importFlags are restore's and import's.
var importFlags = []flagDef{
	{name: "site", arg: "S", usage: "configured site name to import into", required: true},
	{name: "env", arg: "E", usage: "environment (default: the site's only one, else development)"},
	{name: "yes", usage: "do not ask for confirmation (required without a terminal)"},
	{name: "no-snapshot", usage: "skip the pre-import safety snapshot"},
	{name: "reason", arg: "TEXT", usage: "recorded with the pre-import snapshot"},
	verboseFlag,
}

func commands() []command {
	return []command{
		{name: "run", summary: "run the daemon: scheduled backups, HTTP endpoints", config: true,
			about: "Run the daemon: schedule backups, serve /metrics, the health endpoints and the control API on server.listen. SIGTERM or SIGINT stops scheduling and lets running jobs finish up to shutdown_timeout; SIGHUP reloads the configuration.",
			run:   runDaemon},
		{name: "backup", summary: "take one backup now and print its catalog id", config: true,
			about: "Take one backup now, wait for it and print its catalog id. With a running daemon the daemon takes it; without one this command does, spending from the same API budget.",
			flags: []flagDef{
				{name: "site", arg: "S", usage: "configured site name", required: true},
				{name: "env", arg: "E", usage: "environment (default: the site's only one, else development)"},
				{name: "reason", arg: "TEXT", usage: "free text recorded with the backup"},
				verboseFlag,
			},
			run: runBackup},
		{name: "list", summary: "list catalog entries, newest first", config: true,
			about: "List the backups in the catalog, newest first: completion time in the local time zone, age, size, reason.",
			flags: []flagDef{
				{name: "site", arg: "S", usage: "only this site"},
				{name: "env", arg: "E", usage: "only this environment"},
				{name: "json", usage: "print a JSON array of catalog records"},
			},
			run: runList},
		{name: "cat", args: "ID", summary: "write the SQL of one backup to stdout", config: true,
			about: "Write the original SQL of one backup to stdout, decompressed, checking its SHA-256 as it streams (exit 1 on a mismatch). ID may be any unique prefix of a backup id.",
			run:   runCat},
		{name: "verify", args: "[ID...]", summary: "re-read stored backups and check them", config: true,
			about: "Re-read stored backups (all of them when no ID is given) and check their size, SHA-256 and that the dump is complete. Exit 1 if any fails.",
			run:   runVerify},
		{name: "prune", summary: "apply retention now", config: true,
			about: "Apply retention now and print each backup kept or deleted and the rule that decided.",
			flags: []flagDef{
				{name: "dry-run", usage: "only print what retention would keep and delete"},
				{name: "json", usage: "print the decisions as JSON"},
			},
			run: runPrune},
		{name: "forget", args: "ID...", summary: "delete these backups now, whatever retention says", config: true,
			about: "Delete these backups now (every stored copy and the record), whatever retention says. A pinned backup is refused.",
			run:   runForget},
		{name: "pin", args: "ID", summary: "keep a backup whatever retention says", config: true,
			about: "Pin a backup: retention keeps it until it is unpinned.",
			flags: []flagDef{{name: "unpin", usage: "unpin the backup: retention decides again"}},
			run:   runPin},
		{name: "check", summary: "check the catalog against storage", config: true,
			about: "Check the catalog against storage: records whose file is missing or differs from its manifest, files and manifests without a record, two records on one file, unfinished deletes. Exit 1 if anything is wrong.",
			flags: []flagDef{
				{name: "repair", usage: "fix what can be fixed without losing a good backup, and print what was done"},
				{name: "json", usage: "print the report as JSON (with --repair: before, actions, left and after)"},
				{name: "read-data", usage: "read every stored copy in full and check its SHA-256 and that the dump is complete"},
			},
			run: runCheck},
		{name: "status", summary: "per environment: last success, next run, queue, budget, stored backups", config: true,
			about: "Show, per environment, the last success and its age against the schedule, the next run, a queued job's place and estimated start, the API budget left and the backups per target.",
			flags: []flagDef{{name: "json", usage: "print the report as JSON"}},
			run:   runStatus},
		{name: "restore", args: "ID", summary: "import a stored backup into a site (after a safety snapshot)", config: true,
			about: "Import a stored backup into a site's database. A pre-import safety snapshot of the target is taken first. Asks for confirmation on a terminal; without one, --yes is required.",
			flags: importFlags, run: runRestore},
		{name: "import", args: "FILE", summary: "import an SQL file into a site (after a safety snapshot)", config: true,
			about: "Import an SQL file into a site's database. A pre-import safety snapshot of the target is taken first. Asks for confirmation on a terminal; without one, --yes is required.",
			flags: importFlags, fileArgs: true, run: runImport},
		{name: "config", args: "check", words: []string{"check"}, summary: "validate the configuration and show the next runs", config: true,
			about: "Validate the configuration and print, per site and environment, the schedule and its next three run times, and whether the schedules fit in the API's database-operation budget.",
			flags: []flagDef{
				{name: "online", usage: "also check that the token is accepted, the API and S3 answer, and state_dir and storage are writable"},
				{name: "strict", usage: "exit 1 on warnings too"},
			},
			run: runConfig},
		{name: "api", args: "probe", words: []string{"probe"}, summary: "what the API token sees, without spending a database operation", config: true,
			about: "Ask the API, without spending a database operation, whether the token is accepted, which route set answers, which rate-limit headers it sends, and every site and environment the token sees with its ids. Configured sites and environments the token cannot see are named (exit 1, as for a refused token). --yaml prints a sites: block for the configuration.",
			flags: []flagDef{
				{name: "json", usage: "print the report as JSON"},
				{name: "yaml", usage: "print a sites: block for the configuration"},
			},
			run: runAPI},
		{name: "catalog", args: "rebuild", words: []string{"rebuild"}, summary: "rebuild the catalog from the stored manifests", config: true,
			about: "Rebuild the catalog from the manifests stored beside every backup. A damaged catalog is moved aside first.",
			run:   runCatalog},
		{name: "demo", summary: "run the whole job against a simulated Vector API",
			about: "Run the daemon for a few seconds against a built-in simulated Vector API in a temporary directory and print what it did. Needs no account and reads no configuration.",
			flags: []flagDef{
				{name: "keep", usage: "keep the temporary directory instead of removing it"},
				{name: "dump-size", arg: "N", def: int64(4 << 20), usage: "size of each simulated SQL dump in bytes"},
				{name: "duration", arg: "D", def: 7 * time.Second, usage: "how long the daemon runs"},
				verboseFlag,
			},
			run: runDemo},
		{name: "completion", args: "bash|zsh|fish", words: []string{"bash", "zsh", "fish"}, summary: "print a shell completion script",
			about: "Print a completion script for bash, zsh or fish. Load it with: source <(vectord completion bash); for zsh, save it as _vectord in a directory of $fpath; for fish, as ~/.config/fish/completions/vectord.fish.",
			run:   runCompletion},
		{name: "man", summary: "print the manual page (roff)",
			about: "Print the manual page in roff. Read it with: vectord man | man -l -",
			run:   runMan},
		{name: "version", summary: "print version information (also --version)", run: runVersion},
		{name: "help", args: "[COMMAND]", summary: "print the command list, or a command's help",
			run: runHelp},
	}
}

// lookup finds a command by name.
func lookup(name string) (command, bool) {
	i := slices.IndexFunc(commands(), func(c command) bool { return c.name == name })
	if i < 0 {
		return command{}, false
	}
	return commands()[i], true
}

// Run executes one command line and returns its exit status.
func (m *Main) Run(ctx context.Context, args []string) int {
	if m.Getenv == nil {
		m.Getenv = os.Getenv
	}
	if len(args) == 0 {
		m.usage(m.Stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help":
		m.usage(m.Stdout)
		return exitOK
	case "-version", "--version":
		return m.exit(runVersion(ctx, m, args[1:]))
	}
	c, ok := lookup(args[0])
	if !ok {
		if strings.HasPrefix(args[0], "-") {
			fmt.Fprintf(m.Stderr, "vectord: flag provided but not defined: %s; flags follow the command (see vectord --help)\n", args[0])
		} else {
			fmt.Fprintf(m.Stderr, "vectord: unknown command %q (see vectord --help)\n", args[0])
		}
		return exitUsage
	}
	return m.exit(m.explain(args, c.run(ctx, m, args[1:])))
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
	var fe *flagError
	switch {
	case errors.As(err, &se):
	case errors.As(err, &fe):
		fmt.Fprintln(m.Stderr, fe.Error()) // names the command itself
	default:
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

// flagError is a command line the flag package refused: an unknown flag,
// a flag without its value, a value that does not parse.
type flagError struct {
	cmd string // "vectord cat"
	err error
}

func (e *flagError) Error() string {
	return fmt.Sprintf("%s: %v (see %s --help)", e.cmd, e.err, e.cmd)
}
func (e *flagError) Unwrap() error { return e.err }

// silentError is a failure already reported line by line (verify, cat).
type silentError struct{ error }

// flags is a subcommand's flag set, defined from its command's definition.
type flags struct {
	*flag.FlagSet
	cmd    command
	config string
	values map[string]any // flag name → *string, *bool, *int64, *time.Duration
	m      *Main
}

// flags builds the flag set of the command name from its definition.
func (m *Main) flags(name string) *flags {
	c, ok := lookup(name)
	if !ok {
		panic("vectord: no command definition for " + name)
	}
	fs := flag.NewFlagSet("vectord "+name, flag.ContinueOnError)
	// Errors and help are printed by parse and exit, once.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	f := &flags{FlagSet: fs, cmd: c, m: m, values: map[string]any{}}
	for _, d := range c.flags {
		switch def := d.def.(type) {
		case int64:
			f.values[d.name] = fs.Int64(d.name, def, d.usage)
		case time.Duration:
			f.values[d.name] = fs.Duration(d.name, def, d.usage)
		case string:
			f.values[d.name] = fs.String(d.name, def, d.usage)
		case nil:
			if d.arg == "" {
				f.values[d.name] = fs.Bool(d.name, false, d.usage)
			} else {
				f.values[d.name] = fs.String(d.name, "", d.usage)
			}
		default:
			panic(fmt.Sprintf("vectord %s --%s: default of type %T", name, d.name, d.def))
		}
	}
	if c.config {
		fs.StringVar(&f.config, configFlag.name, "", configFlag.usage)
	}
	return f
}

// value returns the flag's value pointer, of type T; the flag must be in
// the command's definition.
func flagValue[T any](f *flags, name string) *T {
	p, ok := f.values[name].(*T)
	if !ok {
		panic(fmt.Sprintf("%s: flag --%s is not defined as a %T in its command definition", f.Name(), name, *new(T)))
	}
	return p
}

// str, on, int64Value and duration return a defined flag's value pointer.
func (f *flags) str(name string) *string             { return flagValue[string](f, name) }
func (f *flags) on(name string) *bool                { return flagValue[bool](f, name) }
func (f *flags) int64Value(name string) *int64       { return flagValue[int64](f, name) }
func (f *flags) duration(name string) *time.Duration { return flagValue[time.Duration](f, name) }

// Bool and String return the value of a flag of the command's
// definition, for code that declares its flags inline: they shadow the
// flag.FlagSet methods so that no flag escapes the definition (--help,
// completion and the man page are built from it). The default and usage
// are the definition's; a flag missing from it panics.
func (f *flags) Bool(name string, value bool, usage string) *bool { return f.on(name) }

func (f *flags) String(name string, value string, usage string) *string { return f.str(name) }

// parse parses flags and positional arguments in any order. --help prints
// the command's help on stdout and returns flag.ErrHelp; a flag the
// command does not take is a usage error naming it.
func (f *flags) parse(args []string) ([]string, error) {
	var pos []string
	for {
		if err := f.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				f.cmd.help(f.m.Stdout)
				return nil, err
			}
			return nil, &usageError{err: &flagError{cmd: f.Name(), err: err}}
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
	p := f.config
	if p == "" {
		p = f.m.Getenv("VECTORD_CONFIG")
	}
	if p == "" {
		p = "/etc/vectord/config.yaml"
	}
	f.m.configPath = p
	return p
}

// isTerminal reports whether a stream (stdin, stdout, stderr) is an
// interactive terminal.
func isTerminal(stream any) bool {
	f, ok := stream.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
