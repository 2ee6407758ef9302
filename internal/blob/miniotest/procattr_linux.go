package miniotest

import "syscall"

// procAttr makes the kernel kill the server if the test process dies without
// stopping it (a panic, a go test -timeout kill), so no server outlives a run.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
