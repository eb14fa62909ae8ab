/*
 * network: traffic, errors and drops of each interface between two runs,
 * from /proc/net/dev.
 *
 * [collector.network] keys (ranges per interface, per second over the
 * interval, rx and tx added up):
 *   errors_warning		default: 1
 *   errors_critical		default: 10
 *	A healthy link has no errors at all; one a second sustained is a
 *	bad cable, port or duplex mismatch, ten a second is a link that is
 *	losing real traffic.
 *   drops_warning		default: 100
 *   drops_critical		default: none
 *	The kernel also counts as dropped the frames it has no use for
 *	(unknown protocols, VLANs not configured here), a steady trickle on
 *	busy LANs; 100 a second is well above that and shows backlog or
 *	ring overflows under load.
 *   exclude	comma-separated fnmatch(3) patterns of interface names,
 *		replacing the default "lo". On container hosts add
 *		"veth*" (and the CNI's "cali*", "flannel*", ...): their
 *		traffic also crosses the bridge or uplink.
 *
 * Perfdata per interface I: "I:rx_bytes_per_s", "I:tx_bytes_per_s",
 * "I:errors_per_s", "I:drops_per_s" (no unit: rates).
 * Interfaces that appear get rates from the next run; re-created ones
 * (new ifindex in /sys/class/net, or counters reset) likewise; vanished
 * ones are forgotten.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "counter.h"
#include "fmt.h"
#include "glob.h"
#include "network.h"
#include "sysfile.h"
#include "timeutil.h"
#include "xmalloc.h"

/* ~130 bytes an interface; thousands of veths exist on busy nodes. */
#define NETDEV_MAX		(4 * 1024 * 1024)
#define SUMMARY_ITEMS_MAX	5
#define NETWORK_DEFAULT_EXCLUDE	"lo"

static const struct threshold_key network_thresholds[] = {
	{ "errors", offsetof(struct network, errors), "1", "10", NULL },
	{ "drops", offsetof(struct network, drops), "100", "", NULL },
	{ .name = NULL },
};

struct network_item {
	const struct network_stat *stat;
	struct network_rates	 rates;
	bool			 has_rates;
	int			 errors_state, drops_state, state;
};

/* "  eth0: 1 2 ... 16" (older kernels omit the blank after the colon). */
static int
network_parse_line(const char *line, struct network_stat *out)
{
	const char *p = line, *colon;
	uint64_t v[16];
	size_t len;

	memset(out, 0, sizeof(*out));
	while (*p == ' ')
		p++;
	if ((colon = strchr(p, ':')) == NULL)
		return -EINVAL;
	len = colon - p;
	if (len == 0 || len >= sizeof(out->name) ||
	    memchr(p, ' ', len) != NULL)
		return -EINVAL;
	memcpy(out->name, p, len);
	p = colon + 1;
	for (size_t i = 0; i < 16; i++)
		if (counter_parse(&p, &v[i]) != 0)
			return -EINVAL;
	while (*p == ' ')
		p++;
	if (*p != '\0')
		return -EINVAL;
	out->rx_bytes = v[0];
	out->rx_packets = v[1];
	out->rx_errors = v[2];
	out->rx_drops = v[3];
	out->tx_bytes = v[8];
	out->tx_packets = v[9];
	out->tx_errors = v[10];
	out->tx_drops = v[11];
	return 0;
}

int
network_parse_dev(const char *buf, size_t len, struct network_stat **out,
    size_t *n)
{
	const char *p = buf, *end = buf + len, *nl;
	struct network_stat *v = NULL;
	size_t nv = 0, cap = 0, lineno = 0;
	char line[512];

	*out = NULL;
	*n = 0;
	while (p < end && (nl = memchr(p, '\n', end - p)) != NULL) {
		if ((size_t)(nl - p) >= sizeof(line))
			goto fail;
		memcpy(line, p, nl - p);
		line[nl - p] = '\0';
		p = nl + 1;
		if (lineno++ < 2) {
			/* "Inter-|   Receive ..." and " face |bytes ..." */
			if (strchr(line, '|') == NULL)
				goto fail;
			continue;
		}
		if (nv == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			v = xreallocarray(v, cap, sizeof(*v));
		}
		if (network_parse_line(line, &v[nv]) != 0)
			goto fail;
		nv++;
	}
	if (lineno < 2)
		goto fail;
	*out = v;
	*n = nv;
	return 0;
 fail:
	free(v);
	return -EINVAL;
}

