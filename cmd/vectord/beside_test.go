package main

import (
	"bytes"
	"context"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cli runs one vectord command line in-process against the e2e config.
func (e *e2e) cli(args ...string) (code int, stdout, stderr string) {
	e.t.Helper()
	var out, errb bytes.Buffer
	m := &Main{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}
	code = m.Run(context.Background(), append(args, "--config", e.cfg))
	return code, out.String(), errb.String()
}

// TestCommandsBesideARunningDaemon: every catalog command works while
// `vectord run` holds the catalog — prune --dry-run (which panicked),
// id prefixes, pin, forget of a pinned and an unpinned backup, check — and
// the catalog and storage agree afterwards.
func TestCommandsBesideARunningDaemon(t *testing.T) {
	e := newE2E(t, e2eOptions{defaults: `schedule: "@every 1h"`, sites: `  - name: globex
    id: "1002"
`})
	p := e.start()
	e.waitFor("the start-up backup", 20*time.Second, func() bool { return len(e.apiRecords()) == 1 })
	id := e.apiRecords()[0].ID

	if code, out, errs := e.cli("prune", "--dry-run"); code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "keep") {
		t.Errorf("prune --dry-run beside the daemon = %d %q %q, want the backup kept", code, out, errs)
	}
	if code, out, errs := e.cli("cat", id[:12]); code != 0 || !strings.Contains(out, "Dump completed") {
		t.Errorf("cat %s (a prefix) beside the daemon = %d, %d bytes, %q", id[:12], code, len(out), errs)
	}
	if code, _, errs := e.cli("pin", id[:12]); code != 0 {
		t.Fatalf("pin = %d %q", code, errs)
	}
	if recs := e.apiRecords(); len(recs) != 1 || !recs[0].Pinned {
		t.Fatalf("after pin: %+v, want the backup pinned", recs)
	}
	if code, _, errs := e.cli("forget", id); code != 2 || !strings.Contains(errs, "pinned") {
		t.Errorf("forget of a pinned backup = %d %q, want 2 naming the pin", code, errs)
	}
	if len(e.apiRecords()) != 1 {
		t.Fatal("forget of a pinned backup deleted it")
	}
	if code, out, errs := e.cli("check"); code != 0 || !strings.Contains(out, "agree") {
		t.Errorf("check beside the daemon = %d %q %q, want clean", code, out, errs)
	}
	if code, _, errs := e.cli("pin", "--unpin", id); code != 0 {
		t.Fatalf("pin --unpin = %d %q", code, errs)
	}
	if code, out, errs := e.cli("forget", id); code != 0 || !strings.Contains(out, id) {
		t.Fatalf("forget = %d %q %q", code, out, errs)
	}
	if recs := e.apiRecords(); len(recs) != 0 {
		t.Errorf("after forget the daemon lists %d backups, want 0", len(recs))
	}
	if code := p.stop(t, syscall.SIGTERM, 20*time.Second); code != 0 {
		t.Fatalf("daemon exit = %d", code)
	}
	if code, out, errs := e.cli("check", "--read-data"); code != 0 {
		t.Errorf("check after the daemon stopped = %d %q %q, want clean", code, out, errs)
	}
}
