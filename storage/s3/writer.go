package s3

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/minio/crc64nvme"
	"github.com/minio/minio-go/v7"

	"github.com/builtfast/vectord/storage"
)

var (
	errFinished = errors.New("writer already committed or aborted")
	errAborted  = errors.New("upload aborted")
)

// writer streams one object into a multipart upload; see the package
// documentation.
type writer struct {
	t      *Target
	key    string
	object string // t.prefix + key

	pw      *io.PipeWriter
	cancel  context.CancelFunc // ends the upload's context
	done    chan uploadResult  // receives the upload's outcome, once
	tracker *uploadTracker

	// What was written, hashed as it streamed.
	n        int64
	crc      hash.Hash64 // CRC-64/NVME of the whole object
	partMD5  hash.Hash   // MD5 of the part being written
	partFill int64       // bytes of the part being written
	partSums []byte      // MD5s of the parts written in full

	finished     bool          // Commit or Abort was called
	committed    bool          // Commit succeeded
	result       *uploadResult // the upload's outcome, once received
	leftover     bool          // a completed object must still be removed
	abortedAgain bool          // cleanup aborted the failed upload
	// notOurs: the check after completion found under the key an object
	// that may not be the upload (412 to a HEAD naming the upload's ETag),
	// so that a failed Commit must not remove it: it may be another
	// writer's.
	notOurs bool
}

type uploadResult struct {
	info minio.UploadInfo
	err  error
}

func newWriter(ctx context.Context, t *Target, key string) *writer {
	tracker := &uploadTracker{}
	ctx, cancel := context.WithCancel(context.WithValue(ctx, trackerKey{}, tracker))
	pr, pw := io.Pipe()
	w := &writer{
		t:       t,
		key:     key,
		object:  t.prefix + key,
		pw:      pw,
		cancel:  cancel,
		done:    make(chan uploadResult, 1),
		tracker: tracker,
		crc:     crc64nvme.New(),
		partMD5: md5.New(),
	}
	// A Write blocked on the pipe, and every later one, fails once ctx
	// ends or the upload does; PutObject then reads an error and aborts.
	context.AfterFunc(ctx, func() { pr.CloseWithError(ctx.Err()) })
	go func() {
		info, err := t.client.PutObject(ctx, t.bucket, w.object, pr, -1, t.put)
		pr.CloseWithError(cmpOr(err, errFinished))
		w.done <- uploadResult{info: info, err: err}
	}()
	return w
}

// Write sends p into the upload, blocking while both part buffers are
// being sent. An upload that failed, or whose Create context ended, fails
// every later Write.
func (w *writer) Write(p []byte) (int, error) {
	if w.finished {
		return 0, fmt.Errorf("s3: write %s: %w", w.key, errFinished)
	}
	n, err := w.pw.Write(p)
	w.hash(p[:n])
	if err != nil {
		return n, fmt.Errorf("s3: write %s: upload: %w", w.key, describe(err))
	}
	return n, nil
}

// hash adds p to the checksums, cutting it at the part boundaries the
// upload cuts at.
func (w *writer) hash(p []byte) {
	w.n += int64(len(p))
	w.crc.Write(p)
	for len(p) > 0 {
		k := min(int64(len(p)), w.t.partSize-w.partFill)
		w.partMD5.Write(p[:k])
		w.partFill += k
		p = p[k:]
		if w.partFill == w.t.partSize {
			w.partSums = w.partMD5.Sum(w.partSums)
			w.partMD5.Reset()
			w.partFill = 0
		}
	}
}

// Commit completes the upload and checks the stored object. On failure
// the upload is aborted, or the completed object removed.
func (w *writer) Commit(ctx context.Context) (storage.Info, error) {
	if w.finished {
		return storage.Info{}, fmt.Errorf("s3: commit %s: %w", w.key, errFinished)
	}
	w.finished = true
	info, err := w.commit(ctx)
	if err != nil {
		if cerr := w.cleanup(ctx); cerr != nil {
			// Abort retries the clean-up; the caller learns that something
			// is left until then.
			return storage.Info{}, fmt.Errorf("s3: commit %s: %w; and clean-up failed (Abort retries it): %w", w.key, err, cerr)
		}
		return storage.Info{}, fmt.Errorf("s3: commit %s: %w", w.key, err)
	}
	w.committed = true
	w.cancel()
	return info, nil
}

func (w *writer) commit(ctx context.Context) (storage.Info, error) {
	if err := ctx.Err(); err != nil {
		return storage.Info{}, err
	}
	w.pw.Close() // the upload reads EOF and completes
	select {
	case res := <-w.done:
		w.result = &res
	case <-ctx.Done():
		return storage.Info{}, ctx.Err()
	}
	if err := w.result.err; err != nil {
		return storage.Info{}, fmt.Errorf("upload: %w", describe(err))
	}
	info, err := w.verify(ctx, w.result.info)
	if err != nil {
		w.leftover = !w.notOurs
		return storage.Info{}, err
	}
	return info, nil
}

