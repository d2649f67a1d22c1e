// Echo benchmark, Go peer (issue 3; same line format as bench/echo_bench.c):
// `conns` connections on loopback each send a message, wait for its echo and
// repeat, for a bounded time; once with 64-byte and once with 16 KiB
// messages. The server (a goroutine per connection, as net/http does) and
// the clients run in this process; Go's scheduler spreads them over every
// core (GOMAXPROCS).
//
//	go run echo_bench.go [seconds per size (default 3; 1 with BENCH_QUICK=1)] [conns (default 64)]
//
// Prints, per size: E echo impl=go conns=64 msg_bytes=64 msgs_per_s=... wall_s=...
package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

func arg(i int, dflt int) int {
	if len(os.Args) <= i {
		return dflt
	}
	v, err := strconv.Atoi(os.Args[i])
	if err != nil || v <= 0 {
		fmt.Fprintf(os.Stderr, "bad argument: %s\n", os.Args[i])
		os.Exit(2)
	}
	return v
}

func serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func(c net.Conn) {
			defer c.Close()
			buf := make([]byte, 64*1024)
			for {
				n, err := c.Read(buf)
				if err != nil {
					return
				}
				if _, err := c.Write(buf[:n]); err != nil {
					return
				}
			}
		}(c)
	}
}

func main() {
	dflt := 3
	if os.Getenv("BENCH_QUICK") == "1" {
		dflt = 1
	}
	secs := arg(1, dflt)
	conns := arg(2, 64)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	go serve(ln)
	addr := ln.Addr().String()
	for _, size := range []int{64, 16384} {
		// One payload for every connection, as the limit reference
		// (echo_ref.c) and concur's echo_bench use it: each message is
		// the connection's counter byte followed by payload[1:], sent in
		// one gathered write (net.Buffers: writev).
		payload := make([]byte, size)
		for j := range payload {
			payload[j] = byte('a' + j%26)
		}
		var msgs, errs int64
		var wg sync.WaitGroup
		start := time.Now()
		end := start.Add(time.Duration(secs) * time.Second)
		for i := 0; i < conns; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := net.Dial("tcp", addr)
				if err != nil {
					atomic.AddInt64(&errs, 1)
					return
				}
				defer c.Close()
				in := make([]byte, size)
				hdr := make([]byte, 1)
				var segs [2][]byte // reused: no allocation per message
				var bufs net.Buffers
				k := 0
				for time.Now().Before(end) {
					hdr[0] = byte(k)
					k++
					segs[0], segs[1] = hdr, payload[1:] // WriteTo consumes them
					bufs = segs[:]
					if _, err := bufs.WriteTo(c); err != nil {
						atomic.AddInt64(&errs, 1)
						return
					}
					if _, err := io.ReadFull(c, in); err != nil || in[0] != hdr[0] ||
						!bytes.Equal(in[1:], payload[1:]) {
						atomic.AddInt64(&errs, 1)
						return
					}
					atomic.AddInt64(&msgs, 1)
				}
			}()
		}
		wg.Wait()
		wall := time.Since(start).Seconds()
		if errs != 0 {
			fmt.Fprintf(os.Stderr, "echo_bench: msg=%d: %d errors\n", size, errs)
			os.Exit(1)
		}
		fmt.Printf("E echo impl=go conns=%d msg_bytes=%d msgs_per_s=%.0f wall_s=%.2f\n",
			conns, size, float64(msgs)/wall, wall)
	}
	ln.Close()
}
