// W6 peer: Go net/http (standard library only), GET /plaintext -> "Hello, World!".
// Run by bench/w6_http_server (not by bench/run directly):
//   go run w6_server.go PORT [GOMAXPROCS]
package main

import (
	"net/http"
	"os"
	"runtime"
	"strconv"
)

func main() {
	port := os.Args[1]
	if len(os.Args) > 2 {
		n, _ := strconv.Atoi(os.Args[2])
		runtime.GOMAXPROCS(n)
	}
	body := []byte("Hello, World!")
	http.HandleFunc("/plaintext", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Server", "Go")
		w.Write(body)
	})
	if err := http.ListenAndServe("127.0.0.1:"+port, nil); err != nil {
		panic(err)
	}
}