// verify checks the completed upload against what was written: first the
// completion's answer (the server's checksum of exactly this upload, if it
// gives one), then the stored object, by a HEAD request naming the
// upload's ETag. The completion's answer alone never makes the upload
// stored: a 404 fails, and a 412 is examined further (verifyReplaced).
func (w *writer) verify(ctx context.Context, up minio.UploadInfo) (storage.Info, error) {
	if err := w.compare(-1, up.ChecksumCRC64NVME, up.ETag); err != nil {
		return storage.Info{}, fmt.Errorf("check completed upload: %w", err)
	}
	opts := minio.StatObjectOptions{Checksum: true}
	if up.ETag != "" {
		opts.SetMatchETag(up.ETag)
	}
	for attempt := 1; ; attempt++ {
		oi, err := w.t.client.StatObject(ctx, w.t.bucket, w.object, opts)
		switch {
		case isNotExist(err):
			// The completion's answer is no proof: the object may never
			// have landed, or be gone already.
			return storage.Info{}, fmt.Errorf("check uploaded object: the server finds no object under the key after completing the upload: %w", describe(err))
		case up.ETag != "" && isPreconditionFailed(err):
			return w.verifyReplaced(ctx, up)
		case err != nil:
			return storage.Info{}, fmt.Errorf("check uploaded object: %w", describe(err))
		}
		err = w.compare(oi.Size, oi.ChecksumCRC64NVME, oi.ETag)
		if err == nil {
			return storage.Info{Key: w.key, Size: oi.Size, ModTime: oi.LastModified}, nil
		}
		if attempt == 2 {
			return storage.Info{}, fmt.Errorf("check uploaded object: %w", err)
		}
		// A server may answer a HEAD request racing with another writer's
		// replacing the object with parts of both: ask again.
	}
}

// verifyReplaced handles a 412 to the HEAD request naming the upload's
// ETag: the object under the key is not, by its ETag, the upload that
// completed. A plain HEAD request must then find an object, and
//
//   - if it holds exactly the bytes written (by checksum or multipart ETag:
//     a server spelling the ETag of HEAD answers otherwise than the
//     completion's), it is the upload;
//   - else if the completion's answer carried the server's checksum of the
//     whole upload (which verify found to match), the upload was stored
//     and another writer has replaced it since: Commit succeeds, as the
//     first of two writers of one key does (the last one wins);
//   - else nothing proves that the upload was ever stored: Commit fails.
//
// An object found that is not the upload is left in place: it may be
// another writer's.
func (w *writer) verifyReplaced(ctx context.Context, up minio.UploadInfo) (storage.Info, error) {
	w.notOurs = true
	oi, err := w.t.client.StatObject(ctx, w.t.bucket, w.object, minio.StatObjectOptions{Checksum: true})
	switch {
	case isNotExist(err):
		w.notOurs = false
		return storage.Info{}, fmt.Errorf("check uploaded object: the server finds no object under the key after completing the upload: %w", describe(err))
	case err != nil:
		return storage.Info{}, fmt.Errorf("check uploaded object: the object under the key does not have the upload's ETag %s, and it cannot be examined: %w", up.ETag, describe(err))
	case w.holds(oi, up.ETag):
		w.notOurs = false
		return storage.Info{Key: w.key, Size: oi.Size, ModTime: oi.LastModified}, nil
	case up.ChecksumCRC64NVME != "":
		return storage.Info{Key: w.key, Size: w.n, ModTime: time.Now()}, nil
	}
	return storage.Info{}, fmt.Errorf("check uploaded object: the object under the key (%d bytes, ETag %s) is not the upload that completed (%d bytes, ETag %s), and the server gave no checksum proving that the upload was stored: the upload may not have landed; the object found is left in place",
		oi.Size, oi.ETag, w.n, up.ETag)
}

// holds reports whether the server's description of an object proves that
// it holds the bytes written: their size and their CRC-64/NVME checksum,
// else their multipart ETag, else the upload's ETag (up to quotes and
// case).
func (w *writer) holds(oi minio.ObjectInfo, uploadETag string) bool {
	if oi.Size != w.n {
		return false
	}
	if oi.ChecksumCRC64NVME != "" {
		return w.compare(-1, oi.ChecksumCRC64NVME, "") == nil
	}
	etag := strings.Trim(oi.ETag, `"`)
	if multipartETag.MatchString(etag) {
		return strings.EqualFold(etag, w.multipartETag())
	}
	return etag != "" && strings.EqualFold(etag, strings.Trim(uploadETag, `"`))
}

