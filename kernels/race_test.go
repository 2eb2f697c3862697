//go:build race

package kernels

// raceEnabled: the race detector slows plain Go loops ~10×, so the largest
// reference checks are skipped under it (the plain run covers them).
const raceEnabled = true
