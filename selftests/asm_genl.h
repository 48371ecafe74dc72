/* SPDX-License-Identifier: GPL-2.0 */
/*
 * asm_genl.h - the "asm" generic netlink family for the selftests: netlink
 * attribute walking and resolving the family and its events group.
 */
#ifndef ASM_SELFTEST_GENL_H
#define ASM_SELFTEST_GENL_H

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include <linux/asm.h>

struct nl_req {
	struct nlmsghdr n;
	struct genlmsghdr g;
	char buf[256];
};

static inline struct nlattr *nla_next(struct nlattr *a, int *rem)
{
	int len = NLA_ALIGN(a->nla_len);

	*rem -= len;
	return (struct nlattr *)((char *)a + len);
}

#define nla_for_each(a, head, len, rem)					\
	for (a = (head), rem = (len); rem >= (int)sizeof(*a) &&		\
	     a->nla_len >= sizeof(*a) && a->nla_len <= rem;		\
	     a = nla_next(a, &rem))

static inline void *nla_data(struct nlattr *a)
{
	return (char *)a + NLA_HDRLEN;
}

/*
 * Asks the controller on netlink socket @fd for the "asm" family; fills in
 * its id and the id of its multicast group @group.  Returns 0, or a
 * negative errno.
 */
static inline int asm_genl_resolve_group(int fd, __u16 *family_id, const char *group,
					 __u32 *group_id)
{
	struct nl_req req = { 0 };
	struct nlattr *a, *g, *ga;
	char buf[8192];
	int rem, grem, garem;
	ssize_t n;
	struct nlmsghdr *h;

	*family_id = 0;
	*group_id = 0;
	req.n.nlmsg_type = GENL_ID_CTRL;
	req.n.nlmsg_flags = NLM_F_REQUEST;
	req.g.cmd = CTRL_CMD_GETFAMILY;
	req.g.version = 1;
	a = (struct nlattr *)req.buf;
	a->nla_type = CTRL_ATTR_FAMILY_NAME;
	a->nla_len = NLA_HDRLEN + sizeof(ASM_GENL_NAME);
	memcpy(nla_data(a), ASM_GENL_NAME, sizeof(ASM_GENL_NAME));
	req.n.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN + NLA_ALIGN(a->nla_len));
	if (send(fd, &req, req.n.nlmsg_len, 0) < 0)
		return -errno;
	n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0)
		return -errno;
	h = (struct nlmsghdr *)buf;
	if (!NLMSG_OK(h, n) || h->nlmsg_type == NLMSG_ERROR)
		return -ENOENT;
	nla_for_each(a, (struct nlattr *)((char *)NLMSG_DATA(h) + GENL_HDRLEN),
		     (int)(h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN)), rem) {
		if (a->nla_type == CTRL_ATTR_FAMILY_ID)
			*family_id = *(__u16 *)nla_data(a);
		if (a->nla_type != CTRL_ATTR_MCAST_GROUPS)
			continue;
		nla_for_each(g, (struct nlattr *)nla_data(a), a->nla_len - NLA_HDRLEN, grem) {
			const char *name = NULL;
			__u32 id = 0;

			nla_for_each(ga, (struct nlattr *)nla_data(g), g->nla_len - NLA_HDRLEN, garem) {
				if (ga->nla_type == CTRL_ATTR_MCAST_GRP_NAME)
					name = nla_data(ga);
				if (ga->nla_type == CTRL_ATTR_MCAST_GRP_ID)
					id = *(__u32 *)nla_data(ga);
			}
			if (name && !strcmp(name, group))
				*group_id = id;
		}
	}
	return *family_id && *group_id ? 0 : -ENOENT;
}

/* asm_genl_resolve_group() for the events group. */
static inline int asm_genl_resolve(int fd, __u16 *family_id, __u32 *group_id)
{
	return asm_genl_resolve_group(fd, family_id, ASM_GENL_MCGRP_EVENTS, group_id);
}

/* One event of the "events" group. */
struct asm_ev {
	__u64 seq, value, limit;
	__u32 type, agent, fault, action;
	__s32 pid, exit_code, signal;
};

/* Reads the events a socket of the "events" group receives. */
struct asm_ev_reader {
	int fd;
	__u16 family_id;
	char buf[16384];
	ssize_t len, off;
};

/*
 * The next event on @r within @ms; 0, or -ETIMEDOUT (or another negative
 * errno of recv()).
 */
static inline int asm_ev_next(struct asm_ev_reader *r, struct asm_ev *ev, int ms)
{
	struct pollfd p = { r->fd, POLLIN, 0 };
	struct nlattr *a;
	struct nlmsghdr *h;
	int rem;

	for (;;) {
		if (r->off < r->len) {
			h = (struct nlmsghdr *)(r->buf + r->off);
			if (!NLMSG_OK(h, r->len - r->off)) {
				r->len = 0;
				continue;
			}
			r->off += NLMSG_ALIGN(h->nlmsg_len);
			if (h->nlmsg_type != r->family_id)
				continue;
			memset(ev, 0, sizeof(*ev));
			nla_for_each(a, (struct nlattr *)((char *)NLMSG_DATA(h) + GENL_HDRLEN),
				     (int)(h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN)), rem) {
				void *d = nla_data(a);

				switch (a->nla_type) {
				case ASM_A_SEQ: memcpy(&ev->seq, d, 8); break;
				case ASM_A_VALUE: memcpy(&ev->value, d, 8); break;
				case ASM_A_LIMIT: memcpy(&ev->limit, d, 8); break;
				case ASM_A_EVENT_TYPE: ev->type = *(__u32 *)d; break;
				case ASM_A_AGENT_ID: ev->agent = *(__u32 *)d; break;
				case ASM_A_FAULT: ev->fault = *(__u32 *)d; break;
				case ASM_A_ACTION: ev->action = *(__u32 *)d; break;
				case ASM_A_PID: ev->pid = *(__s32 *)d; break;
				case ASM_A_EXIT_CODE: ev->exit_code = *(__s32 *)d; break;
				case ASM_A_SIGNAL: ev->signal = *(__s32 *)d; break;
				}
			}
			return 0;
		}
		if (poll(&p, 1, ms) <= 0)
			return -ETIMEDOUT;
		r->len = recv(r->fd, r->buf, sizeof(r->buf), 0);
		r->off = 0;
		if (r->len < 0) {
			int e = errno;

			r->len = 0;
			return -e;
		}
	}
}

/*
 * Opens @r: a netlink socket that joined the "events" group.  Returns 0,
 * or a negative errno.
 */
static inline int asm_ev_open(struct asm_ev_reader *r)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	__u32 group_id;
	int ret;

	memset(r, 0, sizeof(*r));
	r->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (r->fd < 0 || bind(r->fd, (struct sockaddr *)&sa, sizeof(sa)))
		return -errno;
	ret = asm_genl_resolve(r->fd, &r->family_id, &group_id);
	if (ret)
		return ret;
	if (setsockopt(r->fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group_id, sizeof(group_id)))
		return -errno;
	return 0;
}

#endif /* ASM_SELFTEST_GENL_H */
