//go:build unix

package source

import (
	"os"
	"syscall"
)

// defaultShell is what shell=true runs a command line with: the POSIX shell.
const defaultShell = "/bin/sh -c"

const (
	sigTerm = syscall.SIGTERM
	sigKill = syscall.SIGKILL
)

// sysProcAttr puts the command in a new process group, so that it and every child it starts
// can be signalled together.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// signalGroup sends sig to the process group led by p, or to p alone if the group is gone.
// Errors mean there is nothing left to signal.
func signalGroup(p *os.Process, sig syscall.Signal) {
	if err := syscall.Kill(-p.Pid, sig); err != nil {
		_ = p.Signal(sig)
	}
}
