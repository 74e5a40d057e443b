package catalog

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// holdEnv names the catalog a child test process holds open.
const holdEnv = "VECTORD_CATALOG_TEST_HOLD"

// TestHoldCatalog is the child process of TestOpenLockedByAnotherProcess:
// it opens the catalog named by $VECTORD_CATALOG_TEST_HOLD, says "held",
// and keeps it open until its stdin closes.
func TestHoldCatalog(t *testing.T) {
	path := os.Getenv(holdEnv)
	if path == "" {
		t.Skip("runs only as a child of TestOpenLockedByAnotherProcess")
	}
	db, err := Open(path, Options{})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("held")
	_, _ = io.Copy(io.Discard, os.Stdin)
	if err := db.Close(); err != nil {
		os.Exit(1)
	}
}

func TestOpenLockedByAnotherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.db")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHoldCatalog$", "-test.count=1")
	cmd.Env = append(os.Environ(), holdEnv+"="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "held" {
		t.Fatalf("child process: %q, %v; want \"held\"", line, err)
	}

	for _, ro := range []bool{false, true} {
		start := time.Now()
		db, err := Open(path, Options{Timeout: 100 * time.Millisecond, ReadOnly: ro})
		if err == nil {
			db.Close()
			t.Fatalf("Open(ReadOnly=%v) while another process holds the catalog = nil error, want ErrLocked", ro)
		}
		if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), path) {
			t.Errorf("Open(ReadOnly=%v) = %v, want ErrLocked naming %s", ro, err, path)
		}
		if waited := time.Since(start); waited > 10*time.Second {
			t.Errorf("Open waited %v for the lock, want about the 100ms timeout", waited)
		}
	}

	// Once the other process lets go, Open succeeds.
	_ = stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child process: %v", err)
	}
	db, err := Open(path, Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("Open after the other process closed: %v", err)
	}
	db.Close()
}

func TestOpenLockedInProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.db")
	first, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(path, Options{Timeout: 50 * time.Millisecond})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	want := "open catalog " + path + ": catalog locked by another vectord"
	if err.Error() != want {
		t.Errorf("second Open = %q, want %q", err, want)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	second, err := Open(path, Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	second.Close()
}
