// Package vectorsim is a model of the Vector Pro API for tests and demos: an
// http.Handler that serves both route sets of the database export and import
// API (the documented one under /sites/{site}/database/... and the OpenAPI
// one under /sites/{site}/db/... and /sites/{site}/imports), the routes both
// sets share (/sites, /sites/{site}, /environments, /environments/{env},
// and the Backups API under /backups), signs S3-style presigned URLs for
// downloads and uploads and serves them itself, streams generated mysqldump
// text of any size, enforces the API's rate limits, and misbehaves on
// request (see Faults).
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
// # Backups
//
// POST /backups ({"environment_id"} or {"site_id"} for a development
// database, "type", "scope", "description") answers 202 with a "pending"
// backup and spends a database operation unless the scope is "files". GET
// /backups/{backup} moves it along as status queries move exports, to
// "completed" or, under Faults.FailBackup, "failed" (with an error_message
// the OpenAPI's Backup does not show). POST /backups/{backup}/downloads of a
// completed backup (else 422) answers a "pending" download, which GET
// /backups/{backup}/downloads/{download} moves along the same way; the
// query that completes it builds its .tar.gz archive once into a temporary
// file under Options.TempDir (streamed: memory does not grow with the dump),
// and every query of a completed download mints a fresh presigned URL of
// it, with download_expires_at, until Options.ArtifactTTL after completion.
// The archive holds the database dump as database/db_<environment id>.sql
// (db_<site id> for a development database) and, for scope full, files
// around it; see Faults for archives with a gzipped, a second or no dump.
// GET /backups lists backups newest first, filtered by type, site_id and
// environment_id; the platform's own scheduled backups appear there under
// Options.PlatformBackupEvery or Server.AddPlatformBackup.
//
// Lists (/sites, /environments, /backups) are Laravel paginated resources:
// data, links {first, last, prev, next}, meta {current_page, from,
// last_page, links, path, per_page, to, total}; per_page defaults to 15 and
// may not exceed 100 (422). As with Laravel's paginator by default, the URLs
// in links carry page=N only, not the request's filters or per_page.
//
// Every API answer is the envelope {"data":…,"message":…,"http_status":N}
// (with "errors" on 422) and carries X-RateLimit-Limit, -Remaining and
// -Reset: export, import-session and backup requests report the
// database-operation budget (Options.DBOpsPerHour), all other requests the
// per-minute limit (Options.RequestsPerMinute). An unlimited limiter reports
// a limit of 1000000. The proxy pages of Faults.ServerErrors carry no such
// headers.
package vectorsim
