// Package catalog is vectord's embedded bbolt catalog of stored backups and
// of the backup jobs in flight.
//
// A catalog is one bbolt file (normally <state_dir>/catalog.db). Only one
// process may open it for writing: a second Open fails with an error
// matching ErrLocked once Options.Timeout has passed, rather than hanging.
//
// # Bucket tree (schema version 1)
//
//	meta/
//	    schema_version          -> "1" (decimal ASCII)
//	backups/
//	    <site>/                 nested bucket per configured site name
//	        <environment>/      nested bucket per configured environment name
//	            <key>           -> JSON record, as `vectord list --json` prints it
//	ids/
//	    <id>                    -> <site> 0x00 <environment> 0x00 <key>
//	deleting/
//	    <id>                    -> "" (mark: the record is being deleted)
//	jobs/
//	    <job id>                -> JSON job state
//
// A record's <key> is the big-endian uint64 of its StartedAt in Unix
// nanoseconds followed by its id (a 26-character lowercase ULID), so a
// cursor walks one environment's backups in time order, and listing one
// environment never touches the records of the others.
//
// Every logical change (adding a record with its index entry, replacing a
// record's locations, marking, removing a record with its index entry and
// mark, saving a job) is one
// bbolt transaction; the batch forms (AddBatch, MarkDeletingBatch,
// RemoveBatch) make up to MaxBatch such changes in one transaction, so that
// building or pruning a large catalog is not one fsync per backup. A
// record marked deleting is hidden from Get and List at once; its files are
// removed next, and the record last (Remove), so a crash never leaves a
// listed record whose file is gone, and Deleting lists the unfinished
// deletes to retry.
//
// Jobs are persisted so that a restarted daemon resumes an export it
// already requested instead of spending API budget on a new one. A job
// never holds a download URL: presigned URLs are credentials and are not
// written to disk.
//
// Open creates the buckets of a new catalog, checks the schema version of
// an existing one and migrates older versions. A catalog written by a newer
// vectord is refused with an error matching ErrSchemaVersion.
package catalog
