// Command minihdfs runs the project's test HDFS (internal/minihdfs) as a process: a NameNode
// and its DataNodes on loopback, for manual checks and for tests that start real processes.
//
//	minihdfs -addr 127.0.0.1:8020 -dir /tmp/hdfs [-datanodes N] [-soft-lease D] [-hard-lease D]
//
// It prints the NameNode's address on the first line of its output and runs until SIGINT or
// SIGTERM. The DataNodes bind the host of -addr on ephemeral ports. It is test equipment, not
// a Hadoop replacement: see the package documentation for what it leaves out.
package main

import "github.com/flumego/flume/cmd/internal/cli"

func main() { cli.Main(run) }
