/* concur: Python's concurrency toolkit for C. The umbrella header. */
#ifndef CONCUR_H
#define CONCUR_H

#include "concur/common.h"
#include "concur/version.h"
#include "concur/error.h"
#include "concur/loop.h"
#include "concur/task.h"
#include "concur/sync.h"
#include "concur/future.h"
#include "concur/process.h"
#include "concur/pool.h"
#include "concur/thread.h"
#include "concur/executor.h"
#include "concur/net.h"
#include "concur/stream.h"
#include "concur/tls.h"
#include "concur/http.h"
#include "concur/server.h"
#include "concur/html.h"
#include "concur/url.h"
#include "concur/trace.h"
#include "concur/progress.h"

#endif
