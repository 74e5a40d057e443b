// Package integrity checks that the catalog and the storage targets agree,
// and repairs what can be repaired without losing a good backup.
//
// The invariants it checks are those of CONTRACT §4 and §5 and of the
// crash-safety notes: every live catalog record has its file, of the size
// it records (and, with ReadData, the SQL and SHA-256 it records), on every
// target its locations name, with a manifest beside it that describes it;
// every stored backup file and manifest belongs to a record; no two records
// share a file; no delete is left half done; no ".partial" download is left
// behind. Check reports each departure as a Finding of a stable Kind;
// Repair fixes those it can and says, one line each, what it did.
//
// `vectord check [--repair] [--json] [--read-data]` runs it, and the
// end-to-end and fault tests call it after each scenario.
//
// Check may run while a daemon works on the same catalog and storage. It
// lists storage first and reads the catalog second (a job commits its file
// and manifest before its record, so a finished job's record is seen), it
// confirms a missing file or an orphan with a second look before reporting
// it (retention may have removed file and record in between), and it
// ignores files modified after it started (a job writing now). Repair
// changes the catalog: run it only when no daemon writes to that catalog.
package integrity
