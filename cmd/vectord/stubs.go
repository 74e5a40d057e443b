package main

import (
	"context"
	"errors"
)

func runDaemon(ctx context.Context, m *Main, args []string) error {
	return errors.New("run: the daemon is not available in this version of vectord")
}
