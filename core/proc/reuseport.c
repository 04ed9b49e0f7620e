/**
 * @file reuseport.c  The workers share each UDP listen port
 *
 * libre's udp_listen() creates and binds its socket itself and sets no
 * SO_REUSEPORT: the libre layer's bind() does (core/libre/bind.c). While
 * listen.c opens a UDP listen socket of a set of workers, the socket
 * gets SO_REUSEPORT before the real bind: every worker binds the same
 * address and port, and the
 * kernel spreads the datagrams over them by a hash of the source and
 * destination, so that one source always reaches the same worker (its
 * retransmissions, ACKs and CANCELs find their transaction).
 *
 * Presence state lives in worker 0's memory: worker 0 attaches a classic
 * BPF program to each group that sends SUBSCRIBE, PUBLISH and NOTIFY
 * requests to index 0 (the workers join in the order of their index) and
 * returns an index out of range for everything else, for which the
 * kernel falls back to its hash. sipd's start-up probe of a socket
 * ("SIP/2.0 200 sipd-probe-X", X = '0' + worker index) goes to the
 * worker that sent it.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <linux/filter.h>
#include <sys/socket.h>
#include <re.h>
#include "libre/libre.h"


#ifndef SO_ATTACH_REUSEPORT_CBPF
#define SO_ATTACH_REUSEPORT_CBPF 51
#endif


/* Four bytes of the payload as BPF_LD|BPF_W|BPF_ABS reads them */
#define W(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | \
		       ((uint32_t)(c) << 8) | (uint32_t)(d))

#define HASH 0xffffffffu   /* out of range: the kernel's hash decides */

/*
 * The program sees the UDP payload. A load beyond its end returns 0 (the
 * datagram goes to worker 0), which is right for a datagram too short to
 * be SIP.
 */
static struct sock_filter steer_prog[] = {
	/*  0 */ BPF_STMT(BPF_LD  | BPF_W   | BPF_ABS, 0),
	/*  1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, W('S','U','B','S'), 4, 0),
	/*  2 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, W('P','U','B','L'), 8, 0),
	/*  3 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, W('N','O','T','I'), 9, 0),
	/*  4 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, W('S','I','P','/'), 10, 0),
	/*  5 */ BPF_STMT(BPF_RET | BPF_K, HASH),
	/* "SUBSCRIBE " */
	/*  6 */ BPF_STMT(BPF_LD  | BPF_W   | BPF_ABS, 4),
	/*  7 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, W('C','R','I','B'), 0, 2),
	/*  8 */ BPF_STMT(BPF_LD  | BPF_H   | BPF_ABS, 8),
	/*  9 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ('E' << 8) | ' ', 7, 0),
	/* 10 */ BPF_STMT(BPF_RET | BPF_K, HASH),
	/* "PUBLISH " */
	/* 11 */ BPF_STMT(BPF_LD  | BPF_W   | BPF_ABS, 4),
	/* 12 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, W('I','S','H',' '), 4, 5),
	/* "NOTIFY " */
	/* 13 */ BPF_STMT(BPF_LD  | BPF_W   | BPF_ABS, 3),
	/* 14 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, W('I','F','Y',' '), 2, 3),
	/* a response: sipd's probe, "SIP/2.0 200 sipd-probe-X"? */
	/* 15 */ BPF_STMT(BPF_LD  | BPF_W   | BPF_ABS, 12),
	/* 16 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, W('s','i','p','d'), 2, 1),
	/* 17 */ BPF_STMT(BPF_RET | BPF_K, 0),
	/* 18 */ BPF_STMT(BPF_RET | BPF_K, HASH),
	/* 19 */ BPF_STMT(BPF_LD  | BPF_W   | BPF_ABS, 16),
	/* 20 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, W('-','p','r','o'), 0, 3),
	/* 21 */ BPF_STMT(BPF_LD  | BPF_B   | BPF_ABS, 23),
	/* 22 */ BPF_STMT(BPF_ALU | BPF_SUB | BPF_K, '0'),
	/* 23 */ BPF_STMT(BPF_RET | BPF_A, 0),
	/* 24 */ BPF_STMT(BPF_RET | BPF_K, HASH),
};


static int steer_attach(int fd)
{
	struct sock_fprog prog = {
		.len = ARRAY_SIZE(steer_prog),
		.filter = steer_prog,
	};

	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog,
		       sizeof(prog)))
		return errno;

	return 0;
}


/* A shared socket of worker 0 is bound: the steering program on it */
static int steer_bound(int fd)
{
	int err = steer_attach(fd);

	if (err)
		log_error("cannot attach the presence steering program: %m\n",
			  err);

	return err;
}


/**
 * Mark the next datagram socket bound as one of a set's shared listen
 * sockets, or end that
 *
 * @param on    True before libre binds it, false after
 * @param steer True in worker 0: attach the steering program
 */
void reuseport_next(bool on, bool steer)
{
	libre_bind_shared(on, steer ? steer_bound : NULL);
}
