// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer: stacks (one a line, frames separated by ';', the first byte of
 * the input picks a byte budget) through speedscope_add, then the file.
 * Checks what must hold whatever the names: the file is valid UTF-8, has no
 * raw control byte, parses as JSON (a strict scanner of its own), and stays
 * within the budget.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"
#include "common/utf8.h"
#include "exporter/speedscope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool value(const char **p, int depth);

static void ws(const char **p)
{
	while (**p == ' ' || **p == '\n')
		(*p)++;
}

static bool string(const char **p)
{
	const char *s = *p;

	if (*s++ != '"')
		return false;
	while (*s != '"') {
		if ((unsigned char)*s < 0x20)
			return false;
		if (*s == '\\') {
			s++;
			if (*s == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!strchr("0123456789abcdefABCDEF", s[i]) || !s[i])
						return false;
				s += 4;
			} else if (!*s || !strchr("\"\\/bfnrt", *s)) {
				return false;
			}
		}
		s++;
	}
	*p = s + 1;
	return true;
}

static bool number(const char **p)
{
	const char *s = *p;

	while (*s >= '0' && *s <= '9')
		s++;
	if (s == *p)
		return false;
	*p = s;
	return true;
}

static bool seq(const char **p, char close, bool keyed, int depth)
{
	(*p)++;
	ws(p);
	if (**p == close) {
		(*p)++;
		return true;
	}
	for (;;) {
		if (keyed) {
			if (!string(p))
				return false;
			ws(p);
			if (*(*p)++ != ':')
				return false;
		}
		if (!value(p, depth + 1))
			return false;
		ws(p);
		if (**p == close) {
			(*p)++;
			return true;
		}
		if (*(*p)++ != ',')
			return false;
	}
}

static bool value(const char **p, int depth)
{
	if (depth > 16)
		return false;
	ws(p);
	if (**p == '{')
		return seq(p, '}', true, depth);
	if (**p == '[')
		return seq(p, ']', false, depth);
	if (**p == '"')
		return string(p);
	return number(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *end = s + size, *nl, *p;
	struct speedscope *ss = NULL;
	size_t budget = size ? 256u + (size_t)data[0] * 64u : 0;
	const char *frames[64];
	char *line = NULL, *name = NULL;
	struct strbuf sb;

	strbuf_init(&sb, budget ? budget : 1u << 20);
	if (speedscope_new(budget, &ss))
		return 0;
	while (s < end) {
		size_t nr = 0;
		char *tok, *save = NULL;

		nl = memchr(s, '\n', (size_t)(end - s));
		if (!nl)
			nl = end;
		free(line);
		line = strndup(s, (size_t)(nl - s));
		s = nl + 1;
		if (!line)
			break;
		for (tok = strtok_r(line, ";", &save); tok && nr < 64;
		     tok = strtok_r(NULL, ";", &save))
			frames[nr++] = tok;
		if (nr)
			(void)speedscope_add(ss, frames, nr, (uint64_t)nr);
	}
	free(line);
	nl = memchr(data, '\n', size);
	name = strndup((const char *)data, nl ? (size_t)(nl - (const char *)data) : size);
	if (speedscope_write(ss, &(struct speedscope_meta){.name = name}, &sb))
		goto out;
	if (budget && sb.len > budget)
		__builtin_trap();
	if (!utf8_is_valid(sb.buf, sb.len) || sb.buf[sb.len - 1] != '\n')
		__builtin_trap();
	p = sb.buf;
	if (!value(&p, 0) || strcmp(p, "\n") != 0)
		__builtin_trap();
out:
	free(name);
	speedscope_free(ss);
	strbuf_free(&sb);
	return 0;
}
