/**
 * @file docs.c  The XML documents of the dialog, reg and presence.winfo
 *               packages (RFC 4235, RFC 3680, RFC 3858)
 *
 * These documents are sipd's own, so they are printed directly (with
 * escaping) rather than built as trees. Each is a full state document
 * with a version that grows with every NOTIFY of its subscription.
 *
 * Copyright (C) 2026 sipd developers
 */

#include <string.h>
#include <re.h>
#include <sipd.h>
#include "presence.h"


/**
 * Print a string with the XML special characters escaped (%H)
 *
 * @param pf  Print handler
 * @param arg The string (const char *)
 *
 * @return 0 if success, otherwise errorcode
 */
int xml_escape(struct re_printf *pf, void *arg)
{
	const char *s = arg, *start;
	int err = 0;

	for (start = s; s && *s; s++) {
		const char *rep;

		switch (*s) {

		case '&':  rep = "&amp;";  break;
		case '<':  rep = "&lt;";   break;
		case '>':  rep = "&gt;";   break;
		case '"':  rep = "&quot;"; break;
		case '\'': rep = "&apos;"; break;
		default:   continue;
		}

		err |= re_hprintf(pf, "%b%s", start, (size_t)(s - start), rep);
		start = s + 1;
	}

	if (s && s > start)
		err |= re_hprintf(pf, "%b", start, (size_t)(s - start));

	return err;
}


struct dlg_print {
	struct mbuf *mb;
	int err;
};


static const char *dialog_state(enum call_state state, bool initiator)
{
	switch (state) {

	case CALL_TRYING:     return "trying";
	case CALL_EARLY:      return initiator ? "proceeding" : "early";
	case CALL_CONFIRMED:  return "confirmed";
	default:              return "terminated";
	}
}


static void dialog_handler(const struct call_event *ce, void *arg)
{
	struct dlg_print *dp = arg;

	dp->err |= mbuf_printf(dp->mb,
			       "  <dialog id=\"%H\" call-id=\"%H\"",
			       xml_escape, ce->call_id,
			       xml_escape, ce->call_id);

	if (ce->local_tag && *ce->local_tag)
		dp->err |= mbuf_printf(dp->mb, " local-tag=\"%H\"",
				       xml_escape, ce->local_tag);
	if (ce->remote_tag && *ce->remote_tag)
		dp->err |= mbuf_printf(dp->mb, " remote-tag=\"%H\"",
				       xml_escape, ce->remote_tag);

	dp->err |= mbuf_printf(dp->mb,
			       " direction=\"%s\">\n"
			       "    <state>%s</state>\n"
			       "    <local><identity>%H</identity></local>\n"
			       "    <remote><identity>%H</identity></remote>\n"
			       "  </dialog>\n",
			       ce->initiator ? "initiator" : "recipient",
			       dialog_state(ce->state, ce->initiator),
			       xml_escape, ce->local_uri,
			       xml_escape, ce->peer);
}


/**
 * Print the dialog-info document of an address-of-record
 *
 * @param mb      Buffer
 * @param aor     user@domain
 * @param version Document version
 *
 * @return 0 if success, otherwise errorcode
 */
int dialoginfo_print(struct mbuf *mb, const char *aor, uint32_t version)
{
	struct dlg_print dp = {mb, 0};

	dp.err = mbuf_printf(mb, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			     "<dialog-info xmlns=\"urn:ietf:params:xml:ns:"
			     "dialog-info\" version=\"%u\" state=\"full\""
			     " entity=\"sip:%H\">\n", version,
			     xml_escape, aor);

	(void)callstate_apply(aor, dialog_handler, &dp);

	dp.err |= mbuf_write_str(mb, "</dialog-info>\n");

	return dp.err;
}


