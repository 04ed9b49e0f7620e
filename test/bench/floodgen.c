/**
 * @file floodgen.c  The UDP flood of the flood benchmark (test/bench/flood)
 *
 *   floodgen HOST PORT RATE SECONDS [FIRST LAST]
 *
 * Sends RATE datagrams a second for SECONDS to HOST:PORT, a loopback
 * address, from one socket bound to each of 127.0.0.FIRST .. LAST
 * (2 .. 250 by default; no spoofing), in sendmmsg() batches: a third
 * junk bytes, a third malformed SIP, a third valid-looking OPTIONS,
 * REGISTER and INVITE requests. Replies are never read. Prints one line:
 * "sent N in S s: R/s, E dropped by the kernel".
 *
 * Copyright (C) 2026 sipd developers
 */

#define _GNU_SOURCE 1
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>


enum {
	PAYLOADS = 96,
	BATCH = 32,
	MAX_SOCKS = 254,
};


static char payload[PAYLOADS][600];
static size_t payload_len[PAYLOADS];


static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);

	return ts.tv_sec + ts.tv_nsec / 1e9;
}


static void payloads_make(void)
{
	static const char *bad[] = {
		"INVITE sip:bob@example.com SIP/2.0\r\nVia: garbage\r\n\r\n",
		"REGISTER sip:example.com SIP/2.0\r\n\r\n",
		"OPTIONS sip:x SIP/2.0\r\nCSeq: abc\r\n"
		"Content-Length: 999\r\n\r\nx",
		"BYE sip:1@example.com SIP/2.0\r\nCall-ID: 1\r\n\r\n",
	};
	static const char *methods[] = {"OPTIONS", "REGISTER", "INVITE"};
	size_t i, j;

	for (i = 0; i < PAYLOADS; i++) {
		char *p = payload[i];
		int n;

		switch (i % 3) {

		case 0:
			payload_len[i] = 1 + rand() % 400;
			for (j = 0; j < payload_len[i]; j++)
				p[j] = (char)(rand() & 0xff);
			p[0] = (char)(0x80 | (rand() & 0x7f)); /* not SIP */
			break;

		case 1:
			n = snprintf(p, sizeof(payload[i]), "%s",
				     bad[i % 4]);
			payload_len[i] = (size_t)n;
			break;

		default:
			n = snprintf(p, sizeof(payload[i]),
				     "%s sip:%zu@example.com SIP/2.0\r\n"
				     "Via: SIP/2.0/UDP 127.0.0.9:9;"
				     "branch=z9hG4bKfg%zu;rport\r\n"
				     "Max-Forwards: 70\r\n"
				     "From: <sip:%zu@example.com>;tag=%zu\r\n"
				     "To: <sip:%zu@example.com>\r\n"
				     "Call-ID: floodgen%zu\r\n"
				     "CSeq: 1 %s\r\n"
				     "Content-Length: 0\r\n\r\n",
				     methods[i % 3 == 2 ? (i / 3) % 3 : 0],
				     100 + i, i, 100 + i, i, 100 + i, i,
				     methods[(i / 3) % 3]);
			payload_len[i] = (size_t)n;
			break;
		}
	}
}


int main(int argc, char *argv[])
{
	struct sockaddr_in dst;
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	int socks[MAX_SOCKS];
	int first = 2, last = 250, nsock = 0, i;
	unsigned long long sent = 0, dropped = 0, k = 0;
	double rate, seconds, start, t;

	if (argc < 5) {
		fprintf(stderr, "usage: floodgen HOST PORT RATE SECONDS"
			" [FIRST LAST]\n");
		return 2;
	}

	memset(&dst, 0, sizeof(dst));
	dst.sin_family = AF_INET;
	dst.sin_port = htons((uint16_t)atoi(argv[2]));
	if (inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1 ||
	    (ntohl(dst.sin_addr.s_addr) >> 24) != 127) {
		fprintf(stderr, "floodgen: %s: loopback addresses only\n",
			argv[1]);
		return 2;
	}

	rate = atof(argv[3]);
	seconds = atof(argv[4]);
	if (argc >= 7) {
		first = atoi(argv[5]);
		last = atoi(argv[6]);
	}
	if (first < 1 || last > 254 || first > last || rate <= 0) {
		fprintf(stderr, "floodgen: bad arguments\n");
		return 2;
	}

	for (i = first; i <= last; i++) {
		struct sockaddr_in src;
		int fd = socket(AF_INET, SOCK_DGRAM, 0);
		int sz = 1 << 20;

		if (fd < 0) {
			perror("socket");
			return 1;
		}

		memset(&src, 0, sizeof(src));
		src.sin_family = AF_INET;
		src.sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)i);
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
			perror("bind");
			return 1;
		}

		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		(void)fcntl(fd, F_SETFL, O_NONBLOCK);
		socks[nsock++] = fd;
	}

	srand(1);
	payloads_make();

	memset(msgs, 0, sizeof(msgs));
	for (i = 0; i < BATCH; i++) {
		msgs[i].msg_hdr.msg_name = &dst;
		msgs[i].msg_hdr.msg_namelen = sizeof(dst);
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}

	start = now();
	while ((t = now()) < start + seconds) {
		unsigned long long due = (unsigned long long)
			((t - start) * rate);
		int n, fd;

		if (sent + dropped >= due) {
			struct timespec ts = {0, 200000};

			nanosleep(&ts, NULL);
			continue;
		}

		n = (int)(due - sent - dropped);
		if (n > BATCH)
			n = BATCH;

		for (i = 0; i < n; i++) {
			size_t p = (k + (unsigned long long)i * 7) % PAYLOADS;

			iov[i].iov_base = payload[p];
			iov[i].iov_len = payload_len[p];
		}

		fd = socks[k % (unsigned long long)nsock];
		++k;

		i = sendmmsg(fd, msgs, (unsigned)n, 0);
		if (i < 0) {
			if (errno != EAGAIN && errno != ENOBUFS &&
			    errno != ECONNREFUSED) {
				perror("sendmmsg");
				return 1;
			}
			i = 0;
		}

		sent += (unsigned long long)i;
		dropped += (unsigned long long)(n - i);
	}

	t = now() - start;
	printf("sent %llu in %.2f s: %.0f/s, %llu dropped by the kernel\n",
	       sent, t, sent / t, dropped);

	for (i = 0; i < nsock; i++)
		close(socks[i]);

	return 0;
}
