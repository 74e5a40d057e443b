package exporter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/builtfast/vectord/catalog"
	"github.com/builtfast/vectord/dump"
	"github.com/builtfast/vectord/vectorapi"
)

// BackupAPI is the part of the Vector API client that platform backups use
// (CONTRACT §9). *vectorapi.Client satisfies it.
type BackupAPI interface {
	CreateBackup(ctx context.Context, t vectorapi.Target, description string) (vectorapi.Backup, error)
	Backup(ctx context.Context, id string) (vectorapi.Backup, error)
	CreateBackupDownload(ctx context.Context, backupID string) (vectorapi.BackupDownload, error)
	BackupDownload(ctx context.Context, backupID, downloadID string) (vectorapi.BackupDownload, error)
}

// ref names what a job downloads: an export, or a platform backup and one
// of its downloads. It is persisted with the job, so that a restarted
// daemon polls what was requested instead of requesting it again.
type ref struct {
	exportID string // the export, or the backup's download
	backupID string // the platform backup (sources backup and mirror)
}

// artifact is one poll's answer.
type artifact struct {
	ref       ref    // advanced when a poll created a download
	done      bool   // the file can be downloaded from url until expiresAt
	failed    string // the API's reason, when the artifact failed
	url       string
	expiresAt time.Time
}

// source is where a job's SQL comes from: one small interface, so that the
// job's phases (request, poll, download, store) are the same for every
// kind of backup.
type source interface {
	// kind is the record's source: catalog.SourceExport, SourceBackup or
	// SourceMirror.
	kind() string
	// start requests a new artifact. It is a database operation.
	start(ctx context.Context, t vectorapi.Target, trigger string) (ref, error)
	// poll asks once how the artifact stands. errExportGone: it can no
	// longer be downloaded.
	poll(ctx context.Context, t vectorapi.Target, r ref) (artifact, error)
	// sql turns the downloaded file, gunzipped if it was gzip, into the
	// SQL dump.
	sql(r io.Reader) io.Reader
	// name names the artifact in messages.
	name(r ref) string
}

// exportSource: the database export routes (CONTRACT §1).
type exportSource struct{ api API }

func (exportSource) kind() string { return catalog.SourceExport }

func (s exportSource) start(ctx context.Context, t vectorapi.Target, _ string) (ref, error) {
	exp, err := s.api.StartExport(ctx, t)
	if err != nil {
		return ref{}, err
	}
	if exp.ID == "" {
		return ref{}, errors.New("the API answered without an export id")
	}
	return ref{exportID: exp.ID}, nil
}

func (s exportSource) poll(ctx context.Context, t vectorapi.Target, r ref) (artifact, error) {
	exp, err := s.api.ExportStatus(ctx, t, r.exportID)
	switch {
	case errors.Is(err, vectorapi.ErrNotFound):
		return artifact{ref: r}, errExportGone
	case err != nil:
		return artifact{ref: r}, err
	}
	a := artifact{ref: r}
	switch exp.Status {
	case "completed":
		if exp.DownloadURL == "" {
			return a, errExportGone
		}
		a.done, a.url, a.expiresAt = true, exp.DownloadURL, exp.ExpiresAt
	case "failed":
		a.failed = exp.ErrorMessage
		if a.failed == "" {
			a.failed = "no reason given"
		}
	}
	return a, nil
}

func (exportSource) sql(r io.Reader) io.Reader { return r }

func (exportSource) name(r ref) string { return "export " + r.exportID }

// backupSource: a platform backup of the database, then a download of its
// archive (CONTRACT §9). With mirror set it never creates a backup: it
// downloads those the platform took itself.
type backupSource struct {
	api    BackupAPI
	mirror bool
}

func (s backupSource) kind() string {
	if s.mirror {
		return catalog.SourceMirror
	}
	return catalog.SourceBackup
}

func (s backupSource) start(ctx context.Context, t vectorapi.Target, trigger string) (ref, error) {
	if s.mirror {
		return ref{}, errors.New("a mirror job downloads an existing platform backup; it creates none")
	}
	b, err := s.api.CreateBackup(ctx, t, "vectord "+trigger)
	if err != nil {
		return ref{}, err
	}
	if b.ID == "" {
		return ref{}, errors.New("the API answered without a backup id")
	}
	return ref{backupID: b.ID}, nil
}

func (s backupSource) poll(ctx context.Context, _ vectorapi.Target, r ref) (artifact, error) {
	a := artifact{ref: r}
	if r.exportID == "" {
		// The backup itself: once completed, ask for a download of it.
		b, err := s.api.Backup(ctx, r.backupID)
		switch {
		case errors.Is(err, vectorapi.ErrNotFound):
			return a, errExportGone
		case err != nil:
			return a, err
		}
		switch b.Status {
		case "failed":
			a.failed = b.ErrorMessage
			if a.failed == "" {
				a.failed = "no reason given"
			}
			return a, nil
		case "completed":
		default:
			return a, nil
		}
		dl, err := s.api.CreateBackupDownload(ctx, r.backupID)
		if err != nil {
			return a, fmt.Errorf("create a download of backup %s: %w", r.backupID, err)
		}
		a.ref.exportID = dl.ID
		return s.downloadState(a, dl), nil
	}
	dl, err := s.api.BackupDownload(ctx, r.backupID, r.exportID)
	if errors.Is(err, vectorapi.ErrNotFound) {
		// The download is gone, not the backup: a new download of the
		// same backup, never a new backup.
		a.ref.exportID = ""
		return a, nil
	}
	if err != nil {
		return a, err
	}
	return s.downloadState(a, dl), nil
}

func (backupSource) downloadState(a artifact, dl vectorapi.BackupDownload) artifact {
	switch dl.Status {
	case "completed":
		if dl.DownloadURL == "" {
			a.ref.exportID = "" // nothing to fetch: ask for a new download
			return a
		}
		a.done, a.url, a.expiresAt = true, dl.DownloadURL, dl.ExpiresAt
	case "failed":
		a.failed = "download: " + dl.ErrorMessage
		if dl.ErrorMessage == "" {
			a.failed = "download failed, no reason given"
		}
	}
	return a
}

func (backupSource) sql(r io.Reader) io.Reader { return dump.TarSQL(r) }

func (backupSource) name(r ref) string {
	if r.exportID == "" {
		return "backup " + r.backupID
	}
	return "backup " + r.backupID + " download " + r.exportID
}
