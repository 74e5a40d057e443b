package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// runVersion: vectord version (also vectord --version)
func runVersion(ctx context.Context, m *Main, args []string) error {
	f := m.flags("version")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("version takes no arguments, got %q", pos)
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
