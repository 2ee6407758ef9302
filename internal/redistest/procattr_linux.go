package redistest

import "syscall"

// procAttr makes the kernel kill a node if the test process dies without
// stopping it (a panic, a go test -timeout kill), so no node outlives a run.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
