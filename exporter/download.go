package exporter

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/builtfast/vectord/catalog"
	"github.com/builtfast/vectord/codec"
	"github.com/builtfast/vectord/dump"
	"github.com/builtfast/vectord/internal/failpoint"
	"github.com/builtfast/vectord/storage"
	"github.com/builtfast/vectord/vectorapi"
)

// maxRestarts bounds how often one export's download starts again from byte
// zero (the server ignored a Range request, or the file changed under it).
const maxRestarts = 2

func (j *job) download(ctx context.Context, art artifact) (catalog.Record, error) {
	if g := j.e.Gate; g != nil {
		release, err := g.Download(ctx, art.expiresAt)
		if err != nil {
			return catalog.Record{}, err
		}
		defer release()
	}
	j.job.URLExpiresAt = art.expiresAt
	if err := j.persist(ctx, StateDownloading); err != nil {
		return catalog.Record{}, err
	}
	src := &resumer{
		ctx: ctx, api: j.e.API, url: art.url, expiresAt: art.expiresAt,
		total: -1, now: j.e.now, log: j.log,
		refresh: func(ctx context.Context) (vectorapi.Export, error) {
			// A fresh status query of the same file: every byte offset
			// stays valid.
			cur := j.ref()
			fresh, err := j.src.poll(ctx, j.target, cur)
			switch {
			case errors.Is(err, errExportGone):
				return vectorapi.Export{}, errExportGone
			case err != nil:
				return vectorapi.Export{}, classifyAPI(ReasonAPI, fmt.Errorf("query %s for a fresh URL: %w", j.src.name(cur), err))
			case !fresh.done || fresh.ref != cur:
				return vectorapi.Export{}, errExportGone
			}
			j.log.Info("download URL renewed", "what", j.src.name(cur), "expires_at", fresh.expiresAt)
			return vectorapi.Export{DownloadURL: fresh.url, ExpiresAt: fresh.expiresAt}, nil
		},
		onProgress: func(n, total int64) { j.progress("downloading", n, total) },
	}
	defer src.close()
	for restarts := 0; ; restarts++ {
		rec, err := j.transfer(ctx, src)
		if !errors.Is(err, errRestart) {
			return rec, err
		}
		if restarts >= maxRestarts {
			return catalog.Record{}, fail(ReasonDownload, "download export %s: %v", j.job.ExportID, err)
		}
		j.log.Warn("download starts again from the beginning", "export_id", j.job.ExportID, "error", err)
		src.reset()
	}
}

