/*
 * filesystems: space and inodes used on every real mount, from
 * /proc/self/mountinfo and statvfs(3) on each mount point.
 *
 * [collector.filesystems] keys:
 *   used_warning, used_critical	% of space	default: 90 / 95
 *	Used as df counts it: blocks in use over blocks in use plus those
 *	available to users, so root's reserve counts as full.
 *   inodes_warning, inodes_critical	% of inodes	default: 90 / 95
 *	Filesystems that report no inode table (btrfs, vfat, ...) have no
 *	inode metric and never alert on it.
 *   used_clear, inodes_clear	points of %	default: 2
 *	Hysteresis, per mount: a level stays until the value is that much
 *	below it (WARNING from 90 % clears below 88 %), so a filesystem
 *	hovering at the threshold does not flip on every run.
 *   exclude	comma-separated fnmatch(3) patterns; one starting with "/"
 *		matches mount points ("/mnt/backup*"), any other the
 *		filesystem type ("zfs", "nfs*"). Default: empty.
 *
 * Never checked, whatever exclude says:
 *  - pseudo filesystems (proc, sysfs, devtmpfs, devpts, cgroup*, autofs,
 *    ramfs, ...): no space to run out of;
 *  - network and FUSE filesystems (nfs*, cifs, smb3, ceph, glusterfs,
 *    9p, fuse.*, ...): statvfs on an unreachable server blocks for
 *    minutes and would stall the daemon's loop; check them on the server.
 *    fuseblk (ntfs-3g on a local disk) is checked;
 *  - read-only images (squashfs, iso9660, udf, erofs, ...): always full by
 *    design (snaps);
 *  - overlay and aufs except on "/": container layers whose space is the
 *    backing filesystem's, already checked;
 *  - a tmpfs on /dev itself (agentd's own PrivateDevices= sandbox);
 *  - anything below /proc, /sys, /run/user (per-login tmpfs),
 *    /run/credentials (systemd's fixed-size credential mounts) and the
 *    container runtimes' state (/var/lib/docker, /var/lib/containers,
 *    /var/lib/kubelet, /run/containerd, /run/docker): those belong to
 *    sessions and containers; a filesystem mounted *at* /var/lib/docker
 *    is still checked;
 *  - a mount hidden by a later mount on the same point, and further
 *    mounts of a device already listed (bind mounts, btrfs subvolumes),
 *    since statvfs answers for the whole device;
 *  - filesystems reporting 0 blocks.
 * tmpfs is checked (/run, /dev/shm or a tmpfs /tmp filling up breaks a
 * host).
 *
 * Perfdata per mount point M: "M:used" (%), "M:used_bytes" (B, max = size),
 * "M:inodes" (%) when the filesystem has an inode table.
 */
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filesystems.h"
#include "fmt.h"
#include "glob.h"
#include "log.h"
#include "sysfile.h"
#include "threshold.h"
#include "xmalloc.h"

/* A mount table with thousands of container mounts is a few hundred KiB;
 * beyond this, the lines read are checked and the rest reported. */
#define MOUNTINFO_MAX		(4 * 1024 * 1024)
#define SUMMARY_ITEMS_MAX	5	/* problems named in the summary */

enum {
	LOGGED_TRUNCATED = 1 << 0,
	LOGGED_STATVFS = 1 << 1,
	LOGGED_BAD_LINES = 1 << 2,
};

static const char *const fs_skip_types[] = {
	/* pseudo */
	"autofs", "binder", "binfmt_misc", "bpf", "cgroup", "cgroup2",
	"configfs", "debugfs", "devfs", "devpts", "devtmpfs", "efivarfs",
	"fusectl", "hugetlbfs", "mqueue", "nfsd", "nsfs", "proc", "pstore",
	"ramfs", "rootfs", "rpc_pipefs", "securityfs", "selinuxfs", "sysfs",
	"tracefs", "usbfs", "xenfs",
	/* network: statvfs may block */
	"9p", "afs", "beegfs", "ceph", "cifs", "davfs", "fuse", "glusterfs",
	"gpfs", "lustre", "ncpfs", "nfs", "nfs4", "orangefs", "smb3", "smbfs",
	"sshfs",
	/* read-only images */
	"cramfs", "erofs", "iso9660", "romfs", "squashfs", "udf",
};

