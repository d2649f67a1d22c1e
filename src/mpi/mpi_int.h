/* concur::mpi internals: the handle, the wire protocol between rank 0 and
 * the worker ranks, and the checkpoint file.
 *
 * Protocol (on a private duplicate of MPI_COMM_WORLD, so that the user's
 * own messages never match ours). Per chunk, rank 0 sends a chunk_hdr_t
 * (T_CHUNK) followed by its data (T_CDATA); the worker answers with a
 * res_hdr_t (T_RHDR) followed by the results (T_RDATA). A worker handles its
 * chunks in the order they were sent and MPI does not let messages of one
 * pair and tag overtake each other, so rank 0 matches each answer with the
 * oldest chunk in flight at that worker. A map ends with a chunk_hdr_t of
 * kind K_END to every worker.
 *
 * Data layouts:
 *   records, chunk:  count * in_size bytes;  result: count * out_size bytes
 *   bytes, chunk:    u64 len[count], then the items back to back
 *   bytes, result:   i32 status[count] (padded to 8), u64 len[count], data
 */
#ifndef CC_MPI_INT_H
#define CC_MPI_INT_H

#include <mpi.h>
#include <pthread.h>
#include <stdint.h>

#include "concur.h"
#include "concur/mpi.h"

enum { T_CHUNK = 1, T_CDATA = 2, T_RHDR = 3, T_RDATA = 4 };
enum { K_REC = 1, K_BYTES = 2, K_END = 3 };

#define CC_MPI_MAGIC 0x63634d50u /* "ccMP" */

typedef struct chunk_hdr {
  uint32_t magic, map, kind, pad;
  uint64_t id, first, count, in_size, out_size, len;
} chunk_hdr_t;

typedef struct res_hdr {
  uint32_t magic, map;
  int32_t err; /* records: error of the lowest failed item, or 0 */
  uint32_t pad;
  uint64_t id, count, fail_off, len;
  uint64_t compute_ns; /* time the worker spent running the chunk */
} res_hdr_t;

/* A chunk's results as stored in the checkpoint file, after its header. */
typedef struct ck_rec {
  uint32_t magic, map, kind;
  int32_t err;
  uint64_t n, in_size, out_size, first, count, fail_off, len;
} ck_rec_t;

/* Largest chunk data rank 0 sends (a chunk of records holds at least one,
 * whatever its size). */
#define CC_MPI_CHUNK_BYTES (4u << 20)

#define CK_FILE_MAGIC "CCMPICK1"
#define CK_REC_MAGIC  0x4b43636au

/* One chunk recorded in the checkpoint read at start-up (opts.resume). */
typedef struct ck_entry {
  ck_rec_t rec;
  off_t data_off;
} ck_entry_t;

struct cc_mpi {
  int rank, size, provided;
  bool we_init;     /* we called MPI_Init_thread (and so MPI_Finalize) */
  pthread_t thread; /* the thread that may call when provided < SERIALIZED */
  MPI_Comm comm;
  cc_pool_t *pool; /* the local pool, or NULL */
  /* Shared memory made before the pool: a worker rank receives a records
   * chunk into shm_in and the pool's workers read it and write shm_out in
   * place, which is sent back as it is (no copy through the pool's rings). */
  cc_shm_t *shm_in, *shm_out;
  int threads; /* >0: items run on that many threads, no pool */
  int local;   /* workers of this rank that run items */
  cc_mpi_opts_t o;
  uint32_t map_seq; /* maps started so far on this rank */
  size_t failed_index, resumed;
  /* checkpoint (rank 0) */
  int ck_fd;
  char *ck_path;
  ck_entry_t *ck;
  size_t nck;
};

/* Result of one chunk as a worker computed it. */
int cc__mpi_serve(cc_mpi_t *m, int kind, cc_pool_rec_fn rfn, cc_pool_fn bfn, void *ctx);
int cc__mpi_check_caller(cc_mpi_t *m);
/* Runs one chunk in the calling rank (a job of one rank, or a worker). */
int cc__mpi_run_records(cc_mpi_t *m, cc_pool_rec_fn fn, void *ctx, const char *in,
                        size_t in_size, char *out, size_t out_size, size_t count,
                        size_t *fail_off);
/* Bytes chunk: `data` in the chunk layout; *res receives a malloc'd result in
 * the result layout. */
int cc__mpi_run_bytes(cc_mpi_t *m, cc_pool_fn fn, void *ctx, const char *data, size_t len,
                      size_t count, char **res, size_t *res_len);
size_t cc__mpi_bytes_res_offset(size_t count); /* where len[] starts */

/* Checkpoint (rank 0). */
int cc__mpi_ck_append(cc_mpi_t *m, const ck_rec_t *rec, const void *data);
int cc__mpi_ck_read(cc_mpi_t *m, const ck_entry_t *e, void *buf);
/* Rank 0's note of what is done, written by the SIGTERM handler. */
void cc__mpi_note(cc_mpi_t *m, uint32_t map, size_t done, size_t n, size_t chunks,
                  size_t resumed);
void cc__mpi_note_clear(void);

int64_t cc__mpi_now_ns(void);
void cc__mpi_backoff(unsigned *idle, bool busy);
/* Blocking transfers that do not spin a core: nonblocking calls completed
 * by polling with cc__mpi_backoff() (Open MPI's own blocking calls spin,
 * which on an oversubscribed machine starves the rank that must progress
 * the other end). Return 0 or -CC_EMPI. */
int cc__mpi_wait(MPI_Request *reqs, int n);
int cc__mpi_send(const void *buf, size_t len, int to, int tag, MPI_Comm comm);
int cc__mpi_recv(void *buf, size_t len, int from, int tag, MPI_Comm comm);

#endif
