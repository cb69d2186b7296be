// SPDX-License-Identifier: Apache-2.0
/*
 * Speedscope writer tests: the exact document for a tiny input (frames shared
 * and deduplicated, one profile per root busiest first, identical stacks
 * merged), hostile frame names (invalid UTF-8, control bytes, quotes) giving
 * valid escaped JSON, and the byte budget (add and write refuse with -ENOSPC,
 * leaving the output as it was).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"
#include "common/utf8.h"
#include "exporter/speedscope.h"

#define HEAD "{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\","

static char *write_doc(struct speedscope *ss, const char *name)
{
	struct strbuf out;

	strbuf_init(&out, 1u << 20);
	assert_int_equal(speedscope_write(ss, &(struct speedscope_meta){.name = name}, &out), 0);
	return strbuf_detach(&out, NULL);
}

static void test_tiny(void **state)
{
	const char *a[] = {"app", "main", "hot"};
	const char *b[] = {"app", "main", "cold"};
	const char *c[] = {"db", "main"};
	struct speedscope *ss = NULL;
	char *doc;

	(void)state;
	assert_int_equal(speedscope_new(0, &ss), 0);
	assert_int_equal(speedscope_add(ss, c, 3 - 1, 4), 0);
	assert_int_equal(speedscope_add(ss, a, 3, 2), 0);
	assert_int_equal(speedscope_add(ss, b, 3, 1), 0);
	assert_int_equal(speedscope_add(ss, a, 3, 3), 0); /* merges with the first "a" */
	doc = write_doc(ss, "t");
	/* "app" (6 samples) before "db" (4); "main" is one frame for both. */
	assert_string_equal(
	    doc, HEAD "\"shared\":{\"frames\":[{\"name\":\"db\"},{\"name\":\"main\"},"
		      "{\"name\":\"app\"},{\"name\":\"hot\"},{\"name\":\"cold\"}]},"
		      "\"profiles\":["
		      "{\"type\":\"sampled\",\"name\":\"app\",\"unit\":\"none\",\"startValue\":0,"
		      "\"endValue\":6,\"samples\":[[2,1,3],[2,1,4]],\"weights\":[5,1]},"
		      "{\"type\":\"sampled\",\"name\":\"db\",\"unit\":\"none\",\"startValue\":0,"
		      "\"endValue\":4,\"samples\":[[0,1]],\"weights\":[4]}],"
		      "\"name\":\"t\",\"activeProfileIndex\":0,\"exporter\":\"stackd\"}\n");
	free(doc);

	/* A time profile names its unit. */
	{
		struct strbuf out;

		strbuf_init(&out, 1u << 20);
		assert_int_equal(
		    speedscope_write(
			ss, &(struct speedscope_meta){.name = "t", .unit = "microseconds"}, &out),
		    0);
		assert_non_null(strstr(out.buf, "\"name\":\"app\",\"unit\":\"microseconds\","));
		assert_null(strstr(out.buf, "\"none\""));
		strbuf_free(&out);
	}

	/* Bad input adds nothing. */
	assert_int_equal(speedscope_add(ss, a, 0, 1), -EINVAL);
	assert_int_equal(speedscope_add(ss, (const char *[]){"x", NULL}, 2, 1), -EINVAL);
	speedscope_free(ss);

	/* No stacks: still a document, with no profiles. */
	assert_int_equal(speedscope_new(0, &ss), 0);
	doc = write_doc(ss, NULL);
	assert_string_equal(doc, HEAD "\"shared\":{\"frames\":[]},\"profiles\":[],"
				      "\"name\":\"stackd\",\"activeProfileIndex\":0,"
				      "\"exporter\":\"stackd\"}\n");
	free(doc);
	speedscope_free(ss);
	speedscope_free(NULL);
}

