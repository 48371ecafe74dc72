/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ktap.h - minimal KTAP output for the ASM selftest programs, after the
 * kernel's tools/testing/selftests/kselftest.h (which is not installed with
 * the uapi headers).
 *
 * A case is one or more expectations (ktap_expect*) between ktap_case_start()
 * and ktap_case_end(); a failed expectation prints a "# " diagnostic line.
 * ktap_finish() checks that the plan was kept and exits 0 (all passed),
 * 1 (a failure) or 4 (all skipped).
 */
#ifndef ASM_SELFTEST_KTAP_H
#define ASM_SELFTEST_KTAP_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KSFT_PASS	0
#define KSFT_FAIL	1
#define KSFT_SKIP	4

static int ktap_plan, ktap_num, ktap_pass, ktap_fail, ktap_skip;
static int ktap_case_ok;

static inline void __attribute__((format(printf, 1, 2))) ktap_msg(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

static inline void ktap_header(int plan)
{
	/* Children are forked: nothing may stay buffered. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n1..%d\n", plan);
	ktap_plan = plan;
}

static inline void ktap_case_start(void)
{
	ktap_case_ok = 1;
}

static inline void __attribute__((format(printf, 1, 2))) ktap_case_end(const char *fmt, ...)
{
	va_list ap;

	printf("%s %d ", ktap_case_ok ? "ok" : "not ok", ++ktap_num);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (ktap_case_ok)
		ktap_pass++;
	else
		ktap_fail++;
	fflush(stdout);
}

static inline void __attribute__((format(printf, 2, 3))) ktap_case_skip(const char *reason,
								   const char *fmt, ...)
{
	va_list ap;

	printf("ok %d ", ++ktap_num);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" # SKIP %s\n", reason);
	ktap_skip++;
	fflush(stdout);
}

/* Record a failed expectation; returns 0 so callers can `return ktap_fail_msg(..)`. */
static inline int __attribute__((format(printf, 1, 2))) ktap_fail_msg(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	ktap_case_ok = 0;
	return 0;
}

/* ktap_expect(cond, what): @cond holds. */
#define ktap_expect(cond, ...)						\
	((cond) ? 1 : ktap_fail_msg(__VA_ARGS__))

/* ktap_expect_u64(got, want, what) */
#define ktap_expect_u64(got, want, what)				\
	ktap_expect((unsigned long long)(got) == (unsigned long long)(want),	\
		    "%s: expected %llu, got %llu", (what),			\
		    (unsigned long long)(want), (unsigned long long)(got))

/*
 * ktap_expect_err(ret, err, what): a call returned -1 with errno @err.  Pass
 * the call's return value and read errno right after it.
 */
static inline int ktap_expect_err_(long ret, int saved_errno, int want, const char *what)
{
	if (ret == -1 && saved_errno == want)
		return 1;
	if (ret == -1)
		return ktap_fail_msg("%s: expected %s, got %s", what, strerrorname_np(want),
				     strerrorname_np(saved_errno) ?: "?");
	return ktap_fail_msg("%s: expected %s, got success (%ld)", what,
			     strerrorname_np(want), ret);
}

#define ktap_expect_err(ret, want, what)				\
	({ long __r = (ret); int __e = errno;				\
	   ktap_expect_err_(__r, __e, (want), (what)); })

/* ktap_expect_ok(ret, what): a call returned 0. */
#define ktap_expect_ok(ret, what)					\
	({ long __r = (ret); int __e = errno;				\
	   __r == 0 ? 1 : ktap_fail_msg("%s: expected success, got %ld (%s)", \
					(what), __r, strerrorname_np(__e) ?: "?"); })

static inline void __attribute__((noreturn)) ktap_bail(const char *fmt, ...)
{
	va_list ap;

	fputs("Bail out! ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	exit(KSFT_FAIL);
}

static inline void __attribute__((noreturn)) ktap_finish(void)
{
	printf("# Totals: pass:%d fail:%d xfail:0 xpass:0 skip:%d error:0\n",
	       ktap_pass, ktap_fail, ktap_skip);
	if (ktap_num != ktap_plan) {
		printf("# planned %d cases, ran %d\n", ktap_plan, ktap_num);
		exit(KSFT_FAIL);
	}
	if (ktap_fail)
		exit(KSFT_FAIL);
	if (ktap_skip == ktap_num && ktap_num)
		exit(KSFT_SKIP);
	exit(KSFT_PASS);
}

#endif /* ASM_SELFTEST_KTAP_H */
