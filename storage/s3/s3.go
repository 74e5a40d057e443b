// Package s3 is a storage.Target on a bucket of an S3-compatible object
// store: AWS S3, Backblaze B2, Wasabi, Cloudflare R2, Ceph RGW, SeaweedFS,
// Garage, versitygw.
//
// An object is stored under Options.Prefix + key (CONTRACT §4: the same
// relative keys as on local storage, the manifest beside its backup).
//
// # Writing
//
// Create streams an object of unknown length: the Writer feeds an io.Pipe
// that minio-go's PutObject (with size -1) reads in a goroutine, cutting it
// into parts of Options.PartSize bytes and sending each as one part of a
// multipart upload to the object's final key. The upload is completed only
// when Commit closes the pipe, so nothing is visible under the key before
// Commit; a failed or aborted write aborts the multipart upload, leaving no
// object and no pending upload. minio-go is used because it streams such
// uploads to every server tried, versitygw included, with per-part
// signatures; aws-sdk-go-v2's unsigned streaming upload was refused by
// versitygw.
//
// Memory is bounded whatever the object's size: an upload holds two parts
// (32 MiB at the default part size of 16 MiB), filled one after the other
// and sent in parallel, so that writing goes on while a part is sent. The
// largest object is 10,000 parts (156 GiB at the default part size).
//
// # Checking what was stored
//
// Commit checks the completed upload before reporting success, against
// checksums the Writer computed as the bytes streamed through it:
//
//   - the completion's answer, when it carries the server's full-object
//     CRC-64/NVME checksum of the upload (AWS S3 and versitygw compute one
//     for every object), must match;
//   - then a HEAD request naming the upload's ETag (If-Match) must find an
//     object of the size written whose CRC-64/NVME checksum matches or,
//     when the server reports none, whose ETag, if it has the usual
//     multipart form (hex MD5 of the parts' MD5s, "-", part count),
//     matches. A server reporting neither (an opaque ETag and no checksum)
//     gets the size check only. If the HEAD request finds no object
//     (404), Commit fails: the completion's answer does not prove that
//     the object landed. If the object has another ETag (412), a plain
//     HEAD request must find an object: Commit succeeds if that object
//     holds the bytes written (checksum or multipart ETag), or if the
//     completion's answer carried the server's checksum of the upload, so
//     that the upload is known to have been stored before another writer
//     replaced it; otherwise it fails and leaves the object found in
//     place, since it may be another writer's.
//
// A failed check removes the object (unless it may be another writer's,
// as above) and fails Commit. In transit a part is protected by a signed
// SHA-256 of its content over plain HTTP (streaming signature) and by TLS
// over HTTPS; the check after completion catches what goes wrong elsewhere
// (a part missing, lost or assembled wrongly, a stream cut short). No
// SHA-256 of the stored bytes is kept as object metadata: a streamed upload
// cannot carry a value known only at its end, and adding it afterwards
// would take a server-side copy of every object. (The catalog's SHA-256,
// of the plain SQL, is checked by "vectord verify".)
//
// A process that dies during an upload leaves a pending multipart upload,
// invisible to List and Open but billed by most providers: AbortIncomplete
// removes those older than a given time, and a bucket lifecycle rule
// (AbortIncompleteMultipartUpload) is a good idea in any case.
//
// Errors are prefixed "s3: " and never contain the secret key; credentials
// the server refuses are reported as such.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/encrypt"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/builtfast/vectord/storage"
)

// DefaultPartSize is the part size used when Options.PartSize is zero.
const DefaultPartSize = 16 << 20

// Limits of Options.PartSize set by S3.
const (
	MinPartSize = 5 << 20
	MaxPartSize = 5 << 30
)

// uploadBuffers is the number of parts an upload holds in memory. Against
// versitygw on loopback, streaming 256 MiB: one part sent at a time, 226
// MB/s and 32 MiB peak heap; two buffers sent in parallel, 310 MB/s and 55
// MiB (with the default part size).
const uploadBuffers = 2

// cleanupTimeout bounds the requests that remove what a failed write left
// (an uploaded object, a pending multipart upload), which run even when
// the caller's context has ended.
const cleanupTimeout = time.Minute

