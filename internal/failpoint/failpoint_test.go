package failpoint

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
)

func TestUnarmedPointsDoNothing(t *testing.T) {
	Hit("catalog.commit") // returns: the test goes on
}

// TestArmedPointKills runs this test binary as a child with the point
// armed and checks it died by SIGKILL on the second hit.
func TestArmedPointKills(t *testing.T) {
	if os.Getenv("FAILPOINT_CHILD") == "1" {
		Hit("a")
		os.Stdout.WriteString("passed first hit\n")
		Hit("a")
		os.Stdout.WriteString("survived\n")
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=TestArmedPointKills")
	cmd.Env = append(os.Environ(), "FAILPOINT_CHILD=1", Env+"=a@2")
	out, err := cmd.Output()
	ee, ok := err.(*exec.ExitError)
	if !ok {
		t.Fatalf("child = %v, output %q; want killed", err, out)
	}
	ws := ee.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, want SIGKILL", ws)
	}
	if string(out) != "passed first hit\n" {
		t.Fatalf("child printed %q, want only the first hit passed", out)
	}
}
