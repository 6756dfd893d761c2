/* The exit ledger record that peapod-pause appends for every child it reaps.
 *
 * The ledger is a file in the pod's run directory, opened O_WRONLY|O_APPEND by the agent and
 * handed to pause as `--ledger-fd N`. Each record is appended with exactly one write(2) of 32
 * bytes, so with O_APPEND records never interleave or tear, and a reader that sees a file size that
 * is not a multiple of 32 is looking at a short write (disk full) and ignores the tail.
 *
 * Layout (native byte order, which is little-endian on every architecture peapod supports):
 *
 *   offset size field
 *        0    4 pid          the child's pid as pause sees it (the pod's PID namespace)
 *        4    4 wait_status  the raw status from wait4(2): decode with WIFEXITED etc.
 *        8    8 realtime_ns  CLOCK_REALTIME at reap time, ns since the epoch (for users)
 *       16    8 boottime_ns  CLOCK_BOOTTIME at reap time, ns since boot (ordering across
 *                            wall-clock jumps, and telling this boot's records from old ones)
 *       24    4 magic        PEAPOD_EXIT_RECORD_MAGIC: the bytes "PPXL" in the file
 *       28    4 reserved     0
 *
 * pause depends on nothing, so this header includes nothing either; the runtime library defines
 * its own matching struct, and tests check both against records written by the real binary.
 */
#ifndef PEAPOD_PAUSE_EXIT_RECORD_H_
#define PEAPOD_PAUSE_EXIT_RECORD_H_

#define PEAPOD_EXIT_RECORD_MAGIC 0x4c585050u /* 'P' 'P' 'X' 'L' in little-endian memory */
#define PEAPOD_EXIT_RECORD_SIZE 32

struct peapod_exit_record {
  __INT32_TYPE__ pid;
  __INT32_TYPE__ wait_status;
  __INT64_TYPE__ realtime_ns;
  __INT64_TYPE__ boottime_ns;
  __UINT32_TYPE__ magic;
  __UINT32_TYPE__ reserved;
};

#ifdef __cplusplus
static_assert(sizeof(struct peapod_exit_record) == PEAPOD_EXIT_RECORD_SIZE,
              "the ledger format is 32 bytes per record");
#else
_Static_assert(sizeof(struct peapod_exit_record) == PEAPOD_EXIT_RECORD_SIZE,
               "the ledger format is 32 bytes per record");
#endif

#endif /* PEAPOD_PAUSE_EXIT_RECORD_H_ */