// Options configure a Target (CONTRACT §3, storage.s3).
type Options struct {
	// Endpoint is the server's base URL, "https://host[:port]" or
	// "http://host[:port]", without a path.
	Endpoint string

	// Region is the bucket's region, e.g. "us-east-1". Empty lets the
	// client ask the server once.
	Region string

	// Bucket is the bucket's name.
	Bucket string

	// Prefix is prepended to every key, e.g. "vectord/". A "/" is appended
	// if missing; empty stores at the top of the bucket.
	Prefix string

	// AccessKeyID and SecretAccessKey are the credentials.
	AccessKeyID     string
	SecretAccessKey string

	// StorageClass is sent with every upload, e.g. "STANDARD_IA"; empty
	// leaves it to the bucket's default.
	StorageClass string

	// ForcePathStyle addresses the bucket as https://host/bucket/key, as
	// most self-hosted servers need. Otherwise the client picks: virtual
	// hosted style (https://bucket.host/key) for AWS and other servers
	// known to support it, path style for the rest.
	ForcePathStyle bool

	// SSE selects server-side encryption of uploaded objects: "" (the
	// bucket's default) or "s3" (SSE-S3, keys managed by the server).
	SSE string

	// PartSize is the size of an upload's parts, between MinPartSize and
	// MaxPartSize; zero means DefaultPartSize. Each upload in progress
	// holds two parts in memory.
	PartSize int64

	// Transport carries the HTTP requests; nil means a default transport.
	Transport http.RoundTripper
}

// Target stores objects in an S3 bucket under a prefix. It is safe for
// concurrent use.
type Target struct {
	client   *minio.Client
	core     minio.Core
	bucket   string
	prefix   string // "" or ends with "/"
	put      minio.PutObjectOptions
	partSize int64
}

var _ storage.Target = (*Target)(nil)

// New returns a Target for opts. It checks the options but sends no
// request: Check tells whether the bucket can be reached.
func New(opts Options) (*Target, error) {
	u, err := parseEndpoint(opts.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("s3: endpoint: %w", err)
	}
	if opts.Bucket == "" {
		return nil, errors.New("s3: bucket not set")
	}
	if err := s3utils.CheckValidBucketNameStrict(opts.Bucket); err != nil {
		return nil, fmt.Errorf("s3: bucket %q: %w", opts.Bucket, err)
	}
	if opts.AccessKeyID == "" || opts.SecretAccessKey == "" {
		return nil, errors.New("s3: access key id and secret access key must both be set")
	}
	prefix, err := normalizePrefix(opts.Prefix)
	if err != nil {
		return nil, fmt.Errorf("s3: prefix %q: %w", opts.Prefix, err)
	}
	partSize := opts.PartSize
	if partSize == 0 {
		partSize = DefaultPartSize
	}
	if partSize < MinPartSize || partSize > MaxPartSize {
		return nil, fmt.Errorf("s3: part size %d out of range [%d, %d]", partSize, MinPartSize, MaxPartSize)
	}
	put := minio.PutObjectOptions{
		StorageClass: opts.StorageClass,
		PartSize:     uint64(partSize),
		// Parts are read one after the other into uploadBuffers buffers
		// and sent in parallel, so the writer goes on while a part is sent.
		NumThreads:            uploadBuffers,
		ConcurrentStreamParts: true,
	}
	switch opts.SSE {
	case "":
	case "s3":
		put.ServerSideEncryption = encrypt.NewSSE()
	default:
		return nil, fmt.Errorf("s3: server-side encryption %q not supported (use \"s3\" or nothing)", opts.SSE)
	}

	secure := u.Scheme == "https"
	transport := opts.Transport
	if transport == nil {
		tr, err := minio.DefaultTransport(secure)
		if err != nil {
			return nil, fmt.Errorf("s3: transport: %w", err)
		}
		transport = tr
	}
	lookup := minio.BucketLookupAuto
	if opts.ForcePathStyle {
		lookup = minio.BucketLookupPath
	}
	client, err := minio.New(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(opts.AccessKeyID, opts.SecretAccessKey, ""),
		Secure:       secure,
		Region:       opts.Region,
		BucketLookup: lookup,
		Transport:    &trackingTransport{base: transport},
	})
	if err != nil {
		return nil, fmt.Errorf("s3: client for %s: %w", u.Host, err)
	}
	client.SetAppInfo("vectord", "")
	// Talk to the endpoint configured, not to its dual-stack twin.
	client.SetS3EnableDualstack(false)
	return &Target{
		client:   client,
		core:     minio.Core{Client: client},
		bucket:   opts.Bucket,
		prefix:   prefix,
		put:      put,
		partSize: partSize,
	}, nil
}

