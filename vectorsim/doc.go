// Package vectorsim is a model of the Vector Pro API for tests and demos: an
// http.Handler that serves both route sets of the database export and import
// API (the documented one under /sites/{site}/database/... and the OpenAPI
// one under /sites/{site}/db/... and /sites/{site}/imports), signs S3-style
// presigned URLs for downloads and uploads and serves them itself, streams
// generated mysqldump text of any size, enforces the API's rate limits, and
// misbehaves on request (see Faults).
//
// Mount it at the root of a server; httptest.NewServer(vectorsim.New(opts))
// just works. The API lives under /api/v1/vector and the storage objects
// under /s3/<bucket>/; presigned URLs point at the host the API request came
// in on (scheme https when the request arrived over TLS).
//
// # Lifecycle of an export
//
// The POST answers status "pending". Then, with Options.ProcessingTime 0
// (the default), the first status query answers "processing" and the second
// and later ones "completed" (or "failed"); with ProcessingTime > 0 status
// queries answer "processing" until ProcessingTime has passed since the
// request and "completed" after. Nothing happens between queries: the
// export completes (the Backend is asked for the dump) during the status
// query that first observes it complete. Each status query of a completed
// export mints a fresh download URL valid for Options.URLTTL; once
// Options.ArtifactTTL has passed since completion the status stays
// "completed" with download_url null, and the object itself answers 404
// NoSuchKey. Imports follow the same rule, counted from the run request.
//
// Every API answer is the envelope {"data":…,"message":…,"http_status":N}
// (with "errors" on 422) and carries X-RateLimit-Limit, -Remaining and
// -Reset: export and import-session requests report the database-operation
// budget (Options.DBOpsPerHour), all other requests the per-minute limit
// (Options.RequestsPerMinute). An unlimited limiter reports a limit of
// 1000000. The proxy pages of Faults.ServerErrors carry no such headers.
package vectorsim
