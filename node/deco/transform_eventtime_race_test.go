//go:build race

package deco

// raceDetector reports whether the tests run under the race detector, which makes sync.Pool
// drop what it is given: allocation counts of code that pools memory (regexp) are not those
// of a normal build.
const raceDetector = true