// parseEndpoint accepts "http(s)://host[:port][/]" and nothing else.
func parseEndpoint(endpoint string) (*url.URL, error) {
	if endpoint == "" {
		return nil, errors.New("not set")
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		// url's errors quote the input, which may hold credentials.
		return nil, errors.New("not a URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, errors.New("want an http:// or https:// URL")
	case u.User != nil:
		return nil, errors.New("must not contain credentials; set access_key_id and secret_access_key")
	case u.Host == "" || u.Hostname() == "":
		return nil, errors.New("no host")
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
		return nil, fmt.Errorf("%s://%s: want no path, query or fragment", u.Scheme, u.Host)
	}
	return u, nil
}

// normalizePrefix returns prefix ending with "/", or "".
func normalizePrefix(prefix string) (string, error) {
	if prefix == "" {
		return "", nil
	}
	if !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	if err := storage.ValidatePrefix(prefix); err != nil {
		return "", err
	}
	return prefix, nil
}

// Name returns "s3".
func (t *Target) Name() string { return "s3" }

// URI returns "s3://<bucket>/<prefix><key>".
func (t *Target) URI(key string) string { return "s3://" + t.bucket + "/" + t.prefix + key }

// Check lists (at most one object) under the Target's prefix, so that a
// wrong endpoint, bucket, credentials or permissions show at start-up
// rather than at the first backup.
func (t *Target) Check(ctx context.Context) error {
	opts := minio.ListObjectsOptions{Prefix: t.prefix, MaxKeys: 1}
	for oi := range t.client.ListObjectsIter(ctx, t.bucket, opts) {
		if oi.Err != nil {
			return fmt.Errorf("s3: check s3://%s/%s: %w", t.bucket, t.prefix, describe(oi.Err))
		}
		break
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3: check s3://%s/%s: %w", t.bucket, t.prefix, err)
	}
	return nil
}

// Create starts a multipart upload of the object under key; see the
// package documentation. The upload runs under ctx: once ctx ends, Write
// and Commit fail and the upload is aborted.
func (t *Target) Create(ctx context.Context, key string) (storage.Writer, error) {
	if err := check(ctx, key); err != nil {
		return nil, fmt.Errorf("s3: create %s: %w", key, err)
	}
	return newWriter(ctx, t, key), nil
}

// Open returns the object's content. The error matches storage.ErrNotExist
// if no object is stored under key. Reading fails once ctx ends.
func (t *Target) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := check(ctx, key); err != nil {
		return nil, fmt.Errorf("s3: open %s: %w", key, err)
	}
	body, _, _, err := t.core.GetObject(ctx, t.bucket, t.prefix+key, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("s3: open %s: %w", key, describe(err))
	}
	return body, nil
}

// Stat describes the object. The error matches storage.ErrNotExist if no
// object is stored under key.
func (t *Target) Stat(ctx context.Context, key string) (storage.Info, error) {
	if err := check(ctx, key); err != nil {
		return storage.Info{}, fmt.Errorf("s3: stat %s: %w", key, err)
	}
	oi, err := t.client.StatObject(ctx, t.bucket, t.prefix+key, minio.StatObjectOptions{})
	if err != nil {
		return storage.Info{}, fmt.Errorf("s3: stat %s: %w", key, describe(err))
	}
	return storage.Info{Key: key, Size: oi.Size, ModTime: oi.LastModified}, nil
}

// Delete removes the object under key. A missing object is not an error.
func (t *Target) Delete(ctx context.Context, key string) error {
	if err := check(ctx, key); err != nil {
		return fmt.Errorf("s3: delete %s: %w", key, err)
	}
	if err := t.remove(ctx, t.prefix+key); err != nil {
		return fmt.Errorf("s3: delete %s: %w", key, err)
	}
	return nil
}

// remove deletes an object by its full name; a missing one is no error.
func (t *Target) remove(ctx context.Context, object string) error {
	err := t.client.RemoveObject(ctx, t.bucket, object, minio.RemoveObjectOptions{})
	if err != nil && !isNotExist(err) {
		return describe(err)
	}
	return nil
}

