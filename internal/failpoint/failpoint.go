// Package failpoint lets crash-consistency tests kill vectord at a named
// write boundary: when the environment variable VECTORD_FAILPOINT names a
// point (optionally followed by "@N" to let N-1 hits pass first), the
// process kills itself with SIGKILL the moment that point is reached — no
// deferred function, no flush, exactly as a power cut or the OOM killer
// would stop it. Without the variable every point is a no-op.
package failpoint

import (
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
)

// Env is the environment variable that arms a failpoint.
const Env = "VECTORD_FAILPOINT"

// armed is the point named by Env and how many hits to let pass, read
// once: the variable belongs to the process, not to any one component.
var armed = parse(os.Getenv(Env))

type point struct {
	name string
	skip int64
	hits atomic.Int64
}

func parse(v string) *point {
	if v == "" {
		return nil
	}
	name, n, ok := strings.Cut(v, "@")
	p := &point{name: name}
	if ok {
		if k, err := strconv.ParseInt(n, 10, 64); err == nil && k > 1 {
			p.skip = k - 1
		}
	}
	return p
}

// Hit kills the process if name is the armed point (and its earlier hits
// have been let pass).
func Hit(name string) {
	p := armed
	if p == nil || p.name != name {
		return
	}
	if p.hits.Add(1) <= p.skip {
		return
	}
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // SIGKILL is not handled; wait for it to land
}
