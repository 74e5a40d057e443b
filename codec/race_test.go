//go:build race

package codec_test

// raceEnabled reports whether the race detector, which slows zstd by a
// factor of about fifty, instruments this test binary.
const raceEnabled = true
