#include "readfile.h"

#include <errno.h>
#include <unistd.h>

int readfile_fill(int fd, void *buf, size_t size, size_t *len)
{
	ssize_t n;

	while (*len < size) {
		n = read(fd, (char *)buf + *len, size - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 1;
		*len += (size_t)n;
	}
	return 0;
}
