/*
 * System records: the package selection and the disk layout of the host,
 * stored beside each snapshot as small objects of their own (encrypted
 * like the snapshot), for a disaster-recovery restore on a new disk
 * (docs/backup-format.md, "System records").
 */
#ifndef SYSRECORD_H
#define SYSRECORD_H

#include <stddef.h>
#include <stdint.h>

#include "target.h"

/* One record's content, at most this many bytes; a program that writes
 * more, or runs longer than SYSRECORD_SECONDS, gives no record. */
#define SYSRECORD_MAX		(8UL * 1024 * 1024)
#define SYSRECORD_SECONDS	30

/* The records, by the suffix of their object name. */
extern const char *const sysrecord_names[];
extern const size_t sysrecord_count;

/* "ID.sys-REC[.enc]" into buf. */
void	sysrecord_object_name(char *buf, size_t len, const char *id,
	    const char *rec, int encrypted);

/*
 * Collects every record the host can give and writes it beside snapshot
 * id (key NULL: unencrypted). A record the host cannot give (no dpkg nor
 * rpm, no lsblk, no /etc/fstab) is skipped; one that fails is logged and
 * skipped. Returns the number of records written, or -errno when the
 * target refused one.
 */
int	sysrecord_write(struct target *t, const char *id, const uint8_t *key);

/* Removes the records of snapshot id (retention); 0 or the first -errno
 * other than -ENOENT. */
int	sysrecord_remove(struct target *t, const char *id, int encrypted);

/* Reads record rec of snapshot id into *out (NUL-terminated, *len bytes;
 * the caller frees). -ENOENT, -EBADMSG when tampered with or too big. */
int	sysrecord_read(struct target *t, const char *id, const char *rec,
	    const uint8_t *key, char **out, size_t *len);

#endif
