// W8 html-extract, Go peer (see WORKLOADS.md): the first <title> and every
// <a href> (the empty value included) of each HTML file under DIR, with
// golang.org/x/net/html (Debian golang-golang-x-net-dev), in one goroutine.
//
//	GOPATH=/usr/share/gocode GO111MODULE=off go run w8_html_extract.go [DIR] [ROUNDS]
//
// The files are read into memory first, then timed over ROUNDS rounds
// (default 3) of one pass each, as concur's program does. Two lines:
// impl=go-tokenizer (html.Tokenizer, the streaming path) and impl=go-parser
// (html.Parse, the tree, then walked).
//
// Prints: W8 html-extract impl=go-... workers=1 files mb mb_per_s median_mb_per_s links titles
package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

func tokenize(doc []byte) (links, titles int) {
	z := html.NewTokenizer(bytes.NewReader(doc))
	inTitle, haveTitle := false, false
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			if len(name) == 1 && name[0] == 'a' {
				for hasAttr {
					var k, v []byte
					k, v, hasAttr = z.TagAttr()
					if string(k) == "href" {
						_ = v
						links++
						break
					}
				}
			} else if !haveTitle && string(name) == "title" {
				haveTitle, inTitle = true, true
				titles++
			}
		case html.TextToken:
			if inTitle {
				_ = z.Text()
			}
		case html.EndTagToken:
			inTitle = false
		}
	}
}

func parse(doc []byte) (links, titles int) {
	root, err := html.Parse(bytes.NewReader(doc))
	if err != nil {
		return
	}
	haveTitle := false
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			if n.DataAtom == atom.A {
				for _, a := range n.Attr {
					if a.Namespace == "" && a.Key == "href" {
						links++
						break
					}
				}
			} else if n.DataAtom == atom.Title && !haveTitle {
				haveTitle = true
				titles++
				var sb strings.Builder
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					if c.Type == html.TextNode {
						sb.WriteString(c.Data)
					}
				}
				_ = sb.String()
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	return
}

func main() {
	dir := "/usr/share/doc/python3-doc/html/"
	rounds := 3
	if os.Getenv("BENCH_QUICK") == "1" {
		rounds = 1
	}
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	if len(os.Args) > 2 {
		if r, err := strconv.Atoi(os.Args[2]); err == nil && r > 0 {
			rounds = r
		}
	}
	var docs [][]byte
	total := 0
	root, _ := filepath.EvalSymlinks(dir)
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() && strings.HasSuffix(p, ".html") {
			if b, err := os.ReadFile(p); err == nil {
				docs = append(docs, b)
				total += len(b)
			}
		}
		return nil
	})
	if len(docs) == 0 {
		fmt.Fprintf(os.Stderr, "w8_html_extract.go: no HTML files under %s\n", dir)
		os.Exit(77)
	}
	run := func(impl string, f func([]byte) (int, int)) {
		times := make([]float64, rounds)
		var links, titles int
		for r := 0; r < rounds; r++ {
			links, titles = 0, 0
			t0 := time.Now()
			for _, d := range docs {
				l, t := f(d)
				links += l
				titles += t
			}
			times[r] = time.Since(t0).Seconds()
		}
		sort.Float64s(times)
		mb := float64(total) / 1e6
		fmt.Printf("W8 html-extract impl=%s workers=1 files=%d mb=%.1f mb_per_s=%.1f median_mb_per_s=%.1f links=%d titles=%d\n",
			impl, len(docs), mb, mb/times[0], mb/times[rounds/2], links, titles)
	}
	run("go-tokenizer", tokenize)
	run("go-parser", parse)
}
