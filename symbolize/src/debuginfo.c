// SPDX-License-Identifier: Apache-2.0
/*
 * Separate debug files by build id and .gnu_debuglink (see debuginfo.h).
 * Only ELF64 little-endian files are considered: the DWARF reader takes
 * nothing else.
 */
#include "debuginfo.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "common/safefile.h"

#define MAX_SHNUM    (1u << 20)
#define MAX_SHSTRTAB (16u << 20)
#define MAX_NOTE     (1u << 16) /* bytes of one SHT_NOTE section scanned */
#define MAX_ID_BYTES 64
/*
 * Caps on candidate debug files, checked on st_size at open (safefile.h): a
 * build-id file is only parsed, so the cap is generous; a debuglink
 * candidate is read whole for its CRC on the drain thread, so a sparse or
 * endless file planted next to a binary must not be read for minutes.
 */
#define DEBUGINFO_MAX_FILE (4ull << 30)
#define DEBUGINFO_MAX_CRC  (1ull << 30)

static const char *const default_dirs[] = {"/usr/lib/debug", NULL};

static int read_at(int fd, uint64_t off, void *buf, size_t len)
{
	size_t done = 0;
	ssize_t got;

	while (done < len) {
		got = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return got < 0 ? -errno : -EINVAL;
		done += (size_t)got;
	}
	return 0;
}

struct shdrs {
	Elf64_Shdr *sh;
	uint64_t nr;
	char *names;
	uint64_t names_sz;
};

static void shdrs_fini(struct shdrs *s)
{
	free(s->sh);
	free(s->names);
}

static bool in_file(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

static int shdrs_read(int fd, struct shdrs *s)
{
	Elf64_Ehdr eh;
	Elf64_Shdr sh0;
	struct stat st;
	uint64_t nr, strndx;
	int err;

	memset(s, 0, sizeof(*s));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		return -ENOEXEC;
	if (read_at(fd, 0, &eh, sizeof(eh)) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB)
		return -ENOEXEC;
	if (!eh.e_shoff || eh.e_shentsize != sizeof(Elf64_Shdr))
		return -EINVAL;
	nr = eh.e_shnum;
	strndx = eh.e_shstrndx;
	if (nr == 0 || strndx == SHN_XINDEX) {
		if (read_at(fd, eh.e_shoff, &sh0, sizeof(sh0)))
			return -EINVAL;
		if (nr == 0)
			nr = sh0.sh_size;
		if (strndx == SHN_XINDEX)
			strndx = sh0.sh_link;
	}
	if (!nr || nr > MAX_SHNUM || strndx >= nr ||
	    !in_file(eh.e_shoff, nr * sizeof(Elf64_Shdr), (uint64_t)st.st_size))
		return -EINVAL;
	s->sh = malloc(nr * sizeof(*s->sh));
	if (!s->sh)
		return -ENOMEM;
	s->nr = nr;
	err = read_at(fd, eh.e_shoff, s->sh, nr * sizeof(*s->sh));
	if (err)
		goto fail;
	s->names_sz = s->sh[strndx].sh_size;
	if (s->sh[strndx].sh_type == SHT_NOBITS || s->names_sz > MAX_SHSTRTAB ||
	    !in_file(s->sh[strndx].sh_offset, s->names_sz, (uint64_t)st.st_size)) {
		err = -EINVAL;
		goto fail;
	}
	s->names = malloc(s->names_sz + 1);
	if (!s->names) {
		err = -ENOMEM;
		goto fail;
	}
	err = read_at(fd, s->sh[strndx].sh_offset, s->names, s->names_sz);
	if (err)
		goto fail;
	s->names[s->names_sz] = '\0';
	return 0;
fail:
	shdrs_fini(s);
	return err;
}

static const char *shdr_name(const struct shdrs *s, uint64_t i)
{
	return s->sh[i].sh_name < s->names_sz ? s->names + s->sh[i].sh_name : "";
}

int debuginfo_probe_fd(int fd, struct debuginfo_probe *out)
{
	struct shdrs s;
	uint64_t i;
	int err;

	memset(out, 0, sizeof(*out));
	err = shdrs_read(fd, &s);
	if (err)
		return err;
	for (i = 1; i < s.nr; i++) {
		const Elf64_Shdr *sh = &s.sh[i];
		const char *name = shdr_name(&s, i);

		if (sh->sh_type == SHT_SYMTAB)
			out->has_symtab = true;
		else if (!strcmp(name, ".debug_info") && sh->sh_type != SHT_NOBITS && sh->sh_size)
			out->has_debug_info = true;
		else if (!strcmp(name, ".gnu_debuglink") && sh->sh_type != SHT_NOBITS &&
			 sh->sh_size >= 8 && sh->sh_size <= DEBUGINFO_MAX_LINK + 8 &&
			 !out->has_link) {
			/* NUL-terminated name, padded to 4, then the CRC32. */
			char buf[DEBUGINFO_MAX_LINK + 8];
			size_t len;

			if (read_at(fd, sh->sh_offset, buf, sh->sh_size))
				continue;
			len = strnlen(buf, sh->sh_size - 4);
			if (!len || len >= DEBUGINFO_MAX_LINK ||
			    (len + 4) / 4 * 4 + 4 > sh->sh_size || strchr(buf, '/'))
				continue;
			memcpy(out->link, buf, len);
			out->link[len] = '\0';
			memcpy(&out->link_crc, buf + (len + 4) / 4 * 4, 4);
			out->has_link = true;
		}
	}
	shdrs_fini(&s);
	return 0;
}

static void hex(const unsigned char *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 0xf];
	}
	out[2 * n] = '\0';
}

