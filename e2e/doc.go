// Package e2e proves vectord's user-facing behaviour end to end: its tests
// build the real binary once, run `vectord run` against a simulated Vector
// API served by the test process, and check what operators and their tools
// see — files on disk, the bbolt catalog, /metrics as a real Prometheus
// server evaluates the shipped alert rules, and the sd_notify datagrams
// systemd receives.
//
// The package has no code of its own beyond this comment. Run it with
//
//	go test -race -count=1 ./e2e/
//
// The Prometheus and promtool checks need the prometheus package's binaries
// on PATH; they are skipped without them unless CI is set, where a missing
// tool fails the test. The retention test makes backup files immutable
// (chattr +i), which needs root (CAP_LINUX_IMMUTABLE) and a file system that
// supports the flag; it is skipped elsewhere.
//
// Every test ends by checking catalog against storage (`vectord check
// --read-data`, assertInvariants). The crash matrix (TestCrashConsistency:
// SIGKILL at every failpoint of internal/failpoint) and the SIGKILL loop
// (TestSIGKILLLoop) use a local and an S3 target: they need the test
// script's S3 server (eval "$(scripts/s3server.sh start)") and are skipped
// without it unless CI is set.
package e2e
