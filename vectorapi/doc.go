// Package vectorapi is the client for the Vector Pro API: database exports,
// import sessions, direct imports, platform backups and their downloads,
// the account's sites and environments, and the presigned S3 URLs those
// hand out.
//
// # Routes
//
// The API is reachable through two route sets, kept as data in one table
// (routes.go): RoutesDocumented, the paths of the product documentation
// (the default), and RoutesOpenAPI, the paths of the API's OpenAPI
// description. The OpenAPI set has no direct import and no environment
// routes; a call that needs either returns an error matching ErrUnsupported
// before anything is sent. Both sets serve the account routes at the same
// paths: the Backups API (/backups, /backups/{backup},
// /backups/{backup}/downloads[/{download}]), /sites and /environments.
// Answers are decoded tolerantly: both spellings of every field
// (export_id|id, import_id|id, expires_at|download_expires_at,
// error_message|message), numbers as JSON numbers, numeric strings or null,
// timestamps in RFC 3339 with any offset (returned in UTC).
//
// # Backups, sites and probing
//
// CreateBackup, Backup, CreateBackupDownload and BackupDownload drive a
// platform backup of a database (CONTRACT §9); ListBackups lists a
// database's platform backups, newest first. A backup's owner comes from
// the API's archivable_type and archivable_id. Sites lists every site with
// its environments. Lists are read page by page (per_page 100) following
// meta.last_page, links.next or meta.total, else until a short page.
// Probe tells, without spending a database operation, whether the token is
// accepted and which route set the API answers: it asks each set's
// export-status route for a made-up export, where the API's JSON envelope
// ("Site not found") means the route exists and a bare 404 that it does
// not.
//
// # Retries and budgets
//
// Every API request waits for the client's requests-per-minute limiter,
// shared by all calls of one Client. 5xx answers and network errors are
// retried with capped exponential backoff and full jitter; a 429 waits for
// Retry-After (seconds or an HTTP date), else X-RateLimit-Reset, else the
// backoff. Requests that start work at the API (StartExport, CreateImport,
// RunImport, ImportDirect, CreateBackup, CreateBackupDownload) are re-sent
// only when the failure proves the API did not act on them (the connection
// was never made, 429, 500, 503); when the answer may have been lost after
// the request reached the API the call returns an error matching
// ErrExportUncertain instead of starting a second export, import, backup or
// download. 401 and 403 fail at once.
//
// Database operations (StartExport, CreateImport, ImportDirect and
// CreateBackup) spend the account's hourly budget: a 429 to one is handed
// back at once (ErrRateLimited, with RetryAfter), each resend is announced
// to Options.BeforeRetry first, and their answers' X-RateLimit-Remaining
// reaches Options.RateLimit.
//
// # Presigned URLs
//
// Download, Upload and UploadParts talk to presigned S3 URLs: no
// Authorization header, no API rate budget, and the URL's query string (its
// signature) never appears in an error or a log line: RedactURL reduces a
// URL to scheme://host/path.
//
// # Multipart imports
//
// Under RoutesOpenAPI an import session for a dump over about 100 MB asks
// for a multipart upload (ImportSession.Multipart): UploadParts PUTs the
// dump part by part to the session's part URLs and collects each part's
// ETag, and RunImport, given those parts, sends them as the Run Import
// request's {"parts":[{"part_number":N,"etag":"…"}]}, from which the API
// completes the upload before it starts the import, as its OpenAPI
// description says.
package vectorapi
