//go:build !unix

package source

import (
	"os"
	"syscall"
)

// defaultShell is what shell=true runs a command line with: the command interpreter.
const defaultShell = "cmd.exe /C"

const (
	sigTerm = syscall.SIGTERM
	sigKill = syscall.SIGKILL
)

// sysProcAttr has no process groups to set up here.
func sysProcAttr() *syscall.SysProcAttr { return nil }

// signalGroup stops p alone: without process groups its children are not reached.
func signalGroup(p *os.Process, _ syscall.Signal) { _ = p.Kill() }