/* Mounts strictly below these belong to sessions or containers. */
static const char *const fs_skip_below[] = {
	"/proc", "/sys", "/run/user", "/run/credentials", "/var/lib/docker",
	"/var/lib/containers", "/var/lib/kubelet", "/run/containerd",
	"/run/docker",
};

static const struct threshold_key fs_thresholds[] = {
	{ "used", offsetof(struct filesystems, used), "90", "95", "2" },
	{ "inodes", offsetof(struct filesystems, inodes), "90", "95", "2" },
	{ .name = NULL },
};

/* One checked mount and what statvfs said. */
struct fs_item {
	const struct fs_mount	*m;
	char			 show[128];	/* printable */
	int			 state;
	int			 err;		/* statvfs errno */
	double			 used_pct, inodes_pct;
	double			 size, used, avail;
	bool			 has_inodes;
	int			 used_state, inodes_state;
};

/* Decodes the kernel's \ooo escapes; NULL when in is not well formed. */
static char *
fs_unescape(const char *in)
{
	char *out = xcalloc(1, strlen(in) + 1), *o = out;

	while (*in != '\0') {
		if (*in != '\\') {
			*o++ = *in++;
			continue;
		}
		if (in[1] < '0' || in[1] > '3' || in[2] < '0' || in[2] > '7' ||
		    in[3] < '0' || in[3] > '7' ||
		    (in[1] == '0' && in[2] == '0' && in[3] == '0')) {
			free(out);
			return NULL;
		}
		*o++ = (char)((in[1] - '0') << 6 | (in[2] - '0') << 3 |
		    (in[3] - '0'));
		in += 4;
	}
	*o = '\0';
	return out;
}

void
filesystems_mount_clear(struct fs_mount *m)
{
	free(m->root);
	free(m->mountpoint);
	free(m->fstype);
	free(m->source);
	memset(m, 0, sizeof(*m));
}

static bool
fs_is_number(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

int
filesystems_parse_mountinfo_line(const char *line, struct fs_mount *m)
{
	char *copy = xstrdup(line), *save = NULL, *tok[16], *t, *minor;
	unsigned long maj, min;
	size_t n = 0, sep = 0;
	int r = -EINVAL;

	memset(m, 0, sizeof(*m));
	for (t = strtok_r(copy, " ", &save); t != NULL;
	    t = strtok_r(NULL, " ", &save)) {
		if (n == sizeof(tok) / sizeof(tok[0]))
			goto out;
		if (sep == 0 && n >= 6 && strcmp(t, "-") == 0)
			sep = n;
		tok[n++] = t;
	}
	/* id parent maj:min root mountpoint options [optional...] - fstype
	 * source superoptions */
	if (sep == 0 || n != sep + 4 || !fs_is_number(tok[0]) ||
	    !fs_is_number(tok[1]) || (minor = strchr(tok[2], ':')) == NULL)
		goto out;
	*minor++ = '\0';
	if (!fs_is_number(tok[2]) || !fs_is_number(minor))
		goto out;
	maj = strtoul(tok[2], NULL, 10);
	min = strtoul(minor, NULL, 10);
	if (maj > UINT_MAX || min > UINT_MAX)
		goto out;
	m->major = (unsigned)maj;
	m->minor = (unsigned)min;
	if ((m->root = fs_unescape(tok[3])) == NULL ||
	    (m->mountpoint = fs_unescape(tok[4])) == NULL ||
	    (m->fstype = fs_unescape(tok[sep + 1])) == NULL ||
	    (m->source = fs_unescape(tok[sep + 2])) == NULL ||
	    m->mountpoint[0] != '/')
		goto out;
	r = 0;
 out:
	if (r != 0)
		filesystems_mount_clear(m);
	free(copy);
	return r;
}

/* Why a mount is never checked: 1 for its type, 2 for its place, else 0. */
static int
fs_skip_reason(const struct fs_mount *m)
{
	size_t n;

	for (size_t i = 0; i < sizeof(fs_skip_types) / sizeof(fs_skip_types[0]);
	    i++)
		if (strcmp(m->fstype, fs_skip_types[i]) == 0)
			return 1;
	if (strncmp(m->fstype, "fuse.", 5) == 0)
		return 1;
	if ((strcmp(m->fstype, "overlay") == 0 ||
	    strcmp(m->fstype, "aufs") == 0) && strcmp(m->mountpoint, "/") != 0)
		return 1;
	/* A tmpfs on /dev itself is systemd's PrivateDevices= view of our own
	 * sandbox, not the host's /dev (devtmpfs, skipped above). */
	if (strcmp(m->fstype, "tmpfs") == 0 && strcmp(m->mountpoint, "/dev") == 0)
		return 2;
	for (size_t i = 0; i < sizeof(fs_skip_below) / sizeof(fs_skip_below[0]);
	    i++) {
		n = strlen(fs_skip_below[i]);
		if (strncmp(m->mountpoint, fs_skip_below[i], n) == 0 &&
		    m->mountpoint[n] == '/')
			return 2;
	}
	return 0;
}

static bool
fs_excluded(const struct fs_mount *m, char *const *exclude, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *subject = exclude[i][0] == '/' ? m->mountpoint :
		    m->fstype;

		if (fnmatch(exclude[i], subject, 0) == 0)
			return true;
	}
	return false;
}

