//go:build !unix

package source

import (
	"os"
	"syscall"
)

const (
	sigTerm = syscall.SIGTERM
	sigKill = syscall.SIGKILL
)

// sysProcAttr has no process groups to set up here.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// signalGroup stops p alone: without process groups its children are not reached.
func signalGroup(p *os.Process, _ syscall.Signal) { _ = p.Kill() }
