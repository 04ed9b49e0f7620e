/**
 * @file optload.c  A closed-loop OPTIONS load (test/bench/scaling)
 *
 *   optload HOST PORT SECONDS SOCKETS WINDOW
 *
 * Keeps WINDOW OPTIONS requests in flight on each of SOCKETS UDP sockets
 * bound to HOST with ports of the kernel's choice (so that SO_REUSEPORT
 * spreads them over sipd's workers), each a new transaction (its own
 * branch and Call-ID), and sends the next one when an answer arrives: as
 * many requests a second as the server answers. It reads and sends in
 * recvmmsg() and sendmmsg() batches, so that it needs much less CPU a
 * message than the server it loads. A socket that heard
 * nothing for 200 ms gets its window again (the server dropped some).
 * After SECONDS it prints one line:
 * "answered N in S s: R/s, sent M".
 *
 * Copyright (C) 2026 sipd developers
 */

#define _GNU_SOURCE 1
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>


enum {
	MAX_SOCKS = 1024,
	REFILL_MS = 200,
	BATCH = 64,
};


static struct sockaddr_in dst;
static unsigned long long sent, answered;


static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);

	return ts.tv_sec + ts.tv_nsec / 1e9;
}


/* n new OPTIONS on a socket, in one sendmmsg() */
static void send_options(int fd, int idx, const char *host, int n)
{
	static char buf[BATCH][600];
	static struct iovec iov[BATCH];
	static struct mmsghdr msgs[BATCH];
	struct sockaddr_in la;
	socklen_t len = sizeof(la);
	int i, r;

	if (getsockname(fd, (struct sockaddr *)&la, &len))
		return;

	while (n > 0) {
		int k = n < BATCH ? n : BATCH;

		for (i = 0; i < k; i++) {
			unsigned long long seq = sent + (unsigned)i;
			int l = snprintf(buf[i], sizeof(buf[i]),
				"OPTIONS sip:%s:%u SIP/2.0\r\n"
				"Via: SIP/2.0/UDP %s:%u"
				";branch=z9hG4bK-ol%d-%llu;rport\r\n"
				"Max-Forwards: 70\r\n"
				"From: <sip:load@%s>;tag=ol%d\r\n"
				"To: <sip:%s:%u>\r\n"
				"Call-ID: ol%d-%llu@%s\r\n"
				"CSeq: 1 OPTIONS\r\n"
				"User-Agent: optload\r\n"
				"Content-Length: 0\r\n\r\n",
				host, ntohs(dst.sin_port), host,
				ntohs(la.sin_port), idx, seq, host, idx, host,
				ntohs(dst.sin_port), idx, seq, host);

			iov[i].iov_base = buf[i];
			iov[i].iov_len = (size_t)l;
			memset(&msgs[i], 0, sizeof(msgs[i]));
			msgs[i].msg_hdr.msg_name = &dst;
			msgs[i].msg_hdr.msg_namelen = sizeof(dst);
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}

		r = sendmmsg(fd, msgs, (unsigned)k, 0);
		if (r <= 0)
			return;

		sent += (unsigned)r;
		n -= r;
	}
}


/* Every answer waiting on a socket, in recvmmsg() batches: the 200s */
static int recv_answers(int fd)
{
	static char buf[BATCH][2048];
	static struct iovec iov[BATCH];
	static struct mmsghdr msgs[BATCH];
	int i, r, ok = 0;

	for (;;) {
		for (i = 0; i < BATCH; i++) {
			iov[i].iov_base = buf[i];
			iov[i].iov_len = sizeof(buf[i]);
			memset(&msgs[i], 0, sizeof(msgs[i]));
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}

		r = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
		if (r <= 0)
			return ok;

		for (i = 0; i < r; i++) {
			if (msgs[i].msg_len >= 11 &&
			    !strncmp(buf[i], "SIP/2.0 200", 11))
				++ok;
		}

		if (r < BATCH)
			return ok;
	}
}


int main(int argc, char *argv[])
{
	static struct pollfd pfd[MAX_SOCKS];
	static double last_heard[MAX_SOCKS];
	double start, end, t;
	int nsocks, window, i;

	if (argc != 6) {
		fprintf(stderr, "usage: optload HOST PORT SECONDS SOCKETS"
			" WINDOW\n");
		return 2;
	}

	memset(&dst, 0, sizeof(dst));
	dst.sin_family = AF_INET;
	dst.sin_port = htons((uint16_t)atoi(argv[2]));
	nsocks = atoi(argv[4]);
	window = atoi(argv[5]);

	if (inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1 ||
	    ntohl(dst.sin_addr.s_addr) >> 24 != 127 || nsocks < 1 ||
	    nsocks > MAX_SOCKS || window < 1) {
		fprintf(stderr, "optload: a 127.x.x.x address, 1 to %d"
			" sockets, a window of 1 or more\n", MAX_SOCKS);
		return 2;
	}

	for (i = 0; i < nsocks; i++) {
		struct sockaddr_in la = dst;
		int fd = socket(AF_INET, SOCK_DGRAM, 0);

		la.sin_port = 0;
		if (fd < 0 || bind(fd, (struct sockaddr *)&la, sizeof(la)) ||
		    fcntl(fd, F_SETFL, O_NONBLOCK)) {
			perror("optload: socket");
			return 1;
		}

		pfd[i].fd = fd;
		pfd[i].events = POLLIN;
	}

	start = now();
	end = start + atof(argv[3]);

	for (i = 0; i < nsocks; i++) {
		send_options(pfd[i].fd, i, argv[1], window);
		last_heard[i] = start;
	}

	while ((t = now()) < end) {
		if (poll(pfd, (nfds_t)nsocks, 50) < 0 && errno != EINTR)
			break;

		for (i = 0; i < nsocks; i++) {
			int n = 0;

			if (pfd[i].revents & POLLIN)
				n = recv_answers(pfd[i].fd);

			if (n) {
				answered += (unsigned)n;
				send_options(pfd[i].fd, i, argv[1], n);
				last_heard[i] = t;
			}
			else if (t - last_heard[i] > REFILL_MS / 1000.0) {
				send_options(pfd[i].fd, i, argv[1], window);
				last_heard[i] = t;
			}
		}
	}

	t = now() - start;
	printf("answered %llu in %.2f s: %.0f/s, sent %llu\n", answered, t,
	       answered / t, sent);

	return 0;
}