void
filesystems_selection_free(struct fs_selection *sel)
{
	for (size_t i = 0; i < sel->n; i++)
		filesystems_mount_clear(&sel->mounts[i]);
	free(sel->mounts);
	memset(sel, 0, sizeof(*sel));
}

int
filesystems_select(const char *buf, size_t len, char *const *exclude,
    size_t nexclude, struct fs_selection *sel)
{
	const char *p = buf, *end = buf + len, *nl;
	struct fs_mount *all = NULL;
	size_t nall = 0, cap = 0, lines = 0;
	bool *keep = NULL;
	char *line;
	int r;

	memset(sel, 0, sizeof(*sel));
	while (p < end && (nl = memchr(p, '\n', end - p)) != NULL) {
		line = xstrndup(p, nl - p);
		p = nl + 1;
		lines++;
		if (nall == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			all = xreallocarray(all, cap, sizeof(*all));
		}
		if (filesystems_parse_mountinfo_line(line, &all[nall]) == 0)
			nall++;
		else
			sel->bad_lines++;
		free(line);
	}
	if (nall == 0 && lines > 0) {
		r = -EINVAL;
		goto out;
	}

	keep = xcalloc(nall + 1, sizeof(*keep));
	for (size_t i = 0; i < nall; i++) {
		switch (fs_skip_reason(&all[i])) {
		case 1:
			sel->skipped_type++;
			continue;
		case 2:
			sel->skipped_path++;
			continue;
		}
		keep[i] = true;
		/* A later mount on the same point hides this one, whatever
		 * its type: statvfs would answer for that one. */
		for (size_t j = i + 1; j < nall; j++)
			if (strcmp(all[i].mountpoint, all[j].mountpoint) == 0) {
				keep[i] = false;
				sel->duplicates++;
				break;
			}
	}
	/* One entry per device: the mount of the shortest root (the whole
	 * filesystem rather than a bind of a subdirectory), else the first. */
	for (size_t i = 0; i < nall; i++) {
		if (!keep[i])
			continue;
		for (size_t j = i + 1; j < nall; j++) {
			if (!keep[j] || all[i].major != all[j].major ||
			    all[i].minor != all[j].minor)
				continue;
			sel->duplicates++;
			if (strlen(all[j].root) < strlen(all[i].root)) {
				keep[i] = false;
				break;
			}
			keep[j] = false;
		}
	}
	/* Excluding after the choice above drops the filesystem, not one
	 * mount of it that another mount would then stand in for. */
	for (size_t i = 0; i < nall; i++)
		if (keep[i] && fs_excluded(&all[i], exclude, nexclude)) {
			keep[i] = false;
			sel->excluded++;
		}

	sel->mounts = xreallocarray(NULL, nall + 1, sizeof(*sel->mounts));
	for (size_t i = 0; i < nall; i++) {
		if (keep[i]) {
			sel->mounts[sel->n++] = all[i];
			memset(&all[i], 0, sizeof(all[i]));	/* moved */
		}
	}
	r = 0;
 out:
	for (size_t i = 0; i < nall; i++)
		filesystems_mount_clear(&all[i]);
	free(all);
	free(keep);
	if (r != 0)
		filesystems_selection_free(sel);
	return r;
}

