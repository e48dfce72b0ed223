/* Receiver indexes: the random 32-bit numbers that name a handshake or a session on the wire.
 * Entries are intrusive (embedded in the handshake or keypair they name), so neither insert
 * nor lookup allocates. Single-threaded: the device owns the table. */
#ifndef SEALNET_INDEX_H
#define SEALNET_INDEX_H

#include <stdbool.h>
#include <stdint.h>

struct peer;

enum index_type {
	INDEX_HANDSHAKE = 1 << 0,
	INDEX_KEYPAIR = 1 << 1,
};

struct index_entry {
	struct index_entry *next;
	struct peer *peer;
	uint32_t index;
	uint8_t type;
	bool hashed;
};

#define INDEX_BUCKETS (1 << 13)

struct index_table {
	struct index_entry *buckets[INDEX_BUCKETS];
};

void index_init(struct index_table *t);
/* Gives e a fresh random index no other entry has (removing e first if it is hashed). */
uint32_t index_insert(struct index_table *t, struct index_entry *e);
/* new takes over old's index; old is unhashed. */
void index_replace(struct index_table *t, struct index_entry *old, struct index_entry *new);
void index_remove(struct index_table *t, struct index_entry *e);
/* type_mask: a set of enum index_type. NULL when absent. */
struct index_entry *index_lookup(const struct index_table *t, uint32_t index, unsigned type_mask);

#endif
