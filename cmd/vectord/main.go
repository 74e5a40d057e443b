// Command vectord backs up the MySQL databases of sites hosted on BuiltFast's
// Vector Pro platform: scheduled exports through the Vector API, streamed,
// checked and stored locally, recorded in a bbolt catalog, pruned by
// retention rules and watched through Prometheus metrics.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	_ "time/tzdata" // schedules name IANA zones; hosts may lack a zone database
)

// Set at build time: -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = ""
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first signal ends ctx (a daemon drains its jobs); the default
	// handling is then restored, so a second signal exits at once.
	go func() {
		<-ctx.Done()
		stop()
	}()
	m := &Main{
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		Getenv: os.Getenv,
	}
	os.Exit(m.Run(ctx, os.Args[1:]))
}
