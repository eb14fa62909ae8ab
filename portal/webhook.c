/*
 * The webhook sender thread and its libcurl request. One event at a time,
 * in outbox order, so a receiver sees "closed" after its "opened".
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <sqlite3.h>

#include "log.h"
#include "portal.h"
#include "store.h"
#include "webhook.h"
#include "xmalloc.h"

#define WEBHOOK_TIMEOUT		10L
#define WEBHOOK_MAX_BACKOFF	300.0

static struct {
	pthread_mutex_t	 mu;
	pthread_cond_t	 cond;
	pthread_t	 thread;
	int		 running;
	int		 kicked;
	struct store	*store;
	char		*url;
	char		*ca_file;
} wh = { .mu = PTHREAD_MUTEX_INITIALIZER };	/* cond: webhook_start */

double
webhook_backoff(int attempts)
{
	double d = 1.0;

	while (attempts-- > 1 && d < WEBHOOK_MAX_BACKOFF)
		d *= 2;
	return d < WEBHOOK_MAX_BACKOFF ? d : WEBHOOK_MAX_BACKOFF;
}

void
webhook_kick(void)
{
	pthread_mutex_lock(&wh.mu);
	wh.kicked = 1;
	pthread_cond_signal(&wh.cond);
	pthread_mutex_unlock(&wh.mu);
}

/* Discards the receiver's body: only the status matters. */
static size_t
webhook_sink(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

/* POSTs body; 0 on 2xx, else -EIO with why in err. */
static int
webhook_post(CURL *c, const char *body, char *err, size_t errlen)
{
	struct curl_slist *hdr = NULL;
	char cerr[CURL_ERROR_SIZE] = "";
	long code = 0;
	CURLcode cr;
	int r;

	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, wh.url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (wh.ca_file != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, wh.ca_file);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, WEBHOOK_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, webhook_sink);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "agentd-portal/"
	    AGENTD_VERSION);
	cr = curl_easy_perform(c);
	if (cr != CURLE_OK) {
		snprintf(err, errlen, "%s", cerr[0] ? cerr :
		    curl_easy_strerror(cr));
		r = -EIO;
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (code < 200 || code > 299) {
		snprintf(err, errlen, "HTTP status %ld", code);
		r = -EIO;
		goto out;
	}
	r = 0;
out:
	curl_slist_free_all(hdr);
	return r;
}

/* The oldest row: 1 with its fields, 0 when empty, -EIO. */
static int
webhook_head(sqlite3_int64 *id, char **body, int *attempts, double *next_try)
{
	static const char sel[] = "SELECT id, body, attempts, next_try FROM "
	    "outbox ORDER BY id LIMIT 1";
	sqlite3_stmt *st;
	int rc, r;

	*body = NULL;
	store_lock(wh.store);
	if ((st = store_stmt(wh.store, sel)) == NULL) {
		r = -EIO;
		goto out;
	}
	rc = store_step(wh.store, st);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		*body = xstrdup(store_text(st, 1));
		*attempts = sqlite3_column_int(st, 2);
		*next_try = sqlite3_column_double(st, 3);
		r = 1;
	} else
		r = rc == SQLITE_DONE ? 0 : -EIO;
	sqlite3_reset(st);
out:
	store_unlock(wh.store);
	return r;
}

static void
webhook_done(sqlite3_int64 id, int ok, int attempts, const char *err)
{
	static const char del[] = "DELETE FROM outbox WHERE id = ?";
	static const char upd[] = "UPDATE outbox SET attempts = ?, "
	    "next_try = ?, last_error = ? WHERE id = ?";
	sqlite3_stmt *st;

	store_lock(wh.store);
	if (ok) {
		if ((st = store_stmt(wh.store, del)) != NULL) {
			sqlite3_bind_int64(st, 1, id);
			store_step(wh.store, st);
		}
	} else if ((st = store_stmt(wh.store, upd)) != NULL) {
		sqlite3_bind_int(st, 1, attempts);
		sqlite3_bind_double(st, 2, store_now() +
		    webhook_backoff(attempts));
		sqlite3_bind_text(st, 3, err, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, id);
		store_step(wh.store, st);
	}
	store_unlock(wh.store);
}