// List returns the objects whose keys start with prefix, sorted by key,
// with keys relative to the Target's prefix. Pending uploads are never
// listed, nor objects whose names are not valid keys (directory markers
// such as "a/", names ending with ".partial").
func (t *Target) List(ctx context.Context, prefix string) ([]storage.Info, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("s3: list %s: %w", prefix, err)
	}
	if err := storage.ValidatePrefix(prefix); err != nil {
		return nil, fmt.Errorf("s3: list: %w", err)
	}
	infos := []storage.Info{}
	opts := minio.ListObjectsOptions{Prefix: t.prefix + prefix, Recursive: true}
	for oi := range t.client.ListObjectsIter(ctx, t.bucket, opts) {
		if oi.Err != nil {
			return nil, fmt.Errorf("s3: list %s: %w", prefix, describe(oi.Err))
		}
		key, ok := strings.CutPrefix(oi.Key, t.prefix)
		if !ok || !strings.HasPrefix(key, prefix) || storage.ValidateKey(key) != nil {
			continue
		}
		infos = append(infos, storage.Info{Key: key, Size: oi.Size, ModTime: oi.LastModified})
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("s3: list %s: %w", prefix, err)
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Key < infos[j].Key })
	return infos, nil
}

// AbortIncomplete aborts the pending multipart uploads under the Target's
// prefix that were started before before, and returns their keys. Run at
// start-up with a time well before any live upload began (say an hour
// ago), it removes what uploads interrupted by a crash left; a live
// upload it aborts fails at Commit. It goes on after an error and returns
// all of them joined.
func (t *Target) AbortIncomplete(ctx context.Context, before time.Time) (aborted []string, err error) {
	var errs []error
	keyMarker, idMarker := "", ""
	for {
		res, err := t.core.ListMultipartUploads(ctx, t.bucket, t.prefix, keyMarker, idMarker, "", 1000)
		if err != nil {
			errs = append(errs, describe(err))
			break
		}
		for _, up := range res.Uploads {
			key, ok := strings.CutPrefix(up.Key, t.prefix)
			if !ok || !up.Initiated.Before(before) {
				continue
			}
			if err := t.core.AbortMultipartUpload(ctx, t.bucket, up.Key, up.UploadID); err != nil && !isNoSuchUpload(err) {
				errs = append(errs, fmt.Errorf("abort upload of %s: %w", key, describe(err)))
				continue
			}
			aborted = append(aborted, key)
		}
		if !res.IsTruncated || (res.NextKeyMarker == keyMarker && res.NextUploadIDMarker == idMarker) {
			break
		}
		keyMarker, idMarker = res.NextKeyMarker, res.NextUploadIDMarker
	}
	if err := errors.Join(errs...); err != nil {
		return aborted, fmt.Errorf("s3: abort incomplete uploads under s3://%s/%s: %w", t.bucket, t.prefix, err)
	}
	return aborted, nil
}

func check(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return storage.ValidateKey(key)
}

// describe makes an error of the client say what the server meant: a
// missing object matches storage.ErrNotExist, refused credentials say so.
func describe(err error) error {
	var er minio.ErrorResponse
	if !errors.As(err, &er) {
		return err
	}
	switch er.Code {
	case minio.NoSuchKey, "NotFound":
		return fmt.Errorf("%w: %w", storage.ErrNotExist, err)
	case "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken",
		"XAdminUserNotFound": // versitygw's answer to an unknown access key
		return fmt.Errorf("credentials refused (check the access key id and secret access key): %s: %w", er.Code, err)
	case "AccessDenied":
		return fmt.Errorf("access denied (check the credentials and their permissions on the bucket): %w", err)
	case "NoSuchBucket":
		return fmt.Errorf("no such bucket: %w", err)
	}
	switch {
	case er.Code != "":
		return fmt.Errorf("%s: %w", er.Code, err)
	case er.StatusCode != 0:
		return fmt.Errorf("HTTP %d: %w", er.StatusCode, err)
	}
	return err
}

// isNotExist reports whether err says that no object is stored under the
// key (minio-go names a HEAD request's bodiless 404 NoSuchKey).
func isNotExist(err error) bool {
	var er minio.ErrorResponse
	return errors.As(err, &er) && (er.Code == minio.NoSuchKey || er.Code == "NotFound")
}

func isNoSuchUpload(err error) bool {
	var er minio.ErrorResponse
	return errors.As(err, &er) && er.Code == "NoSuchUpload"
}

func isPreconditionFailed(err error) bool {
	var er minio.ErrorResponse
	return errors.As(err, &er) && (er.Code == "PreconditionFailed" || er.StatusCode == http.StatusPreconditionFailed)
}
