#include "replay.h"

#include <string.h>

#define BLOCKS (REPLAY_WINDOW_BITS / 64)

_Static_assert((BLOCKS & (BLOCKS - 1)) == 0, "the block ring must be a power of two");

void replay_init(struct replay *r)
{
	memset(r, 0, sizeof(*r));
}

static bool test_and_set(struct replay *r, uint64_t counter)
{
	uint64_t *block = &r->bitmap[(counter / 64) & (BLOCKS - 1)];
	uint64_t bit = 1ULL << (counter % 64);
	bool was_set = *block & bit;

	*block |= bit;
	return was_set;
}

bool replay_check(struct replay *r, uint64_t counter)
{
	uint64_t cur, next, skipped;

	if (counter >= REPLAY_REJECT_AFTER_MESSAGES)
		return false;
	if (!r->seen_any) {
		r->seen_any = true;
		r->greatest = counter;
		test_and_set(r, counter);
		return true;
	}
	if (counter > r->greatest) {
		/* Clear the blocks between the old greatest's block (exclusive) and the new one
		 * (inclusive): they still hold bits from a previous trip round the ring. A jump of
		 * a whole ring or more clears everything. */
		cur = r->greatest / 64;
		next = counter / 64;
		skipped = next - cur;
		if (skipped >= BLOCKS) {
			memset(r->bitmap, 0, sizeof(r->bitmap));
		} else {
			for (uint64_t i = 1; i <= skipped; i++)
				r->bitmap[(cur + i) & (BLOCKS - 1)] = 0;
		}
		r->greatest = counter;
		test_and_set(r, counter);
		return true;
	}
	if (r->greatest - counter > REPLAY_WINDOW_SIZE)
		return false;
	return !test_and_set(r, counter);
}