/*
 * Sleeps until kicked, stopped or for delay seconds, measured on the
 * monotonic clock (the condition variable's): a step of the wall clock
 * neither cuts the wait short nor stretches it.
 */
static void
webhook_wait(double delay)
{
	struct timespec ts;
	double until = store_monotonic() + delay;

	ts.tv_sec = (time_t)until;
	ts.tv_nsec = (long)((until - (double)ts.tv_sec) * 1e9);
	pthread_mutex_lock(&wh.mu);
	while (wh.running && !wh.kicked)
		if (pthread_cond_timedwait(&wh.cond, &wh.mu, &ts) == ETIMEDOUT)
			break;
	wh.kicked = 0;
	pthread_mutex_unlock(&wh.mu);
}

static int
webhook_running(void)
{
	int on;

	pthread_mutex_lock(&wh.mu);
	on = wh.running;
	pthread_mutex_unlock(&wh.mu);
	return on;
}

static void *
webhook_main(void *arg)
{
	char err[CURL_ERROR_SIZE + 64], f_err[CURL_ERROR_SIZE + 80];
	const char *fields[1] = { f_err };
	sqlite3_int64 id;
	double next_try, due_in;
	int attempts, r;
	char *body;
	CURL *c;

	(void)arg;
	if ((c = curl_easy_init()) == NULL)
		fatalx("webhook: curl_easy_init failed");
	while (webhook_running()) {
		r = webhook_head(&id, &body, &attempts, &next_try);
		if (r <= 0) {
			webhook_wait(5.0);
			continue;
		}
		/*
		 * next_try is a wall-clock stamp (another instance may send).
		 * One further ahead than the longest back-off was written by
		 * a clock since set back: due now, not when realtime gets
		 * there again.
		 */
		due_in = next_try - store_now();
		if (due_in > 0 && due_in <= WEBHOOK_MAX_BACKOFF) {
			free(body);
			webhook_wait(due_in);
			continue;
		}
		r = webhook_post(c, body, err, sizeof(err));
		free(body);
		if (r != 0) {
			snprintf(f_err, sizeof(f_err), "WEBHOOK_ERROR=%s", err);
			log_event(LOG_WARNING, MSGID_PORTAL_WEBHOOK_FAILING,
			    fields, 1, "webhook: event %lld attempt %d "
			    "failed: %s; retry in %.0f s", (long long)id,
			    attempts + 1, err, webhook_backoff(attempts + 1));
		} else
			log_debug("webhook: event %lld delivered",
			    (long long)id);
		webhook_done(id, r == 0, attempts + 1, err);
	}
	curl_easy_cleanup(c);
	return NULL;
}

int
webhook_start(struct store *s, const char *url, const char *ca_file)
{
	pthread_condattr_t attr;
	int r;

	if (strncmp(url, "https://", 8) != 0)
		return -EPROTONOSUPPORT;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&wh.cond, &attr);
	pthread_condattr_destroy(&attr);
	wh.store = s;
	wh.url = xstrdup(url);
	wh.ca_file = ca_file != NULL ? xstrdup(ca_file) : NULL;
	wh.running = 1;
	if ((r = pthread_create(&wh.thread, NULL, webhook_main, NULL)) != 0) {
		wh.running = 0;
		return -r;
	}
	return 0;
}

void
webhook_stop(void)
{
	int was;

	pthread_mutex_lock(&wh.mu);
	was = wh.running;
	wh.running = 0;
	pthread_cond_signal(&wh.cond);
	pthread_mutex_unlock(&wh.mu);
	if (was)
		pthread_join(wh.thread, NULL);
	free(wh.url);
	free(wh.ca_file);
	wh.url = wh.ca_file = NULL;
}
