/* SPDX-License-Identifier: GPL-2.0 */
/*
 * asm_gw.h - the LLM gateway helper's side of the "asm" generic netlink
 * family for the selftests and benchmarks: REGISTER, PULL and COMPLETE
 * over a plain netlink socket.  Resolve `family` and `gateway_group` with
 * asm_genl_resolve_group() first.
 */
#ifndef ASM_SELFTEST_GW_H
#define ASM_SELFTEST_GW_H

#include "asm_genl.h"

static __u16 family __attribute__((unused));
static __u32 gateway_group __attribute__((unused));

struct nl_msg {
	struct nlmsghdr n;
	struct genlmsghdr g;
	/* A pull's reply: the prompt, the system message and the rest. */
	char buf[ASM_LLM_PROMPT_MAX + ASM_LLM_SYSTEM_MAX + 1024];
};

static inline void msg_init(struct nl_msg *m, __u8 cmd, __u16 flags)
{
	memset(&m->n, 0, sizeof(m->n) + sizeof(m->g));
	m->n.nlmsg_type = family;
	m->n.nlmsg_flags = NLM_F_REQUEST | flags;
	m->n.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	m->g.cmd = cmd;
	m->g.version = ASM_GENL_VERSION;
}

static inline void msg_put(struct nl_msg *m, __u16 type, const void *data, int len)
{
	struct nlattr *a = (struct nlattr *)((char *)m + NLMSG_ALIGN(m->n.nlmsg_len));

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	if (len)
		memcpy(nla_data(a), data, len);
	m->n.nlmsg_len = NLMSG_ALIGN(m->n.nlmsg_len) + NLA_ALIGN(a->nla_len);
}

static inline void msg_put_u32(struct nl_msg *m, __u16 type, __u32 v)
{
	msg_put(m, type, &v, sizeof(v));
}

static inline void msg_put_u64(struct nl_msg *m, __u16 type, __u64 v)
{
	msg_put(m, type, &v, sizeof(v));
}

static inline int nl_socket(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
		return -1;
	return fd;
}

/* Sends @m and returns the kernel's answer: 0, a negative errno, or 1 with
 * the reply in @reply. */
static inline int nl_call(int fd, struct nl_msg *m, struct nl_msg *reply)
{
	static struct nl_msg scratch;
	struct nl_msg *r = reply ? reply : &scratch;
	ssize_t n;

	if (send(fd, m, m->n.nlmsg_len, 0) < 0)
		return -errno;
	n = recv(fd, r, sizeof(*r), 0);
	if (n < 0)
		return -errno;
	if (!NLMSG_OK(&r->n, n))
		return -EBADMSG;
	if (r->n.nlmsg_type == NLMSG_ERROR)
		return ((struct nlmsgerr *)NLMSG_DATA(&r->n))->error;
	return 1;
}

static inline int gw_register(int fd)
{
	struct nl_msg m;

	msg_init(&m, ASM_CMD_GW_REGISTER, NLM_F_ACK);
	return nl_call(fd, &m, NULL);
}

struct pulled {
	__u64 id;
	__u32 agent, uid, provider, max_tokens, temperature, timeout_ms;
	char prompt[ASM_LLM_PROMPT_MAX + 1];
};

static inline int gw_pull(int fd, struct pulled *p)
{
	static struct nl_msg m, r;
	struct nlattr *a;
	int rem, ret;

	msg_init(&m, ASM_CMD_GW_PULL, 0);
	ret = nl_call(fd, &m, &r);
	if (ret <= 0)
		return ret;
	memset(p, 0, sizeof(*p));
	nla_for_each(a, (struct nlattr *)r.buf, (int)(r.n.nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN)),
		     rem) {
		int len = a->nla_len - NLA_HDRLEN;

		switch (a->nla_type) {
		case ASM_A_REQ_ID: memcpy(&p->id, nla_data(a), 8); break;
		case ASM_A_AGENT_ID: p->agent = *(__u32 *)nla_data(a); break;
		case ASM_A_UID: p->uid = *(__u32 *)nla_data(a); break;
		case ASM_A_PROVIDER: p->provider = *(__u32 *)nla_data(a); break;
		case ASM_A_MAX_TOKENS: p->max_tokens = *(__u32 *)nla_data(a); break;
		case ASM_A_TEMPERATURE: p->temperature = *(__u32 *)nla_data(a); break;
		case ASM_A_TIMEOUT_MS: p->timeout_ms = *(__u32 *)nla_data(a); break;
		case ASM_A_PROMPT:
			if (len > ASM_LLM_PROMPT_MAX)
				len = ASM_LLM_PROMPT_MAX;
			memcpy(p->prompt, nla_data(a), len);
			p->prompt[len] = 0;
			break;
		}
	}
	return 1;
}

static inline int gw_complete(int fd, __u64 id, __u32 status, __u32 provider, const char *text,
		       const __u32 *tried, int ntried, int fallback)
{
	static struct nl_msg m;

	msg_init(&m, ASM_CMD_GW_COMPLETE, NLM_F_ACK);
	msg_put_u64(&m, ASM_A_REQ_ID, id);
	msg_put_u32(&m, ASM_A_STATUS, status);
	if (!status) {
		msg_put_u32(&m, ASM_A_PROVIDER, provider);
		msg_put(&m, ASM_A_TEXT, text, strlen(text));
		msg_put_u32(&m, ASM_A_TOKENS_USED, strlen(text) / 4 + 1);
	}
	if (ntried)
		msg_put(&m, ASM_A_TRIED, tried, ntried * sizeof(*tried));
	if (fallback)
		msg_put(&m, ASM_A_FALLBACK, NULL, 0);
	return nl_call(fd, &m, NULL);
}

#endif /* ASM_SELFTEST_GW_H */
