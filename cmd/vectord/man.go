package main

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// runMan: vectord man — the manual page in roff, built from the command
// definitions (read it with vectord man | man -l -).
func runMan(ctx context.Context, m *Main, args []string) error {
	f := m.flags("man")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("man takes no arguments, got %q", pos)
	}
	return manPage(m.Stdout, commands(), version)
}

// roff escapes text for a roff line: backslashes, hyphens (so that flags
// copy and paste as ASCII), and a leading dot or quote that would read as
// a request.
func roff(s string) string {
	s = strings.NewReplacer(`\`, `\e`, "-", `\-`).Replace(s)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

// roffSynopsis sets a usage line: words in bold, placeholders in italics.
func roffSynopsis(c command) string {
	var b strings.Builder
	for i, word := range strings.Fields(c.synopsis()) {
		if i > 0 {
			b.WriteString(" ")
		}
		// Placeholders are upper case (ID, FILE, PATH, S); the rest is
		// typed as it stands.
		core := strings.Trim(word, "[]|.")
		if core != "" && core == strings.ToUpper(core) && strings.ToUpper(core) != strings.ToLower(core) {
			b.WriteString(`\fI` + roff(word) + `\fR`)
		} else {
			b.WriteString(`\fB` + roff(word) + `\fR`)
		}
	}
	return b.String()
}

func manPage(w io.Writer, cmds []command, version string) error {
	var b strings.Builder
	fmt.Fprintf(&b, `.TH VECTORD 1 "" "vectord %s" "User Commands"
.SH NAME
vectord \- back up the MySQL databases of Vector Pro sites
.SH SYNOPSIS
.B vectord
.I command
.RI [ arguments ]
.RI [ flags ]
.SH DESCRIPTION
.B vectord
is a daemon that backs up the MySQL databases of sites hosted on
BuiltFast's Vector Pro platform: on a cron schedule it asks the Vector API
to export a database, downloads the dump, stores it locally and/or in
S3\-compatible storage, records it in a catalog, applies retention and
exposes Prometheus metrics.
Its other commands list, check, fetch and restore the stored backups;
each works whether or not a daemon runs on the same catalog.
Backup ids may be abbreviated to any unique prefix.
Every command takes
.B \-\-help
(or
.BR \-h ),
which prints its arguments and flags.
.SH COMMANDS
`, roff(version))
	for _, c := range cmds {
		fmt.Fprintf(&b, ".SS %s\n", roff(c.name))
		fmt.Fprintf(&b, "%s\n.PP\n%s\n", roffSynopsis(c), roff(c.description()))
		for _, d := range c.allFlags() {
			if d.name == helpFlag.name {
				continue // said once, in the description
			}
			tag := `\fB` + roff(d.dashed()) + `\fR`
			if d.arg != "" {
				tag += ` \fI` + roff(d.arg) + `\fR`
			}
			usage := d.usage
			if d.required {
				usage += " (required)"
			}
			if def := d.flagDefault(); def != "" {
				usage += " (default " + def + ")"
			}
			fmt.Fprintf(&b, ".TP\n%s\n%s\n", tag, roff(usage))
		}
	}
	b.WriteString(`.SH EXIT STATUS
.TP
.B 0
success
.TP
.B 1
the operation failed
.TP
.B 2
bad usage or bad configuration
.SH ENVIRONMENT
.TP
.B VECTORD_CONFIG
the configuration file of commands run without \fB\-\-config\fR
.SH FILES
.TP
.I /etc/vectord/config.yaml
the configuration file by default
.TP
.I /var/lib/vectord/catalog.db
the catalog, under the configuration's \fBstate_dir\fR
.SH SHELL COMPLETION
.B vectord completion bash
(or
.BR zsh ,
.BR fish )
prints a completion script for the commands and their flags.
`)
	_, err := io.WriteString(w, b.String())
	return err
}
