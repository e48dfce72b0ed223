/* A whole small file read from a descriptor, as key files and config files are read. */
#ifndef SEALNET_READFILE_H
#define SEALNET_READFILE_H

#include <stddef.h>

/* Reads fd into buf[*len..size) until buf is full or the file ends, calling read(2) again
 * when a signal interrupts it; *len counts what was read, on an error too. Returns 1 at the
 * end of the file, 0 when buf filled up first (whether more follows is not known), or
 * -errno of read(2). */
int readfile_fill(int fd, void *buf, size_t size, size_t *len);

#endif
