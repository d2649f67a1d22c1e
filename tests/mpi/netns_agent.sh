#!/bin/sh
# mpirun's launch agent for the two-hosts test (--mca plm_rsh_agent): called
# as ssh would be, `agent <host> <command...>`, it runs the command (the
# remote orted) inside the network namespace $CC_MPI_NETNS_REMOTE instead of
# on another machine. It also gets a host name of its own (a UTS namespace)
# and a private /dev/shm, as a second machine has: with the same host name
# both sides would put their shared-memory segments under the same names.
host=$1
shift
[ -n "$CC_MPI_NETNS_REMOTE" ] || { echo "netns_agent: CC_MPI_NETNS_REMOTE not set" >&2; exit 1; }
exec ip netns exec "$CC_MPI_NETNS_REMOTE" unshare --uts --mount /bin/sh -c \
  "hostname cc-remote-$CC_MPI_NETNS_REMOTE && mount -t tmpfs -o size=256m tmpfs /dev/shm && $*"