// transfer makes one pass over the export file into every target and, if
// the result checks out, commits it and records it.
func (j *job) transfer(ctx context.Context, src *resumer) (catalog.Record, error) {
	dlStart := j.e.now()
	key := j.key()

	writers := make([]storage.Writer, 0, len(j.e.Targets))
	committed := false
	defer func() {
		if !committed {
			for i, w := range writers {
				if err := w.Abort(); err != nil {
					j.log.Error("remove unfinished backup copy", "target", j.e.Targets[i].Name(), "key", key, "error", err)
				}
			}
		}
	}()
	sinks := make([]io.Writer, 0, len(j.e.Targets))
	for _, t := range j.e.Targets {
		w, err := t.Create(ctx, key)
		if err != nil {
			return catalog.Record{}, storageErr(t, "create %s", key, err)
		}
		writers = append(writers, w)
		sinks = append(sinks, w)
	}
	stored := &countingWriter{w: io.MultiWriter(sinks...)}
	out := &errorClass{w: stored, reason: ReasonStorage, what: "write backup " + key}
	cw, err := codec.NewWriter(out, j.e.Codec)
	if err != nil {
		return catalog.Record{}, &Error{Reason: ReasonStorage, Err: err}
	}
	// The compressor may write from goroutines of its own: it is closed
	// (and so has stopped writing) before the writers are aborted.
	cwOpen := true
	defer func() {
		if cwOpen {
			_ = cw.Close()
		}
	}()

	br := bufio.NewReaderSize(src, 256<<10)
	var plain io.Reader = br
	magic, err := br.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return catalog.Record{}, err
	}
	gzipped := dump.IsGzip(magic)
	if gzipped {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return catalog.Record{}, verifyOrSource(err, "read gzip header of %s", j.src.name(j.ref()))
		}
		defer gz.Close()
		plain = gz
	}
	// The SQL dump itself: the export's file, or the one dump member of a
	// platform backup's archive (constant memory either way).
	plain = j.src.sql(plain)
	hash := sha256.New()
	check := dump.NewChecker()
	size, err := io.CopyBuffer(io.MultiWriter(hash, check, cw), plain, make([]byte, 256<<10))
	if err != nil {
		return catalog.Record{}, verifyOrSource(err, "download export %s", j.job.ExportID)
	}
	cwOpen = false
	if err := cw.Close(); err != nil {
		return catalog.Record{}, verifyOrSource(err, "compress backup %s", key)
	}
	if err := check.Check(); err != nil {
		return catalog.Record{}, fail(ReasonVerify, "export %s of site %s: %v", j.job.ExportID, j.req.Site, err)
	}
	dlEnd := j.e.now()
	if o := j.e.Observer; o != nil {
		o.ObservePhase("download", dlEnd.Sub(dlStart))
		o.ObserveURLRemaining(src.expiresAt.Sub(dlEnd))
	}
	j.log.Info("export downloaded", "export_id", j.job.ExportID, "bytes", size, "gzip", gzipped,
		"duration", dlEnd.Sub(dlStart), "url_remaining", src.expiresAt.Sub(dlEnd).Round(time.Second))

	j.progress("storing", src.offset, src.total)
	// The backup's id is chosen once, before anything is committed, and
	// persisted with the job: a job resumed after a crash records its file
	// under the same id, never a second record.
	if j.job.BackupID == "" {
		j.job.BackupID = catalog.NewID(j.started)
	}
	if err := j.persist(ctx, StateStoring); err != nil {
		return catalog.Record{}, err
	}
	rec := catalog.Record{
		ID: j.job.BackupID, Site: j.req.Site, Environment: j.req.Environment,
		SiteID: j.req.SiteID, EnvironmentID: j.req.EnvironmentID, ExportID: j.job.ExportID,
		Source: j.src.kind(), PlatformBackupID: j.job.PlatformBackupID,
		Trigger: j.req.Trigger, Reason: j.req.Reason,
		StartedAt: j.started.UTC(), SizeBytes: size, SHA256: hex.EncodeToString(hash.Sum(nil)),
		StoredBytes: stored.n, Compression: string(j.e.Codec),
	}
	for i, w := range writers {
		info, err := w.Commit(ctx)
		if err != nil {
			return catalog.Record{}, storageErr(j.e.Targets[i], "commit %s", key, err)
		}
		failpoint.Hit("store.commit." + j.e.Targets[i].Name())
		if info.Size != stored.n {
			return catalog.Record{}, fail(ReasonStorage, "%s: committed %s holds %d bytes, wrote %d", j.e.Targets[i].Name(), key, info.Size, stored.n)
		}
		if !(j.e.Spool && i == 0) {
			rec.Locations = append(rec.Locations, catalog.Location{Target: j.e.Targets[i].Name(), URI: j.e.Targets[i].URI(key)})
		}
	}
	committed = true
	holders := j.e.Targets
	if j.e.Spool {
		holders = holders[1:]
		defer j.removeFrom(j.e.Targets[0], key)
	}
	for _, t := range j.e.Archives {
		if err := j.e.copyTo(ctx, t, key, stored.n); err != nil {
			if ctx.Err() != nil {
				j.removeStored(key)
				return catalog.Record{}, context.Cause(ctx)
			}
			if j.e.Spool && len(rec.Locations) == 0 && t == j.e.Archives[len(j.e.Archives)-1] {
				j.removeStored(key)
				return catalog.Record{}, storageErr(t, "archive %s", key, err)
			}
			j.log.Error("archive copy failed; the backup is kept where it is stored", "target", t.Name(), "key", key, "error", err)
			if o := j.e.Observer; o != nil {
				o.ArchiveFailed(j.req.Site, j.req.Environment, t.Name())
			}
			continue
		}
		holders = append(holders, t)
		rec.Locations = append(rec.Locations, catalog.Location{Target: t.Name(), URI: t.URI(key)})
	}
	if len(rec.Locations) == 0 {
		j.removeStored(key)
		return catalog.Record{}, fail(ReasonStorage, "backup %s: no target holds it", key)
	}
	rec.CompletedAt = j.e.now().UTC()
	if err := j.record(ctx, holders, key, rec); err != nil {
		j.removeStored(key)
		return catalog.Record{}, err
	}
	if o := j.e.Observer; o != nil {
		o.ObservePhase("store", j.e.now().Sub(dlEnd))
	}
	return rec, nil
}