static void *
filesystems_new(void)
{
	struct filesystems *fs = xcalloc(1, sizeof(*fs));

	threshold_defaults(fs, fs_thresholds);
	fs->statvfs_fn = statvfs;
	return fs;
}

static int
filesystems_configure(void *inst, const char *key, const char *value,
    char *err, size_t errlen)
{
	struct filesystems *fs = inst;

	if (strcmp(key, "exclude") == 0)
		return glob_list_parse(fs->exclude, &fs->nexclude,
		    FILESYSTEMS_EXCLUDE_MAX, key, value, err, errlen);
	return threshold_configure(fs, fs_thresholds, "exclude", key, value,
	    err, errlen);
}

static int
filesystems_start(void *inst, const struct collector_env *env)
{
	struct filesystems *fs = inst;

	fs->env = *env;
	return 0;
}

/* Control bytes in a mount point would break the one-line summary. */
static void
fs_printable(const char *in, char *out, size_t len)
{
	size_t o = 0;

	for (; *in != '\0' && o + 1 < len; in++)
		out[o++] = (unsigned char)*in < 0x20 || *in == 0x7f ? '?' : *in;
	out[o] = '\0';
}

/* statvfs one mount; returns false when it is not worth reporting. */
static bool
fs_measure(struct filesystems *fs, struct fs_item *it)
{
	struct statvfs st;
	char label[PERF_LABEL_MAX];
	double unit, used_blocks;

	fs_printable(it->m->mountpoint, it->show, sizeof(it->show));
	if (fs->statvfs_fn(it->m->mountpoint, &st) == -1) {
		it->err = errno;
		/* Gone since mountinfo was read, or not visible from our
		 * mount namespace: nothing to report. */
		if (it->err == ENOENT || it->err == ENOTDIR)
			return false;
		it->state = STATE_UNKNOWN;
		return true;
	}
	if (st.f_blocks == 0)
		return false;
	unit = st.f_frsize != 0 ? (double)st.f_frsize : (double)st.f_bsize;
	used_blocks = st.f_bfree <= st.f_blocks ?
	    (double)(st.f_blocks - st.f_bfree) : 0;
	it->size = (double)st.f_blocks * unit;
	it->used = used_blocks * unit;
	it->avail = (double)st.f_bavail * unit;
	it->used_pct = used_blocks + st.f_bavail > 0 ?
	    100.0 * used_blocks / (used_blocks + (double)st.f_bavail) : 0;
	snprintf(label, sizeof(label), "%s:used", it->m->mountpoint);
	it->used_state = threshold_eval_item(&fs->used, &fs->held, label,
	    it->used_pct);
	it->state = it->used_state;
	it->has_inodes = st.f_files > 0;
	if (it->has_inodes) {
		it->inodes_pct = st.f_ffree <= st.f_files ? 100.0 *
		    (double)(st.f_files - st.f_ffree) / st.f_files : 0;
		snprintf(label, sizeof(label), "%s:inodes", it->m->mountpoint);
		it->inodes_state = threshold_eval_item(&fs->inodes, &fs->held,
		    label, it->inodes_pct);
		if (it->inodes_state > it->state)
			it->state = it->inodes_state;
	}
	return true;
}

