//go:build !unix

package config

// fileOwner finds no owner where files have no user ids.
func fileOwner(string) (name string, uid int, ok bool) { return "", 0, false }
