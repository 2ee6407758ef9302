//go:build !linux

package testproc

import "syscall"

// Attr is nil where the OS cannot tie a child's life to its parent's.
func Attr() *syscall.SysProcAttr { return nil }
