//go:build !race

package deco

// raceDetector reports whether the tests run under the race detector (see the race build).
const raceDetector = false
