/* concur::mpi, worker ranks: serve the chunks of one map until rank 0 ends
 * it. Runs in every rank but rank 0 (in a job of several ranks). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mpi_int.h"

/* Waits for the next message from rank 0 without spinning a core. */
static int wait_msg(cc_mpi_t *m) {
  unsigned idle = 0;
  for (;;) {
    int flag = 0;
    MPI_Status st;
    if (MPI_Iprobe(0, T_CHUNK, m->comm, &flag, &st) != MPI_SUCCESS)
      return -CC_EMPI;
    if (flag)
      return 0;
    cc__mpi_backoff(&idle, false);
  }
}

static int answer(cc_mpi_t *m, res_hdr_t *rh, const void *data) {
  MPI_Request r[2];
  if (MPI_Isend(rh, sizeof *rh, MPI_BYTE, 0, T_RHDR, m->comm, &r[0]) != MPI_SUCCESS ||
      MPI_Isend(data, (int)rh->len, MPI_BYTE, 0, T_RDATA, m->comm, &r[1]) != MPI_SUCCESS)
    return -CC_EMPI;
  return cc__mpi_wait(r, 2);
}

int cc__mpi_serve(cc_mpi_t *m, int kind, cc_pool_rec_fn rfn, cc_pool_fn bfn, void *ctx) {
  uint32_t map = m->map_seq;
  /* Buffers kept from chunk to chunk: a chunk is megabytes, and memory
   * freshly mapped for each would cost a page fault per page. */
  char *in = NULL, *out = NULL;
  size_t in_cap = 0, out_cap = 0;
  int err = 0;
  for (;;) {
    if ((err = wait_msg(m)) < 0)
      break;
    chunk_hdr_t h;
    if ((err = cc__mpi_recv(&h, sizeof h, 0, T_CHUNK, m->comm)) < 0)
      break;
    if (h.magic != CC_MPI_MAGIC) {
      err = -EBADMSG;
      break;
    }
    if (h.kind == K_END)
      break;
    /* A records chunk that fits goes straight into the shared block the
     * local pool's workers read in place. */
    bool shm = m->shm_in && m->shm_out && h.kind == K_REC &&
               h.len <= CC_MPI_CHUNK_BYTES && h.count * h.out_size <= CC_MPI_CHUNK_BYTES;
    char *dst = shm ? cc_shm_ptr(m->shm_in) : in;
    if (!shm && h.len > in_cap) {
      free(in);
      in_cap = h.len;
      if (!(dst = in = malloc(in_cap))) {
        err = -ENOMEM;
        break;
      }
    }
    if ((err = cc__mpi_recv(dst, h.len, 0, T_CDATA, m->comm)) < 0)
      break;
    res_hdr_t rh = {.magic = CC_MPI_MAGIC,
                    .map = h.map,
                    .id = h.id,
                    .count = h.count,
                    .fail_off = (uint64_t)-1};
    /* A chunk of another map, or of the other kind, means the ranks do not
     * make the same calls: every item of it fails, and rank 0 says so. */
    bool wrong = h.map != map || (int)h.kind != kind;
    int64_t t0 = cc__mpi_now_ns();
    if (h.kind == K_REC) {
      size_t len = h.count * h.out_size;
      if (shm) {
        /* out stays as it is: this chunk's output is the shared block */
      } else if (len > out_cap || !out) {
        free(out);
        out_cap = len > out_cap ? len : out_cap;
        out = malloc(out_cap ? out_cap : 1);
        if (!out)
          out_cap = 0;
      }
      char *o = shm ? cc_shm_ptr(m->shm_out) : out;
      size_t off = 0;
      int r = !o      ? -ENOMEM
              : wrong ? -EINVAL
                      : cc__mpi_run_records(m, rfn, ctx, dst, h.in_size, o, h.out_size,
                                            h.count, &off);
      if (r < 0 && off == (size_t)-1)
        off = 0;
      rh.err = r;
      rh.fail_off = r < 0 ? off : (uint64_t)-1;
      rh.compute_ns = (uint64_t)(cc__mpi_now_ns() - t0);
      rh.len = o ? len : 0;
      err = answer(m, &rh, o ? o : (void *)&rh);
    } else {
      char *res = NULL;
      size_t res_len = 0;
      int r = wrong ? -EINVAL
                    : cc__mpi_run_bytes(m, bfn, ctx, dst, h.len, h.count, &res, &res_len);
      if (r < 0) {
        /* Every item of the chunk fails with r. */
        free(res);
        res_len = cc__mpi_bytes_res_offset(h.count) + h.count * sizeof(uint64_t);
        res = calloc(1, res_len);
        if (!res) {
          err = -ENOMEM;
          break;
        }
        for (size_t i = 0; i < h.count; i++)
          ((int32_t *)res)[i] = r;
      }
      rh.compute_ns = (uint64_t)(cc__mpi_now_ns() - t0);
      rh.len = res_len;
      err = answer(m, &rh, res);
      free(res);
    }
    if (err < 0)
      break;
  }
  free(in);
  free(out);
  return err;
}
