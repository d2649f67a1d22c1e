# The asyncio examples of the seed articles, written with concur.
cc_example(asyncio_gather TIMEOUT 30)
cc_example(create_task TIMEOUT 30)
cc_example(producer_consumer TIMEOUT 30)
cc_example(timeouts TIMEOUT 30)
cc_example(sleepers ARGS 20000 TIMEOUT 60)
