package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/builtfast/vectord/catalog"
	"github.com/builtfast/vectord/codec"
	"github.com/builtfast/vectord/server"
	"github.com/builtfast/vectord/storage"
)

// admin is the control API's catalog administration in a running daemon:
// what forget, pin, prune and check do when the daemon holds the catalog.
// Changes to an environment's backups take that environment's lock, so
// they never overlap retention or an archive copy of the same environment.
type admin struct{ d *daemon }

var _ server.Admin = admin{}

func (ad admin) Forget(ctx context.Context, id string) error {
	_, err := ad.d.app.forget(ctx, []string{id}, ad.d.lockEnv, ad.d.met)
	if err != nil {
		if e := cliError(err); e != err {
			return fmt.Errorf("%w: %w", server.ErrInvalid, err)
		}
		return err
	}
	if err := ad.d.refreshAll(ctx); err != nil {
		ad.d.log.Warn("refresh stored-backup metrics", "error", err)
	}
	return nil
}

func (ad admin) Pin(ctx context.Context, id string, pinned bool) error {
	return ad.d.app.pin(ctx, id, pinned)
}

func (ad admin) Prune(ctx context.Context, dryRun bool) (json.RawMessage, error) {
	rep, err := ad.d.app.prune(ctx, dryRun, ad.d.lockEnv, ad.d.met)
	if err != nil {
		return nil, err
	}
	if !dryRun {
		if err := ad.d.refreshAll(ctx); err != nil {
			ad.d.log.Warn("refresh stored-backup metrics", "error", err)
		}
	}
	return json.Marshal(rep)
}

func (ad admin) Check(ctx context.Context, repair, readData bool) (json.RawMessage, bool, error) {
	busy, err := ad.d.busyKeys(ctx)
	if err != nil {
		return nil, false, err
	}
	rep, res, err := ad.d.app.check(ctx, repair, readData, func(key string) bool { return busy[key] })
	if err != nil {
		return nil, false, err
	}
	if repair {
		raw, err := json.Marshal(res)
		return raw, res.After.OK(), err
	}
	raw, err := json.Marshal(rep)
	return raw, rep.OK(), err
}

// busyKeys are the backup keys of the jobs in flight: their files may be
// committed before their records.
func (d *daemon) busyKeys(ctx context.Context) (map[string]bool, error) {
	jobs, err := d.app.cat.Jobs(ctx)
	if err != nil {
		return nil, err
	}
	busy := map[string]bool{}
	for _, j := range jobs {
		if j.State == catalog.JobSucceeded || j.State == catalog.JobFailed || j.ExportID == "" {
			continue
		}
		for _, c := range []codec.Codec{codec.Zstd, codec.Gzip, codec.None} {
			busy[storage.BackupKey(j.Site, j.Environment, j.CreatedAt, j.ExportID, c.Ext())] = true
		}
	}
	return busy, nil
}

// refreshAll refreshes the stored-backup gauges of every configured
// environment after an administrative change.
func (d *daemon) refreshAll(ctx context.Context) error {
	for _, e := range d.config().Environments() {
		if err := d.refreshStored(ctx, e.Site, e.Name); err != nil {
			return err
		}
	}
	return nil
}
