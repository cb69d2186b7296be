// SPDX-License-Identifier: Apache-2.0
/* Reading another process's memory: see symbolize/procmem.h. */
#include "symbolize/procmem.h"

#include <errno.h>
#include <sys/types.h>
#include <sys/uio.h>

int procmem_read_process(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = {.iov_base = buf, .iov_len = len};
	struct iovec remote = {.iov_base = (void *)(uintptr_t)addr, .iov_len = len};
	ssize_t n = process_vm_readv(*(pid_t *)ctx, &local, 1, &remote, 1, 0);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EFAULT;
}
