#!/usr/bin/env node
/*
 * client.js  A WebSocket SIP phone (RFC 7118) for the sipd tests
 *
 *   node test/ws/client.js --url ws://127.0.0.1:PORT --user alice \
 *        --password secret --domain example.com --call sip:bob@example.com
 *        [--register-alg SHA-256|MD5] [--invite-alg SHA-256|MD5]
 *        [--ca FILE] [--timeout SECONDS] [--imitate jssip|sipjs]
 *
 * Connects with the "sip" subprotocol (wss:// with --ca to check the
 * server's certificate), REGISTERs with digest auth (the challenge of the
 * algorithm asked for, computed with Node's crypto), then calls: INVITE
 * with SDP, the 407 ACKed and answered, 100/180/200, ACK and BYE along
 * the Record-Route, and unregisters. --imitate jssip (or sipjs) sends
 * JsSIP's (SIP.js's) User-Agent and answers only the first challenge,
 * giving up unless it is MD5, as those libraries do. As a browser phone
 * does, it writes
 * a random ".invalid" host in its Via and Contact. Every step is printed
 * as one JSON object a line; the last is {"step": "done", "ok": ...}.
 * Exit status 0 when the call was answered and the BYE got its 200.
 *
 * Copyright (C) 2026 sipd developers
 */

'use strict';

const crypto = require('crypto');
const fs = require('fs');
const WebSocket = require('ws');

const COMPACT = {
	v: 'via', f: 'from', t: 'to', i: 'call-id', m: 'contact',
	l: 'content-length', c: 'content-type', k: 'supported', o: 'event',
};

function parseArgs(argv) {
	const opts = {
		registerAlg: 'SHA-256',
		inviteAlg: 'SHA-256',
		timeout: 10,
		userAgent: 'sipd-ws-client (node ws)',
		firstOnly: false,
	};
	const names = {
		'--url': 'url', '--user': 'user', '--password': 'password',
		'--domain': 'domain', '--call': 'call', '--ca': 'ca',
		'--register-alg': 'registerAlg', '--invite-alg': 'inviteAlg',
		'--timeout': 'timeout', '--imitate': 'imitate',
	};

	for (let i = 2; i < argv.length; i += 2) {
		const key = names[argv[i]];
		if (!key || i + 1 >= argv.length)
			throw new Error('bad argument ' + argv[i]);
		opts[key] = argv[i + 1];
	}

	for (const k of ['url', 'user', 'password', 'domain'])
		if (!opts[k])
			throw new Error('missing --' + k);

	opts.timeout = Number(opts.timeout) * 1000;

	if (opts.imitate) {
		const agents = {jssip: 'JsSIP 3.10.1', sipjs: 'SIP.js/0.21.2'};
		if (!agents[opts.imitate])
			throw new Error('--imitate jssip or sipjs');
		opts.userAgent = agents[opts.imitate];
		opts.firstOnly = true;
		opts.registerAlg = opts.inviteAlg = 'MD5';
	}

	return opts;
}

function out(obj) {
	process.stdout.write(JSON.stringify(obj) + '\n');
}

function token(n) {
	return crypto.randomBytes(n).toString('hex').slice(0, n);
}

function branch() {
	return 'z9hG4bK' + token(16);
}

/* A SIP message: one WebSocket message is one SIP message (RFC 7118) */
function parse(text) {
	const sep = text.indexOf('\r\n\r\n');
	const head = sep < 0 ? text : text.slice(0, sep);
	const body = sep < 0 ? '' : text.slice(sep + 4);
	const lines = head.split('\r\n');
	const start = lines.shift();
	const headers = [];

	for (const line of lines) {
		if (/^[ \t]/.test(line) && headers.length) {
			headers[headers.length - 1][1] += ' ' + line.trim();
			continue;
		}
		const colon = line.indexOf(':');
		if (colon < 0)
			continue;
		let name = line.slice(0, colon).trim().toLowerCase();
		name = COMPACT[name] || name;
		headers.push([name, line.slice(colon + 1).trim()]);
	}

	const parts = start.split(' ');
	const msg = {start, headers, body};
	if (parts[0].startsWith('SIP/')) {
		msg.status = Number(parts[1]);
	}
	else {
		msg.method = parts[0];
		msg.uri = parts[1];
	}

	msg.all = (name) => headers.filter((h) => h[0] === name)
		.map((h) => h[1]);
	msg.get = (name) => msg.all(name)[0];

	return msg;
}

