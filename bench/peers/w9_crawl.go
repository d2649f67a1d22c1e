// W9 peer: crawl the Python documentation breadth-first with net/http, 32
// requests in flight, parse each page with golang.org/x/net/html, count the
// words of its visible text (W9's rule in WORKLOADS.md) on every core.
// Built by bench/w9_crawl (Debian's golang-golang-x-net-dev):
//
//	GOPATH=/usr/share/gocode GO111MODULE=off go build -o w9_crawl_go w9_crawl.go
//	./w9_crawl_go http://127.0.0.1:PORT/index.html
package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/html"
)

func text(n *html.Node, b *[]string) {
	if n.Type == html.ElementNode && (n.Data == "script" || n.Data == "style" || n.Data == "noscript") {
		return
	}
	if n.Type == html.TextNode {
		*b = append(*b, n.Data)
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		text(c, b)
	}
}

func links(n *html.Node, out *[]string) {
	if n.Type == html.ElementNode && n.Data == "a" {
		for _, a := range n.Attr {
			if a.Key == "href" {
				*out = append(*out, a.Val)
			}
		}
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		links(c, out)
	}
}

func count(s string, m map[string]int) {
	s = strings.ToLower(s)
	start := -1
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] >= 'a' && s[i] <= 'z' {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 && i-start >= 3 {
			m[s[start:i]]++
		}
		start = -1
	}
}

func main() {
	start, _ := url.Parse(os.Args[1])
	dir := start.Path[:strings.LastIndex(start.Path, "/")+1]
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	t0 := time.Now()
	var mu sync.Mutex
	seen := map[string]bool{start.String(): true}
	total := map[string]int{}
	pages := 0
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	var visit func(u string)
	visit = func(u string) {
		defer wg.Done()
		sem <- struct{}{}
		resp, err := client.Get(u)
		if err != nil {
			<-sem
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		<-sem
		if resp.StatusCode != 200 {
			return
		}
		doc, err := html.Parse(strings.NewReader(string(body)))
		if err != nil {
			return
		}
		var ls []string
		links(doc, &ls)
		base, _ := url.Parse(u)
		var parts []string
		text(doc, &parts)
		m := map[string]int{}
		count(strings.Join(parts, " "), m)
		mu.Lock()
		pages++
		for w, c := range m {
			total[w] += c
		}
		for _, l := range ls {
			r, err := base.Parse(l)
			if err != nil {
				continue
			}
			r.Fragment = ""
			r.RawFragment = ""
			if r.Scheme != start.Scheme || r.Host != start.Host || !strings.HasPrefix(r.Path, dir) || !strings.HasSuffix(r.Path, ".html") {
				continue
			}
			k := r.String()
			if !seen[k] {
				seen[k] = true
				wg.Add(1)
				go visit(k)
			}
		}
		mu.Unlock()
	}
	wg.Add(1)
	go visit(start.String())
	wg.Wait()
	wall := time.Since(t0).Seconds()
	type wc struct {
		w string
		c int
	}
	var all []wc
	for w, c := range total {
		all = append(all, wc{w, c})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].c != all[j].c {
			return all[i].c > all[j].c
		}
		return all[i].w < all[j].w
	})
	var top []string
	for i := 0; i < 10 && i < len(all); i++ {
		top = append(top, fmt.Sprintf("%s:%d", all[i].w, all[i].c))
	}
	fmt.Printf("W9 crawl impl=go pages=%d wall_s=%.3f pages_per_s=%.0f top10=%s\n", pages, wall, float64(pages)/wall, strings.Join(top, ","))
}
