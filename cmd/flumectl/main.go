// Command flumectl is Flume's command-line shell: it validates dataflow specs and lists the
// components they can use.
package main

import "github.com/flumego/flume/cmd/internal/cli"

func main() { cli.Main(run) }
