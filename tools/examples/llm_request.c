// SPDX-License-Identifier: GPL-2.0
/*
 * llm_request - the user guide's C example, on ASM_IOC_LLM_REQUEST instead
 * of syscall 503: an LLM completion for the calling process's agent.
 *
 *   llm_request [PROMPT [PROVIDER [TIMEOUT_MS]]]
 *
 * Prints the response document and returns 0, or prints the errno's name
 * and meaning (the user guide's error table) and returns 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/asm.h>

static const char *meaning(int e)
{
	switch (e) {
	case EAGAIN: return "rate limit exceeded: wait and retry";
	case EPERM: return "permission denied: check the agent's capabilities";
	case ETIMEDOUT: return "request timeout: retry or increase timeout_ms";
	case EIO: return "all providers failed: check network and API keys";
	case EINVAL: return "invalid request document";
	case EFAULT: return "bad pointer";
	case ENOTCONN: return "no gateway helper is running";
	default: return strerror(e);
	}
}

int main(int argc, char **argv)
{
	const char *prompt = argc > 1 ? argv[1] : "Explain kernel memory management";
	const char *provider = argc > 2 ? argv[2] : NULL;
	long timeout_ms = argc > 3 ? atol(argv[3]) : 30000;
	char request[4096], response[8192], extra[128] = "";
	struct asm_llm_request r;
	long ret;
	int fd, n;

	/* Build the request JSON (agent_id 0: the caller's own agent). */
	if (provider && (strlen(provider) > 16 || strpbrk(provider, "\"\\"))) {
		fprintf(stderr, "bad provider name\n");
		return 1;
	}
	if (provider)
		snprintf(extra, sizeof(extra), ",\"preferred_provider\":\"%s\"", provider);
	n = snprintf(request, sizeof(request),
		     "{\"agent_id\":0,\"prompt\":\"%s\",\"max_tokens\":500,\"temperature\":0.7,"
		     "\"timeout_ms\":%ld%s}", prompt, timeout_ms, extra);
	if (n < 0 || n >= (int)sizeof(request) || strpbrk(prompt, "\"\\")) {
		fprintf(stderr, "the prompt is too long or needs escaping\n");
		return 1;
	}
	fd = open(ASM_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		perror(ASM_DEVICE_PATH);
		return 1;
	}
	memset(&r, 0, sizeof(r));
	r.size = sizeof(r);
	r.version = ASM_ABI_VERSION;
	r.request = (uintptr_t)request;
	r.request_len = n;
	r.response = (uintptr_t)response;
	r.response_len = sizeof(response);

	ret = ioctl(fd, ASM_IOC_LLM_REQUEST, &r);
	if (ret > 0) {
		printf("LLM Response:\n%.*s\n", (int)ret, response);
		return 0;
	}
	printf("Error: %s (%s)\n", strerrorname_np(errno), meaning(errno));
	return 1;
}