/* Split a header value at commas outside quotes and angle brackets */
function splitList(value) {
	const res = [];
	let cur = '', quoted = false, angle = false;

	for (const ch of value) {
		if (ch === '"')
			quoted = !quoted;
		else if (ch === '<' && !quoted)
			angle = true;
		else if (ch === '>' && !quoted)
			angle = false;
		if (ch === ',' && !quoted && !angle) {
			res.push(cur.trim());
			cur = '';
		}
		else {
			cur += ch;
		}
	}
	if (cur.trim())
		res.push(cur.trim());

	return res;
}

function uriOf(value) {
	const m = /<([^>]*)>/.exec(value);
	return m ? m[1] : value.split(';')[0].trim();
}

function tagOf(value) {
	const m = />[^]*;\s*tag=([^;\s]+)/.exec(value) ||
		/^[^<]*;\s*tag=([^;\s]+)/.exec(value);
	return m ? m[1] : null;
}

function parseChallenge(value) {
	const ch = {};
	const re = /(\w+)=("([^"]*)"|[^,\s]+)/g;
	let m;

	value = value.replace(/^\s*Digest\s+/i, '');
	while ((m = re.exec(value)) !== null)
		ch[m[1].toLowerCase()] = m[3] !== undefined ? m[3] : m[2];
	if (!ch.algorithm)
		ch.algorithm = 'MD5';

	return ch;
}

function hash(alg, text) {
	const name = alg.toUpperCase() === 'SHA-256' ? 'sha256' : 'md5';

	return crypto.createHash(name).update(text).digest('hex');
}

/* RFC 7616 / RFC 8760 digest credentials for a challenge */
function credentials(ch, method, uri, user, password) {
	const alg = ch.algorithm;
	const ha1 = hash(alg, `${user}:${ch.realm}:${password}`);
	const ha2 = hash(alg, `${method}:${uri}`);
	const cnonce = token(16);
	const nc = '00000001';
	let res;

	const qop = (ch.qop || '').split(',').map((q) => q.trim());
	if (qop.includes('auth'))
		res = hash(alg, `${ha1}:${ch.nonce}:${nc}:${cnonce}:auth:${ha2}`);
	else
		res = hash(alg, `${ha1}:${ch.nonce}:${ha2}`);

	let h = `Digest username="${user}", realm="${ch.realm}", ` +
		`nonce="${ch.nonce}", uri="${uri}", response="${res}", ` +
		`algorithm=${alg}`;
	if (qop.includes('auth'))
		h += `, qop=auth, nc=${nc}, cnonce="${cnonce}"`;
	if (ch.opaque !== undefined)
		h += `, opaque="${ch.opaque}"`;

	return h;
}

function pickChallenge(resp, header, alg, firstOnly) {
	if (firstOnly) {
		/* JsSIP and SIP.js read the first challenge: MD5 or nothing */
		const ch = parseChallenge(resp.get(header) || '');
		if (ch.algorithm.toUpperCase() !== 'MD5')
			throw new Error('the first challenge is ' + ch.algorithm +
					': a browser library gives up');
		return ch;
	}

	for (const v of resp.all(header)) {
		const ch = parseChallenge(v);
		if (ch.algorithm.toUpperCase() === alg.toUpperCase())
			return ch;
	}

	return null;
}

const SDP = [
	'v=0',
	'o=- 1 1 IN IP4 127.0.0.1',
	's=-',
	'c=IN IP4 127.0.0.1',
	't=0 0',
	'm=audio 40000 RTP/AVP 0 8',
	'a=rtpmap:0 PCMU/8000',
	'a=rtpmap:8 PCMA/8000',
	'a=sendrecv',
	'',
].join('\r\n');


class Phone {
	constructor(opts) {
		this.opts = opts;
		this.host = token(12) + '.invalid';
		this.aor = `sip:${opts.user}@${opts.domain}`;
		this.contact = `<sip:${opts.user}@${this.host};transport=ws>`;
		this.queue = [];
		this.waiters = [];
		this.closed = false;
	}

	connect() {
		const o = {handshakeTimeout: this.opts.timeout};
		if (this.opts.ca)
			o.ca = fs.readFileSync(this.opts.ca);

		return new Promise((resolve, reject) => {
			const ws = new WebSocket(this.opts.url, 'sip', o);
			this.ws = ws;
			ws.on('open', () => resolve(ws.protocol));
			ws.on('error', (err) => {
				this.fail(err);
				reject(err);
			});
			ws.on('close', (code) => {
				this.closed = true;
				this.fail(new Error('WebSocket closed (' + code +
						    ')'));
			});
			ws.on('message', (data) => this.receive(data.toString()));
		});
	}

	fail(err) {
		const w = this.waiters;
		this.waiters = [];
		for (const x of w)
			x.reject(err);
	}

