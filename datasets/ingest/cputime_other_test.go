//go:build !unix

package ingest

import "time"

// processCPU is not measured on this system: the benchmark reports no CPU time.
func processCPU() time.Duration { return 0 }
