// W1 spawn, Go peer (see WORKLOADS.md): start N goroutines that each return
// their index, wait for all of them, check the sum.
//
//	go run w1_spawn.go [N]        (default N = 1,000,000)
//
// Prints: W1 spawn impl=go n=N wall_s=S rss_mb=M
// The result travels back the way a Go programmer returns one from a
// goroutine: written into its own slot of a slice, joined with a WaitGroup.
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
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

func peakRSSMB() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Maxrss) / 1024.0 // ru_maxrss is in KiB on Linux
}

func main() {
	n := sizeArg(1000000)

	start := time.Now()
	results := make([]int64, n)
	var wg sync.WaitGroup
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func(i int) {
			results[i] = int64(i)
			wg.Done()
		}(i)
	}
	wg.Wait()
	var sum int64
	for _, v := range results {
		sum += v
	}
	wall := time.Since(start).Seconds()

	want := int64(n) * int64(n-1) / 2
	fmt.Printf("W1 spawn impl=go n=%d wall_s=%.4f rss_mb=%.1f\n", n, wall, peakRSSMB())
	if sum != want {
		fmt.Fprintf(os.Stderr, "W1 spawn: wrong sum %d, want %d\n", sum, want)
		os.Exit(1)
	}
}
