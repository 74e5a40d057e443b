package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
)

// runCat: vectord cat ID — the original SQL on stdout, SHA-256 checked.
func runCat(ctx context.Context, m *Main, args []string) error {
	f := m.flags("cat")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageErrorf("cat takes exactly one backup id")
	}
	a, err := openApp(ctx, f.configPath(), false, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	rec, err := a.record(ctx, pos[0])
	if err != nil {
		return err
	}
	rc, err := a.open(ctx, rec, m.Stderr)
	if err != nil {
		return err
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(m.Stdout, h), rc)
	if err != nil {
		return fmt.Errorf("read backup %s: %w", rec.ID, err)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != rec.SHA256 || n != rec.SizeBytes {
		return fmt.Errorf("backup %s is corrupt: read %d bytes with SHA-256 %s, the catalog records %d bytes with %s", rec.ID, n, sum, rec.SizeBytes, rec.SHA256)
	}
	return nil
}