/* Perfdata of one measured mount; labels use the printable name. */
static void
fs_perf(struct filesystems *fs, struct result *res, const struct fs_item *it)
{
	char label[PERF_LABEL_MAX];
	struct perf *p;

	snprintf(label, sizeof(label), "%s:used", it->show);
	if ((p = result_add_perf(res, label, it->used_pct, "%")) != NULL) {
		threshold_to_perf(&fs->used, p);
		p->min = 0;
		p->max = 100;
		p->has_min = p->has_max = true;
	}
	snprintf(label, sizeof(label), "%s:used_bytes", it->show);
	if ((p = result_add_perf(res, label, it->used, "B")) != NULL) {
		p->min = 0;
		p->max = it->size;
		p->has_min = p->has_max = true;
	}
	if (!it->has_inodes)
		return;
	snprintf(label, sizeof(label), "%s:inodes", it->show);
	if ((p = result_add_perf(res, label, it->inodes_pct, "%")) != NULL) {
		threshold_to_perf(&fs->inodes, p);
		p->min = 0;
		p->max = 100;
		p->has_min = p->has_max = true;
	}
}

/* Appends "<mount> 93.0% used (WARNING > 90%)" (or the inode or statvfs
 * problem) to the summary list. */
static void
fs_describe(struct filesystems *fs, const struct fs_item *it, char *buf,
    size_t len)
{
	size_t used = strlen(buf);

	if (it->err != 0) {
		snprintf(buf + used, len - used, "%s%s: statvfs: %s (UNKNOWN)",
		    used > 0 ? ", " : "", it->show, strerror(it->err));
		return;
	}
	if (it->used_state != STATE_OK)
		threshold_note(buf, len, &fs->used, it->used_state,
		    it->used_pct, "%", "%s %.1f%% used", it->show,
		    it->used_pct);
	if (it->has_inodes && it->inodes_state != STATE_OK)
		threshold_note(buf, len, &fs->inodes, it->inodes_state,
		    it->inodes_pct, "%", "%s inodes %.1f%% used", it->show,
		    it->inodes_pct);
}