int
network_rates_between(const struct network_stat *prev,
    const struct network_stat *cur, uint64_t elapsed_usec,
    struct network_rates *out)
{
	const uint64_t pv[] = { prev->rx_bytes, prev->tx_bytes,
	    prev->rx_errors, prev->tx_errors, prev->rx_drops, prev->tx_drops,
	    prev->rx_packets, prev->tx_packets };
	const uint64_t cv[] = { cur->rx_bytes, cur->tx_bytes, cur->rx_errors,
	    cur->tx_errors, cur->rx_drops, cur->tx_drops, cur->rx_packets,
	    cur->tx_packets };
	uint64_t d[8];
	double secs = elapsed_usec / 1e6;

	memset(out, 0, sizeof(*out));
	if (elapsed_usec == 0 || (prev->ifindex != 0 && cur->ifindex != 0 &&
	    prev->ifindex != cur->ifindex) || counter_deltas(pv, cv, 8, d) != 0)
		return -EAGAIN;
	out->rx_bytes = d[0] / secs;
	out->tx_bytes = d[1] / secs;
	out->errors = (d[2] + d[3]) / secs;
	out->drops = (d[4] + d[5]) / secs;
	return 0;
}

/* The clock seam the tests replace. */
static uint64_t
network_now(void)
{
	return time_now(CLOCK_MONOTONIC);
}

static void *
network_new(void)
{
	struct network *nw = xcalloc(1, sizeof(*nw));

	glob_list_parse(nw->exclude, &nw->nexclude, NETWORK_EXCLUDE_MAX,
	    "exclude", NETWORK_DEFAULT_EXCLUDE, NULL, 0);
	threshold_defaults(nw, network_thresholds);
	nw->now_fn = network_now;
	return nw;
}

static int
network_configure(void *inst, const char *key, const char *value, char *err,
    size_t errlen)
{
	struct network *nw = inst;

	if (strcmp(key, "exclude") == 0)
		return glob_list_parse(nw->exclude, &nw->nexclude,
		    NETWORK_EXCLUDE_MAX, key, value, err, errlen);
	return threshold_configure(nw, network_thresholds, "exclude", key,
	    value, err, errlen);
}

/* The interface's ifindex from sysfs, 0 when there is none to read. */
static int
network_ifindex(const struct network *nw, const char *name)
{
	char rel[64], *buf = NULL, *end;
	size_t len;
	bool trunc;
	long v;

	snprintf(rel, sizeof(rel), "class/net/%s/ifindex", name);
	if (sysfile_read(nw->env.sys, rel, 32, &buf, &len, &trunc) != 0 ||
	    buf == NULL)	/* for the analyser: 0 always comes with buf */
		return 0;
	v = strtol(buf, &end, 10);
	if (v <= 0 || v > INT_MAX || (*end != '\n' && *end != '\0'))
		v = 0;
	free(buf);
	return (int)v;
}

/* Reads /proc/net/dev and keeps the interfaces not excluded in *ifs (the
 * caller frees). On failure the result (when not NULL) says why. */
static int
network_sample(struct network *nw, struct network_stat **ifs, size_t *n,
    struct result *res)
{
	struct network_stat *all = NULL;
	char *buf = NULL;
	size_t len, nall;
	bool trunc;
	int r;

