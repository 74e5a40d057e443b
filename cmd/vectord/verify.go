package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/builtfast/vectord/catalog"
	"github.com/builtfast/vectord/codec"
	"github.com/builtfast/vectord/integrity"
	"github.com/builtfast/vectord/storage"
)

// runVerify: vectord verify [ID ...] — every stored copy re-read and checked.
func runVerify(ctx context.Context, m *Main, args []string) error {
	f := m.flags("verify")
	ids, err := f.parse(args)
	if err != nil {
		return err
	}
	a, err := openApp(ctx, f.configPath(), false, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	var recs []catalog.Record
	if len(ids) == 0 {
		if recs, err = a.records(ctx, catalog.Filter{}); err != nil {
			return err
		}
		if len(recs) == 0 {
			return errors.New("the catalog holds no backups: nothing verified (see vectord list)")
		}
	}
	for _, id := range ids {
		r, err := a.record(ctx, id)
		if err != nil {
			return err
		}
		recs = append(recs, r)
	}
	failed := 0
	for _, r := range recs {
		if err := a.verify(ctx, r); err != nil {
			fmt.Fprintf(m.Stdout, "FAIL %s %s/%s: %v\n", r.ID, r.Site, r.Environment, err)
			failed++
			continue
		}
		fmt.Fprintf(m.Stdout, "ok   %s %s/%s %d bytes sha256 %s\n", r.ID, r.Site, r.Environment, r.SizeBytes, r.SHA256)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d backups failed verification", failed, len(recs))
	}
	return nil
}

// verify re-reads every stored copy of r: its stored size, and the size,
// SHA-256 and completeness of the SQL it decompresses to.
func (a *app) verify(ctx context.Context, r catalog.Record) error {
	c, err := codec.Parse(r.Compression)
	if err != nil {
		return err
	}
	key := storage.BackupKey(r.Site, r.Environment, r.StartedAt, r.ExportID, c.Ext())
	var errs []error
	for _, loc := range r.Locations {
		t := a.target(loc.Target)
		if t == nil {
			errs = append(errs, fmt.Errorf("%s: target not configured", loc.Target))
			continue
		}
		if err := integrity.VerifyCopy(ctx, t, key, r); err != nil {
			if !strings.HasPrefix(err.Error(), loc.Target+": ") {
				err = fmt.Errorf("%s: %w", loc.Target, err)
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
