/*
 * Load generator for bench/portal-ingest: enrols one agent per token read
 * from a file, then has every agent post gzip report batches over its own
 * keep-alive HTTPS connection (libcurl multi) for a bounded time. Prints
 * requests/s, reports/s, p50/p99 latency of the accepted requests and the
 * 429s seen.
 *
 * Each agent keeps under the portal's per-agent rate limit as a real agent
 * does (at most RATE requests/s, and after a 429 it waits Retry-After), so
 * what is measured is the server, not the limit: the load comes from the
 * number of agents. 429s are counted apart from reports, and a run where
 * they are more than 1% of the requests, or where every agent sent as fast
 * as its pacing allowed (the server was not the bottleneck), says so.
 * usage: portal-ingest-load URL CA TOKENFILE SECONDS REPORTS_PER_REQUEST
 *     [RATE]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <zlib.h>

struct agent {
	CURL			*h;
	struct curl_slist	*hdrs;
	char			 url[256];
	char			 auth[128];
	long long		 seq;
	double			 t0;		/* this request sent */
	double			 next;		/* earliest next send */
	int			 busy;		/* a request in flight */
	char			*body;
	size_t			 len;
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t
sink(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

/* Retry-After of a 429, in seconds (1 if absent). */
static size_t
header(char *p, size_t size, size_t n, void *arg)
{
	double *retry = arg;

	if (n * size > 12 && strncasecmp(p, "Retry-After:", 12) == 0)
		*retry = atof(p + 12);
	return size * n;
}

struct buf {
	char	*p;
	size_t	 len;
};

static size_t
collect(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;

	b->p = realloc(b->p, b->len + size * n + 1);
	memcpy(b->p + b->len, p, size * n);
	b->len += size * n;
	b->p[b->len] = '\0';
	return size * n;
}

static void
make_body(struct agent *a, int per)
{
	char *json = malloc((size_t)per * 1024 + 64), *p;
	z_stream z = { 0 };
	size_t cap;
	int i;

	p = json + sprintf(json, "{\"reports\": [");
	for (i = 0; i < per; i++)
		p += sprintf(p, "%s{\"seq\": %lld, \"kind\": \"heartbeat\", "
		    "\"time\": %.3f, \"payload\": {\"agent\": {\"version\": "
		    "\"0.1.0\", \"spool_depth\": 0}, \"checks\": ["
		    "{\"name\": \"disk\", \"kind\": \"collector\", \"state\": "
		    "\"OK\", \"summary\": \"/ 40%% used\", \"when\": %.3f, "
		    "\"perfdata\": [{\"label\": \"/:used\", \"value\": 40.1, "
		    "\"uom\": \"%%\", \"warn\": \"90\", \"crit\": \"95\"}]},"
		    "{\"name\": \"load\", \"state\": \"OK\", \"summary\": "
		    "\"load 0.1\", \"when\": %.3f},"
		    "{\"name\": \"memory\", \"state\": \"OK\", \"summary\": "
		    "\"20%% used\", \"when\": %.3f}]}}", i ? "," : "",
		    ++a->seq, now(), now(), now(), now());
	sprintf(p, "]}");
	cap = compressBound(strlen(json)) + 64;
	free(a->body);
	a->body = malloc(cap);
	deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
	z.next_in = (Bytef *)json;
	z.avail_in = (uInt)strlen(json);
	z.next_out = (Bytef *)a->body;
	z.avail_out = (uInt)cap;
	deflate(&z, Z_FINISH);
	a->len = cap - z.avail_out;
	deflateEnd(&z);
	free(json);
}

static int
cmp(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return a < b ? -1 : a > b;
}

int
main(int argc, char **argv)
{
	struct agent *agents = NULL;
	size_t nagents = 0, nlat = 0, caplat = 1 << 22, inflight = 0;
	double *lat, secs, start, end, rate = 15, *retry, wait, due;
	long long reqs = 0, reports = 0, limited = 0, errors = 0;
	char line[256], body[512];
	int per, running, left, scan;
	CURL *eh;
	CURLM *m;
	FILE *f;
	CURLMsg *msg;

	if (argc != 6 && argc != 7) {
		fprintf(stderr, "usage: %s URL CA TOKENFILE SECONDS PER "
		    "[RATE]\n", argv[0]);
		return 2;
	}
	secs = atof(argv[4]);
	per = atoi(argv[5]);
	if (argc == 7)
		rate = atof(argv[6]);
	if (secs <= 0 || per < 1 || rate <= 0) {
		fprintf(stderr, "SECONDS, PER and RATE must be positive\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if ((f = fopen(argv[3], "r")) == NULL) {
		perror(argv[3]);
		return 1;
	}
	/* Enrolment, one at a time over one keep-alive connection. */
	eh = curl_easy_init();
	while (fgets(line, sizeof(line), f) != NULL) {
		struct buf b = { 0 };
		struct agent *a;
		json_t *r;
		CURL *h = eh;
		long code = 0;
		char url[256];

		line[strcspn(line, "\n")] = '\0';
		snprintf(body, sizeof(body), "{\"token\": \"%s\", \"host\": "
		    "{\"hostname\": \"bench-%zu\", \"machine_id\": "
		    "\"bench%zu\"}}", line, nagents, nagents);
		snprintf(url, sizeof(url), "%s/enroll", argv[1]);
		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_CAINFO, argv[2]);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
		if (curl_easy_perform(h) != CURLE_OK ||
		    (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code),
		    code != 201) || (r = json_loads(b.p, 0, NULL)) == NULL) {
			fprintf(stderr, "enrol failed: %ld %s\n", code,
			    b.p ? b.p : "");
			return 1;
		}
		agents = realloc(agents, (nagents + 1) * sizeof(*agents));
		a = &agents[nagents++];
		memset(a, 0, sizeof(*a));
		snprintf(a->url, sizeof(a->url), "%s/agents/%s/reports",
		    argv[1], json_string_value(json_object_get(r,
		    "agent_id")));
		snprintf(a->auth, sizeof(a->auth), "Authorization: Bearer %s",
		    json_string_value(json_object_get(r, "credential")));
		json_decref(r);
		free(b.p);
	}
	curl_easy_cleanup(eh);
	fclose(f);
	if (nagents == 0) {
		fprintf(stderr, "no tokens in %s\n", argv[3]);
		return 1;
	}
	retry = calloc(nagents, sizeof(*retry));

	lat = malloc(caplat * sizeof(*lat));
	m = curl_multi_init();
	curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)nagents + 8);
	for (size_t i = 0; i < nagents; i++) {
		struct agent *a = &agents[i];

		a->h = curl_easy_init();
		a->hdrs = curl_slist_append(NULL, a->auth);
		a->hdrs = curl_slist_append(a->hdrs,
		    "Content-Type: application/json");
		a->hdrs = curl_slist_append(a->hdrs, "Content-Encoding: gzip");
		curl_easy_setopt(a->h, CURLOPT_URL, a->url);
		curl_easy_setopt(a->h, CURLOPT_CAINFO, argv[2]);
		curl_easy_setopt(a->h, CURLOPT_HTTPHEADER, a->hdrs);
		curl_easy_setopt(a->h, CURLOPT_WRITEFUNCTION, sink);
		curl_easy_setopt(a->h, CURLOPT_HEADERFUNCTION, header);
		curl_easy_setopt(a->h, CURLOPT_HEADERDATA, &retry[i]);
		curl_easy_setopt(a->h, CURLOPT_PRIVATE, a);
		make_body(a, per);
	}
	start = now();
	end = start + secs;
	/* Spread the agents' first requests over one pacing period. */
	for (size_t i = 0; i < nagents; i++)
		agents[i].next = start + (double)i / (double)nagents / rate;
	/*
	 * Until the end: send for every idle agent whose time has come;
	 * then wait for what is in flight, at most 30 s more. The count of
	 * requests in flight is ours: curl's running count says nothing of
	 * handles added after curl_multi_perform returned.
	 */
	due = start;
	for (;;) {
		double t = now();

		if (t >= end + 30 || (t >= end && inflight == 0))
			break;
		/* due: the earliest time an idle agent may send again. */
		scan = t < end && t >= due;
		if (scan)
			due = end;
		for (size_t i = 0; scan && i < nagents; i++) {
			struct agent *a = &agents[i];

			if (a->busy)
				continue;
			if (a->next > t) {
				if (a->next < due)
					due = a->next;
				continue;
			}
			curl_easy_setopt(a->h, CURLOPT_POSTFIELDS, a->body);
			curl_easy_setopt(a->h, CURLOPT_POSTFIELDSIZE,
			    (long)a->len);
			retry[i] = 0;
			a->t0 = t;
			a->busy = 1;
			inflight++;
			curl_multi_add_handle(m, a->h);
		}
		curl_multi_perform(m, &running);
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			struct agent *a;
			long code = 0;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
			    (char **)&a);
			curl_easy_getinfo(a->h, CURLINFO_RESPONSE_CODE, &code);
			reqs++;
			/* The pace: one request per 1/rate s at most. */
			a->next = a->t0 + 1 / rate;
			if (msg->data.result != CURLE_OK)
				errors++;
			else if (code == 200) {
				if (nlat < caplat)
					lat[nlat++] = now() - a->t0;
				reports += per;
				make_body(a, per);
			} else if (code == 429) {
				/* Resend the same batch when told. */
				limited++;
				wait = retry[a - agents];
				a->next = now() + (wait > 0 ? wait : 1);
			} else
				errors++;
			curl_multi_remove_handle(m, a->h);
			a->busy = 0;
			inflight--;
			if (a->next < due)
				due = a->next;
		}
		/* Sleep until the next send is due or curl has work. */
		wait = (t >= end ? 0.01 : due - now());
		if (wait > 0.1)
			wait = 0.1;
		if (wait > 0)
			curl_multi_poll(m, NULL, 0, (int)(wait * 1000) + 1,
			    NULL);
	}
	secs = now() - start;
	qsort(lat, nlat, sizeof(*lat), cmp);
	printf("agents=%zu reports_per_request=%d pace=%.0f/s/agent "
	    "offered_requests/s=%.0f seconds=%.1f requests=%lld "
	    "requests/s=%.0f reports/s=%.0f p50_ms=%.1f p99_ms=%.1f "
	    "http_429=%lld errors=%lld\n", nagents, per, rate,
	    rate * (double)nagents, secs, reqs, (double)reqs / secs,
	    (double)reports / secs, nlat ? lat[nlat / 2] * 1e3 : 0,
	    nlat ? lat[nlat * 99 / 100] * 1e3 : 0, limited, errors);
	if (reqs > 0 && limited * 100 > reqs)
		printf("WARNING: %.1f%% of the requests were refused with 429: "
		    "this run measures the per-agent rate limit, not the "
		    "server\n", 100.0 * (double)limited / (double)reqs);
	if (reqs > 0 && (double)reqs / secs > 0.9 * rate * (double)nagents)
		printf("WARNING: the server kept up with the offered load "
		    "(%.0f%% of the agents' pace): a lower bound only; run "
		    "more AGENTS\n", 100.0 * (double)reqs / secs /
		    (rate * (double)nagents));
	return errors > 0;
}