	receive(text) {
		const msg = parse(text);

		if (msg.method) {
			this.request(msg);
			return;
		}

		for (let i = 0; i < this.waiters.length; i++) {
			const w = this.waiters[i];
			if (w.pred(msg)) {
				this.waiters.splice(i, 1);
				clearTimeout(w.timer);
				w.resolve(msg);
				return;
			}
		}
		this.queue.push(msg);
	}

	/* Requests sipd sends us: answered 200 (OPTIONS, BYE, NOTIFY) */
	request(msg) {
		out({step: 'request', method: msg.method, uri: msg.uri});
		if (msg.method === 'ACK')
			return;
		if (msg.method === 'BYE' && this.dialog &&
		    msg.get('call-id') === this.dialog.callid)
			this.dialog.byeReceived = true;
		this.send(this.response(msg, 200, 'OK'));
	}

	response(req, code, reason) {
		const lines = [`SIP/2.0 ${code} ${reason}`];
		for (const v of req.all('via'))
			lines.push('Via: ' + v);
		let to = req.get('to');
		if (!tagOf(to))
			to += ';tag=' + token(8);
		lines.push('From: ' + req.get('from'), 'To: ' + to,
			   'Call-ID: ' + req.get('call-id'),
			   'CSeq: ' + req.get('cseq'), 'Content-Length: 0');
		return lines.join('\r\n') + '\r\n\r\n';
	}

	send(text) {
		this.ws.send(text);
	}

	/* The next response for which pred holds */
	wait(pred, what) {
		for (let i = 0; i < this.queue.length; i++) {
			if (pred(this.queue[i]))
				return Promise.resolve(this.queue.splice(i, 1)[0]);
		}
		if (this.closed)
			return Promise.reject(new Error('closed, no ' + what));

		return new Promise((resolve, reject) => {
			const w = {pred, resolve, reject};
			w.timer = setTimeout(() => {
				this.waiters = this.waiters.filter((x) => x !== w);
				reject(new Error('no ' + what + ' within ' +
						 this.opts.timeout / 1000 + ' s'));
			}, this.opts.timeout);
			this.waiters.push(w);
		});
	}

	build(method, uri, o) {
		const lines = [`${method} ${uri} SIP/2.0`,
			       `Via: SIP/2.0/${this.transport()} ${this.host};` +
			       `branch=${o.branch}`,
			       'Max-Forwards: 70'];
		for (const r of o.routes || [])
			lines.push('Route: ' + r);
		lines.push(`From: ${o.from}`, `To: ${o.to}`,
			   `Call-ID: ${o.callid}`,
			   `CSeq: ${o.cseq} ${o.cseqMethod || method}`);
		if (o.contact)
			lines.push('Contact: ' + this.contact);
		lines.push('User-Agent: ' + this.opts.userAgent);
		for (const h of o.headers || [])
			lines.push(h);
		if (o.body) {
			lines.push('Content-Type: application/sdp');
			lines.push('Content-Length: ' +
				   Buffer.byteLength(o.body));
			return lines.join('\r\n') + '\r\n\r\n' + o.body;
		}
		lines.push('Content-Length: 0');
		return lines.join('\r\n') + '\r\n\r\n';
	}

	transport() {
		return this.opts.url.startsWith('wss:') ? 'WSS' : 'WS';
	}

	/* Send a request; its final response (provisionals reported) */
	async transaction(method, uri, o, onProvisional) {
		o.branch = branch();
		this.send(this.build(method, uri, o));
		for (;;) {
			const r = await this.wait((m) =>
				m.get('call-id') === o.callid &&
				m.get('cseq') === `${o.cseq} ${method}`,
				`response to ${method}`);
			if (r.status >= 200)
				return r;
			if (onProvisional)
				onProvisional(r);
		}
	}

	async register(expires) {
		const uri = `sip:${this.opts.domain}`;
		const o = {
			from: `<${this.aor}>;tag=${token(8)}`,
			to: `<${this.aor}>`,
			callid: token(16) + '@ws-client',
			cseq: 1,
			contact: true,
			headers: [`Expires: ${expires}`],
		};
		let r = await this.transaction('REGISTER', uri, o);
		out({step: 'register', status: r.status,
		     algorithms: r.all('www-authenticate')
			     .map((v) => parseChallenge(v).algorithm)});
		if (r.status === 401) {
			const alg = this.opts.registerAlg;
			const ch = pickChallenge(r, 'www-authenticate', alg,
						 this.opts.firstOnly);
			if (!ch)
				throw new Error('no ' + alg + ' challenge');
			o.cseq = 2;
			o.headers = [`Expires: ${expires}`, 'Authorization: ' +
				     credentials(ch, 'REGISTER', uri,
						 this.opts.user,
						 this.opts.password)];
			r = await this.transaction('REGISTER', uri, o);
			out({step: 'register', status: r.status, algorithm: alg,
			     contact: r.all('contact').join(', '),
			     expires});
		}

		return r.status;
	}

