package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/builtfast/vectord/catalog"
)

// runList: vectord list [--site S] [--env E] [--json]
func runList(ctx context.Context, m *Main, args []string) error {
	f := m.flags("list")
	site := f.String("site", "", "only this site")
	env := f.String("env", "", "only this environment")
	asJSON := f.Bool("json", false, "print a JSON array of catalog records")
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
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSITE\tENVIRONMENT\tTRIGGER\tCOMPLETED\tSIZE\tSTORED\tSHA256")
	for _, r := range recs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.12s\n", r.ID, r.Site, r.Environment, r.Trigger,
			r.CompletedAt.UTC().Format(time.RFC3339), humanBytes(r.SizeBytes), humanBytes(r.StoredBytes), r.SHA256)
	}
	return tw.Flush()
}
