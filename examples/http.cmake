# http examples: the seed articles' scraper (a gather of cc_http_get). It
# needs a server, so tests/http runs it against a private nginx
# (client_fetch.seed_scraper) instead of a plain example.* test.
cc_example(seed_scraper NORUN)
# http: the web server.
cc_example(hello_server TIMEOUT 30)