// compare checks what the server says of an object against what was
// written: its size (unless negative), then its CRC-64/NVME checksum if
// given, else its ETag if it has the multipart form.
func (w *writer) compare(size int64, crc64nvme, etag string) error {
	if size >= 0 && size != w.n {
		return fmt.Errorf("it holds %d bytes, %d were written", size, w.n)
	}
	if crc64nvme != "" {
		var sum [8]byte
		binary.BigEndian.PutUint64(sum[:], w.crc.Sum64())
		if want := base64.StdEncoding.EncodeToString(sum[:]); crc64nvme != want {
			return fmt.Errorf("its CRC-64/NVME checksum is %s, the bytes written have %s", crc64nvme, want)
		}
		return nil
	}
	if etag = strings.Trim(etag, `"`); multipartETag.MatchString(etag) {
		if want := w.multipartETag(); !strings.EqualFold(etag, want) {
			return fmt.Errorf("its ETag is %s, the bytes written give %s", etag, want)
		}
	}
	return nil
}

// multipartETag matches the ETag S3 gives an object uploaded in parts:
// the hex MD5 of the parts' MD5s, "-", the number of parts.
var multipartETag = regexp.MustCompile(`^[0-9a-fA-F]{32}-[1-9][0-9]*$`)

// multipartETag returns the ETag S3 gives the object written, uploaded in
// parts of the Target's part size (the last one shorter, one empty part
// for an empty object).
func (w *writer) multipartETag() string {
	sums := w.partSums
	if w.partFill > 0 || len(sums) == 0 {
		sums = w.partMD5.Sum(sums[:len(sums):len(sums)])
	}
	all := md5.Sum(sums)
	return fmt.Sprintf("%s-%d", hex.EncodeToString(all[:]), len(sums)/md5.Size)
}

// Abort stops the upload and removes whatever it left. It is a no-op after
// a successful Commit and after an Abort that removed everything.
func (w *writer) Abort() error {
	if w.committed {
		return nil
	}
	w.finished = true
	if err := w.cleanup(context.Background()); err != nil {
		return fmt.Errorf("s3: abort %s: %w", w.key, err)
	}
	return nil
}

// cleanup ends the upload if it still runs, then removes what it left: a
// pending multipart upload (which PutObject aborts itself on failure; this
// repeats it) or a completed object that Commit refused. It runs even when
// ctx has ended, for at most cleanupTimeout.
func (w *writer) cleanup(ctx context.Context) error {
	if w.result == nil {
		w.pw.CloseWithError(errAborted)
		w.cancel()
		res := <-w.done
		w.result = &res
		if res.err == nil {
			w.leftover = true // completed before it could be stopped
		}
	}
	w.cancel()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if w.leftover {
		if err := w.t.remove(ctx, w.object); err != nil {
			return fmt.Errorf("remove uploaded object: %w", err)
		}
		w.leftover = false
	}
	if id := w.tracker.id(); id != "" && w.result.err != nil && !w.abortedAgain {
		// Abort again even if PutObject's abort succeeded: a part still in
		// flight when it ran may have been stored after it (S3 allows
		// that), bringing the upload back. A part stored later still is
		// left to AbortIncomplete.
		err := w.t.core.AbortMultipartUpload(ctx, w.t.bucket, w.object, id)
		if err != nil && !isNoSuchUpload(err) {
			return fmt.Errorf("abort multipart upload: %w", describe(err))
		}
		w.abortedAgain = true
	}
	return nil
}

// uploadTracker learns the upload's id from the requests minio-go sends
// for it, so that the upload can be aborted again: PutObject returns
// neither the id nor whether its own abort succeeded.
type uploadTracker struct {
	mu       sync.Mutex
	uploadID string
}

type trackerKey struct{}

// id returns the upload's id, "" if no request named one.
func (u *uploadTracker) id() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.uploadID
}

// observe notes a request of the upload.
func (u *uploadTracker) observe(req *http.Request) {
	if id := req.URL.Query().Get("uploadId"); id != "" {
		u.mu.Lock()
		u.uploadID = id
		u.mu.Unlock()
	}
}

// trackingTransport shows the requests made under a context carrying an
// uploadTracker to it.
type trackingTransport struct {
	base http.RoundTripper
}

func (t *trackingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if u, ok := req.Context().Value(trackerKey{}).(*uploadTracker); ok {
		u.observe(req)
	}
	return t.base.RoundTrip(req)
}

func cmpOr(err, fallback error) error {
	if err != nil {
		return err
	}
	return fallback
}