	*ifs = NULL;
	*n = 0;
	if ((r = sysfile_read(nw->env.proc, "net/dev", NETDEV_MAX, &buf, &len,
	    &trunc)) != 0) {
		if (res != NULL)
			result_set(res, STATE_UNKNOWN, "cannot read "
			    "%s/net/dev: %s", nw->env.proc, strerror(-r));
		goto out;
	}
	if (trunc || network_parse_dev(buf, len, &all, &nall) != 0) {
		r = -EINVAL;
		if (res != NULL)
			result_set(res, STATE_UNKNOWN, "%s/net/dev: %s",
			    nw->env.proc, trunc ? "longer than 4 MiB" :
			    "not in the net/dev format");
		goto out;
	}
	*ifs = xcalloc(nall + 1, sizeof(**ifs));
	for (size_t i = 0; i < nall; i++) {
		if (glob_list_match(nw->exclude, nw->nexclude, all[i].name))
			continue;
		all[i].ifindex = network_ifindex(nw, all[i].name);
		(*ifs)[(*n)++] = all[i];
	}
	r = 0;
 out:
	free(all);
	free(buf);
	return r;
}

static int
network_start(void *inst, const struct collector_env *env)
{
	struct network *nw = inst;
	int r;

	nw->env = *env;
	if ((r = network_sample(nw, &nw->ifs, &nw->nifs, NULL)) != 0)
		return r;
	nw->sampled = nw->now_fn();
	nw->have_sample = true;
	return 0;
}

/* The interface in the last sample (ifindex tells re-creation). */
static const struct network_stat *
network_find(const struct network *nw, const char *name)
{
	for (size_t i = 0; i < nw->nifs; i++)
		if (strcmp(nw->ifs[i].name, name) == 0)
			return &nw->ifs[i];
	return NULL;
}

static void
network_perf(const struct network *nw, struct result *res,
    const struct network_item *it)
{
	char label[PERF_LABEL_MAX];
	struct perf *p;

	snprintf(label, sizeof(label), "%s:rx_bytes_per_s", it->stat->name);
	if ((p = result_add_perf(res, label, it->rates.rx_bytes, "")) != NULL) {
		p->min = 0;
		p->has_min = true;
	}
	snprintf(label, sizeof(label), "%s:tx_bytes_per_s", it->stat->name);
	if ((p = result_add_perf(res, label, it->rates.tx_bytes, "")) != NULL) {
		p->min = 0;
		p->has_min = true;
	}
	snprintf(label, sizeof(label), "%s:errors_per_s", it->stat->name);
	if ((p = result_add_perf(res, label, it->rates.errors, "")) != NULL) {
		threshold_to_perf(&nw->errors, p);
		p->min = 0;
		p->has_min = true;
	}
	snprintf(label, sizeof(label), "%s:drops_per_s", it->stat->name);
	if ((p = result_add_perf(res, label, it->rates.drops, "")) != NULL) {
		threshold_to_perf(&nw->drops, p);
		p->min = 0;
		p->has_min = true;
	}
}

/* Appends "eth0 errors 5.0/s (WARNING > 1/s)" for each alerting metric. */
static void
network_describe(const struct network *nw, const struct network_item *it,
    char *buf, size_t len)
{
	if (it->errors_state != STATE_OK)
		threshold_note(buf, len, &nw->errors, it->errors_state,
		    it->rates.errors, "/s", "%s errors %.1f/s", it->stat->name,
		    it->rates.errors);
	if (it->drops_state != STATE_OK)
		threshold_note(buf, len, &nw->drops, it->drops_state,
		    it->rates.drops, "/s", "%s drops %.1f/s", it->stat->name,
		    it->rates.drops);
}

