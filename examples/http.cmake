# http: the web server.
cc_example(hello_server TIMEOUT 30)
