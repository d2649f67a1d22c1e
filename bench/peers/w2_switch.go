// W2 switch, Go peer (see WORKLOADS.md): two goroutines pass a token back and
// forth through unbuffered channels, N round trips (2N one-way hand-offs).
//
//	go run w2_switch.go [N]       (default N = 10,000,000)
//
// Prints: W2 switch impl=go n=N wall_s=S ns_per_handoff=H
// where ns_per_handoff is one-way: wall / (2 N).
package main

import (
	"fmt"
	"os"
	"strconv"
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

func main() {
	n := sizeArg(10000000)
	ping := make(chan int64)
	pong := make(chan int64)
	done := make(chan struct{})

	// The partner adds one to every token it receives and sends it back.
	go func() {
		for v := range ping {
			pong <- v + 1
		}
		close(done)
	}()

	start := time.Now()
	var tok int64
	for i := 0; i < n; i++ {
		ping <- tok + 1
		tok = <-pong
	}
	wall := time.Since(start).Seconds()
	close(ping)
	<-done

	fmt.Printf("W2 switch impl=go n=%d wall_s=%.4f ns_per_handoff=%.1f\n",
		n, wall, wall*1e9/(2*float64(n)))
	if tok != 2*int64(n) {
		fmt.Fprintf(os.Stderr, "W2 switch: token %d, want %d\n", tok, 2*int64(n))
		os.Exit(1)
	}
}
