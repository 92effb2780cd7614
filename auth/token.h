/*
 * API tokens. A token reads "ist_<id>_<secret>": the id (12 characters) names
 * the row, the secret (43 characters of base64url, 256 bits) proves it. Only
 * SHA-256 of the whole token is stored; checks compare in constant time.
 */
#ifndef ISTHMUS_AUTH_TOKEN_H
#define ISTHMUS_AUTH_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOKEN_ID_LEN   12
#define TOKEN_TEXT_MAX 64 /* "ist_" + id + "_" + secret + NUL */
#define TOKEN_HASH_LEN 32

/* Makes a new token. text gets the token to show once, id its id. */
int token_generate(char text[TOKEN_TEXT_MAX], char id[TOKEN_ID_LEN + 1]);

/* Splits a presented token; false if it is not of our form. */
bool token_parse_id(const char *text, char id[TOKEN_ID_LEN + 1]);

void token_hash(const char *text, uint8_t out[TOKEN_HASH_LEN]);

/* Constant-time check of a presented token against a stored hash. */
bool token_matches(const char *text, const uint8_t *stored, size_t stored_len);

#endif
