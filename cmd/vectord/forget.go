package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/builtfast/vectord/catalog"
	"github.com/builtfast/vectord/metrics"
	"github.com/builtfast/vectord/retention"
	"github.com/builtfast/vectord/server"
)

// runForget: vectord forget ID... — these backups deleted now, whatever
// retention says (pinned ones refused).
func runForget(ctx context.Context, m *Main, args []string) error {
	f := m.flags("forget")
	ids, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return usageErrorf("forget takes one or more backup ids (see vectord list)")
	}
	a, err := openAppBeside(ctx, f.configPath(), true, newLogger(m.Stderr, slog.LevelWarn))
	if err != nil {
		return err
	}
	defer a.Close()
	if a.cat == nil {
		for _, id := range ids {
			full, err := a.remote.Forget(ctx, id)
			if errors.Is(err, server.ErrInvalid) || errors.Is(err, server.ErrAmbiguous) {
				return &usageError{err: err}
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(m.Stdout, "deleted %s\n", full)
		}
		return nil
	}
	deleted, err := a.forget(ctx, ids, nil, nil)
	for _, r := range deleted {
		fmt.Fprintf(m.Stdout, "deleted %s %s/%s completed %s\n", r.ID, r.Site, r.Environment, backupTime(r.CompletedAt, m.loc()))
	}
	return cliError(err)
}

// forget resolves ids (unique prefixes) and deletes those backups from
// every target and the catalog. Nothing is deleted when one id is unknown,
// ambiguous or pinned.
func (a *app) forget(ctx context.Context, ids []string, lock envLocker, m *metrics.Metrics) ([]catalog.Record, error) {
	var recs []catalog.Record
	for _, id := range ids {
		r, err := a.record(ctx, id)
		if err != nil {
			return nil, err
		}
		recs = append(recs, r)
	}
	var deleted []catalog.Record
	var errs []error
	enf := a.enforcer(m)
	for _, r := range recs {
		unlock := lock.lock(r.Site, r.Environment)
		// Read the record again under the environment's lock: an archive
		// copy may have added a location since it was resolved, and its
		// files must go too.
		cur, err := a.cat.Get(ctx, r.ID)
		if err != nil {
			unlock()
			errs = append(errs, err)
			continue
		}
		r = cur
		res, err := enf.Forget(ctx, []catalog.Record{r})
		unlock()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(res.Failed) > 0 {
			errs = append(errs, fmt.Errorf("backup %s: its files could not all be deleted; it stays marked and is retried on the next retention run", r.ID))
			continue
		}
		deleted = append(deleted, r)
	}
	return deleted, errors.Join(errs...)
}

// cliError turns a refusal (pinned, unknown or ambiguous id) into a usage
// error (exit 2); other errors stay failures (exit 1).
func cliError(err error) error {
	if err != nil && (errors.Is(err, retention.ErrRefused) || errors.Is(err, catalog.ErrAmbiguous)) {
		return &usageError{err: err}
	}
	return err
}

// runPin: vectord pin ID [--unpin] — retention keeps a pinned backup.
func runPin(ctx context.Context, m *Main, args []string) error {
	f := m.flags("pin")
	unpin := f.on("unpin")
	ids, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(ids) != 1 {
		return usageErrorf("pin takes exactly one backup id")
	}
	a, err := openAppBeside(ctx, f.configPath(), true, nil)
	if err != nil {
		return err
	}
	defer a.Close()
	if a.cat == nil {
		err = a.remote.Pin(ctx, ids[0], !*unpin)
	} else {
		err = a.pin(ctx, ids[0], !*unpin)
	}
	if err != nil {
		return err
	}
	word := "pinned"
	if *unpin {
		word = "unpinned"
	}
	fmt.Fprintf(m.Stdout, "%s %s\n", word, ids[0])
	return nil
}

// pin pins or unpins the backup an id (or unique prefix) names.
func (a *app) pin(ctx context.Context, id string, pinned bool) error {
	r, err := a.record(ctx, id)
	if err != nil {
		return err
	}
	return a.cat.SetPinned(ctx, r.ID, pinned)
}