// copyTo copies a committed backup from Targets[0] to an archive target
// and checks the copy's size.
func (e *Exporter) copyTo(ctx context.Context, t storage.Target, key string, size int64) error {
	src, err := e.Targets[0].Open(ctx, key)
	if err != nil {
		return fmt.Errorf("open %s: %w", key, err)
	}
	defer src.Close()
	w, err := t.Create(ctx, key)
	if err != nil {
		return err
	}
	if _, err := io.CopyBuffer(w, src, make([]byte, 256<<10)); err != nil {
		return errors.Join(err, w.Abort())
	}
	info, err := w.Commit(ctx)
	if err != nil {
		return errors.Join(err, w.Abort())
	}
	failpoint.Hit("store.commit." + t.Name())
	if info.Size != size {
		return fmt.Errorf("copy of %s holds %d bytes, want %d", key, info.Size, size)
	}
	return nil
}

// record writes the manifest beside the backup on every target, then the
// catalog record together with the job's success: the file is complete
// before anything points at it, and the job is finished in the same step.
func (j *job) record(ctx context.Context, holders []storage.Target, key string, rec catalog.Record) error {
	if err := writeManifests(ctx, holders, key, rec); err != nil {
		return err
	}
	j.job.State, j.job.UpdatedAt = StateSucceeded, j.e.now()
	if err := j.e.Catalog.CommitBackup(ctx, rec, j.job); err != nil {
		j.job.State = StateStoring
		return &Error{Reason: ReasonStorage, Err: fmt.Errorf("record backup %s: %w", rec.ID, err)}
	}
	failpoint.Hit("catalog.commit")
	j.log.Info("backup stored", "backup_id", rec.ID, "export_id", rec.ExportID, "bytes", rec.SizeBytes, "stored_bytes", rec.StoredBytes)
	return nil
}

// removeStored deletes a committed backup and manifest that could not be
// recorded, so a failed job leaves no file behind.
func (j *job) removeStored(key string) {
	for _, t := range append(append([]storage.Target{}, j.e.Targets...), j.e.Archives...) {
		j.removeFrom(t, key)
	}
}

// removeFrom deletes a backup and its manifest from one target.
func (j *job) removeFrom(t storage.Target, key string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, k := range []string{storage.ManifestKey(key), key} {
		if err := t.Delete(ctx, k); err != nil {
			j.log.Error("remove backup copy", "target", t.Name(), "key", k, "error", err)
		}
	}
}

// writeManifests writes rec as the manifest beside the backup at key on
// every holder, so the catalog can be rebuilt from storage alone.
func writeManifests(ctx context.Context, holders []storage.Target, key string, rec catalog.Record) error {
	manifest, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return &Error{Reason: ReasonStorage, Err: fmt.Errorf("encode manifest: %w", err)}
	}
	manifest = append(manifest, '\n')
	mkey := storage.ManifestKey(key)
	for _, t := range holders {
		if err := writeObject(ctx, t, mkey, manifest); err != nil {
			return storageErr(t, "write manifest %s", mkey, err)
		}
		failpoint.Hit("manifest.write." + t.Name())
	}
	return nil
}

func writeObject(ctx context.Context, t storage.Target, key string, data []byte) error {
	w, err := t.Create(ctx, key)
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		return errors.Join(err, w.Abort())
	}
	if _, err := w.Commit(ctx); err != nil {
		return errors.Join(err, w.Abort())
	}
	return nil
}

func storageErr(t storage.Target, format, key string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return &Error{Reason: ReasonStorage, Err: fmt.Errorf("%s: "+format+": %w", t.Name(), key, err)}
}

// verifyOrSource classifies an error of the copy loop: errors already
// classified (source or sink) keep their reason; anything else came from
// decompressing the body, so the export file itself is bad.
func verifyOrSource(err error, format string, args ...any) error {
	var e *Error
	if errors.As(err, &e) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errRestart) {
		return err
	}
	return &Error{Reason: ReasonVerify, Err: fmt.Errorf(format+": %w", append(args, err)...)}
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// errorClass gives write errors of the storage side their reason, so the
// copy loop can tell a full disk from a broken download.
type errorClass struct {
	w      io.Writer
	reason string
	what   string
}

func (e *errorClass) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	if err != nil {
		err = &Error{Reason: e.reason, Err: fmt.Errorf("%s: %w", e.what, err)}
	}
	return n, err
}
