package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/builtfast/vectord/catalog"
	"github.com/builtfast/vectord/codec"
	"github.com/builtfast/vectord/dump"
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
	failed := 0
	if len(ids) == 0 {
		if recs, err = a.records(ctx, catalog.Filter{}); err != nil {
			return err
		}
	}
	for _, id := range ids {
		r, err := a.record(ctx, id)
		if err != nil {
			fmt.Fprintf(m.Stdout, "FAIL %s: %v\n", id, err)
			failed++
			continue
		}
		recs = append(recs, r)
	}
	for _, r := range recs {
		if err := a.verify(ctx, r); err != nil {
			fmt.Fprintf(m.Stdout, "FAIL %s %s/%s: %v\n", r.ID, r.Site, r.Environment, err)
			failed++
			continue
		}
		fmt.Fprintf(m.Stdout, "ok   %s %s/%s %d bytes sha256 %s\n", r.ID, r.Site, r.Environment, r.SizeBytes, r.SHA256)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d backups failed verification", failed, len(recs)+len(ids)-len(recs))
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
		if err := verifyCopy(ctx, t, key, c, r); err != nil {
			if !strings.HasPrefix(err.Error(), loc.Target+": ") {
				err = fmt.Errorf("%s: %w", loc.Target, err)
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func verifyCopy(ctx context.Context, t storage.Target, key string, c codec.Codec, r catalog.Record) error {
	info, err := t.Stat(ctx, key)
	if err != nil {
		return err
	}
	if info.Size != r.StoredBytes {
		return fmt.Errorf("stored file has %d bytes, the catalog records %d", info.Size, r.StoredBytes)
	}
	rc, err := t.Open(ctx, key)
	if err != nil {
		return err
	}
	defer rc.Close()
	dec, err := codec.NewReader(rc, c)
	if err != nil {
		return err
	}
	defer dec.Close()
	h, chk := sha256.New(), dump.NewChecker()
	n, err := io.Copy(io.MultiWriter(h, chk), dec)
	if err != nil {
		return fmt.Errorf("decompress: %w", err)
	}
	if n != r.SizeBytes {
		return fmt.Errorf("SQL has %d bytes, the catalog records %d", n, r.SizeBytes)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != r.SHA256 {
		return fmt.Errorf("SHA-256 %s, the catalog records %s", sum, r.SHA256)
	}
	return chk.Check()
}
