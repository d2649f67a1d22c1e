/* Two tasks in two processes: Python's
 *
 *     process1 = multiprocessing.Process(target=execute_task, args=(task1,))
 *     process2 = multiprocessing.Process(target=execute_task, args=(task2,))
 *     process1.start(); process2.start()
 *     process1.join(); process2.join()
 *
 * written with concur. Each child reports back through a Pipe, and the
 * parent also shows the exit code (Process.exitcode). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <concur.h>

typedef struct task {
  const char *name;
  long n; /* sum the squares below n */
  cc_conn_t *report;
} task_t;

static intptr_t execute_task(void *arg) {
  task_t *t = arg;
  long sum = 0;
  for (long i = 0; i < t->n; i++)
    sum += i * i;
  char msg[128];
  int len = snprintf(msg, sizeof msg, "%s in pid %d: sum of squares below %ld = %ld",
                     t->name, (int)getpid(), t->n, sum);
  return cc_conn_send(t->report, msg, (size_t)len, CC_FOREVER) == 0 ? 0 : 1;
}

int main(void) {
  cc_conn_t *rx, *tx;
  if (cc_pipe_new(&rx, &tx, false, 0) < 0)
    return 1;
  task_t task1 = {"task1", 1000, tx}, task2 = {"task2", 2000000, tx};

  cc_process_t *process1, *process2;
  if (cc_process_start(&process1, execute_task, &task1, NULL) < 0 ||
      cc_process_start(&process2, execute_task, &task2, NULL) < 0)
    return 1;
  cc_conn_close(tx); /* the children hold their own copies */

  for (int i = 0; i < 2; i++) {
    void *msg;
    size_t len;
    if (cc_conn_recv(rx, &msg, &len, cc_deadline_in(10000)) < 0)
      return 1;
    printf("%.*s\n", (int)len, (char *)msg);
    free(msg);
  }
  int code1, code2;
  if (cc_process_join(process1, CC_FOREVER, &code1) < 0 ||
      cc_process_join(process2, CC_FOREVER, &code2) < 0)
    return 1;
  printf("exit codes: %d %d\n", code1, code2);
  cc_process_free(process1);
  cc_process_free(process2);
  cc_conn_close(rx);
  return code1 || code2;
}