static void test_hostile_names(void **state)
{
	const char *f[] = {
	    "comm\"q\\",
	    "ctl\x01\x1f\n\t\x7f",
	    "bad \xff\xfe \xc0\xaf \xed\xa0\x80 \xf4\x90\x80\x80 trunc \xe2\x82",
	    "ok \xc3\xa9\xe2\x82\xac\xf0\x9f\x94\xa5",
	    "</script>",
	    "bad \xfe\xff \xc1\xaf \xed\xa0\x81 \xf4\x90\x80\x81 trunc \xe2\x83", /* repairs the
										     same */
	};
	struct speedscope *ss = NULL;
	char *doc, *p;

	(void)state;
	assert_int_equal(speedscope_new(0, &ss), 0);
	assert_int_equal(speedscope_add(ss, f, 6, 1), 0);
	doc = write_doc(ss, "name \"\x02\xff");
	assert_true(utf8_is_valid(doc, strlen(doc)));
	/* No raw control byte anywhere but the final newline. */
	for (p = doc; *p; p++)
		if ((unsigned char)*p < 0x20)
			assert_true(p[0] == '\n' && p[1] == '\0');
	assert_non_null(strstr(doc, "{\"name\":\"comm\\\"q\\\\\"}"));
	assert_non_null(strstr(doc, "\"name\":\"comm\\\"q\\\\\",\"unit\""));
	assert_non_null(strstr(doc, "{\"name\":\"ctl\\u0001\\u001f\\u000a\\u0009\x7f\"}"));
	/* Each maximal ill-formed subpart is one U+FFFD. */
	assert_non_null(strstr(doc, "{\"name\":\"bad \xef\xbf\xbd\xef\xbf\xbd "
				    "\xef\xbf\xbd\xef\xbf\xbd "
				    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd "
				    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd "
				    "trunc \xef\xbf\xbd\"}"));
	assert_non_null(strstr(doc, "{\"name\":\"ok \xc3\xa9\xe2\x82\xac\xf0\x9f\x94\xa5\"}"));
	/* The two bad names repair to one frame: index 2 twice in the sample. */
	assert_non_null(strstr(doc, "\"samples\":[[0,1,2,3,4,2]]"));
	assert_non_null(strstr(doc, "\"name\":\"name \\\"\\u0002\xef\xbf\xbd\""));
	free(doc);
	speedscope_free(ss);
}

static void test_long_name(void **state)
{
	size_t len = SPEEDSCOPE_MAX_NAME + 100;
	char *name = malloc(len + 1);
	struct speedscope *ss = NULL;
	char *doc, *s, *e;

	(void)state;
	assert_non_null(name);
	/* "é" (2 bytes) after an odd number of bytes: the cut is on a character boundary. */
	name[0] = 'x';
	for (size_t i = 1; i + 1 < len; i += 2)
		memcpy(name + i, "\xc3\xa9", 2);
	name[len - 1] = 'y';
	name[len] = '\0';
	assert_int_equal(speedscope_new(0, &ss), 0);
	assert_int_equal(speedscope_add(ss, (const char *[]){"c", name}, 2, 1), 0);
	doc = write_doc(ss, NULL);
	assert_true(utf8_is_valid(doc, strlen(doc)));
	s = strstr(doc, "{\"name\":\"x");
	assert_non_null(s);
	s += strlen("{\"name\":\"");
	e = strchr(s, '"');
	assert_true((size_t)(e - s) <= SPEEDSCOPE_MAX_NAME);
	assert_true((size_t)(e - s) >= SPEEDSCOPE_MAX_NAME - 1);
	free(doc);
	speedscope_free(ss);
	free(name);
}

static void test_budget(void **state)
{
	const char *a[] = {"app", "main", "hot"};
	char name[64];
	struct speedscope *ss = NULL;
	struct strbuf out;
	int err = 0;
	size_t i;

	(void)state;
	/* Adding refuses once the file would pass the budget; what was in stays. */
	assert_int_equal(speedscope_new(4096, &ss), 0);
	for (i = 0; i < 10000 && !err; i++) {
		snprintf(name, sizeof(name), "function_number_%zu", i);
		err = speedscope_add(ss, (const char *[]){"app", name}, 2, 1);
	}
	assert_int_equal(err, -ENOSPC);
	assert_true(i > 10 && i < 4096 / 20);
	/* Merging into a stack held is no new byte: still accepted. */
	assert_int_equal(speedscope_add(ss, (const char *[]){"app", "function_number_0"}, 2, 1), 0);
	speedscope_free(ss);

	/* Writing refuses when the document does not fit in the output's cap. */
	assert_int_equal(speedscope_new(0, &ss), 0);
	assert_int_equal(speedscope_add(ss, a, 3, 1), 0);
	strbuf_init(&out, 100);
	assert_int_equal(strbuf_appends(&out, "keep"), 0);
	assert_int_equal(speedscope_write(ss, NULL, &out), -ENOSPC);
	assert_string_equal(out.buf, "keep");
	assert_int_equal(out.len, 4);
	strbuf_free(&out);
	speedscope_free(ss);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tiny),
	    cmocka_unit_test(test_hostile_names),
	    cmocka_unit_test(test_long_name),
	    cmocka_unit_test(test_budget),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
