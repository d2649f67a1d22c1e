// W3 sleepers, Go peer (see WORKLOADS.md): N goroutines each sleep 1.0 s
// concurrently, then all are joined (ideal wall: 1.0 s).
//
//	go run w3_sleepers.go [N]     (default N = 100,000; bench/run also runs 1,000,000)
//
// Prints: W3 sleepers impl=go n=N wall_s=S rss_mb=M kb_per_coro=K
// where kb_per_coro = (peak RSS - peak RSS before spawning) / N, in KiB.
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func sizeArg(dflt int) int {
	if len(os.Args) < 2 {
		return dflt
	}
	n, err := strconv.Atoi(os.Args[1])
	if err != nil || n <= 0 {
		fmt.Fprintf(os.Stderr, "bad size argument: %s\n", os.Args[1])
		os.Exit(2)
	}
	return n
}

func peakRSSKB() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return int64(ru.Maxrss) // KiB on Linux
}

func main() {
	n := sizeArg(100000)
	base := peakRSSKB()

	var woke int64
	var wg sync.WaitGroup
	start := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			time.Sleep(time.Second)
			atomic.AddInt64(&woke, 1)
			wg.Done()
		}()
	}
	wg.Wait()
	wall := time.Since(start).Seconds()

	peak := peakRSSKB()
	fmt.Printf("W3 sleepers impl=go n=%d wall_s=%.4f rss_mb=%.1f kb_per_coro=%.2f\n",
		n, wall, float64(peak)/1024.0, float64(peak-base)/float64(n))
	if woke != int64(n) || wall < 1.0 {
		fmt.Fprintf(os.Stderr, "W3 sleepers: %d of %d woke, wall %.3f s\n", woke, n, wall)
		os.Exit(1)
	}
}
