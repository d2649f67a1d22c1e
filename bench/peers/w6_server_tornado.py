"""W6 peer: Tornado, GET /plaintext.
Run by bench/w6_http_server:  python3 w6_server_tornado.py PORT"""
import asyncio
import sys

import tornado.web


class Plain(tornado.web.RequestHandler):
    def get(self):
        self.set_header("Content-Type", "text/plain")
        self.write("Hello, World!")


async def main():
    app = tornado.web.Application([(r"/plaintext", Plain)])
    app.listen(int(sys.argv[1]), address="127.0.0.1")
    await asyncio.Event().wait()


asyncio.run(main())
