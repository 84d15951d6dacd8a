#include <stdio.h>

#include "greet.h"
#include "shout.h"

int count_chars(const char *s);
extern const char *version;

int main(int argc, char **argv)
{
	char word[64];

	snprintf(word, sizeof(word), "%s", argc > 1 ? argv[1] : "world");
	shout(word);
	greet(word);
	printf("%d chars, version %s\n", count_chars(word), version);
	return 0;
}
