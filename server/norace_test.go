//go:build !race

package server

// raceEnabled reports whether the race detector is on: it makes filling a
// large catalog about ten times slower.
const raceEnabled = false