static int
network_collect(void *inst, struct collect_req *req)
{
	static const int order[] = { STATE_CRITICAL, STATE_WARNING };
	struct network *nw = inst;
	struct result *res = collect_req_result(req);
	struct network_stat *ifs = NULL;
	struct network_item *items = NULL;
	const struct network_stat *prev;
	char problems[RESULT_SUMMARY_MAX / 2] = "", rx[32], tx[32];
	size_t n, nrated = 0, nproblems = 0, named = 0, busiest = SIZE_MAX, len;
	uint64_t now, elapsed;
	int r;

	if (nw->env.proc == NULL) {
		result_set(res, STATE_UNKNOWN, "network collector was not "
		    "started");
		return -EINVAL;
	}
	now = nw->now_fn();
	if ((r = network_sample(nw, &ifs, &n, res)) != 0)
		goto out;
	elapsed = now - nw->sampled;

	res->state = STATE_OK;
	items = xcalloc(n + 1, sizeof(*items));
	for (size_t i = 0; i < n; i++) {
		struct network_item *it = &items[i];

		it->stat = &ifs[i];
		if (!nw->have_sample ||
		    (prev = network_find(nw, it->stat->name)) == NULL ||
		    network_rates_between(prev, it->stat, elapsed,
		    &it->rates) != 0) {
			result_append_long(res, "%s: new or re-created, rates "
			    "from the next run", it->stat->name);
			continue;
		}
		it->has_rates = true;
		it->errors_state = threshold_eval(&nw->errors,
		    it->rates.errors);
		it->drops_state = threshold_eval(&nw->drops, it->rates.drops);
		it->state = it->errors_state > it->drops_state ?
		    it->errors_state : it->drops_state;
		result_escalate(res, it->state);
		if (it->state != STATE_OK)
			nproblems++;
		if (busiest == SIZE_MAX || it->rates.rx_bytes +
		    it->rates.tx_bytes > items[busiest].rates.rx_bytes +
		    items[busiest].rates.tx_bytes)
			busiest = i;
		nrated++;
	}

	if (n == 0)
		result_set(res, STATE_UNKNOWN, "no interfaces to watch: every "
		    "entry of %s/net/dev is excluded", nw->env.proc);
	else if (nrated == 0)
		result_set(res, STATE_UNKNOWN, "first sample of %zu "
		    "interface%s; rates from the next run", n, n == 1 ? "" :
		    "s");
	else {
		for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++)
			for (size_t i = 0; i < n; i++)
				if (items[i].has_rates &&
				    items[i].state == order[k] &&
				    named++ < SUMMARY_ITEMS_MAX)
					network_describe(nw, &items[i],
					    problems, sizeof(problems));
		if (nproblems > SUMMARY_ITEMS_MAX) {
			len = strlen(problems);
			snprintf(problems + len, sizeof(problems) - len,
			    " and %zu more", nproblems - SUMMARY_ITEMS_MAX);
		}
		fmt_bytes(items[busiest].rates.rx_bytes, rx, sizeof(rx));
		fmt_bytes(items[busiest].rates.tx_bytes, tx, sizeof(tx));
		if (nproblems > 0)
			result_set(res, res->state, "%s; %zu interface%s",
			    problems, n, n == 1 ? "" : "s");
		else if (items[busiest].rates.rx_bytes +
		    items[busiest].rates.tx_bytes == 0)
			result_set(res, res->state, "%zu interface%s, no "
			    "traffic", n, n == 1 ? "" : "s");
		else
			result_set(res, res->state, "%zu interface%s, busiest "
			    "%s rx %s/s tx %s/s", n, n == 1 ? "" : "s",
			    items[busiest].stat->name, rx, tx);
	}
	for (size_t i = 0; i < n; i++) {
		const struct network_item *it = &items[i];

		if (!it->has_rates)
			continue;
		network_perf(nw, res, it);
		fmt_bytes(it->rates.rx_bytes, rx, sizeof(rx));
		fmt_bytes(it->rates.tx_bytes, tx, sizeof(tx));
		result_append_long(res, "%s: rx %s/s, tx %s/s, errors %.1f/s, "
		    "drops %.1f/s", it->stat->name, rx, tx, it->rates.errors,
		    it->rates.drops);
	}
	if (res->nperf == RESULT_PERF_MAX)
		result_append_long(res, "perfdata limited to %d items",
		    RESULT_PERF_MAX);

	/* This sample is the next run's baseline. */
	free(nw->ifs);
	nw->ifs = ifs;
	ifs = NULL;	/* transferred */
	nw->nifs = n;
	nw->sampled = now;
	nw->have_sample = true;
	r = 0;
 out:
	free(items);
	free(ifs);
	return r;
}

static void
network_free(void *inst)
{
	struct network *nw = inst;

	glob_list_clear(nw->exclude, &nw->nexclude);
	free(nw->ifs);
	free(nw);
}

const struct collector collector_network = {
	.name = "network",
	.description = "Traffic, errors and drops of each network interface",
	.interval = 60,
	.new = network_new,
	.configure = network_configure,
	.thresholds = network_thresholds,
	.start = network_start,
	.collect = network_collect,
	.free = network_free,
};
