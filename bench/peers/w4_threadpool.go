// W4 threadpool, Go peer (see WORKLOADS.md): N tiny tasks (return x+1)
// through a pool of 2 worker goroutines, results collected in order.
//
//	go run w4_threadpool.go [N]        (default N = 1,000,000)
//
// Two lines: the jobs travel through an unbuffered channel
// (impl=go-unbuffered) and through a buffered one of 1024 (impl=go-buffered).
// Each worker writes the result into the task's own slot of the results
// slice (the way a Go programmer keeps results in order); a WaitGroup joins.
//
// Prints: W4 threadpool impl=go-... n=N wall_s=S us_per_task=U
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

func run(n int, buffer int) (float64, bool) {
	results := make([]int, n)
	start := time.Now()
	jobs := make(chan int, buffer)
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for x := range jobs {
				results[x] = x + 1
			}
		}()
	}
	for i := 0; i < n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	wall := time.Since(start).Seconds()
	ok := true
	for i := 0; i < n; i++ {
		if results[i] != i+1 {
			ok = false
		}
	}
	return wall, ok
}

func main() {
	n := 1000000
	if len(os.Args) > 1 {
		v, err := strconv.Atoi(os.Args[1])
		if err != nil || v <= 0 {
			fmt.Fprintln(os.Stderr, "usage: w4_threadpool [N]")
			os.Exit(2)
		}
		n = v
	}
	fail := false
	for _, c := range []struct {
		name   string
		buffer int
	}{{"go-unbuffered", 0}, {"go-buffered", 1024}} {
		wall, ok := run(n, c.buffer)
		fmt.Printf("W4 threadpool impl=%s n=%d wall_s=%.4f us_per_task=%.4f\n", c.name, n, wall,
			wall*1e6/float64(n))
		if !ok {
			fmt.Fprintf(os.Stderr, "W4 threadpool (%s): wrong results\n", c.name)
			fail = true
		}
	}
	if fail {
		os.Exit(1)
	}
}
