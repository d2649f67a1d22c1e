# The threading.Thread and concurrent.futures examples of the seed articles,
# written with concur, and asyncio.to_thread.
cc_example(threads_basic TIMEOUT 30)
cc_example(futures_pool TIMEOUT 30)
cc_example(to_thread TIMEOUT 30)
