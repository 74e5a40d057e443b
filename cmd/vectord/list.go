package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/builtfast/vectord/catalog"
)

// runList: vectord list [--site S] [--env E] [--json]
func runList(ctx context.Context, m *Main, args []string) error {
	f := m.flags("list")
	site, env, asJSON := f.str("site"), f.str("env"), f.on("json")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("list takes no arguments, got %q", pos)
	}
	a, err := openApp(ctx, f.configPath(), false, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	recs, err := a.records(ctx, catalog.Filter{Site: *site, Environment: *env})
	if err != nil {
		return err
	}
	if *asJSON {
		if recs == nil {
			recs = []catalog.Record{}
		}
		enc := json.NewEncoder(m.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(recs)
	}
	return printList(m.Stdout, recs, time.Now(), m.loc())
}

// printList prints records as the list table: completion time in loc with
// the zone's abbreviation, age at now, sizes, the start of the SHA-256 and
// the reason given with --reason.
func printList(w io.Writer, recs []catalog.Record, now time.Time, loc *time.Location) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSITE\tENVIRONMENT\tTRIGGER\tCOMPLETED\tAGE\tSIZE\tSTORED\tSHA256\tREASON")
	for _, r := range recs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.12s\t%s\n", r.ID, r.Site, r.Environment, r.Trigger,
			backupTime(r.CompletedAt, loc), humanAge(now.Sub(r.CompletedAt)), humanBytes(r.SizeBytes), humanBytes(r.StoredBytes),
			r.SHA256, oneLine(r.Reason))
	}
	return tw.Flush()
}

// backupTimeLayout is how a backup's time is shown: local time with the
// zone's abbreviation.
const backupTimeLayout = "2006-01-02 15:04:05 MST"

// backupTime shows t in loc, or "-" when it is not known.
func backupTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "-"
	}
	return t.In(loc).Format(backupTimeLayout)
}

// humanAge shows an age in its two largest units: 45s, 12m, 3h12m, 2d4h.
// A negative age (a clock set back) is 0s.
func humanAge(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm", s/60)
	case s < 86400:
		return fmt.Sprintf("%dh%dm", s/3600, s%3600/60)
	}
	return fmt.Sprintf("%dd%dh", s/86400, s%86400/3600)
}

// oneLine keeps free text on its table row: control characters (tabs,
// newlines) become spaces; empty text is "-".
func oneLine(s string) string {
	s = strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s))
	if s == "" {
		return "-"
	}
	return s
}
