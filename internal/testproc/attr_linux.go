package testproc

import "syscall"

// Attr makes the kernel kill the child if the test process dies without stopping
// it (a panic, a go test -timeout kill), so no server outlives a run.
func Attr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
