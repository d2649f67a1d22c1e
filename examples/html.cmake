# html example: BeautifulSoup's "title and links of a page", on a file (no
# fetch): the test run parses a small page shipped beside it.
cc_example(html_links ARGS ${CMAKE_CURRENT_SOURCE_DIR}/data/sample.html
           https://docs.example.org/guide/intro.html TIMEOUT 30)
