// Package version reports the version of the Flume binaries.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is the release version, set at link time with
// -ldflags "-X github.com/flumego/flume/cmd/internal/version.Version=v1.2.3".
var Version = "dev"

// String returns a one-line description: version, commit, Go version and platform.
func String(program string) string {
	commit, dirty := "unknown", ""
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
				if len(commit) > 12 {
					commit = commit[:12]
				}
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "+dirty"
				}
			}
		}
	}
	return fmt.Sprintf("%s %s (commit %s%s, %s, %s/%s)", program, Version, commit, dirty,
		runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
