# The multiprocessing / ProcessPoolExecutor examples of the seed articles.
cc_example(process_tasks TIMEOUT 30)
cc_example(pool_map TIMEOUT 60 LIBS m)
cc_example(pool_executor TIMEOUT 30)
