// W7 http-client, Go peer (net/http, standard library only): N GETs of URL
// with 64 requests in flight over keep-alive connections, each body read to
// its end and checked for its length. Run by bench/w7_http_client, which
// starts the nginx and passes its URL (once with the default GOMAXPROCS and
// once with GOMAXPROCS=1).
//
//	w7_http_client N URL [expected-body-bytes]
//
// Prints: W7 http-client impl=go[-maxprocs1] n=... wall_s=... rps=...
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: w7_http_client N URL [bytes] (run by bench/w7_http_client)")
		os.Exit(77)
	}
	n, err := strconv.Atoi(os.Args[1])
	if err != nil || n <= 0 {
		fmt.Fprintln(os.Stderr, "bad N")
		os.Exit(2)
	}
	url := os.Args[2]
	want := -1
	if len(os.Args) > 3 {
		want, _ = strconv.Atoi(os.Args[3])
	}
	const inflight = 64
	tr := &http.Transport{MaxIdleConns: inflight, MaxIdleConnsPerHost: inflight, MaxConnsPerHost: inflight}
	client := &http.Client{Transport: tr}
	var next, bad int64
	var wg sync.WaitGroup
	t0 := time.Now()
	for w := 0; w < inflight; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 64*1024)
			for atomic.AddInt64(&next, 1) <= int64(n) {
				resp, err := client.Get(url)
				if err != nil {
					atomic.AddInt64(&bad, 1)
					continue
				}
				total := 0
				for {
					k, err := resp.Body.Read(buf)
					total += k
					if err == io.EOF {
						break
					}
					if err != nil {
						atomic.AddInt64(&bad, 1)
						break
					}
				}
				resp.Body.Close()
				if resp.StatusCode != 200 || (want >= 0 && total != want) {
					atomic.AddInt64(&bad, 1)
				}
			}
		}()
	}
	wg.Wait()
	wall := time.Since(t0).Seconds()
	impl := "go"
	if os.Getenv("GOMAXPROCS") == "1" {
		impl = "go-maxprocs1"
	}
	fmt.Printf("W7 http-client impl=%s n=%d wall_s=%.3f rps=%.0f\n", impl, n, wall, float64(n)/wall)
	if bad != 0 {
		fmt.Fprintf(os.Stderr, "%d bad responses\n", bad)
		os.Exit(1)
	}
}
