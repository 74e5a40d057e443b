// Package exporter runs one backup job: it requests a database export from
// the Vector API, polls it, downloads the dump before its presigned URL
// expires, checks and stores it, and records it in the catalog.
//
// The download is one streaming pass with constant memory:
//
//	body → (gunzip if it starts with 1f 8b) → tee(SHA-256, size, trailer check)
//	     → compressor → storage writers (.partial, fsync, rename)
//
// A connection cut mid-download resumes with a Range request at the byte it
// stopped on; an expired URL is replaced by a fresh status query, and when
// the export itself is gone, by one fresh export. Nothing reaches the catalog
// until every target has committed the complete, checked file and its
// manifest.
package exporter
