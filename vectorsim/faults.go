package vectorsim

// Faults makes a site's API and storage misbehave. Counters count down as
// the faults are served; every field may be changed at any time with
// Server.SetFaults. On the routes without a {site} (backups, environments)
// a site's faults apply through the site the request names: the site of
// the backup, download or environment in the path, or the site_id or
// environment_id of a backups list or create request.
type Faults struct {
	// FailExport makes exports end "failed" with this error_message, at the
	// moment they would have completed.
	FailExport string
	// StuckProcessing keeps exports, backups and backup downloads
	// "processing" while it is set.
	StuckProcessing bool
	// ServerErrors makes the next N API requests answer 5xx, in the cycle:
	// 500 with a JSON envelope, 502 with an HTML proxy page, 500 JSON, 503
	// HTML. Nothing behind the answer happens (no budget is spent).
	ServerErrors int
	// RateLimited makes the next N API requests (after authentication)
	// answer 429 with Retry-After: 1 and X-RateLimit-Reset.
	RateLimited int
	// ExpiredURLs mints the next N download URLs (of exports and backup
	// downloads) already expired, as if storage's clock ran ahead of the
	// API's: the status answer's expires_at looks valid, the URL answers 403
	// AccessDenied "Request has expired".
	ExpiredURLs int
	// CutAfter and CutTimes cut the next CutTimes downloads (of exports or
	// backup archives) whose body is longer than CutAfter bytes: after
	// CutAfter bytes of the body the connection is closed, so the client
	// sees an unexpected EOF.
	CutAfter int64
	CutTimes int
	// Gzip stores exports that complete while it is set gzip-compressed
	// (object key .sql.gz, no Content-Encoding; Range applies to the gzip
	// bytes). The gzip copy is written once, when the export completes, to a
	// temporary file under Options.TempDir, and served from there.
	Gzip bool
	// CorruptGzip is Gzip with bytes in the middle of the gzip stream
	// damaged.
	CorruptGzip bool
	// NoTrailer drops the last line ("-- Dump completed on …") from exports
	// and from the dumps in backup archives that complete while it is set.
	NoTrailer bool
	// SlowBody caps download speed at this many bytes per second (paced
	// with the real clock, not Options.Now).
	SlowBody int64
	// WrongLength makes Content-Length of downloads announce this many more
	// bytes than the body has; the connection closes after the body.
	WrongLength int64
	// DropExportAnswer accepts export requests (the export exists, the
	// budget is spent, the request is counted) but closes the connection
	// without an answer.
	DropExportAnswer bool
	// ImportFail makes imports run while it is set end "failed" with this
	// message; the Backend does not see them.
	ImportFail string
	// NumericStrings sends the numbers inside data (size_bytes, duration_ms,
	// content_length, part_count) as numeric strings, which the OpenAPI
	// schema allows.
	NumericStrings bool

	// FailBackup makes backups end "failed" with this error_message, at the
	// moment they would have completed.
	FailBackup string
	// DropBackupAnswer accepts backup requests (the backup exists, the
	// budget is spent, the request is counted) but closes the connection
	// without an answer.
	DropBackupAnswer bool
	// FailBackupDownload makes backup downloads end "failed" with this
	// error_message, at the moment they would have completed.
	FailBackupDownload string
	// ArchiveSQLGzip stores the dump in the archives of backup downloads
	// that complete while it is set gzip-compressed, as a member named
	// database/<name>.sql.gz.
	ArchiveSQLGzip bool
	// ArchiveTwoSQL adds a second .sql member (database/<name>-previous.sql,
	// a small dump) to the archives of backup downloads that complete while
	// it is set.
	ArchiveTwoSQL bool
	// ArchiveNoSQL leaves the dump member out of the archives of backup
	// downloads that complete while it is set (the database/ directory
	// entry and, for scope full, the files stay).
	ArchiveNoSQL bool
}

// merge returns f with the zero fields filled from g.
func (f Faults) merge(g Faults) Faults {
	pick := func(a, b string) string {
		if a != "" {
			return a
		}
		return b
	}
	pickInt := func(a, b int64) int64 {
		if a != 0 {
			return a
		}
		return b
	}
	return Faults{
		FailExport:       pick(f.FailExport, g.FailExport),
		StuckProcessing:  f.StuckProcessing || g.StuckProcessing,
		ServerErrors:     int(pickInt(int64(f.ServerErrors), int64(g.ServerErrors))),
		RateLimited:      int(pickInt(int64(f.RateLimited), int64(g.RateLimited))),
		ExpiredURLs:      int(pickInt(int64(f.ExpiredURLs), int64(g.ExpiredURLs))),
		CutAfter:         pickInt(f.CutAfter, g.CutAfter),
		CutTimes:         int(pickInt(int64(f.CutTimes), int64(g.CutTimes))),
		Gzip:             f.Gzip || g.Gzip,
		CorruptGzip:      f.CorruptGzip || g.CorruptGzip,
		NoTrailer:        f.NoTrailer || g.NoTrailer,
		SlowBody:         pickInt(f.SlowBody, g.SlowBody),
		WrongLength:      pickInt(f.WrongLength, g.WrongLength),
		DropExportAnswer: f.DropExportAnswer || g.DropExportAnswer,
		ImportFail:       pick(f.ImportFail, g.ImportFail),
		NumericStrings:   f.NumericStrings || g.NumericStrings,

		FailBackup:         pick(f.FailBackup, g.FailBackup),
		DropBackupAnswer:   f.DropBackupAnswer || g.DropBackupAnswer,
		FailBackupDownload: pick(f.FailBackupDownload, g.FailBackupDownload),
		ArchiveSQLGzip:     f.ArchiveSQLGzip || g.ArchiveSQLGzip,
		ArchiveTwoSQL:      f.ArchiveTwoSQL || g.ArchiveTwoSQL,
		ArchiveNoSQL:       f.ArchiveNoSQL || g.ArchiveNoSQL,
	}
}

// faultsFor returns the faults in force for a site (its own merged over the
// global ones).
func (s *Server) faultsFor(site string) Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	var f, g Faults
	if p := s.faults[site]; p != nil && site != "" {
		f = *p
	}
	if p := s.faults[""]; p != nil {
		g = *p
	}
	return f.merge(g)
}

// takeFault offers the site's faults, then the global ones, to fn, which
// spends a counter and reports true if it applies; it stops at the first
// that does.
func (s *Server) takeFault(site string, fn func(*Faults) bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.faults[site]; p != nil && site != "" && fn(p) {
		return true
	}
	if p := s.faults[""]; p != nil && fn(p) {
		return true
	}
	return false
}