static int contact_print(struct mbuf *mb, const struct binding *b,
			 const char *state, const char *event, int64_t now)
{
	int64_t left = b->expires - now;

	return mbuf_printf(mb, "    <contact id=\"c%lld\" state=\"%s\""
			   " event=\"%s\" expires=\"%lld\" q=\"%u.%03u\">\n"
			   "      <uri>%H</uri>\n"
			   "    </contact>\n",
			   (long long)b->id, state, event,
			   (long long)(left > 0 ? left : 0),
			   b->q / 1000, b->q % 1000,
			   xml_escape, b->contact);
}


/**
 * Print the reginfo document of an address-of-record: its current
 * bindings, and those that went away since the subscriber's previous
 * NOTIFY
 *
 * @param mb      Buffer
 * @param aor     user@domain
 * @param version Document version
 * @param gone    Bindings removed or expired since (struct reg_gone),
 *                may be empty
 * @param active  In: the subscriber saw the registration active; out:
 *                it is active now
 *
 * @return 0 if success, otherwise errorcode
 */
int reginfo_print(struct mbuf *mb, const char *aor, uint32_t version,
		  const struct list *gone, bool *active)
{
	struct list bindings = LIST_INIT;
	int64_t now = time_now();
	const char *state;
	struct le *le;
	int err;

	err = location_lookup(&bindings, aor);
	if (err)
		return err;

	/* RFC 3680 5.1: init before any contact, terminated after */
	if (!list_isempty(&bindings))
		state = "active";
	else if (*active || !list_isempty(gone))
		state = "terminated";
	else
		state = "init";

	*active = !list_isempty(&bindings);

	err = mbuf_printf(mb, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			  "<reginfo xmlns=\"urn:ietf:params:xml:ns:reginfo\""
			  " version=\"%u\" state=\"full\">\n"
			  "  <registration aor=\"sip:%H\" id=\"r1\""
			  " state=\"%s\">\n", version, xml_escape, aor, state);

	for (le = bindings.head; le; le = le->next) {
		const struct binding *b = le->data;

		err |= contact_print(mb, b, "active",
				     b->created == b->updated ? "registered" :
				     "refreshed", now);
	}

	for (le = gone->head; le; le = le->next) {
		const struct reg_gone *g = le->data;

		err |= contact_print(mb, g->b, "terminated", g->event, now);
	}

	err |= mbuf_write_str(mb, "  </registration>\n</reginfo>\n");

	list_flush(&bindings);

	return err;
}


struct winfo_print_arg {
	struct mbuf *mb;
	int err;
};


static void watcher_handler(struct sub *sub, void *arg)
{
	struct winfo_print_arg *wp = arg;
	const char *status, *event;

	switch (sub->state) {

	case SUB_ACTIVE:
		status = "active";
		event = "approved";
		break;

	case SUB_PENDING:
		status = "pending";
		event = "subscribe";
		break;

	default:
		status = "terminated";
		event = "timeout";
		break;
	}

	wp->err |= mbuf_printf(wp->mb, "    <watcher id=\"w%lld\""
			       " status=\"%s\" event=\"%s\">sip:%H</watcher>\n",
			       (long long)sub->id, status, event,
			       xml_escape, sub->watcher);
}


/**
 * Print the watcherinfo document of a presentity: who watches its
 * presence and with what status
 *
 * @param mb         Buffer
 * @param presentity user@domain
 * @param version    Document version
 *
 * @return 0 if success, otherwise errorcode
 */
int winfo_print(struct mbuf *mb, const char *presentity, uint32_t version)
{
	struct winfo_print_arg wp = {mb, 0};

	wp.err = mbuf_printf(mb, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			     "<watcherinfo xmlns=\"urn:ietf:params:xml:ns:"
			     "watcherinfo\" version=\"%u\" state=\"full\">\n"
			     "  <watcher-list resource=\"sip:%H\""
			     " package=\"presence\">\n", version,
			     xml_escape, presentity);

	(void)sub_apply(presentity, PKG_PRESENCE, watcher_handler, &wp);

	wp.err |= mbuf_write_str(mb, "  </watcher-list>\n</watcherinfo>\n");

	return wp.err;
}
