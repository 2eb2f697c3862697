//go:build race

package nn

// raceEnabled: under the race detector the slowest path-by-path tests run on the start-up
// path only; the concurrency they check is the same on every path.
const raceEnabled = true
