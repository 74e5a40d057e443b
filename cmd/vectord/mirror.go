package main

import (
	"context"
	"fmt"

	"github.com/builtfast/vectord/catalog"
	"github.com/builtfast/vectord/config"
	"github.com/builtfast/vectord/exporter"
	"github.com/builtfast/vectord/vectorapi"
)

// mirrorNew stores the environment's completed platform backups of scope
// database or full that the catalog does not hold yet (by
// platform_backup_id), newest first, each through store (CONTRACT §9). It
// spends no database operation. It returns the newest record stored, or an
// empty one when nothing was new.
func mirrorNew(ctx context.Context, cat *catalog.DB, api *vectorapi.Client, e config.Environment,
	store func(ctx context.Context, platformBackupID string) (catalog.Record, error)) (catalog.Record, error) {
	list, err := api.ListBackups(ctx, vectorapi.Target{SiteID: e.SiteID, EnvironmentID: e.EnvironmentID})
	if err != nil {
		return catalog.Record{}, &exporter.Error{Reason: exporter.ReasonAPI, Err: fmt.Errorf("list platform backups of %s/%s: %w", e.Site, e.Name, err)}
	}
	recs, err := cat.List(ctx, catalog.Filter{Site: e.Site, Environment: e.Name})
	if err != nil {
		return catalog.Record{}, err
	}
	have := map[string]bool{}
	for _, r := range recs {
		if r.PlatformBackupID != "" {
			have[r.PlatformBackupID] = true
		}
	}
	var newest catalog.Record
	for _, b := range list { // newest first
		if b.Status != "completed" || (b.Scope != vectorapi.BackupScopeDatabase && b.Scope != vectorapi.BackupScopeFull) || have[b.ID] {
			continue
		}
		rec, err := store(ctx, b.ID)
		if err != nil {
			return newest, err
		}
		if newest.ID == "" {
			newest = rec
		}
	}
	return newest, nil
}
