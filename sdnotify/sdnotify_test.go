package sdnotify_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/builtfast/vectord/sdnotify"
)

// listen opens a unixgram socket at addr, as the service manager does, and
// points NOTIFY_SOCKET at it.
func listen(t *testing.T, addr string) *net.UnixConn {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", addr)
	return conn
}

// receive returns the next datagram, failing the test if none arrives.
func receive(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, _, err := conn.ReadFromUnix(buf)
	if err != nil {
		t.Fatalf("read notification: %v", err)
	}
	return string(buf[:n])
}

func socketPath(t *testing.T) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "notify.sock")
}

func TestHelpersSendTheirState(t *testing.T) {
	tests := []struct {
		name string
		send func() (bool, error)
		want string
	}{
		{"Ready", sdnotify.Ready, "READY=1"},
		{"Stopping", sdnotify.Stopping, "STOPPING=1"},
		{"Watchdog", sdnotify.Watchdog, "WATCHDOG=1"},
		{"Notify", func() (bool, error) { return sdnotify.Notify("STATUS=next backup at 02:13\nREADY=1") }, "STATUS=next backup at 02:13\nREADY=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := listen(t, socketPath(t))
			sent, err := tt.send()
			if err != nil || !sent {
				t.Fatalf("%s() = %v, %v; want true, nil", tt.name, sent, err)
			}
			if got := receive(t, conn); got != tt.want {
				t.Errorf("%s() sent %q, want %q", tt.name, got, tt.want)
			}
		})
	}
}

func TestAbstractSocket(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("abstract unix sockets are a Linux feature")
	}
	conn := listen(t, fmt.Sprintf("@vectord-sdnotify-test-%d-%d", os.Getpid(), time.Now().UnixNano()))
	if sent, err := sdnotify.Ready(); err != nil || !sent {
		t.Fatalf("Ready() = %v, %v; want true, nil", sent, err)
	}
	if got := receive(t, conn); got != "READY=1" {
		t.Errorf("Ready() sent %q, want %q", got, "READY=1")
	}
}

func TestReloadingCarriesMonotonicTime(t *testing.T) {
	conn := listen(t, socketPath(t))
	before := monotonicUsec(t)
	sent, err := sdnotify.Reloading()
	after := monotonicUsec(t)
	if err != nil || !sent {
		t.Fatalf("Reloading() = %v, %v; want true, nil", sent, err)
	}
	got := receive(t, conn)
	first, rest, ok := strings.Cut(got, "\n")
	if !ok || first != "RELOADING=1" || !strings.HasPrefix(rest, "MONOTONIC_USEC=") {
		t.Fatalf("Reloading() sent %q, want RELOADING=1\\nMONOTONIC_USEC=<usec>", got)
	}
	usec, err := strconv.ParseUint(strings.TrimPrefix(rest, "MONOTONIC_USEC="), 10, 64)
	if err != nil {
		t.Fatalf("Reloading() sent %q: MONOTONIC_USEC is not a number: %v", got, err)
	}
	if usec < before || usec > after {
		t.Errorf("Reloading() sent MONOTONIC_USEC=%d, want CLOCK_MONOTONIC between %d and %d", usec, before, after)
	}
}

func monotonicUsec(t *testing.T) uint64 {
	t.Helper()
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatal(err)
	}
	return uint64(ts.Sec)*1e6 + uint64(ts.Nsec)/1e3
}

func TestWithoutNotifySocketNothingIsSent(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	for name, send := range map[string]func() (bool, error){
		"Ready": sdnotify.Ready, "Stopping": sdnotify.Stopping, "Reloading": sdnotify.Reloading, "Watchdog": sdnotify.Watchdog,
	} {
		if sent, err := send(); sent || err != nil {
			t.Errorf("%s() without NOTIFY_SOCKET = %v, %v; want false, nil", name, sent, err)
		}
	}
}

func TestNotifyErrors(t *testing.T) {
	tests := []struct {
		name   string
		socket string
		state  string
		want   string
	}{
		{"no socket there", filepath.Join(t.TempDir(), "missing.sock"), "READY=1", "missing.sock"},
		{"vsock address", "vsock:2:1234", "READY=1", `unsupported NOTIFY_SOCKET address "vsock:2:1234"`},
		{"relative path", "run/notify", "READY=1", "unsupported NOTIFY_SOCKET address"},
		{"empty state", "/run/systemd/notify", "", "empty state"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("NOTIFY_SOCKET", tt.socket)
			sent, err := sdnotify.Notify(tt.state)
			if sent || err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Notify(%q) with NOTIFY_SOCKET=%q = %v, %v; want false and an error containing %q", tt.state, tt.socket, sent, err, tt.want)
			}
		})
	}
}

func TestNotifyToNonSocketFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("NOTIFY_SOCKET", path)
	sent, err := sdnotify.Ready()
	if sent || !errors.Is(err, unix.ECONNREFUSED) {
		t.Errorf("Ready() to a regular file = %v, %v; want false, connection refused", sent, err)
	}
}

func TestWatchdogInterval(t *testing.T) {
	self := strconv.Itoa(os.Getpid())
	tests := []struct {
		name   string
		usec   string
		pid    string
		want   time.Duration
		wantOK bool
	}{
		{"unset", "", "", 0, false},
		{"for this process", "60000000", self, 60 * time.Second, true},
		{"no pid given", "30000000", "", 30 * time.Second, true},
		{"for another process", "60000000", strconv.Itoa(os.Getpid() + 1), 0, false},
		{"bad pid", "60000000", "init", 0, false},
		{"zero", "0", self, 0, false},
		{"negative", "-5", self, 0, false},
		{"not a number", "60s", self, 0, false},
		{"overflows a duration", "18446744073709551615", self, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("WATCHDOG_USEC", tt.usec)
			t.Setenv("WATCHDOG_PID", tt.pid)
			got, ok := sdnotify.WatchdogInterval()
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("WatchdogInterval() with WATCHDOG_USEC=%q WATCHDOG_PID=%q = %v, %v; want %v, %v", tt.usec, tt.pid, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