static int
filesystems_collect(void *inst, struct collect_req *req)
{
	/* Order in the summary: the worst first. */
	static const int order[] = { STATE_CRITICAL, STATE_UNKNOWN,
	    STATE_WARNING };
	struct filesystems *fs = inst;
	struct result *res = collect_req_result(req);
	struct fs_selection sel = { 0 };
	struct fs_item *items = NULL;
	char *buf = NULL, problems[RESULT_SUMMARY_MAX / 2] = "", a[32], b[32];
	size_t len, n = 0, nproblems = 0, named = 0, fullest = SIZE_MAX;
	bool trunc;
	int r;

	if (fs->env.proc == NULL) {
		result_set(res, STATE_UNKNOWN, "filesystems collector was not "
		    "started");
		return -EINVAL;
	}
	if ((r = sysfile_read(fs->env.proc, "self/mountinfo", MOUNTINFO_MAX,
	    &buf, &len, &trunc)) != 0) {
		result_set(res, STATE_UNKNOWN, "cannot read %s/self/mountinfo: "
		    "%s", fs->env.proc, strerror(-r));
		goto out;
	}
	if ((r = filesystems_select(buf, len, fs->exclude, fs->nexclude,
	    &sel)) != 0) {
		result_set(res, STATE_UNKNOWN, "%s/self/mountinfo: no mount "
		    "table in it", fs->env.proc);
		goto out;
	}

	res->state = STATE_OK;
	threshold_memory_begin(&fs->held);
	items = xcalloc(sel.n + 1, sizeof(*items));
	for (size_t i = 0; i < sel.n; i++) {
		memset(&items[n], 0, sizeof(items[n]));
		items[n].m = &sel.mounts[i];
		if (!fs_measure(fs, &items[n]))
			continue;
		result_escalate(res, items[n].state);
		if (items[n].state != STATE_OK)
			nproblems++;
		if (items[n].err == 0 && (fullest == SIZE_MAX ||
		    items[n].used_pct > items[fullest].used_pct))
			fullest = n;
		n++;
	}
	threshold_memory_end(&fs->held);
	if (n == 0) {
		result_set(res, STATE_UNKNOWN, "no filesystem to check: %u "
		    "pseudo, network or image, %u of containers or sessions, "
		    "%u excluded", sel.skipped_type, sel.skipped_path,
		    sel.excluded);
		goto out;
	}

	for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++)
		for (size_t i = 0; i < n; i++) {
			if (items[i].state != order[k])
				continue;
			if (named++ < SUMMARY_ITEMS_MAX)
				fs_describe(fs, &items[i], problems,
				    sizeof(problems));
		}
	if (nproblems > SUMMARY_ITEMS_MAX) {
		len = strlen(problems);
		snprintf(problems + len, sizeof(problems) - len, " and %zu "
		    "more", nproblems - SUMMARY_ITEMS_MAX);
	}
	if (nproblems > 0)
		result_set(res, res->state, "%s; %zu filesystem%s", problems, n,
		    n == 1 ? "" : "s");
	else if (fullest != SIZE_MAX)
		result_set(res, res->state, "%zu filesystem%s, fullest %s "
		    "%.1f%% used", n, n == 1 ? "" : "s", items[fullest].show,
		    items[fullest].used_pct);

	for (size_t i = 0; i < n; i++) {
		const struct fs_item *it = &items[i];

		if (it->err != 0) {
			result_append_long(res, "%s: statvfs: %s", it->show,
			    strerror(it->err));
			if (!(fs->logged & LOGGED_STATVFS))
				log_warnx("filesystems: statvfs %s: %s "
				    "(exclude it if that is expected)",
				    it->show, strerror(it->err));
			fs->logged |= LOGGED_STATVFS;
			continue;
		}
		fs_perf(fs, res, it);
		fmt_bytes(it->used, a, sizeof(a));
		fmt_bytes(it->size, b, sizeof(b));
		if (it->has_inodes)
			result_append_long(res, "%s: %.1f%% used (%s of %s), "
			    "inodes %.1f%% used, %s on %s", it->show,
			    it->used_pct, a, b, it->inodes_pct, it->m->fstype,
			    it->m->source);
		else
			result_append_long(res, "%s: %.1f%% used (%s of %s), "
			    "%s on %s", it->show, it->used_pct, a, b,
			    it->m->fstype, it->m->source);
	}
	if (res->nperf == RESULT_PERF_MAX)
		result_append_long(res, "perfdata limited to %d items",
		    RESULT_PERF_MAX);
	result_append_long(res, "not checked: %u pseudo, network or image, "
	    "%u of containers or sessions, %u excluded, %u duplicate",
	    sel.skipped_type, sel.skipped_path, sel.excluded, sel.duplicates);
	if (trunc) {
		result_append_long(res, "mount table longer than %d bytes: "
		    "mounts after that not checked", MOUNTINFO_MAX);
		if (!(fs->logged & LOGGED_TRUNCATED))
			log_warnx("filesystems: %s/self/mountinfo longer than "
			    "%d bytes, the rest is not checked", fs->env.proc,
			    MOUNTINFO_MAX);
		fs->logged |= LOGGED_TRUNCATED;
	}
	if (sel.bad_lines > 0) {
		result_append_long(res, "%u mount table lines not understood",
		    sel.bad_lines);
		if (!(fs->logged & LOGGED_BAD_LINES))
			log_warnx("filesystems: %u lines of %s/self/mountinfo "
			    "not understood", sel.bad_lines, fs->env.proc);
		fs->logged |= LOGGED_BAD_LINES;
	}
	r = 0;
 out:
	free(items);
	filesystems_selection_free(&sel);
	free(buf);
	return r;
}

static void
filesystems_free(void *inst)
{
	struct filesystems *fs = inst;

	glob_list_clear(fs->exclude, &fs->nexclude);
	threshold_memory_free(&fs->held);
	free(fs);
}

const struct collector collector_filesystems = {
	.name = "filesystems",
	.description = "Space and inodes used on each real filesystem",
	.interval = 60,
	.new = filesystems_new,
	.configure = filesystems_configure,
	.thresholds = fs_thresholds,
	.start = filesystems_start,
	.collect = filesystems_collect,
	.free = filesystems_free,
};