	async call(target) {
		const d = {
			callid: token(16) + '@ws-client',
			from: `<${this.aor}>;tag=${token(8)}`,
			to: `<${target}>`,
			cseq: 1,
		};
		this.dialog = d;
		const result = {};
		const o = {from: d.from, to: d.to, callid: d.callid, cseq: 1,
			   contact: true, body: SDP};
		const onProv = (r) => {
			out({step: 'invite', status: r.status});
			result['got' + r.status] = true;
		};

		let r = await this.transaction('INVITE', target, o, onProv);
		out({step: 'invite', status: r.status});
		if (r.status === 407 || r.status === 401) {
			/* ACK of the challenge: the INVITE's branch, hop by hop */
			this.send(this.build('ACK', target, {
				branch: o.branch, from: d.from, to: r.get('to'),
				callid: d.callid, cseq: o.cseq}));
			const hdr = r.status === 407 ? 'proxy-authenticate' :
				'www-authenticate';
			const alg = this.opts.inviteAlg;
			const ch = pickChallenge(r, hdr, alg,
						 this.opts.firstOnly);
			if (!ch)
				throw new Error('no ' + alg + ' challenge in ' +
						r.start);
			o.cseq = 2;
			o.headers = [(r.status === 407 ? 'Proxy-Authorization: ' :
				      'Authorization: ') +
				     credentials(ch, 'INVITE', target,
						 this.opts.user,
						 this.opts.password)];
			result.challenged = alg;
			r = await this.transaction('INVITE', target, o, onProv);
			out({step: 'invite', status: r.status});
		}
		d.cseq = o.cseq;
		result.status = r.status;
		if (r.status !== 200)
			return result;

		/* the dialog: its route set and remote target (RFC 3261 12.1.2) */
		d.to = r.get('to');
		d.routes = [];
		for (const v of r.all('record-route'))
			d.routes.push(...splitList(v));
		d.routes.reverse();
		d.target = uriOf(r.get('contact') || `<${target}>`);
		result.recordRoute = d.routes;
		result.answerSdp = r.body.includes('m=audio');

		const ack = this.build('ACK', d.target, {
			branch: branch(), routes: d.routes, from: d.from,
			to: d.to, callid: d.callid, cseq: d.cseq});
		this.send(ack);
		out({step: 'ack'});

		/* a retransmitted 200 gets the ACK again */
		const resend = (m) => m.status === 200 &&
			m.get('call-id') === d.callid &&
			m.get('cseq') === `${d.cseq} INVITE`;
		this.wait(resend, 'retransmission').then(() => this.send(ack),
							    () => {});

		await new Promise((res) => setTimeout(res, 200));

		const bye = await this.transaction('BYE', d.target, {
			routes: d.routes, from: d.from, to: d.to,
			callid: d.callid, cseq: d.cseq + 1});
		out({step: 'bye', status: bye.status});
		result.bye = bye.status;

		return result;
	}

	close() {
		return new Promise((resolve) => {
			if (this.closed)
				return resolve();
			this.ws.once('close', () => resolve());
			this.ws.close(1000);
			setTimeout(resolve, 2000);
		});
	}
}


async function main() {
	let opts;

	try {
		opts = parseArgs(process.argv);
	}
	catch (err) {
		process.stderr.write('client.js: ' + err.message + '\n');
		process.exit(2);
	}

	const phone = new Phone(opts);
	const done = {step: 'done', ok: false, registered: false,
		      answered: false, bye: null};

	try {
		const proto = await phone.connect();
		out({step: 'connected', protocol: proto});
		if (proto !== 'sip')
			throw new Error('the server did not accept the sip' +
					' subprotocol');

		done.registered = await phone.register(300) === 200;
		if (!done.registered)
			throw new Error('REGISTER failed');

		if (opts.call) {
			const r = await phone.call(opts.call);
			done.call = r;
			done.answered = r.status === 200;
			done.bye = r.bye || null;
		}

		const un = await phone.register(0);
		done.unregistered = un === 200;
		done.ok = done.registered &&
			(!opts.call || (done.answered && done.bye === 200));
	}
	catch (err) {
		out({step: 'error', message: err.message});
	}

	out(done);
	phone.fail(new Error('done'));
	await phone.close();
	process.exit(done.ok ? 0 : 1);
}

main();
