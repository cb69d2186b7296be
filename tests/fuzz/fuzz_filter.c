// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target: the filter and time arguments of the profile endpoints
 * (hostile query strings, already %-decoded by the server). The first byte
 * picks the argument; a filter that parsed is matched against a sample's
 * labels, and the time parser's answers are checked for range.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "exporter/labels.h"
#include "exporter/query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct pprof_label labels[] = {
	    {.key = "pid", .num = 4242},
	    {.key = "comm", .str = "nginx"},
	    {.key = "cgroup", .str = "/system.slice/docker-0123.scope"},
	    {.key = "container_id", .str = "0123456789abcdef"},
	    {.key = "unit", .str = "nginx.service"},
	};
	struct label_filter f;
	const char *arg;
	int64_t ns;
	char *s;

	if (size < 1)
		return 0;
	s = malloc(size);
	if (!s)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	memset(&f, 0, sizeof(f));
	if (data[0] % 6 == 5) {
		if (query_parse_time(s, &ns) == 0 && ns < 0)
			abort(); /* no sign is accepted: nothing before 1970 */
	} else {
		arg = label_filter_args[data[0] % 5];
		if (!label_filter_set(&f, arg, s)) {
			if (f.nr_pids > FILTER_MAX_PIDS)
				abort();
			(void)label_filter_match(&f, labels, sizeof(labels) / sizeof(labels[0]));
		}
	}
	free(s);
	return 0;
}
