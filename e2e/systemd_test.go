//go:build linux

package e2e

import (
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// watchdogTimeout is the WatchdogSec the test announces through
// WATCHDOG_USEC: systemd kills a service that stays silent for longer.
const watchdogTimeout = 2 * time.Second

// TestSystemdNotify runs the daemon as systemd runs a Type=notify service
// with WatchdogSec=2s and checks every datagram systemd relies on: READY=1
// once the daemon serves, WATCHDOG=1 often enough that the watchdog never
// fires, RELOADING=1 with MONOTONIC_USEC then READY=1 around every SIGHUP
// (also one whose configuration is refused, which leaves the running
// configuration in place), and STOPPING=1 on SIGTERM, followed by exit
// status 0.
func TestSystemdNotify(t *testing.T) {
	f := newFixture(t, options{schedule: "@every 1h"})
	sock := listenNotify(t)
	// WATCHDOG_PID stays unset (daemonEnv removes it): the daemon is the
	// process the watchdog is meant for.
	start := time.Now()
	p := f.launch("NOTIFY_SOCKET="+sock.path, fmt.Sprintf("WATCHDOG_USEC=%d", watchdogTimeout.Microseconds()))

	// READY=1 means "serving": /readyz must answer as soon as it arrives.
	ready := sock.await(t, p, 0, "READY=1")
	if code := httpStatus("http://" + f.listen + "/readyz"); code != http.StatusOK {
		t.Errorf("GET /readyz right after READY=1 = %d, want 200", code)
	}

	// Watchdog pings: at least two within 3s of READY=1, never further
	// apart than the watchdog timeout.
	deadline := ready.at.Add(3 * time.Second)
	var pings []time.Time
	for {
		pings = sock.times("WATCHDOG=1")
		if len(pings) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("WATCHDOG=1 pings within 3s of READY=1 with WATCHDOG_USEC=%d: %d, want at least 2 "+
				"(systemd with WatchdogSec=%v would have killed the daemon)", watchdogTimeout.Microseconds(), len(pings), watchdogTimeout)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	prev := start
	for _, at := range pings {
		if gap := at.Sub(prev); gap >= watchdogTimeout {
			t.Errorf("WATCHDOG=1 %v after the previous ping (or start), want under the watchdog timeout %v", gap.Round(time.Millisecond), watchdogTimeout)
		}
		prev = at
	}

	// A valid reload: the new schedule is applied.
	f.writeConfig(options{schedule: "@every 2h"})
	n := sock.reload(t, p, ready.index+1)
	waitFor(t, "the reloaded schedule's interval (2h) on /metrics", 5*time.Second, func() bool {
		return intervalsAre(f.scrape(), 7200)
	})

	// An invalid configuration is refused, logged, and the running one
	// (with its schedules) kept.
	f.writeConfig(options{schedule: "@every 30m", extra: "bogus_key: 1\n"})
	sock.reload(t, p, n)
	waitFor(t, "the refused reload in the log", 5*time.Second, func() bool {
		log := p.stderr.String()
		return strings.Contains(log, "reload refused") && strings.Contains(log, "bogus_key")
	})
	if p.exited() {
		t.Fatalf("the daemon exited after a refused reload:\n%s", p.stderr)
	}
	if code := httpStatus("http://" + f.listen + "/healthz"); code != http.StatusOK {
		t.Errorf("GET /healthz after a refused reload = %d, want 200", code)
	}
	if fs := f.scrape(); !intervalsAre(fs, 7200) {
		t.Errorf("expected intervals after a refused reload are not the running configuration's 7200s: %v",
			fs.series("vectord_backup_expected_interval_seconds"))
	}

	// SIGTERM: STOPPING=1, then exit status 0.
	p.signal(t, syscall.SIGTERM)
	sock.await(t, p, n, "STOPPING=1")
	select {
	case <-p.done:
	case <-time.After(25 * time.Second):
		t.Fatalf("vectord did not exit within 25s of SIGTERM")
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit status after SIGTERM = %d, want 0:\n%s", code, p.stderr)
	}
	// The refused configuration is still on disk: check with the one the
	// daemon ran.
	f.writeConfig(options{schedule: "@every 2h"})
	f.assertInvariants(t)
}

// intervalsAre reports whether every configured environment's expected
// interval gauge is seconds.
func intervalsAre(fs families, seconds float64) bool {
	for _, e := range allEnvs {
		if v, ok := fs.value("vectord_backup_expected_interval_seconds", "site", e[0], "environment", e[1]); !ok || v != seconds {
			return false
		}
	}
	return true
}

// notification is one sd_notify datagram.
type notification struct {
	index int
	at    time.Time
	text  string
}

// notifySocket is the unixgram socket a test listens on in place of
// systemd's, with every datagram received so far.
type notifySocket struct {
	path string
	mu   sync.Mutex
	msgs []notification
}

func listenNotify(t *testing.T) *notifySocket {
	t.Helper()
	s := &notifySocket{path: filepath.Join(t.TempDir(), "notify.sock")}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: s.path, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen on %s: %v", s.path, err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		conn.Close()
		<-done
	})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, notification{index: len(s.msgs), at: time.Now(), text: string(buf[:n])})
			s.mu.Unlock()
		}
	}()
	return s
}

// await waits for the first datagram at or after index from whose first
// line is first.
func (s *notifySocket) await(t *testing.T, p *proc, from int, first string) notification {
	t.Helper()
	var got notification
	waitFor(t, first+" from the daemon", 10*time.Second, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, m := range s.msgs[min(from, len(s.msgs)):] {
			if line, _, _ := strings.Cut(m.text, "\n"); line == first {
				got = m
				return true
			}
		}
		if p.exited() {
			t.Fatalf("the daemon exited before sending %s (received %q):\n%s", first, s.textsLocked(), p.stderr)
		}
		return false
	})
	return got
}

// reload sends SIGHUP and checks the datagrams that follow from index
// from: RELOADING=1 with a current MONOTONIC_USEC, then READY=1. It
// returns the index after READY=1.
func (s *notifySocket) reload(t *testing.T, p *proc, from int) int {
	t.Helper()
	before := monotonic(t)
	p.signal(t, syscall.SIGHUP)
	r := s.await(t, p, from, "RELOADING=1")
	after := monotonic(t)
	usec := ""
	for _, line := range strings.Split(r.text, "\n") {
		if v, ok := strings.CutPrefix(line, "MONOTONIC_USEC="); ok {
			usec = v
		}
	}
	us, err := strconv.ParseInt(usec, 10, 64)
	if err != nil || us < before.Microseconds() || us > after.Microseconds() {
		t.Errorf("RELOADING=1 datagram %q: MONOTONIC_USEC is not CLOCK_MONOTONIC in µs at the time of the reload (between %d and %d)",
			r.text, before.Microseconds(), after.Microseconds())
	}
	return s.await(t, p, r.index+1, "READY=1").index + 1
}

// times returns when each datagram whose text is exactly text arrived.
func (s *notifySocket) times(text string) []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []time.Time
	for _, m := range s.msgs {
		if m.text == text {
			out = append(out, m.at)
		}
	}
	return out
}

func (s *notifySocket) textsLocked() []string {
	var out []string
	for _, m := range s.msgs {
		out = append(out, m.text)
	}
	return out
}

// monotonic reads CLOCK_MONOTONIC, the clock MONOTONIC_USEC is taken from.
func monotonic(t *testing.T) time.Duration {
	t.Helper()
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatalf("read CLOCK_MONOTONIC: %v", err)
	}
	return time.Duration(ts.Nano())
}