static bool scan_notes(const unsigned char *p, size_t len, char *out, size_t out_sz)
{
	size_t off = 0;

	while (len - off >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh;
		size_t name_sz, desc_sz;

		memcpy(&nh, p + off, sizeof(nh));
		off += sizeof(nh);
		name_sz = ((size_t)nh.n_namesz + 3) & ~(size_t)3;
		desc_sz = ((size_t)nh.n_descsz + 3) & ~(size_t)3;
		if (nh.n_namesz > len || nh.n_descsz > len || name_sz > len - off ||
		    desc_sz > len - off - name_sz)
			return false;
		if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
		    !memcmp(p + off, "GNU", 4) && nh.n_descsz && nh.n_descsz <= MAX_ID_BYTES &&
		    out_sz > 2 * (size_t)nh.n_descsz) {
			hex(p + off + name_sz, nh.n_descsz, out);
			return true;
		}
		off += name_sz + desc_sz;
	}
	return false;
}

int debuginfo_build_id_fd(int fd, char *out, size_t out_sz)
{
	struct shdrs s;
	unsigned char *buf = NULL;
	bool found = false;
	uint64_t i;

	if (out_sz)
		out[0] = '\0';
	if (shdrs_read(fd, &s))
		return -ENOENT;
	for (i = 1; i < s.nr && !found; i++) {
		const Elf64_Shdr *sh = &s.sh[i];

		if (sh->sh_type != SHT_NOTE || !sh->sh_size || sh->sh_size > MAX_NOTE)
			continue;
		buf = malloc(sh->sh_size);
		if (buf && !read_at(fd, sh->sh_offset, buf, sh->sh_size))
			found = scan_notes(buf, sh->sh_size, out, out_sz);
		free(buf);
	}
	shdrs_fini(&s);
	return found ? 0 : -ENOENT;
}

/* CRC32 of the file behind @fd, reading at most DEBUGINFO_MAX_CRC bytes (-EFBIG past it). */
static int crc_fd(int fd, uint32_t *out)
{
	unsigned char buf[65536];
	uLong crc = crc32(0L, Z_NULL, 0);
	uint64_t off = 0;
	ssize_t got;

	for (;;) {
		got = pread(fd, buf, sizeof(buf), (off_t)off);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (!got)
			break;
		off += (uint64_t)got;
		/* The size was checked at open; a file growing under us is cut off here. */
		if (off > DEBUGINFO_MAX_CRC) {
			safefile_count(SAFEFILE_TOO_BIG);
			return -EFBIG;
		}
		crc = crc32(crc, buf, (uInt)got);
	}
	*out = (uint32_t)crc;
	return 0;
}

