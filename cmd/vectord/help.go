package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// usage prints the command list.
func (m *Main) usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: vectord COMMAND [ARGUMENTS] [FLAGS]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "vectord backs up the MySQL databases of Vector Pro sites.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range commands() {
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
	}
	tw.Flush()
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands that read the configuration take --config PATH (default")
	fmt.Fprintln(w, "$VECTORD_CONFIG, else /etc/vectord/config.yaml).")
	fmt.Fprintln(w, `Run "vectord COMMAND --help" for a command's arguments and flags.`)
}

// allFlags are the command's flags as --help lists them: its own, then
// --config if it reads the configuration, then --help.
func (c command) allFlags() []flagDef {
	fl := append([]flagDef(nil), c.flags...)
	if c.config {
		fl = append(fl, configFlag)
	}
	return append(fl, helpFlag)
}

// synopsis is the command's usage line without "Usage: ": vectord pin ID
// [--unpin] [--config PATH].
func (c command) synopsis() string {
	parts := []string{"vectord", c.name}
	if c.args != "" {
		parts = append(parts, c.args)
	}
	fl := append([]flagDef(nil), c.flags...)
	if c.config {
		fl = append(fl, configFlag)
	}
	for _, d := range fl {
		s := d.dashed()
		if d.arg != "" {
			s += " " + d.arg
		}
		if !d.required {
			s = "[" + s + "]"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

// description is what --help says of the command.
func (c command) description() string {
	if c.about != "" {
		return c.about
	}
	return strings.ToUpper(c.summary[:1]) + c.summary[1:] + "."
}

// flagDefault is the default --help shows, or "" when there is none worth
// showing.
func (d flagDef) flagDefault() string {
	switch v := d.def.(type) {
	case int64:
		if v != 0 {
			return fmt.Sprint(v)
		}
	case time.Duration:
		if v != 0 {
			return v.String()
		}
	case string:
		if v != "" {
			return v
		}
	}
	return ""
}

// help prints the command's usage line, what it does and its flags.
func (c command) help(w io.Writer) {
	fmt.Fprintf(w, "Usage: %s\n\n", c.synopsis())
	for _, line := range wrap(c.description(), 76) {
		fmt.Fprintln(w, line)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Flags:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, d := range c.allFlags() {
		name := d.dashed()
		if d.arg != "" {
			name += " " + d.arg
		}
		usage := d.usage
		if d.required {
			usage += " (required)"
		}
		if def := d.flagDefault(); def != "" {
			usage += " (default " + def + ")"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", name, usage)
	}
	tw.Flush()
}

// wrap breaks text into lines of at most width characters, at spaces.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		switch {
		case line == "":
			line = word
		case len(line)+1+len(word) > width:
			lines = append(lines, line)
			line = word
		default:
			line += " " + word
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

// runHelp: vectord help [COMMAND] — the command list, or one command's
// help, on stdout.
func runHelp(ctx context.Context, m *Main, args []string) error {
	f := m.flags("help")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	switch len(pos) {
	case 0:
		m.usage(m.Stdout)
		return nil
	case 1:
		c, ok := lookup(pos[0])
		if !ok {
			return usageErrorf("help: unknown command %q (see vectord --help)", pos[0])
		}
		c.help(m.Stdout)
		return nil
	}
	return usageErrorf("help takes at most one command, got %q", pos)
}
