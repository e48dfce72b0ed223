/* Lists of access rules (rules.h). */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"

void rules_free(struct rule_list *l)
{
	free(l->text);
	l->text = NULL;
	l->n = 0;
}

int rules_add(struct rule_list *l, const char *text)
{
	char(*grown)[FIREWALL_RULE_TEXT_MAX];

	if (strlen(text) >= FIREWALL_RULE_TEXT_MAX)
		return -EINVAL;
	grown = realloc(l->text, (l->n + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	l->text = grown;
	snprintf(l->text[l->n++], FIREWALL_RULE_TEXT_MAX, "%s", text);
	return 0;
}

int rules_append(struct rule_list *dst, const struct rule_list *src)
{
	int ret = 0;

	for (size_t i = 0; i < src->n && !ret; i++)
		ret = rules_add(dst, src->text[i]);
	return ret;
}

/* Replaces dst with a copy of src; dst is left as it was on failure. */
int rules_copy(struct rule_list *dst, const struct rule_list *src)
{
	struct rule_list l = { NULL, 0 };
	int ret = rules_append(&l, src);

	if (ret) {
		rules_free(&l);
		return ret;
	}
	rules_free(dst);
	*dst = l;
	return 0;
}

/* Whether the first a->n rules of b are a's (a prefix of b, or b itself). */
bool rules_prefix_of(const struct rule_list *a, const struct rule_list *b)
{
	if (a->n > b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->text[i], b->text[i]))
			return false;
	return true;
}

bool rules_equal(const struct rule_list *a, const struct rule_list *b)
{
	return a->n == b->n && rules_prefix_of(a, b);
}

/* Rule i (from 1) of a list, s, into out. Returns 0, or -EINVAL or -ENOMEM with why. */
static int parse_one(const char *s, size_t i, struct rule_list *out, char *why, size_t why_len)
{
	struct firewall_rule fr;
	char err[160];
	const char *rest;
	size_t verb;
	int ret;

	/* One rule per string: nothing may end a line of the request it goes into. */
	for (const char *c = s; *c; c++)
		if ((unsigned char)*c < 0x20 && *c != '\t')
			return registry_refuse(why, why_len, "rule %zu has a control character", i);
	verb = strcspn(s, " \t");
	rest = s + verb + strspn(s + verb, " \t");
	if ((verb != 5 || strncmp(s, "allow", 5)) && (verb != 4 || strncmp(s, "deny", 4)))
		return registry_refuse(why, why_len, "rule %zu \"%.60s\": not allow or deny", i, s);
	if (firewall_parse_rule(rest, s[0] == 'd', &fr, err, sizeof(err)))
		return registry_refuse(why, why_len, "rule %zu \"%.60s\": %s", i, s, err);
	ret = rules_add(out, fr.text);
	if (ret)
		snprintf(why, why_len, "%s", strerror(-ret));
	return ret;
}

int rules_parse(const char *value, size_t len, struct rule_list *out, char *why, size_t why_len)
{
	struct json_object *a = NULL, *item;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (len > MAX_RULES_LEN || strlen(value) != len)
		return registry_refuse(why, why_len, "value of %zu bytes, not a list of rules",
				       len);
	a = json_tokener_parse(value);
	if (!a || !json_object_is_type(a, json_type_array) ||
	    json_object_array_length(a) > MAX_RULES) {
		ret = registry_refuse(why, why_len, "value is not a JSON list of at most %d rules",
				      MAX_RULES);
		goto out;
	}
	for (size_t i = 0; i < json_object_array_length(a) && !ret; i++) {
		item = json_object_array_get_idx(a, i);
		if (!json_object_is_type(item, json_type_string))
			ret = registry_refuse(why, why_len, "rule %zu is not a string", i + 1);
		else
			ret = parse_one(json_object_get_string(item), i + 1, out, why, why_len);
	}
out:
	if (ret)
		rules_free(out);
	json_object_put(a);
	return ret;
}