/* A host debug dir's file by build id: regular, non-blocking, capped. */
static int try_build_id(const char *path, const char *id)
{
	char got[2 * MAX_ID_BYTES + 1];
	int fd = safefile_open(path, DEBUGINFO_MAX_FILE);

	if (fd < 0)
		return fd;
	if (debuginfo_build_id_fd(fd, got, sizeof(got)) || strcmp(got, id)) {
		close(fd);
		return -ENOENT;
	}
	return fd;
}

/*
 * A debuglink candidate: @path resolved inside @root (a process's root, the
 * link's directory is the process's), or on the host when @root is NULL.
 */
static int try_link(const char *root, const char *path, uint32_t want)
{
	uint32_t crc;
	int fd;

	fd = root ? safefile_open_in_root(root, path, DEBUGINFO_MAX_CRC)
		  : safefile_open(path, DEBUGINFO_MAX_CRC);
	if (fd < 0)
		return fd;
	if (crc_fd(fd, &crc) || crc != want) {
		close(fd);
		return -ENOENT;
	}
	return fd;
}

/* Directory part of @path ("/usr/bin/ls" -> "/usr/bin"), into @out. */
static bool dir_of(const char *path, char *out, size_t out_sz)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (!slash || path[0] != '/')
		return false;
	n = (size_t)(slash - path);
	if (n >= out_sz)
		return false;
	memcpy(out, path, n);
	out[n] = '\0';
	return true;
}

bool debuginfo_fd_is_trusted(int fd)
{
	struct stat st;

	return !fstat(fd, &st) && S_ISREG(st.st_mode) && st.st_uid == 0 &&
	       !(st.st_mode & (S_IWGRP | S_IWOTH));
}

int debuginfo_find(const struct debuginfo_query *q)
{
	return debuginfo_find_ex(q, NULL);
}

int debuginfo_find_ex(const struct debuginfo_query *q, bool *is_trusted)
{
	const char *const *dirs = q->debug_dirs ? q->debug_dirs : default_dirs;
	char path[PATH_MAX], bindir[PATH_MAX];
	size_t i;
	int fd, n;

	if (q->build_id && strlen(q->build_id) > 2 && strlen(q->build_id) <= 2 * MAX_ID_BYTES) {
		for (i = 0; dirs[i]; i++) {
			n = snprintf(path, sizeof(path), "%s/.build-id/%.2s/%s.debug", dirs[i],
				     q->build_id, q->build_id + 2);
			if (n < 0 || (size_t)n >= sizeof(path))
				continue;
			fd = try_build_id(path, q->build_id);
			if (fd >= 0)
				goto found_host;
		}
	}
	if (!q->probe || !q->probe->has_link || !q->bin_path ||
	    !dir_of(q->bin_path, bindir, sizeof(bindir)))
		return -ENOENT;
	/*
	 * Next to the binary and in its .debug/, resolved inside the process's
	 * root (never "root" + path as a string: an absolute symlink there would
	 * then resolve against the agent's own root).
	 */
	n = snprintf(path, sizeof(path), "%s/%s", bindir, q->probe->link);
	if (n > 0 && (size_t)n < sizeof(path)) {
		fd = try_link(q->root, path, q->probe->link_crc);
		if (fd >= 0)
			goto found_root;
	}
	n = snprintf(path, sizeof(path), "%s/.debug/%s", bindir, q->probe->link);
	if (n > 0 && (size_t)n < sizeof(path)) {
		fd = try_link(q->root, path, q->probe->link_crc);
		if (fd >= 0)
			goto found_root;
	}
	for (i = 0; dirs[i]; i++) {
		n = snprintf(path, sizeof(path), "%s%s/%s", dirs[i], bindir, q->probe->link);
		if (n < 0 || (size_t)n >= sizeof(path))
			continue;
		fd = try_link(NULL, path, q->probe->link_crc);
		if (fd >= 0)
			goto found_host;
	}
	return -ENOENT;
found_root:
	/* Next to the binary: the process's (a container's) file unless root is the host's. */
	if (is_trusted)
		*is_trusted = !q->root && debuginfo_fd_is_trusted(fd);
	return fd;
found_host:
	if (is_trusted)
		*is_trusted = debuginfo_fd_is_trusted(fd);
	return fd;
}
