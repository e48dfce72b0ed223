/* The metrics server's request line: metrics_request_status() on the bytes before the first
 * line end, as conn_read() hands them over (the rest of a request is never parsed).
 *
 * Beyond the sanitizers: the status is 200, 400, 404 or 405; 200 only for GET or HEAD of
 * /metrics (its path ends at '?' or the space), and HEAD is said for HEAD alone. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data;
	bool head;
	int status = metrics_request_status(line, size, &head);

	if (status != 200 && status != 400 && status != 404 && status != 405)
		abort();
	if (status == 200) {
		size_t m = head ? 4 : 3;

		if (memcmp(line, head ? "HEAD" : "GET", m) || size < m + 9 ||
		    memcmp(line + m, " /metrics", 9) || (line[m + 9] != ' ' && line[m + 9] != '?'))
			abort();
	}
	return 0;
}
