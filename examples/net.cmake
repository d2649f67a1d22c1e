# net examples: the asyncio-documentation echo server and a client that
# opens many concurrent connections (10,000 by default; the test run uses
# 1,000 against an in-process server to stay quick).
cc_example(echo_server ARGS 0 200 TIMEOUT 30)
cc_example(echo_client ARGS 1000 TIMEOUT 60)
