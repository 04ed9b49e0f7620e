/**
 * @file transp.c  Transport names, URI transport parameters
 *
 * Copyright (C) 2026 sipd developers
 */

#include <re.h>
#include "core.h"


/**
 * Decode a transport name (udp, tcp, tls, ws, wss; any case)
 *
 * @param tp   Decoded transport
 * @param name Name
 *
 * @return 0 if success, EPROTONOSUPPORT for another name
 */
int transp_decode(enum sip_transp *tp, const struct pl *name)
{
	if (!pl_strcasecmp(name, "udp"))
		*tp = SIP_TRANSP_UDP;
	else if (!pl_strcasecmp(name, "tcp"))
		*tp = SIP_TRANSP_TCP;
	else if (!pl_strcasecmp(name, "tls"))
		*tp = SIP_TRANSP_TLS;
	else if (!pl_strcasecmp(name, "ws"))
		*tp = SIP_TRANSP_WS;
	else if (!pl_strcasecmp(name, "wss"))
		*tp = SIP_TRANSP_WSS;
	else
		return EPROTONOSUPPORT;

	return 0;
}


/**
 * The lower-case name of a transport, as in a transport parameter
 *
 * @param tp Transport
 *
 * @return Name
 */
const char *transp_name(enum sip_transp tp)
{
	switch (tp) {

	case SIP_TRANSP_UDP: return "udp";
	case SIP_TRANSP_TCP: return "tcp";
	case SIP_TRANSP_TLS: return "tls";
	case SIP_TRANSP_WS:  return "ws";
	case SIP_TRANSP_WSS: return "wss";
	default:             return "?";
	}
}


/**
 * The transport a URI names: its transport parameter, else TLS for a
 * sips: URI and UDP for a sip: URI
 *
 * @param uri URI
 *
 * @return Transport
 */
enum sip_transp uri_transp(const struct uri *uri)
{
	enum sip_transp tp;
	struct pl val;

	if (!msg_param_decode(&uri->params, "transport", &val) &&
	    !transp_decode(&tp, &val))
		return tp;

	return pl_strcasecmp(&uri->scheme, "sips") ? SIP_TRANSP_UDP :
		SIP_TRANSP_TLS;
}
