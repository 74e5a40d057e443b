package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// runVersion: vectord version
func runVersion(ctx context.Context, m *Main, args []string) error {
	f := m.flags("version")
	if _, err := f.parse(args); err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "vectord %s\ncommit: %s\ngo: %s\n", version, buildCommit(), runtime.Version())
	return nil
}

// buildCommit is the commit given at build time, else the one the Go
// toolchain stamped, else "unknown".
func buildCommit() string {
	if commit != "" {
		return commit
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}
