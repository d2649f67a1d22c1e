/* Tracing a run: tasks, blocking calls on the thread pool and spans of your
 * own, written as a Chrome trace-event file (viztracer's format).
 *
 *   python:  from viztracer import VizTracer
 *            with VizTracer(output_file="run.json"):
 *                asyncio.run(main())          # + log_event("parse") spans
 *
 * Usually you set CONCUR_TRACE=run.json instead of calling cc_trace_start;
 * then open the file in Perfetto or draw it:
 *   concur trace run.json -o timeline.svg
 */
#include <concur.h>
#include <stdio.h>
#include <unistd.h>

static intptr_t blocking_read(void *arg) {
  usleep(3000); /* a slow disk */
  return (intptr_t)arg;
}

static intptr_t worker(void *arg) {
  intptr_t id = (intptr_t)arg, v = 0;
  for (int i = 0; i < 3; i++) {
    cc_trace_span_t s;
    cc_trace_span_begin(&s, "fetch and parse");   /* with log_event("..."): */
    cc_sleep(2);                                  /* await network */
    int r = cc_to_thread(blocking_read, arg, &v); /* await asyncio.to_thread */
    cc_trace_span_end(&s);
    if (r < 0)
      return r;
  }
  return id == v ? 0 : -1;
}

static intptr_t run(void *arg) {
  cc_task_t *t[3];
  for (intptr_t i = 0; i < 3; i++)
    if (cc_spawn(&t[i], worker, (void *)i) < 0)
      return -1;
  cc_trace_instant("all workers started");
  return cc_gather(t, 3, NULL);
}

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : "/tmp/concur-trace-spans-%p.json";
  int r = cc_trace_start(path); /* -EALREADY if CONCUR_TRACE is set: fine */
  if (r < 0 && r != -EALREADY) {
    fprintf(stderr, "trace: %s\n", cc_strerror(r));
    return 1;
  }
  intptr_t res;
  r = cc_run(run, NULL, &res);
  if (r == 0 && cc_trace_stop() == 0)
    printf("trace written (%s, %%p is the pid); draw it with concur trace FILE -o "
           "timeline.svg\n",
           path);
  return r < 0 || res != 0;
}
