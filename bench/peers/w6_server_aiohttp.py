"""W6 peer: aiohttp.web (+uvloop when installed), GET /plaintext.
Run by bench/w6_http_server:  python3 w6_server_aiohttp.py PORT [uvloop|asyncio]"""
import asyncio
import sys

from aiohttp import web


async def plaintext(request):
    return web.Response(text="Hello, World!")


def main():
    port = int(sys.argv[1])
    if len(sys.argv) < 3 or sys.argv[2] == "uvloop":
        try:
            import uvloop
            asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        except ImportError:
            pass
    app = web.Application()
    app.router.add_get("/plaintext", plaintext)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


main()
