#include <ctype.h>

#include "shout.h"

void shout(char *s)
{
	for (; *s; s++)
		*s = (char)toupper((unsigned char)*s);
}
