package e2e

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/builtfast/vectord/vectorsim"
)

// The SIGKILL loop: where the crash matrix (crash_test.go) kills the
// daemon at each named write boundary, this test kills it wherever it
// happens to be — between jobs, mid-export, mid-download, mid-commit,
// mid-retention, mid-archive-copy — many times in a row, restarting it each
// time, and then asks `vectord check --read-data` whether catalog and
// storage still agree.
//
//	go test -race -count=1 -run TestSIGKILLLoop -v ./e2e/
//
// VECTORD_KILLLOOP_SEED repeats a run's kill delays (each run logs its
// seed); VECTORD_KILLLOOP_KILLS changes the number of kills (default 50).

const (
	killLoopKills    = 50
	killLoopMinDelay = 50 * time.Millisecond
	killLoopMaxDelay = 1500 * time.Millisecond
)

// TestSIGKILLLoop: three environments backed up every second (jitter 0,
// keep_last 2) to a local and an S3 target, downloads paced to take a third
// of a second. The daemon is killed with
// SIGKILL a random 50 ms..1.5 s after each time it became ready, and
// started again, 50 times. Then it runs until every environment has had a
// successful backup (whose retention run finishes deletes an earlier kill
// interrupted) and stops cleanly. `vectord check --read-data` finds
// nothing, no .partial file is left, no record is marked deleting, and
// every environment holds one or two backups.
func TestSIGKILLLoop(t *testing.T) {
	s3 := newS3Prefix(t)
	f := newFixture(t, options{schedule: "@every 1s", retention: keepLast2, storage: s3.config(s3.secret())})
	// Downloads paced at 48 KiB/s: a 16 KiB dump takes a third of a
	// second, so that kills land mid-download and mid-store as well as
	// between jobs.
	f.sim.SetFaults("", vectorsim.Faults{SlowBody: 48 << 10})

	kills := killLoopKills
	if s := os.Getenv("VECTORD_KILLLOOP_KILLS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("VECTORD_KILLLOOP_KILLS=%q: want a positive integer", s)
		}
		kills = n
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("VECTORD_KILLLOOP_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("VECTORD_KILLLOOP_SEED=%q: want an unsigned integer", s)
		}
		seed = n
	}
	t.Logf("seed %d (VECTORD_KILLLOOP_SEED=%d repeats these kill delays)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0x6b696c6c6c6f6f70))

	began := time.Now()
	var logs []string // every daemon's log
	midJob := 0       // kills that landed while a job ran
	for i := range kills {
		p := f.start()
		delay := killLoopMinDelay + time.Duration(rng.Int64N(int64(killLoopMaxDelay-killLoopMinDelay)))
		// The delay is the experiment, not a wait for something: the kill
		// lands wherever the daemon is by then.
		select {
		case <-time.After(delay):
		case <-p.done:
			t.Fatalf("kill %d: vectord exited on its own (%v) before the kill:\n%s", i+1, p.cmd.ProcessState, tail(p.stderr.String(), 30))
		}
		p.stop(t, syscall.SIGKILL)
		ws, _ := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
		if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("kill %d: vectord ended with %v, want killed by SIGKILL:\n%s", i+1, p.cmd.ProcessState, tail(p.stderr.String(), 30))
		}
		log := p.stderr.String()
		logs = append(logs, log)
		inFlight := jobsInFlight(log)
		if inFlight > 0 {
			midJob++
		}
		t.Logf("kill %d after %v: %d jobs in flight, last logged %q", i+1, delay.Round(time.Millisecond), inFlight, lastEvent(log))
	}
	killed := time.Since(began)

	// The last start: every environment backed up once more, then a clean
	// stop.
	p := f.start()
	waitFor(t, "a successful backup of every environment after the last kill", 60*time.Second, func() bool {
		fs := f.scrape()
		for _, e := range allEnvs {
			if fs.sum("vectord_backup_runs_total", "site", e[0], "environment", e[1], "outcome", "success") < 1 {
				return false
			}
		}
		return true
	})
	p.stopClean(t)
	logs = append(logs, p.stderr.String())
	total := time.Since(began)

	rep := f.assertInvariants(t)
	records := 0
	for _, e := range allEnvs {
		live, deleting := f.catalogState(e[0], e[1])
		records += len(live)
		if len(live) < 1 || len(live) > 2 || len(deleting) != 0 {
			t.Errorf("%s/%s at the end: %d listed, %d marked deleting; want 1 or 2 (keep_last 2) and 0",
				e[0], e[1], len(live), len(deleting))
		}
	}

	all := strings.Join(logs, "")
	stored := strings.Count(all, `"msg":"backup stored"`)
	if stored == 0 {
		t.Errorf("no backup was stored in %d runs", kills+1)
	}
	t.Logf("%d kills (%d while a job ran) in %v (%v with the last run and clean stop); backups stored %d, export requests %d, "+
		"jobs resumed %d, partial downloads removed at start-up %d, archive copies made at start-up %d; "+
		"at the end %d records, check read %d copies in full: %d findings",
		kills, midJob, killed.Round(100*time.Millisecond), total.Round(100*time.Millisecond), stored, countExports(f),
		strings.Count(all, `"msg":"resuming job"`), strings.Count(all, `"msg":"removed partial download"`),
		strings.Count(all, `"msg":"backup archived"`), records, rep.Verified, len(rep.Findings))
}

// lastEvent is the message of the last line of a daemon's log.
func lastEvent(log string) string {
	lines := strings.Split(strings.TrimSpace(log), "\n")
	last := lines[len(lines)-1]
	if _, rest, ok := strings.Cut(last, `"msg":"`); ok {
		msg, _, _ := strings.Cut(rest, `"`)
		return msg
	}
	return last
}

// jobsInFlight counts the jobs a daemon's log shows started (or queued to
// resume) and not ended, by job id.
func jobsInFlight(log string) int {
	open := map[string]bool{}
	for _, line := range strings.Split(log, "\n") {
		var l struct {
			Msg   string `json:"msg"`
			JobID string `json:"job_id"`
		}
		if json.Unmarshal([]byte(line), &l) != nil || l.JobID == "" {
			continue
		}
		switch l.Msg {
		case "job started", "interrupted job queued to resume":
			open[l.JobID] = true
		case "backup succeeded", "backup failed":
			delete(open, l.JobID)
		}
	}
	return len(open)
}
