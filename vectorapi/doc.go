// Package vectorapi is the client for the Vector Pro API: database exports,
// import sessions, direct imports, and the presigned S3 URLs those hand out.
//
// # Routes
//
// The API is reachable through two route sets, kept as data in one table
// (routes.go): RoutesDocumented, the paths of the product documentation
// (the default), and RoutesOpenAPI, the paths of the API's OpenAPI
// description. The OpenAPI set has no direct import and no environment
// routes; a call that needs either returns an error matching ErrUnsupported
// before anything is sent. Answers are decoded tolerantly: both spellings of
// every field (export_id|id, import_id|id, expires_at|download_expires_at,
// error_message|message), numbers as JSON numbers, numeric strings or null,
// timestamps in RFC 3339 with any offset (returned in UTC).
//
// # Retries and budgets
//
// Every API request waits for the client's requests-per-minute limiter,
// shared by all calls of one Client. 5xx answers and network errors are
// retried with capped exponential backoff and full jitter; a 429 waits for
// Retry-After (seconds or an HTTP date), else X-RateLimit-Reset, else the
// backoff. Requests that start work at the API (StartExport, CreateImport,
// RunImport, ImportDirect) are re-sent only when the failure proves the API
// did not act on them (the connection was never made, 429, 500, 503); when
// the answer may have been lost after the request reached the API the call
// returns an error matching ErrExportUncertain instead of starting a second
// export or import. 401 and 403 fail at once.
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
