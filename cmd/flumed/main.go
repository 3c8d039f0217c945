// Command flumed is the Flume daemon: `flumed node` runs a physical node, `flumed version`
// prints the version.
package main

import "github.com/flumego/flume/cmd/internal/cli"

func main() { cli.Main(run) }
