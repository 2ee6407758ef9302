package training

import (
	"sync"
	"sync/atomic"
)

// parallelFor calls fn(i) for i in 0..n-1 on up to threads goroutines (the
// caller's included). Work items are independent, so the result does not
// depend on the number of goroutines or the order they run in.
func parallelFor(n, threads int, fn func(i int)) {
	if threads > n {
		threads = n
	}
	if threads <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	work := func() {
		for {
			i := int(next.Add(1) - 1)
			if i >= n {
				return
			}
			fn(i)
		}
	}
	var wg sync.WaitGroup
	for range threads - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()
}

// parallelChunks splits 0..n-1 into contiguous chunks of at least minChunk
// items and calls fn(lo, hi) for each on up to threads goroutines.
func parallelChunks(n, threads, minChunk int, fn func(lo, hi int)) {
	chunks := threads
	if minChunk > 0 && n/minChunk < chunks {
		chunks = n / minChunk
	}
	if chunks <= 1 {
		fn(0, n)
		return
	}
	size := (n + chunks - 1) / chunks
	parallelFor(chunks, threads, func(c int) {
		lo := c * size
		hi := min(lo+size, n)
		if lo < hi {
			fn(lo, hi)
		}
	})
}
